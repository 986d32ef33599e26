"""Mesh pictures as SVG geometry: hops (caller -> service -> targets) laid out in rows, one
row per hop, 360 units wide so that the text stays legible on a 390 px phone and in print.

Fed by the report's routing diagrams (``html_report``) and the lab dashboard
(``lab.dashboard``); drawn by the ``picture`` macro of ``templates/graph.html.j2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 360
CALLER = (2.0, 86.0)     # x, width
SERVICE = (110.0, 86.0)
TARGET = (218.0, 140.0)
CHAR_PX = 6.3            # an 11 px sans-serif character, on average
HEAD_H = 18.0            # the request line above a row
GAP = 6.0                # between targets
ROW_GAP = 16.0           # between rows
LINE_H = 13.0
STATES = ("ok", "idle", "error", "failed")


@dataclass
class Line:
    """One line of text in a box; ``cls`` is "", "dim", "seen" or "bad"."""

    text: str
    cls: str = ""


@dataclass
class TargetView:
    """Where a hop's requests end: a label ("v2", "503"), lines of shares, the link's
    thickness (0..1) and its state (ok, idle: no requests, error, failed: a check failed)."""

    label: str
    lines: list[Line] = field(default_factory=list)
    weight: float = 0.0
    state: str = "ok"


@dataclass
class HopView:
    caller: str
    service: str
    request: str = ""
    targets: list[TargetView] = field(default_factory=list)


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float
    lines: list[Line]
    state: str = "ok"
    kind: str = "target"  # caller, service, target
    full: str = ""        # the untruncated label, for the tooltip


@dataclass
class Link:
    d: str
    width: float
    state: str = "ok"


@dataclass
class Text:
    x: float
    y: float
    text: str
    cls: str = "dim"


@dataclass
class Picture:
    """Everything the ``picture`` macro draws; ``title`` and ``desc`` are its text
    alternative (the SVG's ``<title>`` and ``<desc>``)."""

    id: str
    title: str
    desc: str
    width: float = WIDTH
    height: float = 0.0
    boxes: list[Box] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


def fit(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to about ``width`` units."""
    most = max(3, int(width / CHAR_PX))
    return text if len(text) <= most else text[:most - 1] + "…"


def wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """``text`` in at most ``lines`` lines of about ``width`` units, broken at spaces or
    hyphens, the last one cut when it is still too long."""
    most = max(3, int(width / CHAR_PX))
    out: list[str] = []
    rest = text
    while rest and len(out) < lines - 1 and len(rest) > most:
        cut = max(rest.rfind(" ", 0, most + 1), rest.rfind("-", 0, most + 1))
        if cut <= 0:
            break
        keep = rest[:cut + 1] if rest[cut] == "-" else rest[:cut]
        out.append(keep)
        rest = rest[cut + 1:].lstrip()
    out.append(fit(rest, width))
    return out


def _target_height(t: TargetView) -> float:
    return 10 + 14 + LINE_H * len(t.lines)


def layout(pid: str, title: str, desc: str, hops: list[HopView]) -> Picture:
    """Rows of caller -> service -> targets, top to bottom."""
    pic = Picture(pid, title, desc)
    y = 4.0
    for hop in hops:
        if hop.request:
            pic.texts.append(Text(SERVICE[0], y + 11, fit(hop.request, WIDTH - SERVICE[0])))
        top = y + HEAD_H
        heights = [_target_height(t) for t in hop.targets] or [36.0]
        block = max(sum(heights) + GAP * (len(heights) - 1), 40.0)
        mid = top + block / 2
        for (x, w), name, kind in ((CALLER, hop.caller, "caller"),
                                   (SERVICE, hop.service, "service")):
            words = wrap(name, w - 12)
            h = 12 + LINE_H * len(words)
            pic.boxes.append(Box(x, mid - h / 2, w, h, [Line(s) for s in words], kind=kind,
                                 full=name))
        pic.links.append(Link(f"M{CALLER[0] + CALLER[1]:.1f} {mid:.1f} H{SERVICE[0] - 3:.1f}",
                              2.0))
        ty = top + (block - sum(heights) - GAP * (len(heights) - 1)) / 2
        for t, h in zip(hop.targets, heights, strict=False):
            x, w = TARGET
            pic.boxes.append(Box(x, ty, w, h, [Line(fit(t.label, w - 12), "label"),
                                               *[Line(fit(ln.text, w - 12), ln.cls)
                                                 for ln in t.lines]],
                                 t.state if t.state in STATES else "ok", full=t.label))
            x1, x2, y2 = SERVICE[0] + SERVICE[1], x - 3, ty + h / 2
            xm = (x1 + x2) / 2
            pic.links.append(Link(f"M{x1:.1f} {mid:.1f} C{xm:.1f} {mid:.1f} {xm:.1f} {y2:.1f} "
                                  f"{x2:.1f} {y2:.1f}",
                                  round(1.0 + 5.0 * max(0.0, min(1.0, t.weight)), 2),
                                  t.state if t.state in STATES else "ok"))
            ty += h + GAP
        y = top + block + ROW_GAP
    pic.height = round(y - ROW_GAP + 6, 1)
    return pic
