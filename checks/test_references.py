"""MG121-MG138: every name a routing object uses resolves (hosts, subsets, gateways),
routes are reachable and weights valid, and Istio itself would accept each object."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import re2

from meshgrade.checklib.common import finding, label_map
from meshgrade.checklib.deprecated import deprecations
from meshgrade.checklib.destinations import (
    arrival_ports,
    one_version,
    rule_ports,
    service_ports,
    subset_rules,
)
from meshgrade.checklib.gateways import (
    Proxies,
    gateway_example,
    gateway_servers,
    internal_parent,
    istio_gateways,
    plain_http,
)
from meshgrade.checklib.matches import covers_http, covers_l4, normal_http, normal_l4, scan_matches
from meshgrade.checklib.references import (
    gateway_bindings,
    guess_service,
    own_latest,
    regexes,
    route_weights,
    short_host,
    subset_names,
    vs_stages,
)
from meshgrade.checklib.routed import route_ref, subset_routes
from meshgrade.checklib.vsparts import (
    binds_mesh,
    catch_all,
    destinations,
    gateway_refs,
    server_hosts,
)
from meshgrade.checklib.webhook import RULES
from meshgrade.grading.check import check
from meshgrade.grading.context import Context
from meshgrade.grading.results import CheckReport, Finding
from meshgrade.routing import protocols
from meshgrade.routing.mesh import gateway_ref, hosts_overlap, share_clients
from meshgrade.submission.kinds import GATEWAY_API_GROUP, ISTIO_GROUP
from meshgrade.submission.objects import KObject, as_dict, as_list, str_map


@check("MG121", points=1, reads=("repo", "cluster"),
       title="Every VirtualService destination host resolves to a Service, on an existing port")
def test_vs_host_resolves(ctx: Context) -> CheckReport:
    """MG121: every destination host is a Service or ServiceEntry that the VirtualService's
    clients see (exportTo); a given port exists."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for vs in vs_stages(ctx):
        clients = mesh.clients(vs)
        for d in destinations(vs):
            if not isinstance(d.host, str):
                continue
            count += 1
            backend = mesh.resolve(d.host, vs.namespace)
            hidden = [(c, h) for c in clients if (h := mesh.hidden(d.host, vs.namespace, c))]
            if hidden:
                client, target = hidden[0]
                findings.append(finding("MG121", "hidden", vs, f"{d.path}.host", host=d.host,
                                        target=target.ref, client=client))
                continue
            if backend is None:
                findings.append(finding("MG121", "host", vs, f"{d.path}.host", host=d.host,
                                        namespace=vs.namespace, guess=guess_service(ctx, d.host)))
                continue
            svc = backend.obj
            if svc.kind != "Service":
                continue
            ports = [as_dict(p).get("port") for p in as_list(svc.spec.get("ports"))]
            if d.port is not None and d.port not in ports:
                findings.append(finding("MG121", "port", vs, f"{d.path}.port.number",
                                        port=d.port, service=svc.name, ports=ports))
    return CheckReport.from_findings(findings, f"{count} destination host(s) resolve",
                                     parts=max(count, 1))


@check("MG122", points=2, reads=("repo", "cluster"),
       title="Every destination subset is defined by a DestinationRule for that host")
