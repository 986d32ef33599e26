"""meshgrade's static checks against istioctl analyze, on the grid of tests/istio_grid/
(benchmarks/istio_grid.py prints the figures): at least 90% of istioctl's messages found on
the same object, and no error finding on an object istioctl is silent about."""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from types import ModuleType
from typing import Any

from meshgrade.grading import catalogue

from .conftest import REPO


@lru_cache(maxsize=1)
def grid() -> ModuleType:
    spec = importlib.util.spec_from_file_location("istio_grid", REPO / "benchmarks" /
                                                  "istio_grid.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def results() -> list[Any]:
    return list(grid().evaluate())


def test_recall_of_istioctl_messages_is_at_least_90_percent() -> None:
    overall, per = grid().recall(results())
    missed = [(r.name, m) for r in results() for m in sorted(r.missed)]
    assert overall >= 0.9, f"recall {overall:.1%}: {per}; missed {missed}"


def test_no_error_on_objects_istioctl_is_silent_about() -> None:
    alarms = [a for r in results() for a in r.false_alarms]
    assert not alarms, "\n".join(alarms)


def test_the_grid_measures_every_message_type_in_scope() -> None:
    expected = {code for r in results() for code, _obj in r.expected}
    assert expected == set(grid().SCOPE)
    assert len(results()) >= 15 and all(r.objects for r in results())


def test_expectations_name_objects_of_their_case() -> None:
    for r in results():
        assert {obj for _code, obj in r.expected} <= r.objects, r.name


def test_the_mapping_names_catalogued_messages_and_codes_in_scope() -> None:
    for (cid, key), codes in grid().CODES.items():
        assert key == "*" or key in catalogue.messages(cid), (cid, key)
        assert set(codes) <= set(grid().SCOPE), (cid, key)
