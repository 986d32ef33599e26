"""MG121-MG130: analogues of istioctl analyze over hosts, subsets, gateways and rules."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from ..grading.context import Context
from ..grading.results import Finding
from ..routing.mesh import Mesh, gateway_ref
from ..submission.objects import KObject
from .common import as_dict, as_list, finding
from .vsparts import gateway_refs


def vs_stages(ctx: Context) -> list[KObject]:
    return [o for o in ctx.index.all_stages("VirtualService") if o.origin != "baseline"]


def own_latest(ctx: Context, kind: str) -> list[KObject]:
    return [o for o in ctx.index.latest(kind) if o.origin != "baseline"]


def guess_service(ctx: Context, host: str) -> str:
    names = sorted({s.name for s in ctx.index.latest("Service")})
    close = difflib.get_close_matches(host.split(".")[0], names, n=1)
    return close[0] if close else (names[0] if names else "my-service")


def subset_names(dr: KObject) -> list[str]:
    return [str(as_dict(s).get("name")) for s in as_list(dr.spec.get("subsets"))]


def gateway_bindings(ctx: Context) -> dict[str, list[KObject]]:
    """``ns/name`` of a gateway -> the VirtualServices (every stage) bound to it."""
    out: dict[str, list[KObject]] = {}
    for vs in ctx.index.all_stages("VirtualService"):
        for _path, ref in gateway_refs(vs):
            out.setdefault(gateway_ref(ref, vs.namespace), []).append(vs)
    return out


def regexes(rule: dict[str, Any], base: str) -> Iterator[tuple[str, str]]:
    """(path, pattern) of every regex condition of an HTTP rule's matches."""
    for i, m in enumerate(as_list(rule.get("match"))):
        m = as_dict(m)
        for field in ("uri", "authority", "method", "scheme"):
            if isinstance(as_dict(m.get(field)).get("regex"), str):
                yield f"{base}.match[{i}].{field}.regex", m[field]["regex"]
        for group in ("headers", "queryParams", "withoutHeaders"):
            for name, cond in as_dict(m.get(group)).items():
                if isinstance(as_dict(cond).get("regex"), str):
                    yield f"{base}.match[{i}].{group}.{name}.regex", cond["regex"]


def route_weights(ctx: Context, vs: KObject, base: str, dests: list[Any]) -> list[Finding]:
    out = []
    total = 0
    for d in dests:
        if d.weight_path is None:
            continue
        w = d.weight
        if not isinstance(w, int) or isinstance(w, bool):
            out.append(finding("MG128", "type", vs, d.weight_path, weight=w))
            continue
        if w < 0:
            out.append(finding("MG128", "negative", vs, d.weight_path, weight=w))
        total += w
    if out or len(dests) == 1:  # a single destination takes every request, whatever its weight
        return out
    if total <= 0:
        out.append(finding("MG128", "zero", vs, f"{base}.route"))
    elif ctx.settings.weights_total_100 and total != 100:
        out.append(finding("MG128", "total", vs, f"{base}.route", total=total))
    return out


def short_host(mesh: Mesh, obj: KObject, host: str, path: str) -> list[Finding]:
    name = host.strip().lower()
    if not name or "." in name or "*" in name or mesh.service(host, obj.namespace) is not None:
        return []
    found = sorted({s.namespace for s in mesh.services_named(name)})
    if not found:
        return []
    return [finding("MG130", "short-host", obj, path, host=host, namespace=obj.namespace,
                    found=", ".join(found), fqdn=f"{name}.{found[0]}.svc.cluster.local")]
