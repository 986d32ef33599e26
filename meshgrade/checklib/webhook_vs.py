"""The rules Istio's validating webhook applies to a VirtualService beyond its schema
(``ValidateVirtualService`` and ``validateHTTPRoute`` of ``pkg/config/validation``), for MG131.
Weights and regex syntax are MG128's and MG127's; JWT claim routes are out of scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..routing.mesh import hosts_overlap
from ..submission import paths
from ..submission.objects import KObject, as_dict, as_list
from .istiofields import (
    Problem,
    destination,
    domain_problem,
    duration,
    export_to,
    gateway_names,
    integer,
    is_ip,
    percentage,
    port,
    string_match,
)

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~A-Za-z0-9]+")
_PSEUDO = frozenset({":method", ":scheme", ":authority", ":path", ":status"})
_CORS_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT",
                           "OPTIONS", "TRACE", "*"})
_RETRY_ON = frozenset({
    "5xx", "gateway-error", "reset", "connect-failure", "envoy-ratelimited", "retriable-4xx",
    "refused-stream", "retriable-status-codes", "retriable-headers", "reset-before-request",
    "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal",
    "resource-exhausted", "unavailable"})
_GRPC_STATUS = frozenset({
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED"})
_ROUTE_HINT = "Give the rule a route: [{destination: {host: ...}}], or a redirect, or a " \
              "directResponse."


def virtual_service(vs: KObject) -> Iterator[Problem]:
    """What the webhook says of a VirtualService: hosts, gateways, rules, exportTo."""
    spec = vs.spec
    hosts = [h for h in as_list(spec.get("hosts")) if isinstance(h, str)]
    gateways = [g for g in as_list(spec.get("gateways")) if isinstance(g, str)]
    if not as_list(spec.get("hosts")):
        for field in ("gateways", "tls", "tcp"):
            if as_list(spec.get(field)):
                yield Problem(f"spec.{field}", f"a VirtualService without hosts is a delegate, "
                              f"which may not have {field}", "Add hosts: [...], or remove "
                              f"'{field}' from this delegate.")
    yield from gateway_names(spec.get("gateways"), "spec.gateways")
    mesh = not gateways or "mesh" in gateways
    yield from _hosts(hosts, mesh)
    if not any(as_list(spec.get(k)) for k in ("http", "tcp", "tls")):
        yield Problem("spec", "the VirtualService has no http, tcp or tls rule",
                      "Add http: [{route: [{destination: {host: ...}}]}].")
    for i, rule in enumerate(as_list(spec.get("http"))):
        yield from _http_rule(as_dict(rule), f"spec.http[{i}]", delegate=not hosts)
    for kind in ("tcp", "tls"):
        for i, rule in enumerate(as_list(spec.get(kind))):
            yield from _l4_rule(as_dict(rule), f"spec.{kind}[{i}]", kind, hosts)
    yield from export_to(vs.namespace, spec.get("exportTo"), "spec.exportTo")


def _hosts(hosts: list[str], mesh: bool) -> Iterator[Problem]:
    valid = True
    for i, host in enumerate(hosts):
        found = domain_problem(host)
        if found and not is_ip(host):
            valid = False
            yield Problem(f"spec.hosts[{i}]", f"host '{host}' {found}", "Write a Service name "
                          "(reviews), an FQDN or a wildcard such as *.example.com, without "
                          "scheme, port or path.")
        elif mesh and host == "*":
            valid = False
            yield Problem(f"spec.hosts[{i}]", "host '*' is not allowed for a VirtualService "
                          "bound to the mesh (no gateways, or 'mesh')", "Name the Service "
                          "(e.g. hosts: [reviews]), or bind the VirtualService to a Gateway "
                          "with gateways: [my-gateway].")
    for i, a in enumerate(hosts if valid else []):
        for b in hosts[i + 1:]:
            if hosts_overlap(a, b):
                yield Problem(f"spec.hosts[{i}]", f"hosts '{a}' and '{b}' overlap",
                              "List each host once; a wildcard already covers the names it "
                              "matches.")


def _http_rule(rule: dict[str, Any], base: str, delegate: bool) -> Iterator[Problem]:
    yield from _actions(rule, base, delegate)
    for j, match in enumerate(as_list(rule.get("match"))):
        yield from _match(as_dict(match), f"{base}.match[{j}]")
    if rule.get("fault") is not None:
        yield from _fault(as_dict(rule.get("fault")), f"{base}.fault")
    yield from _mirrors(rule, base)
    yield from _redirect(rule, base)
    direct = as_dict(rule.get("directResponse"))
    status = integer(direct.get("status"))
    if status is not None and not 200 <= status <= 600:
        yield Problem(f"{base}.directResponse.status", f"status {status} is not in 200-599",
                      "Give an HTTP status such as 200, 404 or 503.")
    yield from _retries(as_dict(rule.get("retries")), f"{base}.retries")
    yield from _rewrite(rule, base)
    yield from _cors(as_dict(rule.get("corsPolicy")), f"{base}.corsPolicy")
    yield from duration(rule.get("timeout"), f"{base}.timeout")
    yield from _header_ops(rule.get("headers"), f"{base}.headers")
    for j, route in enumerate(as_list(rule.get("route"))):
        here = f"{base}.route[{j}]"
        if isinstance(route, dict) and "destination" not in route:
            yield Problem(here, "route entry has no destination",
                          "Give it destination: {host: ...}.")
        yield from destination(as_dict(route).get("destination"), f"{here}.destination")
        yield from _header_ops(as_dict(route).get("headers"), f"{here}.headers")


def _actions(rule: dict[str, Any], base: str, delegate: bool) -> Iterator[Problem]:
    """One of route, redirect, directResponse (or delegate); what each excludes."""
    has = {k for k in ("redirect", "directResponse", "fault", "rewrite", "delegate")
           if rule.get(k) is not None} | ({"route"} if as_list(rule.get("route")) else set())
    if "delegate" in has and not delegate:
        for k in sorted(has & {"route", "redirect"}):
            yield Problem(f"{base}.{k}", f"a rule with a delegate may not have {k}",
                          "Keep the delegate and move the routes into the delegate "
                          "VirtualService.")
        return
    if "delegate" in has:
        yield Problem(f"{base}.delegate", "a delegate VirtualService may not delegate again",
                      "Route here instead of delegating.")
    action = next((k for k in ("redirect", "directResponse") if k in has), None)
    if action is not None:
        for k in ("route", "fault", "rewrite", "redirect", "directResponse"):
            if k in has and k != action:
                yield Problem(f"{base}.{k}", f"a rule with {action} may not have {k}",
                              f"Split it into two rules, or remove {k} or {action}.")
    elif "route" not in has and "delegate" not in has:
        yield Problem(base, "the rule has no route, redirect or directResponse", _ROUTE_HINT)
    if rule.get("mirror") is not None and as_list(rule.get("mirrors")):
        yield Problem(f"{base}.mirrors", "a rule may not have both mirror and mirrors",
                      "Move the mirror into mirrors: [{destination: ...}].")


def _header_name(name: str, path: str) -> Iterator[Problem]:
    if not name:
        yield Problem(path, "header name is empty", "Name the header, e.g. end-user.")
    elif name not in _PSEUDO and not name.startswith("@request.auth.claims") and \
            not _HEADER_NAME.fullmatch(name):
        yield Problem(path, f"header name '{name}' is not a valid HTTP header name",
                      "Use letters, digits and '-' (e.g. end-user, x-version).")


def _match(match: dict[str, Any], base: str) -> Iterator[Problem]:
    for group, nullable in (("headers", False), ("withoutHeaders", True)):
        for name, cond in as_dict(match.get(group)).items():
            here = paths.join(f"{base}.{group}", str(name))
            yield from _header_name(str(name), here)
            if cond is None and not nullable:
                yield Problem(here, f"header match '{name}' has no condition",
                              "Give a condition such as {exact: jason}, or {} for 'present'.")
            if as_dict(cond).get("regex") != "*":
                yield from string_match(cond, here)
    yield from string_match(match.get("uri"), f"{base}.uri", prefix_rule=False)
    for field in ("scheme", "method", "authority"):
        yield from string_match(match.get(field), f"{base}.{field}")
    for name, cond in as_dict(match.get("queryParams")).items():
        yield from string_match(cond, paths.join(f"{base}.queryParams", str(name)))
    yield from port(match.get("port"), f"{base}.port")
    yield from gateway_names(match.get("gateways"), f"{base}.gateways")
    source = match.get("sourceNamespace")
    if isinstance(source, str) and source and not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?",
                                                               source):
        yield Problem(f"{base}.sourceNamespace", f"sourceNamespace '{source}' is not a "
                      "namespace name", "Write the namespace's name, e.g. default.")


def _fault(fault: dict[str, Any], base: str) -> Iterator[Problem]:
    abort, delay = as_dict(fault.get("abort")), as_dict(fault.get("delay"))
    if not abort and not delay:
        yield Problem(base, "fault injection has neither abort nor delay",
                      "Add abort: {httpStatus: 503, percentage: {value: 10}} or delay: "
                      "{fixedDelay: 2s, percentage: {value: 10}}.")
    for part, spec in (("abort", abort), ("delay", delay)):
        yield from percentage(spec.get("percentage"), f"{base}.{part}.percentage")
    if abort:
        status = integer(abort.get("httpStatus"))
        kinds = [k for k in ("httpStatus", "grpcStatus", "http2Error") if k in abort]
        if not kinds:
            yield Problem(f"{base}.abort", "abort has no httpStatus or grpcStatus",
                          "Add httpStatus: 503 (or another status).", warning=True)
        elif status is not None and not 200 <= status <= 600:
            yield Problem(f"{base}.abort.httpStatus", f"httpStatus {status} is not in "
                          "200-599", "Use an HTTP status such as 503 or 500.")
        elif "http2Error" in kinds:
            yield Problem(f"{base}.abort.http2Error", "http2Error aborts are not supported",
                          "Use httpStatus or grpcStatus.")
        grpc = abort.get("grpcStatus")
        if isinstance(grpc, str) and grpc not in _GRPC_STATUS:
            yield Problem(f"{base}.abort.grpcStatus", f"grpcStatus '{grpc}' is not a gRPC "
                          "status name", "Use a name such as UNAVAILABLE or NOT_FOUND.")
    if "exponentialDelay" in delay:
        yield Problem(f"{base}.delay.exponentialDelay", "exponentialDelay is not supported",
                      "Use fixedDelay.")
    yield from duration(delay.get("fixedDelay"), f"{base}.delay.fixedDelay")


def _mirrors(rule: dict[str, Any], base: str) -> Iterator[Problem]:
    yield from destination(rule.get("mirror"), f"{base}.mirror")
    value = integer(rule.get("mirrorPercent"))
    if value is not None and value > 100:
        yield Problem(f"{base}.mirrorPercent", f"mirrorPercent {value} is above 100",
                      "Use mirrorPercentage: {value: N} with N from 0 to 100.")
    yield from percentage(rule.get("mirrorPercentage"), f"{base}.mirrorPercentage")
    for j, mirror in enumerate(as_list(rule.get("mirrors"))):
        here = f"{base}.mirrors[{j}]"
        if isinstance(mirror, dict) and "destination" not in mirror:
            yield Problem(here, "mirror has no destination", "Give it destination: {host: ...}.")
        yield from destination(as_dict(mirror).get("destination"), f"{here}.destination")
        yield from percentage(as_dict(mirror).get("percentage"), f"{here}.percentage")


def _redirect(rule: dict[str, Any], base: str) -> Iterator[Problem]:
    if rule.get("redirect") is None:
        return
    red, here = as_dict(rule.get("redirect")), f"{base}.redirect"
    if red.get("uri") and red.get("prefixRewrite"):
        yield Problem(here, "redirect has both uri and prefixRewrite", "Keep one of them.")
    if red.get("prefixRewrite") and any(
            "uri" in as_dict(m) and "prefix" not in as_dict(as_dict(m).get("uri"))
            for m in as_list(rule.get("match"))):
        yield Problem(f"{here}.prefixRewrite", "prefixRewrite needs every uri match of the "
                      "rule to be a prefix match", "Match with uri: {prefix: ...}, or "
                      "redirect with uri.")
    if not any(red.get(k) for k in ("uri", "prefixRewrite", "authority", "port", "scheme",
                                    "derivePort")):
        yield Problem(here, "redirect says neither uri, prefixRewrite, authority, scheme nor "
                      "port", "Say where to redirect, e.g. redirect: {uri: /new}.")
    code = integer(red.get("redirectCode"))
    if code and not 300 <= code <= 399:
        yield Problem(f"{here}.redirectCode", f"redirectCode {code} is not 3xx",
                      "Use 301, 302, 307 or 308.")
    scheme = red.get("scheme")
    if isinstance(scheme, str) and scheme and scheme not in ("http", "https"):
        yield Problem(f"{here}.scheme", f"redirect scheme '{scheme}' is not http or https",
                      "Write scheme: https (or http).")
    yield from port(red.get("port"), f"{here}.port")


def _retries(retries: dict[str, Any], base: str) -> Iterator[Problem]:
    attempts = integer(retries.get("attempts"))
    if attempts is not None and attempts < 0:
        yield Problem(f"{base}.attempts", "attempts is negative", "Use attempts: 0 or more.")
    if attempts == 0 and any(k in retries for k in ("perTryTimeout", "retryOn",
                                                    "retryRemoteLocalities")):
        yield Problem(f"{base}.attempts", "retries are disabled (attempts: 0) but a retry "
                      "policy is set", "Set attempts above 0, or remove the retry policy.")
    retry_on = retries.get("retryOn")
    for policy in retry_on.split(",") if isinstance(retry_on, str) and retry_on else []:
        if policy not in _RETRY_ON and not (policy.isdigit() and 100 <= int(policy) <= 599):
            yield Problem(f"{base}.retryOn", f"'{policy}' is not a retryOn policy",
                          "Use Envoy's policies, e.g. retryOn: 5xx,gateway-error,reset.")
    yield from duration(retries.get("perTryTimeout"), f"{base}.perTryTimeout")


def _rewrite(rule: dict[str, Any], base: str) -> Iterator[Problem]:
    if rule.get("rewrite") is None:
        return
    rew, here = as_dict(rule.get("rewrite")), f"{base}.rewrite"
    regex = rew.get("uriRegexRewrite")
    if rew.get("uri") and regex is not None:
        yield Problem(here, "rewrite has both uri and uriRegexRewrite", "Keep one of them.")
    if not rew.get("uri") and regex is None and not rew.get("authority"):
        yield Problem(here, "rewrite says neither uri, uriRegexRewrite nor authority",
                      "Say what to rewrite, e.g. rewrite: {uri: /}.")
    if regex is not None and not (as_dict(regex).get("match") and as_dict(regex).get(
            "rewrite")):
        yield Problem(f"{here}.uriRegexRewrite", "uriRegexRewrite needs match and rewrite",
                      "Give both, e.g. {match: ^/old/(.*), rewrite: /new/\\1}.")
    headers = as_dict(as_dict(rule.get("headers")).get("request"))
    set_host = [k for part in ("set", "add") for k in as_dict(headers.get(part))
                if str(k).lower() in ("host", ":authority")]
    if len(set_host) + bool(rew.get("authority")) > 1:
        yield Problem(here, "the authority is set more than once (rewrite.authority and "
                      "headers)", "Set the authority in one place: rewrite: {authority: ...}.")


def _cors(cors: dict[str, Any], base: str) -> Iterator[Problem]:
    for j, method in enumerate(as_list(cors.get("allowMethods"))):
        if isinstance(method, str) and method not in _CORS_METHODS:
            yield Problem(f"{base}.allowMethods[{j}]", f"'{method}' is not an HTTP method",
                          "Use upper-case methods such as GET, POST or '*'.")
    for j, origin in enumerate(as_list(cors.get("allowOrigins"))):
        spec = as_dict(origin)
        if not any(isinstance(spec.get(k), str) and spec.get(k) for k in
                   ("exact", "prefix", "regex")):
            yield Problem(f"{base}.allowOrigins[{j}]", "allowed origin is empty",
                          "Give an origin, e.g. {exact: https://example.com}.")


def _header_ops(value: Any, base: str) -> Iterator[Problem]:
    for side in ("request", "response"):
        ops = as_dict(as_dict(value).get(side))
        for op in ("set", "add", "remove"):
            names = as_dict(ops.get(op)) if op != "remove" else {
                n: None for n in as_list(ops.get(op)) if isinstance(n, str)}
            for name in names:
                text = str(name)
                authority = side == "request" and op != "remove" and \
                    text.lower() in ("host", ":authority")
                if not text or (text.startswith(":") or text.lower() == "host") and \
                        not authority:
                    yield Problem(paths.join(f"{base}.{side}.{op}", text),
                                  f"header '{text}' may not be {op}", "Change ordinary "
                                  "headers here; rewrite the host with rewrite: {authority}.")


def _l4_rule(rule: dict[str, Any], base: str, kind: str, hosts: list[str]
             ) -> Iterator[Problem]:
    matches = as_list(rule.get("match"))
    if kind == "tls" and not matches:
        yield Problem(base, "a tls rule needs a match (sniHosts)", "Add match: [{sniHosts: "
                      "[your.host.example.com]}].")
    for j, match in enumerate(matches):
        spec, here = as_dict(match), f"{base}.match[{j}]"
        yield from port(spec.get("port"), f"{here}.port")
        yield from gateway_names(spec.get("gateways"), f"{here}.gateways")
        if kind != "tls":
            continue
        sni = [s for s in as_list(spec.get("sniHosts")) if isinstance(s, str)]
        if not sni:
            yield Problem(here, "a tls match needs sniHosts", "Add sniHosts: [the host "
                          "clients ask for].")
        for k, name in enumerate(sni):
            if not any(name == h or (h.startswith("*") and name.endswith(h[1:]))
                       for h in hosts):
                yield Problem(f"{here}.sniHosts[{k}]", f"SNI host '{name}' is none of the "
                              f"VirtualService's hosts {hosts}", "Use one of spec.hosts (or "
                              "a name a wildcard host covers).")
    if not as_list(rule.get("route")):
        yield Problem(base, f"the {kind} rule has no route",
                      "Add route: [{destination: {host: ..., port: {number: ...}}}].")
    for j, route in enumerate(as_list(rule.get("route"))):
        yield from destination(as_dict(route).get("destination"),
                               f"{base}.route[{j}].destination")
