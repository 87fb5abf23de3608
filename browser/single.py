"""The single-run view: one model stepped year by year, its charts, its year, its deals.

Every component takes the model and redraws when Mesa's `update_counter` moves (each Step, Play
tick and Reset); nothing here changes the model. Charts are `viz.live` figures shown as pictures
that carry their smallest text size (`data-min-font-px`), so a test can check legibility on
screen; the network's picture has a hover label over every drawn node.
"""

from __future__ import annotations

import html

import pandas as pd
import solara
from mesa.visualization.utils import update_counter

from browser.settings import KNOBS, BrowserRaceModel, knob_values
from model.params import MAJOR_IDS
from model.race import AIRaceModel
from model.schema import Event
from report.export import csv_text, run_table_files
from report.tables import run_tables
from viz.live import (
    CHART_KINDS, Chart, FinanceChart, HHIChart, NetworkChart, SharesChart, StrategyChart, chart_for, min_text_px,
    snapshot,
)

EVENT_ORDER = ("acquisition", "blocked_acquisition", "partnership", "exit", "entry")
EVENT_LABEL = {"entry": "entries", "exit": "exits", "acquisition": "acquisitions",
               "blocked_acquisition": "blocked deals", "partnership": "partnerships"}
DEAL_KINDS = {"acquisition": "completed", "blocked_acquisition": "blocked"}
ALL = "all"


def chart_overlay_html(chart: Chart) -> str:
    """What lies over a chart's picture: its smallest text size (`data-min-font-px`) and, on the
    network, a hover label over every drawn node, placed in fractions of the picture."""
    spots = "".join(
        f'<span class="race-node" title="{html.escape(m.label)}" data-node="{html.escape(m.node)}" '
        f'style="position:absolute;left:{100 * (m.x - m.radius):.3f}%;top:{100 * m.y:.3f}%;'
        f'width:{200 * m.radius:.3f}%;aspect-ratio:1;transform:translateY(-50%);border-radius:50%;'
        f'cursor:help;pointer-events:auto"></span>'
        for m in getattr(chart, "marks", ()))
    return (f'<div class="race-overlay" data-chart="{chart.name}" data-min-font-px="{min_text_px(chart.fig):.2f}" '
            f'style="position:absolute;inset:0;pointer-events:none">{spots}</div>')


def chart_picture(model: AIRaceModel, kind: type[Chart]) -> tuple[bytes, str]:
    """The chart's picture for the model's year and what lies over it."""
    chart = chart_for(model, kind)
    png = chart.png(model)
    return png, chart_overlay_html(chart)


@solara.component
def ChartView(model: AIRaceModel, kind: type[Chart]):
    """One chart of `viz.live`, redrawn on Step / Play / Reset; sent as binary PNG (no base64)."""
    update_counter.get()
    png, overlay = solara.use_memo(lambda: chart_picture(model, kind), [model, model.steps])
    with solara.Div(classes=["race-chart"], style="position: relative; line-height: 0") as main:
        solara.Image(png, format="png", width="100%", classes=["race-figure", f"race-{chart_for(model, kind).name}"])
        solara.HTML(tag="div", unsafe_innerHTML=overlay, style="position: absolute; inset: 0; pointer-events: none")
    return main


# --------------------------------------------------------------------------- words


def run_years(model: AIRaceModel) -> tuple[int, int]:
    """The calibrated start year and the last simulated year of the run."""
    first = int(model.year) - int(model.steps)
    return first, first + int(model.params.years)


def clock_text(model: AIRaceModel) -> str:
    last = run_years(model)[1]
    if not model.steps:
        return f"{model.year}: the calibrated start (step 0 of {model.params.years})"
    done = " — run complete" if not model.running else ""
    return f"{model.year} (step {model.steps} of {model.params.years}, to {last}){done}"


