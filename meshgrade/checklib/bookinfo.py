"""MG201-MG206: the Bookinfo routing tasks, judged on the routing model per stage over the
versions actually deployed, in either API: a DestinationRule subset (classic) or a
per-version Service that HTTPRoutes name (Gateway API) is how a version is addressed, and a
service with one deployed version is at that version without any rule."""

from __future__ import annotations

from collections.abc import Callable

from ..grading.context import Context
from ..grading.results import CheckReport, Outcome
from ..routing import Outcome as Routed
from ..submission.kinds import GATEWAY_API_GATEWAY, GATEWAY_API_GROUP
from ..submission.objects import KObject
from ..submission.podgroups import PodGroup, selected_groups
from .common import as_dict, as_list, finding, label_map
from .hosts import resolve_service
from .probes import claims_mesh_host, hosts
from .stages import describe, gateway_outcome, mesh_outcome, only, seen, unrouted_outcome

SERVICES = ("productpage", "reviews", "ratings", "details")
GATEWAY_PATHS = ("/productpage", "/login", "/logout", "/static/tailwind/tailwind.css",
                 "/api/v1/products")
JASON = {"end-user": "jason"}
OTHER_USERS: tuple[dict[str, str], ...] = ({}, {"end-user": "mike"}, {"end-user": "Jason"},
                                          {"end-user": "jasmine"})
EVERYONE = (JASON, *OTHER_USERS)


def bookinfo_service(ctx: Context, name: str) -> KObject | None:
    return ctx.index.get("Service", ctx.settings.namespace, name)


def stages_for(ctx: Context, name: str) -> tuple[KObject | None, list[KObject]]:
    """Service ``name`` and the submission's routing stages for it (computed once)."""
    def find() -> tuple[KObject | None, list[KObject]]:
        svc = bookinfo_service(ctx, name)
        return svc, [] if svc is None else [
            s for s in ctx.routing_stages() if claims_mesh_host(s, svc)]

    svc, stages = ctx.memo(("bookinfo-stages", name), find)
    return svc, list(stages)


def gateway_api(ctx: Context, name: str | None = None) -> bool:
    """Whether the student works in the Gateway API, for service ``name`` if given: its mesh
    routes are HTTPRoutes; without any, the submission has HTTPRoutes or a Gateway API
    Gateway, no VirtualService, and no DestinationRule for ``name``."""
    if name is not None:
        svc, stages = stages_for(ctx, name)
        if stages:
            return all(s.kind == "HTTPRoute" for s in stages)
        if svc is not None and any(_dr_target(ctx, dr) is svc for dr in ctx.index.latest(
                "DestinationRule") if dr.origin != "baseline"):
            return False
    own = {o.kind_key for o in ctx.index.submitted}
    return "VirtualService" not in own and bool(own & {"HTTPRoute", GATEWAY_API_GATEWAY})


def api_message_key(base: str, gwapi: bool) -> str:
    """The catalogue message for the API the student uses (``-httproute``: Gateway API)."""
    return f"{base}-httproute" if gwapi else base


def stage_passed(stage: KObject, what: str) -> CheckReport:
    return CheckReport(Outcome.PASSED, f"{what}: {stage.ref} in {stage.where}",
                       evidence={"stage": stage.ref, "file": stage.file, "line": stage.line})


def _detached(stage: KObject, name: str) -> str:
    """Why an HTTPRoute naming Service ``name`` as its parent is not attached to it, or ""."""
    for ref in as_list(stage.spec.get("parentRefs")) if stage.kind == "HTTPRoute" else []:
        ref = as_dict(ref)
        if ref.get("kind") == "Service" and ref.get("name") == name and \
                ref.get("group", GATEWAY_API_GROUP) not in ("", "core"):
            group = f"group '{ref['group']}'" if "group" in ref else \
                f"no group, so group {GATEWAY_API_GROUP}"
            return (f" (not attached: its parentRef of kind Service has {group}; Istio 1.19 "
                    "and later take a Service parent only with group \"\")")
    return ""


