"""An instructor's term: due dates and extensions, suspicious commit dates, feedback for each
student, regrade diffs, and a GitHub Classroom roster.

Submissions are real git repositories whose commits carry set committer dates (before and
after the due time, and backdated ones), graded as ``file://`` URLs and folders in repo mode
with ``istio-part2``. The late commit of each history removes ``route-header.yaml``, so MG214
(3 points) tells which commit was graded.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from meshgrade.batch.gradebook import DUE_COLUMNS, collect, write_csv
from meshgrade.batch.roster import RosterError, read_roster
from meshgrade.grading.history import Commit, NoCommitInTime, parse_due, pick_due, suspicious
from meshgrade.grading.results import (
    NOT_RUN,
    CheckResult,
    Finding,
    Outcome,
    RunResult,
    Severity,
    Submission,
)
from meshgrade.reports import feedback
from meshgrade.submission.gitsource import Pin, SourceError, clone_pinned
from meshgrade.submission.limits import Limits

from .conftest import EXAMPLES, REPO
from .test_batch import GIT_ENV, batch, gradebook, write
from .test_visibility import HIDDEN_IDS, SECRET, secret_run

DUE = "2026-12-15T23:59+01:00"
DUE_ISO = "2026-12-15T23:59:00+01:00"
BEFORE, AFTER = "2026-12-14T12:00:00+01:00", "2026-12-16T12:00:00+01:00"
EXTENSION = "2026-12-20T23:59+01:00"
RUBRIC = REPO / "rubrics" / "istio-part2.yaml"
HEADER_ROUTE = "route-header.yaml"
Repos = dict[str, tuple[Path, list[str]]]  # name: (folder, commits oldest first)


# --- repositories with dated commits ----------------------------------------------------------

def commit_at(repo: Path, message: str, date: str) -> str:
    """Commit everything in ``repo`` with committer and author ``date``; the commit's name."""
    env = {**GIT_ENV, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    for cmd in (["add", "-A"], ["commit", "-q", "--allow-empty", "-m", message]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=GIT_ENV, check=True,
                          capture_output=True, text=True).stdout.strip()


def history(dest: Path, steps: list[tuple[str, str]]) -> list[str]:
    """The Part 2 example committed as ``steps`` of (what, date): ``full`` commits it as
    is, ``late`` removes the header route, ``note`` adds a file; the commit names, in order."""
    shutil.copytree(EXAMPLES / "part2-app", dest)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, env=GIT_ENV, check=True,
                   capture_output=True)
    names = []
    for n, (what, date) in enumerate(steps):
        if what == "late":
            (dest / HEADER_ROUTE).unlink()
        elif what == "note":
            (dest / f"note{n}.txt").write_text(str(n))
        names.append(commit_at(dest, f"{what} {n}", date))
    return names


ON_TIME = [("full", BEFORE), ("late", AFTER)]              # graded: the first
BACKDATED = [("full", BEFORE), ("late", AFTER), ("note", "2026-12-15T09:00:00+01:00")]
BACKWARDS = [("full", BEFORE), ("note", "2026-12-13T09:00:00+01:00")]  # both before the due


def results_of(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "results.json").read_text("utf-8"))
    return data


def mg214(results: dict[str, Any]) -> str:
    return str(next(c["outcome"] for c in results["checks"] if c["id"] == "MG214"))


# --- which commit a due time picks (no git) ---------------------------------------------------

def chain(*dates: str) -> list[Commit]:
    """A first-parent history, newest first, of commits named by index (0 the oldest)."""
    commits = [Commit(f"{i:040x}", int(datetime.fromisoformat(d).timestamp()), d)
               for i, d in enumerate(dates)]
    return commits[::-1]


ON_TOP, BEFORE_PARENT = "is dated at or before the due time but comes after", \
    "is dated before its parent"


