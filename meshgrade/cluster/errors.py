"""The failures of cluster access, apart from the client so that reading and discovery can
name them without importing the Kubernetes client."""

from __future__ import annotations


class ClusterError(Exception):
    """The cluster could not be used; the message says what failed and what was tried."""


class Unreachable(ClusterError):
    """No answer from the API server (connection, TLS or timeout)."""


class Forbidden(ClusterError):
    """The credentials are refused (401) or not allowed (403)."""


class NotFound(ClusterError):
    """The object, or its resource (a CRD that is not served), does not exist."""
