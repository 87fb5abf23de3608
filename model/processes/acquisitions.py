"""Process 9, acquisitions and merger review, read in this one file.

In random order each live major decides whether to go shopping (`MajorFirm.bids`) and picks
startups it can afford (`MajorFirm.pick_target`); the regulator reviews every deal in cloud_ai
under the 2023 US Merger Guidelines presumption (`market.merger_presumed_harmful`) on the shares it
measures the market by; a cleared deal merges the target into the acquirer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.firm import MajorFirm
from model import market
from model.ledger import FirmLedger
from model.params import CLOUD, Scenario
from model.positions import pull, retire, segment_hhi, update_effective_capability
from model.schema import Event, EventKind


def acquire(ledger: FirmLedger, params: Scenario, bidders: Sequence[MajorFirm], stream: np.random.Generator,
            year: int) -> tuple[list[Event], list[int]]:
    """The year's deals: events (acquisitions and blocked deals, in order) and the rows acquired."""
    ap = params.acquisitions
    events: list[Event] = []
    acquired: list[int] = []
    ledger.acquisition_outlay_bn[: ledger.n] = 0.0
    for idx in stream.permutation(len(bidders)):
        bidder = bidders[idx]
        if not bidder.bids(stream.random()):  # drawn even at chance 0, to keep paired runs aligned
            continue
        tried: set[int] = set()
        for _ in range(ap.max_deals_per_firm):
            target = bidder.pick_target(ledger.cash_bn[bidder.row] - ap.min_cash_bn, tried)
            if target < 0:
                break
            tried.add(target)
            price = deal_price(ledger, params, target)
            if presumed_harmful(ledger, params, bidder.row, target):
                events.append(Event(EventKind.BLOCKED, bidder.firm_id, ledger.ids[target], "cloud_ai", price))
                continue
            merge(ledger, params, bidder.row, target, price, year)
            events.append(Event(EventKind.ACQUISITION, bidder.firm_id, ledger.ids[target], "cloud_ai", price))
            acquired.append(target)
    return events, acquired


def deal_price(ledger: FirmLedger, params: Scenario, target: int) -> float:
    ap = params.acquisitions
    return float(market.deal_price(ledger.revenue_bn[target].sum(), ledger.capability[target].sum(),
                                   ap.revenue_multiple, ap.capability_price_bn))


def review_shares(ledger: FirmLedger, params: Scenario, s: int) -> np.ndarray:
    """Shares the regulator measures the market by: revenue, or capability (the Guidelines allow
    capacity-based shares when they better show competitive significance, e.g. nascent rivals)."""
    if params.regulator.share_basis == "revenue":
        return ledger.col("share")[:, s]
    capability = ledger.col("effective_capability")[:, s] * (ledger.col("present")[:, s] & ledger.col("alive"))
    total = capability.sum()
    return capability / total if total > 0 else capability


def presumed_harmful(ledger: FirmLedger, params: Scenario, acquirer: int, target: int) -> bool:
    """The regulator's verdict on a cloud_ai deal: HHI after, its increase, and the merged share."""
    reg = params.regulator
    shares = review_shares(ledger, params, CLOUD)
    return market.merger_presumed_harmful(
        segment_hhi(ledger, params, CLOUD, shares), float(shares[acquirer]), float(shares[target]),
        reg.hhi_threshold, reg.delta_hhi_threshold, reg.share_threshold, reg.strictness,
    )


def merge(ledger: FirmLedger, params: Scenario, acquirer: int, target: int, price_bn: float, year: int) -> None:
    """The acquirer pays the target's owners, takes its cash, customers and (most) capability; the
    combined brand keeps the pull of both, less the integration loss on the target's."""
    keep = 1.0 - params.capability.integration_loss
    pull_acquirer, pull_target = pull(ledger, params.market, CLOUD, np.array([acquirer, target]))
    combined_pull = pull_acquirer + keep * pull_target
    ledger.cash_bn[acquirer] += ledger.cash_bn[target] - price_bn
    ledger.acquisition_outlay_bn[acquirer] += price_bn
    ledger.cum_acquisition_outlay_bn[acquirer] += price_bn
    ledger.cash_bn[target] = 0.0
    if not ledger.present[acquirer, CLOUD]:
        ledger.present[acquirer, CLOUD] = True
        ledger.margin[acquirer, CLOUD] = ledger.margin[target, CLOUD]
        ledger.take_rate[acquirer, CLOUD] = 1.0
    ledger.capability[acquirer, CLOUD] += keep * ledger.capability[target, CLOUD]
    ledger.pipeline[:, acquirer, CLOUD] += keep * ledger.pipeline[:, target, CLOUD]
    ledger.share[acquirer, CLOUD] += ledger.share[target, CLOUD]
    ledger.share[target, CLOUD] = 0.0
    update_effective_capability(ledger, params, np.array([acquirer]))
    ledger.brand[acquirer, CLOUD] = market.brand_for_pull(
        combined_pull, ledger.share[[acquirer], CLOUD], ledger.effective_capability[[acquirer], CLOUD],
        ledger.differentiation[[acquirer], CLOUD], *params.market.pull_params, otherwise=ledger.brand[acquirer, CLOUD],
    )[0]
    retire(ledger, target, year)
