"""Routing diagrams of the stages the Part 1 and Part 2 checks found
(``meshgrade.routing.diagram``).

Each stage is evaluated as the traffic checks apply it: the stage's objects over the
submission's final state, without the routing objects the stage replaces. The shares per
request class come from the routing model; the observed shares from the traffic checks'
evidence; an edge is marked with the checks that failed on it (a static check where the
model differs from the task, a traffic check where the samples differ from what was wanted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..grading.context import Context
from ..grading.results import CheckResult, Outcome
from ..routing import Outcome as Routed
from ..routing import Request, RoutingModel
from ..routing.diagram import Diagram, Hop, Target
from ..submission.kinds import ROUTE_KINDS
from ..submission.objects import KObject
from ..submission.podgroups import selected_groups
from . import bookinfo, stagepick
from .app import App, Ask, app_requests, find_app, find_header_stage, find_weighted_stage
from .common import label_map
from .probes import binds_gateway, hosts
from .stages import single_version

USERS: dict[str, dict[str, str]] = {"anonymous": {}, "jason": {"end-user": "jason"},
                                    "another user": {"end-user": "mike"}}
PLAIN = "plain requests"
WITHOUT = "without the header"
DEFAULT_HOST = "192.168.49.2"  # what probes.hosts gives for "*"
OFF = 0.05  # an observed share this far from the wanted one is an edge the check failed on
Wanted = dict[str, dict[str, float]]  # request class -> version -> share


@dataclass(frozen=True)
class _Part1Stage:
    key: str
    title: str
    checks: tuple[str, str]
    services: tuple[str, ...]  # the services whose routing the stage is about


def build(ctx: Context, results: Mapping[str, CheckResult]) -> list[Diagram]:
    """A diagram per stage found, for the stages the rubric's checks are about."""
    return [*_part1(ctx, results), *_part2(ctx, results)]


# -- evaluation ---------------------------------------------------------------------------

def staged_routing(ctx: Context, stage: list[KObject]) -> list[KObject]:
    """The routing objects with ``stage`` applied and those it replaces taken out, as the
    traffic checks apply it."""
    keys = {s.key for s in stage}
    out = {id(o) for o in stagepick.displaced(ctx, stage)}
    return [*[o for o in ctx.index.latest(*ROUTE_KINDS) if o.key not in keys
              and id(o) not in out], *stage]


def _versions(ctx: Context, service: KObject | None) -> list[str]:
    if service is None:
        return []
    groups = selected_groups(ctx.pods_in(service.namespace),
                             label_map(service.spec.get("selector")), service.namespace)
    return sorted({g.version for g in groups if g.version})


def _targets(outcomes: Mapping[str, Routed], service: str, deployed: list[str]
             ) -> list[Target]:
    """A target per deployed version (reached or not) and per error status reached."""
    found = {v: Target(v, shares=dict.fromkeys(outcomes, 0.0)) for v in deployed}
    for cls, outcome in outcomes.items():
        for t, share in outcome.shares.items():
            if t.status == 200:
                label = t.version or t.workload
                label = label if t.service in (service, "") else f"{t.service} {label}"
            else:
                label = str(t.status)
            target = found.setdefault(label, Target(label, t.status != 200, reason=t.reason,
                                                    shares=dict.fromkeys(outcomes, 0.0)))
            target.shares[cls] += share
    return sorted(found.values(), key=lambda t: (t.error, t.label))


def _hop(caller: str, service: str, request: str, outcomes: Mapping[str, Routed],
         deployed: list[str], wanted: Wanted | None = None) -> Hop:
    hop = Hop(caller, service, request, _targets(outcomes, service, deployed))
    if wanted:
        for target in hop.targets:
            target.wanted = {cls: want.get(target.label, 0.0) for cls, want in wanted.items()}
    return hop


def _reached(hop: Hop) -> str:
    """``productpage v1``: the hop's service and the versions that get its requests."""
    versions = [t.label for t in hop.targets if not t.error and any(t.shares.values())]
    return f"{hop.service} {', '.join(versions)}" if versions else hop.service


# -- check results on the edges -------------------------------------------------------------

def _mark_static(hop: Hop, check: CheckResult | None) -> None:
    """Edges where the model differs from what the task wants, when the check failed."""
    if check is None or check.outcome is not Outcome.FAILED:
        return
    for target in hop.targets:
        if any(abs(target.shares.get(c, 0.0) - w) > 1e-9 for c, w in target.wanted.items()):
            target.failed.append(check.id)


def _mark_errors(hop: Hop, check: CheckResult | None) -> None:
    """The error targets of a hop that a failed ``check`` is about."""
    if check is not None and check.outcome is Outcome.FAILED:
        for target in hop.targets:
            if target.error and any(target.shares.values()):
                target.failed.append(check.id)


