"""What Istio makes of a Gateway API Gateway: a Deployment and a Service named
``<gateway>-istio`` in its namespace, and a Programmed status (bookinfo.md section 1)."""

from __future__ import annotations

import copy
from typing import Any

from ..kinds import GATEWAY_API_GROUP
from .pods import CREATED

GATEWAY_LABEL = "gateway.networking.k8s.io/gateway-name"


def is_istio_gateway(obj: dict[str, Any]) -> bool:
    return (obj.get("kind") == "Gateway"
            and str(obj.get("apiVersion", "")).startswith(GATEWAY_API_GROUP + "/")
            and (obj.get("spec") or {}).get("gatewayClassName") == "istio")


def with_status(gateway: dict[str, Any], address: str) -> dict[str, Any]:
    """The Gateway as Istio reports it once programmed."""
    out = copy.deepcopy(gateway)
    conditions = [{"type": t, "status": "True", "reason": t, "message": "meshgrade lab",
                   "lastTransitionTime": CREATED, "observedGeneration": 1}
                  for t in ("Accepted", "Programmed")]
    listeners = [{"name": str((listener or {}).get("name", "")), "attachedRoutes": 0,
                  "conditions": conditions, "supportedKinds": [
                      {"group": GATEWAY_API_GROUP, "kind": "HTTPRoute"}]}
                 for listener in (out.get("spec") or {}).get("listeners") or []]
    out["status"] = {"addresses": [{"type": "IPAddress", "value": address}],
                     "conditions": conditions, "listeners": listeners}
    return out


def derived(gateway: dict[str, Any]) -> list[dict[str, Any]]:
    """Deployment and Service ``<name>-istio`` for an istio-class Gateway."""
    meta = gateway.get("metadata") or {}
    name, ns = f"{meta.get('name')}-istio", meta.get("namespace") or "default"
    labels = {GATEWAY_LABEL: str(meta.get("name")), "istio.io/gateway-name": str(meta.get("name"))}
    ports = [{"name": str((lst or {}).get("name") or f"port-{i}"),
              "port": int((lst or {}).get("port") or 80), "protocol": "TCP",
              "appProtocol": "http"}
             for i, lst in enumerate((gateway.get("spec") or {}).get("listeners") or [])]
    proxy = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [proxy]}}}}
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"type": "LoadBalancer", "selector": dict(labels),
                 "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP"}]}}
    return [deployment, service]
