"""Walking the parts of VirtualServices and Gateways, with field paths."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..routing.mesh import gateway_ref, host_matches
from ..submission.objects import KObject
from .common import as_dict, as_list

ROUTE_KINDS = ("http", "tcp", "tls")


@dataclass(frozen=True)
class Dest:
    path: str          # path of the destination mapping
    host: Any
    subset: Any
    port: Any
    weight_path: str | None
    weight: Any


def destinations(vs: KObject) -> Iterator[Dest]:
    """Every destination of every route (and mirror) of a VirtualService."""
    for kind in ROUTE_KINDS:
        for i, rule in enumerate(as_list(vs.spec.get(kind))):
            rule = as_dict(rule)
            for j, route in enumerate(as_list(rule.get("route"))):
                route = as_dict(route)
                yield _dest(f"spec.{kind}[{i}].route[{j}]", route.get("destination"),
                            route.get("weight"), "weight" in route)
            if kind == "http" and isinstance(rule.get("mirror"), dict):
                yield _dest(f"spec.http[{i}].mirror", None, None, False, rule["mirror"])


def _dest(base: str, dest: Any, weight: Any, has_weight: bool, direct: Any = None) -> Dest:
    d = as_dict(direct if direct is not None else dest)
    path = base if direct is not None else f"{base}.destination"
    port = as_dict(d.get("port")).get("number")
    return Dest(path, d.get("host"), d.get("subset"), port,
                f"{base}.weight" if has_weight else None, weight)


def gateway_refs(vs: KObject) -> list[tuple[str, str]]:
    """(path, name) of every entry of ``spec.gateways``."""
    return [(f"spec.gateways[{i}]", str(g)) for i, g in enumerate(as_list(vs.spec.get("gateways")))]


def binds_mesh(vs: KObject) -> bool:
    gws = as_list(vs.spec.get("gateways"))
    return not gws or "mesh" in gws


def split_gateway_ref(ref: str, namespace: str) -> tuple[str, str]:
    """(namespace, name) of a gateway reference (see :func:`meshgrade.routing.mesh.gateway_ref`)."""
    ns, _, name = gateway_ref(ref, namespace).partition("/")
    return ns, name


def server_hosts(gw: KObject) -> list[str]:
    """Hosts of every server of an Istio Gateway (``ns/`` prefixes kept)."""
    out: list[str] = []
    for server in as_list(gw.spec.get("servers")):
        out.extend(str(h) for h in as_list(as_dict(server).get("hosts")))
    return out


def wildcard_match(host: str, pattern: str) -> bool:
    """Whether ``pattern`` (``*``, ``*.suffix`` or a name) takes ``host`` (or equals it)."""
    return host == pattern or host_matches(pattern, host)


def catch_all(rule: dict[str, Any]) -> bool:
    """Whether an HTTP rule takes every request (no match, an empty one, or `/`, `.*`)."""
    matches = rule.get("match")
    if matches is None or matches == []:
        return True
    for m in as_list(matches):
        m = as_dict(m)
        if not m:
            return True
        if set(m) == {"uri"} and as_dict(m["uri"]) in ({"prefix": "/"}, {"regex": ".*"}):
            return True
    return False
