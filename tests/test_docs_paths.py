"""The Istio docs' own Part 1 paths (tests/docs_paths) score full marks, in repo mode and in
the lab: the classic API, and the Gateway API with or without bookinfo-versions.yaml and with
the older v1beta1 inline route; near misses fail the right check with a hint in the API the
student used."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from meshgrade.cli.main import main

from .conftest import CASES, TESTS

DOCS = TESTS / "docs_paths"
EXTRAS = DOCS / "extras"
JASON = "route-reviews-jason-v2.yaml"
NO_GROUP = CASES / "MG204" / "bad-gateway-api-no-group" / JASON
LIVE = ("MG401", "MG402", "MG403", "MG404", "MG405", "MG406")
Edit = Callable[[Path], None]


def _add(name: str, source: Path) -> Edit:
    return lambda folder: shutil.copyfile(source, folder / name)


def _replace(name: str, old: str, new: str) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / name
        assert old in path.read_text("utf-8")
        path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")
    return edit


def _renamed(folder: Path) -> None:
    """Each step's HTTPRoute under its own name (the student deletes the previous one)."""
    for file, name in (("route-reviews-v1.yaml", "reviews-all-v1"), (JASON, "reviews-jason"),
                       ("route-reviews-50-v3.yaml", "reviews-50-v3"),
                       ("route-reviews-v3.yaml", "reviews-v3-only")):
        _replace(file, "  name: reviews\n", f"  name: {name}\n")(folder)


PATHS: dict[str, tuple[str, list[Edit]]] = {
    "classic": ("classic", []),
    "gateway-api": ("gateway-api", []),
    "gateway-api with bookinfo-versions.yaml": (
        "gateway-api", [_add("bookinfo-versions.yaml", EXTRAS / "bookinfo-versions.yaml")]),
    "gateway-api, v1beta1 jason route": (
        "gateway-api", [_add(JASON, EXTRAS / "route-reviews-jason-v2-v1beta1.yaml")]),
    "gateway-api, one HTTPRoute name per step": ("gateway-api", [_renamed]),
}


def submission(tmp_path: Path, base: str, edits: list[Edit]) -> Path:
    folder = tmp_path / "sub"
    shutil.copytree(DOCS / base, folder)
    for edit in edits:
        edit(folder)
    return folder


def grade(tmp_path: Path, folder: Path, mode: str) -> dict:
    out = tmp_path / "out"
    main(["grade", str(folder), "--rubric", "istio-part1", "--mode", mode, "--out", str(out),
          "--format", "json", "--seed", "7", "--no-color"])
    results: dict = json.loads((out / "results.json").read_text("utf-8"))
    return results


def checks(results: dict) -> dict[str, dict]:
    return {c["id"]: c for c in results["checks"]}


def assert_full_marks(results: dict) -> None:
    bad = {c["id"]: (c["outcome"], c["message"]) for c in results["checks"]
           if c["outcome"] in ("failed", "error")}
    assert not bad, bad
    assert results["gradable"] and results["score"] == results["max_score"] > 0


@pytest.mark.parametrize("mode", ["repo", pytest.param("lab", marks=pytest.mark.slow)])
@pytest.mark.parametrize("path", list(PATHS))
def test_the_docs_paths_score_full_marks(tmp_path: Path, path: str, mode: str) -> None:
    base, edits = PATHS[path]
    results = grade(tmp_path, submission(tmp_path, base, edits), mode)
    assert results["mode"] == mode
    assert_full_marks(results)
    got = checks(results)
    for cid in ("MG201", "MG202", "MG203", "MG204", "MG205", "MG206"):
        assert got[cid]["outcome"] == "passed", got[cid]["message"]
    if mode == "lab":
        assert all(got[cid]["outcome"] == "passed" for cid in LIVE)
    if base == "gateway-api":  # the services with one version need no rule and no subset
        for name in ("productpage", "ratings", "details"):
            assert f"{name}: only v1 is deployed, no rule needed" in got["MG203"]["message"]
        assert "reviews v3: Service default/reviews-v3" in got["MG202"]["message"]


@pytest.mark.slow
def test_the_stage_applied_in_the_lab_replaces_the_other_steps(tmp_path: Path) -> None:
    """With one HTTPRoute per step, all attached to Service reviews in the lab, the jason
    stage is sampled with the others taken out, as the student's own sequence did."""
    results = grade(tmp_path, submission(tmp_path, "gateway-api", [_renamed]), "lab")
    mg404 = checks(results)["MG404"]
    assert mg404["outcome"] == "passed"
    assert sorted(mg404["evidence"]["taken_out"]) == [
        f"HTTPRoute default/{name} (route-reviews-{file}.yaml:{line})"
        for name, file, line in (("reviews-50-v3", "50-v3", 2), ("reviews-all-v1", "v1", 3),
                                 ("reviews-v3-only", "v3", 2))]


def test_a_wrong_jason_rule_in_gateway_api_form(tmp_path: Path) -> None:
    folder = submission(tmp_path, "gateway-api", [_replace(JASON, "name: end-user",
                                                           "name: x-user")])
    mg204 = checks(grade(tmp_path, folder, "repo"))["MG204"]
    assert mg204["outcome"] == "failed"
    finding = mg204["findings"][0]
    assert "route-reviews-jason-v2.yaml:3: jason: v1 100%" in finding["message"]
    assert finding["hint"].startswith("In HTTPRoute reviews (parentRef group \"\", kind "
                                      "Service, name reviews, port 9080)")
    assert "VirtualService" not in finding["hint"] and "subset" not in finding["hint"]


@pytest.mark.slow
def test_the_pre_2023_inline_route_is_not_attached(tmp_path: Path) -> None:
    """A Service parentRef without group defaults to gateway.networking.k8s.io, which Istio
    1.19 and later (the course runs 1.24) reject: reviews stays spread over v1-v3."""
    folder = submission(tmp_path, "gateway-api", [_add(JASON, NO_GROUP)])
    results = grade(tmp_path, folder, "lab")
    got = checks(results)
    assert got["MG204"]["outcome"] == got["MG404"]["outcome"] == "failed"
    assert "not attached: its parentRef of kind Service has no group" in \
        got["MG204"]["findings"][0]["message"]
    others = [c for cid, c in got.items() if cid not in ("MG204", "MG404")]
    assert all(c["outcome"] in ("passed", "skipped") for c in others)


@pytest.mark.slow
def test_a_wrong_split_in_gateway_api_form(tmp_path: Path) -> None:
    folder = submission(tmp_path, "gateway-api", [_replace(
        "route-reviews-50-v3.yaml", "weight: 50}\n    - {name: reviews-v3, port: 9080, weight: 50",
        "weight: 80}\n    - {name: reviews-v3, port: 9080, weight: 20")])
    got = checks(grade(tmp_path, folder, "lab"))
    assert got["MG205"]["outcome"] == got["MG405"]["outcome"] == "failed"
    finding = got["MG205"]["findings"][0]
    assert "v1 80%, v3 20%" in finding["message"]
    assert "reviews-v1 weight 50 and reviews-v3 weight 50" in finding["hint"]
    assert got["MG405"]["evidence"]["decision"] == "fail"
