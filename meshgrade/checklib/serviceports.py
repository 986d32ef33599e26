"""MG115-MG116: what Istio makes of Service ports: one protocol and one port per target port
of the pods several Services select, and the port names of ExternalName Services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ..grading.context import Context
from ..routing import protocols
from ..submission.objects import KObject, as_dict, as_list, selects, str_map

_INJECT = "sidecar.istio.io/inject"
PORT_LABELS = "spec.template.metadata.labels"


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


def selecting_services(by_ns: dict[str, list[KObject]], obj: KObject) -> list[KObject]:
    labels = str_map(_template(obj)[0].get("labels"))
    return [s for s in by_ns.get(obj.namespace, ())
            if selects(str_map(s.spec.get("selector")), labels)]


def port_protocol(port: Mapping[str, Any]) -> str:
    return protocols.of_service_port(port) or "detected (sniffed)"

