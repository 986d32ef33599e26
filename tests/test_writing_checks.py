"""Checks are pytest tests: the README's instructor check, the ways a check body reports, the
one options model behind `meshgrade grade` and the pytest plugin, and `-k` on a check ID."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meshgrade.cli.main import build_parser, main
from meshgrade.grading import registry
from meshgrade.grading.check import Check, Findings, call, check, declared, run
from meshgrade.grading.options import OPTIONS, build
from meshgrade.grading.results import CheckReport, Outcome
from meshgrade.grading.rubric import load
from meshgrade.grading.settings import Settings

from .conftest import EXAMPLES, PATIENCE_S, REPO, context_for

README = (REPO / "README.md").read_text("utf-8")
PART1 = EXAMPLES / "part1-bookinfo"


def _readme_check() -> str:
    found = re.search(r"```python\n# instructor_checks/test_course.py\n(.*?)```", README, re.S)
    assert found, "README lost its instructor check example"
    return found.group(1)


def _grade_with_suite(tmp_path: Path, submission: Path) -> dict[str, Any]:
    suite = tmp_path / "instructor_checks"
    suite.mkdir(exist_ok=True)
    # a name of its own: pytest imports an instructor's test file by its name, once a process
    (suite / f"test_course_{tmp_path.name}.py").write_text(_readme_check(), "utf-8")
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(f"name: course\nchecks:\n  MG101: {{}}\nextra:\n  - path: {suite}\n")
    out = tmp_path / "out"
    main(["grade", str(submission), "--rubric", str(rubric), "--mode", "repo", "--out",
          str(out), "--format", "json"])
    data: dict[str, Any] = json.loads((out / "results.json").read_text("utf-8"))
    return {c["id"]: c for c in data["checks"]}


def test_the_readme_check_fails_with_file_and_line(tmp_path: Path) -> None:
    checks = _grade_with_suite(tmp_path, PART1)
    course = checks["COURSE-1"]
    assert course["outcome"] == "failed" and course["max_score"] == 2
    assert course["title"] == "The app's VirtualService retries failed requests"
    located = [f for f in course["findings"] if f.get("file") and f.get("line")]
    assert located and all(f["path"].startswith("spec.http[") for f in located)
    assert all(f["hint"].startswith("Add retries") for f in course["findings"])
    assert checks["MG101"]["outcome"] == "passed"


def test_the_readme_check_passes_when_every_rule_retries(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "vs.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n"
        "spec:\n  hosts: [reviews]\n  http:\n  - retries: {attempts: 3}\n"
        "    route:\n    - destination: {host: reviews}\n")
    checks = _grade_with_suite(tmp_path, sub)
    assert checks["COURSE-1"]["outcome"] == "passed", checks["COURSE-1"]
    assert checks["COURSE-1"]["score"] == 2


# -- what a check body may do ------------------------------------------------------------------

@check("T-1", title="asserts")
def _asserts(index: Any) -> None:
    assert index.latest("Gateway"), "no Gateway at all"


@check("T-2", title="skips")
def _skips(ctx: Any) -> None:
    pytest.skip("not this term")


@check("T-3", title="returns")
def _returns(ctx: Any) -> CheckReport:
    return CheckReport(Outcome.FAILED, "half", fraction=0.5)


@check("T-4", title="warns", reads=("repo",))
def _warns(index: Any, findings: Findings) -> None:
    findings.warning("just so you know", index.latest("VirtualService")[0], "spec.hosts")


@check("T-5", title="needs the cluster", reads=("cluster",))
def _live(cluster: Any) -> None:
    raise AssertionError("never runs without a cluster")


@check("T-6", title="asks for a fixture that only pytest has")
def _tmp(tmp_path: Path) -> None:
    pass


@pytest.mark.parametrize(("fn", "outcome", "words"), [
    (_asserts, Outcome.PASSED, "passed"),
    (_skips, Outcome.SKIPPED, "not this term"),
    (_returns, Outcome.FAILED, "half"),
    (_warns, Outcome.PASSED, "1 warning"),
    (_live, Outcome.SKIPPED, "no cluster or lab"),
    (_tmp, Outcome.ERROR, "only available under pytest"),
])
def test_a_check_body_reports_by_returning_findings_asserting_or_skipping(
        fn: Any, outcome: Outcome, words: str) -> None:
    spec = declared(fn)
    assert isinstance(spec, Check)
    report, _ = run(spec, context_for(PART1, Settings()))
    assert report.outcome is outcome and words in report.message, report


def test_a_failed_assert_is_a_located_failure_and_a_crash_an_error(tmp_path: Path) -> None:
    empty = context_for(tmp_path, Settings(bookinfo_baseline=False))
    report, _ = run(declared(_asserts), empty)  # type: ignore[arg-type]
    assert report.outcome is Outcome.FAILED and report.message == "no Gateway at all"

    def crash(ctx: Any) -> None:
        raise KeyError("spec")

    crashed = call(crash, {"ctx": empty}, Findings("T-7"))
    assert crashed.outcome is Outcome.ERROR and "KeyError" in (crashed.traceback or "")


def test_a_bad_declaration_is_refused() -> None:
    with pytest.raises(ValueError, match="reads must name"):
        check("T-9", title="x", reads=("disk",))  # type: ignore[arg-type]


# -- one options model ---------------------------------------------------------------------------

def _grade_parser() -> argparse.ArgumentParser:
    actions = build_parser()._subparsers._group_actions  # type: ignore[union-attr]
    return next(a for a in actions if isinstance(a, argparse._SubParsersAction)).choices["grade"]


def test_cli_and_plugin_offer_the_options_of_the_one_table(pytestconfig: pytest.Config) -> None:
    grade_flags = {s for a in _grade_parser()._actions for s in a.option_strings}
    for option in OPTIONS:
        assert (option.flag in grade_flags) is (option.where != "pytest"), option.flag
        if option.where != "cli":
            assert pytestconfig.getoption(option.name, default="absent") != "absent", option.flag
    table = README[README.index("## `meshgrade grade` options"):README.index("## Reports")]
    for option in OPTIONS:
        if option.where == "both":
            assert f"`{option.flag}" in table, f"README's options table lacks {option.flag}"


def test_cli_and_plugin_build_the_same_options(tmp_path: Path) -> None:
    words = ["--rubric", "istio-part1", "--mode", "repo", "--out", str(tmp_path),
             "--format", "json", "--seed", "7", "--context", "kind", "--namespace", "shop",
             "--fail-under", "80%", "--trust-kubeconfig", "--max-file-mib", "2"]
    args = build_parser().parse_args(["grade", str(PART1), *words])
    rubric = load("istio-part1", registry.checks())
    from_cli = build(vars(args), rubric, str(PART1), environ={})
    probe = subprocess.run(
        [sys.executable, "-c", _PYTEST_OPTIONS, str(PART1), *words], cwd=REPO,
        capture_output=True, text=True, timeout=PATIENCE_S)
    assert probe.returncode == 0, probe.stderr
    from_pytest = json.loads(probe.stdout.strip().splitlines()[-1])
    shown = {k: str(v) for k, v in vars(from_cli).items() if k != "rubric"}
    assert from_pytest == shown
    assert from_cli.kube_context == "kind" and from_cli.namespace == "shop"
    assert from_cli.limits.max_file_bytes == 2 * 1024 * 1024 and from_cli.trust_kubeconfig


# builds Options the way the plugin does, from pytest's own parser, and prints them
_PYTEST_OPTIONS = """
import json, sys
import pytest
from meshgrade.grading import registry
from meshgrade.grading.options import OPTIONS, build
from meshgrade.grading.rubric import load

