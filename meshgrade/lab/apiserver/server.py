"""ApiServer: lifecycle of the HTTPS listener, client-certificate auth and the kubeconfig."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from ..ports import LOOPBACK
from .certs import make_pki, write_kubeconfig
from .handler import Handler
from .podio import Runtime
from .resources import Resource
from .store import ObjectStore, Watch

log = logging.getLogger(__name__)

OnWrite = Callable[[str, "dict[str, Any] | None", "dict[str, Any] | None"], None]
Proxy = Callable[[str, str, str], "tuple[str, int] | None"]
Admit = Callable[[str, "dict[str, Any] | None", "dict[str, Any]"], "dict[str, Any]"]
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "proxy", "exec",
         "portforward", "log", "discovery", "health")
HANDSHAKE_TIMEOUT = 10.0


class _TlsHttpServer(ThreadingHTTPServer):
    """One thread per connection; TLS handshakes happen in that thread, not in accept()."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], api: ApiServer,
                 context: ssl.SSLContext) -> None:
        self.api, self.context = api, context
        self._connections: set[ssl.SSLSocket] = set()
        self._lock = threading.Lock()
        self._closing = False
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:  # no or bad client certificate, or a reset
            log.debug("lab apiserver: TLS handshake from %s failed: %s", client_address, exc)
            return
        with self._lock:
            refused = self._closing
            self._connections.add(conn)
        try:
            if not refused:
                Handler(conn, client_address, self)  # the RequestHandlerClass
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("lab apiserver: error serving %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Make every open connection's blocked read return, so its thread can end."""
        with self._lock:
            self._closing = True
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiServer:
    """A Kubernetes API server emulation over an ObjectStore, on https://127.0.0.1:<port>.

    Reads are served for every registered kind. Writes: with ``writes="routing"`` only for
    routing kinds; with ``"all"`` for every kind the lab runs (namespaces must exist), each
    through ``admit(verb, old, new)`` (mutating admission) first. Each write is reported
    through `on_write(verb, old, new)` before the response. `proxy(namespace, service, port)`
    resolves the service proxy subresource to a plain-HTTP (host, port); ``runtime`` serves
    pods' exec, logs and port-forward."""

    def __init__(self, store: ObjectStore, workdir: Path, *, on_write: OnWrite | None = None,
                 proxy: Proxy | None = None, cluster_name: str = "meshgrade-lab",
                 writes: str = "routing", admit: Admit | None = None,
                 runtime: Runtime | None = None) -> None:
        if writes not in ("routing", "all"):
            raise ValueError(f"writes must be 'routing' or 'all', not {writes!r}")
        self.store = store
        self.workdir = Path(workdir)
        self.on_write = on_write
        self.proxy = proxy
        self.writes = writes
        self.admit = admit
        self.runtime = runtime
        self.cluster_name = cluster_name
        self.url = ""
        self.address = ""
        self.kubeconfig = self.workdir / "kubeconfig"
        self.ca_path = self.workdir / "pki" / "ca.crt"
        self.counts: dict[str, int] = dict.fromkeys(VERBS, 0)
        self.write_lock = threading.RLock()
        self._counts_lock = threading.Lock()
        self._watches: set[Watch] = set()
        self._stopping = False
        self._httpd: _TlsHttpServer | None = None
        self._thread: threading.Thread | None = None

    def may_write(self, res: Resource) -> bool:
        return res.routing if self.writes == "routing" else res.writable

    def count(self, verb: str) -> None:
        with self._counts_lock:
            self.counts[verb] = self.counts.get(verb, 0) + 1

    def reset_counts(self) -> None:
        with self._counts_lock:
            self.counts = dict.fromkeys(VERBS, 0)

    def track_watch(self, watch: Watch) -> bool:
        """Register a running watch so `stop` can end it; False once stopping."""
        with self._counts_lock:
            if self._stopping:
                return False
            self._watches.add(watch)
            return True

    def untrack_watch(self, watch: Watch) -> None:
        with self._counts_lock:
            self._watches.discard(watch)

    def start(self) -> None:
        """Create the PKI, bind 127.0.0.1 on a free port, write the kubeconfig, serve."""
        if self._httpd is not None:
            raise RuntimeError("the lab API server is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = make_pki(self.workdir / "pki")
        self.ca_path = pki.ca
        self._stopping = False
        httpd = _TlsHttpServer((LOOPBACK, 0), self, pki.server_context())
        port = httpd.server_address[1]
        self.address = f"{LOOPBACK}:{port}"
        self.url = f"https://{self.address}"
        write_kubeconfig(self.kubeconfig, self.url, pki, self.cluster_name)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"lab-apiserver-{port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, end watches and open connections, join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        with self._counts_lock:
            self._stopping = True
            watches = list(self._watches)
        for watch in watches:
            watch.close()
        httpd.close_connections()
        httpd.server_close()  # joins the connection threads
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
