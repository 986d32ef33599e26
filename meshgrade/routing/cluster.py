"""The cluster inventory: Services, ServiceEntries, pods and DestinationRules, indexed by host."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..objects import KObject, as_list, selects
from .hosts import best_match, host_matches, is_ip, specificity, split_host, svc_fqdn
from .request import Acc, Target

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet",
                            "ReplicationController"})
ROOT_NAMESPACE = "istio-system"
_HTTP_APP_PROTOCOLS = frozenset({"http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c"})
_OPAQUE = frozenset({"tcp", "tls", "https", "mongo", "mysql", "redis", "udp", "thrift"})


@dataclass(frozen=True, eq=False)
class PodGroup:
    """Ready pods of one workload that share labels (``count`` replicas)."""

    namespace: str
    workload: str
    labels: Mapping[str, str]
    count: int


@dataclass(frozen=True, eq=False)
class Backend:
    """What a host resolves to: a Service (with pods) or a ServiceEntry/ExternalName."""

    fqdn: str
    obj: KObject
    external: bool  # no pods behind it: reached as a host


@dataclass(frozen=True, eq=False)
class SubsetLookup:
    labels: Mapping[str, str] | None  # None: subset not defined
    dr: KObject | None
    path: str = ""


def str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def is_http_port(port: Mapping[str, Any], sniff: bool = False) -> bool:
    """Istio's protocol selection for a Service port: ``appProtocol`` first, then the name
    prefix (``http``, ``http2``, ``grpc*``). Unknown or missing names are TCP unless ``sniff``
    (protocol sniffing, Istio >= 1.3) is on."""
    app = str(port.get("appProtocol") or "").lower()
    if app in _HTTP_APP_PROTOCOLS:
        return True
    if app in _OPAQUE:
        return False
    name = str(port.get("name") or "").lower()
    proto = name.split("-", 1)[0]
    if proto in ("http", "http2") or name.startswith("grpc"):
        return True
    return sniff and proto not in _OPAQUE


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _pod_workload(pod: KObject) -> str:
    labels = pod.labels
    for ref in as_list(pod.metadata.get("ownerReferences")):
        if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
            continue
        name = ref["name"]
        if ref.get("kind") == "ReplicaSet":
            digest = labels.get("pod-template-hash")
            if digest and name.endswith("-" + digest):
                return name[: -len(digest) - 1]
            return name.rsplit("-", 1)[0]
        return name
    app, version = labels.get("app"), labels.get("version")
    if app:
        return f"{app}-{version}" if version else app
    return pod.name


def _pod_ready(pod: KObject) -> bool:
    if pod.metadata.get("deletionTimestamp"):
        return False
    status = pod.raw.get("status")
    if not isinstance(status, Mapping):
        return True
    if status.get("phase") in ("Pending", "Failed", "Succeeded"):
        return False
    for cond in as_list(status.get("conditions")):
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            return str(cond.get("status")) != "False"
    return True


def _exported_to(obj: KObject, namespace: str) -> bool:
    export = obj.spec.get("exportTo")
    if not isinstance(export, list) or not export:
        return True
    return any(e == "*" or e == namespace or (e == "." and obj.namespace == namespace)
               for e in map(str, export))


class Inventory:
    """Services, ServiceEntries, ready pods and DestinationRules of one cluster state."""

    def __init__(self, objects: Iterable[KObject]) -> None:
        self.services: dict[str, KObject] = {}
        self._by_ip: dict[str, KObject] = {}
        self._entries: list[tuple[str, KObject]] = []
        self._drs: list[tuple[str, KObject]] = []
        self._dr_index: tuple[dict[str, list[tuple[str, KObject]]],
                              list[tuple[str, KObject]]] | None = None
        self.pods: dict[str, list[PodGroup]] = defaultdict(list)
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self._svc_keys: set[tuple[str, str]] = set()
        self._ep_cache: dict[tuple[Any, ...], list[PodGroup]] = {}
        objs = list(objects)
        workloads: list[KObject] = []
        pod_groups: dict[tuple[str, str], list[PodGroup]] = defaultdict(list)
        for obj in objs:
            if obj.kind == "Service":
                self._svc_keys.add((obj.namespace, obj.name))
                self.services[svc_fqdn(obj.name, obj.namespace)] = obj
                ip = obj.spec.get("clusterIP")
                if isinstance(ip, str) and is_ip(ip):
                    self._by_ip[ip] = obj
            elif obj.kind == "Namespace":
                self.namespace_labels[obj.name] = obj.labels
            elif obj.kind in WORKLOAD_KINDS:
                workloads.append(obj)
            elif obj.kind == "Pod":
                group = PodGroup(obj.namespace, _pod_workload(obj), obj.labels,
                                 1 if _pod_ready(obj) else 0)
                pod_groups[(obj.namespace, group.workload)].append(group)
        for obj in objs:  # canonical hosts need every Service known first
            if obj.kind == "ServiceEntry":
                for host in as_list(obj.spec.get("hosts")):
                    self._entries.append((self.canonical(str(host), obj.namespace), obj))
            elif obj.kind == "DestinationRule" and isinstance(obj.spec.get("host"), str):
                self._drs.append((self.canonical(obj.spec["host"], obj.namespace), obj))
        for obj in workloads:  # a workload given as Pods (cluster mode) is not counted twice
            if (obj.namespace, obj.name) in pod_groups:
                continue
            template = obj.spec.get("template")
            meta = template.get("metadata") if isinstance(template, Mapping) else None
            labels = str_map(meta.get("labels")) if isinstance(meta, Mapping) else {}
            replicas = 1 if obj.kind == "DaemonSet" else _int(obj.spec.get("replicas"), 1)
            self.pods[obj.namespace].append(PodGroup(obj.namespace, obj.name, labels, replicas))
        for (ns, _), groups in pod_groups.items():
            self.pods[ns].extend(groups)

    # -- hosts ------------------------------------------------------------------------------

    def canonical(self, host: str, namespace: str) -> str:
        """Istio host name: short names are expanded in ``namespace``; ``name.ns`` and
        ``name.ns.svc`` when they name a Service; anything else is kept (lowercase)."""
        name = split_host(host)[0] if ":" in host else host.strip().lower().rstrip(".")
        if not name or "*" in name or is_ip(name):
            return name
        parts = name.split(".")
        if len(parts) == 1:
            return svc_fqdn(name, namespace)
        if len(parts) == 2 and (parts[1], parts[0]) in self._svc_keys:
            return svc_fqdn(parts[0], parts[1])
        if len(parts) == 3 and parts[2] == "svc":
            return svc_fqdn(parts[0], parts[1])
        return name

    def service_for_host(self, host: str, namespace: str) -> KObject | None:
        name = split_host(host)[0]
        if is_ip(name):
            return self._by_ip.get(name)
        return self.services.get(self.canonical(name, namespace))

    def resolve(self, host: str, namespace: str) -> Backend | None:
        """A destination or request host: a Service first, then a ServiceEntry."""
        svc = self.service_for_host(host, namespace)
        if svc is not None:
            external = svc.spec.get("type") == "ExternalName"
            return Backend(svc_fqdn(svc.name, svc.namespace), svc, external)
        fqdn = self.canonical(host, namespace)
        best: tuple[int, KObject] | None = None
        for pattern, entry in self._entries:
            if host_matches(pattern, fqdn):
                score = specificity(pattern)
                if best is None or score > best[0]:
                    best = (score, entry)
        return Backend(fqdn, best[1], True) if best else None

    # -- subsets ----------------------------------------------------------------------------

    def subset(self, fqdn: str, service_ns: str, client_ns: str, name: str) -> SubsetLookup:
        """Look the subset up in the DestinationRules for ``fqdn`` that the client sees: the
        client's namespace first, then the service's, the root namespace, then any other;
        within a namespace the most specific host wins and rules for it are merged."""
        if self._dr_index is None:
            exact: dict[str, list[tuple[str, KObject]]] = defaultdict(list)
            wild: list[tuple[str, KObject]] = []
            for p, dr in self._drs:
                (wild if "*" in p else exact[p]).append((p, dr))
            self._dr_index = (exact, wild)
        exact, wild = self._dr_index
        visible = [(p, dr) for p, dr in [*exact.get(fqdn, ()), *wild]
                   if host_matches(p, fqdn) and _exported_to(dr, client_ns)]
        if not visible:
            return SubsetLookup(None, None)
        for tier in (client_ns, service_ns, ROOT_NAMESPACE, None):
            rules = [(p, dr) for p, dr in visible if tier is None or dr.namespace == tier]
            if not rules:
                continue
            top = best_match([p for p, _ in rules], fqdn)
            chosen = [dr for p, dr in rules if specificity(p) == top]
            for dr in chosen:
                for i, sub in enumerate(as_list(dr.spec.get("subsets"))):
                    if isinstance(sub, Mapping) and str(sub.get("name")) == name:
                        return SubsetLookup(str_map(sub.get("labels")), dr, f"spec.subsets[{i}]")
            return SubsetLookup(None, chosen[0], "spec.subsets")
        return SubsetLookup(None, None)

    # -- endpoints --------------------------------------------------------------------------

    def endpoints(self, svc: KObject, extra: Mapping[str, str] | None = None) -> list[PodGroup]:
        """Ready pods selected by the Service selector and the (subset) labels ``extra``."""
        key = (svc.namespace, svc.name, tuple(sorted((extra or {}).items())))
        cached = self._ep_cache.get(key)
        if cached is None:
            selector = str_map(svc.spec.get("selector"))
            cached = [g for g in self.pods.get(svc.namespace, ())
                      if g.count > 0 and selects(selector, g.labels)
                      and all(g.labels.get(k) == v for k, v in (extra or {}).items())]
            self._ep_cache[key] = cached
        return cached

    def pods_matching(self, labels: Mapping[str, str]) -> list[PodGroup]:
        """Ready pods in any namespace carrying all of ``labels``."""
        return [g for groups in self.pods.values() for g in groups
                if g.count > 0 and selects(labels, g.labels)]


def spread(acc: Acc, svc: KObject, pods: list[PodGroup], share: float) -> None:
    """Spread ``share`` evenly over the pods (replicas), grouped by workload and version."""
    total = sum(g.count for g in pods)
    for g in pods:
        acc.add(Target(200, svc.namespace, svc.name, g.workload, g.labels.get("version")),
                share * g.count / total)
