"""The lab API server's admission: the defaults Kubernetes fills in, cluster IPs and node
ports, Istio's sidecar injection, and the ingress gateway's addresses.

Every ingress gateway Service (one selecting ``istio: ingressgateway`` pods, or a Gateway API
gateway's) answers on the lab's gateway port P, so that both of the docs' recipes give a URL
that answers without root: its load-balancer address is 127.0.0.1 and its ``http2`` (else
``http``) port is P with node port P (``$INGRESS_HOST:$INGRESS_PORT`` either way); the port
that entry had (80) stays served as a second entry named ``http-<port>``, so callers in the mesh
and Gateways on port 80 see what they would on a cluster."""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

from ..submission.kinds import CLUSTER_SCOPED, GATEWAY_API_GROUP
from ..submission.objects import selects
from .apiserver import ObjectStore
from .gatewaystatus import GATEWAY_LABEL, route_defaults
from .pods import HOST_IP, defaults, has_sidecar, inject, injected

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NODE_PORTS = range(30000, 32768)


def last_applied(obj: Obj) -> Obj:
    """``obj`` with the annotation ``kubectl apply`` leaves on what it creates (so a later
    ``kubectl apply`` of the same file is silent)."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    if LAST_APPLIED in annotations:
        return out
    applied = {k: v for k, v in out.items() if k != "status"}
    applied["metadata"] = {**meta, "annotations": annotations}
    if obj.get("kind") in CLUSTER_SCOPED:
        applied["metadata"].pop("namespace", None)
    annotations[LAST_APPLIED] = json.dumps(applied, sort_keys=True, separators=(",", ":")) + "\n"
    meta["annotations"] = annotations
    return out


class Admission:
    """``admit(verb, old, new)`` for the API server and the lab's own writes."""

    def __init__(self, store: ObjectStore, gateway_port: int,
                 ingress_labels: Mapping[str, str],
                 namespace_labels: Callable[[str], dict[str, str]]) -> None:
        self.store, self.gateway_port = store, gateway_port
        self.ingress_labels = dict(ingress_labels)
        self.namespace_labels = namespace_labels
        self._ips = (str(ip) for ip in itertools.islice(
            ipaddress.ip_network("10.96.0.0/16").hosts(), 15, None))

    def __call__(self, verb: str, old: Obj | None, new: Obj) -> Obj:
        kind, group = new.get("kind"), str(new.get("apiVersion", "")).rpartition("/")[0]
        out = copy.deepcopy(new)
        meta = out.setdefault("metadata", {})
        if kind == "Namespace" and not group:
            meta["labels"] = {**(meta.get("labels") or {}),
                              "kubernetes.io/metadata.name": meta.get("name", "")}
            out["status"] = {"phase": "Active"}
        elif kind == "Pod" and not group:
            out = self._pod(out, creating=old is None)
        elif kind == "Service" and not group:
            out = self._service(out, old)
        elif kind == "Deployment" and group == "apps":
            spec = out.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            if not spec.get("strategy"):
                spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {
                    "maxSurge": "25%", "maxUnavailable": "25%"}}
        elif kind == "HTTPRoute" and group == GATEWAY_API_GROUP:
            out = route_defaults(out)
        return out

    # -- pods ------------------------------------------------------------------------------
    def _pod(self, pod: Obj, creating: bool) -> Obj:
        pod = defaults(pod)
        meta, spec = pod["metadata"], pod["spec"]
        if creating and not has_sidecar(pod) and not spec.get("hostNetwork") and injected(
                self.namespace_labels(meta.get("namespace") or "default"),
                meta.get("labels") or {}, meta.get("annotations") or {}):
            pod = inject(pod)
        return pod

    # -- services --------------------------------------------------------------------------
    def _used(self) -> tuple[set[str], set[int]]:
        ips: set[str] = set()
        ports: set[int] = set()
        for svc in self.store.list("", "Service"):
            spec = svc.get("spec") or {}
            ips.add(str(spec.get("clusterIP")))
            ports.update(int(p["nodePort"]) for p in spec.get("ports") or []
                         if isinstance(p, dict) and isinstance(p.get("nodePort"), int))
        return ips, ports

    def _service(self, svc: Obj, old: Obj | None) -> Obj:
        spec = svc.setdefault("spec", {})
        kind = spec.setdefault("type", "ClusterIP")
        before = (old or {}).get("spec") or {}
        spec.setdefault("sessionAffinity", "None")
        ips, node_ports = self._used()
        if kind != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = before.get("clusterIP") or next(
                ip for ip in self._ips if ip not in ips)
        if spec.get("clusterIP") and kind != "ExternalName":
            spec["clusterIPs"] = [spec["clusterIP"]]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        for port in ports:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        gateway = self._is_gateway(svc)
        if gateway and not any(p.get("port") == self.gateway_port for p in ports):
            self._gateway_ports(ports)
        if kind in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
            free = (n for n in NODE_PORTS if n not in node_ports and n != self.gateway_port)
            previous = {p.get("port"): p.get("nodePort") for p in before.get("ports") or []
                        if isinstance(p, dict)}
            for port in ports:
                if not isinstance(port.get("nodePort"), int):
                    port["nodePort"] = previous.get(port.get("port")) or next(free)
        if kind == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
            ingress = [{"ip": HOST_IP, "ipMode": "VIP"}] if gateway else []
            svc["status"] = {"loadBalancer": {"ingress": ingress} if ingress else {}}
        spec["ports"] = ports
        return svc

    def _is_gateway(self, svc: Obj) -> bool:
        selector = (svc.get("spec") or {}).get("selector") or {}
        return bool(selector) and (GATEWAY_LABEL in selector or selects(self.ingress_labels,
                                                                          selector))

    def _gateway_ports(self, ports: list[Obj]) -> None:
        """Serve the HTTP port on the gateway port P (LB port and node port)."""
        by_name = {p.get("name"): p for p in ports}
        http = by_name.get("http2") or by_name.get("http") or next(
            (p for p in ports if p.get("port") == 80), None)
        if http is None:
            return
        was = http.get("port")
        http.update({"port": self.gateway_port, "nodePort": self.gateway_port})
        if isinstance(was, int) and was != self.gateway_port and \
                not any(p.get("port") == was for p in ports):
            ports.append({"name": f"http-{was}", "port": was, "protocol": "TCP",
                          "targetPort": http.get("targetPort", was)})
