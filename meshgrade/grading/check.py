"""A check: catalogue entry plus the pure function that evaluates it; running one safely."""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, cast

from .results import CheckReport, Outcome

if TYPE_CHECKING:
    from .catalogue import Entry
    from .context import Context

CheckFn = Callable[["Context"], CheckReport]

NOT_IMPLEMENTED = "not implemented in this release"


@cache
def _resolve(target: str) -> CheckFn:
    """The function named ``module.function`` in ``meshgrade.analyzers``."""
    module, _, name = target.rpartition(".")
    fn: CheckFn = getattr(importlib.import_module(f"meshgrade.analyzers.{module}"), name)
    return fn


@dataclass(frozen=True)
class Check:
    entry: Entry
    target: CheckFn | str | None  # the function, its "module.function" name, None if pending

    @property
    def fn(self) -> CheckFn | None:
        """The function (its module imported on first use), None for a pending check."""
        return _resolve(self.target) if isinstance(self.target, str) else self.target

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def title(self) -> str:
        """The text users see for this check."""
        return self.entry.title

    @property
    def sources(self) -> tuple[str, ...]:
        return self.entry.sources

    @property
    def group(self) -> str:
        return self.id[:3]

    @property
    def implemented(self) -> bool:
        return self.target is not None


def run(check: Check, ctx: Context | None) -> tuple[CheckReport, float]:
    """Evaluate one check; a crash becomes an ``error`` report with the traceback."""
    start = time.perf_counter()
    if not check.implemented or ctx is None:
        reason = NOT_IMPLEMENTED if not check.implemented else "no submission loaded"
        return CheckReport(Outcome.SKIPPED, reason), time.perf_counter() - start
    if not set(check.sources) & ctx.sources:
        if "repo" in check.sources:  # a repo-only check on a run that reads the cluster
            return CheckReport(Outcome.SKIPPED, "no repository files in this run"), \
                time.perf_counter() - start
        outcome = Outcome.ERROR if ctx.live_error else Outcome.SKIPPED
        return CheckReport(outcome, ctx.live_reason), time.perf_counter() - start
    try:  # the check's module is imported here, when a check of it first runs
        report = cast(CheckFn, check.fn)(ctx)  # implemented: not None
    except Exception as exc:  # a crash in one check must not lose the run
        report = CheckReport(Outcome.ERROR, f"internal error in {check.id}: {exc!r}",
                             traceback=traceback.format_exc())
    return report, time.perf_counter() - start
