"""Process 5, investment: effective spend becomes new capability with diminishing returns, which
arrives after the gestation lag; all capability depreciates (models must be retrained)."""

from __future__ import annotations

import numpy as np

from model import market
from model.ledger import FirmLedger
from model.params import Scenario


def invest(ledger: FirmLedger, params: Scenario, fringe_spend_bn: np.ndarray) -> None:
    cap = params.capability
    n = ledger.n
    built = market.new_capability(ledger.col("effective_spend_bn")[:, None] * ledger.col("allocation"), cap.returns_exponent)
    built *= ledger.col("present")
    built[0] = market.new_capability(fringe_spend_bn, cap.returns_exponent)
    if cap.lag_years == 0:
        arriving = built
    else:
        arriving = ledger.pipeline[0, :n].copy()
        ledger.pipeline[:-1, :n] = ledger.pipeline[1:, :n]
        ledger.pipeline[-1, :n] = built
    new = market.accumulate_capability(ledger.col("capability"), arriving, cap.depreciation)
    ledger.capability[:n] = np.where(ledger.col("alive")[:, None], new, 0.0)
