"""MG111-MG116: Deployments, Services and their pods agree: selectors match, versions
are labelled, ports are named for their protocol."""

from __future__ import annotations

from collections import defaultdict

from meshgrade.checklib.common import finding, label_map
from meshgrade.checklib.routed import routed_subset_labels
from meshgrade.checklib.serviceports import (
    PORT_LABELS,
    in_mesh,
    port_protocol,
    selecting_services,
    services_by_namespace,
)
from meshgrade.checklib.workloads import (
    COMMON_HTTP_PORTS,
    HTTP_APP_PROTOCOLS,
    HTTP_NAME,
    closest_app,
    detected,
    http_routed_services,
    is_other_protocol,
    not_http,
    own_objects,
)
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding
from meshgrade.routing import protocols
from meshgrade.routing.mesh import port_name_exempt
from meshgrade.submission.kinds import WORKLOAD_KINDS
from meshgrade.submission.objects import as_dict, as_list, matches, selects
from meshgrade.submission.podgroups import selected_groups


@check("MG111", points=1, reads=("repo", "cluster"),
       title="Each Deployment's selector matches its pod template labels")
def test_deployment_selector(ctx: Context) -> CheckReport:
    """MG111: each Deployment's spec.selector matches its pod template labels."""
    findings = []
    deployments = own_objects(ctx, *WORKLOAD_KINDS)
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


@check("MG112", points=1, reads=("repo", "cluster"),
       title="Each Service's selector matches at least one pod")
def test_service_selects_pods(ctx: Context) -> CheckReport:
    """MG112: each Service's selector matches at least one pod (template)."""
    findings = []
    services = [s for s in own_objects(ctx, "Service") if label_map(s.spec.get("selector"))]
    for svc in services:
        selector = label_map(svc.spec.get("selector"))
        if not selected_groups(ctx.pods_in(svc.namespace), selector, svc.namespace):
            guess = closest_app(ctx.pods_in(svc.namespace), svc, selector)
            findings.append(finding("MG112", "no-pods", svc, "spec.selector", selector=selector,
                                    namespace=svc.namespace, guess=guess))
    return CheckReport.from_findings(findings, f"{len(services)} Service(s) select pods",
                                     parts=max(len(services), 1))


@check("MG113", points=1, reads=("repo", "cluster"),
       title="Pods behind a multi-version Service carry app and version labels that differ")
def test_version_labels(ctx: Context) -> CheckReport:
    """MG113: pods behind a multi-workload Service carry app and version, versions differ."""
    findings: list[Finding] = []
    services = [s for s in own_objects(ctx, "Service") if label_map(s.spec.get("selector"))]
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


@check("MG114", points=1, reads=("repo", "cluster"),
       title=(
           "Service ports that carry HTTP are named http, http2, http-*, grpc* or set "
           "appProtocol"))
def test_service_port_protocol(ctx: Context) -> CheckReport:
    """MG114: HTTP ports are named http, http2, http-*, grpc* or set appProtocol (not judged
    in the system namespaces istioctl analyze leaves alone)."""
    findings = []
    http_routed = http_routed_services(ctx)
    services = [s for s in own_objects(ctx, "Service") if not port_name_exempt(s.namespace)]
    for svc in services:
        routed = svc.key in http_routed
        for i, port in enumerate(as_list(svc.spec.get("ports"))):
            port = as_dict(port)
            if str(port.get("appProtocol", "")).lower() in HTTP_APP_PROTOCOLS:
                continue
            name = port.get("name")
            number = port.get("port")
            path = f"spec.ports[{i}]"
            proto = protocols.sidecar_protocol(port)
            if routed and not protocols.routes_http(proto):  # Istio's HTTP rules never apply
                findings.append(not_http(svc, port, path, proto))
                continue
            if name is None or name == "":
                if routed or number in COMMON_HTTP_PORTS:
                    findings.append(finding("MG114", "unnamed" if routed else "unrouted", svc,
                                            path, port=number, named="unnamed"))
                elif detected(svc, port):
                    findings.append(finding("MG114", "detected", svc, path, port=number,
                                            named="has no name"))
                continue
            name = str(name)
            if HTTP_NAME.match(name) or name.startswith("https"):
                continue
            if routed:  # the port names no protocol: Istio detects it (sniffing)
                if proto not in protocols.HTTP:  # http_proxy is HTTP
                    findings.append(finding("MG114", "sniffed", svc, f"{path}.name",
                                            port=number, name=name))
            elif number in COMMON_HTTP_PORTS and not is_other_protocol(name):
                findings.append(finding("MG114", "unrouted", svc, f"{path}.name", port=number,
                                        named=f"named '{name}'"))
            elif detected(svc, port):
                findings.append(finding("MG114", "detected", svc, f"{path}.name", port=number,
                                        named=f"is named '{name}', which names no protocol"))
    return CheckReport.from_findings(findings, "HTTP ports are named for Istio")


