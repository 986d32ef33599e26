"""MG121-MG130: analogues of istioctl analyze over hosts, subsets, gateways and rules."""

from __future__ import annotations

from typing import Any

from ..grading.context import Context
from ..grading.results import CheckReport, Finding
from ..routing.mesh import Mesh, gateway_ref, hosts_overlap, share_clients
from ..submission.objects import KObject
from .common import as_dict, as_list, finding, label_map
from .gateways import internal_parent
from .routed import route_ref, subset_routes
from .vsparts import binds_mesh, catch_all, destinations, gateway_refs, server_hosts


def _vs_stages(ctx: Context) -> list[KObject]:
    return [o for o in ctx.index.all_stages("VirtualService") if o.origin != "baseline"]


def _own_latest(ctx: Context, kind: str) -> list[KObject]:
    return [o for o in ctx.index.latest(kind) if o.origin != "baseline"]


def _guess(ctx: Context, host: str) -> str:
    names = sorted({s.name for s in ctx.index.latest("Service")})
    import difflib

    close = difflib.get_close_matches(host.split(".")[0], names, n=1)
    return close[0] if close else (names[0] if names else "my-service")


def vs_host_resolves(ctx: Context) -> CheckReport:
    """MG121: every destination host is a Service or ServiceEntry that the VirtualService's
    clients see (exportTo); a given port exists."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for vs in _vs_stages(ctx):
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
                                        namespace=vs.namespace, guess=_guess(ctx, d.host)))
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


def subset_names(dr: KObject) -> list[str]:
    return [str(as_dict(s).get("name")) for s in as_list(dr.spec.get("subsets"))]


def subset_defined(ctx: Context) -> CheckReport:
    """MG122: every destination subset is defined by a DestinationRule for that host, one
    that the VirtualService's clients look up (exportTo; their namespace, the Service's,
    the root namespace)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for vs in _vs_stages(ctx):
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


def subset_selects_pods(ctx: Context) -> CheckReport:
    """MG123: each DestinationRule subset selects at least one pod of the host's Service
    (with the labels Istio adds to pods: topology of their node)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    count = 0
    for dr in _own_latest(ctx, "DestinationRule"):
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


def dr_host_resolves(ctx: Context) -> CheckReport:
    """MG124: every DestinationRule host resolves to a Service (or ServiceEntry)."""
    findings = []
    mesh = ctx.mesh()
    drs = _own_latest(ctx, "DestinationRule")
    for dr in drs:
        host = dr.spec.get("host")
        if not isinstance(host, str):
            continue
        if mesh.resolve(host, dr.namespace) is None and \
                mesh.hidden(host, dr.namespace, dr.namespace) is None:
            findings.append(finding("MG124", "host", dr, "spec.host", host=host,
                                    namespace=dr.namespace, guess=_guess(ctx, host)))
    return CheckReport.from_findings(findings, f"{len(drs)} DestinationRule host(s) resolve",
                                     parts=max(len(drs), 1))


def _bound(ctx: Context) -> dict[str, list[KObject]]:
    """``ns/name`` of a gateway -> the VirtualServices (every stage) bound to it."""
    out: dict[str, list[KObject]] = {}
    for vs in ctx.index.all_stages("VirtualService"):
        for _path, ref in gateway_refs(vs):
            out.setdefault(gateway_ref(ref, vs.namespace), []).append(vs)
    return out


def gateway_resolves(ctx: Context) -> CheckReport:
    """MG125: gateways named by VirtualServices exist (Istio or Gateway API Gateways);
    Istio Gateways select ingress pods (the configured labels or any ingress install)."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    for vs in _vs_stages(ctx):
        for path, ref in gateway_refs(vs):
            if ref != "mesh" and not internal_parent(ref) and \
                    mesh.gateway(ref, vs.namespace) is None:
                ns, _, name = gateway_ref(ref, vs.namespace).partition("/")
                findings.append(finding("MG125", "missing", vs, path, gateway=ref, namespace=ns,
                                        name=name))
    ingress = mesh.ingress_labels()
    bound = _bound(ctx)
    for gw in _own_latest(ctx, "Gateway"):
        if not mesh.selects_ingress(gw):
            key = "selector" if f"{gw.namespace}/{gw.name}" in bound else "selector-unused"
            findings.append(finding("MG125", key, gw, "spec.selector",
                                    selector=label_map(gw.spec.get("selector")) or "{}",
                                    labels=dict(ingress[0])))
    return CheckReport.from_findings(findings, "gateway references resolve")


def gateway_routed(ctx: Context) -> CheckReport:
    """MG126: every Gateway is used by a VirtualService whose hosts fit its servers (in the
    namespaces they take) and that is exported to the gateway proxies' namespace."""
    findings = []
    mesh = ctx.mesh()
    gateways = _own_latest(ctx, "Gateway")
    bound = _bound(ctx)
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


