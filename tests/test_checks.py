"""Table-driven check tests: one folder per case under tests/cases/<ID>/<case>/, each with
the submission's files and an expect.yaml (outcome, findings with file, line, path and
severity, ``error`` unless given)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshgrade.grading import catalogue, registry
from meshgrade.grading.check import run
from meshgrade.grading.results import Outcome, Severity

from .conftest import CASES, context_for

CASE_DIRS = sorted(p for p in CASES.glob("MG*/*") if p.is_dir())


def _load_expect(folder: Path) -> dict:
    return yaml.safe_load((folder / "expect.yaml").read_text("utf-8"))


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[f"{p.parent.name}/{p.name}" for p in CASE_DIRS])
def test_case(folder: Path) -> None:
    check = registry.get(folder.parent.name)
    expect = _load_expect(folder)
    report, _ = run(check, context_for(folder))
    shown = "\n".join(f"{f.severity} {f.file}:{f.line} {f.path} {f.message}"
                      for f in report.findings)
    assert report.outcome.value == expect["outcome"], f"{report.message}\n{shown}"
    for want in expect.get("findings", []):
        matches = [f for f in report.findings
                   if f.file == want["file"]
                   and ("line" not in want or f.line == want["line"])
                   and ("path" not in want or f.path == want["path"])
                   and f.severity.value == want.get("severity", "error")
                   and want.get("contains", "") in f"{f.message} {f.hint or ''}"]
        assert matches, f"no finding like {want}; got:\n{shown}"
    for f in report.findings:
        assert f.message and f.hint, f"finding without message or hint: {f}"
    # only error findings fail a check
    assert (report.outcome is Outcome.FAILED) == any(f.is_error for f in report.findings)
    if "fraction" in expect:
        assert report.fraction == pytest.approx(expect["fraction"], abs=0.01)


def test_every_check_has_a_passing_and_a_failing_case() -> None:
    """Static checks: case folders here. Live checks: the tables in test_live.py and the
    cluster tests (MG30x), which run them against the lab."""
    from . import test_live

    live = {cid for cid in registry.checks() if cid.startswith(("MG3", "MG4"))}
    assert live <= set(test_live.PASSING) | set(test_live.CLUSTER_TESTED)
    assert live <= set(test_live.FAILING) | set(test_live.CLUSTER_TESTED)
    for cid, check in registry.checks().items():
        if cid in live:
            continue
        expects = [_load_expect(p) for p in (CASES / cid).glob("*") if p.is_dir()]
        outcomes = {e["outcome"] for e in expects}
        levels = {catalogue.level(cid, key) for key in check.messages}
        assert "passed" in outcomes, f"{cid} lacks a passing case"
        if Severity.ERROR in levels:
            assert "failed" in outcomes, f"{cid} lacks a failing case"
        if levels - {Severity.ERROR}:  # a check with warnings shows one on a passing case
            assert any(e["outcome"] == "passed" and any(
                f.get("severity", "error") != "error" for f in e.get("findings", []))
                for e in expects), f"{cid} lacks a passing case with a warning"
