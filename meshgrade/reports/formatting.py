"""What the report writers share: labels, points, texts, templates and writing files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import jinja2

from meshgrade.grading.results import CheckResult, Finding, Outcome, RunResult, Severity, Visibility

GROUP_ORDER = ("MG1", "MG2", "MG3", "MG4", "extra")


def shown_checks(run: RunResult, *, instructor: bool = False) -> list[CheckResult]:
    """The checks a reader may see: every check for instructors, no ``hidden`` ones otherwise."""
    if instructor:
        return list(run.checks)
    return [c for c in run.checks if c.visibility is not Visibility.HIDDEN]


def totals(checks: Iterable[CheckResult]) -> tuple[float, float, dict[str, int]]:
    """Score, max score and outcome counts over ``checks`` (a shown subset, say)."""
    score = max_score = 0.0
    counts = {o.value: 0 for o in Outcome}
    for c in checks:
        score += c.score
        max_score += c.max_score
        counts[c.outcome.value] += 1
    return round(score, 4), round(max_score, 4), counts


def warnings(checks: Iterable[CheckResult]) -> int:
    """How many warning findings ``checks`` carry."""
    return sum(f.severity is Severity.WARNING for c in checks for f in c.findings)


def level_tag(f: Finding) -> str:
    """``[warning] `` or ``[info] `` before a finding's text; nothing for an error."""
    return "" if f.is_error else f"[{f.severity}] "


def fmt_points(value: float) -> str:
    """``2.0`` -> ``2``, ``1.5`` -> ``1.5``, ``0.3333`` -> ``0.33``."""
    return f"{round(value, 2):g}"


def check_label(check: CheckResult) -> str:
    """``MG122 subset-defined``."""
    return f"{check.id} {check.name}".strip()


def finding_line(f: Finding) -> str:
    """One line of text: ``file:line  path: message``, parts left out when unknown."""
    head = f.location or f.object or ""
    body = f"{f.path}: {f.message}" if f.path else f.message
    return f"{head}  {body}" if head else body


def _as_is(text: str) -> str:
    return text


def findings_text(check: CheckResult, *, indent: str = "",
                  clean: Callable[[str], str] = _as_is) -> str:
    """The findings of a check as text lines (``[warning]`` / ``[info]`` before those that cost
    nothing), each followed by its hint; ``clean`` is applied to each line's own text (a sink
    function such as ``sinks.for_terminal``)."""
    lines = []
    for f in check.findings:
        lines.append(indent + level_tag(f) + clean(finding_line(f)))
        if f.hint:
            lines.append(f"{indent}  hint: {clean(f.hint)}")
    return "\n".join(lines)


def check_text(check: CheckResult, *, traceback: bool = False,
               clean: Callable[[str], str] = _as_is) -> str:
    """Message, check hint and findings as plain text (JUnit, Gradescope and Classroom bodies);
    ``clean`` is applied to each part, line by line, before the parts are joined."""
    parts = [clean(check.message)] if check.message else []
    if check.hint and check.outcome is not Outcome.PASSED:
        parts.append(f"Hint: {clean(check.hint)}")
    if check.findings:
        parts.append(findings_text(check, clean=clean))
    if traceback and check.traceback:
        parts += map(clean, check.traceback.rstrip().split("\n"))
    return "\n".join(parts)


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (temp file + rename): no half-written reports."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def jinja_env(folder: Path) -> jinja2.Environment:
    """The Jinja environment of the HTML writers: autoescaped, strict, tidy whitespace."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)
