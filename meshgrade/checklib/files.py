"""MG101-MG104: files parse, documents are objects, objects match their schemas."""

from __future__ import annotations

from collections.abc import Sequence

from ..grading.results import Finding
from ..submission import k8snames
from ..submission.kinds import WORKLOAD_KINDS
from ..submission.objects import KObject
from .common import as_dict, finding

_NAMELESS_KINDS = {"List", "Kustomization", "Component"}


def object_problems(obj: KObject) -> list[Finding]:
    out = []
    raw = obj.raw
    for fld in ("apiVersion", "kind"):
        if fld not in raw or raw[fld] in (None, ""):
            out.append(finding("MG102", "missing", obj, fld, field=fld))
        elif not isinstance(raw[fld], str):
            out.append(finding("MG102", "not-string", obj, fld, field=fld,
                               type=type(raw[fld]).__name__))
    if obj.kind in _NAMELESS_KINDS:
        return out
    meta = raw.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if name is None or name == "":
        if not (isinstance(meta, dict) and meta.get("generateName")):
            out.append(finding("MG102", "missing", obj, "metadata", field="metadata.name"))
    elif not isinstance(name, str):
        out.append(finding("MG102", "not-string", obj, "metadata.name", field="metadata.name",
                           type=type(name).__name__))
    else:
        out.extend(_invalid(obj, [k8snames.check(k8snames.name_rule(obj.kind), name,
                                                 "metadata.name", f"{obj.kind or 'object'} "
                                                 "name")]))
    ns = as_dict(meta).get("namespace")
    if isinstance(ns, str) and ns:
        out.extend(_invalid(obj, [k8snames.check(k8snames.RFC1123_LABEL, ns,
                                                 "metadata.namespace", "namespace")]))
    bad = k8snames.labels(as_dict(meta).get("labels"), "metadata.labels")
    template = as_dict(as_dict(obj.spec.get("template")).get("metadata"))
    bad += k8snames.labels(template.get("labels"), "spec.template.metadata.labels")
    if obj.kind == "Service":
        bad += k8snames.labels(obj.spec.get("selector"), "spec.selector")
    elif obj.kind in WORKLOAD_KINDS:
        bad += k8snames.selector(obj.spec.get("selector"), "spec.selector")
    for found in bad:
        out.extend(_invalid(obj, found))
    return out


def _invalid(obj: KObject, violations: Sequence[k8snames.Violation | None]) -> list[Finding]:
    """One finding for the violations of one name, label or selector part (if any)."""
    found = [v for v in violations if v is not None]
    if not found:
        return []
    return [finding("MG102", "invalid", obj, found[0].path,
                    problem="; ".join(str(v) for v in found), hint=found[0].hint)]


# (apiVersion, kind or "*") -> (removed in, replacement)
_REMOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("extensions/v1beta1", "Ingress"): ("Kubernetes 1.22", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "NetworkPolicy"): ("Kubernetes 1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy"): ("Kubernetes 1.16", "(none: use Pod Security)"),
    ("extensions/v1beta1", "*"): ("Kubernetes 1.16", "apps/v1"),
    ("apps/v1beta1", "*"): ("Kubernetes 1.16", "apps/v1"),
    ("apps/v1beta2", "*"): ("Kubernetes 1.16", "apps/v1"),
    ("networking.k8s.io/v1beta1", "*"): ("Kubernetes 1.22", "networking.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "*"): ("Kubernetes 1.22",
                                                 "rbac.authorization.k8s.io/v1"),
    ("apiextensions.k8s.io/v1beta1", "*"): ("Kubernetes 1.22", "apiextensions.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "*"): ("Kubernetes 1.22",
                                                    "admissionregistration.k8s.io/v1"),
    ("batch/v1beta1", "*"): ("Kubernetes 1.25", "batch/v1"),
    ("policy/v1beta1", "*"): ("Kubernetes 1.25", "policy/v1"),
    ("discovery.k8s.io/v1beta1", "*"): ("Kubernetes 1.25", "discovery.k8s.io/v1"),
    ("autoscaling/v2beta1", "*"): ("Kubernetes 1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "*"): ("Kubernetes 1.26", "autoscaling/v2"),
    ("authentication.istio.io/v1alpha1", "*"): ("Istio 1.6", "security.istio.io/v1"),
    ("rbac.istio.io/v1alpha1", "*"): ("Istio 1.6", "security.istio.io/v1 AuthorizationPolicy"),
    ("config.istio.io/v1alpha2", "*"): ("Istio 1.8", "Telemetry API (telemetry.istio.io/v1)"),
}


def removed_api(api_version: str, kind: str) -> tuple[str, str] | None:
    return _REMOVED.get((api_version, kind)) or _REMOVED.get((api_version, "*"))

