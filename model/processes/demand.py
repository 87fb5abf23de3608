"""Process 1, demand: each segment grows at its base rate plus an AI uplift in the log of the
industry's capability index; the talent pool, compute capacity, the fringe's AI spend and the AI
venture funding climate grow, each at the year's rate (a scenario may schedule the rates by year)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from model import market
from model.params import SEGMENTS, Scenario


@dataclass(frozen=True)
class Demand:
    """The year's market sizes and input supplies."""

    size_bn: np.ndarray            # (S,) segment sizes
    growth: np.ndarray             # (S,) the growth that led to them
    talent_supply_bn: float        # AI talent pool, $bn of wages at the 2023 wage
    compute_capacity_bn: float     # AI compute and power, $bn of AI spend it can serve
    fringe_spend_bn: np.ndarray    # (S,) the fringe's AI spend
    venture_funding_bn: float      # AI venture funding of the year, the pool follow-on rounds draw from


def initial_demand(params: Scenario) -> Demand:
    segments = [params.segments[s] for s in SEGMENTS]
    return Demand(
        size_bn=np.array([s.size_bn for s in segments]), growth=np.array([s.base_growth for s in segments]),
        talent_supply_bn=params.talent.initial_supply_bn, compute_capacity_bn=params.compute.initial_capacity_bn,
        fringe_spend_bn=np.array([s.fringe_ai_spend_bn for s in segments]),
        venture_funding_bn=params.startups.initial_funding_bn,
    )


def grow_demand(demand: Demand, params: Scenario, capability_index: np.ndarray) -> Demand:
    """Next year's demand; `capability_index` is each segment's share-weighted capability over 2023's."""
    segments = [params.segments[s] for s in SEGMENTS]
    growth = market.segment_growth(
        np.array([s.base_growth for s in segments]), np.array([s.ai_uplift for s in segments]), capability_index,
        demand.size_bn, np.array([s.potential_bn for s in segments]), np.array([s.size_bn for s in segments]),
    )
    return replace(
        demand, size_bn=demand.size_bn * (1.0 + growth), growth=growth,
        talent_supply_bn=demand.talent_supply_bn * (1.0 + params.talent.supply_growth),
        compute_capacity_bn=demand.compute_capacity_bn * (1.0 + params.compute.capacity_growth),
        fringe_spend_bn=demand.fringe_spend_bn * (1.0 + np.array([s.fringe_spend_growth for s in segments])),
        venture_funding_bn=demand.venture_funding_bn * (1.0 + params.startups.funding_growth),
    )
