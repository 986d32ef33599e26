"""MG301-MG309: the cluster: reachable, Istio and its ingress installed, injection on,
Bookinfo and the app running with sidecars, and the cluster holding what the repo says.
Each judges ``facts``, the cluster's state read once per run (the lab is read like a
cluster)."""

from __future__ import annotations

from meshgrade.checklib.app import find_app, notes_app
from meshgrade.checklib.clusterstate import (
    BOOKINFO_DEPLOYMENTS,
    BOOKINFO_SERVICES,
    GATEWAY_LABELS,
    ISTIO_CRDS,
    RESTART,
    app_running,
    available,
    cluster_matches_repo,
    find_object,
    ingress_gateways,
    istio_version,
    needs,
    objects_of,
    pod_live,
    pod_problems,
    why_missed,
)
from meshgrade.cluster.read import ClusterFacts
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding, Outcome
from meshgrade.routing import is_http_port
from meshgrade.submission import installs
from meshgrade.submission.kinds import ROUTE_KINDS


@check("MG301", points=1, reads=("cluster",),
       title="The Kubernetes API answers with the given credentials")
def test_cluster_reachable(facts: ClusterFacts) -> CheckReport:
    """MG301: the API answers with the given credentials (else ERROR: not gradable)."""
    if not facts.reachable:
        return CheckReport(Outcome.ERROR, facts.errors.get("api", "the API did not answer"),
                           [Finding("cluster not reachable", hint="check the kubeconfig and "
                                    "context, and that the cluster runs (`minikube status`)")])
    version = facts.version.get("gitVersion", "?")
    return CheckReport(Outcome.PASSED, f"Kubernetes {version} answers at {facts.server}",
                       evidence={"server": facts.server, "version": facts.version})


@check("MG302", points=1, reads=("cluster",),
       title="Istio's networking CRDs exist and istiod is available")
@needs("Deployment")
def test_istio_control_plane(facts: ClusterFacts) -> CheckReport:
    """MG302: the networking CRDs are served and istiod is available; shows the version."""
    istiods = [d for d in objects_of(facts, "Deployment") if installs.is_istiod(d)]
    findings = [Finding(f"CRD {k.lower()}s.networking.istio.io is not served",
                        hint="install Istio: `istioctl install --set profile=demo -y`")
                for k in ISTIO_CRDS if k not in facts.crds]
    if not istiods:
        findings.append(Finding(f"no istiod Deployment{why_missed(facts)}", hint="install Istio: "
                                "`istioctl install --set profile=demo -y`"))
    elif not any(available(d) for d in istiods):
        findings += [Finding("istiod is not available", object=d.ref,
                             hint=f"kubectl get pods -n {d.namespace}") for d in istiods]
    version = istio_version([d for d in istiods if available(d)] or istiods) or "unknown"
    crds = ", ".join(sorted(set(facts.crds.values())))
    return CheckReport.from_findings(findings, f"Istio {version}: istiod available, CRDs served "
                                     f"({crds})", evidence={"istio_version": version,
                                                            "crds": facts.crds})


@check("MG303", points=1, reads=("cluster",),
       title="The ingress gateway is available and exposes an HTTP port")
@needs("Deployment", "Service")
def test_ingress_ready(facts: ClusterFacts) -> CheckReport:
    """MG303: an ingress gateway Deployment is available and its Service has an HTTP port."""
    findings, ok = [], []
    for label, dep, svc in ingress_gateways(facts):
        ports = [p for p in (svc.spec.get("ports") if svc else None) or []
                 if is_http_port(p) or p.get("port") in (80, 8080)]
        look = f"kubectl get deployment,service,pods -n {label.split('/')[0]}"
        if dep is None or not available(dep):
            state = "missing" if dep is None else "not available"
            findings.append(Finding(f"Deployment {label} is {state}", object=f"Deployment {label}",
                                    hint=look))
        elif not ports:
            findings.append(Finding(f"Service {label} has no HTTP port", hint=look,
                                    object=f"Service {label}"))
        else:
            ok.append(f"{label} (port {ports[0].get('name') or ports[0].get('port')})")
    if not ok:
        findings = findings or [Finding(
            f"no ingress gateway (istio-ingressgateway, the gateway Helm chart's or a Gateway "
            f"API gateway){why_missed(facts)}", hint="`istioctl install --set profile=demo -y`, "
            "`helm install istio-ingress istio/gateway -n istio-ingress`, or apply a Gateway "
            "of class istio")]
        return CheckReport.from_findings(findings, "")
    evidence = {"gateway_url": facts.gateway_url, "how": facts.gateway_how,
                "tried": facts.gateway_tried}
    if not facts.gateway_url:
        return CheckReport(Outcome.ERROR, f"{ok[0]} is available, but the grader reached no "
                           f"gateway: {facts.gateway_error}", evidence=evidence)
    return CheckReport(Outcome.PASSED, f"{ok[0]} available; gateway URL {facts.gateway_url} "
                       f"({facts.gateway_how})", evidence=evidence)


@check("MG304", points=1, reads=("cluster",),
       title="The application namespace enables sidecar injection")