def status_text(model: AIRaceModel) -> str:
    """One line: scenario, seed, year, and the knob values in force (* = set in the sidebar)."""
    seed = getattr(model, "seed_text", None) or str(getattr(model, "_seed", "?"))
    values = knob_values(model)
    overridden = set(getattr(model, "knob_overrides", {}))
    knobs = ", ".join(f"{k.short} {k.fmt(values[k.path])}{'*' if k.path in overridden else ''}" for k in KNOBS)
    return (f"{model.params.name} | seed {seed} | year {model.year} "
            f"(step {model.steps} of {model.params.years}) | {knobs}")


def event_text(e: Event) -> str:
    src, dst, value, kind = e.source, e.target, e.value_bn, e.kind
    if kind == "acquisition":
        return f"{src} acquired {dst} for ${value:.2f}bn"
    if kind == "blocked_acquisition":
        return f"regulator blocked {src} buying {dst} (${value:.2f}bn)"
    if kind == "partnership":
        return f"{src} partners with {dst} (${value:.2f}bn)"
    if kind == "exit":
        return f"{src} ran out of cash and exited"
    if kind == "entry":
        return f"{src} entered {e.segment} (seed ${value:.2f}bn)"
    return f"{kind}: {src} {dst}"


def events_html(model: AIRaceModel) -> str:
    """This year's events, every one of them (the box scrolls), deals first."""
    events = list(model.events_this_year) if model.steps else []
    esc = html.escape
    parts = [f'<div class="race-status">{esc(status_text(model))}<br>'
             f'<span style="font-size:0.9em">* = set in the sidebar; other values are the scenario\'s own</span></div>']
    if not model.steps:
        parts.append(f"<div>The calibrated {model.year} start. Press <b>Step</b> to simulate a year.</div>")
        return "".join(parts)
    counts = {kind: sum(e.kind == kind for e in events) for kind in EVENT_ORDER}
    parts.append(f'<div class="race-counts"><b>{model.year}:</b> '
                 + ", ".join(f"{counts[k]} {EVENT_LABEL[k]}" for k in EVENT_ORDER) + "</div>")
    ordered = sorted((e for e in events if e.kind in EVENT_ORDER),
                     key=lambda e: (EVENT_ORDER.index(e.kind), -e.value_bn))
    rows = "".join(f"<tr><td>{esc(event_text(e))}</td></tr>" for e in ordered)
    parts.append(f'<table class="race-events">{rows}</table>')
    return "".join(parts)


@solara.component
def EventLog(model: AIRaceModel):
    update_counter.get()
    content = solara.use_memo(lambda: events_html(model), [model, model.steps])
    return solara.HTML(tag="div", unsafe_innerHTML=content, classes=["race-log"])


def deals_table(model: AIRaceModel) -> pd.DataFrame:
    """Every acquisition tried so far: year, acquirer, target, segment, price and whether it was blocked."""
    events = snapshot(model).events
    deals = events[events["event"].isin(tuple(DEAL_KINDS))]
    return pd.DataFrame({
        "year": deals["year"].astype(int), "acquirer": deals["source"], "target": deals["target"],
        "segment": deals["segment"], "price_bn": deals["value_bn"].astype(float),
        "outcome": deals["event"].map(DEAL_KINDS),
    }).reset_index(drop=True)


def filter_deals(deals: pd.DataFrame, firm: str = ALL, outcome: str = ALL) -> pd.DataFrame:
    kept = deals
    if firm != ALL:
        kept = kept[(kept["acquirer"] == firm) | (kept["target"] == firm)]
    if outcome != ALL:
        kept = kept[kept["outcome"] == outcome]
    return kept


def deals_html(deals: pd.DataFrame) -> str:
    esc = html.escape
    if deals.empty:
        return '<div class="race-deals-empty">No acquisition tried yet.</div>'
    head = "".join(f"<th>{h}</th>" for h in ("year", "acquirer", "target", "segment", "price", "outcome"))
    body = "".join(
        f'<tr class="race-deal {esc(r.outcome)}"><td>{r.year}</td><td>{esc(r.acquirer)}</td><td>{esc(r.target)}</td>'
        f"<td>{esc(r.segment)}</td><td>${r.price_bn:.2f}bn</td><td>{esc(r.outcome)}</td></tr>"
        for r in deals.itertuples())
    return f'<table class="race-deals"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


