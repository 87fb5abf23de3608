"""The comparison view: two plans over many paired seeds, valued as `run.py compare` values them.

A plan is a scenario of the library or the sidebar's settings (`SIDEBAR`). Both plans run every
seed (and, with draws, every parameter set drawn from the scenario's [uncertainties]) in the
background through `sweeps.paired.compare_plans`, the function `compare` calls, with the seeds
`compare --seed S --replicates N` derives, so the page's cards are the command's numbers.
"""

from __future__ import annotations

import base64
import html
import io
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import solara
import solara.lab

from browser.settings import KNOB_BY_PATH, Settings, settings_plan
from model.params import MAJOR_IDS, Scenario, ValuationParams
from model.scenario import available_scenarios, load_scenario
from report.compare import (
    check_compare_size, cumulative_profit_bands, headline, paired_seed_counts, terminal_words, verdict_word,
)
from report.export import csv_text
from sweeps.design import DesignError, paired_uncertainty_factors, sampled_points
from sweeps.execute import WorkerPool, derive_seeds
from sweeps.paired import Comparison, DifferentHorizons, NothingToCompare, PlansDiffer, check_plans, compare_plans
from viz.compare_plots import plot_profit_paths, plot_share_paths
from viz.live import min_text_px

SIDEBAR = "(the sidebar's settings)"
DEFAULT_FIRST, DEFAULT_SECOND = "jassy_bold", "conservative"
DEFAULT_SEEDS, MAX_SEEDS = 20, 100
MAX_DRAWS = 50
MAX_PAGE_RUNS = 1000  # per plan pair: about 3 minutes here; larger comparisons belong to `run.py compare`
BASE_SEED = 1  # compare's default --seed
INTERVAL = "90 %"
PROGRESS_S = 0.25
# The page's comparisons run on worker processes kept for the server's life: started from a forkserver
# (the server has threads) when the page first opens, they cost a second once, not for every comparison.
POOL = WorkerPool()


class CompareRefused(ValueError):
    """Two plans that cannot be compared as chosen: one line, shown on the page."""


class Cancelled(Exception):
    """The comparison was stopped (Cancel, or the page closed)."""


@dataclass(frozen=True)
class Request:
    first: str = DEFAULT_FIRST
    second: str = DEFAULT_SECOND
    seeds: int = DEFAULT_SEEDS
    draws: int = 0
    base_seed: int = BASE_SEED

    def command(self) -> str:
        """The `run.py compare` that gives the same numbers (for plans from the library)."""
        draws = f" --draws {self.draws}" if self.draws else ""
        return f"python run.py compare {self.first} {self.second} --replicates {self.seeds} --seed {self.base_seed}{draws}"


@dataclass(frozen=True)
class Result:
    request: Request
    settings: Settings  # the sidebar's, as a plan was built from them
    names: list[str]
    comparison: Comparison
    valuation: ValuationParams
    start_year: int
    years: int
    runs: int
    seconds: float


def plan(choice: str, settings: Settings) -> Scenario:
    return settings_plan(settings) if choice == SIDEBAR else load_scenario(choice)


def check_request(request: Request, settings: Settings) -> list[Scenario]:
    """The two plans, or CompareRefused naming what is wrong."""
    if request.first == request.second:
        raise CompareRefused(f"both plans are {request.first}: pick two different plans")
    if not 2 <= request.seeds <= MAX_SEEDS:
        raise CompareRefused(f"seeds {request.seeds}: give 2 to {MAX_SEEDS}")
    if not (request.draws == 0 or 2 <= request.draws <= MAX_DRAWS):
        raise CompareRefused(f"parameter draws {request.draws}: give 0 (seeds only) or 2 to {MAX_DRAWS}, "
                             f"so the spread can be split between parameters and luck")
    if 2 * request.seeds * max(1, request.draws) > MAX_PAGE_RUNS:
        raise CompareRefused(f"{request.seeds} seeds x {max(1, request.draws)} draws x 2 plans is "
                             f"{2 * request.seeds * max(1, request.draws):,} runs, more than the page's {MAX_PAGE_RUNS:,}: "
                             f"use fewer, or `run.py compare` (shown below)")
    for choice, other in ((request.first, request.second), (request.second, request.first)):
        if choice == SIDEBAR and other == settings.scenario and not settings.overrides():
            raise CompareRefused(f"the sidebar holds {other}'s own values, so both plans are {other}: "
                                 f"change a setting in the sidebar or pick another plan")
    plans = [plan(request.first, settings), plan(request.second, settings)]
    try:
        check_plans(plans)
    except DifferentHorizons as exc:
        advice = "set the sidebar's years to match" if SIDEBAR in (request.first, request.second) else \
            "pick plans of the same horizon"
        raise CompareRefused(f"{exc}: {advice}") from None
    except PlansDiffer as exc:
        raise CompareRefused(str(exc)) from None
    try:
        check_compare_size(2, request.seeds * max(1, request.draws), plans[0].years)
    except ValueError as exc:
        raise CompareRefused(str(exc)) from None
    return plans


