"""Property: no check raises, whatever values a submission's YAML holds.

Each example loads a submission made of valid skeletons (the examples' objects and a few
more kinds) with arbitrary YAML values (null, booleans, huge or odd numbers, unicode and long
strings, lists, maps, non-string keys) put, added or removed at random field paths, plus
documents of every kind with arbitrary content and wholly arbitrary documents. It then calls
every static check's function directly (``check.run`` would turn a crash into an ``error``
result and hide it), and MG309's comparison of the repository with a cluster holding the
same objects; a warning logged by meshgrade (a crash some inner net swallowed) fails too.

Left out: the other live checks (MG301-MG308, MG4xx), which judge what a cluster or the lab
serves (objects the API server typed), not the repository's YAML.
``MESHGRADE_PROPERTY_EXAMPLES=20000`` runs longer than the default 150 examples.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshgrade.checklib import clusterstate
from meshgrade.cluster.read import ClusterFacts
from meshgrade.grading import catalogue, registry
from meshgrade.grading.results import CheckReport
from meshgrade.grading.settings import Settings
from meshgrade.submission.objects import KObject

from .conftest import CASES, EXAMPLES, context_for

EXAMPLES_RUN = int(os.environ.get("MESHGRADE_PROPERTY_EXAMPLES", "150"))
STATIC = [c for c in registry.checks().values()
          if "repo" in c.sources and c.group not in ("MG3", "MG4")]

_EXTRA = """\
apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-v1-7d9c-x2k4p, labels: {app: ratings, version: v1}}
spec: {containers: [{name: ratings, image: ratings:1.0, ports: [{containerPort: 9080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: store, labels: {app: store}}
spec:
  replicas: 2
  selector: {matchExpressions: [{key: app, operator: In, values: [store]}]}
  template: {metadata: {labels: {app: store, version: v1}}, spec: {containers: []}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: store}
  spec: {selector: {app: store}, ports: [{name: http, port: 8080}]}
"""
_ROUTING = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings, ratings.default.svc.cluster.local]
  exportTo: ["."]
  http:
  - match:
    - {headers: {end-user: {regex: "jas.*"}}, withoutHeaders: {x-test: {}}, port: 9080,
       queryParams: {q: {exact: ""}}, sourceLabels: {app: reviews}, gateways: [mesh]}
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: ratings, subset: v1, port: {number: 9080}}, weight: 100}]
  - match: [{uri: {prefix: /old}, ignoreUriCase: true}]
    redirect: {uri: /new, redirectCode: 302}
  - match: [{method: {exact: GET}, authority: {prefix: ratings}}]
    directResponse: {status: 418}
  - delegate: {name: ratings-child, namespace: default}
  - route: [{destination: {host: ratings, subset: v1}}]
  tcp: [{match: [{port: 9080}], route: [{destination: {host: ratings}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings-child}
spec:
  http: [{route: [{destination: {host: ratings}, weight: 60}, {destination: {host: details},
                                                              weight: 40}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings.default.svc.cluster.local
  exportTo: ["*"]
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["./*.example.com"]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: details}
spec:
  parentRefs: [{name: bookinfo-gateway, sectionName: http}, {kind: Service, group: "",
                                                              name: details, port: 9080}]
  hostnames: [details.example.com]
  rules:
  - matches: [{path: {type: RegularExpression, value: "/d.*"}, method: GET,
               headers: [{name: end-user, value: jason}], queryParams: [{name: q, value: x}]}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]
  - backendRefs: [{name: details, port: 9080, weight: 2}, {name: ratings, weight: 0}]
---
apiVersion: v1
kind: Service
metadata: {name: external}
spec: {type: ExternalName, externalName: example.com, clusterIP: 10.0.0.9}
---
apiVersion: v1
kind: Pod
metadata:
  name: details-v1-5d8f-abcde
  labels: {app: details, version: v1, pod-template-hash: 5d8f}
  ownerReferences: [{kind: ReplicaSet, name: details-v1-5d8f}]
spec: {containers: [{name: details}], nodeSelector: {zone: a}}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
"""


def _skeletons() -> list[list[Any]]:
    """The documents of each skeleton file (the examples, the Gateway API cases, more kinds)."""
    files = sorted((EXAMPLES / "part1-bookinfo").glob("*.yaml"))
    files += sorted((EXAMPLES / "part2-app").glob("*.yaml"))
    files += [CASES / "MG201/good-gateway-api/gw.yaml",
              CASES / "MG204/good-gateway-api/routes.yaml"]
    texts = [f.read_text("utf-8") for f in files] + [_EXTRA, _ROUTING]
    out = [[d for d in yaml.safe_load_all(t) if d is not None] for t in texts]
    for n, doc in enumerate(d for docs in out for d in docs):
        if n % 2 and "name" in doc.get("metadata", {}):  # a namespace to mutate, too
            doc["metadata"].setdefault("namespace", "default")
    return out


SKELETONS = _skeletons()
KINDS = sorted({d["kind"] for docs in SKELETONS for d in docs}
               | {"DaemonSet", "ReplicaSet", "Ingress", "Kustomization", "DeploymentList"})
API_VERSIONS = sorted({d["apiVersion"] for docs in SKELETONS for d in docs}
                      | {"networking.istio.io/v1alpha3", "extensions/v1beta1", "v2/x/y"})
WORDS = ["", " ", "*", "/", "~", "{x}", "%s", "..", "-", "reviews", "productpage", "ratings",
         "greeter", "bookinfo-gateway", "mesh", "v1", "v2", "v3", "default", "istio-system",
         "reviews.default.svc.cluster.local", "*.local", "end-user", "jason", "x-canary", "true",
         "100", "-1", "1e400", "In", "NotIn", "Exists", "http", "http-web", "tcp", "HTTP",
         "PathPrefix", "Exact", "RegularExpression", "^(.*$", "/productpage", "MyApp",
         "a" * 69, "ü" * 70, "x." * 130, "y" * 10_000, "app.kubernetes.io/name", "-bad-",
         "a/b/c"]
KEYS = ["name", "namespace", "labels", "selector", "matchLabels", "matchExpressions", "key",
        "operator", "values", "hosts", "host", "gateways", "http", "route", "destination",
        "subset", "subsets", "weight", "match", "headers", "exact", "prefix", "regex", "uri",
        "port", "number", "ports", "protocol", "targetPort", "appProtocol", "servers",
        "template", "metadata", "spec", "rules", "matches", "backendRefs", "parentRefs",
        "path", "type", "value", "listeners", "items", "replicas", "version", "app"]

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(WORDS),
    st.integers(), st.sampled_from([0, 100, -100, 2**63, -(2**64), 10**40]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
    st.builds(lambda c, n: c * n, st.characters(exclude_categories=("Cs",)),
              st.integers(60, 300)),
)
map_keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(-3, 3),
                     st.booleans(), st.none(), st.sampled_from([1.5, math.inf]))
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(map_keys, scalars, max_size=3),
    st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(map_keys, inner, max_size=4)),
        max_leaves=12))
