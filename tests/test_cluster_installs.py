"""Cluster mode over Istio's documented installs: istiod, the ingress gateway and Kiali found
by their labels in any namespace (istioctl, Helm, revisioned, Gateway API, the Kiali addon,
chart and operator); pod checks that count containers, phases and selectors as Kubernetes
does; the gateway probe that wants an Envoy; and a lab whose ingress is installed the Helm
way, graded in cluster mode.

The objects are written from Istio's and Kiali's docs and charts (labels, names, ports)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from meshgrade.checklib import clusterstate
from meshgrade.cluster.connect import Forbidden, connect
from meshgrade.cluster.doctor import doctor
from meshgrade.cluster.gateway import discover_gateway_url, probe_envoy
from meshgrade.cluster.read import ClusterFacts, gather, kind_key, lookup
from meshgrade.grading import registry
from meshgrade.grading.results import CheckReport, Outcome
from meshgrade.lab.lab import Lab
from meshgrade.lab.pods import deployment_status
from meshgrade.submission.objects import KObject, matches

from .conftest import EXAMPLES, PATIENCE_S

GWAPI = "gateway.networking.k8s.io"
RUNNING = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}

def judge(check_id: str, facts: ClusterFacts) -> CheckReport:
    """Run one of MG301-MG307 (checks over the cluster's facts alone) on ``facts``."""
    report: CheckReport = registry.get(check_id).fn(facts)
    return report


FACT_CHECKS = [f"MG30{n}" for n in range(1, 8)]



# -- objects as the documented installs make them --------------------------------------

def _meta(name: str, ns: str | None, labels: dict[str, str] | None = None,
          **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels or {}), **extra}
    if ns is not None:
        meta["namespace"] = ns
    return meta


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, None, labels)}


def deployment(name: str, ns: str, labels: dict[str, str], match: dict[str, str], *,
               pod_labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
               containers: list[dict[str, Any]] | None = None,
               owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An available Deployment (the lab's finished-rollout status)."""
    meta = _meta(name, ns, labels, **({"ownerReferences": owners} if owners else {}))
    template = {"metadata": {"labels": {**match, **(pod_labels or {})},
                             "annotations": dict(annotations or {})},
                "spec": {"containers": containers or [{"name": name, "image": "app:1"}]}}
    return deployment_status({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                              "spec": {"replicas": 1, "selector": {"matchLabels": match},
                                       "template": template}})


def service(name: str, ns: str, selector: dict[str, str], ports: list[dict[str, Any]], *,
            lb_ip: str | None = None, kind: str = "LoadBalancer") -> dict[str, Any]:
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, ns),
                           "spec": {"type": kind, "selector": selector,
                                    "ports": copy.deepcopy(ports)}}
    if lb_ip:
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": lb_ip}]}}
    return svc


def istiod(ns: str = "istio-system", rev: str = "", *, helm: bool = False) -> dict[str, Any]:
    """istioctl's or ``helm install istiod istio/istiod``: ``app: istiod``, ``istio.io/rev``;
    ``istiod-<rev>`` selected by app and revision when revisioned."""
    labels = {"app": "istiod", "istio.io/rev": rev or "default", "istio": "pilot"}
    if helm:
        labels |= {"release": "istiod", "app.kubernetes.io/name": "istiod"}
    match = {"app": "istiod", "istio.io/rev": rev} if rev else {"istio": "pilot"}
    pod = {"app": "istiod", "istio.io/rev": rev or "default", "sidecar.istio.io/inject": "false",
           "istio": "istiod" if rev else "pilot"}
    return deployment(f"istiod-{rev}" if rev else "istiod", ns, labels, match, pod_labels=pod,
                      containers=[{"name": "discovery", "image": "docker.io/istio/pilot:1.24.2"}])


ISTIO_PORTS = [{"name": "status-port", "port": 15021, "targetPort": 15021},
               {"name": "http2", "port": 80, "targetPort": 8080},
               {"name": "https", "port": 443, "targetPort": 8443}]
