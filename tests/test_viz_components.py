"""The browser view's components and page, rendered without a browser (solara.render)."""

from __future__ import annotations

import io

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from mesa.visualization.solara_viz import _build_model_init_kwargs
from PIL import Image

from viz import app
from viz.components import (
    COMPONENTS, KNOBS, LOG_LINES, BrowserRaceModel, Chart, EventLog, FinanceChart, HHIChart, NetworkChart, NetworkView,
    SharesChart, StrategyChart, chart_for, events_html, knob_values, parse_seed, snapshot, status_text,
)

CHARTS = (NetworkChart, SharesChart, FinanceChart, StrategyChart, HHIChart)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def stepped():
    """A default-scenario model three years in."""
    model = BrowserRaceModel("baseline", rng=7)
    for _ in range(3):
        model.step()
    return model


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_each_component_renders_once(component, stepped):
    box, rc = solara.render(component(stepped), handle_error=False)
    try:
        if component is EventLog:
            assert "Year 2026" in rc.find(solara.widgets.HTML).widget.unsafe_innerHTML
        else:
            image = rc.find(ipywidgets.Image).widget
            assert bytes(image.value).startswith(PNG)
            width, height = Image.open(io.BytesIO(bytes(image.value))).size
            assert width >= 400 and height >= 250
    finally:
        rc.close()


def test_event_log_lists_this_years_events(stepped):
    text = events_html(stepped)
    assert "Year 2026" in text and "baseline | seed 7" in text
    for label in ("acquisitions", "blocked deals", "partnerships", "exits", "entries"):
        assert label in text
    events = stepped.events_this_year
    shown = min(len(events), LOG_LINES)
    assert text.count("<tr>") == shown + (len(events) > LOG_LINES)
    if len(events) > LOG_LINES:
        assert f"and {len(events) - LOG_LINES} more" in text
    for e in events:
        if e.kind == "acquisition":  # deals are listed first
            assert f"{e.source} acquired {e.target}" in text
    start = BrowserRaceModel("baseline", rng=7)
    assert "Press <b>Step</b>" in events_html(start)


@pytest.mark.parametrize("kind", CHARTS, ids=lambda k: k.__name__)
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
        # Only where a line meets a spine or legend do the two draw orders differ (about 0.3 %).
        assert differs.mean() < 0.006, f"{kind.__name__}, {model.year}: {differs.mean():.2%} of pixels differ"
    assert len({p for p in pictures}) == len(pictures), "the picture must change every year"


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


def test_charts_redraw_in_well_under_a_second(stepped):
    import time

    model = BrowserRaceModel("baseline", rng=11)
    for kind in CHARTS:
        chart_for(model, kind).png(model)
    model.step()
    started = time.perf_counter()
    for kind in CHARTS:
        chart_for(model, kind).png(model)
    assert time.perf_counter() - started < 1.5  # about 0.2 s on an idle 2-core machine


# ----------------------------------------------------------------------- model as SolaraViz builds it


def test_reset_passes_the_scenario_name_through_mesa():
    """Mesa 3.5's Reset swaps `scenario` for its own Scenario object unless model.scenario is empty."""
    model = BrowserRaceModel("baseline", rng=1)
    params = {"scenario": "power_crunch", "rng": "4", "years": 10,
              **{k.path: k.default() for k in KNOBS}, "firms.amazon.ai_budget_bn": 60.0}
    kwargs = _build_model_init_kwargs(model, params, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    assert kwargs["scenario"] == "power_crunch"
    rebuilt = BrowserRaceModel(**kwargs)
    assert rebuilt.params.name == "power_crunch"
    values = knob_values(rebuilt)
    assert values["firms.amazon.ai_budget_bn"] == 60.0  # moved: overrides
    assert values["compute.capacity_growth"] == pytest.approx(0.10)  # untouched: the scenario's own
    assert rebuilt.params.years == 10 and rebuilt.seed_text == "4"
    assert "Amazon budget $60bn*" in status_text(rebuilt) and "compute +10 %/yr," in status_text(rebuilt)


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


def test_app_defines_the_sidebar_params():
    params = app.model_params
    assert params["scenario"]["type"] == "Select"
    from model.scenario import available_scenarios

    assert params["scenario"]["values"] == available_scenarios()
    assert params["rng"]["type"] == "InputText"
    for knob in KNOBS:
        slider = params[knob.path]
        assert slider.min <= slider.value <= slider.max
    paths = set(params)
    for needed in ("firms.amazon.ai_budget_bn", "regulator.hhi_threshold", "regulator.delta_hhi_threshold",
                   "talent.supply_growth", "compute.capacity_growth", "startups.entry_rate"):
        assert needed in paths


# ----------------------------------------------------------------------- the whole page


def _render_page():
    return solara.render(solara.AppLayout(children=[app.page()]), handle_error=False)


def _button(rc, label):
    return rc.find(v.Btn, children=[label]).widget


def _status(rc) -> str:
    return rc.find(solara.widgets.HTML).widget.unsafe_innerHTML


def test_page_steps_and_resets_with_new_values():
    box, rc = _render_page()
    try:
        assert "year 2023 (step 0 of 10)" in _status(rc)
        images = rc.find(ipywidgets.Image)
        assert len(images.widgets) == 5
        first = [bytes(w.value) for w in images.widgets]
        for _ in range(2):
            _button(rc, "Step").click()
        assert "year 2025 (step 2 of 10)" in _status(rc)
        assert all(bytes(w.value) != old for w, old in zip(rc.find(ipywidgets.Image).widgets, first))
        slider = rc.find(v.Slider, label="Amazon AI budget ($bn/yr)").widget
        slider.v_model = 75.0
        _button(rc, "Reset").click()
        status = _status(rc)
        assert "year 2023 (step 0 of 10)" in status and "Amazon budget $75bn*" in status
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


def test_chart_base_is_abstract():
    with pytest.raises(NotImplementedError):
        Chart(BrowserRaceModel("baseline", rng=1))
    assert NetworkView.__name__ == "NetworkView"