def what_stages_did(ctx: Context, stages: list[KObject], name: str, show: Callable[[KObject], str]
          ) -> str:
    """What the stages routing ``name`` did; with none, where its requests go without."""
    if not stages:
        return (" (no routing object for it in the submission; without one its requests "
                f"reach {describe(unrouted_outcome(ctx, name))})")
    return seen(stages, lambda s: show(s) + _detached(s, name))


def mesh_described(ctx: Context, name: str) -> Callable[[KObject], str]:
    """Where a stage alone sends a sidecar's plain requests for ``name``, in words (a ``show``
    for :func:`what_stages_did`)."""
    return lambda stage: describe(mesh_outcome(ctx, stage, name))


# -- MG201 --------------------------------------------------------------------------------

def why_not_routed(ctx: Context, stage: KObject | None) -> str:
    if stage is None:
        return " (no VirtualService or HTTPRoute is bound to a gateway)"
    outcome = gateway_outcome(ctx, stage, hosts(stage)[0], GATEWAY_PATHS[0])
    reasons = sorted({t.reason for t in outcome.shares if t.status != 200 and t.reason})
    return f" ({GATEWAY_PATHS[0]} gets {describe(outcome)}: {'; '.join(reasons)})" if reasons \
        else ""


def reaches(outcome: Routed, service: str) -> bool:
    return abs(sum(share for t, share in outcome.shares.items()
                   if t.status == 200 and t.service == service) - 1.0) < 1e-9


# -- MG202 --------------------------------------------------------------------------------

def pods_of(ctx: Context, svc: KObject) -> list[PodGroup]:
    return selected_groups(ctx.pods_in(svc.namespace), label_map(svc.spec.get("selector")),
                           svc.namespace)


def _dr_target(ctx: Context, dr: KObject) -> KObject | None:
    host = dr.spec.get("host")
    return resolve_service(ctx, host, dr.namespace) if isinstance(host, str) else None


def _only_version(groups: list[PodGroup], version: str) -> bool:
    return bool(groups) and all(g.version == version for g in groups)


def addressed_by(ctx: Context, svc: KObject, pods: list[PodGroup], version: str,
                  gwapi: bool) -> str | None:
    """What sends requests to exactly the ``version`` pods of ``svc``: a subset of its
    DestinationRule, or (Gateway API) another Service selecting only those pods."""
    if not gwapi:
        for dr in ctx.index.latest("DestinationRule"):
            if _dr_target(ctx, dr) is not svc:
                continue
            for subset in as_list(dr.spec.get("subsets")):
                labels = label_map(as_dict(subset).get("labels"))
                chosen = [g for g in pods
                          if all(g.label_map.get(k) == v for k, v in labels.items())]
                if _only_version(chosen, version):
                    return f"subset {as_dict(subset).get('name')} of {dr.ref}"
        return None
    own = {id(g) for g in pods}
    for other in ctx.index.latest("Service"):
        if other.namespace != svc.namespace or other.name == svc.name:
            continue
        chosen = pods_of(ctx, other)
        if _only_version(chosen, version) and all(id(g) in own for g in chosen):
            return f"{other.ref}"
    return None


# -- MG203-MG206 --------------------------------------------------------------------------

def all_requests(ctx: Context, stage: KObject, host: str, version: str) -> bool:
    return all(only(mesh_outcome(ctx, stage, host, h), version) for h in EVERYONE)


def reviews_split(ctx: Context, check_id: str, wanted: dict[str, float], what: str
                   ) -> CheckReport:
    _svc, stages = stages_for(ctx, "reviews")
    for stage in stages:
        if all(_close(mesh_outcome(ctx, stage, "reviews", h).versions(), wanted)
               for h in EVERYONE):
            report = stage_passed(stage, what)
            report.evidence["expected"] = wanted
            return report
    key = api_message_key("missing", gateway_api(ctx, "reviews"))
    f = finding(check_id, key, seen=what_stages_did(
        ctx, stages, "reviews", mesh_described(ctx, "reviews")))
    return CheckReport(Outcome.FAILED, "no stage of the submission does this", [f])


def _close(got: dict[str, float], wanted: dict[str, float]) -> bool:
    keys = set(got) | set(wanted)
    return all(abs(got.get(k, 0.0) - wanted.get(k, 0.0)) < 1e-9 for k in keys)

