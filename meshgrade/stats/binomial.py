"""Exact binomial arithmetic in pure Python: pmf, tails, Clopper-Pearson, fixed-sample sizes.

Probabilities are computed in log space (``math.comb`` is exact, its logarithm is taken once),
and tails are summed from the boundary outward, stopping when the terms no longer change the
sum, so ``n`` in the thousands costs a few hundred terms rather than ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

__all__ = [
    "binom_logpmf", "binom_pmf", "binom_cdf", "binom_sf", "clopper_pearson",
    "fail_on_any_sample_size", "fixed_sample_size", "normalise",
]

_EPS = 1e-17


def _check(k: int, n: int, p: float) -> None:
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need n >= 0 and 0 <= p <= 1, got n={n}, p={p}")


def binom_logpmf(k: int, n: int, p: float) -> float:
    """log P(K = k) for K ~ Binomial(n, p); ``-inf`` when impossible."""
    _check(k, n, p)
    if k < 0 or k > n:
        return -math.inf
    if p == 0.0:
        return 0.0 if k == 0 else -math.inf
    if p == 1.0:
        return 0.0 if k == n else -math.inf
    return math.log(math.comb(n, k)) + k * math.log(p) + (n - k) * math.log1p(-p)


def binom_pmf(k: int, n: int, p: float) -> float:
    """P(K = k) for K ~ Binomial(n, p)."""
    return math.exp(binom_logpmf(k, n, p))


def _tail(k: int, n: int, p: float, step: int) -> float:
    """Sum of pmf from ``k`` walking by ``step`` (-1: down to 0, +1: up to n), given that the
    terms shrink in that direction (k on the far side of the mode)."""
    log0 = binom_logpmf(k, n, p)
    if log0 == -math.inf:
        return 0.0
    odds = p / (1.0 - p)
    total, term, i = 1.0, 1.0, k
    while 0 <= i + step <= n:
        # pmf(i+1)/pmf(i) = (n-i)/(i+1) * odds; walking down uses the inverse ratio at i-1
        term *= (n - i) / (i + 1) * odds if step > 0 else i / (n - i + 1) / odds
        i += step
        total += term
        if term < _EPS * total:
            break
    return math.exp(log0 + math.log(total))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(K <= k) for K ~ Binomial(n, p)."""
    _check(k, n, p)
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    if k < (n + 1) * p - 1:  # below the mode: the lower tail is the small side
        return min(1.0, _tail(k, n, p, -1))
    return max(0.0, 1.0 - _tail(k + 1, n, p, +1))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(K > k) for K ~ Binomial(n, p), accurate when it is small."""
    _check(k, n, p)
    if k < 0:
        return 1.0
    if k >= n:
        return 0.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if k + 1 > (n + 1) * p:  # above the mode: the upper tail is the small side
        return min(1.0, _tail(k + 1, n, p, +1))
    return max(0.0, 1.0 - _tail(k, n, p, -1))


def _bisect(f: Callable[[float], float], target: float, increasing: bool) -> float:
    """The p in [0, 1] where the monotone function f crosses ``target``."""
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-15:
        mid = (lo + hi) / 2.0
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(k: int, n: int, conf: float = 0.999) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion at level ``conf``:
    ``lo`` solves P(K >= k | lo) = (1 - conf)/2 and ``hi`` solves P(K <= k | hi) = (1 - conf)/2."""
    if not (0 <= k <= n and 0.0 < conf < 1.0):
        raise ValueError(f"need 0 <= k <= n and 0 < conf < 1, got k={k}, n={n}, conf={conf}")
    if n == 0:
        return 0.0, 1.0
    tail = (1.0 - conf) / 2.0
    lo = 0.0 if k == 0 else _bisect(lambda p: binom_sf(k - 1, n, p), tail, increasing=True)
    hi = 1.0 if k == n else _bisect(lambda p: binom_cdf(k, n, p), tail, increasing=False)
    return lo, hi


