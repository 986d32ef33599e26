"""MG201-MG206: the Bookinfo routing tasks, judged on the routing model per stage."""

from __future__ import annotations

from ..context import Context
from ..objects import KObject
from ..results import CheckReport, Finding, Outcome
from .common import as_dict, as_list, finding, label_map
from .hosts import resolve_service
from .probes import binds_gateway, claims_mesh_host, hosts
from .stages import describe, gateway_outcome, mesh_outcome, only, seen

SERVICES = ("productpage", "reviews", "ratings", "details")
GATEWAY_PATHS = ("/productpage", "/login", "/logout", "/static/tailwind/tailwind.css",
                 "/api/v1/products")
OTHER_USERS = ({}, {"end-user": "mike"}, {"end-user": "Jason"}, {"end-user": "jasmine"})


def _service(ctx: Context, name: str) -> KObject | None:
    return ctx.index.get("Service", ctx.settings.namespace, name)


def _stages_for(ctx: Context, name: str) -> tuple[KObject | None, list[KObject]]:
    svc = _service(ctx, name)
    if svc is None:
        return None, []
    return svc, [s for s in ctx.routing_stages() if claims_mesh_host(s, svc)]


def _passed(stage: KObject, what: str) -> CheckReport:
    return CheckReport(Outcome.PASSED, f"{what}: {stage.ref} in {stage.where}",
                       evidence={"stage": stage.ref, "file": stage.file, "line": stage.line})


def bookinfo_gateway(ctx: Context) -> CheckReport:
    """MG201: the ingress gateway routes the Bookinfo paths to productpage."""
    best: tuple[int, KObject | None, list[str]] = (-1, None, list(GATEWAY_PATHS))
    for stage in [s for s in ctx.routing_stages() if binds_gateway(s)]:
        host = hosts(stage)[0]
        missing = [p for p in GATEWAY_PATHS if not _reaches(
            gateway_outcome(ctx, stage, host, p), "productpage")]
        if not missing:
            return _passed(stage, "the Bookinfo pages are routed")
        if len(GATEWAY_PATHS) - len(missing) > best[0]:
            best = (len(GATEWAY_PATHS) - len(missing), stage, missing)
    if best[1] is None or best[0] == 0:
        f = finding("MG201", "none", best[1], "spec" if best[1] else None,
                    paths=", ".join(GATEWAY_PATHS), why=_why(ctx, best[1]))
    else:
        f = finding("MG201", "partial", best[1], "spec", ref=best[1].ref, paths=best[2])
    return CheckReport(Outcome.FAILED, "the Bookinfo pages are not routed through the gateway",
                       [f], fraction=max(best[0], 0) / len(GATEWAY_PATHS))


def _why(ctx: Context, stage: KObject | None) -> str:
    if stage is None:
        return " (no VirtualService or HTTPRoute is bound to a gateway)"
    outcome = gateway_outcome(ctx, stage, hosts(stage)[0], GATEWAY_PATHS[0])
    reasons = sorted({t.reason for t in outcome.shares if t.status != 200 and t.reason})
    return f" ({GATEWAY_PATHS[0]} gets {describe(outcome)}: {'; '.join(reasons)})" if reasons \
        else ""


def _reaches(outcome, service: str) -> bool:
    return abs(sum(share for t, share in outcome.shares.items()
                   if t.status == 200 and t.service == service) - 1.0) < 1e-9


def bookinfo_subsets(ctx: Context) -> CheckReport:
    """MG202: version subsets for reviews v1-v3 and productpage, ratings, details v1."""
    wanted = [("productpage", "v1"), ("reviews", "v1"), ("reviews", "v2"), ("reviews", "v3"),
              ("ratings", "v1"), ("details", "v1")]
    findings: list[Finding] = []
    for service, version in wanted:
        if not _has_version_subset(ctx, service, version):
            findings.append(finding("MG202", "missing", service=service, version=version))
    return CheckReport.from_findings(findings, "all Bookinfo version subsets are defined",
                                     parts=len(wanted))


