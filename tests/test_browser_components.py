"""The browser view's pieces and page, without a browser: charts (viz.live), settings, the
single-run and comparison views (browser.*), rendered with solara.render where they are widgets."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pandas as pd
import pytest
import solara
from matplotlib.legend import Legend
from mesa.visualization.solara_viz import _build_model_init_kwargs
from PIL import Image

from browser import app
from browser.comparison import (
    MAX_PAGE_RUNS, SIDEBAR, Cancelled, CompareRefused, Request, answer, cards, page_tables, result_html,
    run_comparison,
)
from browser.settings import KNOBS, BrowserRaceModel, Settings, from_query, knob_values, parse_seed, scenario_values
from browser.single import (
    EventLog, chart_overlay_html, clock_text, deals_table, events_html, filter_deals, run_downloads, scenario_card_html,
    status_text,
)
from report.export import csv_text
from viz.live import (
    CHART_KINDS, MIN_FONT_PT, NETWORK_STARTUPS, Chart, FinanceChart, NetworkChart, chart_for, min_text_px, snapshot,
)

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def stepped():
    """A default-scenario model three years in."""
    model = BrowserRaceModel("baseline", rng=7)
    for _ in range(3):
        model.step()
    return model


@pytest.fixture(scope="module")
def finished():
    model = BrowserRaceModel("baseline", rng=7)
    while model.running:
        model.step()
    return model


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`run.py run` on the page's default settings (baseline, seed 7)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    subprocess.run([sys.executable, "run.py", "run", "--scenario", "baseline", "--seed", "7", "--no-plots", "--quiet", "--out", str(out)],
                   cwd=ROOT, check=True, timeout=300)
    return out


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


# ----------------------------------------------------------------------- charts


@pytest.mark.parametrize("kind", CHART_KINDS, ids=lambda k: k.__name__)
def test_each_chart_is_a_picture_with_legible_text_and_legends_clear_of_the_data(kind, stepped):
    chart = chart_for(stepped, kind)
    png = chart.png(stepped)
    assert png.startswith(PNG)
    width, height = Image.open(io.BytesIO(png)).size
    assert width >= 400 and height >= 300
    assert min_text_px(chart.fig) >= MIN_FONT_PT * chart.fig.dpi / 72 - 1e-9
    renderer = chart.canvas.get_renderer()
    chart.fig.draw_without_rendering()
    figure_box = chart.fig.bbox
    legends = [a for a in chart.fig.findobj(Legend)]
    assert legends, "every chart explains its colours"
    plot_boxes = [ax.get_window_extent(renderer) for ax in chart.fig.axes]  # the network's too, axes off
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert figure_box.x0 - 1 <= box.x0 and box.x1 <= figure_box.x1 + 1 and figure_box.y0 - 1 <= box.y0, kind
        assert box.y1 <= figure_box.y1 + 1, kind
        for plot in plot_boxes:
            assert not box.overlaps(plot), f"{kind.__name__}: a legend overlaps a plot"
    for i, a in enumerate(legends):
        for b in legends[i + 1:]:
            assert not a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer))


@pytest.mark.parametrize("kind", CHART_KINDS, ids=lambda k: k.__name__)
def test_blitted_chart_matches_a_full_redraw(kind):
    """The background reuse leaves nothing stale: each year's picture is the figure drawn afresh."""
    model = BrowserRaceModel("baseline", rng=3)
    chart = chart_for(model, kind)
    pictures = [chart.png(model)]
    for _ in range(4):
        model.step()
        pictures.append(chart.png(model))
        full = io.BytesIO()
        chart.fig.savefig(full, format="png", dpi=chart.fig.dpi)
        fast, fresh = _pixels(pictures[-1]), _pixels(full.getvalue())
        assert fast.shape == fresh.shape
        differs = np.abs(fast - fresh).max(axis=2) > 60
        # Only where a line meets a spine or a label box meets a line do the two draw orders differ (0.3-0.7 %).
        assert differs.mean() < 0.01, f"{kind.__name__}, {model.year}: {differs.mean():.2%} of pixels differ"
    assert len(set(pictures)) == len(pictures), "the picture must change every year"


def test_value_axes_widen_to_keep_every_line_inside():
    model = BrowserRaceModel("baseline", rng=7)
    chart = chart_for(model, FinanceChart)
    for _ in range(model.params.years + 1):
        chart.png(model)
        snap = snapshot(model)
        for ax, (col, _) in zip(chart.axes, FinanceChart.PANELS):
            lo, hi = ax.get_ylim()
            values = np.concatenate([frame[col].to_numpy(dtype=float) for frame in snap.majors.values()])
            assert lo <= values.min() and values.max() < hi - 0.02 * (hi - lo), (col, model.year)
        if model.running:
            model.step()


