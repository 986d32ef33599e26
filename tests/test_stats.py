"""Tests of meshgrade.stats: exact binomial arithmetic, the fail-on-any rule, the docs' method
(the anchor), and the sequential split test's error rates (exact by dynamic programming, and by
Monte Carlo with fixed seeds)."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshgrade.stats import (
    AllToOne,
    DocsMethod,
    SplitTest,
    binom_cdf,
    binom_pmf,
    binom_sf,
    clopper_pearson,
    docs_batch_pass_probability,
    docs_method_pass_probability,
    docs_method_requests,
    exact_operating_characteristic,
    fail_on_any_sample_size,
    fixed_sample_size,
    simulate,
    simulate_docs_method,
)

HALF = {"v1": 50, "v3": 50}
EIGHTY = {"v1": 80, "v3": 20}


def exact_pmf(k: int, n: int, p: Fraction) -> Fraction:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def exact_cdf(k: int, n: int, p: Fraction) -> Fraction:
    return sum((exact_pmf(i, n, p) for i in range(k + 1)), Fraction(0))


def oc(expected: dict[str, float], p: float, **kwargs: float) -> dict:
    """Exact operating characteristic of SplitTest(expected) when v1's true share is p."""
    return exact_operating_characteristic(lambda: SplitTest(expected, **kwargs),
                                          {"v1": p, "v3": 1.0 - p})


# --- exact binomial arithmetic -------------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.5), (5, 10, 0.5), (59, 100, 0.5),
                                           (3, 20, 0.25), (65, 100, 0.65), (1000, 3000, 0.3),
                                           (0, 5000, 0.001), (4990, 5000, 0.999)])
def test_pmf_matches_exact_rational_arithmetic(k: int, n: int, p: float) -> None:
    want = exact_pmf(k, n, Fraction(p))  # Fraction(p) is the float's exact binary value
    assert binom_pmf(k, n, p) == pytest.approx(float(want), rel=1e-11)


def test_cdf_hand_computed_values() -> None:
    # sum_{k<=59} C(100,k) / 2^100, and its mirror P(K <= 40) = P(K >= 60)
    assert binom_cdf(59, 100, 0.5) == pytest.approx(0.9715560331795096, rel=1e-13)
    assert float(exact_cdf(59, 100, Fraction(1, 2))) == pytest.approx(0.9715560331795096,
                                                                      rel=1e-15)
    assert binom_cdf(40, 100, 0.5) == pytest.approx(0.028443966820490, rel=1e-12)
    assert binom_sf(59, 100, 0.5) == pytest.approx(binom_cdf(40, 100, 0.5), rel=1e-12)
    for k, p in [(29, 0.35), (70, 0.65), (10, 0.2), (3, 0.01)]:
        assert binom_cdf(k, 100, p) == pytest.approx(float(exact_cdf(k, 100, Fraction(p))),
                                                     rel=1e-11)
    assert binom_cdf(-1, 10, 0.3) == 0.0 and binom_cdf(10, 10, 0.3) == 1.0
    assert binom_pmf(0, 7, 0.0) == 1.0 and binom_pmf(7, 7, 1.0) == 1.0
    assert binom_pmf(3, 7, 0.0) == 0.0 and binom_pmf(11, 7, 0.5) == 0.0


def test_large_n() -> None:
    n = 5000
    assert math.fsum(binom_pmf(k, n, 0.3) for k in range(1000, 2001)) == pytest.approx(1.0,
                                                                                     abs=1e-9)
    assert binom_cdf(2500, n, 0.5) == pytest.approx(0.5 + binom_pmf(2500, n, 0.5) / 2, rel=1e-9)
    assert binom_cdf(1400, n, 0.3) + binom_sf(1400, n, 0.3) == pytest.approx(1.0, abs=1e-12)
    assert 0 < binom_cdf(1200, n, 0.3) < 1e-12  # a far tail stays accurate, not 0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), p=st.integers(0, 1 << 20).map(lambda i: i / (1 << 20)),
       data=st.data())
def test_binomial_properties(n: int, p: float, data: st.DataObject) -> None:
    """(p is dyadic, so 1 - p is exact.)"""
    assert math.fsum(binom_pmf(k, n, p) for k in range(n + 1)) == pytest.approx(1.0, abs=1e-9)
    k = data.draw(st.integers(0, n))
    assert binom_pmf(k, n, p) == pytest.approx(binom_pmf(n - k, n, 1.0 - p), rel=1e-9, abs=1e-300)
    assert binom_cdf(k, n, p) + binom_sf(k, n, p) == pytest.approx(1.0, abs=1e-12)
    assert binom_cdf(k, n, p) == pytest.approx(binom_sf(n - k - 1, n, 1.0 - p), rel=1e-9,
                                               abs=1e-15)
    if k < n:
        assert binom_cdf(k, n, p) <= binom_cdf(k + 1, n, p) + 1e-15
    q = data.draw(st.floats(p, 1.0))
    assert binom_cdf(k, n, q) <= binom_cdf(k, n, p) + 1e-12


