"""Mechanisms that bite in the default world (issue 11): each repaired mechanism fires in the
baseline, moves outcomes the right way, and keeps the run within what history shows.

Over 10 seeds with common random numbers; the history figures are in ../shared/history/capex.csv
(yearly capex changes of the hyperscalers 2019-2025: -17 % to +138 %).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from model.params import Strategy
from model.processes import shares
from model.race import AIRaceModel
from report.tables import run_outcomes

SEEDS = range(10)
CLOUDS = ("amazon", "azure", "google_cloud", "alibaba")


def run(seed: int, scenario: str = "baseline", **overrides) -> AIRaceModel:
    model = AIRaceModel(scenario, rng=seed, **overrides)
    model.run()
    return model


def majors_table(model: AIRaceModel) -> pd.DataFrame:
    firms = model.datacollector.get_table_dataframe("firms")
    return firms[firms["kind"] == "major"]


def spend_paths(model: AIRaceModel) -> pd.DataFrame:
    return majors_table(model).pivot(index="year", columns="firm", values="ai_spend_bn")


def switches(model: AIRaceModel) -> dict[str, int]:
    table = majors_table(model)
    table = table[table["year"] > model.params.start_year - 1]
    return {firm: int((g["strategy"].to_numpy()[1:] != g["strategy"].to_numpy()[:-1]).sum())
            for firm, g in table.groupby("firm")}


@pytest.fixture(scope="module")
def baseline():
    return [run(seed) for seed in SEEDS]


# ---------------------------------------------------------------- scarce inputs bind in the build-out years
def test_compute_is_tight_in_2024_to_2026_of_the_baseline(baseline):
    """The 2023-2025 GPU and power shortage: on average over seeds more than 90 % of compute capacity
    is used in each of 2024-2026, and no seed has a slack year below 80 %."""
    used = pd.DataFrame({seed: m.datacollector.get_model_vars_dataframe().set_index("year")["compute_utilization"]
                         for seed, m in zip(SEEDS, baseline)}).loc[2024:2026]
    assert (used.mean(axis=1) > 0.9).all(), used.mean(axis=1).round(3).tolist()
    assert (used.to_numpy() > 0.8).all(), used.round(3).to_string()


def test_slower_capacity_growth_rations_more():
    """compute.capacity_growth is not dead: slower growth means more rationing and less AI spend deployed."""
    slow = [run(s, **{"compute.capacity_growth": 0.10}) for s in SEEDS]
    fast = [run(s, **{"compute.capacity_growth": 0.30}) for s in SEEDS]
    utilisation = lambda ms: np.mean([m.datacollector.get_model_vars_dataframe()["compute_utilization"].iloc[-1] for m in ms])
    deployed = lambda ms: np.mean([majors_table(m)["ai_spend_bn"].sum() for m in ms])
    assert utilisation(slow) > utilisation(fast)
    assert deployed(slow) < deployed(fast)


def test_power_crunch_is_a_real_crunch():
    """In power_crunch compute is rationed (demand above capacity) in most years of every seed."""
    for seed in SEEDS:
        ratio = run(seed, "power_crunch").datacollector.get_model_vars_dataframe()["compute_demand_ratio"].iloc[1:]
        assert (ratio > 1.0).mean() >= 0.5, ratio.round(2).tolist()


# ---------------------------------------------------------------- growth saturates, budgets scale
def test_markets_stay_below_their_potential_over_30_years():
    """AI's uplift cannot grow a market without end: after 30 years every segment is below its potential."""
    model = run(0, years=30)
    for s, seg in enumerate(model.params.segments.values()):
        assert model.demand.size_bn[s] < seg.potential_bn
    assert model.demand.size_bn[0] > 3 * model.params.segments["cloud_ai"].size_bn, "the cloud still grows a lot"


def test_a_lower_potential_slows_growth():
    low = np.mean([run(s, **{"segments.cloud_ai.potential_bn": 1000.0}).demand.size_bn[0] for s in SEEDS[:4]])
    high = np.mean([run(s, **{"segments.cloud_ai.potential_bn": 10000.0}).demand.size_bn[0] for s in SEEDS[:4]])
    assert low < high


