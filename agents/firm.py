"""Firms as Mesa agents: each owns its decisions — its strategy, what it learns, its cloud provider,
whether to bid and for which startup.

State that the market math needs every year (shares, capability, cash, and the decision state:
strategy probabilities, experience) lives in the model's `FirmLedger`, one home for every
firm; an agent reads and writes its own row. Decisions over thousands of firms at once use the
vectorised rules of `agents.policy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import mesa
import numpy as np

from agents.policy import acquisition_target, drawn_strategies
from model import market
from model.ledger import KIND_LABELS, Kind
from model.params import ADAPTIVE, CLOUD, CLOUD_PROVIDERS, Strategy


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

    strategy_stream: str
    is_cloud_provider = False

    def __init__(self, model: mesa.Model, firm_id: str, row: int, policy: str):
        super().__init__(model)
        self.firm_id = firm_id
        self.row = row
        self.follow_policy(policy)

    def follow_policy(self, policy: str) -> None:
        """Adopt a policy (a scenario may schedule it by year); what the firm has learnt is kept."""
        self.policy = policy
        self.adaptive = policy == ADAPTIVE
        self.fixed_code = -1 if self.adaptive else int(Strategy[policy.upper()])  # the strategy as stored in the ledger

    @property
    def ledger(self):
        return self.model.ledger

    @property
    def kind(self) -> str:
        return KIND_LABELS[self.ledger.kind[self.row]]

    @property
    def alive(self) -> bool:
        return bool(self.ledger.alive[self.row])

    @property
    def strategy(self) -> str:
        """'' before the first year: the calibrated start has no chosen strategy."""
        return Strategy(self.ledger.strategy[self.row]).label if self.model.steps else ""

    @property
    def strategy_years(self) -> np.ndarray:
        """Years this firm chose each strategy (a view of its ledger row)."""
        return self.ledger.strategy_years[self.row]

    cash_bn = LedgerValue("cash_bn")
    profit_bn = LedgerValue("profit_bn")
    ai_spend_bn = LedgerValue("ai_spend_bn")
    fees_paid_bn = LedgerValue("fees_paid_bn")
    fees_received_bn = LedgerValue("fees_received_bn")
    acquisition_outlay_bn = LedgerValue("acquisition_outlay_bn")
    payout_bn = LedgerValue("payout_bn")
    capability = LedgerValue("total_capability")
    revenue_bn = LedgerValue("total_revenue_bn")

    def choose_strategy(self, draw: float | None = None) -> None:
        """Simultaneous move on last year's information: draw from the probabilities the firm weighed."""
        draw_strategies([self], np.array([self.strategy_draw() if draw is None else draw]))

    def strategy_draw(self) -> float:
        """Every major draws each year from its own stream, scripted or not, so paired runs of two
        scenarios give each major the same numbers; startups are given their draw from another
        stream, one per row of the ledger (`model.processes.strategy`)."""
        return float(self.model.streams[self.strategy_stream].random())

    def learn(self) -> None:
        """Update what the firm believes each strategy is worth (exponential memory, old years fade).

        The payoff of a decision shows only after the gestation lag: this year's surprise in operating
        income (realised against expected at the start of the year) is credited to the strategy chosen
        `lag_years` ago, whose capability is arriving now, on top of that strategy's forecast value.
        Strategies not credited are re-estimated from this year's forecast, so one bad year is not
        remembered for ever."""
        led, row = self.ledger, self.row
        adaptive = self.model.params.adaptive
        memory = adaptive.memory
        credited = int(led.strategy_history[0, row]) if led.strategy_history.shape[0] else int(led.strategy[row])
        estimate = led.forecast_bn[row].copy()
        if credited >= 0 and np.isfinite(estimate[credited]):
            # The customers won or lost this year against what the firm expected at the start of it
            # come from the capability arriving now, which the credited decision bought; spend and
            # fees are left out, as they belong to this year's own choice; so are the contracts won or
            # lost by luck this year, which the firm knows were not its strategy's doing.
            surprise = led.operating_bn[row] - led.expected_operating_bn[row] - led.contract_luck_bn[row]
            estimate[credited] += (1.0 - adaptive.patience) * surprise
        known = ~np.isneginf(estimate)
        weight = np.where(led.tried[row], memory, 0.0)
        updated = weight * led.experience_bn[row] + (1.0 - weight) * estimate
        led.experience_bn[row] = np.where(known, updated, led.experience_bn[row])
        led.tried[row] |= known

    def may_partner(self) -> bool:
        """A cloud provider rents from a rival only where the scenario allows it."""
        return self.model.params.partnership.providers_may_partner or not self.is_cloud_provider

    def choose_provider(self, providers: Iterable["Firm"]) -> "Firm | None":
        """The live cloud provider (not itself) with the most cloud capability; the older firm on a tie."""
        led = self.ledger
        candidates = [p for p in providers if p.row != self.row and led.alive[p.row]]
        if not candidates:
            return None
        return max(candidates, key=lambda p: (led.capability[p.row, CLOUD], -p.row))


