"""MG132: deprecated fields, values and annotations that still apply today (removed API
versions are MG104's). From the Istio API (fields marked ``deprecated``) and the Kubernetes
API reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..submission import paths
from ..submission.kinds import ISTIO_GROUP, WORKLOAD_KINDS
from ..submission.objects import KObject, as_dict, as_list

# (field under an HTTP rule or a traffic policy, message key, what to write instead)
_HTTP_RULE = (
    ("fault.delay.percent", "istio", "fault.delay.percentage: {value: <percent>}"),
    ("mirrorPercent", "istio-warned", "mirrorPercentage: {value: <percent>}"),
    ("corsPolicy.allowOrigin", "field", "corsPolicy.allowOrigins: [{exact: <origin>}]"),
)
_POLICY = (
    ("outlierDetection.consecutiveErrors", "istio-warned",
     "outlierDetection.consecutive5xxErrors (or consecutiveGatewayErrors)"),
    ("loadBalancer.consistentHash.minimumRingSize", "istio-warned",
     "loadBalancer.consistentHash.ringHash: {minimumRingSize: <size>}"),
    ("loadBalancer.warmupDurationSecs", "field", "loadBalancer.warmup: {duration: <duration>}"),
)
_INJECT = "sidecar.istio.io/inject"


def _get(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = as_dict(value).get(part)
    return value


def _fields(node: Any, base: str, table: tuple[tuple[str, str, str], ...]
            ) -> Iterator[tuple[str, str, str, str]]:
    """(message key, path, field, replacement) of each deprecated field set under ``node``."""
    for dotted, key, instead in table:
        if _get(node, dotted) is not None:
            yield key, f"{base}.{dotted}", dotted, instead


def _policies(dr: KObject) -> Iterator[tuple[str, Any]]:
    """(path, traffic policy) of a DestinationRule: its own, its subsets', their ports'."""
    tops = [("spec.trafficPolicy", dr.spec.get("trafficPolicy"))]
    tops += [(f"spec.subsets[{i}].trafficPolicy", as_dict(s).get("trafficPolicy"))
             for i, s in enumerate(as_list(dr.spec.get("subsets")))]
    for path, policy in tops:
        yield path, policy
        for j, level in enumerate(as_list(as_dict(policy).get("portLevelSettings"))):
            yield f"{path}.portLevelSettings[{j}]", level


def deprecations(obj: KObject) -> Iterator[tuple[str, str, str, str]]:
    if obj.group == ISTIO_GROUP and obj.kind == "VirtualService":
        for i, rule in enumerate(as_list(obj.spec.get("http"))):
            yield from _fields(rule, f"spec.http[{i}]", _HTTP_RULE)
    elif obj.group == ISTIO_GROUP and obj.kind == "DestinationRule":
        for path, policy in _policies(obj):
            yield from _fields(policy, path, _POLICY)
            if _get(policy, "loadBalancer.simple") == "LEAST_CONN":
                yield "field", f"{path}.loadBalancer.simple", "loadBalancer.simple LEAST_CONN", \
                    "loadBalancer.simple: LEAST_REQUEST"
    elif obj.kind in (*WORKLOAD_KINDS, "Pod"):
        pod = obj if obj.kind == "Pod" else None
        meta = obj.metadata if pod else as_dict(as_dict(obj.spec.get("template")).get("metadata"))
        spec = obj.spec if pod else as_dict(as_dict(obj.spec.get("template")).get("spec"))
        base = "" if pod else "spec.template."
        # the API server fills serviceAccount in from serviceAccountName: only an old
        # manifest sets it alone (or to another name)
        if spec.get("serviceAccount") not in (None, spec.get("serviceAccountName")):
            yield "field", f"{base}spec.serviceAccount", "serviceAccount", \
                "serviceAccountName: <name>"
        if _INJECT in as_dict(meta.get("annotations")):
            yield "annotation", paths.join(f"{base}metadata.annotations", _INJECT), \
                f"annotation {_INJECT}", \
                f"the label {_INJECT}: \"true\" under {base}metadata.labels"
    elif obj.kind == "Service" and obj.spec.get("loadBalancerIP") is not None:
        yield "field", "spec.loadBalancerIP", "loadBalancerIP", \
            "your cloud provider's load-balancer IP annotation"

