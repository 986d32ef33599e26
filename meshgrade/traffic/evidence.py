"""Report evidence from samples: counts by version, errors by kind, latency and a compact
request log (the HTML report renders ``counts``, ``expected`` and ``requests_log``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .answers import (
    CONNECTION,
    ERROR_PAGE,
    LOGIN_FAILED,
    TIMEOUT,
    UNCLASSIFIABLE,
    VERSION,
    kind_of,
    phrase,
)
from .sampler import Sample

LOG_CAP = 2000
ERROR_KINDS = ("http_5xx", "http_4xx", "connection", "timeout", "login", "error_page",
               "unclassifiable")


_ERROR_KINDS_OF = {VERSION: None, CONNECTION: "connection", TIMEOUT: "timeout",
                   LOGIN_FAILED: "login", ERROR_PAGE: "error_page",
                   UNCLASSIFIABLE: "unclassifiable"}


def error_kind(sample: Sample) -> str | None:
    """Why a sample counts against a check (one of `ERROR_KINDS`, from its `answer_kind`;
    every other kind is an HTTP error status), or None when it was classified to a version."""
    kind = answer_kind(sample)
    if kind in _ERROR_KINDS_OF:
        return _ERROR_KINDS_OF[kind]
    return "http_5xx" if (sample.status or 0) >= 500 else "http_4xx"


def answer_kind(sample: Sample) -> str:
    """What a sample got back: one of the kinds in `answers`."""
    return kind_of(sample.error, sample.status, sample.version, sample.answer)


def _detail(sample: Sample, kind: str) -> str:
    """What tells answers of one kind apart: the version, the login error, the page's error."""
    if kind == VERSION:
        return f"{sample.version}" + (f" but {sample.problems[0]}" if sample.problems else "")
    if kind == LOGIN_FAILED:
        return (sample.error or "").removeprefix("login: ")
    if kind in (ERROR_PAGE, UNCLASSIFIABLE) and sample.problems:
        shown = next((p for p in sample.problems if p.startswith("error page: ")),
                     sample.problems[0])
        return shown.removeprefix("error page: ").split(" (page shows pod ")[0]
    return ""


def observed(samples: Sequence[Sample], limit: int = 5) -> str:
    """``of N requests: n (p%) <what they got> (e.g. x-request-id ...); ...``: the answers
    grouped by kind, status and detail, the most frequent first (errors before versions on
    a tie), each kind of error with the id of its first request."""
    if not samples:
        return "no request was sent"
    groups: dict[tuple[str, int | None, str], list[Sample]] = {}
    for s in samples:
        kind = answer_kind(s)
        groups.setdefault((kind, s.status, _detail(s, kind)), []).append(s)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0][0] == VERSION))
    parts = []
    for (kind, status, detail), group in ranked[:limit]:
        text = f"{len(group)} ({len(group) / len(samples):.0%}) {phrase(kind, status, detail)}"
        if kind != VERSION:
            login = "-login" if kind == LOGIN_FAILED else ""
            text += f" (e.g. x-request-id {group[0].request_id}{login})"
        parts.append(text)
    if len(ranked) > limit:
        rest = sum(len(g) for _, g in ranked[limit:])
        parts.append(f"{rest} more, {len(ranked) - limit} other kinds of answer")
    return f"of {len(samples)} requests: " + "; ".join(parts)


def counts_by_version(samples: Iterable[Sample]) -> dict[str, int]:
    """Classified samples per version, sorted by version."""
    counts = Counter(s.version for s in samples if s.version is not None)
    return dict(sorted(counts.items()))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def requests_log(samples: Sequence[Sample], cap: int = LOG_CAP) -> list[dict[str, Any]]:
    """The first ``cap`` samples as ``{t, cls, status, version, latency_ms, request_id}``."""
    return [{"t": s.t, "cls": s.cls, "status": s.status, "version": s.version,
             "latency_ms": s.latency_ms, "request_id": s.request_id} for s in samples[:cap]]


def summarize(samples: Sequence[Sample], *, expected: Mapping[str, float] | None = None,
              log_cap: int = LOG_CAP, max_problems: int = 10) -> dict[str, Any]:
    """Evidence for a check: ``requests``, ``counts`` (classified samples by version),
    ``counts_by_class``, ``errors`` (by kind), ``answers`` (by `answer_kind`),
    ``statuses`` ("None": no answer),
    ``error_share`` (every unclassified sample),
    ``latency_ms`` (p50/p95 of answered requests), the most frequent ``problems``,
    ``requests_log`` (capped; ``requests_log_total`` says how many there were) and
    ``expected`` when given."""
    samples = list(samples)
    kinds = Counter(kind for s in samples if (kind := error_kind(s)) is not None)
    by_class: dict[str, dict[str, int]] = {}
    for s in samples:
        row = by_class.setdefault(s.cls, {})
        key = s.version if s.version is not None else "error"
        row[key] = row.get(key, 0) + 1
    latencies = [s.latency_ms for s in samples if s.status is not None]
    problems = Counter(p for s in samples for p in s.problems)
    n_errors = sum(kinds.values())
    evidence: dict[str, Any] = {
        "requests": len(samples),
        "counts": counts_by_version(samples),
        "counts_by_class": {k: dict(sorted(v.items())) for k, v in sorted(by_class.items())},
        "errors": {kind: kinds.get(kind, 0) for kind in ERROR_KINDS},
        "answers": dict(Counter(answer_kind(s) for s in samples).most_common()),
        "statuses": dict(sorted(Counter(str(s.status) for s in samples).items())),
        "error_share": round(n_errors / len(samples), 4) if samples else 0.0,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "problems": dict(problems.most_common(max_problems)),
        "requests_log": requests_log(samples, log_cap),
        "requests_log_total": len(samples),
    }
    if expected is not None:
        evidence["expected"] = dict(expected)
    return evidence


summarise = summarize
