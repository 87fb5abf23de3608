"""The no-dead-parameter screen (issue 11): every numeric parameter of the baseline, moved one at a
time from the low to the high end of its documented range with common random numbers, must change
at least one headline output by more than that output's seed noise.

Ranges are read from the comments of scenarios/baseline.toml ("range lo-hi"); a number without one
moves +-25 % within its bounds (the rule stated there for firm and niche figures). A parameter that
matters only in some worlds is screened in the scenario (or setting) listed in CONTEXTS, with why.
The seed noise of an output is the standard error of its mean over the screen's seeds at the
scenario's own values; a change passes if it is larger than that, or if its paired difference
(same seeds, low vs high) is three standard errors from zero: otherwise it could not be told from
luck with these seeds. A paired difference must also be at least a tenth of the output's spread
over seeds, so a nudge does not pass. A firm's money parameters (cash, other cash flow, payout) are
not credited with moving its own final cash, which they do by accounting alone.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import numpy as np
import pytest

from model.race import AIRaceModel
from model.scenario import load_scenario
from report.tables import run_outcomes

ROOT = Path(__file__).resolve().parents[1]
SEEDS = range(4)
RANGE = re.compile(r"range\s+(-?[\d,.]+)\s*-\s*(-?[\d,.]+)")
DEFAULT_SPAN = 0.25

# Not parameters of the model's behaviour: the run's frame, and a drawing threshold of the network.
NOT_BEHAVIOUR = {
    "start_year": "the calendar frame of the run",
    "years": "the length of the run",
    "market.min_flow_bn": "only which share flows are drawn as network edges",
    **{f"valuation.{name}": "how compare values the runs' cash flows, not what the firms do (tests/test_valuation.py)"
       for name in ("discount_rate", "terminal_growth", "exit_multiple")},
}

# Parameters that matter only in some worlds: (scenario, extra settings, why). The merger thresholds
# decide only deals whose HHI increase passes its threshold, which happen in some seeds: they are
# screened in the first baseline seeds that have a blocked deal (`blocking_seeds`).
CRACKDOWN = ("regulatory_crackdown", {}, "fines bite only in a crackdown, where a firm passes the dominance share")
BIG_DEALS = "seeds with a blocked deal"
# Money parameters that, even where cash binds, move nothing but the firm's own cash: the model uses a
# major's cash only for deals (no interest, no budget discipline), so these are screened for that echo.
# At the fitted values Google Cloud's cash never limits a deal it wants (it holds $68-168B over 20 seeds,
# and the scaled rivals its budget would add cost more or less than either end of the range).
CASH_ONLY = {f"firms.{firm}.other_cash_flow_bn" for firm in ("amazon", "azure", "google_cloud", "shopify", "alibaba")} | {
    "firms.shopify.cash_bn", "firms.shopify.payout_share", "firms.google_cloud.cash_bn", "firms.google_cloud.payout_share"}

# Parameters the screen finds below seed noise in the fitted world (in their CONTEXTS where listed): they
# are wired (test_a_weak_parameter_is_wired_but_below_seed_noise checks they change a headline) but too
# weak to tell from luck over 4 seeds, and the ODD (Section 8) says so.
# - The entrant mix between niches: sustainability and explainability startups are alike (both lock in
#   half their customers at 2.5x a major's capability per dollar), and the niches' ceiling holds the
#   startups' total, so who enters barely shows in a headline (ratio 0.65 and 0.85; with the ceiling
#   lifted explainability's scores 1.01, sustainability's 0.64).
# - Alibaba's cash where cash binds: 40 $bn more changes a deal in some seeds (35 -> 36 in seed 1) and so
#   many headlines a little, but no more than luck does (ratio 0.58).
WEAK_AT_FIT = {"startups.niches.explainability.weight", "startups.niches.sustainability.weight", "firms.alibaba.cash_bn"}

# A firm's cash decides only what it can afford: where bidders cannot borrow and go for scaled rivals early.
CASH_BINDS = ("baseline", {"acquisitions.scaled_share": 0.01, "acquisitions.financing_multiple": 0.0},
              "cash binds only for deals a bidder cannot borrow for")
BASELINE_FIRMS = ("amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba")
CONTEXTS: dict[str, tuple[str, dict, str]] = {
    "regulator.dominance_share": CRACKDOWN,
    "regulator.dominance_fine_rate": CRACKDOWN,
    "regulator.hhi_threshold": ("baseline", {"regulator.share_threshold": 1.0},
                                "at the default share test every deal the HHI test would block is already blocked; " + BIG_DEALS),
    "regulator.share_threshold": ("baseline", {"regulator.hhi_threshold": 10_000.0},
                                  "at the default HHI test the share test decides only where the HHI test clears; " + BIG_DEALS),
    "regulator.delta_hhi_threshold": ("baseline", {}, "it decides only deals with a large HHI increase; " + BIG_DEALS),
    "talent.min_wage_index": ("baseline", {"talent.supply_growth": 0.3},
                              "the wage floor binds only where talent grows faster than AI spend"),
    **{f"firms.{firm}.{money}": CASH_BINDS for firm in BASELINE_FIRMS for money in ("cash_bn", "other_cash_flow_bn", "payout_share")},
    **{f"firms.walmart.{money}": ("baseline", CASH_BINDS[1] | {"firms.walmart.policy": "accelerate"},
                                  "at the fitted values Walmart partners in most years (9 of 10 in the screen's seeds, which have no "
                                  "Walmart deal; 2 of 20 seeds do); its cash counts where it accelerates and bids")
       for money in ("cash_bn", "other_cash_flow_bn", "payout_share")},
    **{f"firms.{firm}.segments.ecommerce.differentiation": (
        "baseline", {"segments.ecommerce.capability_elasticity": 2.0},
        "locked-in customers matter only where the firm's own share would move: at the fitted values Amazon's and "
        "Alibaba's e-commerce shares stay near their pull-implied shares (Amazon 11.9 -> 11.6 %), so they are "
        "screened where e-commerce weighs capability steeply, at the top of its elasticity range")
       for firm in ("amazon", "alibaba")},
    "strategies.consortium_saving": ("conservative", {}, "the saving needs two majors differentiating in one year, "
                                     "which the fitted baseline seldom has; in conservative Amazon differentiates"),
    "startups.niches.edge_chips.differentiation": ("baseline", {"startups.addressable_share": 1.0},
                                                   "under the niches' ceiling, which binds at the fitted values, how "
                                                   "startups hold their customers hardly changes how many they hold"),
    "acquisitions.financing_multiple": ("baseline", {"acquisitions.scaled_share": 0.01},
                                        "a bidder's cash binds only for scaled rivals, which appear sooner at a lower scaled share"),
    "acquisitions.min_cash_bn": CASH_BINDS,
    "partnership.capability_share": ("rivals_partner", {"partnership.leverage": 20.0},
                                     "the cap binds only when fees buy more than a share of the provider's capability"),
}


@functools.cache
def blocking_seeds(count: int = 4, search: int = 40) -> tuple[int, ...]:
    """The first baseline seeds with at least one blocked acquisition."""
    found = []
    for seed in range(search):
        model = AIRaceModel("baseline", rng=seed)
        model.run()
        if model.datacollector.get_model_vars_dataframe()["blocked_acquisitions"].sum() > 0:
            found.append(seed)
            if len(found) == count:
                return tuple(found)
    raise AssertionError(f"only {len(found)} of {search} baseline seeds block a deal")


def documented_ranges(path: Path = ROOT / "scenarios" / "baseline.toml") -> dict[str, tuple[float, float]]:
    section, ranges = "", {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("["):
            section = text.strip("[]").strip()
        elif "=" in text and not text.startswith("#") and (found := RANGE.search(line)):
            key = text.split("=")[0].strip().strip('"')
            ranges[f"{section}.{key}"] = tuple(float(x.replace(",", "")) for x in found.groups())
    return ranges


def numeric_parameters(obj, prefix: str = "") -> dict[str, tuple[float, dict]]:
    """Every int or float of a scenario by dotted path, with its field's bounds (booleans and names excluded)."""
    found = {}
    for field in dataclasses.fields(obj):
        value, path = getattr(obj, field.name), f"{prefix}{field.name}"
        if isinstance(value, bool | str):
            continue
        if isinstance(value, int | float):
            found[path] = (value, field.metadata)
        elif dataclasses.is_dataclass(value):
            found.update(numeric_parameters(value, path + "."))
        elif isinstance(value, dict):
            for key, item in value.items():
                if dataclasses.is_dataclass(item):
                    found.update(numeric_parameters(item, f"{path}.{key}."))
    return found


