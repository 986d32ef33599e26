"""Evaluating VirtualService HTTP (and TCP) rules into shares of targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..submission.objects import KObject, as_list
from .match import REDIRECT_CODES, Ctx, matching_entry
from .mesh import Mesh
from .request import Acc, Target, spread

Rule = tuple[KObject, str, Mapping[str, Any]]  # (VirtualService, "spec.http[i]", rule)


def http_rules(vs: KObject) -> list[Rule]:
    rules = vs.spec.get("http")
    if not isinstance(rules, list):
        return []
    return [(vs, f"spec.http[{i}]", r) for i, r in enumerate(rules) if isinstance(r, Mapping)]


def destination_weight(value: Any) -> int | None:
    """A destination weight: missing is 0; non-integers and negatives are invalid (None)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def abort_share(abort: Mapping[str, Any]) -> float:
    """Share aborted: ``percentage.value`` (0..100); unspecified aborts nothing (Istio docs)."""
    pct = abort.get("percentage")
    value = pct.get("value") if isinstance(pct, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return min(max(float(value), 0.0), 100.0) / 100.0
    return 0.0


class VsEngine:
    """Runs VirtualService rules for one request and accumulates where the traffic goes."""

    def __init__(self, mesh: Mesh, virtual_services: Mapping[tuple[str, str], KObject]):
        self.mesh = mesh
        self.vs = virtual_services

    def run(self, rules: list[Rule], ctx: Ctx, acc: Acc, share: float) -> None:
        """First matching rule wins; no match is a 404."""
        if not self._first_match(rules, ctx, acc, share, nested=False):
            first = rules[0][0] if rules else None
            acc.fail(404, "no VirtualService rule matched", share, first, "spec.http")

    def _first_match(self, rules: list[Rule], ctx: Ctx, acc: Acc, share: float,
                     nested: bool) -> bool:
        for vs, path, rule in rules:
            idx = matching_entry(rule, vs.namespace, ctx)
            if idx is None:
                continue
            where = path if idx < 0 else f"{path}.match[{idx}]"
            delegate = rule.get("delegate")
            if isinstance(delegate, Mapping):
                key = (str(delegate.get("namespace") or vs.namespace), str(delegate.get("name")))
                child = self.vs.get(key)
                if child is None or nested:
                    acc.note(vs, f"{path}.delegate",
                             f"delegate {key[0]}/{key[1]} not usable: rule skipped")
                    continue
                acc.note(vs, where, f"matched, delegated to VirtualService {key[0]}/{key[1]}")
                if self._first_match(http_rules(child), ctx, acc, share, nested=True):
                    return True
                continue  # no delegate rule matched: Istio goes on with the parent's next rules
            acc.note(vs, where, "matched" if idx >= 0 else "matched (rule without match)")
            self.apply(vs, path, rule, ctx, acc, share)
            return True
        return False

    def apply(self, vs: KObject, path: str, rule: Mapping[str, Any], ctx: Ctx, acc: Acc,
              share: float) -> None:
        """Fault abort, then redirect, direct response or weighted destinations."""
        fault = rule.get("fault")
        abort = fault.get("abort") if isinstance(fault, Mapping) else None
        if isinstance(abort, Mapping) and isinstance(abort.get("httpStatus"), int):
            part = abort_share(abort)
            if part > 0:
                acc.fail(int(abort["httpStatus"]), "fault injection abort", share * part,
                         vs, f"{path}.fault.abort")
                share *= 1 - part
        if share <= 0:
            return
        redirect = rule.get("redirect")
        if isinstance(redirect, Mapping):
            code = redirect.get("redirectCode") or 301
            if isinstance(code, (int, float)) and code in REDIRECT_CODES:
                acc.add(Target(int(code), reason="redirect"), share)
                acc.note(vs, f"{path}.redirect", f"redirect {code}")
            else:
                acc.fail(500, f"unsupported redirectCode {code}", share, vs, f"{path}.redirect")
            return
        direct = rule.get("directResponse")
        if isinstance(direct, Mapping):
            status = direct.get("status")
            status = status if isinstance(status, int) else 500
            acc.add(Target(status, reason="direct response"), share)
            acc.note(vs, f"{path}.directResponse", f"direct response {status}")
            return
        routes = rule.get("route")
        if not isinstance(routes, list) or not routes:
            acc.fail(500, "rule has no route", share, vs, path)
            return
        self._weighted(vs, path, routes, ctx, acc, share)

    def _weighted(self, vs: KObject, path: str, routes: list[Any], ctx: Ctx, acc: Acc,
                  share: float) -> None:
        if len(routes) == 1:  # a single destination takes everything, whatever its weight
            weights = [1]
        else:
            parsed = [destination_weight(r.get("weight")) if isinstance(r, Mapping) else None
                      for r in routes]
            if any(w is None for w in parsed):
                acc.fail(500, "invalid destination weight", share, vs, f"{path}.route")
                return
            weights = [w or 0 for w in parsed]
        total = sum(weights)
        if total <= 0:
            acc.fail(500, "route weights total 0", share, vs, f"{path}.route")
            return
        for i, (route, weight) in enumerate(zip(routes, weights, strict=True)):
            if weight > 0:
                dest = route.get("destination") if isinstance(route, Mapping) else None
                self.destination(vs, f"{path}.route[{i}].destination", dest, ctx, acc,
                                 share * weight / total)

    def destination(self, vs: KObject, path: str, dest: Any, ctx: Ctx, acc: Acc,
                    share: float) -> None:
        """Resolve host, port and subset of one destination, then spread over its pods."""
        host = dest.get("host") if isinstance(dest, Mapping) else None
        backend = self.mesh.resolve(host, vs.namespace, ctx.client_ns) if isinstance(
            host, str) else None
        if backend is None:
            acc.fail(503, f"host '{host}' not found", share, vs, f"{path}.host")
            return
        svc = backend.obj
        subset_name = dest.get("subset")
        labels: Mapping[str, str] | None = None
        if subset_name is not None:
            found = self.mesh.subset(backend.fqdn, svc.namespace, ctx.client_ns, str(subset_name))
            if found.labels is None:
                why = ("no DestinationRule for the host" if found.dr is None
                       else f"not in DestinationRule {found.dr.namespace}/{found.dr.name}")
                acc.fail(503, f"subset '{subset_name}' not defined ({why})", share, vs,
                         f"{path}.subset")
                return
            labels = found.labels
            if found.dr is not None:
                acc.note(found.dr, found.path, f"subset '{subset_name}' labels {dict(labels)}")
        if backend.external:
            acc.add(Target(200, svc.namespace, backend.fqdn if svc.kind != "Service" else
                           svc.name), share)
            acc.note(vs, path, f"-> {backend.fqdn} ({svc.kind}, no workload)")
            return
        port_error = self._port_error(svc, dest, ctx)
        if port_error:
            acc.fail(503, port_error, share, vs, f"{path}.port")
            return
        pods = self.mesh.endpoints(svc, labels)
        if not pods:
            what = f"subset '{subset_name}'" if subset_name is not None else "Service"
            acc.fail(503, f"{what} of {svc.namespace}/{svc.name} selects no ready pods", share,
                     vs, f"{path}.subset" if subset_name is not None else f"{path}.host")
            return
        acc.note(vs, path, f"-> {svc.namespace}/{svc.name}"
                 + (f" subset {subset_name}" if subset_name is not None else "")
                 + f": {share:.4g}")
        spread(acc, svc, pods, share)

    @staticmethod
    def _port_error(svc: KObject, dest: Mapping[str, Any], ctx: Ctx) -> str:
        """The cluster port Istio picks: explicit, the only port, else the listener port."""
        ports = [p.get("port") for p in as_list(svc.spec.get("ports")) if isinstance(p, Mapping)]
        if not ports:
            return ""
        port = dest.get("port")
        number = port.get("number") if isinstance(port, Mapping) else None
        if number is None:
            number = ports[0] if len(ports) == 1 else ctx.port
        if number is None or number in ports:
            return ""
        return f"port {number} not on Service {svc.namespace}/{svc.name}"

    def tcp(self, vs: KObject, ctx: Ctx, acc: Acc, share: float) -> bool:
        """Opaque TCP: the first ``tcp`` rule whose match (port only) fits; False if none."""
        for i, rule in enumerate(as_list(vs.spec.get("tcp"))):
            if not isinstance(rule, Mapping):
                continue
            matches = rule.get("match")
            if matches and not any(isinstance(m, Mapping) and m.get("port") in (None, ctx.port)
                                   for m in as_list(matches)):
                continue
            routes = rule.get("route")
            if isinstance(routes, list) and routes:
                acc.note(vs, f"spec.tcp[{i}]", "TCP rule matched")
                self._weighted(vs, f"spec.tcp[{i}]", routes, ctx, acc, share)
                return True
        return False
