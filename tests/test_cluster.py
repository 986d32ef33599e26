"""Cluster mode against the local lab: connecting, reading, gateway discovery, MG301-MG309,
--apply-stages writes, doctor, and the grader's RBAC manifest."""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.config import incluster_config

from meshgrade.checklib import clusterstate
from meshgrade.cluster.connect import ClusterClient, ClusterError, connect
from meshgrade.cluster.doctor import doctor
from meshgrade.cluster.gateway import discover_gateway_url
from meshgrade.cluster.read import ClusterFacts, diff, gather, normal, read_objects
from meshgrade.grading import registry
from meshgrade.grading.check import run
from meshgrade.grading.results import CheckReport, Outcome
from meshgrade.lab.lab import Lab
from meshgrade.lab.pods import deployment_status
from meshgrade.lab.ports import free_port
from meshgrade.submission.loader import load_folder
from meshgrade.submission.objects import KObject

from .conftest import PATIENCE_S, REPO, context_for

ISTIO = "networking.istio.io"
GWAPI = "gateway.networking.k8s.io"
WRITES = ("create", "update", "patch", "delete")

def judge(check_id: str, facts: ClusterFacts) -> CheckReport:
    """Run one of MG301-MG307 (checks over the cluster's facts alone) on ``facts``."""
    report: CheckReport = registry.get(check_id).fn(facts)
    return report


FACT_CHECKS = [f"MG30{n}" for n in range(1, 8)]



@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab().start() as running:
        yield running


@pytest.fixture(scope="module")
def client(lab: Lab) -> Iterator[ClusterClient]:
    c = connect(str(lab.kubeconfig), timeout_s=PATIENCE_S)
    yield c
    c.close()


@contextmanager
def edited(lab: Lab, put: Sequence[dict[str, Any]] = (),
           delete: Sequence[tuple[str, ...]] = ()) -> Iterator[None]:
    """Change the lab's store for one test, and put every touched object back."""
    keys = [_key(o) for o in put] + [tuple(k) for k in delete]
    saved = {k: lab.store.get(*k) for k in keys}
    try:
        for key in delete:
            lab.store.delete(*key)
        for obj in put:
            lab.store.put(copy.deepcopy(obj))
        yield
    finally:
        for key, old in saved.items():
            lab.store.delete(*key)
            if old is not None:
                lab.store.put(old)


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return (obj["apiVersion"].rpartition("/")[0], obj["kind"], meta.get("namespace", ""),
            meta["name"])


def _get(lab: Lab, group: str, kind: str, ns: str, name: str) -> dict[str, Any]:
    obj = lab.store.get(group, kind, ns, name)
    assert obj is not None
    return obj


def _closed_port() -> int:
    """A port nothing listens on (chosen outside the range the kernel hands out)."""
    return free_port()


def _kubeconfig(lab: Lab, tmp_path: Path, **user: Any) -> Path:
    data = yaml.safe_load(lab.kubeconfig.read_text())
    data["users"][0]["user"].update(user)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(data))
    return path


# -- connect ------------------------------------------------------------------------------