def draw_strategies(firms: Sequence[Firm], draws: np.ndarray) -> None:
    """`Firm.choose_strategy` for many firms at once (thousands of startups), `draws[i]` the i-th's draw."""
    if not firms:
        return
    led = firms[0].model.ledger
    rows = np.fromiter((f.row for f in firms), dtype=np.int64, count=len(firms))
    fixed = np.fromiter((f.fixed_code for f in firms), dtype=np.int64, count=len(firms))
    choice = drawn_strategies(led.strategy_probability[rows], draws, fixed)
    led.strategy[rows] = choice
    led.strategy_years[rows, choice] += 1


class MajorFirm(Firm):
    """One of the six incumbents named in the article."""

    def __init__(self, model: mesa.Model, firm_id: str, row: int, policy: str):
        super().__init__(model, firm_id, row, policy)
        self.strategy_stream = f"strategy_{firm_id}"
        self.is_cloud_provider = firm_id in CLOUD_PROVIDERS

    def bids(self, draw: float) -> bool:
        """Whether it goes shopping this year: accelerators most often, differentiators sometimes."""
        ap = self.model.params.acquisitions
        chance = {Strategy.ACCELERATE: ap.bid_probability, Strategy.DIFFERENTIATE: ap.differentiator_bid_probability}
        return draw < chance.get(int(self.ledger.strategy[self.row]), 0.0)

    def pick_target(self, budget_bn: float, tried: set[int]) -> int:
        """The affordable target (-1: none): a scaled rival first, else the most cloud capability per
        dollar (`agents.policy.acquisition_target`), among those that have proved themselves: live
        startups at least `acquisitions.min_target_age` years in the market (they survived and sell)
        and, where the scenario allows, the other majors."""
        led, ap = self.ledger, self.model.params.acquisitions
        kind, alive = led.col("kind"), led.col("alive")
        eligible = alive & (kind == Kind.STARTUP) & (self.model.year - led.col("entry_year") >= ap.min_target_age)
        if ap.majors_may_bid_for_majors:
            eligible |= alive & (kind == Kind.MAJOR)
            eligible[self.row] = False
        eligible[list(tried)] = False
        candidates = np.flatnonzero(eligible)
        if candidates.size == 0 or budget_bn <= 0:
            return -1
        prices = market.deal_price(led.revenue_bn[candidates].sum(axis=1), led.capability[candidates].sum(axis=1),
                                   led.cash_bn[candidates], ap.revenue_multiple, ap.capability_price_bn)
        return acquisition_target(candidates, led.capability[candidates, CLOUD], led.share[candidates, CLOUD], prices,
                                  budget_bn, ap.scaled_share)


class Startup(Firm):
    """An entrant in a cloud_ai niche; it exits when its cash runs out or it is acquired."""

    strategy_stream = "strategy_startups"

    def __init__(self, model: mesa.Model, firm_id: str, row: int, policy: str, niche: str):
        super().__init__(model, firm_id, row, policy)
        self.niche = niche
