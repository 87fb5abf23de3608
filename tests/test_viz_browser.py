"""The browser view in a real browser: `run.py viz` on a free loopback port, driven by Playwright
in Debian's headless Chromium, with every request that leaves this machine refused.

Needs /usr/bin/chromium (`apt-get install chromium`, which .ci/run does) and the Python package
playwright (requirements.txt). Without them the browser tests are skipped, except under CI
(the CI variable set), where they fail. Set VIZ_SCREENSHOT=docs/viz-screenshot.png to save a
screenshot of the page after a few steps.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SERVER_START_S = 90
CHARTS = ("race-network", "race-shares", "race-finance", "race-strategies", "race-hhi")
STEP_BUDGET_S = 2.0  # a hard ceiling against regressions; expected ~0.2-0.5 s (printed)
SMALLEST_TEXT_PX = 9.0


def _chromium() -> str | None:
    """Debian's Chromium: /usr/bin/chromium, else `chromium` on the PATH."""
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


def _missing() -> str | None:
    if _chromium() is None:
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def need_browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run under CI: {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CONFIG: list = []


@pytest.fixture(scope="module", autouse=True)
def _terminal(pytestconfig):
    _CONFIG[:] = [pytestconfig]


def _report(line: str) -> None:
    """Timings go to the terminal even when pytest captures output."""
    plugins = _CONFIG[0].pluginmanager if _CONFIG else None
    reporter = plugins.getplugin("terminalreporter") if plugins else None
    capture = plugins.getplugin("capturemanager") if plugins else None
    if reporter is None or capture is None:
        sys.__stderr__.write(f"[viz] {line}\n")
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(f"[viz] {line}")


@pytest.fixture(scope="module")
def server(need_browser, tmp_path_factory):
    """`python run.py viz` on a free loopback port; always stopped afterwards."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("viz") / "server.log"
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "run.py", "viz", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"run.py viz exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.perf_counter() - started > SERVER_START_S:
                pytest.fail(f"run.py viz did not answer within {SERVER_START_S} s:\n{log_path.read_text()}")
            time.sleep(0.2)
        _report(f"server answered after {time.perf_counter() - started:.1f} s")
        yield {"url": url, "log": log_path}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(need_browser):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh page (a fresh session, so a fresh model) that may reach 127.0.0.1 only."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    outside, failed, errors = [], [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def route(r):
        host = r.request.url.split("/")[2].split(":")[0] if "://" in r.request.url else ""
        if host in ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.on("response", lambda resp: failed.append(f"{resp.status} {resp.url}") if resp.status >= 400 else None)
    page.outside, page.failed, page.errors = outside, failed, errors
    try:
        yield page
    finally:
        context.close()


def _open(page, url) -> float:
    """Load the page; seconds until every chart of the single run is drawn."""
    started = time.perf_counter()
    if url is not None:
        page.goto(url)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.race-figure')].length >= 5 && "
        "[...document.querySelectorAll('img.race-figure')].every(e => e.complete && e.naturalWidth > 300)",
        timeout=90_000)
    for css in CHARTS:
        assert page.locator(f"img.{css}").count() == 1, css
    return time.perf_counter() - started


# In the page: click Step, then time until the clock shows the step and every chart is a new, loaded picture.
_STEP_JS = """
(n) => new Promise((resolve, reject) => {
  const charts = () => [...document.querySelectorAll('.race-chart img.race-figure')];
  const before = charts().map(e => e.src);
  const step = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Step');
  const t0 = performance.now();
  const poll = () => {
    const now = performance.now();
    const im = charts();
    const clock = document.querySelector('.race-clock');
    if (clock && clock.textContent.includes('(step ' + n + ' of') && im.length === before.length &&
        im.every((e, k) => e.src !== before[k] && e.complete && e.naturalWidth > 0)) {
      resolve((now - t0) / 1000); return;
    }
    if (now - t0 > 30000) { reject(new Error('no redraw within 30 s after Step ' + n)); return; }
    setTimeout(poll, 5);
  };
  step.click();
  poll();
})
"""


def _status(page) -> str:
    return page.locator(".race-status").inner_text()


def _clean(page) -> None:
    assert not page.outside, f"the page asked for files from outside this machine: {page.outside}"
    assert not page.failed, f"requests failed: {page.failed}"
    assert not page.errors, f"console errors: {page.errors}"


def _select(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_page_renders_steps_and_redraws_offline(page, server):
    first_render = _open(page, server["url"])
    for name in ("Step", "Reset", "▶"):
        assert page.get_by_role("button", name=name, exact=True).is_visible()
    for tab in ("Single run", "Compare two plans", "Info"):
        assert page.get_by_role("tab", name=tab).is_visible()
    assert page.get_by_label("Seed (whole number)").input_value() == "7"
    for knob in ("Amazon AI budget ($bn/yr)", "Merger review: HHI threshold", "Merger review: HHI increase threshold",
                 "AI talent supply growth (/yr)", "Compute capacity growth (/yr)", "Startup entry rate (firms/yr)"):
        assert page.get_by_role("slider", name=knob).count() == 1, knob
    assert page.locator(".race-clock").inner_text().startswith("2023: the calibrated start")
    assert "Render Interval" not in page.content() and "Use Threads" not in page.content()
    assert "baseline" in page.locator(".race-scenario").inner_text()
    assert page.locator(".race-deals-card").is_visible()
    network_before = page.locator("img.race-network").screenshot()

    steps = [page.evaluate(_STEP_JS, n) for n in range(1, 11)]
    assert page.locator(".race-clock").inner_text().startswith("2033 (step 10 of 10, to 2033)")
    assert "run complete" in page.locator(".race-clock").inner_text()
    page.locator(".race-finished").wait_for()
    assert page.get_by_role("button", name="Step", exact=True).is_disabled()
    assert page.locator("img.race-network").screenshot() != network_before
    assert page.locator(".race-node").count() > 7  # hover labels on the network's nodes
    assert page.locator(".race-node[data-node='amazon']").get_attribute("title").startswith("amazon: major")
    _clean(page)
    _report(f"first render {first_render:.2f} s; step -> redraw through year 10: "
            + ", ".join(f"{s:.2f}" for s in steps)
            + f" s (median {statistics.median(steps):.2f} s, max {max(steps):.2f} s)")
    assert max(steps) < STEP_BUDGET_S, f"a step took {max(steps):.2f} s to redraw"

    shot = os.environ.get("VIZ_SCREENSHOT")
    if shot:
        page.goto(server["url"])
        _open(page, server["url"])
        for n in (1, 2, 3):
            page.evaluate(_STEP_JS, n)
        page.wait_for_timeout(500)
        page.screenshot(path=shot)


def test_a_new_scenario_moves_the_sliders_and_asks_for_reset(page, server):
    _open(page, server["url"])
    compute = page.get_by_role("slider", name="Compute capacity growth (/yr)")
    assert float(compute.get_attribute("aria-valuenow")) == pytest.approx(0.20)
    _select(page, "Scenario", "power_crunch")
    page.wait_for_function("() => document.querySelector('.race-pending') !== null")
    # the notice and the sliders are separate widget updates: the slider may move a moment later
    page.wait_for_function("s => Math.abs(parseFloat(s.getAttribute('aria-valuenow')) - 0.1) < 1e-9",
                           arg=compute.element_handle(), timeout=5000)
    assert float(compute.get_attribute("aria-valuenow")) == pytest.approx(0.10)
    notice = page.locator(".race-pending").inner_text()
    assert "press Reset" in notice and "scenario baseline → power_crunch" in notice
    page.evaluate(_STEP_JS, 1)  # Step runs the old model, and the notice stays
    assert _status(page).startswith("baseline | seed 7 | year 2024")
    assert page.locator(".race-pending").is_visible()
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("power_crunch | seed 7 | year 2023").wait_for()
    assert page.locator(".race-pending").count() == 0
    assert "compute +10 %/yr," in _status(page)  # the scenario's own value, not an override
    page.wait_for_function("() => location.search.includes('scenario=power_crunch')")
    _clean(page)


def test_typed_values_and_seed_take_effect_on_reset_and_go_into_the_link(page, server):
    _open(page, server["url"])
    field = page.get_by_label("Amazon budget, exact $bn/yr")
    field.fill("75")
    field.press("Enter")
    slider = page.get_by_role("slider", name="Amazon AI budget ($bn/yr)")
    page.wait_for_function("() => document.querySelector('.race-pending') !== null")
    # the notice and the slider are two widgets: wait for the slider too, then read it
    page.wait_for_function("s => s.getAttribute('aria-valuenow') === '75'", arg=slider.element_handle(), timeout=5000)
    assert slider.get_attribute("aria-valuenow") == "75"
    field.fill("250")
    field.press("Enter")
    page.locator(".race-typed-error").wait_for()
    assert "outside" in page.locator(".race-typed-error").inner_text()
    assert slider.get_attribute("aria-valuenow") == "75"
    seed = page.get_by_label("Seed (whole number)")
    seed.fill("11")
    seed.press("Enter")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("baseline | seed 11 | year 2023").wait_for()
    assert "Amazon budget $75bn/yr*" in _status(page)
    page.wait_for_function("() => location.search.includes('amazon_budget=75') && location.search.includes('seed=11')")
    talent = page.get_by_label("talent, exact %/yr")
    talent.fill("7")  # a rate is typed in percent, as shown
    talent.press("Enter")
    page.get_by_text("+7 %/yr", exact=True).wait_for()
    assert page.get_by_role("slider", name="AI talent supply growth (/yr)").get_attribute("aria-valuenow") == "0.07"
    _clean(page)


def test_a_link_restores_the_settings(page, server):
    page.goto(server["url"] + "?scenario=power_crunch&seed=11&amazon_budget=80&tab=compare"
                              "&first=jassy_bold&second=baseline&seeds=10")
    page.locator(".race-compare-command").wait_for(timeout=90_000)
    assert page.get_by_role("tab", name="Compare two plans").get_attribute("aria-selected") == "true"
    assert page.get_by_label("Seeds (2-100)").input_value() == "10"
    assert "compare jassy_bold baseline --replicates 10" in page.locator(".race-compare-command").inner_text()
    assert page.get_by_label("Seed (whole number)").input_value() == "11"
    assert page.get_by_role("slider", name="Amazon AI budget ($bn/yr)").get_attribute("aria-valuenow") == "80"
    page.get_by_role("tab", name="Single run").click()
    _open(page, None)
    assert _status(page).startswith("power_crunch | seed 11 | year 2023")
    assert "Amazon budget $80bn/yr*" in _status(page)
    _clean(page)


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    subprocess.run([sys.executable, "run.py", "run", "--scenario", "baseline", "--seed", "7", "--no-plots", "--quiet",
                    "--out", str(base / "run")], cwd=ROOT, check=True, timeout=300)
    started = time.perf_counter()
    subprocess.run([sys.executable, "run.py", "compare", "jassy_bold", "conservative", "--replicates", "20", "--seed", "1",
                    "--quiet", "--out", str(base / "compare")], cwd=ROOT, check=True, timeout=600)
    _report(f"run.py compare jassy_bold conservative --replicates 20: {time.perf_counter() - started:.1f} s")
    return base


def test_deals_table_and_downloads_equal_the_cli_files(page, server, cli_files):
    import pandas as pd

    _open(page, server["url"])
    page.get_by_role("button", name="▶", exact=True).click()
    page.get_by_text("(step 10 of 10, to 2033) — run complete").wait_for(timeout=120_000)
    events = pd.read_csv(cli_files / "run" / "events.csv")
    tried = events[events["event"].isin(["acquisition", "blocked_acquisition"])]
    page.wait_for_function(f"() => document.querySelectorAll('tr.race-deal').length === {len(tried)}")
    rows = page.locator("tr.race-deal").all_inner_texts()
    assert [tuple(r.split("\t")[:3]) for r in rows] == [(str(y), s, t) for y, s, t in
                                                        zip(tried["year"], tried["source"], tried["target"])]
    for name in ("events.csv", "shares.csv"):
        with page.expect_download() as download:
            page.get_by_role("button", name=name, exact=True).click()
        path = download.value.path()
        assert Path(path).read_text() == (cli_files / "run" / name).read_text(), name
    with page.expect_download() as download:
        page.get_by_role("button", name="network.png", exact=True).click()
    assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")
    _clean(page)


_HITS_JS = """
(css) => {
  const img = document.querySelector('img.' + css);
  img.scrollIntoView({block: 'center'});
  const r = img.getBoundingClientRect();
  const bad = [];
  for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
    const x = r.left + r.width * i / 10, y = r.top + r.height * j / 10;
    const hit = document.elementFromPoint(x, y);
    const chart = img.closest('.race-chart');
    if (hit !== img && !(hit && hit.classList.contains('race-node') && chart && chart.contains(hit))) {
      bad.push(hit ? hit.tagName + '.' + hit.className : 'nothing');
    }
  }
  const overlay = img.closest('.race-chart') && img.closest('.race-chart').querySelector('.race-overlay');
  const minFont = img.dataset.minFontPx || (overlay && overlay.dataset.minFontPx);
  return {bad: bad, scale: r.width / img.naturalWidth, minFont: parseFloat(minFont)};
}
"""


def test_charts_are_legible_at_1280x800_and_nothing_covers_them(page, server, cli_files):
    import pandas as pd

    _open(page, server["url"])
    page.evaluate(_STEP_JS, 1)
    smallest = {}
    for css in CHARTS:
        seen = page.evaluate(_HITS_JS, css)
        assert not seen["bad"], f"{css} is covered by {seen['bad'][:3]}"
        smallest[css] = seen["minFont"] * seen["scale"]
    box = page.locator("img.race-shares").bounding_box()
    page.mouse.move(box["x"] + 50, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + 250, box["y"] + 150, steps=5)
    page.mouse.up()
    assert page.locator("img.race-shares").bounding_box() == box, "a drag moved a chart"

    page.get_by_role("tab", name="Compare two plans").click()
    page.get_by_role("button", name="Run comparison").hover()  # the tab has settled: time from the click
    started = time.perf_counter()
    page.get_by_role("button", name="Run comparison").click()
    page.locator(".race-card[data-firm='amazon']").wait_for(timeout=120_000)
    waited = time.perf_counter() - started
    for css in ("race-compare-shares", "race-compare-profit"):
        page.wait_for_function(f"() => document.querySelector('img.{css}').complete")
        seen = page.evaluate(_HITS_JS, css)
        assert not seen["bad"], f"{css} is covered by {seen['bad'][:3]}"
        smallest[css] = seen["minFont"] * seen["scale"]
    _report("smallest chart text on screen at 1280x800: " + ", ".join(f"{k} {v:.1f} px" for k, v in smallest.items()))
    assert min(smallest.values()) >= SMALLEST_TEXT_PX, smallest

    card = page.locator(".race-card[data-firm='amazon']")
    paired = pd.read_csv(cli_files / "compare" / "compare_paired.csv").set_index(["firm", "metric"])
    for firm in ("amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba"):
        card = page.locator(f".race-card[data-firm='{firm}']")
        row = paired.loc[(firm, "value_bn")]
        assert float(card.get_attribute("data-value")) == pytest.approx(row["diff_mean"], rel=1e-5, abs=1e-6)
        assert float(card.get_attribute("data-low")) == pytest.approx(row["mean_ci90_low"], rel=1e-5, abs=1e-6)
        assert float(card.get_attribute("data-high")) == pytest.approx(row["mean_ci90_high"], rel=1e-5, abs=1e-6)
        assert float(card.get_attribute("data-wins")) == pytest.approx(row["first_wins_share"])
    amazon = page.locator(".race-card[data-firm='amazon']").inner_text()
    assert "jassy_bold does not pay off" in amazon and "0 %" in amazon
    assert "Verdict: for Amazon, jassy_bold" in page.locator(".race-verdict").inner_text()
    meta = page.locator(".race-compare-meta").inner_text()
    _report(f"20-seed comparison in the page: {waited:.2f} s from the click to the cards ({meta.split('. ')[-1]})")
    _clean(page)


def test_info_page_explains_the_words(page, server):
    page.goto(server["url"] + "?tab=info")
    page.locator(".race-info").wait_for(timeout=90_000)
    text = page.locator(".race-info").inner_text()
    for word in ("How a year works", "Things to try", "HHI", "ΔHHI", "Share flow", "Fringe", "Incremental value",
                 "Paired seeds"):
        assert word in text, word
    _clean(page)


# ----------------------------------------------------------------------- bad input to run.py viz


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "must be 1-65535"),
    (["--port", "0"], "must be 1-65535"),
    (["--port", "http"], "invalid port"),
    (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1"),  # TEST-NET: not an address of this machine
    (["--host", "no-such-host.invalid"], "cannot listen on no-such-host.invalid"),
])
def test_bad_viz_input_is_one_line_and_exit_2(args, message):
    done = subprocess.run([sys.executable, "run.py", "viz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], done.stderr
    assert done.stdout == ""


def test_busy_port_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "run.py", "viz", "--port", str(port)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: viz: cannot listen on 127.0.0.1:{port}")
