"""Cluster mode: connect to a cluster (or the lab) through the Kubernetes API, read its
objects for the static checks, find the ingress gateway, and judge MG301-MG309.

- ``connect``: kubeconfig / in-cluster config, ``ClusterClient``
- ``errors``: ``ClusterError`` and its kinds (``Unreachable``, ``Forbidden``, ``NotFound``)
- ``reader``: ``ClusterReader`` and ``ClusterWriter``, what the grader calls on a client
- ``read``: ``read_objects``, ``ClusterFacts`` and ``gather``
- ``gateway``: ``discover_gateway_url``
- ``checks``: the MG3xx check functions (``CHECKS``)
- ``doctor``: what the credentials may do, and whether the gateway answers

Importing the package loads nothing: the Kubernetes client loads with ``connect`` only.
"""
