"""GitHub Classroom: the result format of ``autograding-grading-reporter``.

A workflow step exposes :func:`encoded` (base64 JSON) as an output, and the reporter reads it
from ``<RUNNER>_RESULTS``. The reporter prints every test in the student's workflow log and
sums ``score`` over ``max_score``, so this is student-facing: hidden checks are left out and
``max_score`` (like every other student total) counts only the checks shown. ``status`` is
``error`` when the run is not gradable, ``fail`` when a shown test did not pass, else ``pass``.
Skipped checks are ``pass`` when they carry no points (a graded skip is ``fail``), with the
reason as their message. The reporter prints names and messages in the workflow log, so their
text goes through ``sinks.for_terminal`` and ``sinks.for_workflow_log``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from meshgrade.grading.results import CheckResult, Outcome, RunResult
from meshgrade.reports.formatting import check_label, check_text, shown_checks, totals, write_text
from meshgrade.reports.sinks import for_terminal, for_workflow_log

FILENAME = "classroom.json"
ENCODED_FILENAME = "classroom.b64"
_STATUS = {Outcome.PASSED: "pass", Outcome.FAILED: "fail", Outcome.ERROR: "error"}


def _status(check: CheckResult) -> str:
    if check.outcome is Outcome.SKIPPED:
        return "fail" if check.max_score > 0 else "pass"
    return _STATUS[check.outcome]


def _test(check: CheckResult) -> dict[str, Any]:
    message = check_text(check, clean=for_terminal)
    if check.outcome is Outcome.SKIPPED:
        message = f"Skipped: {message}" if message else "Skipped"
    name = f"{check_label(check)}: {check.title}" if check.title else check_label(check)
    return {
        "name": for_workflow_log(for_terminal(name)),
        "status": _status(check),
        "score": check.score,
        "max_score": check.max_score,
        "message": for_workflow_log(message),
        "test_code": "",
        "filename": "",
        "line_no": 0,
        "duration": round(check.duration_s * 1000),
    }


def to_dict(run: RunResult) -> dict[str, Any]:
    """The Classroom result for ``run`` (student view: no hidden checks)."""
    checks = shown_checks(run)
    tests = [_test(c) for c in checks]
    if not run.gradable:
        status = "error"
    else:
        status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    _, max_score, _ = totals(checks)
    return {"version": 1, "status": status, "max_score": max_score, "tests": tests}


def encoded(run: RunResult) -> str:
    """Base64 of the compact UTF-8 JSON, as the reporter expects in ``<RUNNER>_RESULTS``."""
    text = json.dumps(to_dict(run), ensure_ascii=False, separators=(",", ":"), default=str)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def write(run: RunResult, out_dir: Path) -> dict[str, Path]:
    """Write ``classroom.json`` (readable) and ``classroom.b64`` (the step output value)."""
    text = json.dumps(to_dict(run), indent=2, ensure_ascii=False, default=str) + "\n"
    return {"classroom": write_text(out_dir / FILENAME, text),
            "classroom-b64": write_text(out_dir / ENCODED_FILENAME, encoded(run) + "\n")}
