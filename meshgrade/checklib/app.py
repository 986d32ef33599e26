"""MG211-MG215: the student's own two-version application (Part 2)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from ..grading.context import Context
from ..grading.results import CheckReport, Outcome
from ..routing import Outcome as Routed
from ..submission.objects import KObject
from ..submission.podgroups import PodGroup, selected_groups
from .common import as_dict, as_list, finding, label_map
from .hosts import resolve_service
from .probes import binds_gateway, claims_mesh_host, header_rules, hosts, paths
from .stages import describe, gateway_outcome, mesh_outcome, seen, single_version
from .vsparts import destinations

BOOKINFO = {"productpage", "reviews", "ratings", "details"}
SYSTEM_NAMESPACES = {"istio-system", "kube-system", "kube-public"}

P = ParamSpec("P")


@dataclass
class App:
    """The Part 2 application: its Service, the pods behind it, and why it was picked."""

    service: KObject
    groups: list[PodGroup]
    reason: str = ""

    @property
    def versions(self) -> list[str]:
        return sorted({g.version for g in self.groups if g.version})


@dataclass
class _Routing:
    """The routing stages that address one candidate, and the rules they have for it."""

    by: list[KObject] = field(default_factory=list)
    header: bool = False
    weighted: bool = False

    @property
    def tier(self) -> int:
        """0: a header and a weighted rule route to it; 1: routed; 2: not routed."""
        return 0 if self.header and self.weighted else 1 if self.by else 2


def _candidates(ctx: Context) -> list[App]:
    """Services of the submission over two workloads whose pods differ by version."""
    out = []
    for svc in ctx.index.latest("Service"):
        if svc.origin == "baseline" or svc.namespace in SYSTEM_NAMESPACES:
            continue
        if ctx.settings.app_service and svc.name != ctx.settings.app_service:
            continue
        behind = _behind(ctx, svc)
        versions = {g.version for g in behind if g.version}
        if len({g.workload for g in behind}) >= 2 and len(versions) >= 2:
            out.append(App(svc, behind))
    return out


def _behind(ctx: Context, svc: KObject) -> list[PodGroup]:
    groups = [g for g in ctx.pods_in(svc.namespace) if g.source.origin != "baseline"]
    return selected_groups(groups, label_map(svc.spec.get("selector")), svc.namespace)


def _rule_targets(ctx: Context, stage: KObject
                  ) -> tuple[list[KObject], list[list[tuple[KObject, bool]]]]:
    """(Services the stage's hosts or parent refs name, per rule the Services it routes to,
    each with whether its weight is above 0)."""
    named: list[KObject | None] = []
    rules: dict[str, list[tuple[KObject | None, bool]]] = {}
    if stage.kind == "VirtualService":
        named = [resolve_service(ctx, str(h), stage.namespace)
                 for h in as_list(stage.spec.get("hosts"))]
        for dest in destinations(stage):
            if not dest.path.endswith(".mirror") and isinstance(dest.host, str):
                positive = isinstance(dest.weight, int) and dest.weight > 0
                rules.setdefault(dest.path.rsplit(".route[", 1)[0], []).append(
                    (resolve_service(ctx, dest.host, stage.namespace), positive))
    elif stage.kind == "HTTPRoute":
        named = [_service_ref(ctx, r, stage.namespace)
                 for r in as_list(stage.spec.get("parentRefs"))]
        for i, rule in enumerate(as_list(stage.spec.get("rules"))):
            refs = [as_dict(r) for r in as_list(as_dict(rule).get("backendRefs"))]
            rules[str(i)] = [(_service_ref(ctx, r, stage.namespace),
                              not isinstance(r.get("weight"), int) or r["weight"] > 0)
                             for r in refs]
    return ([s for s in named if s is not None],
            [[(s, w) for s, w in rule if s is not None] for rule in rules.values()])


def _service_ref(ctx: Context, ref: Any, namespace: str) -> KObject | None:
    """The Service a Gateway API reference (parentRef or backendRef) names, if any."""
    ref = as_dict(ref)
    if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", None):
        return None
    return ctx.index.get("Service", str(ref.get("namespace") or namespace), str(ref.get("name")))


def _routing(ctx: Context, apps: list[App]) -> dict[int, _Routing]:
    """Per candidate (by ``id`` of its Service): the stages that address it, directly or
    through a Service over some of its pods (a per-version Service)."""
    workloads = {id(a.service): {g.workload for g in a.groups} for a in apps}
    out = {id(a.service): _Routing() for a in apps}
    with_workload: dict[tuple[str, str], list[App]] = {}
    for app in apps:
        for w in workloads[id(app.service)]:
            with_workload.setdefault((app.service.namespace, w), []).append(app)
    owners: dict[int, list[App]] = {}

    def apps_of(svc: KObject) -> list[App]:
        """The candidates ``svc`` addresses: its own, or those holding every pod behind it."""
        if id(svc) not in owners:
            behind = {g.workload for g in _behind(ctx, svc)}
            some = next(iter(behind), None)
            found = [a for a in with_workload.get((svc.namespace, some), [])
                     if behind <= workloads[id(a.service)]] if some is not None else []
            ids = {id(a) for a in found}
            owners[id(svc)] = [a for a in apps if a.service is svc or id(a) in ids]
        return owners[id(svc)]

    for stage in ctx.routing_stages():
        named, rules = _rule_targets(ctx, stage)
        touched = {id(a) for s in [*named, *(s for rule in rules for s, _w in rule)]
                   for a in apps_of(s)}
        for app in apps:
            if id(app) not in touched:
                continue
            row = out[id(app.service)]
            hits = [[w for s, w in rule if any(a is app for a in apps_of(s))]
                    for rule in rules]
            row.by.append(stage)
            row.header = row.header or bool(header_rules(stage))
            row.weighted = row.weighted or any(sum(hit) >= 2 for hit in hits)
    return out


def _stage_name(stage: KObject) -> str:
    return f"the {stage.kind} `{stage.name}` ({stage.where})"


def _names(apps: list[App]) -> str:
    shown = [f"`{a.service.name}`" for a in apps[:3]]
    more = f" and {len(apps) - 3} more" if len(apps) > 3 else ""
    return (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]) + more


def _reason(ctx: Context, app: App, rest: list[App], routing: dict[int, _Routing]) -> str:
    """Why ``app`` was picked over ``rest``, in one sentence."""
    svc = app.service
    mine = routing[id(svc)]
    parts = ["the rubric pins app_service"] if ctx.settings.app_service else []
    if mine.by:
        stages = " and ".join(_stage_name(s) for s in mine.by[:3])
        more = f" and {len(mine.by) - 3} more" if len(mine.by) > 3 else ""
        parts.append(f"{stages}{more} route{'s' if len(mine.by) == 1 else ''} to it"
                     + (", with a header rule and a weighted rule" if mine.tier == 0 else ""))
    elif not ctx.settings.app_service:
        parts.append("no routing object of the submission addresses a two-version Service, "
                     "so the first one loaded was taken")
    else:
        parts.append("no routing object addresses it")
    groups: dict[str, list[App]] = {}
    for other in rest:
        tier = routing[id(other.service)].tier
        why = ("is Bookinfo's" if other.service.name in BOOKINFO
               and svc.name not in BOOKINFO else "is not routed" if tier == 2
               else "lacks a header rule or a weighted rule" if tier > mine.tier
               else f"is routed as well, `{svc.name}` comes first in the submission")
        groups.setdefault(why, []).append(other)
    for why, apps in groups.items():
        verb = why if len(apps) == 1 else why.replace("is ", "are ", 1).replace("lacks", "lack")
        parts.append(f"{_names(apps)} {verb}")
    return f"picked service `{svc.name}` in namespace {svc.namespace}: " + "; ".join(parts)


def find_app(ctx: Context) -> tuple[App | None, str]:
    """The student's application: a Service over two workloads that differ by version. The
    rubric's ``app_service`` pins it; else the one the routing objects address wins (one
    with a header rule and a weighted rule first), Bookinfo's names last, then load order.
    The app's ``reason`` says why it was picked."""
    return ctx.memo("app", lambda: _find_app(ctx))


