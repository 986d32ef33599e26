"""The lab's pods as ``kubectl exec``, ``logs`` and ``port-forward`` meet them.

A command runs in a container as :mod:`meshgrade.lab.shell` (its environment, files and
commands); its network is the pod's: with a sidecar, requests to Services leave through the
mesh listener (the mesh's rules apply), without one through the plain listener (kube-proxy:
no rules); a pod IP or ``localhost`` is reached directly. Logs are the workload's access lines
and, for ``istio-proxy``, the requests Envoy handled for that pod (Istio's text format)."""

from __future__ import annotations

import base64
import calendar
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .accesslog import istio_line
from .apiserver import status as st
from .apiserver.podio import Command, ExecIO, LogLine
from .apiserver.resources import by_kind
from .curl import CurlError, Reply
from .pods import has_sidecar
from .ports import LOOPBACK
from .shell import SHELLS, Pod, Shell, ShellExit

if TYPE_CHECKING:
    from .lab import Lab

Obj = dict[str, Any]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNAVAILABLE = (b"upstream connect error or disconnect/reset before headers. retried and the "
               b"latest reset reason: remote connection failure, transport failure reason: "
               b"delayed connect error: Connection refused")
INIT_LOG = ("Istio iptables environment:", "ENVOY_PORT=", "INBOUND_CAPTURE_PORT=",
            "Istio iptables variables:", "PROXY_PORT=15001", "PROXY_INBOUND_CAPTURE_PORT=15006",
            "PROXY_UID=1337", "INBOUND_INTERCEPTION_MODE=REDIRECT", "INBOUND_PORTS_INCLUDE=*",
            "OUTBOUND_IP_RANGES_INCLUDE=*", "KUBE_VIRT_INTERFACES=",
            "iptables-restore --noflush", "Running iptables restore with: iptables-restore "
            "and the following input:", "COMMIT", "* nat", "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "COMMIT")


def _busybox(image: str) -> bool:
    """Images whose shell is busybox (Alpine, curl's): ``sh: foo: not found``."""
    return any(k in image for k in ("curlimages/", "alpine", "busybox"))


def _curl_version(image: str) -> str:
    tag = image.rpartition(":")[2] if "curlimages/curl" in image else ""
    return tag if tag and tag[0].isdigit() else "8.16.0"


class PodNetwork:
    """Where one pod's connections go (see the module's docstring)."""

    def __init__(self, lab: Lab, pod: Obj) -> None:
        self.lab, self.pod = lab, pod
        self.sidecar = has_sidecar(pod)
        self.namespace = pod["metadata"]["namespace"]

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def headers(self) -> list[tuple[str, str]]:
        if not self.sidecar:
            return []
        return [("x-meshgrade-source", self.lab.workload_of(self.pod)),
                ("x-meshgrade-source-pod", self.pod["metadata"]["name"])]

    def _service(self, host: str) -> Obj | None:
        host = host.lower().rstrip(".")
        names = [host] if host.endswith(".cluster.local") else [
            f"{host}.{self.namespace}.svc.cluster.local", f"{host}.svc.cluster.local",
            f"{host}.cluster.local"]
        services = {(k[2], k[3]): o for k, o in list(self.lab.objects.items())
                    if k[:2] == ("", "Service")}
        for name in names:
            parts = name.split(".")
            if len(parts) == 5 and parts[2:] == ["svc", "cluster", "local"]:
                svc = services.get((parts[1], parts[0]))
                if svc is not None:
                    return svc
        return next((s for s in services.values()
                     if (s.get("spec") or {}).get("clusterIP") == host), None)

    def _pod_by_ip(self, host: str) -> Obj | None:
        return next((p for p in self.lab.controller.running()
                     if (p.get("status") or {}).get("podIP") == host), None)

    def address(self, host: str) -> str:
        """The address ``host`` resolves to in the cluster (for ``-v`` and ``%{remote_ip}``)."""
        if host in ("localhost", self.pod["metadata"]["name"]):
            return "127.0.0.1"
        svc = self._service(host)
        return str((svc or {}).get("spec", {}).get("clusterIP") or host)

    def _local(self, pod: Obj, port: int) -> tuple[str, int]:
        ports = {p.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                 for p in c.get("ports") or []}
        if port == 15000 and has_sidecar(pod) and self.lab.envoy.admin_url:
            host, _, admin = self.lab.envoy.admin_url.removeprefix("http://").rpartition(":")
            return host, int(admin)
        target = self.lab.pod_port(pod)
        if target is not None and (port in ports or not ports - {15090}):
            return LOOPBACK, target
        raise CurlError(7, f"Failed to connect to {pod['status'].get('podIP', 'localhost')} "
                           f"port {port} after 0 ms: Couldn't connect to server")

    def resolve(self, host: str, port: int, tls: bool) -> tuple[str, int] | Reply:
        me = self.pod["metadata"]["name"]
        own_ip = (self.pod.get("status") or {}).get("podIP")
        target: tuple[str, int] | Reply
        if host in ("localhost", "127.0.0.1", "::1", me, own_ip):
            target = self._local(self.pod, port)
        elif (other := self._pod_by_ip(host)) is not None:
            target = self._local(other, port)
        else:
            svc = self._service(host)
            if svc is not None and (svc.get("spec") or {}).get("type") == "ExternalName":
                svc = self._service(str(svc["spec"].get("externalName", "")))
            if svc is None:
                raise CurlError(6, f"Could not resolve host: {host}")
            ports = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]
            if port in ports:
                target = (LOOPBACK, self.lab.mesh_port if self.sidecar else self.lab.plain_port)
            elif self.sidecar:
                target = Reply(503, "Service Unavailable", [
                    ("content-length", str(len(UNAVAILABLE))), ("content-type", "text/plain"),
                    ("date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
                    ("server", "envoy")], UNAVAILABLE)
            else:
                raise CurlError(7, f"Failed to connect to {host} port {port} after 0 ms: "
                                   "Couldn't connect to server")
        if tls and not isinstance(target, Reply):
            raise CurlError(35, "TLS connect error: error:0A00010B:SSL routines::wrong version "
                                "number")
        return target


class PodRuntime:
    """exec, logs and port-forward for the lab's API server."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._files: dict[tuple[str, str, str], dict[str, bytes]] = {}
        self._lock = threading.Lock()

    # -- lookups ------------------------------------------------------------------------
    def _pod(self, namespace: str, name: str) -> Obj:
        pod = self.lab.controller.get(namespace, name)
        if pod is None:
            res = by_kind("", "Pod")
            assert res is not None
            raise st.not_found(res, name)
        return pod

    @staticmethod
    def _container(pod: Obj, name: str | None, *, init: bool = False) -> Obj:
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or [])
        inits = list(spec.get("initContainers") or [])
        pod_name = pod["metadata"]["name"]
        if name is None:
            if len(containers) == 1:
                return dict(containers[0])
            names = " ".join(str(c.get("name")) for c in containers)
            init_names = " ".join(str(c.get("name")) for c in inits)
            raise st.bad_request(
                f"a container name must be specified for pod {pod_name}, choose one of: "
                f"[{names}]" + (f" or one of the init containers: [{init_names}]"
                                if inits else ""))
        found = next((c for c in [*containers, *(inits if init else [])]
                      if c.get("name") == name), None)
        if found is None:
            raise st.bad_request(f"container {name} is not valid for pod {pod_name}")
        return dict(found)

    @staticmethod
    def _started(pod: Obj, container: Obj) -> None:
        if (pod.get("status") or {}).get("phase") != "Running":
            raise st.bad_request(f'container "{container.get("name")}" in pod '
                                 f'"{pod["metadata"]["name"]}" is waiting to start: '
                                 "ContainerCreating")

    # -- exec ---------------------------------------------------------------------------
    def exec(self, namespace: str, pod: str, container: str | None, command: list[str],
             tty: bool) -> Command:
        found = self._pod(namespace, pod)
        box = self._container(found, container)
        self._started(found, box)
        return lambda io: self._run(found, box, command, io)

    def _env(self, pod: Obj, container: Obj) -> dict[str, str]:
        meta, status = pod["metadata"], pod.get("status") or {}
        image = str(container.get("image", ""))
        env = {"PATH": PATH, "HOSTNAME": meta["name"],
               "HOME": "/home/curl_user" if "curlimages/curl" in image else "/root",
               "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
               "KUBERNETES_SERVICE_PORT_HTTPS": "443",
               "KUBERNETES_PORT": "tcp://10.96.0.1:443"}
        for key, svc in list(self.lab.objects.items()):
            if key[:3] != ("", "Service", meta["namespace"]) or key[3] == "kubernetes":
                continue
            spec = svc.get("spec") or {}
            ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
            if not spec.get("clusterIP") or not ports:
                continue
            name = key[3].upper().replace("-", "_")
            ip, first = spec["clusterIP"], ports[0]
            env[f"{name}_SERVICE_HOST"] = ip
            env[f"{name}_SERVICE_PORT"] = str(first.get("port"))
            env[f"{name}_PORT"] = f"tcp://{ip}:{first.get('port')}"
        fields = {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"],
                  "status.podIP": str(status.get("podIP", "")),
                  "status.hostIP": str(status.get("hostIP", "")),
                  "spec.nodeName": str((pod.get("spec") or {}).get("nodeName", "")),
                  "spec.serviceAccountName": str((pod.get("spec") or {}).get(
                      "serviceAccountName", "default"))}
        for source in container.get("envFrom") or []:
            data = self._data(meta["namespace"], source.get("configMapRef"),
                              source.get("secretRef"))
            env.update({f"{source.get('prefix', '')}{k}": v for k, v in data.items()})
        for item in container.get("env") or []:
            name = str(item.get("name", ""))
            if "value" in item:
                env[name] = str(item["value"])
            elif isinstance(item.get("valueFrom"), dict):
                ref = item["valueFrom"]
                if "fieldRef" in ref:
                    env[name] = fields.get(str(ref["fieldRef"].get("fieldPath")), "")
                else:
                    cm, sec = ref.get("configMapKeyRef"), ref.get("secretKeyRef")
                    data = self._data(meta["namespace"], cm, sec)
                    wanted = str((cm or sec or {}).get("key"))
                    if wanted in data:
                        env[name] = data[wanted]
        return env

    def _data(self, namespace: str, configmap: Obj | None, secret: Obj | None
              ) -> dict[str, str]:
        kind, ref = ("ConfigMap", configmap) if configmap else ("Secret", secret)
        if not isinstance(ref, dict):
            return {}
        obj = self.lab.store.get("", kind, namespace, str(ref.get("name"))) or {}
        if kind == "ConfigMap":
            return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        out = {str(k): str(v) for k, v in (obj.get("stringData") or {}).items()}
        for key, value in (obj.get("data") or {}).items():
            try:
                out[str(key)] = base64.b64decode(str(value)).decode("utf-8", "replace")
            except ValueError:
                continue
        return out

    def _fs(self, pod: Obj, container: Obj) -> dict[str, bytes]:
        """The container's files: what the pod mounts, and what commands wrote since."""
        meta, status = pod["metadata"], pod.get("status") or {}
        key = (meta["namespace"], meta["name"], str(container.get("name")))
        with self._lock:
            files = self._files.get(key)
            if files is not None:
                return files
            files = self._files[key] = {}
        ns = meta["namespace"]
        files.update({
            "/etc/hostname": f"{meta['name']}\n".encode(),
            "/etc/hosts": (f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                           f"{status.get('podIP', '')}\t{meta['name']}\n").encode(),
            "/etc/resolv.conf": (f"nameserver 10.96.0.10\nsearch {ns}.svc.cluster.local "
                                 "svc.cluster.local cluster.local\noptions ndots:5\n").encode(),
            "/var/run/secrets/kubernetes.io/serviceaccount/namespace": ns.encode(),
            "/var/run/secrets/kubernetes.io/serviceaccount/token": b"meshgrade-lab-token",
        })
        volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name")) or {}
            data = self._data(ns, volume.get("configMap"), volume.get("secret"))
            for name, value in data.items():
                if mount.get("subPath") and mount["subPath"] != name:
                    continue
                path = mount["mountPath"] if mount.get("subPath") else \
                    f"{str(mount.get('mountPath', '')).rstrip('/')}/{name}"
                files[path] = value.encode()
        return files

    def _run(self, pod: Obj, container: Obj, argv: list[str], io: ExecIO) -> int:
        image = str(container.get("image", ""))
        box = Pod(hostname=pod["metadata"]["name"], env=self._env(pod, container),
                  files=self._fs(pod, container), net=PodNetwork(self.lab, pod),
                  busybox=_busybox(image), curl_version=_curl_version(image), tty=io.tty)
        shell = Shell(box, "sh")

        def out(data: bytes) -> None:
            io.write(data)

        def err(data: bytes) -> None:
            io.write(data, stderr=True)

        name = argv[0].rsplit("/", 1)[-1]
        prompt = name in SHELLS and io.stdin and io.tty and (name != "bash" or not box.busybox) \
            and not [a for a in argv[1:] if a == "-c" or not a.startswith("-")]
        if prompt:
            return interactive(shell, name, box, io)
        stdin = b""
        while io.stdin:
            chunk = io.read(1.0)
            if chunk == b"":
                break
            stdin += chunk or b""
        try:
            return shell.exec(argv, out, err, stdin)
        except ShellExit as done:
            return done.code

    # -- logs ---------------------------------------------------------------------------
    def logs(self, namespace: str, pod: str, container: str | None, previous: bool,
             after: int) -> tuple[int, list[LogLine]]:
        found = self._pod(namespace, pod)
        box = self._container(found, container, init=True)
        name = str(box.get("name"))
        if previous:
            raise st.bad_request(f'previous terminated container "{name}" in pod "{pod}" not '
                                 "found")
        is_init = name in {c.get("name") for c in (found.get("spec") or {}).get(
            "initContainers") or []}
        if not is_init:
            self._started(found, box)
        started = _epoch((found.get("status") or {}).get("startTime"))
        if is_init:
            lines = [LogLine(started, x) for x in INIT_LOG] if after == 0 else []
            return len(INIT_LOG), lines
        if name == "istio-proxy":
            if after == 0:
                self.lab.envoy.flush_logs()
            cursor, entries = self.lab.access_log.lines(self._proxy_lines(found), after)
            if after == 0:
                entries = [(started, f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(started))}"
                                     f".000000Z\tinfo\tEnvoy proxy is ready")] + entries
            return cursor, [LogLine(at, text) for at, text in entries]
        try:
            cursor, entries = self.lab.workloads.logs(pod, after)
        except KeyError:
            note = f"{name} runs in the meshgrade lab without an application log"
            return 1, ([LogLine(started, note)] if after == 0 else [])
        return cursor, [LogLine(at, text) for at, text in entries]

    def _proxy_lines(self, pod: Obj) -> Callable[[dict[str, Any]], str | None]:
        lab, meta = self.lab, pod["metadata"]
        gateway = lab.serves_ingress(pod)
        workload, name = lab.workload_of(pod), meta["name"]
        port = lab.pod_port(pod)
        ip = (pod.get("status") or {}).get("podIP", "")
        container_port = _container_port(pod)

        where = {f"{LOOPBACK}:{lab.pod_port(p)}": f"{(p.get('status') or {}).get('podIP')}:"
                 f"{_container_port(p)}" for p in lab.controller.running()}

        def mine(f: dict[str, Any]) -> str | None:
            listener = f.get("listener")
            upstream = where.get(str(f.get("upstream_host")))
            if gateway:
                return istio_line(f, upstream=upstream) if listener == "ingress" else None
            if listener == "mesh" and (f.get("source_pod") == name or (
                    f.get("source_pod") in (None, "", "-") and f.get("source") == workload)):
                return istio_line(f, upstream=upstream)
            if port is not None and str(f.get("upstream_host", "")).endswith(f":{port}") and \
                    listener in ("mesh", "plain", "ingress"):
                return istio_line(f, cluster=f"inbound|{container_port}||",
                                  upstream=f"{ip}:{container_port}", route="default")
            return None

        return mine

    # -- port-forward -------------------------------------------------------------------
    def port_target(self, namespace: str, pod: str) -> Callable[[int], tuple[str, int] | str]:
        found = self._pod(namespace, pod)
        if (found.get("status") or {}).get("phase") != "Running":
            raise st.bad_request(f"pod {pod} is not running (phase "
                                 f"{(found.get('status') or {}).get('phase')})")
        net = PodNetwork(self.lab, found)
        uid = found["metadata"].get("uid", "")

        def resolve(port: int) -> tuple[str, int] | str:
            try:
                return net._local(found, port)
            except CurlError:
                return (f"error forwarding port {port} to pod {uid}, uid : failed to connect "
                        f"to localhost:{port}: connect: connection refused")

        return resolve


