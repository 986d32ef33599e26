"""The pods' asyncio HTTP/1.1 server and message reader, over real loopback sockets: keep-alive,
pipelining, bodies (length and chunked), HEAD, HTTP/1.0, 100-continue, bad requests, a down
pod, and stopping with connections open."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
import requests

from meshgrade.lab.ports import LOOPBACK
from meshgrade.lab.workloads.aio import LoopServer, PodLoop, encode_response
from meshgrade.lab.workloads.http1 import MAX_BODY, ParseError, Reader
from meshgrade.lab.workloads.podserver import Request, Response

from .conftest import PATIENCE_S

TIMEOUT = PATIENCE_S  # bounds real requests only


async def echo(request: Request) -> Response | None:
    if request.path == "/down":
        return None
    if request.path == "/slow":
        await asyncio.sleep(30)
    if request.path == "/boom":
        raise RuntimeError("a broken handler")
    return Response.json({"method": request.method, "path": request.path,
                          "query": request.query_string, "body": request.body.decode(),
                          "cookie": request.header("cookie"), "via": request.header("via")})


@pytest.fixture
def server() -> Iterator[LoopServer]:
    pods = PodLoop()
    srv = LoopServer(pods, echo, "echo")
    try:
        yield srv
    finally:
        srv.stop()
        pods.stop()


def raw(port: int, data: bytes, *, until_close: bool = True, expect: int = 1) -> bytes:
    """Send ``data``; read until the server closes (or ``expect`` answers arrived)."""
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        got = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return got
            got += chunk
            if not until_close and got.count(b"HTTP/1.1 ") >= expect and got.endswith(b"}"):
                return got


def test_keep_alive_query_cookies_and_bodies(server: LoopServer) -> None:
    base = f"http://{LOOPBACK}:{server.port}"
    with requests.Session() as session:
        got = session.get(f"{base}/a/b?x=1&y=2", headers={"Cookie": "a=1"}, timeout=TIMEOUT)
        assert got.status_code == 200 and got.headers["Server"] == "meshgrade-pod"
        assert "Date" in got.headers and got.headers["Content-Type"] == "application/json"
        assert got.json()["query"] == "x=1&y=2" and got.json()["cookie"] == "a=1"
        posted = session.post(f"{base}/form", data={"username": "jason"}, timeout=TIMEOUT)
        assert posted.json()["body"] == "username=jason"
        chunked = session.post(f"{base}/c", data=iter([b"ab", b"cd", b"e"]), timeout=TIMEOUT)
        assert chunked.json()["body"] == "abcde"
        head = session.head(f"{base}/h", timeout=TIMEOUT)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0
        assert not head.content
    assert len(server.connections) <= 1  # one kept-alive connection for all of them


def test_pipelined_requests_are_answered_in_order(server: LoopServer) -> None:
    data = b"".join(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n\r\n".encode() for i in range(5))
    got = raw(server.port, data + b"GET /last HTTP/1.1\r\nConnection: close\r\n\r\n")
    paths = [part.split(b'"path": "')[1].split(b'"')[0] for part in got.split(b"\r\n\r\n")[1:]]
    assert paths == [b"/0", b"/1", b"/2", b"/3", b"/4", b"/last"]
    assert got.count(b"Connection: close") == 1


def test_http_1_0_closes_and_repeated_headers_join(server: LoopServer) -> None:
    got = raw(server.port, b"GET /old HTTP/1.0\r\nVia: a\r\nVia: b\r\nCookie: x=1\r\n"
                           b"Cookie: y=2\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in got
    assert b'"via": "a, b"' in got and b'"cookie": "x=1; y=2"' in got


def test_expect_100_continue(server: LoopServer) -> None:
    with socket.create_connection((LOOPBACK, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert b'"body": "hello"' in sock.recv(65536)


@pytest.mark.parametrize("data, status", [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
    (b"BREW /pot HTTP/1.1\r\n\r\n", 501),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
])
def test_bad_requests_are_answered_then_closed(server: LoopServer, data: bytes,
                                               status: int) -> None:
    got = raw(server.port, data)
    assert got.startswith(f"HTTP/1.1 {status} ".encode()) and b"Connection: close" in got


def test_down_pod_and_broken_handler_drop_the_connection(server: LoopServer) -> None:
    assert raw(server.port, b"GET /down HTTP/1.1\r\n\r\n") == b""
    assert raw(server.port, b"GET /boom HTTP/1.1\r\n\r\n") == b""
    assert raw(server.port, b"GET /fine HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200 OK")


def test_stop_drops_open_connections_and_frees_the_port() -> None:
    pods = PodLoop()
    srv = LoopServer(pods, echo, "echo")
    try:
        sock = socket.create_connection((LOOPBACK, srv.port), timeout=TIMEOUT)
        sock.sendall(b"GET /slow HTTP/1.1\r\n\r\n")  # an answer under way
        srv.stop()
        try:
            assert sock.recv(100) == b""  # dropped: closed, or reset (the request unread)
        except ConnectionResetError:
            pass
        sock.close()
        with pytest.raises(OSError):
            socket.create_connection((LOOPBACK, srv.port), timeout=TIMEOUT).close()
    finally:
        srv.stop()
        pods.stop()
    with pytest.raises(RuntimeError):  # a stopped loop runs nothing more
        LoopServer(pods, echo, "late")


def test_reader_frames_responses() -> None:
    reader = Reader(responses=True)
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab") == []
    (first,) = reader.feed(b"c")
    assert first.body == b"abc" and first.start == ("HTTP/1.1", "200", "OK")
    chunked = reader.feed(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n"
                          b"\r\n4;x=y\r\nwxyz\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\n"
                          b"HTTP/1.1 204 No Content\r\n\r\n")
    assert [(m.start[1], m.body) for m in chunked] == [("503", b"wxyz!"), ("204", b"")]
    assert reader.feed(b"HTTP/1.0 200 OK\r\n\r\nuntil the end") == []
    last = reader.eof()
    assert last is not None and last.body == b"until the end"
    with pytest.raises(ParseError):
        Reader(responses=True).feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    with pytest.raises(ParseError) as too_big:
        Reader().feed(f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode())
    assert too_big.value.status == 413


def test_encoded_response_matches_the_threaded_server() -> None:
    response = Response.html("<p>x</p>", 302)
    response.headers.append(("Location", "/productpage"))
    data = encode_response(response, close=True)
    head, body = data.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 302 Found" and lines[1] == "Server: meshgrade-pod"
    assert lines[2].startswith("Date: ") and lines[3:] == [
        "Content-Type: text/html; charset=utf-8", "Content-Length: 8",
        "Location: /productpage", "Connection: close"]
    assert body == b"<p>x</p>"
    assert encode_response(response, head=True).endswith(b"\r\n\r\n")
