"""``junit.xml``: one testsuite per check group, one testcase per check.

Points: junit-xml's ``TestCase`` has no properties, so each suite carries
``<id>.score`` / ``<id>.max_score`` per check plus ``score`` / ``max_score`` for the group,
and the first suite also carries the run's ``total.score``, ``total.max_score``, rubric,
mode and gradable flag. The same points are also added as ``<properties>`` inside each testcase
(pytest's xunit1 style), which most CI reporters read and the rest ignore. Every string goes
through ``sinks.for_xml`` first: characters XML 1.0 cannot carry become escapes. A check that
passed with warnings is a passing testcase with its findings in ``<system-out>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from meshgrade.grading.results import CheckResult, Outcome, RunResult
from meshgrade.reports.formatting import (
    GROUP_ORDER,
    check_label,
    check_text,
    fmt_points,
    write_text,
)
from meshgrade.reports.sinks import for_xml

FILENAME = "junit.xml"


def _case(check: CheckResult) -> TestCase:
    case = TestCase(for_xml(check_label(check)), classname=for_xml(f"meshgrade.{check.group}"),
                    elapsed_sec=check.duration_s or None)
    message = for_xml(check.message or f"{check.id} {check.outcome}")
    if check.outcome is Outcome.FAILED:
        case.add_failure_info(message, for_xml(check_text(check)) or message, "failure")
    elif check.outcome is Outcome.ERROR:
        body = for_xml(check_text(check, traceback=True))
        case.add_error_info(message, body or message, "error")
    elif check.outcome is Outcome.SKIPPED:
        case.add_skipped_info(message)
    elif check.findings:  # passed with warnings: shown, not failed
        case.stdout = for_xml(check_text(check))
    return case


def _points(check: CheckResult) -> dict[str, str]:
    return {"score": fmt_points(check.score), "max_score": fmt_points(check.max_score)}


def _groups(run: RunResult) -> list[tuple[str, list[CheckResult]]]:
    groups: dict[str, list[CheckResult]] = {}
    for c in run.checks:
        groups.setdefault(c.group, []).append(c)
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(groups.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def suites(run: RunResult) -> list[TestSuite]:
    """The junit-xml suites for ``run``, in group order (MG1..MG4, extra)."""
    out = []
    for group, checks in _groups(run):
        props = {"score": fmt_points(sum(c.score for c in checks)),
                 "max_score": fmt_points(sum(c.max_score for c in checks))}
        for c in checks:
            props.update({for_xml(f"{c.id}.{k}"): v for k, v in _points(c).items()})
        out.append(TestSuite(for_xml(f"meshgrade.{group}"), [_case(c) for c in checks],
                             properties=props))
    totals = {"total.score": fmt_points(run.score), "total.max_score": fmt_points(run.max_score),
              "rubric": for_xml(run.rubric), "mode": for_xml(run.mode),
              "gradable": str(run.gradable).lower()}
    if out:
        out[0].properties = {**totals, **out[0].properties}
    else:
        out.append(TestSuite("meshgrade", [], properties=totals))
    return out


def to_xml(run: RunResult) -> str:
    """The JUnit XML document as text, with per-testcase point properties added."""
    root = ET.fromstring(to_xml_report_string(suites(run), prettyprint=False))
    root.set("name", "meshgrade")
    root.set("skipped", str(sum(c.outcome is Outcome.SKIPPED for c in run.checks)))
    ordered = [c for _, checks in _groups(run) for c in checks]
    for check, elem in zip(ordered, root.iter("testcase"), strict=True):
        props = ET.Element("properties")
        for k, v in _points(check).items():
            ET.SubElement(props, "property", {"name": k, "value": v})
        elem.insert(0, props)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(run: RunResult, out_dir: Path) -> Path:
    """Write ``out_dir/junit.xml``."""
    return write_text(out_dir / FILENAME, to_xml(run))
