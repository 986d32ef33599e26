"""The pytest plugin: the grading options, the grading session in ``config.stash``, the
check functions run through the grading engine, and the reports written at the end. Inert
unless options are given (``--submission``, or :class:`GivenOptions` from `meshgrade grade`).

Run directly under GitHub Actions (``pytest checks/ --submission X``), the plugin does what
`meshgrade grade` does: everything pytest prints (failure reports quote student text) sits in
a stop-commands block, opened at ``pytest_configure`` and closed at ``pytest_unconfigure``,
and meshgrade's own annotations follow it. Inside `meshgrade grade` the command's block is
already open and the plugin opens none.
"""

from __future__ import annotations

import importlib
import signal
from collections.abc import Generator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ..grading import interrupt, layout, registry
from ..grading.check import Check, Findings, call, declared
from ..grading.options import OPTIONS, OptionError, Options, add_pytest_options, build
from ..grading.results import CheckReport, CheckResult, ExitCode, Outcome, RunResult
from ..grading.rubric import ExtraSuite, RubricError, load
from ..grading.scoring import parse_fail_under
from ..grading.session import GradingSession
from ..reports import console, github_report, write_reports
from ..reports.sinks import (
    in_github_actions,
    workflow_commands_are_stopped,
    workflow_commands_stopped,
)
from .verdict import verdict

SESSION = pytest.StashKey[GradingSession]()
RUN = pytest.StashKey[RunResult]()
GIVEN = pytest.StashKey[Options]()
STOPPED = pytest.StashKey[ExitStack]()  # the plugin's own stop-commands block, while open
FIXTURE_MODULES = ("submission", "live")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser.getgroup("meshgrade", "meshgrade grading"))


class GivenOptions:
    """Handed to ``pytest.main`` by `meshgrade grade`: the run's options, already built."""

    def __init__(self, options: Options) -> None:
        self.options = options

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[GIVEN] = self.options


def _options(config: pytest.Config) -> Options | None:
    """The run's options: given by `meshgrade grade`, or from pytest's command line (None
    without ``--submission``: the plugin stays inert)."""
    given = config.stash.get(GIVEN, None)
    if given is not None:
        return given
    submission = config.getoption("submission", None)
    if not submission:
        return None
    values = {o.name: config.getoption(o.name) for o in OPTIONS if o.where != "cli"}
    try:
        rubric = load(values["rubric"], registry.checks())
    except RubricError as exc:
        raise pytest.UsageError(f"invalid rubric:\n{exc}") from None
    try:
        return build(values, rubric, submission)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "meshgrade_check(id): a meshgrade check")
    options = _options(config)
    if options is None:
        return
    _stop_workflow_commands(config)
    config.stash[SESSION] = grading = GradingSession(options)
    config.pluginmanager.register(_CtrlC(grading), "meshgrade-ctrl-c")
    package = layout.shipped_package("fixtures")
    for name in FIXTURE_MODULES:
        module = importlib.import_module(f"{package.__name__}.{name}")
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, f"meshgrade-fixtures-{name}")


def _stop_workflow_commands(config: pytest.Config) -> None:
    """Under GitHub Actions, open a stop-commands block on stdout before pytest's terminal
    reporter writes anything (unless `meshgrade grade` already opened one, or this is an
    xdist worker, whose stdout is not the log)."""
    if not in_github_actions() or workflow_commands_are_stopped() \
            or hasattr(config, "workerinput"):
        return
    stack = ExitStack()
    stack.enter_context(workflow_commands_stopped())
    config.stash[STOPPED] = stack


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """At the very end: close the plugin's block, then print meshgrade's annotations after
    it, where the runner reads them."""
    stack = config.stash.get(STOPPED, None)
    if stack is None:
        return
    del config.stash[STOPPED]
    stack.close()
    run = config.stash.get(RUN, None)
    grading = grading_session(config)
    if run is not None and grading is not None and "github" in grading.options.formats \
            and not config.getoption("meshgrade_quiet"):
        github_report.print_annotations(run)


def _annotate(config: pytest.Config) -> bool:
    """Whether the reports print the annotations: not for `meshgrade grade` (quiet: it prints
    them) nor inside the plugin's own block (printed after it, at unconfigure)."""
    return not config.getoption("meshgrade_quiet") and STOPPED not in config.stash


def grading_session(config: pytest.Config) -> GradingSession | None:
    return config.stash.get(SESSION, None)


def check_of(item: pytest.Item) -> Check | None:
    """The check an item runs, if it is a check function."""
    return declared(getattr(item, "function", None))


