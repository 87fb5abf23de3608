"""Each yearly process of `model.processes`, called directly on a ledger, the parameters and a stream.

Most tests start from a baseline model stepped twice (a realistic ledger with startups, partners and
deals), copied so that each test may change it; they assert a direction or an accounting identity.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from agents.firm import MajorFirm, Startup
from model import market
from model.ledger import Kind
from model.params import CLOUD, CLOUD_PROVIDERS, SEGMENTS, STRATEGIES, Strategy
from model.positions import pull, rented_capability, update_effective_capability
from model.processes import (
    acquisitions, demand, entry, funding, inputs, investment, money, partnerships, recording, review, shares, strategy,
)
from model.race import AIRaceModel
from model.scenario import ScenarioError, load_scenario
from model.schema import Event, EventKind, LinkKind, PartnershipMode

EAGER_BIDDERS = {"acquisitions.bid_probability": 1.0, "acquisitions.differentiator_bid_probability": 1.0,
                 "acquisitions.min_target_age": 0}
TINY_THRESHOLDS = {"regulator.hhi_threshold": 1.0, "regulator.delta_hhi_threshold": 0.0001}


def stepped_model(years: int = 2, **overrides) -> AIRaceModel:
    model = AIRaceModel("baseline", rng=3, **overrides)
    for _ in range(years):
        model.step()
    return model


@pytest.fixture(scope="module")
def stepped() -> AIRaceModel:
    return stepped_model()


@pytest.fixture
def model(stepped) -> AIRaceModel:
    """A private copy of the stepped baseline model."""
    return copy.deepcopy(stepped)


def live_startups(model: AIRaceModel) -> np.ndarray:
    led = model.ledger
    return np.flatnonzero(led.col("alive") & (led.col("kind") == Kind.STARTUP))


def set_major_strategies(model: AIRaceModel, default: Strategy, **chosen: Strategy) -> None:
    for firm_id, firm in model.majors.items():
        model.ledger.strategy[firm.row] = chosen.get(firm_id, default)


# ---------------------------------------------------------------- 1 demand
def room_factor(model: AIRaceModel, size_bn: np.ndarray) -> np.ndarray:
    """The logistic room of each segment at `size_bn`: 1 at the 2023 size, 0 at the potential."""
    p = model.params
    potential = np.array([p.segments[s].potential_bn for s in SEGMENTS])
    size_2023 = np.array([p.segments[s].size_bn for s in SEGMENTS])
    return np.clip(1.0 - size_bn / potential, 0.0, 1.0) / (1.0 - size_2023 / potential)


def test_grow_demand_grows_sizes_and_supplies_at_their_rates(model):
    """At the 2023 capability index, sizes grow by 1 + base growth x room (room 1 at the 2023 size, below 1 once
    the segment has grown toward its potential); talent, compute and fringe spend at their rates."""
    p, d = model.params, model.demand
    grown = demand.grow_demand(d, p, np.ones(len(SEGMENTS)))
    base = np.array([p.segments[s].base_growth for s in SEGMENTS])
    size_2023 = np.array([p.segments[s].size_bn for s in SEGMENTS])
    assert np.all(d.size_bn > size_2023)  # the stepped model has grown: less room than in 2023
    room = room_factor(model, d.size_bn)
    assert np.all((0.0 < room) & (room < 1.0))
    np.testing.assert_allclose(grown.growth, base * room)
    np.testing.assert_allclose(grown.size_bn, d.size_bn * (1.0 + base * room))
    at_2023 = demand.grow_demand(replace(d, size_bn=size_2023), p, np.ones(len(SEGMENTS)))
    np.testing.assert_allclose(at_2023.growth, base)  # the base rate is the growth at the 2023 size
    np.testing.assert_allclose(at_2023.size_bn, size_2023 * (1.0 + base))
    assert grown.talent_supply_bn == pytest.approx(d.talent_supply_bn * (1.0 + p.talent.supply_growth))
    assert grown.compute_capacity_bn == pytest.approx(d.compute_capacity_bn * (1.0 + p.compute.capacity_growth))
    fringe_growth = np.array([p.segments[s].fringe_spend_growth for s in SEGMENTS])
    np.testing.assert_allclose(grown.fringe_spend_bn, d.fringe_spend_bn * (1.0 + fringe_growth))


def test_grow_demand_higher_capability_index_grows_more(model):
    """With ai_uplift > 0, doubling the capability index adds uplift x log 2 x room to each segment's growth."""
    p, d = model.params, model.demand
    uplift = np.array([p.segments[s].ai_uplift for s in SEGMENTS])
    assert np.all(uplift > 0)
    low = demand.grow_demand(d, p, np.ones(len(SEGMENTS)))
    high = demand.grow_demand(d, p, np.full(len(SEGMENTS), 2.0))
    assert np.all(high.size_bn > low.size_bn)
    np.testing.assert_allclose(high.growth - low.growth, uplift * np.log(2.0) * room_factor(model, d.size_bn))


def test_grow_demand_stops_at_the_potential(model):
    """A segment at (or past) its potential does not grow, whatever the capability index."""
    p, d = model.params, model.demand
    potential = np.array([p.segments[s].potential_bn for s in SEGMENTS])
    for size in (potential, 1.5 * potential):
        grown = demand.grow_demand(replace(d, size_bn=size), p, np.full(len(SEGMENTS), 3.0))
        np.testing.assert_array_equal(grown.growth, 0.0)
        np.testing.assert_allclose(grown.size_bn, size)


# ---------------------------------------------------------------- 2 entry
def test_enter_startups_adds_numbered_cloud_only_startups_with_entry_events(model):
    """`count` new startup rows, numbered after numbered_from, present only in cloud_ai, one ENTRY event each."""
    led, p = model.ledger, model.params
    n0 = led.n
    entrants = entry.enter_startups(led, p, np.random.default_rng(11), 5, model.year + 1, 100)
    np.testing.assert_array_equal(entrants.rows, np.arange(n0, n0 + 5))
    assert led.n == n0 + 5
    assert entrants.ids == [f"startup_{i:04d}" for i in range(101, 106)] == led.ids[n0:]
    rows = entrants.rows
    assert np.all(led.kind[rows] == Kind.STARTUP) and np.all(led.alive[rows]) and np.all(led.entry_year[rows] == model.year + 1)
    assert np.all(led.present[rows] == (np.arange(len(SEGMENTS)) == CLOUD))
    assert np.all(led.capability[rows, CLOUD] > 0) and np.all(np.delete(led.capability[rows], CLOUD, axis=1) == 0)
    assert [e.kind for e in entrants.events] == [EventKind.ENTRY] * 5
    assert [e.source for e in entrants.events] == entrants.ids
    np.testing.assert_allclose([e.value_bn for e in entrants.events], led.cash_bn[rows])
    assert set(entrants.niches) <= set(p.startups.niches)


def test_enter_startups_at_start_has_no_events_and_steady_programmes(model):
    """At the start there are no entry events and each entrant's capability is the steady level of its pipeline."""
    led, p = model.ledger, model.params
    entrants = entry.enter_startups(led, p, np.random.default_rng(11), 4, model.year, 0, at_start=True)
    assert entrants.events == []
    rows = entrants.rows
    assert np.all(led.pipeline[:, rows, CLOUD] > 0)
    np.testing.assert_allclose(led.capability[rows, CLOUD], led.pipeline[0, rows, CLOUD] / p.capability.depreciation)
    assert entry.enter_startups(led, p, np.random.default_rng(11), 0, model.year, 0).ids == [] and led.n == rows[-1] + 1


