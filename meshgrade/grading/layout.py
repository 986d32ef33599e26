"""Where the shipped check suites, fixtures, rubrics and data live.

The checkout's ``checks/``, ``fixtures/`` and ``rubrics/`` are installed as the packages
``meshgrade.checks``, ``meshgrade.fixtures`` and ``meshgrade.rubrics``; a checkout used without
installing loads them from its folders under the same names."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_PACKAGE = Path(__file__).resolve().parents[1]  # meshgrade/ (no importlib.resources: 4 ms)
_CHECKOUT = _PACKAGE.parent


def shipped_package(name: str) -> ModuleType:
    """``meshgrade.<name>`` (checks, fixtures or rubrics), installed or from the checkout."""
    full = f"meshgrade.{name}"
    if full in sys.modules:
        return sys.modules[full]
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
    folder = _CHECKOUT / name
    spec = importlib.util.spec_from_file_location(
        full, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"{full} is neither installed nor in {folder}", name=full)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module


def shipped_dir(name: str) -> Path:
    """The folder of a shipped package."""
    (folder,) = shipped_package(name).__path__  # a regular package: one folder
    return Path(folder)


def suite_dir() -> Path:
    """The pytest check suites."""
    return shipped_dir("checks")


def pytest_ini() -> Path:
    return _PACKAGE / "data" / "pytest.ini"


def builtin_dir() -> Path:
    """Folder of the built-in rubrics."""
    return shipped_dir("rubrics")


def builtin_names() -> list[str]:
    """The built-in rubrics' names."""
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))