@check("MG115", points=0, reads=("repo", "cluster"),
       title="Services that select the same pods agree on each port's protocol and target port")
def test_workload_services_agree(ctx: Context) -> CheckReport:
    """MG115: the Services that select one workload's pods give each port one protocol and
    each target port one port (istioctl's DeploymentAssociatedToMultipleServices and
    DeploymentConflictingPorts)."""
    findings: list[Finding] = []
    workloads = [o for o in ctx.index.latest(*WORKLOAD_KINDS)
                 if o.origin != "baseline" and in_mesh(ctx, o)]
    by_ns = services_by_namespace(ctx)
    for obj in workloads:
        services = selecting_services(by_ns, obj)
        if len(services) < 2:
            continue
        by_port: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        by_target: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        for svc in services:
            for p in as_list(svc.spec.get("ports")):
                entry = as_dict(p)
                number = entry.get("port")
                if not isinstance(number, int) or isinstance(number, bool):
                    continue
                by_port[number][port_protocol(entry)].append(svc.name)
                target = entry.get("targetPort")
                by_target[str(number if target in (None, 0, "") else target)][number] \
                    .append(svc.name)
        for number, protos in sorted(by_port.items()):
            if len(protos) > 1:
                findings.append(finding(
                    "MG115", "protocols", obj, PORT_LABELS, workload=obj.ref, port=number,
                    protocols="; ".join(f"{p} in {', '.join(sorted(n))}"
                                        for p, n in sorted(protos.items()))))
        for target, ports in sorted(by_target.items()):
            if len(ports) > 1:
                names = sorted({n for ns in ports.values() for n in ns})
                findings.append(finding("MG115", "target-ports", obj, PORT_LABELS, workload=obj.ref,
                                        target=target, services=names, ports=sorted(ports)))
    return CheckReport.from_findings(findings, "Services agree on each workload's ports")


@check("MG116", points=0, reads=("repo", "cluster"),
       title="ExternalName Services name their ports after the protocol they carry")
def test_externalname_port_names(ctx: Context) -> CheckReport:
    """MG116: ExternalName Services name each port after its protocol, and not plain 'tcp'
    (istioctl's ExternalNameServiceTypeInvalidPortName)."""
    findings: list[Finding] = []
    services = [s for s in ctx.index.latest("Service") if s.origin != "baseline"
                and s.spec.get("type") == "ExternalName" and not port_name_exempt(s.namespace)
                and "istio" not in s.labels and s.labels.get("release") != "istio"]
    for svc in services:
        for i, p in enumerate(as_list(svc.spec.get("ports"))):
            entry = as_dict(p)
            name = entry.get("name")
            if protocols.of_service_port(entry) is not None and name != "tcp":
                continue
            named = "is named 'tcp'" if name == "tcp" else \
                f"is named '{name}', which names no protocol" if name else "has no name"
            findings.append(finding("MG116", "name", svc, f"spec.ports[{i}]",
                                    port=entry.get("port"), named=named,
                                    external=svc.spec.get("externalName") or "?"))
    return CheckReport.from_findings(findings, f"{len(services)} ExternalName Service(s) name "
                                     "their ports")
