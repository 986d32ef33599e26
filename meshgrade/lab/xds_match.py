"""Envoy v3 route matches from Istio ``HTTPMatchRequest`` entries.

Conditions that depend only on where the rules run (``port``, ``gateways``, ``sourceLabels``,
``sourceNamespace``) are decided here with the model's own :func:`source_match` and the
virtual host's context; only request conditions become Envoy matchers. Semantics follow
:mod:`meshgrade.routing.match` (presence forms, invalid RE2 never matches, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2

from ..routing.match import Ctx, match_kind, source_match

_IGNORED_HEADER_KEYS = frozenset({"uri", "scheme", "method", "authority"})
HEADER_NAME = re2.compile(r"[0-9a-z!#$%&'*+\-.^_|~`]+")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def header_safe(value: Any) -> bool:
    """A string Envoy accepts as a header value, domain or redirect part (no NUL, CR, LF)."""
    return isinstance(value, str) and not any(c in value for c in "\x00\r\n")


def valid_regex(pattern: str) -> bool:
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except Exception:
        return False
    return True


def _string_matcher(kind: str, value: str) -> dict[str, Any] | None:
    """Envoy StringMatcher; None for an invalid regex (never matches, as in the model).
    Envoy refuses an empty regex: its full match is the empty string."""
    if kind == "regex" and value:
        return {"safe_regex": {"regex": value}} if valid_regex(value) else None
    return {"exact" if kind == "regex" else kind: value}


def _is_presence(spec: Any) -> bool:
    found = match_kind(spec)
    return found is None or (found[0] == "regex" and found[1] == "*") or (
        found[0] != "regex" and found[1] == "")


def _header(name: str, spec: Any, invert: bool = False) -> dict[str, Any] | None:
    """HeaderMatcher for a ``headers`` (or, inverted, ``withoutHeaders``) condition; None when
    it never holds, ``{}`` when it always does."""
    presence = _is_presence(spec)
    if not HEADER_NAME.fullmatch(name):  # no request carries it
        return {} if invert and presence else None
    out: dict[str, Any] = {"name": name}
    if presence:
        out["present_match"] = True
    else:
        kind, value = match_kind(spec) or ("exact", "")
        matcher = _string_matcher(kind, value)
        if matcher is None:  # never equal: "without" it means "present"
            return {"name": name, "present_match": True} if invert else None
        out["string_match"] = matcher
    if invert:
        out["invert_match"] = True
    return out


def _pseudo(name: str, spec: Any) -> dict[str, Any] | None:
    """``method``/``authority``/``scheme``: plain string matches (no presence forms)."""
    kind, value = match_kind(spec) or ("prefix", "")
    if kind == "prefix" and not value:
        return {}
    matcher = _string_matcher(kind, value) if value else None
    return {"name": name, "string_match": matcher} if matcher else None


def _uri(m: Mapping[str, Any]) -> dict[str, Any] | None:
    found = match_kind(m.get("uri"))
    if found is None:
        return {"prefix": "/"}
    kind, value = found
    if kind != "prefix" and not value:
        return None  # a request path is never empty
    if kind == "regex":
        return {"safe_regex": {"regex": value}} if valid_regex(value) else None
    out: dict[str, Any] = {"path" if kind == "exact" else "prefix": value or "/"}
    if m.get("ignoreUriCase"):
        out["case_sensitive"] = False
    return out


def http_match(m: Any, vs_namespace: str, ctx: Ctx) -> dict[str, Any] | None:
    """Envoy RouteMatch for one HTTPMatchRequest; None when it can never match here."""
    if not isinstance(m, Mapping) or not source_match(m, vs_namespace, ctx):
        return None
    out = _uri(m)
    if out is None:
        return None
    headers: list[dict[str, Any] | None] = []
    for key, pseudo in (("method", ":method"), ("authority", ":authority"),
                        ("scheme", ":scheme")):
        if match_kind(m.get(key)) is not None:
            headers.append(_pseudo(pseudo, m[key]))
    for field_name, invert in (("headers", False), ("withoutHeaders", True)):
        items = m.get(field_name)
        for name, spec in (items.items() if isinstance(items, Mapping) else ()):
            if str(name).lower() not in _IGNORED_HEADER_KEYS:
                headers.append(_header(str(name).lower(), spec, invert))
    params: list[dict[str, Any] | None] = []
    query = m.get("queryParams")
    for name, spec in (query.items() if isinstance(query, Mapping) else ()):
        found = match_kind(spec)
        if not str(name):
            params.append(None)
        elif found is None or found[0] == "prefix":  # as the model: a presence test
            params.append({"name": str(name), "present_match": True})
        else:
            matcher = _string_matcher(*found)
            params.append({"name": str(name), "string_match": matcher} if matcher else None)
    if None in headers or None in params:
        return None
    headers = [h for h in headers if h]
    if headers:
        out["headers"] = headers
    if params:
        out["query_parameters"] = params
    return out
