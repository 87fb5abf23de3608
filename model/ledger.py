"""Firm state as columns of numpy arrays, one row per firm that ever existed.

The market math works on whole columns at once (thousands of startups cost one array
operation, not thousands of Python calls); agents are thin views onto their row.
Row 0 is the fringe ("others"), the long tail of each segment that is not an agent.
"""

from __future__ import annotations

import numpy as np

from model.params import Coded, Strategy


class Kind(Coded):
    """What a row of the ledger is; stored in the `kind` column."""

    FRINGE = 0
    MAJOR = 1
    STARTUP = 2


KIND_LABELS: tuple[str, ...] = tuple(kind.label for kind in Kind)

PER_SEGMENT = (
    "share", "capability", "effective_capability", "base_capability", "base_margin", "base_share", "brand", "differentiation", "min_differentiation", "margin",
    "take_rate", "allocation", "revenue_bn", "present",
)
PER_FIRM = (
    "kind", "alive", "strategy", "cash_bn", "ai_budget_bn", "efficiency", "other_cash_flow_bn",
    "payout_share", "payout_bn", "base_ai_budget_bn", "base_revenue_bn", "planned_spend_bn", "expected_operating_bn", "ai_spend_bn", "effective_spend_bn", "talent_cost_bn", "fees_paid_bn", "fees_received_bn", "contracted_share", "contract_luck_bn",
    "fines_bn", "cum_fines_bn", "cum_fees_paid_bn", "acquisition_outlay_bn", "cum_acquisition_outlay_bn", "operating_bn", "base_operating_bn", "profit_bn", "cum_ai_spend_bn", "cum_profit_bn",
    "cum_operating_gain_bn", "total_capability", "total_revenue_bn", "provider", "entry_year", "exit_year",
    "deals_made", "deals_blocked", "acquired",
)
# A firm's decision state, one value per strategy: the choice probabilities it last weighed, the
# profit it remembers from each strategy, whether it has tried it, and the years it chose it.
PER_STRATEGY = ("strategy_probability", "forecast_bn", "experience_bn", "tried", "strategy_years")
INT_COLUMNS = {"kind": np.int8, "strategy": np.int8, "provider": np.int64, "entry_year": np.int64, "exit_year": np.int64,
               "strategy_years": np.int64, "deals_made": np.int64, "deals_blocked": np.int64}
BOOL_COLUMNS = {"alive", "present", "tried", "acquired"}


class FirmLedger:
    """Growable struct-of-arrays; `n` rows are in use."""

    def __init__(self, n_segments: int, lag_years: int, capacity: int = 64):
        self.n_segments = n_segments
        self.lag_years = lag_years
        self.n = 0
        self.ids: list[str] = []
        self._capacity = 0
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        old = self._capacity
        widths = {name: self.n_segments for name in PER_SEGMENT} | {name: len(Strategy) for name in PER_STRATEGY}
        for name in PER_SEGMENT + PER_FIRM + PER_STRATEGY:
            shape = (capacity, widths[name]) if name in widths else (capacity,)
            dtype = bool if name in BOOL_COLUMNS else INT_COLUMNS.get(name, np.float64)
            column = np.zeros(shape, dtype=dtype)
            if old:
                column[:old] = getattr(self, name)
            setattr(self, name, column)
        # The strategy of each of the last lag_years years (oldest first, -1 before any): the decision
        # that bought the capability arriving now, so that learning credits a result to it.
        strategy_history = np.full((self.lag_years, capacity), -1, dtype=np.int8)
        if old:
            strategy_history[:, :old] = self.strategy_history
        self.strategy_history = strategy_history
        pipeline = np.zeros((self.lag_years, capacity, self.n_segments))
        if old:
            pipeline[:, :old] = self.pipeline
        self.pipeline = pipeline
        self._capacity = capacity

    def add(self, firm_id: str, kind: Kind, entry_year: int) -> int:
        if self.n == self._capacity:
            self._grow(self._capacity * 2)
        row = self.n
        self.n += 1
        self.ids.append(firm_id)
        self.kind[row] = kind
        self.alive[row] = True
        self.provider[row] = -1
        self.entry_year[row] = entry_year
        self.exit_year[row] = -1
        return row

    def add_many(self, firm_ids: list[str], kind: Kind, entry_year: int) -> np.ndarray:
        """Rows for a batch of entrants, grown once."""
        need = self.n + len(firm_ids)
        if need > self._capacity:
            self._grow(max(need, self._capacity * 2))
        rows = np.arange(self.n, need)
        self.n = need
        self.ids.extend(firm_ids)
        self.kind[rows] = kind
        self.alive[rows] = True
        self.provider[rows] = -1
        self.entry_year[rows] = entry_year
        self.exit_year[rows] = -1
        return rows

    def col(self, name: str) -> np.ndarray:
        """The used part of a column (a view: writes go to the ledger)."""
        return getattr(self, name)[: self.n]
