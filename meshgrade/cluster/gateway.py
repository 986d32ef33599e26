"""Finding $GATEWAY_URL as the Istio docs do: the ingress Service's load-balancer address,
else a node address and the nodePort; the ingress is found by its labels in any namespace
(istioctl's istio-ingressgateway, the gateway Helm chart's, a Gateway API gateway's
``<name>-istio``). Each candidate is probed and the first where an Envoy answers wins."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

from ..submission import installs
from ..submission.kinds import GATEWAY_API_GATEWAY
from ..submission.objects import KObject, selects
from .errors import ClusterError
from .read import deployments_everywhere
from .reader import ClusterReader

PROBE_TIMEOUT_S = 2.0
ENVOY_SERVERS = ("istio-envoy", "envoy")  # Istio's gateways name themselves istio-envoy
ADVICE = ("start `minikube tunnel`, or run `kubectl port-forward -n istio-system "
          "svc/istio-ingressgateway 8080:80` (Helm: `-n istio-ingress svc/istio-ingress`; "
          "Gateway API: `kubectl port-forward svc/bookinfo-gateway-istio 8080:80`) and pass "
          "--gateway-url 127.0.0.1:8080")


def host_port(host: str, port: int | str) -> str:
    """``host:port``, with brackets for an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def normalise(url: str) -> str:
    """``host:port`` of a --gateway-url given as ``http://host:port/`` or ``host:port``."""
    url = url.strip()
    url = url.split("://", 1)[1] if "://" in url else url
    return url.split("/", 1)[0]


def probe_envoy(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """TCP connect within ``timeout_s``, then ``GET /``: whether an Envoy answered (a
    ``server: istio-envoy`` or ``envoy`` header, or an ``x-envoy-*`` one, as on Envoy's own
    404 for an unknown route) and what answered."""
    host, _, port = normalise(url).rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port or 80), timeout=timeout_s)
    try:
        conn.connect()
        conn.request("GET", "/", headers={"User-Agent": "meshgrade-probe"})
        resp = conn.getresponse()
        resp.read()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return False, f"no HTTP answer ({str(exc) or type(exc).__name__})"
    finally:
        conn.close()
    server = (resp.getheader("server") or "").strip()
    envoy = server.lower() in ENVOY_SERVERS or any(
        k.lower().startswith("x-envoy-") for k, _ in resp.getheaders())
    what = f"HTTP {resp.status} from {server or 'a server without a server header'}"
    return envoy, what if envoy else f"{what}, not an Envoy (no server: istio-envoy or x-envoy-*)"


