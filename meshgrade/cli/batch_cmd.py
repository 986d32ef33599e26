"""``meshgrade batch ROSTER.csv``: grade a class, one ``grade`` process per student.

Test hook: the hidden ``--grade-cmd "PROGRAM ARGS"`` replaces ``python -m meshgrade grade``
(the batch appends the usual grade arguments), so a test can stand in a process that hangs
or crashes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from meshgrade.grading.history import format_due, parse_due
from meshgrade.grading.layout import builtin_names
from meshgrade.grading.results import ExitCode
from meshgrade.grading.rubric import load_or_report
from meshgrade.reports import FORMATS
from meshgrade.reports.sinks import for_terminal, for_workflow_log

from ..batch.roster import MODES, RosterError, read_roster
from ..batch.shard import parse_shard

if TYPE_CHECKING:
    from ..batch.runner import BatchOptions, BatchSummary

EPILOG = """\
roster columns: student, submission (folder or git URL; a relative folder resolves against
the roster's folder), and optionally kubeconfig, context, gateway_url, mode, due (a student's
own due time: an extension). A GitHub Classroom grades export is read as it is
(roster_identifier or github_username, student_repository_url).

examples:
  meshgrade batch class.csv --rubric istio-part1 --mode repo
  meshgrade batch class.csv --out grades --workers 4 --timeout 300 --resume
  meshgrade batch class.csv --due 2026-12-15T23:59+01:00 --out grades
  meshgrade batch class.csv --out grades-2 --compare grades

outputs: OUT/<student>/ (the grade reports, feedback.md and grade.log), OUT/gradebook.csv,
OUT/class-report.html, and with --compare OUT/regrade.csv.
exit status: 0 every student graded, 2 bad roster or usage, 3 some student not gradable,
128 + the signal when stopped (130 Ctrl-C, 143 SIGTERM): the running grade processes write
their reports marked interrupted, and the gradebook and class report list what was done.
"""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    """Add ``batch`` to the ``meshgrade`` sub-commands."""
    b = sub.add_parser("batch", help="grade a class from a roster CSV",
                       description="Grade every student of a roster, each in its own process, "
                                   "and write a gradebook and a class report.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("roster", type=Path, help="the roster CSV")
    b.add_argument("--rubric", default="istio-full",
                   help=f"built-in name ({', '.join(builtin_names())}) or a rubric file "
                        "(default: istio-full)")
    b.add_argument("--mode", default="auto", choices=MODES,
                   help="mode for rows that give none (default: auto)")
    b.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                   help="output folder (default: reports)")
    b.add_argument("--workers", type=int, default=default_workers(), metavar="N",
                   help="grade processes at a time (default: the CPU count)")
    b.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds per submission before its processes are killed (default: 600)")
    b.add_argument("--resume", action="store_true",
                   help="skip students already graded with this rubric at the same commit")
    b.add_argument("--retry-not-gradable", action="store_true",
                   help="with --resume: grade again the students who were not gradable")
    b.add_argument("--format", action="append", dest="formats", metavar="FMT", choices=FORMATS,
                   help="passed to grade; repeatable (json is always added)")
    b.add_argument("--sign-key-file", metavar="FILE", help="passed to grade")
    b.add_argument("--trust-kubeconfig", action="store_true",
                   help="passed to grade: the roster's kubeconfigs may name files outside "
                        "their own folder and a proxy-url (refused by default: a student's "
                        "kubeconfig must not send this machine's files elsewhere)")
    b.add_argument("--allow-local-submissions", action="store_true",
                   help="grade local folders outside the roster's folder and file:// URLs "
                        "(refused by default: a roster cell must not name any repository of "
                        "this machine)")
    b.add_argument("--due", metavar="TIME",
                   help="grade each git submission's newest commit dated at or before TIME "
                        "(ISO 8601 with an offset: 2026-12-15T23:59+01:00); a roster's due "
                        "column overrides it for its student")
    b.add_argument("--compare", type=Path, metavar="PREVIOUS_OUT",
                   help="compare with an earlier batch's output folder: OUT/regrade.csv and a "
                        "class-report section list every student whose score or any check "
                        "outcome changed")
    b.add_argument("--shard", type=parse_shard, metavar="I/N",
                   help="grade only shard I of N: roster rows I, I+N, I+2N... (a disjoint "
                        "slice, the same on every machine); merge the shards' output folders "
                        "with `meshgrade gradebook collect`")
    b.add_argument("--similarity", type=_share, default=0.9, metavar="S",
                   help="copied work: list pairs of students whose own objects are at least "
                        "this similar, 0 to 1 (default: 0.9)")
    b.add_argument("--grade-cmd", help=argparse.SUPPRESS)
    return b


def _share(text: str) -> float:
    """A number from 0 to 1, for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number from 0 to 1")
    return value


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return ExitCode.USAGE