def test_enter_startups_same_seed_same_entrants(model):
    """Two ledgers fed the same stream seed get identical entrants; another seed gives other draws."""
    p = model.params
    a, b, c = (copy.deepcopy(model.ledger) for _ in range(3))
    ea = entry.enter_startups(a, p, np.random.default_rng(5), 6, model.year + 1, 0)
    eb = entry.enter_startups(b, p, np.random.default_rng(5), 6, model.year + 1, 0)
    ec = entry.enter_startups(c, p, np.random.default_rng(6), 6, model.year + 1, 0)
    assert ea.ids == eb.ids and ea.niches == eb.niches
    for column in ("cash_bn", "ai_budget_bn", "capability", "brand", "differentiation"):
        np.testing.assert_array_equal(getattr(a, column)[ea.rows], getattr(b, column)[eb.rows])
    assert not np.array_equal(a.cash_bn[ea.rows], c.cash_bn[ec.rows])


def test_entrant_brand_is_worth_entry_share_of_the_pull(model):
    """Once its capability is fielded, an entrant alone wins entry_share of the cloud pull."""
    led, p = model.ledger, model.params
    incumbents = float(pull(led, p, CLOUD).sum())
    entrants = entry.enter_startups(led, p, np.random.default_rng(2), 1, model.year + 1, 500)
    update_effective_capability(led, p, entrants.rows)
    own = float(pull(led, p, CLOUD, entrants.rows)[0])
    assert own / (own + incumbents) == pytest.approx(p.startups.entry_share, rel=1e-9)


# ---------------------------------------------------------------- 3 strategy
def test_forecast_partner_needs_a_provider_and_permission(model):
    """Value and next-year part, both shape (rows, 3); partnering is -inf (in both) without provider capability
    and for firms that may not partner (the clouds, in the baseline); a lower fill rate makes accelerating
    look less profitable."""
    led, p = model.ledger, model.params
    majors = list(model.majors.values())
    rows = np.array([f.row for f in majors])
    may_partner = np.array([f.may_partner() for f in majors])
    is_cloud = np.array([f.firm_id in CLOUD_PROVIDERS for f in majors])
    assert not p.partnership.providers_may_partner
    np.testing.assert_array_equal(may_partner, ~is_cloud)
    forecast = lambda fill, capability, allowed: strategy.forecast_strategy_profits(  # noqa: E731
        led, p, model.demand, fill, rows, capability, allowed)
    none, none_next = forecast(1.0, np.zeros(rows.size), may_partner)
    some, some_next = forecast(1.0, np.full(rows.size, 500.0), may_partner)
    assert none.shape == some.shape == none_next.shape == some_next.shape == (rows.size, len(Strategy))
    assert np.all(none[:, Strategy.PARTNER] == -np.inf)
    assert np.all(none_next[:, Strategy.PARTNER] == -np.inf)
    assert np.all(np.isfinite(none_next[:, :Strategy.PARTNER]))
    np.testing.assert_array_equal(np.isfinite(some_next), np.isfinite(some))
    assert np.all(np.isfinite(none[:, :Strategy.PARTNER]))
    np.testing.assert_array_equal(none[:, :Strategy.PARTNER], some[:, :Strategy.PARTNER])
    assert np.all(some[is_cloud, Strategy.PARTNER] == -np.inf)
    assert np.all(np.isfinite(some[~is_cloud, Strategy.PARTNER]))
    everyone, _ = forecast(1.0, np.full(rows.size, 500.0), np.ones(rows.size, dtype=bool))
    assert np.all(np.isfinite(everyone[:, Strategy.PARTNER]))  # the -inf of the clouds came from the permission
    half_filled, _ = forecast(0.5, np.zeros(rows.size), may_partner)
    assert np.all(none[:, Strategy.ACCELERATE] > half_filled[:, Strategy.ACCELERATE])  # rationing hurts the bold


def test_choose_strategies_stores_probabilities_and_counts_years(model):
    """Adaptive firms' probability rows sum to 1 (0 for a forbidden partner); each firm's chosen strategy gains a year."""
    led, p = model.ledger, model.params
    firms = list(model.agents)
    adaptive = np.array([f.row for f in firms if f.adaptive])
    led.strategy_probability[adaptive] = 0.0
    years_before = led.col("strategy_years").copy()
    strategy.choose_strategies(led, p, model.demand, model.inputs.fill_rate, firms, model.providers,
                               model.streams["strategy_startups"], {})
    probs = led.strategy_probability[adaptive]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.all(probs >= 0)
    clouds = [model.majors[f].row for f in CLOUD_PROVIDERS]
    assert np.all(led.strategy_probability[clouds, Strategy.PARTNER] == 0.0)
    added = led.col("strategy_years") - years_before
    rows = [f.row for f in firms]
    np.testing.assert_array_equal(added[rows], np.eye(len(Strategy), dtype=np.int64)[led.strategy[rows]])
    assert np.all(added[0] == 0)  # the fringe is no agent


def test_fixed_policy_firm_always_gets_its_strategy():
    """A scripted partner partners every year, its probabilities untouched; strategy_years counts the calls."""
    model = stepped_model(1, **{"firms.walmart.policy": "partner"})
    led, w = model.ledger, model.majors["walmart"].row
    before = led.strategy_years[w].copy()
    for _ in range(5):
        strategy.choose_strategies(led, model.params, model.demand, 1.0, list(model.agents), model.providers,
                                   model.streams["strategy_startups"], {})
        assert led.strategy[w] == Strategy.PARTNER
        assert np.all(led.strategy[live_startups(model)] == Strategy.ACCELERATE)
    assert led.strategy_years[w, Strategy.PARTNER] - before[Strategy.PARTNER] == 5
    assert led.strategy_years[w].sum() - before.sum() == 5
    assert np.all(led.strategy_probability[w] == 0.0)


def test_learn_credits_the_lagged_strategy_then_blends_with_memory(model):
    """With lag L >= 1 the year's surprise in operating income (realised against expected at the start of
    the year) is credited to the strategy chosen L years ago: its estimate is its forecast value moved by
    (1 - patience) x surprise; the others are re-estimated at their forecast. The first time experience
    is the estimate, later it blends with memory; all finite ones become tried."""
    led, p = model.ledger, model.params
    memory, patience = p.adaptive.memory, p.adaptive.patience
    assert p.capability.lag_years >= 1 and led.strategy_history.shape[0] == p.capability.lag_years
    assert 0.0 < memory < 1.0 and 0.0 < patience < 1.0
    firm = model.majors["walmart"]
    r, credited = firm.row, Strategy.DIFFERENTIATE
    led.strategy[r] = Strategy.ACCELERATE            # this year's choice is not the one credited
    led.strategy_history[0, r] = credited
    led.operating_bn[r], led.expected_operating_bn[r] = 9.0, 5.0   # 4 more than expected
    led.profit_bn[r] = -50.0                          # this year's own spend does not count
    led.forecast_bn[r] = [10.0, 20.0, 30.0]
    led.tried[r] = False
    led.experience_bn[r] = [7.0, 99.0, -3.0]
    firm.learn()
    first = np.array([10.0, 20.0 + (1.0 - patience) * 4.0, 30.0])
    np.testing.assert_allclose(led.experience_bn[r], first)
    assert np.all(led.tried[r])
    led.operating_bn[r] = 5.0                         # as expected: no surprise
    led.forecast_bn[r] = [12.0, 18.0, 25.0]
    firm.learn()
    second = np.array([12.0, 18.0, 25.0])
    np.testing.assert_allclose(led.experience_bn[r], memory * first + (1.0 - memory) * second)


