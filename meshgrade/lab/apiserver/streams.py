"""Pod subresources that stream: exec (WebSocket channels), port-forward (SPDY, in WebSocket
messages or on the upgraded connection) and log (plain text, followed on request)."""

from __future__ import annotations

import datetime
import json
import time
from typing import TYPE_CHECKING, Any

from . import spdy
from . import status as st
from .podio import LogLine, Runtime
from .websocket import (
    CHANNEL_PROTOCOLS,
    CLOSE,
    ERROR,
    PORT_FORWARD_PROTOCOL,
    STDERR,
    STDIN,
    STDOUT,
    Closed,
    WebSocket,
    upgrade,
    wants_websocket,
)

if TYPE_CHECKING:
    from .call import Call
    from .handler import Handler

FOLLOW_POLL_S = 0.25


class ChannelIO:
    """stdin, stdout and stderr of one exec over a channel WebSocket."""

    def __init__(self, ws: WebSocket, stdin: bool, tty: bool) -> None:
        self.ws, self.stdin, self.tty = ws, stdin, tty
        self._eof = not stdin

    def read(self, timeout: float) -> bytes | None:
        if self._eof:
            return b""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.ws.receive()
            except Closed:
                self._eof = True
                return b""
            if message:
                if message[0] == STDIN and len(message) > 1:
                    return message[1:]
                if message[0] == CLOSE and message[1:2] == bytes([STDIN]):
                    self._eof = True
                    return b""
            if time.monotonic() >= deadline:
                return None

    def write(self, data: bytes, stderr: bool = False) -> None:
        if not data:
            return
        if self.tty:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.ws.send_channel(STDERR if stderr and not self.tty else STDOUT, data)

    def finish(self, code: int) -> None:
        if code == 0:
            result: dict[str, Any] = {"metadata": {}, "status": "Success"}
        else:
            result = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": f"command terminated with non-zero exit code: exit status "
                                 f"{code}",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        self.ws.send_channel(ERROR, json.dumps(result).encode())
        self.ws.close()


def _runtime(call: Call) -> Runtime:
    runtime = call.api.runtime
    if runtime is None:
        raise st.unsupported("pod streams without the lab's pods")
    return runtime


def exec_(handler: Handler, call: Call, attach: bool) -> None:
    """GET .../pods/<name>/exec?command=...&stdin=&stdout=&stderr=&tty=&container=."""
    if attach:
        raise st.unsupported("kubectl attach (use kubectl exec, or kubectl logs -f)")
    if not wants_websocket(handler.headers):
        raise st.unsupported("exec over SPDY (kubectl 1.30 or later uses WebSockets)")
    query = handler.query_all()
    argv = query.get("command") or []
    if not argv:
        raise st.bad_request("you must specify at least 1 command")
    assert call.name is not None
    command = _runtime(call).exec(call.namespace or "", call.name, call.query.get("container"),
                                  argv, call.flag("tty"))
    ws = upgrade(handler, CHANNEL_PROTOCOLS)
    if ws is None:
        return
    io = ChannelIO(ws, call.flag("stdin"), call.flag("tty"))
    try:
        io.finish(command(io))
    except Closed:
        pass


def port_forward(handler: Handler, call: Call) -> None:
    """.../pods/<name>/portforward, SPDY in WebSocket messages or on the connection."""
    assert call.name is not None
    resolve = _runtime(call).port_target(call.namespace or "", call.name)
    if wants_websocket(handler.headers):
        ws = upgrade(handler, (PORT_FORWARD_PROTOCOL,))
        if ws is None:
            return

        def read() -> bytes | None:
            try:
                return ws.receive() or None  # an empty message carries nothing
            except Closed:
                return b""

        def write(data: bytes) -> None:
            ws.send(data)
    elif "spdy/3.1" in str(handler.headers.get("Upgrade", "")).lower():
        handler.send_response(101, "Switching Protocols")
        for name, value in (("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                            ("X-Stream-Protocol-Version", spdy.PROTOCOL)):
            handler.send_header(name, value)
        handler.end_headers()
        handler.sent = handler.close_connection = True
        raw = WebSocket(handler.rfile, handler.wfile, handler.connection, spdy.PROTOCOL)

        def read() -> bytes | None:
            return raw.raw_read()

        def write(data: bytes) -> None:
            raw.raw_write(data)
    else:
        raise st.bad_request("port-forward needs a WebSocket or SPDY/3.1 upgrade")
    try:
        spdy.PortForward(read, write, resolve).serve()
    except Closed:
        pass


def _stamp(line: LogLine, timestamps: bool) -> bytes:
    return ((f"{line.stamp} " if timestamps else "") + line.text + "\n").encode()


def logs(handler: Handler, call: Call) -> None:
    """GET .../pods/<name>/log: the container's lines; ``follow`` streams new ones."""
    assert call.name is not None
    runtime, q = _runtime(call), call.query
    container, previous = q.get("container"), call.flag("previous")
    cursor, lines = runtime.logs(call.namespace or "", call.name, container, previous, 0)
    since = 0.0
    try:
        if q.get("sinceSeconds"):
            since = time.time() - int(q["sinceSeconds"])
        elif q.get("sinceTime"):
            since = datetime.datetime.fromisoformat(q["sinceTime"].replace("Z", "+00:00")
                                                    ).timestamp()
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        limit = int(q["limitBytes"]) if q.get("limitBytes") else None
    except ValueError as exc:
        raise st.bad_request(f"invalid log options: {exc}") from None
    lines = [x for x in lines if x.at >= since]
    if tail is not None:
        lines = lines[len(lines) - tail:] if tail < len(lines) else lines
    stamps = call.flag("timestamps")
    body = b"".join(_stamp(x, stamps) for x in lines)
    if limit is not None:
        body = body[:limit]
    if not call.flag("follow"):
        return handler.send_body(200, body, "text/plain")
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.sent = True
    handler.raw_chunk(body)
    while not handler.client_gone():
        time.sleep(FOLLOW_POLL_S)
        try:
            cursor, new = runtime.logs(call.namespace or "", call.name, container, False, cursor)
        except st.ApiError:
            break
        handler.raw_chunk(b"".join(_stamp(x, stamps) for x in new))
    handler.close_connection = True
    handler.end_chunks()


__all__ = ["exec_", "logs", "port_forward"]
