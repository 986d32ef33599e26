"""A progress line while sampling: ``sampling MG404 user:jason: 120/400 requests (v2 118,
v3 2)``, redrawn in place on a terminal's stderr and cleared when the sampling stops.

Nothing is written unless stderr is a terminal, and never under GitHub Actions. pytest
captures file descriptor 2 while checks run, so `attach_terminal` keeps a duplicate of it,
taken before the capture starts (`meshgrade grade` calls it); without one, `sys.stderr` is
used when it is a terminal itself (``pytest -s``, or the sampler used from Python)."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from ..grading import interrupt

REDRAW_S = 0.1   # at most ten redraws a second
IDLE_S = 0.5     # no sample for this long: the line is cleared
CLEAR = "\r\x1b[2K"

_terminal: TextIO | None = None


def _in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def attach_terminal() -> TextIO | None:
    """Keep a duplicate of stderr for progress lines if it is a terminal (and not GitHub
    Actions); returns it. Call before pytest captures output; idempotent."""
    global _terminal
    if _terminal is None and not _in_github_actions():
        try:
            if os.isatty(2):
                _terminal = io.TextIOWrapper(io.FileIO(os.dup(2), "w"), encoding="utf-8",
                                             errors="replace", line_buffering=False)
        except OSError:
            _terminal = None
    return _terminal


def terminal() -> TextIO | None:
    """Where progress lines go: the attached terminal, else stderr when it is a terminal
    (never under GitHub Actions); None: nowhere."""
    if _in_github_actions():
        return None
    if _terminal is not None:
        return _terminal
    stream = sys.stderr
    try:
        return stream if stream is not None and stream.isatty() else None
    except (AttributeError, ValueError):  # a closed or odd replacement stream
        return None


def current_check() -> str | None:
    """The check being run (what `interrupt.doing` names), if any."""
    return interrupt.current_check()


@dataclass
class _Tally:
    """What one request class got so far."""

    done: int = 0
    total: int | None = 0  # None: open-ended (a stream)
    errors: int = 0
    versions: Counter[str] = field(default_factory=Counter)

    def text(self) -> str:
        total = f"/{self.total}" if self.total else ""
        seen = [f"{version} {count}" for version, count in sorted(self.versions.items())]
        if self.errors:
            seen.append(f"errors {self.errors}")
        noun = "request" if self.done == 1 and not self.total else "requests"
        return f"{self.done}{total} {noun}" + (f" ({', '.join(seen)})" if seen else "")


class Progress:
    """One updating line for the samples of the current check, per request class;
    ``stream`` None: the `terminal` (then nothing at all when there is none)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else terminal()
        self._lock = threading.Lock()
        self._check: str | None = None
        self._classes: dict[str, _Tally] = {}
        self._shown = False
        self._drawn_at = 0.0
        self._last = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def live(self) -> bool:
        return self.stream is not None

    def begin(self, cls: str, n: int | None) -> None:
        """``n`` more requests of class ``cls`` are coming (None: open-ended, a stream)."""
        if self.stream is None:
            return
        check = current_check()
        with self._lock:
            if check != self._check or not self._classes:
                self._check, self._classes = check, {}
            tally = self._classes.setdefault(cls, _Tally())
            tally.total = None if n is None or tally.total is None else tally.total + n
            self._last = time.monotonic()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, daemon=True,
                                                name="meshgrade-sampling-progress")
                self._ticker.start()

    def add(self, cls: str, version: str | None) -> None:
        """A sample of ``cls`` came back (``version`` None: an error or no version)."""
        if self.stream is None:
            return
        now = time.monotonic()
        with self._lock:
            tally = self._classes.setdefault(cls, _Tally(total=None))
            tally.done += 1
            if version is None:
                tally.errors += 1
            else:
                tally.versions[version] += 1
            self._last = now
            if now - self._drawn_at >= REDRAW_S:
                self._draw(now)

    def text(self) -> str:
        """The line as it is drawn now: ``sampling MG404 anonymous: 120/400 requests (v1
        40, v2 80)``, or with several classes ``sampling MG404: anonymous ...; user:jason
        ...``."""
        head = " ".join(part for part in ("sampling", self._check) if part)
        if len(self._classes) == 1:
            ((cls, tally),) = self._classes.items()
            return f"{head} {cls}: {tally.text()}"
        return f"{head}: " + "; ".join(f"{cls} {tally.text()}"
                                         for cls, tally in self._classes.items())

    def _draw(self, now: float) -> None:
        assert self.stream is not None
        self._drawn_at, self._shown = now, True
        text = self.text()
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            width = 0
        if width > 1 and len(text) >= width:  # a wrapped line could not be cleared
            text = text[:width - 4] + "..."
        self._write(CLEAR + text)

    def _write(self, data: str) -> None:
        assert self.stream is not None
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: no more progress
            self.stream = None

    def clear(self) -> None:
        """Remove the line (the next sample draws it again)."""
        with self._lock:
            if self._shown and self.stream is not None:
                self._shown = False
                self._write(CLEAR)

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_S):
            with self._lock:
                if not self._shown:
                    continue
                idle = time.monotonic() - self._last > IDLE_S
                moved_on = current_check() != self._check
            if idle or moved_on:
                self.clear()

    def close(self) -> None:
        """Clear the line and stop the redraw thread."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.clear()
