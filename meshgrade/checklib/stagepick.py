"""Which of the submission's routing stages the traffic checks apply: the one the static
check found, else the closest candidate (so a wrong 50/50 stage is still put to the test)."""

from __future__ import annotations

from ..grading.context import Context
from ..submission.kinds import ROUTE_KINDS
from ..submission.objects import KObject
from . import bookinfo
from .probes import claims_overlap, header_rules, route_claims
from .stages import mesh_outcome, only
from .vsparts import destinations


def displaced(ctx: Context, stage: list[KObject]) -> list[KObject]:
    """The submission's other routing objects that take requests for a host the stage
    routes: moving to this step, the student replaced or deleted them, so they are taken out
    while the stage is applied (else a catch-all of an earlier step could hide it)."""
    keys = {s.key for s in stage}
    claims = [route_claims(s) for s in stage]
    return [o for o in ctx.index.latest(*ROUTE_KINDS)
            if o.origin != "baseline" and o.key not in keys
            and any(claims_overlap(route_claims(o), c) for c in claims)]


def _reviews(ctx: Context) -> list[KObject]:
    return bookinfo.stages_for(ctx, "reviews")[1]


def all_v1(ctx: Context) -> list[KObject]:
    """For each Bookinfo service, the first stage sending it all to v1 (some may lack one)."""
    out = []
    for name in bookinfo.SERVICES:
        stages = bookinfo.stages_for(ctx, name)[1]
        found = next((s for s in stages if bookinfo.all_requests(ctx, s, name, "v1")), None)
        if found is not None:
            out.append(found)
    return out


def jason(ctx: Context) -> KObject | None:
    stages = _reviews(ctx)
    for s in stages:
        if only(mesh_outcome(ctx, s, "reviews", bookinfo.JASON), "v2"):
            return s
    return next((s for s in stages if header_rules(s)), None)


def split(ctx: Context, wanted: dict[str, float]) -> KObject | None:
    """The reviews stage whose plain split is closest to ``wanted`` (at least two versions)."""
    best: tuple[float, KObject] | None = None
    for s in _reviews(ctx):
        got = mesh_outcome(ctx, s, "reviews").versions()
        if len([v for v, share in got.items() if share > 0]) < 2:
            continue
        distance = sum(abs(got.get(v, 0.0) - wanted.get(v, 0.0)) for v in set(got) | set(wanted))
        if best is None or distance < best[0]:
            best = (distance, s)
    return best[1] if best else None


def all_to(ctx: Context, version: str) -> KObject | None:
    """The reviews stage sending the largest share to ``version``."""
    best: tuple[float, KObject] | None = None
    for s in _reviews(ctx):
        share = mesh_outcome(ctx, s, "reviews").versions().get(version, 0.0)
        if share > 0 and (best is None or share > best[0]):
            best = (share, s)
    if best is None:  # the stage that names the subset most, even if it routes nowhere
        scored = [(sum(d.subset == version for d in dests) / len(dests), s)
                  for s in _reviews(ctx) if (dests := list(destinations(s)))]
        scored = [x for x in scored if x[0] > 0]
        return max(scored, key=lambda x: x[0])[1] if scored else None
    return best[1]
