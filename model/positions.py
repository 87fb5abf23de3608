"""Each firm's standing in each market, read off the ledger with the market's formulas.

Shared by the processes of the year (`model.processes`): a firm's pull, the capability it
fields (own plus rented), its revenue, a segment's concentration, and taking a firm out.
"""

from __future__ import annotations

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import CLOUD, SEGMENTS, Scenario


def pull(ledger: FirmLedger, params: Scenario, s: int, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Pull of every firm (or of `rows`) in segment s; zero where it does not sell."""
    n = ledger.n
    return market.pull(
        ledger.brand[:n][rows, s], ledger.share[:n][rows, s], ledger.effective_capability[:n][rows, s],
        ledger.differentiation[:n][rows, s], *params.pull_params(s),
    ) * (ledger.present[:n][rows, s] & ledger.alive[:n][rows])


def all_pulls(ledger: FirmLedger, params: Scenario) -> np.ndarray:
    """Pull of every firm in every segment, shape (n, S)."""
    return np.stack([pull(ledger, params, s) for s in range(len(SEGMENTS))], axis=1)


def capability_basis(ledger: FirmLedger) -> np.ndarray:
    """Share-weighted capability of each segment: the industry capability index before normalising."""
    return np.maximum(np.sum(ledger.col("share") * ledger.col("effective_capability"), axis=0), 1e-12)


def rented_capability(params: Scenario, fee_bn: np.ndarray, provider_capability: np.ndarray) -> np.ndarray:
    """`market.rented_capability` with the scenario's partnership and capability parameters."""
    pp, cap = params.partnership, params.capability
    return market.rented_capability(fee_bn, provider_capability, pp.leverage, pp.capability_share,
                                    cap.returns_exponent, cap.depreciation)


def update_effective_capability(ledger: FirmLedger, params: Scenario, rows: np.ndarray | None = None) -> None:
    """Own capability plus what partners rent from their provider (for `rows`, or everyone): a
    client's fees buy capability in each segment in proportion to the AI budget it aims there."""
    rows = np.arange(ledger.n) if rows is None else rows
    eff = ledger.capability[rows].copy()
    clients = np.flatnonzero(ledger.provider[rows] >= 0)
    if clients.size:
        client_rows = rows[clients]
        eff[clients] += rented_capability(
            params, ledger.fees_paid_bn[client_rows, None] * ledger.allocation[client_rows],
            ledger.capability[ledger.provider[client_rows], CLOUD][:, None]) * ledger.present[client_rows]
    ledger.effective_capability[rows] = eff * ledger.present[rows]


def update_revenue(ledger: FirmLedger, size_bn: np.ndarray) -> None:
    ledger.revenue_bn[: ledger.n] = market.revenue(ledger.col("share"), size_bn, ledger.col("take_rate"))


def segment_hhi(ledger: FirmLedger, params: Scenario, s: int, shares: np.ndarray | None = None) -> float:
    """HHI of the whole market: the agents, plus the fringe's own concentration (Google and Meta in ads)."""
    shares = ledger.col("share")[:, s] if shares is None else shares
    agents = ledger.col("kind") != Kind.FRINGE
    fringe = shares[0] ** 2 * params.segments[SEGMENTS[s]].fringe_internal_hhi * 10_000.0
    return market.hhi(shares[agents]) + fringe


def retire(ledger: FirmLedger, rows, year: int) -> np.ndarray:
    """Take firms out: their customers return to the rest of each market pro rata. Returns the rows."""
    rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
    freed = ledger.share[rows].sum(axis=0)
    ledger.share[rows] = 0.0
    ledger.alive[rows] = False
    ledger.capability[rows] = 0.0
    ledger.effective_capability[rows] = 0.0
    ledger.pipeline[:, rows] = 0.0
    ledger.exit_year[rows] = year
    for s in np.flatnonzero(freed > 0):
        others = ledger.col("present")[:, s] & ledger.col("alive")
        total = ledger.col("share")[others, s].sum()
        if total > 0:
            ledger.share[: ledger.n][others, s] *= 1.0 + freed[s] / total
    return rows
