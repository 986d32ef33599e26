"""Screenshots for the README, made by the commands they show, in Debian's Chromium.

    python docs/screenshots.py [--out docs/screenshots]

- ``report-part1.png``, ``report-part1-phone.png``: ``meshgrade grade examples/part1-bookinfo
  --rubric istio-part1 --mode lab``: the routing diagrams with the shares observed through
  the lab's gateway (desktop), and the jason stage on a 390 px phone;
- ``report-failing.png``: ``meshgrade grade examples/broken --rubric istio-part1 --mode
  repo``: what to fix, then the diagram of the jason stage with its failed edges;
- ``class-report.png``: ``meshgrade batch`` over a small class in which one student handed in
  another's work renamed: the copied-work section, side by side;
- ``dashboard.png``: ``meshgrade lab dashboard`` while requests flow through the lab's
  gateway, reviews split 50/50 between v1 and v3, v3 failing one request in five.

Needs the ``test`` extra (Playwright) and Chromium (installed with apt-get when absent and
this process is root).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import copyclass as cc  # noqa: E402
from tests.browser import ensure_chromium, launch  # noqa: E402

EXAMPLES = ROOT / "examples"
MESHGRADE = [sys.executable, "-m", "meshgrade"]


def _run(*args: str) -> None:
    print("$ meshgrade " + " ".join(args), flush=True)
    subprocess.run([*MESHGRADE, *args], cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


def _shot(browser: Any, url: str, path: Path, width: int, height: int,
          element: str | None = None, scroll_to: str | None = None) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(url, wait_until="load")
        if scroll_to:
            page.locator(scroll_to).first.evaluate("e => e.scrollIntoView()")
        target = page.locator(element).first if element else page
        target.screenshot(path=str(path))
    finally:
        page.close()
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)


def reports(browser: Any, tmp: Path, out: Path) -> None:
    _run("grade", "examples/part1-bookinfo", "--rubric", "istio-part1", "--mode", "lab",
         "--out", str(tmp / "part1"), "--format", "html")
    url = (tmp / "part1" / "report.html").as_uri()
    _shot(browser, url, out / "report-part1.png", 1100, 900, element="#routing")
    _shot(browser, url, out / "report-part1-phone.png", 390, 844, scroll_to="#part1-jason")
    _run("grade", "examples/broken", "--rubric", "istio-part1", "--mode", "repo",
         "--out", str(tmp / "broken"), "--format", "html")
    url = (tmp / "broken" / "report.html").as_uri()
    _shot(browser, url, out / "report-failing.png", 1100, 1000)
    _shot(browser, url, out / "report-failing-diagram.png", 1100, 900, element="#part1-jason")


def class_report(browser: Any, tmp: Path, out: Path) -> None:
    klass = tmp / "class"
    rows = ["student,submission"]
    for i, name in enumerate(("ana", "ben", "cai", "dia")):
        cc.write(klass / name, cc.honest(name, i), flow=i % 2 == 1)
        rows.append(f"{name},{name}")
    cc.write(klass / "eve", cc.renamed(cc.honest("ana", 0), 3), note="all my own work")
    rows.append("eve,eve")
    (klass / "roster.csv").write_text("\n".join(rows) + "\n")
    _run("batch", str(klass / "roster.csv"), "--mode", "repo", "--out", str(klass / "out"),
         "--workers", "2", "--similarity", "0.9")
    url = (klass / "out" / "class-report.html").as_uri()
    _shot(browser, url, out / "class-report.png", 1100, 1000, scroll_to="#copies")


def dashboard(browser: Any, out: Path) -> None:
    import requests

    from meshgrade.lab.lab import Lab

    part1 = EXAMPLES / "part1-bookinfo"
    print("$ meshgrade lab up (destination-rule-all.yaml, virtual-service-reviews-50-v3.yaml)"
          " && meshgrade lab dashboard", flush=True)
    with Lab().start([part1 / "destination-rule-all.yaml",
                      part1 / "virtual-service-reviews-50-v3.yaml"]) as lab:
        lab.faults.set("reviews-v3", error_rate=0.2)
        url = lab.start_dashboard()
        stop = threading.Event()

        def traffic() -> None:
            with requests.Session() as s:
                while not stop.wait(0.02):
                    s.get(f"http://{lab.gateway_url}/productpage", timeout=10)

        thread = threading.Thread(target=traffic, daemon=True)
        thread.start()
        time.sleep(4)
        try:
            _shot(browser, url, out / "dashboard.png", 1100, 720)
        finally:
            stop.set()
            thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    executable, why = ensure_chromium()
    if executable is None:
        print(f"error: {why}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = launch(playwright, executable)
        try:
            reports(browser, Path(tmp), args.out)
            class_report(browser, Path(tmp), args.out)
            dashboard(browser, args.out)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
