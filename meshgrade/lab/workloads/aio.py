"""The pods' asyncio runtime: one event loop thread per lab (`PodLoop`) serving every pod's
HTTP/1.1 port (`LoopServer`), and the keep-alive client pods call the mesh with (`MeshClient`).
A mesh call waits without holding a thread, so one thread serves every hop of a page."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from ..ports import LOOPBACK
from .http1 import Message, ParseError, Reader
from .podserver import SERVICE_PORT, SOURCE_HEADER, Request, Response

T = TypeVar("T")
Handler = Callable[[Request], Awaitable["Response | None"]]

JOIN_TIMEOUT_S = 2.0
SERVER = "meshgrade-pod"
METHODS = frozenset(("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"))
MAX_QUEUED = 32  # pipelined requests read ahead of the one being answered
ACCEPT_BATCH = 64
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class PodLoop:
    """An asyncio event loop on its own daemon thread; `call` runs a coroutine on it."""

    def __init__(self, name: str = "meshgrade-pods") -> None:
        self.loop = asyncio.new_event_loop()
        self.stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        finally:
            self.loop.close()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and return its result (from another thread).
        RuntimeError when the loop has stopped."""
        if self.stopped or threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("the pods' loop has stopped, or was called from its own thread")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop (tasks still running are cancelled) and join its thread."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed meanwhile
            return
        self._thread.join(JOIN_TIMEOUT_S)


class _Date:
    """The Date header's value, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second, self._text = second, formatdate(second, usegmt=True)
        return self._text


_DATE = _Date()


def encode_response(response: Response, *, head: bool = False, close: bool = False) -> bytes:
    """A response as bytes on the wire (Server, Date, Content-Type and -Length first)."""
    reason = _REASONS.get(response.status, "")
    lines = [f"HTTP/1.1 {response.status} {reason}\r\nServer: {SERVER}\r\n"
             f"Date: {_DATE.now()}\r\nContent-Type: {response.content_type}\r\n"
             f"Content-Length: {len(response.body)}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in response.headers]
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    data = "".join(lines).encode("latin-1", "replace")
    return data if head else data + response.body


def to_request(message: Message) -> Request:
    """The pods' `Request` of a parsed message (repeated headers joined; cookies by ``; ``)."""
    headers: dict[str, str] = {}
    for name, value in message.headers:
        if name in headers:
            headers[name] += ("; " if name == "cookie" else ", ") + value
        else:
            headers[name] = value
    method, target, _ = message.start
    parts = urlsplit(target)
    return Request(method, parts.path or "/", parts.query, headers, message.body)


def _keep_alive(message: Message) -> bool:
    tokens = message.tokens("connection")
    if message.start[2] == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


class _ServerConnection(asyncio.Protocol):
    """One client connection: requests answered one after the other, in order."""

    def __init__(self, server: LoopServer) -> None:
        self.server = server
        self.reader = Reader()
        self.queue: collections.deque[Message | ParseError] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.continued: Message | None = None  # the request told "100 Continue"
        self.paused = False
        self.broken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.server.closed:  # accepted just before the server stopped
            transport.abort()
            return
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.queue.clear()
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self.queue.extend(self.reader.feed(data))
        except ParseError as exc:  # answered in turn, then the connection closes
            self.broken = True
            self.queue.append(exc)
        pending = self.reader.pending
        if pending is not None and pending is not self.continued and "100-continue" in (
                pending.tokens("expect")) and pending.start[2] == "HTTP/1.1":
            self.continued = pending
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if len(self.queue) > MAX_QUEUED and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if self.queue and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._answer_all())

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def _answer_all(self) -> None:
        try:
            while self.queue:
                message = self.queue.popleft()
                if self.paused and len(self.queue) <= MAX_QUEUED // 2 and self.transport:
                    self.paused = False
                    self.transport.resume_reading()
                if not await self._answer(message):
                    self.queue.clear()
                    if self.transport is not None:
                        self.transport.close()
                    return
        finally:
            self.task = None

    async def _answer(self, message: Message | ParseError) -> bool:
        """Answer one request; False when the connection is to close."""
        if isinstance(message, ParseError):
            self._write(encode_response(Response.text(str(message), message.status),
                                        close=True))
            return False
        method = message.start[0]
        if method not in METHODS:
            self._write(encode_response(Response.text("Unsupported method", 501), close=True))
            return False
        keep = _keep_alive(message)
        try:
            response = await self.server.handler(to_request(message))
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken handler: the connection ends, nothing is printed
            return False
        if response is None:  # a "down" pod: the connection drops without an answer
            return False
        self._write(encode_response(response, head=method == "HEAD", close=not keep))
        return keep