def fail_on_any_sample_size(leak: float = 0.15, power: float = 0.999) -> int:
    """Smallest n with 1 - (1 - leak)^n >= power: the fail-on-any-stray-sample rule."""
    if not 0.0 < leak <= 1.0 or not 0.0 < power < 1.0:
        raise ValueError(f"need 0 < leak <= 1 and 0 < power < 1, got {leak}, {power}")
    if leak == 1.0:
        return 1
    n = max(1, math.ceil(math.log1p(-power) / math.log1p(-leak)) - 1)
    while 1.0 - (1.0 - leak) ** n < power:
        n += 1
    return n


def normalise(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights (e.g. {"v1": 80, "v3": 20}) to shares summing to 1."""
    if any(w < 0 or math.isnan(w) for w in weights.values()):
        raise ValueError(f"weights must be non-negative: {dict(weights)}")
    total = float(sum(weights.values()))
    if not total > 0:
        raise ValueError(f"weights must have a positive sum: {dict(weights)}")
    return {v: w / total for v, w in weights.items()}


_LOG_FACT = [0.0]


def _pmf_vector(n: int, p: float) -> list[float]:
    """[P(K = 0), ..., P(K = n)], from a table of log factorials."""
    while len(_LOG_FACT) <= n:
        _LOG_FACT.append(_LOG_FACT[-1] + math.log(len(_LOG_FACT)))
    if p in (0.0, 1.0):
        return [1.0 if k == round(p * n) else 0.0 for k in range(n + 1)]
    lp, lq, lf = math.log(p), math.log1p(-p), _LOG_FACT
    return [math.exp(lf[n] - lf[k] - lf[n - k] + k * lp + (n - k) * lq) for k in range(n + 1)]


def _fixed_feasible(n: int, p0: float, delta: float, alpha: float, beta: float) -> bool:
    """Is there an acceptance interval [lo, hi] for the count with P_p0(outside) <= alpha and
    P_{p0 +- delta}(inside) <= beta?"""
    up = p0 + delta <= 1.0 + 1e-12
    down = p0 - delta >= -1e-12
    q_up = _pmf_vector(n, min(1.0, p0 + delta)) if up else None
    q_down = _pmf_vector(n, max(0.0, p0 - delta)) if down else None
    lo, hi = 0, n
    for _ in range(4):  # widen each end given the other until stable
        new_hi, new_lo = hi, lo
        if q_up is not None:
            mass, new_hi = 0.0, lo - 1
            for k in range(lo, n + 1):
                mass += q_up[k]
                if mass > beta:
                    break
                new_hi = k
        if q_down is not None:
            mass, new_lo = 0.0, new_hi + 1
            for k in range(new_hi, -1, -1):
                mass += q_down[k]
                if mass > beta:
                    break
                new_lo = k
        if (new_lo, new_hi) == (lo, hi):
            break
        lo, hi = new_lo, new_hi
    if lo > hi:
        return False
    outside = 1.0 - math.fsum(_pmf_vector(n, p0)[lo:hi + 1])
    return outside <= alpha


def fixed_sample_size(expected: Mapping[str, float] | float, delta: float = 0.15,
                      alpha: float = 0.001, beta: float = 0.001, limit: int = 20000) -> int:
    """Smallest fixed n whose best count-interval test reaches the sequential test's targets.

    ``expected`` is one share (a two-version split) or a mapping of weights. For a mapping the
    versions are split the way :class:`~meshgrade.stats.sequential.SplitTest` splits ``alpha``:
    one two-sided test for two versions, ``alpha / k`` each for k >= 3; versions with share 0
    (and stray versions) need the fail-on-any sample size.
    """
    if isinstance(expected, Mapping):
        shares = normalise(expected)
        positive = [s for s in shares.values() if s > 0]
        needed = fail_on_any_sample_size(delta, 1.0 - beta)
        if len(positive) == 1:
            return needed
        tested = positive[:1] if len(positive) == 2 else positive
        a = alpha / len(tested)
        return max([needed] + [fixed_sample_size(s, delta, a, beta, limit) for s in tested])
    p0 = float(expected)
    for n in range(1, limit + 1):
        if _fixed_feasible(n, p0, delta, alpha, beta):
            return n
    raise ValueError(f"no fixed sample size up to {limit}")