def options(args: argparse.Namespace) -> BatchOptions | int:
    """BatchOptions from the parsed arguments, or an exit code after printing the problem."""
    from ..batch.runner import BatchOptions  # start-up: the batch engine, not for --help

    if args.workers < 1:
        return _error(f"--workers {args.workers}: must be at least 1")
    if not args.timeout > 0:
        return _error(f"--timeout {args.timeout:g}: must be positive")
    rubric = load_or_report(args.rubric)
    if rubric is None:
        return ExitCode.USAGE
    rubric_arg = args.rubric
    if args.rubric not in builtin_names():
        rubric_arg = str(Path(args.rubric).resolve())
    sign = None
    if args.sign_key_file:
        if not Path(args.sign_key_file).is_file():
            return _error(f"--sign-key-file {args.sign_key_file}: no such file")
        sign = str(Path(args.sign_key_file).resolve())
    grade_cmd = tuple(shlex.split(args.grade_cmd)) if args.grade_cmd else None
    due = None
    if args.due is not None:
        try:
            due = format_due(parse_due(args.due))
        except ValueError as exc:
            return _error(f"--due: {exc}")
    compare = args.compare.resolve() if args.compare is not None else None
    if compare is not None and not compare.is_dir():
        return _error(f"--compare {args.compare}: no such folder")
    if compare is not None and compare == args.out.resolve():
        return _error("--compare names the --out folder: write the regrade to a new --out")
    return BatchOptions(
        out=args.out.resolve(), rubric=rubric_arg, rubric_name=rubric.name,
        rubric_digest=rubric.digest,
        workers=args.workers, timeout_s=args.timeout, resume=args.resume,
        retry_not_gradable=args.retry_not_gradable,
        formats=tuple(args.formats or ()), sign_key_file=sign,
        trust_kubeconfig=args.trust_kubeconfig, due=due, compare=compare,
        similarity=args.similarity, shared_files=rubric.shared_files,
        **({"grade_cmd": grade_cmd} if grade_cmd else {}))


def run(args: argparse.Namespace) -> int:
    """Run ``meshgrade batch``; the exit code (0, 2 or 3)."""
    from ..batch.progress import Progress  # start-up: the batch engine, not for --help
    from ..batch.runner import StopRequest, run_batch  # start-up: the batch engine

    opts = options(args)
    if isinstance(opts, int):
        return opts
    if not args.roster.is_file():
        return _error(f"{args.roster}: no such roster file")
    notes: list[str] = []
    try:
        rows = read_roster(args.roster, args.mode,
                           allow_local=args.allow_local_submissions, default_due=opts.due,
                           notes=notes)
    except RosterError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    for note in notes:
        print(for_workflow_log(f"note: {for_terminal(note)}"), file=sys.stderr)
    shard = getattr(args, "shard", None)
    if shard is not None:
        print(f"meshgrade batch: shard {shard}: {len(shard.take(rows))} of the roster's "
              f"{len(rows)} student(s)", file=sys.stderr)
        rows = shard.take(rows)
    workers = min(opts.workers, len(rows))
    print(f"meshgrade batch: {len(rows)} student(s), rubric {opts.rubric_name}, "
          f"{workers} worker(s), timeout {opts.timeout_s:g} s, out {opts.out}", file=sys.stderr)
    progress = Progress(len(rows))
    # the grade processes run in sessions of their own: a signal stops them through the batch
    stop = StopRequest()
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS} if main else {}
    try:
        summary = run_batch(rows, opts, on_done=progress.finished, stop=stop)
    finally:
        progress.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return report(summary, opts)



def report(summary: BatchSummary, opts: BatchOptions) -> int:
    """Write the class outputs, print where they are, and return the exit code."""
    from ..batch import classreport, copies  # start-up: jinja2 and the batch engine
    from ..batch.regrade import REGRADE, compare  # start-up: the batch engine

    regrade = compare(summary, opts.compare) if opts.compare is not None else None
    pairs = copies.detect_in(opts.out, {r.row.student: r.row.folder for r in summary.results},
                             opts.shared_files, opts.similarity)
    book, html = classreport.write(summary, opts.out, opts.rubric_name, regrade, copies=pairs,
                                   similarity=opts.similarity)
    bad = summary.not_gradable
    print(f"gradebook: {book}\nclass report: {html}")
    if pairs:
        print(f"copied work: {len(pairs)} pair(s) at least {opts.similarity:.0%} similar: "
              + for_workflow_log(", ".join(f"{for_terminal(p.left)} ~ {for_terminal(p.right)} "
                                           f"({p.similarity:.0%})" for p in pairs[:5]))
              + (" ..." if len(pairs) > 5 else "") + " (see the class report)")
    if regrade is not None:
        print(f"regrade: {opts.out / REGRADE} ({len(regrade)} student(s) moved since "
              f"{opts.compare})")
    print(f"{len(summary.results) - len(bad)} graded ({summary.resumed} resumed), "
          f"{len(bad)} not gradable; {summary.started} grade process(es) in "
          f"{summary.elapsed_s:.1f} s")
    for r in bad:
        print(for_workflow_log(f"  not gradable: {for_terminal(r.row.student)}: "
                               f"{for_terminal(r.reason)}"))
    if summary.interrupted is not None:
        name = signal.Signals(summary.interrupted).name
        print(f"interrupted by {name}: every grade process was stopped; the students not "
              "graded are listed as not gradable", file=sys.stderr)
        return 128 + summary.interrupted
    return ExitCode.NOT_GRADABLE if bad else ExitCode.OK
