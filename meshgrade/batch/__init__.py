"""Grading a whole class: ``meshgrade batch ROSTER.csv``.

- ``roster``: the CSV roster, validated with line numbers.
- ``runner``: one ``meshgrade grade`` process per student, with a timeout and ``--resume``.
- ``progress``: the per-student lines and the live bar on stderr.
- ``classreport``: ``gradebook.csv`` and ``class-report.html``.
- ``cli``: ``add_parser(sub)`` and ``run(args)``.
"""

from .roster import RosterError, RosterRow, read_roster
from .runner import BatchOptions, BatchSummary, StudentResult, run_batch

__all__ = ["BatchOptions", "BatchSummary", "RosterError", "RosterRow", "StudentResult",
           "read_roster", "run_batch"]
