"""Resolving the host names that VirtualServices, DestinationRules and Gateways use."""

from __future__ import annotations

from ..context import Context
from ..objects import KObject
from .common import as_list

CLUSTER_SUFFIX = "svc.cluster.local"


def split_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(name, namespace) of a Service host (short, ``name.ns``, ``name.ns.svc[.cluster.local]``),
    or None for a host that is not a cluster Service name."""
    h = host.strip().lower().rstrip(".")
    parts = h.split(".")
    if len(parts) == 1:
        return (parts[0], namespace) if parts[0] and parts[0] != "*" else None
    if len(parts) == 2:
        return parts[0], parts[1]
    if parts[2] == "svc" and (len(parts) == 3 or ".".join(parts[3:]) == "cluster.local"):
        return parts[0], parts[1]
    return None


def fqdn(host: str, namespace: str) -> str:
    split = split_host(host, namespace)
    return f"{split[0]}.{split[1]}.{CLUSTER_SUFFIX}" if split else host.lower()


def resolve_service(ctx: Context, host: str, namespace: str) -> KObject | None:
    """The Service a host names, seen from ``namespace``."""
    split = split_host(host, namespace)
    return ctx.index.get("Service", split[1], split[0]) if split else None


def resolve_entry(ctx: Context, host: str) -> KObject | None:
    """A ServiceEntry that declares ``host`` (exact or ``*.suffix``)."""
    h = host.lower()
    for se in ctx.index.latest("ServiceEntry"):
        for declared in as_list(se.spec.get("hosts")):
            d = str(declared).lower()
            if d == h or (d.startswith("*.") and h.endswith(d[1:])) or d == "*":
                return se
    return None


def services_named(ctx: Context, name: str) -> list[KObject]:
    return [s for s in ctx.index.latest("Service") if s.name == name]
