"""What the schema validator reports."""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN_FIELD = "unknown-field"
WRONG_TYPE = "wrong-type"
MISSING_REQUIRED = "missing-required"
INVALID_VALUE = "invalid-value"
UNKNOWN_KIND = "unknown-kind"

MAX_ISSUES = 50


@dataclass(frozen=True)
class SchemaIssue:
    """One schema violation of one object.

    ``path`` is the field path of the offending field (``""`` for the object itself), e.g.
    ``spec.http[0].route[0].weigth``; for a missing field, the path the field should have.
    """

    path: str
    code: str
    message: str
    hint: str
