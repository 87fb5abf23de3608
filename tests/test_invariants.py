"""Accounting and market invariants, checked after every simulated year of several seeds."""

from __future__ import annotations

import numpy as np
import pytest

from model.ledger import Kind
from model.params import CLOUD, CLOUD_PROVIDERS, SEGMENTS
from model.race import AIRaceModel
from model.schema import LinkKind

from tests.conftest import ALL_ACCELERATE

TOL = 1e-9
SCENARIO_VARIANTS = [
    {},
    ALL_ACCELERATE,
    {"firms.walmart.policy": "partner", "firms.shopify.policy": "partner", "startups.entry_rate": 40.0},
    {"regulator.hhi_threshold": 300.0, "regulator.delta_hhi_threshold": 1.0, "regulator.dominance_fine_rate": 0.1,
     "regulator.dominance_share": 0.2},
    {"firms.walmart.policy": "differentiate", "firms.shopify.policy": "differentiate", "capability.lag_years": 0},
    # majors buy majors, cheaply and under a lax regulator: whole firms change hands
    {"acquisitions.majors_may_bid_for_majors": True, "acquisitions.revenue_multiple": 5.0, "regulator.strictness": 0.5},
]


class YearChecker:
    """Checks one model after each step and remembers who has left the market."""

    def __init__(self, model: AIRaceModel):
        self.model = model
        self.gone: set[str] = set()
        self.acquired: list[str] = []
        self.cash_before = model.ledger.col("cash_bn").copy()

    def check_year(self) -> None:
        m, led = self.model, self.model.ledger
        n = led.n
        share, present, alive = led.col("share"), led.col("present"), led.col("alive")
        for s, seg in enumerate(SEGMENTS):
            total = share[present[:, s], s].sum()
            assert total == pytest.approx(1.0, abs=TOL), f"{m.year} {seg}: shares sum to {total}"
        assert np.all(share >= -TOL) and np.all(share <= 1 + TOL)
        assert np.all(share[~present] == 0.0), "a firm holds share where it does not sell"
        dead = ~alive
        assert np.all(share[dead] == 0.0), "a dead firm holds customers"
        assert np.all(led.col("capability")[dead] == 0.0)

        paid, received = led.col("fees_paid_bn"), led.col("fees_received_bn")
        assert paid.sum() == pytest.approx(received.sum(), abs=TOL), "a fee was paid that nobody received"
        by_provider = np.zeros(n)
        clients = np.flatnonzero(led.col("provider") >= 0)
        np.add.at(by_provider, led.provider[clients], paid[clients])
        np.testing.assert_allclose(by_provider, received, atol=TOL)
        assert all(led.ids[p] in CLOUD_PROVIDERS and alive[p] for p in led.provider[clients])
        # fees are the providers' cloud revenue: each holds the fees' share of the cloud market as contracts
        served = m.served_sizes()
        np.testing.assert_allclose(served[0], m.demand.size_bn[0] + received.sum())
        np.testing.assert_allclose(led.col("contracted_share") * served[0], received, atol=1e-9)
        assert np.all(led.col("share")[:, 0] >= led.col("contracted_share") - TOL)

        operating = led.col("operating_bn")
        expected = (operating - led.col("ai_spend_bn") - led.col("talent_cost_bn") - paid - led.col("fines_bn"))
        firms = (led.col("kind") != Kind.FRINGE) & (alive | (led.col("exit_year") == m.year))
        np.testing.assert_allclose(led.col("profit_bn")[firms], expected[firms], atol=1e-9)
        # operating income is revenue x margin, except for the year's buyers, whose margins blended at the deal
        buyer_rows = [led.ids.index(e.source) for e in m.events_this_year if e.kind == "acquisition"]
        settled = firms.copy()
        settled[buyer_rows] = False
        np.testing.assert_allclose(operating[settled], np.sum(led.col("revenue_bn") * led.col("margin"), axis=1)[settled],
                                   atol=1e-9)
        earned = np.divide(led.col("revenue_bn"), led.col("take_rate"), out=np.zeros((n, len(SEGMENTS))), where=present)
        np.testing.assert_allclose(earned.sum(axis=0), served, rtol=1e-9, err_msg="revenue misses customers")
        assert np.all(led.col("revenue_bn")[dead & (led.col("exit_year") < m.year)] == 0.0)

        deals = [e for e in m.events_this_year if e.kind in ("acquisition", "blocked_acquisition", "partnership",
                                                               "partnership_cleared", "blocked_partnership", "funding")]
        for event in deals:
            assert event.source not in self.gone and event.target not in self.gone, f"deal with a dead firm: {event}"
        buyers = {e.source for e in m.events_this_year if e.kind == "acquisition"}
        for row in np.flatnonzero((led.col("kind") == Kind.MAJOR) if m.steps else []):
            if led.ids[row] in buyers or not alive[row]:  # a buyer's or a bought major's cash moved at the deal
                continue
            change = led.cash_bn[row] - self.cash_before[row]
            inflow = led.profit_bn[row] + led.other_cash_flow_bn[row]
            assert led.payout_bn[row] == pytest.approx(max(inflow, 0.0) * led.payout_share[row])
            assert change == pytest.approx(inflow - led.payout_bn[row], abs=1e-9)
        self.acquired += [e.target for e in m.events_this_year if e.kind == "acquisition"]
        self.gone |= {led.ids[r] for r in np.flatnonzero(dead)}
        self.cash_before = led.col("cash_bn").copy()


