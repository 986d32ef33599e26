"""Opening a submission (folder or git URL) and building what the checks read."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..grading.context import Context
from ..grading.history import Pick
from ..grading.settings import Settings
from . import baseline
from .gitsource import Pin, SourceError, clone, clone_pinned, is_git_url, read_head, redact_url
from .index import ObjectIndex
from .limits import Limits
from .loader import LoadedSubmission, load_folder

__all__ = ["Pin", "SourceError", "OpenedSource", "open_source", "build_context"]


@dataclass
class OpenedSource:
    submission: LoadedSubmission
    cleanup: list[Path] = field(default_factory=list)
    pick: Pick | None = None  # the commit a due time or --commit chose

    def close(self) -> None:
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self.cleanup.clear()


def open_source(source: str, limits: Limits = Limits(), pin: Pin | None = None
                ) -> OpenedSource:
    """Load a folder, or clone a git URL first; with ``pin``, the commit it chooses (from a
    clone of the URL or of the folder's own ``.git``). Raises SourceError."""
    if not is_git_url(source) and (problem := not_a_folder(source)):
        raise FileNotFoundError(problem)
    if pin is not None or is_git_url(source):
        pick: Pick | None = None
        if pin is not None:
            folder, pick = clone_pinned(source, limits, pin)
            commit: str | None = pick.commit
        else:
            folder, commit = clone(source, limits)
        try:
            return OpenedSource(load_folder(folder, source=redact_url(source), commit=commit,
                                            limits=limits),
                                [folder.parent], pick)
        except BaseException:  # interrupted too: no clone left behind
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise
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
