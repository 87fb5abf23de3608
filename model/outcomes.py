"""What a run holds at any year, as plain values: the query interface reports read a run through
(`AIRaceModel.final_shares`, `.major_positions`, `.deal_counts`, `.startup_counts`)."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
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


def deal_counts(graph: nx.MultiDiGraph) -> dict[LinkKind, dict[str, int]]:
    """Acquisitions made and deals blocked, per acquirer."""
    deals: dict[LinkKind, dict[str, int]] = {LinkKind.ACQUIRED: {}, LinkKind.BLOCKED: {}}
    for source, _, kind in graph.edges(data="kind"):
        if kind in deals:
            counts = deals[LinkKind(kind)]
            counts[source] = counts.get(source, 0) + 1
    return deals


def startup_counts(ledger: FirmLedger, graph: nx.MultiDiGraph, start_year: int) -> StartupCounts:
    entered = sum(1 for _, data in graph.nodes(data=True) if data["kind"] == Kind.STARTUP.label and data["entry_year"] >= start_year)
    startups = ledger.col("kind") == Kind.STARTUP
    startup_label = Kind.STARTUP.label
    acquired = sum(1 for _, target, kind in graph.edges(data="kind")
                   if kind == LinkKind.ACQUIRED.value and graph.nodes[target]["kind"] == startup_label)
    return StartupCounts(entered=int(entered), left=int(np.sum(startups & ~ledger.col("alive"))),
                         alive=int(np.sum(startups & ledger.col("alive"))), acquired=int(acquired))
