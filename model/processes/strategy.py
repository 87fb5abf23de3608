"""Process 3, strategy choice: adaptive firms weigh accelerate, differentiate and partner by the
profit they forecast (with the market's own formulas) and the profit they remember; every firm
then draws its strategy (`Firm.choose_strategy`), all on last year's information."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from agents.firm import Firm, Startup, draw_strategies
from agents.policy import forecast_profits, strategy_probabilities
from model import market
from model.ledger import FirmLedger, Kind
from model.params import CLOUD, Scenario
from model.positions import all_pulls, rented_capability
from model.processes.demand import Demand


def choose_strategies(ledger: FirmLedger, params: Scenario, demand: Demand, fill_rate: float,
                      firms: Sequence[Firm], providers: Sequence[Firm], startup_stream: np.random.Generator,
                      scheduled_budgets: Mapping[int, float]) -> None:
    """Weigh the strategies of the adaptive firms among `firms` (the live ones), then let each choose;
    `scheduled_budgets` (ledger row -> $bn) are the budgets a scenario sets for this year."""
    plan_budgets(ledger, params, demand.size_bn, scheduled_budgets)
    adaptive = [f for f in firms if f.adaptive]
    if adaptive:
        rows = np.array([f.row for f in adaptive])
        provider_capability = np.array([_capability_of(f.choose_provider(providers), ledger) for f in adaptive])
        may_partner = np.array([f.may_partner() for f in adaptive])
        forecast, _ = forecast_strategy_profits(ledger, params, demand, fill_rate, rows, provider_capability, may_partner)
        ledger.forecast_bn[rows] = forecast
        ledger.expected_operating_bn[rows] = market.operating_income(
            market.revenue(ledger.share[rows], demand.size_bn, ledger.take_rate[rows]), ledger.margin[rows])
        ledger.strategy_probability[rows] = strategy_probabilities(
            forecast, ledger.experience_bn[rows], ledger.tried[rows], ledger.ai_budget_bn[rows], params.adaptive)
    # one draw per row of the ledger, so a startup's luck does not depend on who else is alive
    startup_draws = startup_stream.random(ledger.n)
    draws = np.array([float(startup_draws[f.row]) if isinstance(f, Startup) else f.strategy_draw() for f in firms])
    draw_strategies(firms, draws)


def plan_budgets(ledger: FirmLedger, params: Scenario, size_bn: np.ndarray, scheduled: Mapping[int, float]) -> None:
    """Each major's AI budget for the year keeps pace with its markets at this year's sizes and, less
    than in proportion, with the share it holds (the scenario's budget is the one its 2023 revenue
    supports); startups spend what their investors gave them. A scheduled budget is the year's budget
    and the new reference: the budget keeps pace with the markets from there."""
    rows = np.fromiter(scheduled, dtype=int, count=len(scheduled))
    if rows.size:
        ledger.base_ai_budget_bn[rows] = np.fromiter(scheduled.values(), dtype=float, count=len(scheduled))
        ledger.base_share[rows] = ledger.share[rows]
        ledger.base_revenue_bn[rows] = market.revenue(ledger.share[rows], size_bn, ledger.take_rate[rows]).sum(axis=1)
    majors = (ledger.col("kind") == Kind.MAJOR) & ledger.col("alive")
    take = ledger.col("take_rate")[majors]
    ledger.ai_budget_bn[: ledger.n][majors] = market.scaled_budget(
        ledger.col("base_ai_budget_bn")[majors], market.revenue(ledger.col("share")[majors], size_bn, take).sum(axis=1),
        ledger.col("base_revenue_bn")[majors], market.revenue(ledger.col("base_share")[majors], size_bn, take).sum(axis=1),
        params.strategies.budget_share_elasticity)


def _capability_of(provider: Firm | None, ledger: FirmLedger) -> float:
    return 0.0 if provider is None else float(ledger.capability[provider.row, CLOUD])


def forecast_strategy_profits(ledger: FirmLedger, params: Scenario, demand: Demand, fill_rate: float, rows: np.ndarray,
                              provider_capability: np.ndarray, may_partner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value of each strategy to the firms at `rows` and its next-year part (`agents.policy.forecast_profits`)."""
    st = params.strategies
    pulls = all_pulls(ledger, params)
    totals = pulls.sum(axis=0)
    share, diff = ledger.col("share"), ledger.col("differentiation")
    contested = np.sum(share * (1.0 - diff), axis=0)
    fee = market.partner_fee(ledger.ai_budget_bn[rows], params.partnership.fee_share)
    partner_cap = np.where(provider_capability[:, None] > 0,
                           rented_capability(params, fee[:, None] * ledger.allocation[rows], provider_capability[:, None]), 0.0)
    return forecast_profits(
        budget_bn=ledger.ai_budget_bn[rows], efficiency=ledger.efficiency[rows], fill_rate=fill_rate,
        allocation=ledger.allocation[rows], share=ledger.share[rows], differentiation=ledger.differentiation[rows],
        min_differentiation=ledger.min_differentiation[rows],
        brand=ledger.brand[rows], present=ledger.present[rows], margin=ledger.margin[rows], take_rate=ledger.take_rate[rows],
        size_bn=demand.size_bn,
        future_size_bn=demand.size_bn * np.power(1.0 + demand.growth, params.adaptive.horizon_years),
        rival_pull=totals - pulls[rows], contested=contested,
        partner_capability=partner_cap,
        spend_mult=market.spend_multipliers(st.differentiate_spend_share, st.partner_spend_share),
        previous_spend_bn=ledger.planned_spend_bn[rows], spend_adjustment=st.spend_adjustment,
        fee_share=params.partnership.fee_share, open_model_efficiency=st.open_model_efficiency,
        differentiation_step=(st.differentiation_gain, st.differentiation_decay, st.max_differentiation),
        pull_params=params.pull_params(),
        returns_exponent=params.capability.returns_exponent, depreciation=params.capability.depreciation,
        patience=params.adaptive.patience,
        may_partner=may_partner,
    )
