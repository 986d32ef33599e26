"""Server-side printing: meta.k8s.io Table objects with kubectl's columns."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

from .resources import AGE, Resource

Obj = dict[str, Any]
NONE = "<none>"


def human_duration(seconds: float) -> str:
    """kubectl's short age format (5s, 3m2s, 4h, 2d3h, 400d, 3y20d)."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m, h, d = s // 60, s // 3600, s // 86400
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if h < 3:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    y = d // 365
    if y < 8:
        return f"{y}y{d % 365}d" if d % 365 else f"{y}y"
    return f"{y}y"


def age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds())


_STEP = re.compile(r'\.([A-Za-z0-9_-]+)|\[(\d+|\*)\]'
                   r'|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["\']([^"\']*)["\']\)\]')


def json_path(obj: Any, path: str) -> list[Any]:
    """Results of a simple JSONPath (.a.b, [0], [*], [?(@.k=="v")]) as printer columns use."""
    values = [obj]
    path = path.strip().removeprefix("{").removesuffix("}").removeprefix("$")
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for v in values:
            if m.group(1) is not None and isinstance(v, dict) and m.group(1) in v:
                nxt.append(v[m.group(1)])
            elif m.group(2) == "*" and isinstance(v, list):
                nxt.extend(v)
            elif m.group(2) and m.group(2) != "*" and isinstance(v, list):
                if int(m.group(2)) < len(v):
                    nxt.append(v[int(m.group(2))])
            elif m.group(3) and isinstance(v, list):
                for item in v:
                    got = json_path(item, "." + m.group(3))
                    if got and str(got[0]) == m.group(4):
                        nxt.append(item)
        values = nxt
    return values


def custom_cell(obj: Obj, col: dict[str, Any]) -> Any:
    """A cell of an additionalPrinterColumn, formatted as the apiextensions server does."""
    found = json_path(obj, col.get("jsonPath", ""))
    if not found or found[0] is None:
        return None
    value, kind = found[0], col.get("type", "string")
    if kind == "date":
        return age(value) if isinstance(value, str) else None
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kind == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, (int, float)):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    return None


def _col(name: str, type_: str = "string", priority: int = 0, description: str = "",
         fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": description,
            "priority": priority}


NAME = _col("Name", fmt="name", description="Name must be unique within a namespace.")


def _pod_cells(pod: Obj) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    sidecars = {c.get("name") for c in spec.get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    ready = restarts = 0
    running = False
    for cs in status.get("initContainerStatuses") or []:
        restarts += int(cs.get("restartCount") or 0)
        if cs.get("name") in sidecars and cs.get("ready"):
            ready += 1
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif "running" in state and cs.get("ready"):
            running = True
            ready += 1
    if reason == "Completed" and running:
        reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    created = pod["metadata"].get("creationTimestamp")
    return [f"{ready}/{total}", reason, str(restarts), age(created),
            status.get("podIP") or NONE, spec.get("nodeName") or NONE, NONE, NONE]


def _deployment_cells(dep: Obj) -> list[Any]:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0)),
            age(dep["metadata"].get("creationTimestamp")),
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or NONE]


