"""MG111-MG114: Deployments, Services, version labels and port protocols."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from ..grading.context import Context
from ..grading.results import CheckReport, Finding
from ..routing import is_http_port
from ..routing.mesh import port_name_exempt
from ..submission.kinds import WORKLOAD_KINDS
from ..submission.objects import KObject, matches, selects
from ..submission.podgroups import selected_groups
from . import protocols
from .common import as_dict, as_list, finding, label_map
from .hosts import resolve_service
from .routed import routed_subset_labels

_HTTP_NAME = re.compile(r"^(http|http2|https?-.*|http2-.*|grpc.*)$")
_HTTP_APP_PROTOCOLS = {"http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c"}
_COMMON_HTTP_PORTS = (80, 3000, 5000, 8000, 8080, 8081, 8888, 9080)  # a port may be a list


def _own(ctx: Context, *kinds: str) -> list[KObject]:
    return [o for o in ctx.index.latest(*kinds) if o.origin != "baseline"]


def deployment_selector(ctx: Context) -> CheckReport:
    """MG111: each Deployment's spec.selector matches its pod template labels."""
    findings = []
    deployments = _own(ctx, *WORKLOAD_KINDS)
    for dep in deployments:
        selector = dep.spec.get("selector")
        labels = label_map(as_dict(as_dict(dep.spec.get("template")).get("metadata"))
                           .get("labels"))
        if not as_dict(selector):
            findings.append(finding("MG111", "missing", dep, "spec"))
        elif not matches(selector, labels):
            findings.append(finding("MG111", "mismatch", dep, "spec.selector",
                                    selector=label_map(as_dict(selector).get("matchLabels"))
                                    or selector, labels=labels or "{}"))
    return CheckReport.from_findings(findings, f"{len(deployments)} workload selector(s) match",
                                     parts=max(len(deployments), 1))


def service_selects_pods(ctx: Context) -> CheckReport:
    """MG112: each Service's selector matches at least one pod (template)."""
    findings = []
    services = [s for s in _own(ctx, "Service") if label_map(s.spec.get("selector"))]
    for svc in services:
        selector = label_map(svc.spec.get("selector"))
        if not selected_groups(ctx.pods_in(svc.namespace), selector, svc.namespace):
            guess = _closest_app(ctx.pods_in(svc.namespace), svc, selector)
            findings.append(finding("MG112", "no-pods", svc, "spec.selector", selector=selector,
                                    namespace=svc.namespace, guess=guess))
    return CheckReport.from_findings(findings, f"{len(services)} Service(s) select pods",
                                     parts=max(len(services), 1))


def _closest_app(groups, svc: KObject, selector: dict[str, str]) -> str:
    import difflib

    apps = sorted({g.label_map["app"] for g in groups
                   if g.namespace == svc.namespace and "app" in g.label_map})
    close = difflib.get_close_matches(selector.get("app", svc.name), apps, n=1, cutoff=0.5)
    return close[0] if close else (apps[0] if apps else svc.name)


def version_labels(ctx: Context) -> CheckReport:
    """MG113: pods behind a multi-workload Service carry app and version, versions differ."""
    findings: list[Finding] = []
    services = [s for s in _own(ctx, "Service") if label_map(s.spec.get("selector"))]
    for svc in services:
        behind = selected_groups(ctx.pods_in(svc.namespace), label_map(svc.spec.get("selector")),
                                 svc.namespace)
        if len({g.workload for g in behind}) < 2:
            continue
        for g in behind:
            for label in ("app", "version"):
                if label not in g.label_map and g.source.origin != "baseline":
                    findings.append(finding("MG113", "missing", g.source,
                                            "spec.template.metadata.labels",
                                            workload=g.source.ref, service=svc.name, label=label))
        by_version: dict[str, list[str]] = defaultdict(list)
        for g in behind:
            if g.version is not None:
                by_version[g.version].append(g.workload)
        routed = routed_subset_labels(ctx, svc)
        for version, names in by_version.items():
            if len(set(names)) > 1:
                # an error once a route sends requests to a subset that selects these pods
                hit = any(not labels or selects(labels, g.label_map) for labels in routed
                          for g in behind if g.version == version)
                findings.append(finding("MG113", "same" if hit else "same-unrouted", svc,
                                        "spec.selector", workloads=sorted(set(names)),
                                        service=svc.name, version=version))
    return CheckReport.from_findings(findings, "multi-version Services have distinct versions")


def service_port_protocol(ctx: Context) -> CheckReport:
    """MG114: HTTP ports are named http, http2, http-*, grpc* or set appProtocol (not judged
    in the system namespaces istioctl analyze leaves alone)."""
    findings = []
    http_routed = _http_routed_services(ctx)
    services = [s for s in _own(ctx, "Service") if not port_name_exempt(s.namespace)]
    for svc in services:
        routed = svc.key in http_routed
        for i, port in enumerate(as_list(svc.spec.get("ports"))):
            port = as_dict(port)
            if str(port.get("appProtocol", "")).lower() in _HTTP_APP_PROTOCOLS:
                continue
            name = port.get("name")
            number = port.get("port")
            path = f"spec.ports[{i}]"
            if name is None or name == "":
                if routed or number in _COMMON_HTTP_PORTS:
                    findings.append(finding("MG114", "unnamed" if routed else "unrouted", svc,
                                            path, port=number, named="unnamed"))
                elif _detected(svc, port):
                    findings.append(finding("MG114", "detected", svc, path, port=number,
                                            named="has no name"))
                continue
            name = str(name)
            if _HTTP_NAME.match(name) or name.startswith("https"):
                continue
            if routed:  # Istio sniffs the protocol of a name that names none (not-http: error)
                proto = "TCP" if not name.startswith(("tls", "mongo", "redis", "mysql")) else name
                findings.append(finding(
                    "MG114", "sniffed" if is_http_port(port, True) else "not-http", svc,
                    f"{path}.name", port=number, name=name, proto=proto,
                    why="a VirtualService routes HTTP to this Service"))
            elif number in _COMMON_HTTP_PORTS and not _is_other_protocol(name):
                findings.append(finding("MG114", "unrouted", svc, f"{path}.name", port=number,
                                        named=f"named '{name}'"))
            elif _detected(svc, port):
                findings.append(finding("MG114", "detected", svc, f"{path}.name", port=number,
                                        named=f"is named '{name}', which names no protocol"))
    return CheckReport.from_findings(findings, "HTTP ports are named for Istio")


def _detected(svc: KObject, port: dict[str, Any]) -> bool:
    """Whether Istio detects the protocol of a port that names none (as istioctl's
    PortNameIsNotUnderNamingConvention says; MG116 judges ExternalName Services)."""
    return protocols.of_service_port(port) is None and svc.spec.get("type") != "ExternalName" \
        and "istio" not in svc.labels and svc.labels.get("release") != "istio"


def _is_other_protocol(name: str) -> bool:
    return name.split("-")[0] in {"tcp", "tls", "udp", "mongo", "mysql", "redis", "https",
                                  "grpc", "metrics", "status"}


def _http_routed_services(ctx: Context) -> set[tuple[str, str, str]]:
    out = set()
    for vs in ctx.index.all_stages("VirtualService"):
        for rule in as_list(vs.spec.get("http")):
            for r in as_list(as_dict(rule).get("route")):
                host = as_dict(as_dict(r).get("destination")).get("host")
                svc = resolve_service(ctx, host, vs.namespace) if isinstance(host, str) else None
                if svc is not None:
                    out.add(svc.key)
    return out
