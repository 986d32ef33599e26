"""Interruption is an outcome: SIGINT, SIGTERM and SIGHUP sent to a real `meshgrade grade`
(the lab, or a cluster with --apply-stages) at several points, and to `meshgrade batch`.

Each run is synchronised on what it leaves on disk or prints, never on a fixed sleep; every
test then checks the exit status, the reports, and that no process or lab folder is left."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshgrade.cli.main import main
from meshgrade.grading import registry
from meshgrade.grading.rubric import load
from meshgrade.lab.client import ApiClient
from meshgrade.lab.lab import Lab

from .conftest import EXAMPLES, PATIENCE_S

PART1 = EXAMPLES / "part1-bookinfo"
RUBRIC = "istio-part1"
WAIT_S = 180.0
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for(what: str, ready: Callable[[], object], proc: subprocess.Popen[bytes]) -> object:
    """Poll ``ready`` until it returns something truthy; fail if ``proc`` ends first."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        assert proc.poll() is None, f"the grader ended before {what}"
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def mentioning(text: str) -> list[int]:
    """Live (not zombie) processes whose command line mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8",
                                                                                  "replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def in_group(pgid: int) -> list[int]:
    """Live processes of the process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


class Grader:
    """One `meshgrade grade` (or `batch`) subprocess in its own session and temp folder."""

    def __init__(self, tmp_path: Path, *args: str, command: str = "grade") -> None:
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.out = tmp_path / "out"
        self.stdout, self.stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        # faulthandler: a grader that does not stop is made to print every thread's stack
        env = {**os.environ, "TMPDIR": str(self.tmp), "PYTHONFAULTHANDLER": "1"}
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "meshgrade", command, *args, "--out", str(self.out)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                start_new_session=True)

    def labs(self) -> list[Path]:
        return sorted(self.tmp.rglob("meshgrade-lab-*"))

    def envoy_config_version(self) -> int:
        """How many configurations the lab's Envoy got (start, submission, then stages)."""
        for lab in self.labs():
            try:
                data = json.loads((lab / "envoy" / "lds" / "lds.json").read_text())
            except (OSError, ValueError):
                continue
            return int(str(data.get("version_info", "0")).split("-")[0])
        return 0

    def gateway_requests(self) -> int:
        """Requests the lab's Envoy has received (its admin stats)."""
        for lab in self.labs():
            try:
                admin = (lab / "envoy" / "admin-address").read_text().strip()
                url = f"http://{admin}/stats?filter=downstream_rq_total"
                with NO_PROXY.open(url, timeout=5) as answer:
                    text = answer.read().decode()
            except (OSError, ValueError):
                continue
            return sum(int(line.rsplit(": ", 1)[1]) for line in text.splitlines()
                       if line.startswith("http.") and not line.startswith("http.admin.")
                       and ": " in line)
        return 0

    def stop(self, sig: signal.Signals) -> tuple[int, str, str]:
        """Send ``sig``; (exit status, stdout, stderr) once the process has ended."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints the stacks
            try:
                self.proc.wait(timeout=PATIENCE_S)
            except subprocess.TimeoutExpired:
                pass
            raise AssertionError(f"the grader did not stop within {WAIT_S:g} s of {sig.name};"
                                 f" its stderr:\n{self.stderr.read_text()[-12000:]}") from None
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return code, self.stdout.read_text(), self.stderr.read_text()

    def results(self) -> dict:
        return json.loads((self.out / "results.json").read_text())

    def assert_clean(self) -> None:
        """No process of the run is left (its group, Envoy included), nor any temp folder."""
        def left() -> list[int]:  # the grader's group; Envoy and grade children by path
            return in_group(self.proc.pid) + mentioning(str(self.tmp)) + mentioning(
                str(self.out))

        deadline = time.monotonic() + PATIENCE_S  # Envoy's PDEATHSIG is asynchronous
        while time.monotonic() < deadline and left():
            time.sleep(0.05)
        assert not left()
        assert not list(self.tmp.iterdir()), list(self.tmp.iterdir())


def assert_interrupted(code: int, stdout: str, stderr: str, results: dict,
                       sig: signal.Signals, out: Path) -> None:
    """The run says it was interrupted, everywhere, and keeps every rubric check."""
    assert code == 128 + sig, (code, stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert not re.search(r"^Score ", stdout, re.M), stdout
    assert f"NOT GRADED: interrupted by {sig.name} during " in stdout
    assert results["gradable"] is False and results["interrupted"].startswith(f"{sig.name} ")
    assert results["not_gradable_reason"] == f"interrupted by {results['interrupted']}"
    rubric = load(RUBRIC, set(registry.checks()))
    assert {c["id"] for c in results["checks"]} == set(rubric.checks)  # none went missing
    not_run = [c for c in results["checks"] if c["message"] == "not run: interrupted"]
    assert all(c["outcome"] == "error" for c in not_run)
    assert all(c["max_score"] == rubric.checks[c["id"]].points for c in not_run)  # counted
    html = (out / "report.html").read_text()
    assert "Interrupted: not graded." in html and results["interrupted"] in html
    assert 'name="gradable" value="false"' in (out / "junit.xml").read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.slow
def test_signal_at_start_up(tmp_path: Path, sig: signal.Signals) -> None:
    run = Grader(tmp_path, str(PART1), "--mode", "lab", "--rubric", RUBRIC)
    wait_for("the start-up line", lambda: "meshgrade: grading" in run.stderr.read_text(),
             run.proc)
    code, stdout, stderr = run.stop(sig)
    results = run.results()
    assert_interrupted(code, stdout, stderr, results, sig, run.out)
    assert results["mode"] == "lab"
    run.assert_clean()


@pytest.mark.slow
def test_sigterm_while_the_lab_starts(tmp_path: Path) -> None:
    run = Grader(tmp_path, str(PART1), "--mode", "lab", "--rubric", RUBRIC)
    wait_for("the lab's folder", run.labs, run.proc)
    code, stdout, stderr = run.stop(signal.SIGTERM)
    results = run.results()
    assert_interrupted(code, stdout, stderr, results, signal.SIGTERM, run.out)
    assert not run.labs()  # its keys and kubeconfig with it
    run.assert_clean()


@pytest.mark.parametrize(("sig", "sampled"), [(signal.SIGINT, False), (signal.SIGHUP, True)],
                         ids=["SIGINT-stage-apply", "SIGHUP-sampling"])
@pytest.mark.slow
def test_signal_while_a_stage_is_applied_and_sampled(tmp_path: Path, sig: signal.Signals,
                                                     sampled: bool) -> None:
    run = Grader(tmp_path, str(PART1), "--mode", "lab", "--rubric", RUBRIC, "--seed", "3")
    wait_for("a stage applied in the lab", lambda: run.envoy_config_version() >= 3, run.proc)
    if sampled:  # then wait until the stage is being sampled
        before = run.gateway_requests()
        wait_for("sampling", lambda: run.gateway_requests() >= before + 20, run.proc)
    code, stdout, stderr = run.stop(sig)
    results = run.results()
    assert_interrupted(code, stdout, stderr, results, sig, run.out)
    assert re.fullmatch(rf"{sig.name} during (stage apply|sampling|stage restore) \(MG4\d\d\)",
                        results["interrupted"]), results["interrupted"]
    done = {c["id"]: c["outcome"] for c in results["checks"]}
    assert done["MG401"] == "passed"  # what ran before the signal is kept
    assert (run.out / "requests.json").is_file()
    run.assert_clean()


@pytest.fixture
def cluster_lab():
    with Lab().start([PART1 / "destination-rule-all.yaml",
                      PART1 / "virtual-service-reviews-jason-v2.yaml"]) as lab:
        yield lab


def routing(lab: Lab) -> dict[str, dict]:
    api = ApiClient(lab.kubeconfig)
    found = {}
    for plural in ("virtualservices", "destinationrules", "gateways"):
        for item in api.get(f"/apis/networking.istio.io/v1/namespaces/default/{plural}")["items"]:
            found[f"{plural}/{item['metadata']['name']}"] = item["spec"]
    return found


@pytest.mark.slow
def test_sigint_during_apply_stages_restores_the_cluster(tmp_path: Path,
                                                         cluster_lab: Lab) -> None:
    before = routing(cluster_lab)
    run = Grader(tmp_path, str(PART1), "--rubric", RUBRIC, "--kubeconfig",
                 str(cluster_lab.kubeconfig), "--gateway-url", cluster_lab.gateway_url,
                 "--apply-stages")
    wait_for("the restore journal", lambda: list(run.out.glob("restore-*.json")), run.proc)
    code, stdout, stderr = run.stop(signal.SIGINT)
    results = run.results()
    assert_interrupted(code, stdout, stderr, results, signal.SIGINT, run.out)
    assert results["mode"] == "cluster"
    assert routing(cluster_lab) == before  # the stage was taken back
    assert not list(run.out.glob("restore-*"))
    run.assert_clean()


def test_signal_while_the_reports_are_written(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal during report writing cannot cut it short: the reports are written again,
    marked interrupted."""
    from meshgrade import plugin

    real = plugin.write_reports
    calls = []

    def signalled(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plugin, "write_reports", signalled)
    code = main(["grade", str(PART1), "--rubric", RUBRIC, "--mode", "repo", "--out",
                 str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert code == 143 and len(calls) == 2
    assert results["interrupted"] == "SIGTERM during report writing"
    assert results["gradable"] is False
    assert not any(c["message"].startswith("not run") for c in results["checks"])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back


@pytest.mark.slow
def test_interrupted_batch_records_the_student_and_stops_cleanly(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    shutil.copytree(PART1, subs / "ann")
    shutil.copytree(PART1, subs / "bob")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,submission\nann,subs/ann\nbob,subs/bob\n")
    run = Grader(tmp_path, str(roster), "--mode", "lab", "--rubric", RUBRIC, "--workers", "1",
                 command="batch")
    wait_for("ann's lab", lambda: run.envoy_config_version() >= 2, run.proc)
    code, stdout, stderr = run.stop(signal.SIGTERM)
    assert code == 143, stdout + stderr
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stdout + stderr
    book = csv.DictReader(io.StringIO((run.out / "gradebook.csv").read_text()))
    rows = {r["student"]: r for r in book}
    assert rows["ann"]["gradable"] == rows["bob"]["gradable"] == "false"
    assert rows["ann"]["reason"].startswith("interrupted: SIGTERM during")
    assert rows["bob"]["reason"] == "interrupted before grading"
    ann = json.loads((run.out / "ann" / "results.json").read_text())
    assert ann["gradable"] is False and ann["interrupted"].startswith("SIGTERM during")
    assert (run.out / "class-report.html").is_file()
    run.assert_clean()
