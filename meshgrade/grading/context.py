"""What a check reads: the object index, the settings, and routing models per stage."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..live.livesource import LiveSource
from ..routing import RoutingModel
from ..routing.mesh import Mesh
from ..submission.index import ObjectIndex
from ..submission.kinds import ROUTE_KINDS
from ..submission.loader import LoadedSubmission
from ..submission.objects import KObject
from ..submission.podgroups import PodGroup, index_groups
from .settings import Settings

T = TypeVar("T")


@dataclass
class Context:
    """Inputs of the static checks. ``source`` is "repo" or "cluster"."""

    index: ObjectIndex
    settings: Settings = field(default_factory=Settings)
    source: str = "repo"
    submission: LoadedSubmission | None = None
    live: LiveSource | None = None  # the lab or a cluster, when the run has one
    live_reason: str = "no cluster or lab in this run"   # why there is no live source
    live_error: bool = False       # the live source failed: live checks are errors
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, computed once per context and ``key`` (until :meth:`forget`): what
        several checks derive from the same objects."""
        if key not in self._memo:
            self._memo[key] = make()
        value: T = self._memo[key]  # what this key's make() returned
        return value

    def forget(self) -> None:
        """Drop everything memoised (the index was replaced)."""
        self._memo.clear()

    @property
    def sources(self) -> set[str]:
        return {self.source, "cluster", "traffic"} if self.live is not None else {self.source}

    def pods(self) -> list[PodGroup]:
        return self.memo("pods", lambda: index_groups(self.index))

    def pods_in(self, namespace: str) -> list[PodGroup]:
        """Pod groups of one namespace."""
        def by_namespace() -> dict[str, list[PodGroup]]:
            by_ns: dict[str, list[PodGroup]] = {}
            for group in self.pods():
                by_ns.setdefault(group.namespace, []).append(group)
            return by_ns

        return self.memo("pods-by-ns", by_namespace).get(namespace, [])

    def infra(self) -> list[KObject]:
        """Final state of everything except the routing objects, which come in stages."""
        return self.memo("infra", lambda: [o for o in self.index.latest()
                                           if o.kind not in ROUTE_KINDS])

    def mesh(self) -> Mesh:
        """Istio's view of the final infrastructure (hosts, visibility, DestinationRules,
        Gateways, ingress pods), shared by the checks and the routing models."""
        return self.memo("mesh", lambda: Mesh(self.infra(),
                                              ingress_labels=self.settings.ingress_labels))

    def routing_stages(self) -> list[KObject]:
        """Every version of every routing object the student wrote, in load order."""
        return [o for o in self.index.all_stages(*ROUTE_KINDS) if o.origin != "baseline"]

    def model(self, stage: KObject | None = None) -> RoutingModel:
        """Routing model of the final state (``stage`` None) or of one routing object alone
        on top of the final infrastructure."""
        def make() -> RoutingModel:
            if stage is None:
                return RoutingModel(self.index.latest(), mesh=self.mesh())
            return self.bare_model().with_routing([stage])

        return self.memo(("model", id(stage)), make)

    def bare_model(self) -> RoutingModel:
        """Routing model of the final infrastructure without any routing object: where
        requests go when no rule applies (spread over each Service's pods)."""
        return self.memo("infra-model", lambda: RoutingModel(self.infra(), mesh=self.mesh()))