def test_subset_defined(ctx: Context) -> CheckReport:
    """MG122: every destination subset is defined by a DestinationRule for that host, one
    that the VirtualService's clients look up (exportTo; their namespace, the Service's,
    the root namespace)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for vs in vs_stages(ctx):
        clients = mesh.clients(vs) or [vs.namespace]
        for d in destinations(vs):
            if not isinstance(d.host, str) or d.subset is None:
                continue
            backend = mesh.resolve(d.host, vs.namespace)
            if backend is None:
                continue  # MG121 reports the host
            count += 1
            for client in clients:
                found = mesh.subset(backend.fqdn, backend.obj.namespace, client, str(d.subset))
                if found.labels is not None:
                    continue
                applied = mesh.destination_rules(backend.fqdn, backend.obj.namespace, client)
                known = sorted({n for dr in applied for n in subset_names(dr)})
                unseen = [dr for dr in mesh.rules_for(backend.fqdn)
                          if str(d.subset) in subset_names(dr)]
                if unseen:
                    findings.append(finding(
                        "MG122", "hidden", vs, f"{d.path}.subset", subset=d.subset, host=d.host,
                        dr=unseen[0].ref, client=client,
                        applied=f"; {found.dr.ref} applies there" if found.dr else ""))
                else:
                    findings.append(finding(
                        "MG122", "undefined", vs, f"{d.path}.subset", subset=d.subset,
                        host=d.host, known=f" (defined: {', '.join(known)})" if known else ""))
                break
    return CheckReport.from_findings(findings, f"{count} subset reference(s) defined",
                                     parts=max(count, 1))


@check("MG123", points=1, reads=("repo", "cluster"),
       title=(
           "Every DestinationRule subset that a route sends traffic to selects at least one pod "
           "of its host"))
def test_subset_selects_pods(ctx: Context) -> CheckReport:
    """MG123: each DestinationRule subset selects at least one pod of the host's Service
    (with the labels Istio adds to pods: topology of their node)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for dr in own_latest(ctx, "DestinationRule"):
        host = dr.spec.get("host")
        svc = mesh.service(host, dr.namespace) if isinstance(host, str) else None
        if svc is None:
            continue
        behind = mesh.endpoints(svc, ready=False)
        for i, subset in enumerate(as_list(dr.spec.get("subsets"))):
            subset = as_dict(subset)
            labels = label_map(subset.get("labels"))
            count += 1
            if not mesh.endpoints(svc, labels, ready=False):
                versions = sorted({v for g in behind if (v := g.labels.get("version"))})
                routes = subset_routes(ctx).get((svc.key, str(subset.get("name"))), [])
                findings.append(finding("MG123", "no-pods" if routes else "unrouted", dr,
                                        f"spec.subsets[{i}].labels",
                                        subset=subset.get("name"), labels=labels or "{}",
                                        service=svc.name,
                                        guess=versions[0] if versions else "v1",
                                        route=route_ref(routes[0]) if routes else ""))
    return CheckReport.from_findings(findings, f"{count - len(findings)} of {count} subset(s) "
                                     "select pods", parts=max(count, 1))


@check("MG124", points=1, reads=("repo", "cluster"),
       title="Every DestinationRule host resolves to a Service")
def test_dr_host_resolves(ctx: Context) -> CheckReport:
    """MG124: every DestinationRule host resolves to a Service (or ServiceEntry)."""
    findings = []
    mesh = ctx.mesh()
    drs = own_latest(ctx, "DestinationRule")
    for dr in drs:
        host = dr.spec.get("host")
        if not isinstance(host, str):
            continue
        if mesh.resolve(host, dr.namespace) is None and \
                mesh.hidden(host, dr.namespace, dr.namespace) is None:
            findings.append(finding("MG124", "host", dr, "spec.host", host=host,
                                    namespace=dr.namespace, guess=guess_service(ctx, host)))
    return CheckReport.from_findings(findings, f"{len(drs)} DestinationRule host(s) resolve",
                                     parts=max(len(drs), 1))


@check("MG125", points=1, reads=("repo", "cluster"),
       title="Every gateway a VirtualService names exists and selects the ingress gateway pods")
def test_gateway_resolves(ctx: Context) -> CheckReport:
    """MG125: gateways named by VirtualServices exist (Istio or Gateway API Gateways);
    Istio Gateways select ingress pods (the configured labels or any ingress install)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    for vs in vs_stages(ctx):
        for path, ref in gateway_refs(vs):
            if ref != "mesh" and not internal_parent(ref) and \
                    mesh.gateway(ref, vs.namespace) is None:
                ns, _, name = gateway_ref(ref, vs.namespace).partition("/")
                findings.append(finding("MG125", "missing", vs, path, gateway=ref, namespace=ns,
                                        name=name))
    ingress = mesh.ingress_labels()
    bound = gateway_bindings(ctx)
    for gw in own_latest(ctx, "Gateway"):
        if not mesh.selects_ingress(gw):
            key = "selector" if f"{gw.namespace}/{gw.name}" in bound else "selector-unused"
            findings.append(finding("MG125", key, gw, "spec.selector",
                                    selector=label_map(gw.spec.get("selector")) or "{}",
                                    labels=dict(ingress[0])))
    return CheckReport.from_findings(findings, "gateway references resolve")


@check("MG126", points=1, reads=("repo", "cluster"),
       title="Every Gateway is used by a VirtualService whose hosts fit its servers")
def test_gateway_routed(ctx: Context) -> CheckReport:
    """MG126: every Gateway is used by a VirtualService whose hosts fit its servers (in the
    namespaces they take) and that is exported to the gateway proxies' namespace."""
    findings = []
    mesh = ctx.mesh()
    gateways = own_latest(ctx, "Gateway")
    bound = gateway_bindings(ctx)
    for gw in gateways:
        proxies = mesh.gateway_namespaces(gw)
        used = any(mesh.gateway_accepts(gw, str(h), vs.namespace)
                   for vs in bound.get(f"{gw.namespace}/{gw.name}", [])
                   if any(mesh.visible(vs, ns) for ns in proxies)
                   for h in as_list(vs.spec.get("hosts")))
        if not used:
            findings.append(finding("MG126", "unused", gw, "spec.servers",
                                    hosts=server_hosts(gw) or "none"))
    return CheckReport.from_findings(findings, f"{len(gateways)} Gateway(s) in use",
                                     parts=max(len(gateways), 1))