@pytest.mark.slow
def test_connect_with_lab_kubeconfig(lab: Lab, client: ClusterClient,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.version()["gitVersion"].startswith("v1.")
    assert "meshgrade-lab" in client.source and client.default_namespace == "default"
    monkeypatch.setenv("KUBECONFIG", f"/nonexistent/config:{lab.kubeconfig}")
    from_env = connect()
    assert from_env.version()["major"] == "1" and str(lab.kubeconfig) in from_env.source


@pytest.mark.slow
def test_relative_paths_resolve_against_the_kubeconfig(lab: Lab, tmp_path: Path) -> None:
    data = yaml.safe_load(lab.kubeconfig.read_text())
    for section, inner, key in (("clusters", "cluster", "certificate-authority"),
                                ("users", "user", "client-certificate"),
                                ("users", "user", "client-key")):
        src = Path(data[section][0][inner][key])
        (tmp_path / src.name).write_bytes(src.read_bytes())
        data[section][0][inner][key] = src.name
    (tmp_path / "kc").write_text(yaml.safe_dump(data))
    assert connect(str(tmp_path / "kc")).version()["major"] == "1"


@pytest.mark.slow
def test_exec_and_auth_provider_refused_unless_allowed(lab: Lab, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = (f"open({str(marker)!r}, 'w').write('x'); print('{{\"apiVersion\": "
              "\"client.authentication.k8s.io/v1beta1\", \"kind\": \"ExecCredential\", "
              "\"status\": {\"token\": \"t\"}}')")
    kc = _kubeconfig(lab, tmp_path, exec={
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
        "args": ["-c", script]})
    with pytest.raises(ClusterError, match="exec.*refused"):
        connect(str(kc))
    assert not marker.exists()  # refused before anything ran
    assert connect(str(kc), allow_exec=True, trust=True).version()["major"] == "1"
    assert marker.exists()
    oidc = _kubeconfig(lab, tmp_path, **{"auth-provider": {"name": "oidc", "config": {}}})
    with pytest.raises(ClusterError, match="auth-provider"):
        connect(str(oidc))


@pytest.mark.slow
def test_unselected_exec_user_is_fine_and_bad_context_is_an_error(lab: Lab,
                                                                  tmp_path: Path) -> None:
    data = yaml.safe_load(lab.kubeconfig.read_text())
    data["users"].append({"name": "cloud", "user": {"exec": {"command": "aws"}}})
    data["contexts"].append({"name": "eks", "context": {"cluster": "meshgrade-lab",
                                                        "user": "cloud"}})
    kc = tmp_path / "kc"
    kc.write_text(yaml.safe_dump(data))
    assert connect(str(kc), trust=True).version()["major"] == "1"
    with pytest.raises(ClusterError, match="exec"):
        connect(str(kc), "eks")
    with pytest.raises(ClusterError, match="'nope' not found.*available: meshgrade-lab, eks"):
        connect(str(kc), "nope")
    with pytest.raises(ClusterError, match="no kubeconfig"):
        connect(str(tmp_path / "missing"))


@pytest.mark.slow
def test_no_kubeconfig_anywhere_then_in_cluster(lab: Lab, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ClusterError, match=r"tried .*\.kube/config.*not in a pod"):
        connect()
    token = tmp_path / "token"
    token.write_text("t")
    monkeypatch.setattr(importlib.import_module("meshgrade.cluster.connect"), "SA_TOKEN", token)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(lab.api.ca_path))
    host, port = lab.api.address.split(":")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    pod = connect()
    assert pod.source == "in-cluster service account" and pod.host == lab.api.url
    with pytest.raises(ClusterError, match="no answer"):  # the lab wants a client cert
        pod.version()
    with pytest.raises(ClusterError, match="no kubeconfig"):  # a context needs a kubeconfig
        connect(context="minikube")


# -- reading ------------------------------------------------------------------------------

@pytest.mark.slow
def test_read_objects(lab: Lab, client: ClusterClient) -> None:
    dr = {"apiVersion": f"{ISTIO}/v1beta1", "kind": "DestinationRule",
          "metadata": {"name": "reviews", "namespace": "default",
                       "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                       "managedFields": [{"manager": "kubectl"}]},
          "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}
    with edited(lab, put=[dr]):
        objects = read_objects(client)
    kinds = {o.kind_key for o in objects}
    assert {"VirtualService", "DestinationRule", "Gateway", "Pod", "Service", "Deployment",
            "Namespace", "ServiceAccount"} <= kinds
    got = next(o for o in objects if o.kind == "DestinationRule")
    assert got.origin == "cluster" and got.file is None
    assert "managedFields" not in got.metadata and "annotations" not in got.metadata
    assert sum(o.kind == "Pod" and o.namespace == "default" for o in objects) == 6
    only = read_objects(client, ["istio-system"])
    assert {o.namespace for o in only} == {"istio-system", ""}
    assert [o.name for o in only if o.kind == "Namespace"] == ["istio-system"]


@pytest.mark.slow
def test_proxy_get_returns_status(client: ClusterClient) -> None:
    assert client.proxy_get("istio-system", "kiali", 20001, "/kiali/healthz")[0] == 200
    status, body = client.proxy_get("istio-system", "kiali", "http", "kiali/api/namespaces",
                                    {"x": "1"})
    assert status == 200 and "istio-system" in body
    assert client.proxy_get("default", "nothing-here", 80, "/")[0] == 503


# -- gateway ------------------------------------------------------------------------------

def _ingress(lab: Lab, port: int, *, lb: bool = True, node_port: int | None = None
             ) -> dict[str, Any]:
    svc = copy.deepcopy(_get(lab, "", "Service", "istio-system", "istio-ingressgateway"))
    for p in svc["spec"]["ports"]:
        if p["name"] == "http2":
            p["port"] = port
            p.pop("nodePort", None)  # the lab's own answers on its gateway port
            if node_port:
                p["nodePort"] = node_port
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}] if lb else []}}
    return svc


