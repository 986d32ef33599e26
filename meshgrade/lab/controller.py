"""The lab's controllers and its one node: Deployments make ReplicaSets, ReplicaSets make
pods, the scheduler runs at most NODE_MAX_PODS of them (first come, first served; the rest
stay Pending), and the kubelet starts and stops them, as a minikube node would, with the
Events those components record."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .apiserver import ObjectStore
from .events import Events
from .pods import (
    NODE,
    NODE_MAX_PODS,
    deployment_status,
    now,
    pod_for,
    random_suffix,
    replicas_of,
    replicaset_for,
    replicaset_status,
    running,
    template_hash,
    unschedulable,
)

Obj = dict[str, Any]
PodKey = tuple[str, str]  # (namespace, name)
REVISION = "deployment.kubernetes.io/revision"


def owner(obj: Mapping[str, Any], kind: str) -> str | None:
    """The name of the controlling owner of ``kind``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == kind:
            return str(ref.get("name"))
    return None


def _strip(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k != "metadata"} | {
        "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}


class Controller:
    """Reconciles Deployments, ReplicaSets and pods in ``store``. ``admit(pod)`` is the
    API server's admission for pods the controllers create; ``start(pod)`` and ``stop(pod)``
    are the kubelet's runtime."""

    def __init__(self, store: ObjectStore, events: Events, *, admit: Callable[[Obj], Obj],
                 start: Callable[[Obj], None], stop: Callable[[Obj], None],
                 capacity: int = NODE_MAX_PODS) -> None:
        self.store, self.events = store, events
        self.admit, self.start, self.stop = admit, start, stop
        self.capacity = capacity
        self.pods: dict[PodKey, Obj] = {}  # every pod the node knows, in creation order
        self.pending: set[PodKey] = set()
        self._ips = (str(ip) for ip in itertools.islice(
            ipaddress.ip_network("10.244.0.0/16").hosts(), 2, None))

    # -- pods -----------------------------------------------------------------------------
    def running(self) -> list[Obj]:
        """The running pods (a snapshot: exec and logs read it while writes go on)."""
        pending = set(self.pending)
        return [p for k, p in list(self.pods.items()) if k not in pending]

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.pods.get((namespace, name))

    def adopt(self, pod: Obj) -> None:
        """A pod the API stored (created by a user, or by a controller): it waits to be
        scheduled."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if key not in self.pods:
            self.pods[key] = pod
            self.pending.add(key)

    def relabel(self, pod: Obj) -> None:
        """A stored pod whose metadata changed (``kubectl label pod``)."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if key in self.pods:
            self.pods[key] = pod

    def remove(self, namespace: str, name: str, *, stored: bool = False) -> None:
        """Stop a pod; ``stored``: it is still in the store (delete it there too)."""
        pod = self.pods.pop((namespace, name), None)
        was_pending = (namespace, name) in self.pending
        self.pending.discard((namespace, name))
        if stored:
            self.store.delete("", "Pod", namespace, name)
        if pod is None or was_pending:
            return
        for c in (pod.get("spec") or {}).get("containers") or []:
            self.events.record(pod, "Killing", f"Stopping container {c.get('name')}",
                               field_path=f"spec.containers{{{c.get('name')}}}")
        self.stop(pod)

    def _create(self, rs: Obj) -> None:
        name = f"{rs['metadata']['name']}-{random_suffix()}"
        while self.store.get("", "Pod", rs["metadata"]["namespace"], name) is not None:
            name = f"{rs['metadata']['name']}-{random_suffix()}"
        pod = self.store.put(self.admit(pod_for(rs, name)))
        self.events.record(rs, "SuccessfulCreate", f"Created pod: {name}",
                           source="replicaset-controller")
        self.adopt(pod)

    def _schedule(self) -> None:
        free = self.capacity - (len(self.pods) - len(self.pending))
        for key, pod in list(self.pods.items()):
            if key not in self.pending:
                continue
            if free <= 0:
                if (pod.get("status") or {}).get("phase") != "Pending":
                    self.pods[key] = self.store.put(unschedulable(pod, now()))
                    self.events.record(pod, "FailedScheduling", self.pods[key]["status"][
                        "conditions"][0]["message"], source="default-scheduler",
                        kind="Warning")
                continue
            free -= 1
            self.pending.discard(key)
            self.events.record(pod, "Scheduled", f"Successfully assigned {key[0]}/{key[1]} to "
                               f"{NODE}", source="default-scheduler")
            started = self.store.put(running(pod, next(self._ips), now()))
            self.pods[key] = started
            spec = started.get("spec") or {}
            for field, containers in (("initContainers", spec.get("initContainers") or []),
                                      ("containers", spec.get("containers") or [])):
                for c in containers:
                    where = f"spec.{field}{{{c.get('name')}}}"
                    self.events.record(started, "Pulled", f'Container image "{c.get("image")}"'
                                       " already present on machine", field_path=where)
                    self.events.record(started, "Created", f"Created container: "
                                       f"{c.get('name')}", field_path=where)
                    self.events.record(started, "Started", f"Started container "
                                       f"{c.get('name')}", field_path=where)
            self.start(started)

    # -- controllers ----------------------------------------------------------------------
    def sync(self, deployments: Iterable[Obj]) -> None:
        """Bring ReplicaSets and pods in line with ``deployments`` (as stored), schedule and
        start pods, and write the status of every ReplicaSet and Deployment."""
        deployments = list(deployments)
        wanted = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in deployments}
        owned: dict[tuple[str, str], list[Obj]] = {}
        for rs in self.store.list("apps", "ReplicaSet"):
            owned.setdefault((rs["metadata"]["namespace"], owner(rs, "Deployment") or ""),
                             []).append(rs)
        current: dict[tuple[str, str], str] = {}
        for key, dep in wanted.items():
            current[key] = self._rollout(dep, owned.get(key, []))
        for rs in self.store.list("apps", "ReplicaSet"):
            ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
            if (ns, owner(rs, "Deployment") or "") not in wanted:
                self.store.delete("apps", "ReplicaSet", ns, name)
        replicasets = {(r["metadata"]["namespace"], r["metadata"]["name"]): r
                       for r in self.store.list("apps", "ReplicaSet")}
        for key, pod in list(self.pods.items()):
            parent = owner(pod, "ReplicaSet")
            if parent is not None and (key[0], parent) not in replicasets:
                self.remove(*key, stored=True)
        for (ns, name), rs in replicasets.items():
            mine = [k for k, p in self.pods.items() if k[0] == ns and owner(p, "ReplicaSet") ==
                    name]
            want = min(replicas_of(rs), self.capacity)  # more could never run on the node
            for _ in range(want - len(mine)):
                self._create(rs)
            for key in reversed(mine[want:] if want < len(mine) else []):
                self.events.record(rs, "SuccessfulDelete", f"Deleted pod: {key[1]}",
                                   source="replicaset-controller")
                self.remove(*key, stored=True)
        self._schedule()
        self._statuses(wanted, current, replicasets)

    def _rollout(self, dep: Obj, mine: list[Obj]) -> str:
        """Make sure the ReplicaSet of the Deployment's template exists with its replicas;
        scale the older ones (``mine``: the Deployment's) to 0. Returns its name."""
        meta = dep["metadata"]
        name = meta["name"]
        phash = template_hash((dep.get("spec") or {}).get("template") or {})
        rs_name = f"{name}-{phash}"
        found = next((r for r in mine if r["metadata"]["name"] == rs_name), None)
        want = replicas_of(dep)
        if found is None:
            revision = 1 + max((int((r["metadata"].get("annotations") or {}).get(REVISION, 0))
                                for r in mine), default=0)
            self.store.put(replicaset_for(dep, revision))
            self.events.record(dep, "ScalingReplicaSet", f"Scaled up replica set {rs_name} "
                               f"from 0 to {want}", source="deployment-controller")
        elif replicas_of(found) != want:
            self.store.put({**found, "spec": {**found["spec"], "replicas": want}})
            verb = "up" if want > replicas_of(found) else "down"
            self.events.record(dep, "ScalingReplicaSet", f"Scaled {verb} replica set {rs_name} "
                               f"from {replicas_of(found)} to {want}",
                               source="deployment-controller")
        for old in mine:
            if old["metadata"]["name"] != rs_name and replicas_of(old) > 0:
                self.store.put({**old, "spec": {**old["spec"], "replicas": 0}})
                self.events.record(dep, "ScalingReplicaSet", f"Scaled down replica set "
                                   f"{old['metadata']['name']} from {replicas_of(old)} to 0",
                                   source="deployment-controller")
        return rs_name

    def _statuses(self, deployments: Mapping[tuple[str, str], Obj],
                  current: Mapping[tuple[str, str], str],
                  replicasets: Mapping[tuple[str, str], Obj]) -> None:
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for key, pod in self.pods.items():
            parent = owner(pod, "ReplicaSet")
            if parent is not None:
                total, ready = counts.get((key[0], parent), (0, 0))
                counts[(key[0], parent)] = (total + 1, ready + (key not in self.pending))
        for key in replicasets:
            stored = self.store.get("apps", "ReplicaSet", *key)
            if stored is None:
                continue
            new = replicaset_status(stored, *counts.get(key, (0, 0)))
            if _strip(new) != _strip(stored):
                self.store.put(new)
        for ns, name in deployments:
            stored = self.store.get("apps", "Deployment", ns, name)
            if stored is None:
                continue
            rs_name = current[(ns, name)]
            rs = self.store.get("apps", "ReplicaSet", ns, rs_name) or {}
            ready = counts.get((ns, rs_name), (0, 0))[1]
            new = deployment_status(stored, ready, now(), rs_name)
            revision = (rs.get("metadata", {}).get("annotations") or {}).get(REVISION)
            if revision:
                annotations = dict(new["metadata"].get("annotations") or {})
                annotations[REVISION] = revision
                new["metadata"]["annotations"] = annotations
            if _comparable(new) != _comparable(stored):
                self.store.put(new)


def _comparable(dep: Obj) -> Obj:
    """A Deployment without what changes with every status write (times, versions)."""
    status = dict(dep.get("status") or {})
    status["conditions"] = [{k: v for k, v in c.items() if k != "lastUpdateTime"}
                            for c in status.get("conditions") or []]
    return {**_strip(dep), "status": status}


