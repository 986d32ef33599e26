"""Envoy v3 routes from Istio VirtualService HTTP rules: actions, destinations, delegation.

The routing model has already decided *which* rules apply to a virtual host (see
:mod:`meshgrade.lab.xds`) and in which context (:class:`Ctx`); destinations are resolved
with the model's Mesh (hosts, DestinationRule subsets) and its port choice.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..routing.match import Ctx
from ..routing.mesh import Mesh

# Reused as-is so that weights and abort percentages mean exactly what they mean in the model.
from ..routing.virtualservice import Rule, VsEngine, abort_share, destination_weight, http_rules
from ..submission.objects import KObject
from .xds_match import header_safe, http_match

ROUTE_HEADER = "x-meshgrade-route"
FAULT_FILTER = "envoy.filters.http.fault"
_FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
REDIRECT_CODES = {301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER",
                   307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT"}
Route = dict[str, Any]


def cluster_name(port: int, subset: str, fqdn: str) -> str:
    """Istio's outbound cluster name."""
    return f"outbound|{port}|{subset}|{fqdn}"


def missing_cluster(what: str) -> str:
    """A cluster name that is never defined: the route's ``cluster_not_found_response_code``
    answers (503 for VirtualServices, 500 for HTTPRoutes, as in the model)."""
    return f"meshgrade-missing|{what}"


@dataclass
class Clusters:
    """The subset clusters routes refer to: name -> (Service, port, subset labels)."""

    wanted: dict[str, tuple[KObject, int, dict[str, str]]] = field(default_factory=dict)

    def add(self, svc: KObject, port: int, fqdn: str, subset: str = "",
            labels: Mapping[str, str] | None = None) -> str:
        name = cluster_name(port, subset, fqdn)
        self.wanted.setdefault(name, (svc, port, dict(labels or {})))
        return name


@dataclass(frozen=True)
class Scope:
    """What routes of one virtual host are translated against."""

    mesh: Mesh
    ctx: Ctx
    clusters: Clusters
    virtual_services: Mapping[tuple[str, str], KObject] = field(default_factory=dict)


# -- actions ---------------------------------------------------------------------------------

def direct(status: int, body: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"direct_response": {"status": status}}
    if body:
        out["direct_response"]["body"] = {"inline_string": body}
    return out


def forward(pairs: list[tuple[str, int]], not_found: str) -> dict[str, Any]:
    """Route action to one cluster or weighted clusters (equal names merged)."""
    merged: dict[str, int] = {}
    for name, weight in pairs:
        merged[name] = merged.get(name, 0) + weight
    route: dict[str, Any] = {"cluster_not_found_response_code": not_found}
    if len(merged) == 1:
        route["cluster"] = next(iter(merged))
    else:
        route["weighted_clusters"] = {"clusters": [{"name": n, "weight": w}
                                                   for n, w in merged.items()]}
    return {"route": route}


def destination(vs: KObject, dest: Any, scope: Scope) -> str:
    """Cluster of one VirtualService destination, resolved as the model's VsEngine does."""
    mesh, ctx = scope.mesh, scope.ctx
    host = dest.get("host") if isinstance(dest, Mapping) else None
    backend = mesh.resolve(host, vs.namespace, ctx.client_ns) if isinstance(host, str) else None
    if backend is None:
        return missing_cluster(f"host {host}")
    svc = backend.obj
    subset = dest.get("subset")
    labels: Mapping[str, str] | None = None
    if subset is not None:
        labels = mesh.subset(backend.fqdn, svc.namespace, ctx.client_ns, str(subset)).labels
        if labels is None:
            return missing_cluster(f"subset {subset} of {backend.fqdn}")
    if backend.external:  # gap: the lab has no external hosts
        return missing_cluster(f"external {backend.fqdn}")
    if VsEngine._port_error(svc, dest, ctx):
        return missing_cluster(f"port of {backend.fqdn}")
    ports = [p.get("port") for p in svc.spec.get("ports") or [] if isinstance(p, Mapping)]
    number = dest["port"].get("number") if isinstance(dest.get("port"), Mapping) else None
    if number is None:
        number = ports[0] if len(ports) == 1 else ctx.port
    if not isinstance(number, int):
        return missing_cluster(f"port of {backend.fqdn}")
    return scope.clusters.add(svc, number, backend.fqdn, "" if subset is None else str(subset),
                              labels)


def _redirect(spec: Mapping[str, Any]) -> dict[str, Any]:
    code = spec.get("redirectCode") or 301
    if code not in REDIRECT_CODES:
        return direct(500, f"unsupported redirectCode {code}")
    out: dict[str, Any] = {"response_code": REDIRECT_CODES[code]}
    for key, envoy_key in (("uri", "path_redirect"), ("authority", "host_redirect"),
                           ("scheme", "scheme_redirect")):
        if header_safe(spec.get(key)):
            out[envoy_key] = spec[key]
    if isinstance(spec.get("port"), int) and 0 <= spec["port"] < 65536:
        out["port_redirect"] = spec["port"]
    return {"redirect": out}


