"""The class outputs: ``gradebook.csv``, ``class-report.html`` (self-contained) and, with
``--compare``, ``regrade.csv``."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import jinja2
import yaml

from meshgrade import __version__
from meshgrade.batch.gradebook import dated, due_cells, with_due_columns
from meshgrade.reports.formatting import fmt_points, jinja_env, write_text
from meshgrade.reports.sinks import for_csv

from .copies import DEFAULT_SIMILARITY, Pair
from .regrade import REGRADE, StudentChange, regrade_csv
from .runner import LOG_NAME, BatchSummary, StudentResult

GRADEBOOK = "gradebook.csv"
CLASS_REPORT = "class-report.html"
BASE_COLUMNS = ("student", "submission", "commit", "rubric", "mode", "score", "max_score",
                "gradable", "reason")  # gradebook.DUE_COLUMNS follow "commit" when due
BINS = 10


def _text(value: Any) -> str:
    """A spreadsheet-safe text cell (``sinks.for_csv``); None is empty."""
    return for_csv("" if value is None else str(value))


def _num(value: Any) -> str:
    return fmt_points(float(value)) if isinstance(value, (int, float)) else ""


def _checks(res: StudentResult) -> list[dict[str, Any]]:
    checks = (res.results or {}).get("checks")
    return [c for c in checks if isinstance(c, dict) and c.get("id")] if checks else []


def _submission(res: StudentResult) -> dict[str, Any]:
    sub = (res.results or {}).get("submission")
    return sub if isinstance(sub, dict) else {}


def suspicious(summary: BatchSummary) -> list[tuple[StudentResult, list[str]]]:
    """Students whose graded history has suspicious commit dates, with the messages."""
    found = []
    for r in summary.results:
        odd = _submission(r).get("suspicious_dates")
        if isinstance(odd, list) and odd:
            found.append((r, [str(m) for m in odd]))
    return found


def check_ids(summary: BatchSummary) -> list[str]:
    """Every check ID seen in any student's results, sorted."""
    return sorted({str(c["id"]) for r in summary.results for c in _checks(r)})


def gradebook_csv(summary: BatchSummary, rubric: str) -> str:
    """The gradebook: one row per student in roster order, then points per check ID; the
    due-time columns when a due time chose any student's commit."""
    ids = check_ids(summary)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180: a CR in a cell gets quoted
    due = dated(_submission(r) for r in summary.results)
    writer.writerow([_text(c) for c in (*with_due_columns(BASE_COLUMNS, due), *ids)])
    for r in summary.results:
        data = r.results or {}
        sub = _submission(r)
        points = {str(c["id"]): c.get("score") for c in _checks(r)}
        writer.writerow([
            _text(r.row.student), _text(r.row.shown_submission), _text(sub.get("commit")),
            *(due_cells(sub) if due else ()), _text(data.get("rubric", rubric)),
            _text(data.get("mode") or r.row.mode), _num(r.score), _num(r.max_score),
            "true" if r.gradable else "false", _text(r.reason),
            *(_num(points.get(i)) for i in ids)])
    return buf.getvalue()


@dataclass
class CheckStat:
    """How the class did on one check (gradable students only)."""

    id: str
    name: str
    title: str
    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    common: str = ""
    common_count: int = 0

    @property
    def ran(self) -> int:
        return self.passed + self.failed + self.error

    @property
    def rate(self) -> float | None:
        return self.passed / self.ran if self.ran else None


def check_stats(summary: BatchSummary) -> list[CheckStat]:
    """Pass rate per check, worst first; checks nobody ran (all skipped) last."""
    stats: dict[str, CheckStat] = {}
    messages: dict[str, Counter[str]] = {}
    for r in summary.results:
        if not r.gradable:
            continue
        for c in _checks(r):
            cid = str(c["id"])
            st = stats.setdefault(cid, CheckStat(cid, str(c.get("name") or ""),
                                                 str(c.get("title") or "")))
            outcome = c.get("outcome")
            if outcome in ("passed", "failed", "error", "skipped"):
                setattr(st, outcome, getattr(st, outcome) + 1)
            if outcome in ("failed", "error"):
                found = [f.get("message") for f in c.get("findings") or []
                         if isinstance(f, dict) and f.get("severity", "error") == "error"]
                found = [str(m) for m in found if m] or [str(c.get("message") or "")]
                # count each message once per student
                messages.setdefault(cid, Counter()).update(set(filter(None, found)))
    for cid, counter in messages.items():
        if counter:
            stats[cid].common, stats[cid].common_count = counter.most_common(1)[0]
    return sorted(stats.values(),
                  key=lambda s: (s.rate is None, s.rate if s.rate is not None else 0, s.id))


