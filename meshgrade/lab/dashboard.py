"""The lab dashboard: the live mesh graph from the lab's telemetry, like Kiali's graph for the
course's needs. Requests per second and share per version on every edge (over the last
``window_s`` seconds), errors (5xx) in red. Served on 127.0.0.1 only: ``/`` is the page (a
small inline script polls ``/api/graph`` every 2 s), ``/api/graph`` the graph as JSON with
its picture and table rendered server-side (autoescaped)."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ..reports.formatting import jinja_env
from ..reports.graph import HopView, Line, Picture, TargetView, layout
from .ports import LOOPBACK
from .workloads import Request, Response, Telemetry
from .workloads.podserver import PodServer

GATEWAY = "ingress gateway"  # requests without a source workload came through it
WINDOW_S = 10.0
POLL_MS = 2000
SCRIPT = """
(function () {
  var graph = document.getElementById("graph"), table = document.getElementById("table");
  var when = document.getElementById("updated"), state = document.getElementById("state");
  function tick() {
    fetch("api/graph", {cache: "no-store"}).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (d) {
      graph.innerHTML = d.svg; table.innerHTML = d.table;
      when.textContent = d.updated; state.textContent = "live";
    }).catch(function () {
      state.textContent = "the lab does not answer";
    }).finally(function () { setTimeout(tick, POLL); });
  }
  setTimeout(tick, POLL);
})();
""".replace("POLL", str(POLL_MS))
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; script-src 'sha256-"
       + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'")
Key = tuple[str, ...]  # a telemetry series' label values


@dataclass
class Edge:
    """Requests from one hop's service to one workload: per second in the window, share
    of the hop's requests, share of 5xx answers, and the total so far."""

    label: str
    workload: str
    rps: float = 0.0
    share: float = 0.0
    error_share: float = 0.0
    total: int = 0
    errors: float = field(default=0.0, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "workload": self.workload, "rps": round(self.rps, 3),
                "share": round(self.share, 4), "error_share": round(self.error_share, 4),
                "total": self.total}


@dataclass
class GraphHop:
    caller: str
    service: str
    rps: float = 0.0
    total: int = 0
    edges: list[Edge] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"caller": self.caller, "service": self.service, "rps": round(self.rps, 3),
                "total": self.total, "edges": [e.to_dict() for e in self.edges]}