def _direct_response(spec: Mapping[str, Any]) -> dict[str, Any]:
    status = spec.get("status")
    if not isinstance(status, int) or not 200 <= status < 600:
        return direct(500, "invalid directResponse status")
    out = direct(status)
    body = spec.get("body")
    if isinstance(body, Mapping) and isinstance(body.get("string"), str):
        out["direct_response"]["body"] = {"inline_string": body["string"]}
    elif isinstance(body, Mapping) and isinstance(body.get("bytes"), str):
        with contextlib.suppress(ValueError):  # base64 in Istio and in Envoy's JSON alike
            base64.b64decode(body["bytes"], validate=True)
            out["direct_response"]["body"] = {"inline_bytes": body["bytes"]}
    return out


def vs_action(vs: KObject, rule: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """What a matched rule does: fault abort, then redirect, direct response or forward."""
    out: dict[str, Any] = {}
    fault = rule.get("fault")
    abort = fault.get("abort") if isinstance(fault, Mapping) else None
    if isinstance(abort, Mapping) and isinstance(abort.get("httpStatus"), int):
        part, status = abort_share(abort), abort["httpStatus"]
        if part > 0 and 200 <= status < 600:
            pct = {"numerator": round(part * 1_000_000), "denominator": "MILLION"}
            out["typed_per_filter_config"] = {FAULT_FILTER: {
                "@type": _FAULT_TYPE, "abort": {"http_status": status, "percentage": pct}}}
    if isinstance(rule.get("redirect"), Mapping):
        return {**out, **_redirect(rule["redirect"])}
    if isinstance(rule.get("directResponse"), Mapping):
        return {**out, **_direct_response(rule["directResponse"])}
    routes = rule.get("route")
    if not isinstance(routes, list) or not routes:
        return {**out, **direct(500, "rule has no route")}
    if len(routes) == 1:
        weights: list[int | None] = [1]
    else:
        weights = [destination_weight(r.get("weight")) if isinstance(r, Mapping) else None
                   for r in routes]
    if any(w is None for w in weights):
        return {**out, **direct(500, "invalid destination weight")}
    pairs = [(destination(vs, r.get("destination"), scope), w)
             for r, w in zip(routes, weights, strict=True) if w]
    if not pairs:
        return {**out, **direct(500, "route weights total 0")}
    return {**out, **forward(pairs, "SERVICE_UNAVAILABLE")}


def labelled(name: str, match: dict[str, Any], action: dict[str, Any]) -> Route:
    """A route named ``name`` that also reports it in the ``x-meshgrade-route`` header."""
    header = {"header": {"key": ROUTE_HEADER, "value": name},
              "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
    return {"name": name, "match": match, **action, "response_headers_to_add": [header]}


def _entries(vs: KObject, path: str, rule: Mapping[str, Any], ctx: Ctx
             ) -> list[tuple[str, dict[str, Any]]]:
    """(field path, Envoy match) of the rule's match entries that can match here."""
    entries = rule.get("match")
    if not entries:
        return [(path, {"prefix": "/"})]
    if not isinstance(entries, list):
        return []
    found = [(f"{path}.match[{i}]", http_match(e, vs.namespace, ctx))
             for i, e in enumerate(entries)]
    return [(where, m) for where, m in found if m is not None]


_ANY_PATH = {"prefix": "/"}


def _uri_part(match: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in match.items() if k not in ("headers", "query_parameters")}


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any] | None:
    """Both matches at once (delegation); None when the two URI conditions do not fit in one
    Envoy match (only "either is any path", "equal" or "the child's exact or prefix lies
    within the parent's prefix" do: Istio itself requires the child to narrow the parent)."""
    p, c = _uri_part(parent), _uri_part(child)
    if p == _ANY_PATH or p == c:
        out = c
    elif c == _ANY_PATH:
        out = p
    elif set(p) == {"prefix"} and set(c) in ({"path"}, {"prefix"}) and str(
            next(iter(c.values()))).startswith(p["prefix"]):
        out = c
    else:
        return None
    out = dict(out)
    for key in ("headers", "query_parameters"):
        items = [*parent.get(key, []), *child.get(key, [])]
        if items:
            out[key] = items
    return out


def vs_routes(rules: list[Rule], scope: Scope, within: dict[str, Any] | None = None
              ) -> list[Route]:
    """Rules in order; each match entry becomes one route with the rule's action. A
    ``delegate`` rule expands to the delegate's routes, each also requiring the parent entry
    (``within``); nested delegation is skipped, as in the model."""
    out: list[Route] = []
    for vs, path, rule in rules:
        usable = _entries(vs, path, rule, scope.ctx)
        if within is not None:
            usable = [(w, m) for w, m in ((w, merge(within, m)) for w, m in usable) if m]
        if not usable:
            continue
        delegate = rule.get("delegate")
        if isinstance(delegate, Mapping):
            key = (str(delegate.get("namespace") or vs.namespace), str(delegate.get("name")))
            child = scope.virtual_services.get(key)
            if child is not None and within is None:
                for _, m in usable:
                    out += vs_routes(http_rules(child), scope, m)
            continue
        action = vs_action(vs, rule, scope)
        for where, m in usable:
            out.append(labelled(f"VirtualService {vs.namespace}/{vs.name} {where}", m, action))
    return out
