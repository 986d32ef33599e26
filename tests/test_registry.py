"""Meta-tests that keep the registry, the catalogue, the suites and the docs honest."""

from __future__ import annotations

import re

from meshgrade.cli.main import catalogue_markdown
from meshgrade.grading import catalogue, registry
from meshgrade.grading.rubric import builtin_names, load

from .conftest import REPO

REQUIRED = ["MG101", "MG102", "MG103", "MG104", "MG111", "MG112", "MG113", "MG114", "MG115",
            "MG116", *[f"MG1{n}" for n in range(21, 39)], *[f"MG20{n}" for n in range(1, 7)],
            *[f"MG21{n}" for n in range(1, 6)]]
LIVE = [*[f"MG30{n}" for n in range(1, 10)], *[f"MG40{n}" for n in range(1, 7)],
        "MG411", "MG412", "MG413"]


def test_ids_are_unique_sorted_and_well_formed() -> None:
    ids = list(registry.checks())
    assert ids == sorted(set(ids))
    assert all(re.fullmatch(r"MG[1-4]\d\d", i) for i in ids)
    names = [c.name for c in registry.checks().values()]
    assert len(names) == len(set(names))


def test_every_catalogued_check_is_implemented() -> None:
    checks = registry.checks()
    assert all(checks[i].implemented for i in REQUIRED + LIVE)
    assert set(checks) == set(REQUIRED) | set(LIVE)


def test_each_check_has_title_sources_and_docstring() -> None:
    for check in registry.checks().values():
        assert check.title and check.title[0].isupper() and len(check.title) < 110
        assert set(check.sources) <= {"repo", "cluster", "traffic"}
        if check.fn is not None:
            assert check.fn.__doc__ and check.fn.__doc__.startswith(check.id)


def test_message_templates_have_hints() -> None:
    for entry in catalogue.entries().values():
        for key, template in entry.messages.items():
            assert template.get("text") and template.get("hint"), f"{entry.id}.{key}"


def test_rubrics_name_only_known_checks() -> None:
    for name in builtin_names():
        assert set(load(name, set(registry.checks())).checks) <= set(registry.checks())


def test_suites_cover_every_check() -> None:
    prefixes = []
    for path in (REPO / "checks").glob("test_*.py"):
        for args in re.findall(r"params\(([^)]*)\)", path.read_text()):
            prefixes += re.findall(r'"(MG\d+)"', args)
    for cid in registry.checks():
        assert sum(cid.startswith(p) for p in prefixes) == 1, cid


def test_docs_catalogue_is_current() -> None:
    assert (REPO / "docs" / "checks.md").read_text("utf-8") == catalogue_markdown()