@solara.component
def DealsTable(model: AIRaceModel):
    """Who bought whom, over the whole run so far, filterable by firm and outcome."""
    update_counter.get()
    firm, set_firm = solara.use_state(ALL)
    outcome, set_outcome = solara.use_state(ALL)
    deals = solara.use_memo(lambda: deals_table(model), [model, model.steps])
    firms = [ALL, *[f for f in MAJOR_IDS if f in set(deals["acquirer"])],
             *sorted(set(deals["acquirer"]) - set(MAJOR_IDS))]
    kept = filter_deals(deals, firm if firm in firms else ALL, outcome)
    with solara.Card("Deals: every acquisition tried so far", classes=["race-deals-card"]):
        with solara.Row():
            solara.Select("Firm", value=firm if firm in firms else ALL, values=firms, on_value=set_firm)
            solara.Select("Outcome", value=outcome, values=[ALL, *DEAL_KINDS.values()], on_value=set_outcome)
            solara.Text(f"{len(kept)} of {len(deals)} deals", classes=["race-deals-count"])
        solara.HTML(tag="div", unsafe_innerHTML=deals_html(kept), classes=["race-deals-box"])


# --------------------------------------------------------------------------- downloads


def run_downloads(model: AIRaceModel) -> dict[str, str]:
    """The run's tables as `run.py run` writes them, so far."""
    return {name: csv_text(frame) for name, frame in run_table_files(run_tables(model)).items()}


@solara.component
def Downloads(model: AIRaceModel):
    """The run's tables (CSV, as `run.py run` writes them) and each chart (PNG), as of the click:
    built when clicked, so this card need not redraw every year."""
    stem = f"{model.params.name}-seed{model.seed}"
    with solara.Card("Downloads", classes=["race-downloads"]):
        with solara.Row(style="flex-wrap: wrap; gap: 4px"):
            for name in ("shares.csv", "firms.csv", "model.csv", "events.csv"):
                solara.FileDownload(lambda name=name: run_downloads(model)[name], filename=f"{stem}-{name}",
                                    label=name, mime_type="text/csv")
            for kind in CHART_KINDS:
                chart = chart_for(model, kind)
                solara.FileDownload(lambda kind=kind: chart_for(model, kind).png(model),
                                    filename=f"{stem}-{chart.name}.png", label=f"{chart.name}.png",
                                    mime_type="image/png")


def scenario_card_html(model: BrowserRaceModel) -> str:
    esc = html.escape
    params = model.params
    overrides = getattr(model, "knob_overrides", {})
    values = knob_values(model)
    knobs = "".join(
        f"<li>{esc(k.label)}: <b>{esc(k.fmt(values[k.path]))}</b>"
        f"{' <i>(set in the sidebar)</i>' if k.path in overrides else ''}</li>" for k in KNOBS)
    first, last = run_years(model)
    horizon = f"{params.years} years from the {first} start, to {last}"
    return (f'<div class="race-scenario"><div class="race-scenario-name"><b>{esc(params.name)}</b> · {esc(horizon)}'
            f'{" <i>(set in the sidebar)</i>" if "years" in overrides else ""}</div>'
            f'<p>{esc(" ".join(params.description.split()))}</p><ul>{knobs}</ul></div>')


@solara.component
def ScenarioCard(model: BrowserRaceModel):
    """What the running model is: the scenario's description and the knob values in force."""
    with solara.Card("Running scenario", classes=["race-scenario-card"]):
        solara.HTML(tag="div", unsafe_innerHTML=scenario_card_html(model))


@solara.component
def SingleRun(model: BrowserRaceModel):
    """The single-run view: network beside the year and its events, then the charts, the deals."""
    with solara.Columns([7, 5]):
        ChartView(model, NetworkChart)
        with solara.Column():
            EventLog(model)
            ScenarioCard(model)
    with solara.Columns([6, 6]):
        ChartView(model, SharesChart)
        ChartView(model, FinanceChart)
    with solara.Columns([6, 6]):
        ChartView(model, StrategyChart)
        ChartView(model, HHIChart)
    DealsTable(model)
    Downloads(model)