def test_budgets_keep_pace_with_markets_and_rise_with_share_less_than_in_proportion():
    """With share elasticity 0 a major's budget grows exactly as its markets at 2023 shares; with a
    positive elasticity a major that gained share plans more than that, one that lost share less."""
    fixed, scaled = run(0, **{"strategies.budget_share_elasticity": 0.0}), run(0, **{"strategies.budget_share_elasticity": 0.6})
    for firm in ("amazon", "azure", "walmart"):
        led, row = fixed.ledger, fixed.majors[firm].row
        at_2023_shares = np.sum(led.base_share[row] * fixed.demand.size_bn * led.take_rate[row])
        expected = fixed.params.firms[firm].ai_budget_bn * at_2023_shares / led.base_revenue_bn[row]
        assert led.ai_budget_bn[row] == pytest.approx(expected) and expected > 1.5 * fixed.params.firms[firm].ai_budget_bn
    led = scaled.ledger
    for firm, major in scaled.majors.items():
        row = major.row
        share_ratio = (np.sum(led.share[row] * scaled.demand.size_bn * led.take_rate[row])
                       / np.sum(led.base_share[row] * scaled.demand.size_bn * led.take_rate[row]))
        if abs(share_ratio - 1.0) > 0.05:
            compare = fixed.ledger.ai_budget_bn[fixed.majors[firm].row]
            assert (led.ai_budget_bn[row] > compare) is (share_ratio > 1.0), firm


# ---------------------------------------------------------------- firms decide like firms
def test_spend_changes_stay_within_history(baseline):
    """The cloud majors' yearly AI-spend changes: the middle 90 % within history's -17 % .. +138 %, with some slack."""
    changes = np.concatenate([spend_paths(m)[list(CLOUDS)].pct_change().iloc[1:].to_numpy().ravel() for m in baseline])
    low, high = np.percentile(changes, [5, 95])
    assert -0.3 < low and high < 1.5, (low, high)


def test_slower_capex_adjustment_damps_swings():
    """strategies.spend_adjustment is not dead: a slower adjustment gives smaller yearly spend changes."""
    def swing(adjustment):
        return np.mean([np.abs(spend_paths(run(s, **{"strategies.spend_adjustment": adjustment}))[list(CLOUDS)]
                               .pct_change().iloc[1:].to_numpy()).mean() for s in SEEDS])
    assert swing(0.3) < swing(1.0)


def test_the_bold_majors_choose_consistently(baseline):
    """Amazon and Azure, whose forecasts favour accelerating, accelerate in most years and switch rarely."""
    for model in baseline:
        table = majors_table(model)
        for firm in ("amazon", "azure"):
            chosen = table[(table["firm"] == firm) & (table["year"] >= model.params.start_year)]["strategy"]
            assert (chosen == "accelerate").mean() >= 0.7, (firm, chosen.tolist())
    assert np.mean([switches(m)["amazon"] for m in baseline]) < 2.5


def test_more_noise_means_more_switching():
    """adaptive.temperature scales the noise of the choice: more of it, more switches."""
    calm = np.mean([sum(switches(run(s, **{"adaptive.temperature": 0.03})).values()) for s in SEEDS])
    noisy = np.mean([sum(switches(run(s, **{"adaptive.temperature": 0.5})).values()) for s in SEEDS])
    assert calm < noisy


def test_one_bad_year_does_not_lock_a_firm_in():
    """A strategy remembered as a disaster is re-estimated from the forecast while not chosen: give
    Amazon a terrible memory of accelerating after the first year, and it accelerates again later."""
    back = 0
    for seed in SEEDS:
        model = AIRaceModel("baseline", rng=seed)
        model.step()
        row = model.majors["amazon"].row
        model.ledger.experience_bn[row, Strategy.ACCELERATE] = -200.0
        model.ledger.tried[row, Strategy.ACCELERATE] = True
        model.run()
        chosen = majors_table(model).query("firm == 'amazon' and year >= 2030")["strategy"]
        back += (chosen == "accelerate").mean() >= 0.5
    assert back >= 7, back


