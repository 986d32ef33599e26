"""Istio's visibility and naming rules, in one place. The static checks, the routing model and
the lab's Envoy translation all ask one :class:`Mesh`, built once per cluster state.

- Hosts: a short name expands in the referring object's namespace; ``name.ns`` and
  ``name.ns.svc`` expand when they name a Service; FQDNs and cluster IPs; wildcards
  (``*.example.com``, ``*``) match as Envoy does, and two wildcards overlap as in istioctl.
- ``exportTo`` of VirtualServices, DestinationRules and ServiceEntries (``spec.exportTo``)
  and of Services (annotation ``networking.istio.io/exportTo``, comma-separated): ``*`` every
  namespace, ``.`` the object's own, ``~`` none, else the namespaces named; unset: every
  namespace (the mesh defaults).
- DestinationRules: looked up in the client's namespace, then the Service's, then the root
  namespace (istio-system), each only among rules exported to the client; within a
  namespace the most specific host wins and rules for it are merged.
- ServiceEntries: hosts (wildcards too) visible to the client; the most specific wins.
- Gateways: references ``name``, ``ns/name``, ``./name``, the legacy ``name.ns.svc...`` and
  ``mesh``, to Istio Gateways or Gateway API Gateways; server hosts ``host``, ``ns/host``,
  ``./host`` (the Gateway's namespace) and ``*/host`` open to VirtualServices of those
  namespaces.
- Ingress pods: those carrying the configured labels and every ingress gateway install told
  by its labels (:mod:`meshgrade.submission.installs`), from the baseline, the submission
  or the cluster.
- Pod labels: Istio adds ``topology.kubernetes.io/region`` and ``zone``,
  ``topology.istio.io/subzone`` (from the node, or the pod's ``istio-locality`` label),
  ``kubernetes.io/hostname`` (the node), ``topology.istio.io/cluster`` and ``network``. A pod
  whose node is unknown (a Deployment template without nodeName or nodeSelector) may carry
  any value of the node's labels: a selector on them is given the benefit of the doubt.
- Service port names are not judged in the system namespaces istioctl analyze skips.
- Service port protocols: :mod:`.protocols` (a port that names none is detected).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..submission import installs
from ..submission.kinds import GATEWAY_API_GROUP, WORKLOAD_KINDS
from ..submission.objects import KObject, as_list, selects, str_map
from . import protocols

CLUSTER_DOMAIN = "cluster.local"
ROOT_NAMESPACE = "istio-system"
CLUSTER_ID = "Kubernetes"  # Istio's default cluster ID
EXPORT_ANNOTATION = "networking.istio.io/exportTo"
DEFAULT_INGRESS_LABELS: Mapping[str, str] = MappingProxyType({"istio": "ingressgateway"})
#: Services here are not judged for port names (istioctl analyze skips them).
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease",
                               "local-path-storage", ROOT_NAMESPACE})
REGION, ZONE = "topology.kubernetes.io/region", "topology.kubernetes.io/zone"
SUBZONE, HOSTNAME = "topology.istio.io/subzone", "kubernetes.io/hostname"
CLUSTER, NETWORK = "topology.istio.io/cluster", "topology.istio.io/network"
LOCALITY = "istio-locality"  # pod label overriding the node's region.zone.subzone
#: Labels Istio takes from the pod's node.
NODE_LABELS = (REGION, ZONE, SUBZONE, HOSTNAME)


# -- host names -------------------------------------------------------------------------------

def split_host(host: str) -> tuple[str, int | None]:
    """``"Reviews:9080"`` -> ``("reviews", 9080)``; IPv6 literals in brackets are kept whole."""
    text = (host or "").strip().lower()
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        return addr, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        name, _, tail = text.partition(":")
        return name.rstrip("."), int(tail) if tail.isdigit() else None
    return text.rstrip("."), None


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def svc_fqdn(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


def expand(host: str, namespace: str, services: set[tuple[str, str]] | None = None) -> str:
    """Istio's name for a host written in ``namespace``: short names expand there,
    ``name.ns.svc`` always and ``name.ns`` when (ns, name) is in ``services`` (or, without
    ``services``, always); anything else is kept (lowercase, without a port)."""
    name = split_host(host)[0]
    if not name or "*" in name or is_ip(name):
        return name
    parts = name.split(".")
    if len(parts) == 1:
        return svc_fqdn(name, namespace)
    if len(parts) == 2 and (services is None or (parts[1], parts[0]) in services):
        return svc_fqdn(parts[0], parts[1])
    if len(parts) == 3 and parts[2] == "svc":
        return svc_fqdn(parts[0], parts[1])
    return name


def host_matches(pattern: str, host: str) -> bool:
    """Envoy-style domain match: ``*``, ``*.example.com`` (at least one label char) or exact."""
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        suffix = pattern[1:]
        return host.endswith(suffix) and len(host) > len(suffix)
    return pattern == host


def hosts_overlap(a: str, b: str) -> bool:
    """Whether two host patterns share a host (istioctl's ``Name.Matches``): ``*.d`` and
    ``*.productpage.d`` do, ``*.d`` and ``d`` do not."""
    if a.startswith("*") and b.startswith("*"):
        return a[1:].endswith(b[1:]) or b[1:].endswith(a[1:])
    if a.startswith("*"):
        return b.endswith(a[1:])
    if b.startswith("*"):
        return a.endswith(b[1:])
    return a == b


def specificity(pattern: str) -> int:
    """Higher is more specific: exact names beat wildcards, longer wildcards beat shorter."""
    if pattern == "*":
        return 0
    if pattern.startswith("*"):
        return len(pattern)
    return 1_000_000 + len(pattern)


def best_match(patterns: Iterable[str], host: str) -> int | None:
    """Specificity of the most specific pattern matching ``host``, or None."""
    scores = [specificity(p) for p in patterns if host_matches(p, host)]
    return max(scores) if scores else None


def gateway_ref(ref: str, namespace: str) -> str:
    """``mesh``, or ``ns/name`` for a gateway reference written in ``namespace``: ``name``,
    ``ns/name``, ``./name`` or the legacy ``name.ns.svc.cluster.local``."""
    ref = ref.strip()
    if ref == "mesh":
        return ref
    if "/" in ref:
        ns, _, name = ref.partition("/")
        return f"{namespace if ns == '.' else ns}/{name}"
    parts = ref.split(".")
    return f"{parts[1]}/{parts[0]}" if len(parts) > 1 else f"{namespace}/{ref}"


def server_host(entry: str, gateway_namespace: str) -> tuple[str, str]:
    """(namespace whose VirtualServices it takes, ``*`` for any; host pattern) of a Gateway
    server host ``host``, ``*/host``, ``./host`` or ``ns/host``."""
    scope, _, host = str(entry).rpartition("/")
    scope = gateway_namespace if scope == "." else scope or "*"
    return scope, host.lower()


# -- visibility -------------------------------------------------------------------------------

def export_targets(obj: KObject) -> frozenset[str] | None:
    """Namespaces ``obj`` is exported to; None for every namespace."""
    if obj.kind == "Service":
        note = obj.metadata.get("annotations")
        text = note.get(EXPORT_ANNOTATION) if isinstance(note, Mapping) else None
        given = [p.strip() for p in str(text).split(",")] if text else []
    else:
        given = [str(e).strip() for e in as_list(obj.spec.get("exportTo"))]
    given = [g for g in given if g]
    if not given or "*" in given:
        return None
    return frozenset(obj.namespace if g == "." else g for g in given if g != "~")


def exported(obj: KObject, namespace: str) -> bool:
    """Whether clients in ``namespace`` see ``obj``."""
    targets = export_targets(obj)
    return targets is None or namespace in targets


def share_clients(a: KObject, b: KObject) -> bool:
    """Whether some namespace sees both objects."""
    ta, tb = export_targets(a), export_targets(b)
    if ta is None:
        return tb is None or bool(tb)
    return bool(ta) if tb is None else bool(ta & tb)


def port_name_exempt(namespace: str) -> bool:
    """Whether istioctl analyze leaves the port names of this namespace's Services alone."""
    return namespace in SYSTEM_NAMESPACES


def is_http_port(port: Mapping[str, Any], sniff: bool = False) -> bool:
    """Whether HTTP requests to this Service port take a sidecar's HTTP routes: its protocol
    (``appProtocol``, else the name's prefix, see :mod:`.protocols`) is HTTP, HTTP/2 or gRPC,
    or, with ``sniff`` (Istio's protocol detection), it names no protocol."""
    return protocols.routes_http(protocols.sidecar_protocol(port, sniff))


# -- pods -------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class PodGroup:
    """Pods of one workload that share labels (``count`` ready replicas). ``labels`` include
    those Istio adds; ``unknown`` names node labels that may hold any value (node unknown)."""

    namespace: str
    workload: str
    labels: Mapping[str, str]
    count: int
    unknown: frozenset[str] = frozenset()
    ingress: bool = False
    added: frozenset[str] = frozenset()

    @property
    def own_labels(self) -> dict[str, str]:
        """The labels without those Istio adds."""
        return {k: v for k, v in self.labels.items() if k not in self.added}


def selects_pod(wanted: Mapping[str, str], pod: PodGroup) -> bool:
    """Whether pods with these labels match all of ``wanted`` (an unknown node label may)."""
    return all(pod.labels.get(k) == v or (k not in pod.labels and k in pod.unknown)
               for k, v in wanted.items())


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _pod_workload(pod: KObject) -> str:
    labels = pod.labels
    for ref in as_list(pod.metadata.get("ownerReferences")):
        if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
            continue
        name = str(ref["name"])
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


# -- the resolver -----------------------------------------------------------------------------

class Mesh:
    """Services, ServiceEntries, DestinationRules, Gateways, pods and nodes of one cluster
    state (later objects of one kind, namespace and name win), and Istio's rules over them.
    ``ingress_labels`` name the ingress gateway pods, besides the installs found by labels."""

    def __init__(self, objects: Iterable[KObject], *,
                 ingress_labels: Mapping[str, str] = DEFAULT_INGRESS_LABELS,
                 root_namespace: str = ROOT_NAMESPACE) -> None:
        latest: dict[tuple[str, str, str], KObject] = {}
        for obj in objects:
            if obj.kind and obj.name:
                latest[obj.key] = obj
        objs = list(latest.values())
        self.root_namespace = root_namespace
        self.configured_ingress = dict(ingress_labels)
        self.services: dict[str, KObject] = {}
        self.gateways: dict[tuple[str, str], KObject] = {}
        self.gateway_api: dict[tuple[str, str], KObject] = {}
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.nodes: dict[str, dict[str, str]] = {}
        self.pods: dict[str, list[PodGroup]] = defaultdict(list)
        self._by_ip: dict[str, KObject] = {}
        self._svc_keys: set[tuple[str, str]] = set()
        self._entries: list[tuple[str, KObject]] = []
        self._drs: list[tuple[str, KObject]] = []
        self._dr_exact: dict[str, list[tuple[str, KObject]]] = defaultdict(list)
        self._dr_wild: list[tuple[str, KObject]] = []
        self._ep_cache: dict[tuple[Any, ...], list[PodGroup]] = {}
        for obj in objs:
            if obj.kind == "Service":
                self._svc_keys.add((obj.namespace, obj.name))
                self.services[svc_fqdn(obj.name, obj.namespace)] = obj
                ip = obj.spec.get("clusterIP")
                if isinstance(ip, str) and is_ip(ip):
                    self._by_ip[ip] = obj
            elif obj.kind == "Namespace":
                self.namespace_labels[obj.name] = obj.labels
            elif obj.kind == "Node":
                self.nodes[obj.name] = obj.labels
            elif obj.kind == "Gateway":
                table = self.gateway_api if obj.group == GATEWAY_API_GROUP else self.gateways
                table[(obj.namespace, obj.name)] = obj
        for obj in objs:  # canonical hosts need every Service known first
            if obj.kind == "ServiceEntry":
                for host in as_list(obj.spec.get("hosts")):
                    self._entries.append((self.canonical(str(host), obj.namespace), obj))
            elif obj.kind == "DestinationRule" and isinstance(obj.spec.get("host"), str):
                pattern = self.canonical(obj.spec["host"], obj.namespace)
                self._drs.append((pattern, obj))
                if "*" in pattern:
                    self._dr_wild.append((pattern, obj))
                else:
                    self._dr_exact[pattern].append((pattern, obj))
        self._add_pods(objs)
        ingress = [g for groups in self.pods.values() for g in groups if g.ingress]
        configured = [g for g in ingress if selects(self.configured_ingress, g.labels)]
        self.ingress = configured + [g for g in ingress if g not in configured]

    def _add_pods(self, objs: list[KObject]) -> None:
        """Pod groups from Pods (cluster mode) and from workload templates not given as Pods."""
        from_pods: dict[tuple[str, str], list[PodGroup]] = defaultdict(list)
        for obj in objs:
            if obj.kind == "Pod":
                group = self._group(obj, _pod_workload(obj), obj.labels,
                                    1 if _pod_ready(obj) else 0, obj.spec.get("nodeName"),
                                    obj.spec.get("nodeSelector"))
                from_pods[(obj.namespace, group.workload)].append(group)
        for obj in objs:
            if obj.kind not in WORKLOAD_KINDS or (obj.namespace, obj.name) in from_pods:
                continue
            template = obj.spec.get("template")
            meta = template.get("metadata") if isinstance(template, Mapping) else None
            given = template.get("spec") if isinstance(template, Mapping) else None
            spec: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
            labels = str_map(meta.get("labels")) if isinstance(meta, Mapping) else {}
            replicas = 1 if obj.kind == "DaemonSet" else _int(obj.spec.get("replicas"), 1)
            self.pods[obj.namespace].append(self._group(
                obj, obj.name, labels, replicas, spec.get("nodeName"), spec.get("nodeSelector")))
        for (ns, _), groups in from_pods.items():
            self.pods[ns].extend(groups)

    def _group(self, obj: KObject, workload: str, labels: Mapping[str, str], count: int,
               node: Any, node_selector: Any) -> PodGroup:
        full, unknown = self.pod_labels(obj.namespace, labels, node, node_selector)
        ingress = selects(self.configured_ingress, labels) or installs.ingress_form(obj) == "istio"
        added = frozenset(k for k, v in full.items() if labels.get(k) != v)
        return PodGroup(obj.namespace, workload, full, count, unknown, ingress, added)

    # -- pods ---------------------------------------------------------------------------------

    def pod_labels(self, namespace: str, labels: Mapping[str, str], node: Any = None,
                   node_selector: Any = None) -> tuple[dict[str, str], frozenset[str]]:
        """A pod's labels with those Istio adds, and the node labels left unknown."""
        out = dict(labels)
        node_labels = self.nodes.get(node) if isinstance(node, str) else None
        if node_labels is not None:
            given = {k: v for k, v in node_labels.items() if k in NODE_LABELS}
        else:
            given = {k: v for k, v in str_map(node_selector).items() if k in NODE_LABELS}
        if isinstance(node, str) and node:
            given[HOSTNAME] = node
        locality = labels.get(LOCALITY)
        if locality:
            given.update(zip((REGION, ZONE, SUBZONE),
                             (p for p in locality.split(".") if p), strict=False))
        out.update(given)
        out[CLUSTER] = CLUSTER_ID
        network = self.namespace_labels.get(namespace, {}).get(NETWORK)
        if network:
            out.setdefault(NETWORK, network)
        unknown = frozenset() if node_labels is not None else frozenset(
            k for k in NODE_LABELS if k not in out)
        return out, unknown

    def endpoints(self, svc: KObject, extra: Mapping[str, str] | None = None, *,
                  ready: bool = True) -> list[PodGroup]:
        """Pods the Service selector and the (subset) labels ``extra`` select; only those
        with ready replicas unless ``ready`` is False."""
        key = (svc.namespace, svc.name, tuple(sorted((extra or {}).items())), ready)
        cached = self._ep_cache.get(key)
        if cached is None:
            selector = str_map(svc.spec.get("selector"))
            cached = [g for g in self.pods.get(svc.namespace, ())
                      if (g.count > 0 or not ready) and selects(selector, g.labels)
                      and selects_pod(extra or {}, g)]
            self._ep_cache[key] = cached
        return cached

    def workload(self, namespace: str, name: str) -> PodGroup | None:
        """The (first) pod group of a workload."""
        return next((g for g in self.pods.get(namespace, ()) if g.workload == name), None)

    # -- hosts --------------------------------------------------------------------------------

    @staticmethod
    def visible(obj: KObject, namespace: str) -> bool:
        """Whether clients in ``namespace`` see ``obj`` (its exportTo)."""
        return exported(obj, namespace)

    def canonical(self, host: str, namespace: str) -> str:
        """Istio's name for a host written in ``namespace`` (see :func:`expand`)."""
        return expand(host, namespace, self._svc_keys)

    def service(self, host: str, namespace: str, client_ns: str | None = None
                ) -> KObject | None:
        """The Service a host written in ``namespace`` names (short, ``name.ns``,
        ``name.ns.svc``, FQDN or cluster IP), if clients in ``client_ns`` (by default
        ``namespace``) see it."""
        name = split_host(host)[0]
        svc = self._by_ip.get(name) if is_ip(name) else self.services.get(
            self.canonical(name, namespace))
        return svc if svc is not None and exported(svc, client_ns or namespace) else None

    def service_entry(self, fqdn: str, client_ns: str | None) -> KObject | None:
        """The ServiceEntry visible from ``client_ns`` (None: seen or not) whose most
        specific host matches."""
        best: tuple[int, KObject] | None = None
        for pattern, entry in self._entries:
            if host_matches(pattern, fqdn) and (client_ns is None or exported(entry, client_ns)):
                score = specificity(pattern)
                if best is None or score > best[0]:
                    best = (score, entry)
        return best[1] if best else None

    def resolve(self, host: str, namespace: str, client_ns: str | None = None
                ) -> Backend | None:
        """A destination or request host written in ``namespace`` as clients in
        ``client_ns`` see it: a Service first, then a ServiceEntry."""
        client = client_ns or namespace
        svc = self.service(host, namespace, client)
        if svc is not None:
            external = svc.spec.get("type") == "ExternalName"
            return Backend(svc_fqdn(svc.name, svc.namespace), svc, external)
        fqdn = self.canonical(host, namespace)
        entry = self.service_entry(fqdn, client)
        return Backend(fqdn, entry, True) if entry is not None else None

    def hidden(self, host: str, namespace: str, client_ns: str) -> KObject | None:
        """The Service or ServiceEntry a host written in ``namespace`` names that clients in
        ``client_ns`` do not see (exportTo), or None."""
        if self.resolve(host, namespace, client_ns) is not None:
            return None
        name = split_host(host)[0]
        svc = self._by_ip.get(name) if is_ip(name) else self.services.get(
            self.canonical(name, namespace))
        return svc or self.service_entry(self.canonical(host, namespace), None)

    def services_named(self, name: str) -> list[KObject]:
        return [s for s in self.services.values() if s.name == name]

    # -- destination rules --------------------------------------------------------------------

    def rules_for(self, fqdn: str) -> list[KObject]:
        """Every DestinationRule whose host matches ``fqdn``, seen or not."""
        return [dr for p, dr in [*self._dr_exact.get(fqdn, ()), *self._dr_wild]
                if host_matches(p, fqdn)]

    def destination_rules(self, fqdn: str, service_ns: str, client_ns: str) -> list[KObject]:
        """The DestinationRules that apply to ``fqdn`` for clients in ``client_ns``: the first
        namespace of client, Service, root with a rule exported to the client; there, the
        rules with the most specific host."""
        visible = [(p, dr) for p, dr in [*self._dr_exact.get(fqdn, ()), *self._dr_wild]
                   if host_matches(p, fqdn) and exported(dr, client_ns)]
        for tier in dict.fromkeys((client_ns, service_ns, self.root_namespace)):
            rules = [(p, dr) for p, dr in visible if dr.namespace == tier]
            if rules:
                top = best_match([p for p, _ in rules], fqdn)
                return [dr for p, dr in rules if specificity(p) == top]
        return []

    def subset(self, fqdn: str, service_ns: str, client_ns: str, name: str) -> SubsetLookup:
        """The labels of subset ``name`` in the DestinationRules that apply (see above)."""
        chosen = self.destination_rules(fqdn, service_ns, client_ns)
        for dr in chosen:
            for i, sub in enumerate(as_list(dr.spec.get("subsets"))):
                if isinstance(sub, Mapping) and str(sub.get("name")) == name:
                    return SubsetLookup(str_map(sub.get("labels")), dr, f"spec.subsets[{i}]")
        return SubsetLookup(None, chosen[0] if chosen else None, "spec.subsets")

    # -- gateways and ingress -----------------------------------------------------------------

    def gateway(self, ref: str, namespace: str) -> KObject | None:
        """The Istio Gateway, else the Gateway API Gateway, a reference written in
        ``namespace`` names (None for ``mesh``)."""
        key = gateway_ref(ref, namespace)
        if key == "mesh":
            return None
        ns, _, name = key.partition("/")
        return self.gateways.get((ns, name)) or self.gateway_api.get((ns, name))

    def gateway_hosts(self, gw: KObject, vs_namespace: str) -> list[str]:
        """Host patterns a Gateway takes from VirtualServices of ``vs_namespace``: its
        servers' hosts (Istio) or listeners' hostnames (Gateway API, none is ``*``)."""
        if gw.group == GATEWAY_API_GROUP:
            return [str(ln.get("hostname") or "*").lower()
                    for ln in as_list(gw.spec.get("listeners")) if isinstance(ln, Mapping)]
        out = []
        for server in as_list(gw.spec.get("servers")):
            for entry in as_list(server.get("hosts") if isinstance(server, Mapping) else None):
                scope, host = server_host(entry, gw.namespace)
                if scope in ("*", vs_namespace):
                    out.append(host)
        return out

    def gateway_accepts(self, gw: KObject, host: str, vs_namespace: str) -> bool:
        """Whether a VirtualService host written in ``vs_namespace`` fits the Gateway."""
        name = self.canonical(host, vs_namespace)
        return any(hosts_overlap(p, name) for p in self.gateway_hosts(gw, vs_namespace))

    def ingress_labels(self) -> list[Mapping[str, str]]:
        """Labels of the ingress pods (the configured ones if there are none)."""
        return [g.own_labels for g in self.ingress] or [self.configured_ingress]

    @property
    def ingress_namespace(self) -> str:
        return self.ingress[0].namespace if self.ingress else self.root_namespace

    def selects_ingress(self, gw: KObject) -> bool:
        """Whether a Gateway runs on an ingress: a Gateway API Gateway has its own pods; an
        Istio Gateway's selector must select ingress pods (no selector: every one)."""
        if gw.group == GATEWAY_API_GROUP:
            return True
        selector = str_map(gw.spec.get("selector"))
        return not selector or any(selects(selector, labels) for labels in self.ingress_labels())

    def gateway_namespaces(self, gw: KObject) -> list[str]:
        """Namespaces of the proxies that serve a Gateway (their DestinationRules,
        ServiceEntries and exportTo apply at it)."""
        if gw.group == GATEWAY_API_GROUP:
            return [gw.namespace]
        selector = str_map(gw.spec.get("selector"))
        found = [g.namespace for g in self.ingress if not selector or selects(selector, g.labels)]
        return list(dict.fromkeys(found)) or [self.ingress_namespace]

    def clients(self, vs: KObject) -> list[str]:
        """Namespaces of the proxies that apply a VirtualService: its own for the mesh (the
        usual callers), those of the ingress pods of the Gateways it is bound to."""
        refs = [str(g) for g in as_list(vs.spec.get("gateways"))]
        out = [vs.namespace] if not refs or "mesh" in refs else []
        for ref in refs:
            gw = self.gateway(ref, vs.namespace)
            if gw is not None and self.selects_ingress(gw):
                out += self.gateway_namespaces(gw)
        return list(dict.fromkeys(out))
