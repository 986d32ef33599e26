"""A server-side WebSocket (RFC 6455) over the API server's TLS connection, and the
Kubernetes channel protocols kubectl speaks over it (``v5.channel.k8s.io`` and older for
exec and attach; ``SPDY/3.1+portforward.k8s.io`` tunnels port-forward's SPDY).

One thread serves a connection: reads poll with a short socket timeout (an SSL socket must
not be read and written from two threads at once), writes go straight out."""

from __future__ import annotations

import base64
import hashlib
import io
import select
import socket
import ssl
import struct
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_TEXT, _BINARY, _CLOSE_FRAME, _PING, _PONG = 1, 2, 8, 9, 10
POLL_S = 0.02
MAX_MESSAGE = 64 * 1024 * 1024


def wants_websocket(headers: Any) -> bool:
    return "websocket" in str(headers.get("Upgrade", "")).lower()


def offered(headers: Any) -> list[str]:
    """The subprotocols the client offers, in its order."""
    return [p.strip() for p in str(headers.get("Sec-WebSocket-Protocol", "")).split(",")
            if p.strip()]


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.strip().encode() + GUID).digest()).decode()


class Closed(Exception):
    """The peer closed the WebSocket (or the connection broke)."""


class WebSocket:
    """Frames over a request handler's connection after a 101 answer. Reads go to the socket
    itself (the client sends nothing before it has the 101, so nothing waits in the handler's
    buffer), polled with select: a file object must not be read after a timeout."""

    def __init__(self, rfile: io.BufferedIOBase, wfile: Any, sock: socket.socket,
                 protocol: str) -> None:
        self.rfile, self.wfile, self.sock, self.protocol = rfile, wfile, sock, protocol
        self.closed = False
        self._buffer = b""

    # -- reading -------------------------------------------------------------------------
    def _fill(self, timeout: float) -> bool:
        """Read what has arrived into the buffer; False when nothing did within ``timeout``."""
        pending = getattr(self.sock, "pending", lambda: 0)()
        if not pending:
            try:
                readable, _, _ = select.select([self.sock], [], [], timeout)
            except (OSError, ValueError) as exc:
                raise Closed() from exc
            if not readable:
                return False
        try:
            data = self.sock.recv(64 * 1024)
        except (ssl.SSLWantReadError, TimeoutError):
            return False
        except (OSError, ValueError) as exc:
            raise Closed() from exc
        if not data:
            raise Closed()
        self._buffer += data
        return True

    def _read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill(POLL_S)
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def receive(self, poll: bool = True) -> bytes | None:
        """The next data message; None when ``poll`` and nothing arrived in one interval.
        Pings are answered, a close frame raises Closed."""
        message, opcode = b"", 0
        while True:
            if poll and not self._buffer and not message and not self._fill(POLL_S):
                return None
            head = self._read_exact(2)
            fin, op, masked, size = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
            if size == 126:
                size = struct.unpack(">H", self._read_exact(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", self._read_exact(8))[0]
            if size > MAX_MESSAGE:
                raise Closed()
            mask = self._read_exact(4) if masked else b""
            payload = self._read_exact(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if op == _CLOSE_FRAME:
                self.close(1000)
                raise Closed()
            if op == _PING:
                self._send_frame(_PONG, payload)
                continue
            if op == _PONG:
                continue
            opcode = opcode or op
            message += payload
            if fin:
                return message if opcode in (_TEXT, _BINARY) else b""

    def raw_read(self) -> bytes | None:
        """Bytes of a connection that is not framed (SPDY after ``Upgrade: SPDY/3.1``); None
        when nothing arrived in one interval, b"" once the peer is gone."""
        try:
            if not self._buffer and not self._fill(POLL_S):
                return None
        except Closed:
            return b""
        data, self._buffer = self._buffer, b""
        return data

    def raw_write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except (OSError, ValueError) as exc:
            raise Closed() from exc

    # -- writing -------------------------------------------------------------------------
    def _send_frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack(">BB", 0x80 | opcode, size)
        elif size < 1 << 16:
            head = struct.pack(">BBH", 0x80 | opcode, 126, size)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, size)
        try:
            self.wfile.write(head + payload)
        except (OSError, ValueError) as exc:
            raise Closed() from exc

    def send(self, payload: bytes) -> None:
        self._send_frame(_BINARY, payload)

    def send_channel(self, channel: int, data: bytes) -> None:
        """One message on a channel; big outputs go in pieces."""
        for i in range(0, max(len(data), 1), 32 * 1024):
            self.send(bytes([channel]) + data[i:i + 32 * 1024])

    def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._send_frame(_CLOSE_FRAME, struct.pack(">H", code))
            except Closed:
                pass


def upgrade(handler: Any, protocols: tuple[str, ...]) -> WebSocket | None:
    """Answer 101 with the first of ``protocols`` the client offers; None (and a 400) when
    it offers none."""
    chosen = next((p for p in offered(handler.headers) if p in protocols), None)
    key = handler.headers.get("Sec-WebSocket-Key")
    if chosen is None or not key:
        body = (f"the meshgrade lab speaks WebSocket subprotocols {', '.join(protocols)}; "
                f"offered: {', '.join(offered(handler.headers)) or 'none'}").encode()
        handler.send_body(400, body, "text/plain; charset=utf-8")
        return None
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(key))
    handler.send_header("Sec-WebSocket-Protocol", chosen)
    handler.end_headers()
    handler.wfile.flush()
    handler.sent = True
    handler.close_connection = True
    return WebSocket(handler.rfile, handler.wfile, handler.connection, chosen)