# ---------------------------------------------------------------- money spent on deals is money
def test_a_dearer_multiple_makes_the_same_deal_dearer_and_the_price_counts_in_returns():
    """What acquirers pay is recorded at the price the multiple sets, and counts in their return on AI
    spend: a startup bought in the same year at 5x and at 30x revenue (same seed) costs more at 30x,
    and each major's return is its operating gain over own spend, fees and the prices of its deals in
    events.csv. Buyers adjust what they buy, so the totals do not move with the price: at the fitted
    values Amazon, Azure and Google Cloud buy less at 30x and their returns rise (Amazon -0.25 -> -0.16
    over 10 seeds): the cheap deals, scaled startups among them, do not pay back within ten years."""
    def deals(model):
        events = tables(model)[2]
        return events[events["event"] == "acquisition"]

    matched, amazon = [], {5.0: [], 30.0: []}
    for seed in SEEDS:
        prices = {}
        for multiple in amazon:
            model = run(seed, **{"acquisitions.revenue_multiple": multiple})
            bought = deals(model)
            prices[multiple] = bought.set_index(["year", "target"])["value_bn"]
            paid = bought.groupby("source")["value_bn"].sum()
            outcomes = run_outcomes(model)["firms"]
            for firm, o in outcomes.items():
                assert o["cumulative_acquisition_outlay_bn"] == pytest.approx(paid.get(firm, 0.0))
                invested = o["cumulative_ai_spend_bn"] + o["cumulative_fees_paid_bn"] + paid.get(firm, 0.0)
                if invested > 0:
                    assert o["return_on_ai_spend"] == pytest.approx((o["cumulative_operating_gain_bn"] - invested) / invested)
            amazon[multiple].append((outcomes["amazon"]["cumulative_acquisition_outlay_bn"], outcomes["amazon"]["return_on_ai_spend"]))
        matched.append(pd.concat({"cheap": prices[5.0], "dear": prices[30.0]}, axis=1).dropna())
    both = pd.concat(matched)
    assert len(both) >= 20, len(both)
    assert (both["dear"] > both["cheap"]).mean() > 0.9, both.describe()
    cheap, dear = np.mean(amazon[5.0], axis=0), np.mean(amazon[30.0], axis=0)
    assert dear[0] < cheap[0] and dear[1] > cheap[1], (cheap, dear)


def test_an_acquirers_outlay_is_in_its_firm_rows(baseline):
    """The firms table's acquisition_outlay_bn sums the prices of the year's acquisition events by that firm."""
    for model in baseline[:3]:
        firms = model.datacollector.get_table_dataframe("firms")
        events = model.datacollector.get_table_dataframe("events")
        deals = events[events["event"] == "acquisition"].groupby(["year", "source"])["value_bn"].sum()
        paid = firms[firms["acquisition_outlay_bn"] > 0].set_index(["year", "firm"])["acquisition_outlay_bn"]
        pd.testing.assert_series_equal(paid.sort_index(), deals.rename_axis(["year", "firm"]).sort_index(),
                                       check_names=False)


# ---------------------------------------------------------------- review bites where real reviews bite
def tables(model: AIRaceModel) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    dc = model.datacollector
    return dc.get_table_dataframe("firms"), dc.get_table_dataframe("shares"), dc.get_table_dataframe("events")


def blocked(model: AIRaceModel) -> int:
    return int((tables(model)[2]["event"] == "blocked_acquisition").sum())


def test_review_blocks_some_deals_in_some_seeds_of_the_baseline():
    """At the Guidelines thresholds majors bid for scaled startups and some of those bids are blocked,
    in some seeds and not in others; a stricter regulator blocks more and so changes who owns what."""
    seeds = range(20)
    default = [run(s) for s in seeds]
    counts = np.array([blocked(m) for m in default])
    assert 0 < (counts > 0).sum() < len(counts), counts.tolist()
    strict = [run(s, **{"regulator.strictness": 3.0}) for s in seeds]
    assert sum(blocked(m) for m in strict) > counts.sum()
    startups_share = lambda ms: np.mean([m.final_shares()["cloud_ai"]["startups"] for m in ms])
    assert startups_share(strict) > startups_share(default)  # the blocked targets stay independent


