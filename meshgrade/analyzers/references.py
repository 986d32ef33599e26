"""MG121-MG130: analogues of istioctl analyze over hosts, subsets, gateways and rules."""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..objects import KObject, selects
from ..results import CheckReport, Finding
from ..workloads import selected_groups
from .common import as_dict, as_list, finding, label_map
from .hosts import fqdn, resolve_entry, resolve_service, services_named, split_host
from .routed import route_ref, subset_routes
from .vsparts import (
    binds_mesh,
    destinations,
    gateway_refs,
    host_fits,
    server_hosts,
    split_gateway_ref,
)


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
    """MG121: every destination host is a Service or ServiceEntry; a given port exists."""
    findings: list[Finding] = []
    count = 0
    for vs in _vs_stages(ctx):
        for d in destinations(vs):
            if not isinstance(d.host, str):
                continue
            count += 1
            svc = resolve_service(ctx, d.host, vs.namespace)
            if svc is None:
                if resolve_entry(ctx, d.host) is None:
                    findings.append(finding("MG121", "host", vs, f"{d.path}.host", host=d.host,
                                            namespace=vs.namespace, guess=_guess(ctx, d.host)))
                continue
            ports = [as_dict(p).get("port") for p in as_list(svc.spec.get("ports"))]
            if d.port is not None and d.port not in ports:
                findings.append(finding("MG121", "port", vs, f"{d.path}.port.number",
                                        port=d.port, service=svc.name, ports=ports))
    return CheckReport.from_findings(findings, f"{count} destination host(s) resolve",
                                     parts=max(count, 1))


def _dr_for(ctx: Context, host: str, namespace: str) -> list[KObject]:
    """DestinationRules (latest) for the host a VirtualService in ``namespace`` names."""
    if "dr-by-host" not in ctx._cache:
        by_host: dict[str, list[KObject]] = {}
        for dr in ctx.index.latest("DestinationRule"):
            if isinstance(dr.spec.get("host"), str):
                by_host.setdefault(fqdn(dr.spec["host"], dr.namespace), []).append(dr)
        ctx._cache["dr-by-host"] = by_host
    return ctx._cache["dr-by-host"].get(fqdn(host, namespace), [])


def subset_names(dr: KObject) -> list[str]:
    return [str(as_dict(s).get("name")) for s in as_list(dr.spec.get("subsets"))]


def subset_defined(ctx: Context) -> CheckReport:
    """MG122: every destination subset is defined by a DestinationRule for that host."""
    findings: list[Finding] = []
    count = 0
    for vs in _vs_stages(ctx):
        for d in destinations(vs):
            if not isinstance(d.host, str) or d.subset is None:
                continue
            if resolve_service(ctx, d.host, vs.namespace) is None and \
                    resolve_entry(ctx, d.host) is None:
                continue  # MG121 reports the host
            count += 1
            drs = _dr_for(ctx, d.host, vs.namespace)
            known = sorted({n for dr in drs for n in subset_names(dr)})
            if str(d.subset) not in known:
                findings.append(finding(
                    "MG122", "undefined", vs, f"{d.path}.subset", subset=d.subset, host=d.host,
                    known=f" (defined: {', '.join(known)})" if known else ""))
    return CheckReport.from_findings(findings, f"{count} subset reference(s) defined",
                                     parts=max(count, 1))


def subset_selects_pods(ctx: Context) -> CheckReport:
    """MG123: each DestinationRule subset selects at least one pod of the host's Service."""
    findings: list[Finding] = []
    count = 0
    for dr in _own_latest(ctx, "DestinationRule"):
        host = dr.spec.get("host")
        svc = resolve_service(ctx, host, dr.namespace) if isinstance(host, str) else None
        if svc is None:
            continue
        behind = selected_groups(ctx.pods_in(svc.namespace),
                                 label_map(svc.spec.get("selector")), svc.namespace)
        for i, subset in enumerate(as_list(dr.spec.get("subsets"))):
            subset = as_dict(subset)
            labels = label_map(subset.get("labels"))
            count += 1
            if not any(selects(labels, g.label_map) for g in behind) if labels else not behind:
                versions = sorted({g.version for g in behind if g.version})
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
    drs = _own_latest(ctx, "DestinationRule")
    for dr in drs:
        host = dr.spec.get("host")
        if not isinstance(host, str):
            continue
        if resolve_service(ctx, host, dr.namespace) is None and resolve_entry(ctx, host) is None:
            findings.append(finding("MG124", "host", dr, "spec.host", host=host,
                                    namespace=dr.namespace, guess=_guess(ctx, host)))
    return CheckReport.from_findings(findings, f"{len(drs)} DestinationRule host(s) resolve",
                                     parts=max(len(drs), 1))


def _ingress_labels(ctx: Context) -> list[dict[str, str]]:
    wanted = ctx.settings.ingress_labels
    return [g.label_map for g in ctx.pods() if selects(wanted, g.label_map)] or [wanted]


