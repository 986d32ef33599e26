"""Compiled schema bundles in memory: loaded lazily per apiVersion, from the disk cache or built
from the model packages (and the Gateway API file)."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import diskcache, groups
from .nodes import Obj, compile_types

log = logging.getLogger(__name__)

KNOWN = "known"
UNKNOWN_KIND = "unknown-kind"
FOREIGN = "foreign"

_GATEWAY_FILE = "gateway_api.json"
_MAX_MEMO = 4096


@dataclass
class Bundle:
    """Kinds by apiVersion, plus kinds that exist but that we do not validate."""

    kinds: dict[str, dict[str, Obj]] = field(default_factory=dict)
    unvalidated: dict[str, frozenset[str]] = field(default_factory=dict)


def compile_bundle(data: dict[str, Any]) -> Bundle:
    """Compile a compact bundle (raises ValueError/KeyError/TypeError when malformed)."""
    objects = compile_types(data["types"])
    kinds = {
        str(api): {str(kind): objects[name] for kind, name in table.items()}
        for api, table in data["kinds"].items()
    }
    unvalidated = {
        str(api): frozenset(map(str, names)) for api, names in data.get("unvalidated", {}).items()
    }
    return Bundle(kinds, unvalidated)


class Registry:
    """Loads bundles on demand; ``cache_dir`` None disables the disk cache."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._bundles: dict[str, Bundle | None] = {}
        self._lookups: dict[tuple[str, str], tuple[str, Obj | None]] = {}
        self._lock = threading.RLock()

    def lookup(self, api_version: str, kind: str) -> tuple[str, Obj | None]:
        """(classification, schema of the kind when known)."""
        key = (api_version, kind)
        found = self._lookups.get(key)
        if found is None:
            found = self._lookup(api_version, kind)
            if len(self._lookups) < _MAX_MEMO:
                self._lookups[key] = found
        return found

    def _lookup(self, api_version: str, kind: str) -> tuple[str, Obj | None]:
        placement = groups.place(api_version, gateway_versions())
        if not placement.known_group:
            return FOREIGN, None
        if placement.bundle is None:
            return UNKNOWN_KIND, None
        bundle = self.bundle(placement.bundle)
        if bundle is None:  # the source could not be loaded: do not guess
            return FOREIGN, None
        node = bundle.kinds.get(api_version, {}).get(kind)
        if node is not None:
            return KNOWN, node
        if kind in bundle.unvalidated.get(api_version, ()):
            return FOREIGN, None
        return UNKNOWN_KIND, None

    def kinds_of(self, api_version: str) -> list[str]:
        """Every kind (validated or not) that an apiVersion serves."""
        placement = groups.place(api_version, gateway_versions())
        bundle = self.bundle(placement.bundle) if placement.bundle else None
        if bundle is None:
            return []
        names = set(bundle.kinds.get(api_version, {})) | bundle.unvalidated.get(api_version, set())
        return sorted(names)

    def versions_with(self, api_version: str, kind: str) -> list[str]:
        """Other apiVersions of the same group that serve ``kind``."""
        group = groups.split(api_version)[0]
        found = set()
        for bundle_id in groups.group_bundles(api_version, gateway_versions()):
            bundle = self.bundle(bundle_id)
            if bundle is None:
                continue
            for api in set(bundle.kinds) | set(bundle.unvalidated):
                if api == api_version or groups.split(api)[0] != group:
                    continue
                if kind in bundle.kinds.get(api, {}) or kind in bundle.unvalidated.get(api, ()):
                    found.add(api)
        return sorted(found)

    def bundle(self, bundle_id: str) -> Bundle | None:
        if bundle_id in self._bundles:
            return self._bundles[bundle_id]
        with self._lock:
            if bundle_id not in self._bundles:
                self._bundles[bundle_id] = self._load(bundle_id)
            return self._bundles[bundle_id]

    def _load(self, bundle_id: str) -> Bundle | None:
        try:
            key = self._key(bundle_id)
        except Exception:
            log.warning("schema bundle %s: cannot compute its cache key", bundle_id, exc_info=True)
            key = None
        if key is not None:
            data = diskcache.load(self.cache_dir, bundle_id, key)
            if data is not None:
                try:
                    return compile_bundle(data)
                except Exception:
                    log.debug("schema cache for %s is unusable; rebuilding", bundle_id)
        try:
            data = self._build(bundle_id)
            bundle = compile_bundle(data)
        except Exception:
            log.warning("schema bundle %s could not be built", bundle_id, exc_info=True)
            return None
        if key is not None:
            diskcache.store(self.cache_dir, bundle_id, key, data)
        return bundle

    def _key(self, bundle_id: str) -> str:
        root = groups.models_dir()
        parts: list[Any] = [
            bundle_id,
            diskcache.dist_versions(root),
            _source_digest(),
            diskcache.file_stamp(_apimachinery_file(root)),
        ]
        if bundle_id == groups.GATEWAY_BUNDLE:
            parts.append(hashlib.sha256(_gateway_text().encode()).hexdigest())
        else:
            parts.append(diskcache.file_stamp(groups.module_file(bundle_id)))
        return diskcache.make_key(*parts)

    def _build(self, bundle_id: str) -> dict[str, Any]:
        from . import from_models, modelimport  # start-up: the schema models

        if bundle_id == groups.GATEWAY_BUNDLE:
            return build_gateway_bundle()
        if groups.module_file(bundle_id) is None:
            raise LookupError(f"no model module for {bundle_id}")
        return from_models.convert_module(modelimport.load(bundle_id))


def build_gateway_bundle() -> dict[str, Any]:
    """The hand-written Gateway API bundle with its external types (``ObjectMeta``, ...)
    converted from cloudcoil's models."""
    from . import from_models  # start-up: the schema models

    data = json.loads(_gateway_text())
    converter = from_models.ModelConverter()
    aliases = {}
    for name, target in data.get("external", {}).items():
        module_name, _, attr = target.rpartition(".")
        cls = getattr(importlib.import_module(module_name), attr)
        aliases[name] = converter.model(cls)
    types = dict(converter.types)
    for name, spec in data["types"].items():
        if name in types:
            raise ValueError(f"Gateway API type {name!r} clashes with an external type")
        types[name] = spec
    for name, actual in aliases.items():
        if name != actual:
            types[name] = types[actual]
    return {"kinds": data["kinds"], "types": types, "unvalidated": data.get("unvalidated", {})}


@lru_cache(maxsize=1)
def gateway_versions() -> frozenset[str]:
    """Versions of ``gateway.networking.k8s.io`` that the Gateway API file covers."""
    try:
        data = json.loads(_gateway_text())
        apis = set(data.get("kinds", {})) | set(data.get("unvalidated", {}))
    except Exception:
        log.warning("cannot read %s", _GATEWAY_FILE, exc_info=True)
        return frozenset()
    return frozenset(groups.split(a)[1] for a in apis if groups.split(a)[0] == groups.GATEWAY_GROUP)


@lru_cache(maxsize=1)
def _gateway_text() -> str:
    return resources.files(__package__).joinpath(_GATEWAY_FILE).read_text("utf-8")


@lru_cache(maxsize=1)
def _source_digest() -> str:
    """Digest of the converter's own source, so a changed converter invalidates the cache."""
    digest = hashlib.sha256()
    for name in ("from_models.py", "nodes.py"):
        try:
            digest.update(resources.files(__package__).joinpath(name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()


def _apimachinery_file(models_dir: str | None) -> str | None:
    if models_dir is None:
        return None
    return str(Path(models_dir).parent / "apimachinery.py")
