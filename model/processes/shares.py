"""Process 7, market shares: niches build or fade, then each segment's shares move part of the way
toward the pull-implied shares (switching costs); in cloud_ai, partners' fees are workloads placed
with their provider, a contracted share outside that contest, and large contracts move customers in
lumps (`market.contract_shock`), and startups' niches together hold at most `startups.addressable_share`
of it; every movement of customers between
two firms worth at least `market.min_flow_bn` is a share flow."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from model import market
from model.ledger import FirmLedger, Kind
from model.params import CLOUD, SEGMENTS, Scenario, Strategy
from model.positions import pull, update_revenue


@dataclass(frozen=True)
class ShareFlows:
    """Customers that moved in one segment this year: from row, to row, worth $bn of segment size.

    Worked out from the shares before and after only when read: a run without its network never does."""

    segment: str
    rows: np.ndarray
    before: np.ndarray
    after: np.ndarray
    size_bn: float
    min_flow_bn: float

    @functools.cached_property
    def _flows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src, dst, amount = market.share_flow(self.before, self.after, self.min_flow_bn / self.size_bn)
        return self.rows[src], self.rows[dst], amount * self.size_bn

    @property
    def source_rows(self) -> np.ndarray:
        return self._flows[0]

    @property
    def target_rows(self) -> np.ndarray:
        return self._flows[1]

    @property
    def value_bn(self) -> np.ndarray:
        return self._flows[2]


def contract_shocks(ledger: FirmLedger, params: Scenario, stream: np.random.Generator) -> np.ndarray:
    """This year's lumps of cloud_ai customers won or lost by each major that sells cloud (zero for
    everyone else); one normal draw per major every year, so paired runs stay aligned."""
    draws = stream.standard_normal(len(params.firms))
    shock = np.zeros(ledger.n)
    majors = np.flatnonzero(ledger.col("kind") == Kind.MAJOR)
    sells = ledger.present[majors, CLOUD] & ledger.alive[majors]
    shock[majors[sells]] = params.market.contract_shock * draws[: majors.size][sells]
    return shock


def served_sizes(ledger: FirmLedger, size_bn: np.ndarray) -> np.ndarray:
    """What each segment's sellers serve: its demand, and in cloud_ai the AI workloads partners
    place with their providers on top (their fees: new cloud demand, not taken from anyone)."""
    served = np.array(size_bn, dtype=float)
    served[CLOUD] += float(ledger.col("fees_received_bn").sum())
    return served


def move_shares(ledger: FirmLedger, params: Scenario, size_bn: np.ndarray, stream: np.random.Generator) -> list[ShareFlows]:
    st = params.strategies
    diff = ledger.col("differentiation")
    movable = (ledger.col("kind") != Kind.FRINGE)[:, None]
    moved = market.next_differentiation(
        diff, ledger.col("min_differentiation"), (ledger.col("strategy") == Strategy.DIFFERENTIATE)[:, None],
        st.differentiation_gain, st.differentiation_decay, st.max_differentiation,
    )
    ledger.differentiation[: ledger.n] = np.where(movable, moved, diff) * ledger.col("present")
    flows = []
    size_bn = served_sizes(ledger, size_bn)
    shock = contract_shocks(ledger, params, stream)
    speed = params.market.adjustment_speed
    for s, seg in enumerate(SEGMENTS):
        rows = np.flatnonzero(ledger.col("present")[:, s] & ledger.col("alive"))
        before = ledger.share[rows, s].copy()
        contracted_before = ledger.contracted_share[rows] if s == CLOUD else np.zeros(rows.size)
        contracted = market.contracted_shares(ledger.fees_received_bn[rows], size_bn[s]) if s == CLOUD else contracted_before
        open_before = np.maximum(before - contracted_before, 0.0)
        target = market.share_target(open_before, ledger.differentiation[rows, s], pull(ledger, params, s)[rows])
        if s == CLOUD:
            startups = ledger.kind[rows] == Kind.STARTUP
            target = market.capped_target(target, startups, params.startups.addressable_share)
        after = market.place_contracts(market.adjust_shares(open_before, target, speed), contracted_before, contracted)
        if s == CLOUD:
            unshocked = after
            shocked = market.capped_target(market.shocked_target(target, shock[rows]), startups, params.startups.addressable_share)
            after = market.place_contracts(market.adjust_shares(open_before, shocked, speed), contracted_before, contracted)
            ledger.contracted_share[rows] = contracted
            ledger.contract_luck_bn[rows] = (after - unshocked) * size_bn[s] * ledger.take_rate[rows, s] * ledger.margin[rows, s]
        ledger.share[rows, s] = after
        flows.append(ShareFlows(seg, rows, before, after, float(size_bn[s]), params.market.min_flow_bn))
    update_revenue(ledger, size_bn)
    return flows
