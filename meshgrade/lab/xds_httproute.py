"""Envoy v3 routes from Gateway API HTTPRoute rules (at a Gateway, or GAMMA for a Service)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..routing.gatewayapi import ordered_matches
from ..routing.mesh import svc_fqdn
from ..submission.objects import KObject
from .xds_match import HEADER_NAME, header_safe, valid_regex
from .xds_routes import REDIRECT_CODES, Route, Scope, direct, forward, labelled, missing_cluster


def _typed(item: Mapping[str, Any]) -> dict[str, Any] | None:
    value = str(item.get("value") if item.get("value") is not None else "")
    if item.get("type", "Exact") == "RegularExpression" and value:
        return {"safe_regex": {"regex": value}} if valid_regex(value) else None
    return {"exact": value}


def _path(m: Mapping[str, Any]) -> dict[str, Any] | None:
    path = m.get("path")
    kind, value = "PathPrefix", "/"
    if isinstance(path, Mapping):
        kind, value = str(path.get("type") or "PathPrefix"), str(path.get("value") or "/")
    if kind == "Exact":
        return {"path": value}
    if kind == "RegularExpression":
        return {"safe_regex": {"regex": value}} if value and valid_regex(value) else None
    if kind == "PathPrefix":  # element-wise prefix, as the model's prefix_segments
        prefix = value.rstrip("/")
        if not prefix:
            return {"prefix": "/"}
        ok = prefix.startswith("/") and "?" not in prefix and "#" not in prefix
        return {"path_separated_prefix": prefix} if ok else None
    return None


def route_match(m: Any) -> dict[str, Any] | None:
    """Envoy RouteMatch for one HTTPRouteMatch; None when it can never match."""
    if not isinstance(m, Mapping):
        return None
    out = _path(m)
    if out is None:
        return None
    headers: list[dict[str, Any] | None] = []
    if "method" in m:
        headers.append({"name": ":method", "string_match": {"exact": str(m["method"])}})
    seen: set[str] = set()
    for item in m.get("headers") or []:
        name = str(item.get("name") or "").lower() if isinstance(item, Mapping) else ""
        if name and name not in seen:  # only the first entry for a name counts
            seen.add(name)
            matcher = _typed(item) if HEADER_NAME.fullmatch(name) else None
            headers.append({"name": name, "string_match": matcher} if matcher else None)
    params: list[dict[str, Any] | None] = []
    for item in m.get("queryParams") or []:
        if isinstance(item, Mapping):
            matcher = _typed(item) if item.get("name") else None
            params.append({"name": str(item.get("name")), "string_match": matcher}
                          if matcher else None)
    if None in headers or None in params:
        return None
    if headers:
        out["headers"] = headers
    if params:
        out["query_parameters"] = params
    return out


def _backend(route: KObject, ref: Mapping[str, Any], scope: Scope) -> str:
    ns = str(ref.get("namespace") or route.namespace)
    name = str(ref.get("name"))
    fqdn = svc_fqdn(name, ns)
    svc = scope.mesh.services.get(fqdn)
    if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core") \
            or svc is None:
        return missing_cluster(f"backend {ns}/{name}")
    ports = [p.get("port") for p in svc.spec.get("ports") or [] if isinstance(p, Mapping)]
    port = ref.get("port") if ref.get("port") in ports else (ports[0] if ports else None)
    if not isinstance(port, int):
        return missing_cluster(f"port of {fqdn}")
    return scope.clusters.add(svc, port, fqdn)


def _redirect(spec: Any) -> dict[str, Any]:
    spec = spec if isinstance(spec, Mapping) else {}
    code = spec.get("statusCode", 302)
    out: dict[str, Any] = {"response_code": REDIRECT_CODES.get(code, "FOUND")}
    for key, envoy_key in (("hostname", "host_redirect"), ("scheme", "scheme_redirect")):
        if header_safe(spec.get(key)):
            out[envoy_key] = spec[key]
    if isinstance(spec.get("port"), int) and 0 <= spec["port"] < 65536:
        out["port_redirect"] = spec["port"]
    path = spec.get("path")
    if isinstance(path, Mapping) and path.get("type") == "ReplaceFullPath" and header_safe(
            str(path.get("replaceFullPath") or "/")):
        out["path_redirect"] = str(path.get("replaceFullPath") or "/")
    return {"redirect": out}


def rule_action(route: KObject, rule: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """A RequestRedirect filter, else weighted backendRefs (other filters are ignored)."""
    for f in rule.get("filters") or []:
        if isinstance(f, Mapping) and f.get("type") == "RequestRedirect":
            return _redirect(f.get("requestRedirect"))
    refs = [r for r in rule.get("backendRefs") or [] if isinstance(r, Mapping)]
    pairs = []
    for ref in refs:
        weight = ref.get("weight", 1)
        if isinstance(weight, int) and not isinstance(weight, bool) and weight > 0:
            pairs.append((_backend(route, ref, scope), weight))
    if not pairs:
        return direct(500, "no backendRefs" if not refs else "backendRefs weights total 0")
    return forward(pairs, "INTERNAL_SERVER_ERROR")


def httproute_routes(routes: list[KObject], scope: Scope) -> list[Route]:
    """All rules of all routes, most precise match first (the model's route_precedence)."""
    out: list[Route] = []
    for i, j, route, rule, m in ordered_matches(routes):
        match = route_match(m)
        if match is None:
            continue
        where = f"spec.rules[{i}].matches[{j}]" if rule.get("matches") else f"spec.rules[{i}]"
        out.append(labelled(f"HTTPRoute {route.namespace}/{route.name} {where}", match,
                            rule_action(route, rule, scope)))
    return out
