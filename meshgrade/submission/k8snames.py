"""Kubernetes' rules for object names, labels and label selectors, quoted by MG102.

From the Kubernetes documentation, "Object Names and IDs" and "Labels and Selectors":

- DNS subdomain names (RFC 1123; most objects): at most 253 characters, only lowercase
  alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character.
- RFC 1123 label names (Namespaces): at most 63 characters, only lowercase alphanumeric
  characters or '-', starting and ending with an alphanumeric character.
- RFC 1035 label names (Services): the same, but starting with an alphabetic character.
- Label keys: an optional prefix (a DNS subdomain, at most 253 characters) and '/', then a
  name of at most 63 characters of alphanumerics, '-', '_' and '.', starting and ending with
  an alphanumeric character. Label values: at most 63 characters, the same characters and
  ends, or empty.
- Label selectors: ``matchLabels`` holds label keys and values; each ``matchExpressions``
  entry has a label key, an operator (In, NotIn, Exists, DoesNotExist) and ``values``, which
  must be non-empty for In and NotIn and empty for Exists and DoesNotExist. A Service's
  ``selector`` is a map of label keys and values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import paths

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_SHOWN = 40


@dataclass(frozen=True)
class Rule:
    """One rule: what it names, the sentence findings quote, its pattern and an example."""

    subject: str
    text: str
    max_len: int
    pattern: re.Pattern[str]
    chars: re.Pattern[str]
    example: str
    lowercase: bool = True
    empty_ok: bool = False
    first_letter: bool = False

    def defect(self, value: str) -> str | None:
        """What in ``value`` breaks the rule (e.g. "is longer than 63"), or None."""
        if not value:
            return None if self.empty_ok else "is empty"
        if len(value) > self.max_len:
            return f"({len(value)} characters) is longer than {self.max_len}"
        if self.pattern.fullmatch(value):
            return None
        if self.lowercase and any(c.isupper() for c in value):
            return "has upper-case letters"
        bad = [c for c in dict.fromkeys(value) if not self.chars.fullmatch(c)]
        if bad:
            return "contains " + ", ".join(repr(c) for c in bad[:3])
        if not value[0].isalnum() or (self.first_letter and not value[0].isalpha()):
            return f"starts with {value[0]!r}"
        if not value[-1].isalnum():
            return f"ends with {value[-1]!r}"
        return "has a part between dots that does not start and end with an alphanumeric " \
               "character"


def _rule(subject: str, text: str, max_len: int, pattern: str, chars: str, example: str,
          **kw: Any) -> Rule:
    return Rule(subject, text, max_len, re.compile(pattern), re.compile(chars), example, **kw)


_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN = _rule(
    "name", "a DNS subdomain name must be no more than 253 characters, contain only lowercase "
    "alphanumeric characters, '-' or '.', and start and end with an alphanumeric character",
    253, rf"{_LABEL}(\.{_LABEL})*", r"[-a-z0-9.]", "reviews-v2")
RFC1123_LABEL = _rule(
    "name", "an RFC 1123 label name must be no more than 63 characters, contain only lowercase "
    "alphanumeric characters or '-', and start and end with an alphanumeric character",
    63, _LABEL, r"[-a-z0-9]", "bookinfo")
RFC1035_LABEL = _rule(
    "name", "a Service name must be an RFC 1035 label name: no more than 63 characters, only "
    "lowercase alphanumeric characters or '-', starting with an alphabetic character and "
    "ending with an alphanumeric character", 63, r"[a-z]([-a-z0-9]*[a-z0-9])?", r"[-a-z0-9]",
    "reviews", first_letter=True)
_QUALIFIED = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_NAME = _rule(
    "label key", "the name part of a label key must be no more than 63 characters, contain "
    "only alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric "
    "character", 63, _QUALIFIED, r"[-A-Za-z0-9_.]", "app", lowercase=False)
LABEL_PREFIX = _rule(
    "label key prefix", "the prefix of a label key (before '/') must be a DNS subdomain: no "
    "more than 253 characters of lowercase alphanumeric characters, '-' or '.', starting and "
    "ending with an alphanumeric character", 253, rf"{_LABEL}(\.{_LABEL})*", r"[-a-z0-9.]",
    "app.kubernetes.io/name")
LABEL_VALUE = _rule(
    "label value", "a label value must be no more than 63 characters (it may be empty), contain "
    "only alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric "
    "character", 63, _QUALIFIED, r"[-A-Za-z0-9_.]", "v1", lowercase=False, empty_ok=True)


@dataclass(frozen=True)
class Violation:
    """A value that breaks a rule, at a field path; ``str()`` is the sentence to show."""

    path: str
    subject: str
    value: str
    defect: str
    rule: str
    hint: str

    def __str__(self) -> str:
        return f"{self.subject} {shown(self.value)} {self.defect}: {self.rule}"


def shown(value: str) -> str:
    """``value`` quoted (escaped when it holds control characters), cut to a readable length."""
    text = value if value.isprintable() else repr(value)[1:-1]
    return f"'{text}'" if len(text) <= _SHOWN else f"'{text[:_SHOWN - 8]}…'"


def check(rule: Rule, value: str, path: str, subject: str | None = None) -> Violation | None:
    """The violation of ``rule`` by ``value`` at ``path``, or None."""
    defect = rule.defect(value)
    if defect is None:
        return None
    return Violation(path, subject or rule.subject, value, defect, rule.text,
                     f"Follow the rule, e.g. '{rule.example}'.")


def name_rule(kind: str) -> Rule:
    """The rule for ``metadata.name`` of ``kind``."""
    return {"Service": RFC1035_LABEL, "Namespace": RFC1123_LABEL}.get(kind, SUBDOMAIN)


_KEY_RULE = ("a label key is a name (no more than 63 characters: alphanumeric characters, '-', "
             "'_' or '.', starting and ending with an alphanumeric character), optionally "
             "after a DNS subdomain prefix and '/'")
_KEY_HINT = "Follow the rule, e.g. 'app' or 'app.kubernetes.io/name'."
_OPERATOR_RULE = ("a selector's operator is In, NotIn, Exists or DoesNotExist; In and NotIn "
                  "need a non-empty list of values, Exists and DoesNotExist take no values")
_OPERATOR_HINT = "Use In or NotIn with values: [v1, v2], or Exists or DoesNotExist alone."


def label_key(key: str, path: str) -> Violation | None:
    """A label key: an optional DNS-subdomain prefix and '/', then a qualified name."""
    prefix, slash, name = key.rpartition("/")
    if "/" in prefix:
        return Violation(path, "label key", key, "has more than one '/'", _KEY_RULE, _KEY_HINT)
    if slash and not prefix:
        return Violation(path, "label key", key, "has an empty prefix before '/'", _KEY_RULE,
                         _KEY_HINT)
    return (check(LABEL_PREFIX, prefix, path) if prefix else None) or \
        check(LABEL_NAME, name, path, "label key name" if slash else "label key")


def label_value(value: Any, path: str) -> Violation | None:
    """A label value: a string (null counts as empty) that follows the label value rule."""
    if value is None:
        return None
    if not isinstance(value, str):
        kind = type(value).__name__
        article = "an" if kind[0] in "aeiou" else "a"
        return Violation(path, "label value", str(value), f"is {article} {kind}, not a string",
                         "label values are strings", f'Quote it: "{value}".')
    return check(LABEL_VALUE, value, path)


def _key(key: Any) -> str | int:
    """A mapping key as ``paths.join`` (and so the YAML loader's line index) spells it."""
    return key if isinstance(key, (str, int)) else str(key)


def labels(value: Any, path: str) -> list[list[Violation]]:
    """The violations of each bad label of a label map (a non-map is MG103's to report)."""
    out = []
    for key, val in value.items() if isinstance(value, dict) else ():
        here = paths.join(path, _key(key))
        found = [v for v in (label_key(str(key), here), label_value(val, here)) if v]
        if found:
            out.append(found)
    return out


def selector(value: Any, path: str) -> list[list[Violation]]:
    """The violations of each bad part of a LabelSelector (``matchLabels``, and each
    ``matchExpressions`` entry)."""
    if not isinstance(value, dict):
        return []
    out = labels(value.get("matchLabels"), paths.join(path, "matchLabels"))
    exprs = value.get("matchExpressions")
    for i, expr in enumerate(exprs if isinstance(exprs, list) else []):
        if isinstance(expr, dict):
            found = _expression(expr, paths.join(paths.join(path, "matchExpressions"), i))
            if found:
                out.append(found)
    return out


def _expression(expr: dict[Any, Any], path: str) -> list[Violation]:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values")
    found = [label_key(key, paths.join(path, "key"))] if isinstance(key, str) else []
    items = values if isinstance(values, list) else [] if values is None else [values]
    if op not in _OPERATORS:
        found.append(Violation(paths.join(path, "operator"), "operator", str(op),
                               "is not a selector operator", _OPERATOR_RULE, _OPERATOR_HINT))
    elif (op in ("In", "NotIn")) != bool(items):
        found.append(Violation(paths.join(path, "values"), "operator", op,
                               "takes no values" if items else "needs a non-empty list of values",
                               _OPERATOR_RULE, _OPERATOR_HINT))
    found += [label_value(v, paths.join(paths.join(path, "values"), i))
              for i, v in enumerate(items)]
    return [v for v in found if v]
