"""MG301-MG309: pure functions over ClusterFacts (built by ``read.gather``)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from ..grading.results import CheckReport, Finding, Outcome
from ..routing import is_http_port
from ..submission import installs
from ..submission.kinds import GATEWAY_API_GATEWAY, ROUTING_KINDS
from ..submission.objects import KObject, matches
from .read import ClusterFacts, diff, gather, normal

__all__ = ["CHECKS", "ClusterFacts", "gather"]

BOOKINFO_DEPLOYMENTS = ("productpage-v1", "details-v1", "ratings-v1", "reviews-v1",
                        "reviews-v2", "reviews-v3")
BOOKINFO_SERVICES = ("productpage", "details", "ratings", "reviews")
ISTIO_CRDS = ("VirtualService", "DestinationRule", "Gateway")
GATEWAY_LABELS = installs.GATEWAY_NAME_LABELS
TERMINAL = ("Succeeded", "Failed")  # an Evicted pod is Failed
RESTART = "kubectl rollout restart deployment -n {ns}"
Check = Callable[..., CheckReport]


def needs(*kinds: str, given: bool = False) -> Callable[[Check], Check]:
    """ERROR instead of the check when the API is down or a needed kind was unreadable;
    with ``given``, a check whose parameter is empty runs anyway (and skips itself)."""
    def wrap(fn: Check) -> Check:
        @functools.wraps(fn)
        def check(facts: ClusterFacts, *args: Any) -> CheckReport:
            if given and not (args and args[0]):
                return fn(facts, *args)
            if not facts.reachable:
                return CheckReport(Outcome.ERROR, "the Kubernetes API did not answer (MG301)")
            bad = [f"{k}: {facts.errors[k]}" for k in kinds if k in facts.errors]
            if bad:
                return CheckReport(Outcome.ERROR, f"could not read {'; '.join(bad)}")
            return fn(facts, *args)
        return check
    return wrap


def _of(facts: ClusterFacts, kind: str, namespace: str | None = None) -> list[KObject]:
    return [o for o in facts.objects if o.kind_key == kind
            and (namespace is None or o.namespace == namespace)]


def _find(facts: ClusterFacts, kind: str, name: str, namespace: str) -> KObject | None:
    return next((o for o in _of(facts, kind, namespace) if o.name == name), None)


def available(dep: KObject) -> bool:
    """A Deployment whose Available condition is True (or, without conditions, that has
    available replicas)."""
    status = dep.raw.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"),
                None)
    if cond is not None:
        return bool(cond.get("status") == "True")
    return int(status.get("availableReplicas") or 0) > 0


def has_sidecar(pod: KObject) -> bool:
    """``istio-proxy`` as a container, or as a native sidecar (init, restartPolicy Always)."""
    spec = pod.spec
    return any(c.get("name") == "istio-proxy" for c in spec.get("containers") or []) or any(
        c.get("name") == "istio-proxy" and c.get("restartPolicy") == "Always"
        for c in spec.get("initContainers") or [])


def ready(pod: KObject) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.raw.get("status") or {}).get("conditions") or [])


def live(pod: KObject) -> bool:
    """A pod its ReplicaSet counts (as ``kubectl get deploy`` READY does): not Succeeded,
    Failed or Evicted, and not being deleted."""
    status = pod.raw.get("status") or {}
    return status.get("phase") not in TERMINAL and status.get("reason") != "Evicted" \
        and not pod.metadata.get("deletionTimestamp")


def containers_ready(pod: KObject) -> tuple[int, int]:
    """(ready, total) as kubectl's READY column counts them: the pod's containers and its
    native sidecars (init containers with restartPolicy Always, ready once started)."""
    spec, status = pod.spec, pod.raw.get("status") or {}
    sidecars = {c.get("name") for c in spec.get("initContainers") or []
                if isinstance(c, dict) and c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    up = sum(1 for c in status.get("initContainerStatuses") or []
             if c.get("name") in sidecars and c.get("started") and c.get("ready"))
    up += sum(1 for c in status.get("containerStatuses") or []
              if c.get("ready") and "running" in (c.get("state") or {}))
    return up, total


def _pod_problems(pods: list[KObject], ns: str) -> list[Finding]:
    out = []
    for pod in pods:
        up, total = containers_ready(pod)
        if not has_sidecar(pod):
            out.append(Finding(f"no istio-proxy sidecar (READY {up}/{total}, not "
                               f"{up + 1}/{total + 1})", object=pod.ref,
                               hint=f"label the namespace istio-injection=enabled, then "
                                    f"`{RESTART.format(ns=ns)}`"))
        if not ready(pod):
            phase = (pod.raw.get("status") or {}).get("phase")
            out.append(Finding(f"not Ready (phase {phase}, READY {up}/{total})",
                               object=pod.ref, hint=f"kubectl describe pod -n {ns} {pod.name}"))
    return out


def _looked(facts: ClusterFacts) -> str:
    """Why an install may have been missed: Deployments not listable everywhere."""
    return f" ({facts.errors['installs']})" if "installs" in facts.errors else ""


def cluster_reachable(facts: ClusterFacts) -> CheckReport:
    """MG301: the API answers with the given credentials (else ERROR: not gradable)."""
    if not facts.reachable:
        return CheckReport(Outcome.ERROR, facts.errors.get("api", "the API did not answer"),
                           [Finding("cluster not reachable", hint="check the kubeconfig and "
                                    "context, and that the cluster runs (`minikube status`)")])
    version = facts.version.get("gitVersion", "?")
    return CheckReport(Outcome.PASSED, f"Kubernetes {version} answers at {facts.server}",
                       evidence={"server": facts.server, "version": facts.version})


def istio_version(deps: list[KObject]) -> str | None:
    """Istio's version from istiod's image tag, else its version or revision labels."""
    for dep in deps:
        spec = (dep.spec.get("template") or {}).get("spec") or {}
        for c in spec.get("containers") or []:
            tag = str(c.get("image") or "").split("@")[0].rpartition(":")[2]
            if re.match(r"\d+\.\d+", tag):
                return tag
        labels = dep.labels
        for key in ("operator.istio.io/version", "app.kubernetes.io/version", "helm.sh/chart"):
            if m := re.search(r"\d+\.\d+(\.\d+)?", labels.get(key, "")):
                return m.group(0)
        if labels.get("istio.io/rev", "default") != "default":
            return f"revision {labels['istio.io/rev']}"
    return None


@needs("Deployment")
def istio_control_plane(facts: ClusterFacts) -> CheckReport:
    """MG302: the networking CRDs are served and istiod is available; shows the version."""
    istiods = [d for d in _of(facts, "Deployment") if installs.is_istiod(d)]
    findings = [Finding(f"CRD {k.lower()}s.networking.istio.io is not served",
                        hint="install Istio: `istioctl install --set profile=demo -y`")
                for k in ISTIO_CRDS if k not in facts.crds]
    if not istiods:
        findings.append(Finding(f"no istiod Deployment{_looked(facts)}", hint="install Istio: "
                                "`istioctl install --set profile=demo -y`"))
    elif not any(available(d) for d in istiods):
        findings += [Finding("istiod is not available", object=d.ref,
                             hint=f"kubectl get pods -n {d.namespace}") for d in istiods]
    version = istio_version([d for d in istiods if available(d)] or istiods) or "unknown"
    crds = ", ".join(sorted(set(facts.crds.values())))
    return CheckReport.from_findings(findings, f"Istio {version}: istiod available, CRDs served "
                                     f"({crds})", evidence={"istio_version": version,
                                                            "crds": facts.crds})


def _gateways(facts: ClusterFacts) -> list[tuple[str, KObject | None, KObject | None]]:
    """(label, Deployment, Service) of every ingress gateway found by its labels (istioctl's,
    the gateway chart's, a Gateway API gateway's), then of Gateway API Gateways whose
    ``<name>-istio`` Deployment is not there."""
    services = _of(facts, "Service")
    deps = sorted((d for d in _of(facts, "Deployment") if installs.ingress_form(d)),
                  key=installs.ingress_order)
    out: list[tuple[str, KObject | None, KObject | None]] = [
        (f"{d.namespace}/{d.name}", d, installs.service_for(d, services)) for d in deps]
    for gw in _of(facts, GATEWAY_API_GATEWAY):
        label = f"{gw.namespace}/{gw.name}-istio"
        if all(have != label for have, _, _ in out):
            out.append((label, None, _find(facts, "Service", f"{gw.name}-istio", gw.namespace)))
    return out


@needs("Deployment", "Service")
def ingress_ready(facts: ClusterFacts) -> CheckReport:
    """MG303: an ingress gateway Deployment is available and its Service has an HTTP port."""
    findings, ok = [], []
    for label, dep, svc in _gateways(facts):
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
            f"API gateway){_looked(facts)}", hint="`istioctl install --set profile=demo -y`, "
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


@needs("Namespace")
def injection_enabled(facts: ClusterFacts) -> CheckReport:
    """MG304: the app namespace has istio-injection=enabled, or istio.io/rev without
    istio-injection=disabled."""
    ns = _find(facts, "Namespace", facts.namespace, "")
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


@needs("Deployment", "Service")
def bookinfo_running(facts: ClusterFacts) -> CheckReport:
    """MG305: the six Bookinfo Deployments are available and the four Services exist."""
    ns, findings = facts.namespace, []
    hint = f"kubectl apply -n {ns} -f samples/bookinfo/platform/kube/bookinfo.yaml"
    for name in BOOKINFO_DEPLOYMENTS:
        dep = _find(facts, "Deployment", name, ns)
        if dep is None or not available(dep):
            findings.append(Finding("missing" if dep is None else "not available",
                                    object=f"Deployment {ns}/{name}", hint=hint))
    findings += [Finding("missing", object=f"Service {ns}/{name}", hint=hint)
                 for name in BOOKINFO_SERVICES if _find(facts, "Service", name, ns) is None]
    return CheckReport.from_findings(findings, f"Bookinfo runs in {ns}: 6 Deployments, "
                                     "4 Services", parts=10)


@needs("Pod")
def sidecars_injected(facts: ClusterFacts) -> CheckReport:
    """MG306: every app pod runs istio-proxy (container or native sidecar) and is Ready."""
    pods = [p for p in _of(facts, "Pod", facts.namespace)
            if not any(k in p.labels for k in GATEWAY_LABELS) and live(p)]
    if not pods:
        return CheckReport(Outcome.FAILED, f"no pods in namespace {facts.namespace}",
                           [Finding("no application pods", hint=f"kubectl get pods -n "
                                    f"{facts.namespace}")])
    findings = _pod_problems(pods, facts.namespace)
    return CheckReport.from_findings(findings, f"{len(pods)} pods, each with istio-proxy and "
                                     "Ready", parts=len(pods))


@needs("Deployment")
def kiali_running(facts: ClusterFacts) -> CheckReport:
    """MG307: Kiali (the addon's, the chart's or the operator's, in any namespace) is
    available and /kiali/healthz answers through the service proxy."""
    deps = [d for d in _of(facts, "Deployment") if installs.is_kiali(d)]
    dep = next((d for d in deps if available(d)), deps[0] if deps else None)
    hint = "kubectl apply -f samples/addons/kiali.yaml"
    if dep is None or not available(dep):
        state = "not installed" if dep is None else "not available"
        return CheckReport(Outcome.FAILED, f"Kiali {state}",
                           [Finding(f"no available Kiali Deployment{_looked(facts)}",
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


@needs("Deployment", "Pod", given=True)
def app_running(facts: ClusterFacts, deployments: list[str] | None = None) -> CheckReport:
    """MG308: the named app Deployments are available, their pods with sidecars."""
    if not deployments:
        return CheckReport(Outcome.SKIPPED, "no application Deployments named in the rubric")
    ns, findings = facts.namespace, []
    for name in deployments:
        dep = _find(facts, "Deployment", name, ns)
        if dep is None or not available(dep):
            findings.append(Finding("missing" if dep is None else "not available",
                                    object=f"Deployment {ns}/{name}",
                                    hint=f"kubectl get deployment -n {ns} {name}"))
            continue
        pods = [p for p in _of(facts, "Pod", ns)
                if live(p) and matches(dep.spec.get("selector"), p.labels)]
        findings += _pod_problems(pods, ns) or ([] if pods else [Finding(
            "no pods", object=dep.ref, hint=f"kubectl describe deployment -n {ns} {name}")])
    return CheckReport.from_findings(findings, f"{', '.join(deployments)} available with "
                                     "sidecars", parts=len(deployments))


# -- MG309 ------------------------------------------------------------------------------
def _show(value: Any) -> str:
    text = "absent" if value is None else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 60 else text[:57] + "..."


@needs(*ROUTING_KINDS, given=True)
def cluster_matches_repo(facts: ClusterFacts, repo: list[KObject] | None = None) -> CheckReport:
    """MG309: each routing object's latest stage in the repo equals the cluster's (spec
    compared after dropping empty values and defaults)."""
    if repo is None:
        return CheckReport(Outcome.SKIPPED, "no repository objects to compare")
    latest: dict[tuple[str, str, str], KObject] = {}
    for obj in sorted(repo, key=lambda o: o.order):
        if obj.kind_key in ROUTING_KINDS and obj.name and obj.origin != "baseline":
            ns = obj.metadata.get("namespace")
            ns = ns if isinstance(ns, str) and ns else facts.namespace
            latest[(obj.kind_key, ns, obj.name)] = obj
    if not latest:
        return CheckReport(Outcome.SKIPPED, "the repository has no routing objects")
    findings = []
    for (kind, ns, name), obj in latest.items():
        ref, live = f"{obj.kind} {ns}/{name}", _find(facts, kind, name, ns)
        hint = f"kubectl apply -f {obj.file}" if obj.file else None
        if live is None:
            findings.append(Finding("not in the cluster", object=ref, file=obj.file,
                                    line=obj.line or None, hint=hint))
            continue
        for path, want, got in diff(normal(obj.spec), normal(live.spec))[:5]:
            findings.append(Finding(f"{path}: repo {_show(want)}, cluster {_show(got)}",
                                    object=ref, file=obj.file, path=path,
                                    line=obj.line_of(path) or None, hint=hint))
    return CheckReport.from_findings(findings, f"{len(latest)} routing objects match the "
                                     "repository", parts=len(latest))


CHECKS: dict[str, Callable[..., CheckReport]] = {
    "MG301": cluster_reachable, "MG302": istio_control_plane, "MG303": ingress_ready,
    "MG304": injection_enabled, "MG305": bookinfo_running, "MG306": sidecars_injected,
    "MG307": kiali_running, "MG308": app_running, "MG309": cluster_matches_repo,
}