@pytest.mark.parametrize(("dates", "picked", "late", "flagged"), [
    ((BEFORE,), 0, 0, []),
    ((BEFORE, AFTER), 0, 1, []),
    ((BEFORE, DUE_ISO), 1, 0, []),                                     # at the due time: in
    ((BEFORE, AFTER, "2026-12-17T00:00:00+01:00"), 0, 2, []),
    ((BEFORE, AFTER, "2026-12-15T09:00:00+01:00"), 2, 0, [(2, ON_TOP, 1)]),  # backdated
    ((BEFORE, "2026-12-13T09:00:00+01:00"), 1, 0, [(1, BEFORE_PARENT, 0)]),
    ((AFTER, "2026-12-17T00:00:00+01:00", BEFORE, "2026-12-18T00:00:00+01:00"), 2, 1,
     [(2, ON_TOP, 1)]),
])
def test_pick_due(dates: tuple[str, ...], picked: int, late: int,
                  flagged: list[tuple[int, str, int]]) -> None:
    commits = chain(*dates)[::-1]  # by index
    got = pick_due(chain(*dates), parse_due(DUE))
    assert got.commit == commits[picked].sha and got.late_commits == late
    assert got.due == DUE_ISO and got.head == commits[-1].sha
    assert got.commit_date == dates[picked]
    assert got.suspicious_dates == [f"{commits[i].shown()} {what} {commits[j].shown()}"
                                    + (", dated after it" if what == ON_TOP else "")
                                    for i, what, j in flagged]


def test_nothing_before_the_due_time() -> None:
    with pytest.raises(NoCommitInTime, match="no commit of the branch is dated at or before"):
        pick_due(chain(AFTER), parse_due(DUE))
    assert suspicious(chain(BEFORE, AFTER)) == []


@pytest.mark.parametrize(("text", "problem"), [
    ("2026-12-15", "no UTC offset"), ("2026-12-15T23:59", "no UTC offset"),
    ("next friday", "not an ISO 8601"), ("2026-13-01T00:00Z", "not an ISO 8601"),
])
def test_due_times_need_an_offset(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_due(text)
    assert parse_due("2026-12-15T22:59Z") == parse_due(DUE)


# --- grade --due / --commit -------------------------------------------------------------------

def grade(out: Path, submission: str, *args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "meshgrade", "grade", submission,
                           "--rubric", "istio-part2", "--mode", "repo", "--out", str(out),
                           *args], capture_output=True, text=True, env=os.environ.copy())
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Repos:
    root = tmp_path_factory.mktemp("repos")
    return {name: (root / name, history(root / name, steps)) for name, steps in
            (("ontime", ON_TIME), ("backdated", BACKDATED), ("backwards", BACKWARDS))}


@pytest.mark.parametrize(("name", "as_url", "args", "index", "header", "late", "odd"), [
    ("ontime", True, ("--due", DUE), 0, "passed", 1, 0),
    ("ontime", False, ("--due", DUE), 0, "passed", 1, 0),          # a folder's own .git
    ("ontime", True, ("--due", EXTENSION), 1, "failed", 0, 0),
    ("ontime", True, ("--commit", "HEAD~1"), 0, "passed", 1, 0),
    ("backdated", True, ("--due", DUE), 2, "failed", 0, 1),        # the rule, flagged
    ("backwards", False, ("--due", DUE), 1, "passed", 0, 1),
])
@pytest.mark.slow
def test_grade_picks_the_commit(repos: Repos, tmp_path: Path, name: str, as_url: bool,
                                args: tuple[str, ...], index: int, header: str, late: int,
                                odd: int) -> None:
    folder, commits = repos[name]
    code, output = grade(tmp_path, folder.as_uri() if as_url else str(folder), *args)
    assert code in (0, 1), output
    sub = results_of(tmp_path)["submission"]
    assert sub["commit"] == commits[index] and sub["head"] == commits[-1]
    assert sub["late_commits"] == late and len(sub["suspicious_dates"]) == odd
    assert sub.get("due") == (parse_due(args[1]).isoformat() if args[0] == "--due" else None)
    steps = {"ontime": ON_TIME, "backdated": BACKDATED, "backwards": BACKWARDS}[name]
    assert sub["commit_date"] == steps[index][1]
    assert mg214(results_of(tmp_path)) == header
    assert f"graded commit {commits[index][:12]} dated {sub['commit_date']}" in output
    if name == "backdated":
        message = sub["suspicious_dates"][0]
        assert commits[2][:12] in message and commits[1][:12] in message
        assert f"warning: suspicious commit dates: {message}" in output


@pytest.mark.slow
def test_grade_without_a_pin_records_no_dates(repos: Repos, tmp_path: Path) -> None:
    folder, commits = repos["ontime"]
    code, output = grade(tmp_path, folder.as_uri())
    sub = results_of(tmp_path)["submission"]
    assert code == 1, output  # MG214 failed at the head
    assert sub["commit"] == commits[-1] and set(sub) == {"source", "commit", "student",
                                                         "repository"}


