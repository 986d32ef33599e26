"""Write helpers: request-body checks and the patch formats (merge, JSON patch, apply)."""

from __future__ import annotations

import copy
import json
import random
import re
import string
from typing import Any

import yaml

from . import protobuf
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
    """A JSON body, or the protobuf one kubectl's typed clients send, as JSON."""
    if body.startswith(protobuf.MAGIC):
        try:
            return protobuf.decode(body)
        except (protobuf.ProtobufError, UnicodeDecodeError, AssertionError) as exc:
            raise st.ApiError(415, "UnsupportedMediaType", str(exc)) from None
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise st.bad_request(f"the request body is not valid JSON: {exc}") from None


def parse_yaml(body: bytes) -> Any:
    try:
        return yaml.safe_load(body.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise st.bad_request(f"the request body is not valid YAML: {exc}") from None


def check_object(res: Resource, obj: object, namespace: str | None, name: str | None,
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


#: Lists of built-in kinds merged item by item (field name -> merge key), as Kubernetes'
#: types declare them (patchStrategy "merge"); a list of ``ports`` merges by ``containerPort``
#: in containers and by ``port`` in Services.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
              "env": "name", "volumes": "name", "volumeMounts": "mountPath",
              "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
              "conditions": "type", "ownerReferences": "uid", "readinessGates": "conditionType",
              "topologySpreadConstraints": "topologyKey"}


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i
                                      for i in items) else "port"
    return MERGE_KEYS.get(field)


def _merge_list(field: str, current: Any, patch: list[Any], order: list[Any] | None) -> Any:
    key = _merge_key(field, patch)
    if key is None or not isinstance(current, list) or not all(isinstance(i, dict)
                                                               for i in patch):
        return [strategic_merge(None, i) for i in patch if not _directive(i, "delete")]
    if any(_directive(i, "replace") for i in patch):
        return [strategic_merge(None, i) for i in patch if not _directive(i, "replace")]
    out = [copy.deepcopy(i) for i in current]
    for item in patch:
        at = next((n for n, have in enumerate(out) if isinstance(have, dict)
                   and key in item and have.get(key) == item.get(key)), None)
        if _directive(item, "delete"):
            if at is not None:
                out.pop(at)
        elif at is None:
            out.append(strategic_merge(None, item))
        else:
            out[at] = strategic_merge(out[at], item)
    if order:
        rank = {json.dumps(o.get(key) if isinstance(o, dict) else o): n
                for n, o in enumerate(order)}
        out.sort(key=lambda i: rank.get(json.dumps(i.get(key) if isinstance(i, dict) else i),
                                        len(rank)))
    return out


def _directive(item: Any, value: str) -> bool:
    return isinstance(item, dict) and item.get("$patch") == value


def strategic_merge(target: Any, patch: Any) -> Any:
    """A strategic merge patch (RFC 7386 plus Kubernetes' list merging by key and the
    ``$patch``, ``$setElementOrder``, ``$retainKeys`` and ``$deleteFromPrimitiveList``
    directives); also the lab's reading of server-side apply."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return strategic_merge(None, {k: v for k, v in patch.items() if k != "$patch"})
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items()
              if k.startswith("$setElementOrder/") and isinstance(v, list)}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/") and isinstance(value, list):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _merge_list(key, out.get(key), value, orders.get(key))
        else:
            merged = strategic_merge(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


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
            patched = json_patch(current, parse_json(body))
        except ValueError as exc:
            raise st.ApiError(422, "Invalid", str(exc)) from None
        if not isinstance(patched, dict):
            raise st.ApiError(422, "Invalid", "the patched object is not an object")
        return patched
    if kind not in (APPLY, MERGE, STRATEGIC):
        raise st.unsupported_media(content_type)
    patch = parse_yaml(body) if kind == APPLY else parse_json(body)
    if not isinstance(patch, dict):
        raise st.bad_request("the patch must be a JSON object")
    merged = merge_patch(current or {}, patch) if kind == MERGE else \
        strategic_merge(current or {}, patch)
    return merged if isinstance(merged, dict) else {}
