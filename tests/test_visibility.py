"""Hidden checks stay out of every student-facing output and appear in instructor ones.

Student-facing: the console summary, ``report.html``, GitHub annotations (stdout) and step
summary, ``classroom.json`` / ``classroom.b64`` and the top-level ``output`` of the
Gradescope file. Instructor-facing: ``results.json``, ``report-instructor.html``,
``junit.xml``. Gradescope gets every check, each with its own ``visibility`` (Gradescope hides
``hidden`` tests from students itself); ``after_due_date`` and ``after_published`` pass
through unchanged.

Totals, as chosen: every student output totals only the checks it shows (hidden points are
neither in the score nor in the maximum), so the numbers a student sees add up. Gradescope's
top-level ``score`` is the full grade (hidden checks included), since it is the grade itself;
its top-level ``output`` counts only ``visible`` checks.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from meshgrade import reports
from meshgrade.grading.results import (
    CheckResult,
    Finding,
    Outcome,
    RunResult,
    Submission,
    Visibility,
)
from meshgrade.reports import classroom, console

SECRET = "SECRET-CHECK-XYZ"
HIDDEN_IDS = ("MG413", "MG414")


def secret_run() -> RunResult:
    """Visible, after_due_date and after_published checks plus two hidden ones that carry
    the secret in their message, hint, finding and traceback."""
    checks = [
        CheckResult("MG111", "yaml-parses", "Every file is valid YAML", Outcome.PASSED,
                    score=1, max_score=1, message="3 documents parsed", duration_s=0.012),
        CheckResult("MG122", "subset-defined", "Routes use defined subsets", Outcome.FAILED,
                    score=1, max_score=2, message="1 of 2 routes name an undefined subset",
                    hint="Add the subset to the DestinationRule",
                    findings=[Finding("subset 'v3' is not defined", file="istio/vs.yaml",
                                      line=14, path="spec.http[0].route[0].destination.subset")]),
        CheckResult("MG214", "canary-split", "Traffic splits 50/50", Outcome.PASSED,
                    score=3, max_score=3, visibility=Visibility.AFTER_DUE_DATE,
                    message="split within tolerance"),
        CheckResult("MG301", "gateway-answers", "The gateway answers", Outcome.SKIPPED,
                    visibility=Visibility.AFTER_PUBLISHED, message="lab could not start"),
        CheckResult("MG413", "secret-probe", "Instructor-only probe", Outcome.FAILED,
                    max_score=4, visibility=Visibility.HIDDEN, message=f"{SECRET} failed",
                    hint=f"{SECRET} hint",
                    findings=[Finding(f"{SECRET} finding", file="istio/secret.yaml", line=3,
                                      object="VirtualService default/secret")]),
        CheckResult("MG414", "secret-crash", "Instructor-only crash", Outcome.ERROR,
                    visibility=Visibility.HIDDEN, message="crashed",
                    traceback=f"Traceback (most recent call last):\nKeyError: '{SECRET}'"),
    ]
    return RunResult(Submission("https://example.org/bob/istio.git", "abc1234", "bob"),
                     mode="repo", rubric="istio-part2", checks=checks, duration_s=1.5,
                     tool_version="0.1.0")


@pytest.fixture
def written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Every format written into tmp: output name -> its text."""
    run = secret_run()
    summary = tmp_path / "step-summary.md"
    paths = reports.write_reports(run, tmp_path / "out", reports.FORMATS,
                                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert paths.ok, paths.errors
    texts = {name: path.read_text(encoding="utf-8") for name, path in paths.items()}
    texts["github-annotations"] = capsys.readouterr().out
    texts["console"] = console.render(run, color=False)
    texts["classroom-decoded"] = base64.b64decode(texts["classroom-b64"]).decode("utf-8")
    return texts


STUDENT = ("console", "html", "github", "github-annotations", "classroom", "classroom-b64",
           "classroom-decoded")
INSTRUCTOR = ("json", "html-instructor", "junit")


def test_run_is_gradable_and_has_hidden_checks() -> None:
    run = secret_run()
    assert run.gradable and {c.id for c in run.checks if c.visibility is Visibility.HIDDEN} \
        == set(HIDDEN_IDS)


@pytest.mark.parametrize("name", STUDENT)
def test_student_outputs_leave_hidden_checks_out(written: dict[str, str], name: str) -> None:
    text = written[name]
    assert text.strip(), f"{name} is empty"
    assert SECRET not in text
    assert not any(cid in text for cid in HIDDEN_IDS)
    assert "secret-probe" not in text and "istio/secret.yaml" not in text
    assert "Traceback" not in text


def test_student_outputs_show_the_visible_checks(written: dict[str, str]) -> None:
    for name in ("console", "html", "github", "classroom"):
        assert "MG122" in written[name] and "MG214" in written[name], name
    assert "::error file=istio/vs.yaml,line=14" in written["github-annotations"]


@pytest.mark.parametrize("name", INSTRUCTOR)
def test_instructor_outputs_show_hidden_checks(written: dict[str, str], name: str) -> None:
    text = written[name]
    assert SECRET in text and all(cid in text for cid in HIDDEN_IDS)
    assert "KeyError" in text  # the hidden check's traceback


def test_results_json_keeps_visibility(written: dict[str, str]) -> None:
    checks = {c["id"]: c for c in json.loads(written["json"])["checks"]}
    assert {cid: c["visibility"] for cid, c in checks.items()} == {
        "MG111": "visible", "MG122": "visible", "MG214": "after_due_date",
        "MG301": "after_published", "MG413": "hidden", "MG414": "hidden"}


def test_gradescope_entries_carry_their_visibility(written: dict[str, str]) -> None:
    data = json.loads(written["gradescope"])
    tests = {t["name"].split()[0]: t for t in data["tests"]}
    assert {cid: t["visibility"] for cid, t in tests.items()} == {
        "MG111": "visible", "MG122": "visible", "MG214": "after_due_date",
        "MG301": "after_published", "MG413": "hidden", "MG414": "hidden"}
    leaking = [t["name"] for t in data["tests"]
               if SECRET in json.dumps(t) and t["visibility"] != "hidden"]
    assert not leaking
    assert SECRET in tests["MG413"]["output"]  # Gradescope shows it to instructors
    assert "Traceback" not in written["gradescope"]  # test output never carries tracebacks


def test_gradescope_top_level_output_counts_visible_checks_only(
        written: dict[str, str]) -> None:
    data = json.loads(written["gradescope"])
    assert SECRET not in data["output"] and "MG413" not in data["output"]
    assert "Visible checks: 1 passed, 1 failed" in data["output"]
    assert data["score"] == secret_run().score == 5  # the full grade


def test_student_totals_cover_shown_checks_only(written: dict[str, str]) -> None:
    # shown: MG111 1/1, MG122 1/2, MG214 3/3, MG301 0/0 -> 5/6 (hidden MG413 adds 0/4)
    assert "Score 5/6" in written["console"]
    assert "5 <small>/ 6</small>" in written["html"]
    assert "## meshgrade: 5 / 6 points" in written["github"]
    data = json.loads(written["classroom"])
    assert data["max_score"] == 6 and sum(t["score"] for t in data["tests"]) == 5
    assert "4 <small>/ 10</small>" not in written["html-instructor"]
    assert "5 <small>/ 10</small>" in written["html-instructor"]


def test_classroom_format(written: dict[str, str]) -> None:
    data = json.loads(written["classroom"])
    assert json.loads(written["classroom-decoded"]) == data
    assert re.fullmatch(r"[A-Za-z0-9+/=]+\n", written["classroom-b64"])
    assert data["version"] == 1 and data["status"] == "fail"
    tests = {t["name"].split()[0]: t for t in data["tests"]}
    assert list(tests) == ["MG111", "MG122", "MG214", "MG301"]
    assert tests["MG111"] == {
        "name": "MG111 yaml-parses: Every file is valid YAML", "status": "pass", "score": 1,
        "max_score": 1, "message": "3 documents parsed", "test_code": "", "filename": "",
        "line_no": 0, "duration": 12}
    assert tests["MG122"]["status"] == "fail" and "istio/vs.yaml:14" in tests["MG122"]["message"]
    assert tests["MG301"]["status"] == "pass"  # skipped, carries no points
    assert tests["MG301"]["message"] == "Skipped: lab could not start"


def test_classroom_status_pass_and_error() -> None:
    run = secret_run()
    run.checks = [c for c in run.checks if c.outcome is Outcome.PASSED]
    assert classroom.to_dict(run)["status"] == "pass"
    run.checks.append(CheckResult("MG302", "probe", "", Outcome.ERROR, max_score=1,
                                  visibility=Visibility.HIDDEN, message=SECRET))
    data = classroom.to_dict(run)
    assert data["status"] == "error"  # not gradable, whichever check broke
    assert SECRET not in base64.b64decode(classroom.encoded(run)).decode("utf-8")
    assert SECRET not in json.dumps(data)
