"""MG111-MG114: Deployments, Services, version labels and port protocols."""

from __future__ import annotations

import difflib
import re
from typing import Any

from ..grading.context import Context
from ..grading.results import Finding
from ..routing import protocols
from ..submission.objects import KObject
from ..submission.podgroups import PodGroup
from .common import as_dict, as_list, finding
from .hosts import resolve_service

HTTP_NAME = re.compile(r"^(http|http2|https?-.*|http2-.*|grpc.*)$")
HTTP_APP_PROTOCOLS = {"http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c"}
COMMON_HTTP_PORTS = (80, 3000, 5000, 8000, 8080, 8081, 8888, 9080)  # a port may be a list


def own_objects(ctx: Context, *kinds: str) -> list[KObject]:
    return [o for o in ctx.index.latest(*kinds) if o.origin != "baseline"]


def closest_app(groups: list[PodGroup], svc: KObject, selector: dict[str, str]) -> str:
    apps = sorted({g.label_map["app"] for g in groups
                   if g.namespace == svc.namespace and "app" in g.label_map})
    close = difflib.get_close_matches(selector.get("app", svc.name), apps, n=1, cutoff=0.5)
    return close[0] if close else (apps[0] if apps else svc.name)


def detected(svc: KObject, port: dict[str, Any]) -> bool:
    """Whether Istio detects the protocol of a port that names none (as istioctl's
    PortNameIsNotUnderNamingConvention says; MG116 judges ExternalName Services)."""
    return protocols.of_service_port(port) is None and svc.spec.get("type") != "ExternalName" \
        and "istio" not in svc.labels and svc.labels.get("release") != "istio"


def is_other_protocol(name: str) -> bool:
    return name.split("-")[0] in {"tcp", "tls", "udp", "mongo", "mysql", "redis", "https",
                                  "grpc", "metrics", "status"}


def http_routed_services(ctx: Context) -> set[tuple[str, str, str]]:
    out = set()
    for vs in ctx.index.all_stages("VirtualService"):
        for rule in as_list(vs.spec.get("http")):
            for r in as_list(as_dict(rule).get("route")):
                host = as_dict(as_dict(r).get("destination")).get("host")
                svc = resolve_service(ctx, host, vs.namespace) if isinstance(host, str) else None
                if svc is not None:
                    out.add(svc.key)
    return out


def not_http(svc: KObject, port: dict[str, Any], path: str, proto: str) -> Finding:
    """MG114's error: a VirtualService routes HTTP to a port Istio takes as another protocol,
    by its ``appProtocol``, its name or (unnamed) its well-known number."""
    why = "a VirtualService routes HTTP to this Service"
    number = port.get("port")
    app = port.get("appProtocol")
    if isinstance(app, str) and app:
        return finding("MG114", "not-http-app", svc, f"{path}.appProtocol", port=number,
                       app=app, proto=proto, why=why)
    name = port.get("name")
    if isinstance(name, str) and name:
        return finding("MG114", "not-http", svc, f"{path}.name", port=number, name=name,
                       proto=proto, why=why)
    return finding("MG114", "not-http-port", svc, f"{path}.port", port=number, proto=proto,
                   why=why)
