"""OpenAPI v3 documents: enough for kubectl's field-validation and patch-type checks.

Schemas are permissive (objects preserving unknown fields); what matters to kubectl is that
each PATCH operation names its GroupVersionKind, lists the `fieldValidation` query parameter
(so kubectl leaves validation to the server) and offers no strategic merge patch (so
`kubectl apply` computes one from its own types for built-in kinds, and falls back to a JSON
merge patch for custom kinds, as with a real CRD)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from .resources import Resource, groups, in_version

MERGE_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/apply-patch+yaml")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def schema_name(res: Resource, version: str) -> str:
    """A component name in the style the apiserver uses (reversed group, version, kind)."""
    if res.custom:
        return ".".join([*reversed(res.group.split(".")), version, res.kind])
    if res.group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{res.kind}"
    return f"io.k8s.api.{res.group or 'core'}.{version}.{res.kind}"


def _param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": "string", "uniqueItems": True}}


_DRY_RUN = _param("dryRun", "When present, indicates that modifications should not be persisted.")
_MANAGER = _param("fieldManager", "fieldManager is a name associated with the actor or entity "
                  "that is making these changes.")
_VALIDATION = _param("fieldValidation", "Ignore, Warn or Strict: how the server handles "
                     "unknown or duplicate fields.")
_FORCE = {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}}


def _operations(res: Resource, version: str) -> dict[str, dict[str, Any]]:
    """Paths and operations for one resource at one version."""
    gvk = {"group": res.group, "version": version, "kind": res.kind}
    ref = {"$ref": f"#/components/schemas/{schema_name(res, version)}"}
    body = {"content": {"application/json": {"schema": ref}, "application/yaml": {"schema": ref}},
            "required": True}
    ok = {"description": "OK", "content": {"application/json": {"schema": ref}}}
    # Strategic merge is not advertised even for built-in kinds (the server takes it): with
    # these permissive schemas kubectl could not compute one, so it uses its compiled-in
    # types instead, as it does when a cluster serves no OpenAPI v3.
    patch_types = MERGE_TYPES
    writes = [_DRY_RUN, _MANAGER, _VALIDATION]

    def op(action: str, params: list[dict[str, Any]], request: dict[str, Any] | None = None,
           code: str = "200") -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": f"{action}{res.kind}", "parameters": params,
                               "responses": {code: ok}, "x-kubernetes-action": action,
                               "x-kubernetes-group-version-kind": gvk}
        if request is not None:
            out["requestBody"] = request
        return out

    base = "/" + _gv_path(res.group, version)
    coll = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else \
        f"{base}/{res.plural}"
    params = [{"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}]
    named = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    patch_body = {"content": {t: {"schema": {"type": "object"}} for t in patch_types},
                  "required": True}
    paths = {
        coll: {"get": op("list", []), "post": op("post", writes, body, "201"),
               "parameters": params if res.namespaced else []},
        f"{coll}/{{name}}": {
            "get": op("get", []), "put": op("put", writes, body),
            "patch": op("patch", [*writes, _FORCE], patch_body), "delete": op("delete", [_DRY_RUN]),
            "parameters": [*(params if res.namespaced else []), named]},
    }
    if res.namespaced:
        paths[f"{base}/{res.plural}"] = {"get": op("list", [])}
    return paths


def _schema(res: Resource, version: str) -> dict[str, Any]:
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "type": "object",
        "description": f"{res.kind} ({res.api_version(version)}); the lab accepts any fields.",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": open_object, "spec": open_object, "status": open_object},
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": [
            {"group": res.group, "version": version, "kind": res.kind}],
    }


@cache
def _document(group: str, version: str) -> bytes | None:
    served = in_version(group, version)
    if not served:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for res in served:
        paths.update(_operations(res, version))
        schemas[schema_name(res, version)] = _schema(res, version)
    doc = {"openapi": "3.0.0",
           "info": {"title": "Kubernetes", "version": "v1.36.0-meshgrade-lab"},
           "paths": paths, "components": {"schemas": schemas}}
    return json.dumps(doc).encode()


def document(group: str, version: str) -> bytes | None:
    """GET /openapi/v3/api/v1 or /openapi/v3/apis/<group>/<version> (JSON bytes)."""
    return _document(group, version)


def index() -> dict[str, Any]:
    """GET /openapi/v3: each group-version and the URL of its document."""
    paths = {}
    for group, versions in groups().items():
        for version in versions:
            doc = _document(group, version) or b""
            digest = hashlib.sha512(doc).hexdigest()[:32].upper()
            rel = _gv_path(group, version)
            paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={digest}"}
    return {"paths": paths}
