"""The course in the lab: the request routing and traffic shifting pages' commands, in order,
in both APIs, against a bare lab (`meshgrade lab up --no-bookinfo`), with kubectl.

The files are restated from the docs' facts (tests/lab_course: Bookinfo and the curl sample;
tests/docs_paths: the gateway and the rules). Each step checks what the page says the reader
sees; requests go through the mesh with `kubectl exec ... curl`, as the pages send them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from .conftest import PATIENCE_S, TESTS, kubectl_path, needs_kubectl

KUBECTL = kubectl_path() or "kubectl"
COURSE = TESTS / "lab_course"
CLASSIC = TESTS / "docs_paths" / "classic"
GWAPI = TESTS / "docs_paths" / "gateway-api"
VERSIONS = TESTS / "docs_paths" / "extras" / "bookinfo-versions.yaml"
STAR = "glyphicon glyphicon-star"
INGRESS = "http://istio-ingressgateway.istio-system"
DEPLOYMENTS = ("productpage-v1", "details-v1", "ratings-v1", "reviews-v1", "reviews-v2",
               "reviews-v3")

pytestmark = [pytest.mark.slow, needs_kubectl]


class Course:
    """A detached bare lab and a shell for the reader's commands."""

    def __init__(self, state: Path) -> None:
        self.env = {**os.environ, "MESHGRADE_LAB_STATE": str(state)}
        self.env.pop("KUBECONFIG", None)

    def meshgrade(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meshgrade", *args], capture_output=True,
                              text=True, timeout=120, env=self.env)

    def up(self) -> None:
        up = self.meshgrade("lab", "up", "--no-bookinfo", "--detach")
        assert up.returncode == 0, up.stderr
        self.env.update(re.findall(r"export (\w+)=(\S+)", up.stdout))
        self.env["PATH"] = f"{Path(KUBECTL).parent}{os.pathsep}{self.env.get('PATH', '')}"

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([KUBECTL, *args], capture_output=True, text=True,
                              timeout=PATIENCE_S * 2, env=self.env, input=stdin)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done

    def apply(self, *paths: Path) -> list[str]:
        """`kubectl apply -f` each file: its output lines; it must say nothing on stderr."""
        args = [a for p in paths for a in ("-f", str(p))]
        done = self.kubectl("apply", *args)
        assert done.stderr == "", done.stderr  # silent, as on a cluster: no warnings
        return done.stdout.splitlines()

    def exec_curl(self, *curl: str, check: bool = True) -> str:
        """`kubectl exec deploy/curl -c curl -- curl ...`: what curl printed."""
        return self.kubectl("exec", "deploy/curl", "-c", "curl", "--", "curl", *curl,
                            check=check).stdout

    def page(self, url: str, cookies: str | None = None) -> str:
        return self.exec_curl(url, "-s", *(("-b", cookies) if cookies else ()))

    def pages_with_stars(self, url: str, n: int, cookies: str | None = None) -> int:
        """How many of ``n`` product pages (one shell loop in the curl pod) show stars."""
        jar = f"-b {cookies} " if cookies else ""
        out = self.kubectl("exec", "deploy/curl", "-c", "curl", "--", "sh", "-c",
                           f"for i in $(seq 1 {n}); do curl -s {jar}{url} | grep -c "
                           f"'{STAR}'; done", check=False).stdout.split()
        assert len(out) == n, out
        return sum(int(x) > 0 for x in out)

    def login(self, base: str, user: str) -> str:
        """The docs' sample_http_request login: a cookie jar in the curl pod."""
        jar = f"/tmp/{user}.cookies"
        self.exec_curl("-s", "-c", jar, f"{base}/login", "--data",
                       f"username={user}&passwd=password")
        return jar

    def restart(self, name: str) -> None:
        """`kubectl rollout restart`: kubectl itself refuses a second restart within one
        second of the last (its restartedAt annotation has seconds), so try again then."""
        deadline = time.monotonic() + PATIENCE_S
        while True:
            done = self.kubectl("rollout", "restart", f"deployment/{name}", check=False)
            if done.returncode == 0 or "within the past second" not in done.stderr \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done.returncode == 0, done.stderr

    def rollout(self, *names: str) -> None:
        for name in names:
            assert "successfully rolled out" in self.kubectl(
                "rollout", "status", f"deployment/{name}", "--timeout", "5m").stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    course = Course(tmp_path_factory.mktemp("lab-state"))
    course.up()
    try:
        yield course
    finally:
        assert course.meshgrade("lab", "down").returncode == 0


