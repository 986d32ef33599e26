"""Requests, targets, trace steps and outcomes of the routing model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from ..submission.objects import KObject
from .mesh import PodGroup, split_host


@dataclass(frozen=True)
class Request:
    """One HTTP request as a client sends it.

    ``host`` is the Host/authority (it may carry ``:port``), ``path`` may carry ``?query``.
    Header names are matched case-insensitively; repeated headers are joined with ``,``.
    """

    host: str
    path: str = "/"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    port: int | None = None

    @classmethod
    def make(cls, host: str, path: str = "/", method: str = "GET",
             headers: Mapping[str, str] | None = None, port: int | None = None) -> Request:
        """Build a request from a plain header dict (names are lowercased)."""
        items = tuple((str(k).lower(), str(v)) for k, v in (headers or {}).items())
        return cls(host=host, path=path or "/", method=method, headers=items, port=port)

    @cached_property
    def header_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in self.headers:
            key = name.lower()
            out[key] = f"{out[key]},{value}" if key in out else value
        return out

    @cached_property
    def uri(self) -> str:
        """The path without query string or fragment."""
        return self.path.split("?", 1)[0].split("#", 1)[0] or "/"

    @cached_property
    def query(self) -> dict[str, str]:
        """Query parameters, first value wins, not URL-decoded (as Envoy matches them)."""
        out: dict[str, str] = {}
        if "?" not in self.path:
            return out
        for part in self.path.split("?", 1)[1].split("#", 1)[0].split("&"):
            if part:
                name, _, value = part.partition("=")
                out.setdefault(name, value)
        return out

    @cached_property
    def hostname(self) -> str:
        return split_host(self.host)[0]

    @cached_property
    def effective_port(self) -> int | None:
        """``port`` if given, else a port written in ``host``."""
        return self.port if self.port is not None else split_host(self.host)[1]


@dataclass(frozen=True)
class Target:
    """Where (a share of) the requests end: a workload (200) or an error/redirect status."""

    status: int
    namespace: str = ""
    service: str = ""
    workload: str = ""
    version: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Step:
    """One decision in a trace: the object and field path that decided it; ``status`` is
    set when the step sends (a share of) the requests to an error status."""

    obj: KObject | None
    path: str = ""
    note: str = ""
    status: int | None = None

    @property
    def line(self) -> int:
        return self.obj.line_of(self.path) if self.obj is not None else 0

    def __str__(self) -> str:
        if self.obj is None:
            return self.note
        where = f"file {self.obj.file}:{self.line}" if self.obj.file else self.obj.origin
        head = f"{self.obj.ref} {self.path} ({where})" if self.path else f"{self.obj.ref} ({where})"
        return f"{head}: {self.note}" if self.note else head


@dataclass
class Outcome:
    """Probability of each target for one request, plus the trace of what decided it."""

    shares: dict[Target, float]
    decided_by: list[str]
    steps: list[Step] = field(default_factory=list)

    def versions(self) -> dict[str, float]:
        """Share per ``version`` label of 200 targets ("" when unlabelled); errors by status."""
        out: dict[str, float] = {}
        for target, share in self.shares.items():
            key = (target.version or "") if target.status == 200 else str(target.status)
            out[key] = out.get(key, 0.0) + share
        return out

    def workloads(self) -> dict[str, float]:
        """Share per workload of 200 targets; errors by status."""
        out: dict[str, float] = {}
        for target, share in self.shares.items():
            key = target.workload if target.status == 200 else str(target.status)
            out[key] = out.get(key, 0.0) + share
        return out

    def errors(self) -> float:
        """Share of targets that are not 200."""
        return sum(s for t, s in self.shares.items() if t.status != 200)

    def statuses(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for target, share in self.shares.items():
            out[target.status] = out.get(target.status, 0.0) + share
        return out


class Acc:
    """Accumulates shares and trace steps while a request is evaluated."""

    def __init__(self) -> None:
        self.shares: dict[Target, float] = {}
        self.steps: list[Step] = []

    def add(self, target: Target, share: float) -> None:
        if share > 0:
            self.shares[target] = self.shares.get(target, 0.0) + share

    def fail(self, status: int, reason: str, share: float, obj: KObject | None = None,
             path: str = "") -> None:
        """Add an error target and a trace step naming where it came from."""
        self.add(Target(status, reason=reason), share)
        self.steps.append(Step(obj, path, f"{status}: {reason}", status))

    def note(self, obj: KObject | None, path: str, note: str) -> None:
        self.steps.append(Step(obj, path, note))

    def outcome(self) -> Outcome:
        total = sum(self.shares.values())
        shares = {t: s / total for t, s in self.shares.items()} if total > 0 else {}
        if not shares:  # defensive: every path adds a target, keep the invariant anyway
            shares = {Target(404, reason="no route"): 1.0}
        return Outcome(shares, [str(s) for s in self.steps], list(self.steps))


def spread(acc: Acc, svc: KObject, pods: list[PodGroup], share: float) -> None:
    """Spread ``share`` evenly over the pods (replicas), grouped by workload and version."""
    total = sum(g.count for g in pods)
    for g in pods:
        acc.add(Target(200, svc.namespace, svc.name, g.workload, g.labels.get("version")),
                share * g.count / total)