@check("MG127", points=1, reads=("repo", "cluster"),
       title="No HTTP rule is shadowed, and mesh routes have a default rule")
def test_routes_reachable(ctx: Context) -> CheckReport:
    """MG127: no rule is shadowed by an earlier catch-all; mesh routes have a default."""
    findings: list[Finding] = []
    for vs in vs_stages(ctx):
        rules = [as_dict(r) for r in as_list(vs.spec.get("http"))]
        catch = next((i for i, r in enumerate(rules) if catch_all(r)), None)
        if catch is not None:
            for i in range(catch + 1, len(rules)):
                findings.append(finding("MG127", "shadowed", vs, f"spec.http[{i}]",
                                        index=i, by=catch))
        elif rules and binds_mesh(vs):
            findings.append(finding("MG127", "no-default", vs, f"spec.http[{len(rules) - 1}]"))
        for i, rule in enumerate(rules):
            for path, pattern in regexes(rule, f"spec.http[{i}]"):
                try:
                    re2.compile(pattern)
                except Exception as exc:  # re2.error, but the bindings vary
                    findings.append(finding("MG127", "bad-regex", vs, path, regex=pattern,
                                            error=str(exc) or "rejected"))
    return CheckReport.from_findings(findings, "every HTTP rule can be reached")


@check("MG128", points=1, reads=("repo", "cluster"),
       title="Route weights are non-negative and add up to 100")
def test_weights_valid(ctx: Context) -> CheckReport:
    """MG128: weights are whole, non-negative, total above 0 (and 100 by convention)."""
    findings: list[Finding] = []
    for vs in vs_stages(ctx):
        routes: dict[str, list[Any]] = {}
        for d in destinations(vs):
            if ".mirror" in d.path:
                continue
            base = d.path.rsplit(".route[", 1)[0]
            routes.setdefault(base, []).append(d)
        for base, dests in routes.items():
            findings.extend(route_weights(ctx, vs, base, dests))
    return CheckReport.from_findings(findings, "route weights are valid")


@check("MG129", points=1, reads=("repo", "cluster"),
       title="No two VirtualServices claim the same host for the same gateway or the mesh")