def points(request: Request, plans: list[Scenario]) -> list[dict[str, Any]]:
    if not request.draws:
        return [{}]
    try:
        return sampled_points(paired_uncertainty_factors(plans, f"parameter draws {request.draws}"), request.draws,
                              request.base_seed, "lhs")
    except DesignError as exc:
        raise CompareRefused(str(exc)) from None


def run_comparison(request: Request, settings: Settings, on_run=None, pool: WorkerPool | None = None) -> Result:
    """Check, draw and run the comparison (on `pool`'s workers, else in this process); CompareRefused
    for a choice that cannot be run. `on_run` is called after every run; it may raise `Cancelled` to stop."""
    plans = check_request(request, settings)
    drawn = points(request, plans)
    started = time.perf_counter()
    try:
        comparison = compare_plans(plans, drawn, derive_seeds(request.base_seed, request.seeds),
                                   drawn=bool(request.draws), horizons=(), workers=1, on_run=on_run, pool=pool)
    except NothingToCompare as exc:
        raise CompareRefused(str(exc)) from None
    return Result(request, settings, [p.name for p in plans], comparison, plans[0].valuation, plans[0].start_year,
                  plans[0].years, 2 * len(drawn) * request.seeds, time.perf_counter() - started)


# --------------------------------------------------------------------------- what is shown


@dataclass(frozen=True)
class Card:
    """One major's answer: the first plan minus the second, over the paired runs."""

    firm: str
    value_bn: float  # mean incremental value (NPV of free cash flow + terminal value)
    low_bn: float  # 90 % interval of the mean
    high_bn: float
    wins: float  # share of paired runs where the first plan's value is higher
    p5_bn: float  # 5-95 % of paired runs
    p95_bn: float
    profit_bn: float  # mean difference of cumulative profit
    cloud_share_pt: float | None  # mean difference of the final cloud AI share, points (None: not in cloud)
    parameter_share: float | None  # share of the value difference's spread that the drawn parameters make


def cards(result: Result) -> list[Card]:
    paired = result.comparison.paired.set_index(["firm", "metric"])
    split = result.comparison.split
    split = split[split["metric"] == "value_bn"].set_index("firm") if len(split) else split
    out = []
    for firm in MAJOR_IDS:
        if (firm, "value_bn") not in paired.index:
            continue
        value = paired.loc[(firm, "value_bn")]
        cloud = paired.loc[(firm, "final_share_cloud_ai")] if (firm, "final_revenue_bn_cloud_ai") in paired.index else None
        share = None
        if result.request.draws and firm in split.index and pd.notna(split.loc[firm, "parameter_share"]):
            share = float(split.loc[firm, "parameter_share"])
        out.append(Card(
            firm=firm, value_bn=float(value["diff_mean"]), low_bn=float(value["mean_ci90_low"]),
            high_bn=float(value["mean_ci90_high"]), wins=float(value["first_wins_share"]),
            p5_bn=float(value["diff_p5"]), p95_bn=float(value["diff_p95"]),
            profit_bn=float(paired.loc[(firm, "cumulative_profit_bn"), "diff_mean"]),
            cloud_share_pt=None if cloud is None else 100 * float(cloud["diff_mean"]), parameter_share=share))
    return out


def answer(card: Card) -> str:
    """How the first plan fares for this firm, in the words of `compare`'s verdict."""
    return verdict_word(card.wins)


