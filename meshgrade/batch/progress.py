"""Progress on stderr: one line per finished student, and a live bar when stderr is a TTY."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from meshgrade.reports.sinks import for_terminal, for_workflow_log

from .runner import StudentResult

BAR_WIDTH = 24


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _points(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def describe(res: StudentResult) -> str:
    """The line printed when a student finishes (roster and result text escaped)."""
    who = for_terminal(res.row.student)
    if res.resumed:
        line = f"{who}: {_points(res.score)}/{_points(res.max_score)} (resumed)"
    elif res.gradable:
        line = f"{who}: {_points(res.score)}/{_points(res.max_score)} in {res.duration_s:.1f} s"
    else:
        line = f"{who}: NOT GRADABLE: {for_terminal(res.reason)}"
    return for_workflow_log(line)


class Progress:
    """Reports finished students; on a TTY redraws a bar (done/total, elapsed, ETA)."""

    def __init__(self, total: int, stream: TextIO | None = None,
                 live: bool | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.done = 0
        self._graded = 0  # finished students that ran a process (for the ETA)
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True,
                                            name="meshgrade-progress")
            self._ticker.start()
            self.stream.write(self.bar())
            self.stream.flush()

    def bar(self) -> str:
        """``[#####.....] 3/10  elapsed 0:12  ETA 0:28``."""
        elapsed = time.monotonic() - self._start
        filled = round(BAR_WIDTH * self.done / self.total) if self.total else BAR_WIDTH
        text = (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total}"
                f"  elapsed {clock(elapsed)}")
        left = self.total - self.done
        if left and self._graded:
            text += f"  ETA {clock(elapsed / self._graded * left)}"
        elif left:
            text += "  ETA -"
        return text

    def finished(self, res: StudentResult) -> None:
        """Count ``res`` and print its line."""
        with self._lock:
            self.done += 1
            self._graded += not res.resumed
            line = f"[{self.done}/{self.total}] {describe(res)}"
            if self.live:
                self.stream.write(f"\r\x1b[2K{line}\n{self.bar()}")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self.stream.write(f"\r\x1b[2K{self.bar()}")
                self.stream.flush()

    def close(self) -> None:
        """Stop redrawing and leave the cursor on a fresh line."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self.live:
                self.stream.write(f"\r\x1b[2K{self.bar()}\n")
                self.stream.flush()
