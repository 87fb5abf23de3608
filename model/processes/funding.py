"""Part of process 8, money: startups raise follow-on rounds. Each year a live startup raises with a
fixed chance; the funding climate sets how much there is to raise. A round multiplies its budget by a heavy-tailed step
(a few become large) and brings cash for `startups.runway_years` of the new budget, never more in
one round than `startups.max_round_share` of the year's AI venture funding, and all rounds together
within the share of it (`startups.funding_share`) that goes to the kind of startup modelled here. A startup that
does not raise burns its cash and exits when it runs out, at whatever age."""

from __future__ import annotations

import numpy as np

from model.ledger import FirmLedger, Kind
from model.params import Scenario
from model.schema import Event, EventKind


def largest_round_bn(params: Scenario, funding_bn: float) -> float:
    """No round raises more than a share of the year's AI venture funding."""
    return params.startups.max_round_share * funding_bn


def within_pool(asked_bn: np.ndarray, pool_bn: float) -> np.ndarray:
    """Rounds scaled down pro rata when together they ask more than the year's pool of funding."""
    total = float(asked_bn.sum())
    return asked_bn * (pool_bn / total) if total > pool_bn else asked_bn


def raise_rounds(ledger: FirmLedger, params: Scenario, stream: np.random.Generator, funding_bn: float) -> list[Event]:
    """This year's follow-on rounds, out of the year's AI venture funding `funding_bn` (`Demand.venture_funding_bn`):
    each startup's budget steps up, its cash by runway x the new budget."""
    sp = params.startups
    live = np.flatnonzero(ledger.col("alive") & (ledger.col("kind") == Kind.STARTUP))
    # one draw per row of the ledger, alive or not: a startup's luck does not depend on who else is
    # still alive, so paired runs whose deals differ keep the same luck for the same startup
    draws = stream.random(ledger.n)[live]
    steps = sp.followon_step * stream.lognormal(0.0, sp.followon_spread, size=ledger.n)[live]
    raises = draws < sp.followon_probability
    raising = live[raises]
    asked = np.minimum(sp.runway_years * ledger.ai_budget_bn[raising] * steps[raises], largest_round_bn(params, funding_bn))
    raised = within_pool(asked, sp.funding_share * funding_bn)
    ledger.ai_budget_bn[raising] = ledger.base_ai_budget_bn[raising] = raised / sp.runway_years
    ledger.cash_bn[raising] += raised
    return [Event(EventKind.FUNDING, ledger.ids[row], "", "cloud_ai", float(amount)) for row, amount in zip(raising, raised)]
