"""The command line, end to end: exit codes 0-3, reports, help, catalogue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meshgrade.cli.main import main
from meshgrade.grading import registry

from .conftest import EXAMPLES


def meshgrade(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meshgrade", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def grade(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "out"
    proc = meshgrade("grade", *args, "--out", str(out), "--mode", "repo", cwd=tmp_path)
    results = out / "results.json"
    return proc, json.loads(results.read_text()) if results.exists() else {}


@pytest.mark.parametrize("example, rubric", [("part1-bookinfo", "istio-part1"),
                                             ("part2-app", "istio-part2")])
@pytest.mark.slow
def test_good_examples_get_full_marks(tmp_path: Path, example: str, rubric: str) -> None:
    proc, results = grade(tmp_path, str(EXAMPLES / example), "--rubric", rubric)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["score"] == results["max_score"] > 0
    outcomes = {c["id"]: c["outcome"] for c in results["checks"]}
    live = ("MG3", "MG4")
    assert all(o == "passed" for cid, o in outcomes.items() if not cid.startswith(live))
    assert all(o == "skipped" for cid, o in outcomes.items() if cid.startswith(live))
    skipped = [c for c in results["checks"] if c["outcome"] == "skipped"]
    assert all(c["message"].startswith("repo mode") and c["max_score"] == 0 for c in skipped)
    for name in ("junit.xml", "report.html"):
        assert (tmp_path / "out" / name).is_file()


@pytest.mark.slow
def test_broken_example_fails_with_file_and_line(tmp_path: Path) -> None:
    proc, results = grade(tmp_path, str(EXAMPLES / "broken"), "--rubric", "istio-full")
    assert proc.returncode == 1, proc.stderr
    failed = {c["id"]: c for c in results["checks"] if c["outcome"] == "failed"}
    expected = {"MG101": "destination-rules.yaml", "MG103": "reviews-canary.yaml",
                "MG104": "app.yaml", "MG111": "app.yaml", "MG112": "app.yaml",
                "MG121": "ratings.yaml", "MG122": "reviews-canary.yaml",
                "MG125": "gateway.yaml"}
    for cid, file in expected.items():
        assert cid in failed, f"{cid} did not fail"
        assert any(f.get("file") == file and f.get("line") for f in failed[cid]["findings"])
    # harmless on their own (the traffic they would break fails MG2xx): shown, not counted
    checks = {c["id"]: c for c in results["checks"]}
    for cid, file, level in (("MG114", "app.yaml", "info"),
                             ("MG127", "reviews-jason.yaml", "warning"),
                             ("MG128", "reviews-canary.yaml", "warning")):
        assert checks[cid]["outcome"] == "passed"
        assert [f["severity"] for f in checks[cid]["findings"] if f["file"] == file] == [level]
    assert "reviews-canary.yaml:14" in proc.stdout  # the misspelled weigth


@pytest.mark.slow
def test_bad_rubric_is_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("name: r\nchecks:\n  MG101: {points: 1}\n  MG777: {}\n")
    proc, _ = grade(tmp_path, str(EXAMPLES / "part1-bookinfo"), "--rubric", str(bad))
    assert proc.returncode == 2 and "r.yaml:4" in proc.stderr


@pytest.mark.slow
def test_missing_folder_is_usage_error(tmp_path: Path) -> None:
    proc, _ = grade(tmp_path, str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such folder" in proc.stderr


@pytest.mark.slow
def test_unreachable_git_url_is_not_gradable_and_reports_are_written(tmp_path: Path) -> None:
    proc, results = grade(tmp_path, (tmp_path / "missing.git").as_uri())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert results["gradable"] is False
    assert "cannot clone" in results["not_gradable_reason"]  # once, not under every check
    assert {c["message"] for c in results["checks"] if c["outcome"] == "error"} == {
        "not run: the submission could not be loaded"}
    assert proc.stdout.count("cannot clone") == 1 and "Score" not in proc.stdout
    assert (tmp_path / "out" / "junit.xml").is_file()


@pytest.mark.slow
def test_fail_under(tmp_path: Path) -> None:
    proc, results = grade(tmp_path, str(EXAMPLES / "broken"), "--rubric", "istio-part1",
                          "--fail-under", "1")
    assert proc.returncode == 0 and results["score"] >= 1
    proc, _ = grade(tmp_path, str(EXAMPLES / "broken"), "--fail-under", "99%")
    assert proc.returncode == 1


CRASHING_CHECK = """\
from meshgrade import check


@check("COURSE-1", title="A check that crashes", points=2)
def test_boom(ctx):
    raise RuntimeError("kaboom")


@check("COURSE-2", title="An instructor's check that passes", points=1, reads=("repo",))
def test_has_a_gateway(index, findings):
    if not index.latest("Gateway"):
        findings.error("no Gateway", hint="Add one.")
