"""A real Envoy, configured by meshgrade.lab.xds, routing to real upstream servers: the
observed behaviour must agree with the routing model."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from meshgrade.lab.envoy import EnvoyError, EnvoyProxy
from meshgrade.lab.ports import free_ports
from meshgrade.lab.xds import Endpoint, EnvoyConfig, build
from meshgrade.routing import Request, RoutingModel
from meshgrade.submission.objects import KObject

from .conftest import PATIENCE_S

ISTIO = "networking.istio.io/v1"
GWAPI = "gateway.networking.k8s.io/v1"
REPO = Path(__file__).resolve().parent.parent


# -- objects ----------------------------------------------------------------------------------

def obj(api: str, kind: str, name: str, spec: dict[str, Any], ns: str = "default",
        labels: dict[str, str] | None = None) -> KObject:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return KObject(raw={"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec})


def service(name: str, selector: dict[str, str], ns: str = "default") -> KObject:
    return obj("v1", "Service", name, {"selector": selector,
                                       "ports": [{"name": "http", "port": 9080}]}, ns)


def deployment(name: str, labels: dict[str, str], ns: str = "default") -> KObject:
    return obj("apps/v1", "Deployment", name, {"selector": {"matchLabels": labels},
                                               "template": {"metadata": {"labels": labels}}}, ns)


def vs(name: str, http: list[dict[str, Any]], hosts: list[str] | None = None,
       gateways: list[str] | None = None) -> KObject:
    spec: dict[str, Any] = {"hosts": hosts or [name], "http": http}
    if gateways:
        spec["gateways"] = gateways
    return obj(ISTIO, "VirtualService", name, spec)


def dr(name: str, versions: list[str]) -> KObject:
    return obj(ISTIO, "DestinationRule", name, {
        "host": name, "subsets": [{"name": v, "labels": {"version": v}} for v in versions]})


def to(subset: str | None = None, host: str = "reviews", weight: int | None = None,
       port: int | None = None) -> dict[str, Any]:
    dest: dict[str, Any] = {"host": host}
    if subset:
        dest["subset"] = subset
    if port:
        dest["port"] = {"number": port}
    return {"destination": dest} if weight is None else {"destination": dest, "weight": weight}


VERSIONS = {"productpage": ["v1"], "details": ["v1"], "ratings": ["v1"],
            "reviews": ["v1", "v2", "v3"]}
INGRESS = {"istio": "ingressgateway", "app": "istio-ingressgateway"}


def bookinfo() -> list[KObject]:
    objs = [service(app, {"app": app}) for app in VERSIONS]
    objs += [deployment(f"{app}-{v}", {"app": app, "version": v})
             for app, versions in VERSIONS.items() for v in versions]
    objs.append(deployment("istio-ingressgateway", INGRESS, "istio-system"))
    objs.append(obj(ISTIO, "Gateway", "bookinfo-gateway", {
        "selector": {"istio": "ingressgateway"},
        "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"},
                     "hosts": ["*"]}]}))
    pp = to(host="productpage", port=9080)
    objs.append(vs("bookinfo", [{"match": [{"uri": {"exact": "/productpage"}},
                                           {"uri": {"prefix": "/static"}},
                                           {"uri": {"exact": "/login"}},
                                           {"uri": {"prefix": "/api/v1/products"}}],
                                 "route": [pp]}], hosts=["*"], gateways=["bookinfo-gateway"]))
    return objs


DRS = [dr("reviews", ["v1", "v2", "v3"]), dr("productpage", ["v1"]), dr("ratings", ["v1"]),
       dr("details", ["v1"])]
JASON = {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [to("v2")]}
V1 = {"route": [to("v1")]}
ALL_V1 = [vs(app, [{"route": [to("v1", host=app)]}]) for app in VERSIONS]


# -- upstreams and Envoy ----------------------------------------------------------------------

class _Pod(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.server.pod_name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


class Lab:
    """One upstream server per Deployment (outside istio-system), an Envoy, a session."""

    def __init__(self, workdir: Path, objects: list[KObject]) -> None:
        self.servers: list[ThreadingHTTPServer] = []
        self.endpoints: list[Endpoint] = []
        for o in objects:
            if o.kind == "Deployment" and o.namespace != "istio-system":
                server = ThreadingHTTPServer(("127.0.0.1", 0), _Pod)
                server.daemon_threads = True
                server.pod_name = f"{o.name}-0"  # type: ignore[attr-defined]
                threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
                self.servers.append(server)
                labels = tuple(sorted(o.spec["template"]["metadata"]["labels"].items()))
                self.endpoints.append(Endpoint(f"{o.name}-0", o.namespace, o.name, labels,
                                               server.server_address[1]))
        self.gateway_port, self.mesh_port = free_ports(2)
        self.envoy = EnvoyProxy(workdir)
        self.session = requests.Session()
        self.session.trust_env = False

    def config(self, objects: list[KObject]) -> EnvoyConfig:
        return build(objects, self.endpoints, gateway_port=self.gateway_port,
                     mesh_port=self.mesh_port, ingress_labels=INGRESS)

    def get(self, where: str, host: str, path: str = "/", method: str = "GET",
            headers: dict[str, str] | None = None) -> requests.Response:
        port = self.gateway_port if where == "gateway" else self.mesh_port
        return self.session.request(method, f"http://127.0.0.1:{port}{path}",
                                    headers={"Host": host, **(headers or {})},
                                    allow_redirects=False, timeout=PATIENCE_S)

    def who(self, *args: Any, **kw: Any) -> str:
        """The workload that answered (pod name minus ``-0``), else the status code."""
        r = self.get(*args, **kw)
        return r.text.removesuffix("-0") if r.status_code == 200 else str(r.status_code)

    def stop(self) -> None:
        self.session.close()
        self.envoy.stop()
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    objects = bookinfo()
    lab = Lab(tmp_path / "envoy", objects)
    try:
        lab.envoy.start(lab.config(objects + DRS))
        yield lab
    finally:
        lab.stop()


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan may wait for its reaper)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# -- behaviour --------------------------------------------------------------------------------

@pytest.mark.slow
def test_gateway_and_mesh_routes(lab: Lab) -> None:
    assert lab.who("gateway", "bookinfo.example", "/productpage") == "productpage-v1"
    assert lab.who("gateway", "anything:80", "/static/img.png") == "productpage-v1"
    assert lab.who("gateway", "bookinfo.example", "/") == "404"
    response = lab.get("gateway", "x", "/login")
    assert response.headers["x-meshgrade-route"] == (
        "VirtualService default/bookinfo spec.http[0].match[2]")
    for host in ("ratings", "ratings:9080", "ratings.default", "ratings.default.svc",
                 "ratings.default.svc.cluster.local", "ratings.default.svc.cluster.local:9080"):
        assert lab.who("mesh", host) == "ratings-v1", host
    assert lab.who("mesh", "nosuch") == "503"
    # no VirtualService: round robin over the three reviews pods
    assert Counter(lab.who("mesh", "reviews") for _ in range(30)) == {
        "reviews-v1": 10, "reviews-v2": 10, "reviews-v3": 10}


@pytest.mark.slow
def test_apply_takes_effect_on_the_same_envoy(lab: Lab) -> None:
    objects = bookinfo() + DRS
    pid, started = lab.envoy.pid, lab.envoy.version
    lab.envoy.apply(lab.config(objects + [vs("reviews", [JASON, V1])]))
    assert lab.envoy.last_apply_s is not None and lab.envoy.last_apply_s > 0
    # the session's keep-alive connection must not keep the old routes
    assert {lab.who("mesh", "reviews") for _ in range(10)} == {"reviews-v1"}
    assert lab.who("mesh", "reviews", headers={"end-user": "jason"}) == "reviews-v2"
    lab.envoy.apply(lab.config(objects + [vs("reviews", [{"route": [to("v3")]}])]))
    assert {lab.who("mesh", "reviews", headers={"end-user": "jason"})
            for _ in range(10)} == {"reviews-v3"}
    assert lab.envoy.pid == pid and lab.envoy.version not in (None, started)
    lab.envoy.apply(lab.config(objects))  # an unchanged config still gets a new version
    assert lab.envoy.pid == pid


@pytest.mark.slow
def test_errors_404_and_503(lab: Lab) -> None:
    objects = bookinfo() + DRS
    lab.envoy.apply(lab.config(objects + [
        vs("reviews", [{"route": [to("v4")]}]),
        vs("ratings", [{"match": [{"uri": {"prefix": "/api"}}], "route": [to("v1", "ratings")]}]),
        dr("details", ["v1", "v9"]), vs("details", [{"route": [to("v9", "details")]}])]))
    assert lab.who("mesh", "reviews") == "503"  # undefined subset
    assert lab.who("mesh", "ratings", "/api/x") == "ratings-v1"
    assert lab.who("mesh", "ratings", "/other") == "404"  # no rule matched
    assert lab.who("mesh", "details") == "503"  # subset without pods


# -- parity with the routing model ------------------------------------------------------------

def _gwapi() -> list[KObject]:
    versions = [service(f"reviews-{v}", {"app": "reviews", "version": v})
                for v in ("v1", "v2", "v3")]
    gateway = obj(GWAPI, "Gateway", "bookinfo-gw", {
        "gatewayClassName": "istio", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP",
             "allowedRoutes": {"namespaces": {"from": "Same"}}}]})
    ingress = obj(GWAPI, "HTTPRoute", "bookinfo", {
        "parentRefs": [{"name": "bookinfo-gw"}], "hostnames": ["gwapi.example"],
        "rules": [{"matches": [{"path": {"type": "Exact", "value": "/productpage"}},
                               {"path": {"type": "PathPrefix", "value": "/static/"}}],
                   "backendRefs": [{"name": "productpage", "port": 9080}]}]})
    mesh = obj(GWAPI, "HTTPRoute", "reviews", {
        "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
        "rules": [{"matches": [{"headers": [{"name": "end-user", "value": "jason"}]}],
                   "backendRefs": [{"name": "reviews-v2", "port": 9080}]},
                  {"backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 1},
                                   {"name": "reviews-v3", "port": 9080, "weight": 3}]}]})
    return [*versions, gateway, ingress, mesh]


def _rule(match: dict[str, Any], subset: str = "v2") -> dict[str, Any]:
    return {"match": [match], "route": [to(subset)]}


def _reviews_port(port: dict[str, Any], tcp_to: str | None = None) -> list[KObject]:
    """Service reviews with this one port, and jason's header route (and a TCP route)."""
    svc = obj("v1", "Service", "reviews", {"selector": {"app": "reviews"}, "ports": [port]})
    route = vs("reviews", [JASON, V1])
    if tcp_to:
        route.raw["spec"]["tcp"] = [{"route": [to(tcp_to)]}]
    return [svc, route]


