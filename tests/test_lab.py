"""The lab end to end: real Envoy, real sockets, the real kubernetes client and kubectl."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from meshgrade.lab.lab import Lab

from .conftest import CASES, EXAMPLES, PATIENCE_S, kubectl_path, needs_kubectl

PART1 = EXAMPLES / "part1-bookinfo"
# every test here starts a lab (in this process or with `meshgrade lab up`)
pytestmark = pytest.mark.slow
KUBECTL = kubectl_path() or "kubectl"
POD = re.compile(r"reviews-(v\d+)-[a-z0-9]+-[a-z0-9]+")


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def reviews_version(html: str) -> str:
    found = POD.search(html)
    assert found, html[:500]
    return found.group(1)


def sample(url: str, n: int, s: requests.Session | None = None) -> Counter:
    s = s or session()
    out = Counter()
    for _ in range(n):
        r = s.get(url, timeout=PATIENCE_S)
        assert r.status_code == 200, r.text[:300]
        out[reviews_version(r.text)] += 1
    return out


def login(url: str, user: str) -> requests.Session:
    s = session()
    r = s.post(f"{url}/login", data={"username": user, "passwd": "x"},
               headers={"Referer": f"{url}/productpage"}, allow_redirects=False, timeout=PATIENCE_S)
    assert r.status_code == 302 and "session" in s.cookies
    return s


@pytest.fixture(scope="module")
def lab():
    with Lab().start() as running:
        yield running


def test_quick_start_state(lab: Lab) -> None:
    url = f"http://{lab.gateway_url}"
    page = session().get(f"{url}/productpage", timeout=PATIENCE_S)
    assert page.status_code == 200
    assert "<title>Simple Bookstore App</title>" in page.text
    assert "The Comedy of Errors" in page.text
    assert session().get(f"{url}/", timeout=PATIENCE_S).status_code == 404
    assert set(sample(f"{url}/productpage", 30)) == {"v1", "v2", "v3"}


def test_routing_stages_through_envoy(lab: Lab) -> None:
    url = f"http://{lab.gateway_url}"
    pid = lab.envoy.pid
    lab.apply([PART1 / "destination-rule-all.yaml", PART1 / "virtual-service-all-v1.yaml"])
    assert sample(f"{url}/productpage", 10) == Counter({"v1": 10})
    lab.apply([PART1 / "virtual-service-reviews-jason-v2.yaml"])
    jason = login(url, "jason")
    seen = sample(f"{url}/productpage", 15, jason)
    assert seen == Counter({"v2": 15})
    page = jason.get(f"{url}/productpage", timeout=PATIENCE_S).text
    assert "text-black-500" in page and "jason" in page and "Sign out" in page
    assert sample(f"{url}/productpage", 15) == Counter({"v1": 15})
    assert sample(f"{url}/productpage", 5, login(url, "mike")) == Counter({"v1": 5})
    lab.apply([PART1 / "virtual-service-reviews-50-v3.yaml"])
    split = sample(f"{url}/productpage", 60)
    assert set(split) == {"v1", "v3"} and 15 <= split["v1"] <= 45
    lab.apply([PART1 / "virtual-service-reviews-v3.yaml"])
    assert sample(f"{url}/productpage", 10) == Counter({"v3": 10})
    assert lab.envoy.pid == pid  # reconfigured, not restarted


def test_kubernetes_client_reads_the_lab(lab: Lab) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(lab.kubeconfig))
    pods = client.CoreV1Api(api).list_namespaced_pod("default", label_selector="app=reviews")
    names = sorted(p.metadata.name for p in pods.items)
    assert len(names) == 3 and all(POD.fullmatch(n) for n in names)
    for pod in pods.items:
        assert "istio-proxy" in [c.name for c in pod.spec.containers]
        assert "sidecar.istio.io/status" in pod.metadata.annotations
    deps = client.AppsV1Api(api).list_namespaced_deployment("default")
    assert {d.metadata.name for d in deps.items} >= {"productpage-v1", "reviews-v2"}
    vs = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "networking.istio.io", "v1", "default", "virtualservices")
    assert "bookinfo" in {v["metadata"]["name"] for v in vs["items"]}


def kubectl(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", str(lab.kubeconfig), *args],
                          capture_output=True, text=True, timeout=60)


@needs_kubectl
def test_kubectl_against_the_lab(lab: Lab, tmp_path: Path) -> None:
    got = kubectl(lab, "get", "pods")
    assert got.returncode == 0 and "2/2" in got.stdout and "Running" in got.stdout
    assert kubectl(lab, "rollout", "status", "deploy/kiali", "-n", "istio-system").returncode == 0
    assert kubectl(lab, "apply", "-f", str(PART1 / "destination-rule-all.yaml")).returncode == 0
    applied = kubectl(lab, "apply", "-f", str(PART1 / "virtual-service-reviews-jason-v2.yaml"))
    assert applied.returncode == 0, applied.stderr
    assert "reviews" in kubectl(lab, "get", "vs").stdout
    url = f"http://{lab.gateway_url}"
    assert sample(f"{url}/productpage", 8, login(url, "jason")) == Counter({"v2": 8})
    before = set(re.findall(r"^(\S+)\s+2/2", kubectl(lab, "get", "pods").stdout, re.M))
    deleted = kubectl(lab, "delete", "pod", "--all")  # the Deployments bring new pods
    assert deleted.returncode == 0, deleted.stderr
    after = set(re.findall(r"^(\S+)\s+2/2\s+Running", kubectl(lab, "get", "pods").stdout, re.M))
    assert len(after) == len(before) == 6 and not after & before
    assert "Simple Bookstore App" in session().get(f"{url}/productpage", timeout=PATIENCE_S).text


def test_telemetry_through_the_api_proxy(lab: Lab) -> None:
    from meshgrade.lab.client import ApiClient

    sample(f"http://{lab.gateway_url}/productpage", 5)
    api = ApiClient(lab.kubeconfig)
    query = 'sum(istio_requests_total{destination_service_name="reviews"}) by (destination_version)'
    result = api.get("/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/api/v1/"
                     f"query?query={requests.utils.quote(query)}")
    versions = {r["metric"]["destination_version"] for r in result["data"]["result"]}
    assert versions and versions <= {"v1", "v2", "v3"}
    health = api.session.get(f"{api.server}/api/v1/namespaces/istio-system/services/"
                             "kiali:20001/proxy/kiali/healthz", timeout=PATIENCE_S)
    assert health.status_code == 200


def test_part2_app_with_generic_workloads() -> None:
    app = EXAMPLES / "part2-app"
    with Lab(bookinfo=False).start([app / "app.yaml", app / "destination-rule.yaml",
                                    app / "gateway.yaml", app / "route-header.yaml"]) as lab:
        url = f"http://{lab.gateway_url}/"
        s = session()
        plain = [s.get(url, timeout=PATIENCE_S).json()["version"] for _ in range(10)]
        canary = [s.get(url, headers={"x-canary": "true"}, timeout=PATIENCE_S).json()["version"]
                  for _ in range(10)]
        assert set(plain) == {"v1"} and set(canary) == {"v2"}
        lab.apply([app / "route-weighted.yaml"])
        seen = Counter(s.get(url, timeout=PATIENCE_S).json()["version"] for _ in range(50))
        assert set(seen) == {"v1", "v2"} and seen["v1"] > seen["v2"]


def meshgrade(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meshgrade", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_detached_lab_lifecycle(tmp_path: Path) -> None:
    env = {**os.environ, "MESHGRADE_LAB_STATE": str(tmp_path / "state")}
    up = meshgrade("lab", "up", "--detach", env=env)
    assert up.returncode == 0, up.stderr
    exports = dict(re.findall(r"export (\w+)=(\S+)", up.stdout))
    try:
        url = f"http://{exports['GATEWAY_URL']}"
        page = session().get(f"{url}/productpage", timeout=PATIENCE_S)
        assert "Simple Bookstore App" in page.text
        applied = meshgrade("lab", "apply", str(PART1 / "destination-rule-all.yaml"),
                            str(PART1 / "virtual-service-reviews-v3.yaml"), env=env)
        assert applied.returncode == 0, applied.stderr
        assert sample(f"{url}/productpage", 5) == Counter({"v3": 5})
        deadline = time.monotonic() + PATIENCE_S  # the lab refreshes its state file every 0.25 s
        while True:
            status = json.loads(meshgrade("lab", "status", "--json", env=env).stdout)
            writes = status["api_requests"]
            if writes.get("create", 0) + writes.get("update", 0) >= 2 or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert status["gateway_url"] == exports["GATEWAY_URL"]
        assert writes.get("create", 0) + writes.get("update", 0) >= 2, writes
        pid, envoy_pid = status["pid"], status["envoy_pid"]
        deleted = meshgrade("lab", "delete", str(PART1 / "virtual-service-reviews-v3.yaml"),
                            env=env)
        assert deleted.returncode == 0, deleted.stderr
    finally:
        down = meshgrade("lab", "down", env=env)
    assert down.returncode == 0
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline and (_alive(pid) or _alive(envoy_pid)):
        time.sleep(0.05)
    assert not _alive(pid) and not _alive(envoy_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_faults_and_delayed_push() -> None:
    with Lab().start() as lab:
        url = f"http://{lab.gateway_url}/productpage"
        lab.faults.set("reviews-v1", error_rate=1.0)
        lab.faults.set("reviews-v2", error_rate=1.0)
        lab.faults.set("reviews-v3", error_rate=1.0)
        page = session().get(url, timeout=PATIENCE_S).text
        assert "Sorry, product reviews are currently unavailable" in page
        lab.faults.clear()
        lab.push_delay_s = 0.5
        lab.apply([PART1 / "destination-rule-all.yaml", PART1 / "virtual-service-reviews-v3.yaml"])
        early = sample(url, 9)
        assert len(early) > 1  # the change has not reached Envoy yet
        time.sleep(0.8)
        assert sample(url, 6) == Counter({"v3": 6})


def test_killed_lab_leaves_no_envoy(tmp_path: Path) -> None:
    env = {**os.environ, "MESHGRADE_LAB_STATE": str(tmp_path / "state")}
    up = meshgrade("lab", "up", "--detach", env=env)
    assert up.returncode == 0, up.stderr
    status = json.loads(meshgrade("lab", "status", "--json", env=env).stdout)
    os.kill(status["pid"], 9)
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline and _alive(status["envoy_pid"]):
        time.sleep(0.05)
    assert not _alive(status["envoy_pid"])
    gone = meshgrade("lab", "status", env=env)
    assert gone.returncode == 3 and "no lab is running" in gone.stderr


@needs_kubectl
def test_gateway_api_gateway_gets_istio_deployment_and_service(tmp_path: Path) -> None:
    gw = tmp_path / "gw.yaml"
    gw.write_text((CASES / "MG201" / "good-gateway-api" / "gw.yaml").read_text())
    with Lab().start([gw]) as lab:
        assert session().get(f"http://{lab.gateway_url}/productpage", timeout=PATIENCE_S).ok
        got = kubectl(lab, "get", "deploy,svc", "bookinfo-gateway-istio")
        assert got.returncode == 0 and got.stdout.count("bookinfo-gateway-istio") == 2
        waited = kubectl(lab, "wait", "--for=condition=programmed",
                         "gateways.gateway.networking.k8s.io/bookinfo-gateway", "--timeout=60s")
        assert waited.returncode == 0, waited.stderr
