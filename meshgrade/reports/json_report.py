"""``results.json``: the full run, instructor view, schema ``meshgrade.results/v1``.

With a key the document carries an HMAC-SHA256 ``signature`` (see :mod:`meshgrade.grading.signing`);
it covers every member, so also the rubric's digest, the student and the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshgrade.grading.results import RunResult
from meshgrade.grading.signing import sign
from meshgrade.reports.formatting import write_text

FILENAME = "results.json"
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


def to_data(run: RunResult, key: bytes | None = None) -> dict[str, Any]:
    """The run as plain JSON data (values JSON cannot hold become strings), signed when
    ``key`` is given. Signing the parsed-back form makes the signature match the file."""
    data = json.loads(json.dumps(run.to_dict(instructor=True), default=str))
    return sign(data, key) if key else data


def to_json(run: RunResult, key: bytes | None = None) -> str:
    """The run as indented UTF-8 JSON, signed when ``key`` is given."""
    return json.dumps(to_data(run, key), indent=2, ensure_ascii=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) for ``results.json``."""
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def write(run: RunResult, out_dir: Path, key: bytes | None = None) -> Path:
    """Write ``out_dir/results.json`` (signed when ``key`` is given)."""
    return write_text(out_dir / FILENAME, to_json(run, key))
