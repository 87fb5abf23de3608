"""Process 6, partnerships: a firm that partners pays a fee to the cloud provider it chooses
(`Firm.choose_provider`) and rents capability with it (a partnership with a client that sells cloud
AI itself is reviewed first); differentiating majors may pool
infrastructure in a consortium that saves part of their spend and talent bill."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.firm import Firm
from model import market
from model.ledger import FirmLedger, Kind
from model.params import CLOUD, Scenario, Strategy
from model.positions import update_effective_capability
from model.processes import review
from model.schema import Event, EventKind, PartnershipMode


def form_partnerships(ledger: FirmLedger, params: Scenario, firms: Sequence[Firm], providers: Sequence[Firm],
                      size_bn: np.ndarray) -> list[Event]:
    """This year's partnerships among the live `firms`; fees and effective capability are updated.
    A partnership whose client sells cloud AI itself is reviewed first (`review`); a blocked one
    does not form this year."""
    events = []
    n = ledger.n
    ledger.fees_paid_bn[:n] = 0.0
    ledger.fees_received_bn[:n] = 0.0
    ledger.provider[:n] = -1
    strategy = ledger.col("strategy")
    partnering = set(np.flatnonzero(strategy == Strategy.PARTNER).tolist())
    for firm in (f for f in firms if f.row in partnering):
        provider = firm.choose_provider(providers)
        if provider is None:
            continue
        fee = market.partner_fee(ledger.ai_budget_bn[firm.row], params.partnership.fee_share)
        if ledger.present[firm.row, CLOUD]:
            if review.partnership_presumed_harmful(ledger, params, provider.row, fee, size_bn[CLOUD]):
                events.append(Event(EventKind.PARTNERSHIP_BLOCKED, firm.firm_id, provider.firm_id, "cloud_ai", float(fee)))
                continue
            events.append(Event(EventKind.PARTNERSHIP_CLEARED, firm.firm_id, provider.firm_id, "cloud_ai", float(fee)))
        ledger.provider[firm.row] = provider.row
        ledger.fees_paid_bn[firm.row] += fee
        ledger.fees_received_bn[provider.row] += fee
        events.append(Event(EventKind.PARTNERSHIP, firm.firm_id, provider.firm_id, "cloud_ai", float(fee), mode=PartnershipMode.CLOUD))
    st = params.strategies
    if st.consortium:
        differentiating = set(np.flatnonzero((strategy == Strategy.DIFFERENTIATE) & (ledger.col("kind") == Kind.MAJOR)).tolist())
        members = [f for f in firms if f.row in differentiating]
        if len(members) >= 2:
            lead = members[0]
            for firm in members:
                saving = st.consortium_saving * ledger.ai_spend_bn[firm.row]
                ledger.ai_spend_bn[firm.row] -= saving
                ledger.talent_cost_bn[firm.row] *= 1.0 - st.consortium_saving
                if firm is not lead:
                    events.append(Event(EventKind.PARTNERSHIP, firm.firm_id, lead.firm_id, "", float(saving), mode=PartnershipMode.CONSORTIUM))
    update_effective_capability(ledger, params)
    return events
