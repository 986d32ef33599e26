"""Object index: by kind, namespace, name and labels; successive stages of one object."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from .objects import KObject, selects


class ObjectIndex:
    """All objects of a source, plus a baseline the submission's own objects override.

    Objects with the same kind, namespace and name are *stages* of one object: applying a
    later one replaces the earlier one. ``latest`` is the state after applying everything.
    """

    def __init__(self, objects: Iterable[KObject], baseline: Iterable[KObject] = ()) -> None:
        own = [o for o in objects if o.kind and o.name]
        own_keys = {o.key for o in own}
        base = [o for o in baseline if o.key not in own_keys]
        self.objects: list[KObject] = base + own
        self._stages: dict[tuple[str, str, str], list[KObject]] = defaultdict(list)
        for obj in self.objects:
            self._stages[obj.key].append(obj)

    @property
    def submitted(self) -> list[KObject]:
        """Objects that came from the submission itself (or the cluster), not the baseline."""
        return [o for o in self.objects if o.origin != "baseline"]

    def stages(self, kind: str, namespace: str, name: str) -> list[KObject]:
        return list(self._stages.get((kind, namespace, name), ()))

    def all_stages(self, *kinds: str) -> list[KObject]:
        """Every version of every object of these kinds, in load order."""
        return [o for o in self.objects if o.kind_key in kinds]

    def latest(self, *kinds: str) -> list[KObject]:
        """The final state: the last stage of each object of these kinds."""
        return [v[-1] for k, v in self._stages.items() if not kinds or k[0] in kinds]

    def get(self, kind: str, namespace: str, name: str) -> KObject | None:
        found = self._stages.get((kind, namespace, name))
        return found[-1] if found else None

    def selected(self, kind: str, selector: Mapping[str, str], namespace: str | None = None
                 ) -> list[KObject]:
        """Latest objects of ``kind`` whose labels match ``selector``."""
        return [o for o in self.latest(kind)
                if (namespace is None or o.namespace == namespace) and selects(selector, o.labels)]

    def namespaces(self) -> set[str]:
        return {o.namespace for o in self.objects}
