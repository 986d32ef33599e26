"""Benchmark: the copied-work detector of ``meshgrade batch`` for a class of 300.

A synthetic class (``tests/copyclass.py``): every student hands in the Istio docs' samples in
a layout of their own and a two-version application of their own; 5 copy another student,
verbatim or renamed and shuffled. Each student's ``objects.json`` is written as a grade
process would, then the class report's detector runs over the folder: reading, normalising,
taking out the shared objects, comparing every pair, matching objects side by side. Prints
the time of each step (best of 3), the pairs compared and found, and the peak memory.

    python benchmarks/copies.py [--students 300]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshgrade.batch import copies  # noqa: E402
from tests import copyclass as cc  # noqa: E402

COPIERS = {"copy-verbatim": 3, "copy-renamed": 7, "copy-renamed-2": 11, "copy-of-copy": 11,
           "copy-late": 250}


def make_class(out: Path, n: int) -> dict[str, str]:
    """``n`` honest students and the COPIERS, as objects.json files; student -> folder."""
    folders = {}
    for i in range(n):
        files = cc.honest(f"s{i:03d}", i)
        folders[f"s{i:03d}"] = files
    for k, (name, source) in enumerate(COPIERS.items()):
        original = folders[f"s{source:03d}"]
        folders[name] = original if name == "copy-verbatim" else cc.renamed(original, k)
    for name, files in folders.items():
        (out / name).mkdir(parents=True)
        (out / name / copies.OBJECTS_FILE).write_text(json.dumps(cc.objects(files)), "utf-8")
    return {name: name for name in folders}


def best(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        folders = make_class(out, args.students)
        total = len(folders)
        size = sum((out / f / copies.OBJECTS_FILE).stat().st_size for f in folders.values())
        print(f"class: {total} students ({args.students} honest, {len(COPIERS)} copiers), "
              f"objects.json {size / total / 1024:.1f} KiB each")
        t_read, students = best(lambda: {s: copies.read(out / f / copies.OBJECTS_FILE)
                                         for s, f in folders.items()})
        t_shared, shared = best(lambda: copies.Shared.of(copies.shared_raws()))
        t_norm, subs = best(lambda: [copies.Submission.of(s, o, shared)
                                     for s, o in students.items()])
        w = copies.weights(subs)
        t_pairs, sims = best(lambda: copies.similarities(subs, w))
        t_all, pairs = best(lambda: copies.detect_in(out, folders))
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_pairs = total * (total - 1) // 2
    print(f"read objects.json      {t_read * 1000:8.0f} ms")
    print(f"shared objects         {t_shared * 1000:8.0f} ms  ({len(shared.features)} features)")
    print(f"normalise + features   {t_norm * 1000:8.0f} ms  "
          f"({sum(sum(s.bag.values()) for s in subs) / len(subs):.0f} own features each)")
    print(f"pairwise similarity    {t_pairs * 1000:8.0f} ms  ({len(sims)} of {n_pairs} pairs "
          "share a feature)")
    print(f"detect_in, end to end  {t_all * 1000:8.0f} ms  ({len(pairs)} pairs >= "
          f"{copies.DEFAULT_SIMILARITY:.0%}: "
          + ", ".join(f"{p.left}~{p.right}" for p in pairs) + ")")
    print(f"peak memory            {ru:8.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
