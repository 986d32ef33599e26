"""The lab: the cluster state, emulated pods, a real Envoy and a Kubernetes API, together."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..routing.mesh import DEFAULT_INGRESS_LABELS
from ..submission import baseline, installs
from ..submission.kinds import CLUSTER_SCOPED
from ..submission.objects import KObject, selects
from . import gatewaystatus as gatewayapi
from . import xds
from .accesslog import AccessLog
from .admission import Admission, last_applied
from .apiserver import ApiServer, ObjectStore, crd_manifests
from .controller import Controller, owner
from .dashboard import DashboardServer
from .envoy import EnvoyProxy
from .events import Events
from .manifests import key_of, load_paths
from .pods import HOST_IP, NODE, NODE_MAX_PODS, has_sidecar
from .ports import LOOPBACK, free_node_port, free_ports
from .runtime import PodRuntime
from .workloads import Faults, PodSpec, Telemetry, Workloads, start_addon

ADDONS = {("istio-system", "kiali"): "kiali", ("istio-system", "prometheus"): "prometheus"}
ENVOY_TIMEOUT_S = 30.0  # generous: a loaded 2-core CI machine must not fail a config push
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
#: Kinds the lab makes itself (never configuration the mesh is built from).
DERIVED = {("", "Pod"), ("apps", "ReplicaSet"), ("", "Event"), ("", "Node"), ("", "Endpoints")}
Key = tuple[str, str, str, str]
#: Kinds whose change the controllers reconcile (routing objects need only Envoy).
WORKLOAD_CHANGES = frozenset({"Deployment", "Pod", "ReplicaSet", "Namespace"})


class LabError(Exception):
    """The lab could not start or apply something; the message says what."""


def _node() -> dict[str, Any]:
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "message": "kubelet is posting ready status"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "labels": {
                "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": ""}},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": HOST_IP},
                                     {"type": "Hostname", "address": NODE}],
                       "capacity": {"cpu": "2", "memory": "4Gi", "pods": str(NODE_MAX_PODS)},
                       "allocatable": {"cpu": "2", "memory": "4Gi",
                                       "pods": str(NODE_MAX_PODS)},
                       "conditions": [ready],
                       "nodeInfo": {"kubeletVersion": "v1.36.0", "kubeProxyVersion": "v1.36.0",
                                    "containerRuntimeVersion": "docker://28.1.1",
                                    "osImage": "meshgrade lab", "operatingSystem": "linux",
                                    "architecture": "amd64", "kernelVersion": "6.0.0"}}}


class Lab:
    """An Istio-like mesh on loopback. ``start()`` brings up the baseline (Istio demo,
    Kiali, Prometheus, and unless ``bookinfo`` is False, Bookinfo and its gateway), then
    applies ``paths`` in order like successive ``kubectl apply -f``. Envoy's ingress serves
    as every ingress gateway: the pods with ``ingress_labels`` and every ingress install the
    mesh tells by its labels (the baseline's, or one installed the Helm way, e.g.
    ``istio: ingress``). Its Kubernetes API takes writes of every kind the lab runs:
    Deployments make ReplicaSets and pods, Istio's injector decides at a pod's creation
    whether it gets a sidecar (a pod without one calls around the mesh's rules), and pods
    answer exec, logs and port-forward (see :mod:`meshgrade.lab.runtime`)."""

    def __init__(self, *, bookinfo: bool = True, workdir: Path | None = None,
                 ingress_labels: Mapping[str, str] | None = None) -> None:
        self.bookinfo = bookinfo
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="meshgrade-lab-"))
        self.ingress_labels = dict(ingress_labels or DEFAULT_INGRESS_LABELS)
        self.objects: dict[Key, dict[str, Any]] = {}  # configuration the mesh is built from
        self.store = ObjectStore()
        self.events = Events(self.store)
        self.telemetry = Telemetry()
        self.faults = Faults()
        self.gateway_port = free_node_port()
        self.mesh_port, self.plain_port = free_ports(2)
        self.workloads = Workloads(f"http://{LOOPBACK}:{self.mesh_port}",
                                   telemetry=self.telemetry, faults=self.faults,
                                   plain_url=f"http://{LOOPBACK}:{self.plain_port}")
        self.envoy = EnvoyProxy(self.workdir / "envoy")
        self.access_log = AccessLog(self.workdir / "envoy" / "access.log")
        self.admission = Admission(self.store, self.gateway_port, self.ingress_labels,
                                   self._namespace_labels)
        self.controller = Controller(self.store, self.events,
                                     admit=lambda pod: self.admission("create", None, pod),
                                     start=self._start_pod, stop=self._stop_pod)
        self.runtime = PodRuntime(self)
        self.api = ApiServer(self.store, self.workdir / "api", on_write=self._on_write,
                             proxy=self._proxy, writes="all", admit=self._admit,
                             runtime=self.runtime)
        self._addons: dict[str, Any] = {}
        self._dashboard: Any = None
        self._lock = threading.RLock()
        self.started_s = 0.0
        self.config_version = 0
        self.push_delay_s = 0.0  # > 0: Envoy gets changes this late, as a slow istiod would
        self._pending: threading.Timer | None = None
        self._workloads_changed = True  # the controllers have something to reconcile

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, paths: Iterable[Path] = ()) -> Lab:
        t0 = time.perf_counter()
        try:
            with self._lock:
                self.store.put(_node())
                for crd in crd_manifests():
                    self.store.put(crd)
                for name in SYSTEM_NAMESPACES:
                    self._put({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": name}}, applied=False)
                self._put({"apiVersion": "v1", "kind": "Service", "metadata": {
                    "name": "kubernetes", "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"}},
                    "spec": {"clusterIP": "10.96.0.1", "ports": [
                        {"name": "https", "port": 443, "targetPort": 8443}]}}, applied=False)
                for obj in baseline.objects(self.bookinfo, lab=True):
                    self._put(obj.raw)
                for raw in load_paths(list(paths)):
                    self._put(raw)
                for kind in ("kiali", "prometheus"):
                    self._addons[kind] = start_addon(kind, self.telemetry)
                self.controller.sync(self._deployments())
                self.envoy.start(self._envoy_config(), timeout=ENVOY_TIMEOUT_S)
            self.api.start()
        except BaseException:
            self.stop()
            raise
        self.started_s = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        """Stop everything the lab started and remove its folder."""
        if self._pending is not None:
            self._pending.cancel()
        extra = [self._dashboard.stop] if self._dashboard is not None else []
        for step in (self.api.stop, self.envoy.stop, self.workloads.stop,
                     *[a.stop for a in self._addons.values()], *extra):
            try:
                step()
            except Exception:  # keep stopping the rest
                pass
        self._addons.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what users see -------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        """``host:port`` of the ingress gateway, as the course's $GATEWAY_URL."""
        return f"{LOOPBACK}:{self.gateway_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.api.kubeconfig

    def start_dashboard(self) -> str:
        """Serve the live mesh graph (:mod:`meshgrade.lab.dashboard`); returns its URL."""
        if self._dashboard is None:
            self._dashboard = DashboardServer(self.telemetry)
        return str(self._dashboard.url)

    def exports(self) -> str:
        """Shell lines to eval: KUBECONFIG and GATEWAY_URL."""
        return f"export KUBECONFIG={self.kubeconfig}\nexport GATEWAY_URL={self.gateway_url}\n"

    def status(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for obj in self.objects.values():
            kinds[obj.get("kind", "?")] = kinds.get(obj.get("kind", "?"), 0) + 1
        return {"gateway_url": self.gateway_url, "kubeconfig": str(self.kubeconfig),
                "api_url": self.api.url, "envoy_admin": self.envoy.admin_url,
                "envoy_pid": self.envoy.pid, "config_version": self.config_version,
                "last_apply_s": getattr(self.envoy, "last_apply_s", None),
                "objects": dict(sorted(kinds.items())),
                "pods": sorted(name for _, name in self.controller.pods),
                "api_requests": dict(self.api.counts), "started_s": round(self.started_s, 3),
                "dashboard_url": self._dashboard.url if self._dashboard is not None else None}

    # -- changes --------------------------------------------------------------------------

    def apply(self, paths: Iterable[Path]) -> None:
        """``kubectl apply -f`` for files or folders; returns once Envoy serves the result."""
        self.apply_objects(load_paths(list(paths)))

    def delete(self, paths: Iterable[Path]) -> None:
        self.delete_objects(load_paths(list(paths)))

    def apply_objects(self, objects: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for obj in objects:
                self._put(obj)
            self._converge()

    def delete_objects(self, objects: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for obj in objects:
                stored = self.store.get(*key_of(obj))
                if stored is not None:
                    self.store.delete(*key_of(stored))
                    self._gone(stored)
            self._converge()

    def _admit(self, verb: str, old: dict[str, Any] | None, new: dict[str, Any]
               ) -> dict[str, Any]:
        return self.admission(verb, old, new)

    def _on_write(self, verb: str, old: dict[str, Any] | None, new: dict[str, Any] | None
                  ) -> None:
        """A write through the Kubernetes API: the store has it; let the lab act on it."""
        with self._lock:
            if new is not None and verb != "delete":
                self._accepted(new)
            elif old is not None:
                self._gone(old)
            self._converge()

    def _put(self, obj: dict[str, Any], applied: bool = True) -> None:
        """Store an object the lab applies itself (as ``kubectl apply`` would)."""
        obj = dict(obj)
        obj["metadata"] = dict(obj.get("metadata") or {})
        if obj.get("kind") not in CLUSTER_SCOPED:
            obj["metadata"].setdefault("namespace", "default")
        if applied:
            obj = last_applied(obj)
        old = self.store.get(*key_of(obj))
        if old is not None and "status" in old:
            obj.setdefault("status", old["status"])
        self._accepted(self.store.put(self.admission("update" if old else "create", old, obj)))

    def _accepted(self, obj: dict[str, Any]) -> None:
        """An object is stored: keep configuration for the mesh, adopt pods, let Istio
        program Gateway API objects."""
        key = key_of(obj)
        self._workloads_changed |= key[1] in WORKLOAD_CHANGES
        if (key[0], key[1]) in DERIVED:
            if key[1] == "Pod":
                if self.controller.get(key[2], key[3]) is None:
                    self.controller.adopt(obj)
                else:
                    self.controller.relabel(obj)
            return
        self.objects[key] = obj
        if gatewayapi.is_istio_gateway(obj):
            self.store.put(gatewayapi.with_status(obj, LOOPBACK))
            for extra in gatewayapi.derived(obj):
                self._put(extra, applied=False)

    def _gone(self, obj: dict[str, Any]) -> None:
        """An object was deleted: drop it, what it owns, a namespace's contents."""
        key = key_of(obj)
        self._workloads_changed |= key[1] in WORKLOAD_CHANGES
        self.objects.pop(key, None)
        if key[1] == "Pod" and not key[0]:
            self.controller.remove(key[2], key[3])
        uid = (obj.get("metadata") or {}).get("uid")
        for other_key, other in list(self.objects.items()):
            refs = (other.get("metadata") or {}).get("ownerReferences") or []
            if other_key in self.objects and (
                    (uid and any(r.get("uid") == uid for r in refs)) or
                    (key[1] == "Namespace" and not key[0] and other_key[2] == key[3])):
                self.store.delete(*other_key)
                self._gone(other)
        if key[1] == "Namespace" and not key[0]:
            for pod_key in [k for k in self.controller.pods if k[0] == key[3]]:
                self.controller.remove(*pod_key, stored=True)
            for kind in (("", "Event"), ("apps", "ReplicaSet")):
                for item in self.store.list(*kind, key[3]):
                    self.store.delete(kind[0], kind[1], key[3], item["metadata"]["name"])
            self.events.forget_namespace(key[3])

    def _deployments(self) -> list[dict[str, Any]]:
        return [o for k, o in self.objects.items() if k[:2] == ("apps", "Deployment")]

    def _route_statuses(self) -> None:
        """HTTPRoutes get the status Istio writes (parents accepted, references resolved)."""
        def exists(group: str, kind: str, namespace: str, name: str) -> bool:
            return (group, kind, namespace, name) in self.objects

        for key, obj in list(self.objects.items()):
            if gatewayapi.is_route(obj):
                stored = self.store.get(*key)
                if stored is None:
                    continue
                new = gatewayapi.route_status(stored, exists)
                if _conditions(new) != _conditions(stored):
                    self.objects[key] = self.store.put(new)

    def _converge(self) -> None:
        if self._workloads_changed:
            self._workloads_changed = False
            self.controller.sync(self._deployments())
        self._route_statuses()
        config = self._envoy_config()
        if self.push_delay_s <= 0:
            if config.version != self.envoy.version:
                self.envoy.apply(config, timeout=ENVOY_TIMEOUT_S)
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = threading.Timer(self.push_delay_s, self._push_late, (config,))
        self._pending.daemon = True
        self._pending.start()

    def synced(self) -> bool:
        """Whether Envoy serves the latest state (no delayed push pending)."""
        return self._pending is None or not self._pending.is_alive()

    def _push_late(self, config: xds.EnvoyConfig) -> None:
        with self._lock:
            if self.envoy.running:
                self.envoy.apply(config, timeout=ENVOY_TIMEOUT_S)

    # -- pods and Envoy -------------------------------------------------------------------

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.store.get("", "Namespace", "", namespace)
        return dict((ns or {}).get("metadata", {}).get("labels") or {})

    def workload_of(self, pod: dict[str, Any]) -> str:
        """The Deployment (or bare pod) name a pod belongs to."""
        meta = pod["metadata"]
        rs = owner(pod, "ReplicaSet")
        return rs.rsplit("-", 1)[0] if rs else str(meta["name"])

    def serves_ingress(self, pod: dict[str, Any]) -> bool:
        """Whether a pod is an ingress gateway (the lab's Envoy ingress listener)."""
        meta = pod["metadata"]
        labels = dict(meta.get("labels") or {})
        if gatewayapi.GATEWAY_LABEL in labels or selects(self.ingress_labels, labels):
            return True
        dep = self.objects.get(("apps", "Deployment", meta["namespace"], self.workload_of(pod)))
        return dep is not None and self._is_ingress(dep)

    def is_gateway(self, pod: dict[str, Any]) -> bool:
        """Whether a pod is Envoy's job (the control plane and the gateways), not a
        workload's."""
        return pod["metadata"]["namespace"] == "istio-system" or self.serves_ingress(pod)

    def _start_pod(self, pod: dict[str, Any]) -> None:
        if self.is_gateway(pod):
            return
        meta = pod["metadata"]
        labels = dict(meta.get("labels") or {})
        try:
            self.workloads.start_pod(PodSpec(
                name=meta["name"], namespace=meta["namespace"], app=labels.get("app", ""),
                version=labels.get("version"), workload=self.workload_of(pod),
                labels=tuple(sorted(labels.items()))), sidecar=has_sidecar(pod))
        except ValueError:  # a pod of that name runs in another namespace
            pass

    def _stop_pod(self, pod: dict[str, Any]) -> None:
        self.workloads.stop_pod(pod["metadata"]["name"])

    def pod_port(self, pod: dict[str, Any]) -> int | None:
        """Where a running pod answers on this machine: its workload server, the ingress
        listener for a gateway, an addon's server."""
        meta = pod["metadata"]
        port = self.workloads.ports().get(meta["name"])
        if port is not None:
            return port
        labels = meta.get("labels") or {}
        addon = self._addons.get(ADDONS.get((meta["namespace"], str(labels.get("app"))), ""))
        if addon is not None:
            return int(addon.port)
        return self.gateway_port if self.serves_ingress(pod) else None

    def _endpoints(self) -> list[xds.Endpoint]:
        out = []
        for pod in self.controller.running():
            port = self.pod_port(pod)
            meta = pod["metadata"]
            if port is None:
                continue
            out.append(xds.Endpoint(
                pod=meta["name"], namespace=meta["namespace"], workload=self.workload_of(pod),
                labels=tuple(sorted((meta.get("labels") or {}).items())), port=port))
        return out

    def _is_ingress(self, deployment: dict[str, Any]) -> bool:
        """Whether a Deployment's pods are an ingress gateway (Envoy's job, no workload)."""
        dep = KObject(deployment, origin="cluster")
        return installs.ingress_form(dep) == "istio" or selects(self.ingress_labels,
                                                                installs.labels_of(dep))

    def _envoy_config(self) -> xds.EnvoyConfig:
        self.config_version += 1
        objects = [KObject(o, origin="cluster") for o in self.objects.values()]
        return xds.build(objects, self._endpoints(), gateway_port=self.gateway_port,
                         mesh_port=self.mesh_port, ingress_labels=self.ingress_labels,
                         access_log=self.access_log.path, plain_port=self.plain_port)

    def _proxy(self, namespace: str, name: str, port: str) -> tuple[str, int] | None:
        """The API server's service proxy: addons by name, app Services to a ready pod."""
        addon = self._addons.get(ADDONS.get((namespace, name), ""))
        if addon is not None:
            return LOOPBACK, addon.port
        svc = self.objects.get(("", "Service", namespace, name))
        if svc is None:
            return None
        selector = {str(k): str(v) for k, v in (svc.get("spec", {}).get("selector") or {}).items()}
        for pod in self.controller.running():
            meta = pod["metadata"]
            if meta["namespace"] == namespace and selects(selector, meta.get("labels") or {}):
                found = self.workloads.ports().get(meta["name"])
                if found is not None:
                    return LOOPBACK, found
        return None


def _conditions(route: dict[str, Any]) -> list[Any]:
    return [(p.get("parentRef"), [(c.get("type"), c.get("status"), c.get("message"),
                                   c.get("observedGeneration")) for c in p.get("conditions")])
            for p in (route.get("status") or {}).get("parents") or []]


__all__ = ["Lab", "LabError"]