@pytest.mark.slow
def test_gateway_given_wins(client: ClusterClient) -> None:
    url, tried = discover_gateway_url(client, given="http://127.0.0.1:9/")
    assert url == "127.0.0.1:9" and tried == ["127.0.0.1:9 (given)"]


@pytest.mark.slow
def test_gateway_from_load_balancer_and_node_port(lab: Lab, client: ClusterClient) -> None:
    with edited(lab, put=[_ingress(lab, lab.gateway_port)]):
        url, tried = discover_gateway_url(client)
    assert url == lab.gateway_url and tried == [f"{url} (istio-ingressgateway load balancer)"]
    with edited(lab, put=[_ingress(lab, 80, lb=False, node_port=lab.gateway_port)]):
        url, tried = discover_gateway_url(client)  # no nodes served: the pod's hostIP
    assert url == lab.gateway_url and tried[-1].endswith("(istio-ingressgateway nodePort)")


@pytest.mark.slow
def test_gateway_api_candidate(lab: Lab, client: ClusterClient) -> None:
    gw = {"apiVersion": f"{GWAPI}/v1", "kind": "Gateway",
          "metadata": {"name": "bookinfo-gateway", "namespace": "default"},
          "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80,
                                                               "protocol": "HTTP"}]}}
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "bookinfo-gateway-istio", "namespace": "default"},
           "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
           "status": {"loadBalancer": {"ingress": [{"hostname": "gw.example"}]}}}
    with edited(lab, put=[gw, svc]):
        url, tried = discover_gateway_url(client, probe=lambda u: u == "gw.example:80")
    assert url == "gw.example:80" and "default/bookinfo-gateway-istio" in tried[-1]


@pytest.mark.slow
def test_gateway_nothing_answers(lab: Lab, client: ClusterClient) -> None:
    port = _closed_port()
    with edited(lab, put=[_ingress(lab, port)]), pytest.raises(ClusterError) as err:
        discover_gateway_url(client)
    text = str(err.value)
    assert f"127.0.0.1:{port} (istio-ingressgateway load balancer)" in text
    assert "minikube tunnel" in text and "port-forward -n istio-system" in text
    with edited(lab, put=[_ingress(lab, 80, lb=False)]), \
            pytest.raises(ClusterError, match="no candidate address.*minikube tunnel"):
        discover_gateway_url(client)


# -- MG301-MG309 --------------------------------------------------------------------------

def _facts(lab: Lab, client: ClusterClient) -> ClusterFacts:
    return gather(client, "default", lab.gateway_url)


def _repo(tmp_path: Path, docs: list[dict[str, Any]]) -> list[KObject]:
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return load_folder(tmp_path).objects