class Probe:
    def pytest_configure(self, config):
        values = {o.name: config.getoption(o.name) for o in OPTIONS if o.where != "cli"}
        options = build(values, load(values["rubric"], registry.checks()),
                        values["submission"], environ={})
        print(json.dumps({k: str(v) for k, v in vars(options).items() if k != "rubric"}))
        raise SystemExit(0)

pytest.main(["-p", "meshgrade.plugin", "--submission", sys.argv[1], *sys.argv[2:]],
            plugins=[Probe()])
"""


@pytest.mark.slow
def test_pytest_k_runs_one_checks_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "-p", "no:cacheprovider", "--submission",
         str(PART1), "--rubric", "istio-part1", "--mode", "repo", "--out", str(tmp_path),
         "--format", "json", "-k", "MG204", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=PATIENCE_S * 3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout and "56 deselected" in proc.stdout
    data = json.loads((tmp_path / "results.json").read_text("utf-8"))
    assert [c["id"] for c in data["checks"]] == ["MG204"]
    assert data["checks"][0]["outcome"] == "passed"


def test_a_check_that_reads_the_repo_and_the_cluster_skips_without_a_cluster() -> None:
    report, _ = run(registry.get("MG309"), context_for(PART1, Settings()))
    assert report.outcome is Outcome.SKIPPED and "no cluster or lab" in report.message


def test_an_instructor_suite_may_import_its_own_helper_module(tmp_path: Path) -> None:
    suite = tmp_path / "instructor_checks"
    suite.mkdir()
    (suite / "course_helpers.py").write_text("WANTED = 'Gateway'\n", "utf-8")
    (suite / f"test_helped_{tmp_path.name}.py").write_text(
        "from course_helpers import WANTED\n\nfrom meshgrade import check\n\n\n"
        "@check('COURSE-9', title='uses a helper module', points=1)\n"
        "def test_helped(index):\n    assert index.latest(WANTED)\n", "utf-8")
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(f"name: course\nchecks:\n  MG101: {{}}\nextra:\n  - path: {suite}\n")
    out = tmp_path / "out"
    code = main(["grade", str(PART1), "--rubric", str(rubric), "--mode", "repo", "--out",
                 str(out), "--format", "json"])
    checks = {c["id"]: c for c in json.loads((out / "results.json").read_text())["checks"]}
    assert checks["COURSE-9"]["outcome"] == "passed", checks["COURSE-9"]
    assert code == 0
