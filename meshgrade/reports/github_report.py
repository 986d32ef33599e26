"""GitHub Actions: workflow-command annotations and a Markdown step summary.

Hidden checks never appear. Annotations go to stdout (the runner reads them from there);
the summary is appended to the file named by ``$GITHUB_STEP_SUMMARY`` when it is set.
``path_prefix`` places the student's files when the submission is a sub-folder of the
checked-out repository. Student text goes through ``sinks``: ``for_terminal`` then the command
escapes in annotations, ``for_markdown`` / ``markdown_code`` in the summary.
"""

# no ``from __future__ import annotations``: this module's ``annotations`` function would
# shadow it (the annotations here are all valid at run time on Python 3.10)

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from meshgrade.grading.results import CheckResult, Finding, Outcome, RunResult, Severity
from meshgrade.reports.formatting import check_label, fmt_points, shown_checks, totals
from meshgrade.reports.sinks import for_command_data as escape_data
from meshgrade.reports.sinks import for_command_property as escape_property
from meshgrade.reports.sinks import for_markdown as md
from meshgrade.reports.sinks import for_terminal, for_workflow_log
from meshgrade.reports.sinks import markdown_code as code


def _command(level: str, message: str, **props: object) -> str:
    """``::level props::message``; ``message`` has layout newlines, its fields are clean."""
    parts = ",".join(f"{k}={escape_property(for_terminal(str(v)))}"
                     for k, v in props.items() if v)
    head = f"{level} {parts}" if parts else level
    return f"::{head}::{escape_data(for_workflow_log(message))}"


def _finding_message(check: CheckResult, f: Finding) -> str:
    text = for_terminal(f"{f.path}: {f.message}" if f.path else f.message)
    hint = f.hint or check.hint
    return f"{text}\nHint: {for_terminal(hint)}" if hint else text


_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _level(check: CheckResult, f: Finding) -> str:
    """The finding's own level; an error finding of a check that passed is a warning."""
    if f.is_error and check.outcome not in (Outcome.FAILED, Outcome.ERROR):
        return "warning"
    return _COMMAND[f.severity]


def annotations(run: RunResult, *, path_prefix: str = "") -> list[str]:
    """Per located finding ``::error``, ``::warning`` or ``::notice`` (its severity);
    ``::warning`` per errored check without a file; one ``::error`` for a run stopped as a
    whole (interrupted, no submission, no lab or cluster), instead of one per check."""
    out = []
    for check in shown_checks(run):
        if check.not_run:
            continue
        title = check_label(check)
        located = [f for f in check.findings if f.file]
        for f in located:
            out.append(_command(_level(check, f), _finding_message(check, f),
                                file=path_prefix + (f.file or ""), line=f.line, title=title))
        if check.outcome is Outcome.ERROR and not located:
            out.append(_command("warning", for_terminal(check.message or "check could not run"),
                                title=title))
    if run.not_gradable_reason and (run.interrupted or run.failure):
        out.append(_command("error", for_terminal(f"not graded: {run.not_gradable_reason}"),
                            title="meshgrade"))
    return out


def print_annotations(run: RunResult, *, stream: TextIO | None = None,
                      path_prefix: str = "") -> None:
    """Print :func:`annotations` to ``stream`` (stdout), one a line, and flush."""
    stream = stream or sys.stdout
    for line in annotations(run, path_prefix=path_prefix):
        print(line, file=stream)
    stream.flush()


def summary_markdown(run: RunResult) -> str:
    """A Markdown step summary: score, a table of checks, the failing findings, then the
    warnings of the checks that passed."""
    checks = shown_checks(run)
    score, max_score, counts = totals(checks)
    head = f"{fmt_points(score)} / {fmt_points(max_score)} points" if run.gradable \
        else "not graded"  # no total that looks final
    lines = [f"## meshgrade: {head}", "",
             f"Rubric {code(run.rubric)}, mode {code(run.mode)}: "
             + ", ".join(f"{n} {o}" for o, n in counts.items() if n) + ".", ""]
    if not run.gradable:
        lines += [f"**Not graded**: {md(run.not_gradable_reason or '')}.", ""]
    lines += ["| Check | Title | Outcome | Points |", "| --- | --- | --- | ---: |"]
    for c in checks:
        points = f"{fmt_points(c.score)} / {fmt_points(c.max_score)}"
        lines.append(f"| {code(c.id, table=True)} {md(c.name)} | {md(c.title)} "
                     f"| {c.outcome} | {points} |")
    failing = [c for c in checks if c.outcome in (Outcome.FAILED, Outcome.ERROR)]
    if failing:
        lines += ["", "### What to fix", ""]
    for c in failing:
        lines.append(f"- **{md(c.id)} {md(c.name)}** ({c.outcome}): {md(c.message)}")
        for f in c.findings:
            lines += finding_items(f)
        if c.hint:
            lines.append(f"  - hint: {md(c.hint)}")
    warned = [c for c in checks if c not in failing and any(not f.is_error for f in c.findings)]
    if warned:
        lines += ["", "### Warnings (no points lost)", ""]
    for c in warned:
        lines.append(f"- **{md(c.id)} {md(c.name)}**")
        lines += [item for f in c.findings if not f.is_error for item in finding_items(f)]
    return "\n".join(lines) + "\n"


def finding_items(f: Finding, indent: str = "  ") -> list[str]:
    """A finding as a Markdown list item at ``indent`` (``warning:`` / ``info:`` first unless
    an error), its hint nested below."""
    where = f.location or f.object
    where = f"{code(where)} " if where else ""
    path = f"{code(f.path)}: " if f.path else ""
    level = "" if f.is_error else f"{f.severity}: "
    items = [f"{indent}- {level}{where}{path}{md(f.message)}"]
    if f.hint:
        items.append(f"{indent}  - hint: {md(f.hint)}")
    return items


def write(run: RunResult, *, env: Mapping[str, str], stream: TextIO | None = None,
          path_prefix: str = "", annotate: bool = True) -> Path | None:
    """Print annotations to ``stream`` (stdout) unless not ``annotate`` (``meshgrade grade``
    prints them itself, after its stop-commands block) and append the summary to
    ``env["GITHUB_STEP_SUMMARY"]`` when set; return that file's path or None."""
    if annotate:
        print_annotations(run, stream=stream, path_prefix=path_prefix)
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(summary_markdown(run))
    return path