# --- Clopper-Pearson ----------------------------------------------------------------------

def test_clopper_pearson_edges_and_defining_equations() -> None:
    n, conf = 10, 0.9
    assert clopper_pearson(0, n, conf) == pytest.approx((0.0, 1 - 0.05 ** (1 / n)), abs=1e-12)
    assert clopper_pearson(n, n, conf) == pytest.approx((0.05 ** (1 / n), 1.0), abs=1e-12)
    lo, hi = clopper_pearson(52, 100, 0.999)
    assert binom_sf(51, 100, lo) == pytest.approx(0.0005, rel=1e-6)  # P(K >= 52 | lo)
    assert binom_cdf(52, 100, hi) == pytest.approx(0.0005, rel=1e-6)  # P(K <= 52 | hi)
    assert clopper_pearson(0, 0, 0.9) == (0.0, 1.0)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2, 0.9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 200), data=st.data())
def test_clopper_pearson_monotone(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n - 1))
    lo1, hi1 = clopper_pearson(k, n, 0.99)
    lo2, hi2 = clopper_pearson(k + 1, n, 0.99)
    assert lo1 <= lo2 and hi1 <= hi2 and lo1 <= k / n <= hi1
    wide_lo, wide_hi = clopper_pearson(k, n, 0.999)
    assert wide_lo <= lo1 + 1e-12 and hi1 <= wide_hi + 1e-12


def test_clopper_pearson_exact_coverage_small_case() -> None:
    n, conf = 10, 0.9
    intervals = [clopper_pearson(k, n, conf) for k in range(n + 1)]
    ends = sorted({x for iv in intervals for x in iv})
    grid = [i / 400 for i in range(401)] + [x + s for x in ends for s in (-1e-9, 1e-9)]
    for p in (x for x in grid if 0.0 <= x <= 1.0):
        cover = math.fsum(binom_pmf(k, n, p) for k, (lo, hi) in enumerate(intervals)
                          if lo <= p <= hi)
        assert cover >= conf - 1e-9, p


# --- the fail-on-any rule and the fixed design ---------------------------------------------

def test_fail_on_any_sample_size() -> None:
    assert fail_on_any_sample_size(0.15, 0.999) == 43 == fail_on_any_sample_size()
    assert 1 - 0.85**43 >= 0.999 > 1 - 0.85**42
    assert fail_on_any_sample_size(0.5, 0.99) == 7
    assert fail_on_any_sample_size(1.0, 0.999) == 1


def test_all_to_one() -> None:
    rule = AllToOne("v3")
    for i in range(42):
        rule.add("v3")
        assert not rule.done(), i
    rule.add("v3")
    verdict = rule.verdict()
    assert (verdict.outcome, verdict.n) == ("pass", 43)
    assert verdict.intervals["v3"][0] == pytest.approx(0.0005 ** (1 / 43), rel=1e-9)
    rule = AllToOne("v3")
    for version in ["v3"] * 6 + ["v1"]:
        rule.add(version)
    verdict = rule.verdict()
    assert (verdict.outcome, verdict.n, verdict.counts) == ("fail", 7, {"v3": 6, "v1": 1})
    assert "v1" in verdict.reason and "7 requests" in verdict.reason


def brute_force_fixed_feasible(n: int, p0: float, delta: float = 0.15,
                               alpha: float = 0.001, beta: float = 0.001) -> bool:
    """Does any acceptance interval [lo, hi] of the count reach alpha and beta at n?"""
    def prefix(p: float) -> list[float]:
        out = [0.0]
        for k in range(n + 1):
            out.append(out[-1] + binom_pmf(k, n, p))
        return out
    h0, up, down = prefix(p0), prefix(p0 + delta), prefix(p0 - delta)
    for lo in range(n + 1):
        for hi in range(lo, n + 1):
            if up[hi + 1] - up[lo] > beta or down[hi + 1] - down[lo] > beta:
                break
            if 1.0 - (h0[hi + 1] - h0[lo]) <= alpha:
                return True
    return False


