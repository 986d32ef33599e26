"""Grading each roster row in its own ``meshgrade grade`` process, a few at a time.

A process that crashes, exits unexpectedly or outlives ``timeout_s`` marks only its student
not gradable; its whole process group (the lab's Envoy included) is stopped. A stopped batch
(:class:`StopRequest`, set by a signal) sends SIGTERM to every grade process, which restores,
cleans up and writes its reports marked interrupted, then SIGKILL to what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgrade.submission.gitsource import redact_text
from meshgrade.submission.source import not_a_folder

from .copies import ENV as OBJECTS_ENV
from .copies import OBJECTS_FILE
from .roster import FAILURE_NAME, RosterRow, read_results

LOG_NAME = "grade.log"
DEFAULT_FORMATS = ("json", "junit", "html")  # grade's own default
TERM_GRACE_S = 20.0   # a grade process stops its lab and writes its reports on SIGTERM
POLL_S = 0.2
INTERRUPTED_CODES = (129, 130, 143)  # grade stopped by SIGHUP, SIGINT, SIGTERM


@dataclass(frozen=True)
class BatchOptions:
    """What every student's ``grade`` run shares."""

    out: Path
    rubric: str                       # passed to grade (a name or an absolute file path)
    rubric_name: str                  # the name results.json records, for --resume
    rubric_digest: str = ""           # its content's sha256: --resume regrades after a fix
    workers: int = 1
    timeout_s: float = 600.0
    resume: bool = False
    retry_not_gradable: bool = False  # with resume: grade again students who were not gradable
    formats: tuple[str, ...] = ()
    sign_key_file: str | None = None
    trust_kubeconfig: bool = False    # passed to grade: the roster's kubeconfigs are trusted
    grade_cmd: tuple[str, ...] = (sys.executable, "-m", "meshgrade", "grade")
    due: str | None = None            # the class's due time (ISO 8601); a roster's due wins
    compare: Path | None = None       # an earlier batch's output folder, for regrade.csv
    similarity: float = 0.9           # copied work: pairs at least this similar are listed
    shared_files: tuple[Path, ...] = ()  # the rubric's: what every student was given


@dataclass
class StudentResult:
    """How one student's grading ended; ``results`` is their parsed results.json."""

    row: RosterRow
    gradable: bool
    reason: str = ""
    started: bool = False             # a grade process ran (False when resumed or refused)
    resumed: bool = False
    exit_code: int | None = None
    duration_s: float = 0.0
    results: dict[str, Any] | None = None

    @property
    def score(self) -> float | None:
        return self.results.get("score") if self.results else None

    @property
    def max_score(self) -> float | None:
        return self.results.get("max_score") if self.results else None


@dataclass
class StopRequest:
    """A signal handler: records the signal in plain attributes (no lock it could deadlock
    on); the batch polls it. The first signal stops the batch, a second kills at once."""

    signum: int | None = None
    count: int = 0

    def __call__(self, signum: int, _frame: object) -> None:
        self.signum = self.signum or signum
        self.count += 1


@dataclass
class BatchSummary:
    """Every student's result in roster order, and what the run cost."""

    results: list[StudentResult] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted: int | None = None  # the signal that stopped the batch

    @property
    def started(self) -> int:
        return sum(r.started for r in self.results)

    @property
    def resumed(self) -> int:
        return sum(r.resumed for r in self.results)

    @property
    def not_gradable(self) -> list[StudentResult]:
        return [r for r in self.results if not r.gradable]


