"""HMAC-SHA256 signatures for ``results.json``, so a gradebook can refuse edited results.

The signature covers the canonical form of the document (sorted keys, no spaces, UTF-8,
the ``signature`` member itself left out) and sits in the document as
``"signature": {"alg": "HMAC-SHA256", "value": "<64 hex digits>"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ALG = "HMAC-SHA256"
ENV_VAR = "MESHGRADE_SIGN_KEY"
SIGNATURE = "signature"


def canonical(data: dict[str, Any]) -> bytes:
    """The bytes that are signed: ``data`` without ``signature``, as compact sorted JSON."""
    body = {k: v for k, v in data.items() if k != SIGNATURE}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _digest(data: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(data), hashlib.sha256).hexdigest()


def sign(data: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy of ``data`` carrying its signature (any old signature is replaced)."""
    signed = {k: v for k, v in data.items() if k != SIGNATURE}
    signed[SIGNATURE] = {"alg": ALG, "value": _digest(data, key)}
    return signed


def verify(data: dict[str, Any], key: bytes) -> tuple[bool, str]:
    """``(True, "ok")`` when the signature matches; else ``(False, "unsigned")`` or
    ``(False, "altered")`` (the content or the signature was changed)."""
    sig = data.get(SIGNATURE)
    if sig is None:
        return False, "unsigned"
    if not isinstance(sig, dict) or sig.get("alg") != ALG or not isinstance(sig.get("value"), str):
        return False, "altered"
    if not hmac.compare_digest(sig["value"].encode("ascii", "replace"),
                               _digest(data, key).encode("ascii")):
        return False, "altered"
    return True, "ok"


def _strip_newline(raw: bytes) -> bytes:
    return raw.rstrip(b"\r\n")


def load_key(path: str | None, env: Mapping[str, str]) -> bytes | None:
    """The signing key from the ``--sign-key-file`` file, else ``$MESHGRADE_SIGN_KEY``, else
    None. A trailing newline is dropped. A key file that is missing, unreadable or empty is a
    ValueError naming the file (an empty environment variable counts as unset)."""
    if path is not None:
        try:
            key = _strip_newline(Path(path).read_bytes())
        except FileNotFoundError:
            raise ValueError(f"sign key file {path}: no such file") from None
        except OSError as exc:
            raise ValueError(f"sign key file {path}: cannot read it ({exc.strerror or exc})") \
                from None
        if not key:
            raise ValueError(f"sign key file {path}: the file is empty")
        return key
    value = _strip_newline(env.get(ENV_VAR, "").encode("utf-8"))
    return value or None


__all__ = ["ALG", "ENV_VAR", "canonical", "load_key", "sign", "verify"]
