"""MG401-MG406: Bookinfo behaviour observed through the ingress gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..live.sources import live_of
from ..routing import Request, RoutingModel
from ..submission.objects import KObject
from . import bookinfo, stagepick
from .sampling import Judgement, Trace, diagnosis, expectation, judge, report, routing_trace

TITLE = "<title>Simple Bookstore App</title>"
USERS = (("anonymous", None), ("jason", "jason"), ("another user", "mike"))


def _classes() -> dict[str, Any]:
    from ..traffic.classes import RequestClass

    return {label: RequestClass.logged_in(user) if user else RequestClass.anonymous()
            for label, user in USERS}


def _oracle(ctx: Context) -> Any:
    """Bookinfo's oracle, trusting only pod names the cluster lists for that version."""
    from ..traffic.bookinfo_oracle import BookinfoOracle

    pods: dict[str, set[str]] = {}
    for obj in live_of(ctx).objects():
        if obj.kind == "Pod" and obj.labels.get("app") == "reviews":
            pods.setdefault(obj.labels.get("version", ""), set()).add(obj.name)
    return BookinfoOracle(pods)


def _guard(fn: Callable[[Context], CheckReport]) -> Callable[[Context], CheckReport]:
    """Unreachable gateway or API: the check is an error (not gradable), never a zero."""

    def wrapped(ctx: Context) -> CheckReport:
        from ..cluster.connect import ClusterError
        from ..traffic.sampler import GatewayUnreachable

        live = live_of(ctx)
        if live.gateway_error:
            return CheckReport(Outcome.ERROR, f"gateway unreachable: {live.gateway_error}")
        try:
            return fn(ctx)
        except GatewayUnreachable as exc:
            return CheckReport(Outcome.ERROR, f"the gateway at {live.gateway_url} does not "
                               f"answer: {exc}")
        except ClusterError as exc:
            return CheckReport(Outcome.ERROR, f"the cluster API failed: {exc}")

    wrapped.__doc__ = fn.__doc__
    wrapped.__name__ = fn.__name__
    return wrapped


@_guard
def productpage_reachable(ctx: Context) -> CheckReport:
    """MG401: /productpage answers 200 with the Bookinfo title, reviews and details."""
    live = live_of(ctx)
    oracle = _PageOracle(_oracle(ctx))
    samples = live.sampler().sample(_classes()["anonymous"], 10, oracle)
    bad = [s for s in samples if s.status != 200 or s.problems]
    evidence = {"requests": len(samples), "gateway_url": live.gateway_url,
                "statuses": {str(s.status): sum(x.status == s.status for x in samples)
                             for s in samples}}
    if not bad:
        return CheckReport(Outcome.PASSED, f"http://{live.gateway_url}/productpage answers with "
                           f"the Bookinfo page ({len(samples)} requests)", evidence=evidence)
    evidence["diagnosis"] = diagnosis(samples, _trace(ctx, "anonymous"))
    return CheckReport(Outcome.FAILED, f"{len(bad)} of {len(samples)} answers were not a whole "
                       "Bookinfo page",
                       [Finding(evidence["diagnosis"],
                                hint="Check `kubectl get pods` (all 2/2 Running) and the "
                                     "bookinfo gateway and VirtualService.")], evidence)


class _PageOracle:
    """The Bookinfo oracle plus the title and the details section."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def classify(self, response: Any) -> Any:
        result = self.inner.classify(response)
        problems = list(result.problems)
        text = response.text if response.status_code == 200 else ""
        if response.status_code == 200 and TITLE not in text:
            problems.append("no Bookinfo title")
        if "Error fetching product details" in text:
            problems.append("details unavailable")
        if result.error_page:
            problems.append("reviews unavailable")
        return type(result)(result.version, result.pod, tuple(problems), result.error_page)


def _reviews_call(user: str | None) -> Request:
    """productpage's call to reviews for a page ``user`` (None: anonymous) asked for."""
    return Request.make("reviews", "/reviews/0", "GET", {"end-user": user} if user else {})


def _expected(model: RoutingModel, user: str | None, namespace: str) -> tuple[dict, bool]:
    outcome = model.from_mesh(_reviews_call(user), source_namespace=namespace)
    return expectation(outcome.versions()), outcome.errors() > 0


def _trace(ctx: Context, label: str) -> Trace:
    """The routing trace of one kind of user's pages: the gateway and the reviews call."""
    return routing_trace(ctx, _classes()[label], [_reviews_call(dict(USERS)[label])])


def _judge(ctx: Context, label: str, wanted: dict[str, float], oracle: Any, *,
           errors_expected: bool = False) -> Judgement:
    """Judge the pages one kind of user (a key of `USERS`) gets."""
    return judge(live_of(ctx), _classes()[label], wanted, oracle, label,
                 errors_expected=errors_expected, trace=_trace(ctx, label))


@_guard
def routing_observed(ctx: Context) -> CheckReport:
    """MG402: each kind of user sees the reviews versions the applied routing implies."""
    live = live_of(ctx)
    model = RoutingModel(live.objects(), ingress_labels=ctx.settings.ingress_labels)
    oracle = _oracle(ctx)
    judgements = []
    for label, user in USERS:
        wanted, errors = _expected(model, user, live.namespace)
        if not wanted:
            judgements.append(Judgement(label, False, False, f"{label}: the applied routing "
                                        "sends reviews traffic nowhere (all errors)"))
            continue
        judgements.append(_judge(ctx, label, wanted, oracle, errors_expected=errors))
    return report(judgements, "observed versions match the applied routing",
                  "Compare `kubectl get vs reviews -o yaml` with what you meant to apply.")


