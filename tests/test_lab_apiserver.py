"""The lab's Kubernetes API server emulation, driven by the official Python client and kubectl."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from meshgrade.lab.apiserver import ApiServer, Expired, ObjectStore, crd_manifests
from meshgrade.lab.apiserver.selection import label_matcher
from meshgrade.lab.apiserver.tables import human_duration, json_path

from .conftest import PATIENCE_S, kubectl_path, needs_kubectl

REPO = Path(__file__).resolve().parent.parent
KUBECTL = kubectl_path() or "kubectl"
JASON_VS = REPO / "examples" / "part1-bookinfo" / "virtual-service-reviews-jason-v2.yaml"
ISTIO = ("networking.istio.io", "v1")
POD = "reviews-v2-7d79d5bd5d-8zzqd"


SIDECAR_STATUS = '{"containers":["istio-proxy"],"initContainers":["istio-init"]}'


def pod(name: str, app: str, version: str, phase: str = "Running") -> dict[str, Any]:
    running = phase == "Running"
    images = {app: f"docker.io/istio/examples-bookinfo-{app}-{version}:1.20",
              "istio-proxy": "docker.io/istio/proxyv2:1.24.0"}
    statuses = [{"name": n, "ready": running, "restartCount": 0, "image": image,
                 "imageID": f"{image}@sha256:{'0' * 64}", "started": running,
                 "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}} if running
                 else {"waiting": {"reason": "ContainerCreating"}}}
                for n, image in images.items()]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default",
                         "labels": {"app": app, "version": version},
                         "annotations": {"sidecar.istio.io/status": SIDECAR_STATUS}},
            "spec": {"containers": [{"name": n, "image": i} for n, i in images.items()],
                     "initContainers": [{"name": "istio-init", "image": images["istio-proxy"]}]},
            "status": {"phase": phase, "podIP": "10.244.0.12", "containerStatuses": statuses,
                       "conditions": [{"type": "Ready", "status": "True" if running else "False"}]}}


def deployment(name: str, namespace: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": name}]}}},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                       "availableReplicas": 1, "updatedReplicas": 1,
                       "conditions": [
                           {"type": "Available", "status": "True",
                            "reason": "MinimumReplicasAvailable"},
                           {"type": "Progressing", "status": "True",
                            "reason": "NewReplicaSetAvailable"}]}}


def virtual_service(name: str, subset: str = "v1") -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"hosts": [name],
                     "http": [{"route": [{"destination": {"host": name, "subset": subset}}]}]}}


def preload(store: ObjectStore) -> None:
    for crd in crd_manifests():
        store.put(crd)
    store.put({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "default", "labels": {"istio-injection": "enabled"}},
               "status": {"phase": "Active"}})
    store.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    store.put(pod(POD, "reviews", "v2"))
    store.put(pod("reviews-v1-5b9f6c7d8f-abcde", "reviews", "v1", phase="Pending"))
    store.put(pod("ratings-v1-6d7c8b9f7c-xyz12", "ratings", "v1"))
    store.put(deployment("reviews-v2", "default"))
    store.put(deployment("kiali", "istio-system"))
    store.put({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kiali", "namespace": "istio-system"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20",
                        "ports": [{"name": "http", "port": 20001, "protocol": "TCP"}]}})


class Recorder:
    """on_write hook: slow on purpose, so a response sent before it finished would show."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.fail = False

    def __call__(self, verb: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("envoy rejected the configuration")
        self.calls.append((verb, old, new))


class _Backend(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"path": self.path, "status": "healthy"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "kiali")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def backend() -> Iterator[tuple[str, int]]:
    """A tiny HTTP server standing in for Kiali."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def lab(tmp_path: Path, backend: tuple[str, int]) -> Iterator[tuple[ApiServer, Recorder]]:
    store = ObjectStore()
    preload(store)
    recorder = Recorder()

    def proxy(namespace: str, service: str, port: str) -> tuple[str, int] | None:
        return backend if (namespace, service, port) == ("istio-system", "kiali", "20001") \
            else None

    server = ApiServer(store, tmp_path / "lab", on_write=recorder, proxy=proxy)
    with server:
        yield server, recorder
    assert server.url.startswith("https://127.0.0.1:")


@pytest.fixture
def api(lab: tuple[ApiServer, Recorder]) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(lab[0].kubeconfig),
                            client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield api_client


def kubectl(server: ApiServer, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [KUBECTL, "--kubeconfig", str(server.kubeconfig), "--cache-dir",
           str(server.workdir / "kubectl-cache"), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=PATIENCE_S)
    if check:
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done


# -- the official Python client ---------------------------------------------------------------

def test_kubeconfig_is_minikube_like(lab: tuple[ApiServer, Recorder]) -> None:
    server, _ = lab
    kc = yaml.safe_load(server.kubeconfig.read_text())
    cluster = kc["clusters"][0]["cluster"]
    assert cluster["server"] == server.url
    assert Path(cluster["certificate-authority"]) == server.ca_path
    user = kc["users"][0]["user"]
    assert Path(user["client-certificate"]).is_file() and Path(user["client-key"]).is_file()
    assert kc["current-context"] == kc["contexts"][0]["name"]


def test_client_without_certificate_is_refused(lab: tuple[ApiServer, Recorder]) -> None:
    server, _ = lab
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{server.url}/api/v1/pods", verify=str(server.ca_path), timeout=PATIENCE_S)
    kc = yaml.safe_load(server.kubeconfig.read_text())
    user = kc["users"][0]["user"]
    answer = requests.get(f"{server.url}/healthz", verify=str(server.ca_path), timeout=PATIENCE_S,
                          cert=(user["client-certificate"], user["client-key"]))
    assert answer.status_code == 200 and answer.text == "ok"


def test_list_pods_with_selectors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    names = [p.metadata.name for p in core.list_namespaced_pod(
        "default", label_selector="app=reviews", field_selector="status.phase=Running").items]
    assert names == [POD]
    assert len(core.list_namespaced_pod("default", label_selector="app in (reviews)").items) == 2
    assert len(core.list_namespaced_pod("default", label_selector="version!=v2,app").items) == 2
    assert [p.metadata.name for p in core.list_pod_for_all_namespaces(
        field_selector=f"metadata.name={POD}").items] == [POD]
    found = core.read_namespaced_pod(POD, "default")
    assert [c.name for c in found.spec.containers] == ["reviews", "istio-proxy"]
    assert "sidecar.istio.io/status" in found.metadata.annotations
    ns = core.read_namespace("default")
    assert ns.metadata.labels == {"istio-injection": "enabled"}
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("default", field_selector="spec.nothing=x")
    assert err.value.status == 400


def test_read_deployments(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    kiali = apps.read_namespaced_deployment("kiali", "istio-system")
    assert kiali.status.available_replicas == 1 and kiali.status.observed_generation == 1
    assert [c.type for c in kiali.status.conditions] == ["Available", "Progressing"]
    assert len(apps.list_deployment_for_all_namespaces().items) == 2
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("nope", "istio-system")
    status = json.loads(err.value.body)
    assert (err.value.status, status["kind"], status["reason"]) == (404, "Status", "NotFound")
    assert status["message"] == 'deployments.apps "nope" not found'


def test_virtual_service_lifecycle(lab: tuple[ApiServer, Recorder],
                                   api: client.ApiClient) -> None:
    server, recorder = lab
    custom = client.CustomObjectsApi(api)
    assert custom.list_namespaced_custom_object(*ISTIO, "default", "virtualservices")[
        "items"] == []
    created = custom.create_namespaced_custom_object(*ISTIO, "default", "virtualservices",
                                                     virtual_service("reviews"))
    # the hook ran (and finished) before the response arrived
    assert [c[0] for c in recorder.calls] == ["create"]
    assert recorder.calls[0][1] is None and recorder.calls[0][2]["metadata"]["name"] == "reviews"
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    # every served version shows the same object
    old = custom.get_namespaced_custom_object("networking.istio.io", "v1alpha3", "default",
                                              "virtualservices", "reviews")
    assert old["apiVersion"] == "networking.istio.io/v1alpha3"
    assert old["spec"] == created["spec"]

    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(*ISTIO, "default", "virtualservices",
                                               virtual_service("reviews"))
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"

    patched = custom.patch_namespaced_custom_object(
        *ISTIO, "default", "virtualservices", "reviews",
        {"spec": {"http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]}})
    assert patched["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v3"
    assert patched["metadata"]["generation"] == 2
    assert recorder.calls[-1][0] == "patch"
    assert recorder.calls[-1][1]["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v1"
    json_patched = custom.patch_namespaced_custom_object(
        *ISTIO, "default", "virtualservices", "reviews",
        [{"op": "replace", "path": "/spec/hosts/0", "value": "reviews.default.svc.cluster.local"}],
        _content_type="application/json-patch+json")
    assert json_patched["spec"]["hosts"] == ["reviews.default.svc.cluster.local"]

    custom.delete_namespaced_custom_object(*ISTIO, "default", "virtualservices", "reviews")
    assert recorder.calls[-1][0] == "delete" and recorder.calls[-1][2] is None
    assert custom.list_namespaced_custom_object(*ISTIO, "default", "virtualservices")[
        "items"] == []
    assert len(recorder.calls) == 4
    assert server.counts["create"] == 2 and server.counts["patch"] == 2
    assert server.counts["delete"] == 1 and server.counts["list"] == 2


def test_dry_run_invalid_and_failed_hook(lab: tuple[ApiServer, Recorder],
                                         api: client.ApiClient) -> None:
    server, recorder = lab
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(*ISTIO, "default", "virtualservices",
                                           virtual_service("ratings"), dry_run="All")
    assert recorder.calls == [] and server.store.get(
        "networking.istio.io", "VirtualService", "default", "ratings") is None
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(*ISTIO, "default", "virtualservices",
                                               virtual_service("Ratings_V1"))
    status = json.loads(err.value.body)
    assert err.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    recorder.fail = True
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(*ISTIO, "default", "virtualservices",
                                               virtual_service("ratings"))
    assert err.value.status == 500 and "envoy rejected" in json.loads(err.value.body)["message"]
    assert server.store.get("networking.istio.io", "VirtualService", "default", "ratings") is None


def test_writes_to_other_kinds_are_refused(lab: tuple[ApiServer, Recorder],
                                           api: client.ApiClient) -> None:
    server, recorder = lab
    before = dict(server.counts)
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).create_namespaced_pod("default", pod("intruder", "x", "v1"))
    status = json.loads(err.value.body)
    assert err.value.status == 405 and status["reason"] == "MethodNotAllowed"
    assert "only accepts writes to routing objects" in status["message"]
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(api).delete_namespaced_deployment("kiali", "istio-system")
    assert err.value.status == 405
    assert recorder.calls == []
    assert server.counts["create"] == before["create"] + 1
    assert server.counts["delete"] == before["delete"] + 1


def test_counts_prove_a_reader_only_read(lab: tuple[ApiServer, Recorder],
                                         api: client.ApiClient) -> None:
    server, _ = lab
    server.reset_counts()
    client.CoreV1Api(api).list_namespaced_pod("default")
    client.AppsV1Api(api).read_namespaced_deployment("kiali", "istio-system")
    client.CustomObjectsApi(api).list_cluster_custom_object(*ISTIO, "virtualservices")
    writes = sum(server.counts[v] for v in ("create", "update", "patch", "delete"))
    assert (server.counts["list"], server.counts["get"], writes) == (2, 1, 0)


def test_store_watch_events_and_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore()
    store.put(virtual_service("productpage"))
    start = store.resource_version  # "0" would mean "current state", so start after a write
    watch = store.watch("networking.istio.io", "VirtualService", "default", str(start),
                        label_selector="team=a")
    try:
        store.put(virtual_service("details"))  # no label: not seen
        labelled = virtual_service("details")
        labelled["metadata"]["labels"] = {"team": "a"}
        store.put(labelled)  # now matches: ADDED
        store.put(virtual_service("details"))  # label dropped: DELETED
        events = [watch.next(timeout=PATIENCE_S) for _ in range(2)]
        assert [e["type"] for e in events if e] == ["ADDED", "DELETED"]
        assert watch.next(timeout=0.05) is None
    finally:
        watch.close()
    bumped = store.put(virtual_service("details", subset="v2"))
    assert bumped["metadata"]["generation"] == 2
    kept = virtual_service("details", subset="v3")
    kept["metadata"]["generation"] = 7  # the lab, acting as controller, may set it
    assert store.put(kept)["metadata"]["generation"] == 7
    assert store.put(kept)["metadata"]["uid"] == bumped["metadata"]["uid"]
    monkeypatch.setattr("meshgrade.lab.apiserver.store.HISTORY", 2)
    for name in ("a", "b", "c", "d"):
        store.put(virtual_service(name))
    with pytest.raises(Expired):
        store.watch("networking.istio.io", "VirtualService", None, str(start))


def _session(server: ApiServer) -> requests.Session:
    user = yaml.safe_load(server.kubeconfig.read_text())["users"][0]["user"]
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    session.verify = str(server.ca_path)
    session.cert = (user["client-certificate"], user["client-key"])
    return session


def test_watch_stream_ends_with_client_or_server(lab: tuple[ApiServer, Recorder]) -> None:
    server, _ = lab
    url = f"{server.url}/apis/apps/v1/namespaces/istio-system/deployments?watch=1"
    baseline = threading.active_count()
    with _session(server) as session:
        with session.get(url, stream=True, timeout=PATIENCE_S) as answer:
            first = json.loads(next(answer.iter_lines()))
            assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "kiali")
            assert first["object"]["apiVersion"] == "apps/v1"
    deadline = time.monotonic() + PATIENCE_S
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == baseline  # the server noticed the client left
    with _session(server) as session:
        with session.get(url + "&allowWatchBookmarks=true", stream=True,
                         timeout=PATIENCE_S) as answer:
            next(answer.iter_lines())
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < PATIENCE_S


# -- kubectl ------------------------------------------------------------------------------

@needs_kubectl
@pytest.mark.slow
def test_kubectl_reads(lab: tuple[ApiServer, Recorder]) -> None:
    server, _ = lab
    pods = kubectl(server, "get", "pods").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    row = next(line.split() for line in pods if line.startswith(POD))
    assert row[1:4] == ["2/2", "Running", "0"]
    deploys = kubectl(server, "get", "deploy", "-n", "istio-system").stdout.splitlines()
    assert deploys[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploys[1].split()[:4] == ["kiali", "1/1", "1", "1"]
    svc = kubectl(server, "get", "svc", "-n", "istio-system").stdout.splitlines()
    assert svc[1].split()[:5] == ["kiali", "ClusterIP", "10.96.0.20", "<none>", "20001/TCP"]
    assert "No resources found" in kubectl(server, "get", "vs").stderr
    kubectl(server, "apply", "-f", str(JASON_VS))
    vs = kubectl(server, "get", "vs").stdout.splitlines()
    assert vs[0].split() == ["NAME", "GATEWAYS", "HOSTS", "AGE"]
    assert vs[1].split()[:2] == ["reviews", '["reviews"]']


@needs_kubectl
@pytest.mark.slow
def test_kubectl_apply_delete(lab: tuple[ApiServer, Recorder], tmp_path: Path) -> None:
    server, recorder = lab
    assert "virtualservice.networking.istio.io/reviews created" in \
        kubectl(server, "apply", "-f", str(JASON_VS)).stdout
    assert "unchanged" in kubectl(server, "apply", "-f", str(JASON_VS)).stdout
    changed = tmp_path / "vs.yaml"
    changed.write_text(JASON_VS.read_text().replace("subset: v1", "subset: v3"))
    assert "configured" in kubectl(server, "apply", "-f", str(changed)).stdout
    stored = server.store.get("networking.istio.io", "VirtualService", "default", "reviews")
    assert stored is not None and stored["spec"]["http"][1]["route"][0]["destination"] == {
        "host": "reviews", "subset": "v3"}
    assert "deleted" in kubectl(server, "delete", "-f", str(changed)).stdout
    assert [c[0] for c in recorder.calls] == ["create", "patch", "delete"]
    refused = kubectl(server, "run", "x", "--image=nginx", check=False)
    assert refused.returncode != 0 and "MethodNotAllowed" in refused.stderr


@needs_kubectl
@pytest.mark.slow
def test_kubectl_rollout_wait_and_proxy(lab: tuple[ApiServer, Recorder]) -> None:
    server, _ = lab
    assert "successfully rolled out" in kubectl(
        server, "rollout", "status", "deploy/kiali", "-n", "istio-system").stdout
    assert "condition met" in kubectl(server, "wait", "--for=condition=Available",
                                      "deploy/kiali", "-n", "istio-system",
                                      "--timeout=60s").stdout
    assert server.counts["watch"] >= 2
    raw = kubectl(server, "get", "--raw",
                  "/api/v1/namespaces/istio-system/services/kiali:20001/proxy/kiali/healthz")
    assert json.loads(raw.stdout) == {"path": "/kiali/healthz", "status": "healthy"}
    missing = kubectl(server, "get", "--raw",
                      "/api/v1/namespaces/default/services/nothing/proxy/", check=False)
    assert missing.returncode != 0 and "ServiceUnavailable" in missing.stderr
    assert server.counts["proxy"] == 2


# -- pieces ---------------------------------------------------------------------------------

def test_selectors_and_printing_helpers() -> None:
    labels = {"app": "reviews", "version": "v2"}
    assert label_matcher("app=reviews,version in (v1, v2)")(labels)
    assert not label_matcher("!version")(labels)
    assert label_matcher("tier notin (db),app")(labels)
    with pytest.raises(ValueError):
        label_matcher("a b c")
    assert [human_duration(s) for s in (5, 185, 3 * 3600 + 60, 30 * 3600, 3 * 86400)] == \
        ["5s", "3m5s", "3h1m", "30h", "3d"]
    status = {"conditions": [{"type": "Accepted", "status": "True"},
                             {"type": "Programmed", "status": "False"}]}
    assert json_path({"status": status},
                     '.status.conditions[?(@.type=="Programmed")].status') == ["False"]
