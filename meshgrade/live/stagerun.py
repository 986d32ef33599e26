"""Applying a routing stage to the live mesh for the duration of a sample, then restoring
what was there: in the lab always; on a cluster only with ``--apply-stages``.

Before the first write the snapshot goes to a journal file, so that an interrupted run
(Ctrl-C, a crash, a kill) can be undone with ``meshgrade restore JOURNAL``."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..grading import interrupt
from ..submission.objects import KObject
from .livesource import LiveSource

if TYPE_CHECKING:  # the Kubernetes client loads only when a cluster is used
    from ..cluster.reader import ClusterWriter, Manifest

ROUTING = ("VirtualService", "DestinationRule", "Gateway", "HTTPRoute")
SETTLE_TIMEOUT_S = 60.0


def stage_objects(stage: list[KObject], infra: list[KObject], namespace: str
                  ) -> list[dict[str, Any]]:
    """The stage's routing objects plus the submission's DestinationRules (subsets must
    exist before routes name them), each in ``namespace`` unless it names its own."""
    return placed([*[o for o in infra if o.kind == "DestinationRule" and o.origin != "baseline"],
                   *stage], namespace)


def placed(objects: list[KObject], namespace: str) -> list[dict[str, Any]]:
    """Copies of the objects' manifests, each in ``namespace`` unless it names its own."""
    out: list[dict[str, Any]] = []
    for obj in objects:
        raw = copy.deepcopy(obj.raw)
        raw.setdefault("metadata", {})
        raw["metadata"].setdefault("namespace", namespace)
        out.append(raw)
    return out


def journal_path(out_dir: Path, run_id: str) -> Path:
    return out_dir / f"restore-{run_id}.json"


@contextlib.contextmanager
def applied(live: LiveSource, objects: list[Manifest], journal: Path | None,
            removed: list[Manifest] | None = None) -> Iterator[None]:
    """Delete ``removed`` (what the stage replaces), apply ``objects``, yield, and restore
    the routing objects as they were (also when interrupted: a signal during the restore
    waits until it is done)."""
    client = live.client
    snapshot = client.snapshot(ROUTING, live.namespace)
    try:
        with interrupt.doing("stage apply"):
            if journal is not None:
                journal.parent.mkdir(parents=True, exist_ok=True)
                tmp = journal.with_suffix(".tmp")
                tmp.write_text(json.dumps({"namespace": live.namespace, "kinds": list(ROUTING),
                                           "objects": snapshot}, indent=1), "utf-8")
                os.replace(tmp, journal)
            for obj in removed or ():
                client.delete(obj)
            for obj in objects:
                client.apply(obj)
        yield
    finally:
        with interrupt.shielded(), interrupt.doing("stage restore"):
            client.restore(snapshot, live.namespace)
            if journal is not None:
                journal.with_suffix(".tmp").unlink(missing_ok=True)
                journal.unlink(missing_ok=True)


def restore_from_journal(client: ClusterWriter, journal: Path) -> int:
    """``meshgrade restore``: put the journal's snapshot back; returns objects restored."""
    data = json.loads(journal.read_text("utf-8"))
    objects: list[Manifest] = data["objects"]
    client.restore(objects, data["namespace"])
    journal.unlink(missing_ok=True)
    return len(objects)


def settle(live: LiveSource, probe: Callable[[], bool],
           timeout_s: float = SETTLE_TIMEOUT_S) -> float:
    """Wait until the change has reached the proxy. The lab's writes return only once Envoy
    serves them; on a cluster ``probe()`` (two consecutive agreeing batches) is polled."""
    start = time.monotonic()
    lab = live.lab
    if live.kind == "lab" and lab is not None:  # the lab knows when Envoy serves its state
        while not lab.synced() and time.monotonic() - start < timeout_s:
            time.sleep(0.02)
        return time.monotonic() - start
    agreeing = 0
    while time.monotonic() - start < timeout_s:
        agreeing = agreeing + 1 if probe() else 0
        if agreeing >= 2:
            break
        time.sleep(0.5)
    return time.monotonic() - start
