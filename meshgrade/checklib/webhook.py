"""MG131: what Istio's validating webhook rejects (or accepts with a warning) in Gateways,
VirtualServices, DestinationRules and ServiceEntries beyond their schemas, after
``pkg/config/validation`` of Istio. TLS certificates, secrets and workload TLS settings are
left out; weights and regex syntax are MG128's and MG127's."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from ..routing import protocols
from ..submission.objects import KObject, as_dict, as_list
from .istiofields import (
    Problem,
    dns_label,
    domain_problem,
    duration,
    export_to,
    fqdn_problem,
    integer,
    is_ip,
    labels,
    partial_wildcard,
    port,
    unique_name,
)
from .webhook_vs import virtual_service

_SE_RESOLUTIONS = ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")
_SE_DNS_PROTOCOLS = frozenset({"HTTP", "TLS", "GRPC", "HTTP2"})


# -- Gateway ----------------------------------------------------------------------------------

def _gateway(gw: KObject) -> Iterator[Problem]:
    if "." in gw.name:
        yield Problem("metadata.name", f"Gateway name '{gw.name}' has a dot", "Name Istio "
                      f"Gateways with DNS labels: '{gw.name.replace('.', '-')}'.")
    servers = as_list(gw.spec.get("servers"))
    if not servers:
        yield Problem("spec.servers" if "servers" in gw.spec else "spec", "the Gateway has no "
                      "servers", "Add a server: {port: {number: 80, name: http, protocol: "
                      "HTTP}, hosts: ['*']}.")
    names: dict[str, int] = {}
    for i, server in enumerate(servers):
        spec, base = as_dict(server), f"spec.servers[{i}]"
        yield from _server(spec, base)
        name = as_dict(spec.get("port")).get("name")
        if isinstance(name, str) and name in names:
            yield Problem(f"{base}.port.name", f"port name '{name}' is also the name of "
                          f"server {names[name]}'s port", "Give each server's port its own "
                          "name, e.g. http and http-2.")
        elif isinstance(name, str):
            names[name] = i


def _server(spec: dict[str, Any], base: str) -> Iterator[Problem]:
    hosts = as_list(spec.get("hosts"))
    if not hosts:
        yield Problem(base, "the server has no hosts", "List the hosts it serves, e.g. hosts: "
                      "['*'] or ['bookinfo.example.com'].")
    for j, entry in enumerate(hosts):
        if isinstance(entry, str):
            yield from _server_host(entry, f"{base}.hosts[{j}]")
    if "port" not in spec:
        yield Problem(base, "the server has no port", "Add port: {number: 80, name: http, "
                      "protocol: HTTP}.")
    p = as_dict(spec.get("port"))
    yield from port(p.get("number"), f"{base}.port.number")
    proto = protocols.parse(p.get("protocol"))
    if isinstance(p.get("protocol"), str) and (proto is None or proto == "UDP"):
        yield Problem(f"{base}.port.protocol", f"protocol '{p['protocol']}' is not one a "
                      "Gateway serves", "Use HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO, "
                      "MYSQL or REDIS.")
    if integer(p.get("targetPort")):
        yield Problem(f"{base}.port.targetPort", "targetPort has no effect on a Gateway",
                      "Remove targetPort: the ingress Service maps its ports to the pods.")
    tls = spec.get("tls")
    if proto in protocols.TLS and tls is None:
        yield Problem(f"{base}.port.protocol", f"a server with protocol {proto} needs tls "
                      "settings",
                      "Add tls: {mode: SIMPLE, credentialName: <secret>}, or use protocol "
                      "HTTP.")
    elif tls is not None and proto is not None and proto not in protocols.TLS:
        t = as_dict(tls)
        passthrough = t.get("mode", "PASSTHROUGH") in ("PASSTHROUGH", "AUTO_PASSTHROUGH")
        certs = any(t.get(k) for k in ("caCertificates", "privateKey", "serverCertificate"))
        if proto not in protocols.HTTP or not passthrough or certs:
            yield Problem(f"{base}.tls", f"a plain-text {proto} server may not have tls "
                          "settings", "Use protocol HTTPS for TLS, or keep only tls: "
                          "{httpsRedirect: true} on an HTTP server.")
    if as_dict(tls).get("httpsRedirect") is True and proto is not None and \
            proto not in protocols.HTTP:
        yield Problem(f"{base}.tls.httpsRedirect", "httpsRedirect applies only to HTTP "
                      "servers", "Move httpsRedirect to the port 80 HTTP server.", warning=True)


def _server_host(entry: str, path: str) -> Iterator[Problem]:
    ns, slash, host = entry.rpartition("/")
    hint = "Write '*', a DNS name such as bookinfo.example.com, or 'namespace/name'."
    if slash and (not ns or not host):
        yield Problem(path, f"host '{entry}' has an empty namespace or name", hint)
        return
    if slash and ns not in ("*", ".") and not dns_label(ns):
        yield Problem(path, f"host '{entry}' has the namespace '{ns}', which is not '*', '.' "
                      "or a namespace name", hint)
    if host != "*" and "." not in host:
        yield Problem(path, f"host '{host}' is a short name; Gateways take DNS names",
                      f"Write '*' or a name with a domain, e.g. '{host}.example.com'.")
        return
    found = domain_problem(host)
    if found and not is_ip(host):
        yield Problem(path, f"host '{host}' {found}", hint)
    elif partial_wildcard(host):
        yield Problem(path, f"host '{host}' has a partial wildcard", "A wildcard is a whole "
                      "first label: '*.example.com' or '*'.")


# -- DestinationRule --------------------------------------------------------------------------

def _destination_rule(dr: KObject) -> Iterator[Problem]:
    host = dr.spec.get("host")
    found = domain_problem(host) if isinstance(host, str) else None
    if found:
        yield Problem("spec.host", f"host '{host}' {found}", "Write the Service's name "
                      "(reviews) or FQDN, without scheme or port.")
    yield from _traffic_policy(dr.spec.get("trafficPolicy"), "spec.trafficPolicy")
    seen: set[str] = set()
    for i, subset in enumerate(as_list(dr.spec.get("subsets"))):
        spec, base = as_dict(subset), f"spec.subsets[{i}]"
        yield from unique_name(spec.get("name"), seen, f"{base}.name", "subset")
        yield from labels(spec.get("labels"), f"{base}.labels")
        yield from _traffic_policy(spec.get("trafficPolicy"), f"{base}.trafficPolicy")
    yield from export_to(dr.namespace, dr.spec.get("exportTo"), "spec.exportTo")
    exported = {dr.namespace if e == "." else e for e in as_list(dr.spec.get("exportTo"))
                if isinstance(e, str)}
    if dr.spec.get("workloadSelector") is not None and exported - {dr.namespace}:
        yield Problem("spec.exportTo", "a DestinationRule with a workloadSelector may be "
                      "exported only to its own namespace", "Write exportTo: ['.'].")


_POLICY_FIELDS = ("outlierDetection", "connectionPool", "loadBalancer", "tls",
                  "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget")


def _traffic_policy(value: Any, base: str, port_level: bool = False) -> Iterator[Problem]:
    if value is None:
        return
    policy = as_dict(value)
    fields = _POLICY_FIELDS[:4] if port_level else _POLICY_FIELDS
    if not any(policy.get(f) is not None for f in fields):
        yield Problem(base, "the traffic policy sets nothing", "Set a field (e.g. "
                      "loadBalancer: {simple: ROUND_ROBIN}) or remove the policy.")
    if port_level and "port" not in policy:
        yield Problem(base, "a port-level policy needs port", "Add port: {number: 9080}.")
    pool = policy.get("connectionPool")
    if pool is not None and not (as_dict(pool).get("http") or as_dict(pool).get("tcp")):
        yield Problem(f"{base}.connectionPool", "the connection pool sets neither http nor tcp",
                      "Set http: {...} or tcp: {...}, or remove connectionPool.")
    yield from _outlier(as_dict(policy.get("outlierDetection")), f"{base}.outlierDetection")
    hashing = as_dict(as_dict(policy.get("loadBalancer")).get("consistentHash"))
    if hashing.get("httpCookie") is not None and not as_dict(hashing["httpCookie"]).get("name"):
        yield Problem(f"{base}.loadBalancer.consistentHash.httpCookie", "httpCookie needs a "
                      "name", "Add name: <cookie name>.")
    for i, level in enumerate(as_list(policy.get("portLevelSettings")) if not port_level
                              else []):
        yield from _traffic_policy(level, f"{base}.portLevelSettings[{i}]", port_level=True)


def _outlier(od: dict[str, Any], base: str) -> Iterator[Problem]:
    for field in ("maxEjectionPercent", "minHealthPercent"):
        value = integer(od.get(field))
        if value is not None and not 0 <= value <= 100:
            yield Problem(f"{base}.{field}", f"{field} {value} is not in 0..100",
                          "Give a percentage from 0 to 100.")
    local = integer(od.get("consecutiveLocalOriginFailures"))
    if local and local > 0 and od.get("splitExternalLocalOriginErrors") is not True:
        yield Problem(f"{base}.consecutiveLocalOriginFailures", "local-origin failures count "
                      "only with splitExternalLocalOriginErrors: true", "Add "
                      "splitExternalLocalOriginErrors: true, or remove this field.")
    for field in ("baseEjectionTime", "interval"):
        yield from duration(od.get(field), f"{base}.{field}")


# -- ServiceEntry -----------------------------------------------------------------------------

def _service_entry(se: KObject) -> Iterator[Problem]:
    spec = se.spec
    resolution = spec.get("resolution", "NONE")
    hosts = [h for h in as_list(spec.get("hosts")) if isinstance(h, str)]
    if not as_list(spec.get("hosts")):
        yield Problem("spec.hosts" if "hosts" in spec else "spec", "the ServiceEntry has no "
                      "hosts", "List its hosts, e.g. hosts: [api.example.com].")
    for i, host in enumerate(hosts):
        found = "names every host" if host == "*" else domain_problem(host)
        if found:
            yield Problem(f"spec.hosts[{i}]", f"host '{host}' {found}",
                          "Write a DNS name such as api.example.com (or *.example.com).")
        elif resolution != "DYNAMIC_DNS" and partial_wildcard(host):
            yield Problem(f"spec.hosts[{i}]", f"host '{host}' has a partial wildcard",
                          "A wildcard is a whole first label: '*.example.com'.", warning=True)
    yield from _se_addresses(spec, resolution)
    yield from _se_ports(spec, resolution, hosts)
    endpoints = as_list(spec.get("endpoints"))
    if spec.get("workloadSelector") is not None and spec.get("endpoints") is not None:
        yield Problem("spec.workloadSelector", "a ServiceEntry may have a workloadSelector or "
                      "endpoints, not both", "Keep one of them.")
    if resolution == "NONE" and endpoints:
        yield Problem("spec.endpoints", "resolution NONE takes no endpoints",
                      "Remove the endpoints, or use resolution: STATIC or DNS.")
    elif resolution in ("DNS", "DNS_ROUND_ROBIN") and not endpoints:
        bad = next((h for h in hosts if fqdn_problem(h)), None)
        if bad is not None:
            yield Problem("spec.hosts", f"resolution {resolution} without endpoints needs DNS "
                          f"names, and '{bad}' is not one", "List plain DNS names, or add "
                          "endpoints, or use resolution: DYNAMIC_DNS for wildcards.")
    if resolution == "DNS_ROUND_ROBIN" and len(endpoints) > 1:
        yield Problem("spec.endpoints", "resolution DNS_ROUND_ROBIN takes at most one endpoint",
                      "Use resolution: DNS for several endpoints.")
    if resolution == "DYNAMIC_DNS":
        yield from _dynamic_dns(spec, hosts)
    elif isinstance(resolution, str) and resolution not in _SE_RESOLUTIONS:
        yield Problem("spec.resolution", f"resolution '{resolution}' is not supported",
                      "Use NONE, STATIC, DNS, DNS_ROUND_ROBIN or DYNAMIC_DNS.")
    yield from export_to(se.namespace, spec.get("exportTo"), "spec.exportTo",
                         service_entry=True)


def _se_addresses(spec: dict[str, Any], resolution: Any) -> Iterator[Problem]:
    for i, address in enumerate(as_list(spec.get("addresses"))):
        if not isinstance(address, str):
            continue
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            yield Problem(f"spec.addresses[{i}]", f"address '{address}' is not an IP address "
                          "or CIDR block", "Write an IP (10.0.0.5) or a CIDR (10.0.0.0/24).")
            continue
        if "/" in address and resolution not in ("NONE", "STATIC"):
            yield Problem(f"spec.addresses[{i}]", f"CIDR address '{address}' needs resolution "
                          "NONE or STATIC", "Use a single IP, or resolution: NONE.")


def _se_ports(spec: dict[str, Any], resolution: Any, hosts: list[str]) -> Iterator[Problem]:
    names: set[str] = set()
    numbers: set[int] = set()
    opaque = False
    for i, p in enumerate(as_list(spec.get("ports"))):
        entry, base = as_dict(p), f"spec.ports[{i}]"
        number = integer(entry.get("number"))
        yield from unique_name(entry.get("name"), names, f"{base}.name", "port")
        if number is not None and number in numbers:
            yield Problem(f"{base}.number", f"port {number} is defined twice",
                          "List each port number once.")
        if number is not None:
            numbers.add(number)
        yield from port(number, f"{base}.number")
        yield from port(entry.get("targetPort"), f"{base}.targetPort", "targetPort")
        proto = entry.get("protocol")
        parsed = protocols.parse(proto)
        if isinstance(proto, str) and proto and parsed is None:
            yield Problem(f"{base}.protocol", f"protocol '{proto}' is not supported",
                          "Use HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO, MYSQL or REDIS.")
        opaque = opaque or (parsed not in protocols.HTTP and parsed not in protocols.TLS)
    if resolution != "NONE" and len(hosts) > 1 and opaque:
        yield Problem("spec.hosts", "several hosts with a port that is neither HTTP nor TLS: "
                      "plain TCP cannot tell the hosts apart", "Use one ServiceEntry per "
                      "host, or HTTP/TLS ports, or resolution: NONE.")


def _dynamic_dns(spec: dict[str, Any], hosts: list[str]) -> Iterator[Problem]:
    for i, host in enumerate(hosts):
        if not host.startswith("*"):
            yield Problem(f"spec.hosts[{i}]", f"resolution DYNAMIC_DNS needs wildcard hosts, "
                          f"and '{host}' is none", "Write *.example.com, or use resolution: DNS.")
    for field in ("addresses", "endpoints"):
        if as_list(spec.get(field)):
            yield Problem(f"spec.{field}", f"resolution DYNAMIC_DNS takes no {field}",
                          f"Remove {field}.")
    for i, p in enumerate(as_list(spec.get("ports"))):
        if protocols.parse(as_dict(p).get("protocol")) not in _SE_DNS_PROTOCOLS:
            yield Problem(f"spec.ports[{i}].protocol", "resolution DYNAMIC_DNS serves only "
                          "HTTP, TLS, GRPC and HTTP2 ports", "Use one of those protocols.")


RULES: dict[str, Callable[[KObject], Iterator[Problem]]] = {
    "Gateway": _gateway, "VirtualService": virtual_service,
    "DestinationRule": _destination_rule, "ServiceEntry": _service_entry}
