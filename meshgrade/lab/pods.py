"""Pods synthesised from Deployments, as a cluster with Istio's injector would show them."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses in generated names
SIDECAR_STATUS = {"initContainers": ["istio-init"], "containers": ["istio-proxy"],
                  "volumes": ["istio-envoy", "istio-data", "istio-podinfo", "istiod-ca-cert"],
                  "imagePullSecrets": None, "revision": "default"}
CREATED = "2026-01-01T00:00:00Z"
NODE_MAX_PODS = 110  # kubelet's default --max-pods: what minikube's one node runs


def _token(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def template_hash(deployment: dict[str, Any]) -> str:
    """The pod-template-hash: 10 characters derived from the pod template."""
    template = json.dumps(deployment.get("spec", {}).get("template", {}), sort_keys=True)
    return _token(template, 10)


def injected(namespace_labels: dict[str, str]) -> bool:
    """Whether Istio injects sidecars into this namespace (label or revision label)."""
    label = namespace_labels.get("istio-injection")
    return label == "enabled" or ("istio.io/rev" in namespace_labels and label != "disabled")


def pods_for(deployment: dict[str, Any], namespace_labels: dict[str, str], *,
             limit: int = NODE_MAX_PODS) -> list[dict[str, Any]]:
    """The Ready pods of a Deployment, at most ``limit``: names like
    ``reviews-v2-<hash>-<5 chars>``."""
    meta = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    name, ns = meta.get("name", ""), meta.get("namespace") or "default"
    replicas = spec.get("replicas", 1)
    replicas = replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1
    template = spec.get("template") or {}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    phash = template_hash(deployment)
    sidecar = injected(namespace_labels) and ns != "istio-system"
    out = []
    for i in range(max(min(replicas, limit), 0)):
        pod_name = f"{name}-{phash}-{_token(f'{ns}/{name}/{i}', 5)}"
        containers = copy.deepcopy((template.get("spec") or {}).get("containers") or [])
        init = []
        annotations: dict[str, str] = {}
        if sidecar:
            containers.append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0",
                               "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}]})
            init.append({"name": "istio-init", "image": "docker.io/istio/proxyv2:1.24.0"})
            annotations["sidecar.istio.io/status"] = json.dumps(SIDECAR_STATUS)
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns,
                         "labels": {**labels, "pod-template-hash": phash},
                         "annotations": annotations, "creationTimestamp": CREATED,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": f"{name}-{phash}", "controller": True,
                                              "uid": _token(f"rs/{ns}/{name}", 12)}]},
            "spec": {"containers": containers, "initContainers": init,
                     "serviceAccountName": (template.get("spec") or {}).get(
                         "serviceAccountName", "default"), "nodeName": "meshgrade-lab"},
            "status": _running(containers),
        }
        out.append(pod)
    return out


def unschedulable(pod: dict[str, Any]) -> dict[str, Any]:
    """``pod`` as the scheduler leaves it on a full node: Pending, not scheduled."""
    out = dict(pod)
    out["spec"] = {k: v for k, v in pod["spec"].items() if k != "nodeName"}
    out["status"] = {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "lastTransitionTime": CREATED,
        "message": f"0/1 nodes are available: 1 Too many pods (the node runs at most "
                   f"{NODE_MAX_PODS})."}]}
    return out


def with_ready(deployment: dict[str, Any], ready: int) -> dict[str, Any]:
    """``deployment`` whose rollout stopped at ``ready`` running pods."""
    out = copy.deepcopy(deployment)
    status = out.setdefault("status", {})
    status.update({"readyReplicas": ready, "availableReplicas": ready,
                   "unavailableReplicas": max(0, int(status.get("replicas", 0)) - ready)})
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Available":
            cond.update({"status": "False", "reason": "MinimumReplicasUnavailable",
                         "message": "Deployment does not have minimum availability."})
    return out


def _running(containers: list[dict[str, Any]]) -> dict[str, Any]:
    ready = [{"type": t, "status": "True", "lastTransitionTime": CREATED}
             for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
    return {"phase": "Running", "conditions": ready, "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1", "startTime": CREATED,
            "containerStatuses": [_container_status(c) for c in containers]}


def _container_status(container: dict[str, Any]) -> dict[str, Any]:
    name = str(container.get("name") or "app")
    image = str(container.get("image") or "unknown")
    return {"name": name, "ready": True, "started": True, "restartCount": 0, "image": image,
            "imageID": f"{image}@sha256:{_token(image, 12)}",
            "containerID": f"containerd://{_token(name + image, 16)}",
            "state": {"running": {"startedAt": CREATED}}}


def deployment_status(deployment: dict[str, Any]) -> dict[str, Any]:
    """A Deployment with the status of a finished rollout."""
    out = copy.deepcopy(deployment)
    replicas = out.get("spec", {}).get("replicas", 1)
    replicas = replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1
    generation = out.get("metadata", {}).get("generation", 1)
    out["status"] = {
        "observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
        "availableReplicas": replicas, "updatedReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "lastTransitionTime": CREATED, "lastUpdateTime": CREATED},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "lastTransitionTime": CREATED, "lastUpdateTime": CREATED}]}
    return out