@pytest.mark.parametrize(("args", "where", "message"), [
    (("--due", "2026-12-01T00:00Z"), "url", "no commit of the branch is dated at or before"),
    (("--commit", "0123456789abcdef"), "url", "is not on the graded branch's history"),
    (("--due", DUE), "plain", "needs the submission's git history"),
])
@pytest.mark.slow
def test_grade_cannot_pick(repos: Repos, tmp_path: Path, args: tuple[str, ...], where: str,
                           message: str) -> None:
    if where == "plain":
        submission = str(shutil.copytree(EXAMPLES / "part2-app", tmp_path / "plain"))
    else:
        submission = repos["ontime"][0].as_uri()
    code, output = grade(tmp_path / "out", submission, *args)
    assert code == 3 and message in output
    data = results_of(tmp_path / "out")
    assert data["gradable"] is False and message in data["not_gradable_reason"]


@pytest.mark.parametrize(("limits", "pin", "message"), [
    (Limits(), Pin(due=parse_due("2026-12-01T00:00Z")), "no commit of the branch is dated"),
    (Limits(clone_max_bytes=2000), Pin(due=parse_due(DUE)), "larger than"),
    (Limits(), Pin(commit="HEAD~9"), "not on the graded branch"),
])
def test_a_failed_pick_leaves_no_clone(repos: Repos, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, limits: Limits,
                                       pin: Pin, message: str) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SourceError, match=message):
        clone_pinned(repos["ontime"][0].as_uri(), limits, pin)
    assert list(tmp_path.iterdir()) == []
    folder, pick = clone_pinned(str(repos["ontime"][0]), Limits(), Pin(commit="HEAD"))
    assert folder.parent.parent == tmp_path and pick.commit == repos["ontime"][1][-1]
    assert (folder / HEADER_ROUTE).exists() is False  # the late commit removed it


def test_a_git_folder_linking_elsewhere_is_refused(repos: Repos, tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    shutil.copytree(repos["ontime"][0], folder)
    (folder / ".git" / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (folder / ".git" / "objects" / "info" / "alternates").write_text("/elsewhere/objects\n")
    with pytest.raises(SourceError, match="links to another repository"):
        clone_pinned(str(folder), Limits(), Pin(due=parse_due(DUE)))


@pytest.mark.parametrize(("args", "message"), [
    (("--due", "2026-12-15"), "no UTC offset"),
    (("--due", DUE, "--commit", "HEAD"), "not both"),
    (("--commit=-x",), "give a commit name"),
])
@pytest.mark.slow
def test_grade_pin_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, output = grade(tmp_path, str(EXAMPLES / "part2-app"), *args)
    assert code == 2 and message in output


# --- batch: due time, an extension, flags, feedback -------------------------------------------

@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A class graded with --due: alice on time with a late commit, bob backdated, carol with
    an extension (her late commit counts), dan a folder in the roster's folder."""
    root = tmp_path_factory.mktemp("term")
    commits = {name: history(root / "subs" / name, steps) for name, steps in
               (("alice", ON_TIME), ("bob", BACKDATED), ("carol", ON_TIME), ("dan", ON_TIME))}
    roster = write(root / "roster.csv", f"""\
        student,submission,due
        alice,{(root / "subs" / "alice").as_uri()},
        bob,{(root / "subs" / "bob").as_uri()},
        carol,{(root / "subs" / "carol").as_uri()},{EXTENSION}
        dan,subs/dan,
    """)
    out = root / "out"
    argv = [str(roster), "--rubric", "istio-part2", "--mode", "repo", "--out", str(out),
            "--workers", "2", "--due", DUE, "--allow-local-submissions"]
    code, stdout, stderr = batch(argv)
    return {"root": root, "out": out, "argv": argv, "code": code, "stdout": stdout,
            "stderr": stderr, "commits": commits,
            "book": gradebook((out / "gradebook.csv").read_text("utf-8")),
            "html": (out / "class-report.html").read_text("utf-8")}


@pytest.mark.slow
def test_batch_grades_each_students_due_commit(term: dict[str, Any]) -> None:
    assert term["code"] == 0, term["stderr"] + term["stdout"]
    book, commits = term["book"], term["commits"]
    expected = {  # student: (commit index, due, late commits, flagged, MG214 points)
        "alice": (0, DUE_ISO, "1", False, "3"),
        "bob": (2, DUE_ISO, "0", True, "0"),
        "carol": (1, "2026-12-20T23:59:00+01:00", "0", False, "0"),
        "dan": (0, DUE_ISO, "1", False, "3"),
    }
    assert list(book) == list(expected)
    for student, (index, due, late, flagged, header) in expected.items():
        row = book[student]
        assert row["commit"] == commits[student][index], student
        assert row["due"] == due and row["late_commits"] == late, student
        assert row["commit_date"] == results_of(term["out"] / student)["submission"][
            "commit_date"]
        assert bool(row["suspicious_dates"]) is flagged, student
        assert row["MG214"] == header, student
    assert commits["bob"][2][:12] in book["bob"]["suspicious_dates"]
    assert commits["bob"][1][:12] in book["bob"]["suspicious_dates"]


@pytest.mark.slow
def test_class_report_lists_suspicious_dates(term: dict[str, Any]) -> None:
    section = term["html"].split("Suspicious commit dates (1)", 1)[1].split("<h2", 1)[0]
    assert "<b>bob</b>" in section and "<b>alice</b>" not in section
    assert term["commits"]["bob"][2][:12] in section
    assert "Regrade" not in term["html"]  # no --compare


@pytest.mark.slow
def test_feedback_beside_each_students_reports(term: dict[str, Any]) -> None:
    alice = (term["out"] / "alice" / "feedback.md").read_text("utf-8")
    assert alice.startswith("## meshgrade feedback: 31 / 31 points (100%)")
    assert "1 later commit(s) came after the due time and were not graded" in alice
    assert f"commit `{term['commits']['alice'][0][:12]}`" in alice
    carol = (term["out"] / "carol" / "feedback.md").read_text("utf-8")
    assert carol.startswith("## meshgrade feedback: 28 / 31 points")
    assert "### What to fix first\n\n1. **MG214 app-header-route** (failed, 3 of 3" in carol
    for student in ("alice", "bob", "carol", "dan"):
        assert (term["out"] / student / "report.html").is_file()


@pytest.mark.slow
def test_gradebook_collect_has_the_due_columns(term: dict[str, Any], tmp_path: Path) -> None:
    out = write_csv(collect(term["out"], None), tmp_path / "gb.csv")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(out.read_text("utf-8")))}
    assert list(rows["alice"])[3:8] == ["commit", *DUE_COLUMNS]
    for student in ("alice", "bob", "carol", "dan"):
        for column in DUE_COLUMNS:
            assert rows[student][column] == term["book"][student][column], (student, column)


