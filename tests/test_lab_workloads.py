"""Emulated lab workloads over real sockets, with a fake mesh in place of Envoy."""

from __future__ import annotations

import http.client
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from meshgrade.lab.ports import LOOPBACK
from meshgrade.lab.workloads import Faults, PodSpec, Telemetry, Workloads, start_addon

from .conftest import PATIENCE_S

PODS = {
    "productpage-v1": "productpage-v1-5f9c8d7b6c-kx2lp",
    "details-v1": "details-v1-6b8d5c4f7d-q9w2e",
    "ratings-v1": "ratings-v1-7c9d4b8f6f-m3n4p",
    "reviews-v1": "reviews-v1-5b9f6c7d8b-abcde",
    "reviews-v2": "reviews-v2-7d79d5bd5d-8zzqd",
    "reviews-v3": "reviews-v3-84779c7bbc-p4xkr",
}
TITLE = "<title>Simple Bookstore App</title>"
BOOK = "The Comedy of Errors"
SERVED_BY = "Reviews served by:"
POD_RE = re.compile(r"reviews-(v\d+)-[a-z0-9]+-[a-z0-9]+")
BLACK = '<div class="flex gap-x-1 text-black-500">'
RED = '<div class="flex gap-x-1 text-red-500">'
STAR = '<svg id="glyphicon glyphicon-star"'
TIMEOUT = PATIENCE_S  # bounds real requests only


def spec(workload: str, name: str | None = None) -> PodSpec:
    app, version = workload.rsplit("-", 1)
    return PodSpec(name or PODS[workload], "default", app, version, workload,
                   (("app", app), ("version", version)))


@dataclass
class Seen:
    """One request the fake mesh forwarded."""

    service: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeMesh:
    """Forwards by Host header to one of the service's pod ports (round robin), like Envoy:
    503 when no pod answers."""

    routes: dict[str, list[int]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        mesh = self
        self._counters: dict[str, Iterator[int]] = {}
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = mesh.forward(self.command, self.path, self.headers)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.start()

    def pin(self, service: str, *ports: int) -> None:
        with self._lock:
            self.routes[service] = list(ports)
            self._counters.pop(service, None)

    def forward(self, method: str, path: str, headers: object) -> tuple[int, list, bytes]:
        service = str(headers["Host"]).split(":")[0]  # type: ignore[index]
        received = {k.lower(): v for k, v in headers.items()}  # type: ignore[attr-defined]
        with self._lock:
            self.seen.append(Seen(service, path, received))
            ports = self.routes.get(service, [])
            if service not in self._counters:
                self._counters[service] = itertools.cycle(range(max(len(ports), 1)))
            port = ports[next(self._counters[service])] if ports else None
        if port is None:
            return 503, [], b"no healthy upstream"
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=TIMEOUT)
        try:
            conn.request(method, path, headers={k: v for k, v in received.items()
                                                if k not in ("connection", "content-length")})
            answer = conn.getresponse()
            return answer.status, [(k, v) for k, v in answer.getheaders()
                                   if k.lower() not in ("content-length", "transfer-encoding",
                                                        "connection")], answer.read()
        except OSError:
            return 503, [], b"upstream connect error or disconnect/reset before headers"
        finally:
            conn.close()

    def requests_to(self, service: str) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if seen.service == service]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)


@dataclass
class Lab:
    workloads: Workloads
    mesh: FakeMesh

    def port(self, workload: str) -> int:
        return self.workloads.ports()[PODS[workload]]

    def url(self, workload: str, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port(workload)}{path}"

    def pin_reviews(self, *versions: str) -> None:
        self.mesh.pin("reviews", *(self.port(f"reviews-{v}") for v in versions))

    def page(self, **headers: str) -> str:
        answer = requests.get(self.url("productpage-v1", "/productpage"), headers=headers,
                              timeout=TIMEOUT)
        assert answer.status_code == 200
        return answer.text


@pytest.fixture
def mesh() -> Iterator[FakeMesh]:
    fake = FakeMesh()
    yield fake
    fake.stop()


@pytest.fixture
def make_lab(mesh: FakeMesh) -> Iterator[Callable[..., Lab]]:
    started: list[Workloads] = []

    def make(page_style: str = "new", telemetry: Telemetry | None = None,
             faults: Faults | None = None) -> Lab:
        workloads = Workloads(lambda: mesh.url, telemetry=telemetry, faults=faults,
                              page_style=page_style)
        started.append(workloads)
        for workload in PODS:
            workloads.start_pod(spec(workload))
        ports = workloads.ports()
        for service in ("productpage", "details", "ratings", "reviews"):
            mesh.pin(service, *(ports[name] for wl, name in PODS.items()
                                if wl.startswith(service + "-")))
        return Lab(workloads, mesh)

    yield make
    for workloads in started:
        workloads.stop()


