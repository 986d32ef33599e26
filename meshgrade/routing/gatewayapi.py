"""Kubernetes Gateway API: Gateways, HTTPRoutes attached to them, and GAMMA mesh routes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..submission.kinds import GATEWAY_API_GROUP as GROUP
from ..submission.objects import KObject, as_list
from .match import REDIRECT_CODES, Ctx, route_match, route_precedence
from .mesh import Mesh, best_match, host_matches, specificity, svc_fqdn
from .request import Acc, Target, spread

Ref = Mapping[str, Any]


def _route_age(route: KObject) -> tuple[str, str, str]:
    """Oldest first (creationTimestamp), then alphabetical ``namespace/name``."""
    stamp = route.metadata.get("creationTimestamp")
    return (str(stamp) if stamp else "", route.namespace, route.name)


class GatewayApi:
    """Index of Gateway API Gateways and HTTPRoutes, by parent Gateway and parent Service."""

    def __init__(self, mesh: Mesh, gateways: Iterable[KObject], routes: Iterable[KObject]):
        self.mesh = mesh
        self.gateways = {(g.namespace, g.name): g for g in gateways}
        self.by_gateway: dict[tuple[str, str], list[tuple[KObject, Ref]]] = defaultdict(list)
        self.by_service: dict[tuple[str, str], list[tuple[KObject, Ref]]] = defaultdict(list)
        for route in sorted(routes, key=_route_age):
            for ref in as_list(route.spec.get("parentRefs")):
                if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
                    continue
                key = (str(ref.get("namespace") or route.namespace), ref["name"])
                group, kind = ref.get("group", GROUP), ref.get("kind", "Gateway")
                if kind == "Gateway" and group == GROUP:
                    self.by_gateway[key].append((route, ref))
                elif kind == "Service" and group in ("", "core"):
                    self.by_service[key].append((route, ref))

    # -- attachment -------------------------------------------------------------------------

    def _allowed(self, gw: KObject, listener: Mapping[str, Any], route_ns: str) -> bool:
        allowed = listener.get("allowedRoutes")
        spaces = allowed.get("namespaces") if isinstance(allowed, Mapping) else None
        source = spaces.get("from", "Same") if isinstance(spaces, Mapping) else "Same"
        if source == "All":
            return True
        if source == "Selector":
            selector = spaces.get("selector") if isinstance(spaces, Mapping) else None
            want = selector.get("matchLabels") if isinstance(selector, Mapping) else None
            have = self.mesh.namespace_labels.get(
                route_ns, {"kubernetes.io/metadata.name": route_ns})
            return isinstance(want, Mapping) and all(have.get(str(k)) == str(v)
                                                     for k, v in want.items())
        return route_ns == gw.namespace

    @staticmethod
    def _host_score(listener: Mapping[str, Any], route: KObject, host: str) -> int | None:
        """Specificity of the virtual host the request lands in, or None if it does not fit."""
        lhost = listener.get("hostname")
        if isinstance(lhost, str) and lhost and not host_matches(lhost.lower(), host):
            return None
        score = specificity(lhost.lower()) if isinstance(lhost, str) and lhost else 0
        names = [str(h).lower() for h in as_list(route.spec.get("hostnames"))]
        if names:
            found = best_match(names, host)
            if found is None:
                return None
            score = max(score, found)
        return score

    def at_ingress(self, ctx: Ctx, acc: Acc, share: float,
                   port_ok: Callable[[object], bool]) -> bool:
        """Route through a Gateway API Gateway; False if no attached route takes the host."""
        host = ctx.request.hostname
        found: list[tuple[int, KObject]] = []
        for key, gw in self.gateways.items():
            listeners = [(i, ln) for i, ln in enumerate(as_list(gw.spec.get("listeners")))
                         if isinstance(ln, Mapping) and str(ln.get("protocol")) == "HTTP"
                         and port_ok(ln.get("port"))]
            for route, ref in self.by_gateway.get(key, ()):
                for i, ln in listeners:
                    if ref.get("sectionName") not in (None, ln.get("name")):
                        continue
                    if ref.get("port") not in (None, ln.get("port")):
                        continue
                    score = self._host_score(ln, route, host) if self._allowed(
                        gw, ln, route.namespace) else None
                    if score is not None:
                        found.append((score, route))
                        acc.note(gw, f"spec.listeners[{i}]", f"accepts HTTPRoute {route.name}")
                        break
        if not found:
            return False
        top = max(score for score, _ in found)
        routes = sorted({id(r): r for s, r in found if s == top}.values(), key=_route_age)
        self.evaluate(routes, ctx, acc, share)
        return True

    def for_service(self, svc: KObject, port: int | None, ctx: Ctx, acc: Acc,
                    share: float) -> bool:
        """GAMMA: routes whose parent is the Service; consumer routes (in the caller's
        namespace) take precedence over producer routes (in the Service's namespace)."""
        attached = [r for r, ref in self.by_service.get((svc.namespace, svc.name), ())
                    if ref.get("port") in (None, port)]
        consumer = [r for r in attached
                    if r.namespace == ctx.source_ns and r.namespace != svc.namespace]
        routes = consumer or [r for r in attached if r.namespace == svc.namespace]
        if not routes:
            return False
        self.evaluate(list(dict.fromkeys(routes)), ctx, acc, share)
        return True

    # -- rules ------------------------------------------------------------------------------

    def evaluate(self, routes: list[KObject], ctx: Ctx, acc: Acc, share: float) -> None:
        """Across all rules of all routes: the most precise match wins (see match.py)."""
        for i, j, route, rule, m in ordered_matches(routes):
            if route_match(m, ctx):
                path = f"spec.rules[{i}]"
                acc.note(route, f"{path}.matches[{j}]" if rule.get("matches") else path,
                         "matched")
                self.apply(route, path, rule, ctx, acc, share)
                return
        acc.fail(404, "no HTTPRoute rule matched", share, routes[0], "spec.rules")

    def apply(self, route: KObject, path: str, rule: Mapping[str, Any], ctx: Ctx, acc: Acc,
              share: float) -> None:
        for k, f in enumerate(as_list(rule.get("filters"))):
            if isinstance(f, Mapping) and f.get("type") == "RequestRedirect":
                spec = f.get("requestRedirect")
                code = spec.get("statusCode", 302) if isinstance(spec, Mapping) else 302
                if not (isinstance(code, (int, float)) and code in REDIRECT_CODES):
                    code = 302
                acc.add(Target(int(code), reason="redirect"), share)
                acc.note(route, f"{path}.filters[{k}]", f"redirect {code}")
                return
        refs = [r for r in as_list(rule.get("backendRefs")) if isinstance(r, Mapping)]
        weights = [r.get("weight", 1) for r in refs]
        weights = [w if isinstance(w, int) and not isinstance(w, bool) and w > 0 else 0
                   for w in weights]
        total = sum(weights)
        if total == 0:
            why = "no backendRefs" if not refs else "backendRefs weights total 0"
            acc.fail(500, why, share, route, f"{path}.backendRefs")
            return
        for n, (ref, weight) in enumerate(zip(refs, weights, strict=True)):
            if weight:
                self._backend(route, f"{path}.backendRefs[{n}]", ref, acc, share * weight / total)

    def _backend(self, route: KObject, path: str, ref: Ref, acc: Acc, share: float) -> None:
        ns = str(ref.get("namespace") or route.namespace)
        name = str(ref.get("name"))
        group, kind = ref.get("group", ""), ref.get("kind", "Service")
        svc = self.mesh.services.get(svc_fqdn(name, ns))
        if kind != "Service" or group not in ("", "core") or svc is None:
            acc.fail(500, f"backend {kind} {ns}/{name} not found", share, route, path)
            return
        pods = self.mesh.endpoints(svc)
        if not pods:
            acc.fail(503, f"Service {ns}/{name} selects no ready pods", share, route, path)
            return
        acc.note(route, path, f"-> {ns}/{name}: {share:.4g}")
        spread(acc, svc, pods, share)


def ordered_matches(routes: list[KObject]) -> list[tuple[int, int, KObject, Any, Any]]:
    """(rule index, match index, route, rule, match) across all rules of all routes, most
    precise match first (Gateway API precedence; ties by route order, then rule order)."""
    entries = []
    for order, route in enumerate(routes):
        for i, rule in enumerate(as_list(route.spec.get("rules")) or [{}]):
            if not isinstance(rule, Mapping):
                continue
            for j, m in enumerate(as_list(rule.get("matches")) or [{}]):
                entries.append((route_precedence(m), order, i, j, route, rule, m))
    entries.sort(key=lambda e: e[:4])
    return [(i, j, route, rule, m) for _p, _o, i, j, route, rule, m in entries]
