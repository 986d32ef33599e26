"""Severities: only error findings cost points; warnings and info are shown in every report.

The official Bookinfo networking files (restated in tests/bookinfo_official/) define subsets
for versions bookinfo.yaml never deploys; no route uses them, so they are warnings and the
six files get full marks, in repo mode and in the lab."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from meshgrade.grading import catalogue, registry
from meshgrade.grading.check import run as run_check
from meshgrade.grading.results import (
    CheckReport,
    CheckResult,
    Finding,
    Outcome,
    RunResult,
    Severity,
    Submission,
)
from meshgrade.grading.rubric import CheckRule, RubricError, parse
from meshgrade.grading.scoring import score
from meshgrade.reports import (
    classroom,
    console,
    github_report,
    gradescope_report,
    html_report,
    json_report,
    junit_report,
)

from .conftest import TESTS, context_for

OFFICIAL = TESTS / "bookinfo_official"
# (line, subset) of the subsets destination-rule-all.yaml defines for undeployed versions
UNUSED = [(28, "v2"), (29, "v2-mysql"), (30, "v2-mysql-vm"), (39, "v2")]


def grade(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "meshgrade", "grade", str(OFFICIAL),
                           "--rubric", "istio-part1", "--out", str(out), "--seed", "7",
                           "--no-color", *args], capture_output=True, text=True, timeout=300)
    return proc, json.loads((out / "results.json").read_text())


def assert_full_marks_with_unused_subsets_as_warnings(results: dict) -> None:
    jsonschema.Draft202012Validator(json_report.load_schema()).validate(results)
    assert results["score"] == results["max_score"] > 0
    assert all(c["outcome"] in ("passed", "skipped") for c in results["checks"])
    mg123 = next(c for c in results["checks"] if c["id"] == "MG123")
    assert mg123["outcome"] == "passed" and mg123["score"] == mg123["max_score"] == 1
    got = [(f["line"], f["severity"], f["file"]) for f in mg123["findings"]]
    assert got == [(line, "warning", "destination-rule-all.yaml") for line, _ in UNUSED]
    others = [f for c in results["checks"] if c["id"] != "MG123" for f in c["findings"]]
    assert all(f["severity"] != "error" for f in others), others


@pytest.mark.slow
def test_official_networking_files_get_full_marks_in_repo_mode(tmp_path: Path) -> None:
    proc, results = grade(tmp_path, "--mode", "repo", "--format", "json", "--format", "github")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["mode"] == "repo"
    assert_full_marks_with_unused_subsets_as_warnings(results)
    assert re.search(r"^PASS  MG123 +subset-selects-pods +1/1$", proc.stdout, re.M)
    assert "      WARN  destination-rule-all.yaml:29  spec.subsets[2].labels: subset " \
           "'v2-mysql'" in proc.stdout
    assert "4 warnings)" in proc.stdout
    warned = [line for line in proc.stdout.splitlines() if line.startswith("::warning ")]
    assert len(warned) == 4 and all("title=MG123 subset-selects-pods" in w for w in warned)
    assert "::warning file=destination-rule-all.yaml,line=39," in proc.stdout
    assert "::error " not in proc.stdout


@pytest.mark.slow
def test_official_networking_files_get_full_marks_in_the_lab(tmp_path: Path) -> None:
    proc, results = grade(tmp_path, "--mode", "lab")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["mode"] == "lab"
    assert_full_marks_with_unused_subsets_as_warnings(results)
    assert {c["id"] for c in results["checks"] if c["outcome"] == "passed"} >= {
        "MG401", "MG402", "MG403", "MG404", "MG405", "MG406"}


# -- the result model and scoring ------------------------------------------------------------

def _finding(path: str, severity: Severity = Severity.ERROR) -> Finding:
    return Finding(f"problem at {path}", "DestinationRule default/x", "dr.yaml", 3, path,
                   "fix it", severity)


def test_a_check_with_only_warnings_passes_and_keeps_them() -> None:
    found = [_finding("a", Severity.WARNING), _finding("b", Severity.INFO)]
    report = CheckReport.from_findings(found, "2 subset(s) checked", parts=4)
    assert report.outcome is Outcome.PASSED and report.findings == found
    assert report.fraction == 1.0 and report.message == "2 subset(s) checked (1 warning)"


def test_partial_credit_counts_error_findings_only() -> None:
    found = [_finding("a"), _finding("b", Severity.WARNING), _finding("c", Severity.WARNING)]
    report = CheckReport.from_findings(found, "ok", parts=4)
    assert report.outcome is Outcome.FAILED and report.message == "1 problem found"
    assert report.fraction == pytest.approx(0.75)
    promoted = report.with_warnings_as_errors()
    assert promoted.fraction == pytest.approx(0.25)
    assert all(f.severity is Severity.ERROR for f in promoted.findings)
    assert report.findings[1].severity is Severity.WARNING  # the original is left alone


def test_a_rubric_may_promote_a_checks_warnings() -> None:
    check = registry.get("MG123")
    report, _ = run_check(check, context_for(OFFICIAL))
    plain = score(check, CheckRule("MG123", 1.0), report)
    assert plain.outcome is Outcome.PASSED and plain.score == 1.0
    strict = score(check, CheckRule("MG123", 1.0, promote_warnings=True), report)
    assert strict.outcome is Outcome.FAILED
    assert strict.score == pytest.approx(0.6)  # 4 of the 10 subsets select no pod
    assert "warnings count as errors" in strict.message
    assert {f.severity for f in strict.findings} == {Severity.ERROR}
    whole = score(check, CheckRule("MG123", 1.0, partial=False, promote_warnings=True), report)
    assert whole.score == 0.0


def test_promote_warnings_in_a_rubric_is_validated_with_its_line() -> None:
    known = set(registry.checks())
    rubric = parse("name: r\nchecks:\n  MG123: {points: 1, promote_warnings: true}\n"
                   "  MG124: {points: 1}\n", "r.yaml", known)
    assert rubric.checks["MG123"].promote_warnings is True
    assert rubric.checks["MG124"].promote_warnings is False
    with pytest.raises(RubricError) as err:
        parse("name: r\nchecks:\n  MG123:\n    promote_warnings: yes please\n", "r.yaml", known)
    assert err.value.problems == ["r.yaml:4: checks.MG123.promote_warnings: must be true or false"]


def test_every_catalogue_template_has_a_valid_level() -> None:
    for cid, templates in catalogue.catalogued().items():
        for key, template in templates.items():
            assert set(template) <= {"text", "hint", "level"}, (cid, key)
            assert catalogue.level(cid, key) in Severity, (cid, key)
    assert catalogue.level("MG122", "undefined") is Severity.ERROR
    assert catalogue.level("MG123", "unrouted") is Severity.WARNING


# -- every report shows warnings -------------------------------------------------------------

def warned_run() -> RunResult:
    """A passed check with a warning and an info finding, a failed one with both levels."""
    checks = [
        CheckResult("MG123", "subset-selects-pods", "Subsets select pods", Outcome.PASSED,
                    score=1, max_score=1, message="1 of 2 subset(s) select pods (1 warning)",
                    findings=[Finding("subset 'v2' selects no pod", "DestinationRule default/r",
                                      "dr.yaml", 28, "spec.subsets[1].labels", "deploy v2",
                                      Severity.WARNING),
                              Finding("port 80 is unnamed", None, "svc.yaml", 9,
                                      "spec.ports[0]", "name it", Severity.INFO)]),
        CheckResult("MG128", "weights-valid", "Weights", Outcome.FAILED, score=0, max_score=1,
                    message="1 problem found",
                    findings=[Finding("weight -5 is negative", None, "vs.yaml", 12,
                                      "spec.http[0].route[0].weight", "use 0-100"),
                              Finding("the weights add up to 95", None, "vs.yaml", 10,
                                      "spec.http[0].route", "make it 100", Severity.WARNING)]),
    ]
    return RunResult(Submission("repo"), mode="repo", rubric="r", checks=checks,
                     tool_version="0.1.0")


def test_console_shows_warn_lines_under_a_passed_check() -> None:
    text = console.render(warned_run(), color=False)
    lines = text.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("PASS  MG123")))
    assert lines[at + 1] == ("      WARN  dr.yaml:28  spec.subsets[1].labels: subset 'v2' "
                             "selects no pod")
    assert lines[at + 2] == "      INFO  svc.yaml:9  spec.ports[0]: port 80 is unnamed"
    assert lines[at + 3].startswith("FAIL  MG128")  # compact: no hint, no message
    assert "      WARN  vs.yaml:10  spec.http[0].route: the weights add up to 95" in lines
    assert "      vs.yaml:12  spec.http[0].route[0].weight: weight -5 is negative" in lines
    assert text.endswith("(1 passed, 1 failed, 2 warnings)\n")


def test_github_annotations_and_summary_carry_the_level() -> None:
    run = warned_run()
    lines = github_report.annotations(run)
    assert [line.split(" ", 1)[0] for line in lines] == ["::warning", "::notice", "::error",
                                                         "::warning"]
    assert lines[0].startswith("::warning file=dr.yaml,line=28,title=MG123 subset-selects-pods::")
    summary = github_report.summary_markdown(run)
    assert "### Warnings (no points lost)" in summary
    assert "  - warning: `dr.yaml:28` `spec.subsets[1].labels`: subset 'v2'" in summary
    assert "  - warning: `vs.yaml:10`" in summary.split("### Warnings")[0]  # under What to fix


def test_junit_puts_warnings_in_the_system_out_of_a_passing_testcase() -> None:
    root = ET.fromstring(junit_report.to_xml(warned_run()).encode("utf-8"))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    passed = cases["MG123 subset-selects-pods"]
    assert passed.find("failure") is None and passed.find("error") is None
    out = passed.findtext("system-out") or ""
    assert "[warning] dr.yaml:28  spec.subsets[1].labels: subset 'v2'" in out
    assert "[info] svc.yaml:9" in out
    failure = cases["MG128 weights-valid"].find("failure")
    assert failure is not None and "[warning] vs.yaml:10" in (failure.text or "")
    assert root.get("failures") == "1"


def test_results_json_has_a_severity_per_finding_and_validates() -> None:
    data = json_report.to_data(warned_run())
    validator = jsonschema.Draft202012Validator(json_report.load_schema())
    validator.validate(data)
    assert [f["severity"] for c in data["checks"] for f in c["findings"]] == [
        "warning", "info", "error", "warning"]
    assert data["schema"] == "meshgrade.results/v1"
    for f in data["checks"][0]["findings"]:  # additive: older documents have none
        del f["severity"]
    validator.validate(data)
    data["checks"][0]["findings"][0]["severity"] = "fatal"
    assert not validator.is_valid(data)


def test_gradescope_classroom_and_html_show_warnings() -> None:
    run = warned_run()
    test = gradescope_report.to_dict(run)["tests"][0]
    assert test["status"] == "passed" and test["score"] == 1
    assert "[warning] dr.yaml:28" in test["output"] and "hint: deploy v2" in test["output"]
    entry = classroom.to_dict(run)["tests"][0]
    assert entry["status"] == "pass" and "[warning] dr.yaml:28" in entry["message"]
    page = html_report.render(run)
    assert '<li class="sev-warning">' in page and '<span class="badge warning">Warning</span>' \
        in page
    assert '<span class="badge warning">1 warning</span>' in page
    assert '<li class="sev-error">' in page
