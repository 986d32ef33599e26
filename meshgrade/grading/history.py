"""Which commit to grade: a due time (or a named commit) against the branch's history.

Commit dates are written by the student's machine, so they are evidence, not proof: a history
whose committer dates run backwards, or that puts a commit dated at or before the due time on
top of one dated after it, is flagged (``suspicious_dates``), naming the commits, for the
instructor to judge. The commit graded is still the rule's: the newest commit of the branch's
first-parent history dated at or before the due time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

DUE_EXAMPLE = "2026-12-15T23:59+01:00"
SHORT = 12  # characters of a commit name in messages


class NoCommitInTime(ValueError):
    """No commit of the branch is dated at or before the due time."""


@dataclass(frozen=True)
class Commit:
    """One commit of the branch: its name, committer time (epoch seconds) and date as git
    prints it (strict ISO 8601 with the committer's offset)."""

    sha: str
    timestamp: int
    date: str

    @property
    def short(self) -> str:
        return self.sha[:SHORT]

    def shown(self) -> str:
        return f"{self.short} ({self.date})"


@dataclass
class Pick:
    """The commit graded and what the history says about it."""

    commit: str
    commit_date: str
    head: str                      # the branch's newest commit when it was fetched
    late_commits: int = 0          # commits on the branch after the graded one
    due: str | None = None         # the due time used, ISO 8601
    suspicious_dates: list[str] = field(default_factory=list)


def parse_due(text: str) -> datetime:
    """A due time in ISO 8601 with a UTC offset (``2026-12-15T23:59+01:00``, ``...Z``);
    ValueError saying what is wrong otherwise."""
    value = text.strip()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"due time {text!r} is not an ISO 8601 date and time "
                         f"(e.g. {DUE_EXAMPLE})") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"due time {text!r} has no UTC offset: write it as {DUE_EXAMPLE} "
                         "(or end it with Z for UTC)")
    return when


def format_due(when: datetime) -> str:
    """The due time as recorded: ISO 8601 with its offset, to the second."""
    return when.isoformat(timespec="seconds")


def parse_log(text: str) -> list[Commit]:
    """Commits from ``git rev-list --format='%H %ct %cI'`` output (its ``commit X`` header
    lines and anything malformed are passed over), in the order given."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] != "commit" and parts[1].lstrip("-").isdigit():
            out.append(Commit(parts[0], int(parts[1]), parts[2]))
    return out


def suspicious(chain: list[Commit], due: datetime | None = None) -> list[str]:
    """What is odd about the committer dates of ``chain`` (the first-parent history, newest
    first), one message per commit, oldest first: a commit dated at or before ``due`` on top
    of a commit dated after it, else a commit dated before its parent."""
    limit = due.timestamp() if due is not None else None
    found: list[str] = []
    latest: Commit | None = None  # the latest-dated commit below the current one
    for i in range(len(chain) - 1, -1, -1):
        c = chain[i]
        parent = chain[i + 1] if i + 1 < len(chain) else None
        if (limit is not None and latest is not None and c.timestamp <= limit
                < latest.timestamp):
            found.append(f"{c.shown()} is dated at or before the due time but comes after "
                         f"{latest.shown()}, dated after it")
        elif parent is not None and c.timestamp < parent.timestamp:
            found.append(f"{c.shown()} is dated before its parent {parent.shown()}")
        if latest is None or c.timestamp > latest.timestamp:
            latest = c
    return found


def pick_at(chain: list[Commit], index: int, due: datetime | None = None) -> Pick:
    """``chain[index]`` (first-parent history, newest first) as the commit graded."""
    c = chain[index]
    return Pick(commit=c.sha, commit_date=c.date, head=chain[0].sha, late_commits=index,
                due=format_due(due) if due is not None else None,
                suspicious_dates=suspicious(chain, due))


def pick_due(chain: list[Commit], due: datetime) -> Pick:
    """The newest commit of ``chain`` (first-parent history, newest first) dated at or before
    ``due``; NoCommitInTime when there is none."""
    if not chain:
        raise NoCommitInTime("the branch has no commits")
    limit = due.timestamp()
    for i, c in enumerate(chain):
        if c.timestamp <= limit:
            return pick_at(chain, i, due)
    first = chain[-1]
    raise NoCommitInTime(f"no commit of the branch is dated at or before the due time "
                         f"{format_due(due)} ({len(chain)} commit(s), the first dated "
                         f"{first.date})")


__all__ = ["Commit", "DUE_EXAMPLE", "NoCommitInTime", "Pick", "format_due", "parse_due",
           "parse_log", "pick_at", "pick_due", "suspicious"]
