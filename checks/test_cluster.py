"""MG301-MG309: the cluster: reachable, Istio and its ingress installed, injection on,
Bookinfo and the app running with sidecars, and the cluster holding what the repo says."""

from __future__ import annotations

from meshgrade.checklib.app import find_app, notes_app
from meshgrade.checklib.clusterstate import cluster_facts
from meshgrade.cluster import checks as cluster_checks
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding, Outcome
from meshgrade.submission.kinds import ROUTE_KINDS


@check("MG301", points=1, reads=("cluster",),
       title="The Kubernetes API answers with the given credentials")
def test_cluster_reachable(ctx: Context) -> CheckReport:
    """MG301: the API answers with the given credentials."""
    return cluster_checks.cluster_reachable(cluster_facts(ctx))


@check("MG302", points=1, reads=("cluster",),
       title="Istio's networking CRDs exist and istiod is available")
def test_istio_control_plane(ctx: Context) -> CheckReport:
    """MG302: Istio's networking CRDs exist and istiod is available."""
    return cluster_checks.istio_control_plane(cluster_facts(ctx))


@check("MG303", points=1, reads=("cluster",),
       title="The ingress gateway is available and exposes an HTTP port")
def test_ingress_ready(ctx: Context) -> CheckReport:
    """MG303: the ingress gateway is available and exposes an HTTP port."""
    return cluster_checks.ingress_ready(cluster_facts(ctx))


@check("MG304", points=1, reads=("cluster",),
       title="The application namespace enables sidecar injection")
def test_injection_enabled(ctx: Context) -> CheckReport:
    """MG304: the application namespace enables sidecar injection."""
    return cluster_checks.injection_enabled(cluster_facts(ctx))


@check("MG305", points=1, reads=("cluster",),
       title="The six Bookinfo Deployments are available and the four Services exist")
def test_bookinfo_running(ctx: Context) -> CheckReport:
    """MG305: the six Bookinfo Deployments are available and the four Services exist."""
    return cluster_checks.bookinfo_running(cluster_facts(ctx))


@check("MG306", points=1, reads=("cluster",),
       title="Every application pod runs istio-proxy and is Ready")
def test_sidecars_injected(ctx: Context) -> CheckReport:
    """MG306: every application pod runs istio-proxy and is Ready."""
    return cluster_checks.sidecars_injected(cluster_facts(ctx))


@check("MG307", points=1, reads=("cluster",),
       title="Kiali is available and answers its health endpoint")
def test_kiali_running(ctx: Context) -> CheckReport:
    """MG307: Kiali is available and answers its health endpoint."""
    return cluster_checks.kiali_running(cluster_facts(ctx))


@check("MG308", points=1, reads=("cluster",),
       title="The application's Deployments are available with sidecars")
@notes_app
def test_app_running(ctx: Context) -> CheckReport:
    """MG308: the application's Deployments are available with sidecars."""
    app, why = find_app(ctx)
    if app is None:
        return CheckReport(Outcome.FAILED, "no application found",
                           [Finding(why, hint="See MG211.")])
    return cluster_checks.app_running(cluster_facts(ctx), sorted({g.workload for g in app.groups}))


@check("MG309", points=1, reads=("cluster", "repo"),
       title="The routing objects in the cluster equal the ones in the repo")
def test_cluster_matches_repo(ctx: Context) -> CheckReport:
    """MG309: the routing objects in the cluster equal the latest ones in the repo."""
    repo = [o for o in ctx.index.latest(*ROUTE_KINDS, "DestinationRule", "Gateway")
            if o.origin != "baseline"]
    return cluster_checks.cluster_matches_repo(cluster_facts(ctx), repo)
