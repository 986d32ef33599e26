"""The server side of ``kubectl port-forward``: SPDY/3.1 framing (the subset Kubernetes'
port-forward protocol uses) and the ``portforward.k8s.io`` streams on top of it.

kubectl opens, per forwarded connection, an ``error`` and a ``data`` stream (headers
``streamType``, ``port``, ``requestID``); the server connects to the pod's port and relays
bytes between the data stream and that connection. The SPDY bytes travel either in WebSocket
messages (``SPDY/3.1+portforward.k8s.io``, kubectl's default) or on the upgraded connection
itself (``Upgrade: SPDY/3.1``, its fallback). Flow control is not enforced, as Kubernetes'
own SPDY library does not enforce it either."""

from __future__ import annotations

import select
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

#: The SPDY/3 header-compression dictionary (spdy-protocol-draft3, section 2.6.10.1): these
#: words, each with a 32-bit length, then this text.
_WORDS = ("options head post put delete trace accept accept-charset accept-encoding "
          "accept-language accept-ranges age allow authorization cache-control connection "
          "content-base content-encoding content-language content-length content-location "
          "content-md5 content-range content-type date etag expect expires from host if-match "
          "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
          "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
          "server te trailer transfer-encoding upgrade user-agent vary via warning "
          "www-authenticate method get status").split() + [
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417"
         "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
         "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
         "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
         "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
         "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
         "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN = 0x01
PROTOCOL = "portforward.k8s.io"
CHUNK = 32 * 1024

Headers = dict[str, str]


class Framer:
    """Encodes and decodes SPDY/3 frames; header blocks share one zlib context per direction."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=DICTIONARY)
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[bool, int, int, bytes]]:
        """Complete frames in ``data`` (and what came before): (control, type or stream id,
        flags, payload)."""
        self._buffer += data
        out = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack(">II", self._buffer[:8])
            size = second & 0xFFFFFF
            if len(self._buffer) < 8 + size:
                break
            payload, self._buffer = self._buffer[8:8 + size], self._buffer[8 + size:]
            control = bool(first & 0x80000000)
            what = first & 0xFFFF if control else first & 0x7FFFFFFF
            out.append((control, what, second >> 24, payload))
        return out

    def headers(self, block: bytes) -> Headers:
        raw = self._inflate.decompress(block)
        count, pos, out = struct.unpack(">I", raw[:4])[0], 4, {}
        for _ in range(count):
            size = struct.unpack(">I", raw[pos:pos + 4])[0]
            name, pos = raw[pos + 4:pos + 4 + size].decode("latin-1").lower(), pos + 4 + size
            size = struct.unpack(">I", raw[pos:pos + 4])[0]
            value, pos = raw[pos + 4:pos + 4 + size].decode("latin-1"), pos + 4 + size
            out[name] = value.split("\x00")[0]
        return out

    def _block(self, headers: Headers) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(kind: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    @staticmethod
    def data(stream: int, payload: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream & 0x7FFFFFFF,
                           ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload

    def syn_reply(self, stream: int, headers: Headers | None = None) -> bytes:
        return self.control(SYN_REPLY, 0, struct.pack(">I", stream) + self._block(headers or {}))

    def rst(self, stream: int, status: int = 5) -> bytes:
        return self.control(RST_STREAM, 0, struct.pack(">II", stream, status))


@dataclass
class _Forward:
    """One forwarded connection: its two streams and the socket to the pod's port."""

    port: int
    error: int = 0
    data: int = 0
    sock: socket.socket | None = None
    closed: bool = False
    pending: list[bytes] = field(default_factory=list)


Resolve = Callable[[int], "tuple[str, int] | str"]


class PortForward:
    """Serves one port-forward connection: ``read(poll)`` gives the client's bytes (None:
    nothing yet; b"": gone), ``write`` sends; ``resolve(port)`` is where the pod's port
    answers, or an error message."""

    def __init__(self, read: Callable[[], bytes | None], write: Callable[[bytes], None],
                 resolve: Resolve) -> None:
        self.read, self.write, self.resolve = read, write, resolve
        self.framer = Framer()
        self.forwards: dict[str, _Forward] = {}

    def serve(self) -> None:
        while True:
            data = self.read()
            if data == b"":
                break
            if data:
                for frame in self.framer.feed(data):
                    self._frame(*frame)
            self._pump()
        for fwd in self.forwards.values():
            self._close(fwd)

    def _frame(self, control: bool, what: int, flags: int, payload: bytes) -> None:
        if not control:
            fwd = next((f for f in self.forwards.values() if f.data == what), None)
            if fwd is not None and fwd.sock is not None:
                if payload:
                    fwd.sock.sendall(payload)
                if flags & FLAG_FIN:
                    try:
                        fwd.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
            return
        if what == SYN_STREAM:
            stream = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            headers = self.framer.headers(payload[10:])
            self.write(self.framer.syn_reply(stream))
            self._stream(stream, headers)
        elif what == PING:
            self.write(self.framer.control(PING, 0, payload[:4]))
        elif what == RST_STREAM:
            stream = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            for fwd in self.forwards.values():
                if stream in (fwd.data, fwd.error):
                    self._close(fwd)

    def _stream(self, stream: int, headers: Headers) -> None:
        request = headers.get("requestid", str(stream))
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            self.write(self.framer.rst(stream, 1))
            return
        fwd = self.forwards.setdefault(request, _Forward(port))
        if headers.get("streamtype") == "error":
            fwd.error = stream
        else:
            fwd.data = stream
            self._connect(fwd)

    def _connect(self, fwd: _Forward) -> None:
        target = self.resolve(fwd.port)
        if isinstance(target, tuple):
            try:
                fwd.sock = socket.create_connection(target, timeout=10)
                return
            except OSError as exc:
                target = f"failed to connect to port {fwd.port}: {exc.strerror or exc}"
        if fwd.error:
            self.write(self.framer.data(fwd.error, target.encode(), fin=True))
        self.write(self.framer.data(fwd.data, b"", fin=True))
        fwd.closed = True

    def _pump(self) -> None:
        live = {f.sock: f for f in self.forwards.values() if f.sock is not None and not f.closed}
        if not live:
            return
        readable, _, _ = select.select(list(live), [], [], 0)
        for sock in readable:
            fwd = live[sock]
            try:
                chunk = sock.recv(CHUNK)
            except OSError:
                chunk = b""
            if chunk:
                self.write(self.framer.data(fwd.data, chunk))
            else:
                self.write(self.framer.data(fwd.data, b"", fin=True))
                self._close(fwd)

    @staticmethod
    def _close(fwd: _Forward) -> None:
        fwd.closed = True
        if fwd.sock is not None:
            try:
                fwd.sock.close()
            except OSError:
                pass
