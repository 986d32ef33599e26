"""Finding $GATEWAY_URL as the Istio docs do: the ingress Service's load-balancer address,
else a node address and the nodePort, else a Gateway API gateway's ``<name>-istio`` Service;
each candidate is probed and the first that answers wins."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..objects import GATEWAY_API_GATEWAY
from .connect import ClusterError

if TYPE_CHECKING:
    from .connect import ClusterClient

INGRESS = ("istio-system", "istio-ingressgateway")
PROBE_TIMEOUT_S = 2.0
ADVICE = ("start `minikube tunnel`, or run `kubectl port-forward -n istio-system "
          "svc/istio-ingressgateway 8080:80` (Gateway API: `kubectl port-forward "
          "svc/bookinfo-gateway-istio 8080:80`) and pass --gateway-url 127.0.0.1:8080")


def host_port(host: str, port: int | str) -> str:
    """``host:port``, with brackets for an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def normalise(url: str) -> str:
    """``host:port`` of a --gateway-url given as ``http://host:port/`` or ``host:port``."""
    url = url.strip()
    url = url.split("://", 1)[1] if "://" in url else url
    return url.split("/", 1)[0]


def probe_http(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """TCP connect within ``timeout_s``, then ``GET /``: any HTTP status counts as an answer."""
    host, _, port = normalise(url).rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port or 80), timeout=timeout_s)
    try:
        conn.connect()
        conn.request("GET", "/", headers={"User-Agent": "meshgrade-probe"})
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()


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


def _node_addresses(client: ClusterClient, svc: dict[str, Any], notes: list[str]) -> list[str]:
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
            if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v
                   for k, v in selector.items()) and (p.get("status") or {}).get("hostIP")]


def candidates(client: ClusterClient, namespace: str,
               notes: list[str] | None = None) -> list[tuple[str, str]]:
    """(host:port, how it was found), in the docs' order, without duplicates."""
    notes = notes if notes is not None else []
    found: list[tuple[str, str]] = []

    def add(svc: dict[str, Any], port: dict[str, Any] | None, label: str) -> None:
        if port is None:
            notes.append(f"{label}: no HTTP port")
            return
        for address in _lb_addresses(svc):
            found.append((host_port(address, port["port"]), f"{label} load balancer"))
        if port.get("nodePort"):
            for address in _node_addresses(client, svc, notes):
                found.append((host_port(address, port["nodePort"]), f"{label} nodePort"))

    try:
        svc = client.get("Service", INGRESS[1], INGRESS[0])
        if svc is None:
            notes.append("no Service istio-system/istio-ingressgateway")
        else:
            add(svc, _http_port(svc, ("http2", "http"), 80), "istio-ingressgateway")
        gateways = client.list(GATEWAY_API_GATEWAY, namespace)
    except ClusterError as exc:
        notes.append(str(exc))
        gateways = []
    for gw in gateways:
        name = f"{(gw.get('metadata') or {}).get('name')}-istio"
        try:
            svc = client.get("Service", name, namespace)
        except ClusterError as exc:
            notes.append(str(exc))
            continue
        if svc is not None:
            add(svc, _http_port(svc, (), 80) or _http_port(svc, ("http",), None),
                f"{namespace}/{name}")
    return list(dict.fromkeys(found))


def discover_gateway_url(client: ClusterClient, namespace: str = "default", *,
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
    what = "tried " + ", ".join(tried) + ": none answered" if tried else \
        "no candidate address: no load-balancer address, nodePort or Gateway API gateway"
    extra = f" ({'; '.join(notes)})" if notes else ""
    raise ClusterError(f"ingress gateway not reachable: {what}{extra}. To fix: {ADVICE}")
