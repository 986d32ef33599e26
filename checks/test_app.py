"""MG211-MG215: the student's own two-version application: deployed, addressable per
version, exposed through the gateway, routed by header and by weight."""

from __future__ import annotations

from meshgrade.checklib.app import (
    find_entry,
    find_header_stage,
    find_weighted_stage,
    need_app,
    no_stage_routes,
    notes_app,
)
from meshgrade.checklib.common import as_dict, as_list, finding, label_map
from meshgrade.checklib.hosts import resolve_service
from meshgrade.checklib.probes import binds_gateway, hosts, paths
from meshgrade.checklib.stages import describe, gateway_outcome, seen
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding, Outcome
from meshgrade.submission.objects import selects


@check("MG211", points=2, reads=("repo", "cluster"),
       title="The application is a Service with two Deployments whose pods differ by version")
@notes_app
def test_app_two_versions(ctx: Context) -> CheckReport:
    """MG211: a Service with two Deployments whose pods differ by version."""
    app = need_app(ctx)
    if isinstance(app, CheckReport):
        return app
    workloads = sorted({f"{g.workload} ({g.version})" for g in app.groups})
    return CheckReport(Outcome.PASSED, f"{app.service.ref} serves {', '.join(workloads)}",
                       evidence={"service": app.service.name, "versions": app.versions})


@check("MG212", points=2, reads=("repo", "cluster"),
       title="A DestinationRule defines one subset per version of the application")
@notes_app
def test_app_subsets(ctx: Context) -> CheckReport:
    """MG212: one DestinationRule subset per version, each selecting that version's pods."""
    app = need_app(ctx)
    if isinstance(app, CheckReport):
        return app
    svc = app.service
    drs = [dr for dr in ctx.index.latest("DestinationRule")
           if isinstance(dr.spec.get("host"), str)
           and resolve_service(ctx, dr.spec["host"], dr.namespace) is svc]
    if not drs:
        f = finding("MG212", "no-dr", service=svc.name)
        return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])
    findings: list[Finding] = []
    for version in app.versions:
        pods = [g for g in app.groups if g.version == version]
        ok = any(label_map(as_dict(s).get("labels")) and all(
            selects(label_map(as_dict(s).get("labels")), g.label_map) for g in pods)
            for dr in drs for s in as_list(dr.spec.get("subsets")))
        if not ok:
            findings.append(finding("MG212", "missing", drs[-1], "spec.subsets",
                                    version=version, service=svc.name))
    return CheckReport.from_findings(findings, f"subsets for {', '.join(app.versions)} of "
                                     f"{svc.name}", parts=len(app.versions))


@check("MG213", points=2, reads=("repo", "cluster"),
       title="A Gateway and a VirtualService expose the application through the ingress gateway")
@notes_app
def test_app_exposed(ctx: Context) -> CheckReport:
    """MG213: a request through the ingress gateway reaches the application."""
    app = need_app(ctx)
    if isinstance(app, CheckReport):
        return app
    entry = find_entry(ctx, app)
    if entry is not None:
        host, path = entry
        report = CheckReport(Outcome.PASSED, f"http://{host}{path} reaches {app.service.name}")
        report.evidence.update({"host": host, "path": path})
        return report
    stages = [s for s in ctx.routing_stages() if binds_gateway(s)]
    f = finding("MG213", "none", service=app.service.name, seen=seen(
        stages, lambda s: describe(gateway_outcome(ctx, s, hosts(s)[0], paths(s)[-1]))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


@check("MG214", points=3, reads=("repo", "cluster"),
       title=(
           "A VirtualService routes requests with a header to one version and all others to the "
           "other"))
@notes_app
def test_app_header_route(ctx: Context) -> CheckReport:
    """MG214: requests with a header go to one version, all other requests to the other."""
    app = need_app(ctx)
    if isinstance(app, CheckReport):
        return app
    found = find_header_stage(ctx, app)
    if found is not None:
        report = CheckReport(
            Outcome.PASSED, f"{found.header}: {found.value} -> {found.with_version}, others -> "
            f"{found.without_version} ({found.stage.ref} in {found.stage.where})")
        report.evidence.update({"header": found.header, "value": found.value,
                                "with": found.with_version, "without": found.without_version})
        return report
    return no_stage_routes(ctx, app, "MG214")


@check("MG215", points=3, reads=("repo", "cluster"),
       title="A VirtualService splits the application's traffic between both versions by weight")
@notes_app
def test_app_weighted_route(ctx: Context) -> CheckReport:
    """MG215: a stage splits the application's traffic between both versions by weight."""
    app = need_app(ctx)
    if isinstance(app, CheckReport):
        return app
    found = find_weighted_stage(ctx, app)
    if found is not None:
        stage, shares = found
        report = CheckReport(Outcome.PASSED, "split " + ", ".join(
            f"{v} {s:.0%}" for v, s in sorted(shares.items())) + f" ({stage.ref} in {stage.where})")
        report.evidence["expected"] = shares
        return report
    return no_stage_routes(ctx, app, "MG215")
