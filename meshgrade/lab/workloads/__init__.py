"""Emulated pods for the lab: Bookinfo services, a generic echo workload and the addons.

Each pod is an HTTP/1.1 server on its own loopback port, all of a lab's pods served by one asyncio
event loop thread. Pods call other services through the mesh (`http://127.0.0.1:<mesh port><path>`
with `Host: <service>:9080`), count the requests they receive in a shared `Telemetry`, and obey
the `Faults` set for their workload."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from .addons import AddonServer, start_addon
from .aio import LoopServer, MeshClient, PodLoop
from .bookinfo_apps import SessionCodec, is_bookinfo, make_app
from .generic import Generic
from .podserver import (
    SERVICE_HEADER,
    SERVICE_PORT,
    SOURCE_HEADER,
    App,
    Fault,
    Faults,
    PodSpec,
    Request,
    Response,
)
from .telemetry import Telemetry

__all__ = ["AddonServer", "Fault", "Faults", "PodSpec", "Request", "Response", "Telemetry",
           "Workloads", "start_addon"]


LOG_LINES = 2000  # what `kubectl logs` can show of one pod


def access_line(request: Request, status: int, size: int) -> str:
    """A request as the app logs it (combined log format; the sidecar's 127.0.0.6 as the
    peer)."""
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    return (f'127.0.0.6 - - [{when}] "{request.method} {target} HTTP/1.1" {status} {size} '
            f'"{request.header("referer") or "-"}" "{request.header("user-agent") or "-"}"')


class Pod:
    """A running pod: its server plus the pipeline faults -> app -> identity headers ->
    telemetry, and its log."""

    def __init__(self, spec: PodSpec, app: App, *, pods: PodLoop, telemetry: Telemetry,
                 faults: Faults, mesh: MeshClient | None = None, port: int = 0) -> None:
        self.spec = spec
        self.app = app
        self.telemetry = telemetry
        self.faults = faults
        self.mesh = mesh
        self.log: deque[tuple[float, str]] = deque(maxlen=LOG_LINES)
        self.logged = 0  # lines ever logged: a cursor that survives the deque's trimming
        self.pods = pods
        self.server = LoopServer(pods, self._handle, spec.name, port)
        self.write_log(f"listening on :{SERVICE_PORT if is_bookinfo(spec) else 8080} "
                       f"({spec.app or spec.workload} {spec.version or ''})".rstrip())

    def write_log(self, text: str) -> None:
        self.log.append((time.time(), text))
        self.logged += 1

    @property
    def port(self) -> int:
        return self.server.port

    async def _handle(self, request: Request) -> Response | None:
        spec = self.spec
        fault = self.faults.get(spec.workload)
        if fault.down:
            return None
        if fault.latency_s:
            await asyncio.sleep(fault.latency_s)
        if fault.error_rate and self.faults.roll(fault.error_rate):
            response = Response.text("fault injected", 503)
        else:
            try:
                answer = self.app(request)
                response = await answer if inspect.isawaitable(answer) else answer
            except Exception:  # answer 500 like a crashed handler
                response = Response.text("internal server error", 500)
        response.headers.append(("x-meshgrade-pod", spec.name))
        if spec.version is not None:
            response.headers.append(("x-meshgrade-version", spec.version))
        service = request.header(SERVICE_HEADER) or spec.app or spec.workload
        self.telemetry.record(service, spec.workload, spec.version,
                              request.header(SOURCE_HEADER) or "unknown", response.status)
        self.write_log(access_line(request, response.status, len(response.body)))
        return response

    def stop(self) -> None:
        self.server.stop()
        if self.mesh is not None:
            try:
                self.pods.call(self.mesh.aclose(), 2.0)
            except (RuntimeError, concurrent.futures.TimeoutError):  # the loop has stopped
                pass


class Workloads:
    """The running pods of one lab.

    ``mesh_url`` (or a callable returning it, read at call time) is where pods send their calls
    to other services. ``page_style`` "new" (Istio 1.23+) or "old" picks the product page."""

    def __init__(self, mesh_url: Callable[[], str] | str, *, telemetry: Telemetry | None = None,
                 faults: Faults | None = None, page_style: str = "new",
                 mesh_timeout_s: float = 3.0, plain_url: str | None = None) -> None:
        if page_style not in ("new", "old"):
            raise ValueError(f"page_style must be 'new' or 'old', not {page_style!r}")
        self._mesh_url: Callable[[], str] = (
            mesh_url if callable(mesh_url) else (lambda: str(mesh_url)))
        self._plain_url = plain_url  # where pods without a sidecar send their calls
        self.telemetry = telemetry if telemetry is not None else Telemetry()
        self.faults = faults if faults is not None else Faults()
        self.page_style = page_style
        self.mesh_timeout_s = mesh_timeout_s
        self._sessions = SessionCodec(secrets.token_bytes(32))  # shared by productpage pods
        self._lock = threading.Lock()
        self._pods: dict[str, Pod] = {}
        self._loop: PodLoop | None = None

    def _pod_loop(self) -> PodLoop:
        with self._lock:
            if self._loop is None:
                self._loop = PodLoop()
            return self._loop

    def start_pod(self, spec: PodSpec, port: int = 0, *, sidecar: bool = True) -> int:
        """Start the pod (Bookinfo or generic, by its labels) and return its port. A pod
        without a ``sidecar`` calls other services around the mesh's rules."""
        with self._lock:
            if spec.name in self._pods:
                raise ValueError(f"pod {spec.name!r} is already running")
        mesh = None
        if is_bookinfo(spec):
            plain = self._plain_url
            url = self._mesh_url if sidecar or plain is None else (lambda: plain)
            mesh = MeshClient(url, spec.workload, self.mesh_timeout_s)
            app = make_app(spec, mesh, self._sessions, self.page_style)
        else:
            app = Generic(spec)
        pod = Pod(spec, app, pods=self._pod_loop(), telemetry=self.telemetry,
                  faults=self.faults, mesh=mesh, port=port)
        with self._lock:
            if spec.name in self._pods:
                pod.stop()
                raise ValueError(f"pod {spec.name!r} is already running")
            self._pods[spec.name] = pod
        return pod.port

    def stop_pod(self, name: str) -> None:
        """Stop one pod (unknown names are ignored)."""
        with self._lock:
            pod = self._pods.pop(name, None)
        if pod is not None:
            pod.stop()

    def ports(self) -> dict[str, int]:
        """Pod name -> port of every running pod."""
        with self._lock:
            return {name: pod.port for name, pod in self._pods.items()}

    def logs(self, name: str, after: int = 0) -> tuple[int, list[tuple[float, str]]]:
        """A pod's log lines after cursor ``after``, and the new cursor (KeyError: no pod)."""
        with self._lock:
            pod = self._pods[name]
            lines, total = list(pod.log), pod.logged
        start = max(0, len(lines) - (total - after))
        return total, lines[start:]

    def specs(self) -> dict[str, PodSpec]:
        with self._lock:
            return {name: pod.spec for name, pod in self._pods.items()}

    def stop(self) -> None:
        """Stop every pod, then their event loop."""
        with self._lock:
            pods = list(self._pods.values())
            self._pods.clear()
            loop, self._loop = self._loop, None
        for pod in pods:
            pod.stop()
        if loop is not None:
            loop.stop()

    def __enter__(self) -> Workloads:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
