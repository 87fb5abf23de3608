"""What a run holds at any year, as plain values: the query interface reports read a run through
(`AIRaceModel.final_shares`, `.major_positions`, `.deal_counts`, `.startup_counts`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.ledger import FirmLedger, Kind
from model.params import FRINGE_ID, SEGMENTS, STRATEGIES
from model.schema import LinkKind


@dataclass(frozen=True)
class MajorPosition:
    """A major's record so far: how often it chose each strategy, what it spent and earned."""

    strategy_years: dict[str, int]
    cumulative_ai_spend_bn: float
    cumulative_fees_paid_bn: float
    cumulative_acquisition_outlay_bn: float  # prices paid for acquisitions
    cumulative_profit_bn: float
    cumulative_operating_gain_bn: float   # operating income above the 2023 level, summed
    cash_bn: float
    revenue_bn: float
    revenue_by_segment_bn: dict[str, float]


@dataclass(frozen=True)
class StartupCounts:
    entered: int   # entrants after the start
    left: int      # startups no longer alive (exits and acquisitions)
    alive: int
    acquired: int  # startups bought (left - acquired failed)


def final_shares(ledger: FirmLedger, major_rows: dict[str, int]) -> dict[str, dict[str, float]]:
    """Shares per segment: each major that sells there, all startups together, and the fringe."""
    startups = ledger.col("kind") == Kind.STARTUP
    out = {}
    for s, seg in enumerate(SEGMENTS):
        shares = {fid: float(ledger.share[row, s]) for fid, row in major_rows.items() if ledger.present[row, s]}
        shares["startups"] = float(ledger.col("share")[startups, s].sum())
        shares[FRINGE_ID] = float(ledger.share[0, s])
        out[seg] = shares
    return out


def major_positions(ledger: FirmLedger, major_rows: dict[str, int]) -> dict[str, MajorPosition]:
    return {firm_id: MajorPosition(
        strategy_years={s: int(n) for s, n in zip(STRATEGIES, ledger.strategy_years[row])},
        cumulative_ai_spend_bn=float(ledger.cum_ai_spend_bn[row]),
        cumulative_fees_paid_bn=float(ledger.cum_fees_paid_bn[row]),
        cumulative_acquisition_outlay_bn=float(ledger.cum_acquisition_outlay_bn[row]),
        cumulative_profit_bn=float(ledger.cum_profit_bn[row]),
        cumulative_operating_gain_bn=float(ledger.cum_operating_gain_bn[row]),
        cash_bn=float(ledger.cash_bn[row]),
        revenue_bn=float(ledger.revenue_bn[row].sum()),
        revenue_by_segment_bn={seg: float(ledger.revenue_bn[row, s]) for s, seg in enumerate(SEGMENTS) if ledger.present[row, s]},
    ) for firm_id, row in major_rows.items()}


def deal_counts(ledger: FirmLedger) -> dict[LinkKind, dict[str, int]]:
    """Acquisitions made and deals blocked, per acquirer that made or tried one."""
    return {link: {ledger.ids[row]: int(column[row]) for row in np.flatnonzero(column)}
            for link, column in ((LinkKind.ACQUIRED, ledger.col("deals_made")), (LinkKind.BLOCKED, ledger.col("deals_blocked")))}


def startup_counts(ledger: FirmLedger, start_year: int) -> StartupCounts:
    startups = ledger.col("kind") == Kind.STARTUP
    alive = ledger.col("alive")
    return StartupCounts(entered=int(np.sum(startups & (ledger.col("entry_year") >= start_year))),
                         left=int(np.sum(startups & ~alive)), alive=int(np.sum(startups & alive)),
                         acquired=int(np.sum(startups & ledger.col("acquired"))))
