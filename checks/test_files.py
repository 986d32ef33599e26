"""MG101-MG104: every file parses, every document is a well-formed object of a known
kind that matches its schema, and no API version is one Kubernetes has removed."""

from __future__ import annotations

from meshgrade import schema
from meshgrade.checklib.common import finding
from meshgrade.checklib.files import object_problems, removed_api
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding, Outcome


@check("MG101", points=1, reads=("repo",),
       title="Every YAML file parses, with no duplicate keys")
def test_yaml_parses(ctx: Context) -> CheckReport:
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


@check("MG102", points=1, reads=("repo",),
       title=(
           "Every document is an object with apiVersion, kind, and valid names, labels and "
           "selectors"))
def test_objects_well_formed(ctx: Context) -> CheckReport:
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
        findings.extend(object_problems(obj))
    return CheckReport.from_findings(findings, f"{len(sub.objects)} object(s) well formed",
                                     parts=max(len(sub.objects), 1))


@check("MG103", points=2, reads=("repo", "cluster"),
       title="Every object of a known kind matches its schema (no misspelled or missing fields)")
def test_schema_valid(ctx: Context) -> CheckReport:
    """MG103: objects of known kinds match their schema; other groups' CRDs are listed."""
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


@check("MG104", points=1, reads=("repo", "cluster"),
       title="No removed API versions")
def test_api_versions_current(ctx: Context) -> CheckReport:
    """MG104: no object uses an API version that current clusters no longer serve."""
    findings = []
    for obj in ctx.index.submitted:
        found = removed_api(obj.api_version, obj.kind)
        if found:
            findings.append(finding("MG104", "removed", obj, "apiVersion", kind=obj.kind,
                                    api_version=obj.api_version, removed_in=found[0],
                                    replacement=found[1]))
    return CheckReport.from_findings(findings, "all API versions are served by current clusters")
