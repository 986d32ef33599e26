"""A real browser for the pictures: Debian's Chromium driven by Playwright (its ``test`` extra),
installed with apt-get when it is absent and this process may (root, apt-get present). Used
by ``tests/test_browser.py`` and ``docs/screenshots.py``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
MIN_FONT_PX = 10.0  # text smaller than this on screen is not legible
APT_TIMEOUT_S = 900


def find_chromium() -> Path | None:
    found = shutil.which("chromium")
    return Path(found) if found else CHROMIUM if CHROMIUM.is_file() else None


def ensure_chromium() -> tuple[Path | None, str]:
    """Chromium's path, installing Debian's package when absent; else (None, why not)."""
    found = find_chromium()
    if found is not None:
        return found, ""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return None, ("no Chromium at /usr/bin/chromium, and it cannot be installed here "
                      "(needs root and apt-get: `apt-get install -y chromium`)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    tail = ""
    for cmd in ([apt, "install", "-y", "-q", "chromium"], [apt, "update", "-q"],
                [apt, "install", "-y", "-q", "chromium"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=APT_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"`{' '.join(cmd)}` failed: {exc}"
        said = (done.stderr or done.stdout).strip().splitlines()
        tail = said[-1] if said else tail
        if find_chromium() is not None:
            return find_chromium(), ""
    return None, f"`apt-get install -y chromium` did not install Chromium: {tail}"


def launch(playwright: Any, executable: Path) -> Any:
    """Chromium, headless, with no network of its own (no updates, sync or telemetry)."""
    return playwright.chromium.launch(executable_path=str(executable), args=list(FLAGS))


# Measures a loaded page: horizontal overflow, and every visible text's size on screen
# (an SVG's text is scaled by the picture's own scale).
_MEASURE = """() => {
  const small = [];
  let least = 1000, texts = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest("details:not([open]) > :not(summary)"))
      continue;
    if (["SCRIPT", "STYLE", "TITLE", "DESC"].includes(el.tagName.toUpperCase())) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.closest("svg");
    if (svg) size *= svg.getScreenCTM().a;
    texts += 1;
    least = Math.min(least, size);
    if (size < MIN)
      small.push(node.textContent.trim().slice(0, 40) + " (" + size.toFixed(1) + "px)");
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
          least: least, texts: texts, small: small.slice(0, 10)};
}"""


def problems(page: Any, selectors: list[str]) -> list[str]:
    """What is wrong with the loaded page: a selector with no visible match, horizontal
    overflow, illegible text."""
    found = []
    for sel in selectors:
        if page.locator(sel).count() == 0:
            found.append(f"nothing matches {sel}")
    m = page.evaluate(_MEASURE.replace("MIN", str(MIN_FONT_PX)))
    if m["scrollWidth"] > m["width"] + 1:
        found.append(f"horizontal overflow: {m['scrollWidth']} px wide in {m['width']} px")
    if not m["texts"]:
        found.append("no visible text")
    found += [f"illegible: {s}" for s in m["small"]]
    return found
