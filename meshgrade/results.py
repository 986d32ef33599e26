"""The result model: plain data that every report writer reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum, IntEnum
from typing import Any

SCHEMA_ID = "meshgrade.results/v1"


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_GRADABLE = 3


class Visibility(str, Enum):
    VISIBLE = "visible"
    HIDDEN = "hidden"
    AFTER_DUE_DATE = "after_due_date"
    AFTER_PUBLISHED = "after_published"

    def __str__(self) -> str:
        return self.value


@dataclass
class Finding:
    """One located problem: the object, file, line and field path, a message and a hint."""

    message: str
    object: str | None = None
    file: str | None = None
    line: int | None = None
    path: str | None = None
    hint: str | None = None

    @property
    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class CheckReport:
    """What a check function returns: outcome, a message, findings, evidence.

    ``fraction`` is the share of the check's parts that passed (partial credit), or None
    when the check is all or nothing.
    """

    outcome: Outcome
    message: str = ""
    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    fraction: float | None = None
    traceback: str | None = None

    @classmethod
    def from_findings(cls, findings: list[Finding], passed_msg: str, failed_msg: str | None = None,
                      *, parts: int | None = None, evidence: dict[str, Any] | None = None
                      ) -> CheckReport:
        """Pass when there are no findings; partial credit over ``parts`` when given."""
        fraction = None
        if parts:
            bad = len({(f.object, f.file, f.path) if f.object or f.file else f.message
                       for f in findings})
            fraction = max(0.0, 1.0 - bad / parts)
        if not findings:
            return cls(Outcome.PASSED, passed_msg, evidence=evidence or {}, fraction=fraction)
        n = len(findings)
        msg = failed_msg or f"{n} problem{'s' if n != 1 else ''} found"
        return cls(Outcome.FAILED, msg, findings, evidence=evidence or {}, fraction=fraction)


@dataclass
class CheckResult:
    """A check's report, placed in a rubric: points, visibility, hint."""

    id: str
    name: str
    title: str
    outcome: Outcome
    score: float = 0.0
    max_score: float = 0.0
    visibility: Visibility = Visibility.VISIBLE
    message: str = ""
    hint: str | None = None
    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    traceback: str | None = None  # instructor-facing only
    duration_s: float = 0.0

    @property
    def group(self) -> str:
        """``MG1`` style group key for IDs, ``extra`` for instructor checks."""
        return self.id[:3] if self.id.startswith("MG") else "extra"

    def to_dict(self, *, instructor: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "title": self.title,
            "outcome": str(self.outcome), "score": self.score, "max_score": self.max_score,
            "visibility": str(self.visibility), "message": self.message,
            "hint": self.hint, "findings": [f.to_dict() for f in self.findings],
            "evidence": self.evidence, "duration_s": round(self.duration_s, 4),
        }
        if instructor and self.traceback:
            out["traceback"] = self.traceback
        return out


@dataclass
class Submission:
    source: str
    commit: str | None = None
    student: str | None = None
    repository: str | None = None  # where the submission lives (a URL), None when unknown


@dataclass
class RunResult:
    """One grading run: every check's result plus the totals."""

    submission: Submission
    mode: str
    rubric: str
    checks: list[CheckResult] = field(default_factory=list)
    rubric_digest: str | None = None  # sha256 hex of the rubric file's bytes
    duration_s: float = 0.0
    tool_version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def gradable(self) -> bool:
        return not any(c.outcome is Outcome.ERROR and c.max_score > 0 for c in self.checks)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 4)

    def counts(self) -> dict[str, int]:
        out = {o.value: 0 for o in Outcome}
        for c in self.checks:
            out[c.outcome.value] += 1
        return out

    def to_dict(self, *, instructor: bool = True) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "tool": {"name": "meshgrade", "version": self.tool_version},
            "submission": {k: v for k, v in asdict(self.submission).items()},
            "mode": self.mode,
            "rubric": self.rubric,
            "rubric_digest": self.rubric_digest,
            "gradable": self.gradable,
            "score": self.score,
            "max_score": self.max_score,
            "duration_s": round(self.duration_s, 3),
            "notes": list(self.notes),
            "checks": [c.to_dict(instructor=instructor) for c in self.checks],
        }
