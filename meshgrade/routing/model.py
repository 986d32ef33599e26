"""The routing model: where requests entering at the ingress or sent by a sidecar end up."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..submission.objects import KObject, as_list, selects, str_map
from .gatewayapi import GatewayApi
from .match import Ctx
from .mesh import (
    DEFAULT_INGRESS_LABELS,
    Backend,
    Mesh,
    best_match,
    gateway_ref,
    host_matches,
    server_host,
)
from .protocols import DETECTED, routes_http, sidecar_protocol
from .request import Acc, Outcome, Request, Step, Target, spread
from .virtualservice import VsEngine, http_rules

__all__ = ["DEFAULT_INGRESS_LABELS", "RoutingModel"]
_HTTP_SERVER_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB"})


@dataclass
class _Bound:
    """A classic Gateway that accepts the request host: its server host namespace scopes."""

    gateway: KObject
    scopes: list[str] = field(default_factory=list)
    port: int | None = None
    namespaces: list[str] = field(default_factory=list)  # of the proxies serving it


def _vs_gateways(vs: KObject) -> frozenset[str]:
    names = vs.spec.get("gateways")
    if not isinstance(names, list) or not names:
        return frozenset({"mesh"})
    return frozenset(gateway_ref(str(n), vs.namespace) for n in names)


class RoutingModel:
    """Routing over one cluster state (one object per kind/namespace/name, later ones win).

    Hosts, visibility, DestinationRules, Gateways and ingress pods are the :class:`Mesh`'s
    (``mesh``, else one built from ``objects`` with ``ingress_labels``); classic Gateways
    apply when their ``selector`` selects ingress pods. A Service port whose name or
    ``appProtocol`` names no protocol is detected, as Istio's sidecars do by default: the
    model's requests are HTTP, so they take the HTTP routes; ``sniff_protocol=False`` makes
    such ports opaque TCP (Istio with protocol sniffing turned off).
    """

    def __init__(self, objects: Iterable[KObject], *,
                 ingress_labels: Mapping[str, str] = DEFAULT_INGRESS_LABELS,
                 sniff_protocol: bool = True, mesh: Mesh | None = None) -> None:
        latest: dict[tuple[str, str, str], KObject] = {}
        for obj in objects:
            if obj.kind and obj.name:
                latest[obj.key] = obj
        self.objects = list(latest.values())
        self.sniff_protocol = sniff_protocol
        self.mesh = mesh if mesh is not None else Mesh(self.objects,
                                                       ingress_labels=ingress_labels)
        self.gateways = self.mesh.gateways
        self._bound_cache: dict[tuple[str, int | None],
                                tuple[dict[str, _Bound], list[Step]]] = {}
        self._gw_by_host: tuple[list[tuple[tuple[str, str], KObject]], dict[str, list[int]],
                                list[int]] | None = None
        self._gateway_candidates("")  # index now, so that with_routing copies share it
        self._index_routing(self.objects)
        self.ingress_pod_labels = self.mesh.ingress_labels()
        self.ingress_namespace = self.mesh.ingress_namespace
        self._port_alias = self._ingress_port_aliases()

    def _index_routing(self, objects: Iterable[KObject]) -> None:
        """Index the routing objects (VirtualServices, HTTPRoutes) of this state."""
        mesh = self.mesh
        objects = list(objects)
        vss = [o for o in objects if o.kind == "VirtualService"]
        self._virtual_services = vss
        self.engine = VsEngine(mesh, {(o.namespace, o.name): o for o in vss})
        self._mesh_exact: dict[str, list[KObject]] = defaultdict(list)
        self._mesh_wild: list[tuple[str, KObject]] = []
        self._gateway_vs: list[tuple[KObject, frozenset[str], list[str]]] = []
        for vs in vss:
            hosts = [mesh.canonical(str(h), vs.namespace) for h in as_list(vs.spec.get("hosts"))]
            gateways = _vs_gateways(vs)
            if "mesh" in gateways:
                for host in hosts:
                    if "*" not in host:
                        self._mesh_exact[host].append(vs)
                    elif host != "*":  # Istio rejects "*" for the mesh
                        self._mesh_wild.append((host, vs))
            if gateways - {"mesh"}:
                self._gateway_vs.append((vs, gateways, hosts))
        self.gwapi = GatewayApi(mesh, self.mesh.gateway_api.values(),
                                [o for o in objects if o.kind == "HTTPRoute"])

    def with_routing(self, routing: Iterable[KObject]) -> RoutingModel:
        """The same cluster with only ``routing`` as its VirtualServices and HTTPRoutes;
        Services, pods, DestinationRules and Gateways are shared, not rebuilt."""
        other = copy.copy(self)
        other._index_routing(routing)
        return other

    # -- public API -------------------------------------------------------------------------

    def via_gateway(self, request: Request) -> Outcome:
        """A request entering through the ingress gateway."""
        acc = Acc()
        host, rport = request.hostname, request.effective_port
        bound = self._bound_gateways(host, rport, acc)
        chosen = self._gateway_virtual_services(host, bound)
        first_port = next((b.port for b in bound.values() if b.port is not None), rport)
        proxy_ns = next((b.namespaces[0] for b in bound.values()), self.ingress_namespace)
        ctx = Ctx(request, first_port, frozenset(bound), proxy_ns,
                  self.ingress_pod_labels[0], proxy_ns)
        if chosen:
            rules = [r for vs in chosen for r in http_rules(vs)]
            for vs in chosen:
                acc.note(vs, "spec.hosts", f"routes host '{host}' at the ingress")
            self.engine.run(rules, ctx, acc, 1.0)
        elif not self.gwapi.at_ingress(ctx, acc, 1.0, lambda p: self._port_ok(p, rport)):
            why, obj, path = self._unrouted(host, bound)
            acc.fail(404, f"no route for host '{host}' at the ingress gateway{why}", 1.0, obj,
                     path)
        return acc.outcome()

    def _unrouted(self, host: str, bound: dict[str, _Bound]
                  ) -> tuple[str, KObject | None, str]:
        """Why no VirtualService routes ``host`` at the ingress, and where: the first one
        naming the host, bound to no gateway or to one that does not take the host."""
        for vs in self._virtual_services:
            hosts = [self.mesh.canonical(str(h), vs.namespace)
                     for h in as_list(vs.spec.get("hosts"))]
            if best_match(hosts, host) is None:
                continue
            names = sorted(_vs_gateways(vs) - {"mesh"})
            if not names:
                return (f": VirtualService {vs.namespace}/{vs.name} names the host but is bound "
                        "to no gateway", vs, "spec.gateways")
            for name in names:
                gw = self.mesh.gateway(name, vs.namespace)
                if gw is None:
                    return (f": VirtualService {vs.namespace}/{vs.name} is bound to gateway "
                            f"{name}, which does not exist", vs, "spec.gateways")
                if gw.kind_key != "Gateway":
                    return (f": VirtualService {vs.namespace}/{vs.name} is bound to the Gateway "
                            f"API Gateway {name}, which takes HTTPRoutes", vs, "spec.gateways")
                if not self.mesh.selects_ingress(gw):
                    return (f": Gateway {name} does not select the ingress gateway pods", gw,
                            "spec.selector")
                if name not in bound:
                    return f": Gateway {name} does not accept the host", gw, "spec.servers"
                if not any(self.mesh.visible(vs, ns) for ns in bound[name].namespaces):
                    return (f": VirtualService {vs.namespace}/{vs.name} is not exported to the "
                            f"gateway's namespace", vs, "spec.exportTo")
            return (f": VirtualService {vs.namespace}/{vs.name} is not in the namespaces its "
                    "gateways allow", vs, "spec.hosts")
        return "", None, ""

    def from_mesh(self, request: Request, source_namespace: str = "default", *,
                  source_labels: Mapping[str, str] | None = None) -> Outcome:
        """A sidecar in ``source_namespace`` calling ``request.host``; ``source_labels`` are
        the caller's pod labels for ``sourceLabels`` matches (unknown: those never match)."""
        acc = Acc()
        host = request.hostname
        backend = self.mesh.resolve(host, source_namespace)
        fqdn = backend.fqdn if backend else self.mesh.canonical(host, source_namespace)
        svc = backend.obj if backend and not backend.external else None
        port, port_path, protocol = self.service_port(svc, request.effective_port)
        if svc is not None and port_path is None and protocol is None:
            acc.fail(503, f"port {port} not on Service {svc.namespace}/{svc.name}", 1.0,
                     svc, "spec.ports")
            return acc.outcome()
        ctx = Ctx(request, port, frozenset({"mesh"}), source_namespace,
                  dict(source_labels) if source_labels is not None else None, source_namespace)
        vs = self._mesh_virtual_service(fqdn, source_namespace)
        if svc is not None and protocol is not None and not routes_http(protocol):
            acc.note(svc, port_path or "spec.ports",
                     f"port is {protocol} by name/appProtocol (opaque to the sidecar's HTTP "
                     "routing): HTTP rules do not apply")
            if vs is not None and self.engine.tcp(vs, ctx, acc, 1.0):
                return acc.outcome()
        elif vs is not None and http_rules(vs):
            if svc is not None and protocol == DETECTED:
                acc.note(svc, port_path or "spec.ports",
                         "port names no protocol: Istio detects HTTP (sniffing), so the HTTP "
                         "rules apply")
            acc.note(vs, "spec.hosts", f"routes host '{fqdn}' in the mesh")
            self.engine.run(http_rules(vs), ctx, acc, 1.0)
            return acc.outcome()
        elif svc is not None and self.gwapi.for_service(svc, port, ctx, acc, 1.0):
            return acc.outcome()
        self._default(backend, host, acc)
        return acc.outcome()

    # -- mesh helpers -----------------------------------------------------------------------

    def _default(self, backend: Backend | None, host: str, acc: Acc) -> None:
        """No route object: the Service's ready pods share the traffic evenly."""
        if backend is None:
            acc.fail(503, f"host '{host}' not found", 1.0)
            return
        obj = backend.obj
        if backend.external:
            name = obj.name if obj.kind == "Service" else backend.fqdn
            acc.add(Target(200, obj.namespace, name), 1.0)
            acc.note(obj, "", f"{backend.fqdn} has no workload ({obj.kind})")
            return
        pods = self.mesh.endpoints(obj)
        if not pods:
            acc.fail(503, f"Service {obj.namespace}/{obj.name} selects no ready pods", 1.0,
                     obj, "spec.selector")
            return
        acc.note(obj, "spec.selector", "no route object: spread evenly over the Service's pods")
        spread(acc, obj, pods, 1.0)

    def service_port(self, svc: KObject | None, rport: int | None
                      ) -> tuple[int | None, str | None, str | None]:
        """(port, field path, protocol for a sidecar: see
        :func:`~meshgrade.routing.protocols.sidecar_protocol`); the protocol is None when
        ``rport`` is not on the Service. Without ``rport``: the first port named for HTTP,
        else the first detected one, else the first."""
        ports = [p for p in as_list(svc.spec.get("ports")) if isinstance(p, Mapping)] if svc else []
        if not ports:
            return rport, "", "HTTP"
        indexed = [(i, p, sidecar_protocol(p, self.sniff_protocol)) for i, p in enumerate(ports)]
        if rport is not None:
            found = [e for e in indexed if e[1].get("port") == rport]
        else:
            found = sorted(indexed, key=lambda e: (not routes_http(e[2]), e[2] == DETECTED))
        if not found:
            return rport, None, None
        i, port, protocol = found[0]
        number = port.get("port")
        return (number if isinstance(number, int) else rport, f"spec.ports[{i}]", protocol)

    def _mesh_virtual_service(self, fqdn: str, source_ns: str) -> KObject | None:
        """The VirtualService for the host seen from ``source_ns``: exact host over the most
        specific wildcard; the first (oldest) one when several claim the same host."""
        for vs in self._mesh_exact.get(fqdn, ()):
            if self.mesh.visible(vs, source_ns):
                return vs
        best: tuple[int, KObject] | None = None
        for pattern, vs in self._mesh_wild:
            if host_matches(pattern, fqdn) and self.mesh.visible(vs, source_ns):
                score = len(pattern)
                if best is None or score > best[0]:
                    best = (score, vs)
        return best[1] if best else None

    # -- ingress helpers --------------------------------------------------------------------

    def _ingress_port_aliases(self) -> dict[int, set[int]]:
        """Request port (Service port or nodePort) -> gateway ports it reaches (targetPort)."""
        alias: dict[int, set[int]] = defaultdict(set)
        for svc in self.mesh.services.values():
            selector = str_map(svc.spec.get("selector"))
            if not any(selects(selector, labels) for labels in self.ingress_pod_labels):
                continue
            for port in as_list(svc.spec.get("ports")):
                if not isinstance(port, Mapping):
                    continue
                target = port.get("targetPort", port.get("port"))
                for key in (port.get("port"), port.get("nodePort")):
                    if isinstance(key, int) and isinstance(target, int):
                        alias[key].add(target)
        return alias

    def _port_ok(self, gateway_port: object, request_port: int | None) -> bool:
        return (request_port is None or gateway_port == request_port
                or gateway_port in self._port_alias.get(request_port, ()))

    def _bound_gateways(self, host: str, rport: int | None, acc: Acc) -> dict[str, _Bound]:
        """Classic Gateways on the ingress with an HTTP server that accepts the host
        (cached per host and port: Gateways are shared by every routing stage)."""
        key = (host, rport)
        if key not in self._bound_cache:
            scratch = Acc()
            self._bound_cache[key] = (self._find_bound_gateways(host, rport, scratch),
                                      scratch.steps)
        bound, steps = self._bound_cache[key]
        acc.steps.extend(steps)
        return {k: _Bound(b.gateway, list(b.scopes), b.port, b.namespaces)
                for k, b in bound.items()}

    def _gateway_candidates(self, host: str) -> list[tuple[tuple[str, str], KObject]]:
        """Gateways with a server host that names ``host`` exactly or by a wildcard, in
        their original order."""
        if self._gw_by_host is None:
            exact: dict[str, list[int]] = defaultdict(list)
            wild: list[int] = []
            items = list(self.gateways.items())
            for i, (_key, gw) in enumerate(items):
                patterns = {server_host(h, gw.namespace)[1]
                            for server in as_list(gw.spec.get("servers"))
                            if isinstance(server, Mapping) for h in as_list(server.get("hosts"))}
                if any("*" in p for p in patterns):
                    wild.append(i)
                for p in patterns:
                    exact[p].append(i)
            self._gw_by_host = (items, exact, wild)
        items, exact, wild = self._gw_by_host
        return [items[i] for i in sorted(set(exact.get(host.lower(), ())) | set(wild))]

    def _find_bound_gateways(self, host: str, rport: int | None, acc: Acc
                             ) -> dict[str, _Bound]:
        bound: dict[str, _Bound] = {}
        for (ns, name), gw in self._gateway_candidates(host):
            if not self.mesh.selects_ingress(gw):
                acc.note(gw, "spec.selector", "does not select the ingress gateway pods")
                continue
            for i, server in enumerate(as_list(gw.spec.get("servers"))):
                port = server.get("port") if isinstance(server, Mapping) else None
                if not isinstance(port, Mapping):
                    continue
                number = port.get("number")
                if str(port.get("protocol", "")).upper() not in _HTTP_SERVER_PROTOCOLS:
                    continue
                if not self._port_ok(number, rport):
                    continue
                scopes = []
                for entry in as_list(server.get("hosts")):
                    scope, pattern = server_host(entry, gw.namespace)
                    if host_matches(pattern, host):
                        scopes.append(scope)
                if scopes:
                    item = bound.setdefault(f"{ns}/{name}", _Bound(
                        gw, namespaces=self.mesh.gateway_namespaces(gw)))
                    item.scopes.extend(scopes)
                    item.port = item.port if item.port is not None else number
                    acc.note(gw, f"spec.servers[{i}]", f"accepts host '{host}' on port {number}")
        return bound

    def _gateway_virtual_services(self, host: str, bound: dict[str, _Bound]) -> list[KObject]:
        """VirtualServices bound to those Gateways, open to their namespace, exported to the
        gateway's and whose hosts fit; the most specific host wins and VirtualServices sharing
        it are merged in order (as Istio does at gateways)."""
        found: list[tuple[int, KObject]] = []
        for vs, gateways, hosts in self._gateway_vs:
            ok = any(name in bound and any(s in ("*", vs.namespace) for s in bound[name].scopes)
                     and any(self.mesh.visible(vs, ns) for ns in bound[name].namespaces)
                     for name in gateways)
            score = best_match(hosts, host) if ok else None
            if score is not None:
                found.append((score, vs))
        if not found:
            return []
        top = max(score for score, _ in found)
        return [vs for score, vs in found if score == top]
