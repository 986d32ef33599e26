"""The pytest plugin: options, the grading session in ``config.stash``, result recording,
and report writing. Inert unless ``--submission`` is given."""

from __future__ import annotations

import importlib
import importlib.util
import signal
import sys
from pathlib import Path

import pytest

from ..grading import interrupt, registry
from ..grading.results import CheckResult, ExitCode, Outcome, RunResult
from ..grading.rubric import RubricError, load
from ..grading.scoring import parse_fail_under
from ..grading.session import GradingSession, Options
from ..reports import FORMATS, console, write_reports
from ..submission.gitsource import parse_pin
from ..submission.limits import MIB, Limits
from ..submission.source import Pin

FAIL_UNDER_HELP = "give points (7.5) or a percentage (80%)"

SESSION = pytest.StashKey[GradingSession]()
RUN = pytest.StashKey[RunResult]()
FIXTURE_MODULES = ("submission", "live", "lab")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meshgrade", "meshgrade grading")
    group.addoption("--submission", metavar="PATH|URL", help="folder or git URL to grade")
    group.addoption("--rubric", default="istio-full", metavar="NAME|FILE",
                    help="built-in rubric name or rubric file (default: istio-full)")
    group.addoption("--mode", default="auto", choices=("auto", "repo", "lab", "cluster"))
    group.addoption("--out", default="reports", metavar="DIR", help="report folder")
    group.addoption("--format", action="append", dest="formats", choices=FORMATS,
                    help="report format, repeatable (default: json, junit, html)")
    group.addoption("--student", default=None, help="student name for the reports")
    group.addoption("--repository", default=None, help="the submission's repository (URL)")
    group.addoption("--fail-under", default=None, metavar="SCORE",
                    help="pass when the score reaches SCORE points (or N%%)")
    group.addoption("--max-file-mib", type=float, default=1.0,
                    help="skip YAML files larger than this (default 1 MiB)")
    group.addoption("--kubeconfig", default=None, help="kubeconfig file (cluster mode)")
    group.addoption("--context", dest="kube_context", default=None, help="kubeconfig context")
    group.addoption("--namespace", dest="app_namespace", default="default",
                    help="application namespace (default: default)")
    group.addoption("--gateway-url", default=None, help="ingress gateway URL (cluster mode)")
    group.addoption("--apply-stages", action="store_true",
                    help="cluster mode: apply each routing stage, sample, restore (writes!)")
    group.addoption("--allow-kubeconfig-exec", action="store_true",
                    help="accept a kubeconfig whose user runs an exec/auth-provider plugin")
    group.addoption("--trust-kubeconfig", action="store_true",
                    help="allow the --kubeconfig file's references outside its own folder "
                         "and a proxy-url")
    group.addoption("--seed", type=int, default=None, help="sampling order seed")
    group.addoption("--sign-key-file", default=None,
                    help="sign results.json with HMAC-SHA256 (else $MESHGRADE_SIGN_KEY)")
    group.addoption("--due", default=None, metavar="TIME",
                    help="grade the newest commit dated at or before TIME (ISO 8601 with an "
                         "offset)")
    group.addoption("--commit", dest="pin_commit", default=None, metavar="REV",
                    help="grade this commit of the branch")
    group.addoption("--meshgrade-quiet", action="store_true",
                    help="do not print the meshgrade summary or GitHub annotations (the "
                         "meshgrade command does)")


