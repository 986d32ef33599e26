"""``meshgrade watch``'s arguments (cheap to import) and its run (imports when it runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..grading.layout import builtin_names
from ..grading.results import ExitCode
from ..grading.rubric import load_or_report


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    """Add ``watch`` to the ``meshgrade`` sub-commands."""
    w = sub.add_parser(
        "watch", help="grade a repository again whenever a YAML file changes",
        description="Grade DIR now and after every change to its YAML files, printing only "
                    "what changed since the last run: checks fixed, checks newly failing "
                    "(with their first finding and hint), and the score. Ctrl-C stops.",
        epilog="examples:\n  meshgrade watch\n  meshgrade watch my-istio-homework --rubric "
               "istio-part1 --out reports",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("dir", nargs="?", default=".", type=Path, help="the repository (default: .)")
    w.add_argument("--rubric", default="istio-full",
                   help=f"built-in name ({', '.join(builtin_names())}) or a rubric file "
                        "(default: istio-full)")
    w.add_argument("--mode", default="repo", choices=("repo", "lab"),
                   help="repo (default: the YAML alone, fast) or lab (traffic too, seconds "
                        "per run)")
    w.add_argument("--interval", type=float, default=0.3, metavar="S",
                   help="seconds between looks at the files (default: 0.3)")
    w.add_argument("--out", type=Path, metavar="DIR",
                   help="also write report.html and results.json here after each run")
    return w


def run(args: argparse.Namespace) -> int:
    from ..grading.watch import watch  # start-up: the engine, not for --help
    from ..submission.source import not_a_folder  # start-up: yaml, not for --help

    problem = not_a_folder(str(args.dir))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    if not args.interval > 0:
        print(f"error: --interval {args.interval:g}: must be positive", file=sys.stderr)
        return ExitCode.USAGE
    rubric = load_or_report(args.rubric)
    if rubric is None:
        return ExitCode.USAGE
    extra = " (its instructor suites are not run here)" if rubric.extra else ""
    print(f"meshgrade watch: {args.dir}, rubric {rubric.name}{extra}, {args.mode} mode; "
          "Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        watch(args.dir, rubric, mode=args.mode, interval=args.interval, out=args.out,
              say=lambda text: print(text, flush=True))
    except KeyboardInterrupt:
        print("meshgrade watch: stopped", file=sys.stderr)
    return ExitCode.OK
