"""Collect many ``results.json`` files into one gradebook (a CSV row per submission).

Every ``results.json`` under a folder is read. Gradescope's ``gradescope/results.json``
(no ``schema`` key) is passed over silently; any other file that is not
``meshgrade.results/v1`` is listed in ``skipped`` with the reason. With a key, a file whose
signature is missing or does not match is listed in ``refused`` and kept out of the rows.
So is, with or without a key, a result of another rubric than the expected one (compared by
digest, see :class:`meshgrade.grading.provenance.RubricCheck`). With a roster, the signed student
must be on it and the signed repository must be that student's; without one, results of the
same repository and commit claimed by different students are all refused as copies.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgrade.batch.roster import RosterRow
from meshgrade.grading.provenance import RubricCheck, problems, recorded_repository, repository_key
from meshgrade.grading.results import SCHEMA_ID
from meshgrade.grading.signing import verify
from meshgrade.reports.sinks import for_csv

FILENAME = "results.json"
BASE_COLUMNS = ("student", "source", "repository", "commit", "rubric", "rubric_digest", "mode",
                "score", "max_score", "gradable")
# after "commit", when a due time (or --commit) chose some result's commit
DUE_COLUMNS = ("due", "commit_date", "late_commits", "suspicious_dates")


def dated(submissions: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a due time or ``--commit`` chose any of these submissions' commit."""
    return any(s.get("due") or s.get("commit_date") for s in submissions)


def with_due_columns(columns: Iterable[str], due: bool) -> list[str]:
    """``columns`` with DUE_COLUMNS after ``commit`` when ``due``."""
    out = list(columns)
    if due:
        at = out.index("commit") + 1
        out[at:at] = DUE_COLUMNS
    return out


def due_cells(submission: Mapping[str, Any]) -> list[str]:
    """The DUE_COLUMNS cells of a result's ``submission`` object (CSV-safe text; the
    suspicious dates joined with ``; ``), empty where not recorded."""
    late, odd = submission.get("late_commits"), submission.get("suspicious_dates")
    return [for_csv(str(submission.get("due") or "")),
            for_csv(str(submission.get("commit_date") or "")),
            str(late) if isinstance(late, int) and not isinstance(late, bool) else "",
            for_csv("; ".join(map(str, odd))) if isinstance(odd, list) else ""]


@dataclass
class Row:
    """One graded submission: who, what, the totals and the points per check ID."""

    path: Path
    student: str
    source: str
    commit: str
    rubric: str
    mode: str
    score: float
    max_score: float
    gradable: bool
    points: dict[str, float] = field(default_factory=dict)
    repository: str = ""
    rubric_digest: str = ""
    submission: dict[str, Any] = field(default_factory=dict)  # the result's, as recorded


@dataclass
class Gradebook:
    rows: list[Row] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)  # signature, rubric, owner
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # not meshgrade results

    @property
    def check_ids(self) -> list[str]:
        """Every check ID seen in any row, sorted."""
        return sorted({cid for row in self.rows for cid in row.points})

    @property
    def columns(self) -> list[str]:
        return [*with_due_columns(BASE_COLUMNS, self.dated), *self.check_ids]

    @property
    def dated(self) -> bool:
        return dated(r.submission for r in self.rows)