def test_learn_keeps_experience_of_impossible_strategies_and_needs_a_past_decision(model):
    """An impossible strategy (-inf forecast) keeps its experience and stays untried; with no decision L
    years ago (strategy -1) nothing is credited and every possible strategy is re-estimated at its forecast."""
    led, memory = model.ledger, model.params.adaptive.memory
    firm = model.majors["shopify"]
    r = firm.row
    led.strategy_history[0, r] = -1
    led.profit_bn[r] = 50.0                           # would be a big surprise if it were credited
    led.forecast_bn[r] = [8.0, 6.0, -np.inf]
    led.tried[r] = [True, False, False]
    led.experience_bn[r] = [2.0, 99.0, 4.0]
    firm.learn()
    np.testing.assert_allclose(led.experience_bn[r], [memory * 2.0 + (1.0 - memory) * 8.0, 6.0, 4.0])
    np.testing.assert_array_equal(led.tried[r], [True, True, False])
    led.strategy_history[0, r] = Strategy.PARTNER     # credited but impossible this year: no credit either
    led.experience_bn[r] = [2.0, 99.0, 4.0]
    led.tried[r] = False
    firm.learn()
    np.testing.assert_allclose(led.experience_bn[r], [8.0, 6.0, 4.0])
    np.testing.assert_array_equal(led.tried[r], [True, True, False])


def test_learn_without_lag_credits_this_years_strategy_and_profit():
    """With lag_years = 0 there is no history: this year's strategy is credited with this year's surprise."""
    model = stepped_model(1, **{"capability.lag_years": 0})
    led, patience = model.ledger, model.params.adaptive.patience
    assert led.strategy_history.shape[0] == 0
    firm = model.majors["walmart"]
    r = firm.row
    led.strategy[r] = Strategy.ACCELERATE
    led.operating_bn[r], led.expected_operating_bn[r] = 9.0, 4.0
    led.forecast_bn[r] = [10.0, 20.0, 30.0]
    led.tried[r] = False
    firm.learn()
    np.testing.assert_allclose(led.experience_bn[r], [10.0 + (1.0 - patience) * (9.0 - 4.0), 20.0, 30.0])


# ---------------------------------------------------------------- 4 inputs
def wanted_spend(model: AIRaceModel) -> np.ndarray:
    """The spend firms will ask for (call before ration_inputs, which overwrites planned_spend_bn): last year's
    plan moved spend_adjustment of the way toward budget x the strategy's spend multiplier."""
    led, st = model.ledger, model.params.strategies
    mult = market.spend_multipliers(st.differentiate_spend_share, st.partner_spend_share)
    live = led.col("alive") & (led.col("kind") != Kind.FRINGE)
    target = led.col("ai_budget_bn") * mult[led.col("strategy")]
    return np.where(live, market.planned_spend(led.col("planned_spend_bn"), target, st.spend_adjustment), 0.0)


def test_ration_inputs_scarce_compute_is_shared_pro_rata(model):
    """Asked-for spend above compute capacity: deployed spend sums to the capacity, each firm gets the same fraction."""
    wanted = wanted_spend(model)
    capacity = 0.5 * wanted.sum()
    tight = replace(model.demand, compute_capacity_bn=capacity)
    out = inputs.ration_inputs(model.ledger, model.params, tight, model.inputs)
    deployed = model.ledger.col("ai_spend_bn")
    assert deployed.sum() == pytest.approx(capacity)
    np.testing.assert_allclose(deployed, 0.5 * wanted)
    np.testing.assert_allclose(model.ledger.col("planned_spend_bn"), wanted)  # the plan is before rationing
    assert out.fill_rate < 1.0 and out.compute_utilization == 1.0
    assert out.compute_demand_ratio == pytest.approx(2.0)


def test_ration_inputs_ample_capacity_fills_everything(model):
    """With ample compute and talent, fill is 1 and every firm deploys what it asked for (times its efficiency):
    its planned spend, which only part-closes the gap to its strategy's spend, and is written to the ledger."""
    led, st = model.ledger, model.params.strategies
    ample = replace(model.demand, compute_capacity_bn=1e4, talent_supply_bn=1e4)
    wanted, previous = wanted_spend(model), led.col("planned_spend_bn").copy()
    mult = market.spend_multipliers(st.differentiate_spend_share, st.partner_spend_share)
    target = np.where(led.col("alive") & (led.col("kind") != Kind.FRINGE), led.col("ai_budget_bn") * mult[led.col("strategy")], 0.0)
    assert st.spend_adjustment < 1.0 and not np.allclose(wanted, target)  # the plan lags the strategy's spend
    out = inputs.ration_inputs(led, model.params, ample, model.inputs)
    assert out.fill_rate == 1.0
    np.testing.assert_allclose(led.col("ai_spend_bn"), wanted)
    np.testing.assert_allclose(led.col("planned_spend_bn"), wanted)
    moved = np.abs(target - previous) > 1e-9
    assert np.all(np.abs(target - wanted)[moved] < np.abs(target - previous)[moved])
    assert model.params.strategies.open_model_efficiency == 1.0
    np.testing.assert_allclose(led.col("effective_spend_bn"), wanted * led.col("efficiency"))


def test_wage_index_rises_with_talent_demand(model):
    """Doubling every budget doubles talent demand: a higher wage index and a larger talent bill."""
    ample = replace(model.demand, compute_capacity_bn=1e4)
    richer = copy.deepcopy(model.ledger)
    richer.ai_budget_bn[: richer.n] *= 2.0
    base = inputs.ration_inputs(model.ledger, model.params, ample, model.inputs)
    more = inputs.ration_inputs(richer, model.params, ample, model.inputs)
    assert more.wage_index > base.wage_index
    assert richer.col("talent_cost_bn").sum() > model.ledger.col("talent_cost_bn").sum()


def test_talent_cost_is_zero_at_the_2023_wage(model):
    """When this year's talent tightness equals 2023's, the wage index is 1 and nobody pays a premium."""
    led, p = model.ledger, model.params
    ample = replace(model.demand, compute_capacity_bn=1e4, talent_supply_bn=1e4)
    # with ample inputs everything asked for is deployed; the plan moves each call, so take this call's ask
    tightness = p.talent.labour_share * wanted_spend(model).sum() / ample.talent_supply_bn
    out = inputs.ration_inputs(led, p, ample, replace(model.inputs, talent_tightness_2023=tightness))
    assert out.wage_index == pytest.approx(1.0)
    np.testing.assert_allclose(led.col("talent_cost_bn"), 0.0, atol=1e-12)


# ---------------------------------------------------------------- 5 investment
def test_invest_capability_arrives_after_the_lag(model):
    """With lag_years = 1, this year's spend leaves capability unchanged now and adds new_capability(spend) next year."""
    p, r = model.params, model.majors["amazon"].row
    assert p.capability.lag_years == 1
    idle, busy = copy.deepcopy(model.ledger), copy.deepcopy(model.ledger)
    idle.effective_spend_bn[r], busy.effective_spend_bn[r] = 0.0, 50.0
    for led in (idle, busy):
        investment.invest(led, p, model.demand.fringe_spend_bn)
    np.testing.assert_allclose(busy.capability[r], idle.capability[r])
    for led in (idle, busy):
        led.effective_spend_bn[r] = 0.0
        investment.invest(led, p, model.demand.fringe_spend_bn)
    built = market.new_capability(50.0 * idle.allocation[r], p.capability.returns_exponent) * idle.present[r]
    assert np.all(built[idle.present[r]] > 0)
    np.testing.assert_allclose(busy.capability[r] - idle.capability[r], built)


def test_invest_without_lag_builds_at_once():
    """With lag_years = 0, spend becomes capability the same year."""
    model = stepped_model(1, **{"capability.lag_years": 0})
    p, r = model.params, model.majors["azure"].row
    idle, busy = copy.deepcopy(model.ledger), copy.deepcopy(model.ledger)
    idle.effective_spend_bn[r], busy.effective_spend_bn[r] = 0.0, 50.0
    for led in (idle, busy):
        investment.invest(led, p, model.demand.fringe_spend_bn)
    assert busy.capability[r, CLOUD] - idle.capability[r, CLOUD] == pytest.approx(50.0 ** p.capability.returns_exponent)