@pytest.mark.slow
def test_every_check_passes_on_the_lab(lab: Lab, client: ClusterClient,
                                       tmp_path: Path) -> None:
    vs = _get(lab, ISTIO, "VirtualService", "default", "bookinfo")
    repo_vs = {"apiVersion": f"{ISTIO}/v1alpha3", "kind": "VirtualService",
               "metadata": {"name": "bookinfo"}, "spec": copy.deepcopy(vs["spec"])}
    for rule in repo_vs["spec"]["http"]:
        rule["route"][0]["weight"] = 100  # one destination: same as no weight
    facts = _facts(lab, client)
    assert facts.reachable and not facts.errors and facts.gateway_how == "given"
    reports = {cid: judge(cid, facts) for cid in FACT_CHECKS}
    reports["MG308"] = clusterstate.app_running(facts, ["productpage-v1", "reviews-v2"])
    reports["MG309"] = clusterstate.cluster_matches_repo(facts, _repo(tmp_path, [repo_vs]))
    for cid, report in reports.items():
        assert report.outcome is Outcome.PASSED, f"{cid}: {report.message} {report.findings}"
    assert "Istio 1.24.0" in reports["MG302"].message
    assert lab.gateway_url in reports["MG303"].message


@pytest.mark.slow
def test_mg301_error_when_the_api_is_down(lab: Lab, tmp_path: Path) -> None:
    data = yaml.safe_load(lab.kubeconfig.read_text())
    data["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{_closed_port()}"
    (tmp_path / "kc").write_text(yaml.safe_dump(data))
    facts = gather(connect(str(tmp_path / "kc"), trust=True, timeout_s=2), "default")
    assert not facts.reachable and "no answer" in facts.errors["api"]
    report = judge("MG301", facts)
    assert report.outcome is Outcome.ERROR and "127.0.0.1" in report.message
    for cid in ("MG302", "MG303", "MG304", "MG305", "MG306", "MG307"):
        assert judge(cid, facts).outcome is Outcome.ERROR
    assert clusterstate.app_running(facts, ["x"]).outcome is Outcome.ERROR


@pytest.mark.slow
def test_mg302_mg303_control_plane_and_ingress(lab: Lab, client: ClusterClient) -> None:
    with edited(lab, delete=[("apps", "Deployment", "istio-system", "istiod"),
                             ("apps", "Deployment", "istio-system", "istio-ingressgateway")]):
        facts = _facts(lab, client)
    report = judge("MG302", facts)
    assert report.outcome is Outcome.FAILED and "no istiod" in report.findings[0].message
    assert judge("MG303", facts).outcome is Outcome.FAILED
    facts = _facts(lab, client)
    facts.crds.pop("DestinationRule")
    report = judge("MG302", facts)
    assert report.outcome is Outcome.FAILED and "destinationrules" in report.findings[0].message
    facts.gateway_url, facts.gateway_error = None, "none answered"
    assert judge("MG303", facts).outcome is Outcome.ERROR


@pytest.mark.slow
def test_mg303_gateway_api_form(lab: Lab, client: ClusterClient) -> None:
    labels = {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}
    gw = {"apiVersion": f"{GWAPI}/v1", "kind": "Gateway",
          "metadata": {"name": "bookinfo-gateway", "namespace": "default"},
          "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80}]}}
    dep = deployment_status({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bookinfo-gateway-istio", "namespace": "default", "labels": labels},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {
            "labels": labels}, "spec": {"containers": [{"name": "istio-proxy"}]}}}})
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "bookinfo-gateway-istio", "namespace": "default"},
           "spec": {"ports": [{"name": "http", "port": 80, "appProtocol": "http"}]}}
    with edited(lab, put=[gw, dep, svc],
                delete=[("apps", "Deployment", "istio-system", "istio-ingressgateway")]):
        report = judge("MG303", _facts(lab, client))
    assert report.outcome is Outcome.PASSED
    assert "default/bookinfo-gateway-istio" in report.message