def card_html(card: Card, names: list[str], unit: str) -> str:
    sign = "gain" if card.value_bn > 0 else "loss"
    sure = ("the whole interval is above zero" if card.low_bn > 0 else "the whole interval is below zero"
            if card.high_bn < 0 else "the interval holds zero")
    cloud = "" if card.cloud_share_pt is None else (
        f"<div>cloud AI share {card.cloud_share_pt:+.1f} points vs {html.escape(names[1])} in the final year</div>")
    split = "" if card.parameter_share is None else (
        f"<div>spread: {100 * card.parameter_share:.0f} % from the drawn parameters, "
        f"{100 * (1 - card.parameter_share):.0f} % luck</div>")
    return (
        f'<div class="race-card" data-firm="{card.firm}" data-value="{card.value_bn:.6g}" '
        f'data-low="{card.low_bn:.6g}" data-high="{card.high_bn:.6g}" data-wins="{card.wins:.6g}">'
        f'<div class="race-card-firm">{html.escape(card.firm)}: {html.escape(names[0])} {answer(card)}</div>'
        f'<div class="race-card-value">{card.value_bn:+,.0f} $bn</div>'
        f"<div>incremental value ({sign}); {INTERVAL} interval of the mean {card.low_bn:+,.0f} to {card.high_bn:+,.0f} $bn "
        f"({sure})</div>"
        f"<div>higher under {html.escape(names[0])} in <b>{100 * card.wins:.0f} %</b> of paired {unit}; "
        f"90 % of them between {card.p5_bn:+,.0f} and {card.p95_bn:+,.0f} $bn</div>"
        f"<div>cumulative profit {card.profit_bn:+,.0f} $bn vs {html.escape(names[1])}</div>{cloud}{split}</div>")


def figure_html(fig, css: str) -> str:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=fig.dpi, pil_kwargs={"compress_level": 1})
    data = base64.b64encode(out.getvalue()).decode("ascii")
    return (f'<img class="race-figure {css}" src="data:image/png;base64,{data}" data-min-font-px="{min_text_px(fig):.2f}" '
            f'style="width:100%;height:auto;display:block" alt="{css}">')


def page_tables(comparison: Comparison) -> dict:
    """The comparison's files the page offers: compare's, less the horizon x rate grid, which the
    page leaves out (its runs stop at the plans' horizon; `run.py compare` writes it)."""
    return {name: frame for name, frame in comparison.table_files().items() if name != "verdict_sensitivity.csv"}


def valuation_text(valuation: ValuationParams) -> str:
    own = " (firms with their own rate use it)" if valuation.firms else ""
    return (f"Value = free cash flow discounted at {100 * valuation.discount_rate:g} % a year{own}, plus a terminal "
            f"value ({terminal_words(valuation)}).")


def sidebar_words(settings: Settings) -> str:
    changed = settings.overrides()
    what = "; ".join(f"{KNOB_BY_PATH[p].short} {KNOB_BY_PATH[p].fmt(v)}" if p in KNOB_BY_PATH else f"{p} {v}"
                     for p, v in changed.items())
    return f"{settings.scenario}_as_set is {settings.scenario} with {what}"


def result_html(result: Result) -> str:
    comparison, names = result.comparison, result.names
    unit = "runs" if result.request.draws else "seeds"
    rows = comparison.paired[comparison.paired["other"] == names[1]].set_index(["firm", "metric"])
    yearly = comparison.runs.yearly
    profit = cumulative_profit_bands(yearly[yearly["year"] < result.start_year + result.years])
    failures = comparison.runs.failures
    failed = (f" {len(failures)} runs failed, so {paired_seed_counts(comparison.runs.outcomes, names)[names[1]]} "
              f"pairs remain (first error: {failures[0]['error'][:200]})." if failures else "")
    built = (f" {sidebar_words(result.settings)}." if SIDEBAR in (result.request.first, result.request.second) else "")
    how = (f"{names[0]} minus {names[1]}, pair by pair over {result.request.seeds} seeds"
           + (f" x {result.request.draws} parameter draws" if result.request.draws else "")
           + f", {result.years} years. {valuation_text(result.valuation)}{built} "
           f"{result.runs} runs in {result.seconds:.1f} s.{failed}")
    return (
        f'<div class="race-verdict">{html.escape(headline(names[0], names[1], rows, unit))}</div>'
        f'<div class="race-compare-meta">{html.escape(how)}</div>'
        f'<div class="race-cards">{"".join(card_html(c, names, unit) for c in cards(result))}</div>'
        f"<h4>Market shares: median and 5–95 % band over paired {unit}</h4>"
        + figure_html(plot_share_paths(comparison.bands, names), "race-compare-shares")
        + f"<h4>Cumulative profit: median and 5–95 % band over paired {unit}</h4>"
        + figure_html(plot_profit_paths(profit, names), "race-compare-profit"))