def grade_command(row: RosterRow, opts: BatchOptions) -> list[str]:
    """The argv of ``grade`` for one student: every roster value as ``--flag=value`` and the
    submission after ``--``, so no cell can become an option."""
    cmd = [*opts.grade_cmd, f"--out={opts.out / row.folder}", f"--student={row.student}",
           f"--rubric={opts.rubric}", f"--mode={row.mode}"]
    for flag, value in (("--kubeconfig", row.kubeconfig), ("--context", row.context),
                        ("--gateway-url", row.gateway_url), ("--due", row.due),
                        ("--sign-key-file", opts.sign_key_file)):
        if value:
            cmd.append(f"{flag}={value}")
    formats = list(opts.formats or DEFAULT_FORMATS)
    # the gradebook reads results.json; every student gets feedback.md
    formats += [fmt for fmt in ("json", "feedback") if fmt not in formats]
    cmd += [f"--format={fmt}" for fmt in formats]
    if opts.trust_kubeconfig:
        cmd.append("--trust-kubeconfig")
    return [*cmd, "--", row.submission]


def _last_line(log: Path) -> str:
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return next((s.strip() for s in reversed(lines) if s.strip()), "")


def _not_gradable_reason(results: dict[str, Any]) -> str:
    reason = results.get("not_gradable_reason")
    if isinstance(reason, str) and reason.strip():
        return reason.strip().splitlines()[0]
    for note in results.get("notes") or []:
        if isinstance(note, str) and note.strip():
            return note.strip().splitlines()[0]
    for check in results.get("checks") or []:
        if check.get("outcome") == "error" and check.get("message"):
            return f"{check.get('id')}: {str(check['message']).strip().splitlines()[0]}"
    return "a graded check could not run"


def _interrupted_reason(results: dict[str, Any] | None, code: int | None) -> str:
    if results and results.get("interrupted"):
        return f"interrupted: {results['interrupted']}"
    return f"interrupted ({_describe_exit(code)})"


class Runner:
    """Runs the grade processes; ``stop()`` (e.g. on Ctrl-C) asks every running one to stop
    (SIGTERM, then SIGKILL after TERM_GRACE_S); ``kill()`` kills every group at once."""

    def __init__(self, opts: BatchOptions) -> None:
        self.opts = opts
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()  # each _run sends its process SIGTERM, then SIGKILL

    def kill(self) -> None:
        self._stopping.set()
        with self._lock:  # a group leaves the set before its leader is reaped
            for pgid in self._groups:
                _signal_group(pgid, signal.SIGKILL)

    def grade(self, row: RosterRow) -> StudentResult:
        """Grade one student (or reuse their results under --resume); never raises."""
        try:
            res = self._grade(row)
        except Exception as exc:  # one student's trouble never stops the batch
            res = StudentResult(row, False, f"batch error: {type(exc).__name__}: {exc}")
        res.reason = redact_text(res.reason)
        return res

    def _grade(self, row: RosterRow) -> StudentResult:
        folder = self.opts.out / row.folder
        if self.opts.resume:
            old = row.resumable(self.opts.out / row.folder, self.opts.rubric_name,
                                self.opts.rubric_digest)
            if old is not None:
                return StudentResult(row, True, "", resumed=True, results=old)
            failed = row.failed_before(folder, self.opts.rubric_name, self.opts.rubric_digest)
            if failed is not None and not self.opts.retry_not_gradable:
                return StudentResult(row, False, failed, resumed=True)
        problem = None if row.is_url else not_a_folder(row.submission)
        if problem:  # a file, or nothing there
            return StudentResult(row, False, problem)
        if self._stopping.is_set():
            return StudentResult(row, False, "interrupted before grading")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").unlink(missing_ok=True)  # never read a stale result
        (folder / OBJECTS_FILE).unlink(missing_ok=True)
        log = folder / LOG_NAME
        start = time.monotonic()
        code, timed_out = self._run(grade_command(row, self.opts), log)
        results = read_results(folder)
        res = StudentResult(row, False, started=True, exit_code=code, results=results,
                            duration_s=time.monotonic() - start)
        if timed_out:
            res.reason = f"timeout after {self.opts.timeout_s:g} s"
        elif code in (0, 1) and results is not None and results.get("gradable") is True:
            res.gradable = True
        elif code in INTERRUPTED_CODES or (self._stopping.is_set() and code not in (0, 1, 3)):
            res.reason = _interrupted_reason(results, code)
        elif code == 3 and results is not None:
            res.reason = _not_gradable_reason(results)
        else:
            how = _describe_exit(code)
            if code in (0, 1):
                how += ", but no readable results.json"
            last = _last_line(log)
            res.reason = f"{how}: {last}" if last else how
        if not res.gradable:
            row.record_failure(folder, self.opts.rubric_name, res.reason,
                               self.opts.rubric_digest)
        else:
            (folder / FAILURE_NAME).unlink(missing_ok=True)
        return res

    def _run(self, cmd: list[str], log: Path) -> tuple[int | None, bool]:
        """Run ``cmd`` in a new session; return (exit code, timed out)."""
        with log.open("wb") as fh:
            fh.write(f"$ {redact_text(subprocess.list2cmdline(cmd))}\n".encode())
            fh.flush()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, OBJECTS_ENV: OBJECTS_FILE})
        pgid = proc.pid  # the leader of its own session and group
        with self._lock:
            self._groups.add(pgid)
        try:
            exited = _wait_unreaped(proc.pid, time.monotonic() + self.opts.timeout_s,
                                    self._stopping)
            if not exited:  # SIGTERM: the grade process cleans up and reports, then exits
                _signal_group(pgid, signal.SIGTERM)
                _wait_unreaped(proc.pid, time.monotonic() + TERM_GRACE_S, None)
            # the leader is a zombie (or still running): its PID, hence the group ID, cannot
            # be reused yet, so this reaches only the grader's own leftovers
            _signal_group(pgid, signal.SIGKILL)
        finally:
            with self._lock:
                self._groups.discard(pgid)
            code = proc.wait()
        return code, not exited and not self._stopping.is_set()


