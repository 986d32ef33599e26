"""Gradescope autograder ``results.json``.

Written to ``gradescope/results.json`` inside the output folder, because meshgrade's own
``results.json`` already lives at the top; a Gradescope ``run_autograder`` script copies it to
``/autograder/results/results.json``. Every check becomes a test, hidden ones included (with
Gradescope's own ``visibility``); tracebacks never go in, as test output reaches students.
Skipped checks carry no ``status`` (Gradescope then goes by the points).

The top-level ``output`` is shown to students at once, so its outcome counts cover only the
``visible`` checks: counting hidden (or not yet released) checks there would tell a student
how they did on them. The top-level ``score`` is the full grade, hidden checks included;
Gradescope decides when students see it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshgrade.grading.results import CheckResult, Outcome, RunResult, Visibility
from meshgrade.reports.formatting import check_text, totals, write_text

FILENAME = Path("gradescope") / "results.json"


def _test(check: CheckResult) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": f"{check.id} {check.name}: {check.title}",
        "score": check.score,
        "max_score": check.max_score,
        "output": check_text(check) or str(check.outcome),
        "visibility": str(check.visibility),
    }
    if check.outcome is Outcome.SKIPPED:
        test["output"] = f"Skipped: {test['output']}"
    else:
        test["status"] = "passed" if check.outcome is Outcome.PASSED else "failed"
    return test


def _summary(run: RunResult) -> str:
    _, _, counts = totals(c for c in run.checks if c.visibility is Visibility.VISIBLE)
    tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    lines = [f"meshgrade {run.tool_version}".rstrip() + f", rubric {run.rubric}, mode {run.mode}",
             f"Visible checks: {tally}" if tally else "No visible checks"]
    if not run.gradable:
        lines.append(f"Not graded: {run.not_gradable_reason}; ask your instructor.")
    lines += run.notes
    return "\n".join(lines)


def to_dict(run: RunResult) -> dict[str, Any]:
    """The Gradescope results dict for ``run``."""
    return {
        "score": run.score,
        "output": _summary(run),
        "execution_time": round(run.duration_s),  # whole seconds, as Gradescope shows
        "tests": [_test(c) for c in run.checks],
    }


def write(run: RunResult, out_dir: Path) -> Path:
    """Write ``out_dir/gradescope/results.json``."""
    text = json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"
    return write_text(out_dir / FILENAME, text)
