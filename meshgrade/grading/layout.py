"""Where the shipped check suites, fixtures, rubrics and data live (installed or in a
checkout)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def suite_dir() -> Path:
    """The pytest check suites: installed as meshgrade/_suite, or the checkout's checks/."""
    try:
        return Path(str(resources.files("meshgrade._suite")))
    except ModuleNotFoundError:
        return _CHECKOUT / "checks"


def pytest_ini() -> Path:
    return Path(str(resources.files("meshgrade").joinpath("data/pytest.ini")))


def builtin_dir() -> Path:
    """Folder of the built-in rubrics (installed package data, or the checkout's rubrics/)."""
    try:
        return Path(str(resources.files("meshgrade._rubrics")))
    except ModuleNotFoundError:
        return _CHECKOUT / "rubrics"


def builtin_names() -> list[str]:
    """The built-in rubrics' names."""
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))