def test_majors_bid_for_scaled_startups(baseline):
    """Targets past acquisitions.scaled_share are bid for: some acquisitions or blocks are of startups
    worth at least a point of the cloud market."""
    scaled = 0
    for model in baseline:
        firms, shares_table, events = tables(model)
        deals = events[events["event"].isin(["acquisition", "blocked_acquisition"])]
        cloud = shares_table[shares_table["segment"] == "cloud_ai"].set_index(["year", "firm"])["share"]
        before = [cloud.get((year - 1, target), 0.0) for year, target in zip(deals["year"], deals["target"])]
        scaled += sum(b >= 0.01 for b in before)
    assert scaled >= 3, scaled


def test_partnerships_of_firms_that_sell_cloud_are_reviewed_and_mostly_cleared():
    """When startups rent AI, the regulator sees every such partnership; at the Guidelines thresholds it
    clears all of them (the fees move a sliver of the market), a much stricter one blocks some."""
    reviewed = cleared = strict_blocks = 0
    for seed in range(4):
        series = run(seed, **{"startups.policy": "partner"}).datacollector.get_model_vars_dataframe()
        reviewed += series["partnerships_reviewed"].sum()
        cleared += series["partnerships_reviewed"].sum() - series["blocked_partnerships"].sum()
        strict = run(seed, **{"startups.policy": "partner", "regulator.strictness": 200.0})
        strict_blocks += strict.datacollector.get_model_vars_dataframe()["blocked_partnerships"].sum()
    assert reviewed > 100 and cleared == reviewed
    assert strict_blocks > 0


# ---------------------------------------------------------------- startups have a life cycle
def test_some_startups_grow_past_one_percent_of_cloud(baseline):
    largest = [tables(m)[1].query("segment == 'cloud_ai' and firm.str.startswith('startup')")["share"].max() for m in baseline]
    assert sum(x > 0.01 for x in largest) >= 3, np.round(largest, 4).tolist()


def test_startups_mostly_fail_or_get_acquired(baseline):
    """Of the startups alive in 2023, by 2033 most have failed or been bought, and both happen."""
    failed = bought = total = 0
    for model in baseline:
        firms, _, events = tables(model)
        cohort = set(firms[(firms["kind"] == "startup") & (firms["year"] == model.params.start_year - 1)]["firm"])
        failed += len(cohort & set(events[events["event"] == "exit"]["source"]))
        bought += len(cohort & set(events[events["event"] == "acquisition"]["target"]))
        total += len(cohort)
    assert (failed + bought) / total > 0.5 and failed > 0 and bought > 0, (failed, bought, total)


def test_startup_sizes_are_heavy_tailed_and_failure_comes_at_any_age(baseline):
    """The largest live startup earns at least ten times the median one in most runs; exits happen at
    ages from 0 to 5 years and beyond."""
    ratios, ages = [], []
    for model in baseline:
        firms, _, events = tables(model)
        last = firms[(firms["kind"] == "startup") & (firms["year"] == firms["year"].max()) & firms["alive"]]
        ratios.append(last["revenue_bn"].max() / last["revenue_bn"].median())
        entry_year = firms[firms["kind"] == "startup"].groupby("firm")["year"].min()
        exits = events[events["event"] == "exit"]
        ages += (exits["year"].to_numpy() - entry_year.reindex(exits["source"]).to_numpy()).tolist()
    assert np.median(ratios) >= 10, np.round(ratios, 1).tolist()
    assert min(ages) <= 1 and max(ages) >= 5, sorted(ages)


def test_a_better_funding_climate_grows_the_startups():
    """startups.funding_growth carries ai_funding.csv's climate forward: more money raised, and startups
    together hold more of the cloud market at the end where their niches' ceiling does not bind. At the
    fitted values it binds by 2033 in both climates, holding them at startups.addressable_share, so it
    is lifted here: uncapped, startups take 29-80 % of cloud by 2033 (seeds 0-5), a world the ceiling
    exists to rule out, but the direction of the climate's effect is the mechanism's."""
    def outcome(growth):
        models = [run(s, **{"startups.funding_growth": growth, "startups.addressable_share": 1.0}) for s in SEEDS]
        return (np.mean([m.datacollector.get_model_vars_dataframe()["funding_raised_bn"].sum() for m in models]),
                np.mean([m.final_shares()["cloud_ai"]["startups"] for m in models]))
    poor, rich = outcome(-0.2), outcome(0.3)
    assert rich[0] > poor[0] and rich[1] > poor[1]


