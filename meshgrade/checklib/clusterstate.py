"""What MG301-MG309 share: facts about pods, Deployments and Istio installs read from
``ClusterFacts``, the ``needs`` guard, and the judges of the application's Deployments
(MG308) and of the cluster against the repository (MG309)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from ..cluster.read import ClusterFacts, diff, normal
from ..grading.results import CheckReport, Finding, Outcome
from ..submission import installs
from ..submission.kinds import GATEWAY_API_GATEWAY, ROUTING_KINDS
from ..submission.objects import KObject, matches

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


def objects_of(facts: ClusterFacts, kind: str, namespace: str | None = None) -> list[KObject]:
    return [o for o in facts.objects if o.kind_key == kind
            and (namespace is None or o.namespace == namespace)]


def find_object(facts: ClusterFacts, kind: str, name: str, namespace: str) -> KObject | None:
    return next((o for o in objects_of(facts, kind, namespace) if o.name == name), None)


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


def pod_live(pod: KObject) -> bool:
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


def pod_problems(pods: list[KObject], ns: str) -> list[Finding]:
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


def why_missed(facts: ClusterFacts) -> str:
    """Why an install may have been missed: Deployments not listable everywhere."""
    return f" ({facts.errors['installs']})" if "installs" in facts.errors else ""



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



def ingress_gateways(facts: ClusterFacts) -> list[tuple[str, KObject | None, KObject | None]]:
    """(label, Deployment, Service) of every ingress gateway found by its labels (istioctl's,
    the gateway chart's, a Gateway API gateway's), then of Gateway API Gateways whose
    ``<name>-istio`` Deployment is not there."""
    services = objects_of(facts, "Service")
    deps = sorted((d for d in objects_of(facts, "Deployment") if installs.ingress_form(d)),
                  key=installs.ingress_order)
    out: list[tuple[str, KObject | None, KObject | None]] = [
        (f"{d.namespace}/{d.name}", d, installs.service_for(d, services)) for d in deps]
    for gw in objects_of(facts, GATEWAY_API_GATEWAY):
        label = f"{gw.namespace}/{gw.name}-istio"
        if all(have != label for have, _, _ in out):
            svc = find_object(facts, "Service", f"{gw.name}-istio", gw.namespace)
            out.append((label, None, svc))
    return out



@needs("Deployment", "Pod", given=True)
def app_running(facts: ClusterFacts, deployments: list[str] | None = None) -> CheckReport:
    """MG308: the named app Deployments are available, their pods with sidecars."""
    if not deployments:
        return CheckReport(Outcome.SKIPPED, "no application Deployments named in the rubric")
    ns, findings = facts.namespace, []
    for name in deployments:
        dep = find_object(facts, "Deployment", name, ns)
        if dep is None or not available(dep):
            findings.append(Finding("missing" if dep is None else "not available",
                                    object=f"Deployment {ns}/{name}",
                                    hint=f"kubectl get deployment -n {ns} {name}"))
            continue
        pods = [p for p in objects_of(facts, "Pod", ns)
                if pod_live(p) and matches(dep.spec.get("selector"), p.labels)]
        findings += pod_problems(pods, ns) or ([] if pods else [Finding(
            "no pods", object=dep.ref, hint=f"kubectl describe deployment -n {ns} {name}")])
    return CheckReport.from_findings(findings, f"{', '.join(deployments)} available with "
                                     "sidecars", parts=len(deployments))


# -- MG309 ------------------------------------------------------------------------------
def show_value(value: Any) -> str:
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
        ref, live = f"{obj.kind} {ns}/{name}", find_object(facts, kind, name, ns)
        hint = f"kubectl apply -f {obj.file}" if obj.file else None
        if live is None:
            findings.append(Finding("not in the cluster", object=ref, file=obj.file,
                                    line=obj.line or None, hint=hint))
            continue
        for path, want, got in diff(normal(obj.spec), normal(live.spec))[:5]:
            findings.append(Finding(f"{path}: repo {show_value(want)}, cluster {show_value(got)}",
                                    object=ref, file=obj.file, path=path,
                                    line=obj.line_of(path) or None, hint=hint))
    return CheckReport.from_findings(findings, f"{len(latest)} routing objects match the "
                                     "repository", parts=len(latest))
