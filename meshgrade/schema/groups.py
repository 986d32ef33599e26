"""Which API groups we know, and which schema bundle serves an apiVersion.

A *bundle* is the unit of loading and caching: one generated cloudcoil model module
(``kubernetes.apps.v1``, ``istio.networking.v1alpha3``) or the hand-written Gateway API file.
Nothing here imports the model modules; served versions are read from the file names.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import cache, lru_cache

GATEWAY_BUNDLE = "gateway-api"
GATEWAY_GROUP = "gateway.networking.k8s.io"

# API group -> cloudcoil package (family, package directory)
_MODEL_GROUPS: dict[str, tuple[str, str]] = {
    "": ("kubernetes", "core"),
    "apps": ("kubernetes", "apps"),
    "batch": ("kubernetes", "batch"),
    "autoscaling": ("kubernetes", "autoscaling"),
    "policy": ("kubernetes", "policy"),
    "networking.k8s.io": ("kubernetes", "networking"),
    "rbac.authorization.k8s.io": ("kubernetes", "rbac"),
    "storage.k8s.io": ("kubernetes", "storage"),
    "scheduling.k8s.io": ("kubernetes", "scheduling"),
    "node.k8s.io": ("kubernetes", "node"),
    "discovery.k8s.io": ("kubernetes", "discovery"),
    "events.k8s.io": ("kubernetes", "events"),
    "coordination.k8s.io": ("kubernetes", "coordination"),
    "certificates.k8s.io": ("kubernetes", "certificates"),
    "apiextensions.k8s.io": ("kubernetes", "apiextensions"),
    "admissionregistration.k8s.io": ("kubernetes", "admissionregistration"),
    "flowcontrol.apiserver.k8s.io": ("kubernetes", "flowcontrol"),
    "resource.k8s.io": ("kubernetes", "resource"),
    "apiregistration.k8s.io": ("kubernetes", "apiregistration"),
    "internal.apiserver.k8s.io": ("kubernetes", "apiserverinternal"),
    "storagemigration.k8s.io": ("kubernetes", "storagemigration"),
    "authentication.k8s.io": ("kubernetes", "authentication"),
    "authorization.k8s.io": ("kubernetes", "authorization"),
    "networking.istio.io": ("istio", "networking"),
    "security.istio.io": ("istio", "security"),
    "telemetry.istio.io": ("istio", "telemetry"),
    "extensions.istio.io": ("istio", "extensions"),
}
# Built-in groups the API server no longer serves at all.
_RETIRED_GROUPS = frozenset({"extensions"})


@dataclass(frozen=True)
class Placement:
    """Where an apiVersion stands: ``known_group`` False means another project's API;
    ``bundle`` is None when the group is ours but the version is not served."""

    known_group: bool
    bundle: str | None = None


def split(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


def place(api_version: str, gateway_versions: frozenset[str]) -> Placement:
    """Locate the bundle for an apiVersion (``gateway_versions``: those the Gateway API file
    lists)."""
    group, version = split(api_version)
    if group == GATEWAY_GROUP:
        return Placement(True, GATEWAY_BUNDLE if version in gateway_versions else None)
    if group in _RETIRED_GROUPS:
        return Placement(True)
    family_package = _MODEL_GROUPS.get(group)
    if family_package is None or not version or models_dir() is None:
        return Placement(False)  # not ours, or the model package is missing: cannot judge
    family, package = family_package
    if version not in served_versions(family, package):
        return Placement(True)
    return Placement(True, f"{family}.{package}.{version}")


def group_bundles(api_version: str, gateway_versions: frozenset[str]) -> list[str]:
    """Every bundle of the apiVersion's group (for "that kind is in version X" hints)."""
    group, _ = split(api_version)
    if group == GATEWAY_GROUP:
        return [GATEWAY_BUNDLE] if gateway_versions else []
    family_package = _MODEL_GROUPS.get(group)
    if family_package is None:
        return []
    family, package = family_package
    return [f"{family}.{package}.{v}" for v in served_versions(family, package)]


def module_name(bundle: str) -> str:
    """Dotted name of a model bundle's module under ``cloudcoil.models``."""
    return "cloudcoil.models." + bundle


def module_file(bundle: str) -> str | None:
    root = models_dir()
    if root is None:
        return None
    path = os.path.join(root, *bundle.split(".")) + ".py"
    return path if os.path.isfile(path) else None


@cache
def served_versions(family: str, package: str) -> tuple[str, ...]:
    """Versions for which cloudcoil has a model module, e.g. ``("v1", "v1beta1")``."""
    root = models_dir()
    if root is None:
        return ()
    try:
        names = os.listdir(os.path.join(root, family, package))
    except OSError:
        return ()
    return tuple(sorted(n[:-3] for n in names if n.startswith("v") and n.endswith(".py")))


@lru_cache(maxsize=1)
def models_dir() -> str | None:
    """Directory of the ``cloudcoil.models`` namespace package, found without importing any
    model module."""
    try:
        spec = importlib.util.find_spec("cloudcoil.models")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or ()) if spec else []
    return locations[0] if locations else None