def gateway_resolves(ctx: Context) -> CheckReport:
    """MG125: gateways named by VirtualServices exist; Gateways select the ingress pods."""
    findings: list[Finding] = []
    for vs in _vs_stages(ctx):
        for path, ref in gateway_refs(vs):
            if ref == "mesh":
                continue
            ns, name = split_gateway_ref(ref, vs.namespace)
            if ctx.index.get("Gateway", ns, name) is None:
                findings.append(finding("MG125", "missing", vs, path, gateway=ref, namespace=ns,
                                        name=name))
    ingress = _ingress_labels(ctx)
    bound = {split_gateway_ref(ref, vs.namespace)
             for vs in ctx.index.all_stages("VirtualService") for _p, ref in gateway_refs(vs)}
    for gw in _own_latest(ctx, "Gateway"):
        selector = label_map(gw.spec.get("selector"))
        if not any(selects(selector, labels) for labels in ingress):
            key = "selector" if (gw.namespace, gw.name) in bound else "selector-unused"
            findings.append(finding("MG125", key, gw, "spec.selector",
                                    selector=selector or "{}", labels=ingress[0]))
    return CheckReport.from_findings(findings, "gateway references resolve")


def gateway_routed(ctx: Context) -> CheckReport:
    """MG126: every Gateway is used by a VirtualService whose hosts fit its servers."""
    findings = []
    gateways = _own_latest(ctx, "Gateway")
    bound: dict[tuple[str, str], list[KObject]] = {}
    for vs in ctx.index.all_stages("VirtualService"):
        for _path, ref in gateway_refs(vs):
            bound.setdefault(split_gateway_ref(ref, vs.namespace), []).append(vs)
    for gw in gateways:
        hosts = server_hosts(gw)
        used = any(host_fits(str(h), g, vs.namespace)
                   for vs in bound.get((gw.namespace, gw.name), [])
                   for h in as_list(vs.spec.get("hosts")) for g in hosts)
        if not used:
            findings.append(finding("MG126", "unused", gw, "spec.servers", hosts=hosts or "none"))
    return CheckReport.from_findings(findings, f"{len(gateways)} Gateway(s) in use",
                                     parts=max(len(gateways), 1))


def _catch_all(rule: dict[str, Any]) -> bool:
    matches = rule.get("match")
    if matches is None or matches == []:
        return True
    for m in as_list(matches):
        m = as_dict(m)
        if not m:
            return True
        if set(m) == {"uri"} and as_dict(m["uri"]) in ({"prefix": "/"}, {"regex": ".*"}):
            return True
    return False


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
        catch = next((i for i, r in enumerate(rules) if _catch_all(r)), None)
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
    explicit = False
    for d in dests:
        if d.weight_path is None:
            continue
        explicit = True
        w = d.weight
        if not isinstance(w, int) or isinstance(w, bool):
            out.append(finding("MG128", "type", vs, d.weight_path, weight=w))
            continue
        if w < 0:
            out.append(finding("MG128", "negative", vs, d.weight_path, weight=w))
        total += w
    if out or (not explicit and len(dests) == 1):
        return out
    if total <= 0:
        out.append(finding("MG128", "zero", vs, f"{base}.route"))
    elif ctx.settings.weights_total_100 and total != 100:
        out.append(finding("MG128", "total", vs, f"{base}.route", total=total))
    return out


def single_vs_per_host(ctx: Context) -> CheckReport:
    """MG129: no two differently named VirtualServices claim one host in one scope."""
    findings: list[Finding] = []
    claims: dict[tuple[str, str], KObject] = {}
    for vs in ctx.index.latest("VirtualService"):
        scopes = ["mesh"] if binds_mesh(vs) else []
        scopes += ["/".join(split_gateway_ref(ref, vs.namespace))
                   for _p, ref in gateway_refs(vs) if ref != "mesh"]
        for i, host in enumerate(as_list(vs.spec.get("hosts"))):
            for scope in scopes:
                key = (scope, fqdn(str(host), vs.namespace))
                other = claims.get(key)
                if other is None:
                    claims[key] = vs
                elif vs.origin != "baseline":
                    findings.append(finding(
                        "MG129", "conflict" if scope == "mesh" else "conflict-gateway", vs,
                        f"spec.hosts[{i}]", host=host,
                        scope="mesh" if scope == "mesh" else f"gateway {scope}",
                        other=other.ref, where=other.where))
    return CheckReport.from_findings(findings, "one VirtualService per host")


def namespaces_consistent(ctx: Context) -> CheckReport:
    """MG130: references into another namespace say so explicitly, and resolve."""
    findings: list[Finding] = []
    for vs in _vs_stages(ctx):
        for d in destinations(vs):
            if isinstance(d.host, str):
                findings.extend(_short_host(ctx, vs, d.host, f"{d.path}.host"))
        for path, ref in gateway_refs(vs):
            if ref == "mesh" or "/" in ref or "." in ref:
                continue
            if ctx.index.get("Gateway", vs.namespace, ref) is None:
                found = sorted({g.namespace for g in ctx.index.latest("Gateway") if g.name == ref})
                if found:
                    findings.append(finding("MG130", "gateway", vs, path, gateway=ref,
                                            namespace=vs.namespace, found=found[0]))
    for dr in _own_latest(ctx, "DestinationRule"):
        host = dr.spec.get("host")
        if isinstance(host, str):
            findings.extend(_short_host(ctx, dr, host, "spec.host"))
    return CheckReport.from_findings(findings, "cross-namespace references are explicit")


def _short_host(ctx: Context, obj: KObject, host: str, path: str) -> list[Finding]:
    split = split_host(host, obj.namespace)
    if split is None or "." in host or resolve_service(ctx, host, obj.namespace) is not None:
        return []
    found = sorted({s.namespace for s in services_named(ctx, split[0])})
    if not found:
        return []
    return [finding("MG130", "short-host", obj, path, host=host, namespace=obj.namespace,
                    found=", ".join(found), fqdn=f"{split[0]}.{found[0]}.svc.cluster.local")]
