"""MG115-MG116: what Istio makes of Service ports: one protocol and one port per target port
of the pods several Services select, and the port names of ExternalName Services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ..grading.context import Context
from ..grading.results import CheckReport, Finding
from ..routing.mesh import port_name_exempt
from ..submission.kinds import WORKLOAD_KINDS
from ..submission.objects import KObject, as_dict, as_list, selects, str_map
from . import protocols
from .common import finding

_INJECT = "sidecar.istio.io/inject"
_LABELS = "spec.template.metadata.labels"


def _template(obj: KObject) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, spec) of a workload's pod template."""
    template = as_dict(obj.spec.get("template"))
    return as_dict(template.get("metadata")), as_dict(template.get("spec"))


def in_mesh(ctx: Context, obj: KObject) -> bool:
    """Whether a workload's pods get a sidecar (as istioctl decides: an istio-proxy
    container, the pod's inject label or annotation, else its namespace's injection label).
    A namespace the repository does not define counts as injected (the course's rule)."""
    meta, spec = _template(obj)
    if any(as_dict(c).get("name") == "istio-proxy" for c in as_list(spec.get("containers"))):
        return True
    for marks in (str_map(meta.get("labels")), str_map(meta.get("annotations"))):
        if _INJECT in marks:
            return marks[_INJECT] == "true"
    ns = ctx.mesh().namespace_labels.get(obj.namespace)
    return ns is None or ns.get("istio-injection") == "enabled" or bool(ns.get("istio.io/rev"))


def services_by_namespace(ctx: Context) -> dict[str, list[KObject]]:
    out: dict[str, list[KObject]] = defaultdict(list)
    for svc in ctx.mesh().services.values():
        out[svc.namespace].append(svc)
    return out


def _selecting(by_ns: dict[str, list[KObject]], obj: KObject) -> list[KObject]:
    labels = str_map(_template(obj)[0].get("labels"))
    return [s for s in by_ns.get(obj.namespace, ())
            if selects(str_map(s.spec.get("selector")), labels)]


def _protocol(port: Mapping[str, Any]) -> str:
    return protocols.of_service_port(port) or "detected (sniffed)"


def workload_services_agree(ctx: Context) -> CheckReport:
    """MG115: the Services that select one workload's pods give each port one protocol and
    each target port one port (istioctl's DeploymentAssociatedToMultipleServices and
    DeploymentConflictingPorts)."""
    findings: list[Finding] = []
    workloads = [o for o in ctx.index.latest(*WORKLOAD_KINDS)
                 if o.origin != "baseline" and in_mesh(ctx, o)]
    by_ns = services_by_namespace(ctx)
    for obj in workloads:
        services = _selecting(by_ns, obj)
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
                by_port[number][_protocol(entry)].append(svc.name)
                target = entry.get("targetPort")
                by_target[str(number if target in (None, 0, "") else target)][number] \
                    .append(svc.name)
        for number, protos in sorted(by_port.items()):
            if len(protos) > 1:
                findings.append(finding(
                    "MG115", "protocols", obj, _LABELS, workload=obj.ref, port=number,
                    protocols="; ".join(f"{p} in {', '.join(sorted(n))}"
                                        for p, n in sorted(protos.items()))))
        for target, ports in sorted(by_target.items()):
            if len(ports) > 1:
                names = sorted({n for ns in ports.values() for n in ns})
                findings.append(finding("MG115", "target-ports", obj, _LABELS, workload=obj.ref,
                                        target=target, services=names, ports=sorted(ports)))
    return CheckReport.from_findings(findings, "Services agree on each workload's ports")


def externalname_port_names(ctx: Context) -> CheckReport:
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
