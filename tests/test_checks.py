"""Table-driven check tests: one folder per case under tests/cases/<ID>/<case>/, each with
the submission's files and an expect.yaml (outcome, findings with file, line, path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshgrade import registry
from meshgrade.check import run

from .conftest import CASES, context_for

CASE_DIRS = sorted(p for p in CASES.glob("MG*/*") if p.is_dir())


def _load_expect(folder: Path) -> dict:
    return yaml.safe_load((folder / "expect.yaml").read_text("utf-8"))


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[f"{p.parent.name}/{p.name}" for p in CASE_DIRS])
def test_case(folder: Path) -> None:
    check = registry.get(folder.parent.name)
    expect = _load_expect(folder)
    report, _ = run(check, context_for(folder))
    shown = "\n".join(f"{f.file}:{f.line} {f.path} {f.message}" for f in report.findings)
    assert report.outcome.value == expect["outcome"], f"{report.message}\n{shown}"
    for want in expect.get("findings", []):
        matches = [f for f in report.findings
                   if f.file == want["file"]
                   and ("line" not in want or f.line == want["line"])
                   and ("path" not in want or f.path == want["path"])
                   and want.get("contains", "") in f"{f.message} {f.hint or ''}"]
        assert matches, f"no finding like {want}; got:\n{shown}"
    for f in report.findings:
        assert f.message and f.hint, f"finding without message or hint: {f}"
    if "fraction" in expect:
        assert report.fraction == pytest.approx(expect["fraction"], abs=0.01)


def test_every_implemented_check_has_a_passing_and_a_failing_case() -> None:
    """Static checks: case folders here. Live checks: the tables in test_live.py and the
    cluster tests (MG30x), which run them against the lab."""
    from . import test_live

    live = {cid for cid in registry.checks() if cid.startswith(("MG3", "MG4"))}
    assert live <= set(test_live.PASSING) | set(test_live.CLUSTER_TESTED)
    assert live <= set(test_live.FAILING) | set(test_live.CLUSTER_TESTED)
    for cid, check in registry.checks().items():
        if not check.implemented or cid in live:
            continue
        outcomes = {_load_expect(p)["outcome"] for p in (CASES / cid).glob("*") if p.is_dir()}
        assert {"passed", "failed"} <= outcomes, f"{cid} lacks a passing or a failing case"
