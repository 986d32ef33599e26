"""A thread-safe in-memory object store with resource versions and watch events."""

from __future__ import annotations

import builtins
import copy
import datetime
import queue
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from .selection import Matcher, object_matcher

Key = tuple[str, str, str, str]  # (group, kind, namespace, name)

#: How many past events a watch can resume from.
HISTORY = 4096
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class Expired(Exception):
    """The requested resource version is older than the kept event history (410 Gone)."""


def group_of(api_version: str) -> str:
    """The API group of an apiVersion ('' for core v1)."""
    return api_version.rpartition("/")[0]


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind", "")),
            str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def now_timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    """What a generation bump looks at: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion")}


@dataclass(frozen=True)
class _Event:
    rv: int
    key: Key
    old: dict[str, Any] | None
    new: dict[str, Any] | None


_CLOSED = object()


class Watch:
    """One watcher: a queue of {type, object} events; iterate it or call `next`."""

    def __init__(self, store: ObjectStore, group: str, kind: str, namespace: str | None,
                 match: Matcher) -> None:
        self._store, self.group, self.kind, self.namespace = store, group, kind, namespace
        self._match = match
        self._queue: queue.Queue[Any] = queue.Queue()
        self.closed = False

    def _wants(self, key: Key) -> bool:
        return key[:2] == (self.group, self.kind) and self.namespace in (None, key[2])

    def _offer(self, event: _Event) -> None:
        """Queue an event as this watcher sees it (called with the store lock held)."""
        if not self._wants(event.key):
            return
        was = event.old is not None and self._match(event.old)
        now = event.new is not None and self._match(event.new)
        if was and now:
            kind, obj = "MODIFIED", event.new
        elif now:
            kind, obj = "ADDED", event.new
        elif was:
            kind, obj = "DELETED", event.new or event.old
        else:
            return
        self._queue.put({"type": kind, "object": obj})

    def _push(self, item: Any) -> None:
        self._queue.put(item)

    def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event (a private copy), None on timeout; raises StopIteration once closed."""
        if self.closed and self._queue.empty():
            raise StopIteration
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _CLOSED:
            self.closed = True
            raise StopIteration
        return {"type": item["type"], "object": copy.deepcopy(item["object"])}

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> dict[str, Any]:
        while True:
            event = self.next(timeout=None)
            if event is not None:
                return event

    def bookmark(self) -> None:
        """Queue a BOOKMARK at the store's current version, after every event before it."""
        with self._store._lock:
            meta = {"resourceVersion": str(self._store.resource_version)}
            self._queue.put({"type": "BOOKMARK", "object": {"metadata": meta}})

    def close(self) -> None:
        """Stop the watch; a blocked `next` returns promptly."""
        self._store._unsubscribe(self)
        self._queue.put(_CLOSED)


class ObjectStore:
    """Kubernetes objects keyed by (group, kind, namespace, name), with one global version."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._history: deque[_Event] = deque()
        self._compacted = 0
        self._watches: set[Watch] = set()
        self.resource_version = 0

    # -- writes -------------------------------------------------------------------------
    def prepare(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as `put` would store it, without storing it (used for dry runs)."""
        with self._lock:
            return self._prepared(obj, self.resource_version + 1)

    def _prepared(self, obj: dict[str, Any], rv: int) -> dict[str, Any]:
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        old = self._objects.get(key_of(new))
        if old is not None:
            old_meta = old["metadata"]
            meta["uid"] = old_meta["uid"]
            meta["creationTimestamp"] = old_meta["creationTimestamp"]
            if meta.get("generation") is None:  # a given generation is kept (lab-controlled)
                changed = _content(old) != _content(new)
                meta["generation"] = int(old_meta.get("generation", 1)) + (1 if changed else 0)
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_timestamp())
            meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(rv)
        return new

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object; returns (a copy of) what was stored.

        Sets uid and creationTimestamp (kept on replace unless given), a new resourceVersion
        and, unless the object carries one, generation: 1, then +1 when anything outside
        metadata and status changes."""
        if not (obj.get("metadata") or {}).get("name"):
            raise ValueError("object has no metadata.name")
        with self._lock:
            rv = self.resource_version + 1
            new = self._prepared(obj, rv)
            key = key_of(new)
            old = self._objects.get(key)
            self.resource_version = rv
            self._objects[key] = new
            self._emit(_Event(rv, key, old, new))
            return copy.deepcopy(new)

    def delete(self, group: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Remove an object; returns it (with a new resourceVersion), None if absent."""
        with self._lock:
            key = (group, kind, namespace or "", name)
            old = self._objects.pop(key, None)
            if old is None:
                return None
            self.resource_version += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self.resource_version)
            self._emit(_Event(self.resource_version, key, gone, None))
            return copy.deepcopy(gone)

    def _emit(self, event: _Event) -> None:
        self._history.append(event)
        while len(self._history) > HISTORY:
            self._compacted = self._history.popleft().rv
        for watch in list(self._watches):
            watch._offer(event)

    # -- reads --------------------------------------------------------------------------
    def get(self, group: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects.get((group, kind, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, group: str, kind: str, namespace: str | None = None, label_selector: str = "",
             field_selector: str = "") -> list[dict[str, Any]]:
        """Matching objects sorted by namespace and name; ValueError on a bad selector."""
        return self.snapshot(group, kind, namespace, label_selector, field_selector)[0]

    def snapshot(self, group: str, kind: str, namespace: str | None = None,
                 label_selector: str = "", field_selector: str = ""
                 ) -> tuple[builtins.list[dict[str, Any]], int]:
        """Like `list`, plus the resource version the list is consistent with."""
        match = object_matcher(label_selector, field_selector)
        with self._lock:
            items = [copy.deepcopy(o) for k, o in sorted(self._objects.items())
                     if k[:2] == (group, kind) and namespace in (None, k[2]) and match(o)]
            return items, self.resource_version

    def kinds(self) -> set[tuple[str, str]]:
        """(group, kind) pairs that have at least one object."""
        with self._lock:
            return {k[:2] for k in self._objects}

    # -- watch --------------------------------------------------------------------------
    def watch(self, group: str, kind: str, namespace: str | None, resource_version: str | int,
              label_selector: str = "", field_selector: str = "",
              send_initial_events: bool = False) -> Watch:
        """Start a watch. An empty or "0" resource version (or `send_initial_events`) first
        replays the current objects as ADDED; a number resumes after that version (Expired if
        it is too old). `send_initial_events` ends the replay with a BOOKMARK annotated
        k8s.io/initial-events-end."""
        match = object_matcher(label_selector, field_selector)
        rv_text = str(resource_version or "")
        with self._lock:
            watch = Watch(self, group, kind, namespace, match)
            if rv_text in ("", "0") or send_initial_events:
                for key, obj in sorted(self._objects.items()):
                    if watch._wants(key) and match(obj):
                        watch._push({"type": "ADDED", "object": obj})
                if send_initial_events:
                    annotations = {INITIAL_EVENTS_END: "true"}
                    meta = {"resourceVersion": str(self.resource_version),
                            "annotations": annotations}
                    watch._push({"type": "BOOKMARK", "object": {"metadata": meta}})
            else:
                try:
                    since = int(rv_text)
                except ValueError:
                    raise ValueError(f"invalid resourceVersion {rv_text!r}") from None
                if since < self._compacted:
                    raise Expired(f"too old resource version: {since} ({self._compacted + 1})")
                for event in self._history:
                    if event.rv > since:
                        watch._offer(event)
            self._watches.add(watch)
            return watch

    def _unsubscribe(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)
