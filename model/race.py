"""The AI investment race as a Mesa model: it owns the yearly schedule, the network and the records.

One step is one year, the ten processes of MODEL_SPEC.md in order, each in its own module of
`model.processes`: demand grows, startups enter, firms choose strategies, talent and compute are
rationed, firms invest, partnerships form, shares move, money flows, acquisitions are reviewed,
and the year is recorded. Agents (`agents.firm`) make the decisions; firm state lives in the
ledger (`model.ledger`), one row per firm.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mesa
import networkx as nx
import numpy as np

from agents.firm import MajorFirm, Startup
from model import positions
from model.finite import FiniteGuard
from model.ledger import FirmLedger, Kind
from model.outcomes import MajorPosition, StartupCounts, deal_counts, final_shares, major_positions, startup_counts
from model.params import FRINGE_ID, MAJOR_IDS, SEGMENTS, Scenario
from model import schedules
from model.processes import (
    acquisitions, demand, entry, funding, inputs, investment, money, partnerships, recording, shares, strategy,
)
from model.scenario import resolve_scenario
from model.schema import Event, EventKind, LinkKind
from model.start import add_fringe, add_majors, calibrate_start

RANDOM_STREAMS = ("entry", "deals", "strategy_startups", *(f"strategy_{firm}" for firm in MAJOR_IDS), "funding", "contracts")


class AIRaceModel(mesa.Model):
    """Firms racing to build AI capability across cloud_ai, ecommerce and advertising.

    `scenario` is a scenario name, a path to a TOML file or a loaded `Scenario`; any other
    keyword named by a dotted parameter path (e.g. ``**{"firms.amazon.ai_budget_bn": 60}``, or
    ``years=20``) sets that parameter, validated as `--set` is, which is how Mesa's `batch_run`
    and SolaraViz vary it. `network=False` leaves the network empty: a sweep keeps none of it, and
    drawing it is a third of a run's time; every table and query is the same either way.
    """

    def __init__(self, scenario: Scenario | str = "baseline", rng: Any = None, network: bool = True, **overrides: Any):
        super().__init__(rng=rng)
        self.network = network
        self.params = p = resolve_scenario(scenario, overrides)
        self.year = p.start_year - 1
        # One child stream of Mesa's rng per purpose (and one per major for its strategy), so that a
        # scenario drawing more of one kind (more entrants, more bids) leaves the others unchanged and
        # runs with the same seed stay paired (common random numbers) across scenarios.
        self.streams = dict(zip(RANDOM_STREAMS, self.rng.spawn(len(RANDOM_STREAMS))))
        self.ledger = FirmLedger(len(SEGMENTS), p.capability.lag_years)
        self.graph = nx.MultiDiGraph()
        self.majors: dict[str, MajorFirm] = {}
        self.startups_numbered = 0
        self.events_this_year: list[Event] = []
        self.leaving: set[int] = set()  # rows of firms that exited this year: their agents leave at the next step
        self.demand = demand.initial_demand(p)
        self.inputs = inputs.NOT_YET_RATIONED
        self.guard = FiniteGuard(self.ledger, self._sizes, self._scalars, self._arrays)
        self.guard.run(self.year, [
            (self._add_fringe, "setting up the fringe"), (self._add_majors, "setting up the majors"),
            (lambda: self._add_startups(p.startups.initial_count, at_start=True), "setting up the startups"),
            (self._calibrate_start, "calibrating the start"),
        ])
        self.datacollector = recording.datacollector(recording.model_reporters(), MajorFirm)
        self.record()

    # ----------------------------------------------------------------- the year
    def step(self) -> None:
        """One year: the processes of the ODD, in order; the state is checked before it is recorded."""
        self.year += 1
        self.events_this_year = []
        self._remove_leavers()
        self.guard.run(self.year, [
            (self.follow_schedules, "following the scheduled inputs"),
            (self.grow_demand, "growing demand"),
            (self.enter_startups, "adding entrants"),
            (self.choose_strategies, "choosing strategies"),
            (self.ration_inputs, "rationing talent and compute"),
            (self.invest, "building capability"),
            (self.form_partnerships, "forming partnerships"),
            (self.move_shares, "moving market shares"),
            (self.settle_money, "settling money"),
            (self.acquire, "reviewing acquisitions"),
        ])
        self.record()
        if self.steps >= self.params.years:
            self.running = False

    def follow_schedules(self) -> None:
        """The year's scheduled inputs (`model.schedules`): parameter values, and majors' policies."""
        if self.params.schedules:
            self.params = schedules.in_year(self.params, self.year)
            for firm_id in schedules.firm_inputs(self.params, self.year, schedules.POLICY):
                self.majors[firm_id].follow_policy(self.params.firms[firm_id].policy)

    def grow_demand(self) -> None:
        index = positions.capability_basis(self.ledger) / self.initial_capability_basis
        self.demand = demand.grow_demand(self.demand, self.params, index)

    def enter_startups(self) -> None:
        self._add_startups(entry.entrant_count(self.params, self.streams["entry"]))

    def choose_strategies(self) -> None:
        strategy.choose_strategies(self.ledger, self.params, self.demand, self.inputs.fill_rate, list(self.agents),
                                   self.providers, self.streams[Startup.strategy_stream], self._scheduled_budgets())

    def ration_inputs(self) -> None:
        self.inputs = inputs.ration_inputs(self.ledger, self.params, self.demand, self.inputs)

    def invest(self) -> None:
        investment.invest(self.ledger, self.params, self.demand.fringe_spend_bn)

    def form_partnerships(self) -> None:
        self._note(partnerships.form_partnerships(self.ledger, self.params, list(self.agents), self.providers,
                                                  self.demand.size_bn))

    def move_shares(self) -> None:
        flows = shares.move_shares(self.ledger, self.params, self.demand.size_bn, self.streams["contracts"])
        if self.network:
            recording.add_share_flows(self.graph, self.ledger.ids, flows, self.year)

    def settle_money(self) -> None:
        money.settle_money(self.ledger, self.params)
        for firm in self.agents:
            if firm.adaptive:
                firm.learn()
        money.remember_decisions(self.ledger)
        self._note(funding.raise_rounds(self.ledger, self.params, self.streams["funding"], self.demand.venture_funding_bn))
        broke = money.broke_startups(self.ledger)
        self._note(money.close_broke(self.ledger, broke, self.year), retired=broke.tolist())

    def acquire(self) -> None:
        events, acquired = acquisitions.acquire(self.ledger, self.params, list(self.majors.values()), self.streams["deals"],
                                                self.year)
        self._note(events, retired=acquired)

    def record(self) -> None:
        recording.record_year(self.datacollector, self, self.ledger, self.graph if self.network else None,
                              self.events_this_year, self.year, started=self.steps > 0)

    def run(self) -> None:
        while self.running:
            self.step()

    # ----------------------------------------------------------------- set-up
    def _add_fringe(self) -> None:
        add_fringe(self.ledger, self.params, self.year, self.demand.fringe_spend_bn)
        self._add_nodes([FRINGE_ID], Kind.FRINGE)

    def _add_majors(self) -> None:
        rows = add_majors(self.ledger, self.params, self.year)
        for row, (firm_id, firm) in zip(rows, self.params.firms.items()):
            self.majors[firm_id] = MajorFirm(self, firm_id, row, firm.policy)
        self._add_nodes(list(self.majors), Kind.MAJOR)

    def _add_startups(self, count: int, at_start: bool = False) -> None:
        entrants = entry.enter_startups(self.ledger, self.params, self.streams["entry"], count, self.year,
                                        self.startups_numbered, at_start)
        self.startups_numbered += len(entrants.ids)
        for row, firm_id, niche in zip(entrants.rows.tolist(), entrants.ids, entrants.niches):
            Startup(self, firm_id, row, self.params.startups.policy, niche)
        self._add_nodes(entrants.ids, Kind.STARTUP, entrants.niches)
        self.events_this_year += entrants.events

    def _calibrate_start(self) -> None:
        calibrate_start(self.ledger, self.params, self.demand.size_bn)
        self.initial_capability_basis = positions.capability_basis(self.ledger)
        self.inputs = inputs.initial_inputs(self.ledger, self.params, self.demand)

    # ----------------------------------------------------------------- bookkeeping
    def _scheduled_budgets(self) -> dict[int, float]:
        """Ledger row -> budget, for the majors whose budget the scenario sets this year (and still alive)."""
        budgets = schedules.firm_inputs(self.params, self.year, schedules.BUDGET)
        return {self.majors[f].row: value for f, value in budgets.items() if self.majors[f].alive}

    @property
    def providers(self) -> list[MajorFirm]:
        """The cloud providers a firm may rent from."""
        return [firm for firm in self.majors.values() if firm.is_cloud_provider]

    def _note(self, events: list[Event], retired: Iterable[int] = ()) -> None:
        """Log the events and their network edges; firms retired this phase are marked in the network
        and leave the model once their last year is recorded."""
        self.events_this_year += events
        gone = set(retired)
        if self.network:
            recording.add_event_links(self.graph, events, self.year)
            recording.mark_exits(self.graph, [self.ledger.ids[row] for row in gone], self.year)
        self.leaving |= gone

    def _add_nodes(self, ids: list[str], kind: Kind, niches: list[str] | None = None) -> None:
        if self.network:
            recording.add_firm_nodes(self.graph, ids, kind, self.year, niches)

    def _remove_leavers(self) -> None:
        if self.leaving:
            for firm in [firm for firm in self.agents if firm.row in self.leaving]:
                firm.remove()
            self.leaving = set()

    def _sizes(self) -> np.ndarray:
        return self.demand.size_bn

    def _scalars(self) -> tuple[tuple[str, float], ...]:
        d, i = self.demand, self.inputs
        return (("the talent supply", d.talent_supply_bn), ("the compute capacity", d.compute_capacity_bn),
                ("the AI wage index", i.wage_index), ("the compute demand", i.compute_demand_ratio),
                ("the fill rate", i.fill_rate), ("the 2023 talent tightness", i.talent_tightness_2023))

    def _arrays(self) -> tuple[tuple[str, np.ndarray], ...]:
        return (("fringe AI spend", self.demand.fringe_spend_bn),
                ("strategy probabilities", self.ledger.col("strategy_probability")),
                ("experience", self.ledger.col("experience_bn")))

    # ----------------------------------------------------------------- queries (what reports read)
    def segment_hhi(self, s: int) -> float:
        """HHI of segment s (index into SEGMENTS), in points, the fringe's own concentration included."""
        return positions.segment_hhi(self.ledger, self.params, s)

    def served_sizes(self) -> np.ndarray:
        """Each segment's size in $bn: its demand, plus in cloud_ai the workloads partners rent."""
        return shares.served_sizes(self.ledger, self.demand.size_bn)

    def final_shares(self) -> dict[str, dict[str, float]]:
        return final_shares(self.ledger, self._major_rows())

    def major_positions(self) -> dict[str, MajorPosition]:
        return major_positions(self.ledger, self._major_rows())

    def deal_counts(self) -> dict[LinkKind, dict[str, int]]:
        return deal_counts(self.ledger)

    def startup_counts(self) -> StartupCounts:
        return startup_counts(self.ledger, self.params.start_year)

    def events_of(self, kind: EventKind) -> int:
        """How many events of `kind` this year."""
        return recording.count_events(self.events_this_year, kind)

    def _major_rows(self) -> dict[str, int]:
        return {firm_id: firm.row for firm_id, firm in self.majors.items()}
