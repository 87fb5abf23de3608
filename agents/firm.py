"""Firms as Mesa agents: each owns its yearly strategy decision and what it learns from it.

State that the market math needs every year (shares, capability, cash...) lives in the
model's `FirmLedger`; an agent reads and writes its own row through the properties below.
"""

from __future__ import annotations

import numpy as np
import mesa

from agents.policy import STRATEGY_CODES
from model.ledger import KIND_NAMES
from model.params import STRATEGIES


class LedgerValue:
    """Read-only attribute from the agent's row of a per-firm ledger column.

    Plain attributes let Mesa's DataCollector name them as reporters.
    """

    def __init__(self, column: str):
        self.column = column

    def __get__(self, firm: "Firm", owner=None) -> float:
        if firm is None:
            return self
        return float(getattr(firm.model.ledger, self.column)[firm.row])


class Firm(mesa.Agent):
    """A firm in the race. `policy` is a fixed strategy name or 'adaptive'."""

    def __init__(self, model: mesa.Model, firm_id: str, row: int, policy: str):
        super().__init__(model)
        self.firm_id = firm_id
        self.row = row
        self.policy = policy
        self.experience_bn = np.zeros(len(STRATEGIES))
        self.tried = np.zeros(len(STRATEGIES), dtype=bool)
        self.strategy_years = np.zeros(len(STRATEGIES), dtype=np.int64)

    @property
    def ledger(self):
        return self.model.ledger

    @property
    def kind(self) -> str:
        return KIND_NAMES[self.ledger.kind[self.row]]

    @property
    def alive(self) -> bool:
        return bool(self.ledger.alive[self.row])

    @property
    def strategy(self) -> str:
        """'' before the first year: the calibrated start has no chosen strategy."""
        return STRATEGIES[self.ledger.strategy[self.row]] if self.model.steps else ""

    cash_bn = LedgerValue("cash_bn")
    profit_bn = LedgerValue("profit_bn")
    ai_spend_bn = LedgerValue("ai_spend_bn")
    fees_paid_bn = LedgerValue("fees_paid_bn")
    fees_received_bn = LedgerValue("fees_received_bn")
    payout_bn = LedgerValue("payout_bn")
    capability = LedgerValue("total_capability")
    revenue_bn = LedgerValue("total_revenue_bn")

    def choose_strategy(self) -> None:
        """Simultaneous move on last year's information (the model computed the values)."""
        # Every major draws each year from its own stream, scripted or not, so paired runs of two
        # scenarios give each major the same numbers; startups draw from another stream.
        draw = self.model.streams[self.strategy_stream].random()
        if self.policy == "adaptive":
            cumulative = np.cumsum(self.model.strategy_probabilities[self.row])
            choice = min(int(np.searchsorted(cumulative, draw * cumulative[-1], side="right")), len(STRATEGIES) - 1)
        else:
            choice = STRATEGY_CODES[self.policy]
        self.ledger.strategy[self.row] = choice
        self.strategy_years[choice] += 1

    def learn(self) -> None:
        """Remember the profit this year's strategy brought (exponential memory)."""
        k = self.ledger.strategy[self.row]
        memory = self.model.params.adaptive.memory if self.tried[k] else 0.0
        self.experience_bn[k] = memory * self.experience_bn[k] + (1.0 - memory) * self.profit_bn
        self.tried[k] = True


class MajorFirm(Firm):
    """One of the six incumbents named in the article."""

    @property
    def strategy_stream(self) -> str:
        return f"strategy_{self.firm_id}"


class Startup(Firm):
    """An entrant in a cloud_ai niche; it exits when its cash runs out or it is acquired."""

    strategy_stream = "strategy_startups"

    def __init__(self, model: mesa.Model, firm_id: str, row: int, policy: str, niche: str):
        super().__init__(model, firm_id, row, policy)
        self.niche = niche
