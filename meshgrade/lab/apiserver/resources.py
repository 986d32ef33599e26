"""The resource kinds the lab API server serves, and CRD manifests for the custom ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
ISTIO = "networking.istio.io"
GATEWAY_API = "gateway.networking.k8s.io"
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
GATEWAY_VERSIONS = ("v1", "v1beta1")
ISTIO_CATEGORIES = ("istio-io", "networking-istio-io")


def column(name: str, json_path: str, type_: str = "string", description: str = "",
           priority: int = 0) -> dict[str, Any]:
    """An additionalPrinterColumns entry as a CRD writes it."""
    col: dict[str, Any] = {"name": name, "type": type_, "jsonPath": json_path}
    if description:
        col["description"] = description
    if priority:
        col["priority"] = priority
    return col


AGE = column("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class Resource:
    """One served resource: a kind of one group, served at every version in `versions`."""

    group: str
    versions: tuple[str, ...]  # served; the first is the preferred (storage) version
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    writable: bool = False  # the lab takes writes (all kinds it runs, not only routing)
    status: bool = True  # has a status subresource
    columns: tuple[dict[str, Any], ...] = field(default=())  # printer columns (custom kinds)
    custom: bool = False  # defined by a CustomResourceDefinition
    unsupported: str = ""  # served only to say the lab does not support this

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def verbs(self) -> tuple[str, ...]:
        return WRITE_VERBS if self.writable else READ_VERBS

    @property
    def routing(self) -> bool:
        """A routing kind: the only writes an API server in "routing" mode takes."""
        return self.writable and self.custom and self.kind != "Sidecar"

    @property
    def qualified(self) -> str:
        """`plural.group` as error messages name it (just `plural` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        version = version or self.versions[0]
        return f"{self.group}/{version}" if self.group else version


def _istio(kind: str, plural: str, short: tuple[str, ...], columns: tuple[dict[str, Any], ...]
           ) -> Resource:
    return Resource(ISTIO, ISTIO_VERSIONS, kind, plural, short_names=short,
                    categories=ISTIO_CATEGORIES, writable=True, columns=columns, custom=True)


def _gwapi(kind: str, plural: str, short: tuple[str, ...], columns: tuple[dict[str, Any], ...],
           namespaced: bool = True, writable: bool = True) -> Resource:
    return Resource(GATEWAY_API, GATEWAY_VERSIONS, kind, plural, namespaced=namespaced,
                    short_names=short, categories=("gateway-api",), writable=writable,
                    columns=columns, custom=True)


_CONDITION = '.status.conditions[?(@.type=="{}")].status'

REGISTRY: tuple[Resource, ...] = (
    Resource("", ("v1",), "Pod", "pods", short_names=("po",), categories=("all",),
             writable=True),
    Resource("", ("v1",), "Service", "services", short_names=("svc",), categories=("all",),
             writable=True),
    Resource("", ("v1",), "Namespace", "namespaces", namespaced=False, short_names=("ns",),
             writable=True),
    Resource("", ("v1",), "ConfigMap", "configmaps", short_names=("cm",), status=False,
             writable=True),
    Resource("", ("v1",), "Secret", "secrets", status=False, writable=True),
    Resource("", ("v1",), "ServiceAccount", "serviceaccounts", short_names=("sa",),
             status=False, writable=True),
    Resource("", ("v1",), "Endpoints", "endpoints", short_names=("ep",), status=False),
    Resource("", ("v1",), "Event", "events", short_names=("ev",), status=False),
    Resource("", ("v1",), "Node", "nodes", namespaced=False, short_names=("no",)),
    Resource("apps", ("v1",), "Deployment", "deployments", short_names=("deploy",),
             categories=("all",), writable=True),
    Resource("apps", ("v1",), "ReplicaSet", "replicasets", short_names=("rs",),
             categories=("all",)),
    Resource("apiextensions.k8s.io", ("v1",), "CustomResourceDefinition",
             "customresourcedefinitions", namespaced=False, short_names=("crd", "crds"),
             categories=("api-extensions",), writable=True),
    _istio("VirtualService", "virtualservices", ("vs",), (
        column("Gateways", ".spec.gateways", description="The names of gateways and sidecars "
               "that should apply these routes"),
        column("Hosts", ".spec.hosts", description="The destination hosts to which traffic is "
               "being sent"), AGE)),
    _istio("DestinationRule", "destinationrules", ("dr",), (
        column("Host", ".spec.host", description="The name of a service from the service "
               "registry"), AGE)),
    _istio("Gateway", "gateways", ("gw",), ()),
    _istio("ServiceEntry", "serviceentries", ("se",), (
        column("Hosts", ".spec.hosts", description="The hosts associated with the ServiceEntry"),
        column("Location", ".spec.location", description="Whether the service is external to "
               "the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)"),
        column("Resolution", ".spec.resolution", description="Service resolution mode for the "
               "hosts (NONE, STATIC, or DNS)"), AGE)),
    _istio("Sidecar", "sidecars", (), ()),
    _gwapi("GatewayClass", "gatewayclasses", ("gc",), (
        column("Controller", ".spec.controllerName"),
        column("Accepted", _CONDITION.format("Accepted")), AGE,
        column("Description", ".spec.description", priority=1)), namespaced=False,
           writable=False),
    _gwapi("Gateway", "gateways", ("gtw",), (
        column("Class", ".spec.gatewayClassName"),
        column("Address", ".status.addresses[*].value"),
        column("Programmed", _CONDITION.format("Programmed")), AGE)),
    _gwapi("HTTPRoute", "httproutes", (), (column("Hostnames", ".spec.hostnames"), AGE)),
    *(Resource("metrics.k8s.io", ("v1beta1",), kind, plural, namespaced=kind == "PodMetrics",
               status=False, unsupported="kubectl top (it runs no metrics-server)")
      for kind, plural in (("PodMetrics", "pods"), ("NodeMetrics", "nodes"))),
    *(Resource(group, ("v1",), kind, plural, short_names=short, status=False,
               unsupported=f"{plural} (its pods come from Deployments or bare Pods)")
      for group, kind, plural, short in (
          ("apps", "StatefulSet", "statefulsets", ("sts",)),
          ("apps", "DaemonSet", "daemonsets", ("ds",)), ("batch", "Job", "jobs", ()),
          ("batch", "CronJob", "cronjobs", ("cj",)),
          ("networking.k8s.io", "Ingress", "ingresses", ("ing",)))),
)


def groups() -> dict[str, tuple[str, ...]]:
    """Served versions per group ('' is core): built-in groups first, then custom groups by
    name, as an apiserver orders them (this decides what `kubectl get gateways` means)."""
    ordered = sorted(REGISTRY, key=lambda r: (r.custom, r.group if r.custom else ""))
    out: dict[str, tuple[str, ...]] = {}
    for res in ordered:
        out.setdefault(res.group, res.versions)
    return out


def in_version(group: str, version: str) -> list[Resource]:
    """Resources served at group/version."""
    return [r for r in REGISTRY if r.group == group and version in r.versions]


def by_plural(group: str, version: str, plural: str) -> Resource | None:
    return next((r for r in in_version(group, version) if r.plural == plural), None)


def by_kind(group: str, kind: str) -> Resource | None:
    return next((r for r in REGISTRY if r.group == group and r.kind == kind), None)


def routing_kinds() -> list[str]:
    """Kinds an API server in "routing" mode takes writes for."""
    return sorted({r.kind for r in REGISTRY if r.routing})


def crd_manifest(res: Resource) -> dict[str, Any]:
    """A CustomResourceDefinition for a custom kind, with a permissive schema."""
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    versions = []
    for i, version in enumerate(res.versions):
        entry: dict[str, Any] = {"name": version, "served": True, "storage": i == 0,
                                 "schema": schema, "subresources": {"status": {}}}
        if res.columns:
            entry["additionalPrinterColumns"] = list(res.columns)
        versions.append(entry)
    names: dict[str, Any] = {"kind": res.kind, "listKind": f"{res.kind}List",
                             "plural": res.plural, "singular": res.singular}
    if res.short_names:
        names["shortNames"] = list(res.short_names)
    if res.categories:
        names["categories"] = list(res.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{res.plural}.{res.group}"},
        "spec": {"group": res.group, "names": names, "versions": versions,
                 "scope": "Namespaced" if res.namespaced else "Cluster"},
        "status": {"acceptedNames": names, "storedVersions": [res.versions[0]],
                   "conditions": [{"type": "Established", "status": "True",
                                   "reason": "InitialNamesAccepted"}]},
    }


def crd_manifests() -> list[dict[str, Any]]:
    """CRDs for every custom kind in the registry (what `istioctl install` would add)."""
    return [crd_manifest(r) for r in REGISTRY if r.custom]
