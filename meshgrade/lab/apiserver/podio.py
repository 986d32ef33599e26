"""What the API server asks of the lab's pods: exec, logs and port-forward targets."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class ExecIO(Protocol):
    """A command's standard streams: ``read`` gives stdin (None: nothing within ``timeout``;
    b"": end of input), ``write`` sends stdout or stderr (merged when ``tty``)."""

    stdin: bool
    tty: bool

    def read(self, timeout: float) -> bytes | None: ...

    def write(self, data: bytes, stderr: bool = False) -> None: ...


#: Runs the command against its streams and returns its exit code.
Command = Callable[[ExecIO], int]


@dataclass(frozen=True)
class LogLine:
    """One log line: when (epoch seconds) and its text without the newline."""

    at: float
    text: str

    @property
    def stamp(self) -> str:
        """The time as kubelet prints it (RFC 3339, nanoseconds)."""
        t = datetime.datetime.fromtimestamp(self.at, datetime.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


class Runtime(Protocol):
    """The pods' side of exec, logs and port-forward. Each method raises ApiError (404 for
    an unknown pod, 400 for an unknown container) before anything is streamed."""

    def exec(self, namespace: str, pod: str, container: str | None,
             command: list[str], tty: bool) -> Command: ...

    def logs(self, namespace: str, pod: str, container: str | None, previous: bool,
             after: int) -> tuple[int, list[LogLine]]:
        """Lines after cursor ``after`` (0: from the start) and the new cursor."""
        ...

    def port_target(self, namespace: str, pod: str) -> Callable[[int], tuple[str, int] | str]:
        """For a pod: its port -> where that answers on this machine, or why not."""
        ...
