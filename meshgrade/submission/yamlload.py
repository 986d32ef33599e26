"""YAML to plain data, keeping the line of every node and refusing hostile input.

Built from the parser's event stream (no recursion), so nesting depth, alias expansion and
the number of documents are bounded, and duplicate mapping keys are reported instead of
silently overwritten. An alias shares the anchored value (it is not copied), but counts as
many nodes as that value holds, so what callers build from the result stays bounded too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from . import paths
from .limits import BUDGET_HINT

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}


@dataclass
class YamlIssue:
    """A problem found while parsing: ``code`` is one of syntax, duplicate-key, too-deep,
    complex-key, and (over a budget) alias-bomb, too-many-nodes, too-many-documents."""

    code: str
    line: int
    message: str
    hint: str = ""
    path: str | None = None


@dataclass
class Usage:
    """YAML nodes (after alias expansion) and documents parsed so far. Shared by several
    ``parse`` calls, it makes ``max_nodes`` and ``max_documents`` bound their total."""

    nodes: int = 0
    documents: int = 0


@dataclass
class Document:
    value: Any
    line: int
    index: int
    lines: dict[str, int] = field(default_factory=dict)


class _Abort(Exception):
    def __init__(self, issue: YamlIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


@dataclass
class _Frame:
    container: Any
    path: str
    anchor: str | None
    size: int = 1
    key: Any = None
    key_line: int = 0
    has_key: bool = False
    merge_pending: bool = False
    merges: list[Any] = field(default_factory=list)


def parse(text: str, *, max_depth: int = 100, max_nodes: int = 1_000_000,
          max_documents: int = 1_000_000, usage: Usage | None = None
          ) -> tuple[list[Document], list[YamlIssue]]:
    """Parse every document of ``text``; documents before a fatal error are kept.

    Parsing stops as soon as ``usage`` (a fresh one unless given, and updated in place)
    passes ``max_nodes`` or ``max_documents``."""
    docs: list[Document] = []
    issues: list[YamlIssue] = []
    builder = _Builder(max_depth, max_nodes, max_documents, usage or Usage(), issues)
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            done = builder.feed(event, loader)
            if done is not None:
                docs.append(Document(done[0], done[1], len(docs), builder.lines))
                builder.reset()
    except _Abort as stop:
        issues.append(stop.issue)
    except yaml.YAMLError as exc:
        issues.append(_syntax_issue(exc, text))
    finally:
        loader.dispose()
    return docs, issues


def _syntax_issue(exc: yaml.YAMLError, text: str) -> YamlIssue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    if "nesting depth" in message:
        return YamlIssue("too-deep", line, "nesting too deep for a YAML parser",
                         "Kubernetes manifests are a few levels deep: remove the runaway nesting.")
    hint = "Fix the YAML syntax at this line (indentation, a missing ':' or an unclosed quote)."
    source_line = _line_text(text, line)
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())]:
        hint = "YAML does not allow tab characters for indentation: indent with spaces."
    return YamlIssue("syntax", line, f"YAML syntax error: {message}", hint)


def _line_text(text: str, line: int) -> str:
    if line <= 0:
        return ""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


class _Builder:
    """Turns parser events into plain values, one document at a time."""

    def __init__(self, max_depth: int, max_nodes: int, max_documents: int, usage: Usage,
                 issues: list[YamlIssue]) -> None:
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.max_documents = max_documents
        self.usage = usage
        self.issues = issues
        self.first_node = usage.nodes
        self.aliased = 0
        self.reset()

    def reset(self) -> None:
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.lines: dict[str, int] = {}
        self.root: Any = None
        self.root_line = 0

    def feed(self, event: Any, loader: Any) -> tuple[Any, int] | None:
        line = event.start_mark.line + 1
        if isinstance(event, ScalarEvent):
            self._add(_scalar(event, loader), line, 1, event.anchor, _is_merge(event, loader))
        elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            if len(self.stack) >= self.max_depth:
                raise _Abort(YamlIssue(
                    "too-deep", line, f"nesting deeper than {self.max_depth} levels",
                    "Kubernetes manifests are a few levels deep: remove the runaway nesting."))
            container: Any = {} if isinstance(event, MappingStartEvent) else []
            self._count(1, line)
            path = self._child_path()
            top = self.stack[-1] if self.stack else None
            keyed = top is not None and isinstance(top.container, dict) and top.has_key
            self.lines.setdefault(path, top.key_line if top is not None and keyed else line)
            self.stack.append(_Frame(container, path, event.anchor))
            if self.root_line == 0:
                self.root_line = line
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            frame = self.stack.pop()
            for merged in frame.merges:
                for k, v in merged.items():
                    frame.container.setdefault(k, v)
            self._add(frame.container, self.lines.get(frame.path, line), frame.size, frame.anchor,
                      False, registered=True)
        elif isinstance(event, AliasEvent):
            if event.anchor not in self.anchors:
                raise _Abort(YamlIssue("syntax", line, f"unknown alias *{event.anchor}",
                                       "Define the anchor (&name) before using it."))
            value, size = self.anchors[event.anchor]
            self.aliased += size
            self._count(size, line)
            self._add(value, line, size, None, False, registered=True)
        elif isinstance(event, DocumentEndEvent):
            return self.root, self.root_line
        elif isinstance(event, DocumentStartEvent):
            self.usage.documents += 1
            if self.usage.documents > self.max_documents:
                raise _Abort(YamlIssue(
                    "too-many-documents", line, f"{self.usage.documents:,} YAML documents, "
                    f"over the limit of {self.max_documents:,}",
                    "Remove the empty or generated documents ('---' lines) from the YAML."))
        return None

    def _count(self, n: int, line: int) -> None:
        self.usage.nodes += n
        if self.usage.nodes > self.max_nodes:
            raise _Abort(self._too_many_nodes(line))

    def _too_many_nodes(self, line: int) -> YamlIssue:
        reached = (f"{self.usage.nodes:,} YAML nodes after expanding aliases, over the limit "
                   f"of {self.max_nodes:,}")
        if 2 * self.aliased > self.usage.nodes - self.first_node:
            return YamlIssue("alias-bomb", line,
                             reached + " (mostly copies made by aliases, as in a 'billion "
                             "laughs')",
                             "Remove the nested anchors/aliases; write the objects out plainly.")
        return YamlIssue("too-many-nodes", line, reached, BUDGET_HINT)

    def _child_path(self) -> str:
        if not self.stack:
            return ""
        top = self.stack[-1]
        if isinstance(top.container, list):
            return paths.join(top.path, len(top.container))
        return paths.join(top.path, top.key) if top.has_key else top.path

    def _add(self, value: Any, line: int, size: int, anchor: str | None, is_merge: bool,
             registered: bool = False) -> None:
        if not registered:
            self._count(1, line)
        if anchor:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            if self.root_line == 0:
                self.root_line = line
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.container, list):
            self.lines.setdefault(paths.join(top.path, len(top.container)), line)
            top.container.append(value)
            return
        if not top.has_key:
            top.has_key, top.key_line, top.merge_pending = True, line, is_merge
            if isinstance(value, (dict, list)):
                self.issues.append(YamlIssue(
                    "complex-key", line, "a mapping key must be a plain value",
                    "Use a plain string as the key.", top.path))
                top.key = str(value)[:40]
            else:
                top.key = value
            return
        key = top.key
        top.has_key = False
        if top.merge_pending:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    top.merges.append(item)
            return
        path = paths.join(top.path, key)
        if key in top.container:
            self.issues.append(YamlIssue(
                "duplicate-key", top.key_line,
                f"duplicate key '{key}' (first at line {self.lines.get(path, '?')})",
                "kubectl rejects duplicate keys: keep one and merge the two values.", path))
        self.lines.setdefault(path, top.key_line)
        top.container[key] = value


def _is_merge(event: ScalarEvent, loader: Any) -> bool:
    if event.tag:
        return event.tag == _MERGE_TAG
    return bool(event.implicit[0]) and event.value == "<<"


def _scalar(event: ScalarEvent, loader: Any) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(ScalarNode, event.value, event.implicit)
    if tag in _STR_TAGS or not tag.startswith("tag:yaml.org,2002:") or tag == _MERGE_TAG:
        return event.value
    # types-PyYAML's ScalarNode wants yaml.error.Mark; libyaml's events carry its own Mark
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark,  # type: ignore[arg-type]
                      event.style)
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError):
        return event.value
