"""Pods, ReplicaSets and Deployment status as a cluster with Istio's injector shows them."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses in generated names
PROXY_IMAGE = "docker.io/istio/proxyv2:1.24.0"
SIDECAR_STATUS = {"initContainers": ["istio-init"], "containers": ["istio-proxy"],
                  "volumes": ["workload-socket", "credential-socket", "workload-certs",
                              "istio-envoy", "istio-data", "istio-podinfo", "istio-token",
                              "istiod-ca-cert"],
                  "imagePullSecrets": None, "revision": "default"}
NODE_MAX_PODS = 110  # kubelet's default --max-pods: what minikube's one node runs
NODE = "meshgrade-lab"
HOST_IP = "127.0.0.1"
INJECT = "sidecar.istio.io/inject"


def now() -> str:
    """The current time as the API writes it."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def template_hash(template: Mapping[str, Any]) -> str:
    """The pod-template-hash: 10 characters derived from the pod template."""
    return _token(json.dumps(template, sort_keys=True), 10)


def injected(namespace_labels: Mapping[str, str],
             pod_labels: Mapping[str, str] | None = None,
             pod_annotations: Mapping[str, str] | None = None) -> bool:
    """Whether Istio's webhook injects a sidecar: the namespace's ``istio-injection=enabled``
    or ``istio.io/rev`` label (unless the pod opts out with ``sidecar.istio.io/inject:
    "false"``), or, in a namespace without ``istio-injection=disabled``, a pod label
    ``sidecar.istio.io/inject: "true"``."""
    pod_labels, pod_annotations = pod_labels or {}, pod_annotations or {}
    label = namespace_labels.get("istio-injection")
    wish = pod_labels.get(INJECT, pod_annotations.get(INJECT, "")).lower()
    if label == "disabled" or wish == "false":
        return False
    return label == "enabled" or "istio.io/rev" in namespace_labels or \
        pod_labels.get(INJECT, "").lower() == "true"


def inject(pod: dict[str, Any]) -> dict[str, Any]:
    """``pod`` with what Istio's injector adds: istio-init, istio-proxy, the status and
    default-container annotations, the security.istio.io labels."""
    out = copy.deepcopy(pod)
    meta, spec = out.setdefault("metadata", {}), out.setdefault("spec", {})
    containers = spec.setdefault("containers", [])
    app = str(containers[0].get("name", "app")) if containers else "app"
    ports = [p for c in containers for p in c.get("ports") or []]
    containers.append({
        "name": "istio-proxy", "image": PROXY_IMAGE,
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                 "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error",
                 "--log_output_level=default:info"],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}},
        "env": [{"name": "ISTIO_META_APP_CONTAINERS", "value": app},
                {"name": "ISTIO_META_INTERCEPTION_MODE", "value": "REDIRECT"},
                {"name": "ISTIO_META_POD_PORTS", "value": json.dumps(ports)}]})
    spec.setdefault("initContainers", []).insert(0, {
        "name": "istio-init", "image": PROXY_IMAGE,
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT",
                 "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020",
                 "--log_output_level=default:info"]})
    annotations = meta.setdefault("annotations", {})
    annotations.update({"sidecar.istio.io/status": json.dumps(SIDECAR_STATUS),
                        "kubectl.kubernetes.io/default-container": app,
                        "kubectl.kubernetes.io/default-logs-container": app,
                        "prometheus.io/scrape": "true", "prometheus.io/port": "15020",
                        "prometheus.io/path": "/stats/prometheus",
                        "istio.io/rev": "default"})
    labels = meta.setdefault("labels", {})
    labels.setdefault("security.istio.io/tlsMode", "istio")
    labels.setdefault("service.istio.io/canonical-name", labels.get("app", meta.get("name", "")))
    labels.setdefault("service.istio.io/canonical-revision", labels.get("version", "latest"))
    return out


def has_sidecar(pod: Mapping[str, Any]) -> bool:
    return any(c.get("name") == "istio-proxy"
               for c in (pod.get("spec") or {}).get("containers") or [])