@solara.component
def ComparisonView(settings: Settings, request: solara.Reactive[Request]):
    """Pick two plans and a number of seeds, run them in the background, show the answer."""
    refused = solara.use_reactive("")
    done = solara.use_reactive(0)

    stop = solara.use_memo(threading.Event, [])
    solara.use_effect(lambda: stop.set, [])  # the page closed: a running comparison stops at its next run
    solara.use_effect(lambda: threading.Thread(target=POOL.start, name="start-workers", daemon=True).start(), [])

    def work(chosen: Request, current: Settings) -> tuple[Result, str] | None:
        total = 2 * chosen.seeds * max(1, chosen.draws)
        count = [0, time.perf_counter()]
        done.set(0)

        def tick() -> None:  # the page redraws the progress at most every PROGRESS_S
            if stop.is_set():
                raise Cancelled
            count[0] += 1
            if time.perf_counter() - count[1] >= PROGRESS_S or count[0] == total:
                count[1] = time.perf_counter()
                done.set(count[0])
                task.progress = 100.0 * count[0] / total

        try:
            result = run_comparison(chosen, current, on_run=tick, pool=POOL)
        except Cancelled:
            return None
        return result, result_html(result)

    task = solara.lab.use_task(work, dependencies=None, raise_error=False)

    def start() -> None:
        try:
            check_request(request.value, settings)
        except CompareRefused as exc:
            refused.set(str(exc))
            return
        refused.set("")
        stop.clear()
        task(request.value, settings)

    choices = [*available_scenarios(), SIDEBAR]
    value = request.value
    with solara.Card("Compare two plans", classes=["race-compare-controls"]):
        solara.Markdown("Does the first plan pay off against the second, for Amazon and for its rivals? Both run "
                        "the same seeds (paired), so the differences are the plans' alone.")
        with solara.Row(style="flex-wrap: wrap; gap: 12px; align-items: center"):
            solara.Select("First plan", value=value.first, values=choices,
                          on_value=lambda v: request.set(replace(request.value, first=v)))
            solara.Text("against")
            solara.Select("Second plan", value=value.second, values=choices,
                          on_value=lambda v: request.set(replace(request.value, second=v)))
            solara.InputInt("Seeds (2-100)", value=value.seeds, continuous_update=False,
                            on_value=lambda v: request.set(replace(request.value, seeds=int(v or 0))))
            solara.InputInt("Parameter draws (0-50)", value=value.draws, continuous_update=False,
                            on_value=lambda v: request.set(replace(request.value, draws=int(v or 0))))
            solara.Button("Run comparison", color="primary", on_click=start, disabled=task.pending,
                          classes=["race-compare-run"])
            if task.pending:
                solara.Button("Cancel", on_click=stop.set, classes=["race-compare-cancel"])
        solara.Text(f"Up to {MAX_PAGE_RUNS:,} runs. Parameter draws: each draw sets the scenario's uncertain parameters ([uncertainties]: Latin "
                    "hypercube over their ranges) and runs every seed, so the spread splits between parameters and luck.",
                    style="font-size: 0.85em; color: #555; display: block")
        if SIDEBAR not in (value.first, value.second):
            solara.Text(f"Same numbers from the command line: {value.command()}", classes=["race-compare-command"],
                        style="font-size: 0.85em; color: #555; font-family: monospace; display: block; margin-top: 4px")
    if refused.value:
        solara.Error(refused.value, classes=["race-compare-refused"])
    if task.pending:
        total = 2 * value.seeds * max(1, value.draws)
        solara.ProgressLinear(task.progress if task.progress is not None else True)
        solara.Text(f"Running {done.value} of {total} runs ...", classes=["race-compare-progress"])
    if task.error:
        message = str(task.exception) if isinstance(task.exception, CompareRefused) else f"the comparison failed: {task.exception}"
        solara.Error(message, classes=["race-compare-refused"])
    if task.finished and task.value is None:
        solara.Info("Cancelled: press Run comparison to start again.", classes=["race-compare-cancelled"])
    if task.finished and task.value is not None:
        result, content = task.value
        sidebar_moved = SIDEBAR in (result.request.first, result.request.second) and result.settings != settings
        if result.request != value or sidebar_moved:
            solara.Warning("The choices above (or the sidebar's settings it compares) changed since this comparison "
                           "ran: press Run comparison to update it.",
                           classes=["race-compare-stale"])
        solara.HTML(tag="div", unsafe_innerHTML=content, classes=["race-compare-result"])
        with solara.Row(style="flex-wrap: wrap; gap: 4px"):
            stem = f"compare-{result.names[0]}-{result.names[1]}"
            for name, frame in page_tables(result.comparison).items():
                solara.FileDownload(lambda frame=frame: csv_text(frame), filename=f"{stem}-{name}", label=name,
                                    mime_type="text/csv")