def test_startups_niches_cap_their_share_of_cloud(baseline):
    """startups.addressable_share binds in the default world (in some seeds the startups would
    outgrow it), a lower ceiling leaves them less, and at the fitted capability elasticity of cloud (1.53,
    data/calibration-2023), where their efficient capability compounds to a quarter of cloud or more
    by 2033 without it, it holds them to the ceiling."""
    def startups_share(models):
        return np.array([m.final_shares()["cloud_ai"]["startups"] for m in models])
    ceiling = baseline[0].params.startups.addressable_share
    held = startups_share(baseline)
    uncapped = startups_share([run(s, **{"startups.addressable_share": 1.0}) for s in SEEDS])
    lower = startups_share([run(s, **{"startups.addressable_share": ceiling / 2}) for s in SEEDS])
    assert held.max() <= ceiling + 0.01 and lower.max() <= ceiling / 2 + 0.01, (held.round(3).tolist(), lower.round(3).tolist())
    assert (uncapped - held > 0.01).sum() >= 2, (uncapped.round(3).tolist(), held.round(3).tolist())
    assert lower.mean() < held.mean() - 0.02
    fitted = {"segments.cloud_ai.capability_elasticity": 1.53}
    compounding = startups_share([run(s, **fitted, **{"startups.addressable_share": 1.0}) for s in SEEDS[:4]])
    capped = startups_share([run(s, **fitted) for s in SEEDS[:4]])
    assert compounding.mean() > 1.5 * ceiling and capped.max() <= ceiling + 0.01, (compounding.round(3).tolist(), capped.round(3).tolist())


# ---------------------------------------------------------------- renting AI costs what it is worth
def test_renting_is_no_free_lunch_for_walmart(baseline):
    """Walmart partners in most years, and its advertising share grows at most a few times over ten
    years (it went 0.57 % -> 4.5 % before renting was priced), with a modest return on its AI money."""
    ads = [m.final_shares()["advertising"]["walmart"] for m in baseline]
    roi = [run_outcomes(m)["firms"]["walmart"]["return_on_ai_spend"] for m in baseline]
    assert np.mean(ads) < 3 * 0.0057, np.mean(ads)
    assert np.mean(roi) < 2.0, np.mean(roi)


def test_fees_are_the_providers_cloud_revenue_so_partnering_moves_cloud_shares():
    """Fees a provider receives are AI workloads placed with it, new cloud demand: $10B more of them
    add exactly $10B to its cloud revenue and leave every rival's revenue as it was, while its share of
    the (larger) cloud market rises and theirs fall; it earns its margin on them."""
    model = run(0, years=3)
    led, size = model.ledger, model.demand.size_bn
    google = model.majors["google_cloud"].row
    more = copy.deepcopy(led)
    more.fees_received_bn[google] += 10.0
    shares.move_shares(led, model.params, size, np.random.default_rng(0))
    shares.move_shares(more, model.params, size, np.random.default_rng(0))
    assert more.revenue_bn[google, 0] - led.revenue_bn[google, 0] == pytest.approx(10.0)
    others = np.flatnonzero(led.col("share")[:, 0] > 0)
    others = others[others != google]
    np.testing.assert_allclose(more.revenue_bn[others, 0], led.revenue_bn[others, 0], rtol=1e-9)
    assert more.share[google, 0] > led.share[google, 0] and np.all(more.share[others, 0] < led.share[others, 0])
    gained = (more.revenue_bn[google] * more.margin[google]).sum() - (led.revenue_bn[google] * led.margin[google]).sum()
    assert gained == pytest.approx(10.0 * led.margin[google, 0])


def test_rented_capability_scales_with_the_fee():
    """A client paying more gets more capability: Walmart's effective e-commerce capability under
    rivals_partner rises with partnership.fee_share."""
    def walmart(fee_share):
        model = run(0, "rivals_partner", **{"partnership.fee_share": fee_share})
        return model.ledger.effective_capability[model.majors["walmart"].row, 1]
    assert walmart(0.1) < walmart(0.3) < walmart(0.6)


