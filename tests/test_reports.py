"""Report writers: every format fed by one hand-built RunResult."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
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
from meshgrade.reports import (
    console,
    github_report,
    gradescope_report,
    html_report,
    json_report,
    junit_report,
)

SCRIPT = "<script>alert('x')</script>"
TRACEBACK = "Traceback (most recent call last):\n  File \"checks/mg3.py\", line 9\nKeyError: 'v3'"


def sample_run() -> RunResult:
    """A run with every outcome, a hidden check, traffic evidence and awkward text."""
    log = [{"t": round(i * 0.25, 2), "cls": "jason" if i % 3 else "anon", "status": 200,
            "version": "v1" if i % 2 else "v3", "latency_ms": 11.5 + i} for i in range(12)]
    checks = [
        CheckResult("MG111", "yaml-parses", "Every file is valid YAML", Outcome.PASSED,
                    score=1, max_score=1, message="12 documents parsed", duration_s=0.01),
        CheckResult(
            "MG122", "subset-defined", "Routes use subsets the DestinationRule defines",
            Outcome.FAILED, score=1, max_score=2,
            message=f"1 of 2 routes name an undefined subset {SCRIPT}",
            hint="Add the subset to the DestinationRule",
            findings=[
                Finding("subset 'v3' is not defined in DestinationRule default/reviews",
                        object="VirtualService default/reviews", file="istio/vs.yaml", line=14,
                        path="spec.http[0].route[0].destination.subset",
                        hint="Define v3: {labels: {version: v3}}"),
                Finding("weight 60%, total 110, not 100", file="istio/vs,weird:name.yaml",
                        line=22, path="spec.http[1].route"),
                Finding("no host matches: Bücher ✓ ünïcode", object="Gateway default/gw"),
            ]),
        CheckResult(
            "MG214", "canary-split", "Traffic splits 50/50 between v1 and v3",
            Outcome.FAILED, score=1.5, max_score=3, message="Observed split is off",
            evidence={"requests": 87, "counts": {"v1": 60, "v3": 27},
                      "expected": {"v1": 0.5, "v3": 0.5}, "requests_log": log}),
        CheckResult("MG301", "lab-reachable", "The gateway answers", Outcome.ERROR,
                    max_score=2, message="check crashed: KeyError 'v3'", traceback=TRACEBACK),
        CheckResult("MG412", "mtls-strict", "mTLS is STRICT", Outcome.SKIPPED,
                    message="live checks skipped: lab could not start"),
        CheckResult("MG413", "secret-probe", "Instructor-only probe", Outcome.FAILED,
                    max_score=3, visibility=Visibility.HIDDEN, message="HIDDEN-SECRET",
                    findings=[Finding("HIDDEN-FINDING", file="istio/secret.yaml", line=3)]),
        CheckResult("my_extra", "readme", "README explains the canary", Outcome.PASSED,
                    score=1, max_score=1, visibility=Visibility.AFTER_DUE_DATE),
    ]
    return RunResult(Submission("https://example.org/alice/istio-lab.git", "abc1234",
                                "Zoë Ålander"),
                     mode="lab", rubric="istio-part2", checks=checks, duration_s=2.4,
                     tool_version="0.1.0", notes=["seed 7"])


@pytest.fixture
def run() -> RunResult:
    return sample_run()


def test_results_json_validates_against_schema(run: RunResult, tmp_path: Path) -> None:
    path = json_report.write(run, tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(json_report.load_schema())
    jsonschema.Draft202012Validator(json_report.load_schema()).validate(data)
    assert data["schema"] == "meshgrade.results/v1"
    assert "Zoë" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    assert any(c.get("traceback") for c in data["checks"])


def test_schema_is_strict(run: RunResult) -> None:
    validator = jsonschema.Draft202012Validator(json_report.load_schema())
    data = run.to_dict()
    data["checks"][0]["outcome"] = "exploded"
    data["surprise"] = 1
    data["checks"][1]["findings"][0]["colour"] = "red"
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert "exploded" in messages and "surprise" in messages and "colour" in messages


def test_junit_one_testcase_per_check(run: RunResult) -> None:
    root = ET.fromstring(junit_report.to_xml(run).encode("utf-8"))
    cases = list(root.iter("testcase"))
    assert len(cases) == len(run.checks)
    assert [s.get("name") for s in root.iter("testsuite")] == [
        "meshgrade.MG1", "meshgrade.MG2", "meshgrade.MG3", "meshgrade.MG4", "meshgrade.extra"]
    assert sum(len(c.findall("failure")) for c in cases) == 3
    assert sum(len(c.findall("error")) for c in cases) == 1
    assert sum(len(c.findall("skipped")) for c in cases) == 1
    assert root.get("failures") == "3" and root.get("errors") == "1" and root.get("skipped") == "1"
    mg122 = next(c for c in cases if c.get("name") == "MG122 subset-defined")
    assert mg122.get("classname") == "meshgrade.MG1"
    failure = mg122.find("failure")
    assert failure is not None and "undefined subset" in failure.get("message", "")
    assert "istio/vs.yaml:14  spec.http[0].route[0].destination.subset:" in failure.text
    assert "hint: Define v3" in failure.text
    props = {p.get("name"): p.get("value") for p in mg122.iter("property")}
    assert props == {"score": "1", "max_score": "2"}
    error = next(c for c in cases if c.get("name") == "MG301 lab-reachable").find("error")
    assert error is not None and "KeyError" in error.text
    first = next(root.iter("testsuite")).find("properties")
    suite_props = {p.get("name"): p.get("value") for p in first.iter("property")}
    assert suite_props["total.score"] == "4.5" and suite_props["total.max_score"] == "12"
    assert suite_props["MG122.score"] == "1" and suite_props["MG122.max_score"] == "2"


# a resource the browser would fetch: src/href/action to another origin, CSS url() or @import
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z]+:)?//"""
                      r"""|url\(\s*["']?\s*(?:[a-z]+:)?//|@import""", re.IGNORECASE)


