"""The class roster (CSV), validated with line numbers; each row's current commit and
earlier results (for ``--resume``).

A GitHub Classroom grades export is read as it is (recognised by its header): the student is
``roster_identifier`` (else ``github_username``, else ``group_name``), the submission
``student_repository_url``; its other columns are passed over, and a row without a repository
(an assignment never accepted) is left out with a note. meshgrade's optional columns (``due``,
``mode``...) may be added to it.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshgrade.grading.history import format_due, parse_due
from meshgrade.submission.gitsource import (
    _git_env,
    is_git_url,
    is_remote_url,
    read_head,
    redact_url,
)

COLUMNS = ("student", "submission", "kubeconfig", "context", "gateway_url", "mode", "due")
# GitHub Classroom's grades export (its "Download grades" CSV)
CLASSROOM_COLUMNS = ("assignment_name", "assignment_url", "starter_code_url", "github_username",
                     "roster_identifier", "student_repository_name", "student_repository_url",
                     "submission_timestamp", "points_awarded", "points_available", "group_name")
REQUIRED = ("student", "submission")
MODES = ("auto", "repo", "lab", "cluster")
# files the batch writes beside the student folders
RESERVED = frozenset({"gradebook.csv", "class-report.html", "regrade.csv"})
LS_REMOTE_TIMEOUT_S = 30.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


class RosterError(Exception):
    """The roster is unusable; ``problems`` are ``ROSTER.csv:LINE: message`` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RosterRow:
    """One student of the roster, with paths resolved against the roster's folder."""

    line: int
    student: str
    submission: str
    folder: str
    mode: str
    kubeconfig: str | None = None
    context: str | None = None
    gateway_url: str | None = None
    due: str | None = None  # the due time in force for this student (ISO 8601), if any

    @property
    def is_url(self) -> bool:
        return is_git_url(self.submission)

    @property
    def shown_submission(self) -> str:
        """The submission as reports show it: a URL without its credentials."""
        return redact_url(self.submission)

    def current_commit(self) -> str | None:
        """The commit the submission has now: read from .git, or ``git ls-remote URL HEAD``."""
        if not self.is_url:
            return read_head(Path(self.submission))
        if self.submission.startswith("-"):
            return None
        try:
            proc = subprocess.run(["git", "ls-remote", "--", self.submission, "HEAD"],
                                  env=_git_env(), stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=LS_REMOTE_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        first = proc.stdout.split()
        return first[0] if proc.returncode == 0 and first else None

    def resumable(self, folder: Path, rubric_name: str, rubric_digest: str = ""
                  ) -> dict[str, Any] | None:
        """The results in ``folder`` when gradable, for this rubric (its content too, when
        ``rubric_digest`` is given), due time and the current commit (with a due time: the
        branch's head when they were graded)."""
        old = read_results(folder)
        if not old or old.get("gradable") is not True or old.get("rubric") != rubric_name:
            return None
        if rubric_digest and old.get("rubric_digest") != rubric_digest:
            return None
        sub = old.get("submission") or {}
        if sub.get("due") != self.due:
            return None
        commit = sub.get("head" if self.due else "commit")
        return old if commit and commit == self.current_commit() else None

    def record_failure(self, folder: Path, rubric_name: str, reason: str,
                       rubric_digest: str = "") -> None:
        """Remember a not-gradable attempt, so that --resume does not repeat it."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / FAILURE_NAME).write_text(json.dumps(
                {"rubric": rubric_name, "rubric_digest": rubric_digest,
                 "submission": self.shown_submission,
                 "commit": self.current_commit(), "due": self.due, "reason": reason}), "utf-8")
        except OSError:
            pass

    def failed_before(self, folder: Path, rubric_name: str, rubric_digest: str = ""
                      ) -> str | None:
        """The reason of an earlier not-gradable attempt on this submission, commit and
        rubric, or None."""
        try:
            old = json.loads((folder / FAILURE_NAME).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        same = (old.get("rubric") == rubric_name
                and old.get("rubric_digest", "") == rubric_digest
                and old.get("submission") == self.shown_submission
                and old.get("due") == self.due and old.get("commit") == self.current_commit())
        return f"{old.get('reason')} (earlier run; --retry-not-gradable grades it again)" \
            if same else None


FAILURE_NAME = "not-gradable.json"


def read_results(folder: Path) -> dict[str, Any] | None:
    """``folder/results.json`` as a dict, or None when missing or unreadable."""
    try:
        data = json.loads((folder / "results.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def safe_folder(student: str) -> str:
    """A folder name for ``student``: no separators, no ``..``, no hidden, option-like or
    reserved names."""
    name = _UNSAFE.sub("_", student.strip()).lstrip("-").strip("._") or "student"
    name = name[:100]
    if name.lower() in RESERVED:
        name = f"student-{name}"
    return name


def _header_key(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def _resolve(value: str, base: Path, url_ok: bool) -> str:
    """A relative folder or file resolves against the roster's folder; URLs stay as given."""
    if url_ok and (is_remote_url(value) or value.lower().startswith("file:")):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _submission_problem(value: str, resolved: str, base: Path, allow_local: bool) -> str | None:
    """Why a submission cell is refused, or None: an option-like value always; a local
    repository outside the roster's folder (or a ``file://`` URL) unless ``allow_local``."""
    if value.startswith("-"):
        return (f"submission {value!r} starts with '-': refused (write ./{value} for a folder "
                "of that name)")
    if allow_local or is_remote_url(value):
        return None
    if value.lower().startswith("file:"):
        return (f"submission {value!r} is a file:// URL: it may name any repository of this "
                "machine; give --allow-local-submissions to grade it")
    inside = Path(resolved).resolve()
    if inside != base and base not in inside.parents:
        return (f"submission {value!r} is outside the roster's folder {base}; give "
                "--allow-local-submissions to grade local paths elsewhere")
    return None


def _classroom_cells(cell: dict[str, str]) -> tuple[str, str]:
    """(student, submission) of a GitHub Classroom export row."""
    student = cell.get("roster_identifier") or cell.get("github_username") \
        or cell.get("group_name") or ""
    return student, cell.get("student_repository_url", "")


def read_roster(path: Path, default_mode: str = "auto", *, allow_local: bool = False,
                default_due: str | None = None, notes: list[str] | None = None
                ) -> list[RosterRow]:
    """Parse ``path`` (a meshgrade roster or a GitHub Classroom export); raise RosterError
    listing every problem with its line. A local submission must lie inside the roster's
    folder unless ``allow_local``. ``default_due`` (ISO 8601) applies to rows without a
    ``due``; rows left out (a Classroom row without a repository) are told in ``notes``."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError([f"{path}: cannot read the roster: {exc}"]) from exc
    where = str(path)
    reader = csv.reader(text.splitlines(keepends=True))
    problems: list[str] = []
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError([f"{where}:1: empty roster (expected a header: "
                           f"{', '.join(COLUMNS)})"]) from None
    except csv.Error as exc:
        raise RosterError([f"{where}:1: {exc}"]) from exc
    keys = [_header_key(h) for h in header]
    classroom = "student_repository_url" in keys and not set(REQUIRED) & set(keys)
    known = (*COLUMNS[len(REQUIRED):], *CLASSROOM_COLUMNS) if classroom else COLUMNS
    for col in () if classroom else REQUIRED:
        if col not in keys:
            problems.append(f"{where}:1: missing column '{col}' (columns: {', '.join(COLUMNS)})")
    for key, raw in zip(keys, header, strict=True):
        if key and key not in known:
            problems.append(f"{where}:1: unknown column '{raw.strip()}' "
                            f"(columns: {', '.join(COLUMNS)})")
        elif key and keys.count(key) > 1:
            problems.append(f"{where}:1: column '{raw.strip()}' appears twice")
    if problems:
        raise RosterError(sorted(set(problems), key=problems.index))

    base = path.resolve().parent
    rows: list[RosterRow] = []
    seen: dict[str, int] = {}
    folders: dict[str, tuple[str, int]] = {}
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"{where}:{reader.line_num}: {exc}")
            break
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(keys):
            problems.append(f"{where}:{line}: {len(fields)} fields, but the header has "
                            f"{len(keys)}")
            continue
        cell = {k: v.strip() for k, v in zip(keys, fields, strict=False)}
        student, submission = _classroom_cells(cell) if classroom else (
            cell.get("student", ""), cell.get("submission", ""))
        if classroom and student and not submission:
            if notes is not None:
                notes.append(f"{where}:{line}: '{student}' has no repository (the assignment "
                             "was not accepted): left out")
            continue
        mode = cell.get("mode") or default_mode
        due = default_due
        if cell.get("due"):
            try:
                due = format_due(parse_due(cell["due"]))
            except ValueError as exc:
                problems.append(f"{where}:{line}: {exc}")
        if not student:
            problems.append(f"{where}:{line}: empty student")
            continue
        if student in seen:
            problems.append(f"{where}:{line}: duplicate student '{student}' "
                            f"(first on line {seen[student]})")
            continue
        seen[student] = line
        if not submission:
            problems.append(f"{where}:{line}: empty submission for student '{student}'")
        if mode not in MODES:
            problems.append(f"{where}:{line}: mode '{mode}' is not one of {', '.join(MODES)}")
        folder = safe_folder(student)
        if folder in folders:
            other, other_line = folders[folder]
            problems.append(f"{where}:{line}: student '{student}' would share the report folder "
                            f"'{folder}' with '{other}' (line {other_line})")
        folders[folder] = (student, line)
        resolved = _resolve(submission, base, url_ok=True) if submission else ""
        if submission and (why := _submission_problem(submission, resolved, base, allow_local)):
            problems.append(f"{where}:{line}: {why}")
        if problems:
            continue
        kubeconfig = cell.get("kubeconfig") or None
        rows.append(RosterRow(
            line=line, student=student, submission=resolved,
            folder=folder, mode=mode,
            kubeconfig=_resolve(kubeconfig, base, url_ok=False) if kubeconfig else None,
            context=cell.get("context") or None, gateway_url=cell.get("gateway_url") or None,
            due=due))
    if not problems and not rows:
        problems.append(f"{where}:{reader.line_num or 1}: the roster lists no students")
    if problems:
        raise RosterError(problems)
    return rows
