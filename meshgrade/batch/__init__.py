"""Grading a whole class: ``meshgrade batch ROSTER.csv``.

- ``roster``: the CSV roster, validated with line numbers.
- ``runner``: one ``meshgrade grade`` process per student, with a timeout and ``--resume``.
- ``progress``: the per-student lines and the live bar on stderr.
- ``classreport``: ``gradebook.csv`` and ``class-report.html``.
- ``cli``: ``add_parser(sub)`` and ``run(args)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .roster import RosterError, RosterRow, read_roster
    from .runner import BatchOptions, BatchSummary, StudentResult, run_batch

_FROM = {"RosterError": "roster", "RosterRow": "roster", "read_roster": "roster",
         "BatchOptions": "runner", "BatchSummary": "runner", "StudentResult": "runner",
         "run_batch": "runner"}


def __getattr__(name: str) -> Any:
    """The names below, imported on first use (``meshgrade --help`` imports no runner)."""
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)


__all__ = ["BatchOptions", "BatchSummary", "RosterError", "RosterRow", "StudentResult",
           "read_roster", "run_batch"]
