"""What the grader calls on a cluster client, as Protocols: ``ClusterClient`` (a real cluster,
or the lab's API server) has them, and so do the tests' stand-ins."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

Manifest = dict[str, Any]
"""An object as the API returns it: plain JSON data."""


class ClusterReader(Protocol):
    """The reads of the cluster checks, of reading objects and of gateway discovery."""

    @property
    def host(self) -> str: ...

    def version(self) -> Manifest:
        """The API server's /version answer."""
        ...

    def served_version(self, kind: str) -> str | None:
        """The version of a kind the cluster serves; None when it serves none."""
        ...

    def list(self, kind: str, namespace: str | None = None) -> list[Manifest]:
        """Objects of a kind key in a namespace (None: all); [] if the kind is not served."""
        ...

    def get(self, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        """One object; None when it or its kind does not exist."""
        ...

    def proxy_get(self, namespace: str, service: str, port: str | int, path: str,
                  params: dict[str, str] | None = None) -> tuple[int, str]:
        """GET through the API server's service proxy: (status, body)."""
        ...


class ClusterWriter(ClusterReader, Protocol):
    """The reads, plus the writes of routing objects that applying a stage makes."""

    def apply(self, obj: Manifest, namespace: str | None = None) -> Manifest: ...

    def delete(self, obj: Manifest, namespace: str | None = None) -> bool: ...

    def snapshot(self, kinds: Iterable[str], namespace: str) -> list[Manifest]: ...

    def restore(self, snapshot: list[Manifest], namespace: str,
                kinds: Iterable[str] | None = None) -> list[str]: ...
