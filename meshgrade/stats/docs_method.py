"""The official docs' check of a weighted split, the anchor meshgrade has to beat.

Istio's traffic-shifting task sends 100 requests and passes when the count of star pages is
strictly within 10 of the target (41 to 59 for 50%), retrying the whole batch up to 7 times.

Counting the retries: ``retries`` is the number of batches in all, the first one included
(the docs' other retried steps say "up to 7 attempts" the same way). Read so, the stated
figures come out: one batch fails a correct 50/50 split 5.69% of the time (5.7%), and a wrong
65/35 split passes one of 7 batches 60.7% of the time (61%). Seven retries *after* a first batch
(8 batches) would give 65.6%, which is not what the docs state.
"""

from __future__ import annotations

import math

from .binomial import binom_pmf
from .sequential import SplitVerdict

__all__ = ["docs_batch_pass_probability", "docs_method_pass_probability", "docs_method_requests",
           "DocsMethod"]


def _window(target: float, n: int, window: int, strict: bool) -> tuple[int, int]:
    """The passing counts [lo, hi] of one batch."""
    centre = round(target * n, 9)
    if strict:  # |count - centre| < window
        return math.floor(centre - window) + 1, math.ceil(centre + window) - 1
    return math.ceil(centre - window), math.floor(centre + window)


def docs_batch_pass_probability(p_true: float, target: float = 0.5, n: int = 100,
                                window: int = 10, strict: bool = True) -> float:
    """Exact probability that one batch of ``n`` passes when the counted version's true share
    is ``p_true``."""
    lo, hi = _window(target, n, window, strict)
    return math.fsum(binom_pmf(k, n, p_true) for k in range(max(lo, 0), min(hi, n) + 1))


def docs_method_pass_probability(p_true: float, target: float = 0.5, n: int = 100,
                                 window: int = 10, retries: int = 7, strict: bool = True) -> float:
    """Exact probability that the docs' method passes: one of ``retries`` batches (in all,
    the first included) lands in the window."""
    q = docs_batch_pass_probability(p_true, target, n, window, strict)
    return 1.0 - (1.0 - q) ** retries


def docs_method_requests(p_true: float, target: float = 0.5, n: int = 100, window: int = 10,
                         retries: int = 7, strict: bool = True) -> tuple[float, int]:
    """Exact (mean, 95th percentile) of the requests the docs' method sends."""
    q = docs_batch_pass_probability(p_true, target, n, window, strict)
    mean = n * sum((1.0 - q) ** i for i in range(retries))
    batches = 1
    while batches < retries and 1.0 - (1.0 - q) ** batches < 0.95:
        batches += 1
    return mean, n * batches


class DocsMethod:
    """The docs' method as a sequential test (same ``add``/``done``/``verdict`` protocol as
    :class:`SplitTest`), counting samples of ``version`` (Bookinfo: star pages, i.e. v3)."""

    def __init__(self, version: str, target: float = 0.5, n: int = 100, window: int = 10,
                 retries: int = 7, strict: bool = True) -> None:
        self.version, self.target, self.batch_size, self.retries = version, target, n, retries
        self.lo, self.hi = _window(target, n, window, strict)
        self.n = 0
        self.batches = 0
        self.in_batch = 0
        self.hits = 0
        self.last_count = 0
        self.outcome: str | None = None

    def add(self, version: str) -> None:
        if self.outcome is not None:
            return
        self.n += 1
        self.in_batch += 1
        self.hits += version == self.version
        if self.in_batch < self.batch_size:
            return
        self.batches += 1
        self.last_count = self.hits
        if self.lo <= self.hits <= self.hi:
            self.outcome = "pass"
        elif self.batches >= self.retries:
            self.outcome = "fail"
        self.in_batch = self.hits = 0

    def done(self) -> bool:
        return self.outcome is not None

    def verdict(self) -> SplitVerdict:
        k, size = self.last_count, self.batch_size
        counts = {self.version: k, "rest": size - k}
        expected = {self.version: self.target, "rest": 1.0 - self.target}
        observed = {v: c / size for v, c in counts.items()}
        outcome = self.outcome or "inconclusive"
        reason = (f"{self.version} {k} of {size} in batch {self.batches} "
                  f"(window {self.lo}-{self.hi}): {outcome}")
        return SplitVerdict(outcome, self.n, counts, expected, observed, {},
                            {"count": float(k), "lo": float(self.lo), "hi": float(self.hi),
                             "batches": float(self.batches)}, reason)