def settle_probe(ctx: Context, cls: Any, oracle: Any, versions: set[str]
                 ) -> Callable[[], bool]:
    """A batch of 8 whose classified answers all fall in ``versions``."""
    def probe() -> bool:
        samples = live_of(ctx).sampler().sample(cls, 8, oracle)
        return all(s.version in versions for s in samples)
    return probe


def _staged(ctx: Context, stage: list[KObject], run: Callable[[], CheckReport],
            what: str, probe: Callable[[], bool] | None = None) -> CheckReport:
    """Run ``run`` with the stage applied (lab always, cluster with --apply-stages); on a
    cluster, ``probe`` is polled until the change shows before the deciding sample."""
    from ..live.stagerun import applied, journal_path, placed, settle, stage_objects

    live = live_of(ctx)
    if live.kind == "cluster" and not live.apply_stages:
        return CheckReport(Outcome.SKIPPED, "needs --apply-stages: the grader would apply the "
                           f"{what} stage to the cluster (MG402 judges what is applied now)")
    if not stage:
        kind = "HTTPRoute" if bookinfo.gateway_api(ctx) else "VirtualService"
        return CheckReport(Outcome.FAILED, f"no {what} stage in the submission to apply",
                           [Finding(f"no routing object implements the {what} stage",
                                    hint=f"Commit the {kind} file of this step.")])
    objects = stage_objects(stage, ctx.infra(), live.namespace)
    removed = [o for o in stagepick.displaced(ctx, stage)  # only where restore() reaches
               if o.metadata.get("namespace") in (None, "", live.namespace)]
    journal = None if live.kind == "lab" else journal_path(live.out_dir, live.run_id)
    with applied(live, objects, journal, placed(removed, live.namespace)):
        live.objects(refresh=True)
        waited = settle(live, probe) if probe is not None else 0.0
        result = run()
    result.evidence["stage"] = [f"{s.ref} ({s.where})" for s in stage]
    if removed:
        result.evidence["taken_out"] = [f"{o.ref} ({o.where})" for o in removed]
    result.evidence["settle_s"] = round(waited, 2)
    return result


def _all_to(ctx: Context, stage: list[KObject], version: str, users: tuple[str, ...],
            what: str) -> CheckReport:
    def run() -> CheckReport:
        oracle = _oracle(ctx)
        return report([_judge(ctx, u, {version: 1.0}, oracle) for u in users],
                      f"every page shows reviews {version}",
                      f"The {what} stage should send every reviews request to {version}.")
    return _staged(ctx, stage, run, what,
                   settle_probe(ctx, _classes()[users[0]], _oracle(ctx), {version}))


@_guard
def all_v1_observed(ctx: Context) -> CheckReport:
    """MG403: with the all-v1 stage applied, every page shows reviews v1."""
    return _all_to(ctx, stagepick.all_v1(ctx), "v1", ("anonymous", "jason"), "all-v1")


@_guard
def jason_v2_observed(ctx: Context) -> CheckReport:
    """MG404: with the jason stage applied, jason sees v2 and others v1."""
    stage = stagepick.jason(ctx)

    def run() -> CheckReport:
        oracle = _oracle(ctx)
        return report([_judge(ctx, "jason", {"v2": 1.0}, oracle),
                       _judge(ctx, "anonymous", {"v1": 1.0}, oracle),
                       _judge(ctx, "another user", {"v1": 1.0}, oracle)],
                      "jason sees v2, everyone else v1",
                      "Log in as jason: the end-user header comes from productpage's session.")
    return _staged(ctx, [stage] if stage else [], run, "jason",
                   settle_probe(ctx, _classes()["jason"], _oracle(ctx), {"v2"}))


@_guard
def shift_50_observed(ctx: Context) -> CheckReport:
    """MG405: with the 50/50 stage applied, the observed v1/v3 split is 50/50."""
    wanted = _normalise(ctx.settings.expected_split or {"v1": 50, "v3": 50})
    stage = stagepick.split(ctx, wanted)

    def run() -> CheckReport:
        return report([_judge(ctx, "anonymous", wanted, _oracle(ctx))],
                      "the observed split is consistent with "
                      + "/".join(f"{v} {s:.0%}" for v, s in wanted.items()),
                      "Weights 50 and 50 on subsets v1 and v3, and both subsets defined.")
    return _staged(ctx, [stage] if stage else [], run, "50/50",
                   settle_probe(ctx, _classes()["anonymous"], _oracle(ctx), set(wanted)))


@_guard
def shift_100_observed(ctx: Context) -> CheckReport:
    """MG406: with the 100% v3 stage applied, every page shows v3."""
    stage = stagepick.all_to(ctx, "v3")
    return _all_to(ctx, [stage] if stage else [], "v3", ("anonymous", "jason"), "100% v3")


def _normalise(split: dict[str, float]) -> dict[str, float]:
    total = sum(split.values())
    return {k: v / total for k, v in split.items()} if total else {}