@pytest.mark.slow
def test_mg304_injection_labels(lab: Lab, client: ClusterClient) -> None:
    ns = _get(lab, "", "Namespace", "", "default")
    for labels, outcome in (({}, Outcome.FAILED), ({"istio.io/rev": "1-24"}, Outcome.PASSED),
                            ({"istio.io/rev": "1-24", "istio-injection": "disabled"},
                             Outcome.FAILED)):
        changed = copy.deepcopy(ns)
        changed["metadata"]["labels"] = labels
        with edited(lab, put=[changed]):
            report = judge("MG304", _facts(lab, client))
        assert report.outcome is outcome, labels
    assert "istio-injection=enabled" in (report.findings[0].hint or "")


@pytest.mark.slow
def test_mg305_missing_bookinfo_parts(lab: Lab, client: ClusterClient) -> None:
    with edited(lab, delete=[("apps", "Deployment", "default", "reviews-v3"),
                             ("", "Service", "default", "ratings")]):
        report = judge("MG305", _facts(lab, client))
    assert report.outcome is Outcome.FAILED and report.fraction == pytest.approx(0.8)
    assert {f.object for f in report.findings} == {"Deployment default/reviews-v3",
                                                   "Service default/ratings"}


def _pod(lab: Lab, name: str) -> dict[str, Any]:
    pods = lab.store.list("", "Pod", "default", label_selector=f"app={name}")
    return copy.deepcopy(pods[0])


@pytest.mark.slow
def test_mg306_mg308_sidecars(lab: Lab, client: ClusterClient) -> None:
    plain = _pod(lab, "details")
    plain["spec"]["containers"] = [c for c in plain["spec"]["containers"]
                                   if c["name"] != "istio-proxy"]
    with edited(lab, put=[plain]):
        facts = _facts(lab, client)
    report = judge("MG306", facts)
    assert report.outcome is Outcome.FAILED
    assert [f.object for f in report.findings] == [f"Pod default/{plain['metadata']['name']}"]
    assert clusterstate.app_running(facts, ["details-v1"]).outcome is Outcome.FAILED
    assert clusterstate.app_running(facts, ["ratings-v1"]).outcome is Outcome.PASSED
    native = copy.deepcopy(plain)
    native["spec"]["initContainers"] = [{"name": "istio-proxy", "restartPolicy": "Always"}]
    with edited(lab, put=[native]):
        assert judge("MG306", _facts(lab, client)).outcome is Outcome.PASSED
    unready = _pod(lab, "ratings")
    unready["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    with edited(lab, put=[unready]):
        report = judge("MG306", _facts(lab, client))
    assert report.outcome is Outcome.FAILED and "not Ready" in report.findings[0].message
    assert clusterstate.app_running(facts, None).outcome is Outcome.SKIPPED
    assert clusterstate.app_running(facts, ["nope"]).findings[0].message == "missing"


@pytest.mark.slow
def test_mg307_kiali(lab: Lab, client: ClusterClient) -> None:
    with edited(lab, delete=[("apps", "Deployment", "istio-system", "kiali")]):
        assert judge("MG307", _facts(lab, client)).outcome is Outcome.FAILED
    facts = _facts(lab, client)
    assert facts.kiali == (200, "")
    facts.kiali = (503, "no endpoints available for service kiali")
    assert judge("MG307", facts).outcome is Outcome.FAILED
    facts.kiali, facts.kiali_error = None, "403 forbidden"
    assert judge("MG307", facts).outcome is Outcome.ERROR


@pytest.mark.slow
def test_mg309_differences_with_file_line_and_path(lab: Lab, client: ClusterClient,
                                                   tmp_path: Path) -> None:
    vs = _get(lab, ISTIO, "VirtualService", "default", "bookinfo")
    old = {"apiVersion": f"{ISTIO}/v1", "kind": "VirtualService",
           "metadata": {"name": "bookinfo"}, "spec": {"hosts": ["*"]}}
    changed = {"apiVersion": f"{ISTIO}/v1", "kind": "VirtualService",
               "metadata": {"name": "bookinfo"}, "spec": copy.deepcopy(vs["spec"])}
    changed["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] = 9081
    reviews = {"apiVersion": f"{ISTIO}/v1", "kind": "VirtualService",
               "metadata": {"name": "reviews"}, "spec": {"hosts": ["reviews"]}}
    facts = _facts(lab, client)
    report = clusterstate.cluster_matches_repo(facts, _repo(tmp_path, [old, changed, reviews]))
    assert report.outcome is Outcome.FAILED and report.fraction == 0.0
    path = "spec.http[0].route[0].destination.port.number"
    diff = next(f for f in report.findings if f.path == path)
    assert diff.object == "VirtualService default/bookinfo" and diff.file == "routing.yaml"
    assert diff.line and "repo 9081, cluster 9080" in diff.message
    assert any(f.message == "not in the cluster" and "reviews" in f.object
               for f in report.findings)
    assert clusterstate.cluster_matches_repo(facts, None).outcome is Outcome.SKIPPED


def test_mg309_ignores_gateway_api_defaults() -> None:
    repo = {"parentRefs": [{"name": "gw"}],
            "rules": [{"backendRefs": [{"name": "reviews", "port": 9080}]}]}
    live = {"parentRefs": [{"group": GWAPI, "kind": "Gateway", "name": "gw"}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"group": "", "kind": "Service", "name": "reviews",
                                        "port": 9080, "weight": 1}]}]}
    assert diff(normal(repo), normal(live)) == []


