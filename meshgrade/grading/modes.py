"""What each grading mode judges, in words: the console's first lines, and the checks the
lab cannot judge because it provides what they check itself."""

from __future__ import annotations

from typing import Literal

Mode = Literal["repo", "lab", "cluster"]
"""What a run grades: the repository's YAML alone, the lab built from it, or a cluster."""

CLUSTER_FLAGS = "--kubeconfig ~/.kube/config"
# MG301-MG307 judge the install (API, Istio, ingress, injection, Bookinfo, sidecars, Kiali):
# the lab's baseline installs all of it, for every submission
LAB_PROVIDED = frozenset({"MG301", "MG302", "MG303", "MG304", "MG305", "MG306", "MG307"})
LAB_PROVIDED_REASON = ("the lab installed this itself; run against your cluster "
                       f"({CLUSTER_FLAGS}) to grade it")
NEEDS_CLUSTER_REASON = ("repo mode: this checks your cluster's install, which the lab provides "
                        f"itself: point meshgrade at your cluster ({CLUSTER_FLAGS}) to grade it")

_WORDS: dict[Mode, tuple[str, str]] = {
    "repo": ("your repository's YAML, read without running anything",
             "it checks your files, workloads, references and the routing you wrote; it cannot "
             "check a cluster or traffic: use --mode lab for traffic, or point meshgrade at "
             f"your cluster ({CLUSTER_FLAGS}) for both"),
    "lab": ("a local mesh started by meshgrade with your YAML applied",
            "it checks your files, routing and the traffic through its gateway; it cannot check "
            "your cluster's install (Istio, ingress, sidecars, Bookinfo, Kiali), which the lab "
            f"provides itself: grade against your cluster ({CLUSTER_FLAGS}) for those"),
    "cluster": ("your cluster, read through its kubeconfig",
                "it checks your files, the cluster's install and state, and the traffic "
                "through its gateway; the routing stages are applied and sampled only with "
                "--apply-stages (which restores them afterwards)"),
}


def header(mode: Mode) -> list[str]:
    """Two lines: the mode in words, then what it can and cannot check."""
    what, scope = _WORDS.get(mode, (mode, ""))
    lines = [f"Mode: {mode} — {what}."]
    return [*lines, f"  {scope[:1].upper()}{scope[1:]}."] if scope else lines
