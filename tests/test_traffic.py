"""meshgrade.traffic against the lab (real Envoy gateway, emulated pods) and hand-written pages."""

from __future__ import annotations

import re
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from meshgrade.lab.client import ApiClient
from meshgrade.lab.lab import Lab
from meshgrade.lab.ports import free_port
from meshgrade.lab.workloads.bookinfo_apps import PRODUCT, REVIEW_TEXTS
from meshgrade.lab.workloads.productpage_html import render_product_page
from meshgrade.traffic import (
    BodyRegexOracle,
    BookinfoOracle,
    Classification,
    GatewayUnreachable,
    HeaderOracle,
    JsonFieldOracle,
    RequestClass,
    Sample,
    Sampler,
    counts_by_version,
    log_in,
    oracle_from_settings,
    percentile,
    pods_by_version,
    prometheus_version_deltas,
    prometheus_via_api,
    star_colors,
    summarize,
)

from .conftest import EXAMPLES, PATIENCE_S

PART1 = EXAMPLES / "part1-bookinfo"
PART2 = EXAMPLES / "part2-app"
DETAILS = {"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback",
           "pages": 200, "publisher": "PublisherA", "language": "English",
           "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab().start() as running:
        yield running


@pytest.fixture(scope="module")
def app_lab() -> Iterator[Lab]:
    files = ["app.yaml", "destination-rule.yaml", "gateway.yaml", "route-header.yaml"]
    with Lab(bookinfo=False).start([PART2 / f for f in files]) as running:
        yield running


def reviews_pods(lab: Lab) -> dict[str, set[str]]:
    """The cluster's reviews pods by version, read through the lab's Kubernetes API."""
    return pods_by_version(ApiClient(lab.kubeconfig).get("/api/v1/namespaces/default/pods")
                           ["items"])


@contextmanager
def applied(lab: Lab, *names: str) -> Iterator[None]:
    paths = [PART1 / name for name in names]
    lab.apply(paths)
    try:
        yield
    finally:
        lab.delete(paths)


@contextmanager
def faults(lab: Lab, **rates: float) -> Iterator[None]:
    for workload, rate in rates.items():
        lab.faults.set(workload.replace("_", "-"), error_rate=rate)
    try:
        yield
    finally:
        lab.faults.clear()


def page(style: str, pod: str | None, color: str | None = None, stars: int = 4,
         rating_error: str | None = None, details: bool = True) -> str:
    """A product page from the lab's templates; ``pod`` None renders the reviews error."""
    if pod is None:
        return render_product_page(style, PRODUCT, DETAILS if details else None, None, None)
    reviews = []
    for name, text in REVIEW_TEXTS.items():
        review: dict = {"reviewer": name, "text": text, "rating": None}
        if rating_error:
            review["rating"] = {"error": rating_error}
        elif color:
            review["rating"] = {"stars": stars, "color": color}
        reviews.append(review)
    data = {"id": "0", "podname": pod, "clustername": "null", "reviews": reviews}
    return render_product_page(style, PRODUCT, DETAILS if details else None, data, None)


# -- sampling Bookinfo through the lab's gateway ---------------------------------------------

@pytest.mark.slow
def test_anonymous_sampling_sees_every_version(lab: Lab) -> None:
    oracle = BookinfoOracle(reviews_pods(lab))
    with Sampler(lab.gateway_url, run_id="anon", seed=1) as sampler:
        samples = sampler.sample(RequestClass.anonymous(), 30, oracle)
    assert len(samples) == 30 and len(sampler.log) == 30
    counts = counts_by_version(samples)
    assert set(counts) == {"v1", "v2", "v3"} and min(counts.values()) >= 5, counts
    assert all(s.status == 200 and s.error is None and not s.problems for s in samples)
    assert all(s.pod in reviews_pods(lab)[s.version] for s in samples if s.version)
    ids = [s.request_id for s in samples]
    assert len(set(ids)) == 30 and all(re.fullmatch(r"anon-\d+", i) for i in ids)
    assert sampler.connection_errors == 0


@pytest.mark.slow
def test_login_flow_and_jason_rule(lab: Lab) -> None:
    base = f"http://{lab.gateway_url}"
    oracle = BookinfoOracle(reviews_pods(lab))
    with applied(lab, "destination-rule-all.yaml", "virtual-service-reviews-jason-v2.yaml"):
        session = requests.Session()
        session.trust_env = False
        answer = log_in(session, base, "jason")
        assert answer.status_code == 302
        assert answer.headers["Location"] == f"{base}/productpage"  # the Referer we sent
        assert "session=" in answer.headers["Set-Cookie"] and "session" in session.cookies
        shown = session.get(f"{base}/productpage", timeout=PATIENCE_S)
        assert "jason" in shown.text and "Sign out" in shown.text
        assert oracle.classify(shown).version == "v2"

        with Sampler(lab.gateway_url, run_id="jason", concurrency=4) as sampler:
            jason = sampler.sample(RequestClass.logged_in("jason"), 20, oracle)
            anonymous = sampler.sample(RequestClass.anonymous(), 20, oracle)
            forged = sampler.sample(RequestClass.with_header("end-user", "jason",
                                                             path="/productpage"), 20, oracle)
            other = sampler.sample(RequestClass.logged_in("alice"), 10, oracle)
        assert sampler.connection_errors == 0
        assert counts_by_version(jason) == {"v2": 20}
        assert counts_by_version(anonymous) == {"v1": 20}
        assert counts_by_version(forged) == {"v1": 20}  # a client's end-user header is ignored
        assert counts_by_version(other) == {"v1": 10}


@pytest.mark.slow
def test_stream_stops_with_the_consumer(lab: Lab) -> None:
    oracle = BookinfoOracle()
    with Sampler(lab.gateway_url, run_id="seq", concurrency=2) as sampler:
        taken = []
        for sample in sampler.stream(RequestClass.anonymous(), oracle, batch=4):
            taken.append(sample)
            if len(taken) == 10:
                break
        time.sleep(0.1)
        assert len(sampler.log) == 12  # three batches of 4, nothing after the consumer stopped
        assert [s.request_id for s in taken] == [f"seq-{i}" for i in range(1, 11)]


@pytest.mark.slow
def test_json_api_alternative(lab: Lab) -> None:
    oracle = BookinfoOracle(reviews_pods(lab))
    with Sampler(lab.gateway_url, run_id="json") as sampler:
        samples = sampler.sample(RequestClass.anonymous("/api/v1/products/0/reviews"), 15, oracle)
    counts = counts_by_version(samples)
    assert set(counts) == {"v1", "v2", "v3"} and sum(counts.values()) == 15
    assert not any(s.problems for s in samples)


@pytest.mark.slow
def test_old_page_style_through_the_lab() -> None:
    old = Lab()
    old.workloads.page_style = "old"
    with old.start() as lab:
        oracle = BookinfoOracle(reviews_pods(lab))
        with Sampler(lab.gateway_url, run_id="old") as sampler:
            samples = sampler.sample(RequestClass.anonymous(), 15, oracle)
        counts = counts_by_version(samples)
        assert set(counts) == {"v1", "v2", "v3"} and sum(counts.values()) == 15
        assert not any(s.problems for s in samples)
        s = requests.Session()
        s.trust_env = False
        seen = {}
        for _ in range(30):
            html = s.get(f"http://{lab.gateway_url}/productpage", timeout=PATIENCE_S).text
            assert "flex gap-x-1" not in html and html.count("Reviews served by:") == 1
            seen[oracle.classify_html(html).version] = star_colors(html)
            if len(seen) == 3:
                break
        assert seen == {"v1": [], "v2": ["black", "black"], "v3": ["red", "red"]}


@pytest.mark.slow
def test_faults_show_as_errors(lab: Lab) -> None:
    oracle = BookinfoOracle(reviews_pods(lab))
    with Sampler(lab.gateway_url, run_id="fault", seed=3) as sampler:
        with faults(lab, productpage_v1=0.5):
            samples = sampler.sample(RequestClass.anonymous(), 40, oracle)
        failed = [s for s in samples if s.status == 503]
        assert 5 <= len(failed) <= 35
        assert all(s.version is None and s.error == "http 503" for s in failed)
        assert summarize(samples)["errors"]["http_5xx"] == len(failed)

        with faults(lab, reviews_v1=1.0, reviews_v2=1.0, reviews_v3=1.0):
            down = sampler.sample(RequestClass.anonymous(), 6, oracle)
        assert all(s.status == 200 and s.error == "error page" and s.version is None
                   for s in down)
        with faults(lab, ratings_v1=1.0):
            ratings = sampler.sample(RequestClass.anonymous(), 12, oracle)
        assert set(counts_by_version(ratings)) == {"v1"}  # v2/v3 pages show the ratings error
        shown = {s.pod[:10] for s in ratings if s.error == "error page" and s.pod}
        assert shown == {"reviews-v2", "reviews-v3"}
        with faults(lab, productpage_v1=1.0):
            login = sampler.sample(RequestClass.logged_in("jason"), 2, oracle)
        assert all(s.status == 503 and s.error.startswith("login") for s in login)  # type: ignore[union-attr]
    evidence = summarize(sampler.log)
    assert evidence["errors"]["login"] == 2
    assert evidence["errors"]["error_page"] == 6 + sum(1 for s in ratings if s.error)


@pytest.mark.slow
def test_anti_gaming_with_the_cluster_pod_list(lab: Lab) -> None:
    pods = reviews_pods(lab)
    assert {v: len(names) for v, names in pods.items()} == {"v1": 1, "v2": 1, "v3": 1}
    fake = BookinfoOracle({v: set() for v in pods})
    with Sampler(lab.gateway_url, run_id="fake") as sampler:
        samples = sampler.sample(RequestClass.anonymous(), 6, fake)
    assert all(s.version is None and "not a running" in s.problems[0] for s in samples)
    real = BookinfoOracle(pods)
    forged = real.classify_html(page("new", "reviews-v2-abcde12345-zzzzz", "black"))
    assert forged.version is None and "not a running reviews v2 pod" in forged.problems[0]
    v3_pod = next(iter(pods["v3"]))
    renamed = real.classify_html(page("new", v3_pod.replace("v3", "v2"), "black"))
    assert renamed.version is None
    assert BookinfoOracle().classify_html(page("new", "reviews-v2-abcde12345-zzzzz",
                                               "black")).version == "v2"  # no list: trusted


@pytest.mark.slow
def test_prometheus_deltas_match_what_was_sent(lab: Lab) -> None:
    query = prometheus_via_api(ApiClient(lab.kubeconfig).get)
    before = prometheus_version_deltas(query, "reviews", None)
    with Sampler(lab.gateway_url, run_id="prom") as sampler:
        samples = sampler.sample(RequestClass.anonymous(), 24, BookinfoOracle())
    deltas = prometheus_version_deltas(query, "reviews", before)
    assert {v: int(n) for v, n in deltas.items() if n} == counts_by_version(samples)


def test_prometheus_deltas_without_reporter_label() -> None:
    asked: list[str] = []

    def fake(promql: str) -> dict:
        asked.append(promql)
        rows = [] if "reporter" in promql else [
            {"metric": {"destination_version": "v1"}, "value": [0, "7"]},
            {"metric": {}, "value": [0, "1"]}]
        return {"status": "success", "data": {"resultType": "vector", "result": rows}}

    assert prometheus_version_deltas(fake, "greeter", {"v1": 2}) == {"v1": 5.0, "unknown": 1.0}
    assert 'destination_service_name="greeter",reporter="destination"' in asked[0]
    assert "reporter" not in asked[1]


# -- Part 2: the generic app -----------------------------------------------------------------

@pytest.mark.slow
def test_generic_app_oracles(app_lab: Lab) -> None:
    header = HeaderOracle("x-meshgrade-version", pod_header="x-meshgrade-pod")
    field = JsonFieldOracle("version", pod_path="pod")
    body = BodyRegexOracle(r'"version": "(v\d+)"')
    canary = RequestClass.with_header("x-canary", "true")
    with Sampler(app_lab.gateway_url, run_id="app") as sampler:
        for oracle in (header, field, body, oracle_from_settings({"json": "version"}),
                       oracle_from_settings({"header": "x-meshgrade-version"}),
                       oracle_from_settings({"regex": r'"app": "greeter", "version": "(v\d)"'})):
            assert counts_by_version(sampler.sample(canary, 8, oracle)) == {"v2": 8}
            assert counts_by_version(
                sampler.sample(RequestClass.without_header(), 8, oracle)) == {"v1": 8}
    pods = {s.pod for s in sampler.log if s.pod}
    assert pods and all(p.startswith("greeter-v") for p in pods)


@pytest.mark.slow
def test_request_id_reaches_the_pod(app_lab: Lab) -> None:
    class Echoed:
        def classify(self, response: requests.Response) -> Classification:
            got = response.json()["headers"].get("x-request-id")
            sent = response.request.headers["x-request-id"]
            return Classification(got if got == sent else None)

    with Sampler(app_lab.gateway_url, run_id="tag") as sampler:
        samples = sampler.sample(RequestClass.without_header(), 10, Echoed())
    assert sorted(s.version for s in samples) == sorted(f"tag-{i}" for i in range(1, 11))


def test_oracle_settings_errors() -> None:
    assert isinstance(oracle_from_settings({"bookinfo": True}), BookinfoOracle)
    for bad in ({}, {"header": "a", "json": "b"}, {"regex": "("}, {"json": ""},
                {"prometheus": "reviews"}):
        with pytest.raises(ValueError):
            oracle_from_settings(bad)


# -- the Bookinfo oracle on hand-written pages ------------------------------------------------

@pytest.mark.parametrize("style", ["new", "old"])
def test_bookinfo_pages(style: str) -> None:
    oracle = BookinfoOracle()
    v1, v2, v3 = "reviews-v1-aaaa1-bbbb1", "reviews-v2-aaaa2-bbbb2", "reviews-v3-aaaa3-bbbb3"
    assert oracle.classify_html(page(style, v1)) == Classification("v1", v1)
    assert oracle.classify_html(page(style, v2, "black")) == Classification("v2", v2)
    assert oracle.classify_html(page(style, v3, "red", stars=0)).version == "v3"
    wrong = oracle.classify_html(page(style, v2, "red"))
    assert wrong.version is None and "stars say v3" in wrong.problems[0]
    liar = oracle.classify_html(page(style, v1, "black"))
    assert liar.version is None and "stars say v2" in liar.problems[0]
    for broken in (page(style, None), page(style, v1, details=False),
                   page(style, v3, rating_error="Ratings service is currently unavailable")):
        found = oracle.classify_html(broken)
        assert found.error_page and found.version is None and found.problems
    assert oracle.classify_html(page(style, v3, rating_error="Ratings service is currently "
                                     "unavailable")).pod == v3
    assert star_colors(page(style, v3, rating_error="x")) == []


def test_bare_text_red_is_not_v3() -> None:
    oracle = BookinfoOracle()
    details_error = page("new", "reviews-v1-aaaa1-bbbb1", details=False)
    assert "text-red-500" in details_error and star_colors(details_error) == []
    html = ("<html><title>Simple Bookstore App</title><p class=\"text-red-500\">Sale!</p>"
            "<div class=\"flex gap-x-1 text-red-500\"></div><blockquote>ok</blockquote>"
            "<p>Reviews served by: <u>reviews-v1-x1-y1</u></p></html>")
    assert oracle.classify_html(html) == Classification("v1", "reviews-v1-x1-y1")
    no_pod = page("new", "reviews-v3-a-b", "red").replace("Reviews served by:", "")
    assert oracle.classify_html(no_pod) == Classification("v3")  # old images: stars decide
    two = page("new", "reviews-v2-a-b", "black").replace("reviews-v2-a-b", "reviews-v3-c-d", 1)
    assert "several reviews pods" in oracle.classify_html(two).problems[0]
    assert oracle.classify_html("<h1>Welcome to nginx</h1>").problems == (
        "not a Bookinfo product page",)


def test_bookinfo_json() -> None:
    oracle = BookinfoOracle({"v1": {"reviews-v1-a-b"}, "v3": {"reviews-v3-a-b"}})
    red = [{"reviewer": "R1", "rating": {"stars": 5, "color": "red"}}]
    assert oracle.classify_json({"podname": "reviews-v3-a-b", "reviews": red}).version == "v3"
    assert oracle.classify_json({"podname": "reviews-v1-a-b", "reviews": [{}]}).version == "v1"
    assert oracle.classify_json({"podname": "reviews-v1-a-b", "reviews": red}).version is None
    assert oracle.classify_json({"podname": "reviews-v3-z-z", "reviews": red}).version is None
    assert oracle.classify_json({"error": "Sorry"}).error_page
    err = oracle.classify_json({"podname": "reviews-v3-a-b",
                                "reviews": [{"rating": {"error": "Ratings service"}}]})
    assert err.error_page and err.pod == "reviews-v3-a-b" and err.version is None


# -- unreachable gateways and flaky connections ------------------------------------------------

def closed_port() -> int:
    """A port nothing listens on (chosen outside the range the kernel hands out)."""
    return free_port()


def test_gateway_down_raises_quickly() -> None:
    t0 = time.perf_counter()
    with Sampler(f"127.0.0.1:{closed_port()}", run_id="down", seed=0) as sampler:
        with pytest.raises(GatewayUnreachable) as raised:
            sampler.sample(RequestClass.anonymous(), 50, BookinfoOracle())
        assert len(raised.value.samples) == 4
        assert sampler.connection_errors >= 4 * 3  # every attempt counted
        with pytest.raises(GatewayUnreachable):
            next(sampler.stream(RequestClass.anonymous(), BookinfoOracle(), batch=2))
    assert time.perf_counter() - t0 < PATIENCE_S


class Flaky(socketserver.ThreadingTCPServer):
    """Drops the first ``drops`` connections without an answer, then answers 200."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.seen = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), FlakyHandler)


class FlakyHandler(socketserver.BaseRequestHandler):
    server: Flaky

    def handle(self) -> None:
        with self.server.lock:
            self.server.seen += 1
            drop = self.server.seen <= self.server.drops
        if drop:
            return  # closed without an answer
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-version: v1\r\n"
                             b"Connection: close\r\n\r\nok")


@contextmanager
def flaky(drops: int) -> Iterator[str]:
    server = Flaky(drops)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


def test_connection_errors_are_retried_and_counted() -> None:
    with flaky(2) as url, Sampler(url, run_id="retry", concurrency=1, retries=2) as sampler:
        (sample,) = sampler.sample(RequestClass.without_header(), 1, HeaderOracle("x-version"))
        assert (sample.status, sample.version, sample.error) == (200, "v1", None)
        assert sampler.connection_errors == 2
    with flaky(10) as url, Sampler(url, run_id="retry", concurrency=2, retries=1) as sampler:
        with pytest.raises(GatewayUnreachable):
            sampler.sample(RequestClass.without_header(), 2, HeaderOracle("x-version"))
        assert sampler.connection_errors == 4
        assert all(s.error.startswith("connection") for s in sampler.log)  # type: ignore[union-attr]


# -- evidence ---------------------------------------------------------------------------------

def test_evidence_summary() -> None:
    def s(i: int, status: int | None, version: str | None, error: str | None = None) -> Sample:
        return Sample(i / 10, "anonymous", status, version, None, float(i), f"r-{i}", error)

    samples = [s(i, 200, "v1") for i in range(1, 15)] + [s(15, 200, "v3"), s(16, 503, None,
               "http 503"), s(17, None, None, "connection: refused"), s(18, 200, None,
               "error page"), s(19, 200, None), s(20, 404, None, "http 404")]
    ev = summarize(samples, expected={"v1": 1.0}, log_cap=5)
    assert ev["counts"] == {"v1": 14, "v3": 1} and ev["requests"] == 20
    assert ev["errors"] == {"http_5xx": 1, "http_4xx": 1, "connection": 1, "timeout": 0,
                            "login": 0, "error_page": 1, "unclassifiable": 1}
    assert ev["error_share"] == 0.25 and ev["expected"] == {"v1": 1.0}
    assert ev["statuses"] == {"200": 17, "404": 1, "503": 1, "None": 1}
    assert ev["counts_by_class"] == {"anonymous": {"error": 5, "v1": 14, "v3": 1}}
    assert ev["latency_ms"] == {"p50": 10.0, "p95": 20.0}  # the refused one has none
    assert len(ev["requests_log"]) == 5 and ev["requests_log_total"] == 20
    assert ev["requests_log"][0] == {"t": 0.1, "cls": "anonymous", "status": 200,
                                     "version": "v1", "latency_ms": 1.0, "request_id": "r-1"}
    assert percentile([], 50) is None and percentile([3.0], 95) == 3.0