JASON_HDR = {"end-user": "jason"}
M, G = "mesh", "gateway"
JASON_OR_NOT = [(M, "reviews", "/", "GET", JASON_HDR), (M, "reviews", "/", "GET", {})]
PARITY: list[tuple[str, list[KObject], list[tuple[str, str, str, str, dict[str, str]]]]] = [
    ("defaults", [], [(M, "reviews", "/", "GET", {}), (M, "details:9080", "/", "GET", {}),
                      (G, "h", "/productpage", "GET", {}), (G, "h", "/nope", "GET", {}),
                      (G, "h", "/static", "GET", {})]),
    ("all v1", ALL_V1, [(M, "reviews", "/", "GET", {}), (M, "ratings", "/", "GET", {})]),
    ("jason", [vs("reviews", [JASON, V1])],
     [(M, "reviews", "/", "GET", JASON_HDR), (M, "reviews", "/", "GET", {}),
      (M, "reviews", "/", "GET", {"end-user": "Jason"})]),
    # Istio's protocol selection: a port that names no protocol is detected (HTTP routes
    # apply to HTTP requests), one named for TCP takes the tcp routes, else the Service's pods
    ("unnamed port", _reviews_port({"port": 9080}, "v3"), JASON_OR_NOT),
    ("port named web", _reviews_port({"name": "web", "port": 9080}), JASON_OR_NOT),
    ("port named tcp", _reviews_port({"name": "tcp-reviews", "port": 9080}), JASON_OR_NOT),
    ("tcp port, tcp route", _reviews_port({"name": "tcp", "port": 9080}, "v3"), JASON_OR_NOT),
    ("https port", _reviews_port({"name": "https", "port": 9080}, "v3"), JASON_OR_NOT),
    ("50/50", [vs("reviews", [{"route": [to("v1", weight=50), to("v3", weight=50)]}])],
     [(M, "reviews", "/", "GET", {})]),
    ("half undefined", [vs("reviews", [{"route": [to("v1", weight=50), to("v4", weight=50)]}])],
     [(M, "reviews", "/", "GET", {})]),
    ("weights total 0", [vs("reviews", [{"route": [to("v1", weight=0), to("v2", weight=0)]}])],
     [(M, "reviews", "/", "GET", {})]),
    ("unknown host and port", [vs("reviews", [
        {"match": [{"uri": {"prefix": "/a"}}], "route": [to(host="nope")]},
        {"route": [to("v1", port=8080)]}])],
     [(M, "reviews", "/a", "GET", {}), (M, "reviews", "/b", "GET", {})]),
    ("matchers", [vs("reviews", [
        _rule({"headers": {"end-user": {"regex": "jas.*"}}, "method": {"exact": "POST"}}),
        _rule({"withoutHeaders": {"end-user": {"exact": "jason"}}}, "v3"),
        _rule({"uri": {"exact": "/API"}, "ignoreUriCase": True}),
        _rule({"queryParams": {"u": {"exact": "j"}}}, "v3"),
        _rule({"headers": {"x-beta": {}}, "uri": {"regex": "/b[0-9]+"}}),
        {"match": [{"uri": {"exact": "/redirect"}}],
         "redirect": {"uri": "/x", "redirectCode": 302}},
        {"match": [{"uri": {"exact": "/teapot"}}], "directResponse": {"status": 418}},
        {"match": [{"uri": {"prefix": "/v1"}}, {"headers": {"end-user": {"prefix": "ja"}}}],
         "route": [to("v1")]}])],
     [(M, "reviews", "/", "POST", JASON_HDR), (M, "reviews", "/", "GET", JASON_HDR),
      (M, "reviews", "/", "GET", {"end-user": "bob"}), (M, "reviews", "/api", "GET", {}),
      (M, "reviews", "/x?a=1&u=j", "GET", {}), (M, "reviews", "/b12", "GET", {"x-beta": "1"}),
      (M, "reviews", "/b12", "GET", {}), (M, "reviews", "/redirect", "GET", {}),
      (M, "reviews", "/teapot", "GET", {}), (M, "reviews", "/v1/z", "GET", {}),
      (M, "reviews", "/none", "GET", {})]),
    ("delegate and fault", [
        vs("reviews", [{"match": [{"uri": {"prefix": "/api"}}], "delegate": {"name": "child"}},
                       {"fault": {"abort": {"httpStatus": 500, "percentage": {"value": 50}}},
                        "route": [to("v1")]}]),
        obj(ISTIO, "VirtualService", "child", {"http": [
            {"match": [{"uri": {"prefix": "/api/x"}}], "route": [to("v3")]}]})],
     [(M, "reviews", "/api/x/1", "GET", {}), (M, "reviews", "/api/y", "GET", {})]),
    ("gateway api", _gwapi(),
     [(G, "gwapi.example", "/productpage", "GET", {}), (G, "gwapi.example", "/static/a", "GET", {}),
      (G, "gwapi.example", "/staticx", "GET", {}), (G, "other.example", "/productpage", "GET", {}),
      (M, "reviews", "/", "GET", JASON_HDR), (M, "reviews", "/", "GET", {})]),
]


