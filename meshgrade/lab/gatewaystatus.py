"""What Istio makes of Gateway API objects: for an istio-class Gateway a Deployment and a
Service named ``<gateway>-istio`` in its namespace and a Programmed status (bookinfo.md
section 1); for an HTTPRoute the defaults the CRD fills in and the status Istio writes
(``Route was valid``, ``All references resolved``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..submission.kinds import GATEWAY_API_GROUP
from .pods import PROXY_IMAGE, now

GATEWAY_LABEL = "gateway.networking.k8s.io/gateway-name"
CONTROLLER = "istio.io/gateway-controller"
Obj = dict[str, Any]
#: (group, kind, namespace, name) -> whether such an object exists.
Exists = Callable[[str, str, str, str], bool]


def is_istio_gateway(obj: dict[str, Any]) -> bool:
    return (obj.get("kind") == "Gateway"
            and str(obj.get("apiVersion", "")).startswith(GATEWAY_API_GROUP + "/")
            and (obj.get("spec") or {}).get("gatewayClassName") == "istio")


def is_route(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "HTTPRoute" and str(obj.get("apiVersion", "")).startswith(
        GATEWAY_API_GROUP + "/")


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int,
               at: str) -> Obj:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason,
            "message": message, "lastTransitionTime": at, "observedGeneration": generation}


def with_status(gateway: dict[str, Any], address: str) -> dict[str, Any]:
    """The Gateway as Istio reports it once programmed."""
    out = copy.deepcopy(gateway)
    generation, at = int(out.get("metadata", {}).get("generation", 1)), now()
    conditions = [_condition(t, True, t, "Resource " + t.lower(), generation, at)
                  for t in ("Accepted", "Programmed")]
    listeners = [{"name": str((listener or {}).get("name", "")), "attachedRoutes": 0,
                  "conditions": [*conditions, _condition("ResolvedRefs", True, "ResolvedRefs",
                                                         "No errors found", generation, at)],
                  "supportedKinds": [{"group": GATEWAY_API_GROUP, "kind": "HTTPRoute"},
                                     {"group": GATEWAY_API_GROUP, "kind": "GRPCRoute"}]}
                 for listener in (out.get("spec") or {}).get("listeners") or []]
    out["status"] = {"addresses": [{"type": "IPAddress", "value": address}],
                     "conditions": conditions, "listeners": listeners}
    return out


def derived(gateway: dict[str, Any]) -> list[dict[str, Any]]:
    """Deployment and Service ``<name>-istio`` for an istio-class Gateway (owned by it)."""
    meta = gateway.get("metadata") or {}
    name, ns = f"{meta.get('name')}-istio", meta.get("namespace") or "default"
    labels = {GATEWAY_LABEL: str(meta.get("name")), "istio.io/gateway-name": str(meta.get("name"))}
    ports = [{"name": str((lst or {}).get("name") or f"port-{i}"),
              "port": int((lst or {}).get("port") or 80), "protocol": "TCP",
              "appProtocol": "http"}
             for i, lst in enumerate((gateway.get("spec") or {}).get("listeners") or [])]
    owners = [{"apiVersion": str(gateway.get("apiVersion")), "kind": "Gateway",
               "name": str(meta.get("name")), "uid": str(meta.get("uid", "")),
               "controller": True}]
    proxy = {"name": "istio-proxy", "image": PROXY_IMAGE}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                     "ownerReferences": copy.deepcopy(owners)},
        "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [proxy]}}}}
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                     "ownerReferences": copy.deepcopy(owners)},
        "spec": {"type": "LoadBalancer", "selector": dict(labels),
                 "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP"}]}}
    return [deployment, service]


def route_defaults(route: Obj) -> Obj:
    """An HTTPRoute with the defaults its CRD schema gives (kinds, groups, weights, a
    PathPrefix / match)."""
    out = copy.deepcopy(route)
    spec = out.setdefault("spec", {})
    for ref in spec.get("parentRefs") or []:
        if isinstance(ref, dict):
            ref.setdefault("group", GATEWAY_API_GROUP)
            ref.setdefault("kind", "Gateway")
    for rule in spec.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        if not rule.get("matches"):
            rule["matches"] = [{"path": {"type": "PathPrefix", "value": "/"}}]
        for match in rule["matches"]:
            if isinstance(match, dict) and isinstance(match.get("path"), dict):
                match["path"].setdefault("type", "PathPrefix")
            for header in (match.get("headers") or []) if isinstance(match, dict) else []:
                if isinstance(header, dict):
                    header.setdefault("type", "Exact")
        for backend in rule.get("backendRefs") or []:
            if isinstance(backend, dict):
                backend.setdefault("group", "")
                backend.setdefault("kind", "Service")
                backend.setdefault("weight", 1)
    return out


def route_status(route: Obj, exists: Exists) -> Obj:
    """The HTTPRoute with the status Istio writes for each of its parents."""
    out = copy.deepcopy(route)
    meta, spec = out.get("metadata") or {}, out.get("spec") or {}
    ns, generation, at = meta.get("namespace") or "default", int(meta.get("generation", 1)), now()
    missing = []
    for rule in spec.get("rules") or []:
        for backend in (rule.get("backendRefs") or []) if isinstance(rule, dict) else []:
            if isinstance(backend, dict) and backend.get("kind", "Service") == "Service" and \
                    not exists("", "Service", str(backend.get("namespace") or ns),
                               str(backend.get("name"))):
                missing.append(f"backend({backend.get('name')}."
                               f"{backend.get('namespace') or ns}.svc.cluster.local) not found")
    parents = []
    for ref in spec.get("parentRefs") or []:
        if not isinstance(ref, dict):
            continue
        kind = str(ref.get("kind", "Gateway"))
        group = "" if kind == "Service" else GATEWAY_API_GROUP
        found = exists(group, kind, str(ref.get("namespace") or ns), str(ref.get("name")))
        accepted = _condition("Accepted", found, "Accepted" if found else "NoMatchingParent",
                              "Route was valid" if found else f"{kind} was not found",
                              generation, at)
        resolved = _condition("ResolvedRefs", not missing, "ResolvedRefs" if not missing
                              else "BackendNotFound", "All references resolved" if not missing
                              else ", ".join(missing), generation, at)
        parents.append({"conditions": [accepted, resolved], "controllerName": CONTROLLER,
                        "parentRef": copy.deepcopy(ref)})
    out["status"] = {"parents": parents}
    return out
