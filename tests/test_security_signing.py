"""Signed grades bind the rubric's content, the student and the repository (real runs).

Each test reproduces an attack with real ``meshgrade grade`` runs (repo mode, no network; a
git URL is a ``file://`` URL) and shows ``verify`` or ``gradebook collect`` refusing it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshgrade.cli.main import main
from meshgrade.grading.rubric import digest_of
from meshgrade.grading.signing import ENV_VAR

from .conftest import EXAMPLES

pytestmark = pytest.mark.slow  # every test here runs `python -m meshgrade`
FORGED_RUBRIC = "name: istio-part1\nchecks:\n  MG101: {points: 31}\n"


def grade(out: Path, *args: str, cwd: Path | None = None) -> dict:
    """Run ``meshgrade grade ARGS --mode repo --out OUT`` for real; the parsed results."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "GITHUB_ACTIONS")}
    proc = subprocess.run([sys.executable, "-m", "meshgrade", "grade", *args, "--mode", "repo",
                           "--out", str(out)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "leaked.key"
    path.write_text("course-secret-that-leaked\n", encoding="utf-8")
    return path


def git_repo(where: Path) -> Path:
    """A one-commit git repository holding the Part 1 example."""
    shutil.copytree(EXAMPLES / "part1-bookinfo", where)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@example.org",
           "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@example.org"}
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "hw"]):
        subprocess.run(["git", "-C", str(where), *cmd], env=env, check=True, timeout=60)
    return where


def test_a_rubric_calling_itself_built_in_is_refused_for_its_digest(
        tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forged_file = tmp_path / "rubrics" / "istio-part1"
    forged_file.parent.mkdir()
    forged_file.write_text(FORGED_RUBRIC, encoding="utf-8")
    forged = grade(tmp_path / "forged", str(EXAMPLES / "part1-bookinfo"), "--rubric",
                   str(forged_file), "--sign-key-file", str(key))
    assert (forged["rubric"], forged["score"], forged["max_score"]) == ("istio-part1", 31, 31)
    assert forged["rubric_digest"] == digest_of(str(forged_file)) != digest_of("istio-part1")
    path = str(tmp_path / "forged" / "results.json")

    code, out, err = run_cli(capsys, "verify", path, "--sign-key-file", str(key))
    assert code == 1 and "signature ok" in out  # a valid signature, yet refused
    assert "rubric content differs from the built-in istio-part1" in err
    assert digest_of("istio-part1") in err and forged["rubric_digest"] in err
    code, _out, err = run_cli(capsys, "verify", path, "--sign-key-file", str(key),
                              "--rubric", "istio-part1")
    assert code == 1 and "expected " + digest_of("istio-part1") in err
    code, _out, err = run_cli(capsys, "gradebook", "collect", str(tmp_path / "forged"),
                              "--sign-key-file", str(key), "--out", str(tmp_path / "gb.csv"))
    assert code == 1 and "REFUSED" in err and "rubric content differs" in err
    # an instructor who graded with that very file says so
    code, _out, _err = run_cli(capsys, "verify", path, "--sign-key-file", str(key),
                               "--rubric", str(forged_file))
    assert code == 0

    honest = grade(tmp_path / "honest", str(EXAMPLES / "part1-bookinfo"), "--rubric",
                   "istio-part1", "--sign-key-file", str(key))
    assert honest["rubric_digest"] == digest_of("istio-part1")
    code, out, _err = run_cli(capsys, "verify", str(tmp_path / "honest" / "results.json"),
                              "--sign-key-file", str(key))
    assert code == 0
    assert f"rubric: istio-part1 (sha256 {digest_of('istio-part1')})" in out


def roster(tmp_path: Path, **students: str) -> Path:
    path = tmp_path / "roster.csv"
    rows = "".join(f"{name},{repo}\n" for name, repo in students.items())
    path.write_text("student,submission\n" + rows, encoding="utf-8")
    return path


def test_a_copied_result_without_a_student_is_not_booked_for_its_new_owner(
        tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: graded as the old Action did (`grade .`, no --student), the file
    is copied into mallory's repository and downloaded into her folder."""
    bob = git_repo(tmp_path / "hw-bob")
    grade(bob / "reports", ".", "--rubric", "istio-part1", "--sign-key-file", str(key), cwd=bob)
    subs = tmp_path / "downloads"
    (subs / "mallory").mkdir(parents=True)
    shutil.copy(bob / "reports" / "results.json", subs / "mallory" / "results.json")
    classlist = roster(tmp_path, bob="https://github.example/course/hw-bob",
                       mallory="https://github.example/course/hw-mallory")

    code, out, err = run_cli(capsys, "gradebook", "collect", str(subs), "--sign-key-file",
                             str(key), "--roster", str(classlist), "--out",
                             str(tmp_path / "gb.csv"))
    assert code == 1 and "0 row(s), 1 refused" in out
    assert "REFUSED" in err and "student (none) is not in the roster" in err
    code, _out, _err = run_cli(capsys, "gradebook", "collect", str(subs), "--sign-key-file",
                               str(key), "--out", str(tmp_path / "gb.csv"))
    assert code == 0
    assert "mallory" not in (tmp_path / "gb.csv").read_text(encoding="utf-8")


def test_a_classmates_repository_graded_under_another_name_is_refused(
        tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mallory grades bob's repository (a git URL) under her own name and signs it."""
    bob = git_repo(tmp_path / "hw-bob")
    url = bob.as_uri()
    subs = tmp_path / "downloads"
    own = grade(subs / "bob", url, "--rubric", "istio-part1", "--student", "bob",
                "--sign-key-file", str(key))
    stolen = grade(subs / "mallory", url, "--rubric", "istio-part1", "--student", "mallory",
                   "--sign-key-file", str(key))
    assert own["submission"]["repository"] == stolen["submission"]["repository"] == url
    assert own["submission"]["commit"] == stolen["submission"]["commit"] is not None
    gradebook = str(tmp_path / "gb.csv")

    classlist = roster(tmp_path, bob=url, mallory=(tmp_path / "hw-mallory").as_uri())
    code, out, err = run_cli(capsys, "gradebook", "collect", str(subs), "--sign-key-file",
                             str(key), "--roster", str(classlist), "--out", gradebook)
    assert code == 1 and "1 row(s), 1 refused" in out
    assert f"mallory{os.sep}results.json: repository differs" in err
    assert Path(gradebook).read_text(encoding="utf-8").splitlines()[1].startswith("bob,")

    code, out, err = run_cli(capsys, "gradebook", "collect", str(subs), "--sign-key-file",
                             str(key), "--out", gradebook)  # no roster: both claim one commit
    assert code == 1 and "0 row(s), 2 refused" in out
    assert err.count("copied result") == 2

    code, _out, err = run_cli(capsys, "verify", str(subs / "mallory" / "results.json"),
                              "--sign-key-file", str(key), "--student", "mallory",
                              "--repository", (tmp_path / "hw-mallory").as_uri())
    assert code == 1 and "repository differs" in err
