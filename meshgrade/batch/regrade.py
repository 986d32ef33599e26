"""``batch --compare PREVIOUS_OUT``: whose grade moved since an earlier batch, check by check.

Each roster student's new ``results.json`` is compared with ``PREVIOUS_OUT/<student>/
results.json``. A check moved when its outcome or its points changed (a rubric that only
raises the points of a check a student failed moves nothing for them); a student moved when a
check or the total did. A total is "not graded" when the run was not gradable or there was no
run; a student graded on one side only is one row with an empty check.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgrade.reports.formatting import fmt_points
from meshgrade.reports.sinks import for_csv

from .roster import read_results
from .runner import BatchSummary

REGRADE = "regrade.csv"
COLUMNS = ("student", "check", "old_outcome", "old_points", "new_outcome", "new_points",
           "old_total", "new_total")
NOT_GRADED = "not graded"
_EPS = 1e-6


@dataclass(frozen=True)
class CheckChange:
    """One check whose outcome or points moved; an outcome is empty where the check was not
    in that run."""

    check: str
    old_outcome: str
    old_points: float | None
    new_outcome: str
    new_points: float | None


@dataclass
class StudentChange:
    """A student whose total or any check moved; a total is None when not graded."""

    student: str
    old_total: float | None
    new_total: float | None
    checks: list[CheckChange] = field(default_factory=list)


def _outcomes(data: dict[str, Any] | None) -> dict[str, tuple[str, float]]:
    """Check ID -> (outcome, points) of a results.json."""
    checks = (data or {}).get("checks") or []
    return {str(c["id"]): (str(c.get("outcome") or ""), _points(c.get("score")))
            for c in checks if isinstance(c, dict) and c.get("id")}


def _points(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _total(data: dict[str, Any] | None) -> float | None:
    return _points(data.get("score")) if data and data.get("gradable") is True else None


def _differ(a: float | None, b: float | None) -> bool:
    return (a is None) != (b is None) or (a is not None and b is not None and abs(a - b) > _EPS)


def _check_changes(old: dict[str, Any], new: dict[str, Any]) -> list[CheckChange]:
    before, after = _outcomes(old), _outcomes(new)
    changes = []
    for cid in [*after, *(c for c in before if c not in after)]:
        (o_out, o_pts), (n_out, n_pts) = before.get(cid, ("", None)), after.get(cid, ("", None))
        if o_out != n_out or _differ(o_pts, n_pts):
            changes.append(CheckChange(cid, o_out, o_pts, n_out, n_pts))
    return changes


def compare(summary: BatchSummary, previous: Path) -> list[StudentChange]:
    """Every roster student whose total or any check moved since ``previous``, in roster
    order."""
    moved = []
    for r in summary.results:
        old, new = read_results(previous / r.row.folder), r.results
        change = StudentChange(r.row.student, _total(old), _total(new) if r.gradable else None)
        if old is not None and new is not None:
            change.checks = _check_changes(old, new)
        if change.checks or _differ(change.old_total, change.new_total):
            moved.append(change)
    return moved


def _cell(points: float | None) -> str:
    return "" if points is None else fmt_points(points)


def _total_cell(total: float | None) -> str:
    return NOT_GRADED if total is None else fmt_points(total)


def regrade_csv(changes: list[StudentChange]) -> str:
    """``regrade.csv``: one row per moved check (one with an empty check for a student graded
    on one side only), with both totals on every row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for s in changes:
        totals = (_total_cell(s.old_total), _total_cell(s.new_total))
        rows = [(c.check, c.old_outcome, _cell(c.old_points), c.new_outcome,
                 _cell(c.new_points)) for c in s.checks] or [("", "", "", "", "")]
        for check, o_out, o_pts, n_out, n_pts in rows:
            writer.writerow([for_csv(s.student), for_csv(check), for_csv(o_out), o_pts,
                             for_csv(n_out), n_pts,
                             *totals])
    return buf.getvalue()


__all__ = ["COLUMNS", "REGRADE", "CheckChange", "StudentChange", "compare", "regrade_csv"]
