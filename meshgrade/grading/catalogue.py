"""The check catalogue (data/catalogue.yaml): names, titles, sources and message templates,
each with its level (``error`` unless the template says ``level: warning`` or ``info``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from .results import Severity


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    title: str
    sources: tuple[str, ...]
    messages: dict[str, dict[str, str]]


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """Every catalogued check, by ID, in ID order."""
    import yaml

    text = resources.files("meshgrade").joinpath("data/catalogue.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {
        cid: Entry(cid, e["name"], e["title"], tuple(e["sources"]), e.get("messages", {}))
        for cid, e in sorted(raw.items())
    }


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def message(check_id: str, key: str, **fields: Any) -> tuple[str, str]:
    """(message, hint) for one of a check's templates, filled with ``fields``."""
    template = entries()[check_id].messages[key]
    values = _Blank({k: _show(v) for k, v in fields.items()})
    return template["text"].format_map(values), template.get("hint", "").format_map(values)


def level(check_id: str, key: str) -> Severity:
    """The level of one of a check's templates: its ``level``, else ``error``."""
    return Severity(entries()[check_id].messages[key].get("level", Severity.ERROR.value))


def _show(value: Any) -> Any:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    return value
