"""MG211-MG215: the student's own two-version application (Part 2)."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context
from ..objects import KObject, selects
from ..results import CheckReport, Finding, Outcome
from ..workloads import PodGroup, selected_groups
from .common import as_dict, as_list, finding, label_map
from .hosts import resolve_service
from .probes import binds_gateway, claims_mesh_host, header_rules, hosts, paths
from .stages import describe, gateway_outcome, mesh_outcome, seen, single_version

BOOKINFO = {"productpage", "reviews", "ratings", "details"}
SYSTEM_NAMESPACES = {"istio-system", "kube-system", "kube-public"}


@dataclass
class App:
    service: KObject
    groups: list[PodGroup]

    @property
    def versions(self) -> list[str]:
        return sorted({g.version for g in self.groups if g.version})


def find_app(ctx: Context) -> tuple[App | None, str]:
    """The student's application: a Service over two workloads that differ by version."""
    candidates = []
    for svc in ctx.index.latest("Service"):
        if svc.origin == "baseline" or svc.namespace in SYSTEM_NAMESPACES:
            continue
        if ctx.settings.app_service and svc.name != ctx.settings.app_service:
            continue
        groups = [g for g in ctx.pods_in(svc.namespace) if g.source.origin != "baseline"]
        behind = selected_groups(groups, label_map(svc.spec.get("selector")), svc.namespace)
        versions = {g.version for g in behind if g.version}
        if len({g.workload for g in behind}) >= 2 and len(versions) >= 2:
            candidates.append(App(svc, behind))
    candidates.sort(key=lambda a: (a.service.name in BOOKINFO, a.service.order))
    if candidates:
        return candidates[0], ""
    if ctx.settings.app_service:
        return None, f"Service '{ctx.settings.app_service}' (rubric app_service) was not found " \
                     "over two workloads with different version labels"
    return None, "no Service of the submission selects two Deployments whose pods have " \
                 "different version labels"


def _need_app(ctx: Context) -> tuple[App | None, CheckReport | None]:
    app, why = find_app(ctx)
    if app is None:
        f = finding("MG211", "none", why=why)
        return None, CheckReport(Outcome.FAILED, "no application found", [f])
    return app, None


def app_two_versions(ctx: Context) -> CheckReport:
    """MG211: a Service with two Deployments whose pods differ by version."""
    app, failed = _need_app(ctx)
    if failed:
        return failed
    workloads = sorted({f"{g.workload} ({g.version})" for g in app.groups})
    return CheckReport(Outcome.PASSED, f"{app.service.ref} serves {', '.join(workloads)}",
                       evidence={"service": app.service.name, "versions": app.versions})


def app_subsets(ctx: Context) -> CheckReport:
    """MG212: one DestinationRule subset per version, each selecting that version's pods."""
    app, failed = _need_app(ctx)
    if failed:
        return failed
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


def _app_share(outcome, app: App) -> float:
    names = {g.workload for g in app.groups}
    return sum(s for t, s in outcome.shares.items() if t.status == 200 and t.workload in names)


def app_exposed(ctx: Context) -> CheckReport:
    """MG213: a request through the ingress gateway reaches the application."""
    app, failed = _need_app(ctx)
    if failed:
        return failed
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


def _app_stages(ctx: Context, app: App) -> list[KObject]:
    return [s for s in ctx.routing_stages()
            if claims_mesh_host(s, app.service) or binds_gateway(s)]


def _requests(ctx: Context, stage: KObject, app: App):
    """(label, outcome function) pairs: mesh calls and gateway calls the stage handles."""
    if claims_mesh_host(stage, app.service):
        yield lambda h: mesh_outcome(ctx, stage, app.service.name, h)
    if binds_gateway(stage):
        for host in hosts(stage):
            for path in paths(stage):
                yield lambda h, host=host, path=path: gateway_outcome(ctx, stage, host, path, h)


@dataclass(frozen=True)
class HeaderStage:
    stage: KObject
    header: str
    value: str
    with_version: str
    without_version: str


def find_header_stage(ctx: Context, app: App) -> HeaderStage | None:
    """The first stage routing a header to one version and everything else to the other."""
    for stage in _app_stages(ctx, app):
        for rule in header_rules(stage):
            for ask in _requests(ctx, stage, app):
                with_h = single_version(ask({rule.name: rule.value}))
                without = single_version(ask({}))
                if with_h and without and with_h != without and {with_h, without} <= set(
                        app.versions):
                    return HeaderStage(stage, rule.name, rule.value, with_h, without)
    return None


def find_weighted_stage(ctx: Context, app: App) -> tuple[KObject, dict[str, float]] | None:
    """The first stage splitting the app's plain traffic over two versions or more."""
    for stage in _app_stages(ctx, app):
        for ask in _requests(ctx, stage, app):
            shares = {v: s for v, s in ask({}).versions().items() if v in app.versions}
            if len([s for s in shares.values() if s > 0]) >= 2:
                return stage, shares
    return None


def find_entry(ctx: Context, app: App) -> tuple[str, str] | None:
    """(host, path) of a request through the gateway that reaches the app."""
    for stage in [s for s in ctx.routing_stages() if binds_gateway(s)]:
        for host in hosts(stage):
            for path in paths(stage):
                if _app_share(gateway_outcome(ctx, stage, host, path), app) > 0:
                    return host, path
    return None


def app_header_route(ctx: Context) -> CheckReport:
    """MG214: requests with a header go to one version, all other requests to the other."""
    app, failed = _need_app(ctx)
    if failed:
        return failed
    found = find_header_stage(ctx, app)
    if found is not None:
        report = CheckReport(
            Outcome.PASSED, f"{found.header}: {found.value} -> {found.with_version}, others -> "
            f"{found.without_version} ({found.stage.ref} in {found.stage.where})")
        report.evidence.update({"header": found.header, "value": found.value,
                                "with": found.with_version, "without": found.without_version})
        return report
    stages = _app_stages(ctx, app)
    f = finding("MG214", "none", service=app.service.name,
                seen=seen(stages, lambda s: describe(next(_requests(ctx, s, app))({}))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


def app_weighted_route(ctx: Context) -> CheckReport:
    """MG215: a stage splits the application's traffic between both versions by weight."""
    app, failed = _need_app(ctx)
    if failed:
        return failed
    found = find_weighted_stage(ctx, app)
    if found is not None:
        stage, shares = found
        report = CheckReport(Outcome.PASSED, "split " + ", ".join(
            f"{v} {s:.0%}" for v, s in sorted(shares.items())) + f" ({stage.ref} in {stage.where})")
        report.evidence["expected"] = shares
        return report
    stages = _app_stages(ctx, app)
    f = finding("MG215", "none", service=app.service.name,
                seen=seen(stages, lambda s: describe(next(_requests(ctx, s, app))({}))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])
