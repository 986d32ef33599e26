"""MG101-MG104: files parse, documents are objects, objects match their schemas."""

from __future__ import annotations

from collections.abc import Sequence

from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..submission import k8snames
from ..submission.kinds import WORKLOAD_KINDS
from ..submission.objects import KObject
from .common import as_dict, finding

_NAMELESS_KINDS = {"List", "Kustomization", "Component"}


def yaml_parses(ctx: Context) -> CheckReport:
    """MG101: every YAML file parses, with no duplicate key, binary junk or escaping link."""
    sub = ctx.submission
    if sub is None:
        return CheckReport(Outcome.SKIPPED, "no repository in this run")
    findings = [finding("MG101", "file", None, i.path, file=i.file, line=i.line,
                        message=i.message, hint=i.hint or "Fix the file.") for i in sub.issues]
    return CheckReport.from_findings(
        findings, f"{len(sub.files)} YAML file(s) parse cleanly",
        f"{len({i.file for i in sub.issues})} file(s) with problems",
        evidence={"files": len(sub.files), "ignored": [f"{f}: {why}" for f, why in sub.ignored]})


def objects_well_formed(ctx: Context) -> CheckReport:
    """MG102: each document is a mapping with apiVersion, kind and a metadata.name, and its
    names, labels and selectors follow Kubernetes' rules (``k8snames``)."""
    sub = ctx.submission
    if sub is None:
        return CheckReport(Outcome.SKIPPED, "no repository in this run")
    findings: list[Finding] = [
        finding("MG102", "not-mapping", file=man.file, line=man.line, index=man.index + 1,
                type=type(man.value).__name__)
        for man in sub.manifests if not isinstance(man.value, dict)]
    for obj in sub.objects:
        findings.extend(_object_problems(obj))
    return CheckReport.from_findings(findings, f"{len(sub.objects)} object(s) well formed",
                                     parts=max(len(sub.objects), 1))


def _object_problems(obj: KObject) -> list[Finding]:
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


def schema_valid(ctx: Context) -> CheckReport:
    """MG103: objects of known kinds match their schema; other groups' CRDs are listed."""
    from .. import schema

    findings: list[Finding] = []
    foreign: list[str] = []
    checked = 0
    for obj in ctx.index.submitted:
        status = schema.classify(obj.api_version, obj.kind)
        if status == "foreign":
            foreign.append(f"{obj.ref} ({obj.api_version})")
            continue
        checked += 1
        for issue in schema.validate(obj.raw):
            findings.append(finding("MG103", "issue", obj, issue.path or None,
                                    message=issue.message, hint=issue.hint))
    evidence = {"validated": checked, "not_validated": foreign}
    msg = f"{checked} object(s) match their schema"
    if foreign:
        msg += f"; {len(foreign)} of other projects' kinds not validated"
    return CheckReport.from_findings(findings, msg, evidence=evidence,
                                     parts=max(checked, 1))


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


def api_versions_current(ctx: Context) -> CheckReport:
    """MG104: no object uses an API version that current clusters no longer serve."""
    findings = []
    for obj in ctx.index.submitted:
        found = removed_api(obj.api_version, obj.kind)
        if found:
            findings.append(finding("MG104", "removed", obj, "apiVersion", kind=obj.kind,
                                    api_version=obj.api_version, removed_in=found[0],
                                    replacement=found[1]))
    return CheckReport.from_findings(findings, "all API versions are served by current clusters")