def test_html_student_report(run: RunResult) -> None:
    page = html_report.render(run)
    assert not EXTERNAL.search(page)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "HIDDEN-SECRET" not in page and "HIDDEN-FINDING" not in page and "MG413" not in page
    assert "Traceback" not in page and "KeyError: &#39;v3&#39;" not in page
    assert "istio/vs.yaml:14" in page and "Define v3" in page
    assert "Zoë Ålander" in page and "Bücher ✓ ünïcode" in page
    assert "<svg" in page and "<details" in page and "jason" in page
    assert "4.5 <small>/ 9</small>" in page  # totals over shown checks only


def test_html_instructor_report_shows_everything(run: RunResult) -> None:
    page = html_report.render(run, instructor=True)
    assert not EXTERNAL.search(page) and "<script" not in page.lower()
    assert "HIDDEN-SECRET" in page and "KeyError: &#39;v3&#39;" in page
    assert "instructor view" in page


def test_traffic_bars_normalise() -> None:
    bars = html_report.traffic_bars({"counts": {"v1": 30, "v2": 10},
                                     "expected": {"v1": 75, "v3": 25}})
    assert [(b.label, b.count) for b in bars] == [("v1", 30), ("v3", 0), ("v2", 10)]
    assert [round(b.observed, 2) for b in bars] == [0.75, 0.0, 0.25]
    assert [round(b.expected, 2) for b in bars] == [0.75, 0.25, 0.0]
    assert html_report.traffic_bars({"counts": {"v1": 3}}) == []


def test_gradescope(run: RunResult) -> None:
    data = gradescope_report.to_dict(run)
    assert data["score"] == run.score and data["execution_time"] == 2
    tests = {t["name"].split()[0]: t for t in data["tests"]}
    assert len(tests) == len(run.checks)
    assert tests["MG122"]["name"] == (
        "MG122 subset-defined: Routes use subsets the DestinationRule defines")
    assert tests["MG122"]["status"] == "failed" and tests["MG111"]["status"] == "passed"
    assert tests["MG301"]["status"] == "failed" and "Traceback" not in tests["MG301"]["output"]
    assert "status" not in tests["MG412"]
    assert tests["MG413"]["visibility"] == "hidden"
    assert tests["my_extra"]["visibility"] == "after_due_date"
    assert "istio/vs.yaml:14" in tests["MG122"]["output"]
    assert {t["max_score"] for t in data["tests"]} <= {0, 1, 2, 3}


