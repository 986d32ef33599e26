"""``results.json``: the full run, instructor view, schema ``meshgrade.results/v1``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshgrade.reports._common import write_text
from meshgrade.results import RunResult

FILENAME = "results.json"
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


def to_json(run: RunResult) -> str:
    """The run as indented UTF-8 JSON; values JSON cannot hold become strings."""
    data = run.to_dict(instructor=True)
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def load_schema() -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) for ``results.json``."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def write(run: RunResult, out_dir: Path) -> Path:
    """Write ``out_dir/results.json``."""
    return write_text(out_dir / FILENAME, to_json(run))
