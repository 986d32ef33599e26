"""The code before issue 12 ("Fast"), run beside the working tree by the benchmarks.

``old_tree()`` extracts commit ``BASE`` with ``git archive`` (read-only for the repository) into
a temporary folder, with the package-data names the installed package has (``_suite``,
``_fixtures``, ``_rubrics`` before checks became pytest tests; ``checks``, ``fixtures``,
``rubrics`` since) linked to its own folders; ``env(tree)`` is the environment that
runs it (``PYTHONPATH`` first, so ``python -m meshgrade`` and the pytest plugin are the old
ones), or the working tree with ``tree=None``. Both sides keep compiled bytecode in one
temporary ``PYTHONPYCACHEPREFIX`` (as an installed package has its ``.pyc`` files), so a
first warm-up run compiles and the timed runs read bytecode, whatever ``PYTHONDONTWRITEBYTECODE``
says in the calling shell.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "4a90534"  # the commit the "now" figures were measured on
_TMP = Path(tempfile.mkdtemp(prefix="meshgrade-baseline-"))
atexit.register(shutil.rmtree, _TMP, True)


def old_tree(commit: str = BASE) -> Path:
    """``commit``'s tree, extracted once per process."""
    dest = _TMP / commit
    if not dest.exists():
        dest.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        # package-data names: `_suite`... before checks became pytest tests, `checks`... since
        for link, target in (("_suite", "checks"), ("_fixtures", "fixtures"),
                             ("_rubrics", "rubrics"), ("checks", "checks"),
                             ("fixtures", "fixtures"), ("rubrics", "rubrics")):
            if not (dest / "meshgrade" / link).exists() and (dest / target).is_dir():
                (dest / "meshgrade" / link).symlink_to(dest / target)
    return dest


def env(tree: Path | None, **extra: str) -> dict[str, str]:
    """The environment running ``tree`` (None: the working tree)."""
    out = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    out["PYTHONPYCACHEPREFIX"] = str(_TMP / "pycache")
    if tree is not None:
        out["PYTHONPATH"] = str(tree)
    return {**out, **extra}


SIDES = {"old": lambda: env(old_tree()), "new": lambda: env(None)}
