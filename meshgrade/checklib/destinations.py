"""MG137-MG138: where a destination sends requests: the port of a multi-port Service, and
the pods a gateway route reaches while the host's mesh rules pick subsets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..grading.context import Context
from ..routing.mesh import Mesh, hosts_overlap, selects_pod, server_host
from ..submission.kinds import GATEWAY_API_GROUP
from ..submission.objects import KObject, as_dict, as_list
from .vsparts import binds_mesh, destinations, gateway_refs

_RULE = re.compile(r"^spec\.(http|tcp|tls)\[(\d+)\]")


def service_ports(obj: KObject) -> list[dict[str, Any]]:
    """Port entries of a Service (``port``) or ServiceEntry (``number``), as ``port``."""
    field = "port" if obj.kind == "Service" else "number"
    out = []
    for p in as_list(obj.spec.get("ports")):
        entry = as_dict(p)
        number = entry.get(field)
        if isinstance(number, int) and not isinstance(number, bool):
            out.append({**entry, "port": number})
    return out


def _server_fits(mesh: Mesh, gw: KObject, server: Mapping[str, Any], hosts: list[str],
                 namespace: str) -> bool:
    patterns = [server_host(e, gw.namespace) for e in as_list(server.get("hosts"))]
    names = [mesh.canonical(h, namespace) for h in hosts]
    return any(scope in ("*", namespace) and hosts_overlap(p, n)
               for scope, p in patterns for n in names)


def arrival_ports(mesh: Mesh, vs: KObject) -> set[int]:
    """Ports requests for the VirtualService's hosts arrive on, as far as they are known:
    the ports of the hosts' Services (mesh), of the gateway servers that take them."""
    hosts = [h for h in as_list(vs.spec.get("hosts")) if isinstance(h, str)]
    out: set[int] = set()
    if binds_mesh(vs):
        for host in hosts:
            backend = mesh.resolve(host, vs.namespace)
            out |= {p["port"] for p in service_ports(backend.obj)} if backend else set()
    for _path, ref in gateway_refs(vs):
        gw = mesh.gateway(ref, vs.namespace) if ref != "mesh" else None
        if gw is None:
            continue
        api = gw.group == GATEWAY_API_GROUP
        for entry in as_list(gw.spec.get("listeners" if api else "servers")):
            spec = as_dict(entry)
            number = spec.get("port") if api else as_dict(spec.get("port")).get("number")
            fits = {"hosts": [spec.get("hostname") or "*"]} if api else spec
            if isinstance(number, int) and _server_fits(mesh, gw, fits, hosts, vs.namespace):
                out.add(number)
    return out


def rule_ports(vs: KObject, path: str) -> set[int]:
    """The ports every match of the destination's rule names (empty: any port)."""
    found = _RULE.match(path)
    if not found:
        return set()
    rule = as_dict(as_list(vs.spec.get(found.group(1)))[int(found.group(2))])
    ports = [as_dict(m).get("port") for m in as_list(rule.get("match"))]
    if not ports or not all(isinstance(p, int) for p in ports):
        return set()
    return {p for p in ports if isinstance(p, int)}


def subset_rules(ctx: Context, mesh: Mesh) -> dict[str, list[tuple[KObject, list[str]]]]:
    """FQDN -> mesh VirtualServices for that host with HTTP routes to its subsets."""
    out: dict[str, list[tuple[KObject, list[str]]]] = {}
    for vs in ctx.index.latest("VirtualService"):
        if not binds_mesh(vs):
            continue
        own = {mesh.canonical(h, vs.namespace) for h in as_list(vs.spec.get("hosts"))
               if isinstance(h, str)}
        by_host: dict[str, list[str]] = {}
        for d in destinations(vs):
            backend = mesh.resolve(d.host, vs.namespace) if isinstance(d.host, str) else None
            if backend and backend.fqdn in own and isinstance(d.subset, str) and \
                    d.path.startswith("spec.http") and ".mirror" not in d.path:
                by_host.setdefault(backend.fqdn, []).append(d.subset)
        for fqdn, subsets in by_host.items():
            out.setdefault(fqdn, []).append((vs, sorted(set(subsets))))
    return out


def one_version(mesh: Mesh, svc: KObject, other: KObject, fqdn: str,
                 subsets: list[str]) -> bool:
    """Whether every pod behind the Service is in each subset the mesh rules use (so the
    gateway reaches the same pods)."""
    if svc.kind != "Service":
        return False
    pods = mesh.endpoints(svc, ready=False)
    for name in subsets:
        labels = mesh.subset(fqdn, svc.namespace, other.namespace, name).labels
        if labels is None or not all(selects_pod(labels, p) for p in pods):
            return False
    return bool(pods)
