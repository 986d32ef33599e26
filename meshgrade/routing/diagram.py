"""Routing diagrams as plain data: for one routing stage, where each request class's requests
go at every hop (gateway -> service -> versions), from the routing model; what the traffic
checks observed; and the edges a check failed on. Built once per run
(``checklib.diagrams``), carried by ``RunResult.diagrams`` and drawn by the HTML report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """Where one hop's requests end: a version (``label`` "v2") or an error (``label`` the
    status, ``error`` True). Shares are per request class, between 0 and 1."""

    label: str
    error: bool = False
    shares: dict[str, float] = field(default_factory=dict)    # the routing model's
    wanted: dict[str, float] = field(default_factory=dict)    # what the task asks for
    observed: dict[str, float] = field(default_factory=dict)  # sampled (live checks)
    counts: dict[str, int] = field(default_factory=dict)      # sampled answers behind it
    failed: list[str] = field(default_factory=list)           # checks that failed on it
    reason: str = ""                                          # why, for an error

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "error": self.error,
                "shares": _rounded(self.shares), "wanted": _rounded(self.wanted),
                "observed": _rounded(self.observed), "counts": dict(self.counts),
                "failed": list(self.failed), "reason": self.reason}


@dataclass
class Hop:
    """One call: ``caller`` ("ingress gateway", "productpage v1") sends requests for
    ``service`` (``request`` says which), and they end at ``targets``."""

    caller: str
    service: str
    request: str = ""
    targets: list[Target] = field(default_factory=list)
    observed_by: str | None = None  # the traffic check whose samples ``observed`` holds

    def to_dict(self) -> dict[str, Any]:
        return {"caller": self.caller, "service": self.service, "request": self.request,
                "observed_by": self.observed_by,
                "targets": [t.to_dict() for t in self.targets]}


@dataclass
class Diagram:
    """One routing stage found in the submission, as a picture's data."""

    id: str                      # "part1-jason"
    part: str                    # "Part 1", "Part 2"
    title: str                   # "jason to v2, everyone else to v1"
    classes: list[str]           # request classes, in display order
    checks: list[str]            # the checks it illustrates (static, then traffic)
    stage: list[str] = field(default_factory=list)  # "VirtualService default/reviews (f:9)"
    hops: list[Hop] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        """Every check that failed on some edge, in order."""
        return list(dict.fromkeys(c for h in self.hops for t in h.targets for c in t.failed))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "part": self.part, "title": self.title,
                "classes": list(self.classes), "checks": list(self.checks),
                "stage": list(self.stage), "hops": [h.to_dict() for h in self.hops]}


def _rounded(shares: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in shares.items()}
