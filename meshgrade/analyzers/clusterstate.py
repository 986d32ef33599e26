"""MG301-MG309: the cluster's state, read once per run (the lab is read like a cluster)."""

from __future__ import annotations

from typing import Any

from ..cluster import checks as cluster_checks
from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..live.sources import live_of
from ..submission.kinds import ROUTE_KINDS
from .app import find_app, notes_app


def _facts(ctx: Context) -> Any:
    from ..cluster.read import gather

    live = live_of(ctx)
    if "facts" not in live._cache:
        live._cache["facts"] = gather(live.client, live.namespace, live.gateway_url or None,
                                      tried=live.gateway_tried)
    return live._cache["facts"]


def cluster_reachable(ctx: Context) -> CheckReport:
    """MG301: the API answers with the given credentials."""
    return cluster_checks.cluster_reachable(_facts(ctx))


def istio_control_plane(ctx: Context) -> CheckReport:
    """MG302: Istio's networking CRDs exist and istiod is available."""
    return cluster_checks.istio_control_plane(_facts(ctx))


def ingress_ready(ctx: Context) -> CheckReport:
    """MG303: the ingress gateway is available and exposes an HTTP port."""
    return cluster_checks.ingress_ready(_facts(ctx))


def injection_enabled(ctx: Context) -> CheckReport:
    """MG304: the application namespace enables sidecar injection."""
    return cluster_checks.injection_enabled(_facts(ctx))


def bookinfo_running(ctx: Context) -> CheckReport:
    """MG305: the six Bookinfo Deployments are available and the four Services exist."""
    return cluster_checks.bookinfo_running(_facts(ctx))


def sidecars_injected(ctx: Context) -> CheckReport:
    """MG306: every application pod runs istio-proxy and is Ready."""
    return cluster_checks.sidecars_injected(_facts(ctx))


def kiali_running(ctx: Context) -> CheckReport:
    """MG307: Kiali is available and answers its health endpoint."""
    return cluster_checks.kiali_running(_facts(ctx))


@notes_app
def app_running(ctx: Context) -> CheckReport:
    """MG308: the application's Deployments are available with sidecars."""
    app, why = find_app(ctx)
    if app is None:
        return CheckReport(Outcome.FAILED, "no application found",
                           [Finding(why, hint="See MG211.")])
    return cluster_checks.app_running(_facts(ctx), sorted({g.workload for g in app.groups}))


def cluster_matches_repo(ctx: Context) -> CheckReport:
    """MG309: the routing objects in the cluster equal the latest ones in the repo."""
    repo = [o for o in ctx.index.latest(*ROUTE_KINDS, "DestinationRule", "Gateway")
            if o.origin != "baseline"]
    return cluster_checks.cluster_matches_repo(_facts(ctx), repo)
