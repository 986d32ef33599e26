"""Copied work: pairs of submissions whose own objects are near-identical.

Each grade process of a batch writes the submission's own objects to ``objects.json`` beside
its reports (``MESHGRADE_OBJECTS_FILE``, set by the batch). Here every object becomes a bag of
features, ``Kind|field.path[]=value``, after normalising what does not make work different:

- names: every object name, namespace and ``app`` label value of the submission (and of the
  shared objects) is replaced by ``~`` wherever it appears in a value, so a renamed copy
  matches its original;
- order: keys are paths and list positions are dropped (``[]``); the order of files and of
  documents does not exist in a bag; comments and whitespace are gone with the YAML;
- ``apiVersion`` keeps its group only; metadata other than labels, and ``status``, go.

Then what everyone shares is taken out: every feature of the built-in baseline (Istio's demo
install, Bookinfo), of the Istio docs' samples (``data/istio-samples.yaml``) and of the
rubric's ``shared_files``. Two submissions are compared by weighted Jaccard similarity over
what is left (a feature's weight is its rarity in the class, ``log(1 + N / df)``), on an
inverted index: only pairs that share a feature cost anything.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from meshgrade.submission import baseline, yamlload
from meshgrade.submission.loader import load_folder

OBJECTS_FILE = "objects.json"
ENV = "MESHGRADE_OBJECTS_FILE"  # set by the batch: the grade process writes this file
DEFAULT_SIMILARITY = 0.9
MIN_FEATURES = 6    # less of one's own than this is too little to call a copy
MATCH_AT = 0.5      # objects shown side by side when at least this similar
MAX_SHOWN = 12      # object pairs shown per student pair
_DROPPED_META = frozenset({"name", "namespace", "annotations", "uid", "resourceVersion",
                           "generation", "creationTimestamp", "managedFields", "ownerReferences",
                           "generateName", "selfLink"})

Bag = Counter[str]


@dataclass
class Obj:
    """One object of a submission as ``objects.json`` holds it."""

    kind: str
    name: str
    namespace: str
    file: str
    line: int
    raw: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace,
                "file": self.file, "line": self.line, "object": self.raw}

    @classmethod
    def from_dict(cls, data: Any) -> Obj | None:
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            return None
        line = data.get("line")
        return cls(str(data.get("kind") or ""), str(data.get("name") or ""),
                   str(data.get("namespace") or ""), str(data.get("file") or ""),
                   line if isinstance(line, int) else 0, data["object"])


def dump(objects: Iterable[Any]) -> str:
    """``objects.json`` for a submission's own objects (``KObject``s)."""
    return json.dumps([Obj(o.kind, o.name, o.namespace, o.file or "", o.line or 0,
                           o.raw).to_dict() for o in objects], default=str)


def read(path: Path) -> list[Obj] | None:
    """The objects of one ``objects.json``; None when missing or unreadable."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list):
        return None
    return [o for o in map(Obj.from_dict, data) if o is not None]


# -- normalising --------------------------------------------------------------------------------

def names_of(raws: Iterable[Mapping[str, Any]]) -> set[str]:
    """Object names, namespaces and ``app`` label values: what a renamed copy renames."""
    out: set[str] = set()
    for raw in raws:
        meta = raw.get("metadata")
        if isinstance(meta, Mapping):
            out.update(str(meta[k]) for k in ("name", "namespace") if meta.get(k))
        _app_labels(raw, out)
    return {n for n in out if len(n) >= 2}


def _app_labels(node: Any, out: set[str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "app" and isinstance(value, str):
                out.add(value)
            else:
                _app_labels(value, out)
    elif isinstance(node, list):
        for item in node:
            _app_labels(item, out)


def renamer(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for ``names`` as whole words (longest first); None when there are none."""
    ordered = sorted(set(names), key=lambda n: (-len(n), n))
    if not ordered:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, ordered))
                      + r")(?![A-Za-z0-9])")


def features(raw: Mapping[str, Any], names: re.Pattern[str] | None) -> Bag:
    """The object's normalised features, ``Kind|path=value``."""
    kind = str(raw.get("kind") or "?")
    group = str(raw.get("apiVersion") or "").rpartition("/")[0]
    bag: Bag = Counter([f"{kind}|apiGroup={group}"])
    for key, value in raw.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k not in _DROPPED_META}
        _leaves(value, key, kind, names, bag)
    return bag


def _leaves(node: Any, path: str, kind: str, names: re.Pattern[str] | None, bag: Bag) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _leaves(value, f"{path}.{key}", kind, names, bag)
    elif isinstance(node, list):
        for item in node:
            _leaves(item, f"{path}[]", kind, names, bag)
    else:
        text = node.strip() if isinstance(node, str) else json.dumps(node)
        if names is not None and isinstance(node, str):
            text = names.sub("~", text)
        bag[f"{kind}|{path}={text}"] += 1


# -- what everyone shares -----------------------------------------------------------------------

def _sample_raws() -> list[dict[str, Any]]:
    text = resources.files("meshgrade").joinpath("data/istio-samples.yaml").read_text("utf-8")
    docs, _issues = yamlload.parse(text)
    return [d.value for d in docs if isinstance(d.value, dict)]


@lru_cache(maxsize=1)
def _builtin_shared() -> tuple[dict[str, Any], ...]:
    return (*[o.raw for o in baseline.objects(True, lab=True)], *_sample_raws())


