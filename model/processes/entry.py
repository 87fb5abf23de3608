"""Process 2, entry: a Poisson number of startups enter cloud_ai, each in a random niche with seed
cash and a budget drawn around the scenario's medians, a small but efficient capability, and a
brand worth `startups.entry_share` of the contested pull."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import CLOUD, Scenario
from model.positions import pull
from model.schema import Event, EventKind
from model.start import steady_start


@dataclass(frozen=True)
class Entrants:
    rows: np.ndarray
    ids: list[str]
    niches: list[str]
    events: list[Event]


def entrant_count(params: Scenario, stream: np.random.Generator) -> int:
    return int(stream.poisson(params.startups.entry_rate))


def enter_startups(ledger: FirmLedger, params: Scenario, stream: np.random.Generator, count: int, year: int,
                   numbered_from: int, at_start: bool = False) -> Entrants:
    """Rows for `count` entrants, numbered after `numbered_from`. At the start their programmes are
    already under way (steady capability, no entry events); later they bring one year of spend."""
    if count <= 0:
        return Entrants(np.empty(0, dtype=np.int64), [], [], [])
    sp, cap = params.startups, params.capability
    niche_names = list(sp.niches)
    weights = np.array([sp.niches[n].weight for n in niche_names])
    niche_idx = stream.choice(len(niche_names), size=count, p=weights / weights.sum())
    seed_cash = sp.seed_cash_bn * stream.lognormal(0.0, sp.seed_cash_spread, size=count)
    budget = sp.ai_budget_bn * stream.lognormal(0.0, sp.budget_spread, size=count)
    ids = [f"startup_{numbered_from + i + 1:04d}" for i in range(count)]
    rows = ledger.add_many(ids, Kind.STARTUP, year)
    efficiency = np.array([sp.niches[niche_names[i]].efficiency for i in niche_idx])
    ledger.present[rows, CLOUD] = True
    ledger.margin[rows, CLOUD] = ledger.base_margin[rows, CLOUD] = sp.margin
    ledger.take_rate[rows, CLOUD] = 1.0
    ledger.allocation[rows, CLOUD] = 1.0
    ledger.differentiation[rows, CLOUD] = [sp.niches[niche_names[i]].differentiation for i in niche_idx]
    ledger.min_differentiation[rows, CLOUD] = ledger.differentiation[rows, CLOUD]
    if at_start:
        for row, spend in zip(rows, budget * efficiency):
            steady_start(ledger, params, int(row), spend * ledger.allocation[row])
    else:
        ledger.capability[rows, CLOUD] = market.new_capability(budget * efficiency, cap.returns_exponent)
    ledger.cash_bn[rows] = seed_cash
    ledger.ai_budget_bn[rows] = ledger.base_ai_budget_bn[rows] = ledger.planned_spend_bn[rows] = budget
    ledger.efficiency[rows] = efficiency
    events = []
    if not at_start:
        ledger.brand[rows, CLOUD] = entrant_brand(ledger, params, rows)
        events = [Event(EventKind.ENTRY, firm_id, "", "cloud_ai", float(ledger.cash_bn[row])) for row, firm_id in zip(rows, ids)]
    return Entrants(rows, ids, [niche_names[n] for n in niche_idx], events)


def entrant_brand(ledger: FirmLedger, params: Scenario, rows: np.ndarray) -> np.ndarray:
    incumbents = ledger.col("alive") & ledger.col("present")[:, CLOUD]
    incumbents[rows] = False
    total = float(pull(ledger, params, CLOUD)[incumbents].sum())
    return market.entrant_brand(
        total, params.startups.entry_share, ledger.capability[rows, CLOUD], ledger.differentiation[rows, CLOUD],
        *params.pull_params(CLOUD),
    )
