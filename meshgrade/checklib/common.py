"""Small helpers shared by the check functions."""

from __future__ import annotations

from typing import Any

from ..grading import catalogue
from ..grading.results import Finding
from ..submission.objects import KObject, as_dict, as_list

__all__ = ["as_dict", "as_list", "finding", "label_map"]


def finding(check_id: str, key: str, obj: KObject | None = None, path: str | None = None, /,
            *, file: str | None = None, line: int | None = None, **fields: Any) -> Finding:
    """A finding from the catalogue template ``check_id``/``key``, located at obj + path.

    The first four are positional-only, so that template fields may share their names;
    ``file`` and ``line`` may not be template fields. Its severity is the template's level."""
    text, hint = catalogue.message(check_id, key, **fields)
    return Finding.at(text, obj, path, file=file, line=line, hint=hint,
                      severity=catalogue.level(check_id, key))


def label_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(value).items() if v is not None}
