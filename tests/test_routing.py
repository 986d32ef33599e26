"""Tests of the routing model (meshgrade.routing) on a Bookinfo-like cluster state."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshgrade.routing import Outcome, Request, RoutingModel, Target
from meshgrade.submission.objects import KObject, selects

ISTIO = "networking.istio.io/v1"
GWAPI = "gateway.networking.k8s.io/v1"


def obj(d: dict[str, Any]) -> KObject:
    return KObject(raw=d, file="x.yaml")


def service(name: str, selector: dict[str, str], ns: str = "default",
            ports: list[dict[str, Any]] | None = None) -> KObject:
    ports = ports if ports is not None else [{"name": "http", "port": 9080}]
    return obj({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"selector": selector, "ports": ports}})


def deployment(name: str, labels: dict[str, str], ns: str = "default",
               replicas: int | None = None) -> KObject:
    spec: dict[str, Any] = {"selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return obj({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns}, "spec": spec})


def istio(kind: str, name: str, spec: dict[str, Any], ns: str = "default") -> KObject:
    return obj({"apiVersion": ISTIO, "kind": kind,
                "metadata": {"name": name, "namespace": ns}, "spec": spec})


def vs(name: str, http: list[dict[str, Any]], hosts: list[str] | None = None,
       gateways: list[str] | None = None, ns: str = "default") -> KObject:
    spec: dict[str, Any] = {"hosts": hosts or [name], "http": http}
    if gateways is not None:
        spec["gateways"] = gateways
    return istio("VirtualService", name, spec, ns)


def dr(name: str, versions: list[str], host: str | None = None, ns: str = "default") -> KObject:
    subsets = [{"name": v, "labels": {"version": v}} for v in versions]
    return istio("DestinationRule", name, {"host": host or name, "subsets": subsets}, ns)


def to(subset: str | None = None, host: str = "reviews", weight: int | None = None,
       port: int | None = None) -> dict[str, Any]:
    dest: dict[str, Any] = {"host": host}
    if subset is not None:
        dest["subset"] = subset
    if port is not None:
        dest["port"] = {"number": port}
    out: dict[str, Any] = {"destination": dest}
    if weight is not None:
        out["weight"] = weight
    return out


INGRESS_LABELS = {"istio": "ingressgateway", "app": "istio-ingressgateway"}


def bookinfo(reviews_ports: list[dict[str, Any]] | None = None) -> list[KObject]:
    objs = [service(n, {"app": n}, ports=reviews_ports if n == "reviews" else None)
            for n in ("productpage", "reviews", "ratings", "details")]
    for app, versions in (("productpage", ["v1"]), ("details", ["v1"]), ("ratings", ["v1"]),
                          ("reviews", ["v1", "v2", "v3"])):
        objs += [deployment(f"{app}-{v}", {"app": app, "version": v}) for v in versions]
    objs.append(deployment("istio-ingressgateway", INGRESS_LABELS, ns="istio-system"))
    objs.append(service("istio-ingressgateway", INGRESS_LABELS, ns="istio-system", ports=[
        {"name": "status-port", "port": 15021, "targetPort": 15021},
        {"name": "http2", "port": 80, "targetPort": 8080, "nodePort": 31380}]))
    return objs


ALL_DRS = [dr("reviews", ["v1", "v2", "v3"]), dr("productpage", ["v1"]),
           dr("ratings", ["v1"]), dr("details", ["v1"])]
JASON = {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [to("v2")]}


def mesh(extra: list[KObject], request: Request, **kw: Any) -> Outcome:
    return RoutingModel(bookinfo() + extra, **kw).from_mesh(request)


def approx(got: dict[str, float], want: dict[str, float]) -> None:
    got = {k: v for k, v in got.items() if v > 1e-12}
    assert set(got) == set(want), (got, want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), (key, got)


THIRD = 1 / 3
R = Request.make

MESH_CASES = [
    ("no VirtualService: round robin", [], R("reviews"), {"v1": THIRD, "v2": THIRD, "v3": THIRD}),
    ("all v1", [vs("reviews", [{"route": [to("v1")]}])], R("reviews"), {"v1": 1}),
    ("jason -> v2", [vs("reviews", [JASON, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("header names are case-insensitive", [vs("reviews", [JASON, {"route": [to("v1")]}])],
     R("reviews", headers={"End-User": "jason"}), {"v2": 1}),
    ("header values are case-sensitive", [vs("reviews", [JASON, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "Jason"}), {"v1": 1}),
    ("anonymous -> v1", [vs("reviews", [JASON, {"route": [to("v1")]}])], R("reviews"),
     {"v1": 1}),
    ("50/50 v1/v3", [vs("reviews", [{"route": [to("v1", weight=50), to("v3", weight=50)]}])],
     R("reviews"), {"v1": 0.5, "v3": 0.5}),
    ("80/20 v1/v2", [vs("reviews", [{"route": [to("v1", weight=80), to("v2", weight=20)]}])],
     R("reviews"), {"v1": 0.8, "v2": 0.2}),
    ("weights 1 and 3", [vs("reviews", [{"route": [to("v1", weight=1), to("v3", weight=3)]}])],
     R("reviews"), {"v1": 0.25, "v3": 0.75}),
    ("weight 0 gets nothing",
     [vs("reviews", [{"route": [to("v1", weight=0), to("v3", weight=100)]}])],
     R("reviews"), {"v3": 1}),
    ("missing weight next to a weighted one is 0",
     [vs("reviews", [{"route": [to("v1"), to("v2", weight=10)]}])], R("reviews"), {"v2": 1}),
    ("single destination ignores its weight", [vs("reviews", [{"route": [to("v2", weight=0)]}])],
     R("reviews"), {"v2": 1}),
    ("total weight 0 is invalid",
     [vs("reviews", [{"route": [to("v1", weight=0), to("v2", weight=0)]}])], R("reviews"),
     {"500": 1}),
    ("undefined subset", [vs("reviews", [{"route": [to("v4")]}])], R("reviews"), {"503": 1}),
    ("half to an undefined subset",
     [vs("reviews", [{"route": [to("v1", weight=50), to("v4", weight=50)]}])], R("reviews"),
     {"v1": 0.5, "503": 0.5}),
    ("subset selecting no pods",
     [dr("reviews", ["v1", "v4"]), vs("reviews", [{"route": [to("v4")]}])], R("reviews"),
     {"503": 1}),
    ("destination host not found", [vs("reviews", [{"route": [to(host="nope")]}])],
     R("reviews"), {"503": 1}),
    ("destination to another service", [vs("reviews", [{"route": [to(host="ratings")]}])],
     R("reviews"), {"v1": 1}),
    ("destination port not on the Service", [vs("reviews", [{"route": [to("v1", port=80)]}])],
     R("reviews"), {"503": 1}),
    ("regex is a full match: 'jas' does not match jason",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"regex": "jas"}}}],
                      "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v1": 1}),
    ("regex '^jas' does not match jason",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"regex": "^jas"}}}],
                      "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v1": 1}),
    ("regex 'jas.*' matches jason",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"regex": "jas.*"}}}],
                      "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("invalid RE2 never matches",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"regex": "(?<=j)ason"}}}],
                      "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v1": 1}),
    ("header prefix", [vs("reviews", [{"match": [{"headers": {"end-user": {"prefix": "ja"}}}],
                                       "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("header presence {}", [vs("reviews", [{"match": [{"headers": {"end-user": {}}}],
                                            "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "anyone"}), {"v2": 1}),
    ("withoutHeaders value form needs the header present",
     [vs("reviews", [{"match": [{"withoutHeaders": {"end-user": {"exact": "jason"}}}],
                      "route": [to("v3")]}, {"route": [to("v1")]}])],
     R("reviews"), {"v1": 1}),
    ("withoutHeaders value form, other value",
     [vs("reviews", [{"match": [{"withoutHeaders": {"end-user": {"exact": "jason"}}}],
                      "route": [to("v3")]}, {"route": [to("v1")]}])],
     R("reviews", headers={"end-user": "bob"}), {"v3": 1}),
    ("withoutHeaders presence form means absent",
     [vs("reviews", [{"match": [{"withoutHeaders": {"end-user": {"regex": "*"}}}],
                      "route": [to("v3")]}, {"route": [to("v1")]}])],
     R("reviews"), {"v3": 1}),
    ("uri prefix", [vs("reviews", [{"match": [{"uri": {"prefix": "/api"}}], "route": [to("v2")]},
                                   {"route": [to("v1")]}])], R("reviews", "/api/v1"), {"v2": 1}),
    ("uri exact does not match a longer path",
     [vs("reviews", [{"match": [{"uri": {"exact": "/api"}}], "route": [to("v2")]},
                     {"route": [to("v1")]}])], R("reviews", "/api/v1"), {"v1": 1}),
    ("uri exact ignores the query string",
     [vs("reviews", [{"match": [{"uri": {"exact": "/api"}}], "route": [to("v2")]},
                     {"route": [to("v1")]}])], R("reviews", "/api?x=1"), {"v2": 1}),
    ("ignoreUriCase", [vs("reviews", [{"match": [{"uri": {"exact": "/API"}, "ignoreUriCase": True}],
                                       "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", "/api"), {"v2": 1}),
    ("queryParams exact", [vs("reviews", [{"match": [{"queryParams": {"u": {"exact": "j"}}}],
                                           "route": [to("v2")]}, {"route": [to("v1")]}])],
     R("reviews", "/x?a=1&u=j"), {"v2": 1}),
    ("method", [vs("reviews", [{"match": [{"method": {"exact": "POST"}}], "route": [to("v2")]},
                               {"route": [to("v1")]}])], R("reviews", method="POST"), {"v2": 1}),
    ("OR across match entries",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"exact": "jason"}}},
                                {"uri": {"prefix": "/beta"}}], "route": [to("v2")]},
                     {"route": [to("v1")]}])], R("reviews", "/beta/x"), {"v2": 1}),
    ("AND within a match entry",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"exact": "jason"}},
                                 "uri": {"prefix": "/beta"}}], "route": [to("v2")]},
                     {"route": [to("v1")]}])], R("reviews", "/beta/x"), {"v1": 1}),
    ("AND within a match entry, both hold",
     [vs("reviews", [{"match": [{"headers": {"end-user": {"exact": "jason"}},
                                 "uri": {"prefix": "/beta"}}], "route": [to("v2")]},
                     {"route": [to("v1")]}])],
     R("reviews", "/beta/x", headers={"end-user": "jason"}), {"v2": 1}),
    ("a rule without match shadows later rules",
     [vs("reviews", [{"route": [to("v1")]}, JASON])],
     R("reviews", headers={"end-user": "jason"}), {"v1": 1}),
    ("no rule matched is a 404", [vs("reviews", [JASON])], R("reviews"), {"404": 1}),
    ("per-match gateways exclude the mesh",
     [vs("reviews", [{"match": [{"gateways": ["bookinfo-gateway"]}], "route": [to("v2")]},
                     {"route": [to("v1")]}], gateways=["mesh", "bookinfo-gateway"])],
     R("reviews"), {"v1": 1}),
    ("per-match port", [vs("reviews", [{"match": [{"port": 9080}], "route": [to("v3")]}])],
     R("reviews"), {"v3": 1}),
    ("gateway-only VirtualService does not apply in the mesh",
     [vs("reviews", [{"route": [to("v1")]}], gateways=["bookinfo-gateway"])], R("reviews"),
     {"v1": THIRD, "v2": THIRD, "v3": THIRD}),
    ("fault abort 50%",
     [vs("reviews", [{"fault": {"abort": {"httpStatus": 500, "percentage": {"value": 50}}},
                      "route": [to("v1")]}])], R("reviews"), {"500": 0.5, "v1": 0.5}),
    ("redirect", [vs("reviews", [{"redirect": {"uri": "/x"}}])], R("reviews"), {"301": 1}),
    ("directResponse", [vs("reviews", [{"directResponse": {"status": 418}}])], R("reviews"),
     {"418": 1}),
    ("delegate", [vs("reviews", [{"match": [{"uri": {"prefix": "/"}}],
                                  "delegate": {"name": "reviews-child"}}]),
                  istio("VirtualService", "reviews-child", {"http": [JASON]})],
     R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("delegate without a matching rule falls through",
     [vs("reviews", [{"delegate": {"name": "reviews-child"}}, {"route": [to("v3")]}]),
      istio("VirtualService", "reviews-child", {"http": [JASON]})], R("reviews"), {"v3": 1}),
    ("missing delegate skips the rule",
     [vs("reviews", [{"delegate": {"name": "gone"}}, {"route": [to("v3")]}])], R("reviews"),
     {"v3": 1}),
    ("zero replicas: no endpoints", [deployment("reviews-v2", {"app": "reviews", "version": "v2"},
                                                replicas=0),
                                     vs("reviews", [{"route": [to("v2")]}])], R("reviews"),
     {"503": 1}),
    ("replicas weigh the spread", [deployment("reviews-v1", {"app": "reviews", "version": "v1"},
                                              replicas=2)],
     R("reviews"), {"v1": 0.5, "v2": 0.25, "v3": 0.25}),
    ("later duplicate object wins",
     [vs("reviews", [{"route": [to("v1")]}]), vs("reviews", [{"route": [to("v3")]}])],
     R("reviews"), {"v3": 1}),
    ("unknown host", [], R("nope"), {"503": 1}),
]


@pytest.mark.parametrize(("extra", "request_", "want"),
                         [c[1:] for c in MESH_CASES], ids=[c[0] for c in MESH_CASES])
def test_mesh_routing(extra: list[KObject], request_: Request, want: dict[str, float]) -> None:
    approx(mesh(ALL_DRS + extra, request_).versions(), want)


@pytest.mark.parametrize("host", ["reviews", "reviews.default", "reviews.default.svc",
                                  "reviews.default.svc.cluster.local", "reviews:9080",
                                  "REVIEWS.default"])
@pytest.mark.parametrize("vs_host", ["reviews", "reviews.default",
                                     "reviews.default.svc.cluster.local"])
def test_host_forms(host: str, vs_host: str) -> None:
    extra = [*ALL_DRS, vs("reviews", [{"route": [to("v2")]}], hosts=[vs_host])]
    approx(mesh(extra, R(host)).versions(), {"v2": 1})


def test_short_names_resolve_in_the_caller_namespace() -> None:
    model = RoutingModel(bookinfo())
    assert model.from_mesh(R("reviews"), source_namespace="other").versions() == {"503": 1.0}
    assert model.from_mesh(R("reviews.default"), "other").versions()["v1"] == pytest.approx(THIRD)
    assert model.mesh.service("reviews", "default").name == "reviews"
    assert model.mesh.service("reviews.default.svc.cluster.local:9080", "x").name == "reviews"
    assert model.mesh.service("reviews", "other") is None


SPREAD = {"v1": THIRD, "v2": THIRD, "v3": THIRD}
#: Istio's protocol selection for the port of reviews: (port, where jason's HTTP request goes
#: with his header route to v2, whether it goes there with protocol sniffing turned off).
PORT_PROTOCOLS = {
    "named http": ({"name": "http", "port": 9080}, {"v2": 1}, True),
    "http with a suffix": ({"name": "http-web", "port": 9080}, {"v2": 1}, True),
    "grpc": ({"name": "grpc-api", "port": 9080}, {"v2": 1}, True),
    "appProtocol http": ({"name": "web", "appProtocol": "http", "port": 9080}, {"v2": 1}, True),
    "unnamed: detected": ({"port": 9080}, {"v2": 1}, False),
    "a name that names no protocol: detected": ({"name": "web", "port": 9080}, {"v2": 1}, False),
    "name main: detected": ({"name": "main", "port": 9080}, {"v2": 1}, False),
    "appProtocol unknown, name ignored: detected": (
        {"name": "tcp", "appProtocol": "custom", "port": 9080}, {"v2": 1}, False),
    "tcp": ({"name": "tcp", "port": 9080}, SPREAD, False),
    "tcp with a suffix": ({"name": "tcp-reviews", "port": 9080}, SPREAD, False),
    "tls": ({"name": "tls-reviews", "port": 9080}, SPREAD, False),
    "https: TLS to the sidecar": ({"name": "https", "port": 9080}, SPREAD, False),
    "mongo": ({"name": "mongo", "port": 9080}, SPREAD, False),
    "mysql": ({"name": "mysql-db", "port": 9080}, SPREAD, False),
    "redis": ({"name": "redis", "port": 9080}, SPREAD, False),
    "appProtocol tcp over an http name": (
        {"name": "http", "appProtocol": "tcp", "port": 9080}, SPREAD, False),
    "unnamed on MySQL's well-known port: TCP": ({"port": 3306}, SPREAD, False),
}


@pytest.mark.parametrize("case", list(PORT_PROTOCOLS))
def test_port_protocol_decides_whether_http_rules_apply(case: str) -> None:
    port, want, without_sniffing = PORT_PROTOCOLS[case]
    objs = bookinfo(reviews_ports=[port]) + ALL_DRS
    objs.append(vs("reviews", [JASON, {"route": [to("v1")]}]))
    jason = R("reviews", headers={"end-user": "jason"}, port=port["port"])
    out = RoutingModel(objs).from_mesh(jason)
    approx(out.versions(), want)
    assert any("HTTP rules do not apply" in s for s in out.decided_by) is (want == SPREAD)
    assert any("Istio detects HTTP" in s for s in out.decided_by) is (
        "detected" in case), out.decided_by
    off = RoutingModel(objs, sniff_protocol=False).from_mesh(jason)
    approx(off.versions(), {"v2": 1} if without_sniffing else SPREAD)


def test_the_default_port_is_named_http_then_detected() -> None:
    svc = bookinfo(reviews_ports=[{"name": "tcp-admin", "port": 9000}, {"port": 9090},
                                  {"name": "http", "port": 9080}])
    model = RoutingModel(svc)
    reviews = model.mesh.service("reviews", "default")
    assert model.service_port(reviews, None) == (9080, "spec.ports[2]", "HTTP")
    assert model.service_port(reviews, 9090) == (9090, "spec.ports[1]", "detected")
    assert model.service_port(reviews, 9000) == (9000, "spec.ports[0]", "TCP")
    assert model.service_port(reviews, 1234) == (1234, None, None)
    detected = RoutingModel(bookinfo(reviews_ports=[{"name": "tcp-admin", "port": 9000},
                                                    {"port": 9090}]))
    reviews = detected.mesh.service("reviews", "default")
    assert detected.service_port(reviews, None)[0] == 9090


def test_tcp_rules_apply_to_tcp_ports() -> None:
    objs = bookinfo(reviews_ports=[{"name": "tcp-reviews", "port": 9080}]) + ALL_DRS
    objs.append(istio("VirtualService", "reviews", {
        "hosts": ["reviews"], "tcp": [{"route": [to("v1", weight=20), to("v3", weight=80)]}]}))
    approx(RoutingModel(objs).from_mesh(R("reviews")).versions(), {"v1": 0.2, "v3": 0.8})


def test_app_protocol_makes_a_port_http() -> None:
    objs = bookinfo(reviews_ports=[{"name": "web", "appProtocol": "http", "port": 9080}])
    objs += [*ALL_DRS, vs("reviews", [JASON, {"route": [to("v1")]}])]
    out = RoutingModel(objs).from_mesh(R("reviews", headers={"end-user": "jason"}))
    approx(out.versions(), {"v2": 1})


def test_source_conditions() -> None:
    rules = [{"match": [{"sourceLabels": {"app": "productpage"}}], "route": [to("v2")]},
             {"match": [{"sourceNamespace": "other"}], "route": [to("v3")]},
             {"route": [to("v1")]}]
    model = RoutingModel(bookinfo() + ALL_DRS + [vs("reviews", rules)])
    approx(model.from_mesh(R("reviews")).versions(), {"v1": 1})
    approx(model.from_mesh(R("reviews"), source_labels={"app": "productpage", "version": "v1"})
           .versions(), {"v2": 1})
    approx(model.from_mesh(R("reviews.default"), "other").versions(), {"v3": 1})


def test_destination_rule_visibility() -> None:
    hidden = dr("reviews", ["v1", "v2", "v3"])
    hidden.raw["spec"]["exportTo"] = ["."]
    route = vs("reviews", [{"route": [to("v2")]}])
    model = RoutingModel(bookinfo() + [hidden, route])
    approx(model.from_mesh(R("reviews")).versions(), {"v2": 1})
    approx(model.from_mesh(R("reviews.default"), "other").versions(), {"503": 1})
    # a DestinationRule in the caller's namespace is looked up first
    mine = dr("reviews-mine", ["v1"], host="reviews.default.svc.cluster.local", ns="other")
    model = RoutingModel(bookinfo() + ALL_DRS + [mine, route])
    approx(model.from_mesh(R("reviews.default"), "other").versions(), {"503": 1})
    approx(model.from_mesh(R("reviews")).versions(), {"v2": 1})


def test_decided_by_points_at_the_rule() -> None:
    lines = {"": 3, "spec.http[1]": 12, "spec.http[0].route[0].destination.subset": 9}
    jason = vs("reviews", [{"match": JASON["match"], "route": [to("v4")]}, {"route": [to("v1")]}])
    jason.lines = lines
    model = RoutingModel(bookinfo() + ALL_DRS + [jason])
    out = model.from_mesh(R("reviews"))
    assert any(s == "VirtualService default/reviews spec.http[1] (file x.yaml:12): "
               "matched (rule without match)" for s in out.decided_by), out.decided_by
    bad = model.from_mesh(R("reviews", headers={"end-user": "jason"}))
    (target,) = bad.shares
    assert target.status == 503 and "subset 'v4' not defined" in target.reason
    step = next(s for s in bad.steps if s.note.startswith("503"))
    assert step.obj is jason and step.path == "spec.http[0].route[0].destination.subset"
    assert step.line == 9


def test_targets_name_workloads() -> None:
    out = mesh([], R("reviews"))
    assert Target(200, "default", "reviews", "reviews-v2", "v2") in out.shares
    assert out.errors() == 0
    assert out.workloads()["reviews-v3"] == pytest.approx(THIRD)


# --- ingress gateway -------------------------------------------------------------------------

def gateway(selector: dict[str, str] | None = None, hosts: list[str] | None = None,
            ns: str = "default", port: int = 8080, name: str = "bookinfo-gateway") -> KObject:
    return istio("Gateway", name, {
        "selector": selector or {"istio": "ingressgateway"},
        "servers": [{"port": {"number": port, "name": "http", "protocol": "HTTP"},
                     "hosts": hosts or ["*"]}]}, ns)


BOOKINFO_VS = vs("bookinfo", [{
    "match": [{"uri": {"exact": "/productpage"}}, {"uri": {"prefix": "/static"}},
              {"uri": {"exact": "/login"}}, {"uri": {"exact": "/logout"}},
              {"uri": {"prefix": "/api/v1/products"}}],
    "route": [{"destination": {"host": "productpage", "port": {"number": 9080}}}]}],
    hosts=["*"], gateways=["bookinfo-gateway"])
PP = {"v1": 1}
NR = {"404": 1}
IP = "192.168.49.2"

GATEWAY_CASES = [
    ("productpage", [gateway(), BOOKINFO_VS], R(IP, "/productpage", port=80), PP),
    ("root is a 404", [gateway(), BOOKINFO_VS], R(IP, "/", port=80), NR),
    ("static prefix", [gateway(), BOOKINFO_VS], R(IP, "/static/x.css"), PP),
    ("exact does not take sub-paths", [gateway(), BOOKINFO_VS], R(IP, "/productpage/x"), NR),
    ("api prefix", [gateway(), BOOKINFO_VS], R(IP, "/api/v1/products/0/reviews"), PP),
    ("nodePort reaches the server port", [gateway(), BOOKINFO_VS],
     R(f"{IP}:31380", "/productpage"), PP),
    ("old server port 80", [gateway(port=80), BOOKINFO_VS], R(IP, "/login", port=80), PP),
    ("wrong port", [gateway(), BOOKINFO_VS], R(IP, "/productpage", port=9999), NR),
    ("selector not matching the ingress", [gateway({"istio": "other"}), BOOKINFO_VS],
     R(IP, "/productpage"), NR),
    ("selector on the app label", [gateway({"app": "istio-ingressgateway"}), BOOKINFO_VS],
     R(IP, "/productpage"), PP),
    ("VirtualService without gateways is mesh-only",
     [gateway(), vs("bookinfo", BOOKINFO_VS.spec["http"], hosts=["*"])], R(IP, "/productpage"),
     NR),
    ("gateway in another namespace by ns/name",
     [gateway(ns="istio-system"),
      vs("bookinfo", BOOKINFO_VS.spec["http"], hosts=["*"],
         gateways=["istio-system/bookinfo-gateway"])], R(IP, "/productpage"), PP),
    ("short gateway name resolves in the VirtualService namespace",
     [gateway(ns="istio-system"), BOOKINFO_VS], R(IP, "/productpage"), NR),
    ("server host scope ./ excludes other namespaces",
     [gateway(ns="istio-system", hosts=["./*"]),
      vs("bookinfo", BOOKINFO_VS.spec["http"], hosts=["*"],
         gateways=["istio-system/bookinfo-gateway"])], R(IP, "/productpage"), NR),
    ("server host scope default/*",
     [gateway(ns="istio-system", hosts=["default/*"]),
      vs("bookinfo", BOOKINFO_VS.spec["http"], hosts=["*"],
         gateways=["istio-system/bookinfo-gateway"])], R(IP, "/productpage"), PP),
    ("named hosts", [gateway(hosts=["bookinfo.example.com"]),
                     vs("bookinfo", BOOKINFO_VS.spec["http"], hosts=["bookinfo.example.com"],
                        gateways=["bookinfo-gateway"])],
     R("bookinfo.example.com", "/productpage"), PP),
    ("named hosts, other host", [gateway(hosts=["bookinfo.example.com"]), BOOKINFO_VS],
     R("other.example.com", "/productpage"), NR),
    ("wildcard hosts", [gateway(hosts=["*.example.com"]),
                        vs("bookinfo", BOOKINFO_VS.spec["http"], hosts=["*.example.com"],
                           gateways=["bookinfo-gateway"])],
     R("a.example.com:80", "/productpage"), PP),
    ("wildcard needs a label", [gateway(hosts=["*.example.com"]), BOOKINFO_VS],
     R("example.com", "/productpage"), NR),
    ("exact VirtualService host beats *",
     [gateway(), BOOKINFO_VS,
      vs("reviews-direct", [{"route": [to("v3")]}], hosts=["reviews.example.com"],
         gateways=["bookinfo-gateway"])], R("reviews.example.com", "/productpage"), {"v3": 1}),
    ("no Gateway", [BOOKINFO_VS], R(IP, "/productpage"), NR),
]


@pytest.mark.parametrize(("extra", "request_", "want"),
                         [c[1:] for c in GATEWAY_CASES], ids=[c[0] for c in GATEWAY_CASES])
def test_gateway_routing(extra: list[KObject], request_: Request, want: dict[str, float]) -> None:
    model = RoutingModel(bookinfo() + ALL_DRS + extra)
    approx(model.via_gateway(request_).versions(), want)


def test_gateway_trace_and_target() -> None:
    out = RoutingModel(bookinfo() + [gateway(), BOOKINFO_VS]).via_gateway(R(IP, "/productpage"))
    (target,) = out.shares
    assert (target.service, target.workload, target.version) == ("productpage", "productpage-v1",
                                                                 "v1")
    assert any(s.startswith("Gateway default/bookinfo-gateway spec.servers[0]")
               for s in out.decided_by)
    assert any(s.startswith("VirtualService default/bookinfo spec.http[0].match[0]")
               for s in out.decided_by)
    blocked = RoutingModel(bookinfo() + [gateway({"istio": "x"}), BOOKINFO_VS])
    assert any("does not select the ingress" in s
               for s in blocked.via_gateway(R(IP, "/productpage")).decided_by)


# --- Gateway API -----------------------------------------------------------------------------

def gw_api(kind: str, name: str, spec: dict[str, Any], ns: str = "default") -> KObject:
    return obj({"apiVersion": GWAPI, "kind": kind, "metadata": {"name": name, "namespace": ns},
                "spec": spec})


K8S_GATEWAY = gw_api("Gateway", "bookinfo-gateway", {
    "gatewayClassName": "istio",
    "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                   "allowedRoutes": {"namespaces": {"from": "Same"}}}]})
PP_BACKEND = [{"name": "productpage", "port": 9080}]
BOOKINFO_ROUTE = gw_api("HTTPRoute", "bookinfo", {
    "parentRefs": [{"name": "bookinfo-gateway"}],
    "rules": [{"matches": [{"path": {"type": "Exact", "value": "/productpage"}},
                           {"path": {"type": "PathPrefix", "value": "/static"}},
                           {"path": {"type": "Exact", "value": "/login"}},
                           {"path": {"type": "Exact", "value": "/logout"}},
                           {"path": {"type": "PathPrefix", "value": "/api/v1/products"}}],
               "backendRefs": PP_BACKEND}]})
VERSION_SERVICES = [service(f"reviews-{v}", {"app": "reviews", "version": v})
                    for v in ("v1", "v2", "v3")]
JASON_MATCH = [{"headers": [{"type": "Exact", "name": "end-user", "value": "jason"}]}]


def mesh_route(rules: list[dict[str, Any]], name: str = "reviews", ns: str = "default"
               ) -> KObject:
    return gw_api("HTTPRoute", name, {
        "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
        "rules": rules}, ns)


def backend(version: str, weight: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"reviews-{version}", "port": 9080}
    if weight is not None:
        out["weight"] = weight
    return out


GAMMA = mesh_route([{"matches": JASON_MATCH, "backendRefs": [backend("v2")]},
                    {"backendRefs": [backend("v1", 90), backend("v2", 10)]}])

GWAPI_CASES = [
    ("productpage", [K8S_GATEWAY, BOOKINFO_ROUTE], R("localhost:80", "/productpage"), PP),
    ("root is a 404", [K8S_GATEWAY, BOOKINFO_ROUTE], R("localhost", "/"), NR),
    ("prefix is segment-wise", [K8S_GATEWAY, BOOKINFO_ROUTE], R("localhost", "/staticx"), NR),
    ("prefix sub-path", [K8S_GATEWAY, BOOKINFO_ROUTE], R("localhost", "/static/a.css"), PP),
    ("route to a missing gateway", [BOOKINFO_ROUTE], R("localhost", "/productpage"), NR),
    ("hostnames filter", [K8S_GATEWAY, gw_api("HTTPRoute", "bookinfo", {
        **BOOKINFO_ROUTE.spec, "hostnames": ["bookinfo.example.com"]})],
     R("other.example.com", "/productpage"), NR),
    ("hostnames match", [K8S_GATEWAY, gw_api("HTTPRoute", "bookinfo", {
        **BOOKINFO_ROUTE.spec, "hostnames": ["*.example.com"]})],
     R("bookinfo.example.com", "/productpage"), PP),
    ("route in another namespace is not allowed by default",
     [K8S_GATEWAY, gw_api("HTTPRoute", "bookinfo", {
         **BOOKINFO_ROUTE.spec, "parentRefs": [{"name": "bookinfo-gateway",
                                                "namespace": "default"}]}, ns="other")],
     R("localhost", "/productpage"), NR),
    ("empty backendRefs is a 500", [K8S_GATEWAY, gw_api("HTTPRoute", "bookinfo", {
        "parentRefs": [{"name": "bookinfo-gateway"}], "rules": [{}]})],
     R("localhost", "/"), {"500": 1}),
]


@pytest.mark.parametrize(("extra", "request_", "want"),
                         [c[1:] for c in GWAPI_CASES], ids=[c[0] for c in GWAPI_CASES])
def test_gateway_api_ingress(extra: list[KObject], request_: Request,
                             want: dict[str, float]) -> None:
    approx(RoutingModel(bookinfo() + extra).via_gateway(request_).versions(), want)


GAMMA_CASES = [
    ("jason -> v2", [GAMMA], R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("others 90/10", [GAMMA], R("reviews"), {"v1": 0.9, "v2": 0.1}),
    ("header match beats an earlier catch-all",
     [mesh_route([{"backendRefs": [backend("v1")]},
                  {"matches": JASON_MATCH, "backendRefs": [backend("v2")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("longest prefix wins",
     [mesh_route([{"matches": [{"path": {"type": "PathPrefix", "value": "/a"}}],
                   "backendRefs": [backend("v1")]},
                  {"matches": [{"path": {"type": "PathPrefix", "value": "/a/b"}}],
                   "backendRefs": [backend("v3")]}])], R("reviews", "/a/b/c"), {"v3": 1}),
    ("exact beats prefix",
     [mesh_route([{"matches": [{"path": {"type": "PathPrefix", "value": "/a/b"}}],
                   "backendRefs": [backend("v1")]},
                  {"matches": [{"path": {"type": "Exact", "value": "/a"}}],
                   "backendRefs": [backend("v3")]}])], R("reviews", "/a"), {"v3": 1}),
    ("weight 0 gets nothing", [mesh_route([{"backendRefs": [backend("v1", 0), backend("v3")]}])],
     R("reviews"), {"v3": 1}),
    ("missing backend service is a 500",
     [mesh_route([{"backendRefs": [{"name": "reviews-v9", "port": 9080}]}])], R("reviews"),
     {"500": 1}),
    ("no rule matched is a 404", [mesh_route([{"matches": JASON_MATCH,
                                               "backendRefs": [backend("v2")]}])],
     R("reviews"), {"404": 1}),
    ("regex header", [mesh_route([{"matches": [{"headers": [{
        "type": "RegularExpression", "name": "end-user", "value": "jas.*"}]}],
        "backendRefs": [backend("v2")]}, {"backendRefs": [backend("v1")]}])],
     R("reviews", headers={"end-user": "jason"}), {"v2": 1}),
    ("query param and method", [mesh_route([{"matches": [{
        "method": "POST", "queryParams": [{"name": "u", "value": "j"}]}],
        "backendRefs": [backend("v2")]}, {"backendRefs": [backend("v1")]}])],
     R("reviews", "/?u=j", method="POST"), {"v2": 1}),
    ("older route wins ties", [
        mesh_route([{"backendRefs": [backend("v3")]}], name="b-route"),
        mesh_route([{"backendRefs": [backend("v1")]}], name="a-route")], R("reviews"), {"v1": 1}),
]


@pytest.mark.parametrize(("extra", "request_", "want"),
                         [c[1:] for c in GAMMA_CASES], ids=[c[0] for c in GAMMA_CASES])
def test_gamma_mesh_routes(extra: list[KObject], request_: Request,
                           want: dict[str, float]) -> None:
    out = RoutingModel(bookinfo() + VERSION_SERVICES + extra).from_mesh(request_)
    approx(out.versions(), want)


def test_gamma_targets_name_the_version_service() -> None:
    out = RoutingModel(bookinfo() + VERSION_SERVICES + [GAMMA]).from_mesh(R("reviews"))
    assert {t.service for t in out.shares} == {"reviews-v1", "reviews-v2"}


def test_service_entry_and_pods() -> None:
    entry = istio("ServiceEntry", "httpbin", {"hosts": ["httpbin.org"], "ports": [
        {"number": 80, "name": "http", "protocol": "HTTP"}], "resolution": "DNS"})
    out = RoutingModel(bookinfo() + [entry]).from_mesh(R("httpbin.org"))
    assert out.shares == {Target(200, "default", "httpbin.org"): 1.0}
    pods = [obj({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"reviews-v2-abc-{i}", "namespace": "default",
        "labels": {"app": "reviews", "version": "v2", "pod-template-hash": "abc"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "reviews-v2-abc"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": s}]}})
        for i, s in enumerate(["True", "True", "False"])]
    out = RoutingModel(bookinfo() + pods).from_mesh(R("reviews"))
    approx(out.workloads(), {"reviews-v1": 0.25, "reviews-v2": 0.5, "reviews-v3": 0.25})


# --- properties ------------------------------------------------------------------------------

VERSIONS = ["v1", "v2", "v3"]
string_match = st.sampled_from(["exact", "prefix", "regex"]).flatmap(
    lambda kind: st.builds(lambda v: {kind: v},
                           st.sampled_from(["jason", "jas", "Jason", "", "j.*", "(", "*"])))
match_entry = st.fixed_dictionaries({}, optional={
    "headers": st.dictionaries(st.sampled_from(["end-user", "x-b"]), string_match, max_size=2),
    "withoutHeaders": st.dictionaries(st.just("end-user"), string_match, max_size=1),
    "uri": st.sampled_from(["/", "/api", "/a.*"]).flatmap(
        lambda v: st.sampled_from([{"exact": v}, {"prefix": v}, {"regex": v}])),
    "method": st.just({"exact": "POST"}),
    "port": st.sampled_from([9080, 80]),
})
destination = st.builds(
    lambda subset, weight, host: to(subset, host=host, weight=weight),
    st.sampled_from(VERSIONS + ["v4", None]), st.sampled_from([None, 0, 1, 25, 50, 100]),
    st.sampled_from(["reviews", "reviews", "ratings", "nope"]))
rule = st.fixed_dictionaries({"route": st.lists(destination, min_size=1, max_size=3)},
                             optional={"match": st.lists(match_entry, min_size=1, max_size=2)})
request = st.builds(
    lambda user, path, method: Request.make("reviews", path, method,
                                            {"end-user": user} if user else None),
    st.sampled_from([None, "jason", "jas", "Jason", ""]),
    st.sampled_from(["/", "/api", "/api/x", "/a.b"]), st.sampled_from(["GET", "POST"]))


def check_invariants(out: Outcome, objs: list[KObject]) -> None:
    assert abs(sum(out.shares.values()) - 1) < 1e-9
    assert all(0 <= s <= 1 for s in out.shares.values())
    workloads = {(o.namespace, o.name): o for o in objs if o.kind == "Deployment"}
    services = {(o.namespace, o.name): o for o in objs if o.kind == "Service"}
    for target in out.shares:
        if target.status != 200:
            continue
        deploy = workloads[(target.namespace, target.workload)]
        labels = deploy.spec["template"]["metadata"]["labels"]
        svc = services[(target.namespace, target.service)]
        assert selects(svc.spec["selector"], labels)
        assert target.version == labels.get("version")
        assert deploy.spec.get("replicas", 1) > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(rule, min_size=1, max_size=3),
       subsets=st.lists(st.sampled_from(VERSIONS + ["v4"]), unique=True),
       replicas=st.lists(st.integers(0, 3), min_size=3, max_size=3),
       req=request)
def test_property_mesh_shares(rules: list[dict[str, Any]], subsets: list[str],
                              replicas: list[int], req: Request) -> None:
    objs = bookinfo() + [deployment(f"reviews-{v}", {"app": "reviews", "version": v},
                                    replicas=n) for v, n in zip(VERSIONS, replicas, strict=True)]
    objs += [dr("reviews", subsets), dr("ratings", ["v1"]), vs("reviews", rules)]
    check_invariants(RoutingModel(objs).from_mesh(req), objs)


@settings(max_examples=150, deadline=None)
@given(rules=st.lists(rule, min_size=1, max_size=3), req=request,
       hosts=st.sampled_from([["*"], ["reviews"], ["*.example.com"]]))
def test_property_gateway_shares(rules: list[dict[str, Any]], req: Request,
                                 hosts: list[str]) -> None:
    objs = bookinfo() + ALL_DRS + [gateway(hosts=hosts),
                                   vs("edge", rules, hosts=hosts, gateways=["bookinfo-gateway"])]
    check_invariants(RoutingModel(objs).via_gateway(req), objs)


@settings(max_examples=150, deadline=None)
@given(weights=st.lists(st.sampled_from([None, 0, 1, 3, 50]), min_size=1, max_size=3),
       user=st.sampled_from([None, "jason", "bob"]))
def test_property_gamma_shares(weights: list[int | None], user: str | None) -> None:
    refs = [backend(v, w) for v, w in zip(VERSIONS, weights, strict=False)]
    objs = bookinfo() + VERSION_SERVICES + [
        mesh_route([{"matches": JASON_MATCH, "backendRefs": refs[:1]}, {"backendRefs": refs}])]
    out = RoutingModel(objs).from_mesh(R("reviews", headers={"end-user": user} if user else None))
    check_invariants(out, objs)
