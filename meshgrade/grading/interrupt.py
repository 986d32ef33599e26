"""Interruption as an outcome: SIGINT, SIGTERM and SIGHUP stop a grading run with
:class:`Interrupted`, which unwinds through the cleanup code (``finally``: restore a stage,
stop the lab, remove temporary folders) to the report writer.

A signal is only recorded until the run can report it (:func:`arm`, once the checks are
collected) and inside :func:`shielded` blocks (cleanup that must finish); it is raised when
that ends. A second signal never interrupts the cleanup of the first. :func:`doing` names
what the run is doing, so the reports can say ``SIGINT during sampling (MG405)``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_UP = "start-up"


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run; a KeyboardInterrupt, so pytest stops the session for it."""

    def __init__(self, signum: int, where: str) -> None:
        super().__init__(f"{signal_name(signum)} during {where}")
        self.signum = signum


@dataclass
class _State:
    signum: int | None = None
    where: str | None = None        # what the run was doing when the signal came
    raised: bool = False
    armed: bool = False
    shield: int = 0
    doing: list[tuple[str, str | None]] = field(default_factory=lambda: [(START_UP, None)])


_state = _State()
_installed = 0  # nesting depth of handling(): only the outermost installs and resets


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def current_check() -> str | None:
    """The check being run (what :func:`doing` names last), if any."""
    return next((c for _a, c in reversed(_state.doing) if c), None)


def _where() -> str:
    activity = _state.doing[-1][0]
    check = current_check()
    return f"{activity} ({check})" if check else activity


def _handler(signum: int, _frame: FrameType | None) -> None:
    if _state.signum is not None:  # already stopping: let the cleanup finish
        os.write(2, b"meshgrade: already stopping (cleaning up, then writing the reports)\n")
        return
    _state.signum, _state.where = signum, _where()
    _raise_pending()


def _raise_pending() -> None:
    if _state.signum is not None and _state.armed and not _state.shield and not _state.raised:
        _state.raised = True
        raise Interrupted(_state.signum, _state.where or START_UP)


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """Handle SIGINT, SIGTERM and SIGHUP for one run (main thread only; elsewhere, or
    nested in another ``handling()``, a no-op)."""
    global _state, _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    _state = _State()
    previous: dict[int, Any] = {s: signal.signal(s, _handler) for s in SIGNALS}
    _installed += 1
    try:
        yield
    finally:
        _installed -= 1
        for s, old in previous.items():
            signal.signal(s, old)
        _state = _State()  # nothing of this run is left for the next one


def arm() -> None:
    """From here a signal raises :class:`Interrupted` (at once if one came already)."""
    _state.armed = True
    _state.doing[0] = ("grading", None)  # start-up is over
    _raise_pending()


def disarm() -> None:
    """From here a signal is only recorded (the reports are being written)."""
    _state.armed = False


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Cleanup that must finish: a signal meanwhile is raised at the end of the block."""
    _state.shield += 1
    try:
        yield
    finally:
        _state.shield -= 1
    _raise_pending()


@contextlib.contextmanager
def doing(activity: str, check: str | None = None) -> Iterator[None]:
    """Name what the run does meanwhile; ``check`` is the check it does it for."""
    _state.doing.append((activity, check))
    try:
        yield
    except KeyboardInterrupt:  # also one raised without these handlers: keep where it hit
        _state.where = _state.where or _where()
        raise
    finally:
        _state.doing.pop()


def reason() -> str | None:
    """``SIGTERM during lab start``, or None when no signal came."""
    if _state.signum is None:
        return None
    return f"{signal_name(_state.signum)} during {_state.where or START_UP}"


def describe(signum: int) -> str:
    """``SIGINT during sampling (MG405)``: ``signum`` now (for a KeyboardInterrupt raised
    without these handlers, plain pytest's Ctrl-C)."""
    return f"{signal_name(signum)} during {_state.where or _where()}"


def exit_status() -> int | None:
    """128 + the signal number (130 for SIGINT, 143 for SIGTERM), or None."""
    return None if _state.signum is None else 128 + _state.signum
