"""Requests to try against a routing stage: what its rules match on, plus plain requests."""

from __future__ import annotations

import re
from dataclasses import dataclass

import re2

from ..submission.objects import KObject
from .common import as_dict, as_list
from .hosts import fqdn
from .vsparts import binds_mesh, gateway_refs, split_gateway_ref, wildcard_match

_SAMPLES = ("true", "1", "yes", "v2", "v1", "jason", "beta", "canary", "test", "on")
_META = re.compile(r"[\\.*+?()\[\]{}|^$]")


@dataclass(frozen=True)
class HeaderRule:
    name: str
    value: str  # a value that satisfies the condition


def sample_for(kind: str, pattern: str) -> str | None:
    """A header value that satisfies an exact/prefix/regex condition, or None."""
    if kind in ("exact", "Exact", "prefix"):
        return pattern
    if kind not in ("regex", "RegularExpression"):
        return None
    stripped = pattern.removeprefix("^").removesuffix("$")
    candidates = [stripped, stripped.replace(".*", ""), stripped.replace(".*", "x"), *_SAMPLES]
    for c in candidates:
        try:
            if re2.fullmatch(pattern, c):
                return c
        except Exception:  # invalid RE2: never matches
            return None
    if not _META.search(stripped):
        return stripped
    return None


def header_rules(obj: KObject) -> list[HeaderRule]:
    """Every header condition of a VirtualService or HTTPRoute with a satisfying value."""
    out: list[HeaderRule] = []
    if obj.kind == "VirtualService":
        for rule in as_list(obj.spec.get("http")):
            for m in as_list(as_dict(rule).get("match")):
                for name, cond in as_dict(as_dict(m).get("headers")).items():
                    for kind, pattern in as_dict(cond).items():
                        value = sample_for(kind, str(pattern))
                        if value is not None:
                            out.append(HeaderRule(str(name).lower(), value))
    elif obj.kind == "HTTPRoute":
        for rule in as_list(obj.spec.get("rules")):
            for m in as_list(as_dict(rule).get("matches")):
                for h in as_list(as_dict(m).get("headers")):
                    h = as_dict(h)
                    value = sample_for(str(h.get("type", "Exact")), str(h.get("value", "")))
                    if value is not None and h.get("name"):
                        out.append(HeaderRule(str(h["name"]).lower(), value))
    return list(dict.fromkeys(out))


def paths(obj: KObject) -> list[str]:
    """Paths worth trying: every exact/prefix URI the object matches on, and ``/``."""
    out = ["/"]
    if obj.kind == "VirtualService":
        for rule in as_list(obj.spec.get("http")):
            for m in as_list(as_dict(rule).get("match")):
                uri = as_dict(as_dict(m).get("uri"))
                for kind in ("exact", "prefix"):
                    if isinstance(uri.get(kind), str):
                        out.append(uri[kind])
    elif obj.kind == "HTTPRoute":
        for rule in as_list(obj.spec.get("rules")):
            for m in as_list(as_dict(rule).get("matches")):
                p = as_dict(as_dict(m).get("path"))
                if isinstance(p.get("value"), str) and p.get("type") != "RegularExpression":
                    out.append(p["value"])
    return list(dict.fromkeys(out))


def hosts(obj: KObject) -> list[str]:
    """Request hosts to use through a gateway: the object's hosts, ``*`` replaced."""
    raw = as_list(obj.spec.get("hosts" if obj.kind == "VirtualService" else "hostnames"))
    out = [str(h).replace("*", "www") if str(h) != "*" else "192.168.49.2" for h in raw]
    return list(dict.fromkeys(out)) or ["192.168.49.2"]


def claims_mesh_host(obj: KObject, service: KObject) -> bool:
    """Whether a routing object routes mesh calls to ``service``."""
    target = f"{service.name}.{service.namespace}.svc.cluster.local"
    if obj.kind == "VirtualService":
        return binds_mesh(obj) and any(fqdn(str(h), obj.namespace) == target
                                       for h in as_list(obj.spec.get("hosts")))
    if obj.kind == "HTTPRoute":
        for ref in as_list(obj.spec.get("parentRefs")):
            ref = as_dict(ref)
            if ref.get("kind") == "Service" and ref.get("name") == service.name and \
                    ref.get("namespace", obj.namespace) == service.namespace:
                return True
    return False


def binds_gateway(obj: KObject) -> bool:
    """Whether a routing object is attached to an ingress gateway."""
    if obj.kind == "VirtualService":
        return any(g != "mesh" for g in as_list(obj.spec.get("gateways")))
    return any(as_dict(r).get("kind", "Gateway") == "Gateway"
               for r in as_list(obj.spec.get("parentRefs")))


def route_claims(obj: KObject) -> set[tuple[str, str]]:
    """(scope, host) pairs a routing object takes requests for: ``mesh`` with a Service
    FQDN (a VirtualService's mesh hosts, an HTTPRoute's parent Services), or a gateway
    (``ns/name``) with a host pattern."""
    out: set[tuple[str, str]] = set()
    if obj.kind == "VirtualService":
        scopes = ["mesh"] if binds_mesh(obj) else []
        scopes += ["/".join(split_gateway_ref(ref, obj.namespace))
                   for _path, ref in gateway_refs(obj) if ref != "mesh"]
        out.update((scope, fqdn(str(h), obj.namespace) if scope == "mesh" else str(h).lower())
                   for h in as_list(obj.spec.get("hosts")) for scope in scopes)
    elif obj.kind == "HTTPRoute":
        names = [str(h).lower() for h in as_list(obj.spec.get("hostnames"))] or ["*"]
        for ref in as_list(obj.spec.get("parentRefs")):
            ref = as_dict(ref)
            ns = str(ref.get("namespace") or obj.namespace)
            if ref.get("kind") == "Service":
                out.add(("mesh", f"{ref.get('name')}.{ns}.svc.cluster.local"))
            elif ref.get("kind", "Gateway") == "Gateway":
                out.update((f"gateway-api:{ns}/{ref.get('name')}", h) for h in names)
    return out


def claims_overlap(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    """Whether two routing objects' claims share a scope with overlapping hosts."""
    return any(sa == sb and (wildcard_match(ha, hb) or wildcard_match(hb, ha))
               for sa, ha in a for sb, hb in b)
