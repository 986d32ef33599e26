"""Rubrics: which checks count, for how many points, seen by whom; validated with lines."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .layout import builtin_dir, builtin_names
from .results import Visibility
from .settings import Settings

if TYPE_CHECKING:
    from ..submission import yamlload

_TOP = {"name", "title", "description", "checks", "settings", "extra", "shared_files"}
_CHECK = {"points", "hint", "visibility", "partial", "count_skipped", "promote_warnings"}
_EXTRA = {"path", "points", "visibility", "name"}
_VIS = {v.value for v in Visibility}


class RubricError(Exception):
    """An invalid rubric: every problem with its file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CheckRule:
    id: str
    points: float = 1.0
    hint: str | None = None
    visibility: Visibility = Visibility.VISIBLE
    partial: bool = True
    count_skipped: bool = False
    promote_warnings: bool = False  # the check's warnings cost points like errors


@dataclass(frozen=True)
class ExtraSuite:
    """An instructor's folder of pytest checks: each test is worth ``points``."""

    path: Path
    points: float = 1.0
    visibility: Visibility = Visibility.VISIBLE
    name: str = "extra"


@dataclass(frozen=True)
class Rubric:
    name: str
    title: str
    checks: dict[str, CheckRule]
    settings: Settings = field(default_factory=Settings)
    extra: tuple[ExtraSuite, ...] = ()
    source: str = ""
    digest: str = ""  # sha256 hex of the rubric file's bytes, recorded in results.json
    shared_files: tuple[Path, ...] = ()  # the course's given YAML: not copied work (batch)


def _read(name_or_path: str) -> tuple[Path, bytes]:
    """The rubric file (a built-in by name, else the file) and its bytes; RubricError."""
    path = Path(name_or_path)
    if name_or_path in builtin_names() or not path.is_file():
        # a built-in name always means the built-in rubric, even beside a file of that name
        candidate = builtin_dir() / f"{name_or_path}.yaml"
        if not candidate.is_file():
            raise RubricError([f"{name_or_path}: no such rubric file, and not a built-in rubric "
                               f"(built-in: {', '.join(builtin_names())})"])
        path = candidate
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RubricError([f"{path}: cannot read: {exc}"]) from exc
    if len(data) > 1024 * 1024:
        raise RubricError([f"{path}: larger than 1 MiB"])
    return path, data


def digest_of(name_or_path: str) -> str:
    """The sha256 hex digest of a built-in rubric (by name) or a rubric file; RubricError."""
    return hashlib.sha256(_read(name_or_path)[1]).hexdigest()


