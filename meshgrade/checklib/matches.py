"""MG136: route rules and matches that can never apply, because an earlier match (of an
earlier rule, or of the same rule) takes every request or connection they would take.

A match A *covers* a match B when every request B matches, A matches: each condition of A
is implied by one of B (exact equals exact; a prefix covers a longer prefix or an exact
value it starts with; a regex covers an exact value it fully matches or the same regex;
``uri: {prefix: /}`` and ``{regex: .*}`` match every path). HTTP rules after a rule without
conditions are MG127's; TCP and TLS rules after one are reported here."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any

from ..grading.results import Finding
from ..routing.match import full_match, match_kind
from ..submission.objects import KObject, as_dict, as_list, str_map
from .common import finding
from .vsparts import catch_all

Match = dict[str, Any]
_UNIVERSAL_URI = ({"prefix": "/"}, {"prefix": ""}, {"regex": ".*"})
_KINDS = {"http": "HTTP", "tcp": "TCP", "tls": "TLS"}
_EQUAL = ("port", "sourceNamespace", "sourceSubnet")


def normal_http(match: Match) -> Match:
    """A match without its name and without conditions every request meets."""
    out = {k: v for k, v in match.items() if k not in ("name", "statPrefix")
           and v not in (None, {}, [], False)}
    if as_dict(out.get("uri")) in _UNIVERSAL_URI:
        out.pop("uri")
    if "uri" not in out:
        out.pop("ignoreUriCase", None)
    return out


def normal_l4(match: Match) -> Match:
    return {k: v for k, v in match.items() if v not in (None, {}, [])}


def _string(a: Any, b: Any, fold: bool = False) -> bool:
    """Whether StringMatch ``a`` accepts every value ``b`` accepts ({} means present)."""
    ka, kb = match_kind(a), match_kind(b)
    if ka is None:
        return a is None or a == {}
    if kb is None:
        return False
    (ta, va), (tb, vb) = ka, kb
    if fold:
        va, vb = va.lower(), vb.lower()
    if ta == "exact":
        return tb == "exact" and va == vb
    if ta == "prefix":
        return tb in ("exact", "prefix") and vb.startswith(va)
    if va == ".*":
        return True
    return (tb == "exact" and not fold and full_match(va, vb)) or (tb == "regex" and va == vb)


def _keyed(value: Any, lower: bool) -> dict[str, Any]:
    return {str(k).lower() if lower else str(k): v for k, v in as_dict(value).items()}


def _labels_implied(a: Any, b: Any) -> bool:
    theirs = str_map(b)
    return all(theirs.get(k) == v for k, v in str_map(a).items())


def _subset(b: Any, a: Any) -> bool:
    theirs = {str(x) for x in as_list(b)}
    return bool(theirs) and theirs <= {str(x) for x in as_list(a)}


def covers_http(a: Match, b: Match) -> bool:
    """Whether HTTP match ``a`` takes every request ``b`` takes."""
    for key, cond in a.items():
        if key == "ignoreUriCase":
            continue
        if key == "uri":
            fold_a, fold_b = a.get("ignoreUriCase") is True, b.get("ignoreUriCase") is True
            if "uri" not in b or (fold_b and not fold_a) or not _string(cond, b["uri"], fold_a):
                return False
        elif key in ("scheme", "method", "authority"):
            if key not in b or not _string(cond, b[key]):
                return False
        elif key in ("headers", "queryParams", "withoutHeaders"):
            lower = key != "queryParams"
            mine, theirs = _keyed(cond, lower), _keyed(b.get(key), lower)
            for name, c in mine.items():
                pair = (theirs.get(name), c) if key == "withoutHeaders" else (c, theirs.get(name))
                if name not in theirs or not _string(*pair):
                    return False
        elif not _common(key, cond, b):
            return False
    return True


def _common(key: str, cond: Any, b: Match) -> bool:
    """Conditions HTTP, TCP and TLS matches share."""
    if key in _EQUAL:
        return bool(b.get(key) == cond)
    if key == "sourceLabels":
        return _labels_implied(cond, b.get(key))
    if key == "gateways":
        return _subset(b.get(key), cond)
    if key == "destinationSubnets":
        return bool(as_list(b.get(key))) and all(_within(s, as_list(cond))
                                                 for s in as_list(b.get(key)))
    return False  # a condition this check does not know: assume it narrows


def _within(subnet: Any, nets: list[Any]) -> bool:
    for net in nets:
        try:
            inner = ipaddress.ip_network(str(subnet), strict=False)
            outer = ipaddress.ip_network(str(net), strict=False)
        except ValueError:  # not a subnet: only the same text covers it
            if str(subnet) == str(net):
                return True
            continue
        if inner.version == outer.version and \
                int(outer.network_address) <= int(inner.network_address) and \
                int(inner.broadcast_address) <= int(outer.broadcast_address):
            return True
    return False


def covers_l4(a: Match, b: Match) -> bool:
    """Whether TCP or TLS match ``a`` takes every connection ``b`` takes."""
    for key, cond in a.items():
        if key == "sniHosts":
            theirs = [str(h) for h in as_list(b.get("sniHosts"))]
            mine = [str(h) for h in as_list(cond)]
            if not theirs or not all(any(h == p or (p.startswith("*") and h.endswith(p[1:]))
                                         for p in mine) for h in theirs):
                return False
        elif not _common(key, cond, b):
            return False
    return True


def _by(places: list[tuple[int, int]]) -> str:
    rules = sorted({k for k, _l in places})
    return ("rule " if len(rules) == 1 else "rules ") + ", ".join(str(r) for r in rules)


Part = tuple[str, ...]
Entry = tuple[int, int, int, Match]  # (order, rule, match, normalised match)
_STRING_KEYS = frozenset({"uri", "scheme", "method", "authority", "headers", "queryParams"})
_MAX_PARTS = 10


def _parts(m: Match) -> frozenset[Part]:
    """The conditions of a match, one part per header, query parameter and label: a match
    covers another only if its parts are among the other's."""
    out: set[Part] = set()
    for key, cond in m.items():
        if key in ("headers", "withoutHeaders", "queryParams", "sourceLabels"):
            out |= {(key, name) for name in _keyed(cond, key in ("headers", "withoutHeaders"))}
        elif key != "ignoreUriCase":
            out.add((str(key),))
    return frozenset(out)


