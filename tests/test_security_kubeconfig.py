"""A kubeconfig from a roster or a student is untrusted: it must not send this machine's files
(``tokenFile``, client certificates, CA) or its requests (``proxy-url``) elsewhere, unless
``--trust-kubeconfig``; files are read by meshgrade, bounded, and errors never quote them.
Each attack runs for real against a recording server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from meshgrade.batch.roster import RosterRow
from meshgrade.batch.runner import BatchOptions, grade_command
from meshgrade.cli.grade_cmd import options_of
from meshgrade.cli.main import build_parser, main
from meshgrade.cluster.connect import MAX_REFERENCED_BYTES, ClusterClient, ClusterError, connect
from meshgrade.grading import registry
from meshgrade.grading.rubric import load
from meshgrade.lab.apiserver import ApiServer, ObjectStore

from .conftest import EXAMPLES, PATIENCE_S

SECRET = "s3cr3t-instructor-token-4f9a"
VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"}


class Recorder(ThreadingHTTPServer):
    """An API server stand-in that records each request's path and Authorization header:
    /version answers, anything else is 403 (so a grade run ends quickly)."""

    daemon_threads = False  # server_close joins the handler threads (HTTP/1.0: one request)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def tokens(self) -> list[str | None]:
        return [auth for _, auth in self.seen]


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = urlsplit(self.path).path.rstrip("/")  # a proxied request has a full URL
        self.server.seen.append((path, self.headers.get("Authorization")))
        status, body = (200, VERSION) if path == "/version" else \
            (403, {"kind": "Status", "code": 403, "message": "forbidden"})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A credential of the grader's machine, outside the student's folder."""
    path = tmp_path / "instructor" / "token"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def kubeconfig(folder: Path, server: str, cluster: dict[str, Any] | None = None,
               user: dict[str, Any] | None = None) -> Path:
    """folder/kubeconfig with one context, ``student``, and the fields given."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"apiVersion": "v1", "kind": "Config", "current-context": "student",
            "clusters": [{"name": "c", "cluster": {"server": server, **(cluster or {})}}],
            "contexts": [{"name": "student", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": user or {}}]}
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(data))
    return path


def version_with(kc: Path, **kwargs: Any) -> dict[str, Any]:
    """/version through connect(); the client is closed."""
    client = connect(str(kc), timeout_s=PATIENCE_S, **kwargs)
    try:
        return client.version()
    finally:
        client.close()


def official_client(kc: Path) -> ClusterClient:
    """The kubernetes client configured by its own loader, without meshgrade's checks."""
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(str(kc), client_configuration=cfg, persist_config=False)
    return ClusterClient(k8s.ApiClient(cfg), timeout_s=PATIENCE_S)


# -- the attack, on a real grade run ----------------------------------------------------------

