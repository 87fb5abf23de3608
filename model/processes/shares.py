"""Process 7, market shares: niches build or fade, then each segment's shares move part of the way
toward the pull-implied shares (switching costs); every movement of customers between two firms
worth at least `market.min_flow_bn` is a share flow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import SEGMENTS, Scenario, Strategy
from model.positions import pull, update_revenue


@dataclass(frozen=True)
class ShareFlows:
    """Customers that moved in one segment this year: from row, to row, worth $bn of segment size."""

    segment: str
    source_rows: np.ndarray
    target_rows: np.ndarray
    value_bn: np.ndarray


def move_shares(ledger: FirmLedger, params: Scenario, size_bn: np.ndarray) -> list[ShareFlows]:
    st = params.strategies
    diff = ledger.col("differentiation")
    movable = (ledger.col("kind") != Kind.FRINGE)[:, None]
    moved = market.next_differentiation(
        diff, ledger.col("min_differentiation"), (ledger.col("strategy") == Strategy.DIFFERENTIATE)[:, None],
        st.differentiation_gain, st.differentiation_decay, st.max_differentiation,
    )
    ledger.differentiation[: ledger.n] = np.where(movable, moved, diff) * ledger.col("present")
    flows = []
    for s, seg in enumerate(SEGMENTS):
        rows = np.flatnonzero(ledger.col("present")[:, s] & ledger.col("alive"))
        before = ledger.share[rows, s].copy()
        target = market.share_target(before, ledger.differentiation[rows, s], pull(ledger, params.market, s)[rows])
        after = market.adjust_shares(before, target, params.market.adjustment_speed)
        ledger.share[rows, s] = after
        src, dst, amount = market.share_flow(before, after, params.market.min_flow_bn / size_bn[s])
        flows.append(ShareFlows(seg, rows[src], rows[dst], amount * size_bn[s]))
    update_revenue(ledger, size_bn)
    return flows
