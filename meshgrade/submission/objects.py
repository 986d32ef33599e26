"""Kubernetes objects as thin wrappers over dicts, with their source locations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import paths
from .kinds import CLUSTER_SCOPED, GATEWAY_API_GATEWAY, GATEWAY_API_GROUP

DEFAULT_NAMESPACE = "default"


Origin = Literal["submission", "baseline", "cluster"]
"""Where an object came from: the student's files, the baseline Bookinfo install (the lab
and repo mode add it), or a cluster's API."""


@dataclass(eq=False)
class KObject:
    """One Kubernetes object (a YAML document or an API item) plus where it came from.

    ``lines`` maps field paths to 1-based line numbers; ``order`` is the global load order
    (files in path order, documents in file order), which defines successive stages.
    """

    raw: dict[str, Any]
    file: str | None = None
    line: int = 0
    doc: int = 0
    order: int = 0
    origin: Origin = "submission"
    lines: Mapping[str, int] = field(default_factory=dict)
    default_namespace: str = DEFAULT_NAMESPACE

    @property
    def api_version(self) -> str:
        value = self.raw.get("apiVersion")
        return value if isinstance(value, str) else ""

    @property
    def group(self) -> str:
        """API group ("" for core)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def kind(self) -> str:
        value = self.raw.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.raw.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def name(self) -> str:
        value = self.metadata.get("name")
        return value if isinstance(value, str) else ""

    @property
    def namespace(self) -> str:
        if self.kind in CLUSTER_SCOPED:
            return ""
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) and value else self.default_namespace

    @property
    def labels(self) -> dict[str, str]:
        return str_map(self.metadata.get("labels"))

    @property
    def spec(self) -> dict[str, Any]:
        value = self.raw.get("spec")
        return value if isinstance(value, dict) else {}

    @property
    def kind_key(self) -> str:
        """The kind as the index files it: ``Gateway`` is Istio's, the Gateway API's is
        ``Gateway.gateway.networking.k8s.io``; otherwise the API group is left out, so that
        the v1alpha3 and v1 forms of one VirtualService are stages of one object."""
        if self.kind == "Gateway" and self.group == GATEWAY_API_GROUP:
            return GATEWAY_API_GATEWAY
        return self.kind

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity: (kind_key, namespace, name)."""
        return (self.kind_key, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """``Kind namespace/name`` as shown in findings."""
        return f"{self.kind or '?'} {self.namespace}/{self.name or '?'}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else self.origin

    def line_of(self, path: str) -> int:
        """Line of a field path, or of its nearest ancestor that has one."""
        for candidate in paths.parents(path):
            if candidate in self.lines:
                return self.lines[candidate]
        return self.line

    def get(self, path: str, default: Any = None) -> Any:
        """Value at a dotted path of plain keys (``spec.selector``)."""
        node: Any = self.raw
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def __repr__(self) -> str:
        return f"<{self.ref} {self.where}>"


def str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else ``[]``: a YAML field may hold any type."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else ``{}``."""
    return value if isinstance(value, dict) else {}


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Equality-based label selection; an empty selector selects nothing here."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


_OPERATORS: dict[str, Callable[[str | None, list[str]], bool]] = {
    "In": lambda have, values: have is not None and have in values,
    "NotIn": lambda have, values: have is None or have not in values,
    "Exists": lambda have, values: have is not None,
    "DoesNotExist": lambda have, values: have is None}


def matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (a Deployment's ``spec.selector``: ``matchLabels`` and
    ``matchExpressions`` with In, NotIn, Exists, DoesNotExist) against labels, as Kubernetes
    does; a missing or empty selector (or an unknown operator) selects nothing here."""
    if not isinstance(selector, Mapping) or not selector:
        return False
    match = str_map(selector.get("matchLabels"))
    if match and not selects(match, labels):
        return False
    exprs = selector.get("matchExpressions")
    for expr in exprs if isinstance(exprs, list) else []:
        expr = expr if isinstance(expr, Mapping) else {}
        test = _OPERATORS.get(str(expr.get("operator")))
        given = expr.get("values")
        values = [str(v) for v in given] if isinstance(given, list) else []
        if test is None or not test(labels.get(str(expr.get("key"))), values):
            return False
    return True
