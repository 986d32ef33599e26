"""Label and field selectors in the forms the Kubernetes API accepts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\((.*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_COMPARE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=|>|<)\s*([-A-Za-z0-9_.]*)\s*$")
_FIELD = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    if m := _SET.match(term):
        key, op = m.group(1), m.group(3)
        values = {v.strip() for v in m.group(4).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _COMPARE.match(term):
        key, op, value = m.group(1), m.group(3), m.group(4)
        if op in ("=", "=="):
            return lambda labels: labels.get(key) == value
        if op == "!=":
            return lambda labels: labels.get(key) != value
        try:
            bound = int(value)
        except ValueError:
            raise ValueError(f"invalid label selector {term!r}: {value!r} is not an integer") \
                from None
        greater = op == ">"

        def compare(labels: Mapping[str, str]) -> bool:
            try:
                have = int(labels.get(key, ""))
            except ValueError:
                return False
            return have > bound if greater else have < bound

        return compare
    if m := _EXISTS.match(term):
        negate, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negate
    raise ValueError(f"unable to parse requirement: {term!r}")


def label_matcher(selector: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over a label map; raises ValueError on a malformed selector."""
    terms = [_label_term(t) for t in _split_top(selector or "")]
    return lambda labels: all(t(labels) for t in terms)


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form of a dotted field path, '' when absent (as the API compares it)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_terms(selector: str) -> list[tuple[str, bool, str]]:
    """(path, equal?, value) terms of a field selector; raises ValueError when malformed."""
    terms = []
    for term in _split_top(selector or ""):
        m = _FIELD.match(term)
        if not m:
            raise ValueError(f"invalid field selector: {term!r}")
        terms.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return terms


def object_matcher(label_selector: str = "", field_selector: str = "") -> Matcher:
    """A predicate over whole objects combining a label and a field selector."""
    labels = label_matcher(label_selector)
    fields = field_terms(field_selector)

    def match(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if not labels(meta.get("labels") or {}):
            return False
        return all((field_value(obj, p) == v) == eq for p, eq, v in fields)

    return match
