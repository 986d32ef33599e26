"""Request counters like Istio's `istio_requests_total`, and the small PromQL subset the
Prometheus addon answers."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from typing import Any

METRIC = "istio_requests_total"
LABELS = ("destination_service_name", "destination_workload", "destination_version",
          "source_workload", "response_code", "reporter")

_IDENT = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SELECTOR = re.compile(rf"{METRIC}\s*(?:\{{(?P<matchers>.*)\}})?", re.S)
_MATCHER = re.compile(
    rf"\s*(?P<name>{_IDENT})\s*(?P<op>=~|!~|!=|=)\s*"
    r"""(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)')\s*(?P<sep>,|$)""", re.S)
_SUM_BY_AFTER = re.compile(r"sum\s*\((?P<expr>.*)\)\s*by\s*\((?P<by>[^()]*)\)", re.S)
_SUM_BY_BEFORE = re.compile(r"sum\s+by\s*\((?P<by>[^()]*)\)\s*\((?P<expr>.*)\)", re.S)
_SUM = re.compile(r"sum\s*\((?P<expr>.*)\)", re.S)

Matcher = tuple[str, str, str]  # label, operator, value


class QueryError(ValueError):
    """A query outside the supported PromQL subset."""


class Telemetry:
    """Thread-safe counters of the requests pods received (reporter "destination")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, ...]] = Counter()

    def record(self, destination_service_name: str, destination_workload: str,
               destination_version: str | None, source_workload: str | None,
               response_code: int | str, reporter: str = "destination") -> None:
        """Count one request."""
        key = (destination_service_name, destination_workload, destination_version or "unknown",
               source_workload or "unknown", str(response_code), reporter)
        with self._lock:
            self._counts[key] += 1

    def samples(self) -> list[tuple[dict[str, str], float]]:
        """Every series as (label set, counter value), in a stable order."""
        with self._lock:
            items = sorted(self._counts.items())
        return [(dict(zip(LABELS, key, strict=True)), float(count)) for key, count in items]

    def total(self, **labels: str) -> float:
        """Sum of the series whose labels equal all of ``labels``."""
        return sum(value for series, value in self.samples()
                   if all(series.get(k) == v for k, v in labels.items()))

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def query(self, promql: str) -> dict[str, Any]:
        """A Prometheus HTTP API answer (instant vector) for a supported query."""
        try:
            series = self._evaluate(promql.strip())
        except QueryError as exc:
            return {"status": "error", "errorType": "bad_data", "error": str(exc)}
        now = round(time.time(), 3)
        result = [{"metric": metric, "value": [now, _format(value)]} for metric, value in series]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    def _evaluate(self, promql: str) -> list[tuple[dict[str, str], float]]:
        for pattern in (_SUM_BY_BEFORE, _SUM_BY_AFTER):
            found = pattern.fullmatch(promql)
            if found:
                return _sum(self._select(found["expr"].strip()), _label_list(found["by"]))
        found = _SUM.fullmatch(promql)
        if found:
            return _sum(self._select(found["expr"].strip()), [])
        return self._select(promql)

    def _select(self, expr: str) -> list[tuple[dict[str, str], float]]:
        found = _SELECTOR.fullmatch(expr)
        if not found:
            raise QueryError(f"unsupported query {expr!r}: only {METRIC} selectors and sum")
        matchers = _parse_matchers(found["matchers"] or "")
        return [({"__name__": METRIC, **labels}, value) for labels, value in self.samples()
                if all(_matches(labels.get(name, ""), op, val) for name, op, val in matchers)]


def _parse_matchers(text: str) -> list[Matcher]:
    matchers: list[Matcher] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        found = _MATCHER.match(text, pos)
        if not found:
            raise QueryError(f"bad label matchers: {text!r}")
        raw = found["dq"] if found["dq"] is not None else found["sq"]
        value = re.sub(r"\\(.)", r"\1", raw)
        if found["op"] in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise QueryError(f"bad regex {value!r}: {exc}") from exc
        matchers.append((found["name"], found["op"], value))
        pos = found.end()
    return matchers


def _matches(actual: str, op: str, value: str) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


def _label_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if not re.fullmatch(_IDENT, name):
            raise QueryError(f"bad label name {name!r}")
    return names


def _sum(series: list[tuple[dict[str, str], float]],
         by: list[str]) -> list[tuple[dict[str, str], float]]:
    groups: dict[tuple[str, ...], float] = {}
    for labels, value in series:
        key = tuple(labels.get(name, "") for name in by)
        groups[key] = groups.get(key, 0.0) + value
    out = []
    for key, value in sorted(groups.items()):
        out.append(({name: v for name, v in zip(by, key, strict=True) if v}, value))
    return out


def _format(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
