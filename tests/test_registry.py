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


def test_every_check_is_declared_and_catalogued() -> None:
    checks = registry.checks()
    assert set(checks) == set(REQUIRED) | set(LIVE)
    assert set(catalogue.catalogued()) == set(checks)
    for cid, check in checks.items():
        assert check.points >= 0 and callable(check.fn), cid


def test_each_check_has_title_sources_and_docstring() -> None:
    for check in registry.checks().values():
        assert check.title and check.title[0].isupper() and len(check.title) < 110
        assert set(check.sources) <= {"repo", "cluster", "traffic"}
        assert check.fn.__doc__ and check.fn.__doc__.startswith(check.id)
        assert check.fn.__name__ == f"test_{check.name.replace('-', '_')}"


def test_message_templates_have_hints() -> None:
    for cid, templates in catalogue.catalogued().items():
        for key, template in templates.items():
            assert template.get("text") and template.get("hint"), f"{cid}.{key}"


def test_rubrics_name_only_known_checks() -> None:
    for name in builtin_names():
        assert set(load(name, registry.checks()).checks) <= set(registry.checks())


SUITES = {"MG10": "files", "MG11": "workloads", "MG12": "references", "MG13": "references",
          "MG20": "bookinfo", "MG21": "app", "MG30": "cluster", "MG40": "traffic",
          "MG41": "traffic"}


def test_each_check_lives_in_its_suite() -> None:
    """checks/test_<group>.py holds the code of its group's checks, and nothing else is
    declared as a check."""
    for cid, check in registry.checks().items():
        assert check.fn.__module__ == f"meshgrade.checks.test_{SUITES[cid[:4]]}", cid
    declared = set()
    for path in (REPO / "checks").glob("test_*.py"):
        declared |= set(re.findall(r'^@check\("(MG\d+)"', path.read_text(), re.M))
    assert declared == set(registry.checks())


def test_docs_catalogue_is_current() -> None:
    assert (REPO / "docs" / "checks.md").read_text("utf-8") == catalogue_markdown()
