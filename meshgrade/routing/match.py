"""Request matching: Istio ``HTTPMatchRequest`` and Gateway API ``HTTPRouteMatch``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from ..submission.objects import as_list
from .mesh import gateway_ref
from .request import Request

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})  # what a redirect may answer

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_STRING_KINDS = ("exact", "prefix", "regex")
# HTTPMatchRequest.headers ignores these keys (Istio docs: "will be ignored").
_IGNORED_HEADER_KEYS = frozenset({"uri", "scheme", "method", "authority"})


@dataclass(frozen=True)
class Ctx:
    """Where a request is evaluated: the proxy's listener port, gateway names, source."""

    request: Request
    port: int | None
    gateways: frozenset[str]  # {"mesh"} for sidecars, {"ns/name", ...} at the ingress
    source_ns: str
    source_labels: Mapping[str, str] | None  # None: unknown (a generic sidecar)
    client_ns: str  # namespace whose DestinationRules are looked up first


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except Exception:  # an invalid RE2 pattern never matches
        return None


def full_match(pattern: Any, value: str) -> bool:
    """RE2 full match; an invalid pattern never matches."""
    rx = _compile(pattern) if isinstance(pattern, str) else None
    return rx is not None and rx.fullmatch(value) is not None


def text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def match_kind(spec: Any) -> tuple[str, str] | None:
    """The (kind, value) of a StringMatch, or None when it sets none of them."""
    if isinstance(spec, Mapping):
        for kind in _STRING_KINDS:
            if kind in spec:
                return kind, text_of(spec[kind])
    return None


def string_match(spec: Any, value: str, ignore_case: bool = False) -> bool:
    """Istio StringMatch; an empty one (``{}``) matches anything."""
    found = match_kind(spec)
    if found is None:
        return True
    kind, want = found
    if kind == "regex":
        return full_match(want, value)
    if ignore_case:
        want, value = want.lower(), value.lower()
    return value == want if kind == "exact" else value.startswith(want)


def is_presence(spec: Any) -> bool:
    """Header forms that only test presence: null, ``{}``, ``regex: "*"``, empty exact/prefix."""
    found = match_kind(spec)
    if found is None:
        return True
    kind, want = found
    return (kind == "regex" and want == "*") or (kind != "regex" and want == "")


def header_match(spec: Any, value: str | None) -> bool:
    if is_presence(spec):
        return value is not None
    return value is not None and string_match(spec, value)


def without_header_match(spec: Any, value: str | None) -> bool:
    """Envoy ``invert_match``: a presence form means "absent"; a value form needs the header
    present with another value (istio/istio#50988)."""
    if is_presence(spec):
        return value is None
    return value is not None and not string_match(spec, value)


def query_match(spec: Any, value: str | None) -> bool:
    """Query parameter: ``exact`` (``""`` = present without value) or ``regex``; Istio does not
    translate ``prefix``, which leaves a presence test."""
    if value is None:
        return False
    found = match_kind(spec)
    if found is None or found[0] == "prefix":
        return True
    kind, want = found
    return value == want if kind == "exact" else full_match(want, value)


def source_match(m: Mapping[str, Any], vs_namespace: str, ctx: Ctx) -> bool:
    """Per-match ``port``, then ``gateways`` or else ``sourceLabels`` and ``sourceNamespace``
    (unknown source labels never match)."""
    port = m.get("port")
    if port is not None and (ctx.port is None or text_of(port) != str(ctx.port)):
        return False
    gateways = m.get("gateways")
    if isinstance(gateways, list) and gateways:  # as Istio: then source conditions are unused
        return any(gateway_ref(text_of(g), vs_namespace) in ctx.gateways for g in gateways)
    wanted = m.get("sourceLabels")
    if isinstance(wanted, Mapping) and wanted:
        have = ctx.source_labels
        if have is None or any(have.get(str(k)) != text_of(v) for k, v in wanted.items()):
            return False
    source_ns = m.get("sourceNamespace")
    return source_ns is None or text_of(source_ns) == ctx.source_ns