@pytest.mark.slow
def test_resume_with_a_due_time(term: dict[str, Any]) -> None:
    code, stdout, _ = batch([*term["argv"], "--resume"])
    assert code == 0 and "0 grade process(es)" in stdout and "(4 resumed)" in stdout
    argv = [*term["argv"], "--resume"]
    argv[argv.index("--due") + 1] = "2026-12-16T23:59+01:00"  # another due time: regraded
    code, stdout, _ = batch(argv)
    assert "3 grade process(es)" in stdout  # carol's own due time is unchanged
    assert gradebook((term["out"] / "gradebook.csv").read_text("utf-8"))["alice"][
        "commit"] == term["commits"]["alice"][1]


# --- regrade diffs ----------------------------------------------------------------------------

@pytest.mark.slow
def test_regrade_names_exactly_who_and_what_moved(tmp_path: Path) -> None:
    for name, steps in (("ann", [("full", BEFORE)]), ("ben", [("late", BEFORE)]),
                        ("cat", [("full", BEFORE)])):
        history(tmp_path / name, steps)
    roster = write(tmp_path / "roster.csv", "student,submission\nann,ann\nben,ben\ncat,cat\n")
    rubric = tmp_path / "rubric.yaml"
    text = RUBRIC.read_text("utf-8").replace("name: istio-part2", "name: term-rubric")
    rubric.write_text(text, "utf-8")
    first = [str(roster), "--rubric", str(rubric), "--mode", "repo", "--workers", "2"]
    assert batch([*first, "--out", str(tmp_path / "v1")])[0] == 0
    # the rubric fix: MG214 is worth 5, MG101 nothing
    fixed = text.replace("MG214: {points: 3,", "MG214: {points: 5,").replace(
        "MG101: {points: 1}", "MG101: {points: 0}")
    assert fixed.count("points: 5") == 1 and "MG101: {points: 0}" in fixed
    rubric.write_text(fixed, "utf-8")
    code, stdout, stderr = batch([*first, "--out", str(tmp_path / "v2"),
                                  "--compare", str(tmp_path / "v1")])
    assert code == 0, stderr
    assert "regrade:" in stdout and "3 student(s) moved" in stdout
    rows = list(csv.DictReader(io.StringIO((tmp_path / "v2" / "regrade.csv").read_text())))
    moved = {(r["student"], r["check"]): (r["old_outcome"], r["old_points"], r["new_outcome"],
                                          r["new_points"], r["old_total"], r["new_total"])
             for r in rows}
    assert moved == {
        ("ann", "MG214"): ("passed", "3", "passed", "5", "31", "32"),
        ("ann", "MG101"): ("passed", "1", "passed", "0", "31", "32"),
        ("ben", "MG101"): ("passed", "1", "passed", "0", "28", "27"),  # MG214 failed: 0 -> 0
        ("cat", "MG214"): ("passed", "3", "passed", "5", "31", "32"),
        ("cat", "MG101"): ("passed", "1", "passed", "0", "31", "32"),
    }
    html = (tmp_path / "v2" / "class-report.html").read_text("utf-8")
    section = html.split("Regrade: 3 student(s) moved", 1)[1].split("<h2", 1)[0]
    assert all(f"<b>{s}</b>" in section for s in ("ann", "ben", "cat"))
    # the same rubric again: nobody moved
    code, stdout, _ = batch([*first, "--out", str(tmp_path / "v3"),
                             "--compare", str(tmp_path / "v2")])
    assert "0 student(s) moved" in stdout
    assert (tmp_path / "v3" / "regrade.csv").read_text().splitlines() == [
        "student,check,old_outcome,old_points,new_outcome,new_points,old_total,new_total"]


