"""MG301-MG309: the cluster's state, read once per run (the lab is read like a cluster)."""

from __future__ import annotations

from typing import Any

from ..grading.context import Context
from ..live.sources import live_of


def cluster_facts(ctx: Context) -> Any:
    from ..cluster.read import gather

    live = live_of(ctx)
    if "facts" not in live.cache:
        live.cache["facts"] = gather(live.client, live.namespace, live.gateway_url or None,
                                      tried=live.gateway_tried)
    return live.cache["facts"]