def _describe_exit(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    return "killed by " + {s.value: s.name for s in signal.Signals}.get(-code, f"signal {-code}")


def _wait_unreaped(pid: int, deadline: float, stop: threading.Event | None) -> bool:
    """Wait until ``pid`` exits, without reaping it; False at the deadline or on stop."""
    delay = 0.01
    while True:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            return True
        if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_batch(rows: list[RosterRow], opts: BatchOptions,
              on_done: Callable[[StudentResult], None] | None = None,
              stop: StopRequest | None = None) -> BatchSummary:
    """Grade ``rows`` with ``opts.workers`` processes at a time, in roster order. Once
    ``stop`` is set, students not started are not graded and running ones are stopped; each
    is recorded not gradable ("interrupted")."""
    opts.out.mkdir(parents=True, exist_ok=True)
    runner = Runner(opts)
    start = time.monotonic()
    done: dict[int, StudentResult] = {}
    stopped = killed = False
    with ThreadPoolExecutor(max_workers=max(1, opts.workers),
                            thread_name_prefix="meshgrade-batch") as pool:
        pending: dict[Future[StudentResult], int] = {
            pool.submit(runner.grade, row): i for i, row in enumerate(rows)}
        try:
            while pending:
                finished, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                if stop is not None and stop.count and not stopped:
                    stopped = True
                    runner.stop()
                    for fut in pending:
                        fut.cancel()
                if stop is not None and stop.count > 1 and not killed:
                    killed = True
                    runner.kill()
                for fut in finished:
                    i = pending.pop(fut)
                    done[i] = StudentResult(rows[i], False, "interrupted before grading") \
                        if fut.cancelled() else fut.result()
                    if on_done:
                        on_done(done[i])
        except BaseException:  # no StopRequest installed (a KeyboardInterrupt): kill
            runner.kill()
            for fut in pending:
                fut.cancel()
            raise
    return BatchSummary([done[i] for i in range(len(rows))], time.monotonic() - start,
                        interrupted=stop.signum if stopped and stop is not None else None)