def test_network_keeps_node_positions_between_years():
    model = BrowserRaceModel("baseline", rng=5)
    chart = chart_for(model, NetworkChart)
    chart.png(model)
    before = {n: tuple(p) for n, p in chart.pos.items()}
    for _ in range(3):
        model.step()
        chart.png(model)
    assert set(before) <= set(chart.pos)
    assert all(tuple(chart.pos[n]) == p for n, p in before.items())
    assert len(chart.pos) > len(before)  # entrants were placed
    assert chart_for(model, NetworkChart) is chart
    assert chart_for(BrowserRaceModel("baseline", rng=5), NetworkChart) is not chart


@pytest.mark.parametrize("years", [6, 10])
def test_the_startup_boom_network_draws_the_largest_startups_and_labels_every_drawn_node(years):
    model = BrowserRaceModel("startup_boom", rng=7)
    for _ in range(years):
        model.step()
    chart = chart_for(model, NetworkChart)
    chart.png(model)
    nodes = model.graph.nodes
    active = [n for n, d in nodes(data=True) if d.get("kind") == "startup" and d.get("alive", True)]
    assert len(active) > 2 * NETWORK_STARTUPS  # the case the aggregation is for
    marks = {m.node: m for m in chart.marks}
    drawn_active = [n for n in marks if n in set(active)]
    in_deals = {n for u, v2, d in model.graph.edges(data=True) if int(d.get("year", -1)) == model.year
                and d.get("kind") in ("acquired", "blocked", "partner") for n in (u, v2)}
    assert len(drawn_active) <= NETWORK_STARTUPS + len(in_deals)
    largest = sorted(active, key=lambda n: -float(nodes[n]["revenue_bn"]))[:NETWORK_STARTUPS]
    assert set(largest) <= set(marks)
    for firm in ("amazon", "azure", "others"):
        assert firm in marks and marks[firm].label.startswith(firm)
    acquired = [m for m in chart.marks if "acquired by" in m.label]
    assert acquired, "acquired startups keep a labelled place beside their buyer"
    for m in chart.marks:
        assert 0 <= m.x <= 1 and 0 <= m.y <= 1 and 0 < m.radius < 0.1
    html = chart_overlay_html(chart)
    assert html.count('class="race-node"') == len(chart.marks)
    assert f'data-min-font-px="{min_text_px(chart.fig):.2f}"' in html
    (title,) = [t.get_text() for t in chart.fig.texts if t.get_text().startswith("Network")]
    assert title.startswith(f"Network {model.year}: {len(active)} active startups ({len(drawn_active)} drawn)")
    assert len(marks) <= 7 + NETWORK_STARTUPS + len(in_deals) + 25, "a readable number of nodes, also at the end"
    before = {m.node: (m.x, m.y) for m in chart.marks}
    chart.fig.savefig(io.BytesIO(), format="png", dpi=chart.fig.dpi)  # a full draw: hover targets do not move
    again = {m.node: (m.x, m.y) for m in chart._marks(model, list(before), {n: 100.0 for n in before}, {})}
    assert all(again[n] == pytest.approx(xy, abs=1e-9) for n, xy in before.items())


def test_charts_redraw_in_well_under_a_second():
    model = BrowserRaceModel("baseline", rng=11)
    for kind in CHART_KINDS:
        chart_for(model, kind).png(model)
    model.step()
    started = time.perf_counter()
    for kind in CHART_KINDS:
        chart_for(model, kind).png(model)
    assert time.perf_counter() - started < 1.5  # about 0.2 s on an idle 2-core machine


def test_chart_base_is_abstract():
    with pytest.raises(NotImplementedError):
        Chart(BrowserRaceModel("baseline", rng=1))


# ----------------------------------------------------------------------- settings and the model


def test_a_scenario_moves_every_knob_to_its_own_values():
    crunch = Settings.of_scenario("power_crunch")
    assert crunch.values["compute.capacity_growth"] == pytest.approx(0.10)
    assert Settings.of_scenario("jassy_bold").values["firms.amazon.policy"] == "accelerate"
    assert Settings.of_scenario("conservative").values["firms.amazon.policy"] == "differentiate"
    assert crunch.overrides() == {}
    moved = crunch.with_knob("firms.amazon.ai_budget_bn", 80.0)
    assert moved.overrides() == {"firms.amazon.ai_budget_bn": 80.0}
    model = BrowserRaceModel(**moved.model_kwargs())
    assert model.params.name == "power_crunch" and model.settings == moved
    assert knob_values(model)["compute.capacity_growth"] == pytest.approx(0.10)
    status = status_text(model)
    assert "Amazon budget $80bn/yr*" in status and "compute +10 %/yr," in status
    assert scenario_values("power_crunch")["compute.capacity_growth"] == pytest.approx(0.10)


