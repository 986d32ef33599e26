"""A compact terminal summary of a run (hidden checks left out).

Each field goes through ``sinks.for_terminal``, the whole text through
``sinks.for_workflow_log``: a submission's text cannot move the cursor, set the window title or
start a workflow-command line.
"""

from __future__ import annotations

from meshgrade.grading.modes import header
from meshgrade.grading.results import CheckResult, Finding, Outcome, RunResult, Severity
from meshgrade.reports.formatting import finding_line, fmt_points, shown_checks, totals, warnings
from meshgrade.reports.sinks import for_terminal, for_workflow_log

_WORD = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.ERROR: "ERROR",
         Outcome.SKIPPED: "SKIP"}
_COLOR = {Outcome.PASSED: "32", Outcome.FAILED: "31", Outcome.ERROR: "35", Outcome.SKIPPED: "33"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


_LEVEL = {Severity.WARNING: ("WARN", "33"), Severity.INFO: ("INFO", "36")}


def _finding(f: Finding, color: bool) -> str:
    """One finding line; warnings and info start with ``WARN`` / ``INFO``."""
    text = for_terminal(finding_line(f))
    if f.severity not in _LEVEL:
        return f"      {text}"
    word, code = _LEVEL[f.severity]
    return f"      {_paint(word, code, color)}  {text}"


def _details(check: CheckResult, color: bool) -> list[str]:
    """Indented lines under a check: everything under one that did not pass, one compact
    line per warning or info finding under one that passed."""
    if check.outcome is Outcome.PASSED:
        return [_finding(f, color) for f in check.findings if not f.is_error]
    lines = []
    if check.message:
        lines.append(f"      {for_terminal(check.message)}")
    for f in check.findings:
        lines.append(_finding(f, color))
        if f.hint:
            lines.append("        " + _paint(f"hint: {for_terminal(f.hint)}", "2", color))
    if check.hint and check.outcome is Outcome.FAILED:
        lines.append("      " + _paint(f"hint: {for_terminal(check.hint)}", "2", color))
    return lines


def render(run: RunResult, *, color: bool) -> str:
    """One line per check, failing findings indented, then the score and outcome counts."""
    checks = shown_checks(run)
    rows = [(c, for_terminal(c.id), for_terminal(c.name)) for c in checks]
    id_width = max((len(cid) for _, cid, _ in rows), default=0)
    width = max((len(name) for _, _, name in rows), default=0)
    lines = header(run.mode)  # what this mode judges, then why the run is not graded
    reason = run.not_gradable_reason
    if reason:
        lines.append(_paint(f"NOT GRADED: {for_terminal(reason)}", "35", color))
    not_run: dict[str, list[str]] = {}  # message -> IDs: one line, not one per check
    for c, cid, name in rows:
        if c.not_run:
            not_run.setdefault(for_terminal(c.message), []).append(cid)
            continue
        word = _paint(f"{_WORD[c.outcome]:<5}", _COLOR[c.outcome], color)
        pts = f"{fmt_points(c.score)}/{fmt_points(c.max_score)}"
        line = f"{word} {cid:<{id_width}}  {name:<{width}}  {pts:>7}"
        if c.outcome is Outcome.SKIPPED:  # one line: the reason only
            lines.append(f"{line}  {_paint(for_terminal(c.message), '2', color)}".rstrip())
            continue
        lines.append(line.rstrip())
        lines += _details(c, color)
    for message, ids in not_run.items():
        word = _paint(f"{_WORD[Outcome.ERROR]:<5}", _COLOR[Outcome.ERROR], color)
        lines.append(f"{word} {len(ids)} check(s) {message}: {', '.join(ids)}")
    score, max_score, counts = totals(checks)
    tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no checks"
    warned = warnings(checks)
    if warned:
        tally += f", {warned} warning{'s' if warned != 1 else ''}"
    verdict = f"Score {fmt_points(score)}/{fmt_points(max_score)}" if reason is None \
        else "Not graded, no score"  # the reason is at the top
    lines.append(f"{_paint(verdict, '1', color)}  ({tally})")
    return for_workflow_log("\n".join(lines) + "\n")