CHART_PORTS = [{"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
               {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
               {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]


def classic_ingress(lb_ip: str) -> list[dict[str, Any]]:
    """``istioctl install --set profile=demo``: istio-system/istio-ingressgateway."""
    labels = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
    proxy = [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.2"}]
    return [deployment("istio-ingressgateway", "istio-system", labels, labels, containers=proxy),
            service("istio-ingressgateway", "istio-system", labels, ISTIO_PORTS, lb_ip=lb_ip)]


def chart_gateway(release: str, ns: str, *, lb_ip: str | None = None, rev: str = "",
                  ports: list[dict[str, Any]] | None = None, kind: str = "LoadBalancer"
                  ) -> list[dict[str, Any]]:
    """``helm install <release> istio/gateway -n <ns>``: Deployment and Service named after
    the release, selected by ``app: <release>`` and ``istio: <release without istio->``;
    pods injected with the gateway template, the proxy image ``auto``."""
    match = {"app": release, "istio": release.removeprefix("istio-")}
    pod = {"sidecar.istio.io/inject": "true", "app.kubernetes.io/name": release,
           **({"istio.io/rev": rev} if rev else {})}
    notes = {"inject.istio.io/templates": "gateway", "prometheus.io/port": "15020"}
    dep = deployment(release, ns, {**match, "app.kubernetes.io/name": release}, match,
                     pod_labels=pod, annotations=notes,
                     containers=[{"name": "istio-proxy", "image": "auto"}])
    return [dep, service(release, ns, match, ports or CHART_PORTS, lb_ip=lb_ip, kind=kind)]


def gateway_api(name: str, ns: str, lb_ip: str) -> list[dict[str, Any]]:
    """A Gateway of class istio and what Istio deploys for it: ``<name>-istio``, labelled
    with the gateway name and owned by the Gateway."""
    gw = {"apiVersion": f"{GWAPI}/v1", "kind": "Gateway", "metadata": _meta(name, ns),
          "spec": {"gatewayClassName": "istio", "listeners": [
              {"name": "http", "port": 80, "protocol": "HTTP"}]}}
    labels = {f"{GWAPI}/gateway-name": name, "gateway.istio.io/managed":
              "istio.io-gateway-controller"}
    owner = [{"apiVersion": f"{GWAPI}/v1", "kind": "Gateway", "name": name, "uid": "u1"}]
    dep = deployment(f"{name}-istio", ns, labels, {f"{GWAPI}/gateway-name": name},
                     pod_labels=labels, owners=owner,
                     containers=[{"name": "istio-proxy", "image": "auto"}])
    ports = [{"name": "status-port", "port": 15021, "appProtocol": "tcp"},
             {"name": "http", "port": 80, "appProtocol": "http"}]
    return [gw, dep, service(f"{name}-istio", ns, {f"{GWAPI}/gateway-name": name}, ports,
                             lb_ip=lb_ip)]


def waypoint(ns: str) -> dict[str, Any]:
    """An ambient waypoint: a Gateway API Deployment that is no ingress."""
    labels = {f"{GWAPI}/gateway-name": "waypoint",
              "gateway.istio.io/managed": "istio.io-mesh-controller"}
    return deployment("waypoint", ns, labels, {f"{GWAPI}/gateway-name": "waypoint"})


def kiali(ns: str, instance: str = "kiali") -> list[dict[str, Any]]:
    """Kiali's server as ``samples/addons/kiali.yaml``, the kiali-server chart or the
    operator deploy it: ``app.kubernetes.io/name: kiali``; Service port ``http`` 20001."""
    match = {"app.kubernetes.io/name": "kiali", "app.kubernetes.io/instance": instance}
    labels = {"app": "kiali", **match, "app.kubernetes.io/part-of": "kiali"}
    return [deployment(instance, ns, labels, match, pod_labels=labels),
            service(instance, ns, match, [{"name": "http", "port": 20001},
                                          {"name": "http-metrics", "port": 9090}],
                    kind="ClusterIP")]


def kiali_operator() -> dict[str, Any]:
    """``helm install kiali-operator kiali/kiali-operator -n kiali-operator``: not Kiali."""
    labels = {"app": "kiali-operator", "app.kubernetes.io/name": "kiali-operator"}
    return deployment("kiali-operator", "kiali-operator", labels, labels)


@dataclass
class Shape:
    """An install and where the grader must find its parts."""

    objects: list[dict[str, Any]]
    istiod: str
    ingress: str
    url: str
    how: str
    kiali: tuple[str, str]
    app_ns: dict[str, str] = field(default_factory=lambda: {"istio-injection": "enabled"})


SHAPES = {
    "istioctl-demo": Shape(
        [istiod(), *classic_ingress("192.0.2.1"), *kiali("istio-system")],
        "istio-system/istiod", "istio-system/istio-ingressgateway", "192.0.2.1:80",
        "istio-ingressgateway load balancer", ("istio-system", "kiali")),
    "helm": Shape(
        [istiod(helm=True), *chart_gateway("istio-ingress", "istio-ingress", lb_ip="192.0.2.2"),
         *kiali("istio-system")],
        "istio-system/istiod", "istio-ingress/istio-ingress", "192.0.2.2:80",
        "istio-ingress/istio-ingress load balancer", ("istio-system", "kiali")),
    "revisioned-elsewhere": Shape(
        [istiod("istio-control", "1-24", helm=True),
         *chart_gateway("edge-gw", "edge", lb_ip="192.0.2.3", rev="1-24"),
         *chart_gateway("istio-egress", "istio-egress", kind="ClusterIP"),
         kiali_operator(), *kiali("kiali", instance="mesh-console")],
        "istio-control/istiod-1-24", "edge/edge-gw", "192.0.2.3:80",
        "edge/edge-gw load balancer", ("kiali", "mesh-console"),
        app_ns={"istio.io/rev": "1-24"}),
    "gateway-api": Shape(
        [istiod(helm=True), *gateway_api("gateway", "istio-ingress", "192.0.2.4"),
         waypoint("default"), *kiali("istio-system")],
        "istio-system/istiod", "istio-ingress/gateway-istio", "192.0.2.4:80",
        "istio-ingress/gateway-istio load balancer", ("istio-system", "kiali")),
}


class FakeCluster:
    """The reads ``gather`` and gateway discovery make, over plain objects (a stand-in for
    ClusterClient). ``namespaced_only``: Deployments cannot be listed cluster-wide."""

    host = "https://cluster.test"

    def __init__(self, objects: list[dict[str, Any]], *, namespaced_only: bool = False) -> None:
        self.objects, self.namespaced_only = objects, namespaced_only
        self.proxied: list[tuple[str, str, Any, str]] = []

    def version(self) -> dict[str, Any]:
        return {"gitVersion": "v1.31.0", "major": "1", "minor": "31"}

    def served_version(self, kind: str) -> str | None:
        return lookup(kind).versions[0]

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace is None and self.namespaced_only and kind == "Deployment":
            raise Forbidden("reading deployments: 403 forbidden at the cluster scope")
        return [copy.deepcopy(o) for o in self.objects if kind_key(o) == kind and (
            namespace is None or (o["metadata"].get("namespace") or "") == namespace)]

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        scoped = namespace if lookup(kind).namespaced else None
        return next((o for o in self.list(kind, scoped) if o["metadata"]["name"] == name), None)

    def proxy_get(self, ns: str, svc: str, port: Any, path: str) -> tuple[int, str]:
        self.proxied.append((ns, svc, port, path))
        return 200, "ok"


def fake(objects: list[dict[str, Any]], **kw: Any) -> Any:
    """A FakeCluster, typed as the ClusterClient it stands in for."""
    return FakeCluster(objects, **kw)


def _cluster(shape: Shape, **kw: Any) -> Any:
    return fake([namespace("default", **shape.app_ns), *shape.objects], **kw)


@pytest.mark.parametrize("name", SHAPES)
def test_documented_installs_are_found(name: str) -> None:
    shape = SHAPES[name]
    client = _cluster(shape)
    facts = gather(client, "default", probe=lambda url: url == shape.url)
    assert not facts.errors, facts.errors
    assert (facts.gateway_url, facts.gateway_how) == (shape.url, shape.how), facts.gateway_tried
    reports = {cid: judge(cid, facts) for cid in ("MG302", "MG303", "MG304", "MG307")}
    for cid, report in reports.items():
        assert report.outcome is Outcome.PASSED, f"{cid}: {report.message} {report.findings}"
    assert "Istio 1.24.2" in reports["MG302"].message
    assert reports["MG303"].message.startswith(shape.ingress)
    assert shape.url in reports["MG303"].message
    assert reports["MG307"].message.startswith(f"Kiali available in {shape.kiali[0]}")
    assert client.proxied == [(*shape.kiali, 20001, "kiali/healthz")]
    istiods = [o for o in facts.objects if o.kind == "Deployment" and o.name.startswith("istiod")]
    assert [f"{d.namespace}/{d.name}" for d in istiods] == [shape.istiod]


def test_egress_waypoint_and_operator_are_not_the_ingress_or_kiali() -> None:
    objects = [namespace("default", **{"istio-injection": "enabled"}), istiod(),
               *chart_gateway("istio-egressgateway", "istio-egress", kind="ClusterIP"),
               waypoint("default"), kiali_operator()]
    facts = gather(fake(objects), "default", probe=lambda url: True)
    report = judge("MG303", facts)
    assert report.outcome is Outcome.FAILED
    assert report.findings[0].message.startswith("no ingress gateway (istio-ingressgateway,")
    assert "no ingress gateway Deployment" in (facts.gateway_error or "")
    assert judge("MG307", facts).message == "Kiali not installed"


def test_documented_namespaces_when_deployments_cannot_be_listed_everywhere() -> None:
    helm = _cluster(SHAPES["helm"], namespaced_only=True)
    facts = gather(helm, "default", probe=lambda url: url == "192.0.2.2:80")
    assert "not listed in all namespaces" in facts.errors["installs"]
    assert judge("MG303", facts).outcome is Outcome.PASSED
    elsewhere = _cluster(SHAPES["revisioned-elsewhere"], namespaced_only=True)
    facts = gather(elsewhere, "default", probe=lambda url: True)
    report = judge("MG302", facts)
    assert report.outcome is Outcome.FAILED
    assert "looked in default, istio-system, istio-ingress" in report.findings[-1].message


# -- pods as Kubernetes counts them -------------------------------------------------------

def pod(name: str, labels: dict[str, str], *, containers: tuple[str, ...] = ("app",),
        native_sidecar: bool = False, status: dict[str, Any] | None = None,
        **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": c, "image": "x"} for c in containers]}
    state: dict[str, Any] = dict(status or RUNNING)
    state.setdefault("containerStatuses", [{"name": c, "ready": True,
                                            "state": {"running": {}}} for c in containers])
    if native_sidecar:
        spec["initContainers"] = [{"name": "istio-init", "image": "proxyv2"},
                                  {"name": "istio-proxy", "image": "proxyv2",
                                   "restartPolicy": "Always"}]
        state["initContainerStatuses"] = [
            {"name": "istio-init", "ready": False, "state": {"terminated": {"exitCode": 0}}},
            {"name": "istio-proxy", "ready": True, "started": True, "state": {"running": {}}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, "default", labels, **meta),
            "spec": spec, "status": state}


def _facts(*objects: dict[str, Any]) -> ClusterFacts:
    return ClusterFacts("default", reachable=True,
                        objects=[KObject(o, origin="cluster") for o in objects])


@pytest.mark.parametrize(("kwargs", "ready_total"), [
    ({"containers": ("app", "istio-proxy")}, (2, 2)),
    ({"containers": ("app", "cache")}, (2, 2)),
    ({"native_sidecar": True}, (2, 2)),
    ({"containers": ("app", "istio-proxy"), "status": {
        "phase": "Running", "conditions": [], "containerStatuses": [
            {"name": "app", "ready": True, "state": {"running": {}}},
            {"name": "istio-proxy", "ready": False, "state": {"running": {}}}]}}, (1, 2)),
])
def test_ready_column(kwargs: dict[str, Any], ready_total: tuple[int, int]) -> None:
    assert clusterstate.containers_ready(KObject(pod("p", {"app": "a"}, **kwargs))) == ready_total


def test_mg306_counts_containers_and_ignores_finished_pods() -> None:
    evicted = {"phase": "Failed", "reason": "Evicted", "message": "low on memory",
               "conditions": [], "containerStatuses": []}
    facts = _facts(
        pod("web-1", {"app": "web"}, containers=("web", "cache")),
        pod("api-1", {"app": "api"}, native_sidecar=True),
        pod("api-0", {"app": "api"}, status=evicted),
        pod("job-1", {"job": "x"}, status={"phase": "Succeeded", "conditions": []}),
        pod("api-old", {"app": "api"}, deletionTimestamp="2026-01-01T00:00:00Z"))
    report = judge("MG306", facts)
    assert report.outcome is Outcome.FAILED and len(report.findings) == 1
    assert report.findings[0].object == "Pod default/web-1"
    assert "READY 2/2, not 3/3" in report.findings[0].message


def test_mg308_evicted_pod_and_match_expressions() -> None:
    def reviews(version: str) -> dict[str, Any]:
        labels = {"app": "reviews", "version": version}
        dep = deployment(f"reviews-{version}", "default", labels, {"app": "reviews"})
        dep["spec"]["selector"]["matchExpressions"] = [
            {"key": "version", "operator": "In", "values": [version]}]
        return dep

    evicted = {"phase": "Failed", "reason": "Evicted", "conditions": []}
    facts = _facts(reviews("v1"), reviews("v2"),
                   pod("reviews-v1-a", {"app": "reviews", "version": "v1"}, native_sidecar=True),
                   pod("reviews-v1-b", {"app": "reviews", "version": "v1"}, status=evicted),
                   pod("reviews-v2-a", {"app": "reviews", "version": "v2"}))
    assert clusterstate.app_running(facts, ["reviews-v1"]).outcome is Outcome.PASSED
    report = clusterstate.app_running(facts, ["reviews-v2"])
    assert report.outcome is Outcome.FAILED
    assert [f.object for f in report.findings] == ["Pod default/reviews-v2-a"]


@pytest.mark.parametrize(("selector", "labels", "want"), [
    ({"matchLabels": {"app": "r"}}, {"app": "r", "v": "1"}, True),
    ({"matchExpressions": [{"key": "v", "operator": "In", "values": ["1", "2"]}]},
     {"v": "2"}, True),
    ({"matchExpressions": [{"key": "v", "operator": "In", "values": ["1"]}]}, {}, False),
    ({"matchExpressions": [{"key": "v", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "v", "operator": "NotIn", "values": ["1"]}]},
     {"v": "1"}, False),
    ({"matchExpressions": [{"key": "v", "operator": "Exists"}]}, {"v": ""}, True),
    ({"matchExpressions": [{"key": "v", "operator": "DoesNotExist"}]}, {"v": "1"}, False),
    ({"matchLabels": {"app": "r"}, "matchExpressions": [
        {"key": "canary", "operator": "DoesNotExist"}]}, {"app": "r"}, True),
    ({"matchExpressions": [{"key": "v", "operator": "Gt", "values": ["1"]}]}, {"v": "2"}, False),
    ({}, {"app": "r"}, False),
])
def test_label_selector(selector: dict[str, Any], labels: dict[str, str], want: bool) -> None:
    assert matches(selector, labels) is want


# -- the gateway probe wants an Envoy -------------------------------------------------------

def _server(status: int, headers: dict[str, str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response_only(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def answers() -> Iterator[dict[str, str]]:
    """Loopback servers answering as Istio's gateway (Envoy's 404 for an unknown route), a
    routed Envoy answer, and a web server that is no Envoy."""
    servers = {"istio": _server(404, {"server": "istio-envoy"}),
               "routed": _server(200, {"server": "gunicorn", "x-envoy-upstream-service-time": "4"}),
               "nginx": _server(200, {"server": "nginx"})}
    try:
        yield {k: f"127.0.0.1:{s.server_address[1]}" for k, s in servers.items()}
    finally:
        for s in servers.values():
            s.shutdown()
            s.server_close()


def test_probe_counts_only_envoy(answers: dict[str, str]) -> None:
    assert probe_envoy(answers["istio"]) == (True, "HTTP 404 from istio-envoy")
    assert probe_envoy(answers["routed"])[0] is True
    ok, what = probe_envoy(answers["nginx"])
    assert not ok and "HTTP 200 from nginx" in what and "not an Envoy" in what
    ok, what = probe_envoy("127.0.0.1:9")
    assert not ok and what.startswith("no HTTP answer")


def test_discovery_skips_a_non_envoy_answer(answers: dict[str, str]) -> None:
    nginx, istio = (int(answers[k].rpartition(":")[2]) for k in ("nginx", "istio"))
    objects = [*classic_ingress("127.0.0.1"),
               *chart_gateway("istio-ingress", "istio-ingress", lb_ip="127.0.0.1",
                              ports=[{"name": "http2", "port": istio, "targetPort": 80}])]
    objects[1]["spec"]["ports"][1]["port"] = nginx
    url, tried = discover_gateway_url(fake(objects))
    assert url == answers["istio"]
    assert tried == [f"{answers['nginx']} (istio-ingressgateway load balancer)",
                     f"{answers['istio']} (istio-ingress/istio-ingress load balancer)"]


# -- a lab whose ingress is installed the Helm way, graded in cluster mode -------------------

@pytest.fixture(scope="module")
def helm_lab() -> Iterator[Lab]:
    """The lab without istioctl's ingress, with ``helm install istio-ingress istio/gateway
    -n istio-ingress`` instead (no load balancer: reached on its nodePort) and the Bookinfo
    Gateway selecting ``istio: ingress``, as the Helm install docs say."""
    with Lab().start() as lab:
        lab.delete_objects(classic_ingress("127.0.0.1"))
        ports = copy.deepcopy(CHART_PORTS)
        ports[1]["nodePort"] = lab.gateway_port
        lab.apply_objects([namespace("istio-ingress"),
                           *chart_gateway("istio-ingress", "istio-ingress", ports=ports)])
        yield lab


def _helm_submission(tmp_path: Path) -> Path:
    folder = tmp_path / "sub"
    shutil.copytree(EXAMPLES / "part1-bookinfo", folder)
    gateway = folder / "bookinfo-gateway.yaml"
    gateway.write_text(gateway.read_text().replace("istio: ingressgateway", "istio: ingress")
                       .replace("number: 8080", "number: 80"))
    return folder


@pytest.mark.slow
def test_helm_ingress_lab_is_discovered(helm_lab: Lab) -> None:
    client = connect(str(helm_lab.kubeconfig), timeout_s=PATIENCE_S)
    try:
        url, tried = discover_gateway_url(client)
        rows = doctor(client, "default")
    finally:
        client.close()
    assert url == helm_lab.gateway_url
    assert tried == [f"{url} (istio-ingress/istio-ingress nodePort)"]
    assert rows[-1] == ("gateway answers", True, tried[-1])


@pytest.mark.slow
def test_helm_ingress_lab_graded_in_cluster_mode(helm_lab: Lab, tmp_path: Path) -> None:
    submission = _helm_submission(tmp_path)
    helm_lab.apply(sorted(submission.glob("bookinfo-gateway.yaml")))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "meshgrade", "grade", str(submission), "--rubric", "istio-part1",
         "--mode", "cluster", "--kubeconfig", str(helm_lab.kubeconfig), "--out", str(out),
         "--seed", "7"], capture_output=True, text=True, timeout=300)
    results = json.loads((out / "results.json").read_text())
    got = {c["id"]: c for c in results["checks"]}
    assert results["mode"] == "cluster", proc.stdout + proc.stderr
    mg303 = got["MG303"]
    assert mg303["outcome"] == "passed", mg303
    assert mg303["evidence"]["gateway_url"] == helm_lab.gateway_url
    assert mg303["evidence"]["how"] == "istio-ingress/istio-ingress nodePort"
    assert mg303["message"].startswith("istio-ingress/istio-ingress")
    for cid in ("MG301", "MG302", "MG304", "MG305", "MG306", "MG307", "MG402"):
        assert got[cid]["outcome"] == "passed", got[cid]
