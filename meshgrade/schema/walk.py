"""Walk one object's data against its compiled schema tree and collect issues."""

from __future__ import annotations

import datetime
import difflib
from typing import Any

from ..submission import paths
from .issues import (
    INVALID_VALUE,
    MAX_ISSUES,
    MISSING_REQUIRED,
    UNKNOWN_FIELD,
    WRONG_TYPE,
    SchemaIssue,
)
from .nodes import ANY, AnyNode, Either, Enum, ListOf, MapOf, Node, Obj, Scalar

MAX_DEPTH = 100
_MAX_LISTED = 40
_TEXT_TYPES = (str, datetime.date)  # datetime is a date; YAML timestamps are text to kubectl


class _Full(Exception):
    """The issue limit is reached."""


class Walker:
    """Collects the issues of one object (at most ``limit``)."""

    def __init__(self, limit: int = MAX_ISSUES) -> None:
        self.issues: list[SchemaIssue] = []
        self.limit = limit

    def run(self, node: Node, value: Any, path: str = "") -> list[SchemaIssue]:
        try:
            self.check(node, value, path, 0)
        except _Full:
            pass
        return self.issues

    def add(self, path: str, code: str, message: str, hint: str) -> None:
        self.issues.append(SchemaIssue(path, code, message, hint))
        if len(self.issues) >= self.limit:
            raise _Full

    def check(self, node: Node, value: Any, path: str, depth: int) -> None:
        if isinstance(node, Obj):
            self.obj(node, value, path, depth)
        elif isinstance(node, Scalar):
            self.scalar(node, value, path)
        elif isinstance(node, ListOf):
            self.list_of(node, value, path, depth)
        elif isinstance(node, Enum):
            self.enum(node, value, path)
        elif isinstance(node, MapOf):
            self.map_of(node, value, path, depth)
        elif isinstance(node, Either):
            self.either(node, value, path, depth)

    def obj(self, node: Obj, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.wrong_type(node, value, path)
            return
        if depth >= MAX_DEPTH:
            self.too_deep(path)
            return
        fields = node.fields
        for key, item in value.items():
            if type(key) is not str:
                key = _key_text(key)
            child = fields.get(key)
            if child is None:
                if not node.open:
                    self.unknown_field(node, key, path)
                continue
            if item is None or child is ANY:
                continue
            self.check(child, item, paths.join(path, key), depth + 1)
        for key in node.required:
            if value.get(key) is None:
                self.missing(node, key, path)
        for group in node.exclusive:
            present = [k for k in group if value.get(k) is not None]
            if len(present) > 1:
                self.add(
                    path,
                    INVALID_VALUE,
                    f"only one of {_names(group)} may be set; found {_names(present)}",
                    "these fields are alternatives: keep exactly one of them",
                )

    def list_of(self, node: ListOf, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, list):
            self.wrong_type(node, value, path)
            return
        if depth >= MAX_DEPTH:
            self.too_deep(path)
            return
        item_node = node.item
        if isinstance(item_node, AnyNode):
            return
        for index, item in enumerate(value):
            child = paths.join(path, index)
            if item is None:
                self.wrong_type(item_node, item, child)
            else:
                self.check(item_node, item, child, depth + 1)

    def map_of(self, node: MapOf, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.wrong_type(node, value, path)
            return
        if depth >= MAX_DEPTH:
            self.too_deep(path)
            return
        value_node = node.value
        if isinstance(value_node, AnyNode):
            return
        for key, item in value.items():
            if item is not None:
                key = key if type(key) is str else _key_text(key)
                self.check(value_node, item, paths.join(path, key), depth + 1)

    def scalar(self, node: Scalar, value: Any, path: str) -> None:
        if not accepts(node, value):
            self.wrong_type(node, value, path)
        elif node.low is not None or node.high is not None:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.in_range(node, value, path)

    def enum(self, node: Enum, value: Any, path: str) -> None:
        if accepts(node, value):
            return
        if any(type(v) is type(value) for v in node.values):
            shown = ", ".join(_show_literal(v) for v in node.values)
            close = difflib.get_close_matches(str(value), [str(v) for v in node.values], 1, 0.6)
            hint = f"did you mean {_show_literal(close[0])}? " if close else ""
            self.add(path, INVALID_VALUE,
                     f"invalid value {_show_literal(value)} for '{_label(path)}'",
                     f"{hint}Allowed values: {shown}")
        else:
            self.wrong_type(node, value, path)

    def either(self, node: Either, value: Any, path: str, depth: int) -> None:
        if isinstance(value, dict):
            wanted: tuple[type, ...] = (Obj, MapOf, AnyNode)
        elif isinstance(value, list):
            wanted = (ListOf, AnyNode)
        else:
            for option in node.options:
                if accepts(option, value):
                    self.check(option, value, path, depth)
                    return
            self.wrong_type(node, value, path)
            return
        for option in node.options:
            if isinstance(option, wanted):
                self.check(option, value, path, depth)
                return
        self.wrong_type(node, value, path)

    # -- reporting

    def in_range(self, node: Scalar, value: float, path: str) -> None:
        low, high = node.low, node.high
        if (low is None or value >= low) and (high is None or value <= high):
            return
        if low is not None and high is not None:
            allowed = f"allowed range: {low} to {high}"
        elif low is not None:
            allowed = f"the value must be at least {low}"
        else:
            allowed = f"the value must be at most {high}"
        self.add(path, INVALID_VALUE, f"value {value} for '{_label(path)}' is out of range",
                 allowed)

    def wrong_type(self, node: Node, value: Any, path: str) -> None:
        self.add(path, WRONG_TYPE,
                 f"'{_label(path)}' must be {_article(node.describe())}, not {_show(value)}",
                 _type_hint(node, value))

    def unknown_field(self, node: Obj, key: str, path: str) -> None:
        names = sorted(node.fields)
        close = _closest(key, names)
        listed = ", ".join(names[:_MAX_LISTED]) + (", ..." if len(names) > _MAX_LISTED else "")
        hint = f"Valid fields here: {listed}" if names else "no fields are allowed here"
        if close:
            hint = f"did you mean '{close}'? {hint}"
        self.add(paths.join(path, key), UNKNOWN_FIELD, f"unknown field '{key}'", hint)

    def missing(self, node: Obj, key: str, path: str) -> None:
        child = node.fields.get(key, ANY)
        what = _article(child.describe())
        if isinstance(child, Obj) and child.names:
            what += f" with fields such as {_shorten(child.names)}"
        where = f"to {path}" if path else "at the top level"
        self.add(paths.join(path, key), MISSING_REQUIRED, f"missing required field '{key}'",
                 f"add '{key}' ({what}) {where}")

    def too_deep(self, path: str) -> None:
        self.add(path, INVALID_VALUE, f"data nested deeper than {MAX_DEPTH} levels",
                 "not validated below this point; flatten the structure")


def accepts(node: Node, value: Any) -> bool:
    """Whether a value has the shape of a node (scalars and enums by value; containers by
    their container type only)."""
    if isinstance(node, Scalar):
        return _scalar_accepts(node.kind, value)
    if isinstance(node, Enum):
        return any(v == value and type(v) is type(value) for v in node.values)
    if isinstance(node, (Obj, MapOf)):
        return isinstance(value, dict)
    if isinstance(node, ListOf):
        return isinstance(value, list)
    if isinstance(node, Either):
        return any(accepts(o, value) for o in node.options)
    return True


def _scalar_accepts(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, _TEXT_TYPES)
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, (int, float))
    if kind == "int-or-string":
        return isinstance(value, (int, str))
    if kind == "quantity":
        return isinstance(value, (int, float, str))
    return False


def _closest(key: str, names: list[str]) -> str | None:
    lowered = {n.lower(): n for n in names}
    if key.lower() in lowered:
        return lowered[key.lower()]
    close = difflib.get_close_matches(key, names, 1, 0.6)
    if close:
        return close[0]
    close = difflib.get_close_matches(key.lower(), list(lowered), 1, 0.6)
    return lowered[close[0]] if close else None


def _type_hint(node: Node, value: Any) -> str:
    expected = node.describe()
    if isinstance(node, Scalar) and isinstance(value, str):
        text = value.strip()
        if node.kind == "integer" and _is_int(text):
            return f"remove the quotes: write {text}, not \"{value}\""
        if node.kind == "number" and _is_number(text):
            return f"remove the quotes: write {text}, not \"{value}\""
        if node.kind == "boolean" and text.lower() in ("true", "false"):
            return f"write {text.lower()} without quotes"
    if isinstance(node, Scalar) and node.kind == "string":
        if isinstance(value, bool):
            return f'put the value in quotes: "{"true" if value else "false"}"'
        if isinstance(value, int):
            return f'put the value in quotes: "{value}"'
        if isinstance(value, float):
            return (f'put the value in quotes, e.g. "{value}" (unquoted, YAML reads 1.10 as '
                    "the number 1.1)")
    if isinstance(node, Scalar) and node.kind == "integer" and isinstance(value, float):
        if value.is_integer():
            return f"write {int(value)} without a decimal point"
        return "use a whole number"
    if isinstance(node, Obj):
        if isinstance(value, list):
            return "this field takes a single object, not a list: remove the leading '-'"
        if value is None:
            return "remove the empty entry or fill it in"
        return f"write an object with fields such as: {_shorten(node.names) or '(none)'}"
    if isinstance(node, ListOf):
        if isinstance(value, dict):
            return "this field takes a list: start each entry with '- '"
        return "this field takes a list, e.g. [value] or entries starting with '- '"
    if isinstance(node, MapOf):
        return "this field takes a map of key: value pairs"
    if isinstance(node, Enum):
        return "Allowed values: " + ", ".join(_show_literal(v) for v in node.values)
    return f"use {_article(expected)}"


def _shorten(names: str, limit: int = 8) -> str:
    parts = names.split(", ")
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _article(desc: str) -> str:
    if desc.startswith(("one of", "any ")):
        return desc
    return ("an " if desc[:1] in "aeiou" else "a ") + desc


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {_quote(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show_literal(value: Any) -> str:
    return _quote(value) if isinstance(value, str) else str(value)


def _quote(text: str, limit: int = 40) -> str:
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return '"' + text.replace('"', '\\"') + '"'


def _names(keys: Any) -> str:
    return ", ".join(f"'{k}'" for k in keys)


def _label(path: str) -> str:
    """The last step of a path, for messages (``route[0]`` or ``weight``)."""
    if not path:
        return "object"
    if path.endswith('"]'):
        return path[path.rfind('["') + 2 : -2]
    return path[path.rfind(".") + 1 :]


def _key_text(key: Any) -> str:
    """A non-string mapping key as the text kubectl's YAML-to-JSON step turns it into."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    try:
        return str(key)
    except Exception:  # a hostile __str__
        return "<key>"
