"""Opening the live source of a run: start the lab, or connect to a cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import schema
from ..cluster.gateway import discover_gateway_url
from ..grading import interrupt
from ..grading.context import Context
from ..submission import k8snames
from .livesource import LiveKind
from .sources import Live

if TYPE_CHECKING:  # cycle: the session opens the live source through this module
    from ..grading.options import Options
    from ..lab.lab import Lab


def open_live(mode: LiveKind, options: Options, ctx: Context,
              track: Callable[[Lab], None] | None = None) -> tuple[Live | None, str, bool]:
    """(live, reason, infrastructure error). A lab that cannot start is an error when the
    lab was asked for (``--mode lab``); in ``auto`` the run falls back to repo grading with
    the reason. A cluster that cannot be used is always an error. ``track`` gets the lab as
    soon as it exists, so an interrupted run can stop it before it is handed over."""
    if mode == "lab":
        return _open_lab(options, ctx, track)
    return _open_cluster(options, ctx)


def _open_lab(options: Options, ctx: Context, track: Callable[[Lab], None] | None
              ) -> tuple[Live | None, str, bool]:
    # the Kubernetes client and the lab load only when a live source is asked for
    from ..cluster.connect import connect  # start-up: kubernetes
    from ..lab.lab import Lab  # start-up: the lab

    objects, refused = admitted(ctx)
    with interrupt.shielded():  # the lab's folder exists from here: someone must own it
        lab = Lab(bookinfo=ctx.settings.bookinfo_baseline)
        if track is not None:
            track(lab)
    try:
        lab.start()
        lab.apply_objects(objects)
        client = connect(str(lab.kubeconfig), timeout_s=10)
    except BaseException as exc:  # the reason goes into the report; an interruption unwinds
        with interrupt.shielded():
            lab.stop()
        if not isinstance(exc, Exception):
            raise
        if options.mode == "lab":
            return None, f"--mode lab: the lab could not start ({exc}); not gradable", True
        return None, f"the lab could not start ({exc})", False
    return Live("lab", client, lab.gateway_url, [f"lab gateway {lab.gateway_url}"],
                options.namespace, lab=lab, seed=options.seed, refused=refused), "", False


def admitted(ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """The submission's objects a cluster's API server would accept (valid name and schema,
    as ``kubectl apply`` validates strictly), and the refs of those it would reject (MG102 and
    MG103 say why): the lab applies the first, as a cluster would."""
    objects: list[dict[str, Any]] = []
    refused: list[str] = []
    for obj in ctx.index.submitted:
        if not (obj.kind and obj.name):
            continue
        bad_name = k8snames.check(k8snames.name_rule(obj.kind), obj.name, "metadata.name")
        if bad_name is not None or schema.validate(obj.raw):
            refused.append(obj.ref)
        else:
            objects.append(obj.raw)
    return objects, refused


def _open_cluster(options: Options, ctx: Context) -> tuple[Live | None, str, bool]:
    from ..cluster.connect import ClusterError, connect  # start-up: kubernetes

    try:
        client = connect(options.kubeconfig, options.kube_context,
                         allow_exec=options.allow_kubeconfig_exec,
                         trust=options.trust_kubeconfig)
        client.version()
    except ClusterError as exc:
        return None, f"cannot use the cluster: {exc}", True
    url = ""
    tried: list[str] = []
    gateway_error: str | None = None
    try:
        url, tried = discover_gateway_url(client, options.namespace, given=options.gateway_url)
    except ClusterError as exc:
        gateway_error = str(exc)
    return Live("cluster", client, url, tried, options.namespace,
                apply_stages=options.apply_stages, seed=options.seed,
                gateway_error=gateway_error, out_dir=options.out), "", False
