"""MG103 schema validation: meshgrade.schema (classify, validate) and its schema bundles."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import meshgrade.schema as schema
from meshgrade.schema import SchemaIssue, classify, diskcache, validate
from meshgrade.schema.bundles import Registry
from meshgrade.schema.issues import MAX_ISSUES
from meshgrade.schema.nodes import SchemaFormatError, compile_types

ISTIO_VERSIONS = ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1",
                  "networking.istio.io/v1"]
CODES = {"unknown-field", "wrong-type", "missing-required", "invalid-value", "unknown-kind"}


@pytest.fixture(scope="module", autouse=True)
def isolated_registry(tmp_path_factory: pytest.TempPathFactory):
    """Validate with a registry whose disk cache lives in a temporary folder."""
    saved = schema._registry
    schema._registry = Registry(tmp_path_factory.mktemp("schema-cache"))
    yield schema._registry
    schema._registry = saved


# -- valid Bookinfo-style objects (written for these tests)

def gateway(api: str = "networking.istio.io/v1") -> dict[str, Any]:
    return {
        "apiVersion": api, "kind": "Gateway",
        "metadata": {"name": "bookinfo-gateway", "namespace": "bookinfo"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                         "hosts": ["*"]}],
        },
    }


def virtual_service(api: str = "networking.istio.io/v1") -> dict[str, Any]:
    return {
        "apiVersion": api, "kind": "VirtualService",
        "metadata": {"name": "reviews", "labels": {"app": "reviews"}},
        "spec": {
            "hosts": ["reviews"],
            "gateways": ["mesh"],
            "http": [
                {
                    "name": "jason",
                    "match": [{"headers": {"end-user": {"exact": "jason"}},
                               "uri": {"prefix": "/reviews"}}],
                    "route": [{"destination": {"host": "reviews", "subset": "v2",
                                               "port": {"number": 9080}}}],
                    "timeout": "10s",
                    "retries": {"attempts": 3, "perTryTimeout": "2s"},
                },
                {
                    "route": [
                        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50},
                    ],
                },
            ],
        },
    }


def destination_rule(api: str = "networking.istio.io/v1") -> dict[str, Any]:
    return {
        "apiVersion": api, "kind": "DestinationRule",
        "metadata": {"name": "reviews"},
        "spec": {
            "host": "reviews",
            "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"},
                              "tls": {"mode": "ISTIO_MUTUAL"}},
            "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2", "v3")],
        },
    }


def deployment() -> dict[str, Any]:
    labels = {"app": "reviews", "version": "v1"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "reviews-v1", "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels), "creationTimestamp": None},
                "spec": {
                    "serviceAccountName": "bookinfo-reviews",
                    "containers": [{
                        "name": "reviews",
                        "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.1",
                        "imagePullPolicy": "IfNotPresent",
                        "env": [{"name": "LOG_DIR", "value": "/tmp/logs"}],
                        "ports": [{"containerPort": 9080, "name": "http"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": 0.5, "memory": 268435456}},
                        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "reviews", "labels": {"app": "reviews", "service": "reviews"}},
        "spec": {
            "selector": {"app": "reviews"},
            "ports": [{"name": "http", "port": 9080, "targetPort": 9080, "protocol": "TCP"},
                      {"name": "grpc-admin", "port": 9090, "targetPort": "admin",
                       "appProtocol": "grpc"}],
        },
    }


def http_route(api: str = "gateway.networking.k8s.io/v1") -> dict[str, Any]:
    return {
        "apiVersion": api, "kind": "HTTPRoute",
        "metadata": {"name": "reviews"},
        "spec": {
            "parentRefs": [{"name": "bookinfo-gateway", "sectionName": "http"},
                           {"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
            "hostnames": ["bookinfo.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/reviews"},
                                 "headers": [{"name": "end-user", "value": "jason"}],
                                 "method": "GET"}],
                    "backendRefs": [{"name": "reviews-v2", "port": 9080}],
                },
                {
                    "filters": [{
                        "type": "RequestHeaderModifier",
                        "requestHeaderModifier": {"add": [{"name": "x-a", "value": "b"}]},
                    }],
                    "backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 90},
                                    {"name": "reviews-v3", "port": 9080, "weight": 10}],
                },
            ],
        },
    }


def gateway_api_gateway(api: str = "gateway.networking.k8s.io/v1") -> dict[str, Any]:
    return {
        "apiVersion": api, "kind": "Gateway",
        "metadata": {"name": "bookinfo-gateway"},
        "spec": {
            "gatewayClassName": "istio",
            "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP",
                 "allowedRoutes": {"namespaces": {"from": "Same"}}},
                {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "*.example.com",
                 "tls": {"mode": "Terminate",
                         "certificateRefs": [{"kind": "Secret", "name": "bookinfo-cert"}]}},
            ],
        },
    }


def simple(kind: str, api: str = "v1", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, **extra}


VALID = [
    *[pytest.param(make(api), id=f"{make.__name__}-{api.rsplit('/', 1)[1]}")
      for api in ISTIO_VERSIONS for make in (gateway, virtual_service, destination_rule)],
    pytest.param(deployment(), id="deployment"),
    pytest.param(service(), id="service"),
    pytest.param(http_route(), id="httproute-v1"),
    pytest.param(http_route("gateway.networking.k8s.io/v1beta1"), id="httproute-v1beta1"),
    pytest.param(gateway_api_gateway(), id="gateway-api-gateway"),
    pytest.param(simple("Namespace", metadata={"name": "bookinfo",
                                               "labels": {"istio-injection": "enabled"}}),
                 id="namespace"),
    pytest.param(simple("ConfigMap", data={"a": "1"}), id="configmap"),
    pytest.param(simple("Secret", type="Opaque", stringData={"password": "x"}), id="secret"),
    pytest.param(simple("ServiceAccount"), id="serviceaccount"),
    pytest.param(simple("Pod", spec={"containers": [{"name": "c", "image": "busybox",
                                                     "command": ["sleep", "3600"]}]}),
                 id="pod"),
    pytest.param(simple("ServiceEntry", "networking.istio.io/v1", spec={
        "hosts": ["api.example.com"], "location": "MESH_EXTERNAL", "resolution": "DNS",
        "ports": [{"number": 443, "name": "https", "protocol": "TLS"}]}), id="serviceentry"),
    pytest.param(simple("Sidecar", "networking.istio.io/v1beta1", spec={
        "egress": [{"hosts": ["./*", "istio-system/*"]}]}), id="sidecar"),
    pytest.param({**virtual_service(), "status": {"anything": ["goes", 1]}}, id="with-status"),
]


@pytest.mark.parametrize("obj", VALID)
def test_valid_objects_have_no_issues(obj: dict[str, Any]) -> None:
    assert validate(obj) == []
    assert classify(obj["apiVersion"], obj["kind"]) == "known"


# -- broken objects: (object, path, code, text the hint must contain)

def mutate(obj: dict[str, Any], path: list[Any], value: Any = None, *, delete: bool = False,
           rename: str | None = None) -> dict[str, Any]:
    """A copy of ``obj`` with the item at ``path`` replaced, deleted or renamed."""
    out = copy.deepcopy(obj)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if rename is not None:
        parent[rename] = parent.pop(last)
    elif delete:
        del parent[last]
    else:
        parent[last] = value
    return out


ROUTE = ["spec", "http", 1, "route", 0]
BROKEN = [
    *[pytest.param(mutate(virtual_service(api), [*ROUTE, "weight"], rename="weigth"),
                   "spec.http[1].route[0].weigth", "unknown-field", "weight",
                   id=f"vs-weigth-{api.rsplit('/', 1)[1]}") for api in ISTIO_VERSIONS],
    *[pytest.param(mutate(virtual_service(api), [*ROUTE, "weight"], "50"),
                   "spec.http[1].route[0].weight", "wrong-type", "remove the quotes",
                   id=f"vs-weight-string-{api.rsplit('/', 1)[1]}") for api in ISTIO_VERSIONS],
    pytest.param(mutate(virtual_service(), [*ROUTE, "weight"], True),
                 "spec.http[1].route[0].weight", "wrong-type", "integer", id="vs-weight-bool"),
    pytest.param(mutate(virtual_service(), [*ROUTE, "destination"], delete=True),
                 "spec.http[1].route[0].destination", "missing-required", "destination",
                 id="vs-route-without-destination"),
    pytest.param(mutate(virtual_service(), ["spec", "http", 0, "match", 0, "uri"],
                        {"exact": "/a", "prefix": "/b"}),
                 "spec.http[0].match[0].uri", "invalid-value", "keep exactly one",
                 id="vs-uri-exact-and-prefix"),
    pytest.param(mutate(virtual_service(), ["spec", "hosts"], "reviews"),
                 "spec.hosts", "wrong-type", "list", id="vs-hosts-not-list"),
    pytest.param(mutate(virtual_service(), ["spec", "http", 1, "route"],
                        {"destination": {"host": "reviews"}}),
                 "spec.http[1].route", "wrong-type", "'- '", id="vs-route-mapping"),
    pytest.param(mutate(destination_rule(), ["spec", "subsets", 1, "name"], delete=True),
                 "spec.subsets[1].name", "missing-required", "add 'name'",
                 id="dr-subset-without-name"),
    pytest.param(mutate(destination_rule(), ["spec", "trafficPolicy", "loadBalancer", "simple"],
                        "ROUND_ROBINN"),
                 "spec.trafficPolicy.loadBalancer.simple", "invalid-value", "ROUND_ROBIN",
                 id="dr-bad-enum"),
    pytest.param(mutate(destination_rule("networking.istio.io/v1alpha3"),
                        ["spec", "subsets", 0, "labels", "version"], 1),
                 'spec.subsets[0].labels.version', "wrong-type", 'quotes: "1"',
                 id="dr-label-number"),
    pytest.param(mutate(deployment(), ["spec", "selector"], delete=True),
                 "spec.selector", "missing-required", "matchLabels",
                 id="deployment-without-selector"),
    pytest.param(mutate(deployment(), ["spec", "template", "spec", "containers", 0, "name"],
                        delete=True),
                 "spec.template.spec.containers[0].name", "missing-required", "add 'name'",
                 id="container-without-name"),
    pytest.param(mutate(deployment(), ["spec", "replicas"], "3"),
                 "spec.replicas", "wrong-type", "write 3", id="deployment-replicas-string"),
    pytest.param(mutate(deployment(), ["spec", "template", "spec", "containers", 0, "ports", 0,
                                       "containerPort"], rename="containerport"),
                 "spec.template.spec.containers[0].ports[0].containerport", "unknown-field",
                 "containerPort", id="container-port-case"),
    pytest.param(mutate(service(), ["spec", "ports", 0, "port"], "9080"),
                 "spec.ports[0].port", "wrong-type", "write 9080", id="service-port-string"),
    pytest.param(mutate(service(), ["spec", "ports", 0, "targetPort"], 9080.5),
                 "spec.ports[0].targetPort", "wrong-type", "integer or string",
                 id="service-targetport-float"),
    pytest.param(mutate(destination_rule(), ["spec", "trafficPolicy", "tls", "mode"], "MTLS"),
                 "spec.trafficPolicy.tls.mode", "invalid-value", "ISTIO_MUTUAL",
                 id="dr-tls-mode-enum"),
    pytest.param(mutate(http_route(), ["spec", "rules", 0, "backendRefs"], rename="backendRef"),
                 "spec.rules[0].backendRef", "unknown-field", "backendRefs",
                 id="httproute-backendRef"),
    pytest.param(mutate(http_route("gateway.networking.k8s.io/v1beta1"),
                        ["spec", "rules", 1, "backendRefs", 0, "weight"], -1),
                 "spec.rules[1].backendRefs[0].weight", "invalid-value", "0 to 1000000",
                 id="httproute-negative-weight"),
    pytest.param(mutate(http_route(), ["spec", "rules", 0, "matches", 0, "path", "type"],
                        "Prefix"),
                 "spec.rules[0].matches[0].path.type", "invalid-value", "PathPrefix",
                 id="httproute-path-type"),
    pytest.param(mutate(gateway_api_gateway(), ["spec", "gatewayClassName"], delete=True),
                 "spec.gatewayClassName", "missing-required", "gatewayClassName",
                 id="gateway-api-without-class"),
    pytest.param(mutate(gateway(), ["spec", "servers", 0, "port", "number"], "80"),
                 "spec.servers[0].port.number", "wrong-type", "write 80",
                 id="istio-gateway-port-string"),
    pytest.param(mutate(gateway(), ["spec"], rename="specs"),
                 "specs", "unknown-field", "spec", id="top-level-typo"),
]


@pytest.mark.parametrize(("obj", "path", "code", "hint_text"), BROKEN)
def test_broken_objects_are_reported(obj: dict[str, Any], path: str, code: str,
                                     hint_text: str) -> None:
    issues = validate(obj)
    matching = [i for i in issues if i.path == path and i.code == code]
    assert matching, f"expected {code} at {path}, got {issues}"
    assert hint_text in matching[0].hint + " " + matching[0].message


def test_unknown_field_message_and_hint() -> None:
    obj = mutate(virtual_service("networking.istio.io/v1alpha3"), [*ROUTE, "weight"],
                 rename="weigth")
    assert validate(obj) == [SchemaIssue(
        "spec.http[1].route[0].weigth", "unknown-field", "unknown field 'weigth'",
        "did you mean 'weight'? Valid fields here: destination, headers, weight")]


# -- classification

@pytest.mark.parametrize(("api_version", "kind", "expected"), [
    ("networking.istio.io/v1alpha3", "VirtualService", "known"),
    ("networking.istio.io/v1beta1", "DestinationRule", "known"),
    ("networking.istio.io/v1", "ServiceEntry", "known"),
    ("networking.istio.io/v1alpha3", "EnvoyFilter", "known"),
    ("v1", "ConfigMap", "known"),
    ("apps/v1", "StatefulSet", "known"),
    ("apps/v1", "DaemonSet", "known"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute", "known"),
    ("gateway.networking.k8s.io/v1beta1", "Gateway", "known"),
    ("networking.istio.io/v1alpha3", "Service", "unknown-kind"),
    ("networking.istio.io/v1", "EnvoyFilter", "unknown-kind"),
    ("networking.istio.io/v2", "VirtualService", "unknown-kind"),
    ("v1", "Deployment", "unknown-kind"),
    ("apps/v1", "VirtualService", "unknown-kind"),
    ("extensions/v1beta1", "Deployment", "unknown-kind"),
    ("gateway.networking.k8s.io/v1", "VirtualService", "unknown-kind"),
    ("gateway.networking.k8s.io/v1", "GatewayClass", "foreign"),
    ("gateway.networking.k8s.io/v1alpha2", "TCPRoute", "foreign"),
    ("cert-manager.io/v1", "Certificate", "foreign"),
    ("monitoring.coreos.com/v1", "ServiceMonitor", "foreign"),
    ("", "", "foreign"),
])
def test_classify(api_version: str, kind: str, expected: str) -> None:
    assert classify(api_version, kind) == expected


@pytest.mark.parametrize(("api_version", "kind", "hint_text"), [
    ("networking.istio.io/v1alpha3", "Service", "v1"),
    ("networking.istio.io/v1", "EnvoyFilter", "networking.istio.io/v1alpha3"),
    ("networking.istio.io/v1", "VirtualSevice", "did you mean kind: VirtualService"),
    ("v1", "Deployment", "apps/v1"),
])
def test_unknown_kind_is_one_issue(api_version: str, kind: str, hint_text: str) -> None:
    issues = validate({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})
    assert [i.code for i in issues] == ["unknown-kind"]
    assert hint_text in issues[0].hint


def test_list_items_are_validated() -> None:
    broken = mutate(service(), ["spec", "ports", 0, "port"], "9080")
    wrapped = {"apiVersion": "v1", "kind": "List", "items": [service(), broken]}
    assert classify("v1", "List") == "known"
    assert classify("apps/v1", "DeploymentList") == "known"
    assert [(i.path, i.code) for i in validate(wrapped)] == [
        ("items[1].spec.ports[0].port", "wrong-type")]


def test_foreign_crd_is_not_validated() -> None:
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "c"}, "spec": {"secretName": 5, "whatever": True}}
    assert classify(cert["apiVersion"], cert["kind"]) == "foreign"
    assert validate(cert) == []


@pytest.mark.parametrize(("raw", "path", "code"), [
    ({"kind": "Service"}, "apiVersion", "missing-required"),
    ({"apiVersion": "v1"}, "kind", "missing-required"),
    ({"apiVersion": 1, "kind": "Service"}, "apiVersion", "wrong-type"),
    (["not", "a", "mapping"], "", "wrong-type"),
])
def test_header_problems(raw: Any, path: str, code: str) -> None:
    issues = validate(raw)
    assert (issues[0].path, issues[0].code) == (path, code)


# -- hostile input never raises

@pytest.mark.parametrize("raw", [
    pytest.param(mutate(virtual_service(), ["spec", "http"],
                        [{"route": [{"destination": {"host": i}}]} for i in range(5000)]),
                 id="many-wrong-types"),
    pytest.param(mutate(virtual_service(), ["spec", "http", 0, 7], "int key"), id="int-key"),
    pytest.param(mutate(virtual_service(), ["spec", None], {True: 1}), id="none-key"),
    pytest.param(mutate(virtual_service(), ["spec", "hosts"], ["h"] * 200_000), id="huge-list"),
    pytest.param({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                  "metadata": {"name": "x"}, "spec": {"versions": [{"name": "v1",
                  "schema": {"openAPIV3Schema": "DEEP"}}]}}, id="deep-recursive-schema"),
])
def test_hostile_input_is_bounded(raw: dict[str, Any]) -> None:
    if raw.get("kind") == "CustomResourceDefinition":
        deep: dict[str, Any] = {"type": "object"}
        for _ in range(3000):
            deep = {"type": "object", "properties": {"a": deep}}
        raw["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = deep
    issues = validate(raw)
    assert len(issues) <= MAX_ISSUES
    assert all(isinstance(i, SchemaIssue) and i.code in CODES for i in issues)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=json_values, api=st.sampled_from(["networking.istio.io/v1", "apps/v1", "v1",
                                               "gateway.networking.k8s.io/v1"]),
       kind=st.sampled_from(["VirtualService", "Deployment", "Service", "HTTPRoute", "Gateway"]))
def test_random_data_never_raises(spec: Any, api: str, kind: str) -> None:
    issues = validate({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, "spec": spec})
    assert len(issues) <= MAX_ISSUES
    assert all(i.code in CODES for i in issues)


# -- disk cache and schema format

def test_disk_cache_round_trip(tmp_path: Path) -> None:
    first = Registry(tmp_path)
    assert first.lookup("networking.istio.io/v1", "VirtualService")[0] == "known"
    files = list((tmp_path).glob("istio.networking.v1-*.json"))
    assert len(files) == 1
    second = Registry(tmp_path)
    status, node = second.lookup("networking.istio.io/v1", "VirtualService")
    assert status == "known" and node is not None and "spec" in node.fields
    files[0].write_text("{not json", encoding="utf-8")
    third = Registry(tmp_path)
    assert third.lookup("networking.istio.io/v1", "DestinationRule")[0] == "known"
    assert json.loads(files[0].read_text(encoding="utf-8"))["key"]


@pytest.mark.parametrize(("env", "expected"), [
    ({"MESHGRADE_CACHE_DIR": "off"}, None),
    ({"MESHGRADE_CACHE_DIR": "/srv/cache"}, Path("/srv/cache/schema")),
    ({"XDG_CACHE_HOME": "/xdg"}, Path("/xdg/meshgrade/schema")),
    ({"HOME": "/home/student"}, Path("/home/student/.cache/meshgrade/schema")),
])
def test_cache_location(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                        expected: Path | None) -> None:
    for name in ("MESHGRADE_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert diskcache.default_dir() == expected


def test_unwritable_cache_falls_back(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    registry = Registry(blocker / "cache")
    assert registry.lookup("v1", "Service")[0] == "known"


@pytest.mark.parametrize("types", [
    {"A": {"fields": {"x": "Missing"}}},
    {"A": {"fields": {"x": "[]"}}},
    {"A": {"fields": {"x": "string|"}}},
    {"A": "not an object"},
])
def test_malformed_compact_schema_is_rejected(types: dict[str, Any]) -> None:
    with pytest.raises(SchemaFormatError):
        compile_types(types)
