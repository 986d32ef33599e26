"""What the cluster and traffic checks may use of a run's live source (``sources.Live``, the
lab or a cluster), as a Protocol: ``Context.live`` is one of these, or None."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ..submission.objects import KObject

if TYPE_CHECKING:  # the lab, the Kubernetes client and requests load only when used
    from ..cluster.read import ClusterFacts
    from ..cluster.reader import ClusterWriter
    from ..lab.lab import Lab
    from ..traffic.sampler import Sampler

LiveKind = Literal["lab", "cluster"]
"""Where the live objects and traffic come from: the grader's lab or the student's cluster."""


class LiveSource(Protocol):
    """A cluster (or the lab, read like a cluster) and its ingress gateway."""

    @property
    def kind(self) -> LiveKind: ...

    @property
    def client(self) -> ClusterWriter:
        """The Kubernetes API of the cluster (or of the lab)."""
        ...

    @property
    def namespace(self) -> str:
        """The application's namespace."""
        ...

    @property
    def gateway_url(self) -> str:
        """``host:port`` (or a URL) of the ingress gateway; "" when none answered."""
        ...

    @property
    def gateway_tried(self) -> list[str]:
        """The candidates discovery tried, ``"addr (how)"``."""
        ...

    @property
    def gateway_error(self) -> str | None:
        """Why no gateway answered (traffic checks are then errors)."""
        ...

    @property
    def base_url(self) -> str:
        """The gateway as a URL."""
        ...

    @property
    def lab(self) -> Lab | None:
        """The lab, in lab mode."""
        ...

    @property
    def apply_stages(self) -> bool:
        """A cluster's opt-in to applying routing stages (the lab always may)."""
        ...

    @property
    def run_id(self) -> str: ...

    @property
    def out_dir(self) -> Path:
        """Where a restore journal goes (--apply-stages)."""
        ...

    @property
    def refused(self) -> list[str]:
        """Refs of the submitted objects the lab did not apply (invalid name or schema)."""
        ...

    def objects(self, refresh: bool = False) -> list[KObject]:
        """The cluster's objects (read once, again after a stage is applied)."""
        ...

    def sampler(self) -> Sampler:
        """The traffic sampler of the gateway, made once."""
        ...

    def facts(self) -> ClusterFacts:
        """The cluster's state as MG301-MG309 judge it, read once."""
        ...

    def close(self) -> None: ...
