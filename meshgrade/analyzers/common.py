"""Small helpers shared by the check functions."""

from __future__ import annotations

from typing import Any

from .. import catalogue
from ..objects import KObject
from ..results import Finding


def finding(check_id: str, key: str, obj: KObject | None = None, path: str | None = None, *,
            file: str | None = None, line: int | None = None, **fields: Any) -> Finding:
    """A finding from the catalogue template ``check_id``/``key``, located at obj + path."""
    text, hint = catalogue.message(check_id, key, **fields)
    ref = None
    if obj is not None:
        ref = obj.ref
        file = file or obj.file
        line = line or (obj.line_of(path) if path else obj.line) or None
    return Finding(text, ref, file, line, path, hint or None)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def label_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(value).items() if v is not None}
