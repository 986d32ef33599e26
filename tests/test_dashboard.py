"""``meshgrade lab dashboard`` (issue 13): the live mesh graph of the lab's telemetry."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

import pytest
import requests

from meshgrade.cli.main import main
from meshgrade.lab import state
from meshgrade.lab.dashboard import CSP, GATEWAY, SCRIPT, Dashboard, DashboardServer
from meshgrade.lab.workloads import Request, Telemetry

from .conftest import EXAMPLES, PATIENCE_S


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _traffic(t: Telemetry, n: int = 10, errors: int = 0) -> None:
    for _ in range(n):
        t.record("productpage", "productpage-v1", "v1", None, 200)
        t.record("reviews", "reviews-v1", "v1", "productpage-v1", 200)
    for i in range(n):
        t.record("reviews", "reviews-v3", "v3", "productpage-v1", 503 if i < errors else 200)


def test_rates_and_shares_over_the_window() -> None:
    t, clock = Telemetry(), Clock()
    _traffic(t, 5)  # before the dashboard: a total, not a rate
    dash = Dashboard(t, window_s=10, clock=clock)
    clock.now += 2
    _traffic(t, 10, errors=4)
    hops = {(h.caller, h.service): h for h in dash.hops()}
    entry = hops[(GATEWAY, "productpage")]
    assert entry.rps == pytest.approx(5.0) and entry.total == 15
    reviews = {e.label: e for e in hops[("productpage-v1", "reviews")].edges}
    assert reviews["v1"].share == pytest.approx(0.5) and reviews["v3"].rps == pytest.approx(5.0)
    assert reviews["v3"].error_share == pytest.approx(0.4) and reviews["v1"].error_share == 0
    assert [h.service for h in dash.hops()] == ["productpage", "reviews"]  # gateway first
    clock.now += 30  # no traffic in the window: nothing per second, totals stay
    idle = {(h.caller, h.service): h for h in dash.hops()}
    assert idle[(GATEWAY, "productpage")].rps == 0 and idle[(GATEWAY, "productpage")].total == 15


def test_errors_are_red_in_the_picture_and_the_table() -> None:
    t, clock = Telemetry(), Clock()
    dash = Dashboard(t, clock=clock)
    clock.now += 1
    _traffic(t, 10, errors=3)
    data = dash.graph()
    assert 'class="box target error"' in data["svg"] and "errors 30%" in data["svg"]
    assert '<tr class="bad">' in data["table"]
    assert data["hops"][1]["edges"][1] == {"label": "v3", "workload": "reviews-v3",
                                           "rps": 10.0, "share": 0.5, "error_share": 0.3,
                                           "total": 10}


def _get(dash: Dashboard, path: str, host: str = "127.0.0.1:9") -> tuple[int, str, dict]:
    response = dash(Request("GET", path, "", {"host": host}))
    return response.status, response.body.decode(), dict(response.headers)


def test_page_answers_loopback_only_with_a_strict_policy() -> None:
    dash = Dashboard(Telemetry())
    status, page, headers = _get(dash, "/")
    assert status == 200 and "No requests yet" in page
    assert headers["Content-Security-Policy"] == CSP
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert script and script.group(1) == SCRIPT  # the policy's hash is this script's
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in CSP and "connect-src 'self'" in CSP
    assert _get(dash, "/", host="evil.example:80")[0] == 421  # DNS rebinding
    assert _get(dash, "/api/graph", host="localhost:9")[0] == 200
    assert dash(Request("POST", "/api/graph", "", {"host": "127.0.0.1"})).status == 405


def test_workload_names_are_escaped() -> None:
    t, clock = Telemetry(), Clock()
    dash = Dashboard(t, clock=clock)
    t.record("<img src=x>", "<script>x</script>", "v1", None, 200)
    data = dash.graph()
    assert "<script>x" not in data["svg"] + data["table"] and "&lt;img src=x&gt;" in data["table"]


@pytest.mark.slow
def test_lab_serves_the_dashboard_of_its_own_traffic() -> None:
    from meshgrade.lab.lab import Lab

    with Lab().start([EXAMPLES / "part1-bookinfo" / "destination-rule-all.yaml"]) as lab:
        url = lab.start_dashboard()
        assert url.startswith("http://127.0.0.1:") and lab.status()["dashboard_url"] == url
        with requests.Session() as s:
            for _ in range(5):
                assert s.get(f"http://{lab.gateway_url}/productpage",
                             timeout=PATIENCE_S).status_code == 200
            data = s.get(url + "api/graph", timeout=PATIENCE_S).json()
        services = {(h["caller"], h["service"]) for h in data["hops"]}
        assert {(GATEWAY, "productpage"), ("productpage-v1", "reviews"),
                ("productpage-v1", "details")} <= services
        assert sum(e["total"] for h in data["hops"] if h["service"] == "productpage"
                   for e in h["edges"]) == 5
    with pytest.raises(requests.ConnectionError):  # stopped with the lab
        requests.get(url, timeout=PATIENCE_S)


def test_lab_status_and_dashboard_print_the_url(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    server = DashboardServer(Telemetry())
    try:
        state.write(tmp_path, {"ready": True, "pid": os.getpid(), "gateway_url": "x",
                               "dashboard_url": server.url, "objects": {}})
        assert main(["lab", "status", "--state", str(tmp_path)]) == 0
        assert f"dashboard_url: {server.url}" in capsys.readouterr().out
        assert main(["lab", "dashboard", "--state", str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == server.url
        assert requests.get(server.url, timeout=PATIENCE_S).status_code == 200
    finally:
        server.stop()
    assert main(["lab", "dashboard", "--state", str(tmp_path / "none")]) == 3
