"""A detached lab's state folder: ``state.json`` (pid, URLs, status) and ``lab.log``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def state_dir(given: str | None = None) -> Path:
    """``--state``, else ``$MESHGRADE_LAB_STATE``, else one folder per user."""
    if given:
        return Path(given)
    if os.environ.get("MESHGRADE_LAB_STATE"):
        return Path(os.environ["MESHGRADE_LAB_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "meshgrade" / "lab"


def write(folder: Path, data: dict[str, Any]) -> None:
    """Replace state.json atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, folder / "state.json")


def read(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