@pytest.fixture
def lab(make_lab: Callable[..., Lab]) -> Lab:
    return make_lab()


def test_ten_pods_answer_on_their_own_ports_and_stop_frees_them() -> None:
    with Workloads("http://127.0.0.1:9") as workloads:
        for i in range(10):
            workloads.start_pod(spec("web-v1", f"web-v1-6c8f9d7b5d-pod{i}"))
        ports = workloads.ports()
        assert len(set(ports.values())) == 10
        assert requests.get(f"http://{LOOPBACK}:{ports['web-v1-6c8f9d7b5d-pod3']}/",
                            timeout=TIMEOUT).json()["pod"] == "web-v1-6c8f9d7b5d-pod3"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{LOOPBACK}:{ports['web-v1-6c8f9d7b5d-pod3']}/", timeout=TIMEOUT)


def test_product_page_shows_book_details_and_reviews_pod(lab: Lab) -> None:
    lab.pin_reviews("v1")
    page = lab.page()
    assert TITLE in page and BOOK in page
    assert "William Shakespeare" in page and "paperback" in page and "123-1234567890" in page
    assert page.count(SERVED_BY) == 2
    assert page.count(PODS["reviews-v1"]) == 2
    assert STAR not in page and BLACK not in page and RED not in page
    assert "Sign in" in page and "Sign out" not in page


@pytest.mark.parametrize(("version", "marker", "other"), [("v2", BLACK, RED), ("v3", RED, BLACK)])
def test_star_markers_per_version(lab: Lab, version: str, marker: str, other: str) -> None:
    lab.pin_reviews(version)
    page = lab.page()
    assert page.count(marker) == 2 and other not in page
    assert page.count(STAR + " ") == 9  # 5 + 4 stars
    assert {m.group(1) for m in POD_RE.finditer(page)} == {version}


def test_reviews_round_robin_shows_every_version(lab: Lab) -> None:
    versions = [POD_RE.search(lab.page()).group(1) for _ in range(6)]  # type: ignore[union-attr]
    assert sorted(versions) == ["v1", "v1", "v2", "v2", "v3", "v3"]


