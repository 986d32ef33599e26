"""The read verbs: get and list (plain or as a Table)."""

from __future__ import annotations

import base64
import json
from typing import Any

from . import status as st
from .call import Call, Obj
from .tables import to_table


def _table(call: Call, objects: list[Obj], list_meta: dict[str, Any] | None = None) -> Obj:
    return to_table(call.res, call.version, objects, crd=call.crd(),
                    include_object=call.query.get("includeObject", "Metadata"),
                    table_version=call.table or "v1", list_meta=list_meta)


def get(call: Call) -> tuple[int, Obj]:
    assert call.name is not None
    obj = call.api.store.get(*call.key)
    if obj is None:
        raise st.not_found(call.res, call.name)
    obj = call.out(obj)
    return 200, (_table(call, [obj]) if call.table else obj)


def _token(namespace: str, name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([namespace, name]).encode()).decode()


def _untoken(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(namespace), str(name)
    except (ValueError, TypeError):
        raise st.bad_request(f"invalid continue token {token!r}") from None


def _where(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def list_(call: Call) -> tuple[int, Obj]:
    """A list honouring labelSelector, fieldSelector, limit and continue."""
    try:
        items, rv = call.api.store.snapshot(call.res.group, call.res.kind, call.namespace,
                                            call.label_selector, call.field_selector)
    except ValueError as exc:
        raise st.bad_request(str(exc)) from None
    if call.query.get("continue"):
        after = _untoken(call.query["continue"])
        items = [i for i in items if _where(i) > after]
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    try:
        limit = int(call.query.get("limit") or 0)
    except ValueError:
        raise st.bad_request("limit must be an integer") from None
    if 0 < limit < len(items):
        meta["remainingItemCount"] = len(items) - limit
        items = items[:limit]
        meta["continue"] = _token(*_where(items[-1]))
    items = [call.out(i) for i in items]
    if call.table:
        return 200, _table(call, items, meta)
    return 200, {"kind": f"{call.res.kind}List", "apiVersion": call.res.api_version(call.version),
                 "metadata": meta, "items": items}
