"""Legacy (unaggregated) discovery documents and /version."""

from __future__ import annotations

from typing import Any

from .resources import Resource, groups, in_version

VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.0-meshgrade-lab",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2026-04-22T00:00:00Z", "goVersion": "go1.26.2", "compiler": "gc",
           "platform": "linux/amd64"}


_PROXY = ("create", "delete", "get", "patch", "update")
#: Subresources beside status: (name, kind, verbs).
SUBRESOURCES: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "Service": (("proxy", "ServiceProxyOptions", _PROXY),),
    "Pod": (("attach", "PodAttachOptions", ("create", "get")),
            ("exec", "PodExecOptions", ("create", "get")), ("log", "Pod", ("get",)),
            ("portforward", "PodPortForwardOptions", ("create", "get")),
            ("proxy", "PodProxyOptions", _PROXY)),
    "Deployment": (("scale", "Scale", ("get", "patch", "update")),),
}


def api_versions(address: str) -> dict[str, Any]:
    """GET /api."""
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group(name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list() -> dict[str, Any]:
    """GET /apis."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, v) for g, v in groups().items() if g]}


def api_group(name: str) -> dict[str, Any] | None:
    """GET /apis/<group>."""
    versions = groups().get(name)
    if not name or versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entries(res: Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"name": res.plural, "singularName": res.singular,
                             "namespaced": res.namespaced, "kind": res.kind,
                             "verbs": list(res.verbs)}
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    out = [entry]
    if res.status:
        verbs = ["get", "patch", "update"] if res.writable else ["get"]
        out.append({"name": f"{res.plural}/status", "singularName": "",
                    "namespaced": res.namespaced, "kind": res.kind, "verbs": verbs})
    for name, kind, allowed in SUBRESOURCES.get(res.kind, ()):
        sub: dict[str, Any] = {"name": f"{res.plural}/{name}", "singularName": "",
                               "namespaced": True, "kind": kind, "verbs": list(allowed)}
        if kind == "Scale":
            sub.update({"group": "autoscaling", "version": "v1"})
        out.append(sub)
    return out


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """GET /api/v1 or /apis/<group>/<version>."""
    served = in_version(group, version)
    if not served:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [e for r in served for e in _entries(r)]}
