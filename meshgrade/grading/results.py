"""The result model: plain data that every report writer reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any

from .modes import Mode

if TYPE_CHECKING:
    from ..routing.diagram import Diagram
    from ..submission.objects import KObject

SCHEMA_ID = "meshgrade.results/v1"
NOT_RUN = "not run: "  # a check's message when it could not start: interrupted, no submission


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


class Severity(str, Enum):
    """A finding's level, as istioctl's messages have: only errors cost points."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

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
    """One located problem: the object, file, line and field path, a message, a hint and a
    severity (``error`` costs points; ``warning`` and ``info`` are shown, free)."""

    message: str
    object: str | None = None
    file: str | None = None
    line: int | None = None
    path: str | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    @classmethod
    def at(cls, message: str, obj: KObject | None = None, path: str | None = None, *,
           file: str | None = None, line: int | None = None, hint: str | None = None,
           severity: Severity = Severity.ERROR) -> Finding:
        """A finding located at ``obj`` and field ``path`` (its file and the path's line),
        unless ``file`` and ``line`` say otherwise."""
        if obj is not None:
            file = file or obj.file
            line = line or (obj.line_of(path) if path else obj.line) or None
        return cls(message, obj.ref if obj is not None else None, file, line, path, hint or None,
                   severity)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out["severity"] = self.severity.value
        return out


def _fraction(findings: list[Finding], parts: int | None) -> float | None:
    """Share of ``parts`` without an error finding (a part is an object, file and path)."""
    if not parts:
        return None
    bad = len({(f.object, f.file, f.path) if f.object or f.file else f.message
               for f in findings if f.is_error})
    return max(0.0, 1.0 - bad / parts)


def _problems(n: int) -> str:
    return f"{n} problem{'s' if n != 1 else ''} found"


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
    parts: int | None = None  # what ``fraction`` is a share of, when it is one

    @classmethod
    def from_findings(cls, findings: list[Finding], passed_msg: str, failed_msg: str | None = None,
                      *, parts: int | None = None, evidence: dict[str, Any] | None = None
                      ) -> CheckReport:
        """Pass when no finding is an error (warnings and info are kept and shown); partial
        credit over ``parts`` when given, counting error findings only."""
        fraction = _fraction(findings, parts)
        errors = sum(f.is_error for f in findings)
        if not errors:
            warned = sum(f.severity is Severity.WARNING for f in findings)
            if warned:
                passed_msg += f" ({warned} warning{'s' if warned != 1 else ''})"
            return cls(Outcome.PASSED, passed_msg, findings, evidence=evidence or {},
                       fraction=fraction, parts=parts)
        return cls(Outcome.FAILED, failed_msg or _problems(errors), findings,
                   evidence=evidence or {}, fraction=fraction, parts=parts)

    def with_warnings_as_errors(self) -> CheckReport:
        """This report with its warnings counted as errors (a rubric's ``promote_warnings``):
        a passed check with warnings fails, partial credit is counted again."""
        if self.outcome not in (Outcome.PASSED, Outcome.FAILED) or not any(
                f.severity is Severity.WARNING for f in self.findings):
            return self
        findings = [replace(f, severity=Severity.ERROR) if f.severity is Severity.WARNING else f
                    for f in self.findings]
        fraction = _fraction(findings, self.parts) if self.parts else self.fraction
        message = self.message if self.outcome is Outcome.FAILED else _problems(
            sum(f.is_error for f in findings)) + " (warnings count as errors in this rubric)"
        return replace(self, outcome=Outcome.FAILED, message=message, findings=findings,
                       fraction=fraction)


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

    @property
    def not_run(self) -> bool:
        """An error that only says the check did not run (the run states why, once)."""
        return self.outcome is Outcome.ERROR and self.message.startswith(NOT_RUN)

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
    """What was graded. The fields after ``repository`` are set only when a due time or a
    ``--commit`` chose the commit (and are left out of ``results.json`` otherwise)."""

    source: str
    commit: str | None = None
    student: str | None = None
    repository: str | None = None  # where the submission lives (a URL), None when unknown
    due: str | None = None            # the due time used, ISO 8601
    commit_date: str | None = None    # the graded commit's committer date
    head: str | None = None           # the branch's newest commit when fetched
    late_commits: int | None = None   # commits on the branch after the graded one
    suspicious_dates: list[str] | None = None  # odd commit dates, naming the commits

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: v for k, v in out.items() if v is not None or k in _ALWAYS}


_ALWAYS = ("source", "commit", "student", "repository")


@dataclass
class RunResult:
    """One grading run: every check's result plus the totals."""

    submission: Submission
    mode: Mode
    rubric: str
    checks: list[CheckResult] = field(default_factory=list)
    rubric_digest: str | None = None  # sha256 hex of the rubric file's bytes
    duration_s: float = 0.0
    tool_version: str = ""
    notes: list[str] = field(default_factory=list)
    interrupted: str | None = None  # "SIGINT during sampling (MG405)": the run was stopped
    failure: str | None = None      # why nothing (or no live check) could run, said once
    diagrams: list[Diagram] = field(default_factory=list)  # routing stages found, as pictures

    @property
    def gradable(self) -> bool:
        return self.interrupted is None and not any(
            c.outcome is Outcome.ERROR and c.max_score > 0 for c in self.checks)

    @property
    def not_gradable_reason(self) -> str | None:
        """Why the run is not gradable, in one line; None when it is gradable."""
        if self.gradable:
            return None
        if self.interrupted:
            return f"interrupted by {self.interrupted}"
        if self.failure:
            return self.failure
        bad = next((c for c in self.checks if c.outcome is Outcome.ERROR and c.max_score > 0
                    and c.visibility is Visibility.VISIBLE), None)  # students read this
        if bad is None:
            return "a graded check could not run"
        first = bad.message.strip().splitlines()[0] if bad.message.strip() else "error"
        return f"{bad.id} {bad.name} could not run: {first}"

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
            "submission": self.submission.to_dict(),
            "mode": self.mode,
            "rubric": self.rubric,
            "rubric_digest": self.rubric_digest,
            "gradable": self.gradable,
            "not_gradable_reason": self.not_gradable_reason,
            "interrupted": self.interrupted,
            "score": self.score,
            "max_score": self.max_score,
            "duration_s": round(self.duration_s, 3),
            "notes": list(self.notes),
            "checks": [c.to_dict(instructor=instructor) for c in self.checks],
            "diagrams": [d.to_dict() for d in self.diagrams],
        }
