"""``meshgrade batch --shard I/N``: disjoint slices that cover the roster, and a class graded in
three shards whose merged gradebook equals the one of a single batch."""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshgrade.batch.shard import Shard, parse_shard
from meshgrade.cli.main import main

from .conftest import EXAMPLES
from .test_batch import git_repo


def test_parse_shard() -> None:
    assert parse_shard("2/3") == Shard(2, 3) and str(parse_shard(" 1 / 1 ")) == "1/1"
    for bad in ("0/3", "4/3", "3", "1/0", "-1/3", "a/b", "1/3/5", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_shard(bad)


@given(rows=st.integers(0, 40), count=st.integers(1, 9))
def test_shards_are_disjoint_cover_and_balanced(rows: int, count: int) -> None:
    roster = list(range(rows))
    slices = [Shard(i, count).take(roster) for i in range(1, count + 1)]
    assert sorted(r for s in slices for r in s) == roster  # each row exactly once
    assert max(map(len, slices)) - min(map(len, slices)) <= 1
    assert all(s == sorted(s) for s in slices)  # roster order within a shard
    assert slices == [Shard(i, count).take(roster) for i in range(1, count + 1)]


def test_bad_shard_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,submission\na,a\n", "utf-8")
    assert main(["batch", str(roster), "--shard", "4/3"]) == 2
    assert "shard I of N" in capsys.readouterr().err


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


@pytest.mark.slow
def test_three_shards_merge_into_the_unsharded_gradebook(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    students = [("alice", "part1-bookinfo"), ("bob", "part2-app"), ("carol", "broken"),
                ("dave", "part1-bookinfo"), ("erin", "part2-app")]
    for name, example in students:
        git_repo(EXAMPLES / example, subs / name)
    roster = tmp_path / "roster.csv"
    roster.write_text("student,submission\n" + "".join(f"{n},subs/{n}\n" for n, _ in students),
                      "utf-8")
    key = tmp_path / "key"
    key.write_bytes(b"shard test key, 32 bytes or more!!")
    common = [str(roster), "--rubric", "istio-part1", "--mode", "repo", "--workers", "2",
              "--timeout", "600", "--sign-key-file", str(key)]

    def batch(out: Path, *extra: str) -> int:
        proc = subprocess.run([sys.executable, "-m", "meshgrade", "batch", *common, "--out",
                               str(out), *extra], capture_output=True, text=True, timeout=900)
        assert proc.returncode in (0, 3), proc.stdout + proc.stderr
        return proc.returncode

    whole = tmp_path / "whole"
    batch(whole)
    shards = tmp_path / "shards"
    for i in (1, 2, 3):
        batch(shards / f"shard-{i}", "--shard", f"{i}/3")
    graded = [sorted(r["student"] for r in _rows(shards / f"shard-{i}" / "gradebook.csv"))
              for i in (1, 2, 3)]
    assert graded == [["alice", "dave"], ["bob", "erin"], ["carol"]]

    merged, single = tmp_path / "merged.csv", tmp_path / "single.csv"
    for folder, out in ((shards, merged), (whole, single)):
        assert main(["gradebook", "collect", str(folder), "--out", str(out), "--sign-key-file",
                     str(key), "--rubric", "istio-part1", "--roster", str(roster)]) == 0
    assert merged.read_text("utf-8") == single.read_text("utf-8")
    assert len(_rows(merged)) == len(students)
    assert [r["student"] for r in _rows(whole / "gradebook.csv")] == \
        [r["student"] for r in _rows(merged)]


# --- the examples: a GitHub Actions matrix and a Kubernetes Indexed Job -----------------------

SHARDS = EXAMPLES / "shards"


def test_actions_matrix_workflow_passes_actionlint_and_merges_the_shards() -> None:
    from .test_workflows import actionlint, load

    workflow_file = SHARDS / "class-shards.yml"
    proc = subprocess.run([actionlint(), "-no-color", "-shellcheck=", str(workflow_file)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = load(workflow_file)["jobs"]
    grade, collect = jobs["grade"], jobs["collect"]
    assert grade["strategy"]["matrix"]["shard"] == [1, 2, 3]
    (batch,) = [s for s in grade["steps"] if "meshgrade batch" in s.get("run", "")]
    assert '--shard "$SHARD/3"' in batch["run"] and batch["env"]["SHARD"] == "${{ matrix.shard }}"
    assert "secrets.MESHGRADE_SIGN_KEY" in batch["env"]["MESHGRADE_SIGN_KEY"]
    assert collect["needs"] == "grade"
    (merge,) = [s for s in collect["steps"] if "gradebook collect" in s.get("run", "")]
    assert "MESHGRADE_SIGN_KEY" in merge["env"] and "--roster roster.csv" in merge["run"]
    for job in jobs.values():  # no expression spliced into a script
        assert all("${{" not in s.get("run", "") for s in job["steps"])


def test_indexed_job_passes_meshgrade_schema_checks(tmp_path: Path) -> None:
    from meshgrade.grading import registry
    from meshgrade.grading.check import run

    from .conftest import context_for

    ctx = context_for(SHARDS)
    for cid in ("MG101", "MG102", "MG103", "MG104"):
        report, _ = run(registry.get(cid), ctx)
        assert report.outcome.value == "passed", (cid, report.message, report.findings)
    jobs = [o for o in ctx.index.submitted if o.kind == "Job"]
    indexed = next(o.raw for o in jobs if o.name == "meshgrade-class")
    spec = indexed["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 3
    script = spec["template"]["spec"]["containers"][0]["command"][-1]
    assert "shard=$((JOB_COMPLETION_INDEX + 1))" in script and '--shard "$shard/3"' in script
    # the schema check reads the Job: a wrong type there is found
    broken = tmp_path / "job.yaml"
    broken.write_text((SHARDS / "grade-job.yaml").read_text("utf-8")
                      .replace("completions: 3", "completions: three"), "utf-8")
    report, _ = run(registry.get("MG103"), context_for(tmp_path))
    assert report.outcome.value == "failed"