def _evidence_parts(evidence: dict[str, Any], classes: list[str]) -> dict[str, dict[str, Any]]:
    """Sampled evidence per request class, in class order: one judgement's (``counts`` at
    the top: the first class) or several, keyed by class."""
    if "counts" in evidence:
        return {classes[0]: evidence} if classes else {}
    return {c: evidence[c] for c in classes
            if isinstance(evidence.get(c), dict) and isinstance(evidence[c].get("counts"), dict)}


def observe(hop: Hop, check: CheckResult | None, classes: list[str]) -> None:
    """Observed shares from a traffic check's samples; edges off by OFF or more for a class
    that failed are marked."""
    if check is None or check.outcome not in (Outcome.PASSED, Outcome.FAILED):
        return
    parts = _evidence_parts(check.evidence, classes)
    if not parts:
        return
    hop.observed_by = check.id
    judged = any(t.wanted for t in hop.targets)
    for cls, part in parts.items():
        counts = {str(k): v for k, v in part["counts"].items() if isinstance(v, int)}
        errors = part.get("error_count") if isinstance(part.get("error_count"), int) else 0
        if errors:
            counts["errors"] = errors
        total = max(int(part.get("requests") or 0), sum(counts.values()), 1)
        by_label = {t.label: t for t in hop.targets}
        for label in counts.keys() - by_label.keys():
            hop.targets.append(Target(label, label == "errors", shares=dict.fromkeys(classes, 0.0),
                                      wanted=dict.fromkeys(classes, 0.0) if judged else {}))
        bad = part.get("decision") != "pass" or float(part.get("error_share") or 0) > OFF
        for target in hop.targets:
            n = counts.get(target.label, 0)
            target.observed[cls] = n / total
            if n:
                target.counts[cls] = n
            want = target.wanted.get(cls, target.shares.get(cls, 0.0))
            if check.outcome is Outcome.FAILED and bad and \
                    abs(target.observed[cls] - want) >= OFF and check.id not in target.failed:
                target.failed.append(check.id)
    hop.targets.sort(key=lambda t: (t.error, t.label))


def _stage_refs(stage: list[KObject]) -> list[str]:
    return [f"{s.ref} ({s.where})" for s in stage]


# -- Part 1 ------------------------------------------------------------------------------------

def _part1_stages(ctx: Context) -> list[tuple[_Part1Stage, list[KObject], Wanted]]:
    split = ctx.settings.expected_split or {"v1": 50, "v3": 50}
    total = sum(split.values()) or 1.0
    split = {k: v / total for k, v in split.items()}
    every = list(USERS)
    jason = stagepick.jason(ctx)
    half = stagepick.split(ctx, split)
    v3 = stagepick.all_to(ctx, "v3")
    return [
        (_Part1Stage("part1-all-v1", "every service to v1", ("MG203", "MG403"),
                     bookinfo.SERVICES), stagepick.all_v1(ctx), {c: {"v1": 1.0} for c in every}),
        (_Part1Stage("part1-jason", "jason to reviews v2, everyone else to v1",
                     ("MG204", "MG404"), ("reviews",)), [jason] if jason else [],
         {c: {"v2" if c == "jason" else "v1": 1.0} for c in every}),
        (_Part1Stage("part1-split", "reviews split " + " / ".join(
            f"{v} {s:.0%}" for v, s in split.items()), ("MG205", "MG405"), ("reviews",)),
         [half] if half else [], {c: dict(split) for c in every}),
        (_Part1Stage("part1-v3", "all reviews traffic to v3", ("MG206", "MG406"),
                     ("reviews",)), [v3] if v3 else [], {c: {"v3": 1.0} for c in every}),
    ]


def _part1(ctx: Context, results: Mapping[str, CheckResult]) -> list[Diagram]:
    out = []
    for spec, stage, wanted in _part1_stages(ctx):
        if not stage or not any(c in results for c in spec.checks):
            continue
        static, live = (results.get(c) for c in spec.checks)
        hops = _bookinfo_hops(ctx, staged_routing(ctx, stage), spec.services, wanted)
        _mark_errors(hops[0], results.get("MG201"))  # the gateway's own check
        for hop in hops[1:]:
            if hop.service in spec.services:
                _mark_static(hop, static)
            if hop.service == "reviews":  # the traffic checks classify pages by reviews
                observe(hop, live, list(USERS))
        out.append(Diagram(spec.key, "Part 1", spec.title, list(USERS),
                           [c for c in spec.checks if c in results], _stage_refs(stage),
                           hops))
    return out


