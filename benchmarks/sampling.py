"""Benchmark: deciding a weighted split, the docs' method against meshgrade's SplitTest.

For true splits 50/50, 60/40, 65/35, 70/30, 80/20 and 100/0 (v1/v3) against an expected 50/50,
and 80/20 and 65/35 against an expected 80/20, side by side:

- the docs' method (bookinfo.md section 5): batches of 100, pass when the count of star pages
  (v3) is strictly within 10 of the target, 7 batches in all;
- meshgrade's SplitTest (alpha = beta = 0.001 at 15 points, cap 2000);

each simulated with a fixed seed (pass / fail / inconclusive rates, mean and 95th percentile of
requests), beside the exact values (the docs' formula; SplitTest by dynamic programming), and the
fixed-sample size that reaches the same error rates.

Then the designs side by side, exact: the SplitTest before issue 12 (two one-sided 2-SPRTs per
share, run from the old tree: ``benchmarks/baseline.py``), today's SplitTest (mixture
likelihood ratios), and the issue's reference, Wald's two-sided SPRT (per version, the
log-likelihood ratio of the expected share against the share 15 points off on the side of the
observed share, Wald's boundaries with alpha = beta = 0.001), over true shares from 50/50 to
100/0, with the worst mean over a grid of true shares.

    python benchmarks/sampling.py [--runs N] [--seed S] [--lab-runs N]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from typing import Any

from meshgrade.stats import (
    DocsMethod,
    SplitTest,
    docs_method_pass_probability,
    docs_method_requests,
    exact_operating_characteristic,
    fixed_sample_size,
    simulate,
)

HALF = {"v1": 50, "v3": 50}
EIGHTY = {"v1": 80, "v3": 20}
CASES: list[tuple[dict[str, int], float]] = [
    (HALF, 0.5), (HALF, 0.6), (HALF, 0.65), (HALF, 0.7), (HALF, 0.8), (HALF, 1.0),
    (EIGHTY, 0.8), (EIGHTY, 0.65),
]


def split(expected: dict[str, int] | dict[str, float]) -> str:
    total = sum(expected.values())
    return "/".join(f"{round(100 * w / total)}" for w in expected.values())


def simulated_rows(runs: int, seed: int) -> list[dict[str, Any]]:
    """One row per case: the docs' method and SplitTest, simulated and exact."""
    rows = []
    for i, (expected, p_v1) in enumerate(CASES):
        true = {"v1": p_v1, "v3": 1.0 - p_v1}
        target = expected["v3"] / sum(expected.values())
        docs = simulate(lambda t=target: DocsMethod("v3", target=t), true, runs, seed + i)
        docs_mean, docs_p95 = docs_method_requests(true["v3"], target)
        mesh = simulate(lambda e=expected: SplitTest(e), true, runs, seed + 100 + i)
        exact = exact_operating_characteristic(lambda e=expected: SplitTest(e), true)
        rows.append({"expected": split(expected), "true": split(true), "docs": docs,
                     "docs_exact": {"pass": docs_method_pass_probability(true["v3"], target),
                                    "mean_n": docs_mean, "p95_n": docs_p95},
                     "meshgrade": mesh, "meshgrade_exact": exact})
    return rows


DESIGN_TRUE = [0.5, 0.575, 0.58, 0.6, 0.65, 0.7, 0.8, 1.0]
WORST_GRID = [0.5 + 0.005 * i for i in range(31)]  # 50/50 to 65/35 in half points


class WaldSplit:
    """The issue's reference for two versions: Wald's SPRT of v1's share e against e +- delta,
    the side nearer the observed share (``judge``/``categories`` as SplitTest has them). It has
    no end of its own: 'inconclusive' at ``max_n`` only keeps the exact computation finite."""

    def __init__(self, expected: dict[str, float], delta: float = 0.15, alpha: float = 0.001,
                 beta: float = 0.001, max_n: int = 10_000) -> None:
        total = sum(expected.values())
        self.max_n = max_n
        self.e = next(iter(expected.values())) / total
        self.delta = delta
        self.categories = [*expected, "other"]
        self.upper, self.lower = math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))

    def judge(self, counts: tuple[int, ...], n: int, accepted: int
              ) -> tuple[str | None, int, None]:
        k, e = counts[0], self.e
        theta = e + self.delta if k >= e * n else e - self.delta
        llr = k * math.log(theta / e) + (n - k) * math.log((1 - theta) / (1 - e))
        outcome = "fail" if llr >= self.upper else "pass" if llr <= self.lower else None
        if outcome is None and n >= self.max_n:
            outcome = "inconclusive"
        return outcome, accepted, None