def test_invest_depreciates_idle_capability_and_zeroes_the_dead(model):
    """Without spend or pipeline, capability shrinks by the depreciation rate; a dead firm has none."""
    led, p = model.ledger, model.params
    led.effective_spend_bn[:] = 0.0
    led.pipeline[:] = 0.0
    dead = model.majors["shopify"].row
    led.alive[dead] = False
    before = led.col("capability").copy()
    assert before[dead].sum() > 0
    investment.invest(led, p, np.zeros(len(SEGMENTS)))
    live = led.col("alive")
    np.testing.assert_allclose(led.col("capability")[live], (1.0 - p.capability.depreciation) * before[live])
    assert np.all(led.capability[dead] == 0.0)


def test_own_capability_above_2023_raises_a_majors_margin_up_to_the_ceiling(model):
    """lower_costs: a major's margin is its 2023 margin plus market.margin_uplift of its own capability
    against 2023, in each segment it sells in; doubling capability in e-commerce adds about half the
    ceiling there; startups' margins are left alone."""
    led, p = model.ledger, model.params
    a = model.majors["amazon"].row
    ecommerce = SEGMENTS.index("ecommerce")
    led.capability[a] = led.base_capability[a]
    led.capability[a, ecommerce] = 2.0 * led.base_capability[a, ecommerce]
    startup_margins = led.margin[live_startups(model)].copy()
    investment.lower_costs(led, p)
    ceiling = p.segments["ecommerce"].ai_margin_ceiling
    half = p.capability.margin_half_gain
    assert led.margin[a, ecommerce] - led.base_margin[a, ecommerce] == pytest.approx(ceiling * np.log(2) / (np.log(2) + half))
    others = [s for s in range(len(SEGMENTS)) if s != ecommerce]
    np.testing.assert_allclose(led.margin[a, others], led.base_margin[a, others])
    np.testing.assert_array_equal(led.margin[live_startups(model)], startup_margins)
    led.capability[a, ecommerce] = 1e6 * led.base_capability[a, ecommerce]
    investment.lower_costs(led, p)
    assert led.base_margin[a, ecommerce] < led.margin[a, ecommerce] < led.base_margin[a, ecommerce] + ceiling


# ---------------------------------------------------------------- 6 partnerships
def test_choose_provider_most_capable_live_other_older_on_a_tie(model):
    """The live provider with most cloud capability, never the firm itself; the dead are skipped; on equal
    capability the lower row (older firm) wins, in whichever order the providers come; None without candidates."""
    led, providers = model.ledger, model.providers
    walmart, amazon, azure, google = (model.majors[f] for f in ("walmart", "amazon", "azure", "google_cloud"))
    for firm_id, capability in {"amazon": 40.0, "azure": 90.0, "google_cloud": 60.0, "alibaba": 10.0}.items():
        led.capability[model.majors[firm_id].row, CLOUD] = capability
    assert walmart.choose_provider(providers) is azure
    assert azure.choose_provider(providers) is google  # never itself
    led.alive[azure.row] = False
    assert walmart.choose_provider(providers) is google
    led.capability[amazon.row, CLOUD] = 60.0  # level with google_cloud
    assert amazon.row < google.row
    assert walmart.choose_provider(providers) is amazon
    assert walmart.choose_provider(providers[::-1]) is amazon
    assert walmart.choose_provider([]) is None
    assert amazon.choose_provider([amazon, azure]) is None  # only itself and a dead one


def test_partner_pays_the_strongest_other_provider_and_rents_capability(model):
    """A partner pays fee_share x budget to the live provider with most cloud capability, never itself; fees balance."""
    led, p = model.ledger, model.params
    cloud_cap = {f: led.capability[model.majors[f].row, CLOUD] for f in CLOUD_PROVIDERS}
    best = max(cloud_cap, key=cloud_cap.get)
    runner_up = max((f for f in cloud_cap if f != best), key=cloud_cap.get)
    set_major_strategies(model, Strategy.ACCELERATE, walmart=Strategy.PARTNER, **{best: Strategy.PARTNER})
    lenient = replace(p, regulator=replace(p.regulator, strictness=1e-3))  # review clears everything
    events = partnerships.form_partnerships(led, lenient, list(model.agents), model.providers, model.demand.size_bn)
    deals = {e.source: e for e in events if e.mode is PartnershipMode.CLOUD}
    assert set(deals) == {"walmart", best}
    assert deals["walmart"].target == best and deals[best].target == runner_up  # never itself
    for firm_id, event in deals.items():
        row = model.majors[firm_id].row
        assert event.kind is EventKind.PARTNERSHIP
        assert event.value_bn == pytest.approx(p.partnership.fee_share * led.ai_budget_bn[row])
        assert led.fees_paid_bn[row] == pytest.approx(event.value_bn)
        assert led.ids[led.provider[row]] == event.target
    assert led.col("fees_paid_bn").sum() == pytest.approx(led.col("fees_received_bn").sum())
    reviewed = [e for e in events if e.kind is EventKind.PARTNERSHIP_CLEARED]
    assert [(e.source, e.target) for e in reviewed] == [(best, runner_up)]  # a cloud renting from a rival is reviewed
    w = model.majors["walmart"].row
    # fees buy capability in each segment in proportion to the budget aimed there, nothing where it does not sell
    provider_cap = np.full(len(SEGMENTS), led.capability[led.provider[w], CLOUD])
    rented = rented_capability(p, led.fees_paid_bn[w] * led.allocation[w], provider_cap)
    assert (rented[led.present[w]] > 0).all()
    assert rented[SEGMENTS.index("ecommerce")] > rented[SEGMENTS.index("advertising")]  # walmart aims 0.8 vs 0.2
    np.testing.assert_allclose(led.effective_capability[w], (led.capability[w] + rented) * led.present[w])
    others = led.col("provider") < 0
    np.testing.assert_allclose(led.col("effective_capability")[others],
                               led.col("capability")[others] * led.col("present")[others])


def test_a_cloud_renting_from_its_largest_rival_is_reviewed_on_what_the_fees_move(model):
    """Under the Guidelines thresholds a cloud renting from a rival is reviewed with the fees' share of the
    market as the overlap: blocked (no fee, no provider) exactly when the presumption says so; a retailer's
    partnership is never reviewed (it sells no cloud)."""
    led, p = model.ledger, model.params
    size = model.demand.size_bn
    set_major_strategies(model, Strategy.ACCELERATE, walmart=Strategy.PARTNER, azure=Strategy.PARTNER, alibaba=Strategy.PARTNER)
    led.ai_budget_bn[model.majors["azure"].row] = 0.06 * size[CLOUD] / p.partnership.fee_share  # fees worth 6 points
    providers = {f: model.majors[f].choose_provider(model.providers) for f in ("azure", "alibaba")}
    assert providers["azure"].firm_id == "amazon"
    verdict = {f: review.partnership_presumed_harmful(
        led, p, prov.row, market.partner_fee(led.ai_budget_bn[model.majors[f].row], p.partnership.fee_share),
        size[CLOUD]) for f, prov in providers.items()}
    events = partnerships.form_partnerships(led, p, list(model.agents), model.providers, size)
    kinds = {(e.source, e.kind) for e in events}
    assert verdict == {"azure": True, "alibaba": False}  # Azure's fees would move 6 points to Amazon; Alibaba's well under one
    assert ("azure", EventKind.PARTNERSHIP_BLOCKED) in kinds and led.provider[model.majors["azure"].row] == -1
    assert led.fees_paid_bn[model.majors["azure"].row] == 0.0
    assert {("alibaba", EventKind.PARTNERSHIP_CLEARED), ("alibaba", EventKind.PARTNERSHIP)} <= kinds
    assert not any(source == "walmart" and kind in (EventKind.PARTNERSHIP_CLEARED, EventKind.PARTNERSHIP_BLOCKED)
                   for source, kind in kinds)


