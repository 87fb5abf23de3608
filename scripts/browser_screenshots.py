"""Make the README's browser pictures: the single run after three steps, and a 20-seed comparison.

    .venv/bin/python scripts/browser_screenshots.py            # writes docs/viz-screenshot.png, docs/viz-compare.png

Starts `run.py viz` on a free loopback port, drives it in Debian's headless Chromium (as the browser
test does) at 1280 pixels wide, and stops the server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "run.py", "viz", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 1500}).new_page()
            page.goto(url)
            page.locator("img.race-hhi").wait_for(timeout=90_000)
            for n in (1, 2, 3):
                page.get_by_role("button", name="Step", exact=True).click()
                page.get_by_text(f"(step {n} of 10").first.wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=ROOT / "docs" / "viz-screenshot.png")
            page.get_by_role("tab", name="Compare two plans").click()
            page.get_by_role("button", name="Run comparison").click()
            page.locator(".race-card").first.wait_for(timeout=120_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=ROOT / "docs" / "viz-compare.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print("wrote docs/viz-screenshot.png and docs/viz-compare.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
