"""Process 9, acquisitions and merger review, read in this one file.

In random order each live major decides whether to go shopping (`MajorFirm.bids`) and picks a
target it can afford among those that have proved themselves, a scaled rival first
(`MajorFirm.pick_target`); the regulator reviews every
deal in each segment where both firms sell under the 2023 US Merger Guidelines presumption
(`market.merger_presumed_harmful`) on the shares it measures the market by; a cleared deal merges
the target into the acquirer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.firm import MajorFirm
from model import market
from model.ledger import FirmLedger, Kind
from model.params import SEGMENTS, Scenario
from model.positions import pull, retire, update_effective_capability
from model.processes.review import harmful_segment
from model.schema import Event, EventKind


def acquire(ledger: FirmLedger, params: Scenario, bidders: Sequence[MajorFirm], stream: np.random.Generator,
            year: int) -> tuple[list[Event], list[int]]:
    """The year's deals: events (acquisitions and blocked deals, in order) and the rows acquired.
    `bidders` are all the majors: one bought earlier (this year or before) draws its numbers and passes."""
    ap = params.acquisitions
    events: list[Event] = []
    acquired: list[int] = []
    ledger.acquisition_outlay_bn[: ledger.n] = 0.0
    for idx in stream.permutation(len(bidders)):
        bidder = bidders[idx]
        # drawn even at chance 0 and for a major already bought, to keep paired runs aligned
        if not bidder.bids(stream.random()) or not ledger.alive[bidder.row]:
            continue
        tried: set[int] = set()
        for _ in range(ap.max_deals_per_firm):
            target = bidder.pick_target(deal_budget(ledger, params, bidder.row), tried)
            if target < 0:
                break
            tried.add(target)
            price = deal_price(ledger, params, target)
            harmful = harmful_segment(ledger, params, bidder.row, target)
            if harmful is not None:
                events.append(Event(EventKind.BLOCKED, bidder.firm_id, ledger.ids[target], SEGMENTS[harmful], price))
                ledger.deals_blocked[bidder.row] += 1
                continue
            merge(ledger, params, bidder.row, target, price, year)
            events.append(Event(EventKind.ACQUISITION, bidder.firm_id, ledger.ids[target], "cloud_ai", price))
            acquired.append(target)
    return events, acquired


def deal_budget(ledger: FirmLedger, params: Scenario, row: int) -> float:
    """What a bidder can pay: cash above its reserve, plus debt or stock up to a multiple of its
    operating income (what investment-grade majors raise for a deal)."""
    ap = params.acquisitions
    return float(ledger.cash_bn[row] - ap.min_cash_bn + ap.financing_multiple * max(ledger.operating_bn[row], 0.0))


def deal_price(ledger: FirmLedger, params: Scenario, target: int) -> float:
    ap = params.acquisitions
    return float(market.deal_price(ledger.revenue_bn[target].sum(), ledger.capability[target].sum(),
                                   ledger.cash_bn[target], ap.revenue_multiple, ap.capability_price_bn))


def merge(ledger: FirmLedger, params: Scenario, acquirer: int, target: int, price_bn: float, year: int) -> None:
    """The acquirer pays the target's owners, takes its cash, customers and (most) capability in every
    segment the target sells in; the combined brand keeps the pull of both, less the integration loss
    on the target's. A major bought whole also brings its budget, contracts and other businesses."""
    keep = 1.0 - params.capability.integration_loss
    segments = np.flatnonzero(ledger.present[target])
    pulls = {int(s): pull(ledger, params, int(s), np.array([acquirer, target])) for s in segments}
    ledger.cash_bn[acquirer] += ledger.cash_bn[target] - price_bn
    ledger.acquisition_outlay_bn[acquirer] += price_bn
    ledger.cum_acquisition_outlay_bn[acquirer] += price_bn
    ledger.cash_bn[target] = 0.0
    ledger.deals_made[acquirer] += 1
    ledger.acquired[target] = True
    if ledger.kind[target] == Kind.MAJOR:
        absorb_major(ledger, acquirer, target)
    for s, (pull_acquirer, pull_target) in pulls.items():
        if not ledger.present[acquirer, s]:
            ledger.present[acquirer, s] = True
            ledger.margin[acquirer, s] = ledger.margin[target, s]
            ledger.base_margin[acquirer, s] = ledger.base_margin[target, s]
            ledger.take_rate[acquirer, s] = ledger.take_rate[target, s]
        else:
            blend_terms(ledger, acquirer, target, s)
        ledger.capability[acquirer, s] += keep * ledger.capability[target, s]
        ledger.pipeline[:, acquirer, s] += keep * ledger.pipeline[:, target, s]
        ledger.share[acquirer, s] += ledger.share[target, s]
        ledger.share[target, s] = 0.0
    update_effective_capability(ledger, params, np.array([acquirer]))
    for s, (pull_acquirer, pull_target) in pulls.items():
        ledger.brand[acquirer, s] = market.brand_for_pull(
            pull_acquirer + keep * pull_target, ledger.share[[acquirer], s], ledger.effective_capability[[acquirer], s],
            ledger.differentiation[[acquirer], s], *params.pull_params(s), otherwise=ledger.brand[acquirer, s],
        )[0]
    retire(ledger, target, year)


def blend_terms(ledger: FirmLedger, acquirer: int, target: int, s: int) -> None:
    """In a segment both sell in, the merged firm earns what the two earned: its take rate is the two
    weighted by their shares, its margins (now and 2023's) the two weighted by their revenue."""
    share = ledger.share[[acquirer, target], s]
    earning = share * ledger.take_rate[[acquirer, target], s]
    if share.sum() > 0:
        ledger.take_rate[acquirer, s] = earning.sum() / share.sum()
    if earning.sum() > 0:
        for column in (ledger.margin, ledger.base_margin):
            column[acquirer, s] = float(np.dot(earning, column[[acquirer, target], s]) / earning.sum())


def absorb_major(ledger: FirmLedger, acquirer: int, target: int) -> None:
    """Consolidate what a bought major brings besides its markets: its budget (the AI allocation
    weighted by the two budgets), its clients' contracts, its other businesses and the 2023
    references its budget scales from, its 2023 capability (bought capability is not AI lowering
    costs) and its planned spend (the programmes it had under way)."""
    budgets = ledger.base_ai_budget_bn[[acquirer, target]]
    if budgets.sum() > 0:
        ledger.allocation[acquirer] = (budgets[0] * ledger.allocation[acquirer] + budgets[1] * ledger.allocation[target]) / budgets.sum()
    for column in ("base_ai_budget_bn", "base_revenue_bn", "other_cash_flow_bn", "contracted_share", "base_share",
                   "base_capability", "planned_spend_bn"):
        getattr(ledger, column)[acquirer] += getattr(ledger, column)[target]
        getattr(ledger, column)[target] = 0.0