class Dashboard:
    """The graph of one telemetry, with rates over a sliding window (snapshots taken when
    the graph is asked for, one kept from before the window)."""

    def __init__(self, telemetry: Telemetry, *, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.telemetry = telemetry
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._snaps: deque[tuple[float, dict[Key, float]]] = deque([(clock(), self._counts())])

    def _counts(self) -> dict[Key, float]:
        return {tuple(labels.values()): value for labels, value in self.telemetry.samples()}

    def _window(self) -> tuple[dict[Key, float], dict[Key, float], float]:
        """(counts now, counts at the window's start, seconds between them)."""
        now, counts = self.clock(), self._counts()
        with self._lock:
            while len(self._snaps) > 1 and self._snaps[1][0] <= now - self.window_s:
                self._snaps.popleft()
            start, before = self._snaps[0]
            self._snaps.append((now, counts))
        return counts, before, max(now - start, 1e-9)

    def hops(self) -> list[GraphHop]:
        """Hops caller -> service -> workloads, from the gateway outwards."""
        counts, before, seconds = self._window()
        hops: dict[tuple[str, str], GraphHop] = {}
        for key, value in sorted(counts.items()):
            service, workload, version, source, code, _reporter = key
            caller = GATEWAY if source == "unknown" else source
            hop = hops.setdefault((caller, service), GraphHop(caller, service))
            label = version if version and version != "unknown" else workload
            edge = next((e for e in hop.edges if e.workload == workload), None)
            if edge is None:
                edge = Edge(label, workload)
                hop.edges.append(edge)
            rate = max(0.0, value - before.get(key, 0.0)) / seconds
            edge.rps += rate
            edge.total += int(value)
            if code.isdigit() and int(code) >= 500:
                edge.errors += rate
        for hop in hops.values():
            hop.rps = sum(e.rps for e in hop.edges)
            hop.total = sum(e.total for e in hop.edges)
            for e in hop.edges:
                e.share = e.rps / hop.rps if hop.rps else 0.0
                e.error_share = e.errors / e.rps if e.rps else 0.0
            hop.edges.sort(key=lambda e: e.label)
        return _ordered(list(hops.values()))

    def graph(self) -> dict[str, Any]:
        """The graph as JSON data, with its picture and table as HTML."""
        hops = self.hops()
        return {"updated": datetime.now(timezone.utc).strftime("%H:%M:%S UTC"),
                "window_s": self.window_s, "hops": [h.to_dict() for h in hops],
                "svg": _fragment("svg", picture(hops)), "table": _fragment("table", hops)}

    def __call__(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response.text("method not allowed\n", 405)
        if request.header("host").rsplit(":", 1)[0] not in (LOOPBACK, "localhost"):
            return Response.text("this dashboard answers on 127.0.0.1 only\n", 421)
        if request.path == "/api/graph":
            response = Response.json(self.graph())
        elif request.path in ("/", "/index.html"):
            hops = self.hops()
            response = Response.html(_template().render(
                picture=picture(hops), hops=hops, window_s=self.window_s, script=SCRIPT,
                updated=datetime.now(timezone.utc).strftime("%H:%M:%S UTC")))
        else:
            return Response.text("not found\n", 404)
        response.headers += [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                             ("Content-Security-Policy", CSP), ("Referrer-Policy", "no-referrer")]
        return response


def _ordered(hops: list[GraphHop]) -> list[GraphHop]:
    """Breadth first from the gateway: a hop after the hop whose workload calls it."""
    depth: dict[str, int] = {GATEWAY: 0}
    for _ in range(len(hops) + 1):
        for hop in hops:
            if hop.caller in depth:
                for e in hop.edges:
                    depth.setdefault(e.workload, depth[hop.caller] + 1)
    far = len(hops) + 1
    return sorted(hops, key=lambda h: (depth.get(h.caller, far), h.caller, h.service))


def _rate(rps: float) -> str:
    return f"{rps:.0f} req/s" if rps >= 10 else f"{rps:.1f} req/s" if rps >= 0.1 or rps == 0 \
        else f"{rps:.2f} req/s"


def picture(hops: list[GraphHop]) -> Picture:
    """The mesh graph: a row per hop, an edge per workload (red when it answers 5xx)."""
    views = []
    for hop in hops:
        targets = []
        for e in hop.edges:
            lines = [Line(f"{_rate(e.rps)} · {e.share * 100:.0f}%") if hop.rps > 0
                     else Line("no requests now", "dim")]
            if e.error_share > 0:
                lines.append(Line(f"errors {e.error_share * 100:.0f}%", "bad"))
            lines.append(Line(f"{e.total} so far", "dim"))
            state = "error" if e.error_share > 0 else "ok" if e.rps > 0 else "idle"
            targets.append(TargetView(e.label, lines, e.share, state))
        views.append(HopView(hop.caller, hop.service, f"{hop.service}: {_rate(hop.rps)}",
                             targets))
    desc = " ".join(f"{h.caller} → {h.service}: " + ", ".join(
        f"{e.label} {_rate(e.rps)}, {e.share * 100:.0f}%"
        + (f", {e.error_share * 100:.0f}% errors" if e.error_share else "") for e in h.edges)
        + "." for h in hops) or "No requests yet."
    return layout("mesh", "Live mesh graph", desc, views)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja_env(Path(__file__).resolve().parent.parent / "reports" / "templates")


def _template() -> jinja2.Template:
    return _env().get_template("dashboard.html.j2")


def _fragment(name: str, value: Any) -> str:
    macros = _env().get_template("dashboard-parts.html.j2").module
    return str(getattr(macros, name)(value))


class DashboardServer:
    """A running dashboard on 127.0.0.1; ``url`` to open, ``stop()`` to end it."""

    def __init__(self, telemetry: Telemetry, port: int = 0) -> None:
        self.dashboard = Dashboard(telemetry)
        self._server = PodServer(self.dashboard, "dashboard", port)
        self.url = f"http://{LOOPBACK}:{self._server.port}/"

    def stop(self) -> None:
        self._server.stop()


__all__ = ["Dashboard", "DashboardServer", "Edge", "GraphHop", "picture"]
