"""meshgrade: grade and verify Istio service-mesh coursework.

``from meshgrade import check`` declares a check (see :func:`meshgrade.grading.check.check`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "check"]

if TYPE_CHECKING:
    from .grading.check import check


def __getattr__(name: str) -> Any:
    """``check``, imported on first use so that `meshgrade --help` stays fast."""
    if name == "check":
        from .grading.check import check  # start-up: yaml and the engine, not for --help

        return check
    raise AttributeError(f"module 'meshgrade' has no attribute {name!r}")