def _model_shares(model: RoutingModel, where: str, host: str, path: str, method: str,
                  headers: dict[str, str]) -> dict[str, float]:
    request = Request.make(host, path, method, headers)
    outcome = model.via_gateway(request) if where == G else model.from_mesh(request, "default")
    return {k: v for k, v in outcome.workloads().items() if v > 1e-9}


@pytest.mark.parametrize("name,extra,requests_", PARITY, ids=[p[0] for p in PARITY])
@pytest.mark.slow
def test_parity_with_routing_model(lab: Lab, name: str, extra: list[KObject],
                                   requests_: list[tuple[str, str, str, str, dict[str, str]]]
                                   ) -> None:
    objects = bookinfo() + DRS + extra
    if name == "gateway api":  # the classic VirtualService on "*" would take every host
        objects = [o for o in objects if o.name != "bookinfo"]
    lab.envoy.apply(lab.config(objects))
    model = RoutingModel(objects, ingress_labels=INGRESS)
    for where, host, path, method, headers in requests_:
        want = _model_shares(model, where, host, path, method, headers)
        n = 6 if max(want.values()) == 1 else 240
        seen = Counter(lab.who(where, host, path, method, headers) for _ in range(n))
        got = {k: v / n for k, v in seen.items()}
        context = (name, where, host, path, headers, got, want)
        assert set(got) == set(want), context
        for key, share in want.items():  # binomial sd <= 0.033 at n=240: 0.12 is > 3.6 sd
            assert abs(got[key] - share) <= (0 if share == 1 else 0.12), context


