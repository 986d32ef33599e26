"""Field paths such as ``spec.http[0].route[1].destination.subset``."""

from __future__ import annotations

import re

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def join(parent: str, key: str | int) -> str:
    """Append a mapping key or a list index to a field path."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]"
    text = str(key)
    if _PLAIN_KEY.match(text):
        return f"{parent}.{text}" if parent else text
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'{parent}["{quoted}"]'


def parents(path: str) -> list[str]:
    """The path itself and every ancestor, nearest first, ending with ``""``."""
    out = [path]
    while path:
        cut = max(path.rfind("."), path.rfind("["))
        if path.endswith('"]'):
            cut = path.rfind('["')
        path = path[:cut] if cut > 0 else ""
        out.append(path)
    return out
