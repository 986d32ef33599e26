"""Report evidence from samples: counts by version, errors by kind, latency and a compact
request log (the HTML report renders ``counts``, ``expected`` and ``requests_log``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .sampler import Sample

LOG_CAP = 2000
ERROR_KINDS = ("http_5xx", "http_4xx", "connection", "timeout", "login", "error_page",
               "unclassifiable")


def error_kind(sample: Sample) -> str | None:
    """Why a sample counts against a check (one of `ERROR_KINDS`), or None when it was
    classified to a version."""
    error = sample.error or ""
    if error.startswith(("connection", "timeout", "login")):
        return error.split(":", 1)[0]
    if sample.status is not None and sample.status >= 500:
        return "http_5xx"
    if sample.status is not None and sample.status >= 400:
        return "http_4xx"
    if error == "error page":
        return "error_page"
    return "unclassifiable" if sample.version is None else None


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
    ``counts_by_class``, ``errors`` (by kind), ``statuses`` ("None": no answer),
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
