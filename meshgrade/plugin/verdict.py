"""A recorded CheckResult shown to pytest: passed, failed (with its findings), skipped, or an
error."""

from __future__ import annotations

import pytest

from ..grading.results import CheckResult, Outcome


class CheckError(Exception):
    """A check could not decide (infrastructure or internal error)."""


def verdict(result: CheckResult) -> None:
    """Report a recorded result to pytest."""
    if result.outcome is Outcome.PASSED:
        return
    if result.outcome is Outcome.SKIPPED:
        pytest.skip(f"{result.id}: {result.message}")
    text = [f"{result.id} {result.name}: {result.message}"]
    for f in result.findings:
        where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or f.object or "")
        level = "" if f.is_error else f"[{f.severity}] "
        text.append(f"  {level}{where}  {f.path or ''}  {f.message}".rstrip())
        if f.hint:
            text.append(f"      hint: {f.hint}")
    if result.outcome is Outcome.ERROR:
        raise CheckError("\n".join(text + ([result.traceback] if result.traceback else [])))
    pytest.fail("\n".join(text), pytrace=False)
