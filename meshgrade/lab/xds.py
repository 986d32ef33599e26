"""Envoy v3 configuration (listeners and clusters as plain dicts) from one cluster state.

Two listeners on 127.0.0.1:

* the ingress gateway (``gateway_port``): one virtual host per host name that Gateways or
  routes name (VirtualService hosts, Gateway server hosts, Gateway API hostnames, ``*``);
  the Host header's port is stripped and every gateway server port is served here;
* the mesh (``mesh_port``): one virtual host per Service port, with the domains ``name``,
  ``name.ns``, ``name.ns.svc``, the FQDN and the cluster IP, each with ``:port`` and, for
  the Service's default port (the first named for HTTP, else the first detected one), also
  without. The caller's namespace is taken to be the Service's own (short names,
  ``exportTo`` and DestinationRule lookup are resolved from there); when Services in two
  namespaces share a short name the first one keeps it.
  A host that names no Service answers 503, as in the model.

Service port protocols are the model's (:mod:`meshgrade.routing.protocols`): a port named for
HTTP, HTTP/2 or gRPC, and one whose name or ``appProtocol`` names no protocol (Istio detects
HTTP on it), take the VirtualService's HTTP routes; a port named for TCP, TLS, HTTPS, Mongo,
MySQL or Redis takes its ``tcp`` route as one catch-all route, else the Service's pods. Istio
serves a detected port with an ``http_inspector`` listener filter, an HTTP filter chain for
``application_protocols`` ``http/1.1`` and ``h2c`` and a TCP proxy chain for the rest; every
connection to these listeners is HTTP (the lab sends nothing else), so one HTTP connection
manager takes the HTTP chain's place and the per-port routes the TCP chain's.

*Which* rules apply to a virtual host, and in which context, is not re-implemented: the
routing model itself is asked (:class:`_Probe` stands in for its rule engines and records
what it would evaluate), so gateway binding, host precedence, VirtualService and HTTPRoute
selection, TCP ports, DestinationRule lookup and port choice are the model's, and hosts,
visibility (exportTo) and pod labels those of its :class:`~meshgrade.routing.mesh.Mesh`, which the
static checks ask too.

A destination naming an undefined subset, an unknown host or a port not on the Service goes
to a cluster name that is never defined, with ``cluster_not_found_response_code`` 503 (500
for a missing HTTPRoute backend, as in the model), so a weighted mix keeps its shares. A
subset or Service without pods is a cluster without endpoints: Envoy answers 503 (UH).

Gaps (conservative fallbacks): external hosts (ServiceEntry, ExternalName) get 503 where the
model counts them as reached; per-match ``sourceLabels`` never match in the mesh (the caller
is unknown); ``authority`` matches at the ingress see the Host without its port; a Gateway's
server port is not checked against the port a request used; a delegate whose URI condition
is not within its parent's prefix is left out; fault delays, retries, timeouts, rewrites,
mirroring, header changes and DestinationRule traffic policies (always ROUND_ROBIN) do not
change which workload answers and are not translated.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..routing import Request, RoutingModel
from ..routing.match import Ctx
from ..routing.mesh import DEFAULT_INGRESS_LABELS, Mesh, PodGroup, is_ip, selects_pod, svc_fqdn
from ..routing.request import Acc
from ..submission.objects import KObject, selects, str_map
from .ports import LOOPBACK
from .xds_httproute import httproute_routes
from .xds_match import header_safe
from .xds_routes import (
    FAULT_FILTER,
    Clusters,
    Route,
    Scope,
    direct,
    forward,
    labelled,
    vs_action,
    vs_routes,
)

_T = "type.googleapis.com/envoy."
LISTENER_TYPE = _T + "config.listener.v3.Listener"
CLUSTER_TYPE = _T + "config.cluster.v3.Cluster"
_HCM_TYPE = _T + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ISTIO_SERVER = "istio-envoy"  # the server header Istio's gateways send
#: One JSON object per request (``kubectl logs -c istio-proxy`` prints Istio's text format).
ACCESS_LOG_FIELDS = {
    "start_time": "%START_TIME%", "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%", "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    "bytes_received": "%BYTES_RECEIVED%", "bytes_sent": "%BYTES_SENT%", "duration": "%DURATION%",
    "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%", "user_agent": "%REQ(USER-AGENT)%",
    "request_id": "%REQ(X-REQUEST-ID)%", "authority": "%REQ(:AUTHORITY)%",
    "upstream_host": "%UPSTREAM_HOST%", "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "route_name": "%ROUTE_NAME%", "source": "%REQ(X-MESHGRADE-SOURCE)%",
    "source_pod": "%REQ(X-MESHGRADE-SOURCE-POD)%"}


@dataclass(frozen=True)
class Endpoint:
    """One emulated pod: its workload server listens on ``address:port``."""

    pod: str
    namespace: str
    workload: str
    labels: tuple[tuple[str, str], ...]
    port: int
    address: str = LOOPBACK


@dataclass
class EnvoyConfig:
    """Listener and cluster resources; ``version`` is a digest of their content."""

    listeners: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    version: str


class _Probe:
    """Stands in for the model's VsEngine and GatewayApi.evaluate: records what the model
    would evaluate for a request, and in which context, instead of evaluating it."""

    def __init__(self, model: RoutingModel) -> None:
        self.engine = model.engine
        self.found: tuple[str, Any, Ctx] | None = None
        self.model = copy.copy(model)
        self.model.engine = self  # type: ignore[assignment]
        self.model.gwapi = copy.copy(model.gwapi)
        self.model.gwapi.evaluate = self.evaluate  # type: ignore[method-assign]

    def run(self, rules: Any, ctx: Ctx, acc: Acc, share: float) -> None:
        self.found = ("vs", rules, ctx)

    def tcp(self, vs: KObject, ctx: Ctx, acc: Acc, share: float) -> bool:
        if not self.engine.tcp(vs, ctx, Acc(), share):
            return False
        self.found = ("tcp", vs, ctx)
        return True

    def evaluate(self, routes: list[KObject], ctx: Ctx, acc: Acc, share: float) -> None:
        self.found = ("httproute", routes, ctx)


def _translate(model: RoutingModel, found: tuple[str, Any, Ctx], clusters: Clusters
               ) -> list[Route]:
    kind, what, ctx = found
    scope = Scope(model.mesh, ctx, clusters, model.engine.vs)
    if kind == "vs":
        return vs_routes(what, scope)
    if kind == "httproute":
        return httproute_routes(what, scope)
    for i, rule in enumerate(what.spec.get("tcp") or []):  # the rule the model's tcp() took
        matches = rule.get("match") if isinstance(rule, Mapping) else None
        if matches and not any(isinstance(m, Mapping) and m.get("port") in (None, ctx.port)
                               for m in matches):
            continue
        if isinstance(rule, Mapping) and isinstance(rule.get("route"), list) and rule["route"]:
            name = f"VirtualService {what.namespace}/{what.name} spec.tcp[{i}]"
            return [labelled(name, {"prefix": "/"}, vs_action(what, rule, scope))]
    return []


def ingress_hosts(model: RoutingModel, clusters: Clusters) -> list[dict[str, Any]]:
    """Virtual hosts of the ingress gateway listener."""
    names = {"*"}
    for o in model.objects:
        if o.kind == "VirtualService":
            hosts = o.spec.get("hosts") or []
            names.update(model.mesh.canonical(str(h), o.namespace) for h in hosts)
        elif o.kind == "Gateway":
            for item in [*(o.spec.get("servers") or []), *(o.spec.get("listeners") or [])]:
                if isinstance(item, Mapping):
                    names.update(str(h).rpartition("/")[2] for h in item.get("hosts") or [])
                    names.add(str(item.get("hostname") or "*"))
        elif o.kind == "HTTPRoute":
            names.update(str(h) for h in o.spec.get("hostnames") or [])
    vhosts = []
    for name in sorted({n.lower() for n in names if n and header_safe(n)}):
        probe = _Probe(model)
        probe.model.via_gateway(Request.make(name))
        if probe.found is not None:
            routes = _translate(model, probe.found, clusters)
            vhosts.append({"name": name, "domains": [name], "routes": routes})
    return vhosts


def mesh_hosts(model: RoutingModel, clusters: Clusters, *, plain: bool = False
               ) -> list[dict[str, Any]]:
    """Virtual hosts of the mesh listener, one per Service port, then a 503 for the rest;
    ``plain``: of the listener callers without a sidecar use (kube-proxy's view: each
    Service port to all its pods, no routing rules)."""
    vhosts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for fqdn, svc in model.mesh.services.items():
        if svc.spec.get("type") == "ExternalName" or not model.mesh.visible(svc, svc.namespace):
            continue
        default = model.service_port(svc, None)[0]
        names = [svc.name, f"{svc.name}.{svc.namespace}", f"{svc.name}.{svc.namespace}.svc", fqdn]
        ip = svc.spec.get("clusterIP")
        if isinstance(ip, str) and is_ip(ip):
            names.append(ip)
        ports = [p.get("port") for p in svc.spec.get("ports") or [] if isinstance(p, Mapping)]
        for port in dict.fromkeys(p for p in ports if isinstance(p, int)):
            domains = [f"{n}:{port}" for n in names] + (names if port == default else [])
            domains = [d for d in domains if d not in seen]
            if not domains:
                continue
            seen.update(domains)
            probe = _Probe(model)
            if not plain:
                probe.model.from_mesh(Request.make(f"{fqdn}:{port}"), svc.namespace)
            if probe.found is not None:
                routes = _translate(model, probe.found, clusters)
            else:
                routes = [labelled(f"default Service {svc.namespace}/{svc.name}", {"prefix": "/"},
                                   forward([(clusters.add(svc, port, fqdn), 1)],
                                           "SERVICE_UNAVAILABLE"))]
            vhosts.append({"name": f"{fqdn}:{port}", "domains": domains, "routes": routes})
    vhosts.append({"name": "unknown-host", "domains": ["*"], "routes": [
        labelled("no Service for this host", {"prefix": "/"}, direct(503, "host not found"))]})
    return vhosts


def listener(name: str, port: int, vhosts: list[dict[str, Any]], *, strip_port: bool,
             access_log: str | None = None, server_name: str | None = None) -> dict[str, Any]:
    """A listener on 127.0.0.1 with one HTTP connection manager and an inline route table;
    ``server_name`` is the ``server`` header it sends (Envoy's default: ``envoy``)."""
    hcm: dict[str, Any] = {
        "@type": _HCM_TYPE, "stat_prefix": name, "codec_type": "AUTO",
        "strip_any_host_port": strip_port,
        "route_config": {"name": name, "validate_clusters": False, "virtual_hosts": vhosts},
        "http_filters": [
            {"name": FAULT_FILTER, "typed_config": {
                "@type": _T + "extensions.filters.http.fault.v3.HTTPFault"}},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": _T + "extensions.filters.http.router.v3.Router"}}]}
    if access_log:
        hcm["access_log"] = [{"name": "envoy.access_loggers.file", "typed_config": {
            "@type": _T + "extensions.access_loggers.file.v3.FileAccessLog", "path": access_log,
            "log_format": {"json_format": {**ACCESS_LOG_FIELDS, "listener": name}}}}]
    if server_name:
        hcm["server_name"] = server_name
    return {"@type": LISTENER_TYPE, "name": name,
            "address": {"socket_address": {"address": LOOPBACK, "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                            "typed_config": hcm}]}]}


def cluster(name: str, svc: KObject, subset: Mapping[str, str],
            endpoints: Iterable[Endpoint], mesh: Mesh) -> dict[str, Any]:
    """A STATIC round-robin cluster of the pods the Service and subset labels select, with
    the labels the mesh gives the pods of their workload (those Istio adds included)."""
    selector = str_map(svc.spec.get("selector"))
    lb = []
    for ep in endpoints:
        pod = mesh.workload(ep.namespace, ep.workload)
        if pod is None:
            labels, unknown = mesh.pod_labels(ep.namespace, dict(ep.labels))
            pod = PodGroup(ep.namespace, ep.workload, labels, 1, unknown)
        if ep.namespace == svc.namespace and selects(selector, pod.labels) and selects_pod(
                subset, pod):
            lb.append({"endpoint": {"hostname": ep.pod, "address": {"socket_address": {
                "address": ep.address, "port_value": ep.port}}}})
    return {"@type": CLUSTER_TYPE, "name": name, "type": "STATIC", "connect_timeout": "1s",
            "lb_policy": "ROUND_ROBIN",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": lb}]}}


def _all_clusters(model: RoutingModel, clusters: Clusters) -> None:
    """Register every Service port and every DestinationRule subset of a Service host."""
    for fqdn, svc in model.mesh.services.items():
        for p in svc.spec.get("ports") or []:
            if isinstance(p, Mapping) and isinstance(p.get("port"), int):
                clusters.add(svc, p["port"], fqdn)
    for dr in model.objects:
        host = dr.spec.get("host") if dr.kind == "DestinationRule" else None
        target = model.mesh.services.get(model.mesh.canonical(host, dr.namespace)) if isinstance(
            host, str) else None
        if target is None:
            continue
        fqdn = svc_fqdn(target.name, target.namespace)
        for sub in dr.spec.get("subsets") or []:
            if isinstance(sub, Mapping) and sub.get("name"):
                for p in target.spec.get("ports") or []:
                    if isinstance(p, Mapping) and isinstance(p.get("port"), int):
                        clusters.add(target, p["port"], fqdn, str(sub["name"]),
                                     str_map(sub.get("labels")))


def build(objects: Iterable[KObject], endpoints: Iterable[Endpoint], *, gateway_port: int,
          mesh_port: int, ingress_labels: Mapping[str, str] = DEFAULT_INGRESS_LABELS,
          access_log: str | Path | None = None, plain_port: int | None = None) -> EnvoyConfig:
    """Listeners (``ingress`` on ``gateway_port``, ``mesh`` on ``mesh_port``, and with
    ``plain_port`` the ``plain`` one for callers without a sidecar) and clusters for one
    cluster state; ``access_log`` names a file the listeners log requests to (JSON)."""
    model = RoutingModel(objects, ingress_labels=ingress_labels)
    eps = list(endpoints)
    clusters = Clusters()
    log = str(access_log) if access_log else None
    listeners = [
        listener("ingress", gateway_port, ingress_hosts(model, clusters), strip_port=True,
                 access_log=log, server_name=ISTIO_SERVER),
        listener("mesh", mesh_port, mesh_hosts(model, clusters), strip_port=False,
                 access_log=log)]
    if plain_port is not None:
        listeners.append(listener("plain", plain_port, mesh_hosts(model, clusters, plain=True),
                                  strip_port=False, access_log=log))
    _all_clusters(model, clusters)
    out = [cluster(name, svc, labels, eps, model.mesh)
           for name, (svc, _port, labels) in sorted(clusters.wanted.items())]
    digest = hashlib.sha256(json.dumps([listeners, out], sort_keys=True).encode()).hexdigest()
    return EnvoyConfig(listeners, out, digest[:16])