def test_compare_needs_another_folder(tmp_path: Path) -> None:
    roster = write(tmp_path / "r.csv", "student,submission\nann,ann\n")
    for compare, message in ((tmp_path / "nowhere", "no such folder"),
                             (tmp_path / "out", "names the --out folder")):
        (tmp_path / "out").mkdir(exist_ok=True)
        code, _, stderr = batch([str(roster), "--out", str(tmp_path / "out"),
                                 "--compare", str(compare)])
        assert code == 2 and message in stderr


# --- GitHub Classroom roster, due column ------------------------------------------------------

CLASSROOM = """\
assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,\
student_repository_name,student_repository_url,submission_timestamp,points_awarded,\
points_available
istio-hw,https://classroom.github.com/a/x,,alice-gh,alice@uni.example,istio-hw-alice-gh,\
https://github.com/course/istio-hw-alice-gh,2026-12-15 20:00:00 UTC,0,100
istio-hw,https://classroom.github.com/a/x,,bob-gh,,istio-hw-bob-gh,\
https://github.com/course/istio-hw-bob-gh,,0,100
istio-hw,https://classroom.github.com/a/x,,,carol@uni.example,,,,0,100
"""


def test_classroom_export_is_a_roster(tmp_path: Path) -> None:
    notes: list[str] = []
    rows = read_roster(write(tmp_path / "grades.csv", CLASSROOM), "repo", notes=notes,
                       default_due=DUE_ISO)
    assert [(r.student, r.submission, r.folder, r.due) for r in rows] == [
        ("alice@uni.example", "https://github.com/course/istio-hw-alice-gh",
         "alice@uni.example", DUE_ISO),
        ("bob-gh", "https://github.com/course/istio-hw-bob-gh", "bob-gh", DUE_ISO)]
    assert len(notes) == 1 and "grades.csv:4: 'carol@uni.example' has no repository" in notes[0]
    # an extension added as a column
    lines = CLASSROOM.splitlines()
    extended = "\n".join([lines[0] + ",due", lines[1] + f",{EXTENSION}", lines[2] + ","]) + "\n"
    rows = read_roster(write(tmp_path / "ext.csv", extended), default_due=DUE_ISO)
    assert [r.due for r in rows] == ["2026-12-20T23:59:00+01:00", DUE_ISO]


@pytest.mark.parametrize(("text", "message"), [
    ("student,submission,due\nann,a,2026-12-15\n", "r.csv:2: due time '2026-12-15' has no UTC"),
    ("student,submission,due\nann,a,\nbo,b,soon\n", "r.csv:3: due time 'soon' is not an ISO"),
    ("github_username,student_repository_url,extra\na,https://x/y,1\n",
     "r.csv:1: unknown column 'extra'"),
])
def test_roster_due_errors_have_line_numbers(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RosterError) as err:
        read_roster(write(tmp_path / "r.csv", text), allow_local=True)
    assert any(message in p for p in err.value.problems), err.value.problems