def test_fixed_sample_size() -> None:
    assert fixed_sample_size(0.5) == fixed_sample_size(HALF) == 440
    assert fixed_sample_size(0.8) == fixed_sample_size(EIGHTY) == 331
    assert brute_force_fixed_feasible(440, 0.5) and not brute_force_fixed_feasible(439, 0.5)
    assert brute_force_fixed_feasible(331, 0.8) and not brute_force_fixed_feasible(330, 0.8)


# --- the docs' method (bookinfo.md section 5) ---------------------------------------------

def test_docs_method_reproduces_the_stated_figures() -> None:
    # one batch fails a correct 50/50 split 5.7% of the time (41 to 59 pass)
    assert round(100 * (1 - docs_batch_pass_probability(0.5)), 1) == 5.7
    # 7 batches in all: a wrong 65/35 split passes 61% of the time (60.7%)
    assert round(docs_method_pass_probability(0.65), 2) == 0.61
    assert round(docs_method_pass_probability(0.35), 2) == 0.61
    # seven retries after a first batch (8 in all) would not reproduce it
    assert round(docs_method_pass_probability(0.65, retries=8), 2) == 0.66
    # Istio's Go tests: within 10 inclusive (40 to 60)
    assert round(100 * (1 - docs_batch_pass_probability(0.5, strict=False)), 1) == 3.5
    mean, p95 = docs_method_requests(0.65)
    assert mean == pytest.approx(100 * sum(0.875 ** i for i in range(7)), rel=1e-3)
    assert p95 == 700 and docs_method_requests(0.5) == (pytest.approx(106.03, abs=0.01), 200)


def test_docs_method_simulated() -> None:
    sim = simulate_docs_method(0.65, runs=1500, seed=7)
    assert sim["pass"] == pytest.approx(docs_method_pass_probability(0.65), abs=0.04)
    assert sim["mean_n"] == pytest.approx(docs_method_requests(0.65)[0], rel=0.05)
    assert sim["max_n"] == 700 and sim["inconclusive"] == 0
    method = DocsMethod("v3")
    for _ in range(100):
        method.add("v3")
    assert method.batches == 1 and not method.done()  # 100 of 100 is outside 41-59
    for i in range(100):
        method.add("v3" if i % 2 else "v1")
    assert method.verdict().outcome == "pass" and method.n == 200


# --- the sequential split test: exact error rates ------------------------------------------

# the design this module replaced (two one-sided 2-SPRTs per share), computed exactly the same
# way: its mean at 50/50 and its worst mean over every true share (at 58/42)
OLD_MEAN_50, OLD_WORST_50 = 242.79, 391.57


def test_split_test_exact_error_rates_50_50() -> None:
    fixed = fixed_sample_size(HALF)
    correct = oc(HALF, 0.5)
    assert correct["fail"] <= 0.001 and correct["inconclusive"] == 0
    assert correct["fail"] == pytest.approx(6.760e-4, rel=1e-3)  # regression value
    assert correct["mean_n"] == pytest.approx(208.5, abs=0.1) and correct["max_n"] == 725
    for p in (0.35, 0.65):
        assert oc(HALF, p)["pass"] == pytest.approx(8.39e-4, rel=1e-2)  # <= beta = 0.001
    for p in (0.0, 0.2, 0.3, 0.7, 0.8, 1.0):
        assert oc(HALF, p)["pass"] <= 0.001
    # the goals: 210 requests for a correct split, 60 to reject 80/20, 30 to reject
    # 100/0; fewer than the fixed design, and the old design's worst case never exceeded
    assert correct["mean_n"] <= 210 < OLD_MEAN_50
    assert oc(HALF, 0.8)["mean_n"] <= 60 and oc(HALF, 1.0)["mean_n"] <= 30
    for p in (0.35, 0.42, 0.425, 0.5, 0.575, 0.58, 0.585, 0.6, 0.65):
        result = oc(HALF, p)
        assert result["mean_n"] < min(fixed, OLD_WORST_50) and result["inconclusive"] == 0
        assert result["max_n"] <= 725


def test_split_test_exact_error_rates_80_20() -> None:
    fixed = fixed_sample_size(EIGHTY)
    correct = oc(EIGHTY, 0.8)
    assert correct["fail"] <= 0.001 and correct["mean_n"] < fixed
    assert correct["mean_n"] == pytest.approx(140.0, abs=0.1)  # the 2-SPRTs': 179
    for p in (0.65, 0.95, 0.5, 1.0):
        result = oc(EIGHTY, p)
        assert result["pass"] <= 0.001 and result["mean_n"] < fixed
    assert oc(EIGHTY, 0.725)["mean_n"] < fixed  # between e and e - delta


