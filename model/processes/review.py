"""Competition review, shared by acquisitions (process 9) and partnerships (process 6).

The regulator applies the 2023 US Merger Guidelines presumption (`market.merger_presumed_harmful`)
on the shares it measures a market by. A merger is reviewed in each segment where both firms sell.
A partnership in which the client sells cloud AI itself (a startup, or a cloud renting from a
rival) is reviewed as the 2024 FTC 6(b) inquiry and the UK CMA's reviews of Microsoft/Inflection
and Amazon/Anthropic did: the overlap is what the partnership moves to the provider (the client's
fees as a share of the market), so most are cleared.
"""

from __future__ import annotations

import numpy as np

from model import market
from model.ledger import FirmLedger
from model.params import CLOUD, Scenario
from model.positions import segment_hhi


def review_shares(ledger: FirmLedger, params: Scenario, s: int) -> np.ndarray:
    """Shares the regulator measures the market by: revenue, or capability (the Guidelines allow
    capacity-based shares when they better show competitive significance, e.g. nascent rivals)."""
    if params.regulator.share_basis == "revenue":
        return ledger.col("share")[:, s]
    capability = ledger.col("effective_capability")[:, s] * (ledger.col("present")[:, s] & ledger.col("alive"))
    total = capability.sum()
    return capability / total if total > 0 else capability


def presumed_harmful(ledger: FirmLedger, params: Scenario, acquirer: int, target: int, s: int = CLOUD) -> bool:
    """The regulator's verdict on a deal in segment s: HHI after, its increase, and the merged share."""
    shares = review_shares(ledger, params, s)
    return verdict(ledger, params, s, shares, float(shares[acquirer]), float(shares[target]))


def harmful_segment(ledger: FirmLedger, params: Scenario, acquirer: int, target: int) -> int | None:
    """The first segment where both firms sell and the deal is presumed harmful (None: cleared)."""
    both = ledger.present[acquirer] & ledger.present[target]
    return next((s for s in np.flatnonzero(both) if presumed_harmful(ledger, params, acquirer, target, int(s))), None)


def partnership_presumed_harmful(ledger: FirmLedger, params: Scenario, provider: int, fee_bn: float, size_bn: float) -> bool:
    """The verdict on a partnership in cloud_ai: the provider's share against the share the fees move."""
    shares = review_shares(ledger, params, CLOUD)
    return verdict(ledger, params, CLOUD, shares, float(shares[provider]), fee_bn / size_bn)


def verdict(ledger: FirmLedger, params: Scenario, s: int, shares: np.ndarray, share_a: float, share_b: float) -> bool:
    """The presumption for two shares coming together in segment s, measured on `shares`."""
    reg = params.regulator
    return market.merger_presumed_harmful(
        segment_hhi(ledger, params, s, shares), share_a, share_b,
        reg.hhi_threshold, reg.delta_hhi_threshold, reg.share_threshold, reg.strictness,
    )