def interactive(shell: Shell, name: str, box: Pod, io: ExecIO) -> int:
    """A terminal session: echo, line editing, a prompt, one command line at a time."""
    shell.name = name
    prompt = "~ $ " if box.busybox else "# " if box.env.get("HOME") == "/root" else "$ "
    io.write(prompt.encode())
    line, skip = "", 0
    while True:
        data = io.read(0.5)
        if data == b"":
            return shell.status
        for ch in (data or b"").decode("utf-8", "replace"):
            if skip:
                skip -= 1
            elif ch == "\x1b":
                skip = 2  # an arrow key: no history here
            elif ch in "\r\n":
                io.write(b"\n")
                if line.strip():
                    code = shell.script(line, b"", io.write, io.write)
                    if shell.exited:
                        return code
                    shell.line += 1
                line = ""
                io.write(prompt.encode())
            elif ch in "\x7f\b":
                if line:
                    line = line[:-1]
                    io.write(b"\b \b")
            elif ch == "\x03":
                line = ""
                io.write(("^C\n" + prompt).encode())
            elif ch == "\x04":
                if not line:
                    io.write(b"exit\n")
                    return shell.status
            else:
                line += ch
                io.write(ch.encode())


def _container_port(pod: Obj) -> int:
    """The first port a pod's containers declare (80 when none does)."""
    return int(next((p.get("containerPort") for c in (pod.get("spec") or {}).get(
        "containers") or [] for p in c.get("ports") or []), 80))


def _epoch(text: Any) -> float:
    try:
        return float(calendar.timegm(time.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return time.time()


__all__ = ["PodNetwork", "PodRuntime", "interactive"]
