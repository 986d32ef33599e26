"""Modes say what they judge (the console's first lines, the lab's own install not graded)
and a run that is not gradable says why once, with no score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshgrade.cli.main import main
from meshgrade.grading import modes, registry
from meshgrade.grading.options import Options
from meshgrade.grading.results import CheckResult, Outcome, RunResult, Submission
from meshgrade.grading.rubric import load
from meshgrade.grading.session import GradingSession
from meshgrade.live.sources import Live
from meshgrade.reports import github_report
from meshgrade.submission.source import open_source

from .conftest import EXAMPLES, context_for

PART1 = EXAMPLES / "part1-bookinfo"


def test_the_console_starts_with_the_mode_and_what_it_cannot_check(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["grade", str(PART1), "--rubric", "istio-part1", "--mode", "repo", "--out",
                 str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    first, second = out.splitlines()[:2]
    assert first == "Mode: repo — your repository's YAML, read without running anything."
    assert "cannot check a cluster or traffic" in second and "--kubeconfig" in second
    results = json.loads((tmp_path / "results.json").read_text())
    checks = {c["id"]: c for c in results["checks"]}
    for cid in modes.LAB_PROVIDED:  # needs a cluster, and says how to point at one
        assert checks[cid]["message"] == modes.NEEDS_CLUSTER_REASON
    assert "--kubeconfig" in checks["MG401"]["message"]


@pytest.mark.parametrize("mode", ["repo", "lab", "cluster"])
def test_every_mode_has_words(mode: str) -> None:
    what, scope = modes.header(mode)
    assert what.startswith(f"Mode: {mode} — ") and "check" in scope


def test_lab_mode_skips_what_the_lab_installed_and_says_what_the_maximum_lost(
        tmp_path: Path) -> None:
    rubric = load("istio-part1", set(registry.checks()))
    session = GradingSession(Options(str(PART1), rubric, mode="lab", out=tmp_path))
    ctx = session._context = context_for(PART1)
    session.live = ctx.live = Live("lab", None, "127.0.0.1:9", [], "default")
    session.mode = "lab"
    for cid in rubric.checks:
        if cid in modes.LAB_PROVIDED or not cid.startswith(("MG3", "MG4")):
            session.evaluate(cid)
    run = session.result()
    lab_own = [c for c in run.checks if c.id in modes.LAB_PROVIDED]
    assert len(lab_own) == 7 and all(
        c.outcome is Outcome.SKIPPED and c.max_score == 0
        and c.message == modes.LAB_PROVIDED_REASON for c in lab_own)
    full = sum(rule.points for cid, rule in rubric.checks.items()
               if cid not in modes.LAB_PROVIDED and not cid.startswith(("MG3", "MG4")))
    assert run.max_score == full
    assert run.notes[0] == (
        f"lab mode: 7 cluster-install check(s) worth 7 point(s) were not graded, so the "
        f"maximum is {full:g} instead of {full + 7:g}; the lab installs what they check "
        "itself: grade against your cluster (--kubeconfig ~/.kube/config) for them")


def test_a_file_or_a_missing_path_gets_its_own_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = PART1 / "destination-rule-all.yaml"
    assert main(["grade", str(file), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {file} is a file: give the folder that holds it (or a git URL)\n")
    assert main(["grade", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "nope: no such folder" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="is a file: give the folder"):
        open_source(str(file))  # the same words under `pytest --submission FILE`


def test_a_submission_that_does_not_load_says_why_once_in_every_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["grade", (tmp_path / "missing.git").as_uri(), "--mode", "repo", "--out",
                 str(out), "--format", "json", "--format", "html", "--format", "gradescope"])
    stdout = capsys.readouterr().out
    assert code == 3
    assert stdout.splitlines()[2].startswith("NOT GRADED: the submission could not be loaded: "
                                             "cannot clone")
    assert stdout.count("cannot clone") == 1 and "Score" not in stdout
    assert len(stdout.splitlines()) < 10  # one line for every check that did not run
    results = json.loads((out / "results.json").read_text())
    assert results["not_gradable_reason"].startswith("the submission could not be loaded")
    assert json.dumps(results).count("cannot clone") == 1
    assert (out / "report.html").read_text().count("cannot clone") == 1
    gradescope = json.loads((out / "gradescope" / "results.json").read_text())
    assert json.dumps(gradescope).count("cannot clone") == 1


def test_github_annotates_a_stopped_run_once() -> None:
    checks = [CheckResult(f"MG10{n}", "x", "", Outcome.ERROR, max_score=1,
                          message="not run: interrupted") for n in range(1, 5)]
    run = RunResult(Submission("."), "lab", "r", checks,
                    interrupted="SIGTERM during sampling (MG405)")
    assert github_report.annotations(run) == [
        "::error title=meshgrade::not graded: interrupted by SIGTERM during sampling (MG405)"]