def test_any_real_change_is_an_override_even_off_the_slider_steps():
    base = Settings.of_scenario("baseline")
    for path, value in (("firms.amazon.ai_budget_bn", 42.0), ("regulator.hhi_threshold", 1850.0),
                        ("talent.supply_growth", 0.054), ("startups.entry_rate", 10.5)):
        moved = base.with_knob(path, value)
        assert moved.overrides() == {path: value}
        assert app.pending_notice(moved, base)
        assert knob_values(BrowserRaceModel(**moved.model_kwargs()))[path] == value
        assert from_query(moved.to_query()).settings == moved
    history = Settings.of_scenario("history_2019")
    assert history.values["firms.amazon.ai_budget_bn"] == pytest.approx(3.95)
    assert history.with_knob("firms.amazon.ai_budget_bn", 5.0).overrides() == {"firms.amazon.ai_budget_bn": 5.0}
    talent = next(k for k in KNOBS if k.path == "talent.supply_growth")
    assert talent.parse("5.4", typed=True) == pytest.approx(0.054) and talent.typed_text(0.054) == "5.4"


def test_an_empty_seed_is_drawn_shown_and_linked():
    model = BrowserRaceModel("baseline", rng="")
    assert isinstance(model.seed, int) and model.seed_text == f"{model.seed} (drawn at random)"
    assert f"seed {model.seed} (drawn at random)" in status_text(model)


def test_a_link_with_huge_numbers_is_refused_not_a_crash():
    restored = from_query("years=" + "9" * 5000 + "&amazon_budget=" + "1" * 5000)
    assert restored.settings == Settings.of_scenario("baseline")
    assert len(restored.problems) == 2 and all(len(p) < 200 for p in restored.problems)
    request, problems = app._request({"seeds": "7" * 5000, "first": "x" * 5000})
    assert request == Request() and len(problems) == 2 and all(len(p) < 200 for p in problems)


def test_a_comparison_stops_when_cancelled():
    calls = []

    def stop_after_three():
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        run_comparison(Request(seeds=10), Settings.of_scenario("baseline"), on_run=stop_after_three)
    assert len(calls) == 3