def _find_app(ctx: Context) -> tuple[App | None, str]:
    candidates = _candidates(ctx)
    routing = _routing(ctx, candidates)
    candidates.sort(key=lambda a: (a.service.name in BOOKINFO, routing[id(a.service)].tier,
                                   a.service.order, a.service.namespace, a.service.name))
    if candidates:
        app, rest = candidates[0], candidates[1:]
        app.reason = _reason(ctx, app, rest, routing)
        return app, ""
    if ctx.settings.app_service:
        return None, f"Service '{ctx.settings.app_service}' (rubric app_service) was not found " \
                     "over two workloads with different version labels"
    return None, "no Service of the submission selects two Deployments whose pods have " \
                 "different version labels"


def with_app(report: CheckReport, app: App) -> CheckReport:
    """``report`` with the chosen application and why in its evidence and message."""
    report.evidence["app"] = {"service": app.service.name, "namespace": app.service.namespace,
                              "reason": app.reason}
    report.message = f"{report.message} ({app.reason})" if report.message else app.reason
    return report


def notes_app(fn: Callable[P, CheckReport]) -> Callable[P, CheckReport]:
    """A check (its ``ctx`` first) whose report says which application it graded and why
    (see `with_app`)."""

    @functools.wraps(fn)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> CheckReport:
        report = fn(*args, **kwargs)
        ctx = kwargs["ctx"] if "ctx" in kwargs else args[0]
        app, _why = find_app(ctx) if isinstance(ctx, Context) else (None, "")
        return with_app(report, app) if app is not None else report

    return wrapped


