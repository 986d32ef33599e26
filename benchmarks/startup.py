"""Benchmark: start-up and grading one submission, the code before issue 12 beside the
working tree (``benchmarks/baseline.py``), each command a fresh process, old and new runs
interleaved, the median of each shown with the ratio. Afterwards the verdicts of both sides
are compared check by check (repo mode: every example; lab mode: part1-bookinfo).

    python benchmarks/startup.py [--runs N] [--lab-runs N] [--old COMMIT]

``--old COMMIT`` runs that commit as the old side instead of ``baseline.BASE`` (a ``git
archive`` extract, read-only for the repository).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import BASE, ROOT, old_tree
from baseline import env as side_env

EXAMPLES = ROOT / "examples"
PART1 = str(EXAMPLES / "part1-bookinfo")
ROWS = [  # (label, arguments after `python`, goal in seconds or None)
    ("import meshgrade.cli.main", ["-c", "import meshgrade.cli.main"], None),
    ("meshgrade --help", ["-m", "meshgrade", "--help"], 0.15),
    ("meshgrade checks", ["-m", "meshgrade", "checks"], 0.15),
    ("meshgrade rubrics", ["-m", "meshgrade", "rubrics"], 0.15),
    ("grade part1-bookinfo --mode repo", ["-m", "meshgrade", "grade", PART1, "--mode", "repo",
                                          "--out", "{out}"], 0.8),
]
LAB_ROW = ("grade part1-bookinfo (lab, istio-part1)",
           ["-m", "meshgrade", "grade", PART1, "--rubric", "istio-part1", "--out", "{out}"], 4.0)


def timed(args: list[str], env: dict[str, str], out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, *(a.replace("{out}", str(out)) for a in args)]
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=out, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return elapsed


def outcomes(args: list[str], env: dict[str, str], out: Path) -> dict[str, object]:
    timed(args, env, out)
    data = json.loads((out / "results.json").read_text("utf-8"))
    return {"score": data["score"], "max": data["max_score"],
            **{c["id"]: c["outcome"] for c in data["checks"]}}  # outcome by check ID


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="runs per side of each short row")
    ap.add_argument("--lab-runs", type=int, default=3, help="runs per side of the lab row")
    ap.add_argument("--old", default=BASE, metavar="COMMIT",
                    help=f"the commit run as the old side (default: {BASE})")
    args = ap.parse_args()
    envs = {"old": side_env(old_tree(args.old)), "new": side_env(None)}
    print(f"meshgrade start-up benchmark, {time.strftime('%Y-%m-%d')}; old = {args.old}, new = "
          f"the working tree; python "
          f"{sys.version.split()[0]}; median of {args.runs} runs per side "
          f"({args.lab_runs} for the lab row), old and new interleaved, bytecode compiled")
    print(f"{'command':<42}{'old s':>8}{'new s':>8}{'old/new':>9}{'goal s':>8}")
    with tempfile.TemporaryDirectory(prefix="meshgrade-startup-") as tmp:
        out = Path(tmp)
        for label, argv, goal in [*ROWS, LAB_ROW]:
            runs = args.lab_runs if (label, argv, goal) == LAB_ROW else args.runs
            if runs <= 0:
                continue
            times: dict[str, list[float]] = {side: [] for side in envs}
            for side, env in envs.items():  # warm-up: compiles the bytecode
                timed(argv, env, out / side)
            for _ in range(runs):
                for side, env in envs.items():
                    times[side].append(timed(argv, env, out / side))
            old, new = (statistics.median(times[s]) for s in ("old", "new"))
            print(f"{label:<42}{old:>8.2f}{new:>8.2f}{old / new:>8.1f}x"
                  f"{'' if goal is None else f'{goal:>8.2f}'}", flush=True)
        print("\nverdicts, old against new (every check's outcome, the score)")
        cases = [(f"repo {ex} {rubric}", ["-m", "meshgrade", "grade", str(EXAMPLES / ex),
                                          "--mode", "repo", "--rubric", rubric, "--out",
                                          "{out}", "--format", "json"])
                 for ex in ("part1-bookinfo", "part2-app", "broken")
                 for rubric in ("istio-full", "istio-part1", "istio-part2")]
        if args.lab_runs > 0:
            cases.append(("lab part1-bookinfo istio-part1",
                          [*LAB_ROW[1], "--format", "json", "--seed", "1"]))
        for label, argv in cases:
            old, new = (outcomes(argv, env, out / side) for side, env in envs.items())
            changed = {k: (old[k], new[k]) for k in old.keys() & new.keys() if old[k] != new[k]}
            added = sorted(new.keys() - old.keys())  # checks added since (other work)
            print(f"  {label:<40} {'same' if not changed else f'CHANGED {changed}'} "
                  f"({len(old.keys() & new.keys()) - 2} checks and the score compared"
                  + (f"; only in the working tree: {', '.join(added)})" if added else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