def _regexes(rule: dict[str, Any], base: str):
    for i, m in enumerate(as_list(rule.get("match"))):
        m = as_dict(m)
        for field in ("uri", "authority", "method", "scheme"):
            if isinstance(as_dict(m.get(field)).get("regex"), str):
                yield f"{base}.match[{i}].{field}.regex", m[field]["regex"]
        for group in ("headers", "queryParams", "withoutHeaders"):
            for name, cond in as_dict(m.get(group)).items():
                if isinstance(as_dict(cond).get("regex"), str):
                    yield f"{base}.match[{i}].{group}.{name}.regex", cond["regex"]


def routes_reachable(ctx: Context) -> CheckReport:
    """MG127: no rule is shadowed by an earlier catch-all; mesh routes have a default."""
    import re2

    findings: list[Finding] = []
    for vs in _vs_stages(ctx):
        rules = [as_dict(r) for r in as_list(vs.spec.get("http"))]
        catch = next((i for i, r in enumerate(rules) if catch_all(r)), None)
        if catch is not None:
            for i in range(catch + 1, len(rules)):
                findings.append(finding("MG127", "shadowed", vs, f"spec.http[{i}]",
                                        index=i, by=catch))
        elif rules and binds_mesh(vs):
            findings.append(finding("MG127", "no-default", vs, f"spec.http[{len(rules) - 1}]"))
        for i, rule in enumerate(rules):
            for path, pattern in _regexes(rule, f"spec.http[{i}]"):
                try:
                    re2.compile(pattern)
                except Exception as exc:  # re2.error, but the bindings vary
                    findings.append(finding("MG127", "bad-regex", vs, path, regex=pattern,
                                            error=str(exc) or "rejected"))
    return CheckReport.from_findings(findings, "every HTTP rule can be reached")


def weights_valid(ctx: Context) -> CheckReport:
    """MG128: weights are whole, non-negative, total above 0 (and 100 by convention)."""
    findings: list[Finding] = []
    for vs in _vs_stages(ctx):
        routes: dict[str, list[Any]] = {}
        for d in destinations(vs):
            if ".mirror" in d.path:
                continue
            base = d.path.rsplit(".route[", 1)[0]
            routes.setdefault(base, []).append(d)
        for base, dests in routes.items():
            findings.extend(_route_weights(ctx, vs, base, dests))
    return CheckReport.from_findings(findings, "route weights are valid")


def _route_weights(ctx: Context, vs: KObject, base: str, dests: list[Any]) -> list[Finding]:
    out = []
    total = 0
    for d in dests:
        if d.weight_path is None:
            continue
        w = d.weight
        if not isinstance(w, int) or isinstance(w, bool):
            out.append(finding("MG128", "type", vs, d.weight_path, weight=w))
            continue
        if w < 0:
            out.append(finding("MG128", "negative", vs, d.weight_path, weight=w))
        total += w
    if out or len(dests) == 1:  # a single destination takes every request, whatever its weight
        return out
    if total <= 0:
        out.append(finding("MG128", "zero", vs, f"{base}.route"))
    elif ctx.settings.weights_total_100 and total != 100:
        out.append(finding("MG128", "total", vs, f"{base}.route", total=total))
    return out


def single_vs_per_host(ctx: Context) -> CheckReport:
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


def namespaces_consistent(ctx: Context) -> CheckReport:
    """MG130: references into another namespace say so explicitly, and resolve."""
    findings: list[Finding] = []
    mesh = ctx.mesh()
    for vs in _vs_stages(ctx):
        for d in destinations(vs):
            if isinstance(d.host, str):
                findings.extend(_short_host(mesh, vs, d.host, f"{d.path}.host"))
        for path, ref in gateway_refs(vs):
            if ref == "mesh" or "/" in ref or "." in ref or mesh.gateway(ref, vs.namespace):
                continue
            found = sorted({ns for ns, name in [*mesh.gateways, *mesh.gateway_api] if name == ref})
            if found:
                findings.append(finding("MG130", "gateway", vs, path, gateway=ref,
                                        namespace=vs.namespace, found=found[0]))
    for dr in _own_latest(ctx, "DestinationRule"):
        host = dr.spec.get("host")
        if isinstance(host, str):
            findings.extend(_short_host(mesh, dr, host, "spec.host"))
    return CheckReport.from_findings(findings, "cross-namespace references are explicit")


def _short_host(mesh: Mesh, obj: KObject, host: str, path: str) -> list[Finding]:
    name = host.strip().lower()
    if not name or "." in name or "*" in name or mesh.service(host, obj.namespace) is not None:
        return []
    found = sorted({s.namespace for s in mesh.services_named(name)})
    if not found:
        return []
    return [finding("MG130", "short-host", obj, path, host=host, namespace=obj.namespace,
                    found=", ".join(found), fqdn=f"{name}.{found[0]}.svc.cluster.local")]