def _options(config: pytest.Config, rubric) -> Options:
    formats = config.getoption("formats") or ["json", "junit", "html"]
    import os

    if os.environ.get("GITHUB_ACTIONS") == "true" and "github" not in formats:
        formats = [*formats, "github"]
    limits = Limits(max_file_bytes=int(config.getoption("max_file_mib") * MIB))
    return Options(submission=config.getoption("submission"), rubric=rubric,
                   mode=config.getoption("mode"), out=Path(config.getoption("out")),
                   formats=tuple(dict.fromkeys(formats)), student=config.getoption("student"),
                   repository=config.getoption("repository"),
                   fail_under=config.getoption("fail_under"), limits=limits,
                   kubeconfig=config.getoption("kubeconfig"),
                   kube_context=config.getoption("kube_context"),
                   namespace=config.getoption("app_namespace"),
                   gateway_url=config.getoption("gateway_url"),
                   apply_stages=config.getoption("apply_stages"),
                   allow_kubeconfig_exec=config.getoption("allow_kubeconfig_exec"),
                   trust_kubeconfig=config.getoption("trust_kubeconfig"),
                   seed=config.getoption("seed"), sign_key=_sign_key(config),
                   pin=_pin(config))


def _pin(config: pytest.Config) -> Pin | None:
    """The commit to grade from ``--due`` or ``--commit``; None for the branch's newest."""
    try:
        return parse_pin(config.getoption("due"), config.getoption("pin_commit"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _sign_key(config: pytest.Config) -> bytes | None:
    import os

    from ..grading.signing import load_key

    try:
        return load_key(config.getoption("sign_key_file"), os.environ)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "meshgrade_check(id): a meshgrade check item")
    if not config.getoption("submission", None):
        return
    try:
        rubric = load(config.getoption("rubric"), set(registry.checks()))
    except RubricError as exc:
        raise pytest.UsageError(f"invalid rubric:\n{exc}") from None
    fail_under = config.getoption("fail_under")
    if fail_under is not None:
        try:
            parse_fail_under(fail_under)
        except ValueError:
            raise pytest.UsageError(f"--fail-under {fail_under!r}: {FAIL_UNDER_HELP}") from None
    config.stash[SESSION] = grading = GradingSession(_options(config, rubric))
    config.pluginmanager.register(_CtrlC(grading), "meshgrade-ctrl-c")
    package = fixtures_package()
    for name in FIXTURE_MODULES:
        module = importlib.import_module(f"{package}.{name}")
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, f"meshgrade-fixtures-{name}")


def fixtures_package() -> str:
    """Import name of the fixture modules: installed as meshgrade._fixtures, or the
    checkout's fixtures/ folder loaded under that name."""
    name = "meshgrade._fixtures"
    if name in sys.modules:
        return name
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / "fixtures"
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return name


def grading_session(config: pytest.Config) -> GradingSession | None:
    return config.stash.get(SESSION, None)


def check_id_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("check_id") if callspec else None
    return value if isinstance(value, str) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = grading_session(config)
    if session is None:
        return
    keep, drop = [], []
    for item in items:
        cid = check_id_of(item)
        (drop if cid is not None and cid not in session.rubric.checks else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    interrupt.arm()  # from here a signal unwinds to pytest_sessionfinish, which reports it


def _extra_suite(session: GradingSession, item: pytest.Item):
    path = Path(str(item.path)).resolve()
    for suite in session.rubric.extra:
        root = suite.path.resolve()
        if path == root or root in path.parents:
            return suite
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    session = grading_session(item.config)
    if session is None:
        return
    report = outcome.get_result()
    cid = check_id_of(item)
    if cid is not None and cid in session.rubric.checks:
        if report.failed and cid not in session.results:
            from ..grading.results import CheckReport

            session.record(cid, CheckReport(Outcome.ERROR, f"{cid} could not run ({report.when})",
                                            traceback=report.longreprtext))
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
    run = finish(grading, annotate=not session.config.getoption("meshgrade_quiet"))
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


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    grading = grading_session(config)
    if run is None or grading is None or config.getoption("meshgrade_quiet"):
        return
    terminalreporter.section("meshgrade")
    terminalreporter.write_line(console.render(run, color=terminalreporter.hasmarkup))
    for fmt, path in sorted(getattr(grading, "written", {}).items()):
        terminalreporter.write_line(f"{fmt}: {path}")
