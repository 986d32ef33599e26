"""One frozen settings object: rubric settings over defaults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    """What checks may be tuned by (rubric ``settings:``)."""

    weights_total_100: bool = True
    expected_split: dict[str, float] | None = None
    ingress_labels: dict[str, str] = field(default_factory=lambda: {"istio": "ingressgateway"})
    app_service: str | None = None
    namespace: str = "default"
    bookinfo_baseline: bool = True
    skipped_count: bool = False
    oracle: dict[str, str] | None = None   # Part 2 version oracle: header, regex or json

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Settings:
        return cls(**{k: v for k, v in values.items() if k in cls.names()})
