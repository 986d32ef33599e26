"""meshgrade.routing.mesh, Istio's naming and visibility rules in one place: its functions on their
own, then each rule's case (tests/cases_resolver/<rule>-good|bad/: objects.yaml and
case.yaml, whose ``request`` has ``via``, ``host`` and optionally ``path``, ``from`` and
``headers``) run through the static check that judges it, the routing model and a real Envoy
configured by the lab, which must all agree with the expected answer."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgrade.grading import registry
from meshgrade.grading.check import run
from meshgrade.grading.context import Context
from meshgrade.grading.settings import Settings
from meshgrade.routing import Request
from meshgrade.routing.mesh import (
    CLUSTER,
    HOSTNAME,
    REGION,
    ZONE,
    Mesh,
    expand,
    export_targets,
    gateway_ref,
    hosts_overlap,
    port_name_exempt,
    server_host,
    share_clients,
)
from meshgrade.submission.loader import load_folder
from meshgrade.submission.objects import KObject
from meshgrade.submission.source import build_context

from .test_lab_envoy import Lab as EnvoyLab

CASES = Path(__file__).resolve().parent / "cases_resolver"
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.yaml").exists())
ISTIO = "networking.istio.io/v1"


def obj(kind: str, name: str, ns: str = "default", spec: dict[str, Any] | None = None,
        api: str = ISTIO, **meta: Any) -> KObject:
    return KObject({"apiVersion": api, "kind": kind,
                    "metadata": {"name": name, "namespace": ns, **meta}, "spec": spec or {}})


# -- the rules as functions ----------------------------------------------------------------------

@pytest.mark.parametrize("a,b,overlap", [
    ("*.d", "*.productpage.d", True), ("*.productpage.d", "*.d", True), ("*.d", "d", False),
    ("*.d", "x.d", True), ("*", "anything", True), ("a.d", "b.d", False), ("a.d", "a.d", True),
    ("*.example.com", "*.example.org", False)])
def test_hosts_overlap(a: str, b: str, overlap: bool) -> None:
    assert hosts_overlap(a, b) is overlap


@pytest.mark.parametrize("host,ns,services,want", [
    ("reviews", "default", None, "reviews.default.svc.cluster.local"),
    ("Reviews:9080", "team", None, "reviews.team.svc.cluster.local"),
    ("reviews.team", "default", {("team", "reviews")}, "reviews.team.svc.cluster.local"),
    ("shop.example", "default", set(), "shop.example"),  # not a Service: kept
    ("reviews.team.svc", "default", set(), "reviews.team.svc.cluster.local"),
    ("*.example.com", "default", None, "*.example.com"), ("10.0.0.1", "default", None, "10.0.0.1")])
def test_expand(host: str, ns: str, services: set[tuple[str, str]] | None, want: str) -> None:
    assert expand(host, ns, services) == want


@pytest.mark.parametrize("ref,want", [
    ("shop", "default/shop"), ("./shop", "default/shop"), ("team/shop", "team/shop"),
    ("shop.team.svc.cluster.local", "team/shop"), ("mesh", "mesh")])
def test_gateway_ref(ref: str, want: str) -> None:
    assert gateway_ref(ref, "default") == want


@pytest.mark.parametrize("entry,want", [
    ("shop.example.com", ("*", "shop.example.com")), ("*/A.example", ("*", "a.example")),
    ("./shop.example.com", ("gw-ns", "shop.example.com")), ("team/*", ("team", "*"))])
def test_server_host(entry: str, want: tuple[str, str]) -> None:
    assert server_host(entry, "gw-ns") == want


def test_export_targets_of_routing_objects_and_services() -> None:
    assert export_targets(obj("VirtualService", "a")) is None
    assert export_targets(obj("DestinationRule", "a", "team", {"exportTo": ["."]})) == {"team"}
    assert export_targets(obj("ServiceEntry", "a", spec={"exportTo": [".", "x"]})) == {
        "default", "x"}
    assert export_targets(obj("VirtualService", "a", spec={"exportTo": ["x", "*"]})) is None
    assert export_targets(obj("DestinationRule", "a", spec={"exportTo": ["~"]})) == set()
    note = {"annotations": {"networking.istio.io/exportTo": "., istio-system"}}
    assert export_targets(obj("Service", "s", "team", api="v1", **note)) == {
        "team", "istio-system"}
    private = obj("VirtualService", "a", spec={"exportTo": ["."]})
    other = obj("VirtualService", "b", "team", {"exportTo": ["."]})
    assert not share_clients(private, other)
    assert share_clients(private, obj("VirtualService", "c", "team"))
    assert not share_clients(obj("VirtualService", "d", spec={"exportTo": ["~"]}), other)


def test_port_name_exemptions() -> None:
    assert all(port_name_exempt(ns) for ns in ("kube-system", "kube-public", "istio-system"))
    assert not port_name_exempt("default")


def test_destination_rule_precedence_and_exports() -> None:
    fqdn = "reviews.default.svc.cluster.local"
    mesh = Mesh([obj("Service", "reviews", api="v1"),
                 obj("DestinationRule", "root", "istio-system", {"host": fqdn}),
                 obj("DestinationRule", "own", "default", {"host": "reviews"}),
                 obj("DestinationRule", "wild", "default", {"host": "*.svc.cluster.local"}),
                 obj("DestinationRule", "team", "team", {"host": fqdn, "exportTo": ["."]})])
    names = [dr.name for dr in mesh.destination_rules(fqdn, "default", "default")]
    assert names == ["own"]  # the client's namespace, most specific host
    assert [dr.name for dr in mesh.destination_rules(fqdn, "default", "team")] == ["team"]
    assert [dr.name for dr in mesh.destination_rules(fqdn, "default", "other")] == ["own"]
    alone = Mesh([obj("Service", "reviews", api="v1"),
                  obj("DestinationRule", "root", "istio-system", {"host": fqdn}),
                  obj("DestinationRule", "elsewhere", "x", {"host": fqdn})])
    assert [dr.name for dr in alone.destination_rules(fqdn, "default", "default")] == ["root"]


def test_service_entries_by_wildcard_and_export() -> None:
    mesh = Mesh([obj("ServiceEntry", "all", "egress", {"hosts": ["*"], "exportTo": ["."]}),
                 obj("ServiceEntry", "ex", "egress", {"hosts": ["*.example.com"]}),
                 obj("ServiceEntry", "api", "egress", {"hosts": ["api.example.com"]})])
    assert mesh.resolve("nosuch", "default") is None
    found = mesh.resolve("nosuch", "egress")
    assert found is not None and found.obj.name == "all"
    assert mesh.service_entry("x.example.com", "default").name == "ex"  # type: ignore[union-attr]
    assert mesh.service_entry("api.example.com", "default").name == "api"  # type: ignore[union-attr]
    assert mesh.hidden("nosuch", "default", "default").name == "all"  # type: ignore[union-attr]


def test_ingress_pods_from_labels_installs_and_configuration() -> None:
    helm = obj("Deployment", "istio-ingress", "istio-ingress", {
        "template": {"metadata": {"labels": {"app": "istio-ingress", "istio": "ingress"}}}},
        api="apps/v1")
    custom = obj("Deployment", "edge", "edge", {
        "template": {"metadata": {"labels": {"app": "edge"}}}}, api="apps/v1")
    mesh = Mesh([helm, custom], ingress_labels={"app": "edge"})
    assert [(g.namespace, g.workload) for g in mesh.ingress] == [
        ("edge", "edge"), ("istio-ingress", "istio-ingress")]  # configured ones first
    gw = obj("Gateway", "gw", spec={"selector": {"istio": "ingress"}})
    assert mesh.selects_ingress(gw) and mesh.gateway_namespaces(gw) == ["istio-ingress"]
    assert not mesh.selects_ingress(obj("Gateway", "x", spec={"selector": {"istio": "nope"}}))
    assert mesh.selects_ingress(obj("Gateway", "any"))  # no selector: every gateway workload
    app = obj("Deployment", "web", spec={"template": {"metadata": {"labels": {"app": "w"}}}},
              api="apps/v1")
    assert Mesh([app]).ingress == [] and Mesh([app]).ingress_namespace == "istio-system"


def test_pod_labels_istio_adds() -> None:
    node = KObject({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "n1", "labels": {REGION: "r1", ZONE: "z1", "other": "x"}}})
    mesh = Mesh([node])
    labels, unknown = mesh.pod_labels("default", {"app": "a"}, "n1")
    assert labels == {"app": "a", REGION: "r1", ZONE: "z1", HOSTNAME: "n1",
                      CLUSTER: "Kubernetes"} and not unknown
    labels, unknown = mesh.pod_labels("default", {"app": "a"}, None, {ZONE: "z2"})
    assert labels[ZONE] == "z2" and REGION in unknown and ZONE not in unknown
    labels, _ = mesh.pod_labels("default", {"istio-locality": "r9.z9"}, "n1")
    assert (labels[REGION], labels[ZONE]) == ("r9", "z9")  # the pod's locality label wins


# -- each rule through the static check, the routing model and Envoy ----------------------------

def _case(folder: Path) -> tuple[dict[str, Any], Context]:
    spec = yaml.safe_load((folder / "case.yaml").read_text("utf-8"))
    return spec, build_context(load_folder(folder), Settings(bookinfo_baseline=False))


def _model_answer(ctx: Context, request: dict[str, Any]) -> str:
    req = Request.make(request["host"], request.get("path", "/"),
                       headers=request.get("headers"))
    model = ctx.model()
    outcome = model.via_gateway(req) if request["via"] == "gateway" else model.from_mesh(
        req, request.get("from", "default"))
    shares = {k: v for k, v in outcome.workloads().items() if v > 1e-9}
    assert len(shares) == 1, shares
    return next(iter(shares))


def _envoy_answer(tmp_path: Path, ctx: Context, request: dict[str, Any]) -> str:
    objects = ctx.index.latest()
    lab = EnvoyLab(tmp_path / "envoy", objects)
    try:
        lab.envoy.start(lab.config(objects))
        seen = Counter(lab.who(request["via"], request["host"], request.get("path", "/"),
                               headers=request.get("headers")) for _ in range(4))
    finally:
        lab.stop()
    assert len(seen) == 1, seen
    return next(iter(seen))


def test_every_rule_has_a_good_and_a_bad_case() -> None:
    names = {p.name for p in CASE_DIRS}
    rules = {n.rsplit("-", 1)[0] for n in names}
    assert len(rules) >= 15
    assert all(f"{r}-good" in names and f"{r}-bad" in names for r in rules)


def _asks_envoy(folder: Path) -> bool:
    """The case sends a request, answered by the model and by a real Envoy."""
    return "request" in yaml.safe_load((folder / "case.yaml").read_text("utf-8"))


@pytest.mark.parametrize("folder", [
    pytest.param(p, id=p.name, marks=[pytest.mark.slow] if _asks_envoy(p) else [])
    for p in CASE_DIRS])
def test_check_model_and_envoy_agree(folder: Path, tmp_path: Path) -> None:
    spec, ctx = _case(folder)
    report, _ = run(registry.get(spec["check"]), ctx)
    shown = "\n".join(f"{f.severity} {f.path} {f.message}" for f in report.findings)
    assert bool(report.findings) is spec["flagged"], f"{spec['check']}: {report.message}\n{shown}"
    assert spec.get("contains", "") in shown
    request = spec.get("request")
    if request is None:
        return
    assert _model_answer(ctx, request) == spec["answer"]
    assert _envoy_answer(tmp_path, ctx, request) == spec["answer"]


def test_a_helm_ingress_in_cluster_mode_passes_mg125_and_mg201() -> None:
    """The ingress installed the Helm way (``istio: ingress`` in istio-ingress), read from a
    cluster as Pods, serves the Gateway that selects it: the Bookinfo pages are routed."""
    from meshgrade.submission import baseline
    from meshgrade.submission.index import ObjectIndex

    istio = baseline.objects(bookinfo=False)
    cluster = [KObject(copy.deepcopy(o.raw), origin="cluster")
               for o in baseline.objects(True, lab=True) if o not in istio]
    for o in cluster:
        if o.kind == "Gateway":
            o.raw["spec"]["selector"] = {"istio": "ingress"}
    cluster.append(KObject({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "istio-ingress-5d9c7b-x2x4p", "namespace": "istio-ingress",
        "labels": {"app": "istio-ingress", "istio": "ingress"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "istio-ingress-5d9c7b"}]},
        "spec": {"nodeName": "minikube"}}, origin="cluster"))
    ctx = Context(ObjectIndex(cluster, istio), source="cluster")
    assert [o for o in cluster if o.kind == "Gateway"], "the lab baseline has the Gateway"
    for check in ("MG125", "MG201"):
        report, _ = run(registry.get(check), ctx)
        assert report.outcome.value == "passed", (check, report.message, report.findings)
    assert ctx.mesh().gateway_namespaces(next(o for o in cluster if o.kind == "Gateway")) == [
        "istio-ingress"]
