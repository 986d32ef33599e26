"""Benchmark: the hostile inputs of the security issue (item 8), and submissions at the budgets.

Every case runs in a fresh process: `load_folder` wall and CPU time, peak RSS, and which
submission budget (``meshgrade.submission.limits.Limits``) stopped the reading; the time is
also given as a ratio to loading a correct submission (examples/part1-bookinfo). Then each
case through `meshgrade grade --mode repo --rubric istio-part1` end to end: exit code,
MG101's finding, time and peak RSS.

The old code cannot run beside the new one; the issue's own figures before the budgets are
printed beside each attack instead (ten 350 KB rule files: over 100 s in repo mode, three of
them 1.3 GB in lab mode; 16.7 million empty documents: 6 minutes).

    python benchmarks/hostile_input.py [--no-grade]
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from meshgrade.submission.limits import MIB, Limits

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits()
VS_HEAD = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs{i}}}
spec:
  hosts: [reviews]
  http:
"""
VS_HEAD_NODES = 17  # mapping, key/value pairs and the hosts and http lists of VS_HEAD
ALIASED_RULE = """  - &r
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
"""
PLAIN_RULE = "  - route: [{destination: {host: reviews}}]\n"
PLAIN_RULE_NODES = 8


def alias_rules(root: Path, files: int = 10, rules: int = 50_000) -> None:
    """The issue's attack: files of about 350 KB, each a VirtualService of ``rules`` HTTP
    rules of 19 nodes, all but the first an alias (`- *r`)."""
    for i in range(files):
        text = VS_HEAD.format(i=i) + ALIASED_RULE + "  - *r\n" * (rules - 1)
        (root / f"vs{i}.yaml").write_text(text)