"""


def test_crash_in_a_check_becomes_error_and_reports_are_written(tmp_path: Path) -> None:
    suite = tmp_path / "course"
    suite.mkdir()
    (suite / "test_crashing_course.py").write_text(CRASHING_CHECK)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("name: course\nchecks:\n  MG101: {points: 1}\n  MG203: {}\n"
                      f"extra:\n  - path: {suite}\n")
    out = tmp_path / "out"
    code = main(["grade", str(EXAMPLES / "part1-bookinfo"), "--rubric", str(rubric),
                 "--mode", "repo", "--out", str(out), "--format", "json",
                 "--format", "html", "--format", "junit", "--format", "gradescope"])
    assert code == 3
    results = json.loads((out / "results.json").read_text())
    by_id = {c["id"]: c for c in results["checks"]}
    crashed = by_id["COURSE-1"]
    assert crashed["outcome"] == "error" and "kaboom" in crashed["traceback"]
    assert crashed["title"] == "A check that crashes" and crashed["max_score"] == 2
    assert by_id["COURSE-2"]["outcome"] == "passed" and by_id["COURSE-2"]["score"] == 1
    assert by_id["MG203"]["outcome"] == "passed" and by_id["MG203"]["max_score"] == 2
    assert "kaboom" in (out / "report-instructor.html").read_text()
    assert "Traceback" not in (out / "report.html").read_text()
    assert (out / "gradescope" / "results.json").is_file()


@pytest.mark.slow
def test_help_shows_examples() -> None:
    proc = meshgrade("grade", "--help")
    assert proc.returncode == 0 and "examples:" in proc.stdout and "exit status" in proc.stdout
    assert meshgrade("--help").returncode == 0
    assert meshgrade("frobnicate").returncode == 2


@pytest.mark.slow
def test_checks_and_rubrics_commands(tmp_path: Path) -> None:
    proc = meshgrade("checks")
    assert proc.returncode == 0
    for cid in registry.checks():
        assert cid in proc.stdout
    listed = json.loads(meshgrade("checks", "--format", "json").stdout)
    assert len(listed) == len(registry.checks())
    proc = meshgrade("rubrics")
    assert proc.returncode == 0 and "istio-part2" in proc.stdout
    ok = meshgrade("rubric", "check", "rubrics/istio-full.yaml",
                   cwd=Path(__file__).resolve().parent.parent)
    assert ok.returncode == 0 and "valid rubric" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nchecks:\n  MG101: {points: many}\n")
    proc = meshgrade("rubric", "check", str(bad))
    assert proc.returncode == 2 and f"{bad}:3" in proc.stderr


@pytest.mark.slow
def test_grades_from_another_folder_and_ignores_submission_pytest_files(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    for f in (EXAMPLES / "part2-app").glob("*.yaml"):
        (sub / f.name).write_text(f.read_text())
    (sub / "conftest.py").write_text("raise SystemExit('student code ran')\n")
    (sub / "pytest.ini").write_text("[pytest]\naddopts = --this-option-does-not-exist\n")
    (sub / "meshgrade.yaml").write_text("rubric: mine\nfail_under: 0\n")
    (sub / "istio-part2").write_text("name: istio-part2\nchecks:\n  MG101: {points: 100}\n")
    (sub / "setup.cfg").write_text("[tool:pytest]\naddopts = -p no:meshgrade.plugin\n")
    proc = meshgrade("grade", str(sub), "--rubric", "istio-part2", "--mode", "repo",
                     "--out", str(tmp_path / "r"), cwd=sub)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["max_score"] == 31 and results["rubric"] == "istio-part2"


@pytest.mark.slow
def test_instructor_extra_checks_count_with_points(tmp_path: Path) -> None:
    extra = tmp_path / "instructor_checks"
    extra.mkdir()
    (extra / "test_extra.py").write_text(
        "def test_has_readme():\n    assert True\n\n"
        "def test_always_fails():\n    assert 1 == 2, 'expected failure'\n")
    rubric = tmp_path / "r.yaml"
    rubric.write_text("name: with-extra\nchecks:\n  MG101: {points: 1}\n"
                      "extra:\n  - {path: instructor_checks, points: 2}\n")
    proc, results = grade(tmp_path, str(EXAMPLES / "part2-app"), "--rubric", str(rubric))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    extras = {c["name"]: c for c in results["checks"] if not c["id"].startswith("MG")}
    assert extras["test_has_readme"]["outcome"] == "passed"
    assert extras["test_has_readme"]["score"] == 2
    assert extras["test_always_fails"]["outcome"] == "failed"
    assert "expected failure" in extras["test_always_fails"]["message"]
    assert results["max_score"] == 5 and results["score"] == 3


@pytest.mark.slow
def test_bad_fail_under_is_usage_error(tmp_path: Path) -> None:
    proc, _ = grade(tmp_path, str(EXAMPLES / "part2-app"), "--fail-under", "lots")
    assert proc.returncode == 2 and "--fail-under" in proc.stderr


@pytest.mark.slow
def test_github_format_under_actions(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    out = tmp_path / "out"
    env = {**__import__("os").environ, "GITHUB_ACTIONS": "true",
           "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run([sys.executable, "-m", "meshgrade", "grade", str(EXAMPLES / "broken"),
                           "--mode", "repo", "--out", str(out)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1
    assert "::error file=reviews-canary.yaml,line=14," in proc.stdout
    assert "MG103" in summary.read_text()


@pytest.mark.slow
def test_signed_results_and_a_tampered_score(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("course-secret\n")
    proc, results = grade(tmp_path, str(EXAMPLES / "broken"), "--sign-key-file", str(key))
    assert results["signature"]["alg"] == "HMAC-SHA256"
    path = tmp_path / "out" / "results.json"
    ok = meshgrade("verify", str(path), "--sign-key-file", str(key))
    assert ok.returncode == 0, ok.stderr
    results["score"] = results["max_score"]
    path.write_text(json.dumps(results))
    bad = meshgrade("verify", str(path), "--sign-key-file", str(key))
    assert bad.returncode == 1 and "altered" in bad.stderr
    refused = meshgrade("gradebook", "collect", str(tmp_path / "out"), "--sign-key-file",
                        str(key), "--out", str(tmp_path / "gradebook.csv"))
    assert refused.returncode == 1 and "altered" in (refused.stdout + refused.stderr)
