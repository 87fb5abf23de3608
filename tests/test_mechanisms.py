"""Each mechanism's effect goes the right way, averaged over seeds (common random numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from model.ledger import Kind
from model.params import CLOUD, SEGMENTS

from tests.conftest import ALL_ACCELERATE, mean_over_seeds, simulate

ECOM = SEGMENTS.index("ecommerce")


def share_of(firm: str, segment: int):
    return lambda m: float(m.ledger.share[m.majors[firm].row, segment])


def capability_of(firm: str, segment: int):
    return lambda m: float(m.ledger.capability[m.majors[firm].row, segment])


def model_series(column: str, how=np.mean):
    return lambda m: float(how(m.datacollector.get_model_vars_dataframe()[column].iloc[1:]))


def majors_capability(m) -> float:
    led = m.ledger
    return float(led.col("capability")[led.col("kind") == Kind.MAJOR].sum())


def event_count(kind: str):
    return lambda m: float(sum(1 for _, _, d in m.graph.edges(data=True) if d["kind"] == kind))


def cumulative_profit(firm: str):
    return lambda m: float(m.ledger.cum_profit_bn[m.majors[firm].row])


def strategy_years(firms: tuple[str, ...], strategy: str):
    def metric(m):
        df = m.datacollector.get_table_dataframe("firms")
        return float(((df["firm"].isin(firms)) & (df["strategy"] == strategy)).sum())
    return metric


AMAZON_BOLD = {"firms.amazon.policy": "accelerate"}
PLENTY_OF_TALENT = {**ALL_ACCELERATE, "talent.initial_supply_bn": 1000.0}
PLENTY_OF_COMPUTE = {**ALL_ACCELERATE, "compute.initial_capacity_bn": 1000.0}
SHOPIFY_NICHE = {"firms.shopify.policy": "differentiate", "firms.amazon.policy": "accelerate", "firms.amazon.ai_budget_bn": 120.0}

# (name, metric, low-arm overrides, high-arm overrides): the metric must be larger in the high arm.
MECHANISMS = [
    ("bigger AI budget -> more capability", capability_of("amazon", CLOUD),
     {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 20.0}, {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 60.0}),
    ("bigger AI budget -> larger cloud share", share_of("amazon", CLOUD),
     {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 20.0}, {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 60.0}),
    ("bigger AI budget -> larger e-commerce share", share_of("amazon", ECOM),
     {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 20.0}, {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 60.0}),
    ("lower HHI thresholds -> more blocked deals", event_count("blocked"),
     {}, {"regulator.hhi_threshold": 300.0, "regulator.delta_hhi_threshold": 1.0}),
    ("higher HHI thresholds -> more acquisitions", event_count("acquired"),
     {"regulator.hhi_threshold": 300.0, "regulator.delta_hhi_threshold": 1.0}, {}),
    ("more strictness -> more blocked deals", event_count("blocked"), {}, {"regulator.strictness": 1000.0}),
    ("slower talent supply growth -> higher wage index", model_series("ai_wage_index"),
     {**ALL_ACCELERATE, "talent.supply_growth": 0.15}, {**ALL_ACCELERATE, "talent.supply_growth": -0.05}),
    ("slower compute growth -> higher compute utilization", model_series("compute_utilization"),
     {**ALL_ACCELERATE, "compute.capacity_growth": 0.3}, {**ALL_ACCELERATE, "compute.capacity_growth": 0.0}),
    # The scarcer input binds (Leontief): each is tested with the other one plentiful.
    ("faster compute growth -> more capability built", majors_capability,
     {**PLENTY_OF_TALENT, "compute.capacity_growth": 0.0}, {**PLENTY_OF_TALENT, "compute.capacity_growth": 0.3}),
    ("faster talent growth -> more capability built", majors_capability,
     {**PLENTY_OF_COMPUTE, "talent.supply_growth": -0.05}, {**PLENTY_OF_COMPUTE, "talent.supply_growth": 0.15}),
    ("more startups entering -> more acquisitions", event_count("acquired"),
     {"startups.entry_rate": 1.0, "startups.initial_count": 2}, {"startups.entry_rate": 30.0}),
    ("more startups entering -> more startups alive", model_series("startups_alive"),
     {"startups.entry_rate": 2.0}, {"startups.entry_rate": 30.0}),
    ("less seed cash -> more startup exits", lambda m: float(sum(1 for e in m.datacollector.get_table_dataframe("events").event if e == "exit")),
     {"startups.seed_cash_bn": 0.5}, {"startups.seed_cash_bn": 0.02}),
    ("AI uplift -> bigger cloud market", lambda m: float(m.demand.size_bn[CLOUD]),
     {"segments.cloud_ai.ai_uplift": 0.0, **ALL_ACCELERATE}, {"segments.cloud_ai.ai_uplift": 0.3, **ALL_ACCELERATE}),
    ("faster model drift -> less capability", majors_capability,
     {"capability.depreciation": 0.4}, {"capability.depreciation": 0.1}),
    ("shorter gestation -> more capability early", lambda m: capability_of("amazon", CLOUD)(m),
     {**AMAZON_BOLD, "capability.lag_years": 3, "years": 3}, {**AMAZON_BOLD, "capability.lag_years": 0, "years": 3}),
    ("more integration loss -> less acquired capability", majors_capability,
     {"capability.integration_loss": 0.9}, {"capability.integration_loss": 0.0}),
    ("more rented capability -> partner gains share", share_of("walmart", ECOM),
     {"firms.walmart.policy": "partner", "partnership.leverage": 0.5}, {"firms.walmart.policy": "partner", "partnership.leverage": 6.0}),
    ("partner fees -> provider earns more", lambda m: float(m.ledger.fees_received_bn.sum()),
     {"firms.walmart.policy": "accelerate", "firms.shopify.policy": "accelerate"},
     {"firms.walmart.policy": "partner", "firms.shopify.policy": "partner"}),
    ("differentiation protects share against a bolder rival", share_of("shopify", ECOM),
     {**SHOPIFY_NICHE, "strategies.differentiation_gain": 0.0}, {**SHOPIFY_NICHE, "strategies.differentiation_gain": 0.15}),
    ("faster share adjustment -> bigger share moves", lambda m: abs(share_of("amazon", CLOUD)(m) - 0.31),
     {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 100.0, "market.adjustment_speed": 0.05},
     {**AMAZON_BOLD, "firms.amazon.ai_budget_bn": 100.0, "market.adjustment_speed": 0.6}),
    ("dominance fines -> lower profit of the dominant firm", cumulative_profit("amazon"),
     {"regulator.dominance_share": 0.25, "regulator.dominance_fine_rate": 0.1}, {"regulator.dominance_share": 0.25}),
    ("consortium -> differentiators spend less", lambda m: -float(m.ledger.cum_ai_spend_bn[[m.majors["walmart"].row, m.majors["shopify"].row]].sum()),
     {"firms.walmart.policy": "differentiate", "firms.shopify.policy": "differentiate", "strategies.consortium": False},
     {"firms.walmart.policy": "differentiate", "firms.shopify.policy": "differentiate", "strategies.consortium": True}),
    ("partnering that buys more -> adaptive retailers partner more", strategy_years(("walmart", "shopify"), "partner"),
     {"partnership.leverage": 0.5}, {"partnership.leverage": 6.0}),
    ("open models -> differentiators build more", capability_of("shopify", ECOM),
     {"firms.shopify.policy": "differentiate", "strategies.open_model_efficiency": 1.0},
     {"firms.shopify.policy": "differentiate", "strategies.open_model_efficiency": 3.0}),
    ("more patient firms -> more accelerating", strategy_years(("amazon", "azure", "alibaba"), "accelerate"),
     {"adaptive.patience": 0.0}, {"adaptive.patience": 1.0}),
]


@pytest.mark.parametrize("name, metric, low, high", MECHANISMS, ids=[m[0] for m in MECHANISMS])
def test_mechanism_direction(name, metric, low, high):
    low_value = mean_over_seeds(metric, **low)
    high_value = mean_over_seeds(metric, **high)
    assert high_value > low_value, f"{name}: {low_value:.4g} (low arm) vs {high_value:.4g} (high arm)"


def test_same_seed_same_run_and_different_seeds_differ():
    a, b, c = simulate(11), simulate(11), simulate(12)
    frame = lambda m: m.datacollector.get_table_dataframe("shares")  # noqa: E731
    assert frame(a).equals(frame(b))
    assert not frame(a).equals(frame(c))
