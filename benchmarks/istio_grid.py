"""Benchmark: meshgrade's static checks against istioctl analyze, on a grid of small cases.

Each folder of ``tests/istio_grid/`` holds YAML files and an ``expect.yaml`` listing the
messages ``istioctl analyze --all-namespaces`` reports for them (code and object) on a
cluster that runs Istio's demo profile and Bookinfo (``baseline: istio`` leaves Bookinfo
out), as read from istioctl's analyzers, their test grid and Istio's validation code; the
cases are our own, written from those facts. The script runs every static check (MG1xx) on each
case, maps each finding to the istioctl codes it stands for (``CODES`` below; the message
is recognised by its catalogue template) and prints:

- recall per code and overall: the share of expected (code, object) pairs that meshgrade
  reports on the same object (one pair however many times istioctl repeats it);
- false alarms: findings of error severity on an object of the case that istioctl is silent
  about (no expected message of any code).

    python benchmarks/istio_grid.py [-v] [GRID_DIR]
"""

from __future__ import annotations

import re
import string
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from meshgrade.grading import catalogue, registry
from meshgrade.grading.check import run
from meshgrade.grading.results import Finding
from meshgrade.grading.settings import Settings
from meshgrade.submission.loader import load_folder
from meshgrade.submission.source import build_context

GRID = Path(__file__).resolve().parent.parent / "tests" / "istio_grid"

#: istioctl's message types in scope, by code.
SCOPE = {
    "IST0002": "Deprecated", "IST0101": "ReferencedResourceNotFound",
    "IST0106": "SchemaValidationError", "IST0109": "ConflictingMeshGatewayVirtualServiceHosts",
    "IST0112": "VirtualServiceDestinationPortSelectorRequired",
    "IST0116": "DeploymentAssociatedToMultipleServices",
    "IST0118": "PortNameIsNotUnderNamingConvention", "IST0130": "VirtualServiceUnreachableRule",
    "IST0131": "VirtualServiceIneffectiveMatch", "IST0132": "VirtualServiceHostNotFoundInGateway",
    "IST0133": "SchemaWarning", "IST0137": "DeploymentConflictingPorts",
    "IST0140": "IngressRouteRulesNotAffected", "IST0145": "ConflictingGateways",
    "IST0150": "ExternalNameServiceTypeInvalidPortName",
    "IST0162": "GatewayPortNotDefinedOnService", "IST0165": "ReferencedInternalGateway",
    "IST0173": "DestinationRuleSubsetNotSelectPods", "IST0174": "UnknownDestinationRuleHost",
}

#: (check, message key or "*") -> the istioctl codes a finding of that message stands for.
CODES: dict[tuple[str, str], tuple[str, ...]] = {
    ("MG103", "*"): ("IST0106",),
    ("MG114", "*"): ("IST0118",),
    ("MG115", "protocols"): ("IST0116",),
    ("MG115", "target-ports"): ("IST0137",),
    ("MG116", "*"): ("IST0150",),
    ("MG121", "*"): ("IST0101",),
    ("MG122", "*"): ("IST0101",),
    ("MG123", "*"): ("IST0173",),
    ("MG124", "*"): ("IST0174",),
    # a missing gateway serves none of the VirtualService's hosts either
    ("MG125", "missing"): ("IST0101", "IST0132"),
    ("MG125", "selector"): ("IST0101",),
    ("MG125", "selector-unused"): ("IST0101",),
    ("MG127", "shadowed"): ("IST0130",),
    ("MG127", "bad-regex"): ("IST0106",),
    ("MG128", "negative"): ("IST0106",),
    ("MG128", "zero"): ("IST0106",),
    ("MG129", "conflict"): ("IST0109",),
    ("MG129", "overlap"): ("IST0109",),
    ("MG131", "rejected"): ("IST0106",),
    ("MG131", "warned"): ("IST0133",),
    ("MG132", "istio"): ("IST0002",),
    ("MG132", "istio-warned"): ("IST0133",),
    ("MG133", "no-host"): ("IST0132",),
    ("MG133", "internal"): ("IST0165",),
    ("MG134", "*"): ("IST0162",),
    ("MG135", "*"): ("IST0145",),
    # a rule none of whose matches can apply: the rule is unused and each match ineffective
    ("MG136", "unreachable"): ("IST0130", "IST0131"),
    ("MG136", "covered"): ("IST0131",),
    ("MG136", "after-catch-all"): ("IST0130",),
    ("MG137", "*"): ("IST0112",),
    ("MG138", "*"): ("IST0140",),
}