def _bookinfo_hops(ctx: Context, routing: list[KObject], services: tuple[str, ...],
                   wanted: Wanted) -> list[Hop]:
    """The gateway's hop to productpage, then productpage's calls (and reviews' call to
    ratings) for the services the stage is about."""
    ns = ctx.settings.namespace
    model = ctx.bare_model().with_routing(routing)

    def service(name: str) -> KObject | None:
        return ctx.index.get("Service", ns, name)

    def mesh(name: str, caller: str) -> Hop:
        outcomes = {cls: model.from_mesh(Request.make(name, f"/{name}/0", "GET", headers),
                                         source_namespace=ns)
                    for cls, headers in USERS.items()}
        return _hop(caller, name, f"GET /{name}/0", outcomes, _versions(ctx, service(name)),
                    wanted if name in services else None)

    host = _entry_host(model, routing, "/productpage")
    entry = model.via_gateway(Request.make(host, "/productpage"))
    shown = "" if host == DEFAULT_HOST else f" (Host: {host})"
    first = _hop("ingress gateway", "productpage", f"GET /productpage{shown}",
                 dict.fromkeys(USERS, entry), _versions(ctx, service("productpage")))
    hops = [first]
    for name in ("details", "reviews"):
        if name in services:
            hops.append(mesh(name, _reached(first)))
    if "ratings" in services:
        hops.append(mesh("ratings", "reviews v2, v3"))
    return hops


def _entry_host(model: RoutingModel, routing: list[KObject], path: str) -> str:
    """A host the gateway takes for ``path``: the first gateway-bound routing object's that
    reaches a workload, else its first host."""
    candidates = [h for o in routing if binds_gateway(o) for h in hosts(o)]
    for host in candidates:
        if model.via_gateway(Request.make(host, path)).errors() < 1.0:
            return host
    return candidates[0] if candidates else DEFAULT_HOST


# -- Part 2 ------------------------------------------------------------------------------------

def _part2(ctx: Context, results: Mapping[str, CheckResult]) -> list[Diagram]:
    if not any(c in results for c in ("MG214", "MG215", "MG412", "MG413")):
        return []
    app, _why = find_app(ctx)
    if app is None:
        return []
    out = []
    header = find_header_stage(ctx, app)
    if header is not None and any(c in results for c in ("MG214", "MG412")):
        with_cls = f"{header.header}: {header.value}"
        sent = {with_cls: {header.header: header.value}, WITHOUT: {}}
        wanted = {with_cls: {header.with_version: 1.0}, WITHOUT: {header.without_version: 1.0}}
        ask = _ask(ctx, header.stage, app, lambda a: single_version(
            a(sent[with_cls])) == header.with_version and single_version(a({})) ==
            header.without_version)
        out.append(_app_diagram(
            ctx, app, "part2-header", f"{with_cls} to {header.with_version}, everyone else "
            f"to {header.without_version}", ("MG214", "MG412"), header.stage, ask, sent,
            wanted, results))
    weighted = find_weighted_stage(ctx, app)
    if weighted is not None and any(c in results for c in ("MG215", "MG413")):
        stage, shares = weighted
        total = sum(shares.values()) or 1.0
        split = {v: s / total for v, s in shares.items()}
        ask = _ask(ctx, stage, app, lambda a: len([s for v, s in a({}).versions().items()
                                                    if v in app.versions and s > 0]) >= 2)
        out.append(_app_diagram(
            ctx, app, "part2-weighted", "split " + " / ".join(
                f"{v} {s:.0%}" for v, s in sorted(split.items())), ("MG215", "MG413"), stage,
            ask, {PLAIN: {}}, {PLAIN: split}, results))
    return out


def _ask(ctx: Context, stage: KObject, app: App, test: Callable[[Ask], bool]) -> Ask:
    """The first request of the stage that does what the check found (else its first)."""
    asks = list(app_requests(ctx, stage, app))
    return next((a for a in asks if test(a)), asks[0])


def _app_diagram(ctx: Context, app: App, key: str, title: str, checks: tuple[str, str],
                 stage: KObject, ask: Ask, sent: dict[str, dict[str, str]], wanted: Wanted,
                 results: Mapping[str, CheckResult]) -> Diagram:
    classes = list(sent)
    request = ask.request.replace(f"http://{DEFAULT_HOST}/", "/", 1)
    hop = _hop(ask.caller, app.service.name, f"GET {request}",
               {cls: ask(headers) for cls, headers in sent.items()}, app.versions, wanted)
    _mark_static(hop, results.get(checks[0]))
    observe(hop, results.get(checks[1]), classes)
    return Diagram(key, "Part 2", title, classes, [c for c in checks if c in results],
                   _stage_refs([stage]), [hop])


__all__ = ["build", "observe", "staged_routing"]
