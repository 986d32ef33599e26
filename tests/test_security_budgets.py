"""Budgets per submission (security issue, item 8): total YAML nodes after alias expansion,
documents, files and bytes; each exceeded budget is one MG101 finding and stops the reading."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshgrade.cli.main import main
from meshgrade.grading import registry
from meshgrade.grading.check import run
from meshgrade.grading.results import ExitCode
from meshgrade.grading.settings import Settings
from meshgrade.submission import yamlload
from meshgrade.submission.limits import Limits
from meshgrade.submission.loader import LoadedSubmission, load_folder
from meshgrade.submission.source import build_context

from .conftest import EXAMPLES

VS_HEAD = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs{i}}}
spec:
  hosts: [reviews]
  http:
"""  # 17 nodes
ANCHORED_RULE = """  - &r
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
"""  # 19 nodes
PLAIN_RULE = "  - route: [{destination: {host: reviews}}]\n"  # 8 nodes


def alias_rules(rules: int, i: int) -> str:
    """The issue's attack file: one VirtualService of ``rules`` rules, all but one aliases."""
    return VS_HEAD.format(i=i) + ANCHORED_RULE + "  - *r\n" * (rules - 1)


def config_map(i: int) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"


@dataclass
class Case:
    files: Callable[[], dict[str, str]]
    limits: Limits
    code: str
    budget: str
    tripped: str
    read: int  # files read (parsed), the tripped one included unless the budget is bytes
    message: tuple[str, ...]  # parts of the finding's text
    usage: tuple[int, int] | None = None  # nodes and documents parsed when it stopped


CASES = {
    # each file far under any per-file bound; the third brings the total over 1,000 nodes
    "nodes": Case(lambda: {f"vs{i:02}.yaml": VS_HEAD.format(i=i) + PLAIN_RULE * 40
                           for i in range(10)},
                  Limits(max_nodes=1000), "too-many-nodes", "max_nodes", "vs02.yaml", 3,
                  ("1,001 YAML nodes after expanding aliases, over the limit of 1,000",
                   "not read: the rest of this file (from line ", "and 7 more file(s)"),
                  (1001, 3)),
    # the issue's attack scaled down: 967 nodes a file, 50 rules of which 49 aliases
    "aliased nodes": Case(lambda: {f"vs{i:02}.yaml": alias_rules(50, i) for i in range(10)},
                          Limits(max_nodes=5000), "alias-bomb", "max_nodes", "vs05.yaml", 6,
                          ("over the limit of 5,000", "copies made by aliases",
                           "and 4 more file(s)")),
    "empty documents": Case(lambda: {f"e{i}.yaml": "---\n" * 500 for i in range(8)},
                            Limits(max_documents=1200), "too-many-documents", "max_documents",
                            "e2.yaml", 3,
                            ("1,201 YAML documents, over the limit of 1,200",
                             "the rest of this file (from line 201) and 5 more file(s)"),
                            (1200, 1201)),
    "files": Case(lambda: {f"c{i:02}.yaml": config_map(i) for i in range(30)},
                  Limits(max_files=20), "too-many", "max_files", "c20.yaml", 20,
                  ("more than 20 YAML files", "not read: this file and the files not yet "
                   "listed")),
    "bytes": Case(lambda: {f"c{i}.yaml": config_map(i) + "data: {a: " + "x" * 960 + "}\n"
                           for i in range(10)},
                  Limits(max_total_bytes=4500), "too-large", "max_total_bytes", "c4.yaml", 4,
                  ("5.0 KiB of YAML, over the limit of 4.4 KiB",
                   "not read: this file and 5 more file(s)")),
}


