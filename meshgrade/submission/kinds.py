"""The one table of kinds: API groups, the kinds the grader reads (with their versions and
plurals), and the named sets of kinds (routing, workload, cluster-scoped) the package uses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ISTIO_GROUP = "networking.istio.io"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
#: KObject.kind_key of a Gateway API Gateway (Istio's is plain ``Gateway``).
GATEWAY_API_GATEWAY = "Gateway." + GATEWAY_API_GROUP

CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "GatewayClass", "IngressClass", "PriorityClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
})
#: Kinds whose pod template makes pods.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")
#: Kinds that route requests; a submission's successive versions of them are its stages.
ROUTE_KINDS = ("VirtualService", "HTTPRoute")
#: Routing configuration (kind keys): what --apply-stages writes and MG309 compares.
ROUTING_KINDS = frozenset({"VirtualService", "DestinationRule", "Gateway", GATEWAY_API_GATEWAY,
                           "HTTPRoute"})


@dataclass(frozen=True)
class Kind:
    """A readable kind: ``key`` as KObject.kind_key names it, versions in preference order,
    and for built-in kinds the typed API (``core``, ``apps``, ``ext``) that serves it."""

    key: str
    group: str
    versions: tuple[str, ...]
    plural: str
    namespaced: bool = True
    api: str = ""  # "" for custom resources (CustomObjectsApi, after discovery)

    @property
    def kind(self) -> str:
        return self.key.split(".")[0]

    @property
    def snake(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.kind).lower()

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


_ISTIO = ("v1", "v1beta1", "v1alpha3")
_GWAPI = ("v1", "v1beta1")
KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("Namespace", "", ("v1",), "namespaces", False, "core"),
    Kind("Node", "", ("v1",), "nodes", False, "core"),
    Kind("Service", "", ("v1",), "services", api="core"),
    Kind("Pod", "", ("v1",), "pods", api="core"),
    Kind("ServiceAccount", "", ("v1",), "serviceaccounts", api="core"),
    Kind("Deployment", "apps", ("v1",), "deployments", api="apps"),
    Kind("CustomResourceDefinition", "apiextensions.k8s.io", ("v1",),
         "customresourcedefinitions", False, "ext"),
    Kind("VirtualService", ISTIO_GROUP, _ISTIO, "virtualservices"),
    Kind("DestinationRule", ISTIO_GROUP, _ISTIO, "destinationrules"),
    Kind("Gateway", ISTIO_GROUP, _ISTIO, "gateways"),
    Kind("ServiceEntry", ISTIO_GROUP, _ISTIO, "serviceentries"),
    Kind(GATEWAY_API_GATEWAY, GATEWAY_API_GROUP, _GWAPI, "gateways"),
    Kind("HTTPRoute", GATEWAY_API_GROUP, _GWAPI, "httproutes"),
)}
#: What a cluster read returns, in this order.
READ_KINDS = ("Namespace", "Service", "ServiceAccount", "Deployment", "Pod", "VirtualService",
              "DestinationRule", "Gateway", "ServiceEntry", GATEWAY_API_GATEWAY, "HTTPRoute")


def lookup(kind: str) -> Kind:
    """The Kind of a kind key; ValueError for a kind the grader does not read."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})") from None


def kind_key(raw: dict[str, Any]) -> str:
    """KObject.kind_key of a plain dict."""
    kind = str(raw.get("kind") or "")
    group = str(raw.get("apiVersion") or "").rpartition("/")[0]
    return GATEWAY_API_GATEWAY if kind == "Gateway" and group == GATEWAY_API_GROUP else kind


def routing_kinds(kinds: Iterable[str] | None) -> list[str]:
    """Routing kind keys; ``Gateway`` stands for both Gateway kinds, None for all."""
    out: list[str] = []
    for key in kinds if kinds is not None else sorted(ROUTING_KINDS):
        for k in ((key, GATEWAY_API_GATEWAY) if key == "Gateway" else (key,)):
            if k in ROUTING_KINDS and k not in out:
                out.append(k)
    return out
