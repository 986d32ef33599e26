"""Routing diagrams (issue 13): computed once per run from the routing model, carried in the
result model and results.json, drawn accessibly by report.html; the report starts with what
to fix."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import jsonschema
import pytest

from meshgrade.checklib.diagrams import observe
from meshgrade.grading import registry
from meshgrade.grading.results import (
    CheckResult,
    Finding,
    Outcome,
    RunResult,
    Submission,
    Visibility,
)
from meshgrade.grading.rubric import load
from meshgrade.grading.watch import grade
from meshgrade.reports import html_report, json_report
from meshgrade.reports.diagram_view import symbols, views
from meshgrade.routing.diagram import Diagram, Hop, Target

from .conftest import EXAMPLES


def _run(example: str, rubric: str) -> RunResult:
    return grade(EXAMPLES / example, load(rubric, set(registry.checks())))


@pytest.fixture(scope="module")
def part1() -> RunResult:
    return _run("part1-bookinfo", "istio-part1")


@pytest.fixture(scope="module")
def broken() -> RunResult:
    return _run("broken", "istio-part1")


def _hop(d: Diagram, service: str) -> Hop:
    return next(h for h in d.hops if h.service == service)


def _shares(hop: Hop) -> dict[str, dict[str, float]]:
    return {t.label: {c: round(s, 3) for c, s in t.shares.items()} for t in hop.targets}


def test_part1_stages_drawn_from_the_routing_model(part1: RunResult) -> None:
    found = {d.id: d for d in part1.diagrams}
    assert list(found) == ["part1-all-v1", "part1-jason", "part1-split", "part1-v3"]
    jason = found["part1-jason"]
    assert jason.classes == ["anonymous", "jason", "another user"]
    assert jason.checks == ["MG204", "MG404"]
    assert jason.stage == ["VirtualService default/reviews "
                           "(virtual-service-reviews-jason-v2.yaml:2)"]
    assert [h.caller for h in jason.hops] == ["ingress gateway", "productpage v1"]
    assert _shares(_hop(jason, "reviews")) == {
        "v1": {"anonymous": 1.0, "jason": 0.0, "another user": 1.0},
        "v2": {"anonymous": 0.0, "jason": 1.0, "another user": 0.0},
        "v3": {"anonymous": 0.0, "jason": 0.0, "another user": 0.0}}
    assert _shares(_hop(found["part1-split"], "reviews"))["v3"]["jason"] == 0.5
    assert [h.service for h in found["part1-all-v1"].hops] == [
        "productpage", "details", "reviews", "ratings"]
    assert not any(d.failed for d in part1.diagrams)


def test_failed_edges_are_marked(broken: RunResult) -> None:
    found = {d.id: d for d in broken.diagrams}
    reviews = {t.label: t for t in _hop(found["part1-jason"], "reviews").targets}
    assert reviews["v2"].failed == ["MG204"] and reviews["v2"].wanted["jason"] == 1.0
    assert reviews["v1"].failed == ["MG204"] and reviews["v3"].failed == []
    split = {t.label: t for t in _hop(found["part1-split"], "reviews").targets}
    assert split["503"].error and "subset 'v4' not defined" in split["503"].reason
    assert split["503"].failed == ["MG205"]
    entry = {t.label: t for t in found["part1-jason"].hops[0].targets}
    assert entry["404"].failed == ["MG201"]  # the gateway's own check, on the entry edge


def test_part2_header_and_weighted_stages() -> None:
    run = _run("part2-app", "istio-part2")
    header, weighted = run.diagrams
    assert header.classes == ["x-canary: true", "without the header"]
    assert _shares(header.hops[0]) == {"v1": {"x-canary: true": 0.0, "without the header": 1.0},
                                       "v2": {"x-canary: true": 1.0, "without the header": 0.0}}
    assert header.hops[0].caller == "ingress gateway"
    assert _shares(weighted.hops[0]) == {"v1": {"plain requests": 0.8},
                                         "v2": {"plain requests": 0.2}}


def test_no_bookinfo_pictures_for_a_part2_rubric() -> None:
    assert all(d.part == "Part 2" for d in _run("part2-app", "istio-part2").diagrams)


def test_diagrams_in_results_json_validate(broken: RunResult) -> None:
    data = json_report.to_data(broken)
    jsonschema.Draft202012Validator(json_report.load_schema()).validate(data)
    assert [d["id"] for d in data["diagrams"]] == [d.id for d in broken.diagrams]
    bad = dict(data, diagrams=[{**data["diagrams"][0], "colour": "red"}])
    assert not jsonschema.Draft202012Validator(json_report.load_schema()).is_valid(bad)


def _jason_hop() -> tuple[Hop, list[str]]:
    classes = ["anonymous", "jason", "another user"]
    wanted = {"anonymous": {"v1": 1.0}, "jason": {"v2": 1.0}, "another user": {"v1": 1.0}}
    targets = [Target(v, shares={c: wanted[c].get(v, 0.0) for c in classes},
                      wanted={c: wanted[c].get(v, 0.0) for c in classes})
               for v in ("v1", "v2", "v3")]
    return Hop("productpage v1", "reviews", "GET /reviews/0", targets), classes


def test_observed_shares_and_the_edge_a_traffic_check_failed_on() -> None:
    hop, classes = _jason_hop()
    evidence = {"jason": {"requests": 40, "counts": {"v3": 38}, "error_count": 2,
                          "decision": "fail", "error_share": 0.05},
                "anonymous": {"requests": 43, "counts": {"v1": 43}, "decision": "pass"}}
    check = CheckResult("MG404", "jason-v2-observed", "", Outcome.FAILED, evidence=evidence)
    observe(hop, check, classes)
    got = {t.label: t for t in hop.targets}
    assert hop.observed_by == "MG404"
    assert got["v3"].observed["jason"] == 0.95 and got["v3"].counts == {"jason": 38}
    assert got["errors"].error and got["errors"].observed["jason"] == 0.05
    assert got["v3"].failed == ["MG404"] and got["v2"].failed == ["MG404"]
    assert got["v1"].failed == []  # anonymous passed, jason never wanted v1
    assert got["v1"].observed == {"anonymous": 1.0, "jason": 0.0}


def _run_with(diagram: Diagram, checks: list[CheckResult]) -> RunResult:
    return RunResult(Submission("repo"), "lab", "istio-part1", checks=checks,
                     diagrams=[diagram])


def test_student_view_leaves_out_what_hidden_checks_saw() -> None:
    hop, classes = _jason_hop()
    hop.observed_by = "MG404"
    for t in hop.targets:
        t.observed = dict(t.shares)
        t.counts = {c: 43 for c, s in t.shares.items() if s}
    hop.targets[1].failed = ["MG404"]
    diagram = Diagram("part1-jason", "Part 1", "jason to v2", classes, ["MG204", "MG404"],
                      ["VirtualService default/reviews (vs.yaml:2)"], [hop])
    hidden = CheckResult("MG404", "jason-v2-observed", "", Outcome.FAILED, max_score=2,
                         visibility=Visibility.HIDDEN)
    shown = replace(hidden, visibility=Visibility.VISIBLE)
    student = html_report.render(_run_with(diagram, [hidden]))
    assert "seen 100%" not in student and "MG404" not in student
    visible = html_report.render(_run_with(diagram, [shown]))
    assert "seen 100% (86)" in visible and "✗ MG404" in visible
    (view,) = views([diagram], {"MG404"})
    assert view.observed_by == ["MG404"] and view.failed == ["MG404"]


def test_the_picture_is_accessible_and_self_contained(broken: RunResult) -> None:
    page = html_report.render(broken)
    assert "<script" not in page.lower()
    figures = re.findall(r'<figure class="diagram[^"]*" id="(part1-[a-z0-9-]+)"', page)
    assert figures == ["part1-all-v1", "part1-jason", "part1-split", "part1-v3"]
    svgs = re.findall(r'<svg class="graph"[^>]*>', page)
    assert len(svgs) == 4 and all('role="img"' in s and "aria-label=" in s for s in svgs)
    assert page.count("<desc id=\"diagram-") == 4 and page.count('<table class="alt">') == 4
    desc = re.search(r'<desc id="diagram-1-desc">(.*?)</desc>', page, re.S)
    assert desc and "jason 0% · wanted 100% (failed MG204)" in desc.group(1)
    assert 'viewBox="0 0 360 ' in page and 'width="780"' not in page  # narrow pictures


def test_student_text_is_escaped_in_pictures() -> None:
    hop, classes = _jason_hop()
    hop.caller = "<script>alert(1)</script>"
    hop.targets[0].label = '"><img src=x>'
    diagram = Diagram("d", "Part 1", "<b>t</b>", classes, [], [], [hop])
    page = html_report.render(_run_with(diagram, []))
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_starts_with_what_to_fix(broken: RunResult) -> None:
    page = html_report.render(broken)
    fix = page[page.index('id="fix"'):page.index('id="routing"')]
    ids = re.findall(r'<a href="#(MG\d+)">', fix)
    lost = {c.id: c.max_score - c.score for c in broken.checks}
    assert ids and [lost[i] for i in ids] == sorted((lost[i] for i in ids), reverse=True)
    assert set(ids) == {c.id for c in broken.checks if c.outcome is Outcome.FAILED}
    assert "Hint:" in fix and "reviews-canary.yaml" in fix
    order = [page.index(f'id="part-{key}"') for key in ("part1", "install", "traffic", "files")]
    assert order == sorted(order) and page.index('id="fix"') < page.index('id="routing"') \
        < order[0]


def test_what_to_fix_takes_the_first_error_finding_and_its_hint() -> None:
    checks = [CheckResult("MG122", "subset-defined", "t", Outcome.FAILED, score=1, max_score=2,
                          hint="check hint",
                          findings=[Finding("just a warning", severity="warning"),  # type: ignore[arg-type]
                                    Finding("the error", file="vs.yaml", line=3, hint="f hint")]),
              CheckResult("MG204", "route-jason-v2", "t", Outcome.FAILED, max_score=3,
                          message="no stage does this", hint="check hint 2")]
    fix = html_report.to_fix(checks)
    assert [x["c"].id for x in fix] == ["MG204", "MG122"]
    assert fix[0]["finding"] is None and fix[0]["hint"] == "check hint 2"
    assert fix[1]["finding"].message == "the error" and fix[1]["hint"] == "f hint"


def test_symbols_are_unique_letters() -> None:
    assert symbols(["anonymous", "jason", "another user"]) == {
        "anonymous": "A", "jason": "J", "another user": "U"}
    assert len(set(symbols(["a", "a b", "b a", "ab"]).values())) == 4


def test_diagrams_survive_a_json_round_trip(part1: RunResult) -> None:
    data = json.loads(json.dumps(part1.to_dict()))
    assert data["diagrams"][1]["hops"][1]["targets"][1]["shares"]["jason"] == 1.0