def test_old_page_style(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("old")
    lab.pin_reviews("v2")
    page = lab.page()
    assert TITLE in page and page.count(SERVED_BY) == 1 and PODS["reviews-v2"] in page
    assert '<font color="black">' in page and '<span class="glyphicon glyphicon-star">' in page
    lab.pin_reviews("v3")
    assert '<font color="red">' in lab.page()
    lab.workloads.stop_pod(PODS["reviews-v3"])
    assert "Error fetching product reviews!" in lab.page()


def test_reviews_unavailable(lab: Lab) -> None:
    for version in ("v1", "v2", "v3"):
        lab.workloads.stop_pod(PODS[f"reviews-{version}"])
    page = lab.page()
    assert "Error fetching product reviews" in page
    assert "Sorry, product reviews are currently unavailable for this book." in page
    assert SERVED_BY not in page and TITLE in page and "William Shakespeare" in page
    assert len(lab.mesh.requests_to("reviews")) == 2  # one retry


def test_reviews_retried_once(make_lab: Callable[..., Lab]) -> None:
    faults = Faults()
    lab = make_lab(faults=faults)
    lab.pin_reviews("v1", "v2")
    faults.set("reviews-v1", down=True)
    page = lab.page()
    assert PODS["reviews-v2"] in page and "Error fetching" not in page
    faults.set("reviews-v1", error_rate=1.0)
    faults.set("reviews-v2", error_rate=1.0)
    assert "Error fetching product reviews" in lab.page()


def test_ratings_unavailable_once_per_review(make_lab: Callable[..., Lab]) -> None:
    faults = Faults()
    lab = make_lab(faults=faults)
    lab.pin_reviews("v3")
    faults.set("ratings-v1", error_rate=1.0)
    page = lab.page()
    assert page.count("Ratings service is currently unavailable") == 2
    assert RED not in page and PODS["reviews-v3"] in page
    faults.clear()
    lab.workloads.stop_pod(PODS["ratings-v1"])
    assert lab.page().count("Ratings service is currently unavailable") == 2


def test_details_unavailable(make_lab: Callable[..., Lab]) -> None:
    faults = Faults()
    lab = make_lab(faults=faults)
    faults.set("details-v1", error_rate=1.0)
    assert "Error fetching product details" in lab.page()
    faults.clear()
    lab.workloads.stop_pod(PODS["details-v1"])
    page = lab.page()
    assert "Error fetching product details" in page and SERVED_BY in page


def test_login_flow_and_end_user_only_from_session(lab: Lab) -> None:
    lab.pin_reviews("v2")
    login = lab.url("productpage-v1", "/login")
    form = {"username": "jason", "passwd": "x"}
    answer = requests.post(login, data=form, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302 and answer.headers["Location"] == "None"
    referer = "http://gateway.example/productpage"
    answer = requests.post(login, data=form, headers={"Referer": referer},
                           allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302 and answer.headers["Location"] == referer
    assert answer.headers["Set-Cookie"].startswith("session=")
    cookie = f"session={answer.cookies['session']}"

    page = lab.page(Cookie=cookie)
    assert "jason" in page and "Sign out" in page
    to_reviews = lab.mesh.requests_to("reviews")[-1]
    assert to_reviews.headers["end-user"] == "jason"
    assert lab.mesh.requests_to("ratings")[-1].headers["end-user"] == "jason"

    page = lab.page(**{"end-user": "jason"})
    assert "Sign out" not in page and "jason" not in page
    assert "end-user" not in lab.mesh.requests_to("reviews")[-1].headers
    assert "Sign out" not in lab.page(Cookie="session=forged.signature")

    answer = requests.get(lab.url("productpage-v1", "/logout"), headers={"Cookie": cookie},
                          allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302 and answer.cookies.get("session", "") == ""


def test_productpage_forwards_tracing_headers(lab: Lab) -> None:
    lab.pin_reviews("v3")
    sent = {"x-request-id": "grader-42", "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
            "x-b3-traceid": "c" * 16, "b3": "d" * 16 + "-" + "e" * 16, "user-agent": "grader/1",
            "authorization": "Bearer t"}
    lab.page(**sent)
    for service in ("reviews", "details", "ratings"):
        received = lab.mesh.requests_to(service)[-1].headers
        assert received["x-request-id"] == "grader-42", service
        assert received["x-b3-traceid"] == "c" * 16 and received["b3"] == sent["b3"]
    assert lab.mesh.requests_to("reviews")[-1].headers["authorization"] == "Bearer t"
    assert lab.mesh.requests_to("reviews")[-1].headers["x-meshgrade-source"] == "productpage-v1"
    assert lab.mesh.requests_to("ratings")[-1].headers["x-meshgrade-source"] == "reviews-v3"


def test_json_endpoints(lab: Lab) -> None:
    def get(workload: str, path: str) -> requests.Response:
        return requests.get(lab.url(workload, path), timeout=TIMEOUT)

    assert get("productpage-v1", "/api/v1/products").json()[0]["title"] == BOOK
    assert get("productpage-v1", "/api/v1/products/0").json()["author"] == "William Shakespeare"
    lab.pin_reviews("v3")
    reviews = get("productpage-v1", "/api/v1/products/0/reviews").json()
    assert reviews["id"] == "0" and reviews["podname"] == PODS["reviews-v3"]
    assert reviews["clustername"] == "null"
    assert {r["rating"]["color"] for r in reviews["reviews"]} == {"red"}
    lab.pin_reviews("v1")
    reviews = get("productpage-v1", "/api/v1/products/0/reviews").json()
    assert all("rating" not in r for r in reviews["reviews"])
    lab.pin_reviews("v2")
    reviews = get("productpage-v1", "/api/v1/products/0/reviews").json()
    assert [r["rating"] for r in reviews["reviews"]] == [
        {"stars": 5, "color": "black"}, {"stars": 4, "color": "black"}]
    expected_ratings = {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}
    assert get("productpage-v1", "/api/v1/products/0/ratings").json() == expected_ratings
    assert get("ratings-v1", "/ratings/0").json() == expected_ratings
    assert get("details-v1", "/details/0").json() == {
        "id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback",
        "pages": 200, "publisher": "PublisherA", "language": "English",
        "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}
    assert get("productpage-v1", "/static/tailwind/tailwind.css").status_code == 200
    assert get("productpage-v1", "/nothing").status_code == 404
    for workload in PODS:
        answer = get(workload, "/health")
        assert answer.status_code == 200 and answer.headers["x-meshgrade-pod"] == PODS[workload]
        assert answer.headers["x-meshgrade-version"] == workload.rsplit("-", 1)[1]


def test_generic_workload_json_html_and_keep_alive() -> None:
    with Workloads("http://127.0.0.1:9") as workloads:
        pod = PodSpec("httpbin-v2-6d8c9f7b5d-zz9x1", "apps", "httpbin", "v2", "httpbin-v2")
        port = workloads.start_pod(pod)
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=TIMEOUT)
        try:
            conn.request("DELETE", "/anything/1?a=b", headers={"X-Probe": "1"})
            first = conn.getresponse()
            data = __import__("json").loads(first.read())
            conn.request("GET", "/", headers={"Accept": "text/html,*/*;q=0.8"})
            second = conn.getresponse()  # same connection: keep-alive
            html = second.read().decode()
        finally:
            conn.close()
    assert first.getheader("x-meshgrade-pod") == pod.name
    assert first.getheader("x-meshgrade-version") == "v2"
    assert data["pod"] == pod.name and data["app"] == "httpbin" and data["version"] == "v2"
    assert data["namespace"] == "apps" and data["method"] == "DELETE"
    assert data["path"] == "/anything/1" and data["query"] == "a=b"
    assert data["headers"]["x-probe"] == "1"
    assert second.getheader("Content-Type").startswith("text/html")
    assert pod.name in html and "<html" in html


def test_faults_error_rate_latency_and_down() -> None:
    faults = Faults()
    with Workloads("http://127.0.0.1:9", faults=faults) as workloads:
        url = f"http://{LOOPBACK}:{workloads.start_pod(spec('echo-v1', 'echo-v1-a-b'))}/"
        faults.set("echo-v1", error_rate=1.0)
        answer = requests.get(url, timeout=TIMEOUT)
        assert answer.status_code == 503 and answer.text == "fault injected"
        faults.set("echo-v1", latency_s=0.3)
        began = time.perf_counter()
        assert requests.get(url, timeout=TIMEOUT).status_code == 200
        assert time.perf_counter() - began >= 0.3
        faults.set("echo-v1", down=True)
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=TIMEOUT)
        faults.clear()
        assert requests.get(url, timeout=TIMEOUT).status_code == 200
        with pytest.raises(ValueError):
            faults.set("echo-v1", error_rate=2.0)


def test_telemetry_and_prometheus_query(make_lab: Callable[..., Lab]) -> None:
    telemetry = Telemetry()
    lab = make_lab(telemetry=telemetry)
    for _ in range(6):
        lab.page()
    assert telemetry.total(destination_service_name="reviews", destination_version="v2") == 2
    assert telemetry.total(destination_workload="ratings-v1",
                           source_workload="reviews-v3") == 2
    assert telemetry.total(destination_workload="productpage-v1", source_workload="unknown") == 6
    with start_addon("prometheus", telemetry) as prometheus:
        base = f"http://{LOOPBACK}:{prometheus.port}"
        assert requests.get(f"{base}/-/ready", timeout=TIMEOUT).status_code == 200
        query = ('sum(istio_requests_total{destination_service_name="reviews"})'
                 ' by (destination_version)')
        answer = requests.get(f"{base}/api/v1/query", params={"query": query}, timeout=TIMEOUT)
        result = answer.json()["data"]["result"]
        assert answer.json()["status"] == "success"
        assert {r["metric"]["destination_version"]: r["value"][1] for r in result} == {
            "v1": "2", "v2": "2", "v3": "2"}
        answer = requests.post(f"{base}/api/v1/query", timeout=TIMEOUT, data={
            "query": 'sum by (response_code) (istio_requests_total{reporter="destination",'
                     'destination_workload=~"reviews-v[23]"})'})
        assert answer.json()["data"]["result"] == [{"metric": {"response_code": "200"},
                                                    "value": [pytest.approx(time.time(), abs=60),
                                                              "4"]}]
        bad = requests.get(f"{base}/api/v1/query", params={"query": "rate(x[1m])"},
                           timeout=TIMEOUT)
        assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


def test_telemetry_query_subset() -> None:
    telemetry = Telemetry()
    telemetry.record("reviews", "reviews-v1", "v1", "productpage-v1", 200)
    telemetry.record("reviews", "reviews-v2", "v2", "productpage-v1", 503)
    telemetry.record("details", "details-v1", "v1", None, 200)
    everything = telemetry.query("istio_requests_total")["data"]["result"]
    assert len(everything) == 3 and everything[0]["metric"]["__name__"] == "istio_requests_total"
    not_ok = telemetry.query("istio_requests_total{response_code!='200'}")["data"]["result"]
    assert [r["metric"]["destination_workload"] for r in not_ok] == ["reviews-v2"]
    total = telemetry.query("sum(istio_requests_total)")["data"]["result"]
    assert total[0]["metric"] == {} and total[0]["value"][1] == "3"
    assert telemetry.query('istio_requests_total{source_workload="unknown"}')["data"][
        "result"][0]["metric"]["destination_service_name"] == "details"
    for bad in ("up", "istio_requests_total{a=b}", "istio_requests_total{a=~\"(\"}"):
        assert telemetry.query(bad)["status"] == "error"


def test_kiali_addon() -> None:
    telemetry = Telemetry()
    telemetry.record("reviews", "reviews-v1", "v1", "productpage-v1", 200)
    addon = start_addon("kiali", telemetry)
    try:
        base = f"http://{LOOPBACK}:{addon.port}/kiali"
        assert requests.get(f"{base}/healthz", timeout=TIMEOUT).status_code == 200
        assert requests.get(f"{base}/api", timeout=TIMEOUT).json()["status"]["Kiali state"] == (
            "running")
        graph = requests.get(f"{base}/api/namespaces/graph", timeout=TIMEOUT).json()
        assert graph["elements"]["edges"][0]["data"]["target"] == "reviews-v1"
    finally:
        addon.stop()


def test_mesh_client_pools_connections_follows_redirects_and_fails_softly() -> None:
    from meshgrade.lab.workloads.aio import MeshClient, PodLoop
    from meshgrade.lab.workloads.podserver import PodServer, Request, Response

    seen: list[tuple[str, str, str]] = []
    agents: list[str] = []

    def mesh(request: Request) -> Response:
        seen.append((request.path, request.header("host"), request.header("cookie")))
        agents.append(request.header("user-agent"))
        if request.path == "/old":
            response = Response.text("moved", 302)
            response.headers.append(("Location", "/new"))
            return response
        if request.path == "/away":
            response = Response.text("moved", 301)
            response.headers.append(("Location", "http://elsewhere.invalid/x"))
            return response
        if request.path == "/slow":  # a stand-in for a hang: answers once the server stops
            server.sleep(PATIENCE_S)
        return Response.json({"path": request.path, "source": request.header(
            "x-meshgrade-source")})

    server = PodServer(mesh)
    pods = PodLoop()
    client = MeshClient(lambda: f"http://{LOOPBACK}:{server.port}", "productpage-v1",
                        timeout_s=PATIENCE_S)
    get = lambda *args: pods.call(client.get(*args), TIMEOUT)  # noqa: E731
    try:
        for _ in range(3):
            answer = get("details", "/details/0", {"cookie": "a=1"})
            assert answer is not None and answer.status_code == 200
            assert answer.json() == {"path": "/details/0", "source": "productpage-v1"}
        assert len(server._connections) == 1  # one kept-alive connection, reused
        assert get("details", "/details/0", {"user-agent": "curl/8"}) is not None
        assert agents[0].startswith("python-requests/") and agents[-1] == "curl/8"
        moved = get("reviews", "/old", {"cookie": "a=1"})
        assert moved is not None and moved.json()["path"] == "/new"
        assert seen[-2:] == [("/old", "reviews:9080", "a=1"), ("/new", "reviews:9080", "")]
        assert get("reviews", "/away", {}) is None
        for conn in list(server._connections):  # the mesh drops idle connections: retried
            conn.shutdown(2)
        time.sleep(0.1)
        answer = get("ratings", "/ratings/0", {})
        assert answer is not None and answer.status_code == 200
        client.timeout_s = 0.5  # short for the hang only, not for real work
        assert get("ratings", "/slow", {}) is None  # no answer within timeout_s
        client.timeout_s = PATIENCE_S
        answer = get("ratings", "/ratings/0", {})  # the pool got over the timed-out call
        assert answer is not None and answer.status_code == 200
    finally:
        pods.call(client.aclose(), TIMEOUT)
        server.stop()
    try:
        assert get("details", "/details/0", {}) is None  # nothing listens any more
    finally:
        pods.stop()