def test_config_names_clusters_as_istio_does() -> None:
    objects = bookinfo() + DRS + [vs("reviews", [{"route": [to("v1", weight=1),
                                                            to("v9", weight=1)]}])]
    pods = [Endpoint("reviews-v1-0", "default", "reviews-v1",
                     (("app", "reviews"), ("version", "v1")), 1111),
            Endpoint("reviews-v2-0", "default", "reviews-v2",
                     (("app", "reviews"), ("version", "v2")), 2222)]
    config = build(objects, pods, gateway_port=1, mesh_port=2)
    clusters = {c["name"]: c for c in config.clusters}
    ports = {name: [e["endpoint"]["address"]["socket_address"]["port_value"]
                    for e in c["load_assignment"]["endpoints"][0]["lb_endpoints"]]
             for name, c in clusters.items()}
    fqdn = "reviews.default.svc.cluster.local"
    assert ports[f"outbound|9080||{fqdn}"] == [1111, 2222]
    assert ports[f"outbound|9080|v1|{fqdn}"] == [1111]
    assert ports[f"outbound|9080|v3|{fqdn}"] == []  # no pod: Envoy answers 503
    assert all(c["type"] == "STATIC" and c["lb_policy"] == "ROUND_ROBIN"
               for c in clusters.values())
    mesh = config.listeners[1]["filter_chains"][0]["filters"][0]["typed_config"]
    vhost = next(v for v in mesh["route_config"]["virtual_hosts"]
                 if v["name"] == f"{fqdn}:9080")
    assert {"reviews", "reviews:9080", "reviews.default.svc", f"{fqdn}:9080"} <= set(
        vhost["domains"])
    (route,) = vhost["routes"]
    weighted = route["route"]["weighted_clusters"]["clusters"]
    assert [w["name"] for w in weighted][0] == f"outbound|9080|v1|{fqdn}"
    assert weighted[1]["name"] not in clusters  # undefined subset: cluster_not_found -> 503
    assert route["route"]["cluster_not_found_response_code"] == "SERVICE_UNAVAILABLE"
    assert config.version == build(objects, pods, gateway_port=1, mesh_port=2).version


