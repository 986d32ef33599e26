"""``meshgrade batch``: roster validation, one process per student, timeouts, resume, reports."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from meshgrade.batch.progress import Progress
from meshgrade.batch.roster import RosterError, read_roster, safe_folder
from meshgrade.batch.runner import StudentResult
from meshgrade.cli import batch_cmd as batch_cli

from .conftest import EXAMPLES, PATIENCE_S

TIMEOUT_S = 3  # the hanging stand-in only: no real work runs under it
CLASS_TIMEOUT_S = 900  # real grades, lab included: generous on a loaded machine
# Stand-in for `python -m meshgrade grade` (the --grade-cmd test hook): student "hang" sleeps
# with a child process in its group, "crash" dies with a message, the rest are graded for real.
FAKE_GRADE = textwrap.dedent("""\
    import os, subprocess, sys, time
    args = sys.argv[1:]
    opts = dict(a[2:].split("=", 1) for a in args[:args.index("--")] if "=" in a)
    student, out = opts["student"], opts["out"]
    if student == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(out, "child.pid"), "w") as fh:
            fh.write(str(child.pid))
        print("hanging", flush=True)
        time.sleep(120)
    if student == "crash":
        print("boom: simulated crash", flush=True)
        sys.exit(70)
    os.execv(sys.executable, [sys.executable, "-m", "meshgrade", "grade", *args])
""")


def batch(argv: list[str]) -> tuple[int, str, str]:
    """Run ``meshgrade batch ARGV`` in-process; (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="meshgrade")
    batch_cli.add_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = batch_cli.run(parser.parse_args(["batch", *argv]))
    return code, out.getvalue(), err.getvalue()


GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}