class _StudentRow(TypedDict):
    """A student's row of the class report."""

    r: StudentResult
    pct: float | None
    report: str | None  # their report.html, when it exists
    log: str


def _percent(r: StudentResult) -> float | None:
    if r.score is None or not r.max_score:
        return None
    return 100.0 * float(r.score) / float(r.max_score)


def histogram(summary: BatchSummary) -> list[dict[str, Any]]:
    """Counts of gradable students per 10-point band of their percentage (100% in the top)."""
    counts = [0] * BINS
    for r in summary.results:
        pct = _percent(r) if r.gradable else None
        if pct is not None:
            counts[min(BINS - 1, max(0, int(pct // (100 / BINS))))] += 1
    width = 100 // BINS
    return [{"label": f"{i * width}–{(i + 1) * width}", "count": n}
            for i, n in enumerate(counts)]


def _svg_bars(bins: list[dict[str, Any]], width: int = 380, height: int = 200) -> dict[str, Any]:
    """Geometry for the inline SVG histogram (narrow enough to stay legible on a phone;
    the axis is labelled at the bins' edges)."""
    left, bottom, top = 36, 36, 14
    plot_h = height - bottom - top
    step = (width - left - 8) / len(bins)
    peak = max((b["count"] for b in bins), default=0) or 1
    bars = []
    for i, b in enumerate(bins):
        h = plot_h * b["count"] / peak
        bars.append({**b, "x": left + i * step + 3, "w": step - 6, "h": h,
                     "y": top + plot_h - h, "cx": left + i * step + step / 2,
                     "edge": left + i * step, "low": i * 100 // len(bins)})
    ticks = sorted({0, peak, (peak + 1) // 2}) if peak > 1 else [0, 1]
    return {"w": width, "h": height, "left": left, "base": top + plot_h, "top": top,
            "right": width - 8, "bars": bars,
            "ticks": [{"v": t, "y": top + plot_h - plot_h * t / peak} for t in ticks]}


def _as_yaml(value: Any) -> str:
    """An object as block YAML, keys in the student's order (for the side-by-side view)."""
    return str(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=72))


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja_env(Path(__file__).with_name("templates"))
    env.filters["pts"] = lambda x: "–" if x is None else fmt_points(float(x))
    env.filters["yaml"] = _as_yaml
    return env.get_template("class-report.html.j2")


def render(summary: BatchSummary, rubric: str, out: Path | None = None,
           regrade: list[StudentChange] | None = None, *, copies: list[Pair] | None = None,
           similarity: float = DEFAULT_SIMILARITY) -> str:
    """The class report as an HTML string; links to student reports that exist in ``out``;
    with ``regrade`` (``--compare``), the students whose grade moved; with ``copies``, the
    pairs of students at least ``similarity`` alike, side by side."""
    graded = [r for r in summary.results if r.gradable]
    pcts = [p for p in (_percent(r) for r in graded) if p is not None]
    students: list[_StudentRow] = [
        {"r": r, "pct": _percent(r),
         "report": (f"{r.row.folder}/report.html" if out is None
                    or (out / r.row.folder / "report.html").is_file() else None),
         "log": f"{r.row.folder}/{LOG_NAME}"} for r in summary.results]
    stats = {"mean": statistics.fmean(pcts) if pcts else None,
             "median": statistics.median(pcts) if pcts else None,
             "min": min(pcts) if pcts else None, "max": max(pcts) if pcts else None}
    return _template().render(
        rubric=rubric, version=__version__, students=students, stats=stats,
        total=len(summary.results), graded=len(graded), resumed=summary.resumed,
        not_gradable=[s for s in students if not s["r"].gradable],
        checks=check_stats(summary), svg=_svg_bars(histogram(summary)),
        suspicious=suspicious(summary), regrade=regrade, copies=copies,
        similarity=similarity, elapsed=summary.elapsed_s,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write(summary: BatchSummary, out: Path, rubric: str,
          regrade: list[StudentChange] | None = None, *, copies: list[Pair] | None = None,
          similarity: float = DEFAULT_SIMILARITY) -> tuple[Path, Path]:
    """Write ``gradebook.csv`` and ``class-report.html`` into ``out``, and ``regrade.csv``
    when ``regrade`` is given."""
    book = write_text(out / GRADEBOOK, gradebook_csv(summary, rubric))
    if regrade is not None:
        write_text(out / REGRADE, regrade_csv(regrade))
    report = write_text(out / CLASS_REPORT, render(summary, rubric, out, regrade, copies=copies,
                                                   similarity=similarity))
    return book, report
