"""Shared helpers for meshgrade's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshgrade.context import Context
from meshgrade.loader import load_folder
from meshgrade.settings import Settings
from meshgrade.source import build_context

TESTS = Path(__file__).resolve().parent
CASES = TESTS / "cases"
REPO = TESTS.parent
EXAMPLES = REPO / "examples"


def context_for(folder: Path, settings: Settings | None = None) -> Context:
    return build_context(load_folder(folder), settings or Settings())


@pytest.fixture
def make_repo(tmp_path: Path):
    """Write {relative path: text or bytes} into a fresh folder and return it."""

    def make(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return tmp_path

    return make
