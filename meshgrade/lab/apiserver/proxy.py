"""The service proxy subresource: relay a request to a backend over plain HTTP."""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from urllib.parse import unquote

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"}
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "accept-encoding"}


def split_service(segment: str) -> tuple[str, str]:
    """`name`, `name:port` or `scheme:name:port` → (name, port); port is '' when absent."""
    parts = unquote(segment).split(":")
    if len(parts) == 3:
        return parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    return parts[0], ""


def forward(host: str, port: int, method: str, path: str, headers: Iterable[tuple[str, str]],
            body: bytes, timeout: float = 30.0) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Send one request to host:port; returns status, reason, headers and the whole body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent = {k: v for k, v in headers if k.lower() not in NOT_FORWARDED}
        sent["Host"] = f"{host}:{port}"
        conn.request(method, path, body=body or None, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        return resp.status, resp.reason, kept, data
    finally:
        conn.close()