def test_consortium_saves_differentiators_spend(model):
    """Two differentiating majors each save consortium_saving of their spend and talent bill; one member alone saves nothing."""
    led, p = model.ledger, model.params
    saving = p.strategies.consortium_saving
    assert p.strategies.consortium and saving > 0
    alone = copy.deepcopy(model)
    set_major_strategies(model, Strategy.ACCELERATE, amazon=Strategy.DIFFERENTIATE, azure=Strategy.DIFFERENTIATE)
    led.talent_cost_bn[: led.n] = 1.0
    spend = led.col("ai_spend_bn").copy()
    events = partnerships.form_partnerships(led, p, list(model.agents), model.providers, model.demand.size_bn)
    members = [model.majors["amazon"].row, model.majors["azure"].row]
    np.testing.assert_allclose(led.ai_spend_bn[members], (1.0 - saving) * spend[members])
    np.testing.assert_allclose(led.talent_cost_bn[members], 1.0 - saving)
    rest = np.setdiff1d(np.arange(led.n), members)
    np.testing.assert_array_equal(led.ai_spend_bn[rest], spend[rest])
    pooled = [e for e in events if e.mode is PartnershipMode.CONSORTIUM]
    assert [(e.source, e.target) for e in pooled] == [("azure", "amazon")]
    assert pooled[0].value_bn == pytest.approx(saving * spend[members[1]])
    set_major_strategies(alone, Strategy.ACCELERATE, amazon=Strategy.DIFFERENTIATE)
    solo_spend = alone.ledger.col("ai_spend_bn").copy()
    solo = partnerships.form_partnerships(alone.ledger, p, list(alone.agents), alone.providers, alone.demand.size_bn)
    assert not [e for e in solo if e.mode is PartnershipMode.CONSORTIUM]
    np.testing.assert_array_equal(alone.ledger.col("ai_spend_bn"), solo_spend)


# ---------------------------------------------------------------- 7 shares
def test_move_shares_keeps_totals_and_closes_part_of_the_gap(model):
    """Shares still sum to 1; they close adjustment_speed of the gap to the pull-implied target (the speed-1 result)."""
    p, size = model.params, model.demand.size_bn
    p = replace(p, market=replace(p.market, contract_shock=0.0))  # no luck: the identity is exact
    full_speed = replace(p, market=replace(p.market, adjustment_speed=1.0))
    target_ledger = copy.deepcopy(model.ledger)
    shares.move_shares(target_ledger, full_speed, size, np.random.default_rng(0))
    before = model.ledger.col("share").copy()
    assert model.ledger.col("contracted_share").sum() > 0  # contracts are placed outside the contest
    shares.move_shares(model.ledger, p, size, np.random.default_rng(0))
    after, target = model.ledger.col("share"), target_ledger.col("share")
    np.testing.assert_allclose(after.sum(axis=0), 1.0)
    np.testing.assert_allclose(target.sum(axis=0), 1.0)
    lam = p.market.adjustment_speed
    np.testing.assert_allclose(after, (1.0 - lam) * before + lam * target, atol=1e-12)
    assert np.abs(target - before).max() > 1e-4  # the market is not at rest, so the check has teeth
    served = shares.served_sizes(model.ledger, size)  # cloud demand plus the partners' workloads
    assert served[CLOUD] == pytest.approx(size[CLOUD] + model.ledger.col("fees_received_bn").sum())
    np.testing.assert_allclose(model.ledger.col("revenue_bn"), after * served * model.ledger.col("take_rate"))


def test_more_pull_wins_more_share(model):
    """Doubling Azure's cloud brand leaves it with a larger cloud share and everyone else with less."""
    p, size = model.params, model.demand.size_bn
    boosted = copy.deepcopy(model.ledger)
    a = model.majors["azure"].row
    boosted.brand[a, CLOUD] *= 2.0
    shares.move_shares(model.ledger, p, size, np.random.default_rng(1))
    shares.move_shares(boosted, p, size, np.random.default_rng(1))
    plain, more = model.ledger.col("share")[:, CLOUD], boosted.col("share")[:, CLOUD]
    assert more[a] > plain[a]
    rivals = np.flatnonzero(plain > 0)
    rivals = rivals[rivals != a]
    assert np.all(more[rivals] < plain[rivals])


def test_share_flows_are_large_enough_and_balance(model):
    """Recorded flows are >= min_flow_bn and run from losers to gainers; without a minimum, they add up to the gains."""
    p, size = model.params, model.demand.size_bn
    no_minimum = replace(p, market=replace(p.market, min_flow_bn=0.0))
    unfiltered = copy.deepcopy(model.ledger)
    before = model.ledger.col("share").copy()
    flows = shares.move_shares(model.ledger, p, size, np.random.default_rng(2))
    delta = model.ledger.col("share") - before
    assert [f.segment for f in flows] == list(SEGMENTS)
    assert sum(f.value_bn.size for f in flows) > 0
    for s, flow in enumerate(flows):
        assert np.all(flow.value_bn >= p.market.min_flow_bn)
        assert np.all(delta[flow.source_rows, s] < 0) and np.all(delta[flow.target_rows, s] > 0)
        assert delta[:, s].sum() == pytest.approx(0.0, abs=1e-12)  # total gains equal total losses
    for s, flow in enumerate(shares.move_shares(unfiltered, no_minimum, size, np.random.default_rng(2))):
        gained = np.clip(delta[:, s], 0, None).sum()
        assert flow.value_bn.sum() == pytest.approx(gained * shares.served_sizes(unfiltered, size)[s], rel=1e-9)


# ---------------------------------------------------------------- 8 money
def test_settle_money_profit_and_cash_identities(model):
    """Profit = revenue x margin - spend - talent - fees paid - fines (fees received are in the provider's
    cloud revenue); cash moves by profit + other - payout."""
    led, params = model.ledger, model.params
    amazon_cloud = led.share[model.majors["amazon"].row, CLOUD]
    p = replace(params, regulator=replace(params.regulator, dominance_share=amazon_cloud - 0.01, dominance_fine_rate=0.05))
    old = {c: led.col(c).copy() for c in ("revenue_bn", "margin", "share", "ai_spend_bn", "talent_cost_bn", "fees_paid_bn",
                                          "fees_received_bn", "cash_bn", "other_cash_flow_bn", "payout_share")}
    money.settle_money(led, p)
    firms = led.col("alive") & (led.col("kind") != Kind.FRINGE)
    dominant = (old["share"] > p.regulator.dominance_share) & (led.col("kind") != Kind.FRINGE)[:, None]
    fines = np.sum(np.where(dominant, old["revenue_bn"] * 0.05, 0.0), axis=1)
    assert fines[model.majors["amazon"].row] > 0
    np.testing.assert_allclose(led.col("fines_bn"), fines)
    profit = (np.sum(old["revenue_bn"] * old["margin"], axis=1) - old["ai_spend_bn"] - old["talent_cost_bn"]
              - old["fees_paid_bn"] - fines)
    np.testing.assert_allclose(led.col("profit_bn"), np.where(firms, profit, 0.0))
    flow = np.where(firms, profit + old["other_cash_flow_bn"], 0.0)
    np.testing.assert_allclose(led.col("payout_bn"), np.maximum(flow, 0.0) * old["payout_share"])
    np.testing.assert_allclose(led.col("cash_bn") - old["cash_bn"], flow - led.col("payout_bn"))
    assert led.cash_bn[0] == old["cash_bn"][0] and led.profit_bn[0] == 0.0