class LoopServer:
    """A pod's HTTP/1.1 server on 127.0.0.1, served by a `PodLoop`. ``port`` 0 lets the
    kernel pick a free port atomically; read it from ``.port``."""

    def __init__(self, pods: PodLoop, handler: Handler, name: str = "pod",
                 port: int = 0) -> None:
        self.pods = pods
        self.handler = handler
        self.name = name
        self.connections: set[_ServerConnection] = set()
        self.closed = False
        self._sock: socket.socket | None = None
        self._adopting: set[asyncio.Task[None]] = set()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, port))
            sock.listen(128)
            sock.setblocking(False)
            self.port: int = sock.getsockname()[1]
            pods.call(self._start(sock), JOIN_TIMEOUT_S)
        except BaseException:
            sock.close()
            raise

    async def _start(self, sock: socket.socket) -> None:
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        """Accept what the backlog holds; each connection gets its transport in a task."""
        loop = asyncio.get_running_loop()
        for _ in range(ACCEPT_BATCH):
            if self._sock is None:
                return
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, or closed: try again on the next event
                return
            conn.setblocking(False)
            self._adopting.add(loop.create_task(self._adopt(conn)))

    async def _adopt(self, conn: socket.socket) -> None:
        task = asyncio.current_task()
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: _ServerConnection(self), conn)
        except BaseException:  # the peer left at once, or the loop stops
            conn.close()
            raise
        finally:
            if task is not None:
                self._adopting.discard(task)

    async def _close(self) -> None:
        self.closed = True
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
            if conn.task is not None:
                conn.task.cancel()
        self.connections.clear()

    def stop(self) -> None:
        """Stop listening and drop every connection (answers under way are cancelled)."""
        try:
            self.pods.call(self._close(), JOIN_TIMEOUT_S)
        except (RuntimeError, concurrent.futures.TimeoutError):  # the loop is gone
            pass