@pytest.mark.parametrize("share", [0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9, 0.95])
def test_split_test_exact_error_rates_across_expected_shares(share: float) -> None:
    """Ville's bounds hold for every expected share; the exact values sit below them."""
    expected = {"v1": share, "v3": 1.0 - share}
    correct = oc(expected, share)
    assert correct["fail"] <= 0.001 and correct["inconclusive"] == 0
    for p in (share - 0.15, share + 0.15):
        if 0.0 <= p <= 1.0:
            result = oc(expected, p)
            assert result["pass"] <= 0.001 and result["inconclusive"] == 0


def mixture_llr(components: list[tuple[float, float]], ref: float, k: int, n: int) -> float:
    """log sum_j w_j LR(theta_j : ref), written out independently of the module."""
    total = sum(w for _t, w in components)
    return math.log(sum(w / total * (t / ref) ** k * ((1 - t) / (1 - ref)) ** (n - k)
                        for t, w in components))


def test_split_test_boundaries_by_hand() -> None:
    """50/50 at n = 100: v1 fails when the mixture of LR(theta : 0.5) over theta = 0.5 +- 0.09,
    +-0.12, +-0.15, +-0.375 and 0 / 1 (weights 0.55, 0.08, 0.10, 0.04, 0.23 a side) reaches
    1000; v1 <= 0.35 is accepted when 0.50 LR(0.5 : 0.35) + 0.12 LR(0.47 : 0.35) + 0.38
    LR(0.4475 : 0.35) reaches 1000 (with the mirror tests the same on v3's count)."""
    test = SplitTest(HALF)
    assert test.alpha_each == pytest.approx(0.001)
    side = [(0.09, 0.55), (0.12, 0.08), (0.15, 0.10), (0.375, 0.04), (0.5, 0.23)]
    rejects = [(0.5 + s * d, w) for s in (1, -1) for d, w in side]
    n = 100
    fail_at = min(k for k in range(50, n + 1) if mixture_llr(rejects, 0.5, k, n) >= math.log(1000))
    assert fail_at == 73
    assert test.judge((fail_at, n - fail_at, 0), n, 0)[0] == "fail"
    assert test.judge((fail_at - 1, n - fail_at + 1, 0), n, 0)[0] is None
    assert test.judge((n - fail_at, fail_at, 0), n, 0)[0] == "fail"  # the lower side too
    lower = [(0.5, 0.50), (0.47, 0.12), (0.4475, 0.38)]
    accept_from = min(k for k in range(n + 1)
                      if mixture_llr(lower, 0.35, k, n) >= math.log(1000))
    assert accept_from == 55
    assert test.judge((accept_from, n - accept_from, 0), n, 0)[1] & 0b10
    assert not test.judge((accept_from - 1, n - accept_from + 1, 0), n, 0)[1] & 0b10
    assert test.judge((140, 140, 0), 280, 0b1111)[0] == "pass"
    assert test.judge((0, 0, 1), 1, 0)[0] == "fail"  # a stray sample


def test_exact_operating_characteristic_matches_enumeration() -> None:
    """The dynamic programme against brute force over every sample sequence."""
    kwargs = {"delta": 0.3, "alpha": 0.2, "beta": 0.2, "max_n": 8, "min_n": 2}
    p_true = {"a": 0.5, "b": 0.3, "stray": 0.2}
    totals = {"pass": 0.0, "fail": 0.0, "inconclusive": 0.0, "mean_n": 0.0}
    for sequence in itertools.product(p_true, repeat=kwargs["max_n"]):
        test = SplitTest({"a": 3, "b": 2}, **kwargs)
        for version in sequence:
            test.add(version)
        weight = math.prod(p_true[v] for v in sequence)
        totals[test.outcome or "none"] += weight
        totals["mean_n"] += weight * test.n
    exact = exact_operating_characteristic(lambda: SplitTest({"a": 3, "b": 2}, **kwargs), p_true)
    for key, value in totals.items():
        assert exact[key] == pytest.approx(value, abs=1e-12), key
    assert totals["inconclusive"] > 0 and totals["pass"] > 0


def test_inconclusive_only_at_the_cap() -> None:
    capped = oc(HALF, 0.575, max_n=150)
    assert capped["inconclusive"] > 0.05 and capped["max_n"] == 150
    sim = simulate(lambda: SplitTest(HALF, max_n=150), {"v1": 0.575, "v3": 0.425}, 200, seed=3)
    assert sim["inconclusive"] > 0 and sim["max_n"] == 150


