"""Cluster objects: the kinds the grader reads, cleaning and comparing them, reading them
as KObjects (for the same static checks as repo mode), and gathering the facts that
MG301-MG309 judge."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..submission import installs, paths
from ..submission.kinds import GATEWAY_API_GATEWAY, READ_KINDS, lookup
from ..submission.kinds import kind_key as kind_key  # re-exported
from ..submission.objects import KObject
from .errors import ClusterError
from .reader import ClusterReader, Manifest

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SERVER_FIELDS = ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation",
                 "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")


def strip(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy without managedFields and the last-applied annotation."""
    out = copy.deepcopy(raw)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        notes = meta.get("annotations")
        if isinstance(notes, dict):
            notes.pop(LAST_APPLIED, None)
            if not notes:
                meta.pop("annotations")
    return out


def clean(raw: dict[str, Any]) -> dict[str, Any]:
    """What a write or a snapshot keeps: no status, no server-set metadata."""
    out = strip(raw)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for field in SERVER_FIELDS:
            meta.pop(field, None)
    return out


# -- comparing a repo's spec with the cluster's (MG309) ----------------------------------
_DEFAULTS = {  # server-side defaults (Gateway API) and Istio's implicit single weight
    "spec.parentRefs[].group": "gateway.networking.k8s.io", "spec.parentRefs[].kind": "Gateway",
    "spec.rules[].backendRefs[].group": "", "spec.rules[].backendRefs[].kind": "Service",
    "spec.rules[].backendRefs[].weight": 1, "spec.rules[].matches[].path.type": "PathPrefix",
    "spec.rules[].matches[].headers[].type": "Exact",
    "spec.rules[].matches[].queryParams[].type": "Exact",
    "spec.rules[].matches": [{"path": {"value": "/"}}],
    "spec.listeners[].allowedRoutes": {"namespaces": {"from": "Same"}},
}


def normal(value: Any, path: str = "spec") -> Any:
    """``value`` without empty values and defaults (``None`` when nothing is left)."""
    if isinstance(value, dict):
        out = {k: v for k, v in ((k, normal(v, f"{path}.{k}")) for k, v in value.items())
               if v is not None}
        route = out.get("route")
        if isinstance(route, list) and len(route) == 1 and isinstance(route[0], dict) \
                and route[0].get("weight") == 100:
            route[0].pop("weight")  # one destination: 100% with or without a weight
        value = out
    elif isinstance(value, list):
        value = [v for v in (normal(v, f"{path}[]") for v in value) if v is not None]
    if value in (None, "", [], {}) or _DEFAULTS.get(path, ...) == value:
        return None
    return value


