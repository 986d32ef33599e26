"""``report.html``: one self-contained page (inline CSS and SVG, no scripts, no fetches).

The student report (``instructor=False``) leaves out ``hidden`` checks and tracebacks and
totals only the checks it shows; the instructor report shows everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from meshgrade.grading.results import CheckResult, Finding, Outcome, RunResult, Visibility
from meshgrade.reports.diagram_view import views as diagram_views
from meshgrade.reports.formatting import (
    fmt_points,
    jinja_env,
    shown_checks,
    totals,
    warnings,
    write_text,
)

FILENAME = "report.html"
INSTRUCTOR_FILENAME = "report-instructor.html"
LOG_COLUMNS = ("t", "cls", "status", "version", "latency_ms")
LOG_LIMIT = 1000
PARTS = (("part1", "Part 1 · Bookinfo routing", ("MG20",)),
         ("part2", "Part 2 · your application", ("MG21",)),
         ("install", "Installation", ("MG3",)),
         ("traffic", "Traffic through the gateway", ("MG4",)),
         ("files", "YAML files and Istio references", ("MG1",)),
         ("extra", "Instructor checks", ()))


@dataclass
class Bar:
    """One version in the traffic chart: observed share vs expected share (0..1)."""

    label: str
    count: int
    observed: float
    expected: float
    interval: tuple[float, float] | None = None   # the observed share's interval, if known


def _number(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0


def traffic_bars(evidence: dict[str, Any]) -> list[Bar]:
    """Bars from ``evidence["counts"]`` and ``evidence["expected"]`` (shares, percentages
    or weights: each side is normalised to sum 1). Empty when either is missing."""
    counts, expected = evidence.get("counts"), evidence.get("expected")
    if not isinstance(counts, dict) or not isinstance(expected, dict) or not counts:
        return []
    labels = list(dict.fromkeys([*expected, *counts]))
    n_total = sum(_number(v) for v in counts.values()) or 1.0
    e_total = sum(_number(v) for v in expected.values()) or 1.0
    given = evidence.get("intervals")
    intervals = given if isinstance(given, dict) else {}
    return [Bar(str(k), int(_number(counts.get(k))), _number(counts.get(k)) / n_total,
                _number(expected.get(k)) / e_total, _interval(intervals.get(k)))
            for k in labels]


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _number(value[0]), _number(value[1])
    return None


def traffic_charts(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """One chart per sampled request class: the evidence itself, or its per-class parts
    (``{"jason": {...counts...}, "anonymous": {...}}``)."""
    parts = [(None, evidence)] if "counts" in evidence else [
        (str(k), v) for k, v in evidence.items() if isinstance(v, dict) and "counts" in v]
    charts = []
    for title, part in parts:
        bars = traffic_bars(part)
        rows = _log_rows(part)
        if bars or rows:
            charts.append({"title": title, "bars": bars, "requests": part.get("requests"),
                           "log": rows[:LOG_LIMIT], "log_total": len(rows)})
    return charts


def _log_rows(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    log = evidence.get("requests_log")
    return [r for r in log if isinstance(r, dict)] if isinstance(log, list) else []


def _check_view(check: CheckResult, instructor: bool) -> dict[str, Any]:
    restricted = instructor and check.visibility is not Visibility.VISIBLE
    charts = traffic_charts(check.evidence)
    traceback = check.traceback if instructor else None
    return {
        "c": check,
        "points": f"{fmt_points(check.score)} / {fmt_points(check.max_score)}",
        "charts": charts,
        "traceback": traceback,
        "tag": str(check.visibility) if restricted else None,
        "warnings": warnings([check]),
        "compact": check.outcome in (Outcome.PASSED, Outcome.SKIPPED) and not check.findings
        and not charts and not traceback,
    }


def part_of(check_id: str) -> str:
    """The report section a check belongs to (a key of PARTS)."""
    return next((key for key, _title, prefixes in PARTS
                 if any(check_id.startswith(p) for p in prefixes)), "extra")


def _first_finding(check: CheckResult) -> Finding | None:
    found = [f for f in check.findings if f.is_error] or check.findings
    return found[0] if found else None


def to_fix(checks: list[CheckResult]) -> list[dict[str, Any]]:
    """Failed checks (and checks that crashed), most points lost first, each with its
    first finding and a hint; checks that did not run are left to the banner."""
    bad = [c for c in checks if c.outcome is Outcome.FAILED
           or (c.outcome is Outcome.ERROR and not c.not_run)]
    bad.sort(key=lambda c: -(c.max_score - c.score))  # stable: catalogue order on ties
    out = []
    for c in bad:
        first = _first_finding(c)
        out.append({"c": c, "lost": fmt_points(c.max_score - c.score), "finding": first,
                    "more": max(0, len(c.findings) - 1),
                    "hint": (first.hint if first and first.hint else None) or c.hint})
    return out


def parts(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks grouped by part, in PARTS order, with each part's points."""
    out = []
    for key, title, _prefixes in PARTS:
        mine = [v for v in views if part_of(v["c"].id) == key]
        if mine:
            score, max_score, counts = totals(v["c"] for v in mine)
            out.append({"key": key, "title": title, "checks": mine, "counts": counts,
                        "points": f"{fmt_points(score)} / {fmt_points(max_score)}"})
    return out


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja_env(Path(__file__).with_name("templates"))
    env.filters["pct"] = lambda x: f"{x * 100:.0f}%"
    env.filters["cell"] = lambda x: f"{x:.2f}" if isinstance(x, float) else x
    return env.get_template("report.html.j2")


def render(run: RunResult, *, instructor: bool = False) -> str:
    """The report as an HTML string."""
    checks = shown_checks(run, instructor=instructor)
    score, max_score, counts = totals(checks)
    views = [_check_view(c, instructor) for c in checks]
    return _template().render(
        run=run, instructor=instructor, checks=views, parts=parts(views),
        fix=to_fix(checks), diagrams=diagram_views(run.diagrams, {c.id for c in checks}),
        score=fmt_points(score), max_score=fmt_points(max_score),
        percent=round(100 * score / max_score) if max_score else None, counts=counts,
        log_columns=LOG_COLUMNS, log_limit=LOG_LIMIT)


def needs_instructor_report(run: RunResult) -> bool:
    """True when the student report leaves something out (a hidden check or a traceback)."""
    return any(c.visibility is Visibility.HIDDEN or c.traceback for c in run.checks)


def write(run: RunResult, out_dir: Path, *, instructor: bool = False) -> Path:
    """Write ``report.html`` (or ``report-instructor.html``) into ``out_dir``."""
    name = INSTRUCTOR_FILENAME if instructor else FILENAME
    return write_text(out_dir / name, render(run, instructor=instructor))
