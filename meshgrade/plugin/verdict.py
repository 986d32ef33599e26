"""A recorded CheckResult shown to pytest: passed, failed (with its findings), skipped, or an
error. The findings quote the submission, so their fields go through ``for_terminal`` and the
lines through ``for_workflow_log``, as on `meshgrade grade`'s console: pytest run directly
prints them raw (under GitHub Actions inside the plugin's stop-commands block as well)."""

from __future__ import annotations

import pytest

from ..grading.results import CheckResult, Outcome
from ..reports.sinks import for_terminal as t
from ..reports.sinks import for_workflow_log


class CheckError(Exception):
    """A check could not decide (infrastructure or internal error)."""


def verdict(result: CheckResult) -> None:
    """Report a recorded result to pytest."""
    if result.outcome is Outcome.PASSED:
        return
    if result.outcome is Outcome.SKIPPED:
        pytest.skip(for_workflow_log(f"{result.id}: {t(result.message)}"))
    text = [f"{result.id} {result.name}: {t(result.message)}"]
    for f in result.findings:
        where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or f.object or "")
        level = "" if f.is_error else f"[{f.severity}] "
        text.append(f"  {level}{t(where)}  {t(f.path or '')}  {t(f.message)}".rstrip())
        if f.hint:
            text.append(f"      hint: {t(f.hint)}")
    if result.outcome is Outcome.ERROR:
        trace = [result.traceback] if result.traceback else []
        raise CheckError(for_workflow_log("\n".join(text + trace)))
    pytest.fail(for_workflow_log("\n".join(text)), pytrace=False)