def test_reset_passes_the_scenario_name_through_mesa():
    """Mesa 3.5's Reset swaps `scenario` for its own Scenario object unless model.scenario is empty."""
    model = BrowserRaceModel("baseline", rng=1)
    params = Settings.of_scenario("power_crunch", seed="4").with_knob("firms.amazon.ai_budget_bn", 60.0).model_kwargs()
    kwargs = _build_model_init_kwargs(model, params, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    assert kwargs["scenario"] == "power_crunch"
    rebuilt = BrowserRaceModel(**kwargs)
    assert rebuilt.params.name == "power_crunch" and rebuilt.seed_text == "4"
    assert knob_values(rebuilt)["firms.amazon.ai_budget_bn"] == 60.0


def test_the_url_keeps_and_restores_the_settings():
    settings = Settings.of_scenario("power_crunch", seed="11").with_knob("firms.amazon.ai_budget_bn", 80.0)
    query = settings.to_query(tab="compare", seeds=30)
    assert "scenario=power_crunch" in query and "amazon_budget=80" in query and "compute" not in query
    restored = from_query(query, ("tab", "seeds"))
    assert restored.settings == settings and restored.problems == ()
    assert restored.extra == {"tab": "compare", "seeds": "30"}
    bad = from_query("scenario=nope&amazon_budget=900&years=x&amazon_policy=yolo&seed=3")
    assert bad.settings == Settings.of_scenario("baseline", seed="3")
    assert len(bad.problems) == 4
    assert any("'nope'" in p for p in bad.problems) and any("900" in p for p in bad.problems)


def test_seed_box_values():
    assert parse_seed(7) == (7, "7")
    assert parse_seed(" 12 ") == (12, "12")
    assert parse_seed("") == (None, "random") and parse_seed(None) == (None, "random")
    seed, text = parse_seed("abc")
    assert seed == parse_seed("abc")[0] and "abc" in text
    assert parse_seed("-3")[0] >= 0  # numpy refuses negative seeds; never crash the page
    a, b = BrowserRaceModel("baseline", rng="5"), BrowserRaceModel("baseline", rng=5)
    a.step(), b.step()
    assert a.events_this_year == b.events_this_year


def test_the_notice_says_what_reset_would_change():
    running = Settings.of_scenario("baseline")
    assert app.pending_notice(running, running) == ""
    notice = app.pending_notice(Settings.of_scenario("power_crunch"), running)
    assert notice.startswith("Changed — press Reset") and "scenario baseline → power_crunch" in notice
    assert "compute +20 %/yr → +10 %/yr" in notice
    assert "seed 7 → 8" in app.pending_notice(Settings.of_scenario("baseline", seed="8"), running)


def test_knob_text_is_refused_in_one_line():
    budget = next(k for k in KNOBS if k.path == "firms.amazon.ai_budget_bn")
    assert budget.parse("75") == 75.0
    for bad in ("x", "250", "nan"):
        with pytest.raises(ValueError, match="Amazon AI budget"):
            budget.parse(bad)


# ----------------------------------------------------------------------- the single-run view


def test_clock_and_scenario_card_say_which_run_this_is(stepped, finished):
    assert clock_text(stepped) == "2026 (step 3 of 10, to 2033)"
    assert clock_text(BrowserRaceModel("baseline", rng=7)).startswith("2023: the calibrated start")
    assert clock_text(finished).endswith("run complete")
    card = scenario_card_html(BrowserRaceModel("jassy_bold", rng=7))
    assert "jassy_bold" in card and "Andy Jassy" in card and "Amazon&#x27;s strategy: <b>accelerate</b>" in card


def test_the_event_log_lists_every_event_of_the_year(stepped):
    text = events_html(stepped)
    assert "2026:" in text and "baseline | seed 7" in text
    shown = [e for e in stepped.events_this_year if e.kind in ("acquisition", "blocked_acquisition", "partnership",
                                                                "exit", "entry")]
    assert text.count("<tr>") == len(shown)
    for e in shown:
        if e.kind == "acquisition":
            assert f"{e.source} acquired {e.target}" in text
    assert "Press <b>Step</b>" in events_html(BrowserRaceModel("baseline", rng=7))
    box, rc = solara.render(EventLog(stepped), handle_error=False)
    try:
        assert "2026:" in rc.find(solara.widgets.HTML).widget.unsafe_innerHTML
    finally:
        rc.close()


def test_deals_table_and_downloads_equal_the_cli_files(finished, cli_run):
    events = pd.read_csv(cli_run / "events.csv")
    tried = events[events["event"].isin(["acquisition", "blocked_acquisition"])]
    deals = deals_table(finished)
    assert len(deals) == len(tried) > 0
    assert list(zip(deals["year"], deals["acquirer"], deals["target"])) == \
        list(zip(tried["year"], tried["source"], tried["target"]))
    assert (deals["outcome"] == "blocked").sum() == (tried["event"] == "blocked_acquisition").sum()
    some = deals["acquirer"].iloc[0]
    assert set(filter_deals(deals, firm=some)["acquirer"]) | set(filter_deals(deals, firm=some)["target"]) >= {some}
    assert set(filter_deals(deals, outcome="completed")["outcome"]) <= {"completed"}
    files = run_downloads(finished)
    for name in ("shares.csv", "firms.csv", "model.csv", "events.csv"):
        assert files[name] == (cli_run / name).read_text(), name


# ----------------------------------------------------------------------- the comparison


@pytest.fixture(scope="module")
def cli_compare(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "compare"
    subprocess.run([sys.executable, "run.py", "compare", "jassy_bold", "conservative", "--replicates", "4",
                    "--seed", "1", "--quiet", "--out", str(out)], cwd=ROOT, check=True, timeout=600)
    return out


def test_comparison_cards_are_compares_numbers(cli_compare):
    result = run_comparison(Request("jassy_bold", "conservative", seeds=4), Settings.of_scenario("baseline"))
    paired = pd.read_csv(cli_compare / "compare_paired.csv").set_index(["firm", "metric"])
    shown = cards(result)
    assert [c.firm for c in shown] == ["amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba"]
    for card in shown:
        row = paired.loc[(card.firm, "value_bn")]
        assert card.value_bn == pytest.approx(row["diff_mean"], rel=1e-9)
        assert (card.low_bn, card.high_bn) == pytest.approx((row["mean_ci90_low"], row["mean_ci90_high"]), rel=1e-9)
        assert card.wins == pytest.approx(row["first_wins_share"])
        assert card.profit_bn == pytest.approx(paired.loc[(card.firm, "cumulative_profit_bn"), "diff_mean"], rel=1e-9)
    amazon = shown[0]
    assert amazon.high_bn < 0
    offered = page_tables(result.comparison)
    assert "verdict_sensitivity.csv" not in offered  # the page values at the plans' horizon only
    for name, frame in offered.items():
        assert csv_text(frame) == (cli_compare / name).read_text(), name  # the page downloads csv_text
    assert answer(amazon) == "does not pay off" and "does not pay off" in result_html(result)


def test_the_sidebar_can_face_its_own_scenario():
    settings = Settings.of_scenario("baseline").with_knob("firms.amazon.ai_budget_bn", 120.0)
    result = run_comparison(Request(SIDEBAR, "baseline", seeds=2), settings)
    assert result.names == ["baseline_as_set", "baseline"]
    assert "baseline_as_set is baseline with Amazon budget $120bn/yr" in result_html(result)
    amazon = cards(result)[0]
    assert amazon.firm == "amazon" and np.isfinite(amazon.value_bn)


@pytest.mark.parametrize("request_, settings, message", [
    (Request("baseline", "baseline"), Settings.of_scenario("baseline"), "both plans are baseline"),
    (Request(seeds=1), Settings.of_scenario("baseline"), "seeds 1"),
    (Request(seeds=101), Settings.of_scenario("baseline"), "seeds 101"),
    (Request(draws=51), Settings.of_scenario("baseline"), "parameter draws 51"),
    (Request(draws=1), Settings.of_scenario("baseline"), "parameter draws 1: give 0"),
    (Request(seeds=100, draws=50), Settings.of_scenario("baseline"), f"more than the page's {MAX_PAGE_RUNS:,}"),
    (Request(SIDEBAR, "baseline"), Settings.of_scenario("baseline"), "both plans are"),
    (Request(SIDEBAR, "conservative"), Settings(scenario="baseline", years=5,
                                                knobs=Settings.of_scenario("baseline").knobs), "different horizons"),
    (Request("history_2019", "baseline"), Settings.of_scenario("baseline"), "start in different years"),
])
def test_comparisons_that_cannot_run_are_refused_in_one_line(request_, settings, message):
    with pytest.raises(CompareRefused, match=re.escape(message)):
        run_comparison(request_, settings)


def test_parameter_draws_split_the_spread():
    result = run_comparison(Request(seeds=2, draws=3), Settings.of_scenario("baseline"))
    assert result.runs == 12
    shares = [c.parameter_share for c in cards(result)]
    assert all(s is not None and 0 <= s <= 1 for s in shares)


# ----------------------------------------------------------------------- the whole page


def _render_page():
    return solara.render(solara.AppLayout(children=[app.page()]), handle_error=False)


def _button(rc, label):
    return rc.find(v.Btn, children=[label]).widget


def _html(rc, marker: str) -> list[str]:
    return [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets if marker in w.unsafe_innerHTML]


def _status(rc) -> str:
    (status,) = _html(rc, "race-status")
    return status


def test_page_steps_and_resets_with_new_values():
    box, rc = _render_page()
    try:
        assert "year 2023 (step 0 of 10)" in _status(rc)
        first = [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]
        assert len(first) == 5 and len(_html(rc, "race-overlay")) == 5
        for _ in range(2):
            _button(rc, "Step").click()
        assert "year 2025 (step 2 of 10)" in _status(rc)
        now = [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]
        assert len(now) == 5 and all(new != old for new, old in zip(now, first))
        slider = rc.find(v.Slider, label="Amazon AI budget ($bn/yr)").widget
        slider.v_model = 75.0
        assert any("press Reset" in str(w.children) for w in rc.find(v.Alert).widgets)
        _button(rc, "Reset").click()
        status = _status(rc)
        assert "year 2023 (step 0 of 10)" in status and "Amazon budget $75bn/yr*" in status
    finally:
        rc.close()


def test_every_session_gets_its_own_model():
    box1, rc1 = _render_page()
    box2, rc2 = _render_page()
    try:
        _button(rc1, "Step").click()
        assert "step 1 of 10" in _status(rc1)
        assert "step 0 of 10" in _status(rc2)
    finally:
        rc1.close()
        rc2.close()


def test_every_scenario_of_the_library_fits_the_sidebar():
    """Picking any scenario moves every control to a value it can show."""
    from model.scenario import available_scenarios

    for name in available_scenarios():
        values = Settings.of_scenario(name).values
        for knob in KNOBS:
            value = values[knob.path]
            assert value in knob.choices if knob.choices else knob.min <= value <= knob.max, (name, knob.path, value)
