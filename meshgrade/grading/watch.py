"""``meshgrade watch [DIR]``: grade the repository again whenever one of its YAML files
changes (mtimes polled), in this process, and print only what changed since the last run:
the checks fixed, the checks newly failing (with their first finding), the score.

Repo mode by default (about 20 ms a run once warm); the rubric's instructor suites (``extra``)
are pytest folders and are not run here. Text from the submission goes through
``sinks.for_terminal``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..reports import write_reports
from ..reports.formatting import finding_line, fmt_points, shown_checks, totals
from ..reports.sinks import for_terminal, for_workflow_log
from ..submission.loader import YAML_SUFFIXES
from .options import Mode, Options
from .results import CheckResult, Outcome, RunResult
from .rubric import Rubric
from .session import GradingSession

Stamp = dict[str, tuple[int, int]]  # relative path -> (mtime ns, size)
SETTLE_S = 0.05  # a change is graded once the files stopped changing for this long
MAX_SETTLE_S = 1.0


def stamp(root: Path, skip: Path | None = None) -> Stamp:
    """Every YAML file below ``root`` as the loader finds them (links not followed, no
    ``.git``), with its modification time and size; ``skip`` is left out (the reports)."""
    out: Stamp = {}
    stack = [root]
    skipped = skip.resolve() if skip is not None else None
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git" and Path(entry.path).resolve() != skipped:
                    stack.append(Path(entry.path))
            elif entry.name.endswith(YAML_SUFFIXES):
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[os.path.relpath(entry.path, root)] = (info.st_mtime_ns, info.st_size)
    return out


def changed_files(before: Stamp, after: Stamp) -> list[str]:
    """Files added, removed or modified, sorted."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@dataclass
class Change:
    """How one check moved between two runs: fixed, failing (newly), better or worse."""

    kind: str
    check: CheckResult
    delta: float


def _bad(check: CheckResult | None) -> bool:
    return check is not None and check.outcome in (Outcome.FAILED, Outcome.ERROR)


def changes(before: RunResult | None, after: RunResult) -> list[Change]:
    """What moved since ``before`` (None: every failing check is news), in check order."""
    old = {c.id: c for c in shown_checks(before)} if before is not None else {}
    out = []
    for check in shown_checks(after):
        prev = old.get(check.id)
        delta = round(check.score - (prev.score if prev is not None else 0.0), 4)
        if _bad(prev) and check.outcome is Outcome.PASSED:
            out.append(Change("fixed", check, delta))
        elif _bad(check) and not _bad(prev):
            out.append(Change("failing", check, delta))
        elif _bad(check) and prev is not None and delta:
            out.append(Change("better" if delta > 0 else "worse", check, delta))
    return out


def _signed(value: float) -> str:
    return ("+" if value > 0 else "−" if value < 0 else "±") + fmt_points(abs(value))


def _score(run: RunResult) -> tuple[float, float]:
    score, max_score, _counts = totals(shown_checks(run))
    return score, max_score


def report(before: RunResult | None, after: RunResult, files: list[str], seconds: float,
           clock: str) -> str:
    """The lines printed after a run: what changed, and the score."""
    t = for_terminal
    what = ", ".join(t(f) for f in files[:3]) + (f" and {len(files) - 3} more"
                                                  if len(files) > 3 else "")
    head = f"[{clock}] " + (f"{what} changed · " if files else "") + f"graded in {seconds:.2f} s"
    moved = changes(before, after)
    score, max_score = _score(after)
    old = _score(before)[0] if before is not None else None
    total = f"score {fmt_points(score)}/{fmt_points(max_score)}"
    if old is not None and round(score - old, 4):
        total += f" ({_signed(score - old)})"
    if after.not_gradable_reason:
        total = f"NOT GRADED: {t(after.not_gradable_reason)}"
    if before is not None and not moved:
        return for_workflow_log(f"{head}: nothing changed, {total}")
    lines = [head]
    for ch in moved:
        c = ch.check
        name = f"{t(c.id)} {t(c.name)}"
        if ch.kind == "fixed":
            lines.append(f"  fixed    {name} ({_signed(ch.delta)})")
            continue
        lost = c.max_score - c.score
        lines.append(f"  {ch.kind:<8} {name} "
                     + (f"({_signed(ch.delta)})" if ch.kind != "failing" else
                        f"(−{fmt_points(lost)} of {fmt_points(c.max_score)})"))
        first = next((f for f in c.findings if f.is_error), None)
        detail = finding_line(first) if first is not None else c.message
        if detail:
            lines.append(f"           {t(detail)}")
        hint = (first.hint if first is not None else None) or c.hint
        if hint and ch.kind == "failing":
            lines.append(f"           hint: {t(hint)}")
    lines.append(f"  {total}")
    return for_workflow_log("\n".join(lines))


def grade(root: Path, rubric: Rubric, mode: Mode = "repo") -> RunResult:
    """One in-process grading run of ``root`` (no reports written, no pytest)."""
    session = GradingSession(Options(submission=str(root), rubric=rubric, mode=mode,
                                     formats=()))
    try:
        for cid in rubric.checks:
            session.evaluate(cid)
        return session.result()
    finally:
        session.close()


def _settled(root: Path, skip: Path | None, current: Stamp,
             sleep: Callable[[float], None]) -> Stamp:
    """The stamp once it stops changing (an editor may write a file in steps)."""
    waited = 0.0
    while waited < MAX_SETTLE_S:
        sleep(SETTLE_S)
        waited += SETTLE_S
        again = stamp(root, skip)
        if again == current:
            return again
        current = again
    return current


def watch(root: Path, rubric: Rubric, *, mode: Mode = "repo", interval: float = 0.3,
          out: Path | None = None, say: Callable[[str], None] = print,
          stop: Callable[[], bool] = lambda: False,
          sleep: Callable[[float], None] = time.sleep, runs: int | None = None) -> RunResult:
    """Grade ``root`` now and after every YAML change until ``stop()`` (or ``runs`` runs);
    ``out`` gets ``report.html`` and ``results.json`` after each run. The last run."""
    skip = out.resolve() if out is not None else None
    seen = stamp(root, skip)
    before: RunResult | None = None
    files: list[str] = []
    done = 0
    while True:
        started = time.perf_counter()
        run = grade(root, rubric, mode)
        seconds = time.perf_counter() - started
        say(report(before, run, files, seconds, datetime.now().strftime("%H:%M:%S")))
        if out is not None:
            written = write_reports(run, out, ("json", "html"))
            for fmt, exc in written.errors.items():
                say(f"warning: the {fmt} report could not be written: {for_terminal(str(exc))}")
        before, done = run, done + 1
        while True:
            if stop() or (runs is not None and done >= runs):
                return run
            sleep(interval)
            now = stamp(root, skip)
            if now != seen:
                now = _settled(root, skip, now, sleep)
                files, seen = changed_files(seen, now), now
                break