# -- writes -------------------------------------------------------------------------------

def _routing(client: ClusterClient) -> list[dict[str, Any]]:
    snap = client.snapshot(["VirtualService", "DestinationRule", "Gateway", "HTTPRoute"],
                           "default")
    return sorted(snap, key=lambda o: (o["kind"], o["metadata"]["name"]))


@pytest.mark.slow
def test_snapshot_apply_restore_round_trip(lab: Lab, client: ClusterClient) -> None:
    before = _routing(client)
    assert {o["metadata"]["name"] for o in before} == {"bookinfo", "bookinfo-gateway"}
    assert all("resourceVersion" not in o["metadata"] and "status" not in o for o in before)
    snap = client.snapshot(["VirtualService", "DestinationRule", "Gateway"], "default")
    dr = {"apiVersion": f"{ISTIO}/v1alpha3", "kind": "DestinationRule",
          "metadata": {"name": "reviews"},
          "spec": {"host": "reviews", "subsets": [{"name": f"v{i}", "labels": {
              "version": f"v{i}"}} for i in (1, 2, 3)]}}
    vs = {"apiVersion": f"{ISTIO}/v1beta1", "kind": "VirtualService",
          "metadata": {"name": "reviews", "namespace": "default"},
          "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {
              "host": "reviews", "subset": "v3"}}]}]}}
    bookinfo = copy.deepcopy(next(o for o in before if o["metadata"]["name"] == "bookinfo"))
    bookinfo["spec"]["hosts"] = ["bookinfo.example"]
    client.apply(dr, "default")
    client.apply(vs)
    client.apply(bookinfo)
    assert client.delete(next(o for o in before if o["kind"] == "Gateway"))
    assert not client.delete(next(o for o in before if o["kind"] == "Gateway"))
    assert lab.store.get(ISTIO, "VirtualService", "default", "reviews") is not None
    assert client.get("DestinationRule", "reviews", "default")["apiVersion"] == f"{ISTIO}/v1"
    done = client.restore(snap, "default")
    assert sorted(done) == ["created Gateway default/bookinfo-gateway",
                            "deleted DestinationRule default/reviews",
                            "deleted VirtualService default/reviews",
                            "replaced VirtualService default/bookinfo"]
    assert _routing(client) == before
    assert client.restore(json.loads(json.dumps(snap)), "default") == []  # journal form
    client.apply(vs)
    assert client.restore([], "default", ["DestinationRule"]) == []  # other kinds untouched
    assert client.restore(snap, "default") == ["deleted VirtualService default/reviews"]
    with pytest.raises(ClusterError, match="cannot write Deployment"):
        client.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}})