BASELINE = load_scenario("baseline")
PARAMETERS = numeric_parameters(BASELINE)
RANGES = documented_ranges()


def screen_range(path: str, value: float, bounds: dict) -> tuple[float, float]:
    if path in RANGES:
        lo, hi = RANGES[path]
    elif value == 0:
        lo, hi = 0.0, 0.1
    else:
        lo, hi = sorted((value * (1 - DEFAULT_SPAN), value * (1 + DEFAULT_SPAN)))
    lo, hi = max(lo, bounds.get("lo", -np.inf)), min(hi, bounds.get("hi", np.inf))
    if isinstance(value, int):
        lo, hi = int(np.floor(lo)), int(np.ceil(hi))
        if lo == hi:
            lo, hi = max(int(bounds.get("lo", 0)), value - 1), value + 1
    return lo, hi


def settings(path: str, value: float, scenario) -> dict | None:
    """The override that moves one parameter; a firm's allocation moves with its others rescaled to keep
    their sum 1 (None for a firm with one segment, whose allocation is 1 by construction)."""
    parts = path.split(".")
    if parts[0] == "firms" and parts[-1] == "allocation":
        firm, segment = parts[1], parts[3]
        rest = {k: v.allocation for k, v in scenario.firms[firm].segments.items() if k != segment}
        if not rest:
            return None
        total = sum(rest.values())
        return {path: value} | {f"firms.{firm}.segments.{k}.allocation": a * (1 - value) / total for k, a in rest.items()}
    return {path: value}