# --- feedback.md ------------------------------------------------------------------------------

def feedback_run(**kwargs: object) -> RunResult:
    checks = [
        CheckResult("MG111", "yaml-parses", "Every file parses", Outcome.PASSED, score=1,
                    max_score=1, findings=[Finding("key order is odd", file="a.yaml", line=2,
                                                   severity=Severity.WARNING)]),
        CheckResult("MG122", "subset-defined", "Subsets are defined", Outcome.FAILED, score=1,
                    max_score=2, message="1 of 2 routes name an undefined subset",
                    hint="Add the subset to the DestinationRule",
                    findings=[Finding("subset 'v3' [click](https://evil.example) <b>x</b>",
                                      file="istio/vs.yaml", line=14, path="spec.http[0]",
                                      hint="define v3")]),
        CheckResult("MG214", "app-header-route", "Header route", Outcome.FAILED, max_score=3,
                    message="no header route"),
        CheckResult("MG411", "app-reachable", "Reachable", Outcome.SKIPPED,
                    message="repo mode: live checks need the lab"),
        CheckResult("MG412", "app-header-observed", "Observed", Outcome.SKIPPED,
                    message="repo mode: live checks need the lab"),
    ]
    return RunResult(Submission("https://example.org/x.git", "f" * 40, "ann", due=DUE_ISO,
                                commit_date=BEFORE, late_commits=2),
                     mode="repo", rubric="istio-part2", checks=checks, tool_version="0.1.0",
                     **kwargs)  # type: ignore[arg-type]


def test_feedback_fix_first_by_points_lost() -> None:
    text = feedback.render(feedback_run())
    assert text.startswith("## meshgrade feedback: 2 / 6 points (33%)\n")
    assert f"commit `ffffffffffff` dated `{BEFORE}` (due `{DUE_ISO}`)" in text
    fix = text.split("### What to fix first", 1)[1].split("###", 1)[0]
    assert fix.index("1. **MG214") < fix.index("2. **MG122")  # 3 points lost before 1
    assert "(failed, 3 of 3 point(s) lost)" in fix and "(failed, 1 of 2 point(s) lost)" in fix
    assert "`istio/vs.yaml:14` `spec.http[0]`: subset" in fix and "hint: define v3" in fix
    assert "hint: Add the subset to the DestinationRule" in fix
    assert "](https" not in text and "<b>" not in text  # no link, no raw HTML
    warnings = text.split("### Warnings (no points lost)", 1)[1].split("###", 1)[0]
    assert "warning: `a.yaml:2` key order is odd" in warnings and "key order" not in fix
    assert "### What passed\n\n- MG111 yaml-parses" in text
    assert "- MG411, MG412: repo mode\\: live checks need the lab" in text


@pytest.mark.parametrize(("kwargs", "title", "reason"), [
    ({"interrupted": "SIGTERM during static checks"}, "not graded (interrupted)",
     "interrupted by SIGTERM during static checks"),
    ({"failure": "the submission could not be loaded: no commit"}, "not graded",
     "the submission could not be loaded\\: no commit"),
])
def test_feedback_of_a_run_not_graded(kwargs: dict[str, Any], title: str, reason: str) -> None:
    run = feedback_run(**kwargs)
    run.checks.append(CheckResult("MG101", "yaml-parses", "Every file parses", Outcome.ERROR,
                                  max_score=1, message=f"{NOT_RUN}the submission could not "
                                                       "be loaded"))
    text = feedback.render(run)
    assert "MG101" not in text  # a check that did not run is not something to fix
    assert text.startswith(f"## meshgrade feedback: {title}\n")
    assert f"**Not graded**: {reason}. No score was given." in text
    assert "points (" not in text.splitlines()[0]


def test_feedback_leaves_hidden_checks_out() -> None:
    text = feedback.render(secret_run())
    assert SECRET not in text and not any(cid in text for cid in HIDDEN_IDS)
    assert "MG122" in text and text.startswith("## meshgrade feedback: 5 / 6 points")


@pytest.mark.slow
def test_grade_format_feedback(tmp_path: Path) -> None:
    code, output = grade(tmp_path, str(EXAMPLES / "broken"), "--format", "feedback")
    assert code == 1, output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback.md"]
    assert "### What to fix first" in (tmp_path / "feedback.md").read_text("utf-8")
