"""Reading files for the lab (like ``kubectl apply -f``) and keying objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..submission.kinds import CLUSTER_SCOPED, GATEWAY_API_GROUP


class ManifestError(Exception):
    """A file given to the lab does not parse; the message names the file and line."""


def key_of(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): one object whatever its version."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    ns = "" if kind in CLUSTER_SCOPED else (meta.get("namespace") or "default")
    if group == GATEWAY_API_GROUP or not group.startswith("networking.istio.io"):
        return group, kind, ns, str(meta.get("name", ""))
    return "networking.istio.io", kind, ns, str(meta.get("name", ""))


def load_paths(paths: list[Path]) -> list[dict[str, Any]]:
    """Objects of files and folders, in the order given (files of a folder sorted). A file
    is read alone: its folder's other files are neither listed nor read."""
    from ..submission.loader import load_files, load_folder  # start-up: yaml, not for --help

    out: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            sub = load_folder(path)
        elif path.is_file():
            sub = load_files(path.parent, [path.name])
        else:
            raise ManifestError(f"{path}: no such file or folder")
        if sub.issues:
            first = sub.issues[0]
            where = f"{sub.root / first.file}:{first.line}" if first.line \
                else str(sub.root / first.file)
            raise ManifestError(f"{where}: {first.message}")
        for obj in sub.objects:
            if obj.kind and obj.name:
                raw = dict(obj.raw)
                raw["metadata"] = dict(obj.metadata)
                if obj.kind not in CLUSTER_SCOPED:
                    raw["metadata"].setdefault("namespace", obj.namespace)
                out.append(raw)
    return out
