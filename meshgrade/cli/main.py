"""The ``meshgrade`` command: grade, checks, rubrics, rubric check.

Start-up: this module imports only what builds the parser (and is light); each command
imports what it needs (the registry with its catalogue and checks, the submission loader,
the Kubernetes client, pytest) when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..grading import interrupt
from ..grading.layout import builtin_names
from ..grading.options import OptionError, add_arguments, check_values
from ..grading.results import ExitCode, Severity
from ..grading.rubric import Rubric, load, load_or_report
from ..lab import commands as lab_commands
from ..live.stagerun import restore_from_journal
from ..submission.gitsource import is_git_url
from . import batch_cmd, gradebook_cmd, watch_cmd

if TYPE_CHECKING:
    from ..cluster.connect import ClusterClient
    from ..grading.check import Check

GRADE_EXAMPLES = """\
examples:
  meshgrade grade examples/part1-bookinfo --rubric istio-part1
  meshgrade grade https://github.com/student/istio-hw.git --student alice
  meshgrade grade . --format html --format gradescope --out /autograder/results
  meshgrade grade . --fail-under 80%

exit status: 0 all graded checks passed (or --fail-under reached), 1 some failed,
2 bad usage or invalid rubric, 3 not gradable (the submission or infrastructure failed),
128 + the signal when interrupted (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
Reports are written in every case (default folder: reports/), marked when not graded.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meshgrade",
        description="Grade Istio service-mesh coursework: the YAML in a repo, a cluster, and "
                    "real traffic through the mesh gateway.",
        epilog="examples:\n  meshgrade grade examples/part2-app --rubric istio-part2\n"
               "  meshgrade checks\n  meshgrade rubric check my-rubric.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"meshgrade {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    g = sub.add_parser("grade", help="grade a submission (folder or git URL)",
                       description="Grade a submission and write reports.",
                       epilog=GRADE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("submission", nargs="?", default=".", help="folder or git URL (default: .)")
    add_arguments(g)
    g.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output too")
    g.add_argument("--no-color", action="store_true", help="plain text output")

    c = sub.add_parser("checks", help="list the check catalogue",
                       description="The checks: ID, name, what each reads, default points, title.")
    c.add_argument("--format", choices=("text", "json", "markdown"), default="text")

    lab_commands.add_parser(sub)
    gradebook_cmd.add_parser(sub)
    batch_cmd.add_parser(sub)
    watch_cmd.add_parser(sub)
    d = sub.add_parser("doctor", help="what the given credentials may do, and whether the "
                       "gateway answers", description="Check a cluster before grading: "
                       "access (SelfSubjectAccessReview) and the gateway.")
    rs = sub.add_parser("restore", help="undo an interrupted --apply-stages run from its "
                        "journal", description="Put back the routing objects saved in a "
                        "restore journal (reports/restore-RUN.json).")
    rs.add_argument("journal", type=Path, help="the restore-*.json file")
    for cluster_cmd in (d, rs):
        cluster_cmd.add_argument("--kubeconfig", metavar="FILE")
        cluster_cmd.add_argument("--context", metavar="NAME")
        cluster_cmd.add_argument("--allow-kubeconfig-exec", action="store_true")
        cluster_cmd.add_argument("--trust-kubeconfig", action="store_true",
                                 help="allow the --kubeconfig file's references outside its "
                                      "folder and a proxy-url")
    d.add_argument("--namespace", default="default")
    d.add_argument("--gateway-url", metavar="URL")
    sub.add_parser("rubrics", help="list the built-in rubrics")
    r = sub.add_parser("rubric", help="rubric tools: `meshgrade rubric check FILE`")
    rsub = r.add_subparsers(dest="rubric_command", metavar="ACTION")
    rsub.required = True
    rc = rsub.add_parser("check", help="validate a rubric file (errors with file and line)")
    rc.add_argument("file")
    return p


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    # `grade`: from the first moment a signal is recorded, and reported once the run can say so
    with interrupt.handling() if words[:1] == ["grade"] else contextlib.nullcontext():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for bad usage
        return int(exc.code or 0)
    handler = {"grade": cmd_grade, "checks": cmd_checks, "rubrics": cmd_rubrics,
               "rubric": cmd_rubric_check, "lab": cmd_lab, "doctor": cmd_doctor,
               "restore": cmd_restore, "gradebook": cmd_gradebook, "verify": cmd_verify,
               "batch": cmd_batch, "watch": cmd_watch}[args.command]
    return int(handler(args))


def _connect(args: argparse.Namespace) -> ClusterClient | None:
    from ..cluster.connect import ClusterError, connect  # start-up: kubernetes

    try:
        return connect(args.kubeconfig, args.context, allow_exec=args.allow_kubeconfig_exec,
                       trust=args.trust_kubeconfig)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..cluster.doctor import doctor  # start-up: kubernetes

    client = _connect(args)
    if client is None:
        return ExitCode.NOT_GRADABLE
    rows = doctor(client, args.namespace, args.gateway_url)
    for what, ok, detail in rows:
        print(f"{'ok  ' if ok else 'NO  '} {what}: {detail}")
    return ExitCode.OK if all(ok for _w, ok, _d in rows) else ExitCode.FAILED


def cmd_restore(args: argparse.Namespace) -> int:
    from ..cluster.connect import ClusterError  # start-up: kubernetes

    if not args.journal.is_file():
        print(f"error: {args.journal}: no such journal", file=sys.stderr)
        return ExitCode.USAGE
    client = _connect(args)
    if client is None:
        return ExitCode.NOT_GRADABLE
    try:
        count = restore_from_journal(client, args.journal)
    except (ClusterError, OSError, ValueError, KeyError) as exc:
        print(f"error: restore failed: {exc}", file=sys.stderr)
        return ExitCode.NOT_GRADABLE
    print(f"restored {count} routing object(s) from {args.journal}")
    return ExitCode.OK


def cmd_gradebook(args: argparse.Namespace) -> int:
    return gradebook_cmd.run_gradebook(args)


def cmd_verify(args: argparse.Namespace) -> int:
    return gradebook_cmd.run_verify(args)


def cmd_batch(args: argparse.Namespace) -> int:
    return batch_cmd.run(args)


def cmd_watch(args: argparse.Namespace) -> int:
    return watch_cmd.run(args)


def cmd_lab(args: argparse.Namespace) -> int:
    return lab_commands.run(args)


def cmd_checks(args: argparse.Namespace) -> int:
    from ..grading import registry  # start-up: yaml and the checks

    checks = list(registry.checks().values())
    if args.format == "json":
        print(json.dumps([{"id": c.id, "name": c.name, "title": c.title, "points": c.points,
                           "sources": list(c.sources), "function": _where(c)}
                          for c in checks], indent=2))
    elif args.format == "markdown":
        print(catalogue_markdown(), end="")
    else:
        for c in checks:
            print(f"{c.id}  {c.name:<24} {','.join(c.sources):<19} {c.points:>3g}  {c.title}")
    return ExitCode.OK


def _where(c: Check) -> str:
    """``checks/test_bookinfo.py::test_route_jason_v2``: where a check's code is."""
    module = c.fn.__module__.rpartition(".")[2]
    return f"checks/{module}.py::{c.fn.__name__}"


def catalogue_markdown() -> str:
    """docs/checks.md, generated from the registry."""
    from ..grading import catalogue, registry  # start-up: yaml and the checks

    lines = ["# Check catalogue", "",
             "Generated by `meshgrade checks --format markdown` from the registry; "
             "do not edit by hand.", ""]
    titles = {"MG10": "Files and schemas", "MG11": "Workloads and services",
              "MG12": "Istio references", "MG13": "Istio references, validation and analysis",
              "MG20": "Bookinfo tasks (Part 1)",
              "MG21": "Your application (Part 2)", "MG30": "Cluster state",
              "MG40": "Traffic through the gateway", "MG41": "Traffic to your application"}
    current = None
    for c in registry.checks().values():
        head = c.id[:4]
        if head != current:
            current = head
            lines += ["", f"## {titles.get(head, head)}", "",
                      "| ID | name | reads | points | title | code |",
                      "| --- | --- | --- | --- | --- | --- |"]
        lines.append(f"| {c.id} | `{c.name}` | {', '.join(c.sources)} | {c.points:g} | "
                     f"{c.title} | `{_where(c)}` |")
    lines += ["", "## Findings that cost no points", "",
              "A finding is an error, and costs points, unless its message is listed here: "
              "warnings and info are shown in every report but cost nothing, unless the rubric "
              "sets `promote_warnings: true` for the check.", "",
              "| ID | message | level | text |", "| --- | --- | --- | --- |"]
    lines += [f"| {c.id} | `{key}` | {level} | {template['text']} |"
              for c in registry.checks().values() for key, template in c.messages.items()
              if (level := catalogue.level(c.id, key)) is not Severity.ERROR]
    return "\n".join(lines) + "\n"


def cmd_rubrics(_args: argparse.Namespace) -> int:
    from ..grading import registry  # start-up: yaml and the checks

    for name in builtin_names():
        rubric = load(name, registry.checks())
        total = sum(r.points for r in rubric.checks.values())
        static = sum(r.points for cid, r in rubric.checks.items()
                     if "repo" in registry.get(cid).sources)
        print(f"{name:<14} {len(rubric.checks):>2} checks, {total:g} points "
              f"({static:g} gradable from the repo alone)  {rubric.title}")
    return ExitCode.OK


def _load_rubric(name: str) -> Rubric | None:
    """The rubric, or None after printing its problems (with file and line)."""
    return load_or_report(name)


def cmd_rubric_check(args: argparse.Namespace) -> int:
    rubric = _load_rubric(args.file)
    if rubric is None:
        return ExitCode.USAGE
    total = sum(r.points for r in rubric.checks.values())
    print(f"{args.file}: valid rubric '{rubric.name}', {len(rubric.checks)} checks, "
          f"{total:g} points")
    return ExitCode.OK


def cmd_grade(args: argparse.Namespace) -> int:
    with interrupt.handling():  # from here a signal is an outcome, never a traceback
        return _cmd_grade(args)


def _cmd_grade(args: argparse.Namespace) -> int:
    from ..submission.source import not_a_folder  # start-up: yaml, not for --help
    from .grade_cmd import grade  # start-up: pytest

    rubric = _load_rubric(args.rubric)
    if rubric is None:
        return ExitCode.USAGE
    if args.submission.startswith("-"):
        print(f"error: submission {args.submission!r} starts with '-': refused (a folder or git "
              "URL never does; write ./NAME for a folder of that name)", file=sys.stderr)
        return ExitCode.USAGE
    problem = None if is_git_url(args.submission) else not_a_folder(args.submission)
    if problem or (problem := _option_problem(args)):
        print(f"error: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    color = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    return grade(args, rubric, color=color)


def _option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with ``--fail-under``, ``--due`` or ``--commit``, or None."""
    try:
        check_values(vars(args))
    except OptionError as exc:
        return str(exc)
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
