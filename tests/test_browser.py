"""Every picture in a real browser (issue 13): Chromium driven by Playwright renders the Part 1
report, a failing report, the class report and the lab dashboard at 390 px and 1280 px;
each must show its parts, keep its text legible and not overflow sideways. Chromium is
installed from Debian when absent (root and apt-get); the tests skip, saying why, only when
no browser can be had."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshgrade.batch import classreport, copies
from meshgrade.batch.roster import RosterRow
from meshgrade.batch.runner import BatchSummary, StudentResult
from meshgrade.grading import registry
from meshgrade.grading.rubric import load
from meshgrade.grading.watch import grade
from meshgrade.lab.dashboard import DashboardServer
from meshgrade.lab.workloads import Telemetry
from meshgrade.reports import html_report

from . import copyclass as cc
from .browser import ensure_chromium, launch, problems
from .conftest import EXAMPLES

WIDTHS = (390, 1280)
REPORT = ["#fix", "svg.graph[role=img]", "svg.graph > title", "svg.graph > desc",
          "figure.diagram table.alt", "section.part", "h1"]
PAGES = {
    "part1": [*REPORT, ".all-good"],
    "failing": [*REPORT, "ol.fix > li", ".box.failed", "path.link.failed", ".lost"],
    "class": ["#copies", "details.pair .side pre", "table.checks", "table.students",
              "svg[role=img]"],
    "dashboard": ["#graph svg.graph", "#table table", ".box.error", "#updated"],
}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed: pip install -e '.[test]'")
    executable, why = ensure_chromium()
    if executable is None:
        pytest.skip(why)
    with sync.sync_playwright() as playwright:
        chromium = launch(playwright, executable)
        yield chromium
        chromium.close()


def _report(example: str, rubric: str, folder: Path) -> str:
    run = grade(EXAMPLES / example, load(rubric, set(registry.checks())))
    path = folder / f"{example}.html"
    path.write_text(html_report.render(run), "utf-8")
    return path.as_uri()


def _class(folder: Path) -> str:
    """A class report with every section: a graded class, one not gradable, a copy."""
    rubric = load("istio-full", set(registry.checks()))
    done = {"ana": grade(EXAMPLES / "part1-bookinfo", rubric),
            "ben": grade(EXAMPLES / "broken", rubric), "eve": grade(EXAMPLES / "part2-app",
                                                                    rubric)}
    results = [StudentResult(RosterRow(i, name, f"subs/{name}", name, "repo"), True,
                             results=run.to_dict(), started=True)
               for i, (name, run) in enumerate(done.items(), 2)]
    results.append(StudentResult(RosterRow(5, "dan", "https://example.org/dan.git", "dan",
                                           "repo"), False, "cannot clone: not found"))
    ana = cc.honest("ana", 0)
    students = {"ana": ana, "eve": cc.renamed(ana, 1), "ben": cc.honest("ben", 1)}
    pairs = copies.detect({k: [o for o in map(copies.Obj.from_dict, cc.objects(v)) if o]
                           for k, v in students.items()},
                          copies.Shared.of(copies.shared_raws()))
    page = classreport.render(BatchSummary(results, 12.0), "istio-full", None, copies=pairs)
    path = folder / "class-report.html"
    path.write_text(page, "utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("pages")
    telemetry = Telemetry()
    server = DashboardServer(telemetry)
    stop = threading.Event()

    def traffic() -> None:  # productpage calls reviews; v3 fails a third of the time
        n = 0
        while not stop.wait(0.05):
            n += 1
            telemetry.record("productpage", "productpage-v1", "v1", None, 200)
            telemetry.record("reviews", f"reviews-v{1 + 2 * (n % 2)}", f"v{1 + 2 * (n % 2)}",
                             "productpage-v1", 503 if n % 6 == 1 else 200)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    time.sleep(0.3)
    try:
        yield {"part1": _report("part1-bookinfo", "istio-part1", folder),
               "failing": _report("broken", "istio-part1", folder),
               "class": _class(folder), "dashboard": server.url}
    finally:
        stop.set()
        thread.join()
        server.stop()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.slow
def test_page_in_chromium(browser: Any, sites: dict[str, str], name: str, width: int,
                          tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(sites[name], wait_until="load")
        assert problems(page, PAGES[name]) == []
        shot = tmp_path / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        if name in ("part1", "failing"):
            assert page.locator("svg.graph").count() == 4
            box = page.locator("svg.graph").first.bounding_box()
            assert box is not None and box["width"] <= width  # drawn within the screen
    finally:
        page.close()


@pytest.mark.slow
def test_the_dashboard_refreshes_itself(browser: Any, sites: dict[str, str]) -> None:
    """The inline script polls the JSON endpoint and redraws (allowed by the page's CSP)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(sites["dashboard"], wait_until="load")
        first = page.locator("#table").inner_text()
        page.wait_for_function(
            "t => document.getElementById('table').innerText !== t", arg=first, timeout=30_000)
        assert page.locator("#state").inner_text() == "live" and not errors
        assert "req/s" in page.locator("#graph").inner_text()
    finally:
        page.close()


@pytest.mark.slow
def test_reports_print(browser: Any, sites: dict[str, str], tmp_path: Path) -> None:
    """The report as a PDF (print media): the pictures are there, in colour."""
    page = browser.new_page()
    try:
        page.goto(sites["failing"], wait_until="load")
        page.emulate_media(media="print")
        assert page.locator("svg.graph").first.is_visible()
        pdf = page.pdf(path=str(tmp_path / "report.pdf"))
        assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000
    finally:
        page.close()


def test_no_browser_is_a_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Chromium and without the right to install it, the reason is given."""
    from . import browser as b

    monkeypatch.setattr(b, "find_chromium", lambda: None)
    monkeypatch.setattr(b.shutil, "which", lambda _name: None)
    executable, why = b.ensure_chromium()
    assert executable is None and "apt-get install -y chromium" in why
