"""Opening the live source of a run: start the lab, or connect to a cluster."""

from __future__ import annotations

from typing import Any

from .context import Context
from .live import Live

MAX_LAB_PODS = 200


def open_live(mode: str, options: Any, ctx: Context) -> tuple[Live | None, str, bool]:
    """(live, reason, infrastructure error). In lab mode a failure falls back to repo
    grading (live checks skipped, with the reason); in cluster mode it is an error."""
    if mode == "lab":
        return _open_lab(options, ctx)
    return _open_cluster(options, ctx)


def _open_lab(options: Any, ctx: Context) -> tuple[Live | None, str, bool]:
    from .cluster.connect import ClusterError, connect
    from .lab.lab import Lab

    objects = [o.raw for o in ctx.index.submitted if o.kind and o.name]
    replicas = sum(_replicas(o) for o in objects if o.get("kind") == "Deployment")
    if replicas > MAX_LAB_PODS:
        return None, (f"the lab could not start: the submission asks for {replicas} pods, "
                      f"more than the lab's {MAX_LAB_PODS}; live checks skipped"), False
    lab = Lab(bookinfo=ctx.settings.bookinfo_baseline)
    try:
        lab.start()
        lab.apply_objects(objects)
        client = connect(str(lab.kubeconfig), timeout_s=10)
    except (Exception, ClusterError) as exc:  # the reason goes into the report
        lab.stop()
        return None, f"the lab could not start ({exc}); graded in repo mode, live checks " \
                     "skipped", False
    return Live("lab", client, lab.gateway_url, [f"lab gateway {lab.gateway_url}"],
                options.namespace, lab=lab, seed=options.seed), "", False


def _open_cluster(options: Any, ctx: Context) -> tuple[Live | None, str, bool]:
    from .cluster.connect import ClusterError, connect
    from .cluster.gateway import discover_gateway_url

    try:
        client = connect(options.kubeconfig, options.kube_context,
                         allow_exec=options.allow_kubeconfig_exec)
        client.version()
    except ClusterError as exc:
        return None, f"cluster unreachable: {exc}", True
    url, tried, gateway_error = "", [], None
    try:
        url, tried = discover_gateway_url(client, options.namespace, given=options.gateway_url)
    except ClusterError as exc:
        gateway_error = str(exc)
    return Live("cluster", client, url, tried, options.namespace,
                apply_stages=options.apply_stages, seed=options.seed,
                gateway_error=gateway_error, out_dir=options.out), "", False


def _replicas(obj: dict[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1
