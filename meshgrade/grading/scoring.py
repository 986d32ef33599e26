"""Placing a check's report in a rubric: points, partial credit, visibility."""

from __future__ import annotations

from .check import Check
from .results import CheckReport, CheckResult, Outcome
from .rubric import CheckRule


def parse_fail_under(text: str) -> tuple[float, bool]:
    """``--fail-under`` as (value, is_percent): ``7.5`` points or ``80%``; ValueError if bad."""
    text = text.strip()
    return float(text.rstrip("%")), text.endswith("%")


def score(check: Check, rule: CheckRule, report: CheckReport, duration_s: float = 0.0
          ) -> CheckResult:
    """A CheckResult: skipped counts 0 of 0 unless the rubric says skipped checks count; only
    error findings cost points, warnings too when the rule says ``promote_warnings``."""
    if rule.promote_warnings:
        report = report.with_warnings_as_errors()
    points = rule.points
    counts = report.outcome is not Outcome.SKIPPED or rule.count_skipped
    max_score = points if counts else 0.0
    if report.outcome is Outcome.PASSED:
        got = points
    elif report.outcome is Outcome.FAILED and rule.partial and report.fraction is not None:
        got = round(points * max(0.0, min(1.0, report.fraction)), 2)
    else:
        got = 0.0
    return CheckResult(
        id=check.id, name=check.name, title=check.title, outcome=report.outcome,
        score=got, max_score=max_score, visibility=rule.visibility, message=report.message,
        hint=rule.hint, findings=report.findings, evidence=report.evidence,
        traceback=report.traceback, duration_s=duration_s)