def _pods(course: Course) -> dict[str, str]:
    rows = course.kubectl("get", "pods", "--no-headers").stdout.splitlines()
    return {r.split()[0]: r.split()[1] for r in rows}


def test_bare_lab_then_bookinfo_and_curl(course: Course) -> None:
    assert "istio-injection" not in course.kubectl("get", "ns", "default",
                                                   "--show-labels").stdout
    assert course.kubectl("get", "crd", "gateways.gateway.networking.k8s.io").returncode == 0
    # a client started before injection is on: 1/1, outside the mesh
    assert course.apply(COURSE / "curl.yaml") == [
        "serviceaccount/curl created", "service/curl created", "deployment.apps/curl created"]
    course.rollout("curl")
    assert list(_pods(course).values()) == ["1/1"]
    assert "namespace/default labeled" in course.kubectl(
        "label", "namespace", "default", "istio-injection=enabled", "--overwrite").stdout
    course.restart("curl")
    course.rollout("curl")
    applied = course.apply(COURSE / "bookinfo.yaml")
    assert "deployment.apps/reviews-v3 created" in applied and len(applied) == 14
    course.rollout(*DEPLOYMENTS)
    pods = _pods(course)
    assert len(pods) == 7 and set(pods.values()) == {"2/2"}, pods
    assert course.apply(COURSE / "bookinfo.yaml") == [line.replace("created", "unchanged")
                                                      for line in applied]
    title = course.kubectl("exec", "deploy/ratings-v1", "-c", "ratings", "--", "sh", "-c",
                           "curl -sS productpage:9080/productpage | grep -o "
                           "'<title>.*</title>'").stdout
    assert title == "<title>Simple Bookstore App</title>\n"


