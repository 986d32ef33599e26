"""MG401-MG413: real requests through the mesh gateway, judged with sequential tests: what
each routing stage sends where, for Bookinfo and for the student's app."""

from __future__ import annotations

from meshgrade.checklib import stagepick
from meshgrade.checklib.app import find_header_stage, find_weighted_stage, notes_app
from meshgrade.checklib.apptraffic import app_class, app_oracle, app_probe, app_setup, judge_app
from meshgrade.checklib.sampling import (
    Judgement,
    PrometheusBatches,
    StatusOnly,
    diagnosis,
    report,
    routing_trace,
)
from meshgrade.checklib.traffic import (
    USERS,
    PageOracle,
    all_to,
    bookinfo_classes,
    bookinfo_oracle,
    bookinfo_trace,
    expected_shares,
    guard,
    judge_bookinfo,
    normalise,
    not_staged,
    settle_probe,
    staged,
)
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding, Outcome
from meshgrade.live.sources import live_of
from meshgrade.routing import RoutingModel


@check("MG401", points=2, reads=("traffic",),
       title="The product page answers through the gateway with reviews and details")
@guard
def test_productpage_reachable(ctx: Context) -> CheckReport:
    """MG401: /productpage answers 200 with the Bookinfo title, reviews and details."""
    live = live_of(ctx)
    oracle = PageOracle(bookinfo_oracle(ctx))
    samples = live.sampler().sample(bookinfo_classes()["anonymous"], 10, oracle)
    bad = [s for s in samples if s.status != 200 or s.problems]
    evidence = {"requests": len(samples), "gateway_url": live.gateway_url,
                "statuses": {str(s.status): sum(x.status == s.status for x in samples)
                             for s in samples}}
    if not bad:
        return CheckReport(Outcome.PASSED, f"http://{live.gateway_url}/productpage answers with "
                           f"the Bookinfo page ({len(samples)} requests)", evidence=evidence)
    evidence["diagnosis"] = why = diagnosis(samples, bookinfo_trace(ctx, "anonymous"))
    return CheckReport(Outcome.FAILED, f"{len(bad)} of {len(samples)} answers were not a whole "
                       "Bookinfo page",
                       [Finding(why,
                                hint="Check `kubectl get pods` (all 2/2 Running) and the "
                                     "bookinfo gateway and VirtualService.")], evidence)


@check("MG402", points=2, reads=("traffic", "cluster"),
       title="Observed reviews versions match the applied routing for each kind of user")
@guard
def test_routing_observed(ctx: Context) -> CheckReport:
    """MG402: each kind of user sees the reviews versions the applied routing implies."""
    live = live_of(ctx)
    model = RoutingModel(live.objects(), ingress_labels=ctx.settings.ingress_labels)
    oracle = bookinfo_oracle(ctx)
    judgements = []
    for label, user in USERS:
        wanted, errors = expected_shares(model, user, live.namespace)
        if not wanted:
            judgements.append(Judgement(label, False, False, f"{label}: the applied routing "
                                        "sends reviews traffic nowhere (all errors)"))
            continue
        judgements.append(judge_bookinfo(ctx, label, wanted, oracle, errors_expected=errors))
    return report(judgements, "observed versions match the applied routing",
                  "Compare `kubectl get vs reviews -o yaml` with what you meant to apply.")


@check("MG403", points=2, reads=("traffic",),
       title="With the all-v1 stage applied every page shows reviews v1")
@guard
def test_all_v1_observed(ctx: Context) -> CheckReport:
    """MG403: with the all-v1 stage applied, every page shows reviews v1."""
    return all_to(ctx, stagepick.all_v1(ctx), "v1", ("anonymous", "jason"), "all-v1")


@check("MG404", points=3, reads=("traffic",),
       title="With the jason stage applied jason sees v2 and others v1")
@guard
def test_jason_v2_observed(ctx: Context) -> CheckReport:
    """MG404: with the jason stage applied, jason sees v2 and others v1."""
    stage = stagepick.jason(ctx)

    def run() -> CheckReport:
        oracle = bookinfo_oracle(ctx)
        return report([judge_bookinfo(ctx, "jason", {"v2": 1.0}, oracle),
                       judge_bookinfo(ctx, "anonymous", {"v1": 1.0}, oracle),
                       judge_bookinfo(ctx, "another user", {"v1": 1.0}, oracle)],
                      "jason sees v2, everyone else v1",
                      "Log in as jason: the end-user header comes from productpage's session.")
    return staged(ctx, [stage] if stage else [], run, "jason",
                   settle_probe(ctx, bookinfo_classes()["jason"], bookinfo_oracle(ctx), {"v2"}))


@check("MG405", points=3, reads=("traffic",),
       title="With the 50/50 stage applied the observed v1/v3 split is 50/50")
