"""`meshgrade grade`: run the check suites through pytest and print the summary.

Under GitHub Actions everything printed (pytest's output too) sits inside a stop-commands
block, so the runner runs no workflow command a submission smuggles in; meshgrade's own
annotations follow the block. Student text is escaped as well (``reports.sinks``).
"""

from __future__ import annotations

import argparse
import sys

import pytest

from ..grading import interrupt
from ..grading.layout import pytest_ini, suite_dir
from ..grading.options import OptionError, Options, build
from ..grading.results import ExitCode, RunResult
from ..grading.rubric import Rubric
from ..grading.session import GradingSession
from ..plugin import RUN, SESSION, GivenOptions, exit_code
from ..reports import WrittenReports, console, github_report
from ..reports.sinks import (
    for_terminal,
    for_workflow_log,
    in_github_actions,
    workflow_commands_stopped,
)
from ..submission.gitsource import redact_url
from ..traffic.progressline import attach_terminal


class _Capture:
    """Keeps the run's result and session once pytest has finished."""

    def __init__(self) -> None:
        self.run: RunResult | None = None
        self.session: GradingSession | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.run = session.config.stash.get(RUN, None)
        self.session = session.config.stash.get(SESSION, None)


# meshgrade's own suites alone (no instructor tests): they assert nothing and use none of
# these, so pytest starts without assertion rewriting, other packages' plugins or these
LEAN = ("--assert=plain", "--disable-plugin-autoload",
        *[a for name in ("doctest", "junitxml", "pastebin", "unittest", "legacypath", "tmpdir",
                         "monkeypatch", "recwarn", "stepwise", "setuponly", "setupplan",
                         "unraisableexception", "threadexception", "faulthandler", "logging")
          for a in ("-p", f"no:{name}")])


def pytest_args(rubric: Rubric, *, verbose: bool) -> list[str]:
    """pytest's command line for a `meshgrade grade` run (the options go as an object)."""
    suite = suite_dir()
    return [str(suite), *[str(s.path) for s in rubric.extra],
            "-c", str(pytest_ini()), "--rootdir", str(suite.parent),
            "-p", "meshgrade.plugin", "-p", "no:cacheprovider", "-p", "no:cloudcoil",
            *(() if rubric.extra else LEAN), "--meshgrade-quiet",
            *(["-rA"] if verbose else ["-p", "no:terminal"])]


def options_of(args: argparse.Namespace, rubric: Rubric) -> Options:
    """The run's options from `meshgrade grade`'s arguments; OptionError."""
    return build(vars(args), rubric, args.submission)


def grade(args: argparse.Namespace, rubric: Rubric, *, color: bool) -> int:
    capture = _Capture()
    with workflow_commands_stopped(in_github_actions()):
        status = _grade(args, rubric, capture, color=color)
    run, session = capture.run, capture.session
    if run is not None and session is not None and "github" in session.options.formats:
        github_report.print_annotations(run)
    return status


def _say(text: str, *, err: bool = False) -> None:
    """Print a line whose fields went through ``for_terminal``."""
    print(for_workflow_log(text), file=sys.stderr if err else sys.stdout)


def _grade(args: argparse.Namespace, rubric: Rubric, capture: _Capture, *, color: bool) -> int:
    t = for_terminal
    _say(f"meshgrade: grading {t(redact_url(args.submission))} with rubric {t(rubric.name)}",
         err=True)
    try:
        options = options_of(args, rubric)
    except OptionError as exc:
        _say(f"error: {t(str(exc))}", err=True)
        return ExitCode.USAGE
    attach_terminal()  # the sampling progress line; pytest captures stderr from here
    code = pytest.main(pytest_args(rubric, verbose=args.verbose),
                       plugins=[GivenOptions(options), capture])
    run = capture.run
    stopped = interrupt.exit_status()
    if run is None:
        if stopped is not None:
            _say(f"NOT GRADED: interrupted by {interrupt.reason()}, before grading started",
                 err=True)
            return stopped
        _say(f"error: grading did not complete (pytest exit status {int(code)}); "
             "run with -v to see pytest's output", err=True)
        return ExitCode.NOT_GRADABLE if code != pytest.ExitCode.USAGE_ERROR else ExitCode.USAGE
    print(console.render(run, color=color))
    written = capture.session.written if capture.session is not None else WrittenReports()
    for fmt, path in sorted(written.items()):
        if fmt != "html-instructor":  # students need not learn that hidden checks exist
            _say(f"  {fmt}: {t(str(path))}")
    for fmt, error in written.errors.items():
        _say(f"warning: the {fmt} report could not be written: {t(str(error))}", err=True)
    for note in run.notes:
        _say(f"note: {t(note)}", err=True)
    sub = run.submission
    if sub.commit and sub.commit_date:
        late = f"; {sub.late_commits} later commit(s) not graded" if sub.late_commits else ""
        due = f", due {t(sub.due)}" if sub.due else ""
        _say(f"graded commit {t(sub.commit[:12])} dated {t(sub.commit_date)}{due}{late}",
             err=True)
    for odd in sub.suspicious_dates or ():
        _say(f"warning: suspicious commit dates: {t(odd)}", err=True)
    if run.interrupted is not None and stopped is not None:
        return stopped  # 128 + the signal: 130 for SIGINT, 143 for SIGTERM
    return int(exit_code(run, args.fail_under))
