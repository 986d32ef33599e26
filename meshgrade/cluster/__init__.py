"""Cluster mode: connect to a cluster (or the lab) through the Kubernetes API, read its
objects for the static checks, find the ingress gateway, and judge MG301-MG309.

- ``connect``: kubeconfig / in-cluster config, ``ClusterClient``
- ``errors``: ``ClusterError`` and its kinds (``Unreachable``, ``Forbidden``, ``NotFound``)
- ``reader``: ``ClusterReader`` and ``ClusterWriter``, what the grader calls on a client
- ``read``: ``read_objects``, ``ClusterFacts`` and ``gather``
- ``gateway``: ``discover_gateway_url``
- ``checks``: the MG3xx check functions (``CHECKS``)
- ``doctor``: what the credentials may do, and whether the gateway answers
"""

from __future__ import annotations

from .connect import ClusterClient, connect
from .errors import ClusterError, Forbidden, NotFound, Unreachable
from .gateway import discover_gateway_url
from .read import ClusterFacts, gather, read_objects
from .reader import ClusterReader, ClusterWriter, Manifest

__all__ = ["ClusterClient", "ClusterError", "ClusterFacts", "ClusterReader", "ClusterWriter",
           "Forbidden", "Manifest", "NotFound", "Unreachable", "connect", "discover_gateway_url",
           "gather", "read_objects"]