@guard
def test_shift_50_observed(ctx: Context) -> CheckReport:
    """MG405: with the 50/50 stage applied, the observed v1/v3 split is 50/50."""
    wanted = normalise(ctx.settings.expected_split or {"v1": 50, "v3": 50})
    stage = stagepick.split(ctx, wanted)

    def run() -> CheckReport:
        return report([judge_bookinfo(ctx, "anonymous", wanted, bookinfo_oracle(ctx))],
                      "the observed split is consistent with "
                      + "/".join(f"{v} {s:.0%}" for v, s in wanted.items()),
                      "Weights 50 and 50 on subsets v1 and v3, and both subsets defined.")
    probe = settle_probe(ctx, bookinfo_classes()["anonymous"], bookinfo_oracle(ctx), set(wanted))
    return staged(ctx, [stage] if stage else [], run, "50/50", probe)


@check("MG406", points=2, reads=("traffic",),
       title="With the 100% v3 stage applied every page shows v3")
@guard
def test_shift_100_observed(ctx: Context) -> CheckReport:
    """MG406: with the 100% v3 stage applied, every page shows v3."""
    stage = stagepick.all_to(ctx, "v3")
    return all_to(ctx, [stage] if stage else [], "v3", ("anonymous", "jason"), "100% v3")


@check("MG411", points=2, reads=("traffic",),
       title="The application answers through the gateway")
@guard
@notes_app
def test_app_reachable(ctx: Context) -> CheckReport:
    """MG411: the application answers through the gateway."""
    setup = app_setup(ctx)
    if isinstance(setup, CheckReport):
        return setup
    app, entry = setup
    oracle = app_oracle(ctx)
    if isinstance(oracle, PrometheusBatches):
        oracle = StatusOnly()
    samples = live_of(ctx).sampler().sample(app_class(entry), 20, oracle)
    ok = [s for s in samples if s.status is not None and s.status < 400]
    evidence = {"requests": len(samples), "host": entry[0], "path": entry[1],
                "statuses": {str(s.status): sum(x.status == s.status for x in samples)
                             for s in samples}}
    if len(ok) >= 0.95 * len(samples):
        return CheckReport(Outcome.PASSED, f"{app.service.name} answers at "
                           f"{entry[0]}{entry[1]} ({len(ok)}/{len(samples)})", evidence=evidence)
    evidence["diagnosis"] = diagnosis(samples, routing_trace(ctx, app_class(entry)))
    return CheckReport(Outcome.FAILED, f"only {len(ok)} of {len(samples)} requests answered",
                       [Finding(f"{app.service.name} did not answer through the gateway: "
                                f"{evidence['diagnosis']}",
                                hint="Check the Gateway, the VirtualService and the pods.")],
                       evidence)


@check("MG412", points=3, reads=("traffic",),
       title="Requests with the header reach one version and the others the other")
@guard
@notes_app
def test_app_header_observed(ctx: Context) -> CheckReport:
    """MG412: requests with the header reach one version, the others the other version."""
    setup = app_setup(ctx)
    if isinstance(setup, CheckReport):
        return setup
    app, entry = setup
    found = find_header_stage(ctx, app)
    if found is None:
        return not_staged(ctx, "header routing")

    def run() -> CheckReport:
        oracle = app_oracle(ctx)
        header = (found.header, found.value)
        return report([judge_app(ctx, app_class(entry, header), {found.with_version: 1.0}, oracle,
                                 f"{found.header}: {found.value}"),
                       judge_app(ctx, app_class(entry), {found.without_version: 1.0}, oracle,
                                 "without the header")],
                      "the header decides the version",
                      "The header rule must come first, the default route last.")
    probe = app_probe(ctx, app_class(entry, (found.header, found.value)), {found.with_version})
    return staged(ctx, [found.stage], run, "header routing", probe)


@check("MG413", points=3, reads=("traffic",),
       title="The observed split between the two versions matches the weights")
@guard
@notes_app
def test_app_weights_observed(ctx: Context) -> CheckReport:
    """MG413: the observed split between the versions matches the configured weights."""
    setup = app_setup(ctx)
    if isinstance(setup, CheckReport):
        return setup
    app, entry = setup
    found = find_weighted_stage(ctx, app)
    if found is None:
        return not_staged(ctx, "weighted")
    stage, shares = found

    def run() -> CheckReport:
        judged = judge_app(ctx, app_class(entry), shares, app_oracle(ctx), "plain requests")
        return report([judged],
                      "the observed split matches the weights",
                      "Check the weights and that both subsets select pods.")
    probe = app_probe(ctx, app_class(entry), set(shares))
    return staged(ctx, [stage], run, "weighted", probe)
