"""Collect many ``results.json`` files into one gradebook (a CSV row per submission).

Every ``results.json`` under a folder is read. Gradescope's ``gradescope/results.json``
(no ``schema`` key) is passed over silently; any other file that is not
``meshgrade.results/v1`` is listed in ``skipped`` with the reason. With a key, a file whose
signature is missing or does not match is listed in ``refused`` and kept out of the rows.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgrade.results import SCHEMA_ID
from meshgrade.signing import verify

FILENAME = "results.json"
BASE_COLUMNS = ("student", "source", "commit", "rubric", "mode", "score", "max_score",
                "gradable")


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


@dataclass
class Gradebook:
    rows: list[Row] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)  # signature problems
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # not meshgrade results

    @property
    def check_ids(self) -> list[str]:
        """Every check ID seen in any row, sorted."""
        return sorted({cid for row in self.rows for cid in row.points})

    @property
    def columns(self) -> list[str]:
        return [*BASE_COLUMNS, *self.check_ids]


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
    return Row(path=path, student=str(sub.get("student") or path.parent.name),
               source=str(sub.get("source") or ""), commit=str(sub.get("commit") or ""),
               rubric=str(data.get("rubric", "")), mode=str(data.get("mode", "")),
               score=_number(data.get("score")), max_score=_number(data.get("max_score")),
               gradable=data.get("gradable") is True, points=points)


def collect(folder: Path, key: bytes | None) -> Gradebook:
    """Read every ``results.json`` under ``folder`` (recursively) into a gradebook; with
    ``key``, refuse files that are unsigned or altered."""
    book = Gradebook()
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
        book.rows.append(_row(path, data))
    book.rows.sort(key=lambda r: (r.student.casefold(), str(r.path)))
    return book


def _cell(value: float) -> str:
    """Points without float noise: ``2.0`` -> ``2``, ``1.5`` -> ``1.5``."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(gradebook: Gradebook, path: Path) -> Path:
    """Write the gradebook as CSV (UTF-8); a check a row lacks is an empty cell."""
    ids = gradebook.check_ids
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(gradebook.columns)
        for r in gradebook.rows:
            text = [_text(v) for v in (r.student, r.source, r.commit, r.rubric, r.mode)]
            out.writerow([*text, _cell(r.score),
                          _cell(r.max_score), "true" if r.gradable else "false",
                          *(_cell(r.points[c]) if c in r.points else "" for c in ids)])
    return path


__all__ = ["BASE_COLUMNS", "Gradebook", "Row", "collect", "write_csv"]
