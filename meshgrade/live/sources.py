"""The live sources of a run: a cluster (or the lab, read like a cluster) and its gateway."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..cluster.read import ClusterFacts, gather, read_objects
from ..grading.context import Context
from ..submission.objects import KObject
from .livesource import LiveKind, LiveSource

if TYPE_CHECKING:
    from ..cluster.reader import ClusterWriter
    from ..lab.lab import Lab
    from ..traffic.sampler import Sampler


@dataclass
class Live:
    """What the cluster and traffic checks read (a ``LiveSource``). ``lab`` is set in lab
    mode (the grader may then apply stages itself); ``apply_stages`` is the cluster opt-in."""

    kind: LiveKind
    client: ClusterWriter          # meshgrade.cluster.ClusterClient
    gateway_url: str               # host:port or a URL
    gateway_tried: list[str]
    namespace: str
    lab: Lab | None = None
    apply_stages: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    seed: int | None = None
    gateway_error: str | None = None   # nothing answered: traffic checks are errors
    out_dir: Path = Path("reports")    # where a restore journal goes (--apply-stages)
    refused: list[str] = field(default_factory=list)  # objects the lab did not apply
    _objects: list[KObject] | None = field(default=None, repr=False)
    _sampler: Sampler | None = field(default=None, repr=False)
    _facts: ClusterFacts | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        url = self.gateway_url
        return url if "://" in url else f"http://{url}"

    def objects(self, refresh: bool = False) -> list[KObject]:
        """The cluster's objects (read once, again after a stage is applied)."""
        if refresh or self._objects is None:
            self._objects = read_objects(self.client)
        return self._objects

    def sampler(self) -> Sampler:
        from ..traffic.sampler import Sampler  # start-up: requests

        if self._sampler is None:
            self._sampler = Sampler(self.base_url, run_id=self.run_id, seed=self.seed)
        return self._sampler

    def facts(self) -> ClusterFacts:
        """The cluster's state as MG301-MG309 judge it, read once."""
        if self._facts is None:
            self._facts = gather(self.client, self.namespace, self.gateway_url or None,
                                 tried=self.gateway_tried)
        return self._facts

    @property
    def sampler_used(self) -> Sampler | None:
        """The sampler, if requests were sent in this run."""
        return self._sampler

    def close(self) -> None:
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.close()
        if self.lab is not None:
            self.lab.stop()


def live_of(ctx: Context) -> LiveSource:
    """The live source of a context whose sources include cluster or traffic."""
    live = ctx.live
    assert isinstance(live, Live), "a live check ran without a live source"
    return live