@settings(max_examples=40, deadline=None)
@given(seq=st.lists(st.sampled_from(["v1", "v3", "v3", "v1", "x"]), max_size=80),
       max_n=st.integers(20, 60))
def test_split_test_invariants(seq: list[str], max_n: int) -> None:
    test = SplitTest(HALF, max_n=max_n)
    for version in seq:
        test.add(version)
    verdict = test.verdict()
    assert verdict.n == min(test.n, max_n) == sum(verdict.counts.values())
    if test.done():
        assert (verdict.outcome == "inconclusive") == (verdict.n == max_n and "x" not in seq)
    else:
        assert verdict.outcome == "inconclusive" and "stopped" in verdict.reason
    if "x" in seq[: verdict.n]:
        assert verdict.outcome == "fail" and verdict.counts["other"] == 1


# --- the sequential split test: Monte Carlo with fixed seeds -------------------------------

@pytest.mark.slow
def test_split_test_monte_carlo() -> None:
    sim = simulate(lambda: SplitTest(HALF), {"v1": 0.5, "v3": 0.5}, runs=2000, seed=20261126)
    assert sim["fail"] <= 0.003 and sim["inconclusive"] == 0
    assert sim["mean_n"] == pytest.approx(oc(HALF, 0.5)["mean_n"], rel=0.03)
    for p in (0.65, 0.35):
        assert simulate(lambda: SplitTest(HALF), {"v1": p, "v3": 1 - p}, 200, seed=1)["pass"] == 0
    sim = simulate(lambda: SplitTest(EIGHTY), {"v1": 0.8, "v3": 0.2}, runs=400, seed=2)
    assert sim["fail"] <= 0.003
    three = {"v1": 1, "v2": 1, "v3": 1}
    assert simulate(lambda: SplitTest(three), three, 200, seed=4)["fail"] <= 0.01
    wrong = {"v1": 0.5, "v2": 0.25, "v3": 0.25}  # v1 17 points over
    assert simulate(lambda: SplitTest(three), wrong, 200, seed=5)["pass"] == 0


# --- the split test's interface ------------------------------------------------------------

def test_split_test_interface() -> None:
    test = SplitTest(EIGHTY)
    assert test.shares == {"v1": 0.8, "v3": 0.2}
    rng = random.Random(9)
    while not test.done():
        test.add("v1" if rng.random() < 0.8 else "v3")
    verdict = test.verdict()
    assert verdict.outcome == "pass" and verdict.expected == {"v1": 0.8, "v3": 0.2}
    assert verdict.observed["v1"] == pytest.approx(verdict.counts["v1"] / verdict.n)
    lo, hi = verdict.intervals["v1"]
    assert lo <= verdict.observed["v1"] <= hi
    assert verdict.statistic["v1: reject at"] == pytest.approx(math.log(1000))
    assert verdict.statistic["v1 <= 0.65: accept at"] == pytest.approx(math.log(1000))
    assert verdict.statistic["v1 <= 0.65: accept llr"] >= math.log(1000)
    assert verdict.reason.startswith("v1 0.") and f"after {verdict.n} requests" in verdict.reason
    assert "consistent" in verdict.reason


def test_split_test_zero_shares_and_strays() -> None:
    test = SplitTest({"v1": 1, "v2": 1, "v3": 0})
    test.add("v1")
    test.add("v3")
    verdict = test.verdict()
    assert (verdict.outcome, verdict.n) == ("fail", 2)
    assert "v3" in verdict.reason and verdict.expected["v3"] == 0.0
    test = SplitTest(HALF)
    for version in ["v1", "v3"] * 20 + ["v9"]:
        test.add(version)
    verdict = test.verdict()
    assert verdict.outcome == "fail" and verdict.counts["other"] == 1
    assert verdict.reason.startswith("other 0.02")
    single = SplitTest({"v1": 1, "v2": 0}, min_n=50)  # all traffic to v1, as a split
    for _ in range(49):
        single.add("v1")
    assert not single.done()
    single.add("v1")
    assert single.verdict().outcome == "pass"
    assert exact_operating_characteristic(lambda: SplitTest({"v1": 1, "v2": 0}),
                                          {"v1": 1})["mean_n"] == 43


def test_split_test_validation() -> None:
    for bad in ({"v1": 1}, {"v1": -1, "v2": 2}, {"v1": 0, "v2": 0}, {"v1": 1, "other": 1}):
        with pytest.raises(ValueError):
            SplitTest(bad)
    with pytest.raises(ValueError):
        SplitTest(HALF, min_n=10, max_n=5)
