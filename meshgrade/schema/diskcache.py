"""On-disk cache of compact schema bundles, so that a cold run skips the model imports.

Files live in ``$MESHGRADE_CACHE_DIR`` or ``$XDG_CACHE_HOME/meshgrade`` (default
``~/.cache/meshgrade``), under ``schema/``; ``MESHGRADE_CACHE_DIR=off`` disables the cache.
A file is named by bundle and key (the key covers the installed package versions, the source
files and the converter), is written atomically, and every failure falls back to building.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

FORMAT = 1


def default_dir() -> Path | None:
    """The cache directory from the environment, or None when caching is off."""
    explicit = os.environ.get("MESHGRADE_CACHE_DIR")
    if explicit is not None:
        if explicit.strip().lower() in ("", "0", "off", "no", "false"):
            return None
        return Path(explicit) / "schema"
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no home directory: do not litter the working directory
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "meshgrade" / "schema"


def make_key(*parts: Any) -> str:
    """A stable digest of JSON-able parts (plus this format's version)."""
    text = json.dumps([FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(directory: Path | None, bundle: str, key: str) -> dict[str, Any] | None:
    if directory is None:
        return None
    try:
        with open(directory / f"{bundle}-{key}.json", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    bundle_data = data.get("bundle")
    return bundle_data if isinstance(bundle_data, dict) else None


def store(directory: Path | None, bundle: str, key: str, data: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename). Files of other keys are left alone:
    another environment with other package versions may share the directory."""
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{bundle}-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"key": key, "bundle": data}, handle, separators=(",", ":"))
            os.replace(tmp, directory / f"{bundle}-{key}.json")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except Exception:  # a read-only or full disk must not break validation
        return


def file_stamp(path: str | None) -> list[Any]:
    """Size and modification time of a file, for cache keys."""
    if path is None:
        return []
    try:
        stat = os.stat(path)
    except OSError:
        return []
    return [os.path.basename(path), stat.st_size, stat.st_mtime_ns]


@lru_cache(maxsize=4)
def dist_versions(models_dir: str | None) -> dict[str, str]:
    """Versions of the installed cloudcoil distributions, read from their ``.dist-info``
    folder names next to the package (cheaper than ``importlib.metadata``)."""
    if models_dir is None:
        return {}
    site = os.path.dirname(os.path.dirname(models_dir))
    found = {}
    try:
        with os.scandir(site) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith("cloudcoil") and name.endswith(".dist-info"):
                    dist, _, version = name[: -len(".dist-info")].partition("-")
                    found[dist] = version
    except OSError:
        return {}
    return found
