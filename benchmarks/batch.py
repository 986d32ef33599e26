"""Benchmark: ``meshgrade batch`` throughput and memory, 1 worker against 2.

Generates small submissions (copies of the examples with variations: other weights, a
missing file, a comment, a misspelt subset), then grades

- 50 of them in repo mode, with 1 and with 2 workers;
- 10 of them in lab mode (each grade process starts its own lab), with 1 and with 2 workers;

and prints submissions per minute and the peak resident memory of the grade processes
(``ru_maxrss`` of RUSAGE_CHILDREN: each configuration runs in a fresh Python process, so the
figure is that configuration's own largest child). With ``--sides old new`` each configuration
runs with the code before issue 12 and with the working tree (``benchmarks/baseline.py``),
side by side.

    python benchmarks/batch.py [--repo N] [--lab N] [--sides old new]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _vary(folder: Path, i: int) -> None:
    """Make submission ``i`` differ from its example a little."""
    files = sorted(folder.glob("*.yaml"))
    kind = i % 4
    if kind == 1:  # other weights
        for f in files:
            text = f.read_text()
            f.write_text(text.replace("weight: 50", "weight: 60", 1)
                         .replace("weight: 50", "weight: 40", 1)
                         .replace("weight: 80", "weight: 70").replace("weight: 20", "weight: 30"))
    elif kind == 2 and len(files) > 2:  # a forgotten file
        files[i % len(files)].unlink()
    elif kind == 3 and files:  # a misspelt subset
        f = files[i % len(files)]
        f.write_text(f.read_text().replace("subset: v1", "subset: v11", 1))
    (folder / "notes.yaml").write_text(f"# submission {i}\n")


def make_submissions(dest: Path, n: int) -> Path:
    """``n`` submissions under ``dest`` and a roster for them; returns the roster."""
    examples = ["part1-bookinfo", "part2-app", "broken"]
    lines = ["student,submission"]
    for i in range(n):
        name = f"s{i:03d}"
        shutil.copytree(EXAMPLES / examples[i % len(examples)], dest / name,
                        ignore=shutil.ignore_patterns("*.md"))
        _vary(dest / name, i)
        lines.append(f"{name},{name}")
    roster = dest / "roster.csv"
    roster.write_text("\n".join(lines) + "\n")
    return roster


def one(roster: Path, mode: str, workers: int, out: Path) -> dict[str, float]:
    """Run one configuration in this process (call in a fresh process: see ``--one``)."""
    from meshgrade.batch.progress import Progress
    from meshgrade.batch.roster import read_roster
    from meshgrade.batch.runner import BatchOptions, run_batch

    rows = read_roster(roster, mode)
    opts = BatchOptions(out=out, rubric="istio-full", rubric_name="istio-full",
                        workers=workers, timeout_s=300, formats=("json",))
    with open(os.devnull, "w") as sink:
        progress = Progress(len(rows), sink)
        start = time.perf_counter()
        summary = run_batch(rows, opts, on_done=progress.finished)
        elapsed = time.perf_counter() - start
        progress.close()
    return {"n": len(rows), "elapsed_s": elapsed, "graded": len(rows) - len(summary.not_gradable),
            "peak_child_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def measure(roster: Path, mode: str, workers: int, out: Path, side: str
            ) -> dict[str, float]:
    from baseline import SIDES

    proc = subprocess.run([sys.executable, __file__, "--one", str(roster), mode, str(workers),
                           str(out)], capture_output=True, text=True, check=True,
                          env=SIDES[side](), cwd=out.parent)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=int, default=50, help="submissions in repo mode (50)")
    ap.add_argument("--lab", type=int, default=10, help="submissions in lab mode (10)")
    ap.add_argument("--sides", nargs="+", default=["new"], choices=("old", "new"),
                    help="the code to run: before issue 12 (old), the working tree (new)")
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        roster, mode, workers, out = args.one
        print(json.dumps(one(Path(roster), mode, int(workers), Path(out))))
        return 0
    with tempfile.TemporaryDirectory(prefix="meshgrade-bench-") as tmp:
        base = Path(tmp)
        rows = []
        for mode, n in (("repo", args.repo), ("lab", args.lab)):
            if n <= 0:
                continue
            roster = make_submissions(base / f"{mode}-subs", n)
            results = {(side, w): measure(roster, mode, w, base / f"{mode}-out-{side}-{w}", side)
                       for w in (1, 2) for side in args.sides}
            rows.append((mode, n, results))
        print(f"{'side':<5}{'mode':<6}{'subs':>6}  {'workers':>8}{'seconds':>9}{'subs/min':>10}"
              f"{'graded':>8}{'peak child MiB':>16}")
        for mode, n, results in rows:
            for (side, w), r in results.items():
                print(f"{side:<5}{mode:<6}{n:>6}  {w:>8}{r['elapsed_s']:>9.1f}"
                      f"{60 * r['n'] / r['elapsed_s']:>10.1f}{int(r['graded']):>8}"
                      f"{r['peak_child_mib']:>16.0f}")
            for side in args.sides:
                speedup = results[side, 1]["elapsed_s"] / results[side, 2]["elapsed_s"]
                print(f"{side:<5}{'':<6}{'':>6}  2 workers: {speedup:.2f}x the throughput of 1")
            if len(args.sides) == 2:
                ratio = results["old", 2]["elapsed_s"] / results["new", 2]["elapsed_s"]
                print(f"{'':<11}{'':>6}  2 workers, new against old: {ratio:.2f}x the throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
