"""A check is a pytest test: a function over fixtures, with its ID, title, default points and
what it reads declared by :func:`check`. Its body returns a :class:`CheckReport`, or reports
through the ``findings`` fixture, or just asserts.

Under pytest the plugin calls it with pytest's fixtures; :func:`run` calls the same function
outside pytest (the watch loop, the project's tests) with the same fixtures made from the
:class:`Context`. Either way :func:`call` turns what the body did into a report, and a crash
becomes an ``error`` report with its traceback.
"""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from ..submission.objects import KObject
from . import catalogue
from .context import Context
from .results import CheckReport, Finding, Outcome, Severity

if TYPE_CHECKING:  # the Kubernetes client and requests load only when a live source is used
    from ..cluster.read import ClusterFacts
    from ..cluster.reader import ClusterWriter
    from ..traffic.sampler import Sampler

Source = Literal["repo", "cluster", "traffic"]
SOURCES: tuple[Source, ...] = get_args(Source)
CheckFn = Callable[..., "CheckReport | None"]
F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "meshgrade_check"  # where check() puts the Check on the function


@dataclass(frozen=True)
class Check:
    """What :func:`check` declares on a check function."""

    id: str
    title: str
    points: float
    reads: tuple[Source, ...]
    fn: CheckFn = field(compare=False)

    @property
    def name(self) -> str:
        """``route-jason-v2`` for ``test_route_jason_v2``."""
        return self.fn.__name__.removeprefix("test_").replace("_", "-")

    @property
    def sources(self) -> tuple[Source, ...]:
        return self.reads

    @property
    def group(self) -> str:
        return self.id[:3]

    @property
    def messages(self) -> dict[str, dict[str, str]]:
        """The catalogue's finding templates of this check (none for an instructor's)."""
        return catalogue.messages(self.id)

    @property
    def fixtures(self) -> tuple[str, ...]:
        """The names of the fixtures the function asks for."""
        return tuple(inspect.signature(self.fn).parameters)


def check(id: str, *, title: str, points: float = 1.0,
          reads: tuple[Source, ...] = ("repo",)) -> Callable[[F], F]:
    """Declare a check function: its stable ``id``, the ``title`` users read, its
    ``points`` when a rubric names none, and what it ``reads``: ``repo`` (the
    submission's files, or the cluster's objects when there are none), ``cluster`` (a live
    cluster or the lab), ``traffic`` (requests through the gateway)."""
    unknown = [r for r in reads if r not in SOURCES]
    if unknown or not reads:
        raise ValueError(f"{id}: reads must name some of {', '.join(SOURCES)}, not {unknown}")

    def declare(fn: F) -> F:
        setattr(fn, ATTRIBUTE, Check(id, title, float(points), tuple(reads), fn))
        return fn

    return declare


def declared(obj: object) -> Check | None:
    """The check declared on ``obj``, if it is a check function."""
    found = getattr(obj, ATTRIBUTE, None)
    return found if isinstance(found, Check) else None


class Findings:
    """The ``findings`` fixture: what a check reports, each located at an object and field
    path (or a file and line). Error findings fail the check; warnings and infos are shown
    and cost nothing."""

    def __init__(self, check_id: str) -> None:
        self.check_id = check_id
        self.items: list[Finding] = []
        self.parts: int | None = None  # give partial credit over this many parts

    def add(self, finding: Finding) -> Finding:
        self.items.append(finding)
        return finding

    def error(self, message: str, obj: KObject | None = None, path: str | None = None, *,
              hint: str | None = None, file: str | None = None, line: int | None = None
              ) -> Finding:
        return self.add(self._make(message, obj, path, hint, file, line, Severity.ERROR))

    def warning(self, message: str, obj: KObject | None = None, path: str | None = None, *,
                hint: str | None = None, file: str | None = None, line: int | None = None
                ) -> Finding:
        return self.add(self._make(message, obj, path, hint, file, line, Severity.WARNING))

    def report(self, passed: str = "passed") -> CheckReport:
        return CheckReport.from_findings(list(self.items), passed, parts=self.parts)

    @staticmethod
    def _make(message: str, obj: KObject | None, path: str | None, hint: str | None,
              file: str | None, line: int | None, severity: Severity) -> Finding:
        return Finding.at(message, obj, path, file=file, line=line, hint=hint,
                          severity=severity)


def live_cluster(ctx: Context) -> ClusterWriter | None:
    """The ``cluster`` fixture: the Kubernetes API of the run's live source, or None."""
    return ctx.live.client if ctx.live is not None else None


