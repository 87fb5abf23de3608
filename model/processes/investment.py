"""Process 5, investment: effective spend becomes new capability with diminishing returns, which
arrives after the gestation lag; all capability depreciates (models must be retrained). A major's
own capability above its 2023 level lowers its costs where it is aimed, up to a ceiling."""

from __future__ import annotations

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import SEGMENTS, Scenario


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
    lower_costs(ledger, params)


def lower_costs(ledger: FirmLedger, params: Scenario) -> None:
    """Margins of the majors: the 2023 margin plus what their own AI adds (`market.margin_uplift`).
    Rented capability lifts pull, not the client's margin: the automation is its own programme."""
    majors = ledger.col("kind") == Kind.MAJOR
    ceiling = np.array([params.segments[seg].ai_margin_ceiling for seg in SEGMENTS])
    uplift = market.margin_uplift(ledger.col("capability")[majors], ledger.col("base_capability")[majors],
                                  ceiling, params.capability.margin_half_gain)
    ledger.margin[: ledger.n][majors] = (ledger.col("base_margin")[majors] + uplift) * ledger.col("present")[majors]
