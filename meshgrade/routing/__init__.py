"""Routing model: which workloads (versions) a request reaches, through the ingress gateway or
inside the mesh, per Istio VirtualService/DestinationRule/Gateway and Gateway API semantics.

Pure Python, no I/O: build a :class:`RoutingModel` from a list of KObjects (one cluster state)
and ask :meth:`RoutingModel.via_gateway` or :meth:`RoutingModel.from_mesh`.
"""

from .mesh import is_http_port
from .model import RoutingModel
from .request import Outcome, Request, Step, Target

__all__ = ["Outcome", "Request", "RoutingModel", "Step", "Target", "is_http_port"]