def test_token_file_attack_is_refused_on_a_real_grade_run(
        tmp_path: Path, recorder: Recorder, secret: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    kc = kubeconfig(tmp_path / "student", recorder.url, user={"tokenFile": str(secret)})
    raw = official_client(kc)  # the attack: the official client sends the file to `server`
    try:
        assert raw.version() == VERSION
    finally:
        raw.close()
    assert recorder.seen == [("/version", f"Bearer {SECRET}")]
    recorder.seen.clear()

    out = tmp_path / "out"
    code = main(["grade", str(EXAMPLES / "part1-bookinfo"), "--rubric", "istio-part1",
                 "--mode", "cluster", "--kubeconfig", str(kc), "--out", str(out),
                 "--format", "json", "--format", "html", "--format", "junit"])
    printed = capfd.readouterr()
    assert code == 3, printed
    assert recorder.seen == []  # refused before any request
    results = (out / "results.json").read_text()
    assert "tokenFile" in results and "--trust-kubeconfig" in results
    assert "Traceback" not in printed.out + printed.err
    for text in (printed.out, printed.err, *(p.read_text(errors="replace")
                                           for p in out.rglob("*") if p.is_file())):
        assert SECRET not in text


def test_trust_kubeconfig_reaches_connect_on_a_real_grade_run(
        tmp_path: Path, recorder: Recorder, secret: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    kc = kubeconfig(tmp_path / "student", recorder.url, user={"tokenFile": str(secret)})
    main(["grade", str(EXAMPLES / "part1-bookinfo"), "--rubric", "istio-part1", "--mode",
          "cluster", "--kubeconfig", str(kc), "--out", str(tmp_path / "out"), "--format",
          "json", "--gateway-url", "http://127.0.0.1:9", "--trust-kubeconfig"])
    capfd.readouterr()
    assert ("/version", f"Bearer {SECRET}") in recorder.seen


# -- the refused fields -------------------------------------------------------------------

def _value(kind: str, folder: Path, secret: Path, recorder: Recorder) -> str:
    if kind == "symlink":  # a link inside the folder to a file outside it
        (folder / "innocent").symlink_to(secret)
        return "innocent"
    return {"absolute": str(secret), "dotdot": f"../{secret.parent.name}/{secret.name}",
            "device": "/dev/zero", "proxy": recorder.url}[kind]


@pytest.mark.parametrize(("section", "field", "kind", "trusted_ok"), [
    ("cluster", "certificate-authority", "absolute", True),
    ("user", "client-certificate", "absolute", True),
    ("user", "client-key", "absolute", True),
    ("user", "tokenFile", "absolute", True),
    ("user", "tokenFile", "dotdot", True),
    ("user", "tokenFile", "symlink", True),
    ("user", "tokenFile", "device", False),  # never read, trusted or not
    ("cluster", "proxy-url", "proxy", True),
])
def test_untrusted_kubeconfig_fields_are_refused(tmp_path: Path, recorder: Recorder,
                                                 secret: Path, section: str, field: str,
                                                 kind: str, trusted_ok: bool) -> None:
    folder = tmp_path / "student"
    folder.mkdir()
    fields = {field: _value(kind, folder, secret, recorder)}
    token = {} if field == "tokenFile" else {"token": "student-token"}
    server = "http://cluster.invalid" if kind == "proxy" else recorder.url  # only via proxy
    kc = kubeconfig(folder, server, cluster=fields if section == "cluster" else None,
                    user={**token, **fields} if section == "user" else token)
    with pytest.raises(ClusterError) as refused:
        connect(str(kc))
    message = str(refused.value)
    assert f"{section} 'c'" in message or f"{section} 'u'" in message
    assert field in message and str(kc) in message and "--trust-kubeconfig" in message
    assert SECRET not in message and recorder.seen == []
    if trusted_ok:  # --trust-kubeconfig: the instructor's own kubeconfig may do this
        assert version_with(kc, trust=True) == VERSION
        assert recorder.tokens == [f"Bearer {SECRET if field == 'tokenFile' else 'student-token'}"]
    else:
        with pytest.raises(ClusterError, match=f"{field}.*not a regular file"):
            connect(str(kc), trust=True)
        assert recorder.seen == []


def _fifo(folder: Path) -> dict[str, Any]:
    os.mkfifo(folder / "token")  # no writer: opening it for reading would block
    return {"tokenFile": "token"}


def _big(folder: Path) -> dict[str, Any]:
    (folder / "token").write_text(SECRET * (MAX_REFERENCED_BYTES // len(SECRET) + 1))
    return {"tokenFile": "token"}


def _binary(folder: Path) -> dict[str, Any]:
    (folder / "token").write_bytes(b"\xff\xfe" + SECRET.encode())
    return {"tokenFile": "token"}


def _split_token(folder: Path) -> dict[str, Any]:
    (folder / "token").write_text(f"{SECRET}\n{SECRET}\n")
    return {"tokenFile": "token"}


@pytest.mark.parametrize(("make", "why"), [
    (_fifo, "tokenFile: not a regular file"),
    (_big, "tokenFile: larger than 1 MiB"),
    (_binary, "tokenFile is not UTF-8"),
    (_split_token, "token refused: it has a line break"),
    (lambda _: {"token": f"{SECRET}\r\nX-Evil: 1"}, "token refused: it has a line break"),
    (lambda _: {"tokenFile": SECRET}, "tokenFile: cannot be read"),  # a token, not a path
])
def test_bad_files_and_tokens_inside_the_folder_are_refused(tmp_path: Path, recorder: Recorder,
                                                           make: Callable[[Path], dict[str, Any]],
                                                           why: str) -> None:
    folder = tmp_path / "student"
    folder.mkdir()
    kc = kubeconfig(folder, recorder.url, user=make(folder))
    for trust in (False, True):
        with pytest.raises(ClusterError) as refused:
            connect(str(kc), trust=trust)
        assert why in str(refused.value) and SECRET not in str(refused.value)
    assert recorder.seen == []


def test_yaml_errors_do_not_quote_the_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"users:\n- name: u\n  user:\n    token: {SECRET}: oops\n")
    with pytest.raises(ClusterError, match="not valid YAML at line 4") as refused:
        connect(str(kc))
    assert SECRET not in str(refused.value)


# -- what stays accepted ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["token", "creds/token", "ABSOLUTE"])
def test_token_file_inside_the_folder_is_sent_without_its_newline(
        tmp_path: Path, recorder: Recorder, where: str) -> None:
    folder = tmp_path / "student"
    (folder / "creds").mkdir(parents=True)
    (folder / where.replace("ABSOLUTE", "token")).write_text("  student-token\n")
    value = str(folder / "token") if where == "ABSOLUTE" else where
    kc = kubeconfig(folder, recorder.url, user={"tokenFile": value})
    assert version_with(kc) == VERSION
    assert recorder.tokens == ["Bearer student-token"]


def test_trailing_newline_token_crashed_the_official_client_and_works_here(
        tmp_path: Path, recorder: Recorder) -> None:
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "token").write_text(f"{SECRET}\n")
    kc = kubeconfig(folder, recorder.url, user={"tokenFile": "token"})
    raw = official_client(kc)
    try:
        with pytest.raises(ValueError, match=SECRET):  # the issue: the error quotes the token
            raw.version()
    finally:
        raw.close()
    assert version_with(kc) == VERSION and recorder.tokens == [f"Bearer {SECRET}"]


def test_inline_data_wins_and_its_file_is_not_read(tmp_path: Path, recorder: Recorder) -> None:
    kc = kubeconfig(tmp_path / "student", recorder.url,
                    user={"token": "inline", "tokenFile": "/dev/zero"})
    assert version_with(kc) == VERSION and recorder.tokens == ["Bearer inline"]


def test_the_lab_kubeconfig_passes_the_untrusted_rules(tmp_path: Path) -> None:
    """Its CA and client certificate sit beside it (pki/): HTTPS with a client cert works."""
    with ApiServer(ObjectStore(), tmp_path / "lab") as server:
        assert version_with(server.kubeconfig)["major"] == "1"


@pytest.mark.parametrize("via", ["KUBECONFIG", "HOME"])
def test_a_kubeconfig_not_named_on_the_command_line_is_the_users_own(
        tmp_path: Path, recorder: Recorder, secret: Path, monkeypatch: pytest.MonkeyPatch,
        via: str) -> None:
    kc = kubeconfig(tmp_path / ".kube", recorder.url, user={"tokenFile": str(secret)})
    if via == "KUBECONFIG":
        monkeypatch.setenv("KUBECONFIG", str(kc))
    else:
        kc.rename(kc.with_name("config"))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
    client = connect()
    try:
        assert client.version() == VERSION and recorder.tokens == [f"Bearer {SECRET}"]
    finally:
        client.close()


# -- the option reaches every grade run ---------------------------------------------------

def test_trust_kubeconfig_option_is_passed_on(tmp_path: Path) -> None:
    args = build_parser().parse_args(["grade", "x", "--kubeconfig", "kc", "--trust-kubeconfig"])
    rubric = load("istio-part1", registry.checks())
    assert options_of(args, rubric).trust_kubeconfig
    plain = build_parser().parse_args(["grade", "x", "--kubeconfig", "kc"])
    assert not options_of(plain, rubric).trust_kubeconfig
    for command in (["doctor"], ["restore", "journal.json"]):
        assert build_parser().parse_args([*command, "--trust-kubeconfig"]).trust_kubeconfig
    batch = build_parser().parse_args(["batch", "roster.csv", "--trust-kubeconfig"])
    assert batch.trust_kubeconfig
    row = RosterRow(2, "alice", "sub", "alice", "cluster", kubeconfig="kc")
    opts = BatchOptions(out=tmp_path, rubric="istio-part1", rubric_name="istio-part1")
    assert "--trust-kubeconfig" not in grade_command(row, opts)
    cmd = grade_command(row, BatchOptions(out=tmp_path, rubric="istio-part1",
                                          rubric_name="istio-part1", trust_kubeconfig=True))
    assert cmd.index("--trust-kubeconfig") < cmd.index("--")
