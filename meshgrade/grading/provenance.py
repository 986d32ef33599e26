"""What a signed ``results.json`` is about, and the checks ``verify`` and ``gradebook collect``
make on it: the rubric's digest, the student and the repository.

A signature only says that the grader's key wrote the file. These checks say that it was
written for the expected rubric (by content, not by the name the rubric gives itself), the
expected student and the student's own repository.
"""

from __future__ import annotations

import re
from typing import Any

from ..submission.gitsource import is_git_url, redact_url
from .layout import builtin_names
from .rubric import digest_of

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^/@]*@)?", re.IGNORECASE)
_SCP = re.compile(r"^[\w.-]+@([\w.-]+):")


def submission_repository(source: str, given: str | None = None) -> str | None:
    """The repository to record, without credentials: ``given`` (``--repository``), else a
    git URL ``source`` itself; None for a folder."""
    url = given or (source if is_git_url(source) else None)
    return redact_url(url) if url else None


def repository_key(url: str) -> str:
    """A comparable form of a repository: no scheme, credentials, trailing ``/`` or ``.git``,
    case-folded; ``git@host:o/r.git`` and ``https://host/o/r`` are both ``host/o/r``."""
    text = _SCP.sub(r"\1/", _SCHEME.sub("", url.strip()), count=1)
    return text.rstrip("/").removesuffix(".git").rstrip("/").casefold()


def same_repository(a: str, b: str) -> bool:
    return repository_key(a) == repository_key(b)


def submission_of(data: dict[str, Any]) -> dict[str, Any]:
    """The result's ``submission`` object (empty when missing or malformed)."""
    sub = data.get("submission")
    return sub if isinstance(sub, dict) else {}


def recorded_repository(data: dict[str, Any]) -> str:
    """The result's repository; when none was recorded, its source (a folder the batch
    graded), or ``""``."""
    sub = submission_of(data)
    return str(sub.get("repository") or sub.get("source") or "")


def describe(data: dict[str, Any]) -> list[str]:
    """``name: value`` lines for a person: rubric and digest, student, repository, commit,
    score."""
    sub = submission_of(data)
    return [f"rubric: {data.get('rubric')} (sha256 {data.get('rubric_digest') or 'none'})",
            f"student: {sub.get('student') or '(none)'}",
            f"repository: {sub.get('repository') or '(none)'} (source {sub.get('source')})",
            f"commit: {sub.get('commit') or '(none)'}",
            f"score: {data.get('score')}/{data.get('max_score')}"]


class RubricCheck:
    """The expected rubric: the one given (a built-in name or a file), compared by digest;
    else, for a result naming a built-in rubric, that built-in's digest. A result naming a
    rubric of its own is not checked without ``rubric``. Raises RubricError for a bad
    ``rubric``."""

    def __init__(self, rubric: str | None = None) -> None:
        self.given = rubric
        self.digest = digest_of(rubric) if rubric else None
        self._builtin: dict[str, str] = {}

    def problem(self, data: dict[str, Any]) -> str | None:
        """Why ``data`` was not graded with the expected rubric, or None."""
        found = data.get("rubric_digest") or "none"
        if self.digest is not None:
            if found == self.digest:
                return None
            return (f"rubric digest differs: expected {self.digest} ({self.given}), "
                    f"found {found} ({data.get('rubric')})")
        name = data.get("rubric")
        if not isinstance(name, str) or name not in builtin_names():
            return None
        expected = self._builtin.setdefault(name, digest_of(name))
        if found == expected:
            return None
        return (f"rubric content differs from the built-in {name} (expected digest {expected}, "
                f"found {found}); pass --rubric FILE if you graded with your own file")


def problems(data: dict[str, Any], rubric: RubricCheck, student: str | None = None,
             repository: str | None = None) -> list[str]:
    """Every way ``data`` differs from the expected rubric, student and repository (None:
    not checked)."""
    out = [p for p in (rubric.problem(data),) if p]
    found_student = submission_of(data).get("student")
    if student is not None and found_student != student:
        out.append(f"student differs: expected {student}, found {found_student or '(none)'}")
    found_repo = recorded_repository(data)
    if repository is not None and not same_repository(found_repo, repository):
        out.append(f"repository differs: expected {repository}, found {found_repo or '(none)'}")
    return out


__all__ = ["RubricCheck", "describe", "problems", "recorded_repository", "repository_key",
           "same_repository", "submission_repository"]
