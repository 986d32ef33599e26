"""Benchmark: ``meshgrade watch`` from a saved YAML file to the printed change.

A course-sized repository (the Part 1 and Part 2 examples in one folder: 11 files, 40
objects) graded with ``istio-full`` in repo mode, as the watch loop does it, in this process:
the first run (imports and caches cold), then 30 edits that alternately break and fix a
subset name. Each edit's time is measured from the file's write to the printed report, with
the loop's own polling (``--interval`` 0.3 s by default, then 0.05 s for the files to settle).

    python benchmarks/watch.py [--edits 30] [--interval 0.3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    from meshgrade.grading import registry
    from meshgrade.grading.rubric import load
    from meshgrade.grading.watch import grade, stamp, watch

    imports = time.perf_counter() - t0
    rubric = load("istio-full", set(registry.checks()))
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(ROOT / "examples" / "part1-bookinfo", repo)
        for f in (ROOT / "examples" / "part2-app").glob("*.yaml"):
            shutil.copy(f, repo / f"app-{f.name}")
        files = len(list(repo.glob("*.yaml")))
        t0 = time.perf_counter()
        stamp(repo)
        t_stamp = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = grade(repo, rubric)
        t_first = time.perf_counter() - t0
        target = repo / "virtual-service-reviews-jason-v2.yaml"
        text = target.read_text()
        printed: list[float] = []
        written: list[float] = []
        done = threading.Event()

        def edit() -> None:
            for i in range(args.edits):
                time.sleep(args.interval * 2.3)  # let the loop print the last change
                target.write_text(text.replace("subset: v2", "subset: v9") if i % 2 == 0
                                  else text)
                written.append(time.perf_counter())
            time.sleep(args.interval * 2.3)
            done.set()

        def say(_text: str) -> None:
            printed.append(time.perf_counter())

        editor = threading.Thread(target=edit)
        editor.start()
        watch(repo, rubric, interval=args.interval, say=say, stop=done.is_set)
        editor.join()
        t0 = time.perf_counter()
        runs = 20
        for _ in range(runs):
            grade(repo, rubric)
        t_grade = (time.perf_counter() - t0) / runs
    lat = [p - w for w, p in zip(written, printed[1:], strict=False)]
    lat.sort()
    print(f"repository: {files} YAML files, {sum(1 for c in first.checks)} checks, "
          f"{len(first.diagrams)} routing diagrams")
    print(f"imports                      {imports * 1000:7.0f} ms")
    print(f"first run (cold)             {t_first * 1000:7.0f} ms")
    print(f"scan of the files (stamp)    {t_stamp * 1000:7.1f} ms")
    print(f"one warm regrade             {t_grade * 1000:7.0f} ms")
    print(f"save -> printed, {len(lat)} edits  median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {lat[-1] * 1000:.0f} ms (poll interval {args.interval:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
