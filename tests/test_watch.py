"""``meshgrade watch`` (issue 13): regrade on YAML changes, print only what changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from meshgrade.cli.main import main
from meshgrade.grading import registry
from meshgrade.grading.results import CheckResult, Outcome, RunResult, Submission
from meshgrade.grading.rubric import load
from meshgrade.grading.watch import changed_files, changes, report, stamp, watch

from .conftest import EXAMPLES

JASON = "virtual-service-reviews-jason-v2.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / "part1-bookinfo", tmp_path / "repo"))


def _touch(path: Path, text: str) -> None:
    """Write ``text`` with a modification time that surely differs from the last one."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_stamp_sees_yaml_only_and_no_git_or_reports(repo: Path) -> None:
    (repo / ".git").mkdir()
    (repo / ".git" / "x.yaml").write_text("a: 1")
    (repo / "reports").mkdir()
    (repo / "reports" / "old.yaml").write_text("a: 1")
    (repo / "README.md").write_text("hi")
    (repo / "sub").mkdir()
    (repo / "sub" / "more.yml").write_text("a: 1")
    found = stamp(repo, repo / "reports")
    assert "sub/more.yml" in found and JASON in found
    assert not [k for k in found if k.startswith((".git", "reports")) or k.endswith(".md")]
    after = dict(found)
    after["sub/more.yml"] = (0, 0)
    del after[JASON]
    after["new.yaml"] = (1, 1)
    assert changed_files(found, after) == sorted([JASON, "new.yaml", "sub/more.yml"])


def _check(cid: str, outcome: Outcome, score: float, max_score: float = 2) -> CheckResult:
    return CheckResult(cid, cid.lower(), "t", outcome, score=score, max_score=max_score)


def _run(*checks: CheckResult) -> RunResult:
    return RunResult(Submission("repo"), "repo", "r", checks=list(checks))


def test_changes_fixed_failing_better_worse() -> None:
    before = _run(_check("MG1", Outcome.FAILED, 0), _check("MG2", Outcome.PASSED, 2),
                  _check("MG3", Outcome.FAILED, 1), _check("MG4", Outcome.PASSED, 2))
    after = _run(_check("MG1", Outcome.PASSED, 2), _check("MG2", Outcome.FAILED, 0),
                 _check("MG3", Outcome.FAILED, 0.5), _check("MG4", Outcome.PASSED, 2))
    got = [(c.kind, c.check.id, c.delta) for c in changes(before, after)]
    assert got == [("fixed", "MG1", 2), ("failing", "MG2", -2), ("worse", "MG3", -0.5)]
    text = report(before, after, ["a.yaml"], 0.03, "12:00:00")
    assert text.splitlines()[0] == "[12:00:00] a.yaml changed · graded in 0.03 s"
    assert "  fixed    MG1 mg1 (+2)" in text and "  failing  MG2 mg2 (−2 of 2)" in text
    assert text.splitlines()[-1] == "  score 4.5/8 (−0.5)"
    same = report(after, after, ["a.yaml"], 0.03, "12:00:01")
    assert same == "[12:00:01] a.yaml changed · graded in 0.03 s: nothing changed, score 4.5/8"


def test_student_text_is_made_safe_for_the_terminal() -> None:
    bad = _check("MG1", Outcome.FAILED, 0)
    bad.message = "\x1b]0;pwned\x07 oops"
    text = report(None, _run(bad), ["\x1b[2Jevil.yaml"], 0.01, "t")
    assert "\x1b" not in text and "\x07" not in text


def test_watch_prints_only_what_changed(repo: Path) -> None:
    """The first run, then a broken subset (newly failing), then the fix (fixed)."""
    rubric = load("istio-part1", set(registry.checks()))
    target = repo / JASON
    text = target.read_text()
    edits = [text.replace("subset: v2", "subset: v9"), text]
    printed: list[str] = []

    def sleep(_s: float) -> None:  # the student saves a file after each printed report
        if edits and len(printed) == 3 - len(edits):
            _touch(target, edits.pop(0))

    watch(repo, rubric, say=printed.append, sleep=sleep, runs=3)
    assert len(printed) == 3
    assert "score 31/31" in printed[0]
    assert f"{JASON} changed" in printed[1] and "failing  MG122 subset-defined" in printed[1]
    assert "failing  MG204 route-jason-v2 (−3 of 3)" in printed[1]
    assert "hint: " in printed[1] and "fixed" not in printed[1]
    assert "fixed    MG204 route-jason-v2 (+3)" in printed[2] and "failing" not in printed[2]
    assert printed[2].endswith("score 31/31 (+3.22)")


def test_watch_writes_reports_when_asked(repo: Path, tmp_path: Path) -> None:
    rubric = load("istio-part1", set(registry.checks()))
    out = repo / "reports"
    watch(repo, rubric, out=out, say=lambda _t: None, runs=1)
    assert (out / "report.html").is_file() and (out / "results.json").is_file()


def test_watch_command_rejects_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "f.yaml").write_text("a: 1")
    assert main(["watch", str(tmp_path / "f.yaml")]) == 2
    assert "is a file" in capsys.readouterr().err
