"""Envoy's access log, read as each pod's ``istio-proxy`` would print it.

The lab's one Envoy logs every request as JSON (:data:`meshgrade.lab.xds.ACCESS_LOG_FIELDS`).
A line belongs to the sidecar of the pod that sent the request (outbound: the ``mesh``
listener, the caller named by its ``x-meshgrade-source-pod`` or ``-source`` header), to the
sidecar of the pod that answered (inbound), and to the ingress gateway's pods (the ``ingress``
listener); it is printed in Istio's default text format, response flags included."""

from __future__ import annotations

import datetime
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEEP = 20000  # requests remembered


@dataclass(frozen=True)
class Entry:
    at: float
    fields: dict[str, Any]


def _time(text: str) -> float:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def istio_line(f: dict[str, Any], *, cluster: str | None = None,
               upstream: str | None = None, route: str | None = None) -> str:
    """One request in Istio's default access log format."""
    def v(key: str) -> str:
        value = f.get(key)
        return "-" if value in (None, "") else str(value)

    return (f'[{v("start_time")}] "{v("method")} {v("path")} {v("protocol")}" '
            f'{v("response_code")} {v("response_flags")} {v("response_code_details")} '
            f'{v("connection_termination_details")} '
            f'"{v("upstream_transport_failure_reason")}" {v("bytes_received")} '
            f'{v("bytes_sent")} {v("duration")} {v("upstream_service_time")} '
            f'"{v("x_forwarded_for")}" "{v("user_agent")}" "{v("request_id")}" '
            f'"{v("authority")}" "{upstream or v("upstream_host")}" '
            f'{cluster or v("upstream_cluster")} - - - - {route or _route(f)}')


def _route(f: dict[str, Any]) -> str:
    name = str(f.get("route_name") or "")
    return "default" if name.startswith(("VirtualService", "HTTPRoute", "default")) else "-"


class AccessLog:
    """Reads new lines of the JSON access log as they are asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._entries: deque[Entry] = deque(maxlen=KEEP)
        self._count = 0
        self._lock = threading.Lock()

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            try:
                fields = json.loads(raw)
            except ValueError:
                continue
            if isinstance(fields, dict):
                self._entries.append(Entry(_time(str(fields.get("start_time", ""))), fields))
                self._count += 1

    def lines(self, mine: Callable[[dict[str, Any]], str | None], after: int = 0
              ) -> tuple[int, list[tuple[float, str]]]:
        """Lines (time, text) of the requests ``mine`` renders (None: not this pod's)
        after cursor ``after``, and the new cursor."""
        with self._lock:
            self._read()
            entries, total = list(self._entries), self._count
        start = max(0, len(entries) - (total - after))
        out = []
        for entry in entries[start:]:
            text = mine(entry.fields)
            if text is not None:
                out.append((entry.at, text))
        return total, out