def test_broke_startup_exits_and_its_customers_return(model):
    """A startup with negative cash is returned; close_broke retires it with one EXIT event, shares still summing to 1."""
    led, p = model.ledger, model.params
    victim = int(live_startups(model)[np.argmax(led.share[live_startups(model), CLOUD])])
    led.cash_bn[victim] = -100.0
    money.settle_money(led, p)
    broke = money.broke_startups(led)
    assert victim in broke
    assert np.all(led.kind[broke] == Kind.STARTUP) and np.all(led.cash_bn[broke] < 0)
    share_before = led.col("share")[:, CLOUD].copy()
    events = money.close_broke(led, broke, model.year)
    assert [e.kind for e in events] == [EventKind.EXIT] * len(broke)
    assert [e.source for e in events] == [led.ids[r] for r in broke]
    assert not led.alive[victim] and led.share[victim].sum() == 0.0 and led.exit_year[victim] == model.year
    np.testing.assert_allclose(led.col("share").sum(axis=0), 1.0)
    stayers = np.flatnonzero(led.col("alive") & (share_before > 0))
    ratio = led.share[stayers, CLOUD] / share_before[stayers]
    assert ratio.min() > 1.0 and ratio.max() == pytest.approx(ratio.min())  # pro rata


def test_follow_on_rounds_step_budgets_and_cash_within_the_caps(model):
    """raise_rounds: each live startup raises with followon_probability; a round multiplies its budget by a
    lognormal step (capped by the largest round and the year's pool, as runway x budget) and adds runway x
    the new budget to its cash; one FUNDING event per round; two draws per ledger row (its own, alive or
    not) whatever happens."""
    led, p = model.ledger, model.params
    sp = p.startups
    live = live_startups(model)
    budget, cash = led.ai_budget_bn.copy(), led.cash_bn.copy()
    pool = model.demand.venture_funding_bn
    events = funding.raise_rounds(led, p, np.random.default_rng(5), pool)
    replay = np.random.default_rng(5)
    draws = replay.random(led.n)[live]
    steps = sp.followon_step * replay.lognormal(0.0, sp.followon_spread, size=led.n)[live]
    raising = live[draws < sp.followon_probability]
    assert 0 < raising.size < live.size
    asked = np.minimum(sp.runway_years * budget[raising] * steps[draws < sp.followon_probability],
                       funding.largest_round_bn(p, pool))
    raised = funding.within_pool(asked, sp.funding_share * pool)
    np.testing.assert_allclose(led.ai_budget_bn[raising], raised / sp.runway_years)
    np.testing.assert_allclose(led.cash_bn[raising] - cash[raising], raised)
    rest = np.setdiff1d(np.arange(led.n), raising)
    np.testing.assert_array_equal(led.ai_budget_bn[rest], budget[rest])
    assert [(e.kind, e.source) for e in events] == [(EventKind.FUNDING, led.ids[r]) for r in raising]
    nobody = replace(p, startups=replace(sp, followon_probability=0.0))
    used, idle = np.random.default_rng(6), np.random.default_rng(6)
    funding.raise_rounds(copy.deepcopy(led), p, used, pool)
    assert funding.raise_rounds(copy.deepcopy(led), nobody, idle, pool) == []
    assert used.random() == idle.random()  # paired runs stay aligned whoever raises


def test_rounds_fit_the_largest_round_and_the_pool():
    """No round passes max_round_share of the year's funding; all rounds together stay within the pool."""
    asked = np.array([1.0, 2.0, 7.0])
    np.testing.assert_allclose(funding.within_pool(asked, 20.0), asked)
    np.testing.assert_allclose(funding.within_pool(asked, 5.0), asked / 2.0)
    p = load_scenario("baseline", values={"startups.funding_growth": 0.1})
    assert funding.largest_round_bn(p, 40.0) == pytest.approx(p.startups.max_round_share * 40.0)
    model = AIRaceModel(p, rng=1)
    assert model.demand.venture_funding_bn == p.startups.initial_funding_bn
    model.step(), model.step()
    assert model.demand.venture_funding_bn == pytest.approx(1.21 * p.startups.initial_funding_bn)


# ---------------------------------------------------------------- 9 acquisitions
def with_bid_chances(model: AIRaceModel, accelerate: float, differentiate: float) -> None:
    ap = model.params.acquisitions
    model.params = replace(model.params, acquisitions=replace(
        ap, bid_probability=accelerate, differentiator_bid_probability=differentiate))


def test_bids_below_the_chance_of_the_strategy(model):
    """An accelerator bids on a draw below bid_probability, a differentiator below its own chance; a partner never."""
    with_bid_chances(model, 0.6, 0.2)
    amazon, led = model.majors["amazon"], model.ledger
    led.strategy[amazon.row] = Strategy.ACCELERATE
    assert amazon.bids(0.0) and amazon.bids(0.599)
    assert not amazon.bids(0.6) and not amazon.bids(0.9)
    led.strategy[amazon.row] = Strategy.DIFFERENTIATE
    assert amazon.bids(0.199)
    assert not amazon.bids(0.2) and not amazon.bids(0.5)
    led.strategy[amazon.row] = Strategy.PARTNER
    assert not amazon.bids(0.0)


def test_acquire_draws_the_same_numbers_when_nobody_bids(model):
    """With every bid chance 0 there are no deals, yet the stream moves by one permutation of the bidders and
    one uniform per bidder, as when they bid: paired runs of two scenarios stay aligned."""
    with_bid_chances(model, 0.0, 0.0)
    set_major_strategies(model, Strategy.ACCELERATE, walmart=Strategy.PARTNER, shopify=Strategy.DIFFERENTIATE)
    bidders = [f for f in model.majors.values() if f.alive]
    cash = model.ledger.col("cash_bn").copy()
    stream = np.random.default_rng(8)
    assert acquisitions.acquire(model.ledger, model.params, bidders, stream, model.year) == ([], [])
    np.testing.assert_array_equal(model.ledger.col("cash_bn"), cash)
    fresh = np.random.default_rng(8)
    fresh.permutation(len(bidders))
    for _ in bidders:
        fresh.random()
    assert stream.random() == fresh.random()


