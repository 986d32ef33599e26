"""The report's routing diagrams as pictures (``graph``) and text alternatives, from the
``RunResult.diagrams`` data; only what the reader may see (checks they are shown)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from meshgrade.reports.graph import HopView, Line, Picture, TargetView, layout
from meshgrade.routing.diagram import Diagram, Hop, Target


@dataclass
class Cell:
    """One share in the text alternative: the model's, observed and wanted when they say
    something else."""

    share: float
    observed: float | None = None
    count: int = 0
    wanted: float | None = None

    @property
    def text(self) -> str:
        out = pct(self.share)
        if self.observed is not None:
            out += f" · seen {pct(self.observed)} ({self.count})"
        if self.wanted is not None and abs(self.wanted - self.share) > 1e-9:
            out += f" · wanted {pct(self.wanted)}"
        return out


@dataclass
class Row:
    hop: str
    target: str
    cells: list[Cell]
    failed: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class DiagramView:
    diagram: Diagram
    picture: Picture
    legend: list[tuple[str, str]]  # (symbol, request class); empty for a single class
    rows: list[Row]
    failed: list[str]
    observed_by: list[str]


def pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def symbols(classes: list[str]) -> dict[str, str]:
    """One letter per request class: a word's first letter, else any letter, unused."""
    used: set[str] = set()
    out = {}
    for i, cls in enumerate(classes):
        letters = [w[0] for w in cls.replace("-", " ").split() if w[:1].isalnum()]
        letters += [c for c in cls if c.isalnum()]
        pick = next((c.upper() for c in letters if c.upper() not in used), str(i + 1))
        used.add(pick)
        out[cls] = pick
    return out


def _observed(target: Target, cls: str, hop: Hop, shown: Collection[str]) -> float | None:
    if hop.observed_by is None or hop.observed_by not in shown:
        return None
    return target.observed.get(cls)


def _lines(target: Target, hop: Hop, classes: list[str], marks: dict[str, str],
           shown: Collection[str], failed: list[str]) -> list[Line]:
    """The target's shares per group of request classes that share them."""
    groups: dict[tuple[float, float | None], list[str]] = {}
    for cls in classes:
        share = target.shares.get(cls, 0.0)
        seen = _observed(target, cls, hop, shown)
        if share > 0 or seen:
            key = (round(share, 4), None if seen is None else round(seen, 4))
            groups.setdefault(key, []).append(cls)
    lines = []
    for (share, seen), who in groups.items():
        prefix = "" if len(who) == len(classes) else "·".join(marks[c] for c in who) + " "
        lines.append(Line(f"{prefix}{pct(share)}", ""))
        if seen is not None:
            count = sum(target.counts.get(c, 0) for c in who)
            lines.append(Line(f"{prefix}seen {pct(seen)} ({count})", "seen"))
    if failed:
        wanted: dict[float, list[str]] = {}
        for cls in classes:
            if cls in target.wanted and abs(target.wanted[cls] - target.shares.get(cls, 0)) > 1e-9:
                wanted.setdefault(round(target.wanted[cls], 4), []).append(cls)
        for share, who in wanted.items():
            prefix = "" if len(who) == len(classes) else "·".join(marks[c] for c in who) + " "
            lines.append(Line(f"wanted {prefix}{pct(share)}", "bad"))
        lines.append(Line("✗ " + ", ".join(failed), "bad"))
    return lines or [Line("no requests", "dim")]


def _target_view(target: Target, hop: Hop, classes: list[str], marks: dict[str, str],
                 shown: Collection[str]) -> TargetView:
    failed = [c for c in target.failed if c in shown]
    seen = [v for c in classes if (v := _observed(target, c, hop, shown)) is not None]
    weight = max([*target.shares.values(), *seen, 0.0])
    state = ("failed" if failed else "idle" if weight <= 0 else
             "error" if target.error else "ok")
    label = target.label if not target.error or target.label == "errors" else \
        f"{target.label} error"
    return TargetView(label, _lines(target, hop, classes, marks, shown, failed), weight, state)


def _hop_name(hop: Hop) -> str:
    return f"{hop.caller} → {hop.service}"


def _rows(d: Diagram, shown: Collection[str]) -> list[Row]:
    rows = []
    for hop in d.hops:
        for t in hop.targets:
            cells = []
            for cls in d.classes:
                seen = _observed(t, cls, hop, shown)
                cells.append(Cell(t.shares.get(cls, 0.0), seen,
                                  t.counts.get(cls, 0) if seen is not None else 0,
                                  t.wanted.get(cls)))
            rows.append(Row(_hop_name(hop), t.label, cells,
                            [c for c in t.failed if c in shown], t.reason))
    return rows


def _desc(d: Diagram, rows: list[Row]) -> str:
    """The picture in sentences: per hop, where each request class goes."""
    parts = []
    for hop in d.hops:
        said = []
        for row in (r for r in rows if r.hop == _hop_name(hop)):
            went = [(c, cell) for c, cell in zip(d.classes, row.cells, strict=True)
                    if cell.share > 0 or cell.observed]
            missed = [(c, cell) for c, cell in zip(d.classes, row.cells, strict=True)
                      if cell.wanted and abs(cell.wanted - cell.share) > 1e-9]
            if not went and not (row.failed and missed):
                continue
            if not went:
                text = f"{row.target} gets no requests: " + "; ".join(
                    f"{c} {cell.text}" for c, cell in missed)
            elif len(went) == len(d.classes) and len({cell.text for _c, cell in went}) == 1:
                text = f"{row.target} gets all requests, {went[0][1].text}"
            else:
                text = f"{row.target} gets " + "; ".join(f"{c} {cell.text}" for c, cell in went)
            said.append(text + (f" (failed {', '.join(row.failed)})" if row.failed else ""))
        parts.append(f"{_hop_name(hop)}: " + (", ".join(said) or "no requests") + ".")
    return " ".join(parts)


def views(diagrams: list[Diagram], shown: Collection[str]) -> list[DiagramView]:
    """A view per diagram; failures and observations only of the ``shown`` checks."""
    out = []
    for i, d in enumerate(diagrams):
        marks = symbols(d.classes)
        hops = [HopView(h.caller, h.service, h.request,
                        [_target_view(t, h, d.classes, marks, shown) for t in h.targets])
                for h in d.hops]
        rows = _rows(d, shown)
        title = f"{d.part}: {d.title}"
        picture = layout(f"diagram-{i}", title, _desc(d, rows), hops)
        legend = [(marks[c], c) for c in d.classes] if len(d.classes) > 1 else []
        out.append(DiagramView(d, picture, legend, rows,
                               [c for c in d.failed if c in shown],
                               list(dict.fromkeys(o for h in d.hops if (o := h.observed_by)
                                                  is not None and o in shown))))
    return out