# -- process management -----------------------------------------------------------------------

@pytest.mark.slow
def test_rejected_config_raises_and_keeps_the_old_one(lab: Lab) -> None:
    good = lab.config(bookinfo() + DRS)
    bad = lab.config(bookinfo() + DRS)
    vhosts = bad.listeners[1]["filter_chains"][0]["filters"][0]["typed_config"][
        "route_config"]["virtual_hosts"]
    vhosts.append(dict(vhosts[0]))  # duplicate virtual host: Envoy rejects the listener
    with pytest.raises(EnvoyError, match="rejected"):
        lab.envoy.apply(bad)
    assert lab.who("mesh", "ratings") == "ratings-v1"
    lab.envoy.apply(good)
    assert lab.envoy.version == good.version


@pytest.mark.slow
def test_startup_error_names_the_cause(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        config = build(bookinfo(), [], gateway_port=taken.getsockname()[1],
                       mesh_port=free_ports(1)[0])
        envoy = EnvoyProxy(tmp_path)
        with pytest.raises(EnvoyError) as err:
            envoy.start(config, timeout=PATIENCE_S)
        assert "rejected" in str(err.value) and "ingress" in str(err.value)
        assert envoy.pid is not None and not _alive(envoy.pid)
    finally:
        taken.close()


@pytest.mark.slow
def test_two_envoys_at_once_and_stop(tmp_path: Path) -> None:
    objects = bookinfo()
    first, second = Lab(tmp_path / "a", objects), Lab(tmp_path / "b", objects)
    try:
        first.envoy.start(first.config(objects))
        second.envoy.start(second.config(objects + DRS + ALL_V1))
        assert first.envoy.pid != second.envoy.pid
        assert first.envoy.start_s is not None and first.envoy.start_s > 0
        assert len({first.who("mesh", "reviews") for _ in range(6)}) == 3
        assert {second.who("mesh", "reviews") for _ in range(6)} == {"reviews-v1"}
    finally:
        first.stop()
        second.stop()
    for envoy in (first.envoy, second.envoy):
        assert envoy.pid is not None and not _alive(envoy.pid) and not envoy.running


@pytest.mark.slow
def test_envoy_dies_with_its_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from meshgrade.lab.envoy import EnvoyProxy
        from meshgrade.lab.xds import build
        envoy = EnvoyProxy(Path({str(tmp_path)!r}))
        envoy.start(build([], [], gateway_port={free_ports(1)[0]}, mesh_port={free_ports(1)[0]}))
        print(envoy.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              cwd=REPO, text=True)
    pid = 0
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + PATIENCE_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
