"""One resource request as the verb functions see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from . import status as st
from .resources import Resource

if TYPE_CHECKING:
    from .server import ApiServer

Obj = dict[str, Any]


class Headers(Protocol):
    """A request's headers, read by name (the handler's ``email.message.Message``)."""

    def get(self, name: str, default: str, /) -> str: ...

#: Field selector labels the API accepts, beyond metadata.name and metadata.namespace.
FIELD_LABELS: dict[tuple[str, str], frozenset[str]] = {
    ("", "Pod"): frozenset({"status.phase", "spec.nodeName", "spec.restartPolicy",
                            "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                            "status.podIP", "status.nominatedNodeName"}),
    ("", "Namespace"): frozenset({"status.phase"}),
    ("apps", "ReplicaSet"): frozenset({"status.replicas"}),
    ("", "Service"): frozenset({"spec.clusterIP", "spec.type"}),
    ("", "Event"): frozenset({f"involvedObject.{f}" for f in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")} |
        {"reason", "reportingComponent", "source", "type"}),
}


def table_version(accept: str) -> str | None:
    """The meta.k8s.io Table version the Accept header prefers, None for plain objects."""
    for part in accept.split(","):
        media, *raw = (p.strip() for p in part.split(";"))
        params = dict(p.split("=", 1) for p in raw if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" \
                and params.get("v") in ("v1", "v1beta1"):
            return params["v"]
        if media in ("application/json", "*/*", "application/*", "") and "as" not in params:
            return None
    return None


@dataclass
class Call:
    """The resolved target and inputs of one resource request."""

    api: ApiServer
    res: Resource
    version: str
    namespace: str | None
    name: str | None
    query: dict[str, str]
    headers: Headers
    body: bytes

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.res.group, self.res.kind, self.namespace or "", self.name or "")

    def out(self, obj: Obj) -> Obj:
        """The object as served at the requested version."""
        return {**obj, "apiVersion": self.res.api_version(self.version), "kind": self.res.kind}

    @property
    def label_selector(self) -> str:
        return self.query.get("labelSelector", "")

    @property
    def field_selector(self) -> str:
        """The fieldSelector, after checking each field is one the kind supports."""
        text = self.query.get("fieldSelector", "")
        allowed = {"metadata.name", "metadata.namespace"} | \
            FIELD_LABELS.get((self.res.group, self.res.kind), frozenset())
        for term in text.split(","):
            field = term.split("!=")[0].split("=")[0].strip()
            if field and field not in allowed:
                raise st.bad_request(f'field label not supported: {field}')
        return text

    @property
    def table(self) -> str | None:
        return table_version(self.headers.get("Accept", ""))

    def flag(self, name: str) -> bool:
        """A boolean query parameter (true/1, any case)."""
        return self.query.get(name, "").lower() in ("1", "true")

    @property
    def dry_run(self) -> bool:
        return self.query.get("dryRun") == "All"

    def crd(self) -> Obj | None:
        """The stored CRD of a custom kind, if the lab loaded one."""
        if not self.res.custom:
            return None
        return self.api.store.get("apiextensions.k8s.io", "CustomResourceDefinition", "",
                                  f"{self.res.plural}.{self.res.group}")