def empty_documents(root: Path, total_bytes: int = 64 * MIB) -> None:
    """The issue's attack: 16.7 million empty documents ('---' lines) in 64 MiB, split in
    files of the per-file size limit."""
    per_file = LIMITS.max_file_bytes // 4
    for i in range(total_bytes // LIMITS.max_file_bytes):
        (root / f"empty{i:02}.yaml").write_text("---\n" * per_file)


def yaml_bomb(root: Path, levels: int = 9) -> None:
    """A 'billion laughs': each anchor a list of nine aliases of the previous one."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}",
             'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    (root / "bomb.yaml").write_text("\n".join(lines) + "\n")


def nodes_at_budget(root: Path) -> None:
    """Just under max_nodes without aliases: VirtualServices of 1,000 rules written out,
    the cheapest nodes to write and among the costliest to grade (one HTTP rule each 8)."""
    per_file = VS_HEAD_NODES + 1000 * PLAIN_RULE_NODES
    left, i = LIMITS.max_nodes, 0
    while left > VS_HEAD_NODES + PLAIN_RULE_NODES:
        rules = min(1000, (left - VS_HEAD_NODES) // PLAIN_RULE_NODES)
        (root / f"vs{i:03}.yaml").write_text(VS_HEAD.format(i=i) + PLAIN_RULE * rules)
        left, i = left - min(per_file, VS_HEAD_NODES + rules * PLAIN_RULE_NODES), i + 1


def _config_map(i: int) -> str:
    return f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"


def documents_at_budget(root: Path, per_file: int = 100) -> None:
    """max_documents small ConfigMaps (9 nodes each), 100 to a file."""
    for f in range(LIMITS.max_documents // per_file):
        text = "".join(_config_map(f * per_file + i) for i in range(per_file))
        (root / f"cm{f:03}.yaml").write_text(text)


def files_at_budget(root: Path) -> None:
    """max_files files of one small ConfigMap each."""
    for i in range(LIMITS.max_files):
        (root / f"cm{i:04}.yaml").write_text(_config_map(i))


def bytes_at_budget(root: Path) -> None:
    """Just under max_total_bytes: files of nearly the per-file limit, each one ConfigMap
    holding a single large block scalar (few nodes, many bytes kept in memory)."""
    size = LIMITS.max_file_bytes - 1024
    line = "    " + "x" * 75 + "\n"
    for i in range(LIMITS.max_total_bytes // LIMITS.max_file_bytes):
        head = _config_map(i) + "data:\n  blob: |\n"
        (root / f"blob{i:02}.yaml").write_text(head + line * ((size - len(head)) // len(line)))


def bookinfo(root: Path) -> None:
    """A correct submission (the reference): examples/part1-bookinfo."""
    for path in (REPO / "examples" / "part1-bookinfo").glob("*.yaml"):
        (root / path.name).write_bytes(path.read_bytes())


# (name, builder, the figure before the budgets)
CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("correct: part1-bookinfo", bookinfo, ""),
    ("attack: 10 x 50,000 alias rules", alias_rules, ">100 s repo, 1.3 GB lab (3 files)"),
    ("attack: 16.7M empty documents", empty_documents, "6 min"),
    ("attack: billion laughs", yaml_bomb, ""),
    ("at max_nodes (plain rules)", nodes_at_budget, ""),
    ("at max_documents", documents_at_budget, ""),
    ("at max_files", files_at_budget, ""),
    ("at max_total_bytes", bytes_at_budget, ""),
]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_load(folder: Path) -> dict[str, object]:
    from meshgrade.submission.loader import load_folder

    before = _peak_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    sub = load_folder(folder)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "peak_mib": _peak_mib(), "base_mib": before,
            "files": len(sub.files), "objects": len(sub.objects),
            "budget": ", ".join(r.split(":")[0] for r in sub.budget_exceeded) or "-"}


def child_grade(folder: Path, out: Path) -> dict[str, object]:
    from meshgrade.cli.main import main

    wall = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        code = main(["grade", str(folder), "--mode", "repo", "--rubric", "istio-part1",
                     "--out", str(out), "--format", "json", "--no-color"])
    wall = time.perf_counter() - wall
    checks = json.loads((out / "results.json").read_text())["checks"]
    mg101 = next(c for c in checks if c["id"] == "MG101")
    findings = mg101.get("findings") or []
    return {"wall_s": wall, "peak_mib": _peak_mib(), "exit": code,
            "mg101": mg101["outcome"], "finding": findings[0]["message"] if findings else ""}


def _in_child(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                          capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(grade: bool) -> None:
    print(f"meshgrade hostile input benchmark; python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print(f"budgets: max_nodes {LIMITS.max_nodes:,}, max_documents {LIMITS.max_documents:,}, "
          f"max_files {LIMITS.max_files:,}, max_total_bytes {LIMITS.max_total_bytes // MIB} MiB"
          f" (per file: {LIMITS.max_file_bytes // MIB} MiB)")
    print("\nload_folder, each case in a fresh process (peak = whole process; 'base' = "
          "after imports)")
    print(f"{'case':<34} {'MiB on disk':>11} {'wall s':>7} {'cpu s':>6} {'x correct':>9} "
          f"{'peak MiB':>8} {'base':>5} {'files':>5} {'objects':>7}  stopped by  before")
    with tempfile.TemporaryDirectory() as tmp:
        reference = 0.0
        for n, (name, build, before) in enumerate(CASES):
            folder = Path(tmp) / f"case{n}"
            folder.mkdir()
            build(folder)
            disk = sum(p.stat().st_size for p in folder.iterdir()) / MIB
            r = _in_child("load", str(folder))
            wall = float(r["wall_s"])  # type: ignore[arg-type]
            reference = reference or wall
            print(f"{name:<34} {disk:>11.2f} {wall:>7.3f} {r['cpu_s']:>6.2f} "
                  f"{wall / reference:>9.0f} {r['peak_mib']:>8.0f} {r['base_mib']:>5.0f} "
                  f"{r['files']:>5} {r['objects']:>7}  {r['budget']:<11} {before}")
        if not grade:
            return
        print("\nmeshgrade grade --mode repo --rubric istio-part1 --format json, each in a "
              "fresh process")
        print(f"{'case':<34} {'exit':>4} {'wall s':>7} {'peak MiB':>8}  MG101")
        for n, (name, _build, _before) in enumerate(CASES):
            r = _in_child("grade", str(Path(tmp) / f"case{n}"), str(Path(tmp) / f"out{n}"))
            print(f"{name:<34} {r['exit']:>4} {r['wall_s']:>7.2f} {r['peak_mib']:>8.0f}  "
                  f"{r['mg101']}: {str(r['finding'])[:160]}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        args = [Path(a) for a in sys.argv[3:]]
        result = child_load(*args) if sys.argv[2] == "load" else child_grade(*args)
        print(json.dumps(result))
    else:
        main(grade="--no-grade" not in sys.argv[1:])
