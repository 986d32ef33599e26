"""``meshgrade gradebook collect DIR`` and ``meshgrade verify RESULTS.json``.

``add_parser`` adds both commands to the main parser's sub-parsers; dispatch ``gradebook`` to
:func:`run_gradebook` and ``verify`` to :func:`run_verify` (see ``COMMANDS``).

Exit status: ``verify`` 0 valid signature for the expected rubric, student and repository,
1 unsigned, altered or not the expected ones, 2 bad usage (no key, a file that cannot be read
or is not a JSON object, a bad ``--rubric`` or roster). ``gradebook collect`` 0 written with
nothing refused, 1 written but some files were refused, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from meshgrade.batch.gradebook import collect, write_csv
from meshgrade.batch.roster import RosterError, RosterRow, read_roster
from meshgrade.grading.provenance import RubricCheck, describe, problems
from meshgrade.grading.rubric import RubricError
from meshgrade.grading.signing import ENV_VAR, load_key, verify

KEY_HELP = f"HMAC key file (else ${ENV_VAR})"
RUBRIC_HELP = ("the expected rubric, a built-in name or a file: results of other content are "
               "refused (default: a result naming a built-in rubric must match it)")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]
               ) -> None:
    """Add the ``gradebook`` (with its ``collect`` action) and ``verify`` commands."""
    gb = sub.add_parser("gradebook", help="collect results.json files into a CSV gradebook",
                        description="Gradebook tools: `meshgrade gradebook collect DIR`.")
    gsub = gb.add_subparsers(dest="gradebook_command", metavar="ACTION")
    gsub.required = True
    c = gsub.add_parser(
        "collect", help="one CSV row per results.json found under DIR",
        description="Read every results.json under DIR into one CSV. With a key, unsigned "
                    "or altered results are refused and listed, not graded.")
    c.add_argument("folder", type=Path, metavar="DIR")
    c.add_argument("--out", type=Path, default=Path("gradebook.csv"),
                   help="CSV file to write (default: gradebook.csv)")
    c.add_argument("--sign-key-file", metavar="FILE", help=KEY_HELP)
    c.add_argument("--rubric", metavar="NAME|FILE", help=RUBRIC_HELP)
    c.add_argument("--roster", type=Path, metavar="ROSTER.csv",
                   help="refuse results of students not on it, or not of their repository")
    v = sub.add_parser("verify", help="check the signature of a results.json",
                       description="Print what the result is about; exit 0 when the signature "
                                   "is valid and the rubric, student and repository are the "
                                   "expected ones, 1 when not, 2 on bad usage.")
    v.add_argument("results", type=Path, metavar="RESULTS.json")
    v.add_argument("--sign-key-file", metavar="FILE", help=KEY_HELP)
    v.add_argument("--rubric", metavar="NAME|FILE", help=RUBRIC_HELP)
    v.add_argument("--student", help="the expected student")
    v.add_argument("--repository", metavar="URL", help="the expected repository")


class _BadOption(Exception):
    """An option named on the command line cannot be used (message already printed)."""


def _key(args: argparse.Namespace) -> bytes | None:
    """The key from ``--sign-key-file`` or the environment, None when neither is set."""
    try:
        return load_key(getattr(args, "sign_key_file", None), os.environ)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise _BadOption from None


def _rubric(args: argparse.Namespace) -> RubricCheck:
    """The expected rubric from ``--rubric`` (default: built-in names mean the built-ins)."""
    try:
        return RubricCheck(getattr(args, "rubric", None))
    except RubricError as exc:
        print(f"error: --rubric: {exc}", file=sys.stderr)
        raise _BadOption from None


def _roster(args: argparse.Namespace) -> list[RosterRow] | None:
    """The ``--roster`` rows; local submissions are fine: they are compared, never read."""
    path = getattr(args, "roster", None)
    try:
        return read_roster(Path(path), allow_local=True) if path is not None else None
    except RosterError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise _BadOption from None


def run_gradebook(args: argparse.Namespace) -> int:
    """``gradebook collect``: write the CSV, list refused and skipped files on stderr."""
    try:
        key, rubric, roster = _key(args), _rubric(args), _roster(args)
    except _BadOption:
        return 2
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder}: no such folder", file=sys.stderr)
        return 2
    book = collect(folder, key, rubric, roster)
    out = write_csv(book, Path(args.out))
    for path, reason in book.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for path, reason in book.refused:
        print(f"REFUSED {path}: {reason}", file=sys.stderr)
    checked = "signatures checked" if key else "signatures NOT checked (no key)"
    print(f"{out}: {len(book.rows)} row(s), {len(book.refused)} refused, "
          f"{len(book.skipped)} skipped; {checked}")
    return 1 if book.refused else 0


def run_verify(args: argparse.Namespace) -> int:
    """``verify``: 0 valid and as expected, 1 unsigned, altered or not as expected (reasons on
    stderr), 2 bad usage."""
    try:
        key, rubric = _key(args), _rubric(args)
    except _BadOption:
        return 2
    if key is None:
        print(f"error: no key: give --sign-key-file FILE or set ${ENV_VAR}", file=sys.stderr)
        return 2
    path = Path(args.results)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"error: {path}: cannot read it as JSON ({exc})", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print(f"error: {path}: not a JSON object", file=sys.stderr)
        return 2
    ok, reason = verify(data, key)
    if not ok:
        print(f"{path}: {reason}", file=sys.stderr)
        return 1
    print(f"{path}: signature ok")
    for line in describe(data):
        print(f"  {line}")
    found = problems(data, rubric, getattr(args, "student", None),
                     getattr(args, "repository", None))
    for problem in found:
        print(f"{path}: REFUSED: {problem}", file=sys.stderr)
    return 1 if found else 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "gradebook": run_gradebook, "verify": run_verify}

__all__ = ["COMMANDS", "add_parser", "run_gradebook", "run_verify"]
