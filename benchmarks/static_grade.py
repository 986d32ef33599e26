"""Benchmark: grade synthetic repositories of 100, 1,000 and 10,000 documents in repo mode.

Each size runs in a fresh process (so peak memory is that size's own): load every file,
build the index and run every registered check, as `meshgrade grade --mode repo` does,
without the pytest wrapper. Prints seconds, peak RSS and seconds per 1,000 documents.

    python benchmarks/static_grade.py [SIZES...]
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = """apiVersion: v1
kind: Service
metadata: {{name: app{i}, namespace: ns{ns}}}
spec:
  selector: {{app: app{i}}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i}-v1, namespace: ns{ns}}}
spec:
  selector: {{matchLabels: {{app: app{i}, version: v1}}}}
  template:
    metadata: {{labels: {{app: app{i}, version: v1}}}}
    spec: {{containers: [{{name: app, image: nginx:1.27, ports: [{{containerPort: 8080}}]}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i}-v2, namespace: ns{ns}}}
spec:
  selector: {{matchLabels: {{app: app{i}, version: v2}}}}
  template:
    metadata: {{labels: {{app: app{i}, version: v2}}}}
    spec: {{containers: [{{name: app, image: nginx:1.27, ports: [{{containerPort: 8080}}]}}]}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: app{i}, namespace: ns{ns}}}
spec:
  host: app{i}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: app{i}-gw, namespace: ns{ns}}}
spec:
  selector: {{istio: ingressgateway}}
  servers: [{{port: {{number: 8080, name: http, protocol: HTTP}}, hosts: [app{i}.example.com]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: app{i}, namespace: ns{ns}}}
spec:
  hosts: [app{i}.example.com]
  gateways: [app{i}-gw]
  http:
  - match: [{{headers: {{x-canary: {{exact: "true"}}}}}}]
    route: [{{destination: {{host: app{i}, subset: v2}}}}]
  - route: [{{destination: {{host: app{i}, subset: v1}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: app{i}-mesh, namespace: ns{ns}}}
spec:
  hosts: [app{i}]
  http:
  - route:
    - {{destination: {{host: app{i}, subset: v1}}, weight: 80}}
    - {{destination: {{host: app{i}, subset: v2}}, weight: 20}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app{i}-config, namespace: ns{ns}}}
data: {{greeting: hello}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: app{i}, namespace: ns{ns}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: app{i}-extra, labels: {{istio-injection: enabled}}}}
"""
DOCS_PER_APP = 10


def make_repo(root: Path, documents: int) -> None:
    """``documents`` objects in files of one app (10 documents) each, 10 apps a namespace."""
    for i in range(documents // DOCS_PER_APP):
        folder = root / f"ns{i // 10}"
        folder.mkdir(exist_ok=True)
        (folder / f"app{i}.yaml").write_text(APP.format(i=i, ns=i // 10))


def measure(documents: int) -> dict[str, float]:
    """Run in a child process: build, then time loading and every check."""
    from meshgrade.grading import registry
    from meshgrade.grading.check import run
    from meshgrade.grading.settings import Settings
    from meshgrade.submission.limits import Limits
    from meshgrade.submission.loader import load_folder
    from meshgrade.submission.source import build_context

    registry.checks()
    from meshgrade import schema  # noqa: F401  (import cost is start-up, not per document)

    with tempfile.TemporaryDirectory() as tmp:
        make_repo(Path(tmp), documents)
        start = time.perf_counter()
        sub = load_folder(Path(tmp), limits=Limits(max_nodes=10**7, max_documents=10**6,
                                                   max_total_bytes=2**30))
        loaded = time.perf_counter()
        ctx = build_context(sub, Settings())
        outcomes = [run(check, ctx)[0].outcome.value for check in registry.checks().values()]
        done = time.perf_counter()
    return {"documents": len(sub.objects), "load_s": loaded - start, "checks_s": done - loaded,
            "total_s": done - start, "failed": outcomes.count("failed"),
            "errors": outcomes.count("error"),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(sizes: list[int]) -> None:
    print(f"meshgrade static grading benchmark; python {platform.python_version()}, "
          f"{platform.machine()}, {time.strftime('%Y-%m-%d')}")
    print(f"{'documents':>10} {'load s':>8} {'checks s':>9} {'total s':>8} "
          f"{'s/1000 docs':>12} {'peak MiB':>9}")
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(size)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        per_k = r["total_s"] / r["documents"] * 1000
        print(f"{r['documents']:>10} {r['load_s']:>8.3f} {r['checks_s']:>9.3f} "
              f"{r['total_s']:>8.3f} {per_k:>12.3f} {r['peak_mib']:>9.0f}"
              + (f"   ({r['errors']} check errors)" if r["errors"] else ""))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])
