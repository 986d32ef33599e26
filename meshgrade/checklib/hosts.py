"""Host names for the checks: thin helpers over :mod:`meshgrade.routing.mesh`, which holds Istio's
naming and visibility rules for the checks, the routing model and the lab alike."""

from __future__ import annotations

from ..grading.context import Context
from ..routing.mesh import expand
from ..submission.objects import KObject


def fqdn(host: str, namespace: str) -> str:
    """The FQDN of a host written in ``namespace`` (``name.ns`` taken as a Service name)."""
    return expand(host, namespace)


def resolve_service(ctx: Context, host: str, namespace: str) -> KObject | None:
    """The Service a host written in ``namespace`` names, if that namespace sees it."""
    return ctx.mesh().service(host, namespace)
