"""Loading a submission: every YAML file below a folder, as located objects and issues."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from . import yamlload
from .limits import BUDGET_HINT, MIB, Limits
from .objects import KObject

YAML_SUFFIXES = (".yaml", ".yml")
_BUDGETS = {"alias-bomb": "max_nodes", "too-many-nodes": "max_nodes",
            "too-many-documents": "max_documents"}


@dataclass
class FileIssue:
    """A problem with a file as a whole or one line of it (feeds MG101)."""

    file: str
    code: str
    message: str
    line: int | None = None
    hint: str = ""
    path: str | None = None


@dataclass
class Manifest:
    """A YAML document that looks like a Kubernetes object (has ``kind`` or
    ``apiVersion`` + ``metadata``), or any document of a file that holds one."""

    file: str
    index: int
    line: int
    value: Any
    lines: dict[str, int]


@dataclass
class LoadedSubmission:
    root: Path
    source: str
    commit: str | None = None
    files: list[str] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)
    objects: list[KObject] = field(default_factory=list)
    issues: list[FileIssue] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    budget_exceeded: list[str] = field(default_factory=list)
    """One reason per submission budget exceeded (``Limits``): the submission was read
    only in part, so nothing should be built from it as if whole (e.g. a lab)."""


def load_folder(root: Path, *, source: str | None = None, commit: str | None = None,
                limits: Limits = Limits()) -> LoadedSubmission:
    """Read every ``*.yaml``/``*.yml`` below ``root`` (not ``.git``), never leaving ``root``.
    The first submission budget exceeded (see ``Limits``) stops the reading there."""
    root = root.resolve()
    sub = LoadedSubmission(root=root, source=source or str(root), commit=commit)
    _load(sub, _walk(root, sub, limits), limits)
    return sub


def load_files(root: Path, names: Iterable[str], *, source: str | None = None,
               limits: Limits = Limits()) -> LoadedSubmission:
    """Read only the files ``names`` (paths relative to ``root``, in the order given; any
    suffix), as :func:`load_folder` reads a folder's files: regular files only, no symbolic
    link followed, nothing outside ``root``, the same budgets. Nothing else of ``root`` is
    listed or read."""
    root = root.resolve()
    sub = LoadedSubmission(root=root, source=source or str(root))
    found: list[tuple[str, str]] = []
    for name in dict.fromkeys(names):
        rel = PurePosixPath(Path(name).as_posix())
        full = root / rel
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or \
                not _inside(root, Path(os.path.realpath(full.parent))):
            sub.issues.append(FileIssue(str(rel), "outside", f"not inside {root}: not read"))
            continue
        if full.is_symlink():
            _report_link_file(full, str(rel), sub)
            continue
        if len(found) >= limits.max_files:
            _over_budget(sub, str(rel), "too-many", "max_files",
                         f"more than {limits.max_files:,} YAML files", "this file and the rest")
            break
        found.append((_rel(root, full), str(full)))
    _load(sub, found, limits)
    return sub


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _load(sub: LoadedSubmission, found: list[tuple[str, str]], limits: Limits) -> None:
    """Read, decode and parse the files ``found`` ((shown path, full path)) into ``sub``,
    stopping at the first submission budget exceeded."""
    usage = yamlload.Usage()
    total = 0
    for n, (rel, full) in enumerate(found):
        data = _read(full, rel, sub, limits)
        if data is None:
            continue
        total += len(data)
        later = len(found) - n - 1
        if total > limits.max_total_bytes:
            _over_budget(sub, rel, "too-large", "max_total_bytes",
                         f"{_size(total)} of YAML, over the limit of "
                         f"{_size(limits.max_total_bytes)}", _not_read("this file", later))
            break
        text = _decode(data, rel, sub)
        if text is not None:
            sub.files.append(rel)
            if not _parse(text, rel, sub, limits, usage, later):
                break
    _make_objects(sub)


def _over_budget(sub: LoadedSubmission, rel: str, code: str, budget: str, reached: str,
                 not_read: str, line: int | None = None, hint: str = BUDGET_HINT) -> None:
    """Record a submission budget exceeded: one issue (an MG101 finding) and its reason."""
    sub.issues.append(FileIssue(rel, code, f"submission budget {budget} exceeded: {reached}; "
                                f"not read: {not_read}", line, hint))
    sub.budget_exceeded.append(f"{budget}: {reached} (in {rel})")


def _not_read(first: str, later: int) -> str:
    return f"{first} and {later} more file(s)" if later else first


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:.1f} KiB"


def _walk(root: Path, sub: LoadedSubmission, limits: Limits) -> list[tuple[str, str]]:
    """(relative posix path, full path) of the YAML files, sorted, without following links."""
    found = 0
    stack = [root]
    out: list[tuple[str, str]] = []
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            sub.issues.append(FileIssue(_rel(root, folder), "unreadable", f"cannot list: {exc}"))
            continue
        for entry in entries:
            rel = _rel(root, Path(entry.path))
            if entry.is_symlink():
                if entry.name.endswith(YAML_SUFFIXES) or _is_dir_link(entry):
                    _report_link(root, entry, rel, sub)
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git":
                    stack.append(Path(entry.path))
                continue
            if not entry.name.endswith(YAML_SUFFIXES):
                continue
            found += 1
            if found > limits.max_files:
                _over_budget(sub, rel, "too-many", "max_files",
                             f"more than {limits.max_files:,} YAML files",
                             "this file and the files not yet listed")
                return sorted(out)
            out.append((rel, entry.path))
    return sorted(out)


def _is_dir_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _report_link(root: Path, entry: os.DirEntry[str], rel: str, sub: LoadedSubmission) -> None:
    try:
        target = os.readlink(entry.path)
    except OSError:
        target = "?"
    resolved = Path(os.path.realpath(entry.path))
    inside = resolved == root or root in resolved.parents
    if inside:
        sub.ignored.append((rel, f"symbolic link to {target} inside the submission: "
                                 "not read twice"))
    else:
        sub.issues.append(FileIssue(
            rel, "symlink", f"symbolic link pointing out of the submission ({target}): not read",
            hint="Commit the file itself instead of a link to a file outside the repository."))


def _report_link_file(path: Path, rel: str, sub: LoadedSubmission) -> None:
    """A file named to :func:`load_files` that is a symbolic link: never followed."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    sub.issues.append(FileIssue(rel, "symlink", f"symbolic link ({target}): not read",
                                hint="Name the file itself, not a link to it."))


