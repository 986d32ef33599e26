"""Istio's protocol names (``protocol.Parse``), the protocol it gives a Service port
(``ConvertProtocol``: UDP, else ``appProtocol``, else the name's prefix before ``-``), and
what a sidecar does with an HTTP request to the port.

A port whose ``appProtocol`` or name gives no protocol (no name, ``web``, ``main``...) has
none: Istio's sidecars detect it on each connection (protocol sniffing, on by default for
outbound and inbound traffic since Istio 1.3), so HTTP and HTTP/2 requests get the HTTP
filter chain and a VirtualService's HTTP routes apply to them, while other bytes take the
TCP chain. Only a port named (or with ``appProtocol``) for a non-HTTP protocol (tcp, tls,
https, mongo, mysql, redis, udp) keeps HTTP requests out of the HTTP routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NAMES = {"tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP",
          "http_proxy": "HTTP_PROXY", "http2": "HTTP2", "https": "HTTPS", "tls": "TLS",
          "mongo": "Mongo", "redis": "Redis", "mysql": "MySQL"}
#: Protocols whose servers Istio merges on one gateway port (plain-text HTTP routing), and
#: those of a Service port that route HTTP in the sidecar.
HTTP = frozenset({"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web"})
TLS = frozenset({"HTTPS", "TLS"})
#: What :func:`sidecar_protocol` calls a port whose protocol Istio detects.
DETECTED = "detected"
_WELL_KNOWN_TCP = (25, 53, 3306, 27017)  # a tuple: a port in YAML may be a list
_APP = {"kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS"}


def parse(name: Any) -> str | None:
    """Istio's name for a protocol (case-insensitive), or None when it knows none."""
    return _NAMES.get(name.lower()) if isinstance(name, str) else None


def of_service_port(port: Mapping[str, Any]) -> str | None:
    """The protocol Istio gives a Service port, or None when it detects it (sniffing)."""
    if str(port.get("protocol") or "").upper() == "UDP":
        return "UDP"
    app = port.get("appProtocol")
    name = app if isinstance(app, str) else port.get("name")
    text = name if isinstance(name, str) else ""
    if text in _APP:
        return _APP[text]
    if text.lower().startswith("grpc-web"):
        return "GRPC-Web"
    found = parse(text.split("-", 1)[0])
    if found is None and port.get("port") in _WELL_KNOWN_TCP:
        return "TCP"
    return found


def sidecar_protocol(port: Mapping[str, Any], sniff: bool = True) -> str:
    """How a sidecar takes an HTTP request to this Service port: its protocol (``HTTP``,
    ``TCP``, ``TLS``...), or :data:`DETECTED` when it has none and ``sniff`` (Istio's
    default) is on. Without ``sniff`` such a port is TCP (sniffing turned off)."""
    found = of_service_port(port)
    return found if found is not None else DETECTED if sniff else "TCP"


def routes_http(protocol: str) -> bool:
    """Whether HTTP requests to a port of this :func:`sidecar_protocol` take HTTP routes."""
    return protocol in HTTP or protocol == DETECTED