def headlines(model: AIRaceModel) -> dict[str, float]:
    """What an analyst reads off a run: each major's profit, cash and return, every final share and
    segment's size and concentration, the input markets, startups and deals."""
    firms = run_outcomes(model)["firms"]
    out = {}
    for firm, o in firms.items():
        out |= {f"{firm} cumulative profit": o["cumulative_profit_bn"], f"{firm} final cash": o["final_cash_bn"],
                f"{firm} return on AI spend": o["return_on_ai_spend"]}
    for segment, shares in model.final_shares().items():
        out |= {f"{segment} share of {firm}": share for firm, share in shares.items()}
    series = model.datacollector.get_model_vars_dataframe()
    for column in series.columns:
        if column.startswith(("size_bn_", "hhi_")):
            out[column] = float(series[column].iloc[-1])
    for column in ("ai_wage_index", "compute_utilization", "compute_demand_ratio", "startups_alive"):
        out[column] = float(series[column].iloc[1:].mean())
    for column in ("acquisitions", "blocked_acquisitions", "blocked_partnerships", "funding_raised_bn"):
        out[column] = float(series[column].sum())
    out["fines paid"] = float(model.ledger.col("cum_fines_bn").sum())
    return out


@functools.cache
def runs(scenario: str, extra: tuple, moved: tuple = (), seeds: tuple = tuple(SEEDS)) -> list[dict[str, float]]:
    values = dict(extra) | dict(moved)
    out = []
    for seed in seeds:
        model = AIRaceModel(scenario, rng=seed, **values)
        model.run()
        out.append(headlines(model))
    return out


def as_array(rows: list[dict[str, float]], keys: list[str]) -> np.ndarray:
    return np.array([[row.get(k, 0.0) for k in keys] for row in rows])


SCREENED = sorted(p for p in PARAMETERS if p not in NOT_BEHAVIOUR)


def test_the_screen_covers_every_numeric_parameter_and_reads_ranges():
    """Nothing escapes: every numeric parameter is screened or named as not behavioural, every context
    and exemption names a real parameter, and the file documents ranges for most assumed numbers."""
    assert set(SCREENED) | set(NOT_BEHAVIOUR) == set(PARAMETERS)
    assert set(CONTEXTS) <= set(PARAMETERS) and set(NOT_BEHAVIOUR) <= set(PARAMETERS) and CASH_ONLY <= set(CONTEXTS)
    assert WEAK_AT_FIT <= set(SCREENED) and not WEAK_AT_FIT & CASH_ONLY
    assert len(RANGES) >= 70 and set(RANGES) <= set(PARAMETERS), sorted(set(RANGES) - set(PARAMETERS))
    assert RANGES["acquisitions.revenue_multiple"] == (5.0, 30.0)


ECHOES = ("cash_bn", "other_cash_flow_bn", "payout_share")


def echo_of(path: str) -> str | None:
    """The headline a firm's money parameter moves by accounting alone (its own final cash)."""
    parts = path.split(".")
    return f"{parts[1]} final cash" if parts[0] == "firms" and parts[-1] in ECHOES else None


