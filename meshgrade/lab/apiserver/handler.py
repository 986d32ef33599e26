"""The HTTP request handler: routing, discovery, watch streams and the service proxy."""

from __future__ import annotations

import json
import logging
import select
import ssl
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import discovery, mutations, openapi, reads, streams
from . import status as st
from .call import Call
from .proxy import forward, split_service
from .resources import by_plural
from .store import Expired
from .tables import to_table

if TYPE_CHECKING:
    from .server import ApiServer

log = logging.getLogger(__name__)
HEALTH = ("/healthz", "/livez", "/readyz")
BOOKMARK_EVERY = 30.0
POLL = 0.25


class Handler(BaseHTTPRequestHandler):
    """Serves one connection (HTTP/1.1 keep-alive) for the lab API server."""

    protocol_version = "HTTP/1.1"
    server_version = "meshgrade-lab-apiserver"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this

    @property
    def api(self) -> ApiServer:
        return self.server.api  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # -- plumbing -----------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_body(self, code: int, data: bytes, content_type: str = "application/json",
              headers: list[tuple[str, str]] | None = None, reason: str | None = None) -> None:
        self.send_response(code, reason)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.sent = True

    def _json(self, code: int, obj: Any) -> None:
        self.send_body(code, json.dumps(obj, separators=(",", ":")).encode())

    def _handle(self, method: str) -> None:
        self.sent = False
        url = urlsplit(self.path)
        body = self._read_body()
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            self._route(method, url.path, url.query, query, body)
        except st.ApiError as err:
            self._json(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # a bug: answer like an apiserver would, and log it
            log.exception("lab apiserver: %s %s failed", method, self.path)
            if self.sent:
                self.close_connection = True
            else:
                self._json(500, st.internal(f"{type(exc).__name__}: {exc}").status())

    # -- routing ------------------------------------------------------------------------
    def _route(self, method: str, path: str, raw_query: str, query: dict[str, str],
               body: bytes) -> None:
        api = self.api
        if path.rstrip("/") in HEALTH or path.startswith(tuple(h + "/" for h in HEALTH)):
            api.count("health")
            return self.send_body(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            api.count("discovery")
            return self._json(200, discovery.VERSION)
        if path.startswith("/openapi/"):
            api.count("discovery")
            return self._openapi(path)
        segs = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        if not segs or segs[0] not in ("api", "apis"):
            raise st.no_route()
        if segs[0] == "api":
            group, version, rest = "", (segs[1] if len(segs) > 1 else None), segs[2:]
        else:
            group = segs[1] if len(segs) > 1 else ""
            version, rest = (segs[2] if len(segs) > 2 else None), segs[3:]
        if not rest or version is None:  # discovery (a resource path names its version)
            api.count("discovery")
            if method != "GET":
                raise st.not_allowed(f"{method} is not supported on discovery documents")
            return self._discovery(segs[0], group, version)
        watch_path = rest[0] == "watch"
        rest = rest[1:] if watch_path else rest
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and \
                (inner := by_plural(group, version, rest[2])) is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
        res = by_plural(group, version, rest[0]) if rest else None
        if res is None and group == "authorization.k8s.io":  # not served: a 404 that says so
            raise st.ApiError(404, "NotFound", "the meshgrade lab does not serve access reviews "
                              "(kubectl auth can-i): its user may do anything")
        if res is None or (res.namespaced and namespace is None and len(rest) > 1):
            raise st.no_route()
        if res.unsupported:
            raise st.unsupported(res.unsupported)
        name, sub = (rest[1] if len(rest) > 1 else None), rest[2:]
        call = Call(api, res, version, namespace, name, query, self.headers, body)
        if sub and sub != ["status"]:
            return self._subresource(method, call, sub, path, raw_query)
        self._verb(method, call, watch_path or call.flag("watch"), bool(sub))

    def query_all(self) -> dict[str, list[str]]:
        """Every value of each query parameter (exec's ``command`` repeats)."""
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def _subresource(self, method: str, call: Call, sub: list[str], path: str,
                     raw_query: str) -> None:
        api, kind = self.api, call.res.kind
        if sub[0] == "proxy" and kind in ("Service", "Pod"):
            api.count("proxy")
            raw = path.split("/")  # ['', 'api', 'v1', 'namespaces', ns, 'services', svc, ...]
            return self._proxy(method, call.namespace or "", raw[6], "/" + "/".join(raw[8:]),
                               raw_query, call.body, pod=kind == "Pod")
        if kind == "Deployment" and sub == ["scale"]:
            api.count("get" if method == "GET" else "patch")
            if method != "GET" and not api.may_write(call.res):
                raise st.read_only(call.res, "scale", api.writes == "routing")
            return self._json(*mutations.scale(call, method))
        if kind == "Pod" and sub[0] in ("exec", "attach", "portforward", "log"):
            api.count(sub[0] if sub[0] in api.counts else "get")
            if sub[0] == "log":
                return streams.logs(self, call)
            if sub[0] == "portforward":
                return streams.port_forward(self, call)
            return streams.exec_(self, call, attach=sub[0] == "attach")
        what = {"ephemeralcontainers": "kubectl debug (ephemeral containers)",
                "eviction": "evictions (kubectl drain)", "token": "service account tokens",
                "binding": "pod bindings", "resize": "in-place pod resize"}
        raise st.unsupported(what.get(sub[0], f"the {sub[0]} subresource of "
                                      f"{call.res.qualified}"))

    def _verb(self, method: str, call: Call, watch: bool, subresource: bool) -> None:
        api = self.api
        if method == "GET":
            verb = "get" if call.name else ("watch" if watch else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete"}[method]
        api.count(verb)
        if verb == "watch":
            return self._watch(call)
        if verb in ("get", "list"):
            return self._json(*(reads.get(call) if verb == "get" else reads.list_(call)))
        if not api.may_write(call.res) or subresource:
            raise st.read_only(call.res, verb, api.writes == "routing" or subresource)
        if verb == "create":
            if call.name:
                raise st.not_allowed("POST is not allowed on a named object; use PUT or PATCH")
            return self._json(*mutations.create(call))
        if verb == "delete":
            return self._json(*(mutations.delete(call) if call.name
                                else mutations.delete_collection(call)))
        if not call.name:
            raise st.not_allowed(f"{method} needs an object name in the path")
        self._json(*(mutations.update(call) if verb == "update" else mutations.patch(call)))

    def _discovery(self, root: str, group: str, version: str | None) -> None:
        if root == "api" and version is None:
            return self._json(200, discovery.api_versions(self.api.address))
        if root == "apis" and not group:
            return self._json(200, discovery.group_list())
        doc = discovery.api_group(group) if version is None else \
            discovery.resource_list(group, version)
        if doc is None:
            raise st.no_route()
        self._json(200, doc)

    def _openapi(self, path: str) -> None:
        if path.rstrip("/") == "/openapi/v3":
            return self._json(200, openapi.index())
        parts = path.removeprefix("/openapi/v3/").strip("/").split("/")
        doc = None
        if path.startswith("/openapi/v3/") and parts[0] == "api" and len(parts) == 2:
            doc = openapi.document("", parts[1])
        elif path.startswith("/openapi/v3/") and parts[0] == "apis" and len(parts) == 3:
            doc = openapi.document(parts[1], parts[2])
        if doc is None:
            raise st.no_route()
        self.send_body(200, doc)

    # -- service proxy ------------------------------------------------------------------
    def _proxy(self, method: str, namespace: str, service: str, path: str, raw_query: str,
               body: bytes, pod: bool = False) -> None:
        name, port = split_service(service)
        target = None
        if pod and self.api.runtime is not None:
            answer = self.api.runtime.port_target(namespace, name)(int(port or 80))
            target = answer if isinstance(answer, tuple) else None
        elif not pod and self.api.proxy:
            target = self.api.proxy(namespace, name, port)
        if target is None:
            raise st.unavailable(f'no endpoints available for {"pod" if pod else "service"} '
                                 f'"{name}"')
        full = path + (f"?{raw_query}" if raw_query else "")
        try:
            code, reason, headers, data = forward(target[0], target[1], method, full,
                                                  self.headers.items(), body)
        except OSError as exc:
            raise st.unavailable(f"error trying to reach service: {exc}") from None
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-type", "date", "server")]
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "text/plain")
        self.send_body(code, data, ctype, kept, reason)

    # -- watch --------------------------------------------------------------------------
    def _watch(self, call: Call) -> None:
        store, query = self.api.store, call.query
        try:
            watch = store.watch(call.res.group, call.res.kind, call.namespace,
                                query.get("resourceVersion", ""), call.label_selector,
                                call.field_selector, call.flag("sendInitialEvents"))
        except Expired as exc:
            watch, first = None, {"type": "ERROR",
                                  "object": st.ApiError(410, "Expired", str(exc)).status()}
        except ValueError as exc:
            raise st.bad_request(str(exc)) from None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.sent = True
        if watch is None:
            self._chunk(first)
            return self.end_chunks()
        if not self.api.track_watch(watch):
            watch.close()
        try:
            self._stream(call, watch)
        finally:
            self.api.untrack_watch(watch)
            watch.close()

    def _stream(self, call: Call, watch: Any) -> None:
        timeout = call.query.get("timeoutSeconds")
        deadline = time.monotonic() + float(timeout) if timeout else None
        bookmarks = call.flag("allowWatchBookmarks")
        table, last = call.table, time.monotonic()
        while deadline is None or time.monotonic() < deadline:
            try:
                event = watch.next(timeout=POLL)
            except StopIteration:  # the server is stopping
                self.close_connection = True
                return self.end_chunks()
            if event is None:
                if self.client_gone():
                    self.close_connection = True
                    return
                if bookmarks and time.monotonic() - last > BOOKMARK_EVERY:
                    watch.bookmark()
                    last = time.monotonic()
                continue
            obj = call.out(event["object"])
            if table and event["type"] != "BOOKMARK":
                obj = to_table(call.res, call.version, [obj], crd=call.crd(), table_version=table,
                               include_object=call.query.get("includeObject", "Metadata"))
            self._chunk({"type": event["type"], "object": obj})
        self.end_chunks()

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def raw_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def client_gone(self) -> bool:
        """Whether the watching client closed its end (it sends nothing during a watch)."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            sock.settimeout(0.05)
            sock.recv(1)  # b"" at EOF; any bytes mid-watch are a protocol error too
            return True
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        except (OSError, ValueError):
            return True
        finally:
            try:
                sock.settimeout(self.timeout)
            except OSError:
                pass