def _probe(m: Match, part: Part) -> tuple[str, str] | None:
    """(exact | prefix | eq, value) of one condition, when an index can look it up."""
    key = part[0]
    cond = m.get(key) if len(part) == 1 else _keyed(m.get(key), key == "headers").get(part[1])
    if key in _STRING_KEYS:
        found = match_kind(cond)
        folded = key == "uri" and m.get("ignoreUriCase") is True
        return found if found and found[0] != "regex" and not folded else None
    return ("eq", str(cond)) if key in _EQUAL or key == "sourceLabels" else None


class _Seen:
    """The matches met so far, indexed by their parts and by the value of one condition, so
    that a match is compared with the few earlier ones that may cover it (rules by the
    thousand stay linear)."""

    def __init__(self, covers: Callable[[Match, Match], bool]) -> None:
        self.covers = covers
        self.all: list[Entry] = []
        self.loose: dict[tuple[frozenset[Part], Part | None], list[Entry]] = {}
        self.exact: dict[tuple[frozenset[Part], Part, str, str], list[Entry]] = {}
        self.prefix: dict[tuple[frozenset[Part], Part], dict[str, list[Entry]]] = {}

    def add(self, entry: Entry) -> None:
        self.all.append(entry)
        parts = _parts(entry[3])
        first = min(parts) if parts else None
        probe = _probe(entry[3], first) if first else None
        if first is None or probe is None:
            self.loose.setdefault((parts, first), []).append(entry)
        elif probe[0] == "prefix":
            self.prefix.setdefault((parts, first), {}).setdefault(probe[1], []).append(entry)
        else:
            self.exact.setdefault((parts, first, *probe), []).append(entry)

    def _candidates(self, m: Match) -> Iterator[Entry]:
        parts = sorted(_parts(m))
        if len(parts) > _MAX_PARTS:
            yield from self.all
            return
        yield from self.loose.get((frozenset(), None), ())
        for r in range(1, len(parts) + 1):
            for combo in combinations(parts, r):
                key, first = frozenset(combo), combo[0]
                yield from self.loose.get((key, first), ())
                probe = _probe(m, first)
                if probe is None:
                    continue
                yield from self.exact.get((key, first, *probe), ()) if probe[0] != "prefix" \
                    else ()
                by_prefix = self.prefix.get((key, first), {})
                if probe[0] != "eq":
                    for n in {len(v) for v in by_prefix}:
                        yield from by_prefix.get(probe[1][:n], ())

    def cover(self, m: Match) -> tuple[int, int] | None:
        """(rule, match) of the first earlier match that covers ``m``."""
        hits = [e for e in self._candidates(m) if self.covers(e[3], m)]
        first = min(hits, default=None)
        return (first[1], first[2]) if first else None


def scan_matches(vs: KObject, kind: str, normal: Callable[[Match], Match],
          covers: Callable[[Match, Match], bool]) -> Iterator[Finding]:
    seen = _Seen(covers)
    rules = [as_dict(r) for r in as_list(vs.spec.get(kind))]
    label = _KINDS[kind]
    traffic = "request" if kind == "http" else "connection"
    for i, rule in enumerate(rules):
        matches = [(j, normal(as_dict(m))) for j, m in enumerate(as_list(rule.get("match")))]
        hits = []
        for j, m in matches:
            hits.append((j, seen.cover(m)))
            seen.add((len(seen.all), i, j, m))
        found = [(j, h) for j, h in hits if h is not None]
        if matches and len(found) == len(matches):
            yield finding("MG136", "unreachable", vs, f"spec.{kind}[{i}]", kind=label, index=i,
                          by=_by([h for _j, h in found]), first=min(h[0] for _j, h in found),
                          traffic=traffic)
        else:
            for j, (k, n) in found:
                yield finding("MG136", "covered", vs, f"spec.{kind}[{i}].match[{j}]",
                              kind=label, index=i, match=j, traffic=traffic,
                              by=f"match {n} of " + ("this rule" if k == i else f"rule {k}"))
        if kind == "http" and catch_all(rule):
            return  # MG127 reports the rules after it
        if kind != "http" and (not matches or any(not m for _j, m in matches)):
            for later in range(i + 1, len(rules)):
                yield finding("MG136", "after-catch-all", vs, f"spec.{kind}[{later}]",
                              kind=label, index=later, by=i)
            return