def diff(a: Any, b: Any, path: str = "spec") -> list[tuple[str, Any, Any]]:
    """(field path, repo value, cluster value) where two normalised values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in diff(a.get(k), b.get(k), paths.join(path, k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in diff(x, y, paths.join(path, i))]
    return [] if a == b else [(path, a, b)]


def read_objects(client: ClusterReader, namespaces: list[str] | None = None, *,
                 errors: dict[str, str] | None = None) -> list[KObject]:
    """Namespaces, Services, ServiceAccounts, Deployments, Pods and the served routing kinds,
    in ``namespaces`` (None: all). A kind that is not served is skipped. With ``errors``
    given, a kind that cannot be read is recorded there (kind key -> message) instead of
    raising ClusterError."""
    raws: list[Manifest] = []
    for key in READ_KINDS:
        try:
            if key == "Namespace" and namespaces is not None:
                raws.extend(o for ns in namespaces if (o := client.get(key, ns)) is not None)
            elif namespaces is None or not lookup(key).namespaced:
                raws.extend(client.list(key))
            else:
                for ns in namespaces:
                    raws.extend(client.list(key, ns))
        except ClusterError as exc:
            if errors is None:
                raise
            errors[key] = str(exc)
    return [KObject(strip(r), origin="cluster", order=i) for i, r in enumerate(raws)]


def deployments_everywhere(client: ClusterReader, namespace: str
                           ) -> tuple[list[KObject], str | None]:
    """Every Deployment of the cluster; when they cannot be listed in all namespaces, those
    of ``namespace`` and the documented install namespaces, and why."""
    try:
        return [KObject(strip(d), origin="cluster") for d in client.list("Deployment")], None
    except ClusterError as exc:
        reason = str(exc)
    where = list(dict.fromkeys([namespace, *installs.DOCUMENTED_NAMESPACES]))
    note = f"Deployments not listed in all namespaces ({reason}); looked in {', '.join(where)}"
    found: list[KObject] = []
    for ns in where:
        try:
            found += [KObject(strip(d), origin="cluster") for d in client.list("Deployment", ns)]
        except ClusterError:
            continue
    return found, note


@dataclass
class ClusterFacts:
    """Everything the MG3xx checks judge, read once. ``errors`` maps what could not be
    read (``api``, a kind key, ``discovery``) to the reason."""

    namespace: str
    server: str = ""
    reachable: bool = False
    version: dict[str, Any] = field(default_factory=dict)
    objects: list[KObject] = field(default_factory=list)
    crds: dict[str, str] = field(default_factory=dict)  # served routing kind -> apiVersion
    gateway_url: str | None = None
    gateway_how: str = ""
    gateway_tried: list[str] = field(default_factory=list)
    gateway_error: str | None = None
    kiali: tuple[int, str] | None = None  # /kiali/healthz status and body
    kiali_error: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def gather(client: ClusterReader, namespace: str, gateway_url: str | None = None, *,
           probe: Callable[[str], bool] | None = None,
           namespaces: Iterable[str] = ("istio-system",),
           tried: list[str] | None = None) -> ClusterFacts:
    """Read what MG301-MG309 need from the app namespace, ``namespaces`` and wherever istiod,
    an ingress gateway or Kiali runs (``installs``): version, served CRDs, objects, the
    gateway URL (given, with the ``tried`` list of an earlier discovery, or discovered) and
    Kiali's health. Only reads: no API write is made. Failures are recorded, never raised."""
    from .gateway import discover_gateway_url  # cycle: gateway imports read

    facts = ClusterFacts(namespace, server=client.host)
    try:
        facts.version, facts.reachable = client.version(), True
    except ClusterError as exc:
        facts.errors["api"] = str(exc)
        return facts
    for key in ("VirtualService", "DestinationRule", "Gateway", "ServiceEntry",
                GATEWAY_API_GATEWAY, "HTTPRoute"):
        try:
            if version := client.served_version(key):
                facts.crds[key] = lookup(key).api_version(version)
        except ClusterError as exc:
            facts.errors["discovery"] = str(exc)
    deps, note = deployments_everywhere(client, namespace)
    if note:
        facts.errors["installs"] = note
    spots = sorted({d.namespace for d in deps if installs.installed(d)})
    facts.objects = read_objects(client, list(dict.fromkeys([namespace, *namespaces, *spots])),
                                 errors=facts.errors)
    try:
        facts.gateway_url, facts.gateway_tried = discover_gateway_url(
            client, namespace, given=gateway_url, probe=probe)
        if gateway_url and tried:
            facts.gateway_tried = list(tried)
        last = facts.gateway_tried[-1]
        facts.gateway_how = last.partition(" (")[2].rstrip(")") or last
    except ClusterError as exc:
        facts.gateway_error = str(exc)
    svc = kiali_service(facts.objects)
    if svc is not None:
        ports = [p for p in svc.spec.get("ports") or [] if isinstance(p, dict)]
        port: int | str = next((p["port"] for p in ports if p.get("name") == "http"
                                and isinstance(p.get("port"), (int, str))), 20001)
        try:
            facts.kiali = client.proxy_get(svc.namespace, svc.name, port, "kiali/healthz")
        except ClusterError as exc:
            facts.kiali_error = str(exc)
    return facts


def kiali_service(objects: list[KObject]) -> KObject | None:
    """The Service of Kiali's Deployment (by its labels), else a Service named kiali."""
    services = [o for o in objects if o.kind == "Service"]
    return next((s for d in objects if d.kind == "Deployment" and installs.is_kiali(d)
                 if (s := installs.service_for(d, services)) is not None), None) or next(
        (s for s in services if s.name == "kiali"), None)
