"""The sampling progress line: what it says, where it goes (a real pseudo-terminal), and where
it never goes (captured output, GitHub Actions)."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import termios
import time
from collections.abc import Iterator

import pytest

from meshgrade.grading import interrupt
from meshgrade.lab.workloads import PodSpec, Workloads
from meshgrade.traffic import HeaderOracle, RequestClass, Sampler, progressline
from meshgrade.traffic.progressline import CLEAR, Progress

from .conftest import PATIENCE_S

ORACLE = HeaderOracle("x-meshgrade-version")


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    """A generic v2 pod (no mesh needed): host:port."""
    with Workloads("http://127.0.0.1:9") as pods:
        port = pods.start_pod(PodSpec("greeter-v2-abc", "default", "greeter", "v2",
                                      "greeter-v2", (("app", "greeter"), ("version", "v2"))))
        yield f"127.0.0.1:{port}"


def test_line_names_the_check_class_counts_and_is_cleared(echo: str) -> None:
    out = io.StringIO()
    line = Progress(out)
    with Sampler(echo, run_id="p", progress=line) as sampler, \
            interrupt.doing("sampling", "MG404"):
        sampler.sample(RequestClass.anonymous(), 12, ORACLE)
        assert line.text() == "sampling MG404 anonymous: 12/12 requests (v2 12)"
        sampler.sample(RequestClass.anonymous(), 8, ORACLE)  # the same class goes on
        assert line.text() == "sampling MG404 anonymous: 20/20 requests (v2 20)"
        jason = RequestClass.with_header("end-user", "jason")
        for n, _ in enumerate(sampler.stream(jason, ORACLE), 1):  # open-ended: no total
            if n == 5:
                break
        assert re.fullmatch(r"sampling MG404: anonymous 20/20 requests \(v2 20\); "
                            r"end-user=jason \d+ requests \(v2 \d+\)", line.text())
    with interrupt.doing("sampling", "MG405"):  # the next check starts afresh
        line.begin("anonymous", 4)
        assert line.text() == "sampling MG405 anonymous: 0/4 requests"
    written = out.getvalue()
    assert written.startswith(CLEAR + "sampling MG404 anonymous: ")
    assert written.endswith(CLEAR)  # nothing is left on the line
    assert "\n" not in written


def test_line_clears_itself_when_sampling_pauses(echo: str) -> None:
    out = io.StringIO()
    with Sampler(echo, run_id="q", progress=Progress(out)) as sampler:
        sampler.sample(RequestClass.anonymous(), 4, ORACLE)
        deadline = time.monotonic() + PATIENCE_S
        while not out.getvalue().endswith(CLEAR) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.getvalue().endswith(CLEAR)
        assert out.getvalue().count("sampling anonymous: ") >= 1  # no check: no check id


def test_nothing_is_written_without_a_terminal(echo: str, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.setattr(progressline, "_terminal", None)
    assert progressline.terminal() is None  # pytest captures stderr: not a terminal
    with Sampler(echo, run_id="r") as sampler:
        assert not sampler.progress.live
        assert len(sampler.sample(RequestClass.anonymous(), 3, ORACLE)) == 3


def _read_all(fd: int) -> bytes:
    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_attached_terminal_is_stderr_before_capture(echo: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A real pseudo-terminal on fd 2: attached, then fd 2 redirected (as pytest's capture
    does), the line still reaches the terminal; GitHub Actions turns it off."""
    master, slave = os.openpty()
    saved = os.dup(2)
    monkeypatch.setattr(progressline, "_terminal", None)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    try:
        os.dup2(slave, 2)
        stream = progressline.attach_terminal()
        assert stream is not None and progressline.terminal() is stream
        os.dup2(saved, 2)  # captured again from here
        with Sampler(echo, run_id="t") as sampler, interrupt.doing("sampling", "MG405"):
            sampler.sample(RequestClass.anonymous(), 6, ORACLE)
        shown = _read_all(master).decode()
        assert "sampling MG405 anonymous: " in shown and shown.endswith(CLEAR)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 30, 0, 0))
        with Sampler(echo, run_id="u") as sampler, interrupt.doing("sampling", "MG406"):
            sampler.sample(RequestClass.anonymous(), 6, ORACLE)
        drawn = [part for part in _read_all(master).decode().split(CLEAR) if part]
        assert drawn and all(len(part) < 30 and part.endswith("...") for part in drawn)
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        assert progressline.terminal() is None
        assert not Progress().live
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        stream = progressline._terminal
        if stream is not None:
            stream.close()
        os.close(slave)
        os.close(master)