@pytest.mark.slow
def test_passive_read_makes_no_writes(lab: Lab, client: ClusterClient) -> None:
    lab.api.reset_counts()
    read_objects(client)
    facts = gather(client, "default")
    for cid in FACT_CHECKS:
        judge(cid, facts)
    clusterstate.app_running(facts, ["productpage-v1"])
    clusterstate.cluster_matches_repo(facts, [])
    client.snapshot(["VirtualService", "Gateway"], "default")
    counts = dict(lab.api.counts)
    assert counts["list"] > 0 and counts["proxy"] >= 1
    assert {v: counts[v] for v in WRITES} == dict.fromkeys(WRITES, 0)


@pytest.mark.slow
def test_doctor(lab: Lab, client: ClusterClient) -> None:
    rows = doctor(client, "default", lab.gateway_url)
    assert rows[0][:2] == ("API server", True)
    reviews = [r for r in rows[1:-1]]
    assert any(r[0].startswith("create virtualservices") for r in reviews)
    assert all(r[2] == "unknown (not served)" for r in reviews)  # the lab has no SSAR
    assert rows[-1] == ("gateway answers", True, f"{lab.gateway_url} (given)")
    closed = doctor(client, "default", f"127.0.0.1:{_closed_port()}")[-1]
    assert closed[1] is False and "minikube tunnel" in closed[2]


# -- RBAC ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_grader_rbac_manifest(tmp_path: Path) -> None:
    manifest = REPO / "deploy" / "grader-rbac.yaml"
    docs = list(yaml.safe_load_all(manifest.read_text()))
    reader = next(d for d in docs if d["kind"] == "ClusterRole")
    granted = {(g, r, v) for rule in reader["rules"] for g in rule["apiGroups"]
               for r in rule["resources"] for v in rule["verbs"]}
    for group, res in (("", "pods"), ("", "services"), ("", "nodes"), ("apps", "deployments"),
                       (ISTIO, "virtualservices"), (ISTIO, "destinationrules"),
                       (ISTIO, "gateways"), (GWAPI, "gateways"), (GWAPI, "httproutes"),
                       ("apiextensions.k8s.io", "customresourcedefinitions")):
        assert {(group, res, v) for v in ("get", "list", "watch")} <= granted, res
    assert ("", "services/proxy", "get") in granted
    assert not any(v in ("create", "update", "patch", "delete") for _g, _r, v in granted)
    stages = next(d for d in docs if d["kind"] == "Role")
    writes = {(g, r) for rule in stages["rules"] for g in rule["apiGroups"]
              for r in rule["resources"] if {"create", "update", "patch", "delete"}
              <= set(rule["verbs"])}
    assert writes == {(ISTIO, "virtualservices"), (ISTIO, "destinationrules"),
                      (ISTIO, "gateways"), (GWAPI, "gateways"), (GWAPI, "httproutes")}
    for cid in ("MG101", "MG102", "MG103"):  # the checks `meshgrade grade` runs, in process
        report, _ = run(registry.get(cid), context_for(manifest.parent))
        assert report.outcome is Outcome.PASSED and not report.findings, (cid, report)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("name: rbac\nchecks:\n  MG101: {points: 1}\n  MG102: {points: 1}\n"
                      "  MG103: {points: 1}\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "meshgrade", "grade", str(manifest.parent),
                           "--mode", "repo", "--rubric", str(rubric), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert {c["id"]: c["outcome"] for c in results["checks"]} == dict.fromkeys(
        ("MG101", "MG102", "MG103"), "passed")
