"""Kubernetes Events for what the lab does (scheduled, pulled, started, killed, scaled)."""

from __future__ import annotations

import threading
import time
from typing import Any

from .apiserver import ObjectStore
from .pods import NODE, now

MAX_EVENTS = 1000
SOURCES = {"kubelet": {"component": "kubelet", "host": NODE},
           "default-scheduler": {"component": "default-scheduler"},
           "deployment-controller": {"component": "deployment-controller"},
           "replicaset-controller": {"component": "replicaset-controller"}}


class Events:
    """Records core/v1 Events in the store, counting repeats, keeping the newest."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, ...], dict[str, Any]] = {}
        self._order: list[tuple[str, ...]] = []
        self._bump = 0  # names stay unique within one nanosecond

    def record(self, obj: dict[str, Any], reason: str, message: str, *,
               source: str = "kubelet", kind: str = "Normal", field_path: str = "") -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        involved = {"kind": obj.get("kind"), "namespace": namespace, "name": meta.get("name"),
                    "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion"),
                    "resourceVersion": meta.get("resourceVersion", "")}
        if field_path:
            involved["fieldPath"] = field_path
        key = (namespace, str(meta.get("uid") or meta.get("name")), reason, message, field_path)
        at = now()
        with self._lock:
            event = self._seen.get(key)
            if event is not None:
                event["count"] += 1
                event["lastTimestamp"] = at
            else:
                name = f"{meta.get('name')}.{time.time_ns() + self._bump:x}"
                self._bump += 1
                event = {"apiVersion": "v1", "kind": "Event",
                         "metadata": {"name": name, "namespace": namespace},
                         "involvedObject": involved, "reason": reason, "message": message,
                         "source": dict(SOURCES.get(source, {"component": source})),
                         "firstTimestamp": at, "lastTimestamp": at, "count": 1, "type": kind,
                         "eventTime": None, "reportingComponent": source,
                         "reportingInstance": NODE if source == "kubelet" else ""}
                self._seen[key] = event
                self._order.append(key)
                while len(self._order) > MAX_EVENTS:
                    gone = self._seen.pop(self._order.pop(0))
                    self.store.delete("", "Event", gone["metadata"]["namespace"],
                                      gone["metadata"]["name"])
            self.store.put(event)

    def forget_namespace(self, namespace: str) -> None:
        with self._lock:
            for key in [k for k in self._order if k[0] == namespace]:
                self._order.remove(key)
                self._seen.pop(key, None)