def exact_designs(factory: Any, shares: list[float]) -> dict[str, dict[str, float]]:
    """Exact outcome rates and sample sizes of ``factory(expected)`` at each true v1 share."""
    return {f"{e}:{p}": exact_operating_characteristic(lambda x=expected: factory(x),
                                                      {"v1": p, "v3": 1 - p})
            for expected, e in ((HALF, 0.5), (EIGHTY, 0.8)) for p in shares}


def _shares() -> list[float]:
    return sorted({*DESIGN_TRUE, *WORST_GRID, 0.65, 0.8, 0.95, 0.725, 0.5})


def design_rows() -> list[tuple[str, dict[str, dict[str, float]]]]:
    """(design, its exact characteristics) for the old SplitTest, today's and Wald's SPRT."""
    from baseline import env, old_tree

    proc = subprocess.run([sys.executable, __file__, "--exact-json"], env=env(old_tree()),
                          capture_output=True, text=True, check=True)
    return [("2-SPRTs (before)", json.loads(proc.stdout)),
            ("mixture (now)", exact_designs(SplitTest, _shares())),
            ("Wald SPRT (ref.)", exact_designs(WaldSplit, _shares()))]


def print_designs(rows: list[tuple[str, dict[str, dict[str, float]]]]) -> None:
    print("the designs, exact (dynamic programming); alpha = beta = 0.001 at 15 points")
    print(f"{'expected':>8} {'true':>7} | " + " | ".join(
        f"{name:<16} {'pass':>8} {'mean':>6} {'p95':>4}" for name, _ in rows))
    cases = [(0.5, p) for p in DESIGN_TRUE] + [(0.8, p) for p in (0.8, 0.725, 0.65, 0.95)]
    for e, p in cases:
        cells = []
        for _name, table in rows:
            r = table[f"{e}:{p}"]
            cells.append(f"{'':<16} {r['pass']:>8.6f} {r['mean_n']:>6.1f} {r['p95_n']:>4}")
        print(f"{split({'a': e, 'b': 1 - e}):>8} {split({'a': p, 'b': 1 - p}):>7} | "
              + " | ".join(cells))
    for e in (0.5, 0.8):
        grid = [x for x in WORST_GRID] if e == 0.5 else []
        if not grid:
            continue
        worst = [max((table[f"{e}:{p}"]["mean_n"], p) for p in grid) for _n, table in rows]
        print(f"{'worst mean over true shares 50/50..65/35 (half points)':<48} " + "  ".join(
            f"{name}: {w:.1f} at {round(100 * p, 1):g}/{round(100 - 100 * p, 1):g}"
            for (name, _t), (w, p) in zip(rows, worst, strict=True)))


LAB_CASES: list[tuple[dict[str, int], float]] = [(HALF, 0.5), (HALF, 0.8), (EIGHTY, 0.8)]


def _run_live(lab: Any, factory: Any, runs: int, seed: int) -> dict[str, Any]:
    """``runs`` decisions of one test through the lab's gateway, classified by the
    Bookinfo oracle from the real pages; wall time per decision."""
    from meshgrade.traffic.bookinfo_oracle import BookinfoOracle
    from meshgrade.traffic.classes import RequestClass
    from meshgrade.traffic.sampler import Sampler

    outcomes, used, walls = [], [], []
    oracle = BookinfoOracle()
    for run in range(runs):
        test = factory()
        start = time.perf_counter()
        with Sampler(lab.gateway_url, run_id=f"bench{seed}-{run}", seed=seed + run) as sampler:
            for sample in sampler.stream(RequestClass.anonymous(), oracle):
                if sample.version is not None:
                    test.add(sample.version)
                if test.done():
                    break
        walls.append(time.perf_counter() - start)
        verdict = test.verdict()
        outcomes.append(verdict.outcome)
        used.append(verdict.n if hasattr(verdict, "n") else 0)
    used.sort()
    return {"pass": outcomes.count("pass") / runs, "fail": outcomes.count("fail") / runs,
            "inconclusive": outcomes.count("inconclusive") / runs,
            "mean_n": sum(used) / runs, "p95_n": used[min(runs - 1, int(0.95 * runs))],
            "wall_s": sum(walls) / runs}


