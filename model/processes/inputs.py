"""Process 4, scarce inputs: compute and power, then talent, are shared out in proportion to what
firms ask for under their strategies; the AI wage rises with talent demand over supply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import Scenario, Strategy
from model.processes.demand import Demand


@dataclass(frozen=True)
class InputMarket:
    """How tight the year's inputs were."""

    wage_index: float               # AI wage relative to 2023
    fill_rate: float                # share of asked-for spend that became effective (compute x talent)
    compute_utilization: float      # share of compute capacity used
    compute_demand_ratio: float     # AI spend asked for over compute capacity
    talent_tightness_2023: float    # talent demand over supply in 2023, the wage's reference


# Before the start is calibrated: nothing rationed, the 2023 wage.
NOT_YET_RATIONED = InputMarket(wage_index=1.0, fill_rate=1.0, compute_utilization=0.0, compute_demand_ratio=0.0,
                               talent_tightness_2023=1.0)


def initial_inputs(ledger: FirmLedger, params: Scenario, demand: Demand) -> InputMarket:
    """2023 use of compute and the 2023 wage, from the programmes that were under way."""
    spend = float(ledger.col("ai_spend_bn").sum())
    ratio = spend / demand.compute_capacity_bn
    tightness = max(params.talent.labour_share * spend / demand.talent_supply_bn, 1e-9)
    return InputMarket(wage_index=1.0, fill_rate=1.0, compute_utilization=min(1.0, ratio), compute_demand_ratio=ratio,
                       talent_tightness_2023=tightness)


def ration_inputs(ledger: FirmLedger, params: Scenario, demand: Demand, before: InputMarket) -> InputMarket:
    """Each firm's deployed and effective spend and talent premium, and the year's input market."""
    st, talent = params.strategies, params.talent
    mult = market.spend_multipliers(st.differentiate_spend_share, st.partner_spend_share)
    alive = ledger.col("alive") & (ledger.col("kind") != Kind.FRINGE)
    target = ledger.col("ai_budget_bn") * mult[ledger.col("strategy")]
    wanted = np.where(alive, market.planned_spend(ledger.col("planned_spend_bn"), target, st.spend_adjustment), 0.0)
    ledger.planned_spend_bn[: ledger.n] = wanted
    compute_fill = market.ration(wanted, demand.compute_capacity_bn)
    ratio = float(wanted.sum()) / demand.compute_capacity_bn
    deployed = wanted * compute_fill
    talent_demand = talent.labour_share * float(deployed.sum())
    talent_fill = market.ration(np.array([talent_demand]), demand.talent_supply_bn)
    wage = market.wage_index(talent_demand, demand.talent_supply_bn, talent.wage_elasticity, talent.min_wage_index,
                             before.talent_tightness_2023)
    differentiators = ledger.col("strategy") == Strategy.DIFFERENTIATE
    efficiency = ledger.col("efficiency") * np.where(differentiators, st.open_model_efficiency, 1.0)
    ledger.ai_spend_bn[: ledger.n] = deployed
    ledger.effective_spend_bn[: ledger.n] = deployed * talent_fill * efficiency
    ledger.talent_cost_bn[: ledger.n] = talent.labour_share * deployed * talent_fill * (wage - 1.0)
    return InputMarket(wage_index=wage, fill_rate=compute_fill * talent_fill, compute_utilization=min(1.0, ratio),
                       compute_demand_ratio=ratio, talent_tightness_2023=before.talent_tightness_2023)