def screened_effect(path: str, span: tuple[float, float] | None = None) -> tuple[float, str] | None:
    """How far the parameter's strongest effect on a headline stands above seed noise (> 1: alive),
    with a sentence saying what moved; None when it cannot move (an allocation fixed at 1). `span`
    replaces the documented range."""
    scenario_name, extra, why = CONTEXTS.get(path, ("baseline", {}, ""))
    seeds = blocking_seeds() if BIG_DEALS in why else tuple(SEEDS)
    scenario = load_scenario(scenario_name, values=extra)
    value, bounds = numeric_parameters(scenario)[path]
    lo, hi = span or screen_range(path, value, bounds)
    low, high = settings(path, lo, scenario), settings(path, hi, scenario)
    if low is None:
        return None
    extra_key = tuple(sorted(extra.items()))
    base = runs(scenario_name, extra_key, (), seeds)
    keys = sorted(set().union(*base) - {echo_of(path)})
    at_low = as_array(runs(scenario_name, extra_key, tuple(sorted(low.items())), seeds), keys)
    at_high = as_array(runs(scenario_name, extra_key, tuple(sorted(high.items())), seeds), keys)
    difference = at_high - at_low
    effect = np.abs(difference.mean(axis=0))
    floor = 1e-9 * np.abs(as_array(base, keys).mean(axis=0)) + 1e-12
    spread = np.maximum(as_array(base, keys).std(axis=0, ddof=1), floor)
    noise = spread / np.sqrt(len(seeds))
    paired = np.maximum(difference.std(axis=0, ddof=1) / np.sqrt(len(seeds)), floor)
    # beyond the noise of a seed's mean; or a paired difference three standard errors from zero that
    # is also at least a tenth of the output's spread over seeds (not a mere nudge)
    ratio = np.maximum(effect / noise, np.minimum(effect / paired / 3.0, effect / spread / 0.1))
    best = int(np.argmax(ratio))
    return float(ratio[best]), (f"{path} moved {lo:g} -> {hi:g} in {scenario_name}: its largest effect, on "
                                f"{keys[best]}, is {effect[best]:.3g} against a seed noise of {noise[best]:.3g} "
                                f"(paired standard error {paired[best]:.3g})")


@pytest.mark.parametrize("path", [p for p in SCREENED if p not in CASH_ONLY | WEAK_AT_FIT])
def test_the_parameter_changes_a_headline_by_more_than_seed_noise(path):
    found = screened_effect(path)
    if found is None:
        pytest.skip(f"{path} is 1 by construction (the firm sells in one segment)")
    ratio, what = found
    assert ratio > 1.0, what


def test_the_screen_finds_a_parameter_that_changes_nothing():
    """The screen can fail: market.min_flow_bn, which only decides which flows are drawn, scores 0."""
    ratio, what = screened_effect("market.min_flow_bn")
    assert ratio == 0.0, what


def test_the_screen_fails_a_nudge():
    """A parameter moved by one part in a million changes outputs smoothly but negligibly: it fails."""
    value = BASELINE.market.installed_base_floor
    ratio, what = screened_effect("market.installed_base_floor", (value, value * (1 + 1e-6)))
    assert ratio <= 1.0, what


def runs_at_both_ends(path: str) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """The screen's runs of one parameter at the low and the high end of its range, in its context."""
    scenario_name, extra, _ = CONTEXTS.get(path, ("baseline", {}, ""))
    value, bounds = numeric_parameters(load_scenario(scenario_name, values=extra))[path]
    lo, hi = screen_range(path, value, bounds)
    key = tuple(sorted(extra.items()))
    return runs(scenario_name, key, ((path, lo),)), runs(scenario_name, key, ((path, hi),))


@pytest.mark.parametrize("path", sorted(CASH_ONLY))
def test_a_cash_only_parameter_moves_its_firms_cash(path):
    """The parameters listed in CASH_ONLY change their firm's final cash in every seed (and, the screen
    found, nothing else beyond seed noise: a limitation the ODD states)."""
    cash = f"{path.split('.')[1]} final cash"
    low, high = runs_at_both_ends(path)
    moved = np.array([r[cash] for r in high]) - np.array([r[cash] for r in low])
    assert np.all(moved != 0) and abs(moved.mean()) > 1e-3, moved


@pytest.mark.parametrize("path", sorted(WEAK_AT_FIT))
def test_a_weak_parameter_is_wired_but_below_seed_noise(path):
    """The parameters listed in WEAK_AT_FIT change some headline other than their firm's own cash in at
    least one seed (they are not dead), and the screen still finds them below seed noise: when one rises
    above it, it leaves the list."""
    low, high = runs_at_both_ends(path)
    keys = sorted(set(low[0]) - {echo_of(path)})
    changed = np.any(np.abs(as_array(high, keys) - as_array(low, keys)) > 1e-9, axis=1)
    assert changed.any(), path
    ratio, what = screened_effect(path)
    assert ratio <= 1.0, what
