"""What the pytest check suites (checks/) share: parametrising by check ID, and turning a
recorded CheckResult into pytest's pass, fail or skip."""

from __future__ import annotations

from typing import Any

import pytest

from ..grading import registry
from ..grading.results import CheckResult, Outcome


class CheckError(Exception):
    """A check could not decide (infrastructure or internal error)."""


def params(*prefixes: str) -> dict[str, Any]:
    """``parametrize`` arguments for every registered check whose ID starts with a prefix."""
    ids = [c for c in registry.checks() if c.startswith(prefixes)]
    return {"argnames": "check_id", "argvalues": ids,
            "ids": [f"{c}-{registry.get(c).name}" for c in ids]}


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
