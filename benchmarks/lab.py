"""Benchmark: the local mesh lab, side by side in one run.

- start: ``Lab().start()`` until the first 200 from /productpage through the gateway
- requests per second through the gateway: a keep-alive client, a new connection per
  request, and a ``curl`` subprocess per request (the official docs' method)
- config change to effect: ``lab.apply`` of a routing file (returns once Envoy serves it),
  and until a client sees the new version
- resident memory of the lab process and of Envoy
- the course's way in (issue 10), on a lab started without Bookinfo: ``kubectl apply -f
  bookinfo.yaml`` until every pod is Ready, and a ``kubectl exec deploy/curl -- curl`` round
  trip through the mesh beside a ``curl`` from the host to the gateway

With ``--sides old new`` only the requests per second are measured (three clients; the CPU a
page of Envoy and of the lab process under four connections; `Sampler.sample` rates), and with
``--grade N`` the time of ``meshgrade grade examples/part1-bookinfo`` in lab mode, each side in
its own processes, interleaved ``--rounds`` times; "old" is commit ``WORKLOADS_BASE`` (the
threaded pod server), "new" the working tree (``--overlay``: the old commit with this tree's
workloads and traffic packages). Medians and new/old ratios are printed. ``--classes``: two
request classes sampled at once against one after the other.

    python benchmarks/lab.py [--requests N]
    python benchmarks/lab.py --sides old new [--rounds R] [--grade N] [--overlay]
    python benchmarks/lab.py --classes [--requests N] [--rounds R]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "part1-bookinfo"
COURSE = REPO / "tests" / "lab_course"  # bookinfo.yaml and curl.yaml, from the docs' facts
KUBECTL = Path(sys.executable).parent / "kubectl"
POD = re.compile(r"reviews-(v\d+)-")
WORKLOADS_BASE = "aa0dc69"  # before the asyncio pod runtime: a thread per connection
CONCURRENCY = 4  # the sampler's
OVERLAY = ("meshgrade/lab/workloads", "meshgrade/traffic")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rate(n: int, fn) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def concurrent_rate(n: int, host: str, port: int, clients: int = CONCURRENCY) -> float:
    """Requests/s of ``clients`` threads, each on its own keep-alive ``http.client``
    connection, ``n`` requests in all."""
    errors: list[int] = []

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        for _ in range(count):
            conn.request("GET", "/productpage")
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                errors.append(answer.status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(n // clients,)) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:5]
    return n // clients * clients / (time.perf_counter() - start)


def warmed(lab: Any) -> tuple[str, str, requests.Session, str]:
    """The gateway's host and port, a session and the product page's URL, once it answers."""
    host, port = lab.gateway_url.split(":")
    session = requests.Session()
    session.trust_env = False
    url = f"http://{lab.gateway_url}/productpage"
    while session.get(url, timeout=10).status_code != 200:
        pass
    return host, port, session, url


def throughput(n: int) -> dict[str, float]:
    """The gateway's requests/s for each client, on a fresh lab."""
    from meshgrade.lab.lab import Lab

    lab = Lab().start()
    try:
        host, port, session, url = warmed(lab)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)

        def lean() -> None:
            conn.request("GET", "/productpage")
            answer = conn.getresponse()
            answer.read()
            assert answer.status == 200

        rate(n // 5, lean)  # warm-up
        rates = {"keep-alive client (requests)":
                 rate(n, lambda: session.get(url, timeout=10).raise_for_status()),
                 "keep-alive client (http.client)": rate(n, lean)}
        envoy, lab_cpu = cpu_s(lab.envoy.pid), time.process_time()
        rates[f"{CONCURRENCY} keep-alive connections at once"] = concurrent_rate(
            n * 2, host, int(port))
        pages = n * 2 // CONCURRENCY * CONCURRENCY
        rates["  CPU ms a page, Envoy"] = (cpu_s(lab.envoy.pid) - envoy) / pages * 1000
        rates["  CPU ms a page, lab process (pods, client)"] = (
            time.process_time() - lab_cpu) / pages * 1000
        from meshgrade.traffic import BookinfoOracle, RequestClass, Sampler

        with Sampler(lab.gateway_url, run_id="bench") as sampler:
            for cls in (RequestClass.anonymous(), RequestClass.logged_in("jason")):
                sampler.sample(cls, 20, BookinfoOracle())  # warm-up, log-in
                start = time.perf_counter()
                sampler.sample(cls, n, BookinfoOracle())
                rates[f"Sampler.sample, {cls.name}"] = n / (time.perf_counter() - start)
        return rates
    finally:
        lab.stop()


def classes_at_once(n: int, rounds: int) -> None:
    """Two request classes (anonymous, jason) sampled one after the other against both at
    once from two threads, ``n`` streamed requests each, through one `Sampler`."""
    from meshgrade.lab.lab import Lab
    from meshgrade.traffic import BookinfoOracle, RequestClass, Sampler

    def take(sampler: Sampler, cls: RequestClass, oracle: BookinfoOracle) -> None:
        for count, _ in enumerate(sampler.stream(cls, oracle), 1):
            if count == n:
                break

    oracle = BookinfoOracle()
    classes = (RequestClass.anonymous(), RequestClass.logged_in("jason"))
    print(f"request classes at once, {n} streamed requests per class, {rounds} rounds")
    with Lab().start() as lab:
        for concurrency in (4, 8):
            with Sampler(lab.gateway_url, run_id="classes", concurrency=concurrency) as sampler:
                for cls in classes:
                    sampler.sample(cls, 40, oracle)  # warm-up, log-ins
                for _ in range(rounds):
                    start = time.perf_counter()
                    for cls in classes:
                        take(sampler, cls, oracle)
                    one = time.perf_counter() - start
                    threads = [threading.Thread(target=take, args=(sampler, cls, oracle))
                               for cls in classes]
                    start = time.perf_counter()
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    both = time.perf_counter() - start
                    print(f"  sampler concurrency {concurrency}: one after the other {one:5.2f} s,"
                          f" at once {both:5.2f} s: {one / both:4.2f}x")


def grade_s(env: dict[str, str]) -> float:
    """Seconds of one ``meshgrade grade examples/part1-bookinfo`` (lab mode, Part 1 rubric)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        # cwd: not REPO, where -m would import the working tree before PYTHONPATH's package
        done = subprocess.run([sys.executable, "-m", "meshgrade", "grade", str(EXAMPLES),
                               "--rubric", "istio-part1", "--out", out], env=env,
                              capture_output=True, text=True, cwd=out)
        took = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"grade failed ({done.returncode}): {done.stdout[-2000:]}"
                             f"{done.stderr[-2000:]}")
        return took


def overlay_tree(base: Path) -> Path:
    """``base`` with the working tree's pod runtime and traffic package in place of its own:
    this change alone, apart from other work in progress."""
    dest = base.parent / f"{base.name}-overlay"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(base, dest, symlinks=True)
    for part in OVERLAY:
        shutil.rmtree(dest / part)
        shutil.copytree(REPO / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    for link in ("_suite", "_fixtures", "_rubrics"):  # point into the copy, not the base
        target = dest / "meshgrade" / link
        if target.is_symlink():
            name = os.readlink(target)
            target.unlink()
            target.symlink_to(dest / Path(name).name)
    return dest


def sides(names: list[str], rounds: int, n: int, grades: int, overlay: bool = False) -> None:
    """Old and new side by side: interleaved processes, medians, new/old ratios."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from baseline import env, old_tree

    base = old_tree(WORKLOADS_BASE)
    envs = {"old": env(base), "new": env(overlay_tree(base) if overlay else None)}
    new = (f"{WORKLOADS_BASE} with this tree's {' and '.join(OVERLAY)}" if overlay
           else "the working tree")
    print(f"meshgrade lab benchmark, {time.strftime('%Y-%m-%d')}; sides {' '.join(names)} "
          f"(old = {WORKLOADS_BASE}, new = {new}), {rounds} rounds interleaved, {n} requests "
          f"per client; load average {os.getloadavg()[0]:.2f}")
    rates: dict[str, dict[str, list[float]]] = {side: {} for side in names}
    for _ in range(rounds):
        for side in names:
            out = subprocess.run([sys.executable, __file__, "--throughput-only", "--requests",
                                  str(n)], env=envs[side], capture_output=True, text=True,
                                 check=True, cwd=REPO).stdout
            for name, value in json.loads(out.splitlines()[-1]).items():
                rates[side].setdefault(name, []).append(value)
    head = "".join(f"{side:>22}" for side in names)
    print(f"{'requests/s through the gateway, /productpage':<44}{head}"
          + ("     new/old" if len(names) == 2 else ""))
    for name in rates[names[0]]:
        cells = [rates[side][name] for side in names]
        digits = 2 if "CPU" in name else 0
        line = "".join(f"{statistics.median(c):>8.{digits}f} "
                       f"({', '.join(f'{x:.{digits}f}' for x in c)})".rjust(22) for c in cells)
        ratio = (f"  {statistics.median(cells[1]) / statistics.median(cells[0]):9.2f}x"
                 if len(names) == 2 else "")
        print(f"{'  ' + name:<44}{line}{ratio}")
    grade: dict[str, list[float]] = {side: [] for side in names}
    for side in names if grades else []:
        grade_s(envs[side])  # warm-up: bytecode, schema cache
    for _ in range(grades):
        for side in names:
            grade[side].append(grade_s(envs[side]))
    if grades:
        cells = [grade[side] for side in names]
        line = "".join(f"{statistics.median(c):>7.2f} s ({', '.join(f'{x:.1f}' for x in c)})"
                       .rjust(22) for c in cells)
        ratio = (f"  {statistics.median(cells[0]) / statistics.median(cells[1]):6.2f}x faster"
                 if len(names) == 2 else "")
        print(f"{'grade part1-bookinfo, lab mode (median)':<44}{line}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--sides", nargs="+", choices=("old", "new"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--grade", type=int, default=0, metavar="N",
                        help="with --sides: also time N lab grades per side")
    parser.add_argument("--overlay", action="store_true",
                        help="with --sides: new is the old commit with this tree's "
                             "workloads and traffic packages (isolates them)")
    parser.add_argument("--classes", action="store_true",
                        help="only: two request classes sampled at once against in turn")
    parser.add_argument("--throughput-only", action="store_true",
                        help="print the requests/s of each client as JSON")
    args = parser.parse_args()
    n = args.requests
    if args.throughput_only:
        print(json.dumps(throughput(n)))
        return
    if args.classes:
        classes_at_once(n, args.rounds)
        return
    if args.sides:
        sides(args.sides, args.rounds, n, args.grade, args.overlay)
        return
    from meshgrade.lab.lab import Lab

    print(f"meshgrade lab benchmark, {time.strftime('%Y-%m-%d')}; {n} requests per client")
    t0 = time.perf_counter()
    lab = Lab().start()
    try:
        host, port, session, url = warmed(lab)
        ready = time.perf_counter() - t0
        print(f"{'lab start to first 200':<44} {ready * 1000:9.0f} ms   (goal < 1000 ms)")
        print(f"{'  of which Lab.start()':<44} {lab.started_s * 1000:9.0f} ms")

        def keep_alive() -> None:
            assert session.get(url, timeout=10).status_code == 200

        def new_connection() -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", "/productpage")
            assert conn.getresponse().status == 200
            conn.close()

        curl = shutil.which("curl")

        def curl_each() -> None:
            subprocess.run([curl, "-s", "-o", "/dev/null", "-f", url], check=True)

        rates = {"keep-alive client": rate(n, keep_alive),
                 "new connection per request": rate(n, new_connection)}
        if curl:
            rates["curl subprocess per request"] = rate(max(n // 3, 10), curl_each)
        base = rates.get("curl subprocess per request")
        for name, value in rates.items():
            ratio = f"   {value / base:4.1f}x the curl loop" if base else ""
            print(f"{'requests/s, ' + name:<44} {value:9.0f}{ratio}")
        lab.apply([EXAMPLES / "destination-rule-all.yaml"])
        rounds = []
        seen = []
        for i in range(10):
            target = EXAMPLES / ("virtual-service-reviews-v3.yaml" if i % 2 == 0
                                 else "virtual-service-all-v1.yaml")
            want = "v3" if i % 2 == 0 else "v1"
            start = time.perf_counter()
            lab.apply([target])
            rounds.append(time.perf_counter() - start)
            while POD.search(session.get(url, timeout=10).text).group(1) != want:
                pass
            seen.append(time.perf_counter() - start)
        rounds.sort()
        seen.sort()
        print(f"{'config change, lab.apply round trip (median)':<44} "
              f"{rounds[len(rounds) // 2] * 1000:9.1f} ms   (goal < 100 ms)")
        print(f"{'config change, until a client sees it (max)':<44} {seen[-1] * 1000:9.1f} ms")
        print(f"{'Envoy apply latency (last)':<44} {lab.envoy.last_apply_s * 1000:9.1f} ms")
        print(f"{'resident memory, lab process':<44} "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:9.0f} MiB (peak)")
        print(f"{'resident memory, Envoy':<44} {rss_mib(lab.envoy.pid):9.0f} MiB")
    finally:
        lab.stop()
    if KUBECTL.exists():
        course(max(n // 10, 10))


def course(n: int) -> None:
    """kubectl apply of Bookinfo to Ready, kubectl exec curl beside curl from the host."""
    from meshgrade.lab.lab import Lab

    lab = Lab(bookinfo=False).start()
    try:
        def kubectl(*args: str) -> None:
            subprocess.run([str(KUBECTL), "--kubeconfig", str(lab.kubeconfig), *args],
                           check=True, capture_output=True, timeout=300)

        kubectl("label", "namespace", "default", "istio-injection=enabled")
        start = time.perf_counter()
        kubectl("apply", "-f", str(COURSE / "bookinfo.yaml"))
        kubectl("wait", "--for=condition=Ready", "pods", "--all", "--timeout=300s")
        ready = time.perf_counter() - start
        print(f"{'kubectl apply -f bookinfo.yaml to all Ready':<44} {ready * 1000:9.0f} ms")
        kubectl("apply", "-f", str(COURSE / "curl.yaml"))
        kubectl("rollout", "status", "deploy/curl", "--timeout=300s")
        kubectl("apply", "-f", str(EXAMPLES / "bookinfo-gateway.yaml"))
        exec_curl = rate(n, lambda: kubectl(
            "exec", "deploy/curl", "-c", "curl", "--", "curl", "-sf", "-o", "/dev/null",
            "http://productpage:9080/productpage"))
        curl = shutil.which("curl")
        print(f"{'kubectl exec ... curl round trip (mean)':<44} {1000 / exec_curl:9.0f} ms")
        if curl:
            url = f"http://{lab.gateway_url}/productpage"
            host = rate(n, lambda: subprocess.run([curl, "-sf", "-o", "/dev/null", url],
                                                  check=True))
            print(f"{'curl from the host to the gateway (mean)':<44} {1000 / host:9.0f} ms   "
                  f"exec is {host / exec_curl:4.1f}x its time")
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