def test_single_vs_per_host(ctx: Context) -> CheckReport:
    """MG129: no two differently named VirtualServices claim one host in one scope: in the
    mesh, the same host in VirtualServices some namespace sees both of (overlapping hosts, a
    wildcard and a name it covers, are a warning: the most specific applies); at a gateway,
    one host that the gateway's servers take."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    claims: dict[str, list[tuple[str, KObject, int]]] = {}
    reported: set[tuple[str, tuple[str, str, str], int, str]] = set()
    for vs in ctx.index.latest("VirtualService"):
        scopes = ["mesh"] if binds_mesh(vs) else []
        scopes += [gateway_ref(ref, vs.namespace) for _p, ref in gateway_refs(vs) if ref != "mesh"]
        for i, host in enumerate(as_list(vs.spec.get("hosts"))):
            name = mesh.canonical(str(host), vs.namespace)
            for scope in scopes:
                gw = mesh.gateway(scope, vs.namespace) if scope != "mesh" else None
                if gw is not None and not mesh.gateway_accepts(gw, str(host), vs.namespace):
                    continue
                rivals = [(o, j, h == name) for h, o, j in claims.get(scope, ())
                          if (h == name if scope != "mesh" else
                              hosts_overlap(h, name) and share_clients(o, vs))]
                found = next((r for r in rivals if r[2]), None)
                if found is None:
                    claims.setdefault(scope, []).append((name, vs, i))
                    found = rivals[0] if rivals else None
                if found is None:
                    continue
                key = ("conflict" if scope == "mesh" else "conflict-gateway") if found[2] \
                    else "overlap"
                # both claimants are told (istioctl names both), each once per host and scope
                for obj, at, rival, theirs in ((vs, i, found[0], found[1]),
                                               (found[0], found[1], vs, i)):
                    if obj.origin == "baseline" or (scope, obj.key, at, key) in reported:
                        continue
                    reported.add((scope, obj.key, at, key))
                    findings.append(finding(
                        "MG129", key, obj, f"spec.hosts[{at}]",
                        host=as_list(obj.spec.get("hosts"))[at],
                        scope="mesh" if scope == "mesh" else f"gateway {scope}",
                        other=rival.ref, where=rival.where,
                        other_host=as_list(rival.spec.get("hosts"))[theirs]))
    return CheckReport.from_findings(findings, "one VirtualService per host")


@check("MG130", points=1, reads=("repo", "cluster"),
       title="Cross-namespace references are explicit and resolve")
def test_namespaces_consistent(ctx: Context) -> CheckReport:
    """MG130: references into another namespace say so explicitly, and resolve."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    for vs in vs_stages(ctx):
        for d in destinations(vs):
            if isinstance(d.host, str):
                findings.extend(short_host(mesh, vs, d.host, f"{d.path}.host"))
        for path, ref in gateway_refs(vs):
            if ref == "mesh" or "/" in ref or "." in ref or mesh.gateway(ref, vs.namespace):
                continue
            found = sorted({ns for ns, name in [*mesh.gateways, *mesh.gateway_api] if name == ref})
            if found:
                findings.append(finding("MG130", "gateway", vs, path, gateway=ref,
                                        namespace=vs.namespace, found=found[0]))
    for dr in own_latest(ctx, "DestinationRule"):
        host = dr.spec.get("host")
        if isinstance(host, str):
            findings.extend(short_host(mesh, dr, host, "spec.host"))
    return CheckReport.from_findings(findings, "cross-namespace references are explicit")


@check("MG131", points=0, reads=("repo", "cluster"),
       title=(
           "Istio's validation webhook accepts every Gateway, VirtualService, DestinationRule "
           "and ServiceEntry"))
def test_istio_accepts(ctx: Context) -> CheckReport:
    """MG131: every version of the student's Gateways, VirtualServices, DestinationRules and
    ServiceEntries passes the rules Istio's validating webhook applies beyond the schema."""
    findings: list[Finding] = []
    count = 0
    for obj in ctx.index.submitted:
        rules = RULES.get(obj.kind)
        if rules is None or obj.group != ISTIO_GROUP:
            continue
        count += 1
        for p in rules(obj):
            findings.append(finding("MG131", "warned" if p.warning else "rejected", obj, p.path,
                                    problem=p.text, hint=p.hint, kind=obj.kind))
    return CheckReport.from_findings(findings, f"Istio accepts {count} object(s)",
                                     parts=max(count, 1))


@check("MG132", points=0, reads=("repo", "cluster"),
       title="No deprecated Istio or Kubernetes fields, values or annotations")
def test_no_deprecated_fields(ctx: Context) -> CheckReport:
    """MG132: no deprecated Istio fields or annotations (istioctl's Deprecated, the webhook's
    deprecation warnings, DeprecatedAnnotation), nor deprecated Kubernetes fields."""
    findings: list[Finding] = []
    for obj in ctx.index.submitted:
        for key, path, field, instead in deprecations(obj):
            findings.append(finding("MG132", key, obj, path, field=field, instead=instead))
    return CheckReport.from_findings(findings, "no deprecated fields")


@check("MG133", points=0, reads=("repo", "cluster"),
       title="Every gateway a VirtualService binds serves one of its hosts")
