"""The catalogue of messages (data/catalogue.yaml): per check ID, the finding templates its
check may emit, each with a hint and its level (``error`` unless the template says
``level: warning`` or ``info``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .results import Severity

Templates = dict[str, dict[str, str]]


@lru_cache(maxsize=1)
def catalogued() -> dict[str, Templates]:
    """Every catalogued check ID and its templates, in ID order."""
    text = resources.files("meshgrade").joinpath("data/catalogue.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {cid: dict((entry or {}).get("messages") or {}) for cid, entry in sorted(raw.items())}


def messages(check_id: str) -> Templates:
    """The templates of one check (none when it is not catalogued, e.g. an instructor's)."""
    return catalogued().get(check_id, {})


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def message(check_id: str, key: str, **fields: Any) -> tuple[str, str]:
    """(message, hint) for one of a check's templates, filled with ``fields``."""
    template = messages(check_id)[key]
    values = _Blank({k: _show(v) for k, v in fields.items()})
    return template["text"].format_map(values), template.get("hint", "").format_map(values)


def level(check_id: str, key: str) -> Severity:
    """The level of one of a check's templates: its ``level``, else ``error``."""
    return Severity(messages(check_id)[key].get("level", Severity.ERROR.value))


def _show(value: Any) -> Any:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    return value