def test_github_annotations_escaped(run: RunResult) -> None:
    lines = github_report.annotations(run)
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)
    assert not any("HIDDEN" in line or "secret.yaml" in line for line in lines)
    assert lines[0].startswith(
        "::error file=istio/vs.yaml,line=14,title=MG122 subset-defined::"
        "spec.http[0].route[0].destination.subset: subset 'v3'")
    assert "%0AHint: Define v3" in lines[0]
    weird = next(line for line in lines if "weird" in line)
    assert "file=istio/vs%2Cweird%3Aname.yaml,line=22," in weird
    assert "weight 60%25, total 110" in weird
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert "::warning title=MG301 lab-reachable::check crashed: KeyError 'v3'" in lines
    assert github_report.escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert github_report.escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_github_summary_appended(run: RunResult, tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("previous step\n", encoding="utf-8")
    out = io.StringIO()
    assert github_report.write(run, env={"GITHUB_STEP_SUMMARY": str(target)}, stream=out) == target
    text = target.read_text(encoding="utf-8")
    assert text.startswith("previous step\n## meshgrade: not graded\n")  # MG301 errored
    assert "**Not graded**: MG301 lab-reachable could not run\\: check crashed" in text
    assert "| `MG122` subset-defined |" in text and "&lt;script&gt;" in text
    assert "MG413" not in text and "HIDDEN" not in text
    assert out.getvalue().count("::error ") == 2
    assert github_report.write(run, env={}, stream=io.StringIO()) is None


def test_console(run: RunResult) -> None:
    text = console.render(run, color=False)
    assert "\033[" not in text and "MG413" not in text
    assert re.search(r"^FAIL  MG122 +subset-defined +1/2$", text, re.M)
    assert "      istio/vs.yaml:14  spec.http[0].route[0].destination.subset: subset" in text
    assert "        hint: Define v3" in text
    # not gradable: the reason once at the top, after the mode, and no score line
    assert text.startswith("Mode: lab — a local mesh")
    assert "\nNOT GRADED: MG301 lab-reachable could not run: check crashed: KeyError 'v3'\n" \
        in text
    assert text.endswith("\nNot graded, no score  (2 passed, 2 failed, 1 error, 1 skipped)\n")
    assert "Score" not in text
    assert "\033[" in console.render(run, color=True)


def test_write_reports_all_formats(run: RunResult, tmp_path: Path, capsys) -> None:
    summary = tmp_path / "step.md"
    written = reports.write_reports(run, tmp_path / "out", reports.FORMATS,
                                    env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert written.ok, written.errors
    out = tmp_path / "out"
    assert written == {
        "json": out / "results.json", "junit": out / "junit.xml", "html": out / "report.html",
        "html-instructor": out / "report-instructor.html",
        "gradescope": out / "gradescope" / "results.json", "github": summary,
        "classroom": out / "classroom.json", "classroom-b64": out / "classroom.b64",
        "feedback": out / "feedback.md"}
    assert all(p.is_file() for p in written.values())
    assert "::error file=istio/vs.yaml" in capsys.readouterr().out


def test_no_instructor_html_when_nothing_is_withheld(run: RunResult, tmp_path: Path) -> None:
    run.checks = [c for c in run.checks if c.visibility is not Visibility.HIDDEN
                  and not c.traceback]
    written = reports.write_reports(run, tmp_path, ["html"], env={})
    assert set(written) == {"html"} and not (tmp_path / "report-instructor.html").exists()


def test_one_writer_crashing_leaves_the_others(run: RunResult, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> str:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(html_report, "render", boom)
    written = reports.write_reports(run, tmp_path, ["json", "html", "junit", "gradescope"],
                                    env={})
    assert set(written.errors) == {"html"}
    assert "template exploded" in str(written.errors["html"])
    assert set(written) == {"json", "junit", "gradescope"}
    assert not (tmp_path / "report.html").exists()
    assert not list(tmp_path.glob(".report.html.*"))  # no temp file left behind


def test_unknown_format_is_rejected(run: RunResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pdf"):
        reports.write_reports(run, tmp_path, ["json", "pdf"], env={})


def test_empty_run_writes_every_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    empty = RunResult(Submission("."), mode="repo", rubric="istio-full",
                      checks=[CheckResult("MG101", "odd", "", Outcome.ERROR,
                                          evidence={"counts": [1], "requests_log": "x",
                                                    "when": {1, 2}})])
    written = reports.write_reports(empty, tmp_path, reports.FORMATS)
    assert written.ok, written.errors
    empty.checks = []
    written = reports.write_reports(empty, tmp_path, reports.FORMATS)
    assert written.ok, written.errors
    root = ET.fromstring((tmp_path / "junit.xml").read_bytes())
    assert root.get("tests") == "0"
    assert "Score 0/0  (no checks)" in console.render(empty, color=False)


def test_traffic_charts_per_request_class_with_intervals() -> None:
    part = {"counts": {"v2": 43}, "expected": {"v2": 1.0}, "intervals": {"v2": [0.84, 1.0]},
            "requests": 43, "requests_log": [{"t": 0.1, "cls": "jason", "status": 200}]}
    charts = html_report.traffic_charts({"jason": part, "anonymous": {**part, "counts": {
        "v1": 43}, "expected": {"v1": 1.0}, "intervals": {"v1": [0.84, 1.0]}}})
    assert [c["title"] for c in charts] == ["jason", "anonymous"]
    assert charts[0]["bars"][0].interval == (0.84, 1.0) and charts[0]["log_total"] == 1
    single = html_report.traffic_charts(part)
    assert single[0]["title"] is None and single[0]["requests"] == 43