def load(name_or_path: str, known_ids: Collection[str]) -> Rubric:
    """A built-in rubric by name, or a rubric file; raises RubricError. ``known_ids`` may
    map each ID to its check, whose ``points`` a rule without points takes."""
    path, data = _read(name_or_path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RubricError([f"{path}: not UTF-8 text"]) from exc
    return parse(text, str(path), known_ids, digest=hashlib.sha256(data).hexdigest())


def parse(text: str, where: str, known_ids: Collection[str], *,
          digest: str | None = None) -> Rubric:
    """A rubric from its text; ``digest`` defaults to the sha256 of the text as UTF-8."""
    from ..submission import yamlload  # start-up: yaml, not for --help

    docs, issues = yamlload.parse(text)
    problems = [f"{where}:{i.line}: {i.message}" for i in issues]
    if problems:
        raise RubricError(problems)
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        raise RubricError([f"{where}:1: a rubric is one YAML mapping"])
    rubric = _Validator(docs[0], where, known_ids).rubric()
    return replace(rubric, digest=digest or hashlib.sha256(text.encode()).hexdigest())


class _Validator:
    def __init__(self, doc: yamlload.Document, where: str, known: Collection[str]) -> None:
        self.data: dict[str, Any] = doc.value
        self.lines = doc.lines
        self.where = where
        self.known = known
        self.problems: list[str] = []

    def err(self, path: str, message: str) -> None:
        line = self.lines.get(path) or self.lines.get(path.rsplit(".", 1)[0], 1)
        self.problems.append(f"{self.where}:{line}: {path}: {message}")

    def rubric(self) -> Rubric:
        d = self.data
        for key in d:
            if key not in _TOP:
                self.err(str(key), f"unknown key (allowed: {', '.join(sorted(_TOP))})")
        name = d.get("name")
        if not isinstance(name, str) or not name:
            self.err("name", "'name' must be a non-empty string")
        checks = self._checks(d.get("checks"))
        settings = self._settings(d.get("settings"))
        extra = self._extra(d.get("extra"))
        shared = self._shared_files(d.get("shared_files"))
        if self.problems:
            raise RubricError(self.problems)
        return Rubric(str(name), str(d.get("title") or name), checks, settings, extra,
                      self.where, shared_files=shared)

    def _points(self, value: Any, path: str) -> float:
        """``value`` as points (a number >= 0), else 0 after a problem at ``path.points``."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.err(f"{path}.points", "points must be a number >= 0")
            return 0.0
        return float(value)

    def _visibility(self, value: Any, path: str) -> str:
        """``value`` if it is a visibility, else visible after a problem."""
        if value not in _VIS:
            self.err(f"{path}.visibility", f"must be one of {', '.join(sorted(_VIS))}")
            return "visible"
        return str(value)

    def _default_points(self, cid: str) -> float:
        """The points declared on the check (1 when only its ID is known)."""
        known = self.known
        declared = known.get(cid) if isinstance(known, Mapping) else None
        points = getattr(declared, "points", 1.0)
        return float(points) if isinstance(points, (int, float)) else 1.0

    def _checks(self, value: Any) -> dict[str, CheckRule]:
        if not isinstance(value, dict) or not value:
            self.err("checks", "'checks' must map check IDs to {points: N}")
            return {}
        out = {}
        for cid, rule in value.items():
            path = f"checks.{cid}"
            if cid not in self.known:
                self.err(path, f"unknown check ID '{cid}' (see `meshgrade checks`)")
                continue
            rule = {} if rule is None else rule
            if not isinstance(rule, dict):
                self.err(path, "must be a mapping such as {points: 2}")
                continue
            for key in rule:
                if key not in _CHECK:
                    self.err(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(_CHECK))})")
            points = self._points(rule.get("points", self._default_points(str(cid))), path)
            vis = self._visibility(rule.get("visibility", "visible"), path)
            for flag in ("partial", "count_skipped", "promote_warnings"):
                if flag in rule and not isinstance(rule[flag], bool):
                    self.err(f"{path}.{flag}", "must be true or false")
            hint = rule.get("hint")
            if hint is not None and not isinstance(hint, str):
                self.err(f"{path}.hint", "must be a string")
            out[str(cid)] = CheckRule(str(cid), float(points), hint, Visibility(vis),
                                      rule.get("partial", True) is True,
                                      rule.get("count_skipped", False) is True,
                                      rule.get("promote_warnings", False) is True)
        return dict(sorted(out.items()))

    def _settings(self, value: Any) -> Settings:
        if value is None:
            return Settings()
        if not isinstance(value, dict):
            self.err("settings", "must be a mapping")
            return Settings()
        types = {"weights_total_100": bool, "expected_split": dict, "ingress_labels": dict,
                 "app_service": str, "namespace": str, "bookinfo_baseline": bool,
                 "skipped_count": bool, "oracle": dict}
        for key, val in value.items():
            want = types.get(key)
            if want is None:
                allowed = ", ".join(sorted(types))
                self.err(f"settings.{key}", f"unknown setting (allowed: {allowed})")
            elif not isinstance(val, want) or (want is not bool and isinstance(val, bool)):
                self.err(f"settings.{key}", f"must be a {want.__name__}")
        split = value.get("expected_split")
        if isinstance(split, dict):
            for k, v in split.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    self.err(f"settings.expected_split.{k}", "must be a number >= 0")
        return Settings.from_mapping(value)

    def _shared_files(self, value: Any) -> tuple[Path, ...]:
        """YAML files or folders every student was given (relative to the rubric)."""
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.err("shared_files", "must be a list of YAML files or folders")
            return ()
        base = Path(self.where).parent
        out = []
        for i, item in enumerate(value):
            path = Path(item) if Path(item).is_absolute() else base / item
            if not path.exists():
                self.err(f"shared_files[{i}]", f"{path} does not exist")
            out.append(path)
        return tuple(out)

    def _extra(self, value: Any) -> tuple[ExtraSuite, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.err("extra", "must be a list of {path: FOLDER, points: N}")
            return ()
        out = []
        base = Path(self.where).parent
        for i, item in enumerate(value):
            path = f"extra[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                self.err(path, "must be a mapping with 'path' (a folder of pytest files)")
                continue
            for key in item:
                if key not in _EXTRA:
                    self.err(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(_EXTRA))})")
            folder = Path(item["path"])
            folder = folder if folder.is_absolute() else base / folder
            if not folder.exists():
                self.err(f"{path}.path", f"folder {folder} does not exist")
            points = self._points(item.get("points", 1), path)
            vis = self._visibility(item.get("visibility", "visible"), path)
            out.append(ExtraSuite(folder, float(points), Visibility(vis),
                                  str(item.get("name") or folder.name)))
        return tuple(out)


def load_or_report(name_or_path: str) -> Rubric | None:
    """The rubric against the registered checks, or None after printing its problems (with
    file and line) on stderr."""

    from . import registry  # start-up: yaml and the checks

    try:
        return load(name_or_path, registry.checks())
    except RubricError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None

