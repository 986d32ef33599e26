"""Import one generated cloudcoil model module without importing all its siblings.

``cloudcoil.models.kubernetes`` and ``cloudcoil.models.istio`` import every model module of
their family in their ``__init__`` (about 1.5 s each), and every submodule import runs them.
To read one module (about 0.3 s) we load the same files under a private package name whose
parent packages are bare namespaces, so nothing in ``cloudcoil.models.*`` changes. If the real
module is already imported, it is used as it is.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import types

from . import groups

_ALIAS = "_meshgrade_cloudcoil_models"
_lock = threading.Lock()


def load(bundle: str) -> types.ModuleType:
    """The model module of a bundle id such as ``kubernetes.apps.v1``."""
    real = sys.modules.get(groups.module_name(bundle))
    if real is not None:
        return real
    root = groups.models_dir()
    if root is None:
        return importlib.import_module(groups.module_name(bundle))
    with _lock:
        try:
            _ensure_parents(root, bundle)
            return importlib.import_module(f"{_ALIAS}.{bundle}")
        except ImportError:
            return importlib.import_module(groups.module_name(bundle))


def _ensure_parents(root: str, bundle: str) -> None:
    parts = bundle.split(".")[:-1]
    _package(_ALIAS, root)
    for depth in range(1, len(parts) + 1):
        _package(".".join([_ALIAS, *parts[:depth]]), os.path.join(root, *parts[:depth]))


def _package(name: str, path: str) -> None:
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    module.__path__ = [path]
    module.__package__ = name
    sys.modules[name] = module
