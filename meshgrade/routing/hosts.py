"""Host names: parsing, wildcard matching and match specificity."""

from __future__ import annotations

import ipaddress

CLUSTER_DOMAIN = "cluster.local"


def split_host(host: str) -> tuple[str, int | None]:
    """``"Reviews:9080"`` -> ``("reviews", 9080)``; IPv6 literals in brackets are kept whole."""
    text = (host or "").strip().lower()
    port: int | None = None
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        return addr, port
    if text.count(":") == 1:
        name, _, tail = text.partition(":")
        if tail.isdigit():
            return name.rstrip("."), int(tail)
        return name.rstrip("."), None
    return text.rstrip("."), port


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_matches(pattern: str, host: str) -> bool:
    """Envoy-style domain match: ``*``, ``*.example.com`` (at least one label char) or exact."""
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        suffix = pattern[1:]
        return host.endswith(suffix) and len(host) > len(suffix)
    return pattern == host


def specificity(pattern: str) -> int:
    """Higher is more specific: exact names beat wildcards, longer wildcards beat shorter."""
    if pattern == "*":
        return 0
    if pattern.startswith("*"):
        return len(pattern)
    return 1_000_000 + len(pattern)


def best_match(patterns: list[str], host: str) -> int | None:
    """Specificity of the most specific pattern matching ``host``, or None."""
    best: int | None = None
    for pattern in patterns:
        if host_matches(pattern, host):
            score = specificity(pattern)
            best = score if best is None or score > best else best
    return best


def svc_fqdn(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"
