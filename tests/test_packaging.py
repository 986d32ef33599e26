"""The installed package must carry everything a run needs (suites, fixtures, rubrics, data),
and work from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import EXAMPLES, PATIENCE_S, REPO

SKIP = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                              ".hypothesis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the checkout (no stale build/ folder can leak into it)."""
    root = tmp_path_factory.mktemp("wheel")
    source = shutil.copytree(REPO, root / "src", ignore=SKIP)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(root), str(source)],
                   check=True, capture_output=True, timeout=PATIENCE_S * 5)
    (built,) = root.glob("meshgrade-*.whl")
    return built


@pytest.mark.slow
def test_wheel_ships_suites_fixtures_rubrics_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"meshgrade/checks/test_files.py", "meshgrade/fixtures/submission.py",
              "meshgrade/rubrics/istio-full.yaml", "meshgrade/py.typed",
              "meshgrade/reports/results.schema.json",
              "meshgrade/reports/templates/report.html.j2", "meshgrade/schema/gateway_api.json"}
    for folder in ("meshgrade/data", "checks", "fixtures", "rubrics"):
        for path in (REPO / folder).iterdir():
            if path.is_file() and path.suffix in (".py", ".yaml", ".ini", ".json"):
                prefix = {"checks": "meshgrade/checks", "fixtures": "meshgrade/fixtures",
                          "rubrics": "meshgrade/rubrics"}.get(folder, folder)
                wanted.add(f"{prefix}/{path.name}")
    for init in (REPO / "meshgrade").rglob("__init__.py"):
        wanted.add(init.relative_to(REPO).as_posix())
    assert wanted <= names, sorted(wanted - names)


@pytest.mark.slow
def test_the_installed_package_grades_from_any_folder(wheel: Path, tmp_path: Path) -> None:
    """The wheel unpacked alone on the path (its dependencies from this environment), run from
    a folder that is not a checkout: the checks, fixtures and rubrics come from the package."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-c", "import meshgrade; print(meshgrade.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip().startswith(str(site)), probe.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "meshgrade", "grade", str(EXAMPLES / "part1-bookinfo"),
         "--rubric", "istio-part1", "--mode", "repo", "--out", "out", "--format", "json"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=PATIENCE_S * 3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((elsewhere / "out" / "results.json").read_text("utf-8"))
    assert results["score"] == results["max_score"] > 0
    assert all(c["outcome"] in ("passed", "skipped") for c in results["checks"])