class MeshResponse:
    """The answer to a mesh call: its status code and body."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.content)


class _Dropped(Exception):
    """The connection ended before a whole answer."""


class _ClientConnection(asyncio.Protocol):
    """A keep-alive connection to the mesh: one request at a time."""

    def __init__(self) -> None:
        self.reader = Reader(responses=True)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Message] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except ParseError as exc:
            self._settle(exc)
            self.close()
            return
        if messages:
            if len(messages) > 1 or self.waiter is None:  # answers nobody asked for
                self.close()
            self._settle(messages[0])

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        last = self.reader.eof()
        self._settle(last if last is not None else _Dropped("connection closed"))

    def _settle(self, outcome: Message | Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, Message):
            waiter.set_result(outcome)
        else:
            waiter.set_exception(outcome)

    def timed_out(self) -> None:
        self._settle(TimeoutError("mesh call timed out"))
        self.close()

    async def exchange(self, data: bytes, timeout: float) -> Message:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        waiter = self.waiter
        self.transport.write(data)
        timer = loop.call_later(timeout, self.timed_out)
        try:
            return await waiter
        finally:
            timer.cancel()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 30


def _default_headers() -> dict[str, str]:
    return dict(requests.utils.default_headers())


class MeshClient:
    """Outgoing calls of one pod through the mesh: `Host: <service>:9080` on the mesh port,
    over a pool of keep-alive connections (one per concurrent call). ``timeout_s`` bounds each
    exchange (connect, then the whole answer)."""

    _defaults: dict[str, str] | None = None

    def __init__(self, mesh_url: Callable[[], str], source_workload: str,
                 timeout_s: float = 3.0) -> None:
        self._mesh_url = mesh_url
        self.source_workload = source_workload
        self.timeout_s = timeout_s
        self._idle: dict[str, list[_ClientConnection]] = {}
        self._closed = False
        if MeshClient._defaults is None:
            MeshClient._defaults = _default_headers()

    async def get(self, service: str, path: str, headers: dict[str, str]
                  ) -> MeshResponse | None:
        """GET ``path`` from ``service``; None when the call fails at the connection level or
        times out. Redirects within the mesh are followed (up to 30), as a requests client
        would."""
        host = service if ":" in service else f"{service}:{SERVICE_PORT}"
        given = {name.lower() for name in headers}
        sent = {name: value for name, value in (self._defaults or {}).items()
                if name.lower() not in given}  # the caller's own override them, as in requests
        sent.update(headers)
        sent.update({"Host": host, SOURCE_HEADER: self.source_workload})
        url = self._mesh_url().rstrip("/") + path
        for _ in range(_MAX_REDIRECTS + 1):
            target = urlsplit(url)
            answer = await self._send(target.netloc, target.path + (
                f"?{target.query}" if target.query else ""), sent)
            if answer is None:
                return None
            response, location = answer
            if response.status_code not in _REDIRECTS or not location:
                return response
            url = urljoin(url, location)
            if urlsplit(url).netloc != target.netloc:  # a host outside the mesh: unreachable
                return None
            sent = {k: v for k, v in sent.items() if k.lower() != "cookie"}
        return None

    async def _send(self, netloc: str, target: str, headers: dict[str, str]
                    ) -> tuple[MeshResponse, str | None] | None:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items()
                       if "\r" not in value and "\n" not in value)
        data = f"GET {target or '/'} HTTP/1.1\r\n{head}\r\n".encode("latin-1", "replace")
        conn = self._take(netloc)
        reused = conn is not None
        while True:
            try:
                if conn is None:
                    conn = await self._connect(netloc)
                answer = await conn.exchange(data, self.timeout_s)
            except _Dropped:  # a kept-alive connection the mesh closed: once more, afresh
                if conn is not None:
                    conn.close()
                if not reused:
                    return None
                conn, reused = None, False
                continue
            except (OSError, ValueError, ParseError, asyncio.TimeoutError):
                if conn is not None:
                    conn.close()
                return None
            except BaseException:  # cancelled: the connection is in an unknown state
                if conn is not None:
                    conn.close()
                raise
            status = int(answer.start[1]) if answer.start[1].isdigit() else 0
            if conn.closed or not _keep_alive_answer(answer):
                conn.close()
            else:
                self._give(netloc, conn)
            return MeshResponse(status, answer.body), answer.header("location")

    async def _connect(self, netloc: str) -> _ClientConnection:
        host, _, port = netloc.rpartition(":")
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(loop.create_connection(
            _ClientConnection, host or netloc, int(port) if port.isdigit() else 80),
            self.timeout_s)
        return conn

    def _take(self, netloc: str) -> _ClientConnection | None:
        idle = self._idle.get(netloc)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def _give(self, netloc: str, conn: _ClientConnection) -> None:
        if self._closed:
            conn.close()
        else:
            self._idle.setdefault(netloc, []).append(conn)

    async def aclose(self) -> None:
        """Close the idle connections; later calls open none to keep."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _keep_alive_answer(message: Message) -> bool:
    tokens = message.tokens("connection")
    if message.start[0] == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens
