"""The observability addons of `samples/addons`: a Kiali that is healthy and answers a few API
calls, and a Prometheus that answers instant queries from the lab's telemetry."""

from __future__ import annotations

from types import TracebackType

from .podserver import PodServer, Request, Response
from .telemetry import Telemetry

KINDS = ("kiali", "prometheus")
KIALI_VERSION = "v1.89.0-meshgrade"


class Kiali:
    """`/kiali/healthz`, `/kiali/api`, `/kiali/api/status`, `/kiali/api/namespaces` and the
    workload graph `/kiali/api/namespaces/graph` built from telemetry."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def __call__(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            return Response.json({"error": "method not allowed"}, 405)
        if path == "/kiali/healthz":
            return Response.text("")
        if path in ("/kiali/api", "/kiali/api/status"):
            return Response.json({"status": {"Kiali state": "running",
                                             "Kiali version": KIALI_VERSION},
                                  "externalServices": [{"name": "Prometheus"}]})
        if path == "/kiali/api/namespaces":
            return Response.json([{"name": "default"}, {"name": "istio-system"}])
        if path == "/kiali/api/namespaces/graph":
            return Response.json(self.graph())
        if path in ("/", "/kiali"):
            return Response.html("<!DOCTYPE html><title>Kiali</title><h1>Kiali</h1>")
        return Response.json({"error": "not found"}, 404)

    def graph(self) -> dict[str, object]:
        """Workload nodes and request edges (with counts) seen so far."""
        nodes: dict[str, dict[str, str]] = {}
        edges: dict[tuple[str, str], float] = {}
        for labels, value in self.telemetry.samples():
            source, target = labels["source_workload"], labels["destination_workload"]
            for name in (source, target):
                nodes.setdefault(name, {"id": name, "workload": name})
            nodes[target]["version"] = labels["destination_version"]
            edges[(source, target)] = edges.get((source, target), 0.0) + value
        return {"elements": {
            "nodes": [{"data": node} for node in nodes.values()],
            "edges": [{"data": {"source": s, "target": t, "requests": n}}
                      for (s, t), n in sorted(edges.items())]}}


class Prometheus:
    """`/api/v1/query` (GET or POST form) via `Telemetry.query`, `/-/ready`, `/-/healthy`."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def __call__(self, request: Request) -> Response:
        if request.path == "/-/ready":
            return Response.text("Prometheus Server is Ready.\n")
        if request.path == "/-/healthy":
            return Response.text("Prometheus Server is Healthy.\n")
        if request.path != "/api/v1/query":
            return Response.text("404 page not found\n", 404)
        fields = {key: values[0] for key, values in request.query.items()}
        if request.method == "POST":
            fields.update(request.form())
        elif request.method not in ("GET", "HEAD"):
            return Response.json({"status": "error", "errorType": "bad_data",
                                  "error": "method not allowed"}, 405)
        query = fields.get("query", "")
        if not query:
            return Response.json({"status": "error", "errorType": "bad_data",
                                  "error": 'invalid parameter "query": empty query'}, 400)
        answer = self.telemetry.query(query)
        return Response.json(answer, 200 if answer["status"] == "success" else 400)


class AddonServer:
    """A running addon on 127.0.0.1:``port``; ``stop()`` ends it (also a context manager)."""

    def __init__(self, kind: str, telemetry: Telemetry, port: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"addon kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        app = Kiali(telemetry) if kind == "kiali" else Prometheus(telemetry)
        self._server = PodServer(app, kind, port)
        self.port = self._server.port

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> AddonServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_addon(kind: str, telemetry: Telemetry, port: int = 0) -> AddonServer:
    """Start the ``kind`` ("kiali" or "prometheus") addon and return it."""
    return AddonServer(kind, telemetry, port)
