"""Evaluating routing stages: what one routing object does to requests, in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..grading.context import Context
from ..routing import Outcome, Request, RoutingModel
from ..submission.objects import KObject


def mesh_outcome(ctx: Context, stage: KObject | None, host: str,
                 headers: Mapping[str, str] | None = None, path: str = "/") -> Outcome:
    """A sidecar's request with ``stage`` alone applied (None: the final state)."""
    return _from_mesh(ctx.model(stage), ctx, host, headers, path)


def unrouted_outcome(ctx: Context, host: str, headers: Mapping[str, str] | None = None
                     ) -> Outcome:
    """A sidecar's request with no routing object at all: over the Service's pods."""
    return _from_mesh(ctx.bare_model(), ctx, host, headers, "/")


def _from_mesh(model: RoutingModel, ctx: Context, host: str,
               headers: Mapping[str, str] | None, path: str) -> Outcome:
    return model.from_mesh(Request.make(host, path, "GET", dict(headers or {})),
                           source_namespace=ctx.settings.namespace)


def gateway_outcome(ctx: Context, stage: KObject | None, host: str, path: str,
                    headers: Mapping[str, str] | None = None) -> Outcome:
    return ctx.model(stage).via_gateway(Request.make(host, path, "GET", dict(headers or {})))


def only(outcome: Outcome, version: str) -> bool:
    """All traffic reaches ``version``."""
    return abs(outcome.versions().get(version, 0.0) - 1.0) < 1e-9


def single_version(outcome: Outcome) -> str | None:
    """The one version all traffic reaches, or None."""
    versions = outcome.versions()
    for v, share in versions.items():
        if abs(share - 1.0) < 1e-9 and not v.isdigit():
            return v
    return None


def describe(outcome: Outcome) -> str:
    parts = [f"{v} {share:.0%}" for v, share in sorted(outcome.versions().items())]
    return ", ".join(parts) or "nothing"


def seen(stages: list[KObject], show: Callable[[KObject], str], limit: int = 4) -> str:
    """A short list of what the stages did, for a failure message."""
    if not stages:
        return " (no routing object for it in the submission)"
    shown = [f"{s.where}: {show(s)}" for s in stages[:limit]]
    more = f"; {len(stages) - limit} more" if len(stages) > limit else ""
    return " (seen: " + "; ".join(shown) + more + ")"
