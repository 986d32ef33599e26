"""Opening a submission (folder or git URL) and building what the checks read."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import baseline
from .context import Context
from .gitsource import SourceError, clone, is_git_url, read_head, redact_url
from .index import ObjectIndex
from .limits import Limits
from .loader import LoadedSubmission, load_folder
from .settings import Settings

__all__ = ["SourceError", "OpenedSource", "open_source", "build_context"]


@dataclass
class OpenedSource:
    submission: LoadedSubmission
    cleanup: list[Path] = field(default_factory=list)

    def close(self) -> None:
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self.cleanup.clear()


def open_source(source: str, limits: Limits = Limits()) -> OpenedSource:
    """Load a folder, or clone a git URL first; raises SourceError."""
    if is_git_url(source):
        folder, commit = clone(source, limits)
        try:
            return OpenedSource(load_folder(folder, source=redact_url(source), commit=commit,
                                            limits=limits),
                                [folder.parent])
        except BaseException:  # interrupted too: no clone left behind
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise
    problem = not_a_folder(source)
    if problem:
        raise FileNotFoundError(problem)
    path = Path(source)
    return OpenedSource(load_folder(path, source=source, commit=read_head(path), limits=limits))


def not_a_folder(source: str) -> str | None:
    """What is wrong with a local submission path (a file, or nothing), or None."""
    path = Path(source)
    if path.is_dir():
        return None
    if path.exists():
        return f"{source} is a file: give the folder that holds it (or a git URL)"
    return f"{source}: no such folder (give a folder or a git URL)"


def build_context(sub: LoadedSubmission, settings: Settings) -> Context:
    index = ObjectIndex(sub.objects, baseline.objects(bookinfo=settings.bookinfo_baseline))
    return Context(index=index, settings=settings, source="repo", submission=sub)