@needs("Namespace")
def test_injection_enabled(facts: ClusterFacts) -> CheckReport:
    """MG304: the app namespace has istio-injection=enabled, or istio.io/rev without
    istio-injection=disabled."""
    ns = find_object(facts, "Namespace", facts.namespace, "")
    hint = f"kubectl label namespace {facts.namespace} istio-injection=enabled, then " \
           f"`{RESTART.format(ns=facts.namespace)}`"
    if ns is None:
        return CheckReport(Outcome.FAILED, f"namespace {facts.namespace} not found",
                           [Finding("namespace not found", object=f"Namespace {facts.namespace}",
                                    hint=f"kubectl create namespace {facts.namespace}")])
    label = ns.labels.get("istio-injection")
    if label == "enabled" or ("istio.io/rev" in ns.labels and label != "disabled"):
        how = "istio-injection=enabled" if label == "enabled" else \
            f"istio.io/rev={ns.labels['istio.io/rev']}"
        return CheckReport(Outcome.PASSED, f"namespace {facts.namespace}: {how}")
    return CheckReport(Outcome.FAILED, f"sidecar injection is off in {facts.namespace}",
                       [Finding(f"labels: {ns.labels or 'none'}", object=f"Namespace {ns.name}",
                                hint=hint)])


@check("MG305", points=1, reads=("cluster",),
       title="The six Bookinfo Deployments are available and the four Services exist")
@needs("Deployment", "Service")
def test_bookinfo_running(facts: ClusterFacts) -> CheckReport:
    """MG305: the six Bookinfo Deployments are available and the four Services exist."""
    ns, findings = facts.namespace, []
    hint = f"kubectl apply -n {ns} -f samples/bookinfo/platform/kube/bookinfo.yaml"
    for name in BOOKINFO_DEPLOYMENTS:
        dep = find_object(facts, "Deployment", name, ns)
        if dep is None or not available(dep):
            findings.append(Finding("missing" if dep is None else "not available",
                                    object=f"Deployment {ns}/{name}", hint=hint))
    findings += [Finding("missing", object=f"Service {ns}/{name}", hint=hint)
                 for name in BOOKINFO_SERVICES if find_object(facts, "Service", name, ns) is None]
    return CheckReport.from_findings(findings, f"Bookinfo runs in {ns}: 6 Deployments, "
                                     "4 Services", parts=10)


@check("MG306", points=1, reads=("cluster",),
       title="Every application pod runs istio-proxy and is Ready")
@needs("Pod")
def test_sidecars_injected(facts: ClusterFacts) -> CheckReport:
    """MG306: every app pod runs istio-proxy (container or native sidecar) and is Ready."""
    pods = [p for p in objects_of(facts, "Pod", facts.namespace)
            if not any(k in p.labels for k in GATEWAY_LABELS) and pod_live(p)]
    if not pods:
        return CheckReport(Outcome.FAILED, f"no pods in namespace {facts.namespace}",
                           [Finding("no application pods", hint=f"kubectl get pods -n "
                                    f"{facts.namespace}")])
    findings = pod_problems(pods, facts.namespace)
    return CheckReport.from_findings(findings, f"{len(pods)} pods, each with istio-proxy and "
                                     "Ready", parts=len(pods))


@check("MG307", points=1, reads=("cluster",),
       title="Kiali is available and answers its health endpoint")
@needs("Deployment")
def test_kiali_running(facts: ClusterFacts) -> CheckReport:
    """MG307: Kiali (the addon's, the chart's or the operator's, in any namespace) is
    available and /kiali/healthz answers through the service proxy."""
    deps = [d for d in objects_of(facts, "Deployment") if installs.is_kiali(d)]
    dep = next((d for d in deps if available(d)), deps[0] if deps else None)
    hint = "kubectl apply -f samples/addons/kiali.yaml"
    if dep is None or not available(dep):
        state = "not installed" if dep is None else "not available"
        return CheckReport(Outcome.FAILED, f"Kiali {state}",
                           [Finding(f"no available Kiali Deployment{why_missed(facts)}",
                                    object=dep.ref if dep else None, hint=hint)])
    if facts.kiali_error:
        return CheckReport(Outcome.ERROR, f"Kiali's health unknown: {facts.kiali_error}")
    status, body = facts.kiali or (0, "no Service kiali")
    if status != 200:
        return CheckReport(Outcome.FAILED, f"/kiali/healthz answered {status or 'nothing'}",
                           [Finding(body[:200], object=dep.ref, hint=f"kubectl logs -n "
                                    f"{dep.namespace} deploy/{dep.name}")])
    return CheckReport(Outcome.PASSED, f"Kiali available in {dep.namespace}; /kiali/healthz "
                       "answers 200")


@check("MG308", points=1, reads=("cluster",),
       title="The application's Deployments are available with sidecars")
@notes_app
def test_app_running(ctx: Context, facts: ClusterFacts) -> CheckReport:
    """MG308: the application's Deployments are available with sidecars."""
    app, why = find_app(ctx)
    if app is None:
        return CheckReport(Outcome.FAILED, "no application found",
                           [Finding(why, hint="See MG211.")])
    return app_running(facts, sorted({g.workload for g in app.groups}))


@check("MG309", points=1, reads=("cluster", "repo"),
       title="The routing objects in the cluster equal the ones in the repo")
def test_cluster_matches_repo(ctx: Context, facts: ClusterFacts | None) -> CheckReport:
    """MG309: the routing objects in the cluster equal the latest ones in the repo."""
    if facts is None:  # it reads the repo too, so it runs in repo mode: nothing to compare
        return CheckReport(Outcome.SKIPPED, ctx.live_reason)
    repo = [o for o in ctx.index.latest(*ROUTE_KINDS, "DestinationRule", "Gateway")
            if o.origin != "baseline"]
    return cluster_matches_repo(facts, repo)
