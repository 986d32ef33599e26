"""What a sampled request got back, in one place: every answer is filed under one kind (a
version, one of Envoy's own answers, an application error, an error page, a failed login,
...), and each kind has the words a report uses for it.

Envoy's own answers are told apart by their bodies (``no healthy upstream``: no ready
endpoint; ``upstream connect error or disconnect/reset before headers``: the pod did not
answer; ``fault filter abort``: fault injection) or, for the empty-bodied ones, by the
``server`` header (``envoy``, ``istio-envoy`` at Istio's gateways) without the
``x-envoy-upstream-service-time`` header that every answer relayed from a pod carries: a
404 is "route not found", a 503 names a destination cluster that does not exist (Istio
builds no cluster for an undefined subset)."""

from __future__ import annotations

from collections.abc import Mapping

from .oracles import Classification

VERSION = "version"
NO_HEALTHY_UPSTREAM = "no healthy upstream"
UPSTREAM_RESET = "upstream connect error"
ROUTE_NOT_FOUND = "route not found"
CLUSTER_NOT_FOUND = "cluster not found"
FAULT_ABORT = "fault abort"
APP_ERROR = "application error"
ERROR_PAGE = "error page"
UNCLASSIFIABLE = "unclassifiable"
LOGIN_FAILED = "login failed"
CONNECTION = "connection"
TIMEOUT = "timeout"

ENVOY_SERVERS = frozenset({"envoy", "istio-envoy"})
_ENVOY_BODIES = (("no healthy upstream", NO_HEALTHY_UPSTREAM),
                 ("upstream connect error or disconnect/reset before headers", UPSTREAM_RESET),
                 ("fault filter abort", FAULT_ABORT))
_PHRASES = {
    VERSION: "reached {detail}",
    NO_HEALTHY_UPSTREAM: "answered {status} `no healthy upstream` (Envoy: no ready pod behind "
                         "the destination)",
    UPSTREAM_RESET: "answered {status} `upstream connect error or disconnect/reset before "
                    "headers` (Envoy: the pod did not answer)",
    ROUTE_NOT_FOUND: "answered {status} from Envoy with an empty body: route not found (no "
                     "route for this host and path)",
    CLUSTER_NOT_FOUND: "answered {status} from Envoy with an empty body: the route's "
                       "destination does not exist (such as an undefined subset)",
    FAULT_ABORT: "answered {status} `fault filter abort` (fault injection)",
    APP_ERROR: "answered {status} from the application",
    ERROR_PAGE: "answered {status} with an error page: {detail}",
    UNCLASSIFIABLE: "answered {status} with a page the oracle could not classify: {detail}",
    LOGIN_FAILED: "failed to log in: {detail}",
    CONNECTION: "got no answer (connection failed)",
    TIMEOUT: "got no answer in time",
}


def envoy_answer(status: int, headers: Mapping[str, str], body: str) -> str | None:
    """The kind of an answer Envoy made itself (or relayed from a sidecar), else None.
    ``headers`` must look names up case-insensitively (as ``requests`` does)."""
    if status < 400:
        return None
    text = body.strip()
    for start, kind in _ENVOY_BODIES:
        if text.startswith(start):
            return kind
    local = (str(headers.get("server", "")).lower() in ENVOY_SERVERS
             and "x-envoy-upstream-service-time" not in headers)
    if local and not text:
        return {404: ROUTE_NOT_FOUND, 503: CLUSTER_NOT_FOUND}.get(status)
    return None


def classify(status: int, headers: Mapping[str, str], body: str, found: Classification
             ) -> tuple[str, str | None]:
    """(kind, the sample's ``error``) of an HTTP answer the oracle classified as ``found``:
    ``http <status>`` for 4xx/5xx, ``error page`` for an application error page."""
    if status >= 400:
        return envoy_answer(status, headers, body) or APP_ERROR, f"http {status}"
    if found.error_page:
        return ERROR_PAGE, "error page"
    return (VERSION, None) if found.version else (UNCLASSIFIABLE, None)


def kind_of(error: str | None, status: int | None, version: str | None,
            recorded: str = "") -> str:
    """The kind of a sample: as the sampler recorded it, else from its error, status and
    version (samples recorded without a kind)."""
    if recorded:
        return recorded
    head = (error or "").split(":", 1)[0]
    if head in ("connection", "timeout"):
        return head
    if head == "login":
        return LOGIN_FAILED
    if status is not None and status >= 400:
        return APP_ERROR
    if error == "error page":
        return ERROR_PAGE
    return VERSION if version is not None else UNCLASSIFIABLE


def phrase(kind: str, status: int | None, detail: str = "") -> str:
    """What a report says about answers of one kind."""
    text = _PHRASES.get(kind, "answered {status}").format(status=status, detail=detail)
    return text.removesuffix(": ")