def http_match(m: Any, vs_namespace: str, ctx: Ctx) -> bool:
    """One HTTPMatchRequest: every condition must hold."""
    if not isinstance(m, Mapping):
        return False
    if not source_match(m, vs_namespace, ctx):
        return False
    req = ctx.request
    if "uri" in m and not string_match(m["uri"], req.uri, bool(m.get("ignoreUriCase"))):
        return False
    for key, actual in (("method", req.method), ("authority", req.host), ("scheme", "http")):
        if key in m and not string_match(m[key], actual):
            return False
    headers = req.header_map
    for name, spec in _items(m.get("headers")):
        if name in _IGNORED_HEADER_KEYS:
            continue
        if not header_match(spec, headers.get(name)):
            return False
    for name, spec in _items(m.get("withoutHeaders")):
        if name in _IGNORED_HEADER_KEYS:
            continue
        if not without_header_match(spec, headers.get(name)):
            return False
    query = req.query
    params = _raw_items(m.get("queryParams"))
    return all(query_match(spec, query.get(name)) for name, spec in params)


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k).lower(), v) for k, v in value.items()] if isinstance(value, Mapping) else []


def _raw_items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, Mapping) else []


def matching_entry(rule: Mapping[str, Any], vs_namespace: str, ctx: Ctx) -> int | None:
    """Index of the first match entry that matches (-1 for a rule without ``match``), or None."""
    entries = rule.get("match")
    if not entries:
        return -1
    if not isinstance(entries, list):
        return None
    for i, entry in enumerate(entries):
        if http_match(entry, vs_namespace, ctx):
            return i
    return None


# --- Gateway API -------------------------------------------------------------------------

_PATH_RANK = {"Exact": 3, "PathPrefix": 2, "RegularExpression": 1}


def _path(m: Mapping[str, Any]) -> tuple[str, str]:
    path = m.get("path")
    if not isinstance(path, Mapping):
        return "PathPrefix", "/"
    return text_of(path.get("type") or "PathPrefix"), text_of(path.get("value") or "/")


def prefix_segments(prefix: str, path: str) -> bool:
    """Gateway API PathPrefix: element-wise, ``/abc`` matches ``/abc`` and ``/abc/x``, not
    ``/abcd``; a trailing slash in the prefix is ignored."""
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def route_match(m: Any, ctx: Ctx) -> bool:
    """One HTTPRouteMatch: path, headers, queryParams and method must all hold."""
    if not isinstance(m, Mapping):
        return False
    req = ctx.request
    kind, value = _path(m)
    if kind == "Exact" and req.uri != value:
        return False
    if kind == "PathPrefix" and not prefix_segments(value, req.uri):
        return False
    if kind == "RegularExpression" and not full_match(value, req.uri):
        return False
    if kind not in _PATH_RANK:
        return False
    if "method" in m and text_of(m["method"]) != req.method:
        return False
    headers = req.header_map
    seen: set[str] = set()
    for item in as_list(m.get("headers")):
        name = text_of(item.get("name")).lower() if isinstance(item, Mapping) else ""
        if not name or name in seen:
            continue  # only the first entry for a name counts
        seen.add(name)
        if not _typed_match(item, headers.get(name)):
            return False
    query = req.query
    for item in as_list(m.get("queryParams")):
        if isinstance(item, Mapping) and \
                not _typed_match(item, query.get(text_of(item.get("name")))):
            return False
    return True


def _typed_match(item: Mapping[str, Any], actual: str | None) -> bool:
    if actual is None:
        return False
    want = text_of(item.get("value"))
    if item.get("type", "Exact") == "RegularExpression":
        return full_match(want, actual)
    return actual == want


def route_precedence(m: Any) -> tuple[int, int, int, int, int]:
    """Sort key (ascending = first) per the Gateway API and Istio: exact > longest prefix >
    regex, then method, number of headers, number of query params."""
    m = m if isinstance(m, Mapping) else {}
    kind, value = _path(m)
    return (-_PATH_RANK.get(kind, 0), -len(value), -int("method" in m),
            -len(as_list(m.get("headers"))), -len(as_list(m.get("queryParams"))))
