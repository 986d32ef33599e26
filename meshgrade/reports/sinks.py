"""Untrusted text (anything read from a submission) made safe for the sink it is written to.

One function per sink, applied by the writers to every string that may come from a student:

- :func:`for_terminal`: a field shown on a terminal or in a CI log: control, format, separator
  and unassigned characters become visible escapes (``\\x1b``, ``\\n``, ``\\u202e``), so no raw
  ESC, CR or LF is left
- :func:`for_workflow_log`: whole lines printed where the GitHub Actions runner reads workflow
  commands: no line starts with ``::`` and none contains ``##[``
- :func:`workflow_commands_stopped`: under GitHub Actions, the runner ignores workflow commands
  while the block runs (``::stop-commands::TOKEN`` ... ``::TOKEN::``); one block at a time
  per process (:func:`workflow_commands_are_stopped`)
- :func:`for_command_data`, :func:`for_command_property`: a workflow command's message and
  property values (meshgrade's own annotations)
- :func:`for_markdown`, :func:`markdown_code`: text and code spans of the Markdown step summary
- :func:`for_xml`: characters XML 1.0 cannot carry become escapes
- :func:`for_csv`: a text cell a spreadsheet will not run as a formula

HTML needs none of these: the Jinja templates autoescape.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_KEPT = frozenset({"Zs", "Co"})  # not printable to Python, yet plain on a terminal


def _escape(ch: str) -> str:
    """A visible stand-in for one character: ``\\n``, ``\\x1b``, ``\\u202e``, ``\\U000e0001``."""
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def for_terminal(text: str) -> str:
    """``text`` with every C0/C1 control, DEL, format character (bidi overrides, zero-width
    ones), line/paragraph separator, lone surrogate and unassigned code point shown as an
    escape; spaces, private-use and all printable characters are kept."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or unicodedata.category(ch) in _KEPT else _escape(ch)
                   for ch in text)


_COMMAND_START = re.compile(r"(\A|[\r\n])(\s*)::")


def for_workflow_log(text: str) -> str:
    """Lines the GitHub Actions runner will not take for workflow commands: a backslash goes
    before ``::`` at the start of a line (leading whitespace counts as nothing, as in the
    runner) and into every ``##[`` (the legacy form, matched anywhere in a line). Fields in
    ``text`` should already have gone through :func:`for_terminal`."""
    return _COMMAND_START.sub(r"\1\2\\::", text).replace("##[", "##\\[")


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    """True when running as a GitHub Actions step (``GITHUB_ACTIONS=true``)."""
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


_open_block = False  # a stop-commands block is open on this process's stdout


@contextmanager
def workflow_commands_stopped(enabled: bool = True) -> Iterator[None]:
    """Have the runner ignore workflow commands on stdout and stderr while the block runs:
    ``::stop-commands::TOKEN`` before and ``::TOKEN::`` after, on stdout, with a fresh random
    TOKEN that no submission can know. Does nothing unless ``enabled``, nor inside a block
    already open in this process: `meshgrade grade` opens one around pytest, whose plugin
    opens its own only when pytest runs without it (markers inside a block are noise)."""
    global _open_block
    if not enabled or _open_block:
        yield
        return
    token = secrets.token_hex(16)
    _marker(f"::stop-commands::{token}")
    _open_block = True
    try:
        yield
    finally:
        _open_block = False
        _marker(f"::{token}::")


def workflow_commands_are_stopped() -> bool:
    """True inside a :func:`workflow_commands_stopped` block that printed its markers."""
    return _open_block


def _marker(line: str) -> None:
    sys.stderr.flush()
    print(line, file=sys.stdout, flush=True)


_COMMAND_DATA = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_COMMAND_PROPERTY = {**_COMMAND_DATA, ":": "%3A", ",": "%2C"}


def for_command_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded."""
    return "".join(_COMMAND_DATA.get(ch, ch) for ch in text)


def for_command_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``."""
    return "".join(_COMMAND_PROPERTY.get(ch, ch) for ch in text)


_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_SPECIAL = re.compile(r"[\\`*_\[\]()!#|~{}$:@&<>]")
_MD_BLOCK_START = re.compile(r"\A(\s*(?:\d+(?=\.))?)(?=[-+.])")  # a list item's marker
_MD_WWW = re.compile(r"(?i)\b(www)\.")


def _md_escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _MD_ENTITY.get(ch, "\\" + ch)


def for_markdown(text: str) -> str:
    """Inline Markdown that renders as ``text`` and nothing more: no link, image, autolink,
    raw HTML, emphasis, heading, list or table cell break (pipes are escaped too)."""
    text = _MD_SPECIAL.sub(_md_escape, for_terminal(text))
    text = _MD_BLOCK_START.sub(r"\1\\", text, count=1)
    return _MD_WWW.sub(r"\1\\.", text)


def markdown_code(text: str, *, table: bool = False) -> str:
    """An inline code span showing ``text`` (on one line; backticks fenced by a longer run);
    in a table cell a pipe also gets its backslash. Empty text gives an empty string."""
    text = for_terminal(text)
    if table:
        text = text.replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _xml_allowed() -> str:
    planes = "".join(f"{chr(p << 16)}-{chr((p << 16) | 0xFFFD)}" for p in range(1, 17))
    return f"\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd{planes}"


@lru_cache(maxsize=1)
def _xml_other() -> re.Pattern[str]:
    """Compiled on first use: 3 ms that `meshgrade --help` need not pay."""
    return re.compile(f"[^{_xml_allowed()}]")


def for_xml(text: str) -> str:
    """``text`` with every character XML 1.0 forbids (most C0 controls, lone surrogates,
    U+FFFE/U+FFFF) or discourages (DEL, C1 controls, noncharacters) shown as an escape."""
    return _xml_other().sub(lambda m: _escape(m.group()), text)


_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")


def for_csv(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection): a leading
    ``=``, ``+``, ``-``, ``@``, tab, CR or LF gets a ``'`` before it."""
    return f"'{text}" if text.startswith(_FORMULA) else text


__all__ = ["for_command_data", "for_command_property", "for_csv", "for_markdown", "for_terminal",
           "for_workflow_log", "for_xml", "in_github_actions", "markdown_code",
           "workflow_commands_are_stopped", "workflow_commands_stopped"]
