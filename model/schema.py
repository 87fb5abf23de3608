"""The output schema of a run, declared once: the recorder fills these tables, reports and tests read them.

Each table is a tuple of column names in file order; `FIRM_SOURCES` says which ledger column
(`model.ledger`) each per-firm output is recorded from (None: built by the recorder). An `Event`
is what a process returns for the year's log; the recorder writes it to the events table and,
for deals and partnerships, to the network.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

SHARE_COLUMNS: tuple[str, ...] = ("year", "segment", "firm", "share", "revenue_bn")
EVENT_COLUMNS: tuple[str, ...] = ("year", "event", "source", "target", "segment", "value_bn")
FIRM_SOURCES: dict[str, str | None] = {
    "year": None, "firm": None, "kind": None, "strategy": None, "ai_spend_bn": "ai_spend_bn",
    "capability": "total_capability", "revenue_bn": "total_revenue_bn", "profit_bn": "profit_bn",
    "fees_paid_bn": "fees_paid_bn", "fees_received_bn": "fees_received_bn",
    "acquisition_outlay_bn": "acquisition_outlay_bn", "payout_bn": "payout_bn",
    "cash_bn": "cash_bn", "alive": "alive",
}
FIRM_COLUMNS: tuple[str, ...] = tuple(FIRM_SOURCES)


class EventKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    ACQUISITION = "acquisition"
    BLOCKED = "blocked_acquisition"
    PARTNERSHIP = "partnership"
    PARTNERSHIP_CLEARED = "partnership_cleared"
    PARTNERSHIP_BLOCKED = "blocked_partnership"
    FUNDING = "funding"


EVENT_KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)


class LinkKind(StrEnum):
    """Kinds of edge in the run's network (`kind` attribute)."""

    PARTNER = "partner"
    ACQUIRED = "acquired"
    BLOCKED = "blocked"
    SHARE_FLOW = "share_flow"


# The edge each kind of event leaves in the network (entries and exits change nodes, not edges; partnership
# reviews and funding rounds are in the events table and the yearly series only).
EVENT_LINKS: dict[EventKind, LinkKind] = {
    EventKind.PARTNERSHIP: LinkKind.PARTNER, EventKind.ACQUISITION: LinkKind.ACQUIRED, EventKind.BLOCKED: LinkKind.BLOCKED,
}


class PartnershipMode(StrEnum):
    CLOUD = "cloud"            # a client renting a provider's capability
    CONSORTIUM = "consortium"  # differentiators pooling infrastructure


class Event(NamedTuple):
    """One row of the year's log; `mode` says how a partnership works (its network edge carries it)."""

    kind: EventKind
    source: str
    target: str
    segment: str
    value_bn: float
    mode: PartnershipMode | None = None