def _rel(root: Path, path: Path) -> str:
    """The path shown in findings: relative, posix, and valid Unicode even when the file
    name's bytes are not UTF-8 (such bytes appear as U+FFFD)."""
    rel = path.relative_to(root).as_posix() if path != root else "."
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read(full: str, rel: str, sub: LoadedSubmission, limits: Limits) -> bytes | None:
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(full, flags)
    except OSError as exc:
        sub.issues.append(FileIssue(rel, "unreadable", f"cannot open: {exc.strerror or exc}"))
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            sub.issues.append(FileIssue(rel, "not-a-file", "not a regular file: not read"))
            return None
        if info.st_size > limits.max_file_bytes:
            sub.issues.append(_too_big(rel, info.st_size, limits))
            return None
        data = handle.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:
        sub.issues.append(_too_big(rel, len(data), limits))
        return None
    return data


def _too_big(rel: str, size: int, limits: Limits) -> FileIssue:
    return FileIssue(rel, "too-large", f"file is {size / 2**20:.1f} MiB, over the "
                     f"{limits.max_file_bytes / 2**20:g} MiB limit: not read",
                     hint="Manifests are small: remove generated or data files from the repo.")


def _decode(data: bytes, rel: str, sub: LoadedSubmission) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:8192]:
        sub.issues.append(FileIssue(rel, "binary", "binary file with a YAML name: not read",
                                    hint="Save the manifest as UTF-8 text."))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        sub.issues.append(FileIssue(rel, "encoding", f"not valid UTF-8 (byte {exc.start})", line,
                                    hint="Save the file as UTF-8."))
        return None


def _parse(text: str, rel: str, sub: LoadedSubmission, limits: Limits, usage: yamlload.Usage,
           later: int) -> bool:
    """Parse one file into ``sub``; False when it exceeded a submission budget."""
    if _is_helm_template(text, rel, sub.root):
        sub.ignored.append((rel, "Helm template: not plain YAML, not graded"))
        return True
    docs, issues = yamlload.parse(text, max_depth=limits.max_depth, max_nodes=limits.max_nodes,
                                  max_documents=limits.max_documents, usage=usage)
    within = True
    for issue in issues:
        if issue.code in _BUDGETS:
            within = False
            _over_budget(sub, rel, issue.code, _BUDGETS[issue.code], issue.message,
                         _not_read(f"the rest of this file (from line {issue.line})", later),
                         issue.line or None, issue.hint)
            continue
        sub.issues.append(FileIssue(rel, issue.code, issue.message, issue.line or None,
                                    issue.hint, issue.path))
    docs = [d for d in docs if d.value is not None]
    if not any(_looks_like_object(d.value) for d in docs):
        if docs:
            sub.ignored.append((rel, "no Kubernetes object in it (not a manifest)"))
        return within
    for d in docs:
        sub.manifests.append(Manifest(rel, d.index, d.line, d.value, d.lines))
    return within


def _is_helm_template(text: str, rel: str, root: Path) -> bool:
    if "{{" not in text:
        return False
    parts = Path(rel).parts
    return "templates" in parts and (root / Path(*parts[: parts.index("templates")])
                                     / "Chart.yaml").is_file()


def _looks_like_object(value: Any) -> bool:
    return isinstance(value, dict) and ("kind" in value or
                                        ("apiVersion" in value and "metadata" in value))


def _make_objects(sub: LoadedSubmission) -> None:
    order = 0
    for man in sub.manifests:
        value = man.value
        if not isinstance(value, dict):
            continue
        items = value.get("items") if str(value.get("kind", "")).endswith("List") else None
        if isinstance(items, list):
            item_lines = _item_lines(man.lines)
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    lines = item_lines.get(i, {})
                    sub.objects.append(KObject(item, man.file, lines.get("", man.line), man.index,
                                               order, lines=lines))
                    order += 1
            continue
        sub.objects.append(KObject(value, man.file, man.line, man.index, order, lines=man.lines))
        order += 1


def _item_lines(lines: dict[str, int]) -> dict[int, dict[str, int]]:
    """The lines of each ``items[i]`` of a List, relative to the item, in one pass (a pass
    per item would be quadratic in the size of the List)."""
    out: dict[int, dict[str, int]] = {}
    for path, line in lines.items():
        if not path.startswith("items["):
            continue
        end = path.find("]")
        index = path[6:end]
        if not index.isdigit():
            continue
        rest = path[end + 1:]
        out.setdefault(int(index), {})[rest[1:] if rest.startswith(".") else rest] = line
    return out
