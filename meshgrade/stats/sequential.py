"""Sequential verdicts on observed traffic splits.

Design: per version, one-sided *2-SPRTs* (Lorden 1976) of "the share is e" against e + delta and
against e - delta, on the version's count k among n samples, with theta* = midway to theta1:
reject as soon as LR(theta*:e) >= 1/alpha_i, accept as soon as LR(theta*:theta1) >= 1/beta.
The split fails when any test rejects (at any time, even after it accepted) and passes once every
test has accepted (sticky) and n >= min_n; max_n is a hard cap, the only way to 'inconclusive'.

Why: the two boundaries are lines in (n, k) that meet, so the test is naturally truncated
(615 requests at most for 50/50, 490 for 80/20, delta 0.15) and its *mean* sample size is below
the fixed design's n for every true share, also between e and e +- delta, where Wald's SPRT
wanders (50/50: Wald averages 574 requests at 57.5% and hits a 2000 cap 1.8% of the time; this
test averages at most 392; the fixed design needs 440). 2-SPRTs are asymptotically optimal for
the worst-case expected sample size (modified Kiefer-Weiss problem); among theta* tried, the
midpoint gave the lowest worst case. The bounds are exact inequalities, not Wald's
approximations: LR(theta*:e) is a martingale under e, so by Ville's inequality it ever reaches
1/alpha_i with probability <= alpha_i; LR(theta*:theta1) is a supermartingale for every share at
or beyond theta1, so a version delta or more off is accepted with probability <= beta. Hence
false-fail <= sum alpha_i = alpha, and miss <= beta with no correction (a pass needs every test).

Budgeting alpha: with two positive shares the second version's tests mirror the first's exactly
under a correct split (its count is n - k; no stray sample can occur), so alpha is split over the
first version's tests; with three or more, over all. Shares of 0 and the 'other' bucket get the
fail-on-any rule, which a correct split never triggers (no alpha); they accept after
fail_on_any_sample_size(delta, 1 - beta) = 43 samples. Exact error rates:
``simulate.exact_operating_characteristic``; numbers: ``benchmarks/sampling.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .binomial import clopper_pearson, fail_on_any_sample_size, normalise

__all__ = ["OTHER", "SplitVerdict", "SplitTest", "AllToOne"]

OTHER = "other"
_CLIP = 999.0  # shown log-likelihood ratios are clipped (a sample impossible under one side)


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
class OneSided:
    """A 2-SPRT of share ``theta0`` against ``theta1`` for the category at ``index``."""

    index: int
    name: str
    theta0: float
    theta1: float
    mid: float
    log_a: float  # reject when log LR(mid : theta0) >= log_a (inf: only on impossible samples)
    log_b: float  # accept when log LR(mid : theta1) >= log_b

    @property
    def label(self) -> str:
        sign = ">=" if self.theta1 > self.theta0 else "<="
        return f"{self.name} {sign} {self.theta1:.2f}"

    def llrs(self, k: int, n: int) -> tuple[float, float]:
        """(log LR(mid : theta0), log LR(mid : theta1)) after k of n samples."""
        if (self.theta0 == 0.0 and k) or (self.theta0 == 1.0 and n - k):
            return math.inf, -math.inf  # impossible under the expected share
        m, t0, t1 = self.mid, self.theta0, self.theta1
        reject = _term(k, _log_ratio(m, t0)) + _term(n - k, _log_ratio(1 - m, 1 - t0))
        accept = _term(k, _log_ratio(m, t1)) + _term(n - k, _log_ratio(1 - m, 1 - t1))
        return reject, accept


def _one_sided(index: int, name: str, share: float, delta: float, alpha_i: float,
               beta: float) -> list[OneSided]:
    """The upper and lower tests that exist for one category (fail-on-any for shares 0, 1)."""
    tests = []
    for theta1 in (share + delta, share - delta):
        if -1e-12 <= theta1 <= 1.0 + 1e-12:
            theta1 = min(1.0, max(0.0, theta1))
            sure = share in (0.0, 1.0)
            tests.append(OneSided(index, name, share, theta1,
                                  share if sure else (share + theta1) / 2.0,
                                  math.inf if sure else -math.log(alpha_i), -math.log(beta)))
    return tests


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
        budget = positive[:1] if len(positive) == 2 else positive  # see the module docstring
        spent = [t for i in budget for t in _one_sided(i, "", shares[i], delta, alpha, beta)
                 if math.isfinite(t.log_a)]
        self.alpha_each = alpha / max(1, len(spent))
        self.tests = [t for i, name in enumerate(self.categories)
                      for t in _one_sided(i, name, shares[i], delta, self.alpha_each, beta)]
        self.counts = [0] * len(self.categories)
        self.n = 0
        self.accepted = 0  # bit i: test i has reached its acceptance boundary
        self.outcome: str | None = None
        self.decider: int | None = None  # the test that rejected

    def judge(self, counts: tuple[int, ...] | list[int], n: int,
              accepted: int) -> tuple[str | None, int, int | None]:
        """The decision after ``n`` samples with these counts: (outcome or None, the updated
        acceptance bits, the rejecting test). Pure; the exact operating characteristic uses it."""
        for j, test in enumerate(self.tests):
            reject, accept = test.llrs(counts[test.index], n)
            if reject >= test.log_a:
                return "fail", accepted, j
            if accept >= test.log_b:
                accepted |= 1 << j
        if accepted == (1 << len(self.tests)) - 1 and n >= self.min_n:
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

    def verdict(self) -> SplitVerdict:
        """The decision. Before ``done()`` (the caller stopped early, e.g. on errors) it reads
        'inconclusive' with a reason saying so; the test itself is inconclusive only at max_n."""
        names = self.categories if self.counts[-1] else self.categories[:-1]
        conf = 1.0 - self.alpha
        counts = {v: self.counts[self._index[v]] for v in names}
        expected = {v: self.shares.get(v, 0.0) for v in names}
        observed = {v: (c / self.n if self.n else 0.0) for v, c in counts.items()}
        intervals = {v: clopper_pearson(c, self.n, conf) for v, c in counts.items()}
        statistic: dict[str, float] = {"alpha per test": self.alpha_each, "beta": self.beta,
                                       "delta": self.delta}
        for test in self.tests:
            k = self.counts[test.index]
            if math.isinf(test.log_a):  # fail-on-any: a count of impossible samples
                stray = k if test.theta0 == 0.0 else self.n - k
                statistic[f"{test.label}: stray samples"] = float(stray)
                statistic[f"{test.label}: stray-free requests needed"] = float(
                    fail_on_any_sample_size(self.delta, 1.0 - self.beta))
                continue
            reject, accept = (max(-_CLIP, min(_CLIP, x)) for x in test.llrs(k, self.n))
            statistic[f"{test.label}: reject llr"] = reject
            statistic[f"{test.label}: reject at"] = test.log_a
            statistic[f"{test.label}: accept llr"] = accept
            statistic[f"{test.label}: accept at"] = test.log_b

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
