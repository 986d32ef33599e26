"""The lab: the cluster state, emulated pods, a real Envoy and a Kubernetes API, together."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import baseline, installs
from ..kinds import CLUSTER_SCOPED
from ..mesh import DEFAULT_INGRESS_LABELS
from ..objects import KObject, selects
from . import gatewayapi, xds
from .apiserver import ApiServer, ObjectStore
from .envoy import EnvoyProxy
from .manifests import key_of, load_paths
from .pods import NODE_MAX_PODS, deployment_status, pods_for, unschedulable, with_ready
from .ports import LOOPBACK, free_ports
from .workloads import Faults, PodSpec, Telemetry, Workloads, start_addon

ADDONS = {("istio-system", "kiali"): "kiali", ("istio-system", "prometheus"): "prometheus"}
APP_KINDS = ("Deployment",)
ENVOY_TIMEOUT_S = 30.0  # generous: a loaded 2-core CI machine must not fail a config push


class LabError(Exception):
    """The lab could not start or apply something; the message says what."""


class Lab:
    """An Istio-like mesh on loopback. ``start()`` brings up the baseline (Istio demo,
    Kiali, Prometheus, and unless ``bookinfo`` is False, Bookinfo and its gateway), then
    applies ``paths`` in order like successive ``kubectl apply -f``. Envoy's ingress serves
    as every ingress gateway: the pods with ``ingress_labels`` and every ingress install the
    mesh tells by its labels (the baseline's, or one installed the Helm way, e.g.
    ``istio: ingress``)."""

    def __init__(self, *, bookinfo: bool = True, workdir: Path | None = None,
                 ingress_labels: Mapping[str, str] | None = None) -> None:
        self.bookinfo = bookinfo
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="meshgrade-lab-"))
        self.ingress_labels = dict(ingress_labels or DEFAULT_INGRESS_LABELS)
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.store = ObjectStore()
        self.telemetry = Telemetry()
        self.faults = Faults()
        self.gateway_port, self.mesh_port = free_ports(2)
        self.workloads = Workloads(f"http://{LOOPBACK}:{self.mesh_port}",
                                   telemetry=self.telemetry, faults=self.faults)
        self.envoy = EnvoyProxy(self.workdir / "envoy")
        self.api = ApiServer(self.store, self.workdir / "api", on_write=self._on_write,
                             proxy=self._proxy)
        self._addons: dict[str, Any] = {}
        self._pods: dict[str, dict[str, Any]] = {}
        self._unscheduled: set[str] = set()  # pods the full node could not run (Pending)
        self._lock = threading.RLock()
        self.started_s = 0.0
        self.config_version = 0
        self.push_delay_s = 0.0  # > 0: Envoy gets changes this late, as a slow istiod would
        self._pending: threading.Timer | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, paths: Iterable[Path] = ()) -> Lab:
        t0 = time.perf_counter()
        try:
            for obj in baseline.objects(self.bookinfo, lab=True):
                self._put(obj.raw)
            for obj in load_paths(list(paths)):
                self._put(obj)
            for kind in ("kiali", "prometheus"):
                self._addons[kind] = start_addon(kind, self.telemetry)
            self._sync_pods()
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
        for step in (self.api.stop, self.envoy.stop, self.workloads.stop,
                     *[a.stop for a in self._addons.values()]):
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
                "objects": dict(sorted(kinds.items())), "pods": sorted(self._pods),
                "api_requests": dict(self.api.counts), "started_s": round(self.started_s, 3)}

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
                key = key_of(obj)
                if self.objects.pop(key, None) is not None:
                    self.store.delete(key[0], key[1], key[2], key[3])
            self._converge()

    def _on_write(self, verb: str, old: dict[str, Any] | None, new: dict[str, Any] | None
                  ) -> None:
        """A write through the Kubernetes API: the store has it; make Envoy serve it."""
        with self._lock:
            if new is not None and verb != "delete":
                self.objects[key_of(new)] = new
            elif old is not None:
                self.objects.pop(key_of(old), None)
            self._converge()

    def _put(self, obj: dict[str, Any]) -> None:
        obj = dict(obj)
        obj["metadata"] = dict(obj.get("metadata") or {})
        if obj.get("kind") not in CLUSTER_SCOPED:
            obj["metadata"].setdefault("namespace", "default")
        if obj.get("kind") == "Deployment":
            obj = deployment_status(obj)
        if gatewayapi.is_istio_gateway(obj):
            obj = gatewayapi.with_status(obj, LOOPBACK)
            for extra in gatewayapi.derived(obj):
                self._put(extra)
        self.objects[key_of(obj)] = obj
        self.store.put(obj)

    def _converge(self) -> None:
        self._sync_pods()
        config = self._envoy_config()
        if self.push_delay_s <= 0:
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
        ns = self.objects.get(("", "Namespace", "", namespace))
        return dict((ns or {}).get("metadata", {}).get("labels") or {})

    def _sync_pods(self) -> None:
        """Pods for every Deployment; start servers for new ones, stop gone ones. Like one
        minikube node, at most NODE_MAX_PODS run (first come, first served); the rest
        stay Pending and their Deployments short of ready."""
        wanted: dict[str, dict[str, Any]] = {}
        owners: dict[str, tuple[str, str, str, str]] = {}
        for key, obj in self.objects.items():
            if key[1] in APP_KINDS:
                ns = obj["metadata"].get("namespace") or "default"
                for pod in pods_for(obj, self._namespace_labels(ns)):
                    wanted[pod["metadata"]["name"]] = pod
                    owners[pod["metadata"]["name"]] = key
        for name in set(self._pods) - set(wanted):
            pod = self._pods.pop(name)
            self._unscheduled.discard(name)
            self.store.delete("", "Pod", pod["metadata"]["namespace"], name)
            self.workloads.stop_pod(name)
        free = NODE_MAX_PODS - (len(self._pods) - len(self._unscheduled))
        for name, pod in wanted.items():
            if name in self._pods and name not in self._unscheduled:
                continue
            if free <= 0:
                if name not in self._pods:
                    self._pods[name] = pod
                    self._unscheduled.add(name)
                    self.store.put(unschedulable(pod))
                continue
            free -= 1
            self._unscheduled.discard(name)
            self._start_pod(name, pod, self._is_ingress(self.objects[owners[name]]))
        self._mark_short_deployments(owners)

    def _start_pod(self, name: str, pod: dict[str, Any], ingress: bool) -> None:
        self._pods[name] = pod
        self.store.put(pod)
        meta = pod["metadata"]
        labels = dict(meta.get("labels") or {})
        if meta["namespace"] == "istio-system" or gatewayapi.GATEWAY_LABEL in labels or ingress:
            return  # the control plane and gateways are Envoy's job, not workloads
        self.workloads.start_pod(PodSpec(
            name=name, namespace=meta["namespace"], app=labels.get("app", ""),
            version=labels.get("version"), workload=meta["ownerReferences"][0]["name"]
            .rsplit("-", 1)[0], labels=tuple(sorted(labels.items()))))

    def _mark_short_deployments(self, owners: dict[str, tuple[str, str, str, str]]) -> None:
        """Deployments with fewer running pods than replicas show how many are ready."""
        running: dict[tuple[str, str, str, str], int] = {}
        for name, key in owners.items():
            running[key] = running.get(key, 0) + (name not in self._unscheduled)
        for key, ready in running.items():
            obj = self.objects[key]
            if int((obj.get("status") or {}).get("readyReplicas", 0)) > ready:
                self.objects[key] = with_ready(obj, ready)
                self.store.put(self.objects[key])

    def _endpoints(self) -> list[xds.Endpoint]:
        ports = self.workloads.ports()
        out = []
        for name, pod in self._pods.items():
            if name not in ports:
                continue
            meta = pod["metadata"]
            out.append(xds.Endpoint(
                pod=name, namespace=meta["namespace"],
                workload=meta["ownerReferences"][0]["name"].rsplit("-", 1)[0],
                labels=tuple(sorted((meta.get("labels") or {}).items())), port=ports[name]))
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
                         mesh_port=self.mesh_port, ingress_labels=self.ingress_labels)

    def _proxy(self, namespace: str, name: str, port: str) -> tuple[str, int] | None:
        """The API server's service proxy: addons by name, app Services to a ready pod."""
        addon = self._addons.get(ADDONS.get((namespace, name), ""))
        if addon is not None:
            return LOOPBACK, addon.port
        svc = self.objects.get(("", "Service", namespace, name))
        if svc is None:
            return None
        selector = {str(k): str(v) for k, v in (svc.get("spec", {}).get("selector") or {}).items()}
        ports = self.workloads.ports()
        for pod_name, pod in self._pods.items():
            meta = pod["metadata"]
            if meta["namespace"] == namespace and selects(selector, meta.get("labels") or {}) \
                    and pod_name in ports:
                return LOOPBACK, ports[pod_name]
        return None


__all__ = ["Lab", "LabError"]