def test_vs_hosts_in_gateway(ctx: Context) -> CheckReport:
    """MG133: every Gateway a VirtualService binds serves one of its hosts (istioctl's
    VirtualServiceHostNotFoundInGateway), and no VirtualService names the Gateway Istio
    generates for a Gateway API Gateway (ReferencedInternalGateway)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for vs in ctx.index.all_stages("VirtualService"):
        if vs.origin == "baseline":
            continue
        hosts = [h for h in as_list(vs.spec.get("hosts")) if isinstance(h, str)]
        for path, ref in gateway_refs(vs):
            parent = internal_parent(ref)
            gw = mesh.gateway(ref, vs.namespace) if ref != "mesh" and not parent else None
            if parent:
                findings.append(finding("MG133", "internal", vs, path, gateway=ref,
                                        parent=parent))
            if gw is None:
                continue
            count += 1
            if any(mesh.gateway_accepts(gw, h, vs.namespace) for h in hosts):
                continue
            served = list(dict.fromkeys(mesh.gateway_hosts(gw, vs.namespace)))
            api = gw.group == GATEWAY_API_GROUP
            findings.append(finding(
                "MG133", "no-host", vs, path, hosts=hosts or "none", gateway=gw.ref,
                namespace=vs.namespace, served=served or "none", example=gateway_example(served),
                where="the hostname of a listener" if api else "the hosts of a server"))
    return CheckReport.from_findings(findings, f"{count} gateway binding(s) serve their hosts")


@check("MG134", points=0, reads=("repo", "cluster"),
       title="Every Gateway server listens on a port that the ingress gateway's Service exposes")
def test_gateway_ports_exposed(ctx: Context) -> CheckReport:
    """MG134: every server port of a Gateway is a port or target port of a Service in
    front of the pods it selects (istioctl's GatewayPortNotDefinedOnService)."""
    findings: list[Finding] = []
    proxies = Proxies(ctx)
    gateways = istio_gateways(ctx, own=True)
    for gw in gateways:
        if not proxies.pods(gw):
            continue  # MG125: the selector picks no ingress pod
        services = proxies.services(gw)
        exposed: set[int] = set()
        for svc in services:
            for p in as_list(svc.spec.get("ports")):
                entry = as_dict(p)
                number, target = entry.get("port"), entry.get("targetPort")
                if str(entry.get("protocol") or "TCP").upper() != "TCP" or \
                        not isinstance(number, int):
                    continue
                exposed.add(number)
                if isinstance(target, int) and target:
                    exposed.add(target)
        selector = str_map(gw.spec.get("selector")) or "{}"
        for i, _server, number in gateway_servers(gw):
            if number is None or number in exposed:
                continue
            if not services:
                findings.append(finding("MG134", "no-service", gw, f"spec.servers[{i}].port",
                                        port=number, selector=selector))
                continue
            findings.append(finding(
                "MG134", "not-exposed", gw, f"spec.servers[{i}].port.number", port=number,
                services=[s.ref for s in services], selector=selector, ports=sorted(exposed),
                service=services[0].ref))
    return CheckReport.from_findings(findings, f"{len(gateways)} Gateway(s) listen on exposed "
                                     "ports")


@check("MG135", points=0, reads=("repo", "cluster"),
       title="No two Gateways claim the same host on the same port of the same ingress pods")
def test_gateways_distinct(ctx: Context) -> CheckReport:
    """MG135: no two Gateways of the same ingress pods claim one host on one port
    (istioctl's ConflictingGateways): Istio merges plain HTTP servers and drops the others."""
    findings: list[Finding] = []
    proxies = Proxies(ctx)
    claims: dict[tuple[int, str, str], list[tuple[KObject, bool]]] = defaultdict(list)
    for gw in istio_gateways(ctx, own=False):
        for _i, server, number in gateway_servers(gw):
            if not number:
                continue
            for host in {str(h) for h in as_list(server.get("hosts"))}:
                claims[(number, str(server.get("bind") or ""), host)].append(
                    (gw, plain_http(server)))
    for gw in istio_gateways(ctx, own=True):
        for i, server, number in gateway_servers(gw):
            clash: dict[str, tuple[list[str], bool]] = {}
            bind = str(server.get("bind") or "")
            for host in sorted({str(h) for h in as_list(server.get("hosts"))}):
                for other, plain in claims.get((number or 0, bind, host), ()):
                    if other.key != gw.key and proxies.shared(gw, other):
                        hosts, merged = clash.get(other.ref, ([], True))
                        clash[other.ref] = ([*hosts, host], merged and plain and
                                            plain_http(server))
            if clash:
                findings.append(finding(
                    "MG135", "merged" if all(m for _h, m in clash.values()) else "dropped",
                    gw, f"spec.servers[{i}]", port=number,
                    hosts=sorted({h for hs, _m in clash.values() for h in hs}),
                    others=sorted(clash), selector=str_map(gw.spec.get("selector")) or "{}"))
    return CheckReport.from_findings(findings, "no two Gateways claim one host and port")


@check("MG136", points=0, reads=("repo", "cluster"),
       title=(
           "No route rule or match is taken entirely by earlier ones (duplicate or covered "
           "matches)"))
def test_matches_effective(ctx: Context) -> CheckReport:
    """MG136: no HTTP, TCP or TLS rule or match of a VirtualService is taken entirely by
    earlier ones (istioctl's VirtualServiceUnreachableRule and VirtualServiceIneffectiveMatch,
    with covering prefixes, exact values and regexes, not only duplicates)."""
    findings: list[Finding] = []
    for vs in ctx.index.all_stages("VirtualService"):
        if vs.origin == "baseline":
            continue
        findings += scan_matches(vs, "http", normal_http, covers_http)
        for kind in ("tcp", "tls"):
            findings += scan_matches(vs, kind, normal_l4, covers_l4)
    return CheckReport.from_findings(findings, "every rule and match can apply")


@check("MG137", points=0, reads=("repo", "cluster"),
       title="Destinations on Services with several ports say which port")
def test_destination_ports_chosen(ctx: Context) -> CheckReport:
    """MG137: a destination on a Service or ServiceEntry with several ports names its port
    (istioctl's VirtualServiceDestinationPortSelectorRequired); without one, Istio uses the
    port the request arrived on, an error when the destination lacks that port."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    for vs in ctx.index.all_stages("VirtualService"):
        if vs.origin == "baseline":
            continue
        arrival = arrival_ports(mesh, vs)
        for d in destinations(vs):
            backend = mesh.resolve(d.host, vs.namespace) if isinstance(d.host, str) else None
            if d.port is not None or backend is None:
                continue
            entries = service_ports(backend.obj)
            ports = sorted({p["port"] for p in entries})
            if len(ports) < 2:
                continue
            web = [p["port"] for p in entries if protocols.of_service_port(p) in protocols.HTTP]
            suggest = web[0] if web and d.path.startswith("spec.http") else ports[0]
            arrive = sorted(rule_ports(vs, d.path) or arrival)
            missing = [p for p in arrive if p not in ports]
            fields = {"host": d.host, "target": backend.obj.ref, "ports": ports,
                      "first": suggest}
            if missing:
                findings.append(finding("MG137", "required", vs, d.path, **fields,
                                        arrive=missing))
            else:
                findings.append(finding("MG137", "ambiguous", vs, d.path, **fields,
                                        arrive=f" ({', '.join(map(str, arrive))})"
                                        if arrive else ""))
    return CheckReport.from_findings(findings, "destinations name their port where it matters")


@check("MG138", points=0, reads=("repo", "cluster"),
       title="Gateway routes pick a subset where the host's mesh routes do")
def test_ingress_subsets_chosen(ctx: Context) -> CheckReport:
    """MG138: a route of a gateway-bound VirtualService to a host whose mesh VirtualService
    routes by subset picks a subset too (istioctl's IngressRouteRulesNotAffected): the
    gateway applies only its own VirtualServices, so it reaches every pod of the host."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    split = subset_rules(ctx, mesh)
    for vs in ctx.index.all_stages("VirtualService"):
        gateways = [ref for _p, ref in gateway_refs(vs) if ref != "mesh"]
        if vs.origin == "baseline" or not gateways:
            continue
        for d in destinations(vs):
            backend = mesh.resolve(d.host, vs.namespace) if isinstance(d.host, str) else None
            if d.subset is not None or backend is None or not d.path.startswith("spec.http"):
                continue
            others = [(w, s) for w, s in split.get(backend.fqdn, []) if w.key != vs.key]
            if not others:
                continue
            other, subsets = others[0]
            same = one_version(mesh, backend.obj, other, backend.fqdn, subsets)
            findings.append(finding("MG138", "same" if same else "bypassed", vs, d.path,
                                    gateway=gateways[0], host=d.host, other=other.ref,
                                    subsets=subsets, subset=subsets[0]))
    return CheckReport.from_findings(findings, "gateway routes pick versions as the mesh does")