def no_stage_routes(ctx: Context, app: App, check_id: str) -> CheckReport:
    """The failed report of a Part 2 routing check (its template ``none``) that no stage
    passes, saying what each stage does with a plain request."""
    f = finding(check_id, "none", service=app.service.name, seen=seen(
        app_stages(ctx, app), lambda s: describe(next(app_requests(ctx, s, app))({}))))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


def need_app(ctx: Context) -> App | CheckReport:
    """The application, or the failed report of a check that needs one."""
    app, why = find_app(ctx)
    if app is None:
        f = finding("MG211", "none", why=why)
        return CheckReport(Outcome.FAILED, "no application found", [f])
    return app


def _app_share(outcome: Routed, app: App) -> float:
    names = {g.workload for g in app.groups}
    return sum(s for t, s in outcome.shares.items() if t.status == 200 and t.workload in names)


def app_stages(ctx: Context, app: App) -> list[KObject]:
    return [s for s in ctx.routing_stages()
            if claims_mesh_host(s, app.service) or binds_gateway(s)]


@dataclass(frozen=True)
class Ask:
    """A request the stage handles: who sends it, what it asks for, and (called with
    headers) where it ends in the routing model."""

    caller: str
    request: str
    outcome: Callable[[dict[str, str]], Routed]

    def __call__(self, headers: dict[str, str]) -> Routed:
        return self.outcome(headers)


def app_requests(ctx: Context, stage: KObject, app: App) -> Iterator[Ask]:
    """The mesh calls and gateway calls the stage handles, in that order."""
    name = app.service.name
    if claims_mesh_host(stage, app.service):
        yield Ask(f"a sidecar in {ctx.settings.namespace}", f"http://{name}/",
                  lambda h: mesh_outcome(ctx, stage, name, h))
    if binds_gateway(stage):
        for host in hosts(stage):
            for path in paths(stage):
                yield Ask("ingress gateway", f"http://{host}{path}",
                          _via_gateway(ctx, stage, host, path))


def _via_gateway(ctx: Context, stage: KObject, host: str, path: str
                 ) -> Callable[[dict[str, str]], Routed]:
    """Where a request for ``host`` and ``path`` (with the headers given) ends at the
    ingress gateway with ``stage``."""
    return lambda headers: gateway_outcome(ctx, stage, host, path, headers)


@dataclass(frozen=True)
class HeaderStage:
    stage: KObject
    header: str
    value: str
    with_version: str
    without_version: str


def find_header_stage(ctx: Context, app: App) -> HeaderStage | None:
    """The first stage routing a header to one version and everything else to the other."""
    return ctx.memo(("header-stage", id(app.service)), lambda: _find_header_stage(ctx, app))


def _find_header_stage(ctx: Context, app: App) -> HeaderStage | None:
    for stage in app_stages(ctx, app):
        for rule in header_rules(stage):
            for ask in app_requests(ctx, stage, app):
                with_h = single_version(ask({rule.name: rule.value}))
                without = single_version(ask({}))
                if with_h and without and with_h != without and {with_h, without} <= set(
                        app.versions):
                    return HeaderStage(stage, rule.name, rule.value, with_h, without)
    return None


def find_weighted_stage(ctx: Context, app: App) -> tuple[KObject, dict[str, float]] | None:
    """The first stage splitting the app's plain traffic over two versions or more."""
    return ctx.memo(("weighted-stage", id(app.service)),
                    lambda: _find_weighted_stage(ctx, app))


def _find_weighted_stage(ctx: Context, app: App) -> tuple[KObject, dict[str, float]] | None:
    for stage in app_stages(ctx, app):
        for ask in app_requests(ctx, stage, app):
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