def lab_rows(runs: int = 5, seed: int = 1) -> list[dict[str, Any]]:
    """The same tests through the lab's real Envoy gateway: a reviews VirtualService with
    the true split applied, pages classified by the pod name they show."""
    import tempfile
    from pathlib import Path

    from meshgrade.lab.lab import Lab

    examples = Path(__file__).resolve().parent.parent / "examples" / "part1-bookinfo"
    rows = []
    with Lab().start([examples / "destination-rule-all.yaml"]) as lab, \
            tempfile.TemporaryDirectory() as tmp:
        for expected, p_v1 in LAB_CASES:
            vs = Path(tmp) / "vs.yaml"
            vs.write_text(VS_TEMPLATE.format(v1=round(100 * p_v1), v3=round(100 - 100 * p_v1)))
            lab.apply([vs])
            target = expected["v3"] / sum(expected.values())
            rows.append({"expected": split(expected), "true": f"{round(100 * p_v1)}/"
                         f"{round(100 - 100 * p_v1)}",
                         "docs": _run_live(lab, lambda t=target: DocsMethod("v3", target=t),
                                           runs, seed),
                         "meshgrade": _run_live(lab, lambda e=expected: SplitTest(e), runs,
                                                seed)})
    return rows


VS_TEMPLATE = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews, subset: v1}}
      weight: {v1}
    - destination: {{host: reviews, subset: v3}}
      weight: {v3}
"""


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    print(title)
    print(f"{'expected':>8} {'true':>7} | {'docs: pass':>10} {'mean':>6} {'p95':>5} | "
          f"{'SplitTest: pass':>15} {'fail':>8} {'inconc':>8} {'mean':>6} {'p95':>5}")
    for row in rows:
        d, m = row["docs"], row["meshgrade"]
        print(f"{row['expected']:>8} {row['true']:>7} | {d['pass']:>10.4f} {d['mean_n']:>6.0f} "
              f"{d['p95_n']:>5} | {m['pass']:>15.4f} {m['fail']:>8.4f} {m['inconclusive']:>8.4f} "
              f"{m['mean_n']:>6.0f} {m['p95_n']:>5}")
        if "wall_s" in m:
            print(f"{'wall time':>16} | {d['wall_s']:>10.2f} s{'':>11} | "
                  f"{m['wall_s']:>15.2f} s")
        if "meshgrade_exact" in row:
            d, m = row["docs_exact"], row["meshgrade_exact"]
            print(f"{'exact':>16} | {d['pass']:>10.6f} {d['mean_n']:>6.0f} {d['p95_n']:>5} | "
                  f"{m['pass']:>15.6f} {m['fail']:>8.6f} {m['inconclusive']:>8.6f} "
                  f"{m['mean_n']:>6.0f} {m['p95_n']:>5}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--lab-runs", type=int, default=5,
                        help="decisions per row through the lab (0: simulation only)")
    parser.add_argument("--exact-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.exact_json:  # run by design_rows() with the old tree first on the path
        print(json.dumps(exact_designs(SplitTest, _shares())))
        return
    start = time.perf_counter()
    print(f"meshgrade sampling benchmark, {time.strftime('%Y-%m-%d')}; {args.runs} simulated "
          f"runs per row, seed {args.seed}")
    print("docs' method: 100 requests, pass when the v3 count is strictly within 10 of the "
          "target, 7 batches in all")
    print("SplitTest: alpha = beta = 0.001 at 15 points, cap 2000 requests; 'exact' rows: "
          "docs' formula, SplitTest by dynamic programming")
    print(f"fixed-sample design for alpha = beta = 0.001 at 15 points: {fixed_sample_size(HALF)} "
          f"requests for 50/50, {fixed_sample_size(EIGHTY)} for 80/20")
    print()
    print_rows("simulated (v1/v3 splits; pass = miss rate for wrong splits, fail = false-fail "
               "rate for correct ones)", simulated_rows(args.runs, args.seed))
    print()
    print_designs(design_rows())
    if args.lab_runs:
        print()
        print_rows(f"through the lab's real Envoy gateway ({args.lab_runs} decisions per "
                   "row; mean wall time per decision)", lab_rows(args.lab_runs))
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
