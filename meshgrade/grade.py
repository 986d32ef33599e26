"""`meshgrade grade`: run the check suites through pytest and print the summary."""

from __future__ import annotations

import argparse
import sys

import pytest

from .layout import pytest_ini, suite_dir
from .plugin import RUN, SESSION, exit_code
from .reports import console
from .results import ExitCode
from .rubric import Rubric


class _Capture:
    """Keeps the run's result and session once pytest has finished."""

    def __init__(self) -> None:
        self.run = None
        self.session = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.run = session.config.stash.get(RUN, None)
        self.session = session.config.stash.get(SESSION, None)


def pytest_args(args: argparse.Namespace, rubric: Rubric) -> list[str]:
    """The pytest command line equivalent to a `meshgrade grade` call."""
    suite = suite_dir()
    out = [str(suite), *[str(s.path) for s in rubric.extra],
           "-c", str(pytest_ini()), "--rootdir", str(suite.parent),
           "-p", "meshgrade.plugin", "-p", "no:cacheprovider", "-p", "no:cloudcoil",
           "--submission", args.submission, "--rubric", rubric.source or args.rubric,
           "--mode", args.mode, "--out", args.out, "--max-file-mib", str(args.max_file_mib),
           "--meshgrade-quiet"]
    for fmt in args.formats or []:
        out += ["--format", fmt]
    for flag, value in (("--student", args.student), ("--fail-under", args.fail_under),
                        ("--kubeconfig", args.kubeconfig), ("--context", args.context),
                        ("--namespace", args.namespace), ("--gateway-url", args.gateway_url),
                        ("--seed", None if args.seed is None else str(args.seed)),
                        ("--sign-key-file", args.sign_key_file)):
        if value is not None:
            out += [flag, value]
    for flag, on in (("--apply-stages", args.apply_stages),
                     ("--allow-kubeconfig-exec", args.allow_kubeconfig_exec)):
        if on:
            out.append(flag)
    if not args.verbose:
        out += ["-p", "no:terminal"]
    else:
        out += ["-rA"]
    return out


def grade(args: argparse.Namespace, rubric: Rubric, *, color: bool) -> int:
    capture = _Capture()
    print(f"meshgrade: grading {args.submission} with rubric {rubric.name}", file=sys.stderr)
    code = pytest.main(pytest_args(args, rubric), plugins=[capture])
    run = capture.run
    if run is None:
        print(f"error: grading did not complete (pytest exit status {int(code)}); "
              "run with -v to see pytest's output", file=sys.stderr)
        return ExitCode.NOT_GRADABLE if code != pytest.ExitCode.USAGE_ERROR else ExitCode.USAGE
    print(console.render(run, color=color))
    written = getattr(capture.session, "written", {}) or {}
    for fmt, path in sorted(written.items()):
        if fmt != "html-instructor":  # students need not learn that hidden checks exist
            print(f"  {fmt}: {path}")
    for fmt, exc in getattr(written, "errors", {}).items():
        print(f"warning: the {fmt} report could not be written: {exc}", file=sys.stderr)
    for note in run.notes:
        print(f"note: {note}", file=sys.stderr)
    return int(exit_code(run, args.fail_under))
