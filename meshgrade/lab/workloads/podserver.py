"""What every pod shares: its spec, faults, the `Request` and `Response` of the pipeline, and
`PodServer`, a threaded HTTP/1.1 server for the addons and the dashboard (the workload pods are
served by the asyncio runtime of `aio`)."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..ports import LOOPBACK

SERVICE_PORT = 9080
SOURCE_HEADER = "x-meshgrade-source"
SERVICE_HEADER = "x-meshgrade-service"
JOIN_TIMEOUT_S = 2.0
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class PodSpec:
    """One emulated pod: its name, namespace, `app`/`version` labels and owning Deployment."""

    name: str
    namespace: str
    app: str
    version: str | None
    workload: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Fault:
    """Faults of one workload: 5xx rate (0..1), added latency, or no answer at all."""

    error_rate: float = 0.0
    latency_s: float = 0.0
    down: bool = False


class Faults:
    """Thread-safe faults per workload (Deployment) name."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._rng = random.Random(seed)

    def set(self, workload: str, *, error_rate: float = 0.0, latency_s: float = 0.0,
            down: bool = False) -> None:
        """Replace the faults of ``workload``; all defaults remove them."""
        if not 0.0 <= error_rate <= 1.0 or latency_s < 0:
            raise ValueError("error_rate must be in 0..1 and latency_s >= 0")
        fault = Fault(error_rate, latency_s, down)
        with self._lock:
            if fault == Fault():
                self._faults.pop(workload, None)
            else:
                self._faults[workload] = fault

    def get(self, workload: str) -> Fault:
        with self._lock:
            return self._faults.get(workload, Fault())

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        with self._lock:
            return rate >= 1.0 or self._rng.random() < rate


@dataclass
class Request:
    """An incoming request; header names are lower-case."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def form(self) -> dict[str, str]:
        """URL-encoded form fields of the body (first value of each)."""
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in fields.items()}


@dataclass
class Response:
    """What a pod answers; Content-Length is added when sent."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json")

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())


App = Callable[[Request], "Response | Awaitable[Response]"]


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that hands every request to its server's callback."""

    protocol_version = "HTTP/1.1"
    server_version = "meshgrade-pod"
    sys_version = ""
    disable_nagle_algorithm = True
    server: PodServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def version_string(self) -> str:
        return self.server_version

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name in self.headers.keys():
            key = name.lower()
            if key not in headers:
                sep = "; " if key == "cookie" else ", "
                headers[key] = sep.join(self.headers.get_all(name) or [])
        request = Request(self.command, parts.path or "/", parts.query, headers, body)
        response = self.server.callback(request)
        if response is None:  # a "down" pod: drop the connection without an answer
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size < 0 or sum(len(chunk) for chunk in chunks) + size > MAX_BODY:
                    raise ValueError("request body too large")
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class PodServer:
    """A threaded HTTP/1.1 server on 127.0.0.1: one accept thread, one thread per connection.

    ``port`` 0 lets the kernel pick a free port atomically; read it from ``.port``."""

    def __init__(self, callback: Callable[[Request], Response | None], name: str = "pod",
                 port: int = 0) -> None:
        self.callback = callback
        self.name = name
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((LOOPBACK, port))
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"{name}-accept",
                                          daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, address = self._socket.accept()
            except OSError:
                return
            with self._lock:
                if self.stopping.is_set():
                    conn.close()
                    return
                thread = threading.Thread(target=self._serve, args=(conn, address),
                                          name=f"{self.name}-conn", daemon=True)
                self._connections[conn] = thread
            thread.start()

    def _serve(self, conn: socket.socket, address: tuple[str, int]) -> None:
        try:
            _Handler(conn, address, self)  # type: ignore[arg-type]
        except Exception:  # a broken connection must not print
            pass
        finally:
            with self._lock:
                self._connections.pop(conn, None)
            conn.close()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the server stops."""
        self.stopping.wait(seconds)

    def stop(self) -> None:
        """Close the listening socket and every connection, and join the threads."""
        with self._lock:
            if self.stopping.is_set():
                return
            self.stopping.set()
            connections = dict(self._connections)
        for sock in (self._socket, *connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._socket.close()
        self._acceptor.join(JOIN_TIMEOUT_S)
        for thread in connections.values():
            thread.join(JOIN_TIMEOUT_S)
