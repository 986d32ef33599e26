"""MG201-MG206: the Bookinfo routing tasks, judged on the routing model per stage over the
versions actually deployed, in either API (classic or Gateway API)."""

from __future__ import annotations

from meshgrade.checklib.bookinfo import (
    GATEWAY_PATHS,
    JASON,
    OTHER_USERS,
    SERVICES,
    addressed_by,
    all_requests,
    api_message_key,
    bookinfo_service,
    gateway_api,
    mesh_described,
    pods_of,
    reaches,
    reviews_split,
    stage_passed,
    stages_for,
    what_stages_did,
    why_not_routed,
)
from meshgrade.checklib.common import finding
from meshgrade.checklib.probes import binds_gateway, hosts
from meshgrade.checklib.stages import (
    describe,
    gateway_outcome,
    mesh_outcome,
    only,
    unrouted_outcome,
)
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding, Outcome
from meshgrade.submission.objects import KObject


@check("MG201", points=2, reads=("repo", "cluster"),
       title=(
           "A Gateway and a VirtualService or HTTPRoute expose the Bookinfo pages through the "
           "ingress gateway"))
def test_bookinfo_gateway(ctx: Context) -> CheckReport:
    """MG201: the ingress gateway routes the Bookinfo paths to productpage."""
    best: tuple[int, KObject | None, list[str]] = (-1, None, list(GATEWAY_PATHS))
    for stage in [s for s in ctx.routing_stages() if binds_gateway(s)]:
        host = hosts(stage)[0]
        missing = [p for p in GATEWAY_PATHS if not reaches(
            gateway_outcome(ctx, stage, host, p), "productpage")]
        if not missing:
            return stage_passed(stage, "the Bookinfo pages are routed")
        if len(GATEWAY_PATHS) - len(missing) > best[0]:
            best = (len(GATEWAY_PATHS) - len(missing), stage, missing)
    if best[1] is None or best[0] == 0:
        f = finding("MG201", api_message_key("none", gateway_api(ctx)), best[1],
                    "spec" if best[1] else None, paths=", ".join(GATEWAY_PATHS),
                    why=why_not_routed(ctx, best[1]))
    else:
        key = api_message_key("partial", best[1].kind == "HTTPRoute")
        f = finding("MG201", key, best[1], "spec", ref=best[1].ref, paths=best[2])
    return CheckReport(Outcome.FAILED, "the Bookinfo pages are not routed through the gateway",
                       [f], fraction=max(best[0], 0) / len(GATEWAY_PATHS))


@check("MG202", points=2, reads=("repo", "cluster"),
       title=(
           "Every deployed version of a multi-version Bookinfo service has a subset or a "
           "per-version Service"))
def test_bookinfo_subsets(ctx: Context) -> CheckReport:
    """MG202: each deployed version of a multi-version Bookinfo service can be routed to:
    a DestinationRule subset (classic API) or a per-version Service (Gateway API)."""
    findings: list[Finding] = []
    addressed: list[str] = []
    for name in SERVICES:
        svc = bookinfo_service(ctx, name)
        pods = pods_of(ctx, svc) if svc is not None else []
        versions = sorted({g.version for g in pods if g.version})
        if svc is None or len(versions) < 2:
            continue
        gwapi = gateway_api(ctx, name)
        for version in versions:
            how = addressed_by(ctx, svc, pods, version, gwapi)
            if how is None:
                findings.append(finding("MG202", api_message_key("missing", gwapi), service=name,
                                        version=version))
            else:
                addressed.append(f"{name} {version}: {how}")
    if not findings and not addressed:
        findings.append(finding("MG202", "none"))
    report = CheckReport.from_findings(
        findings, "every deployed version can be routed to (" + "; ".join(addressed) + ")",
        parts=max(len(findings) + len(addressed), 1))
    report.evidence["addressed"] = addressed
    return report


@check("MG203", points=2, reads=("repo", "cluster"),
       title=(
           "All traffic for productpage, reviews, ratings and details reaches v1 (by a rule, or "
           "v1 deployed alone)"))
def test_route_all_v1(ctx: Context) -> CheckReport:
    """MG203: each Bookinfo service sends all its traffic to v1, by some stage or, with one
    deployed version and no routing object for it, by itself."""
    findings: list[Finding] = []
    done = []
    for name in SERVICES:
        _svc, stages = stages_for(ctx, name)
        ok = next((s for s in stages if all_requests(ctx, s, name, "v1")), None)
        if ok is not None:
            done.append(f"{name}: {ok.where}")
        elif not stages and only(unrouted_outcome(ctx, name), "v1"):
            done.append(f"{name}: only v1 is deployed, no rule needed")
        else:
            seen = what_stages_did(ctx, stages, name, mesh_described(ctx, name))
            findings.append(finding("MG203", api_message_key("missing", gateway_api(ctx, name)),
                                    service=name, seen=seen))
    report = CheckReport.from_findings(findings, "all four services routed to v1 ("
                                       + "; ".join(done) + ")", parts=len(SERVICES))
    report.evidence["stages"] = done
    return report


@check("MG204", points=3, reads=("repo", "cluster"),
       title="A stage sends jason's reviews requests to v2 and everyone else's to v1")
def test_route_jason_v2(ctx: Context) -> CheckReport:
    """MG204: jason's reviews requests go to v2, everyone else's to v1."""
    _svc, stages = stages_for(ctx, "reviews")
    for stage in stages:
        if only(mesh_outcome(ctx, stage, "reviews", JASON), "v2") and all(
                only(mesh_outcome(ctx, stage, "reviews", h), "v1") for h in OTHER_USERS):
            return stage_passed(stage, "jason goes to v2, others to v1")
    key = api_message_key("missing", gateway_api(ctx, "reviews"))
    f = finding("MG204", key, seen=what_stages_did(
        ctx, stages, "reviews", lambda s: "jason: " + describe(mesh_outcome(
            ctx, s, "reviews", JASON)) + ", others: " + describe(mesh_outcome(ctx, s, "reviews"))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


@check("MG205", points=3, reads=("repo", "cluster"),
       title="A stage splits reviews traffic 50/50 between v1 and v3")
def test_shift_50_v3(ctx: Context) -> CheckReport:
    """MG205: a stage splits reviews 50/50 between v1 and v3."""
    return reviews_split(ctx, "MG205", {"v1": 0.5, "v3": 0.5}, "reviews split 50/50 v1/v3")


@check("MG206", points=2, reads=("repo", "cluster"),
       title="A stage sends all reviews traffic to v3")
def test_shift_100_v3(ctx: Context) -> CheckReport:
    """MG206: a stage sends all reviews traffic to v3."""
    return reviews_split(ctx, "MG206", {"v3": 1.0}, "all reviews traffic to v3")
