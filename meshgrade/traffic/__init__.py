"""Traffic sampling through the ingress gateway: request classes, the sampler, version
oracles (generic and Bookinfo) and report evidence. The parts load when first used (the
progress line's `progressline.attach_terminal` imports neither requests nor the oracles)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "bookinfo_oracle": ("BookinfoOracle", "pods_by_version", "star_colors"),
    "classes": ("LoginError", "RequestClass", "log_in"),
    "evidence": ("answer_kind", "counts_by_version", "error_kind", "observed", "percentile",
                 "requests_log", "summarise", "summarize"),
    "oracles": ("BodyRegexOracle", "Classification", "HeaderOracle", "JsonFieldOracle",
                "Oracle", "oracle_from_settings", "prometheus_version_deltas",
                "prometheus_via_api"),
    "sampler": ("GatewayUnreachable", "Sample", "Sampler"),
}
_MODULE = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "BodyRegexOracle", "BookinfoOracle", "Classification", "GatewayUnreachable", "HeaderOracle",
    "JsonFieldOracle", "LoginError", "Oracle", "RequestClass", "Sample", "Sampler",
    "answer_kind", "counts_by_version", "error_kind", "log_in", "observed",
    "oracle_from_settings", "percentile",
    "pods_by_version", "prometheus_version_deltas", "prometheus_via_api", "requests_log",
    "star_colors", "summarise", "summarize",
]


def __getattr__(name: str) -> Any:
    module = _MODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
