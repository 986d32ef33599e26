"""MG401-MG406: Bookinfo behaviour observed through the ingress gateway."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..cluster.errors import ClusterError
from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..live.sources import live_of
from ..live.stagerun import applied, journal_path, placed, settle, stage_objects
from ..routing import Request, RoutingModel
from ..submission.objects import KObject
from . import bookinfo, stagepick
from .sampling import Judgement, Trace, expectation, judge, report, routing_trace

if TYPE_CHECKING:  # requests loads only when traffic is sent
    import requests

    from ..traffic.bookinfo_oracle import BookinfoOracle
    from ..traffic.classes import RequestClass
    from ..traffic.oracles import Classification, Oracle

TITLE = "<title>Simple Bookstore App</title>"
USERS = (("anonymous", None), ("jason", "jason"), ("another user", "mike"))


def bookinfo_classes() -> dict[str, RequestClass]:
    from ..traffic.classes import RequestClass  # start-up: requests

    return {label: RequestClass.logged_in(user) if user else RequestClass.anonymous()
            for label, user in USERS}


def bookinfo_oracle(ctx: Context) -> BookinfoOracle:
    """Bookinfo's oracle, trusting only pod names the cluster lists for that version."""
    from ..traffic.bookinfo_oracle import BookinfoOracle  # start-up: requests

    pods: dict[str, set[str]] = {}
    for obj in live_of(ctx).objects():
        if obj.kind == "Pod" and obj.labels.get("app") == "reviews":
            pods.setdefault(obj.labels.get("version", ""), set()).add(obj.name)
    return BookinfoOracle(pods)


def guard(fn: Callable[[Context], CheckReport]) -> Callable[[Context], CheckReport]:
    """Unreachable gateway or API: the check is an error (not gradable), never a zero."""

    @functools.wraps(fn)
    def wrapped(ctx: Context) -> CheckReport:
        from ..traffic.sampler import GatewayUnreachable  # start-up: requests

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

    return wrapped


class PageOracle:
    """The Bookinfo oracle plus the title and the details section."""

    def __init__(self, inner: Oracle) -> None:
        self.inner = inner

    def classify(self, response: requests.Response) -> Classification:
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


def expected_shares(model: RoutingModel, user: str | None, namespace: str
                    ) -> tuple[dict[str, float], bool]:
    outcome = model.from_mesh(_reviews_call(user), source_namespace=namespace)
    return expectation(outcome.versions()), outcome.errors() > 0


def bookinfo_trace(ctx: Context, label: str) -> Trace:
    """The routing trace of one kind of user's pages: the gateway and the reviews call."""
    return routing_trace(ctx, bookinfo_classes()[label], [_reviews_call(dict(USERS)[label])])


def judge_bookinfo(ctx: Context, label: str, wanted: dict[str, float], oracle: Oracle, *,
                   errors_expected: bool = False) -> Judgement:
    """Judge the pages one kind of user (a key of `USERS`) gets."""
    return judge(live_of(ctx), bookinfo_classes()[label], wanted, oracle, label,
                 errors_expected=errors_expected, trace=bookinfo_trace(ctx, label))


def settle_probe(ctx: Context, cls: RequestClass, oracle: Oracle, versions: set[str]
                 ) -> Callable[[], bool]:
    """A batch of 8 whose classified answers all fall in ``versions``."""
    def probe() -> bool:
        samples = live_of(ctx).sampler().sample(cls, 8, oracle)
        return all(s.version in versions for s in samples)
    return probe


def not_staged(ctx: Context, what: str) -> CheckReport:
    """What a check of the ``what`` stage reports when it is not applied: skipped on a cluster
    without --apply-stages, else failed (the submission has no such stage)."""
    live = live_of(ctx)
    if live.kind == "cluster" and not live.apply_stages:
        return CheckReport(Outcome.SKIPPED, "needs --apply-stages: the grader would apply the "
                           f"{what} stage to the cluster (MG402 judges what is applied now)")
    kind = "HTTPRoute" if bookinfo.gateway_api(ctx) else "VirtualService"
    return CheckReport(Outcome.FAILED, f"no {what} stage in the submission to apply",
                       [Finding(f"no routing object implements the {what} stage",
                                hint=f"Commit the {kind} file of this step.")])


def staged(ctx: Context, stage: list[KObject], run: Callable[[], CheckReport],
           what: str, probe: Callable[[], bool] | None = None) -> CheckReport:
    """Run ``run`` with the stage applied (lab always, cluster with --apply-stages); on a
    cluster, ``probe`` is polled until the change shows before the deciding sample."""
    live = live_of(ctx)
    if not stage or (live.kind == "cluster" and not live.apply_stages):
        return not_staged(ctx, what)
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


def all_to(ctx: Context, stage: list[KObject], version: str, users: tuple[str, ...],
            what: str) -> CheckReport:
    def run() -> CheckReport:
        oracle = bookinfo_oracle(ctx)
        return report([judge_bookinfo(ctx, u, {version: 1.0}, oracle) for u in users],
                      f"every page shows reviews {version}",
                      f"The {what} stage should send every reviews request to {version}.")
    return staged(ctx, stage, run, what,
                   settle_probe(ctx, bookinfo_classes()[users[0]], bookinfo_oracle(ctx), {version}))


def normalise(split: dict[str, float]) -> dict[str, float]:
    total = sum(split.values())
    return {k: v / total for k, v in split.items()} if total else {}
