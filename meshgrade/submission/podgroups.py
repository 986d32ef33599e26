"""Pods as the grader sees them: Deployment templates (repo) or Pod objects (cluster)."""

from __future__ import annotations

from dataclasses import dataclass

from .index import ObjectIndex
from .kinds import WORKLOAD_KINDS
from .objects import KObject, selects


@dataclass(frozen=True)
class PodGroup:
    """Identical pods of one workload: namespace, owner name, labels, replica count."""

    namespace: str
    workload: str
    labels: tuple[tuple[str, str], ...]
    replicas: int
    source: KObject

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def version(self) -> str | None:
        return self.label_map.get("version")


def pod_groups(objects: list[KObject]) -> list[PodGroup]:
    """Pod groups from workload templates and bare Pods (the latest stage of each)."""
    out = []
    for obj in objects:
        if obj.kind in WORKLOAD_KINDS:
            template = obj.spec.get("template")
            meta = template.get("metadata") if isinstance(template, dict) else None
            labels = meta.get("labels") if isinstance(meta, dict) else None
            replicas = obj.spec.get("replicas", 1)
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                replicas = 1
            out.append(PodGroup(obj.namespace, obj.name, _labels(labels), replicas, obj))
        elif obj.kind == "Pod":
            out.append(PodGroup(obj.namespace, _owner(obj), _labels(obj.labels), 1, obj))
    return out


def _labels(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in value.items() if v is not None))


def _owner(pod: KObject) -> str:
    labels = pod.labels
    if "app" in labels and "version" in labels:
        return f"{labels['app']}-{labels['version']}"
    name = pod.name
    parts = name.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else name


def selected_groups(groups: list[PodGroup], selector: dict[str, str], namespace: str
                    ) -> list[PodGroup]:
    return [g for g in groups if g.namespace == namespace and selects(selector, g.label_map)]


def index_groups(index: ObjectIndex) -> list[PodGroup]:
    return pod_groups(index.latest(*WORKLOAD_KINDS, "Pod"))