def _load(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The parsed document, or None and why it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    return data, None


def _is_gradescope(path: Path, data: dict[str, Any]) -> bool:
    return path.parent.name == "gradescope" and "schema" not in data


def _problem(data: dict[str, Any]) -> str | None:
    """Why ``data`` is not a usable meshgrade.results/v1 document, or None."""
    schema = data.get("schema")
    if schema != SCHEMA_ID:
        return f"schema {schema!r}, not {SCHEMA_ID}" if schema else "no schema key"
    if not isinstance(data.get("checks"), list) or not isinstance(data.get("submission"), dict):
        return "malformed: no checks list or submission object"
    return None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _row(path: Path, data: dict[str, Any]) -> Row:
    sub = data["submission"]
    points = {str(c["id"]): _number(c.get("score")) for c in data["checks"]
              if isinstance(c, dict) and c.get("id")}
    return Row(path=path, student=str(sub.get("student") or ""),
               source=str(sub.get("source") or ""), commit=str(sub.get("commit") or ""),
               rubric=str(data.get("rubric", "")), mode=str(data.get("mode", "")),
               score=_number(data.get("score")), max_score=_number(data.get("max_score")),
               gradable=data.get("gradable") is True, points=points,
               repository=str(sub.get("repository") or ""),
               rubric_digest=str(data.get("rubric_digest") or ""), submission=dict(sub))


def _roster_problems(data: dict[str, Any], rubric: RubricCheck,
                     roster: dict[str, RosterRow]) -> list[str]:
    """Why ``data`` is not the result of a roster student's own submission."""
    student = data["submission"].get("student")
    if not isinstance(student, str) or student not in roster:
        found = recorded_repository(data) or "(none)"
        return [f"student {student or '(none)'} is not in the roster (repository {found})"]
    return problems(data, rubric, repository=roster[student].submission)


def _refuse_copies(book: Gradebook) -> None:
    """Move rows whose repository and commit other students' rows claim too to refused."""
    owners: dict[tuple[str, str], set[str]] = {}
    for row in book.rows:
        if row.repository:
            owners.setdefault((repository_key(row.repository), row.commit), set()).add(row.student)
    kept = []
    for row in book.rows:
        claimants = owners.get((repository_key(row.repository), row.commit), set())
        if row.repository and len(claimants) > 1:
            others = ", ".join(sorted(claimants - {row.student}))
            book.refused.append((row.path, f"copied result: {row.repository} at commit "
                                           f"{row.commit or '(none)'} is also claimed by {others}"))
        else:
            kept.append(row)
    book.rows = kept


def collect(folder: Path, key: bytes | None, rubric: RubricCheck | None = None,
            roster: list[RosterRow] | None = None) -> Gradebook:
    """Read every ``results.json`` under ``folder`` (recursively) into a gradebook; with
    ``key``, refuse files that are unsigned or altered. Refuse results of another rubric
    than ``rubric`` (default: a built-in name means the built-in), and results that are not
    a ``roster`` student's own (without a roster: copies claimed by several students)."""
    book = Gradebook()
    rubric = rubric or RubricCheck()
    by_student = {row.student: row for row in roster} if roster is not None else None
    for path in sorted(Path(folder).rglob(FILENAME)):
        if not path.is_file():
            continue
        data, why = _load(path)
        if data is None:
            book.skipped.append((path, why or "unreadable"))
            continue
        if _is_gradescope(path, data):
            continue
        if (why := _problem(data)) is not None:
            book.skipped.append((path, why))
            continue
        if key is not None:
            ok, reason = verify(data, key)
            if not ok:
                book.refused.append((path, reason))
                continue
        found = (problems(data, rubric) if by_student is None
                 else _roster_problems(data, rubric, by_student))
        if found:
            book.refused.append((path, "; ".join(found)))
            continue
        book.rows.append(_row(path, data))
    if by_student is None:
        _refuse_copies(book)
    book.rows.sort(key=lambda r: (r.student.casefold(), str(r.path)))
    book.refused.sort(key=lambda item: str(item[0]))
    return book


def _cell(value: float) -> str:
    """Points without float noise: ``2.0`` -> ``2``, ``1.5`` -> ``1.5``."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def write_csv(gradebook: Gradebook, path: Path) -> Path:
    """Write the gradebook as CSV (UTF-8); a check a row lacks is an empty cell. Text cells,
    the header's check IDs included, go through ``sinks.for_csv``."""
    ids = gradebook.check_ids
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([for_csv(c) for c in gradebook.columns])
        for r in gradebook.rows:
            text = [*(for_csv(v) for v in (r.student, r.source, r.repository, r.commit)),
                    *(due_cells(r.submission) if gradebook.dated else ()),
                    *(for_csv(v) for v in (r.rubric, r.rubric_digest, r.mode))]
            out.writerow([*text, _cell(r.score),
                          _cell(r.max_score), "true" if r.gradable else "false",
                          *(_cell(r.points[c]) if c in r.points else "" for c in ids)])
    return path


__all__ = ["BASE_COLUMNS", "DUE_COLUMNS", "Gradebook", "Row", "collect", "dated", "due_cells",
           "with_due_columns", "write_csv"]
