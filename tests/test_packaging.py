"""The installed package must carry everything a run needs (suites, fixtures, rubrics, data)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_wheel_ships_suites_fixtures_rubrics_and_data(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("meshgrade-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"meshgrade/_suite/test_files.py", "meshgrade/_fixtures/submission.py",
              "meshgrade/_rubrics/istio-full.yaml", "meshgrade/reports/results.schema.json",
              "meshgrade/reports/templates/report.html.j2", "meshgrade/schema/gateway_api.json"}
    for folder in ("meshgrade/data", "checks", "fixtures", "rubrics"):
        for path in (REPO / folder).iterdir():
            if path.is_file() and path.suffix in (".py", ".yaml", ".ini", ".json"):
                prefix = {"checks": "meshgrade/_suite", "fixtures": "meshgrade/_fixtures",
                          "rubrics": "meshgrade/_rubrics"}.get(folder, folder)
                wanted.add(f"{prefix}/{path.name}")
    for init in (REPO / "meshgrade").rglob("__init__.py"):
        wanted.add(init.relative_to(REPO).as_posix())
    assert wanted <= names, sorted(wanted - names)
