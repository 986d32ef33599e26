"""A small incremental HTTP/1.1 message reader, for the pods' asyncio server and mesh client:
request or status line, headers, and a body framed by Content-Length, chunked encoding or (for
responses) the end of the connection."""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
MAX_BODY = 16 * 1024 * 1024
_NO_BODY = (204, 304)


class ParseError(Exception):
    """A malformed or oversized message; ``status`` is what a server answers for it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Message:
    """One message: the start line's three parts (``method target version`` or ``version
    status reason``), the headers in order (names lower-case) and the body."""

    start: tuple[str, str, str]
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def tokens(self, name: str) -> set[str]:
        """The comma-separated, lower-cased tokens of every ``name`` header."""
        return {t.strip().lower() for key, value in self.headers if key == name
                for t in value.split(",")}


class Reader:
    """Feed bytes, get whole messages. ``responses``: read status lines, and a body without
    framing lasts until `eof`; otherwise read requests (no framing: no body)."""

    def __init__(self, responses: bool = False) -> None:
        self.responses = responses
        self._buf = bytearray()
        self._head: Message | None = None
        self._length = 0          # body bytes still expected (Content-Length framing)
        self._chunked = False
        self._chunk = -1          # bytes left in the current chunk (+2 for its CRLF); -1: size
        self._until_close = False
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def pending(self) -> Message | None:
        """The head of a message whose body has not fully arrived."""
        return self._head

    def feed(self, data: bytes) -> list[Message]:
        """The messages completed by ``data`` (raises `ParseError`)."""
        self._buf += data
        done: list[Message] = []
        while True:
            if self._head is None:
                while not self.responses and self._buf[:2] == b"\r\n":
                    del self._buf[:2]  # stray line ends between requests are tolerated
                end = self._buf.find(b"\r\n\r\n")
                if end > MAX_HEAD or end < 0 and len(self._buf) > MAX_HEAD:
                    raise ParseError("header block too large", 431)
                if end < 0:
                    return done
                head = bytes(self._buf[:end])
                del self._buf[:end + 4]
                self._start(head)
            message = self._body()
            if message is None:
                return done
            done.append(message)

    def eof(self) -> Message | None:
        """The connection ended: the message it completes (a response read until close)."""
        if self._head is not None and self._until_close:
            message = self._finish(bytes(self._buf))
            self._buf.clear()
            return message
        return None

    def _start(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) != 3 or not all(parts[:2] if self.responses else parts):
            raise ParseError(f"bad start line {lines[0][:80]!r}")
        version = parts[0] if self.responses else parts[2]
        if not version.startswith("HTTP/1."):
            raise ParseError(f"unsupported version {version[:20]!r}", 505)
        if len(lines) - 1 > MAX_HEADERS:
            raise ParseError("too many headers", 431)
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ParseError(f"bad header line {line[:80]!r}")
            headers.append((name.lower(), value.strip(" \t")))
        message = Message((parts[0], parts[1], parts[2]), headers)
        self._head, self._parts, self._size = message, [], 0
        self._chunked = "chunked" in message.tokens("transfer-encoding")
        self._chunk, self._until_close, self._length = -1, False, 0
        if self._chunked:
            return
        length = message.header("content-length")
        if length is not None:
            if not length.isdigit():
                raise ParseError("bad Content-Length")
            self._length = int(length)
            if self._length > MAX_BODY:
                raise ParseError("body too large", 413)
        elif self.responses:
            code = int(parts[1]) if parts[1].isdigit() else 0
            self._until_close = not (100 <= code < 200 or code in _NO_BODY)

    def _body(self) -> Message | None:
        buf = self._buf
        if self._until_close:
            if len(buf) > MAX_BODY:
                raise ParseError("body too large", 413)
            return None
        if not self._chunked:
            if len(buf) < self._length:
                return None
            body = bytes(buf[:self._length])
            del buf[:self._length]
            return self._finish(body)
        while True:
            if self._chunk < 0:
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                size_text = bytes(buf[:end]).split(b";")[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ParseError("bad chunk size") from None
                if size < 0 or self._size + size > MAX_BODY:
                    raise ParseError("body too large", 413)
                if size == 0:  # last chunk, then trailers up to a blank line
                    if buf[end + 2:end + 4] == b"\r\n":
                        del buf[:end + 4]
                    else:
                        trailers = buf.find(b"\r\n\r\n", end)
                        if trailers < 0:
                            return None
                        del buf[:trailers + 4]
                    return self._finish(b"".join(self._parts))
                del buf[:end + 2]
                self._chunk = size + 2
            if len(buf) < self._chunk:
                return None
            self._parts.append(bytes(buf[:self._chunk - 2]))
            self._size += self._chunk - 2
            del buf[:self._chunk]
            self._chunk = -1

    def _finish(self, body: bytes) -> Message:
        message = self._head
        assert message is not None
        message.body = body
        self._head = None
        return message
