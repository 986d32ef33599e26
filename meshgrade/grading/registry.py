"""The built-in checks, found on the functions of the shipped check suites (``checks/``,
installed as ``meshgrade.checks``), by ID in ID order. Meta-tests keep them and the
catalogue of messages in step."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from . import layout
from .check import Check, declared


@lru_cache(maxsize=1)
def checks() -> dict[str, Check]:
    """Every built-in check by ID, in ID order."""
    package = layout.shipped_package("checks")
    found: dict[str, Check] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            spec = declared(value)
            if spec is None or getattr(value, "__module__", None) != module.__name__:
                continue
            if spec.id in found:
                raise RuntimeError(f"check {spec.id} is declared twice: "
                                   f"{found[spec.id].fn.__qualname__} and {value.__qualname__}")
            found[spec.id] = spec
    return dict(sorted(found.items()))


def get(check_id: str) -> Check:
    return checks()[check_id]