def _has_version_subset(ctx: Context, service: str, version: str) -> bool:
    ns = ctx.settings.namespace
    for dr in ctx.index.latest("DestinationRule"):
        host = dr.spec.get("host")
        svc = resolve_service(ctx, host, dr.namespace) if isinstance(host, str) else None
        if svc is None or (svc.namespace, svc.name) != (ns, service):
            continue
        for subset in as_list(dr.spec.get("subsets")):
            if label_map(as_dict(subset).get("labels")).get("version") == version:
                return True
    # the Gateway API form: routes name a per-version Service (reviews-v2) for that version
    routed = _backend_names(ctx)
    for svc in ctx.index.latest("Service"):
        sel = label_map(svc.spec.get("selector"))
        if svc.namespace == ns and svc.name in routed and sel.get("version") == version \
                and sel.get("app") == service:
            return True
    return False


def _backend_names(ctx: Context) -> set[str]:
    """Services that the submission's HTTPRoutes send traffic to."""
    return {str(as_dict(ref).get("name")) for route in ctx.routing_stages()
            if route.kind == "HTTPRoute"
            for rule in as_list(route.spec.get("rules"))
            for ref in as_list(as_dict(rule).get("backendRefs"))}


def route_all_v1(ctx: Context) -> CheckReport:
    """MG203: some stage sends 100% of each Bookinfo service's traffic to v1."""
    findings: list[Finding] = []
    done = []
    for name in SERVICES:
        _svc, stages = _stages_for(ctx, name)
        ok = next((s for s in stages if _all_requests(ctx, s, name, "v1")), None)
        if ok is None:
            findings.append(finding("MG203", "missing", service=name, seen=seen(
                stages, lambda s, n=name: describe(mesh_outcome(ctx, s, n)))))
        else:
            done.append(f"{name}: {ok.where}")
    report = CheckReport.from_findings(findings, "all four services routed to v1 ("
                                       + "; ".join(done) + ")", parts=len(SERVICES))
    report.evidence["stages"] = done
    return report


def _all_requests(ctx: Context, stage: KObject, host: str, version: str) -> bool:
    return all(only(mesh_outcome(ctx, stage, host, h), version)
               for h in ({"end-user": "jason"}, *OTHER_USERS))


def route_jason_v2(ctx: Context) -> CheckReport:
    """MG204: jason's reviews requests go to v2, everyone else's to v1."""
    _svc, stages = _stages_for(ctx, "reviews")
    for stage in stages:
        if only(mesh_outcome(ctx, stage, "reviews", {"end-user": "jason"}), "v2") and all(
                only(mesh_outcome(ctx, stage, "reviews", h), "v1") for h in OTHER_USERS):
            return _passed(stage, "jason goes to v2, others to v1")
    f = finding("MG204", "missing", seen=seen(stages, lambda s: "jason: " + describe(
        mesh_outcome(ctx, s, "reviews", {"end-user": "jason"})) + ", others: " + describe(
        mesh_outcome(ctx, s, "reviews"))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


def _reviews_split(ctx: Context, check_id: str, wanted: dict[str, float], what: str
                   ) -> CheckReport:
    _svc, stages = _stages_for(ctx, "reviews")
    for stage in stages:
        if all(_close(mesh_outcome(ctx, stage, "reviews", h).versions(), wanted)
               for h in ({"end-user": "jason"}, *OTHER_USERS)):
            report = _passed(stage, what)
            report.evidence["expected"] = wanted
            return report
    f = finding(check_id, "missing", seen=seen(stages, lambda s: describe(
        mesh_outcome(ctx, s, "reviews"))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


def _close(got: dict[str, float], wanted: dict[str, float]) -> bool:
    keys = set(got) | set(wanted)
    return all(abs(got.get(k, 0.0) - wanted.get(k, 0.0)) < 1e-9 for k in keys)


def shift_50_v3(ctx: Context) -> CheckReport:
    """MG205: a stage splits reviews 50/50 between v1 and v3."""
    return _reviews_split(ctx, "MG205", {"v1": 0.5, "v3": 0.5}, "reviews split 50/50 v1/v3")


def shift_100_v3(ctx: Context) -> CheckReport:
    """MG206: a stage sends all reviews traffic to v3."""
    return _reviews_split(ctx, "MG206", {"v3": 1.0}, "all reviews traffic to v3")
