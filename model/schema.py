"""The output schema of a run, declared once: the recorder fills these tables, reports and tests read them.

Each table is a tuple of column names in file order; `FIRM_SOURCES` says which ledger column
(`model.ledger`) each per-firm output is recorded from (None: built by the recorder).
"""

from __future__ import annotations

SHARE_COLUMNS: tuple[str, ...] = ("year", "segment", "firm", "share", "revenue_bn")
EVENT_COLUMNS: tuple[str, ...] = ("year", "event", "source", "target", "segment", "value_bn")
FIRM_SOURCES: dict[str, str | None] = {
    "year": None, "firm": None, "kind": None, "strategy": None, "ai_spend_bn": "ai_spend_bn",
    "capability": "total_capability", "revenue_bn": "total_revenue_bn", "profit_bn": "profit_bn",
    "fees_paid_bn": "fees_paid_bn", "fees_received_bn": "fees_received_bn", "payout_bn": "payout_bn",
    "cash_bn": "cash_bn", "alive": "alive",
}
FIRM_COLUMNS: tuple[str, ...] = tuple(FIRM_SOURCES)
EVENT_KINDS: tuple[str, ...] = ("entry", "exit", "acquisition", "blocked_acquisition", "partnership")
