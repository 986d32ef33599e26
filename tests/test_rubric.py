"""Rubrics: the built-in ones are valid; invalid ones fail with file and line."""

from __future__ import annotations

import pytest

from meshgrade.grading import registry
from meshgrade.grading.check import Check
from meshgrade.grading.results import CheckReport, Outcome, Visibility
from meshgrade.grading.rubric import CheckRule, RubricError, builtin_names, load, parse
from meshgrade.grading.scoring import score

KNOWN = set(registry.checks())


def test_builtin_rubrics_load_and_name_known_checks() -> None:
    assert builtin_names() == ["istio-full", "istio-part1", "istio-part2"]
    full = load("istio-full", KNOWN)
    for name in ("istio-part1", "istio-part2"):
        assert set(load(name, KNOWN).checks) <= set(full.checks)


@pytest.mark.parametrize("text, line, words", [
    ("name: x\nchecks:\n  MG101: {points: 1}\n  MG999: {points: 2}\n", 4, "unknown check ID"),
    ("name: x\nchecks:\n  MG101: {pionts: 1}\n", 3, "unknown key"),
    ("name: x\nchecks:\n  MG101: {points: -1}\n", 3, "points must be"),
    ("name: x\nchecks:\n  MG101: {visibility: secret}\n", 3, "must be one of"),
    ("name: x\nchecks:\n  MG101: {}\nsettings:\n  weights_total: true\n", 5, "unknown setting"),
    ("name: x\nchecks:\n  MG101: {}\nsettings:\n  expected_split: {v1: fifty}\n", 5,
     "must be a number"),
    ("name: x\nchecks:\n  MG101: {}\ngrading: 1\n", 4, "unknown key"),
    ("name: x\nchecks:\n  MG101: {}\n  MG101: {}\n", 4, "duplicate key"),
    ("name: x\nchecks: [MG101]\n", 2, "'checks' must map"),
    ("name: x\nchecks:\n  MG101: {}\nextra:\n- path: /nonexistent/folder\n", 5, "does not exist"),
])
def test_invalid_rubrics_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(RubricError) as err:
        parse(text, "r.yaml", KNOWN)
    assert any(p.startswith(f"r.yaml:{line}:") and words in p for p in err.value.problems), \
        err.value.problems


def test_rubric_fields() -> None:
    r = parse("name: x\ntitle: T\nchecks:\n  MG101: {points: 2.5, visibility: hidden, "
              "hint: h}\nsettings:\n  weights_total_100: false\n", "r.yaml", KNOWN)
    assert r.title == "T" and r.checks["MG101"].points == 2.5
    assert r.checks["MG101"].visibility is Visibility.HIDDEN
    assert r.settings.weights_total_100 is False


def test_unknown_rubric_name() -> None:
    with pytest.raises(RubricError, match="not a built-in rubric"):
        load("istio-part9", KNOWN)


CHECK: Check = registry.get("MG203")


@pytest.mark.parametrize("outcome, fraction, rule, got, max_score", [
    (Outcome.PASSED, None, CheckRule("MG203", 2), 2.0, 2.0),
    (Outcome.FAILED, 0.5, CheckRule("MG203", 2), 1.0, 2.0),
    (Outcome.FAILED, 0.5, CheckRule("MG203", 2, partial=False), 0.0, 2.0),
    (Outcome.FAILED, None, CheckRule("MG203", 2), 0.0, 2.0),
    (Outcome.SKIPPED, None, CheckRule("MG203", 2), 0.0, 0.0),
    (Outcome.SKIPPED, None, CheckRule("MG203", 2, count_skipped=True), 0.0, 2.0),
    (Outcome.ERROR, None, CheckRule("MG203", 2), 0.0, 2.0),
])
def test_scoring(outcome, fraction, rule, got, max_score) -> None:
    result = score(CHECK, rule, CheckReport(outcome, "m", fraction=fraction))
    assert (result.score, result.max_score) == (got, max_score)
