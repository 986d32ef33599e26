"""A Kubernetes API server emulation for the lab: HTTPS with client-certificate auth,
discovery, get/list/watch (plain or Table) for the kinds a Bookinfo + Istio cluster shows,
writes for routing objects only, the service proxy and enough OpenAPI for `kubectl apply`."""

from __future__ import annotations

from .resources import REGISTRY, Resource, crd_manifests
from .server import ApiServer
from .status import ApiError
from .store import Expired, ObjectStore, Watch

__all__ = ["REGISTRY", "ApiError", "ApiServer", "Expired", "ObjectStore", "Resource", "Watch",
           "crd_manifests"]