def pod_for(replicaset: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A new pod of a ReplicaSet, before admission and scheduling."""
    meta, spec = replicaset["metadata"], replicaset["spec"]
    template = copy.deepcopy(spec.get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_spec = template.get("spec") or {}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": meta["namespace"],
                     "generateName": f"{meta['name']}-",
                     "labels": dict(tmeta.get("labels") or {}),
                     "annotations": dict(tmeta.get("annotations") or {}),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": meta["name"], "uid": meta.get("uid", ""),
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {**pod_spec, "serviceAccountName": pod_spec.get("serviceAccountName",
                                                                "default")},
    }


def defaults(pod: dict[str, Any]) -> dict[str, Any]:
    """The API server's defaults for a pod spec."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
    spec["serviceAccount"] = spec["serviceAccountName"]
    for c in spec.get("containers") or []:
        c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(
            ":latest") or ":" not in str(c.get("image", "")) else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
    return pod


def running(pod: dict[str, Any], ip: str, at: str) -> dict[str, Any]:
    """``pod`` scheduled on the node and running, every container started at ``at``."""
    out = copy.deepcopy(pod)
    spec = out.setdefault("spec", {})
    spec["nodeName"] = NODE
    conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": at}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                            "ContainersReady", "PodScheduled")]
    out["status"] = {
        "phase": "Running", "conditions": conditions, "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}], "podIP": ip, "podIPs": [{"ip": ip}], "startTime": at,
        "qosClass": "BestEffort",
        "initContainerStatuses": [_container_status(c, at, done=True)
                                  for c in spec.get("initContainers") or []],
        "containerStatuses": [_container_status(c, at) for c in spec.get("containers") or []]}
    if not out["status"]["initContainerStatuses"]:
        del out["status"]["initContainerStatuses"]
    return out


def _container_status(container: Mapping[str, Any], at: str, done: bool = False
                      ) -> dict[str, Any]:
    name = str(container.get("name") or "app")
    image = str(container.get("image") or "unknown")
    state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": at,
                            "finishedAt": at, "containerID": f"docker://{_token(name, 32)}"}} \
        if done else {"running": {"startedAt": at}}
    return {"name": name, "ready": not done, "started": not done, "restartCount": 0,
            "image": image, "imageID": f"docker-pullable://{image}@sha256:{_token(image, 32)}",
            "containerID": f"docker://{_token(name + image + at, 32)}", "state": state,
            "lastState": {}}


def unschedulable(pod: dict[str, Any], at: str) -> dict[str, Any]:
    """``pod`` as the scheduler leaves it on a full node: Pending, not scheduled."""
    out = copy.deepcopy(pod)
    out.setdefault("spec", {}).pop("nodeName", None)
    out["status"] = {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "lastProbeTime": None, "lastTransitionTime": at,
        "message": f"0/1 nodes are available: 1 Too many pods (the node runs at most "
                   f"{NODE_MAX_PODS}). preemption: 0/1 nodes are available: 1 No preemption "
                   "victims found for incoming pod."}]}
    return out


def replicaset_for(deployment: Mapping[str, Any], revision: int) -> dict[str, Any]:
    """The ReplicaSet of a Deployment's current template (replicas set by the caller)."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    phash = template_hash(template)
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), "pod-template-hash": phash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{meta['name']}-{phash}", "namespace": meta["namespace"],
                     "labels": dict(tmeta["labels"]),
                     "annotations": {"deployment.kubernetes.io/desired-replicas":
                                     str(replicas_of(deployment)),
                                     "deployment.kubernetes.io/max-replicas":
                                     str(replicas_of(deployment) + 1),
                                     "deployment.kubernetes.io/revision": str(revision)},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": meta["name"], "uid": meta.get("uid", ""),
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"replicas": replicas_of(deployment), "selector": selector,
                 "template": template},
    }


def replicas_of(workload: Mapping[str, Any]) -> int:
    replicas = (workload.get("spec") or {}).get("replicas", 1)
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1


def replicaset_status(rs: dict[str, Any], total: int, ready: int) -> dict[str, Any]:
    out = copy.deepcopy(rs)
    out["status"] = {"replicas": total, "fullyLabeledReplicas": total, "readyReplicas": ready,
                     "availableReplicas": ready,
                     "observedGeneration": rs["metadata"].get("generation", 1)}
    if not ready:
        for key in ("readyReplicas", "availableReplicas"):
            del out["status"][key]
    return out


def deployment_status(deployment: dict[str, Any], ready: int | None = None,
                      at: str | None = None, rs_name: str | None = None) -> dict[str, Any]:
    """A Deployment with the status of its rollout: ``ready`` of its replicas running
    (all when None)."""
    out = copy.deepcopy(deployment)
    at = at or now()
    replicas = replicas_of(out)
    ready = replicas if ready is None else ready
    generation = out.get("metadata", {}).get("generation", 1)
    available = ready >= replicas
    phash = template_hash((out.get("spec") or {}).get("template") or {})
    rs = rs_name or f"{out.get('metadata', {}).get('name')}-{phash}"
    old = {c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []}

    def condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        before = old.get(kind) or {}
        since = before.get("lastTransitionTime") if before.get("status") == (
            "True" if ok else "False") else at
        return {"type": kind, "status": "True" if ok else "False", "reason": reason,
                "message": message, "lastUpdateTime": at, "lastTransitionTime": since or at}

    out["status"] = {
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": ready, "availableReplicas": ready,
        "conditions": [
            condition("Available", available, "MinimumReplicasAvailable" if available
                      else "MinimumReplicasUnavailable", "Deployment has minimum availability."
                      if available else "Deployment does not have minimum availability."),
            condition("Progressing", True, "NewReplicaSetAvailable" if available
                      else "ReplicaSetUpdated", f'ReplicaSet "{rs}" has successfully '
                      "progressed." if available else f'ReplicaSet "{rs}" is progressing.')]}
    if ready < replicas:
        out["status"]["unavailableReplicas"] = replicas - ready
    if not ready:
        for key in ("readyReplicas", "availableReplicas"):
            del out["status"][key]
    if not replicas:
        out["status"].pop("updatedReplicas")
    return out
