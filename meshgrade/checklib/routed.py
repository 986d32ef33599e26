"""Which DestinationRule subsets receive requests: the routes that send traffic to them.

A subset that selects no pod breaks only the requests routed to it (503, no healthy upstream);
one that no route names is dead configuration. These helpers tell the two apart.
"""

from __future__ import annotations

import re

from ..grading.context import Context
from ..submission.objects import KObject
from .common import as_dict, as_list, label_map
from .hosts import resolve_service
from .vsparts import catch_all, destinations

ServiceKey = tuple[str, str, str]
_HTTP_RULE = re.compile(r"^spec\.http\[(\d+)\]\.route\[")


def subset_routes(ctx: Context) -> dict[tuple[ServiceKey, str], list[tuple[KObject, str]]]:
    """(Service key, subset name) -> the (VirtualService, destination path) that send requests
    to it, over every stage: route destinations (not mirrors) whose weight is not 0, in rules
    that no earlier catch-all rule shadows."""
    return ctx.memo("subset-routes", lambda: _subset_routes(ctx))


def _subset_routes(ctx: Context) -> dict[tuple[ServiceKey, str], list[tuple[KObject, str]]]:
    out: dict[tuple[ServiceKey, str], list[tuple[KObject, str]]] = {}
    for vs in ctx.index.all_stages("VirtualService"):
        rules = [as_dict(r) for r in as_list(vs.spec.get("http"))]
        last = next((i for i, r in enumerate(rules) if catch_all(r)), len(rules))
        for d in destinations(vs):
            rule = _HTTP_RULE.match(d.path)
            if (d.subset is None or not isinstance(d.host, str) or ".mirror" in d.path
                    or (type(d.weight) is int and d.weight == 0 and d.weight_path)
                    or (rule is not None and int(rule.group(1)) > last)):
                continue
            svc = resolve_service(ctx, d.host, vs.namespace)
            if svc is not None:
                out.setdefault((svc.key, str(d.subset)), []).append((vs, d.path))
    return out


def route_ref(route: tuple[KObject, str]) -> str:
    """``VirtualService ns/name spec.http[0].route[1] (file:line)`` for a message."""
    vs, path = route
    where = f"{vs.file}:{vs.line_of(path)}" if vs.file else vs.origin
    return f"{vs.ref} {path.removesuffix('.destination')} ({where})"


def routed_subset_labels(ctx: Context, svc: KObject) -> list[dict[str, str]]:
    """Labels of the DestinationRule subsets of ``svc`` that some route sends requests to."""
    # one pass over the rules, not one a Service
    by_service = ctx.memo("routed-subset-labels", lambda: _routed_subset_labels(ctx))
    return list(by_service.get(svc.key, []))


def _routed_subset_labels(ctx: Context) -> dict[ServiceKey, list[dict[str, str]]]:
    routes = subset_routes(ctx)
    by_service: dict[ServiceKey, list[dict[str, str]]] = {}
    for dr in ctx.index.latest("DestinationRule"):
        host = dr.spec.get("host")
        target = resolve_service(ctx, host, dr.namespace) if isinstance(host, str) else None
        if target is not None:
            by_service.setdefault(target.key, []).extend(
                label_map(as_dict(s).get("labels")) for s in as_list(dr.spec.get("subsets"))
                if (target.key, str(as_dict(s).get("name"))) in routes)
    return by_service
