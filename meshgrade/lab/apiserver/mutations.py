"""The write verbs: create, update, patch, delete, deletecollection, and the scale
subresource.

Writes are serialised by the server's write lock. Each object written first passes the
server's `admit(verb, old, new)` (mutating admission: defaults, sidecar injection); each
write that changes the store calls `on_write(verb, old, new)` before the response goes out,
and is undone if that raises."""

from __future__ import annotations

from typing import Any

from . import status as st
from .call import Call, Obj
from .store import key_of
from .writes import APPLY, SERVER_FIELDS, STRATEGIC, apply_patch, check_object, parse_json

SCALE = {"kind": "Scale", "apiVersion": "autoscaling/v1"}


def _comparable(obj: Obj) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    return {**{k: v for k, v in obj.items() if k != "apiVersion"}, "metadata": meta}


def _keep_status(call: Call, obj: Obj, old: Obj | None) -> None:
    """The main resource cannot change status when the kind has a status subresource."""
    if not call.res.status:
        return
    obj.pop("status", None)
    if old is not None and "status" in old:
        obj["status"] = old["status"]


def _commit(call: Call, verb: str, old: Obj | None, obj: Obj | None) -> Obj | None:
    """Store (or remove) an object and tell the lab; undo the change if the lab fails."""
    store, hook = call.api.store, call.api.on_write
    if obj is None:
        new = None
        store.delete(*key_of(old or {}))
    else:
        new = store.put(obj)
    if hook is None:
        return new
    try:
        hook(verb, old, new)
    except Exception as exc:
        if old is None and new is not None:
            store.delete(*key_of(new))
        elif old is not None:
            store.put(old)
        raise st.internal(f"the lab could not apply the {verb} of {call.res.qualified} "
                          f"{(old or new or {}).get('metadata', {}).get('name')!r}: {exc}") from exc
    return new


def _admit(call: Call, verb: str, old: Obj | None, obj: Obj) -> Obj:
    """The object after the server's admission (the namespace must exist for a create)."""
    api = call.api
    if old is None and api.writes == "all" and call.namespace and \
            api.store.get("", "Namespace", "", call.namespace) is None:
        raise st.namespace_missing(call.namespace)
    return api.admit(verb, old, obj) if api.admit is not None else obj


def create(call: Call) -> tuple[int, Obj]:
    obj = check_object(call.res, parse_json(call.body), call.namespace, None, creating=True)
    _keep_status(call, obj, None)
    with call.api.write_lock:
        name = obj["metadata"]["name"]
        if call.api.store.get(call.res.group, call.res.kind, call.namespace or "", name):
            raise st.already_exists(call.res, name)
        obj = _admit(call, "create", None, obj)
        if call.dry_run:
            return 201, call.out(call.api.store.prepare(obj))
        return 201, call.out(_commit(call, "create", None, obj) or obj)


def _precondition(call: Call, obj: Obj, old: Obj) -> None:
    wanted = (obj.get("metadata") or {}).get("resourceVersion")
    if wanted and str(wanted) != old["metadata"]["resourceVersion"]:
        raise st.conflict(call.res, old["metadata"]["name"])


def _write(call: Call, verb: str, old: Obj | None, obj: Obj) -> tuple[int, Obj]:
    """Finish an update or patch: no-ops and dry runs change nothing."""
    _keep_status(call, obj, old)
    obj["metadata"].pop("generation", None)  # the server computes it
    obj = _admit(call, verb, old, obj)
    if old is not None and _comparable(old) == _comparable(obj):
        return 200, call.out(old)
    code = 201 if old is None else 200
    if call.dry_run:
        return code, call.out(call.api.store.prepare(obj))
    return code, call.out(_commit(call, verb, old, obj) or obj)


def update(call: Call) -> tuple[int, Obj]:
    assert call.name is not None
    obj = check_object(call.res, parse_json(call.body), call.namespace, call.name, creating=False)
    with call.api.write_lock:
        old = call.api.store.get(*call.key)
        if old is None:
            raise st.not_found(call.res, call.name)
        _precondition(call, obj, old)
        return _write(call, "update", old, obj)


def patch(call: Call) -> tuple[int, Obj]:
    """merge, JSON and strategic (as merge) patches; server-side apply (as merge) may create."""
    assert call.name is not None
    content_type = call.headers.get("Content-Type", "")
    if call.res.custom and content_type.startswith(STRATEGIC):
        raise st.unsupported_media(content_type)
    with call.api.write_lock:
        old = call.api.store.get(*call.key)
        if old is None and not content_type.startswith(APPLY):
            raise st.not_found(call.res, call.name)
        merged = apply_patch(content_type, call.out(old) if old else None, call.body)
        if old is not None:
            _precondition(call, merged, old)
        obj = check_object(call.res, merged, call.namespace, call.name, creating=old is None)
        return _write(call, "patch", old, obj)


def _delete_options(call: Call) -> bool:
    """Whether the request (query or DeleteOptions body) asks for a dry run."""
    if call.dry_run:
        return True
    body: Any = parse_json(call.body) if call.body.strip() else None
    return isinstance(body, dict) and "All" in (body.get("dryRun") or [])


def delete(call: Call) -> tuple[int, Obj]:
    assert call.name is not None
    dry = _delete_options(call)
    with call.api.write_lock:
        old = call.api.store.get(*call.key)
        if old is None:
            raise st.not_found(call.res, call.name)
        if not dry:
            _commit(call, "delete", old, None)
        return 200, call.out(old)


def delete_collection(call: Call) -> tuple[int, Obj]:
    dry = _delete_options(call)
    with call.api.write_lock:
        try:
            items = call.api.store.list(call.res.group, call.res.kind, call.namespace,
                                        call.label_selector, call.field_selector)
        except ValueError as exc:
            raise st.bad_request(str(exc)) from None
        if not dry:
            for old in items:
                _commit(call, "delete", old, None)
    return 200, {"kind": f"{call.res.kind}List", "apiVersion": call.res.api_version(call.version),
                 "metadata": {"resourceVersion": str(call.api.store.resource_version)},
                 "items": [call.out(i) for i in items]}


def _scale_of(call: Call, obj: Obj) -> Obj:
    meta = obj["metadata"]
    status = obj.get("status") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(
        ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items()))
    return {**SCALE, "metadata": {k: meta[k] for k in ("name", "namespace", "uid",
                                                       "resourceVersion", "creationTimestamp")
                                  if k in meta},
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
            "status": {"replicas": int(status.get("replicas", 0)), "selector": selector}}


def scale(call: Call, method: str) -> tuple[int, Obj]:
    """GET, PUT or PATCH of a Deployment's scale subresource (an autoscaling/v1 Scale)."""
    assert call.name is not None
    with call.api.write_lock:
        old = call.api.store.get(*call.key)
        if old is None:
            raise st.not_found(call.res, call.name)
        current = _scale_of(call, old)
        if method == "GET":
            return 200, current
        if method == "PUT":
            wanted = parse_json(call.body)
        else:
            wanted = apply_patch(call.headers.get("Content-Type", ""), current, call.body)
        replicas = (wanted.get("spec") or {}).get("replicas") if isinstance(wanted, dict) \
            else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise st.invalid(call.res, call.name, [("spec.replicas", "Invalid value: must be "
                                                   "a non-negative integer")])
        obj = call.out(old)
        obj["spec"] = {**(obj.get("spec") or {}), "replicas": replicas}
        _write(call, "update", old, obj)
        new = call.api.store.get(*call.key) or obj
        return 200, _scale_of(call, new)