def pytest_itemcollected(item: pytest.Item) -> None:
    """A check's ID is one of its keywords (``-k MG204``) and a marker."""
    spec = check_of(item)
    if spec is not None:
        item.extra_keyword_matches.add(spec.id)
        item.add_marker(pytest.mark.meshgrade_check(spec.id))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Built-in checks the rubric does not name are deselected."""
    session = grading_session(config)
    if session is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        spec = check_of(item)
        unwanted = spec is not None and spec.id not in session.rubric.checks and \
            _extra_suite(session, item) is None
        (drop if unwanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    interrupt.arm()  # from here a signal unwinds to pytest_sessionfinish, which reports it


def _extra_suite(session: GradingSession, item: pytest.Item) -> ExtraSuite | None:
    path = Path(str(item.path)).resolve()
    for suite in session.rubric.extra:
        root = suite.path.resolve()
        if path == root or root in path.parents:
            return suite
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A check function runs through the grading engine: its result is recorded, then
    shown to pytest as passed, failed, skipped or an error."""
    grading = grading_session(pyfuncitem.config)
    spec = check_of(pyfuncitem)
    if grading is None or spec is None:
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in spec.fixtures}
    given = kwargs.get("findings")
    findings = given if isinstance(given, Findings) else Findings(spec.id)

    def invoke() -> CheckReport:
        return call(pyfuncitem.obj, kwargs, findings)

    if spec.id in grading.rubric.checks:
        result = grading.evaluate(spec.id, invoke)
    else:
        suite = _extra_suite(grading, pyfuncitem)
        if suite is None:
            return None
        result = grading.evaluate_extra(suite, spec, invoke)
    verdict(result)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, None]:
    """Plain instructor tests are recorded from pytest's report; a check whose fixtures
    failed is recorded as an error."""
    outcome = yield
    session = grading_session(item.config)
    if session is None:
        return
    report: pytest.TestReport = outcome.get_result()
    spec = check_of(item)
    if spec is not None:
        known = spec.id in session.rubric.checks or _extra_suite(session, item) is not None
        if known and report.failed and report.when != "call" and spec.id not in session.results:
            session.record_error(spec, f"{spec.id} could not run ({report.when})",
                                 report.longreprtext, _extra_suite(session, item))
        return
    suite = _extra_suite(session, item)
    if suite is None or (report.when != "call" and not (report.failed or report.skipped)):
        return
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
        session.record_extra(suite, item.name, Outcome.SKIPPED, str(reason))
    elif report.failed:
        kind = Outcome.FAILED if report.when == "call" else Outcome.ERROR
        text = report.longreprtext
        crash = getattr(report.longrepr, "reprcrash", None)
        message = getattr(crash, "message", None) or (
            text.strip().splitlines()[-1] if text.strip() else "failed")
        session.record_extra(suite, item.name, kind, message, text)
    else:
        session.record_extra(suite, item.name, Outcome.PASSED, "passed")


def exit_code(run: RunResult, fail_under: str | None) -> ExitCode:
    """0 all graded checks passed (or the score reached --fail-under), 1 otherwise,
    3 not gradable."""
    if not run.gradable:
        return ExitCode.NOT_GRADABLE
    if fail_under:
        target, percent = parse_fail_under(fail_under)
        reached = (run.score / run.max_score * 100 if run.max_score else 100.0) if percent \
            else run.score
        return ExitCode.OK if reached >= target - 1e-9 else ExitCode.FAILED
    graded: list[CheckResult] = [c for c in run.checks if c.max_score > 0]
    return ExitCode.OK if all(c.outcome is Outcome.PASSED for c in graded) else ExitCode.FAILED


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    grading = grading_session(session.config)
    if grading is None:
        return
    if grading.interrupted is None:
        grading.interrupted = interrupt.reason()
    run = finish(grading, annotate=_annotate(session.config))
    session.config.stash[RUN] = run
    session.exitstatus = int(exit_code(run, grading.options.fail_under))


class _CtrlC:
    """Plain pytest (no `meshgrade grade` handlers): Ctrl-C interrupts the run too; pytest's
    own stops (collection errors, --maxfail) do not."""

    def __init__(self, grading: GradingSession) -> None:
        self.grading = grading

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        value = excinfo.value
        if not isinstance(value, pytest.Session.Interrupted) and \
                isinstance(value, KeyboardInterrupt) and self.grading.interrupted is None:
            self.grading.interrupted = interrupt.reason() or interrupt.describe(signal.SIGINT)


def finish(grading: GradingSession, *, annotate: bool) -> RunResult:
    """Stop the run's live sources and write its reports. Signals wait meanwhile: one that
    came (now or after the checks) marks the run interrupted, and the reports say so."""
    interrupt.disarm()
    with interrupt.doing("report writing"):
        try:
            run = grading.result()
            log = grading.write_request_log()
            grading.write_objects()
        finally:
            grading.close()
        while True:
            written = write_reports(run, grading.options.out, grading.options.formats,
                                    sign_key=grading.options.sign_key, annotate=annotate)
            late = interrupt.reason()
            if late is None or grading.interrupted is not None:
                break
            grading.interrupted = late
            run = grading.result()
    if log is not None:
        written["requests"] = log
    grading.written = written
    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    grading = grading_session(config)
    if run is None or grading is None or config.getoption("meshgrade_quiet"):
        return
    terminalreporter.section("meshgrade")
    terminalreporter.write_line(console.render(run, color=terminalreporter.hasmarkup))
    for fmt, path in sorted(grading.written.items()):
        terminalreporter.write_line(f"{fmt}: {path}")
