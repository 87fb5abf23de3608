"""Process 8, money: profit, fines on dominant positions, payouts and cash; startups raise follow-on
rounds (`model.processes.funding`); a startup whose cash runs out exits and its customers return to
the rest of the market."""

from __future__ import annotations

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import Scenario
from model.positions import retire
from model.schema import Event, EventKind


def settle_money(ledger: FirmLedger, params: Scenario) -> None:
    """Profit = revenue x margin - AI spend - talent premium - fees paid - fines. Fees received are
    in a provider's cloud_ai revenue (its contracted share), so they earn its margin: the rest is the
    cost of serving them.

    Cash grows by profit plus the group's other cash flow, less what is paid out of a positive
    year.
    """
    n = ledger.n
    reg = params.regulator
    revenue = ledger.col("revenue_bn")
    dominant = (ledger.col("share") > reg.dominance_share) & (ledger.col("kind") != Kind.FRINGE)[:, None]
    fines = np.sum(np.where(dominant, revenue * reg.dominance_fine_rate, 0.0), axis=1)
    ledger.fines_bn[:n] = fines
    operating = market.operating_income(revenue, ledger.col("margin"))
    ledger.operating_bn[:n] = operating
    profit = operating - ledger.col("ai_spend_bn") - ledger.col("talent_cost_bn") - ledger.col("fees_paid_bn") - fines
    firms = (ledger.col("kind") != Kind.FRINGE) & ledger.col("alive")
    profit = np.where(firms, profit, 0.0)
    ledger.profit_bn[:n] = profit
    cash_flow = np.where(firms, profit + ledger.col("other_cash_flow_bn"), 0.0)
    ledger.payout_bn[:n] = np.maximum(cash_flow, 0.0) * ledger.col("payout_share")
    ledger.cash_bn[:n] += cash_flow - ledger.col("payout_bn")
    ledger.cum_ai_spend_bn[:n] += ledger.col("ai_spend_bn")
    ledger.cum_fees_paid_bn[:n] += ledger.col("fees_paid_bn")
    ledger.cum_fines_bn[:n] += fines
    ledger.cum_profit_bn[:n] += profit
    ledger.cum_operating_gain_bn[:n] += np.where(firms, operating - ledger.col("base_operating_bn"), 0.0)


def broke_startups(ledger: FirmLedger) -> np.ndarray:
    """Rows of the live startups whose cash has run out."""
    return np.flatnonzero(ledger.col("alive") & (ledger.col("kind") == Kind.STARTUP) & (ledger.col("cash_bn") < 0.0))


def remember_decisions(ledger: FirmLedger) -> None:
    """Push this year's strategy into each firm's history (the oldest year drops out)."""
    if ledger.strategy_history.shape[0] == 0:
        return
    n = ledger.n
    ledger.strategy_history[:-1, :n] = ledger.strategy_history[1:, :n]
    ledger.strategy_history[-1, :n] = ledger.col("strategy")


def close_broke(ledger: FirmLedger, rows: np.ndarray, year: int) -> list[Event]:
    """The exits of the startups at `rows` (their revenue of the year as the value), then their retirement."""
    events = [Event(EventKind.EXIT, ledger.ids[row], "", "cloud_ai", float(ledger.revenue_bn[row].sum())) for row in rows]
    if rows.size:
        retire(ledger, rows, year)
    return events