# ---------------------------------------------------------------- AI can lower costs where it is aimed
def test_ai_raises_margins_where_it_is_aimed_and_that_pays():
    """With the margin ceilings at 0 margins stay at 2023's; at the default ones Amazon's e-commerce and
    cloud margins rise by less than the ceiling, and its cumulative profit is higher."""
    flat = {"segments.cloud_ai.ai_margin_ceiling": 0.0, "segments.ecommerce.ai_margin_ceiling": 0.0,
            "segments.advertising.ai_margin_ceiling": 0.0}
    gain = []
    for seed in SEEDS:
        none, some = run(seed, **flat), run(seed)
        row = some.majors["amazon"].row
        np.testing.assert_allclose(none.ledger.margin[row], none.ledger.base_margin[row])
        uplift = some.ledger.margin[row] - some.ledger.base_margin[row]
        ceilings = np.array([seg.ai_margin_ceiling for seg in some.params.segments.values()])
        assert np.all(uplift > 0) and np.all(uplift < ceilings)
        gain.append(run_outcomes(some)["firms"]["amazon"]["cumulative_profit_bn"]
                    - run_outcomes(none)["firms"]["amazon"]["cumulative_profit_bn"])
    assert np.mean(gain) > 0, gain


# ---------------------------------------------------------------- share mobility matches history
HISTORY_MOBILITY = {"amazon": 0.6, "azure": 1.8, "google_cloud": 1.2}  # mean |yearly change|, points, 2019-2024


def test_cloud_share_mobility_is_of_historys_order(baseline):
    """Mean absolute yearly change of the cloud shares of Amazon, Azure and Google Cloud
    (../shared/history/cloud_market.csv and the issue's figures for 2019-2024): the three together
    within a factor 1.5 of history's, Azure and Google Cloud each within a factor 2. Amazon's is a
    known miss, asserted as one so that a fix shows here: history moved it least (0.6 points), but the
    contract shocks have one size for every provider, so it moves 2-3 times as much (1.6 points a year,
    README, Calibrated to history); it must stay below 3 times."""
    changes = []
    for model in baseline:
        cloud = tables(model)[1].query("segment == 'cloud_ai'").pivot(index="year", columns="firm", values="share")
        changes.append((cloud[list(HISTORY_MOBILITY)].diff().abs().iloc[1:] * 100).mean())
    mobility = pd.concat(changes, axis=1).mean(axis=1)
    seen = np.mean(list(HISTORY_MOBILITY.values()))
    assert seen / 1.5 <= mobility.mean() <= seen * 1.5, mobility.round(2).to_dict()
    for firm in ("azure", "google_cloud"):
        assert HISTORY_MOBILITY[firm] / 2 <= mobility[firm] <= HISTORY_MOBILITY[firm] * 2, mobility.round(2).to_dict()
    assert 2 * HISTORY_MOBILITY["amazon"] < mobility["amazon"] < 3 * HISTORY_MOBILITY["amazon"], mobility.round(2).to_dict()


# ---------------------------------------------------------------- each market weighs capability its own way
def test_a_segments_capability_elasticity_moves_that_segments_shares():
    """gamma is each segment's: with it steeper, e-commerce (or advertising) shares move more a year,
    while the pull of every other segment is computed with its own gamma."""
    def yearly_movement(seg: str, gamma: float) -> float:
        moved = []
        for seed in SEEDS[:3]:
            table = tables(run(seed, **{f"segments.{seg}.capability_elasticity": gamma}))[1].query(f"segment == '{seg}'")
            moved.append(table.pivot(index="year", columns="firm", values="share").diff().abs().sum(axis=1).iloc[1:].mean())
        return float(np.mean(moved))

    for seg in ("ecommerce", "advertising"):
        flat, unit, steep = (yearly_movement(seg, g) for g in (0.5, 1.0, 2.0))
        assert flat < unit < steep, (seg, flat, unit, steep)
    params = run(0, years=1, **{"segments.ecommerce.capability_elasticity": 2.0}).params
    cloud = params.segments["cloud_ai"].capability_elasticity
    assert params.pull_params(1)[0] == 2.0 and params.pull_params(0)[0] == cloud and params.pull_params()[0][1] == 2.0