def test_gateway_recipes_answer(course: Course) -> None:
    course.apply(CLASSIC / "bookinfo-gateway.yaml")
    svc = ["-n", "istio-system", "get", "service", "istio-ingressgateway", "-o"]
    host = course.kubectl(*svc, "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout
    port = course.kubectl(*svc, 'jsonpath={.spec.ports[?(@.name=="http2")].port}').stdout
    node_host = course.kubectl("get", "po", "-l", "istio=ingressgateway", "-n", "istio-system",
                               "-o", "jsonpath={.items[0].status.hostIP}").stdout
    node_port = course.kubectl(*svc, 'jsonpath={.spec.ports[?(@.name=="http2")].nodePort}'
                               ).stdout
    for url in (f"http://{host}:{port}/productpage", f"http://{node_host}:{node_port}"
                "/productpage"):
        s = requests.Session()
        s.trust_env = False
        assert "Simple Bookstore App" in s.get(url, timeout=PATIENCE_S).text, url
    assert f"{host}:{port}" == course.env["GATEWAY_URL"]


def test_request_routing_istio_apis(course: Course) -> None:
    course.apply(CLASSIC / "destination-rule-all.yaml")
    assert course.apply(CLASSIC / "virtual-service-all-v1.yaml") == [
        f"virtualservice.networking.istio.io/{n} created"
        for n in ("productpage", "reviews", "ratings", "details")]
    for name in ("productpage", "reviews", "ratings", "details"):
        course.kubectl("wait", "--for=create", "-n", "default", f"virtualservice/{name}",
                       "--timeout", "30s")
    listed = yaml.safe_load(course.kubectl("get", "virtualservices", "-o", "yaml").stdout)
    routes = {vs["spec"]["hosts"][0]: vs["spec"]["http"][0]["route"][0]["destination"]
              for vs in listed["items"] if vs["metadata"]["name"] != "bookinfo"}
    assert routes == {h: {"host": h, "subset": "v1"}
                      for h in ("productpage", "reviews", "ratings", "details")}
    rules = course.kubectl("get", "destinationrules", "-o", "yaml").stdout
    assert all(f"name: {h}" in rules for h in ("productpage", "reviews", "ratings", "details"))
    assert course.pages_with_stars(f"{INGRESS}/productpage", 10) == 0
    assert course.apply(CLASSIC / "virtual-service-reviews-test-v2.yaml") == [
        "virtualservice.networking.istio.io/reviews configured"]
    vs = yaml.safe_load(course.kubectl("get", "virtualservice", "reviews", "-o", "yaml").stdout)
    assert vs["spec"]["http"][0]["match"] == [{"headers": {"end-user": {"exact": "jason"}}}]
    jason = course.login(INGRESS, "jason")
    assert "session" in course.kubectl("exec", "deploy/curl", "-c", "curl", "--", "cat",
                                       jason).stdout
    assert course.pages_with_stars(f"{INGRESS}/productpage", 10, jason) == 10
    assert course.pages_with_stars(f"{INGRESS}/productpage", 10) == 0
    course.exec_curl("-s", "-b", jason, f"{INGRESS}/logout")


def test_traffic_shifting_istio_apis(course: Course) -> None:
    assert course.apply(CLASSIC / "virtual-service-all-v1.yaml") == [
        f"virtualservice.networking.istio.io/{n} {'configured' if n == 'reviews' else 'unchanged'}"
        for n in ("productpage", "reviews", "ratings", "details")]
    url = "http://productpage:9080/productpage"
    assert course.pages_with_stars(url, 10) == 0
    assert course.apply(CLASSIC / "virtual-service-reviews-50-v3.yaml") == [
        "virtualservice.networking.istio.io/reviews configured"]
    vs = yaml.safe_load(course.kubectl("get", "virtualservice", "reviews", "-o", "yaml").stdout)
    assert [(r["destination"]["subset"], r["weight"]) for r in vs["spec"]["http"][0]["route"]
            ] == [("v1", 50), ("v3", 50)]
    assert 15 <= course.pages_with_stars(url, 60) <= 45  # about half, as the page says
    course.apply(CLASSIC / "virtual-service-reviews-v3.yaml")
    assert course.pages_with_stars(url, 10) == 10
    page = course.page(url)
    assert "text-red-500" in page and "text-black-500" not in page  # v3's red stars
    deleted = course.kubectl("delete", "-f", str(CLASSIC / "virtual-service-all-v1.yaml"))
    assert deleted.stdout.count("deleted") == 4


def test_logs_events_and_a_pod_outside_the_mesh(course: Course) -> None:
    course.exec_curl("-s", "-o", "/dev/null", "http://reviews:9080/reviews/0")
    app_log = course.kubectl("logs", "-l", "app=reviews", "-c", "reviews").stdout
    proxy_log = course.kubectl("logs", "deploy/curl", "-c", "istio-proxy").stdout
    assert re.search(r'127\.0\.0\.6 - - \[.*\] "GET /reviews/0 HTTP/1\.1" 200 \d+ "-" '
                     r'"curl/8\.16\.0"', app_log), app_log
    assert re.search(r'"GET /reviews/0 HTTP/1\.1" 200 - via_upstream .*outbound\|9080\|\|'
                     r"reviews\.default\.svc\.cluster\.local", proxy_log), proxy_log
    events = course.kubectl("get", "events").stdout
    for reason in ("Scheduled", "Pulled", "Started", "Killing", "ScalingReplicaSet"):
        assert reason in events
    ages = course.kubectl("get", "pods,deploy", "--no-headers").stdout
    assert not re.search(r"\s\d+d\s*$", ages, re.M)  # nothing days old beside seconds
    # a pod created while injection is off calls around the mesh's rules
    course.kubectl("label", "namespace", "default", "istio-injection-")
    course.apply(CLASSIC / "virtual-service-all-v1.yaml")
    course.restart("curl")
    course.rollout("curl")
    assert "1/1" in [v for k, v in _pods(course).items() if k.startswith("curl-")]
    seen = {re.search(r"reviews-v\d", course.exec_curl("-s", "http://reviews:9080/reviews/0"))
            .group(0) for _ in range(9)}  # type: ignore[union-attr]
    assert seen == {"reviews-v1", "reviews-v2", "reviews-v3"}  # round robin: no rules
    course.kubectl("label", "namespace", "default", "istio-injection=enabled")
    course.restart("curl")
    course.rollout("curl")
    seen = {re.search(r"reviews-v\d", course.exec_curl("-s", "http://reviews:9080/reviews/0"))
            .group(0) for _ in range(6)}  # type: ignore[union-attr]
    assert seen == {"reviews-v1"}
    course.kubectl("delete", "-f", str(CLASSIC / "virtual-service-all-v1.yaml"))


def test_request_routing_and_traffic_shifting_gateway_api(course: Course) -> None:
    for path in (CLASSIC / "destination-rule-all.yaml", CLASSIC / "bookinfo-gateway.yaml"):
        course.kubectl("delete", "-f", str(path))
    course.apply(GWAPI / "bookinfo-gateway.yaml")
    assert "condition met" in course.kubectl(
        "wait", "--for=condition=programmed", "gtw", "bookinfo-gateway", "--timeout=2m").stdout
    course.apply(VERSIONS)
    gateway = "http://bookinfo-gateway-istio.default"
    assert course.apply(GWAPI / "route-reviews-v1.yaml") == [
        "httproute.gateway.networking.k8s.io/reviews created"]
    route = course.kubectl("get", "httproute", "reviews", "-o", "yaml").stdout
    assert "message: Route was valid" in route and "reason: Accepted" in route
    assert course.pages_with_stars(f"{gateway}/productpage", 10) == 0
    course.apply(GWAPI / "route-reviews-jason-v2.yaml")
    jason = course.login(gateway, "jason")
    assert course.pages_with_stars(f"{gateway}/productpage", 6, jason) == 6
    assert course.pages_with_stars(f"{gateway}/productpage", 6) == 0
    course.apply(GWAPI / "route-reviews-v1.yaml")
    assert course.apply(GWAPI / "route-reviews-50-v3.yaml") == [
        "httproute.gateway.networking.k8s.io/reviews configured"]
    status = json.loads(course.kubectl("get", "httproute", "reviews", "-o", "json").stdout)
    conditions = status["status"]["parents"][0]["conditions"]
    assert {(c["type"], c["status"]) for c in conditions} == {("Accepted", "True"),
                                                              ("ResolvedRefs", "True")}
    url = "http://productpage:9080/productpage"
    assert 15 <= course.pages_with_stars(url, 60) <= 45
    course.apply(GWAPI / "route-reviews-v3.yaml")
    assert course.pages_with_stars(url, 10) == 10
    assert "deleted" in course.kubectl("delete", "httproute", "reviews").stdout
    course.kubectl("delete", *(a for p in (GWAPI / "bookinfo-gateway.yaml", VERSIONS,
                                           COURSE / "bookinfo.yaml", COURSE / "curl.yaml")
                               for a in ("-f", str(p))))
    assert "No resources found" in course.kubectl("get", "pods,deploy,rs").stderr
    assert course.kubectl("get", "svc", "-o", "name").stdout == "service/kubernetes\n"
