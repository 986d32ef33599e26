"""Sequential verdicts on observed traffic splits.

Design: per version with expected share e (0 < e < 1), on its count k among n samples:

- **fail** as soon as a two-sided *mixture* likelihood ratio, sum_j w_j LR(theta_j : e), reaches
  1/alpha_i. Its components sit at e +- f delta for f in ``REJECT_AT`` and at the extreme
  share (0 or 1) of each side that exists, weights normalised to 1;
- **accept** one side (theta1 = e + delta or e - delta) as soon as sum_j v_j LR(m_j : theta1)
  reaches 1/beta, with m_j a fraction g of the way from e to theta1 (``ACCEPT_AT``).

The split fails when any version rejects (at any time, even after it accepted) and passes once
every side of every version has accepted (sticky) and n >= min_n; max_n is a hard cap, the only
way to 'inconclusive'. Shares of 0 or 1 and the 'other' bucket get the fail-on-any rule
(accepted after fail_on_any_sample_size(delta, 1 - beta) = 43 samples).

Why: the acceptance mixture is mostly Wald's (m = e: the fastest acceptance of a correct split)
and partly nearer theta1, and the rejection mixture reaches from near e to the extreme share, so
a far-off split fails within a few dozen requests and the two boundaries still meet: the test is
naturally truncated (725 requests at most for 50/50 and delta 0.15) with a worst-case mean below
the 2-SPRTs' it replaces. The weights were chosen by exact computation over the lattice.
50/50, alpha = beta = 0.001, delta 0.15: mean 208.5 requests for a correct split (the 2-SPRTs:
243; Wald's SPRT: 207, but 582 and unbounded at 57.5/42.5), 57 to reject 80/20, 14 to reject
100/0, at most 385 for any true share, the 2-SPRTs' 392 (``benchmarks/sampling.py``).

Error rates are exact inequalities, not Wald's approximations: a mixture of likelihood ratios
against e is a martingale under e, so by Ville's inequality it ever reaches 1/alpha_i with
probability <= alpha_i; sum_j v_j LR(m_j : theta1) with every m_j between e and theta1 is a
supermartingale for every share at or beyond theta1, so a version delta or more off is accepted
with probability <= beta. Hence false-fail <= sum alpha_i = alpha, and miss <= beta with no
correction (a pass needs every side). The exact values (below the bounds: overshoot, and a
boundary the other one pre-empts) come from ``simulate.exact_operating_characteristic``.

Budgeting alpha: with two positive shares the second version's statistics mirror the first's
exactly (its count is n - k and its components mirror), so the first version gets all of alpha;
with three or more, alpha is split evenly over them.

Each statistic is monotone or convex in k, so for every n the decisions are a few integer
thresholds on k, computed once per n (``_Bounds``) and shared by every run and state.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .binomial import clopper_pearson, fail_on_any_sample_size, normalise

__all__ = ["OTHER", "SplitVerdict", "SplitTest", "AllToOne", "REJECT_AT", "ACCEPT_AT"]

OTHER = "other"
_CLIP = 999.0  # shown log-likelihood ratios are clipped (a sample impossible under one side)

# the rejection mixture, on each side that exists: (fraction of delta from e, weight), and the
# weight of that side's extreme share (0 or 1); normalised over both sides
REJECT_AT = ((0.6, 0.55), (0.8, 0.08), (1.0, 0.10), (2.5, 0.04))
REJECT_EXTREME = 0.23
# one side's acceptance mixture: (fraction of the way from e to theta1, weight)
ACCEPT_AT = ((0.0, 0.50), (0.2, 0.12), (0.35, 0.38))


@dataclass
class SplitVerdict:
    """The decision on one sampled split and the evidence behind it."""

    outcome: str  # "pass" | "fail" | "inconclusive"
    n: int  # classified samples used
    counts: dict[str, int]
    expected: dict[str, float]  # normalised shares
    observed: dict[str, float]
    intervals: dict[str, tuple[float, float]]  # Clopper-Pearson
    statistic: dict[str, float]  # log-likelihood ratios and thresholds
    reason: str


def _log_ratio(x: float, y: float) -> float:
    """log(x / y) with log(0/0) = 0."""
    if x == y:
        return 0.0
    if y == 0.0:
        return math.inf
    if x == 0.0:
        return -math.inf
    return math.log(x / y)


def _term(count: int, coef: float) -> float:
    return 0.0 if count == 0 else count * coef


@dataclass(frozen=True)
class _Mixture:
    """log sum_j w_j LR(theta_j : ref) after k of n samples, as terms
    (log w_j, log(theta_j / ref), log((1 - theta_j) / (1 - ref)))."""

    terms: tuple[tuple[float, float, float], ...]

    @classmethod
    def of(cls, components: Sequence[tuple[float, float]], ref: float) -> _Mixture:
        total = math.fsum(w for _t, w in components)
        return cls(tuple((math.log(w / total), _log_ratio(t, ref), _log_ratio(1 - t, 1 - ref))
                         for t, w in components))

    def __call__(self, k: int, n: int) -> float:
        logs = [lw + _term(k, a) + _term(n - k, b) for lw, a, b in self.terms]
        top = max(logs)
        if math.isinf(top):
            return top
        return top + math.log(math.fsum(math.exp(x - top) for x in logs))


def _below(stat: Callable[[int, int], float], n: int, limit: float, k: int) -> bool:
    return stat(k, n) < limit


def _at_least(stat: Callable[[int, int], float], n: int, limit: float, k: int) -> bool:
    return stat(k, n) >= limit


def _first(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """The smallest k in [lo, hi] with pred(k), for pred false then true; hi + 1 if none."""
    while lo <= hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid - 1
        else:
            lo = mid + 1
    return lo


Interval = tuple[int, int]  # k in [low, high]; empty when low > high
_BOUNDS: dict[tuple[object, ...], dict[int, tuple[Interval, tuple[Interval, ...]]]] = {}


class Version:
    """One version's rejection statistic and its sides' acceptance statistics."""

    def __init__(self, index: int, name: str, share: float, delta: float, alpha_i: float,
                 beta: float) -> None:
        self.index, self.name, self.share = index, name, share
        self.sure = share in (0.0, 1.0)  # fail on any stray sample
        self.sides = tuple(min(1.0, max(0.0, t)) for t in (share + delta, share - delta)
                           if -1e-12 <= t <= 1.0 + 1e-12)
        accept_at = ((0.0, 1.0),) if self.sure else ACCEPT_AT
        self.accepts = tuple(_Mixture.of([(share + g * (t1 - share), w) for g, w in accept_at],
                                         t1) for t1 in self.sides)
        rejects: list[tuple[float, float]] = []
        for t1 in () if self.sure else self.sides:
            sign = 1.0 if t1 > share else -1.0
            rejects += [(t, w) for f, w in REJECT_AT if 0.0 < (t := share + sign * f * delta) < 1.0]
            rejects.append((1.0 if sign > 0 else 0.0, REJECT_EXTREME))
        self.reject = _Mixture.of(rejects, share) if rejects else None
        self.log_a = -math.log(alpha_i) if rejects else math.inf
        self.log_b = -math.log(beta)
        # shared by every test of the same statistics (a simulation makes thousands)
        key = (share, delta, alpha_i, beta, REJECT_AT, REJECT_EXTREME, ACCEPT_AT)
        if len(_BOUNDS) > 256 and key not in _BOUNDS:
            _BOUNDS.clear()
        self._bounds = _BOUNDS.setdefault(key, {})

    def label(self, t1: float) -> str:
        return f"{self.name} {'>=' if t1 > self.share else '<='} {t1:.2f}"

    def bounds(self, n: int) -> tuple[Interval, tuple[Interval, ...]]:
        """After n samples: the counts that do not reject, and each side's accepting counts
        (the rejection statistic is convex in k, each acceptance one monotone)."""
        if n not in self._bounds:
            self._bounds[n] = self._compute(n)
        return self._bounds[n]

    def _compute(self, n: int) -> tuple[Interval, tuple[Interval, ...]]:
        if self.reject is None:  # a sure share: every other sample is impossible
            keep = (0, 0) if self.share == 0.0 else (n, n)
        else:
            f, a = self.reject, self.log_a
            lo, hi = 0, n  # the minimum of the convex statistic, by bisection on its slope
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (mid + 1, hi) if f(mid + 1, n) < f(mid, n) else (lo, mid)
            keep = (1, 0) if f(lo, n) >= a else (
                _first(0, lo, lambda k: f(k, n) < a), _first(lo, n, lambda k: f(k, n) >= a) - 1)
        sides = []
        for t1, g in zip(self.sides, self.accepts, strict=True):
            if t1 > self.share:  # accepts at small counts
                sides.append((0, _first(0, n, functools.partial(_below, g, n, self.log_b)) - 1))
            else:
                sides.append((_first(0, n, functools.partial(_at_least, g, n, self.log_b)), n))
        return keep, tuple(sides)


class SplitTest:
    """Sequential test that an observed split matches ``expected`` (weights or shares)."""

    def __init__(self, expected: Mapping[str, float], *, delta: float = 0.15,
                 alpha: float = 0.001, beta: float = 0.001, max_n: int = 2000,
                 min_n: int = 20) -> None:
        if len(expected) < 2:
            raise ValueError("a split needs two or more versions (use AllToOne for one)")
        if OTHER in expected:
            raise ValueError(f"{OTHER!r} is reserved for versions outside the expectation")
        if not (0 < delta < 1 and 0 < alpha < 1 and 0 < beta < 1 and 1 <= min_n <= max_n):
            raise ValueError("need 0 < delta, alpha, beta < 1 and 1 <= min_n <= max_n")
        self.delta, self.alpha, self.beta = delta, alpha, beta
        self.max_n, self.min_n = max_n, min_n
        self.shares = normalise(expected)
        self.categories = [*self.shares, OTHER]
        self._index = {v: i for i, v in enumerate(self.categories)}
        shares = [*self.shares.values(), 0.0]
        positive = [i for i, s in enumerate(shares) if s > 0]
        spent = [i for i in positive if shares[i] < 1.0]
        self.alpha_each = alpha / max(1, 1 if len(positive) == 2 else len(spent))
        self.tests = [Version(i, name, shares[i], delta, self.alpha_each, beta)
                      for i, name in enumerate(self.categories)]
        self._bits = [(t, sum(len(u.sides) for u in self.tests[:j]))
                      for j, t in enumerate(self.tests)]
        self._all = (1 << sum(len(t.sides) for t in self.tests)) - 1
        self.counts = [0] * len(self.categories)
        self.n = 0
        self.accepted = 0  # bit per side of each version: it has reached its acceptance boundary
        self.outcome: str | None = None
        self.decider: int | None = None  # the version that rejected

    def judge(self, counts: tuple[int, ...] | list[int], n: int,
              accepted: int) -> tuple[str | None, int, int | None]:
        """The decision after ``n`` samples with these counts: (outcome or None, the updated
        acceptance bits, the rejecting version). Pure; the exact operating characteristic
        uses it."""
        for j, (test, first) in enumerate(self._bits):
            k = counts[test.index]
            (low, high), sides = test.bounds(n)
            if not low <= k <= high:
                return "fail", accepted, j
            for s, (a, b) in enumerate(sides):
                if a <= k <= b:
                    accepted |= 1 << (first + s)
        if accepted == self._all and n >= self.min_n:
            return "pass", accepted, None
        if n >= self.max_n:
            return "inconclusive", accepted, None
        return None, accepted, None

    def add(self, version: str) -> None:
        """Record one classified sample (unknown versions count as 'other')."""
        if self.outcome is not None:
            return
        self.counts[self._index.get(version, len(self.categories) - 1)] += 1
        self.n += 1
        self.outcome, self.accepted, self.decider = self.judge(self.counts, self.n,
                                                               self.accepted)

    def done(self) -> bool:
        return self.outcome is not None

    def _statistic(self) -> dict[str, float]:
        statistic: dict[str, float] = {"alpha per version": self.alpha_each, "beta": self.beta,
                                       "delta": self.delta}
        for test in self.tests:
            k = self.counts[test.index]
            if test.reject is None:  # fail-on-any: a count of impossible samples
                label = test.label(test.sides[0])
                stray = k if test.share == 0.0 else self.n - k
                statistic[f"{label}: stray samples"] = float(stray)
                statistic[f"{label}: stray-free requests needed"] = float(
                    fail_on_any_sample_size(self.delta, 1.0 - self.beta))
                continue
            statistic[f"{test.name}: reject llr"] = max(-_CLIP, min(_CLIP, test.reject(k, self.n)))
            statistic[f"{test.name}: reject at"] = test.log_a
            for t1, g in zip(test.sides, test.accepts, strict=True):
                statistic[f"{test.label(t1)}: accept llr"] = max(-_CLIP, min(_CLIP, g(k, self.n)))
                statistic[f"{test.label(t1)}: accept at"] = test.log_b
        return statistic

    def verdict(self) -> SplitVerdict:
        """The decision. Before ``done()`` (the caller stopped early, e.g. on errors) it reads
        'inconclusive' with a reason saying so; the test itself is inconclusive only at max_n."""
        names = self.categories if self.counts[-1] else self.categories[:-1]
        conf = 1.0 - self.alpha
        counts = {v: self.counts[self._index[v]] for v in names}
        expected = {v: self.shares.get(v, 0.0) for v in names}
        observed = {v: (c / self.n if self.n else 0.0) for v, c in counts.items()}
        intervals = {v: clopper_pearson(c, self.n, conf) for v, c in counts.items()}
        statistic = self._statistic()

        def describe(v: str) -> str:
            lo, hi = intervals[v]
            return f"{v} {observed[v]:.2f} ({lo:.2f}-{hi:.2f}) vs {expected[v]:.2f}"

        outcome = self.outcome or "inconclusive"
        if outcome == "fail" and self.decider is not None:
            reason = (f"{describe(self.tests[self.decider].name)} expected: inconsistent "
                      f"after {self.n} requests")
        else:
            shown = [v for v in names if expected[v] > 0 or counts[v]]
            text = ", ".join(describe(v) for v in shown[:1 if len(shown) == 2 else None])
            if outcome == "pass":
                reason = f"{text} expected: consistent after {self.n} requests"
            elif self.outcome is None:
                reason = (f"{text} expected: sampling stopped after {self.n} requests, before "
                          f"a decision (cap {self.max_n})")
            else:
                reason = f"{text} expected: no decision within the {self.max_n}-request cap"
        return SplitVerdict(outcome, self.n, counts, expected, observed, intervals, statistic,
                            reason)


class AllToOne:
    """The "100% to one version" rule: fail at the first sample of any other version, pass
    after ``fail_on_any_sample_size(leak, power)`` samples (43 for 15 points at 0.999)."""

    def __init__(self, version: str, leak: float = 0.15, power: float = 0.999) -> None:
        self.version, self.leak, self.power = version, leak, power
        self.n_required = fail_on_any_sample_size(leak, power)
        self.counts: dict[str, int] = {version: 0}
        self.n = 0
        self.outcome: str | None = None

    def add(self, version: str) -> None:
        if self.outcome is not None:
            return
        self.counts[version] = self.counts.get(version, 0) + 1
        self.n += 1
        if version != self.version:
            self.outcome = "fail"
        elif self.n >= self.n_required:
            self.outcome = "pass"

    def done(self) -> bool:
        return self.outcome is not None

    def verdict(self) -> SplitVerdict:
        """The decision ('inconclusive' only if read before done(): the rule has no cap)."""
        k = self.counts[self.version]
        others = {v: c for v, c in self.counts.items() if v != self.version}
        expected = {v: (1.0 if v == self.version else 0.0) for v in self.counts}
        observed = {v: (c / self.n if self.n else 0.0) for v, c in self.counts.items()}
        intervals = {v: clopper_pearson(c, self.n, self.power) for v, c in self.counts.items()}
        lo, hi = intervals[self.version]
        head = f"{self.version} {observed[self.version]:.2f} ({lo:.2f}-{hi:.2f}) vs 1.00 expected"
        if self.outcome == "fail":
            reason = f"{head}: a {', '.join(sorted(others))} sample after {self.n} requests"
        elif self.outcome == "pass":
            reason = f"{head}: no other version in {self.n} requests"
        else:
            reason = (f"{head}: sampling stopped after {self.n} of the {self.n_required} "
                      f"requests needed")
        statistic = {"other samples": float(self.n - k), "required": float(self.n_required),
                     "leak": self.leak, "power": self.power}
        return SplitVerdict(self.outcome or "inconclusive", self.n, dict(self.counts), expected,
                            observed, intervals, statistic, reason)
