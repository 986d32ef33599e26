"""Schema validation behind MG103 (schema-valid).

Schemas come from the maintained model packages (``cloudcoil.models.kubernetes``,
``cloudcoil.models.istio``), converted once into a compact tree (cached in memory and on disk),
and for the Gateway API from ``gateway_api.json``. Only the model modules of the apiVersions
actually validated are imported.
"""

from __future__ import annotations

import logging
from difflib import get_close_matches
from typing import Any

from ..submission import paths
from . import diskcache
from .bundles import FOREIGN, KNOWN, Registry
from .issues import MAX_ISSUES, MISSING_REQUIRED, UNKNOWN_KIND, WRONG_TYPE, SchemaIssue
from .walk import Walker

__all__ = ["SchemaIssue", "classify", "validate"]

log = logging.getLogger(__name__)
_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry (disk cache location from the environment at first use)."""
    global _registry
    if _registry is None:
        _registry = Registry(diskcache.default_dir())
    return _registry


def classify(api_version: str, kind: str) -> str:
    """``"known"`` (we have a schema), ``"unknown-kind"`` (the group is one we know, e.g.
    ``networking.istio.io`` or core ``v1``, but it has no such kind in that version:
    ``kubectl apply`` would fail), or ``"foreign"`` (another project's API, or a kind that
    exists but that we do not validate). ``v1 List`` and ``<Kind>List`` of a known kind are
    ``"known"``: their items are validated."""
    if not isinstance(api_version, str) or not isinstance(kind, str) or not kind:
        return FOREIGN
    try:
        return _classify(api_version, kind)
    except Exception:
        log.warning("cannot classify %s %s", api_version, kind, exc_info=True)
        return FOREIGN


def _classify(api_version: str, kind: str) -> str:
    status = registry().lookup(api_version, kind)[0]
    if status == UNKNOWN_KIND and _is_list_kind(api_version, kind):
        return KNOWN
    return status


def _is_list_kind(api_version: str, kind: str) -> bool:
    if kind == "List":
        return api_version == "v1"
    return kind.endswith("List") and registry().lookup(api_version, kind[:-4])[0] == KNOWN


def validate(raw: dict[str, Any]) -> list[SchemaIssue]:
    """Validate one object (parsed YAML of dicts, lists and scalars) against its schema.

    Returns at most 50 issues and never raises: an object of a ``"foreign"`` kind yields
    ``[]``; one of an ``"unknown-kind"`` yields a single ``unknown-kind`` issue. The items of
    a list object (``kind: List``) are validated as objects at ``items[i]``.
    """
    try:
        return _validate(raw)[:MAX_ISSUES]
    except Exception:
        log.warning("schema validation failed unexpectedly", exc_info=True)
        return []


def _validate(raw: Any, nested: bool = False) -> list[SchemaIssue]:
    if not isinstance(raw, dict):
        return [SchemaIssue("", WRONG_TYPE, "a Kubernetes object must be a mapping",
                            "write the object as key: value pairs (apiVersion, kind, ...)")]
    header = _header_issues(raw)
    if header:
        return header
    api_version, kind = raw["apiVersion"], raw["kind"]
    status, node = registry().lookup(api_version, kind)
    if status == KNOWN and node is not None:
        return Walker(MAX_ISSUES).run(node, raw)
    if status == FOREIGN:
        return []
    if not nested and _is_list_kind(api_version, kind):
        return _validate_list(raw)
    return [_unknown_kind(api_version, kind)]


def _validate_list(raw: dict[Any, Any]) -> list[SchemaIssue]:
    items = raw.get("items")
    if not isinstance(items, list):
        return [SchemaIssue("items", WRONG_TYPE, "'items' of a list object must be a list",
                            "put the objects under items:, each starting with '- '")]
    issues: list[SchemaIssue] = []
    for index, item in enumerate(items):
        prefix = paths.join("items", index)
        for issue in _validate(item, nested=True):
            issues.append(SchemaIssue(_under(prefix, issue.path), issue.code, issue.message,
                                      issue.hint))
        if len(issues) >= MAX_ISSUES:
            break
    return issues


def _under(prefix: str, path: str) -> str:
    """``path`` (relative to an item) as a path from the list object."""
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def _header_issues(raw: dict[Any, Any]) -> list[SchemaIssue]:
    issues = []
    for key, example in (("apiVersion", "networking.istio.io/v1"), ("kind", "VirtualService")):
        value = raw.get(key)
        if value is None or value == "":
            issues.append(SchemaIssue(key, MISSING_REQUIRED, f"missing required field '{key}'",
                                      f"add '{key}', e.g. {key}: {example}"))
        elif not isinstance(value, str):
            issues.append(SchemaIssue(key, WRONG_TYPE, f"'{key}' must be a string",
                                      f"write it as text, e.g. {key}: {example}"))
    return issues


def _unknown_kind(api_version: str, kind: str) -> SchemaIssue:
    reg = registry()
    elsewhere = reg.versions_with(api_version, kind) or _home_of(kind)
    served = reg.kinds_of(api_version)
    if elsewhere:
        hint = f"{kind} is served as apiVersion {' or '.join(elsewhere)}"
    elif served:
        close = get_close_matches(kind, served, 1, 0.6)
        hint = (f"did you mean kind: {close[0]}? " if close else "") + (
            f"Kinds in {api_version}: {', '.join(served)}")
    else:
        hint = f"{api_version} is not a served API version"
    message = (f"kind '{kind}' does not exist in apiVersion {api_version}: "
               "kubectl apply would fail (no matches for kind)")
    return SchemaIssue("", UNKNOWN_KIND, message, hint)


# Where common kinds live, for hints when a kind is given the wrong group.
_HOMES = {
    "Service": "v1", "Pod": "v1", "ConfigMap": "v1", "Secret": "v1", "Namespace": "v1",
    "ServiceAccount": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1", "Ingress": "networking.k8s.io/v1",
    "VirtualService": "networking.istio.io/v1", "DestinationRule": "networking.istio.io/v1",
    "ServiceEntry": "networking.istio.io/v1", "Sidecar": "networking.istio.io/v1",
    "Gateway": "networking.istio.io/v1 (Istio) or gateway.networking.k8s.io/v1 (Gateway API)",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "PeerAuthentication": "security.istio.io/v1",
    "AuthorizationPolicy": "security.istio.io/v1",
}


def _home_of(kind: str) -> list[str]:
    home = _HOMES.get(kind)
    return [home] if home else []
