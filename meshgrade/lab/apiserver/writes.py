"""Write helpers: request-body checks and the patch formats (merge, JSON patch, apply)."""

from __future__ import annotations

import copy
import json
import random
import re
import string
from typing import Any

import yaml

from . import status as st
from .resources import Resource
from .store import group_of

Obj = dict[str, Any]
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                 "deletionTimestamp", "selfLink")
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise st.bad_request(f"the request body is not valid JSON: {exc}") from None


def parse_yaml(body: bytes) -> Any:
    try:
        return yaml.safe_load(body.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise st.bad_request(f"the request body is not valid YAML: {exc}") from None


def check_object(res: Resource, obj: Any, namespace: str | None, name: str | None,
                 creating: bool) -> Obj:
    """A copy of a request body made ready to store, or an ApiError (400 or 422)."""
    if not isinstance(obj, dict):
        raise st.bad_request("the request body must be a JSON object")
    obj = copy.deepcopy(obj)
    api_version = obj.setdefault("apiVersion", res.api_version())
    if not isinstance(api_version, str) or group_of(api_version) != res.group or \
            api_version.rpartition("/")[2] not in res.versions:
        raise st.bad_request(f"the API version in the data ({api_version}) does not match the "
                             f"expected API version ({res.api_version()})")
    if obj.setdefault("kind", res.kind) != res.kind:
        raise st.bad_request(f"the kind in the data ({obj['kind']}) does not match the expected "
                             f"kind ({res.kind})")
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise st.bad_request("metadata must be an object")
    if res.namespaced:
        if meta.get("namespace") not in (None, "", namespace):
            raise st.bad_request("the namespace of the provided object does not match the "
                                 "namespace sent on the request")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if creating:
        for field in SERVER_FIELDS:
            meta.pop(field, None)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
    if name is not None and meta.get("name") not in (None, name):
        raise st.bad_request(f"the name of the object ({meta.get('name')}) does not match the "
                             f"name on the URL ({name})")
    if name is not None:
        meta["name"] = name
    _validate(res, obj)
    return obj


def _validate(res: Resource, obj: Obj) -> None:
    meta = obj["metadata"]
    name = meta.get("name")
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif not isinstance(name, str) or len(name) > 253 or not _NAME.match(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 '
                       "subdomain must consist of lower case alphanumeric characters, '-' or "
                       "'.', and must start and end with an alphanumeric character"))
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and (not isinstance(value, dict) or
                                  not all(isinstance(v, str) for v in value.values())):
            causes.append((f"metadata.{field}", "Invalid value: must be a map of strings"))
    if "spec" in obj and not isinstance(obj["spec"], dict):
        causes.append(("spec", f"Invalid value: {json.dumps(obj['spec'])}: spec must be an "
                       "object"))
    if causes:
        raise st.invalid(res, str(name or ""), causes)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strip_directives(patch: Any) -> Any:
    """A strategic merge patch without its $-directives, to be applied as a merge patch."""
    if isinstance(patch, dict):
        return {k: strip_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [strip_directives(v) for v in patch]
    return patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur, parts[-1]


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for part in _pointer(path):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, _pointer(path))
    return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent):
            raise IndexError(f"index {index} out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise TypeError(f"cannot add to {path!r}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch; raises ValueError on a bad or failing operation."""
    if not isinstance(ops, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    try:
        for op in ops:
            kind, path = op["op"], op["path"]
            if kind == "add":
                doc = _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, path)
            elif kind == "replace":
                _get(doc, path)
                if not _pointer(path):
                    doc = copy.deepcopy(op["value"])
                else:
                    parent, last = _parent(doc, _pointer(path))
                    parent[int(last) if isinstance(parent, list) else last] = \
                        copy.deepcopy(op["value"])
            elif kind in ("move", "copy"):
                value = copy.deepcopy(_get(doc, op["from"]))
                if kind == "move":
                    _remove(doc, op["from"])
                doc = _add(doc, path, value)
            elif kind == "test":
                if _get(doc, path) != op.get("value"):
                    raise ValueError(f"test operation failed at {path!r}")
            else:
                raise ValueError(f"unknown JSON patch operation {kind!r}")
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"JSON patch could not be applied: {exc!r}") from None
    return doc


def apply_patch(content_type: str, current: Obj | None, body: bytes) -> Obj:
    """The object after a PATCH of the given media type (current None: apply creates)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == JSON_PATCH:
        try:
            return json_patch(current, parse_json(body))
        except ValueError as exc:
            raise st.ApiError(422, "Invalid", str(exc)) from None
    if kind == APPLY:
        patch = parse_yaml(body)
    elif kind in (MERGE, STRATEGIC):
        patch = parse_json(body)
        patch = strip_directives(patch) if kind == STRATEGIC else patch
    else:
        raise st.unsupported_media(content_type)
    if not isinstance(patch, dict):
        raise st.bad_request("the patch must be a JSON object")
    return merge_patch(current or {}, patch)