@dataclass
class CaseResult:
    name: str
    expected: set[tuple[str, str]]
    found: set[tuple[str, str]]
    false_alarms: list[str] = field(default_factory=list)
    objects: set[str] = field(default_factory=set)

    @property
    def missed(self) -> set[tuple[str, str]]:
        return self.expected - self.found


@cache
def _templates(check_id: str) -> list[tuple[str, re.Pattern[str]]]:
    """(key, regex) of each message template of a check, fields as wildcards."""
    out = []
    for key, template in catalogue.messages(check_id).items():
        parts = [re.escape(text) + ("(?:.*)" if name is not None else "")
                 for text, name, _spec, _conv in string.Formatter().parse(template["text"])]
        out.append((key, re.compile("".join(parts), re.S)))
    return out


def message_key(check_id: str, f: Finding) -> str | None:
    """The catalogue message a finding was made from (its text and level)."""
    for key, pattern in _templates(check_id):
        if catalogue.level(check_id, key) is f.severity and pattern.fullmatch(f.message):
            return key
    return None


def codes_of(check_id: str, f: Finding) -> tuple[str, ...]:
    key = message_key(check_id, f)
    return CODES.get((check_id, key or "?")) or CODES.get((check_id, "*"), ())


def evaluate_case(folder: Path) -> CaseResult:
    expect = yaml.safe_load((folder / "expect.yaml").read_text("utf-8")) or {}
    sub = load_folder(folder)
    ctx = build_context(sub, Settings(bookinfo_baseline=expect.get("baseline") != "istio"))
    objects = {o.ref for o in sub.objects}
    expected = {(m["code"], m["object"]) for m in expect.get("messages") or []}
    result = CaseResult(folder.name, {e for e in expected if e[0] in SCOPE}, set(),
                        objects=objects)
    loud = {obj for _code, obj in expected}
    for cid, check in registry.checks().items():
        if not cid.startswith("MG1"):
            continue
        report, _ = run(check, ctx)
        for f in report.findings:
            if f.object not in objects:
                continue
            result.found |= {(code, f.object) for code in codes_of(cid, f)}
            if f.is_error and f.object not in loud:
                result.false_alarms.append(f"{folder.name}: {cid} {f.object} {f.location} "
                                           f"{f.path or ''}: {f.message}")
    return result


def evaluate(grid: Path = GRID) -> list[CaseResult]:
    return [evaluate_case(p) for p in sorted(grid.iterdir()) if (p / "expect.yaml").is_file()]


def recall(results: list[CaseResult]) -> tuple[float, dict[str, tuple[int, int]]]:
    """Overall recall, and (found, expected) per code."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        for code, obj in r.expected:
            per[code][1] += 1
            per[code][0] += (code, obj) in r.found
    hit = sum(f for f, _e in per.values())
    total = sum(e for _f, e in per.values())
    return (hit / total if total else 1.0), {c: (f, e) for c, (f, e) in sorted(per.items())}


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    results = evaluate(Path(args[0]) if args else GRID)
    overall, per = recall(results)
    print(f"{len(results)} cases, {sum(len(r.objects) for r in results)} objects\n")
    print(f"{'code':<8} {'istioctl message':<46} {'found':>5} / {'exp':>3}  recall")
    for code, (hit, total) in per.items():
        print(f"{code:<8} {SCOPE[code]:<46} {hit:>5} / {total:>3}  {hit / total:6.1%}")
    hits = sum(h for h, _t in per.values())
    total = sum(t for _h, t in per.values())
    print(f"{'overall':<55} {hits:>5} / {total:>3}  {overall:6.1%}")
    alarms = [a for r in results for a in r.false_alarms]
    print(f"\nfalse alarms (errors on objects istioctl is silent about): {len(alarms)}")
    for line in alarms:
        print("  " + line)
    missed = [(r.name, m) for r in results for m in sorted(r.missed)]
    if missed or verbose:
        print(f"\nmissed ({len(missed)}):")
        for name, (code, obj) in missed:
            print(f"  {name}: {code} {obj}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
