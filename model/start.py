"""The calibrated start (MODEL_SPEC "Initialisation"): the fringe, the majors and the first startups
at their 2023 positions, with brands set so that 2023 is a resting point of the market."""

from __future__ import annotations

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import CLOUD, FRINGE_ID, SEGMENTS, Scenario
from model.positions import update_effective_capability, update_revenue


def steady_start(ledger: FirmLedger, params: Scenario, row: int, spend_bn: np.ndarray) -> None:
    """2023 programmes were already under way: capability at the level that spend sustains, pipeline full."""
    cap = params.capability
    yearly = market.new_capability(spend_bn, cap.returns_exponent)
    ledger.capability[row] = yearly / cap.depreciation
    ledger.pipeline[:, row] = yearly


def add_fringe(ledger: FirmLedger, params: Scenario, year: int, fringe_spend_bn: np.ndarray) -> int:
    """Row 0: the long tail of each segment, holding what the majors do not."""
    row = ledger.add(FRINGE_ID, Kind.FRINGE, year)
    majors_share = np.zeros(len(SEGMENTS))
    for firm in params.firms.values():
        for s, seg in enumerate(SEGMENTS):
            if seg in firm.segments:
                majors_share[s] += firm.segments[seg].share
    ledger.share[row] = 1.0 - majors_share
    ledger.present[row] = True
    ledger.take_rate[row] = 1.0
    ledger.differentiation[row] = [params.segments[s].fringe_differentiation for s in SEGMENTS]
    steady_start(ledger, params, row, fringe_spend_bn)
    return row


def add_majors(ledger: FirmLedger, params: Scenario, year: int) -> list[int]:
    """The six incumbents at their 2023 shares, margins, cash and budgets; their rows in scenario order."""
    rows = []
    for firm_id, fp in params.firms.items():
        row = ledger.add(firm_id, Kind.MAJOR, year)
        for s, seg in enumerate(SEGMENTS):
            if seg not in fp.segments:
                continue
            sp = fp.segments[seg]
            ledger.present[row, s] = True
            ledger.share[row, s] = sp.share
            ledger.margin[row, s] = sp.margin
            ledger.take_rate[row, s] = sp.take_rate
            ledger.allocation[row, s] = sp.allocation
            ledger.differentiation[row, s] = sp.differentiation
            ledger.min_differentiation[row, s] = sp.differentiation
        steady_start(ledger, params, row,
                     fp.initial_ai_spend_bn * fp.capability_efficiency * ledger.allocation[row] * ledger.present[row])
        ledger.cash_bn[row] = fp.cash_bn
        ledger.ai_budget_bn[row] = ledger.base_ai_budget_bn[row] = fp.ai_budget_bn
        ledger.efficiency[row] = fp.capability_efficiency
        ledger.other_cash_flow_bn[row] = fp.other_cash_flow_bn
        ledger.payout_share[row] = fp.payout_share
        rows.append(row)
    return rows


def calibrate_start(ledger: FirmLedger, params: Scenario, size_bn: np.ndarray) -> None:
    """Start at rest: with 2023 capabilities, the pull-implied shares are the 2023 shares. With
    a segment's `rest_at_start` below 1 the incumbents' brands explain only part of them (brand =
    resting brand ^ it), so shares start moving toward what capabilities imply (2019's had not
    settled: Azure and Google Cloud went on gaining). The starting startups are at rest, as every
    later entrant is at its entry share."""
    n = ledger.n
    startups = ledger.col("kind") == Kind.STARTUP
    if startups.any():
        # Initial startups hold entry_share each of cloud_ai, taken from the fringe.
        take = min(params.startups.entry_share * startups.sum(), 0.5 * ledger.share[0, CLOUD])
        ledger.share[:n][startups, CLOUD] = take / startups.sum()
        ledger.share[0, CLOUD] -= take
    rest = np.where(startups[:, None], 1.0, [params.segments[s].rest_at_start for s in SEGMENTS])
    ledger.brand[:n] = np.power(market.calibrate_brand(
        ledger.col("share"), ledger.col("capability"), ledger.col("differentiation"), *params.pull_params(),
    ), rest) * ledger.col("present")
    update_effective_capability(ledger, params)
    update_revenue(ledger, size_bn)
    ledger.operating_bn[:n] = market.operating_income(ledger.col("revenue_bn"), ledger.col("margin"))
    ledger.base_operating_bn[:n] = ledger.col("operating_bn")
    ledger.base_margin[:n] = ledger.col("margin")
    ledger.base_share[:n] = ledger.col("share")
    ledger.base_capability[:n] = ledger.col("capability")
    majors = ledger.col("kind") == Kind.MAJOR
    ledger.ai_spend_bn[:n][majors] = [f.initial_ai_spend_bn for f in params.firms.values()]
    ledger.ai_spend_bn[:n][startups] = ledger.col("ai_budget_bn")[startups]
    ledger.planned_spend_bn[:n] = ledger.col("ai_spend_bn")
    ledger.base_revenue_bn[:n] = ledger.col("revenue_bn").sum(axis=1)
    ledger.profit_bn[:n] = np.where(ledger.col("kind") != Kind.FRINGE, ledger.col("operating_bn") - ledger.col("ai_spend_bn"), 0.0)