def _service_cells(svc: Obj) -> list[Any]:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        external = [i.get("ip") or i.get("hostname") for i in ingress] + external
        shown = ",".join(e for e in external if e) or "<pending>"
    elif kind == "ExternalName":
        shown = spec.get("externalName") or NONE
    else:
        shown = ",".join(external) or NONE
    ports = ",".join(
        (f"{p.get('port')}:{p['nodePort']}" if p.get("nodePort") else f"{p.get('port')}")
        + f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [kind, spec.get("clusterIP") or NONE, shown, ports or NONE,
            age(svc["metadata"].get("creationTimestamp")), selector or NONE]


def _event_cells(ev: Obj) -> list[Any]:
    involved = ev.get("involvedObject") or {}
    source = ev.get("source") or {}
    first = ev.get("firstTimestamp") or ev.get("eventTime")
    last = ev.get("lastTimestamp") or first
    return [age(last), ev.get("type") or "", ev.get("reason") or "",
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            involved.get("fieldPath") or "",
            ", ".join(x for x in (source.get("component"), source.get("host")) if x),
            ev.get("message") or "", age(first), str(ev.get("count") or 1),
            ev["metadata"]["name"]]


def _node_cells(node: Obj) -> list[Any]:
    status = node.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or [])
    roles = ",".join(k.rsplit("/", 1)[1] for k in (node["metadata"].get("labels") or {})
                     if k.startswith("node-role.kubernetes.io/")) or NONE
    info = status.get("nodeInfo") or {}
    address = next((a.get("address") for a in status.get("addresses") or []
                    if a.get("type") == "InternalIP"), NONE)
    return ["Ready" if ready else "NotReady", roles, age(node["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), address, NONE, info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


#: Kinds whose table has no leading Name column.
NAMELESS = {("", "Event")}

BUILTIN: dict[tuple[str, str], tuple[list[dict[str, Any]], Callable[[Obj], list[Any]]]] = {
    ("", "Event"): ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"),
                     _col("Subobject", priority=1), _col("Source", priority=1), _col("Message"),
                     _col("First Seen", priority=1), _col("Count", priority=1),
                     _col("Name", priority=1)], _event_cells),
    ("", "Node"): ([_col("Status"), _col("Roles"), _col("Age"), _col("Version"),
                    _col("Internal-IP", priority=1), _col("External-IP", priority=1),
                    _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
                    _col("Container-Runtime", priority=1)], _node_cells),
    ("", "Secret"): ([_col("Type"), _col("Data", "integer"), _col("Age")],
                     lambda o: [o.get("type") or "Opaque", len(o.get("data") or {}),
                                age(o["metadata"].get("creationTimestamp"))]),
    ("", "ServiceAccount"): ([_col("Secrets", "integer"), _col("Age")],
                             lambda o: [len(o.get("secrets") or []),
                                        age(o["metadata"].get("creationTimestamp"))]),
    ("", "Pod"): ([_col("Ready"), _col("Status"), _col("Restarts"), _col("Age"),
                   _col("IP", priority=1), _col("Node", priority=1),
                   _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
                  _pod_cells),
    ("apps", "Deployment"): ([_col("Ready"), _col("Up-to-date", "integer"),
                              _col("Available", "integer"), _col("Age"),
                              _col("Containers", priority=1), _col("Images", priority=1),
                              _col("Selector", priority=1)], _deployment_cells),
    ("", "Service"): ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"),
                       _col("Age"), _col("Selector", priority=1)], _service_cells),
    ("", "Namespace"): ([_col("Status"), _col("Age")],
                        lambda o: [(o.get("status") or {}).get("phase", "Active"),
                                   age(o["metadata"].get("creationTimestamp"))]),
    ("", "ConfigMap"): ([_col("Data", "integer"), _col("Age")],
                        lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                   age(o["metadata"].get("creationTimestamp"))]),
    ("apps", "ReplicaSet"): ([_col("Desired", "integer"), _col("Current", "integer"),
                              _col("Ready", "integer"), _col("Age")],
                             lambda o: [int((o.get("spec") or {}).get("replicas", 1)),
                                        int((o.get("status") or {}).get("replicas", 0)),
                                        int((o.get("status") or {}).get("readyReplicas", 0)),
                                        age(o["metadata"].get("creationTimestamp"))]),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (
        [_col("Created At", fmt="date-time")],
        lambda o: [o["metadata"].get("creationTimestamp")]),
}


def crd_columns(res: Resource, version: str, crd: Obj | None) -> list[dict[str, Any]]:
    """additionalPrinterColumns for a custom kind: the stored CRD's, else the registry's."""
    if crd is not None:
        for entry in (crd.get("spec") or {}).get("versions") or []:
            if entry.get("name") == version:
                return list(entry.get("additionalPrinterColumns") or [AGE])
    return list(res.columns or (AGE,))


def to_table(res: Resource, version: str, objects: list[Obj], *, crd: Obj | None = None,
             include_object: str = "Metadata", table_version: str = "v1",
             list_meta: dict[str, Any] | None = None) -> Obj:
    """A Table of `objects` (already rewritten to `version`)."""
    builtin = BUILTIN.get((res.group, res.kind))
    nameless = (res.group, res.kind) in NAMELESS
    if builtin is not None:
        columns, cells_of = ([] if nameless else [NAME]) + builtin[0], builtin[1]
    elif res.custom:
        custom = crd_columns(res, version, crd)
        columns = [NAME] + [_col(c["name"], c.get("type", "string"), int(c.get("priority", 0)),
                                 c.get("description", ""), c.get("format", ""))
                            for c in custom]

        def cells_of(o: Obj) -> list[Any]:
            return [custom_cell(o, c) for c in custom]
    else:
        columns = [NAME, _col("Age")]

        def cells_of(o: Obj) -> list[Any]:
            return [age(o["metadata"].get("creationTimestamp"))]
    rows = []
    for obj in objects:
        row: Obj = {"cells": [*([] if nameless else [obj["metadata"]["name"]]), *cells_of(obj)]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata",
                             "apiVersion": f"meta.k8s.io/{table_version}",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_version}",
            "metadata": list_meta or {}, "columnDefinitions": columns, "rows": rows}