def probe_http(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether an Envoy answers ``GET /`` at ``url`` (``probe_envoy``)."""
    return probe_envoy(url, timeout_s)[0]


def _http_port(svc: dict[str, Any], names: tuple[str, ...], number: int | None
               ) -> dict[str, Any] | None:
    """The Service port named one of ``names`` (in that order), else the one numbered
    ``number``."""
    ports = [p for p in (svc.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    for name in names:
        for port in ports:
            if port.get("name") == name:
                return port
    return next((p for p in ports if number is not None and p.get("port") == number), None)


def _lb_addresses(svc: dict[str, Any]) -> list[str]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(i.get("ip") or i.get("hostname")) for i in ingress
            if isinstance(i, dict) and (i.get("ip") or i.get("hostname"))]


def _node_addresses(client: ClusterReader, svc: dict[str, Any], notes: list[str]) -> list[str]:
    """Nodes' InternalIP addresses, else the hostIP of the Service's pods."""
    try:
        nodes = client.list("Node")
    except ClusterError as exc:
        notes.append(f"nodes not readable ({exc})")
        nodes = []
    out = [str(a["address"]) for n in nodes for a in (n.get("status") or {}).get("addresses") or []
           if a.get("type") == "InternalIP" and a.get("address")]
    if out:
        return out
    selector = (svc.get("spec") or {}).get("selector") or {}
    ns = (svc.get("metadata") or {}).get("namespace")
    try:
        pods = client.list("Pod", ns) if selector else []
    except ClusterError as exc:
        notes.append(f"pods of {ns} not readable ({exc})")
        pods = []
    return [str(p["status"]["hostIP"]) for p in pods
            if selects(selector, (p.get("metadata") or {}).get("labels") or {})
            and (p.get("status") or {}).get("hostIP")]


def _ingress_services(client: ClusterReader, namespace: str, notes: list[str]
                      ) -> list[tuple[dict[str, Any], str, bool]]:
    """(Service, label, Gateway API?) of every ingress gateway found by its labels (or, when
    Deployments cannot be listed, at its documented place), classic first."""
    deps, note = deployments_everywhere(client, namespace)
    if note:
        notes.append(note)
    ingress = sorted((d for d in deps if installs.ingress_form(d)), key=installs.ingress_order)
    if not ingress:
        notes.append("no ingress gateway Deployment (classic, Helm or Gateway API) found")
    services: dict[str, list[KObject]] = {}
    out: dict[tuple[str, str], tuple[dict[str, Any], str, bool]] = {}

    def add(svc: dict[str, Any], gateway_api: bool) -> None:
        meta = svc.get("metadata") or {}
        key = (str(meta.get("namespace") or namespace), str(meta.get("name")))
        label = key[1] if key == installs.CLASSIC_INGRESS else "/".join(key)
        out.setdefault(key, (svc, label, gateway_api))

    try:
        for dep in ingress:
            if dep.namespace not in services:
                services[dep.namespace] = [KObject(s) for s in
                                           client.list("Service", dep.namespace)]
            svc = installs.service_for(dep, services[dep.namespace])
            if svc is None:
                notes.append(f"no Service for Deployment {dep.namespace}/{dep.name}")
            else:
                add(svc.raw, installs.ingress_form(dep) == "gateway-api")
        if note and not ingress:  # nothing listable: the documented Services themselves
            for ns, name in (installs.CLASSIC_INGRESS, ("istio-ingress", "istio-ingress")):
                if (raw := client.get("Service", name, ns)) is not None:
                    add(raw, False)
        for gw in client.list(GATEWAY_API_GATEWAY, namespace):  # and Gateways whose
            name = f"{(gw.get('metadata') or {}).get('name')}-istio"  # Deployment is unseen
            if (namespace, name) not in out and (
                    raw := client.get("Service", name, namespace)) is not None:
                add(raw, True)
    except ClusterError as exc:
        notes.append(str(exc))
    return list(out.values())


def candidates(client: ClusterReader, namespace: str,
               notes: list[str] | None = None) -> list[tuple[str, str]]:
    """(host:port, how it was found), in the docs' order, without duplicates."""
    notes = notes if notes is not None else []
    found: list[tuple[str, str]] = []
    for svc, label, gateway_api in _ingress_services(client, namespace, notes):
        port = (_http_port(svc, (), 80) or _http_port(svc, ("http",), None)) if gateway_api \
            else _http_port(svc, ("http2", "http"), 80)
        if port is None:
            notes.append(f"{label}: no HTTP port")
            continue
        for address in _lb_addresses(svc):
            found.append((host_port(address, port["port"]), f"{label} load balancer"))
        if port.get("nodePort"):
            for address in _node_addresses(client, svc, notes):
                found.append((host_port(address, port["nodePort"]), f"{label} nodePort"))
    return list(dict.fromkeys(found))


def discover_gateway_url(client: ClusterReader, namespace: str = "default", *,
                         given: str | None = None, probe: Callable[[str], bool] | None = None
                         ) -> tuple[str, list[str]]:
    """The gateway's ``host:port`` and the candidates tried (``"addr (how)"``). ``given``
    (--gateway-url) wins without a probe. Raises ClusterError naming every candidate
    when none answers."""
    if given:
        return normalise(given), [f"{normalise(given)} (given)"]
    probe = probe or probe_http
    notes: list[str] = []
    tried: list[str] = []
    for url, how in candidates(client, namespace, notes):
        tried.append(f"{url} ({how})")
        if probe(url):
            return url, tried
    what = "tried " + ", ".join(tried) + ": no Envoy answered" if tried else \
        "no candidate address: no load-balancer address, nodePort or Gateway API gateway"
    extra = f" ({'; '.join(notes)})" if notes else ""
    raise ClusterError(f"ingress gateway not reachable: {what}{extra}. To fix: {ADVICE}")
