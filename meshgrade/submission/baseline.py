"""The built-in baselines: the Istio demo install and Bookinfo, as located objects."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from . import yamlload
from .objects import KObject


@lru_cache(maxsize=4)
def _load(name: str) -> tuple[KObject, ...]:
    text = resources.files("meshgrade").joinpath(f"data/baseline-{name}.yaml").read_text("utf-8")
    docs, issues = yamlload.parse(text)
    if issues:
        raise RuntimeError(f"built-in baseline {name} is broken: {issues}")
    return tuple(KObject(d.value, f"<baseline:{name}>", d.line, d.index, origin="baseline",
                         lines=d.lines) for d in docs if isinstance(d.value, dict))


def objects(bookinfo: bool = True, *, lab: bool = False) -> list[KObject]:
    """The Istio install, plus Bookinfo unless ``bookinfo`` is False. ``lab`` adds what the
    course's Quick start leaves running: Kiali, Prometheus and the Bookinfo gateway."""
    out = list(_load("istio"))
    if lab:
        out.extend(_load("addons"))
    if bookinfo:
        out.extend(_load("bookinfo"))
        if lab:
            out.extend(_load("bookinfo-gateway"))
    return out