def live_gateway(ctx: Context) -> str | None:
    """The ``gateway`` fixture: the ingress gateway's URL, or None (none answered)."""
    live = ctx.live
    return live.gateway_url if live is not None and not live.gateway_error else None


def live_sampler(ctx: Context) -> Sampler | None:
    """The ``sampler`` fixture: the gateway's traffic sampler, or None."""
    live = ctx.live
    return live.sampler() if live is not None and not live.gateway_error else None


def live_facts(ctx: Context) -> ClusterFacts | None:
    """The ``facts`` fixture: the cluster's state, read once (MG301-MG309), or None."""
    return ctx.live.facts() if ctx.live is not None else None


_FIXTURES: dict[str, Callable[[Context, Findings], Any]] = {
    "ctx": lambda ctx, _f: ctx,
    "index": lambda ctx, _f: ctx.index,
    "model": lambda ctx, _f: ctx.model(),
    "settings": lambda ctx, _f: ctx.settings,
    "findings": lambda _c, findings: findings,
    "cluster": lambda ctx, _f: live_cluster(ctx),
    "gateway": lambda ctx, _f: live_gateway(ctx),
    "sampler": lambda ctx, _f: live_sampler(ctx),
    "facts": lambda ctx, _f: live_facts(ctx),
}


def fixture(name: str, ctx: Context, findings: Findings) -> Any:
    """The value of fixture ``name`` outside pytest, as ``fixtures/`` gives it under pytest."""
    if name not in _FIXTURES:
        raise LookupError(f"fixture '{name}' is only available under pytest "
                          f"(outside it: {', '.join(_FIXTURES)})")
    return _FIXTURES[name](ctx, findings)


def gate(chk: Check, ctx: Context | None) -> CheckReport | None:
    """Why ``chk`` does not run on this context (no submission, or nothing it reads), or
    None when it runs."""
    if ctx is None:
        return CheckReport(Outcome.SKIPPED, "no submission loaded")
    if set(chk.reads) & ctx.sources:
        return None
    if "repo" in chk.reads:  # a repo-only check on a run that reads the cluster
        return CheckReport(Outcome.SKIPPED, "no repository files in this run")
    return CheckReport(Outcome.ERROR if ctx.live_error else Outcome.SKIPPED, ctx.live_reason)


def call(fn: CheckFn, kwargs: dict[str, Any], findings: Findings) -> CheckReport:
    """Call a check function and make its report: what it returned; else its findings
    (``findings``, whether or not the function asked for them). A failed assertion fails it,
    ``pytest.skip`` skips it, a crash is an error."""
    import pytest  # start-up: pytest, not for `meshgrade checks`

    try:
        returned = fn(**kwargs)
    except AssertionError as exc:
        found = list(findings.items)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "assertion failed"
        return CheckReport(Outcome.FAILED, message, found + [Finding(message)],
                           traceback=traceback.format_exc())
    except pytest.skip.Exception as exc:
        return CheckReport(Outcome.SKIPPED, str(exc.msg))
    except pytest.fail.Exception as exc:
        return CheckReport(Outcome.FAILED, str(exc.msg), [Finding(str(exc.msg))])
    except Exception as exc:  # a crash in one check must not lose the run
        return CheckReport(Outcome.ERROR, f"internal error in {findings.check_id}: {exc!r}",
                           traceback=traceback.format_exc())
    if isinstance(returned, CheckReport):
        if findings.items:
            returned.findings = findings.items + returned.findings
        return returned
    if returned is not None:
        return CheckReport(Outcome.ERROR, f"the check returned {type(returned).__name__}, "
                           "not a CheckReport or None")
    return findings.report()


def run(chk: Check, ctx: Context | None,
        invoke: Callable[[], CheckReport] | None = None) -> tuple[CheckReport, float]:
    """Evaluate one check on ``ctx``: with ``invoke`` (pytest's call of the function), else
    by calling it with fixtures made from ``ctx``. Returns the report and its duration."""
    start = time.perf_counter()
    stopped = gate(chk, ctx)
    if stopped is not None or ctx is None:
        return stopped or CheckReport(Outcome.SKIPPED, "no submission"), 0.0
    if invoke is None:
        findings = Findings(chk.id)
        try:
            kwargs = {name: fixture(name, ctx, findings) for name in chk.fixtures}
        except Exception as exc:
            report = CheckReport(Outcome.ERROR, f"{chk.id} could not start: {exc}",
                                 traceback=traceback.format_exc())
            return report, time.perf_counter() - start
        report = call(chk.fn, kwargs, findings)
    else:
        report = invoke()
    return report, time.perf_counter() - start
