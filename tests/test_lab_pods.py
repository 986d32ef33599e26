"""The lab's pods from the inside, piece by piece: the shell and curl of `kubectl exec`, the
patch formats, kubectl's protobuf bodies, the WebSocket and SPDY framing, admission and the
controllers."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshgrade.lab import pods
from meshgrade.lab.admission import LAST_APPLIED, Admission, last_applied
from meshgrade.lab.apiserver import ObjectStore, protobuf
from meshgrade.lab.apiserver.spdy import DICTIONARY, SYN_REPLY, Framer, PortForward
from meshgrade.lab.apiserver.websocket import accept_key
from meshgrade.lab.apiserver.writes import strategic_merge
from meshgrade.lab.curl import CurlError, Reply
from meshgrade.lab.lab import Lab
from meshgrade.lab.runtime import interactive
from meshgrade.lab.shell import Pod, Shell
from meshgrade.lab.workloads.podserver import PodServer, Request, Response

from .conftest import PATIENCE_S, kubectl_path, needs_kubectl

KUBECTL = kubectl_path() or "kubectl"


# -- a pod with a network of one echo server ---------------------------------------------------

def echo(request: Request) -> Response:
    if request.path == "/redirect":
        return Response(302, b"", headers=[("location", "/landing")])
    if request.path == "/flaky":
        return Response.text("busy", 503)
    headers = [("set-cookie", "session=abc; HttpOnly; Path=/")] if request.path == "/login" \
        else []
    return Response(200, json.dumps({"method": request.method, "path": request.path,
                                     "headers": request.headers,
                                     "body": request.body.decode()}).encode(),
                    "application/json", headers)


class Net:
    """Every host but `nowhere` is the echo server; `refused` has nothing listening."""

    def __init__(self, port: int) -> None:
        self.port, self.slept = port, []

    def resolve(self, host: str, port: int, tls: bool) -> tuple[str, int] | Reply:
        if host == "nowhere":
            raise CurlError(6, f"Could not resolve host: {host}")
        if host == "refused":
            raise CurlError(7, f"Failed to connect to {host} port {port} after 0 ms: "
                               "Couldn't connect to server")
        return "127.0.0.1", self.port

    def headers(self) -> list[tuple[str, str]]:
        return [("x-meshgrade-source", "curl")]

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def pod() -> Iterator[Pod]:
    server = PodServer(echo)
    try:
        yield Pod("curl-abc", {"HOSTNAME": "curl-abc", "PATH": "/bin"}, {}, Net(server.port),
                  busybox=True)
    finally:
        server.stop()


def run(pod: Pod, *argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = bytearray(), bytearray()
    code = Shell(pod).exec(list(argv), out.extend, err.extend, stdin)
    return code, out.decode(), err.decode()


def test_shell_pipes_loops_and_expansions(pod: Pod) -> None:
    assert run(pod, "sh", "-c", "echo one two | grep -o tw.; echo $HOSTNAME") == \
        (0, "two\ncurl-abc\n", "")
    assert run(pod, "sh", "-c", "for i in $(seq 1 3); do printf '%s,' $((i * 2)); done")[1] == \
        "2,4,6,"
    assert run(pod, "sh", "-c", "false || echo ok && true; test 3 -gt 2 && echo yes")[1] == \
        "ok\nyes\n"
    assert run(pod, "sh", "-c", "echo hi > /tmp/f; cat /tmp/f | wc -l; exit 3") == (3, "1\n", "")
    assert pod.files["/tmp/f"] == b"hi\n"
    assert run(pod, "sh", "-c", "printf 'a\\nb\\nc\\n' | head -n 2 | tail -1")[1] == "b\n"
    assert run(pod, "sh", "-c", "if [ -f /tmp/f ]; then echo there; else echo gone; fi")[1] == \
        "there\n"
    assert run(pod, "sh", stdin=b"echo from stdin\n")[1] == "from stdin\n"


class Terminal:
    """`kubectl exec -it`: keys typed in, what the terminal shows."""

    stdin, tty = True, True

    def __init__(self, *keys: bytes) -> None:
        self.keys, self.shown = list(keys), bytearray()

    def read(self, timeout: float) -> bytes | None:
        return self.keys.pop(0) if self.keys else b""

    def write(self, data: bytes, stderr: bool = False) -> None:
        self.shown.extend(data)


def test_a_terminal_session(pod: Pod) -> None:
    screen = Terminal(b"echo hix", b"\x7f", b"\r", b"hostname\r", b"\x04")
    assert interactive(Shell(pod), "sh", pod, screen) == 0
    assert screen.shown.decode() == ("~ $ echo hix\b \b\nhi\n~ $ hostname\ncurl-abc\n~ $ "
                                     "exit\n")
    assert interactive(Shell(pod), "sh", pod, Terminal(b"exit 4\r")) == 4


def test_missing_commands_say_what_a_pod_says(pod: Pod) -> None:
    assert run(pod, "sh", "-c", "foo") == (127, "", "sh: foo: not found\n")  # busybox
    pod.busybox = False
    assert run(pod, "sh", "-c", "foo") == (127, "", "sh: 1: foo: not found\n")  # dash
    assert run(pod, "bash", "-c", "foo")[2] == "bash: line 1: foo: command not found\n"
    code, _, err = run(pod, "foo", "--help")
    assert code == 127 and 'exec: "foo": executable file not found in $PATH' in err
    assert run(pod, "sh", "-c", "echo 'open")[0] == 2


def test_curl_options(pod: Pod) -> None:
    code, out, err = run(pod, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n",
                         "http://reviews:9080/x")
    assert (code, out, err) == (0, "200\n", "")
    head = run(pod, "curl", "-sI", "http://reviews:9080/")[1]
    assert head.startswith("HTTP/1.1 200 OK\r\n") and "content-type: application/json" in \
        head.lower()
    sent = json.loads(run(pod, "curl", "-s", "-H", "end-user: jason", "-d", "a=1",
                          "http://productpage:9080/post")[1])
    assert sent["method"] == "POST" and sent["body"] == "a=1"
    assert sent["headers"]["end-user"] == "jason" and sent["headers"]["x-meshgrade-source"] == \
        "curl" and sent["headers"]["user-agent"] == "curl/8.16.0"
    assert run(pod, "curl", "-s", "-c", "/tmp/jar", "http://gw/login")[0] == 0
    assert "#HttpOnly_gw\tFALSE\t/\tFALSE\t0\tsession\tabc" in pod.files["/tmp/jar"].decode()
    back = json.loads(run(pod, "curl", "-s", "-b", "/tmp/jar", "http://gw/page")[1])
    assert back["headers"]["cookie"] == "session=abc"
    assert json.loads(run(pod, "curl", "-sL", "http://gw/redirect")[1])["path"] == "/landing"
    assert run(pod, "curl", "-s", "http://gw/redirect")[1] == ""
    code, out, err = run(pod, "curl", "-sSf", "--retry", "2", "--retry-delay", "5",
                         "http://gw/flaky")
    assert code == 22 and err == "curl: (22) The requested URL returned error: 503\n"
    assert pod.net.slept == [5, 5]  # type: ignore[attr-defined]
    assert run(pod, "curl", "-s", "http://nowhere/") == (6, "", "")
    assert run(pod, "curl", "-sS", "http://nowhere/")[2] == \
        "curl: (6) Could not resolve host: nowhere\n"
    assert run(pod, "curl", "-sS", "refused:80")[0] == 7
    code, _, err = run(pod, "curl", "--bogus", "http://gw/")
    assert code == 2 and err.startswith("curl: option --bogus: is unknown")
    meter = run(pod, "curl", "http://gw/x")[2]
    assert "% Total" in meter and "Dload" in meter  # stdout is a pipe: the progress meter


# -- patches and bodies ---------------------------------------------------------------------

def test_strategic_merge_merges_lists_by_key() -> None:
    live = {"spec": {"containers": [{"name": "app", "image": "a:1", "env": [
        {"name": "X", "value": "1"}]}, {"name": "side", "image": "s:1"}],
        "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    patch = {"spec": {"containers": [{"name": "app", "image": "a:2"},
                                     {"name": "side", "$patch": "delete"}],
                      "$setElementOrder/containers": [{"name": "app"}],
                      "ports": [{"port": 443, "name": "tls"}]}}
    merged = strategic_merge(live, patch)
    assert merged["spec"]["containers"] == [{"name": "app", "image": "a:2", "env": [
        {"name": "X", "value": "1"}]}]
    assert merged["spec"]["ports"] == [{"port": 80, "name": "http"}, {"port": 443, "name": "tls"}]
    assert strategic_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}
    assert strategic_merge({"a": {"b": 1}}, {"a": {"$patch": "replace", "c": 3}}) == \
        {"a": {"c": 3}}


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return bytes([number << 3]) + bytes([value])
    return bytes([number << 3 | 2, len(value)]) + value


def test_protobuf_bodies_read_as_json() -> None:
    meta = _field(1, b"c1") + _field(11, _field(1, b"app") + _field(2, b"web"))
    configmap = _field(1, meta) + _field(2, _field(1, b"a") + _field(2, b"b")) + \
        _field(3, _field(1, b"bin") + _field(2, b"\x00\x01"))
    envelope = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + \
        _field(2, configmap)
    assert protobuf.decode(envelope) == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c1", "labels": {"app": "web"}},
        "data": {"a": "b"}, "binaryData": {"bin": "AAE="}}
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Node")))


# -- framing ----------------------------------------------------------------------------------

def test_websocket_accept_key() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455


def test_spdy_port_forward_relays_a_connection() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"pong:" + conn.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=DICTIONARY)

    def syn(stream: int, kind: str) -> bytes:
        headers = {"streamtype": kind, "port": "9080", "requestid": "0"}
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        block = deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)
        return Framer.control(1, 0, struct.pack(">IIH", stream, 0, 0) + block)

    incoming = [syn(1, "error"), syn(3, "data") + Framer.data(3, b"ping")]
    sent: list[bytes] = []
    deadline = time.monotonic() + PATIENCE_S

    def read() -> bytes | None:  # the client: its frames, then waits for the answer's end
        if incoming:
            return incoming.pop(0)
        done = any(b"pong:ping" in s for s in sent) and any(s[4] & 1 for s in sent[2:])
        if done or time.monotonic() > deadline:
            return b""
        time.sleep(0.01)
        return None

    PortForward(read, sent.append, lambda port: ("127.0.0.1", listener.getsockname()[1])
                ).serve()
    replies = Framer().feed(b"".join(sent))
    assert [(c, t) for c, t, _, _ in replies[:2]] == [(True, SYN_REPLY), (True, SYN_REPLY)]
    assert any(not c and t == 3 and p == b"pong:ping" for c, t, _, p in replies)
    listener.close()


# -- admission and controllers -----------------------------------------------------------------

def test_admission_injects_allocates_and_exposes_the_ingress() -> None:
    store = ObjectStore()
    labels = {"default": {"istio-injection": "enabled"}}
    admit = Admission(store, 31380, {"istio": "ingressgateway"},
                      lambda ns: labels.get(ns, {}))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    injected = admit("create", None, pod)
    assert [c["name"] for c in injected["spec"]["containers"]] == ["app", "istio-proxy"]
    assert injected["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == \
        "app"
    other = admit("create", None, {**pod, "metadata": {"name": "q", "namespace": "other"}})
    assert not pods.has_sidecar(other)
    opted_out = {**pod, "metadata": {"name": "r", "namespace": "default",
                                     "labels": {"sidecar.istio.io/inject": "false"}}}
    assert not pods.has_sidecar(admit("create", None, opted_out))
    svc = admit("create", None, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
        "spec": {"type": "LoadBalancer", "selector": {"istio": "ingressgateway"},
                 "ports": [{"name": "http2", "port": 80, "targetPort": 8080}]}})
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == "127.0.0.1"
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["http2"]["port"] == ports["http2"]["nodePort"] == 31380
    assert ports["http-80"]["port"] == 80 and 30000 <= ports["http-80"]["nodePort"] < 32768
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    applied = last_applied({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "x", "namespace": "y"}})
    assert json.loads(applied["metadata"]["annotations"][LAST_APPLIED]) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"annotations": {}, "name": "x"}}


@needs_kubectl
@pytest.mark.slow
def test_controllers_scale_restart_replace_and_bookinfo_like_lab_up() -> None:
    with Lab(bookinfo=False).start() as bare, Lab().start() as full:
        def kubectl(lab: Lab, *args: str) -> str:
            done = subprocess.run([KUBECTL, "--kubeconfig", str(lab.kubeconfig), *args],
                                  capture_output=True, text=True, timeout=PATIENCE_S)
            assert done.returncode == 0, done.stderr
            return done.stdout

        bookinfo = Path(__file__).parent / "lab_course" / "bookinfo.yaml"
        kubectl(bare, "label", "namespace", "default", "istio-injection=enabled")
        kubectl(bare, "apply", "-f", str(bookinfo))

        def shape(lab: Lab) -> set[tuple[str, ...]]:
            items = json.loads(kubectl(lab, "get", "pods", "-o", "json"))["items"]
            return {(p["metadata"]["name"].rsplit("-", 1)[0], p["status"]["phase"],
                     *[c["name"] for c in p["spec"]["containers"]]) for p in items}

        assert shape(bare) == shape(full) and len(shape(full)) == 6
        assert {k for k in bare.objects if k[1] == "Service"} - {
            k for k in full.objects if k[1] == "Service"} == set()
        kubectl(bare, "scale", "deployment/reviews-v2", "--replicas=3")
        assert kubectl(bare, "get", "deploy", "reviews-v2", "--no-headers").split()[1] == "3/3"
        old = kubectl(bare, "get", "pods", "-l", "app=ratings", "-o", "name").split()
        kubectl(bare, "rollout", "restart", "deployment/ratings-v1")
        new = kubectl(bare, "get", "pods", "-l", "app=ratings", "-o", "name").split()
        assert len(new) == 1 and new != old
        assert kubectl(bare, "get", "rs", "-l", "app=ratings", "--no-headers").count("\n") == 2
        kubectl(bare, "delete", new[0])
        again = kubectl(bare, "get", "pods", "-l", "app=ratings", "-o", "name").split()
        assert len(again) == 1 and again != new
        events = kubectl(bare, "get", "events", "--field-selector",
                         f"involvedObject.name={new[0].split('/')[1]}")
        assert "Killing" in events and "Started" in events
