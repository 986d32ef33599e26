"""What a check reads: the object index, the settings, and routing models per stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..submission.index import ObjectIndex
from ..submission.kinds import ROUTE_KINDS
from ..submission.loader import LoadedSubmission
from ..submission.objects import KObject
from ..submission.podgroups import PodGroup, index_groups
from .settings import Settings

if TYPE_CHECKING:
    from ..routing import RoutingModel
    from ..routing.mesh import Mesh


@dataclass
class Context:
    """Inputs of the static checks. ``source`` is "repo" or "cluster"."""

    index: ObjectIndex
    settings: Settings = field(default_factory=Settings)
    source: str = "repo"
    submission: LoadedSubmission | None = None
    live: Any = None               # meshgrade.live.sources.Live when a cluster or the lab is there
    live_reason: str = "no cluster or lab in this run"   # why there is no live source
    live_error: bool = False       # the live source failed: live checks are errors
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def sources(self) -> set[str]:
        return {self.source, "cluster", "traffic"} if self.live is not None else {self.source}

    def pods(self) -> list[PodGroup]:
        if "pods" not in self._cache:
            self._cache["pods"] = index_groups(self.index)
        return self._cache["pods"]

    def pods_in(self, namespace: str) -> list[PodGroup]:
        """Pod groups of one namespace."""
        if "pods-by-ns" not in self._cache:
            by_ns: dict[str, list[PodGroup]] = {}
            for group in self.pods():
                by_ns.setdefault(group.namespace, []).append(group)
            self._cache["pods-by-ns"] = by_ns
        return self._cache["pods-by-ns"].get(namespace, [])

    def infra(self) -> list[KObject]:
        """Final state of everything except the routing objects, which come in stages."""
        if "infra" not in self._cache:
            self._cache["infra"] = [o for o in self.index.latest() if o.kind not in ROUTE_KINDS]
        return self._cache["infra"]

    def mesh(self) -> Mesh:
        """Istio's view of the final infrastructure (hosts, visibility, DestinationRules,
        Gateways, ingress pods), shared by the checks and the routing models."""
        from ..routing.mesh import Mesh

        if "mesh" not in self._cache:
            self._cache["mesh"] = Mesh(self.infra(), ingress_labels=self.settings.ingress_labels)
        mesh: Mesh = self._cache["mesh"]
        return mesh

    def routing_stages(self) -> list[KObject]:
        """Every version of every routing object the student wrote, in load order."""
        return [o for o in self.index.all_stages(*ROUTE_KINDS) if o.origin != "baseline"]

    def model(self, stage: KObject | None = None) -> RoutingModel:
        """Routing model of the final state (``stage`` None) or of one routing object alone
        on top of the final infrastructure."""
        from ..routing import RoutingModel

        key = ("model", id(stage))
        if key not in self._cache:
            if stage is None:
                model = RoutingModel(self.index.latest(), mesh=self.mesh())
            else:
                model = self.bare_model().with_routing([stage])
            self._cache[key] = model
        return self._cache[key]

    def bare_model(self) -> RoutingModel:
        """Routing model of the final infrastructure without any routing object: where
        requests go when no rule applies (spread over each Service's pods)."""
        from ..routing import RoutingModel

        if "infra-model" not in self._cache:
            self._cache["infra-model"] = RoutingModel(self.infra(), mesh=self.mesh())
        model: RoutingModel = self._cache["infra-model"]
        return model