def shared_raws(paths: Sequence[Path] = ()) -> list[dict[str, Any]]:
    """Everyone's objects: the built-in baseline, the docs' samples, and the YAML of
    ``paths`` (the rubric's ``shared_files``: files or folders)."""
    out = list(_builtin_shared())
    for path in paths:
        if path.is_dir():
            out += [o.raw for o in load_folder(path).objects]
        elif path.is_file():
            docs, _issues = yamlload.parse(path.read_text("utf-8", "replace"))
            out += [d.value for d in docs if isinstance(d.value, dict)]
    return out


@dataclass
class Shared:
    """The shared features, and the names every submission's normalising also replaces."""

    names: set[str]
    features: set[str]

    @classmethod
    def of(cls, raws: Sequence[Mapping[str, Any]]) -> Shared:
        names = names_of(raws)
        pattern = renamer(names)
        return cls(names, {f for raw in raws for f in features(raw, pattern)})


# -- comparing ----------------------------------------------------------------------------------

@dataclass
class Submission:
    """A student's own objects and their features once the shared ones are taken out."""

    student: str
    objects: list[Obj]
    bags: list[Bag] = field(default_factory=list)  # per object
    bag: Bag = field(default_factory=Counter)       # all of them

    @classmethod
    def of(cls, student: str, objects: list[Obj], shared: Shared) -> Submission:
        pattern = renamer(names_of(o.raw for o in objects) | shared.names)
        sub = cls(student, objects)
        for obj in objects:
            bag = Counter({f: n for f, n in features(obj.raw, pattern).items()
                           if f not in shared.features})
            sub.bags.append(bag)
            sub.bag.update(bag)
        return sub


@dataclass
class ObjectMatch:
    left: Obj
    right: Obj
    similarity: float


@dataclass
class Pair:
    """Two submissions whose own work is near-identical."""

    left: str
    right: str
    similarity: float
    shared_features: int
    matches: list[ObjectMatch] = field(default_factory=list)


def weights(subs: Sequence[Submission]) -> dict[str, float]:
    """Each feature's rarity in the class: ``log(1 + N / df)``."""
    df: Counter[str] = Counter()
    for sub in subs:
        df.update(sub.bag.keys())
    n = len(subs)
    return {f: math.log(1.0 + n / d) for f, d in df.items()}


def _jaccard(a: Bag, b: Bag, w: Mapping[str, float]) -> float:
    both = sum(min(n, b[f]) * w.get(f, 1.0) for f, n in a.items() if f in b)
    total = sum(n * w.get(f, 1.0) for f, n in a.items()) + \
        sum(n * w.get(f, 1.0) for f, n in b.items()) - both
    return both / total if total > 0 else 0.0


def similarities(subs: Sequence[Submission], w: Mapping[str, float]
                 ) -> dict[tuple[int, int], float]:
    """Weighted Jaccard of every pair that shares a feature (the others are 0). Features
    with the same postings are summed first: the pairs are walked once per posting list."""
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, sub in enumerate(subs):
        for f, n in sub.bag.items():
            postings[f].append((i, n))
    merged: dict[tuple[tuple[int, int], ...], float] = defaultdict(float)
    for f, posting in postings.items():
        if len(posting) > 1:
            merged[tuple(posting)] += w[f]
    both: dict[tuple[int, int], float] = defaultdict(float)
    for shared_by, weight in merged.items():
        for x, (i, n) in enumerate(shared_by):
            for j, m in shared_by[x + 1:]:
                both[(i, j)] += min(n, m) * weight
    totals = [sum(n * w[f] for f, n in sub.bag.items()) for sub in subs]
    return {(i, j): s / (totals[i] + totals[j] - s) for (i, j), s in both.items()
            if totals[i] + totals[j] - s > 0}


def match_objects(a: Submission, b: Submission, w: Mapping[str, float]) -> list[ObjectMatch]:
    """Objects of ``a`` and ``b`` paired one to one, most similar first (own work only)."""
    scored = sorted(((_jaccard(x, y, w), i, j) for i, x in enumerate(a.bags) if x
                     for j, y in enumerate(b.bags) if y), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    out: list[ObjectMatch] = []
    for sim, i, j in scored:
        if sim < MATCH_AT or len(out) >= MAX_SHOWN:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append(ObjectMatch(a.objects[i], b.objects[j], sim))
    return out


def detect(students: Mapping[str, list[Obj]], shared: Shared,
           threshold: float = DEFAULT_SIMILARITY) -> list[Pair]:
    """The pairs of students at least ``threshold`` similar, most similar first; a student
    with fewer than MIN_FEATURES features of their own is compared with nobody."""
    subs = [Submission.of(s, objs, shared) for s, objs in students.items()]
    subs = [s for s in subs if sum(s.bag.values()) >= MIN_FEATURES]
    w = weights(subs)
    pairs = []
    for (i, j), sim in similarities(subs, w).items():
        if sim >= threshold - 1e-9:
            a, b = subs[i], subs[j]
            pairs.append(Pair(a.student, b.student, sim, sum((a.bag & b.bag).values()),
                              match_objects(a, b, w)))
    return sorted(pairs, key=lambda p: (-p.similarity, p.left, p.right))


def detect_in(out: Path, folders: Mapping[str, str], shared_files: Sequence[Path] = (),
              threshold: float = DEFAULT_SIMILARITY) -> list[Pair]:
    """``detect`` over the ``objects.json`` of each student's folder (student -> folder
    name in ``out``); students without one are left out."""
    students = {}
    for student, folder in folders.items():
        found = read(out / folder / OBJECTS_FILE)
        if found:
            students[student] = found
    return detect(students, Shared.of(shared_raws(shared_files)), threshold)


__all__ = ["DEFAULT_SIMILARITY", "ENV", "OBJECTS_FILE", "Obj", "ObjectMatch", "Pair", "Shared",
           "detect", "detect_in", "dump", "features", "read", "shared_raws"]