def commit(repo: Path, message: str) -> None:
    for cmd in (["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(["git", *cmd], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def git_repo(src: Path, dest: Path) -> Path:
    """A copy of ``src`` committed into a fresh git repository (so it has a commit)."""
    shutil.copytree(src, dest)
    subprocess.run(["git", "init", "-q"], cwd=dest, env=GIT_ENV, check=True,
                   capture_output=True)
    commit(dest, "hw")
    return dest


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def dead(pid: int) -> bool:
    """True when ``pid`` is gone or a zombie (within a second: SIGKILL is asynchronous)."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z" or time.monotonic() > deadline:
            return state == "Z"
        time.sleep(0.02)


def started(stdout: str) -> int:
    match = re.search(r"(\d+) grade process", stdout)
    assert match, stdout
    return int(match.group(1))


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A class of six graded once (repo mode, one lab row, 2 workers); outputs snapshotted."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "subs"
    for name, example in (("alice", "part1-bookinfo"), ("bob", "part2-app"),
                          ("carol", "broken"), ("erin", "part1-bookinfo"),
                          ("crash", "part2-app")):
        git_repo(EXAMPLES / example, subs / name)
    roster = write(root / "roster.csv", """\
        student,submission,mode
        alice,subs/alice,
        bob,subs/bob,
        carol,subs/carol,
        dave,file:///nonexistent/repo.git,
        erin,subs/erin,lab
        crash,subs/crash,
    """)
    fake = write(root / "fake_grade.py", FAKE_GRADE)
    out = root / "out"
    argv = [str(roster), "--mode", "repo", "--out", str(out), "--workers", "2",
            "--timeout", str(CLASS_TIMEOUT_S), "--allow-local-submissions"]
    code, stdout, stderr = batch([*argv, "--grade-cmd", f"{sys.executable} {fake}"])
    return {"root": root, "out": out, "argv": argv, "code": code, "stdout": stdout,
            "stderr": stderr, "gradebook": (out / "gradebook.csv").read_text("utf-8"),
            "html": (out / "class-report.html").read_text("utf-8")}


@pytest.fixture(scope="module")
def hung(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One student whose grade process hangs with a child in its group, under a short
    timeout (a stand-in: the timeout never races real work)."""
    root = tmp_path_factory.mktemp("hung")
    git_repo(EXAMPLES / "part1-bookinfo", root / "hang")
    roster = write(root / "roster.csv", "student,submission\nhang,hang\n")
    fake = write(root / "fake_grade.py", FAKE_GRADE)
    out = root / "out"
    code, stdout, stderr = batch([str(roster), "--mode", "repo", "--out", str(out),
                                  "--timeout", str(TIMEOUT_S), "--grade-cmd",
                                  f"{sys.executable} {fake}"])
    return {"out": out, "code": code, "stdout": stdout, "stderr": stderr,
            "gradebook": (out / "gradebook.csv").read_text("utf-8"),
            "html": (out / "class-report.html").read_text("utf-8")}


def gradebook(text: str) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.mark.slow
def test_every_student_in_the_gradebook(klass: dict) -> None:
    assert klass["code"] == 3, klass["stderr"]
    rows = gradebook(klass["gradebook"])
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "crash"]
    assert {s for s, r in rows.items() if r["gradable"] == "true"} == {
        "alice", "bob", "carol", "erin"}
    assert "cannot clone file:///nonexistent/repo.git" in rows["dave"]["reason"]
    assert rows["crash"]["reason"] == "exit code 70: boom: simulated crash"
    assert rows["erin"]["mode"] == "lab" and rows["alice"]["mode"] == "repo"
    assert "[6/6]" in klass["stderr"]


@pytest.mark.slow
def test_a_hung_grade_times_out(hung: dict) -> None:
    assert hung["code"] == 3, hung["stderr"]
    rows = gradebook(hung["gradebook"])
    assert rows["hang"]["reason"] == f"timeout after {TIMEOUT_S} s"
    assert rows["hang"]["score"] == "" and rows["hang"]["gradable"] == "false"
    assert "[1/1]" in hung["stderr"] and "hang: NOT GRADABLE: timeout" in hung["stderr"]
    section = hung["html"].split("Not gradable (1)", 1)[1].split("<h2>", 1)[0]
    assert "<b>hang</b>" in section and f"timeout after {TIMEOUT_S} s" in section


@pytest.mark.slow
def test_scores_match_each_results_json(klass: dict) -> None:
    rows = gradebook(klass["gradebook"])
    for student in ("alice", "bob", "carol", "dave", "erin"):
        results = json.loads((klass["out"] / student / "results.json").read_text())
        row = rows[student]
        assert float(row["score"]) == pytest.approx(results["score"], abs=0.01)
        assert float(row["max_score"]) == results["max_score"]
        assert row["commit"] == (results["submission"]["commit"] or "")
        assert row["rubric"] == results["rubric"] == "istio-full"
        for check in results["checks"]:
            assert float(row[check["id"]]) == pytest.approx(check["score"], abs=0.01)
    assert rows["alice"]["commit"]


@pytest.mark.slow
def test_timeout_kills_the_whole_process_group(hung: dict) -> None:
    assert dead(int((hung["out"] / "hang" / "child.pid").read_text()))
    log = (hung["out"] / "hang" / "grade.log").read_text()
    assert log.startswith("$ ") and "hanging" in log


@pytest.mark.slow
def test_class_report(klass: dict) -> None:
    html = klass["html"]
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert "<svg" in html and "Score distribution" in html
    results = json.loads((klass["out"] / "alice" / "results.json").read_text())
    for check in results["checks"]:
        assert f'<tr id="{check["id"]}">' in html
    assert re.search(r"MG211.*?<b>\d+%</b>", html, re.S)  # a pass rate per check
    section = html.split("Not gradable (2)", 1)[1].split("<h2>", 1)[0]
    for student in ("dave", "crash"):
        assert f"<b>{student}</b>" in section
    assert "boom: simulated crash" in section


@pytest.mark.slow
def test_resume_skips_what_was_graded(klass: dict) -> None:
    out = klass["out"]
    before = {s: (out / s / "results.json").stat().st_mtime_ns
              for s in ("alice", "bob", "carol", "erin")}
    code, stdout, _ = batch([*klass["argv"], "--resume"])
    assert started(stdout) == 0 and "(6 resumed)" in stdout  # nothing is graded again
    code, stdout, _ = batch([*klass["argv"], "--resume", "--retry-not-gradable"])
    assert code == 3  # dave's URL is still broken
    assert started(stdout) == 2  # dave and crash again; the four graded ones resumed
    assert {s: (out / s / "results.json").stat().st_mtime_ns for s in before} == before
    rows = gradebook((out / "gradebook.csv").read_text("utf-8"))
    first = gradebook(klass["gradebook"])
    for s in before:
        assert rows[s]["score"] == first[s]["score"] and rows[s]["gradable"] == "true"
    assert rows["crash"]["gradable"] == "true"
    code, stdout, _ = batch([*klass["argv"], "--resume"])
    assert started(stdout) == 0 and "(6 resumed)" in stdout


@pytest.mark.slow
def test_resume_regrades_a_new_commit_or_rubric(tmp_path: Path) -> None:
    repo = git_repo(EXAMPLES / "part2-app", tmp_path / "sub")
    roster = write(tmp_path / "r.csv", f"student,submission\nzoe,sub\nyan,{repo.as_uri()}\n")
    argv = [str(roster), "--mode", "repo", "--out", str(tmp_path / "out"),
            "--rubric", "istio-part2", "--resume", "--allow-local-submissions"]
    code, stdout, _ = batch(argv)
    assert code == 0 and started(stdout) == 2
    assert started(batch(argv)[1]) == 0  # folder commit from .git, URL commit by ls-remote
    (repo / "note.txt").write_text("x")
    commit(repo, "more")
    assert started(batch(argv)[1]) == 2  # new commit
    argv[argv.index("istio-part2")] = "istio-full"
    assert started(batch(argv)[1]) == 2  # other rubric


@pytest.mark.slow
def test_sigterm_stops_every_grade_process(tmp_path: Path) -> None:
    git_repo(EXAMPLES / "part1-bookinfo", tmp_path / "hang")
    roster = write(tmp_path / "r.csv", "student,submission\nhang,hang\n")
    fake = write(tmp_path / "fake_grade.py", FAKE_GRADE)
    out = tmp_path / "out"
    driver = ("import argparse, sys; from meshgrade.cli import batch_cmd as cli; "
              "p = argparse.ArgumentParser(); cli.add_parser(p.add_subparsers()); "
              "sys.exit(cli.run(p.parse_args(sys.argv[1:])))")
    proc = subprocess.Popen([sys.executable, "-c", driver, "batch", str(roster), "--out",
                             str(out), "--grade-cmd", f"{sys.executable} {fake}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid_file = out / "hang" / "child.pid"
        deadline = time.monotonic() + PATIENCE_S
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=PATIENCE_S)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143, stderr  # 128 + SIGTERM
    assert "interrupted" in stderr
    assert dead(int(pid_file.read_text()))


@pytest.mark.parametrize(("text", "message"), [
    ("student,repo\nalice,x\n", "r.csv:1: missing column 'submission'"),
    ("student,submission\nalice,a\n,b\n", "r.csv:3: empty student"),
    ("student,submission\nalice,a\nbob,b\n\nalice,c\n",
     "r.csv:5: duplicate student 'alice' (first on line 2)"),
    ('student,submission\n"al\nice",a\nbob,b,extra\n', "r.csv:4: 3 fields"),
    ("student,submission,mode\nalice,a,fast\n", "r.csv:2: mode 'fast' is not one of"),
    ("student,submission\na/b,a\na_b,b\n", "r.csv:3: student 'a_b' would share"),
    ("student,submission\n", "r.csv:1: the roster lists no students"),
])
def test_roster_errors_exit_2_with_line_numbers(tmp_path: Path, text: str, message: str) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(text)
    code, _, stderr = batch([str(roster), "--out", str(tmp_path / "out")])
    assert code == 2
    assert message in stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_roster_paths_and_safe_folders(tmp_path: Path) -> None:
    roster = write(tmp_path / "r.csv", """\
        Student, Submission ,MODE,kubeconfig
        ../../etc,sub,lab,kc.yaml
        .hidden,https://example.org/x.git,,
        gradebook.csv,/abs,,
    """)
    rows = read_roster(roster, "repo", allow_local=True)
    assert rows[0].submission == str(tmp_path / "sub") and rows[0].mode == "lab"
    assert rows[0].kubeconfig == str(tmp_path / "kc.yaml")
    assert rows[1].submission == "https://example.org/x.git" and rows[1].mode == "repo"
    assert [r.folder for r in rows] == ["etc", "hidden", "student-gradebook.csv"]
    for name in ("..", "/", "a/../b", "\0x", " "):
        folder = safe_folder(name)
        assert folder and "/" not in folder and not folder.startswith(".")
    with pytest.raises(RosterError):
        read_roster(write(tmp_path / "bad.csv", "student,submission,extra\na,b,c\n"))


def test_missing_folder_is_not_gradable_without_a_process(tmp_path: Path) -> None:
    roster = write(tmp_path / "r.csv", "student,submission\nann,nowhere\n")
    code, stdout, _ = batch([str(roster), "--mode", "repo", "--out", str(tmp_path / "o")])
    assert code == 3 and started(stdout) == 0 and "no such folder" in stdout


def test_progress_plain_and_live(tmp_path: Path) -> None:
    row = read_roster(write(tmp_path / "r.csv", "student,submission\nann,x\nbo,y\n"))[0]
    res = StudentResult(row, True, results={"score": 3.0, "max_score": 4.0}, started=True)
    plain = io.StringIO()
    p = Progress(2, plain)
    p.finished(res)
    p.close()
    assert plain.getvalue() == "[1/2] ann: 3/4 in 0.0 s\n"
    live = io.StringIO()
    p = Progress(2, live, live=True)
    p.finished(res)
    p.close()
    assert "\r\x1b[2K[1/2] ann: 3/4" in live.getvalue() and "ETA" in live.getvalue()
    assert live.getvalue().endswith("1/2  elapsed 0:00  ETA 0:00\n")


@pytest.mark.slow
def test_resume_regrades_after_a_rubric_fix(tmp_path: Path) -> None:
    git_repo(EXAMPLES / "part2-app", tmp_path / "sub")
    roster = write(tmp_path / "r.csv", "student,submission\nzoe,sub\n")
    rubric = write(tmp_path / "mine.yaml", "name: mine\nchecks:\n  MG101: {points: 1}\n")
    argv = [str(roster), "--mode", "repo", "--out", str(tmp_path / "out"), "--rubric",
            str(rubric), "--resume"]
    assert started(batch(argv)[1]) == 1
    assert started(batch(argv)[1]) == 0  # same name, same content: resumed
    write(rubric, "name: mine\nchecks:\n  MG101: {points: 2}\n")
    assert started(batch(argv)[1]) == 1  # same name, fixed content: graded again