kind_documents = st.fixed_dictionaries(
    {"apiVersion": st.one_of(st.sampled_from(API_VERSIONS), values),
     "kind": st.sampled_from(KINDS),
     "metadata": st.one_of(st.fixed_dictionaries(
         {"name": st.one_of(st.sampled_from(WORDS), values)},
         optional={"namespace": values, "labels": values}), values)},
    optional={"spec": values, "items": st.lists(values, max_size=3)})


def _slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) in a document, the containers themselves as
    (container, None)."""
    if isinstance(node, (dict, list)):
        yield node, None
        for k in list(node) if isinstance(node, dict) else range(len(node)):
            yield node, k
            yield from _slots(node[k])


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with a few values replaced, added, removed or moved to another key."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 4))):
        slots = list(_slots(doc))
        if not slots:
            return draw(values)
        node, k = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["set", "drop", "rekey"] if k is not None else ["add"]))
        if op == "add" and isinstance(node, dict):
            node[draw(map_keys)] = draw(values)
        elif op == "add":
            node.insert(draw(st.integers(0, len(node))), draw(values))
        elif op == "set":
            node[k] = draw(values)
        elif op == "drop" or isinstance(node, list):
            del node[k]
        else:
            node[draw(map_keys)] = node.pop(k)
    return doc


@st.composite
def submissions(draw: st.DrawFn) -> list[list[Any]]:
    """Files of documents: some skeleton files, some of their documents mutated, and one
    file of documents of every kind and arbitrary documents."""
    chosen = draw(st.sets(st.integers(0, len(SKELETONS) - 1), min_size=1))
    files = [[draw(mutated(d)) if draw(st.booleans()) else d for d in SKELETONS[i]]
             for i in sorted(chosen)]
    files.append(draw(st.lists(st.one_of(kind_documents, values), max_size=3)))
    return files


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _run_all(folder: Path, bookinfo: bool) -> None:
    ctx = context_for(folder, Settings(bookinfo_baseline=bookinfo))
    reports: dict[str, CheckReport] = {c.id: c.fn(ctx) for c in STATIC}
    cluster = [KObject(o.raw, o.file, o.line, order=o.order, origin="cluster", lines=o.lines)
               for o in ctx.index.objects]
    facts = ClusterFacts("default", reachable=True, objects=cluster)
    reports["MG309"] = clusterstate.cluster_matches_repo(facts, ctx.index.submitted)
    for cid, report in reports.items():
        assert isinstance(report, CheckReport), cid
        assert all(isinstance(f.message, str) for f in report.findings), cid


@pytest.mark.slow  # 150 generated submissions, every static check on each: seconds
@settings(max_examples=EXAMPLES_RUN, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(files=submissions(), bookinfo=st.booleans())
def test_no_check_raises(files: list[list[Any]], bookinfo: bool) -> None:
    watch = _Warnings()
    logging.getLogger("meshgrade").addHandler(watch)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n, docs in enumerate(files):
                text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
                (Path(tmp) / f"f{n:02d}.yaml").write_text(text, "utf-8")
            _run_all(Path(tmp), bookinfo)
    finally:
        logging.getLogger("meshgrade").removeHandler(watch)
    assert not watch.records, [r.getMessage() for r in watch.records]


def test_no_template_field_clashes_with_finding_parameters() -> None:
    """``finding(check_id, key, obj, path, /, *, file, line, **fields)``: a template field
    named ``file`` or ``line`` would make every finding of that template raise."""
    for cid, templates in catalogue.catalogued().items():
        for key, template in templates.items():
            names = {f for part in template.values() if isinstance(part, str)
                     for _, f, _, _ in string.Formatter().parse(part) if f}
            assert not names & {"file", "line"}, f"{cid}.{key}: {names}"
