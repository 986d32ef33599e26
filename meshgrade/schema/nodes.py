"""The compiled schema tree, and its compilation from the compact (JSON) schema format.

Compact format (one *bundle*; also what the disk cache and ``gateway_api.json`` hold)::

    {"kinds": {"<apiVersion>": {"<Kind>": "<TypeName>"}},
     "types": {"<TypeName>": {"fields": {"<jsonKey>": "<type expression>"},
                              "required": ["<jsonKey>"],
                              "exclusive": [["<jsonKey>", ...]],   # at most one of these
                              "open": false}}}                     # true: extra keys allowed

Type expressions are short strings:

* scalars: ``string``, ``integer``, ``number``, ``boolean``, ``int-or-string``, ``quantity``,
  ``any``; numbers may carry a range: ``integer(1..65535)``, ``number(0..)``;
* ``[]T`` a list of T, ``{}T`` a map from string keys to T;
* ``'Exact'|'PathPrefix'`` literals (enum), ``301|302`` integer literals;
* ``A|B`` either form, ``(A|B)`` grouping;
* any other name is an object type of ``types``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SCALARS = ("string", "integer", "number", "boolean", "int-or-string", "quantity")


class Node:
    """A schema node."""

    __slots__ = ()

    def describe(self) -> str:
        raise NotImplementedError


class AnyNode(Node):
    """Anything goes (free-form maps, ``status``, unknown types)."""

    __slots__ = ()

    def describe(self) -> str:
        return "any value"


class Scalar(Node):
    """A scalar of one of :data:`SCALARS`, optionally bounded."""

    __slots__ = ("kind", "low", "high")

    def __init__(self, kind: str, low: float | None = None, high: float | None = None) -> None:
        self.kind = kind
        self.low = low
        self.high = high

    def describe(self) -> str:
        return {
            "int-or-string": "integer or string",
            "quantity": "quantity (e.g. 500m, 1Gi, 2)",
        }.get(self.kind, self.kind)


class Enum(Node):
    """One of fixed literal values."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


class ListOf(Node):
    __slots__ = ("item",)

    def __init__(self, item: Node) -> None:
        self.item = item

    def describe(self) -> str:
        return "list"


class MapOf(Node):
    __slots__ = ("value",)

    def __init__(self, value: Node) -> None:
        self.value = value

    def describe(self) -> str:
        return "map"


class Obj(Node):
    """An object with known fields."""

    __slots__ = ("name", "fields", "required", "exclusive", "open", "names")

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[str, Node] = {}
        self.required: tuple[str, ...] = ()
        self.exclusive: tuple[tuple[str, ...], ...] = ()
        self.open = False
        self.names = ""

    def describe(self) -> str:
        return "object"


class Either(Node):
    """A value of any of several forms (e.g. ``string|integer`` or ``Obj|[]Obj``)."""

    __slots__ = ("options",)

    def __init__(self, options: tuple[Node, ...]) -> None:
        self.options = options

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)


ANY = AnyNode()
_TOKEN = re.compile(r"\s*(\[\]|\{\}|\(|\)|\||'[^']*'|-?\d+(?:\.\d+)?|[A-Za-z_][\w.\-]*)")
_RANGE = re.compile(r"\((-?[\d.]*)\.\.(-?[\d.]*)\)")


class SchemaFormatError(ValueError):
    """A compact schema that does not follow the format."""


class _Compiler:
    """Turns compact type definitions into linked nodes; shares equal expressions."""

    def __init__(self, types: Mapping[str, Any]) -> None:
        self.raw = types
        self.objects: dict[str, Obj] = {name: Obj(name) for name in types}
        self.memo: dict[str, Node] = {}

    def fill(self) -> None:
        for name, spec in self.raw.items():
            obj = self.objects[name]
            if not isinstance(spec, Mapping):
                raise SchemaFormatError(f"type {name!r} is not an object")
            obj.fields = {str(k): self.expr(v) for k, v in (spec.get("fields") or {}).items()}
            obj.required = tuple(str(k) for k in spec.get("required") or ())
            obj.exclusive = tuple(tuple(str(k) for k in g) for g in spec.get("exclusive") or ())
            obj.open = bool(spec.get("open", False))
            obj.names = ", ".join(sorted(obj.fields))

    def expr(self, text: Any) -> Node:
        if not isinstance(text, str):
            raise SchemaFormatError(f"type expression must be a string, not {text!r}")
        node = self.memo.get(text)
        if node is None:
            node = self.memo[text] = _Parser(text, self).parse()
        return node


class _Parser:
    def __init__(self, text: str, compiler: _Compiler) -> None:
        self.text = text
        self.pos = 0
        self.compiler = compiler

    def fail(self, why: str) -> SchemaFormatError:
        return SchemaFormatError(f"{why} at {self.pos} in type expression {self.text!r}")

    def peek(self) -> str:
        match = _TOKEN.match(self.text, self.pos)
        return match.group(1) if match else ""

    def take(self) -> str:
        match = _TOKEN.match(self.text, self.pos)
        if not match:
            raise self.fail("unexpected text")
        self.pos = match.end()
        return match.group(1)

    def parse(self) -> Node:
        node = self.union()
        if self.text[self.pos :].strip():
            raise self.fail("trailing text")
        return node

    def union(self) -> Node:
        options = [self.single()]
        while self.peek() == "|":
            self.take()
            options.append(self.single())
        if len(options) == 1:
            return options[0]
        literals = [o for o in options if isinstance(o, Enum)]
        others = [o for o in options if not isinstance(o, Enum)]
        merged: list[Node] = others
        if literals:
            merged = [Enum(tuple(v for lit in literals for v in lit.values)), *others]
        return merged[0] if len(merged) == 1 else Either(tuple(merged))

    def single(self) -> Node:
        token = self.take()
        if token == "[]":
            return ListOf(self.single())
        if token == "{}":
            return MapOf(self.single())
        if token == "(":
            node = self.union()
            if self.take() != ")":
                raise self.fail("expected ')'")
            return node
        if token.startswith("'"):
            return Enum((token[1:-1],))
        if token[0] in "-0123456789":
            return Enum((float(token) if "." in token else int(token),))
        if token == "any":
            return ANY
        if token in SCALARS:
            match = _RANGE.match(self.text, self.pos)
            if match:
                self.pos = match.end()
                return Scalar(token, _number(match.group(1)), _number(match.group(2)))
            return Scalar(token)
        obj = self.compiler.objects.get(token)
        if obj is None:
            raise self.fail(f"unknown type {token!r}")
        return obj


def _number(text: str) -> float | None:
    if not text:
        return None
    return float(text) if "." in text.strip(".") else int(text)


def compile_types(types: Mapping[str, Any]) -> dict[str, Obj]:
    """Compile a ``types`` table; returns the object nodes by type name."""
    compiler = _Compiler(types)
    compiler.fill()
    return compiler.objects
