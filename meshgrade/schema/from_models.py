"""Derive compact schemas (see :mod:`meshgrade.schema.nodes`) from cloudcoil's pydantic models.

Pydantic ignores unknown fields, so the models are not used to validate: their field tables
(``model_fields``: JSON key, annotation, required) are converted once into the compact format.
A ``Union`` of models (Istio's oneOf variants such as ``UriModel``/``UriModel1``) becomes one
object type with the fields of every variant; a field is required only when every variant
requires it, and fields that no variant requires together are mutually exclusive.
"""

from __future__ import annotations

import datetime
import itertools
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, RootModel

_SCALAR_TYPES: dict[Any, str] = {
    str: "string",
    bytes: "string",
    datetime.datetime: "string",
    datetime.date: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
}
_SPECIAL_ROOTS = {"IntOrString": "int-or-string", "Quantity": "quantity"}


class ModelConverter:
    """Collects the compact ``types`` table for the models reachable from some roots."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self._names: dict[Any, str] = {}

    def resource(self, cls: type[BaseModel]) -> tuple[str, str, str] | None:
        """Register a top-level kind; returns (apiVersion, kind, type name), or None if ``cls``
        is not a kind (no literal ``apiVersion`` and ``kind``)."""
        fields = cls.model_fields
        api_version = _literal(fields.get("api_version"))
        kind = _literal(fields.get("kind"))
        if api_version is None or kind is None:
            return None
        name = self.model(cls)
        entry = self.types[name]["fields"]
        entry.update({"apiVersion": "string", "kind": "string"})
        if "status" in entry:
            entry["status"] = "any"
        return api_version, kind, name

    def model(self, cls: type[BaseModel]) -> str:
        """Type name of a model class, converting it on first use."""
        name = self._names.get(cls)
        if name is not None:
            return name
        name = self._claim(cls.__name__, cls)
        if not cls.model_fields:
            self.types[name] = {"fields": {}, "open": True}
            return name
        spec: dict[str, Any] = {"fields": {}}
        self.types[name] = spec
        required = []
        for key, expr, is_required in self._fields(cls):
            spec["fields"][key] = expr
            if is_required:
                required.append(key)
        if required:
            spec["required"] = required
        return name

    def variants(self, classes: tuple[type[BaseModel], ...]) -> str:
        """Type name of a union of models: one object type accepting the fields of any."""
        key = frozenset(classes)
        name = self._names.get(key)
        if name is not None:
            return name
        name = self._claim(classes[0].__name__ + "_oneOf", key)
        fields: dict[str, list[str]] = {}
        required_sets: list[set[str]] = []
        for cls in classes:
            required: set[str] = set()
            for field, expr, is_required in self._fields(cls):
                if expr not in fields.setdefault(field, []):
                    fields[field].append(expr)
                if is_required:
                    required.add(field)
            required_sets.append(required)
        merged: dict[str, Any] = {"fields": {k: _union(v) for k, v in fields.items()}}
        if not fields:
            merged["open"] = True
        always = set.intersection(*required_sets)
        if always:
            merged["required"] = [k for k in fields if k in always]
        exclusive = _exclusive_groups(required_sets, always)
        if exclusive:
            merged["exclusive"] = exclusive
        self.types[name] = merged
        return name

    def _fields(self, cls: type[BaseModel]) -> list[tuple[str, str, bool]]:
        """(JSON key, type expression, required) of each field; fields typed ``None`` (a
        variant's way of saying "not here") are left out."""
        out = []
        for attr, info in cls.model_fields.items():
            if info.annotation is type(None):
                continue
            out.append((info.alias or attr, self.annotation(info.annotation, info.metadata),
                        info.is_required()))
        return out

    def annotation(self, tp: Any, metadata: Iterable[Any] = ()) -> str:
        """Type expression of an annotation (``metadata``: pydantic constraints of the field)."""
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return self.annotation(typing.get_args(tp)[0], metadata)
        if origin is typing.Union or origin is types.UnionType:
            return self._union_of(typing.get_args(tp), metadata)
        if origin is typing.Literal:
            return _literals(typing.get_args(tp))
        if origin in (list, set, tuple, frozenset):
            args = typing.get_args(tp)
            return "[]" + _group(self.annotation(args[0])) if args else "[]any"
        if origin is dict:
            args = typing.get_args(tp)
            return "{}" + _group(self.annotation(args[1])) if len(args) == 2 else "{}any"
        if tp in _SCALAR_TYPES:
            return _SCALAR_TYPES[tp] + (_range(metadata) if tp in (int, float) else "")
        if isinstance(tp, type) and issubclass(tp, RootModel):
            special = _SPECIAL_ROOTS.get(tp.__name__)
            if special:
                return special
            return self.annotation(tp.model_fields["root"].annotation, metadata)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.model(tp)
        return "any"

    def _union_of(self, args: tuple[Any, ...], metadata: Iterable[Any]) -> str:
        args = tuple(a for a in args if a is not type(None))
        if not args:
            return "any"
        models = tuple(a for a in args if isinstance(a, type) and issubclass(a, BaseModel)
                       and not issubclass(a, RootModel))
        others = [self.annotation(a, metadata) for a in args if a not in models]
        if len(models) == 1:
            others.insert(0, self.model(models[0]))
        elif models:
            others.insert(0, self.variants(models))
        return _union(others)

    def _claim(self, base: str, key: Any) -> str:
        name = base
        for n in itertools.count(2):
            if name not in self.types:
                break
            name = f"{base}_{n}"
        self._names[key] = name
        return name


def _literal(info: Any) -> str | None:
    """The single string literal of a field annotated ``Optional[Literal["x"]]``."""
    if info is None:
        return None
    tp = info.annotation
    if typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else None
    if typing.get_origin(tp) is typing.Literal:
        values = typing.get_args(tp)
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
    return None


def _literals(values: tuple[Any, ...]) -> str:
    parts = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return "any"
        if isinstance(value, str):
            if "'" in value:
                return "string"
            parts.append(f"'{value}'")
        else:
            parts.append(str(value))
    return "|".join(parts) if parts else "any"


def _range(metadata: Iterable[Any]) -> str:
    low = high = None
    for item in metadata:
        if getattr(item, "ge", None) is not None:
            low = item.ge
        elif getattr(item, "gt", None) is not None and isinstance(item.gt, int):
            low = item.gt + 1
        if getattr(item, "le", None) is not None:
            high = item.le
        elif getattr(item, "lt", None) is not None and isinstance(item.lt, int):
            high = item.lt - 1
    if low is None and high is None:
        return ""
    return f"({'' if low is None else low}..{'' if high is None else high})"


def _group(expr: str) -> str:
    return f"({expr})" if "|" in expr else expr


def _union(exprs: list[str]) -> str:
    unique: list[str] = []
    for expr in exprs:
        if expr == "any":
            return "any"
        if expr not in unique:
            unique.append(expr)
    return "|".join(unique) if unique else "any"


def _exclusive_groups(required_sets: list[set[str]], always: set[str]) -> list[list[str]]:
    """Keys some variant requires but no variant requires together with each other."""
    keys = sorted({k for s in required_sets for k in s} - always)
    apart = {
        (a, b)
        for a, b in itertools.combinations(keys, 2)
        if not any(a in s and b in s for s in required_sets)
    }
    groups: list[list[str]] = []
    for key in keys:
        for group in groups:
            if all((min(key, g), max(key, g)) in apart for g in group):
                group.append(key)
                break
        else:
            groups.append([key])
    return [g for g in groups if len(g) > 1]


def convert_module(module: Any, converter: ModelConverter | None = None) -> dict[str, Any]:
    """Compact bundle of every kind a generated model module defines."""
    converter = converter or ModelConverter()
    kinds: dict[str, dict[str, str]] = {}
    for value in list(vars(module).values()):
        if (
            isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == module.__name__
        ):
            found = converter.resource(value)
            if found:
                api_version, kind, name = found
                kinds.setdefault(api_version, {})[kind] = name
    return {"kinds": kinds, "types": converter.types}