def capability_per_dollar(model: AIRaceModel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(price, cloud capability per dollar of price) of the startups at `rows`."""
    led, ap = model.ledger, model.params.acquisitions
    prices = market.deal_price(led.revenue_bn[rows].sum(axis=1), led.capability[rows].sum(axis=1), led.cash_bn[rows],
                               ap.revenue_multiple, ap.capability_price_bn)
    return prices, led.capability[rows, CLOUD] / prices


def eligible_startups(model: AIRaceModel) -> np.ndarray:
    led = model.ledger
    old_enough = model.year - led.col("entry_year") >= model.params.acquisitions.min_target_age
    return np.flatnonzero(led.col("alive") & (led.col("kind") == Kind.STARTUP) & old_enough)


def test_pick_target_best_value_the_budget_affords(model):
    """Among live startups old enough to have proved themselves, the affordable one with most cloud capability
    per dollar, not simply the most capable; -1 for no budget; past targets are never picked again, the rest
    come best first until none is left."""
    led, amazon = model.ledger, model.majors["amazon"]
    startups = eligible_startups(model)
    assert 0 < startups.size < live_startups(model).size  # the year's entrants are too young
    biggest = int(startups[np.argmax(led.capability[startups, CLOUD])])
    led.revenue_bn[biggest, CLOUD] *= 20.0  # the most capable startup becomes dear for what it brings
    prices, value = capability_per_dollar(model, startups)
    best = int(startups[np.argmax(value)])
    assert best != biggest
    assert amazon.pick_target(1e6, set()) == best
    assert amazon.pick_target(0.0, set()) == -1 and amazon.pick_target(-5.0, set()) == -1
    price_of_best = prices[startups == best][0]
    assert prices.min() < price_of_best
    affordable = prices < price_of_best
    cheaper_best = int(startups[affordable][np.argmax(value[affordable])])
    assert amazon.pick_target(float(np.nextafter(price_of_best, 0.0)), set()) == cheaper_best
    led.alive[best] = False
    assert amazon.pick_target(1e6, set()) != best
    led.alive[best] = True
    tried: set[int] = set()
    picked = []
    while (target := amazon.pick_target(1e6, tried)) >= 0:
        assert target not in tried
        tried.add(target)
        picked.append(target)
    assert sorted(picked) == sorted(startups.tolist())
    order = np.argsort(-value, kind="stable")
    np.testing.assert_allclose(capability_per_dollar(model, np.array(picked))[1], value[order])


def test_a_scaled_rival_is_picked_first_and_majors_only_where_allowed(model):
    """A startup past acquisitions.scaled_share of cloud is the first target, whatever its value per dollar;
    other majors are candidates only when the scenario lets majors bid for majors (never the bidder itself)."""
    led, amazon = model.ledger, model.majors["amazon"]
    startups = eligible_startups(model)
    rival = int(startups[np.argmin(led.capability[startups, CLOUD])])
    led.share[rival, CLOUD] = model.params.acquisitions.scaled_share
    assert amazon.pick_target(1e6, set()) == rival
    assert amazon.pick_target(1e6, {rival}) != rival
    assert all(led.kind[amazon.pick_target(1e6, set(startups.tolist()) - {r})] == Kind.STARTUP for r in startups[:3])
    assert amazon.pick_target(1e6, set(startups.tolist())) == -1  # no major is a candidate by default
    open_season = replace(model.params, acquisitions=replace(model.params.acquisitions, majors_may_bid_for_majors=True))
    model.params = open_season
    target = amazon.pick_target(1e6, set(startups.tolist()))
    assert target >= 0 and led.kind[target] == Kind.MAJOR and target != amazon.row


def test_merge_moves_cash_customers_capability_and_pull(model):
    """Acquirer cash + target cash - price; shares add; capability less integration loss; pull_a + keep x pull_t."""
    led, p = model.ledger, model.params
    a = model.majors["amazon"].row
    t = int(live_startups(model)[np.argmax(led.capability[live_startups(model), CLOUD])])
    keep = 1.0 - p.capability.integration_loss
    price = acquisitions.deal_price(led, p, t)
    pull_a, pull_t = pull(led, p, CLOUD, np.array([a, t]))
    cash, share, capability = led.cash_bn[[a, t]].copy(), led.share[[a, t], CLOUD].copy(), led.capability[[a, t], CLOUD].copy()
    acquisitions.merge(led, p, a, t, price, model.year)
    assert led.cash_bn[a] == pytest.approx(cash[0] + cash[1] - price) and led.cash_bn[t] == 0.0
    assert led.share[a, CLOUD] == pytest.approx(share.sum()) and led.share[t, CLOUD] == 0.0
    assert led.capability[a, CLOUD] == pytest.approx(capability[0] + keep * capability[1])
    assert pull(led, p, CLOUD, np.array([a]))[0] == pytest.approx(pull_a + keep * pull_t)
    assert not led.alive[t] and led.exit_year[t] == model.year
    np.testing.assert_allclose(led.col("share").sum(axis=0), 1.0)


def test_merging_a_major_takes_every_segment_and_consolidates_its_budget(model):
    """A major bought whole: shares add in every segment the target sells in, the acquirer enters the ones
    it did not sell in with the target's margin and take rate, budgets and other cash flow add up, the target
    leaves; the review looks at every segment both sell in."""
    led, p = model.ledger, model.params
    a, t = model.majors["amazon"].row, model.majors["alibaba"].row
    share = led.share[[a, t]].copy()
    budget = led.base_ai_budget_bn[[a, t]].copy()
    other = led.other_cash_flow_bn[[a, t]].copy()
    acquisitions.merge(led, p, a, t, acquisitions.deal_price(led, p, t), model.year)
    np.testing.assert_allclose(led.share[a], share.sum(axis=0))
    assert led.base_ai_budget_bn[a] == pytest.approx(budget.sum()) and led.other_cash_flow_bn[a] == pytest.approx(other.sum())
    assert not led.alive[t] and led.share[t].sum() == 0.0
    np.testing.assert_allclose(led.col("share").sum(axis=0), 1.0)
    np.testing.assert_allclose(led.col("allocation")[a].sum(), 1.0)


@pytest.mark.parametrize("buyer, bought", [("amazon", "alibaba"), ("alibaba", "amazon"), ("walmart", "shopify")])
def test_a_merger_of_majors_conserves_revenue_and_operating_income(model, buyer, bought):
    """At the deal, with sizes unchanged, the merged firm earns exactly what the two earned in every segment
    (take rates blended by share, margins by revenue); its planned spend is the two's."""
    from model.positions import update_revenue

    led, p, size = model.ledger, model.params, model.demand.size_bn
    a, t = model.majors[buyer].row, model.majors[bought].row
    update_revenue(led, size)
    revenue = led.revenue_bn[[a, t]].sum(axis=0)
    operating = (led.revenue_bn[[a, t]] * led.margin[[a, t]]).sum(axis=0)
    planned = led.planned_spend_bn[[a, t]].sum()
    acquisitions.merge(led, p, a, t, acquisitions.deal_price(led, p, t), model.year)
    update_revenue(led, size)
    np.testing.assert_allclose(led.revenue_bn[a], revenue, rtol=1e-12)
    np.testing.assert_allclose(led.revenue_bn[a] * led.margin[a], operating, rtol=1e-12, atol=1e-12)
    assert led.planned_spend_bn[a] == pytest.approx(planned)


def test_a_merger_of_two_clouds_is_blocked_where_they_overlap(model):
    """Amazon and Azure overlap in cloud_ai only: harmful there; Walmart and Shopify overlap in e-commerce,
    where their small shares clear the presumption; firms with no segment in common are never blocked."""
    led, p = model.ledger, model.params
    rows = {f: model.majors[f].row for f in ("amazon", "azure", "walmart", "shopify")}
    assert review.harmful_segment(led, p, rows["amazon"], rows["azure"]) == CLOUD
    assert review.harmful_segment(led, p, rows["walmart"], rows["shopify"]) is None
    assert review.harmful_segment(led, p, rows["azure"], rows["walmart"]) is None


def test_presumed_harmful_depends_on_the_thresholds(model):
    """Tiny thresholds block Amazon buying a tiny startup; the 2023 Guidelines thresholds let it through."""
    led = model.ledger
    strict = load_scenario("baseline", values={**TINY_THRESHOLDS, "years": 2})
    a = model.majors["amazon"].row
    t = int(live_startups(model)[0])
    assert 0 < led.share[t, CLOUD] < 0.01
    assert review.presumed_harmful(led, strict, a, t)
    assert not review.presumed_harmful(led, model.params, a, t)


@pytest.mark.parametrize("thresholds", [{}, TINY_THRESHOLDS], ids=["guidelines", "tiny"])
def test_acquire_events_match_the_rows_acquired(thresholds):
    """ACQUISITION targets are exactly the rows returned (now dead); BLOCKED ones stay alive; tiny thresholds block."""
    model = stepped_model(1, **EAGER_BIDDERS, **thresholds)
    led = model.ledger
    bidders = [f for f in model.majors.values() if f.alive]
    events, acquired = acquisitions.acquire(led, model.params, bidders, np.random.default_rng(4), model.year)
    bought = [e for e in events if e.kind is EventKind.ACQUISITION]
    blocked = [e for e in events if e.kind is EventKind.BLOCKED]
    assert len(bought) + len(blocked) == len(events)
    assert [e.target for e in bought] == [led.ids[r] for r in acquired]
    assert len(set(acquired)) == len(acquired)
    assert all(not led.alive[r] and led.kind[r] == Kind.STARTUP for r in acquired)
    assert all(led.alive[led.ids.index(e.target)] for e in blocked)
    for firm in bidders:
        assert sum(e.source == firm.firm_id for e in events) <= model.params.acquisitions.max_deals_per_firm
    if thresholds:
        assert blocked
    else:
        assert bought and not blocked


def test_review_shares_on_capability_sum_to_one(model):
    """Capability-based review shares sum to 1, are proportional to fielded capability and zero for the dead."""
    led, params = model.ledger, model.params
    p = replace(params, regulator=replace(params.regulator, share_basis="capability"))
    measured = review.review_shares(led, p, CLOUD)
    assert measured.sum() == pytest.approx(1.0)
    assert np.all(measured[~led.col("alive")] == 0.0)
    a, z = model.majors["amazon"].row, model.majors["azure"].row
    assert measured[a] / measured[z] == pytest.approx(led.effective_capability[a, CLOUD] / led.effective_capability[z, CLOUD])
    np.testing.assert_array_equal(review.review_shares(led, params, CLOUD), led.col("share")[:, CLOUD])


# ---------------------------------------------------------------- 10 recording
def test_record_year_writes_one_row_per_firm_share_and_event(model):
    """A year's record has exactly one row per live (or just-exited) firm, the fringe excepted, share rows
    summing to 1 in each segment, and one row per event."""
    led = model.ledger
    collector = recording.datacollector(recording.model_reporters(), MajorFirm)
    events = model.events_this_year
    assert events
    recording.record_year(collector, model, led, model.graph, events, model.year, started=True)
    firms = collector.get_table_dataframe("firms")
    listed = (led.col("alive") | (led.col("exit_year") == model.year)) & (led.col("kind") != Kind.FRINGE)
    assert len(firms) == listed.sum()
    assert sorted(firms["firm"]) == sorted(led.ids[r] for r in np.flatnonzero(listed))  # each exactly once
    assert list(firms["strategy"]) == [STRATEGIES[k] for k in led.col("strategy")[listed]]
    np.testing.assert_allclose(firms["capability"], led.col("capability").sum(axis=1)[listed])
    table = collector.get_table_dataframe("shares")
    np.testing.assert_allclose(table.groupby("segment")["share"].sum().loc[list(SEGMENTS)], 1.0)
    logged = collector.get_table_dataframe("events")
    assert len(logged) == len(events) and list(logged["event"]) == [e.kind.value for e in events]


def test_add_event_links_one_edge_per_deal_none_for_entry_or_exit():
    """Partnerships, acquisitions and blocked deals each add one edge of their kind; entries and exits add none."""
    graph = nx.MultiDiGraph()
    events = [
        Event(EventKind.ENTRY, "startup_0001", "", "cloud_ai", 0.1),
        Event(EventKind.EXIT, "startup_0002", "", "cloud_ai", 0.0),
        Event(EventKind.PARTNERSHIP, "walmart", "azure", "cloud_ai", 1.5, mode=PartnershipMode.CLOUD),
        Event(EventKind.ACQUISITION, "amazon", "startup_0003", "cloud_ai", 0.4),
        Event(EventKind.BLOCKED, "azure", "startup_0004", "cloud_ai", 0.3),
    ]
    recording.add_event_links(graph, events, 2025)
    edges = sorted((u, v, d["kind"]) for u, v, d in graph.edges(data=True))
    assert edges == sorted([("walmart", "azure", LinkKind.PARTNER.value), ("amazon", "startup_0003", LinkKind.ACQUIRED.value),
                            ("azure", "startup_0004", LinkKind.BLOCKED.value)])
    mode = graph.edges["walmart", "azure", 0]["mode"]
    assert mode == "cloud" and type(mode) is str  # plain text, as graph files store it
    assert all(d["year"] == 2025 for _, _, d in graph.edges(data=True))


# ---------------------------------------------------------------- 11 the yearly step
def test_exiting_firms_leave_the_model_at_the_next_step(model):
    """A startup that runs out of cash keeps its agent through the year it exits (its exit-year row records
    it dead) and leaves model.agents at the start of the next step."""
    victim = int(live_startups(model)[0])
    victim_id = model.ledger.ids[victim]
    model.ledger.cash_bn[victim] = -1e3
    model.step()
    exit_year = model.year
    assert not model.ledger.alive[victim] and model.ledger.exit_year[victim] == exit_year
    assert victim in model.leaving
    assert any(isinstance(f, Startup) and f.row == victim for f in model.agents)
    model.step()
    assert all(f.row != victim for f in model.agents)
    assert victim not in model.leaving
    firms = model.datacollector.get_table_dataframe("firms")
    rows = firms[firms["firm"] == victim_id]
    assert rows["year"].max() == exit_year
    last = rows[rows["year"] == exit_year]
    assert len(last) == 1 and not last["alive"].iloc[0]


def test_years_is_a_typed_keyword():
    """`years=3` runs three steps; a count that is not a whole number >= 1 is one line of ScenarioError."""
    model = AIRaceModel("baseline", rng=1, years=3)
    model.run()
    assert model.params.years == 3 and model.steps == 3
    for bad in (0, 2.5):
        with pytest.raises(ScenarioError) as error:
            AIRaceModel("baseline", rng=1, years=bad)
        assert len(error.value.problems) == 1 and "\n" not in str(error.value)
        assert "years" in error.value.problems[0]


def test_typed_values_apply_on_a_loaded_scenario_numpy_or_not():
    """A loaded scenario takes a firm's parameter and `years` together; numpy scalars act like Python numbers."""
    base = load_scenario("baseline")
    assert base.firms["amazon"].ai_budget_bn != 60.0
    runs = []
    for budget, years in ((60.0, 2), (np.float64(60.0), np.int64(2))):
        model = AIRaceModel(base, rng=1, **{"firms.amazon.ai_budget_bn": budget, "years": years})
        model.run()
        assert model.params.firms["amazon"].ai_budget_bn == 60.0 and model.params.years == 2 and model.steps == 2
        assert type(model.params.years) is int
        runs.append(model)
    assert runs[0].params == runs[1].params
    pd.testing.assert_frame_equal(*(m.datacollector.get_table_dataframe("firms") for m in runs))


def test_one_firm_draws_its_strategy_as_the_batch_rule_does(model):
    """`Firm.choose_strategy` (one agent) and `draw_strategies` (the year's batch) are one rule: the
    draw picks the strategy whose slice of the cumulative probabilities holds it; a fixed policy ignores it."""
    from agents.firm import draw_strategies

    led = model.ledger
    amazon = model.majors["amazon"]
    amazon.follow_policy("adaptive")
    led.strategy_probability[amazon.row] = [0.2, 0.5, 0.3]
    for draw, expected in ((0.1, Strategy.ACCELERATE), (0.69, Strategy.DIFFERENTIATE), (0.71, Strategy.PARTNER)):
        years = led.strategy_years[amazon.row].copy()
        amazon.choose_strategy(draw)
        assert led.strategy[amazon.row] == expected
        assert led.strategy_years[amazon.row, expected] == years[expected] + 1
        draw_strategies([amazon], np.array([draw]))
        assert led.strategy[amazon.row] == expected
    startups = [f for f in model.agents if isinstance(f, Startup)][:5]
    for firm in startups:
        firm.follow_policy("partner")
    draw_strategies(startups, np.full(len(startups), 0.01))
    assert all(led.strategy[f.row] == Strategy.PARTNER for f in startups)
