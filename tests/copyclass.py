"""A synthetic class for the copied-work detector (its tests and ``benchmarks/copies.py``):
every student hands in the Istio docs' samples for Part 1, in their own layout (file names,
flow or block style, comments, document order), and an application of their own for Part 2;
some copy another student's work, verbatim or renamed.

Honest students look alike on purpose: the same kinds, the same shapes, parameters drawn from
a few common choices (image, port, header, weights, host), so any two of them agree on many
fields and differ in a few.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent
SAMPLES = ROOT / "docs_paths" / "classic"
APPS = ("greeter", "echo", "shop", "quotes", "weather", "notes", "todo", "books", "gallery",
        "clock", "dice", "jokes", "maps", "music", "poll", "chat")
IMAGES = ("hashicorp/http-echo:1.0", "nginxdemos/hello:plain-text", "ealen/echo-server:0.9",
          "kennethreitz/httpbin", "traefik/whoami:v1.10", "mendhak/http-https-echo:31",
          "jmalloc/echo-server:0.3")
PORTS = (5678, 8080, 80, 3000, 5000, 8000, 9090, 8081, 8888, 4000, 7000)
HEADERS = (("x-canary", "true"), ("x-version", "v2"), ("x-beta", "yes"), ("end-user", "tester"),
           ("x-user-group", "beta"), ("x-preview", "1"), ("x-test", "on"), ("x-env", "next"),
           ("x-channel", "insider"), ("x-api-version", "2"), ("x-ring", "0"), ("x-flag", "new"),
           ("x-client", "mobile"))
SPLITS = ((90, 10), (80, 20), (75, 25), (50, 50), (70, 30), (60, 40), (95, 5), (85, 15),
          (65, 35), (55, 45), (99, 1), (40, 60), (30, 70), (20, 80), (10, 90), (45, 55), (35, 65))
HOSTS = ("*", "{app}.example.com", "{app}.local", "{app}.test", "app.{app}.io",
         "{app}.course.org", "www.{app}.dev", "{app}.internal", "{app}.lab", "{app}.demo",
         "{app}.home", "{app}.site", "{app}.cloud", "{app}.page", "{app}.space", "{app}.fun",
         "{app}.zone", "{app}.club", "{app}.blog")
# a parameter's choice for student i is i mod its list length: two students agree on a
# parameter when their indices agree modulo that length
PARAMS = (("image", IMAGES), ("port", PORTS), ("header", HEADERS), ("split", SPLITS),
          ("host", HOSTS))


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def part1(style: int) -> dict[str, list[dict[str, Any]]]:
    """The docs' samples as one student lays them out: file name -> documents."""
    files = {f.name: _load(f) for f in sorted(SAMPLES.glob("*.yaml"))}
    if style % 3 == 1:  # one file for everything
        return {"istio.yaml": [d for docs in files.values() for d in docs]}
    if style % 3 == 2:  # numbered steps, documents reversed
        return {f"step-{i}.yaml": list(reversed(docs))
                for i, docs in enumerate(files.values(), 1)}
    return files


def app(student: str, i: int) -> list[dict[str, Any]]:
    """Student ``i``'s own Part 2 application: two Deployments, a Service, a
    DestinationRule, a Gateway and header and weighted VirtualServices."""
    pick = {name: values[i % len(values)] for name, values in PARAMS}
    name = APPS[i % len(APPS)]
    port = pick["port"]
    header, value = pick["header"]
    w1, w2 = pick["split"]
    host = pick["host"].format(app=name)
    labels = {"app": name}

    def deployment(version: str) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": f"{name}-{version}", "labels": {**labels,
                                                                      "version": version}},
                "spec": {"replicas": 1 + (i % 2),
                         "selector": {"matchLabels": {**labels, "version": version}},
                         "template": {"metadata": {"labels": {**labels, "version": version}},
                                      "spec": {"containers": [{
                                          "name": name, "image": pick["image"],
                                          "args": [f"-text={version} by {student}"],
                                          "ports": [{"containerPort": port}]}]}}}}

    def route(match: list[dict[str, Any]] | None, dests: list[tuple[str, int]]
              ) -> dict[str, Any]:
        rule: dict[str, Any] = {"route": [{"destination": {"host": name, "subset": s},
                                           **({"weight": w} if len(dests) > 1 else {})}
                                          for s, w in dests]}
        return {"match": match, **rule} if match else rule

    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": port}]}},
        deployment("v1"), deployment("v2"),
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
         "metadata": {"name": name},
         "spec": {"host": name, "subsets": [{"name": v, "labels": {"version": v}}
                                            for v in ("v1", "v2")]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": f"{name}-gateway"},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                               "hosts": [host]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": name},
         "spec": {"hosts": [host], "gateways": [f"{name}-gateway"],
                  "http": [route([{"headers": {header: {"exact": value}}}], [("v2", 100)]),
                           route(None, [("v1", 100)])]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": name},
         "spec": {"hosts": [host], "gateways": [f"{name}-gateway"],
                  "http": [route(None, [("v1", w1), ("v2", w2)])]}},
    ]


def honest(student: str, i: int) -> dict[str, list[dict[str, Any]]]:
    """A whole honest submission: the docs' samples and an application of their own."""
    return {**part1(i), "app.yaml": app(student, i)[:3], "routing.yaml": app(student, i)[3:]}


def renamed(files: dict[str, list[dict[str, Any]]], seed: int
            ) -> dict[str, list[dict[str, Any]]]:
    """A copy with every object and application renamed, files renamed and merged, and the
    documents shuffled: what a student hiding a copy would do."""
    names = {str(d["metadata"]["name"]).split("-")[0] for docs in files.values() for d in docs
             if d.get("kind") in ("Deployment", "Service")}
    rng = random.Random(seed)
    text = yaml.safe_dump_all([d for docs in files.values() for d in docs], sort_keys=True)
    for old in sorted(names, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(old)}\b", f"my{old}app", text)
    docs = list(yaml.safe_load_all(text))
    rng.shuffle(docs)
    return {"all-in-one.yml": docs}


def write(folder: Path, files: dict[str, list[dict[str, Any]]], *, flow: bool = False,
          note: str = "") -> Path:
    """The submission's files, in block or flow style, each with a comment."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, docs in files.items():
        body = yaml.safe_dump_all(docs, sort_keys=not flow, default_flow_style=None if flow
                                  else False)
        (folder / name).write_text(f"# {note or name}\n{body}", encoding="utf-8")
    return folder


def objects(files: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The submission as ``objects.json`` rows (what a grade process writes)."""
    return [{"kind": d.get("kind"), "name": d["metadata"].get("name"),
             "namespace": d["metadata"].get("namespace", "default"), "file": name,
             "line": 1, "object": d} for name, docs in files.items() for d in docs]
