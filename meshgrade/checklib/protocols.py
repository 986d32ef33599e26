"""Istio's protocol names (``protocol.Parse``) and the protocol it gives a Service port
(``ConvertProtocol``: UDP, else ``appProtocol``, else the name's prefix before ``-``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NAMES = {"tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP",
          "http_proxy": "HTTP_PROXY", "http2": "HTTP2", "https": "HTTPS", "tls": "TLS",
          "mongo": "Mongo", "redis": "Redis", "mysql": "MySQL"}
#: Protocols whose servers Istio merges on one gateway port (plain-text HTTP routing).
HTTP = frozenset({"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web"})
TLS = frozenset({"HTTPS", "TLS"})
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
