"""Operating characteristics of the traffic tests: Monte Carlo and exact.

``simulate`` runs any test with the ``add``/``done``/``outcome``/``n`` protocol (SplitTest,
AllToOne, DocsMethod) against a true split. ``exact_operating_characteristic`` computes a
SplitTest's outcome probabilities and request-count distribution exactly, by dynamic
programming over the count lattice (practical when the true split puts its mass on two
categories plus, optionally, categories that fail at once).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .binomial import normalise
from .docs_method import DocsMethod
from .sequential import SplitTest

__all__ = ["simulate", "exact_operating_characteristic", "simulate_docs_method"]


class SequentialTest(Protocol):
    n: int
    outcome: str | None

    def add(self, version: str) -> None: ...

    def done(self) -> bool: ...


def _percentile(sorted_values: list[int], q: float) -> int:
    """The smallest value with at least a fraction q of the values at or below it."""
    if not sorted_values:
        return 0
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def simulate(test_factory: Callable[[], SequentialTest], p_true: Mapping[str, float],
             runs: int, seed: int, max_requests: int = 1_000_000) -> dict[str, Any]:
    """Run ``runs`` fresh tests on samples drawn from ``p_true`` (weights are normalised).

    Returns the pass, fail and inconclusive rates (``fail`` is the false-fail rate when
    ``p_true`` is the expected split, ``pass`` the miss rate when it is a wrong one), and the
    mean, 95th percentile and largest number of requests used."""
    shares = {v: s for v, s in normalise(p_true).items() if s > 0}
    names = list(shares)
    cumulative, total = [], 0.0
    for v in names:
        total += shares[v]
        cumulative.append(total)
    rng = random.Random(seed)
    draw, pick, last = rng.random, bisect.bisect_right, len(names) - 1
    outcomes = {"pass": 0, "fail": 0, "inconclusive": 0}
    used: list[int] = []
    for _ in range(runs):
        test = test_factory()
        add = test.add
        while not test.done():
            add(names[min(pick(cumulative, draw() * total), last)])
            if test.n >= max_requests:
                raise RuntimeError(f"the test did not stop within {max_requests} requests")
        outcomes[test.outcome or "inconclusive"] += 1
        used.append(test.n)
    used.sort()
    return {"runs": runs, **{k: v / runs for k, v in outcomes.items()},
            "mean_n": sum(used) / runs if runs else 0.0, "p95_n": _percentile(used, 0.95),
            "max_n": used[-1] if used else 0}


def simulate_docs_method(p_true: float, runs: int, seed: int, **kwargs: Any) -> dict[str, Any]:
    """Simulate the docs' method (see ``docs_method``) when the counted version's share is
    ``p_true``."""

    return simulate(lambda: DocsMethod("counted", **kwargs),
                    {"counted": p_true, "rest": 1.0 - p_true}, runs, seed)


def exact_operating_characteristic(test_factory: Callable[[], SplitTest],
                                   p_true: Mapping[str, float],
                                   max_states: int = 200_000) -> dict[str, Any]:
    """Exact outcome probabilities and request-count distribution of a SplitTest.

    Walks the distribution of (counts, acceptance bits) forward one sample at a time, using the
    test's own pure ``judge``; no states are pruned, so the results are exact up to floating
    point. Returns pass/fail/inconclusive probabilities, mean and 95th percentile of requests,
    and the largest request count reached with positive probability."""
    test = test_factory()
    shares = normalise(p_true)
    index = {v: i for i, v in enumerate(test.categories)}
    moves: dict[int, float] = {}
    for v, s in shares.items():
        if s > 0:
            i = index.get(v, len(test.categories) - 1)
            moves[i] = moves.get(i, 0.0) + s
    width = len(test.categories)
    live: dict[tuple[tuple[int, ...], int], float] = {((0,) * width, 0): 1.0}
    result = {"pass": 0.0, "fail": 0.0, "inconclusive": 0.0}
    stopped: list[tuple[int, float]] = []
    n = 0
    while live:
        n += 1
        following: dict[tuple[tuple[int, ...], int], float] = {}
        for (counts, accepted), mass in live.items():
            for i, share in moves.items():
                key = (counts[:i] + (counts[i] + 1,) + counts[i + 1:], accepted)
                following[key] = following.get(key, 0.0) + mass * share
        if len(following) > max_states:
            raise ValueError(f"more than {max_states} live states: use simulate() instead")
        live = {}
        ended = 0.0
        for (counts, accepted), mass in following.items():
            outcome, bits, _ = test.judge(counts, n, accepted)
            if outcome is None:
                key = (counts, bits)
                live[key] = live.get(key, 0.0) + mass
            else:
                result[outcome] += mass
                ended += mass
        if ended:
            stopped.append((n, ended))
    mean = math.fsum(k * m for k, m in stopped)
    cumulative, p95 = 0.0, stopped[-1][0]
    for k, m in stopped:
        cumulative += m
        if cumulative >= 0.95:
            p95 = k
            break
    return {**result, "mean_n": mean, "p95_n": p95, "max_n": stopped[-1][0]}