@pytest.mark.parametrize("name", CASES)
def test_budget_is_one_finding_and_stops_loading(name: str, make_repo: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    files = case.files()
    parsed: list[tuple[int, int]] = []
    real_parse = yamlload.parse

    def counting_parse(text: str, **kw: Any) -> Any:
        out = real_parse(text, **kw)
        parsed.append((kw["usage"].nodes, kw["usage"].documents))
        return out

    monkeypatch.setattr(yamlload, "parse", counting_parse)
    sub = load_folder(make_repo(files), limits=case.limits)
    monkeypatch.undo()

    (issue,) = [i for i in sub.issues if i.code == case.code]
    assert issue.file == case.tripped
    assert issue.message.startswith(f"submission budget {case.budget} exceeded: ")
    for part in case.message:
        assert part in issue.message
    assert len(sub.budget_exceeded) == 1
    assert sub.budget_exceeded[0].startswith(f"{case.budget}: ")
    assert sub.budget_exceeded[0].endswith(f"(in {case.tripped})")
    # what was read: only the files before the trip (and the tripped one when parsed)
    assert len(sub.files) == case.read
    assert sub.files == sorted(files)[: case.read]
    if case.usage is not None:
        assert parsed[-1] == case.usage
    (finding,) = [f for f in _mg101(sub) if f.file == case.tripped]
    assert finding.message == issue.message and finding.hint == issue.hint


def _mg101(sub: LoadedSubmission) -> list[Any]:
    report, _ = run(registry.get("MG101"), build_context(sub, Settings()))
    assert report.outcome.value == "failed"
    return list(report.findings)


def test_documents_before_the_trip_are_kept(make_repo: Any) -> None:
    root = make_repo({"a.yaml": config_map(0) + "---\n" + config_map(1) + "---\n"
                      + config_map(2), "b.yaml": config_map(3)})
    sub = load_folder(root, limits=Limits(max_nodes=20))
    assert [o.name for o in sub.objects] == ["c0", "c1"]
    assert sub.files == ["a.yaml"]


def test_aliases_share_the_anchored_value(make_repo: Any) -> None:
    sub = load_folder(make_repo({"vs.yaml": alias_rules(5, 0)}))
    (obj,) = sub.objects
    rules = obj.raw["spec"]["http"]
    assert len(rules) == 5 and all(rule is rules[0] for rule in rules)
    assert sub.budget_exceeded == []


def test_list_items_keep_their_own_lines(make_repo: Any) -> None:
    items = "".join(f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c{i}\n"
                    for i in range(12))
    sub = load_folder(make_repo({"l.yaml": "apiVersion: v1\nkind: List\nitems:\n" + items}))
    assert [o.name for o in sub.objects] == [f"c{i}" for i in range(12)]
    for i, obj in enumerate(sub.objects):
        assert obj.line == 4 + 4 * i
        assert obj.line_of("metadata.name") == 7 + 4 * i


@pytest.mark.parametrize("folder", ["part1-bookinfo", "part2-app", "broken"])
def test_coursework_is_within_the_budgets(folder: str) -> None:
    sub = load_folder(EXAMPLES / folder)
    assert sub.budget_exceeded == [] and sub.objects


def _expanded(value: Any, stop: int) -> int:
    """Nodes of ``value`` with shared parts counted each time (as YAML would write them),
    counting no further than ``stop``."""
    count, todo = 0, [value]
    while todo and count <= stop:
        item = todo.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)  # the keys
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return count


@st.composite
def _aliased_yaml(draw: st.DrawFn) -> str:
    """Documents of anchored flow collections, each made of scalars and aliases of the
    anchors before it (so expansions multiply), some merged into mappings with ``<<``."""
    docs = []
    for _ in range(draw(st.integers(1, 3))):
        lines = []
        for i in range(draw(st.integers(1, 8))):
            alias = st.integers(0, i - 1).map(lambda k: f"*a{k}") if i else st.just("y")
            items = draw(st.lists(st.one_of(st.sampled_from(["x", "1", "null", "''"]), alias),
                                  max_size=6))
            if draw(st.booleans()):
                body = "[" + ", ".join(items) + "]"
            else:
                merge = [f"<<: {draw(alias)}"] if draw(st.booleans()) else []
                body = "{" + ", ".join(merge + [f"k{j}: {v}" for j, v in enumerate(items)]) + "}"
            lines.append(f"- &a{i} {body}\n")
        docs.append("".join(lines))
    return "---\n".join(docs)


_TEXT = st.one_of(_aliased_yaml(), st.text(max_size=300),
                  st.lists(st.sampled_from(["a: &a [x, y]\n", "b: [*a, *a]\n", "---\n", "- *a\n",
                                            "? *a\n: 1\n", "c: [[[1]]]\n", "- !!str 3\n"]),
                           max_size=20).map("".join))


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, max_nodes=st.integers(1, 200), max_documents=st.integers(1, 5))
def test_parse_never_builds_more_than_its_budget(text: str, max_nodes: int,
                                                 max_documents: int) -> None:
    usage = yamlload.Usage()
    docs, issues = yamlload.parse(text, max_nodes=max_nodes, max_documents=max_documents,
                                  usage=usage)
    built = sum(_expanded(d.value, max_nodes) for d in docs)
    assert built <= max_nodes
    assert len(docs) <= max_documents
    over = {i.code for i in issues} & {"alias-bomb", "too-many-nodes", "too-many-documents"}
    assert bool(over) == (usage.nodes > max_nodes or usage.documents > max_documents)
    assert usage.documents <= max_documents + 1


def test_issue_attack_end_to_end_is_refused(tmp_path: Path) -> None:
    """The issue's attack with the default budgets, through the command line: ten 350 KB
    files of 50,000 alias-expanded rules (over 100 s in repo mode before the budgets)."""
    folder = tmp_path / "repo"
    folder.mkdir()
    for i in range(10):
        (folder / f"vs{i}.yaml").write_text(alias_rules(50_000, i))
    out = tmp_path / "reports"
    code = main(["grade", str(folder), "--mode", "repo", "--out", str(out),
                 "--format", "json", "--format", "junit", "--no-color"])
    assert code == ExitCode.FAILED
    assert (out / "junit.xml").is_file()
    run = json.loads((out / "results.json").read_text())
    mg101 = next(c for c in run["checks"] if c["id"] == "MG101")
    assert mg101["outcome"] == "failed" and mg101["evidence"]["files"] == 1
    (finding,) = mg101["findings"]
    assert finding["file"] == "vs0.yaml"
    assert finding["message"].startswith("submission budget max_nodes exceeded: ")
    assert "and 9 more file(s)" in finding["message"]
