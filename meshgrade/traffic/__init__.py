"""Traffic sampling through the ingress gateway: request classes, the sampler, version
oracles (generic and Bookinfo) and report evidence."""

from .bookinfo_oracle import BookinfoOracle, pods_by_version, star_colors
from .classes import LoginError, RequestClass, log_in
from .evidence import (
    counts_by_version,
    error_kind,
    percentile,
    requests_log,
    summarise,
    summarize,
)
from .oracles import (
    BodyRegexOracle,
    Classification,
    HeaderOracle,
    JsonFieldOracle,
    Oracle,
    oracle_from_settings,
    prometheus_version_deltas,
    prometheus_via_api,
)
from .sampler import GatewayUnreachable, Sample, Sampler

__all__ = [
    "BodyRegexOracle", "BookinfoOracle", "Classification", "GatewayUnreachable", "HeaderOracle",
    "JsonFieldOracle", "LoginError", "Oracle", "RequestClass", "Sample", "Sampler",
    "counts_by_version", "error_kind", "log_in", "oracle_from_settings", "percentile",
    "pods_by_version", "prometheus_version_deltas", "prometheus_via_api", "requests_log",
    "star_colors", "summarise", "summarize",
]
