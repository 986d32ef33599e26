"""Traffic sampling through the ingress gateway: request classes, the sampler, version
oracles (generic and Bookinfo) and report evidence."""

from .bookinfo_oracle import BookinfoOracle, pods_by_version, star_colors
from .classes import LoginError, RequestClass, log_in
from .evidence import (
    answer_kind,
    counts_by_version,
    error_kind,
    observed,
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
    "answer_kind", "counts_by_version", "error_kind", "log_in", "observed",
    "oracle_from_settings", "percentile",
    "pods_by_version", "prometheus_version_deltas", "prometheus_via_api", "requests_log",
    "star_colors", "summarise", "summarize",
]