@pytest.mark.parametrize("overrides", SCENARIO_VARIANTS, ids=["baseline", "all_accelerate", "partners", "strict", "no_lag", "majors_merge"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariants_hold_every_year(seed, overrides):
    model = AIRaceModel("baseline", rng=seed, **overrides)
    checker = YearChecker(model)
    checker.check_year()
    while model.running:
        model.step()
        checker.check_year()
    assert len(checker.acquired) == len(set(checker.acquired)), "a firm was acquired twice"
    assert model.year == model.params.start_year + model.params.years - 1


def test_dead_startups_leave_the_model_after_their_last_record(baseline_runs):
    for model in baseline_runs:
        led = model.ledger
        dead_ids = {led.ids[r] for r in np.flatnonzero(~led.col("alive") & (led.col("exit_year") < model.year))}
        live_agent_ids = {a.firm_id for a in model.agents}
        assert not dead_ids & live_agent_ids
        firms = model.datacollector.get_table_dataframe("firms")
        for firm_id in list(dead_ids)[:20]:
            rows = firms[firms["firm"] == firm_id]
            assert rows["alive"].tolist()[-1] is False and rows["alive"].tolist().count(False) == 1


@pytest.mark.parametrize("overrides, links", [(SCENARIO_VARIANTS[3], (LinkKind.ACQUIRED, LinkKind.BLOCKED)),
                                               (SCENARIO_VARIANTS[-1], (LinkKind.ACQUIRED,))], ids=["strict", "majors_merge"])
def test_a_run_without_its_network_records_the_same_tables_and_outcomes(overrides, links):
    """Sweeps run with network=False: nothing they keep may differ, and the deal and startup counts
    (read off the ledger) must agree with the edges and nodes the network records."""
    from report.tables import run_outcomes, run_tables

    full, bare = (AIRaceModel("baseline", rng=3, network=network, **overrides) for network in (True, False))
    full.run()
    bare.run()
    assert bare.graph.number_of_nodes() == 0 and full.graph.number_of_nodes() == full.ledger.n
    assert run_outcomes(full) == run_outcomes(bare)
    for name, table in vars(run_tables(full)).items():
        assert table.equals(getattr(run_tables(bare), name)), name
    edges = [(source, target, kind) for source, target, kind in full.graph.edges(data="kind")]
    deals = full.deal_counts()
    for link in (LinkKind.ACQUIRED, LinkKind.BLOCKED):
        assert sum(deals[link].values()) == sum(1 for *_, kind in edges if kind == link.value) >= (link in links)
    nodes = full.graph.nodes
    startups = full.startup_counts()
    assert startups.acquired == sum(1 for _, target, kind in edges
                                    if kind == LinkKind.ACQUIRED.value and nodes[target]["kind"] == "startup")
    assert startups.entered == sum(1 for _, d in nodes(data=True)
                                   if d["kind"] == "startup" and d["entry_year"] >= full.params.start_year) > 0
