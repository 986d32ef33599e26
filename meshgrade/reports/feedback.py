"""``feedback.md``: a student's feedback in Markdown, for a pull request comment or the LMS.

Student view: hidden checks are left out and the totals count only the checks shown. The
score, then what to fix first (failed checks, most points lost first, with file:line and
hints), warnings (no points lost), what passed, and what this run did not grade. A run that is
not gradable or was interrupted says so instead of a score. Student text goes through
``sinks.for_markdown`` / ``sinks.markdown_code``.
"""

from __future__ import annotations

from pathlib import Path

from meshgrade import __version__
from meshgrade.grading.results import CheckResult, Outcome, RunResult
from meshgrade.reports.formatting import check_label, fmt_points, shown_checks, totals, write_text
from meshgrade.reports.github_report import finding_items
from meshgrade.reports.sinks import for_markdown as md
from meshgrade.reports.sinks import markdown_code as code

FILENAME = "feedback.md"


def _head(run: RunResult, checks: list[CheckResult]) -> list[str]:
    """The title line and the paragraph saying what was graded."""
    score, max_score, _counts = totals(checks)
    if run.interrupted:
        title = "not graded (interrupted)"
    elif not run.gradable:
        title = "not graded"
    else:
        pct = f" ({100 * score / max_score:.0f}%)" if max_score else ""
        title = f"{fmt_points(score)} / {fmt_points(max_score)} points{pct}"
    lines = [f"## meshgrade feedback: {title}", ""]
    sub = run.submission
    what = f"Rubric {code(run.rubric)}, mode {code(run.mode)}"
    if sub.commit:
        what += f", commit {code(sub.commit[:12])}"
        if sub.commit_date:
            what += f" dated {code(sub.commit_date)}"
    if sub.due:
        what += f" (due {code(sub.due)})"
    lines.append(what + ".")
    if sub.late_commits:
        lines.append(f"{sub.late_commits} later commit(s) came after the due time and were "
                     "not graded.")
    if not run.gradable:
        lines += ["", f"**Not graded**: {md(run.not_gradable_reason or '')}. No score was "
                  "given."]
    return [*lines, ""]


def _fix_first(checks: list[CheckResult]) -> list[str]:
    """Failed and errored checks, most points lost first, with their error findings."""
    bad = [c for c in checks if c.outcome in (Outcome.FAILED, Outcome.ERROR) and not c.not_run]
    if not bad:
        return []
    bad.sort(key=lambda c: c.score - c.max_score)  # stable: rubric order among equals
    lines = ["### What to fix first", ""]
    for n, c in enumerate(bad, 1):
        lost = c.max_score - c.score
        how = "could not run" if c.outcome is Outcome.ERROR else "failed"
        lines.append(f"{n}. **{md(check_label(c))}** ({how}, {fmt_points(lost)} of "
                     f"{fmt_points(c.max_score)} point(s) lost): {md(c.message)}")
        lines += [item for f in c.findings if f.is_error for item in finding_items(f, "   ")]
        if c.hint:
            lines.append(f"   - hint: {md(c.hint)}")
    return [*lines, ""]


def _warnings(checks: list[CheckResult]) -> list[str]:
    warned = [c for c in checks if any(not f.is_error for f in c.findings)]
    if not warned:
        return []
    lines = ["### Warnings (no points lost)", ""]
    for c in warned:
        lines.append(f"- **{md(check_label(c))}**")
        lines += [item for f in c.findings if not f.is_error for item in finding_items(f)]
    return [*lines, ""]


def _passed(checks: list[CheckResult]) -> list[str]:
    passed = [c for c in checks if c.outcome is Outcome.PASSED]
    if not passed:
        return []
    lines = ["### What passed", ""]
    lines += [f"- {md(check_label(c))}: {md(c.title)} ({fmt_points(c.score)} / "
              f"{fmt_points(c.max_score)})" for c in passed]
    return [*lines, ""]


def _not_graded(checks: list[CheckResult]) -> list[str]:
    """Skipped checks grouped by their reason (live checks in repo mode, say)."""
    reasons: dict[str, list[str]] = {}
    for c in checks:
        if c.outcome is Outcome.SKIPPED:
            reasons.setdefault(c.message or "skipped", []).append(c.id)
    if not reasons:
        return []
    lines = ["### Not graded in this run", ""]
    lines += [f"- {', '.join(md(i) for i in ids)}: {md(reason)}" for reason, ids in
              reasons.items()]
    return [*lines, ""]


def render(run: RunResult) -> str:
    """The feedback as Markdown (student view)."""
    checks = shown_checks(run)
    lines = [*_head(run, checks), *_fix_first(checks), *_warnings(checks), *_passed(checks),
             *_not_graded(checks)]
    if run.notes:
        lines += ["### Notes", "", *(f"- {md(n)}" for n in run.notes), ""]
    lines.append(f"Graded by meshgrade {code(run.tool_version or __version__)}.")
    return "\n".join(lines) + "\n"


def write(run: RunResult, out_dir: Path) -> Path:
    """Write ``feedback.md`` into ``out_dir``."""
    return write_text(Path(out_dir) / FILENAME, render(run))


__all__ = ["FILENAME", "render", "write"]
