"""Cluster mode: connect to a cluster (or the lab) through the Kubernetes API, read its
objects for the static checks, find the ingress gateway, and judge MG301-MG309.

- ``connect``: kubeconfig / in-cluster config, ``ClusterClient``, ``ClusterError``
- ``read``: ``read_objects``, ``ClusterFacts`` and ``gather``
- ``gateway``: ``discover_gateway_url``
- ``checks``: the MG3xx check functions (``CHECKS``)
- ``doctor``: what the credentials may do, and whether the gateway answers
"""

from __future__ import annotations

from .connect import ClusterClient, ClusterError, Forbidden, NotFound, Unreachable, connect
from .gateway import discover_gateway_url
from .read import ClusterFacts, gather, read_objects

__all__ = ["ClusterClient", "ClusterError", "ClusterFacts", "Forbidden", "NotFound",
           "Unreachable", "connect", "discover_gateway_url", "gather", "read_objects"]
