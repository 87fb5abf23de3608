"""The AI investment race as a Mesa model: it owns the yearly schedule, the network and the records.

One step is one year, in the order of MODEL_SPEC.md: demand grows, startups enter, firms choose
strategies, talent and compute are rationed, firms invest, partnerships form, shares move,
money flows, acquisitions are reviewed, and the year is recorded.
"""

from __future__ import annotations

import json
import math
from typing import Any

import mesa
import networkx as nx
import numpy as np

from agents.firm import Firm, MajorFirm, Startup
from agents.policy import (
    ACCELERATE, DIFFERENTIATE, PARTNER, blend_experience, forecast_profits, logit_probabilities,
)
from model import market
from model.ledger import (
    BOOL_COLUMNS, INT_COLUMNS, KIND_FRINGE, KIND_MAJOR, KIND_NAMES, KIND_STARTUP, PER_FIRM, PER_SEGMENT, FirmLedger,
)
from model.params import CLOUD_PROVIDERS, FRINGE_ID, MAJOR_IDS, SEGMENTS, STRATEGIES, Scenario
from model.scenario import NonFiniteResult, load_scenario
from model.schema import EVENT_COLUMNS, FIRM_COLUMNS, FIRM_SOURCES, SHARE_COLUMNS

CLOUD = SEGMENTS.index("cloud_ai")
RANDOM_STREAMS = ("entry", "deals", "strategy_startups", *(f"strategy_{firm}" for firm in MAJOR_IDS))
FLOAT_COLUMNS = tuple(c for c in PER_SEGMENT + PER_FIRM if c not in INT_COLUMNS and c not in BOOL_COLUMNS)
_SUM = np.add.reduce
# The year's schedule: method, and what the model is doing (for the message when its arithmetic overflows).
YEAR_PHASES = (
    ("grow_demand", "growing demand"), ("enter_startups", "adding entrants"),
    ("choose_strategies", "choosing strategies"), ("ration_inputs", "rationing talent and compute"),
    ("invest", "building capability"), ("form_partnerships", "forming partnerships"),
    ("move_shares", "moving market shares"), ("settle_money", "settling money"), ("acquire", "reviewing acquisitions"),
)


class AIRaceModel(mesa.Model):
    """Firms racing to build AI capability across cloud_ai, ecommerce and advertising.

    `scenario` is a scenario name, a path to a TOML file or a loaded `Scenario`; any other
    keyword named by a dotted parameter path (e.g. ``**{"firms.amazon.ai_budget_bn": 60}``)
    overrides that parameter, which is how Mesa's `batch_run` and SolaraViz vary it.
    """

    def __init__(self, scenario: Scenario | str = "baseline", rng: Any = None, years: int | None = None, **overrides: Any):
        super().__init__(rng=rng)
        if isinstance(scenario, Scenario) and not overrides:
            params = scenario
        else:
            settings = [f"{path}={_toml_value(value)}" for path, value in overrides.items()]
            if isinstance(scenario, Scenario):
                raise TypeError("pass overrides with a scenario name or path, not a loaded Scenario")
            params = load_scenario(scenario, settings)
        self.params = params
        self.horizon_years = params.years if years is None else int(years)
        self.year = params.start_year - 1
        p = params

        self.size_bn = np.array([p.segments[s].size_bn for s in SEGMENTS])
        self.last_growth = np.array([p.segments[s].base_growth for s in SEGMENTS])
        self.talent_supply_bn = p.talent.initial_supply_bn
        self.compute_capacity_bn = p.compute.initial_capacity_bn
        self.fringe_spend_bn = np.array([p.segments[s].fringe_ai_spend_bn for s in SEGMENTS])
        self.wage_index = 1.0
        self.talent_tightness_2023 = 1.0
        self.compute_utilization = 0.0
        self.compute_demand_ratio = 0.0
        self.fill_rate = 1.0
        self.acquisitions_this_year = 0
        self.blocked_this_year = 0
        self.events_this_year: list[dict[str, Any]] = []
        self.startup_counter = 0

        # One child stream of Mesa's rng per purpose (and one per major for its strategy), so that a
        # scenario drawing more of one kind (more entrants, more bids) leaves the others unchanged and
        # runs with the same seed stay paired (common random numbers) across scenarios.
        self.streams = dict(zip(RANDOM_STREAMS, self.rng.spawn(len(RANDOM_STREAMS))))
        self.ledger = FirmLedger(len(SEGMENTS), p.capability.lag_years)
        self.graph = nx.MultiDiGraph()
        self.firms: dict[str, Firm] = {}
        self._dying: list[Firm] = []
        self.live: dict[str, Firm] = {}
        self.strategy_probabilities = np.zeros((0, len(STRATEGIES)))
        self._guarded([
            (self._init_fringe, "setting up the fringe"), (self._init_majors, "setting up the majors"),
            (lambda: self._init_startups(p.startups.initial_count), "setting up the startups"),
            (self._calibrate_brands, "calibrating the start"), (self._start_at_rest, "calibrating the start"),
        ])

        self.datacollector = mesa.DataCollector(
            model_reporters=self._model_reporters(),
            # The six majors through Mesa's per-agent reporters; every firm (thousands of startups
            # included) through the "firms" table, filled a whole column at a time.
            agenttype_reporters={MajorFirm: {"year": lambda a: a.model.year, "firm": "firm_id"}
                                 | {name: name for name in FIRM_COLUMNS if name not in ("year", "firm")}},
            tables={
                "firms": list(FIRM_COLUMNS),
                "shares": list(SHARE_COLUMNS),
                "events": list(EVENT_COLUMNS),
            },
        )
        self._record()

    # ----------------------------------------------------------------- set-up
    def _init_fringe(self) -> None:
        led, p = self.ledger, self.params
        row = led.add(FRINGE_ID, KIND_FRINGE, self.year)
        majors_share = np.zeros(len(SEGMENTS))
        for firm in p.firms.values():
            for s, seg in enumerate(SEGMENTS):
                if seg in firm.segments:
                    majors_share[s] += firm.segments[seg].share
        led.share[row] = 1.0 - majors_share
        led.present[row] = True
        led.take_rate[row] = 1.0
        led.differentiation[row] = [p.segments[s].fringe_differentiation for s in SEGMENTS]
        self._start_steady(row, self.fringe_spend_bn)
        self.graph.add_node(FRINGE_ID, kind="fringe", entry_year=self.year, exit_year=-1, alive=True, revenue_bn=0.0, strategy="")

    def _init_majors(self) -> None:
        led, p = self.ledger, self.params
        for firm_id, fp in p.firms.items():
            row = led.add(firm_id, KIND_MAJOR, self.year)
            for s, seg in enumerate(SEGMENTS):
                if seg not in fp.segments:
                    continue
                sp = fp.segments[seg]
                led.present[row, s] = True
                led.share[row, s] = sp.share
                led.margin[row, s] = sp.margin
                led.take_rate[row, s] = sp.take_rate
                led.allocation[row, s] = sp.allocation
                led.differentiation[row, s] = sp.differentiation
                led.min_differentiation[row, s] = sp.differentiation
            self._start_steady(row, fp.initial_ai_spend_bn * fp.capability_efficiency * led.allocation[row] * led.present[row])
            led.cash_bn[row] = fp.cash_bn
            led.ai_budget_bn[row] = fp.ai_budget_bn
            led.efficiency[row] = fp.capability_efficiency
            led.other_cash_flow_bn[row] = fp.other_cash_flow_bn
            led.payout_share[row] = fp.payout_share
            self.firms[firm_id] = self.live[firm_id] = MajorFirm(self, firm_id, row, fp.policy)
            self.graph.add_node(firm_id, kind="major", entry_year=self.year, exit_year=-1, alive=True, revenue_bn=0.0, strategy="")

    def _start_steady(self, row: int, spend_bn: np.ndarray) -> None:
        """2023 programmes were already under way: capability at the level that spend sustains, pipeline full."""
        cap = self.params.capability
        yearly = market.new_capability(spend_bn, cap.returns_exponent)
        self.ledger.capability[row] = yearly / cap.depreciation
        self.ledger.pipeline[:, row] = yearly

    def _init_startups(self, count: int) -> None:
        """Entrants: random niche, seed cash and budget; a small but efficient capability."""
        if count <= 0:
            return
        led, sp, cap = self.ledger, self.params.startups, self.params.capability
        niche_names = list(sp.niches)
        weights = np.array([sp.niches[n].weight for n in niche_names])
        draw = self.streams["entry"]
        niche_idx = draw.choice(len(niche_names), size=count, p=weights / weights.sum())
        seed_cash = sp.seed_cash_bn * draw.lognormal(0.0, sp.seed_cash_spread, size=count)
        budget = sp.ai_budget_bn * draw.lognormal(0.0, sp.budget_spread, size=count)
        ids = [f"startup_{self.startup_counter + i + 1:04d}" for i in range(count)]
        self.startup_counter += count
        rows = led.add_many(ids, KIND_STARTUP, self.year)
        efficiency = np.array([sp.niches[niche_names[i]].efficiency for i in niche_idx])
        led.present[rows, CLOUD] = True
        led.margin[rows, CLOUD] = sp.margin
        led.take_rate[rows, CLOUD] = 1.0
        led.allocation[rows, CLOUD] = 1.0
        led.differentiation[rows, CLOUD] = [sp.niches[niche_names[i]].differentiation for i in niche_idx]
        led.min_differentiation[rows, CLOUD] = led.differentiation[rows, CLOUD]
        if self.steps:
            led.capability[rows, CLOUD] = market.new_capability(budget * efficiency, cap.returns_exponent)
        else:
            for row, spend in zip(rows, budget * efficiency):
                self._start_steady(int(row), spend * led.allocation[row])
        led.cash_bn[rows] = seed_cash
        led.ai_budget_bn[rows] = budget
        led.efficiency[rows] = efficiency
        if self.steps:
            led.brand[rows, CLOUD] = self._entrant_brand(rows)
        entry_year = int(led.entry_year[rows[0]])
        for row, firm_id, n in zip(rows, ids, niche_idx):
            self.firms[firm_id] = self.live[firm_id] = Startup(self, firm_id, int(row), sp.policy, niche_names[n])
            self.graph.add_node(firm_id, kind="startup", niche=niche_names[n], entry_year=entry_year, exit_year=-1,
                                alive=True, revenue_bn=0.0, strategy="")
            if self.steps:
                self._event("entry", firm_id, "", "cloud_ai", float(led.cash_bn[row]))

    def _entrant_brand(self, rows: np.ndarray) -> np.ndarray:
        led, m = self.ledger, self.params.market
        incumbents = led.col("alive") & led.col("present")[:, CLOUD]
        incumbents[rows] = False
        total = float(self._pull(CLOUD)[incumbents].sum())
        return market.entrant_brand(
            total, self.params.startups.entry_share, led.capability[rows, CLOUD], led.differentiation[rows, CLOUD],
            m.capability_elasticity, m.installed_base_elasticity, m.installed_base_floor, m.differentiation_pull_bonus,
        )

    def _calibrate_brands(self) -> None:
        """Start at rest: with 2023 capabilities, the pull-implied shares are the 2023 shares."""
        led, m = self.ledger, self.params.market
        n = led.n
        startups = led.col("kind") == KIND_STARTUP
        if startups.any():
            # Initial startups hold entry_share each of cloud_ai, taken from the fringe.
            take = min(self.params.startups.entry_share * startups.sum(), 0.5 * led.share[0, CLOUD])
            led.share[:n][startups, CLOUD] = take / startups.sum()
            led.share[0, CLOUD] -= take
        led.brand[:n] = market.calibrate_brand(
            led.col("share"), led.col("capability"), led.col("differentiation"),
            m.capability_elasticity, m.installed_base_elasticity, m.installed_base_floor, m.differentiation_pull_bonus,
        ) * led.col("present")
        self._update_effective_capability()
        self._update_revenue()
        led.operating_bn[:n] = np.sum(led.col("revenue_bn") * led.col("margin"), axis=1)
        led.base_operating_bn[:n] = led.col("operating_bn")
        majors = led.col("kind") == KIND_MAJOR
        led.ai_spend_bn[:n][majors] = [f.initial_ai_spend_bn for f in self.params.firms.values()]
        startups = led.col("kind") == KIND_STARTUP
        led.ai_spend_bn[:n][startups] = led.col("ai_budget_bn")[startups]
        led.profit_bn[:n] = np.where(led.col("kind") != KIND_FRINGE, led.col("operating_bn") - led.col("ai_spend_bn"), 0.0)

    def _start_at_rest(self) -> None:
        self.initial_capability_index_basis = self._capability_basis()
        self._start_inputs()
        self.strategy_probabilities = np.zeros((self.ledger.n, len(STRATEGIES)))

    def _start_inputs(self) -> None:
        """2023 use of compute and the 2023 wage, from the programmes that were under way."""
        led, p = self.ledger, self.params
        demand = float(led.col("ai_spend_bn").sum())
        self.compute_demand_ratio = demand / self.compute_capacity_bn
        self.compute_utilization = min(1.0, self.compute_demand_ratio)
        self.talent_tightness_2023 = max(p.talent.labour_share * demand / self.talent_supply_bn, 1e-9)
        self.wage_index = 1.0

    def _model_reporters(self) -> dict[str, Any]:
        reporters: dict[str, Any] = {"year": "year"}
        for s, seg in enumerate(SEGMENTS):
            reporters[f"size_bn_{seg}"] = lambda m, s=s: float(m.size_bn[s])
            reporters[f"hhi_{seg}"] = lambda m, s=s: m.segment_hhi(s)
        reporters.update({
            "ai_wage_index": "wage_index",
            "compute_utilization": "compute_utilization",
            "compute_demand_ratio": "compute_demand_ratio",
            "startups_alive": lambda m: int(np.sum(m.ledger.col("alive") & (m.ledger.col("kind") == KIND_STARTUP))),
            "acquisitions": "acquisitions_this_year",
            "blocked_acquisitions": "blocked_this_year",
        })
        return reporters

    # ----------------------------------------------------------------- helpers
    def segment_hhi(self, s: int, shares: np.ndarray | None = None) -> float:
        """HHI of the whole market: the agents, plus the fringe's own concentration (Google and Meta in ads)."""
        led = self.ledger
        shares = led.col("share")[:, s] if shares is None else shares
        agents = led.col("kind") != KIND_FRINGE
        fringe = shares[0] ** 2 * self.params.segments[SEGMENTS[s]].fringe_internal_hhi * 10_000.0
        return market.hhi(shares[agents]) + fringe

    def review_shares(self, s: int) -> np.ndarray:
        """Shares the regulator measures the market by: revenue, or capability (the Guidelines allow
        capacity-based shares when they better show competitive significance, e.g. nascent rivals)."""
        led = self.ledger
        if self.params.regulator.share_basis == "revenue":
            return led.col("share")[:, s]
        capability = led.col("effective_capability")[:, s] * (led.col("present")[:, s] & led.col("alive"))
        total = capability.sum()
        return capability / total if total > 0 else capability

    def _pull(self, s: int, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Pull of every firm (or of `rows`) in segment s; zero where it does not sell."""
        led, m = self.ledger, self.params.market
        n = led.n
        return market.pull(
            led.brand[:n][rows, s], led.share[:n][rows, s], led.effective_capability[:n][rows, s],
            led.differentiation[:n][rows, s], m.capability_elasticity, m.installed_base_elasticity,
            m.installed_base_floor, m.differentiation_pull_bonus,
        ) * (led.present[:n][rows, s] & led.alive[:n][rows])

    def _capability_basis(self) -> np.ndarray:
        led = self.ledger
        return np.maximum(np.sum(led.col("share") * led.col("effective_capability"), axis=0), 1e-12)

    def _update_effective_capability(self, rows: np.ndarray | None = None) -> None:
        """Own capability plus what partners rent from their provider (for `rows`, or everyone)."""
        led = self.ledger
        rows = np.arange(led.n) if rows is None else rows
        eff = led.capability[rows].copy()
        clients = np.flatnonzero(led.provider[rows] >= 0)
        if clients.size:
            client_rows = rows[clients]
            boost = self._rented_capability(led.fees_paid_bn[client_rows], led.capability[led.provider[client_rows], CLOUD])
            eff[clients] += boost[:, None] * led.present[client_rows]
        led.effective_capability[rows] = eff * led.present[rows]

    def _rented_capability(self, fee_bn: np.ndarray, provider_capability: np.ndarray) -> np.ndarray:
        """What fees buy: the provider's scale makes a $ go further, up to a share of what it has."""
        pp, cap = self.params.partnership, self.params.capability
        bought = market.steady_capability(pp.leverage * fee_bn, cap.returns_exponent, cap.depreciation)
        return np.minimum(pp.capability_share * provider_capability, bought)

    def _update_revenue(self) -> None:
        led = self.ledger
        led.revenue_bn[: led.n] = led.col("share") * self.size_bn * led.col("take_rate")

    def _event(self, event: str, source: str, target: str, segment: str, value_bn: float) -> None:
        """Kept for this year's log; moved into the DataCollector's events table when the year is recorded."""
        self.events_this_year.append({"year": self.year, "event": event, "source": source, "target": target,
                                      "segment": segment, "value_bn": float(value_bn)})

    # ----------------------------------------------------------------- the year
    def step(self) -> None:
        self.year += 1
        self.acquisitions_this_year = 0
        self.blocked_this_year = 0
        self.events_this_year = []
        for firm in self._dying:
            firm.remove()
        self._dying = []
        self._guarded([(getattr(self, method), doing) for method, doing in YEAR_PHASES])
        self._record()
        if self.steps >= self.horizon_years:
            self.running = False

    def _guarded(self, phases: list[tuple[Any, str]]) -> None:
        """Run the phases; a state that overflowed to inf or NaN stops the run with NonFiniteResult.

        numpy's overflow and invalid-value events are noted instead of printed as warnings; an
        exception after one (NaN probabilities, say), or Python's own OverflowError, is reported as
        the overflow it is. The state is checked before the year is recorded, so no inf or NaN
        reaches the tables.
        """
        events: list[str] = []
        with np.errstate(over="call", invalid="call", divide="call", call=lambda kind, flag: events.append(kind)):
            for phase, doing in phases:
                try:
                    phase()
                except (ArithmeticError, ValueError) as exc:
                    self._check_finite()
                    if isinstance(exc, ArithmeticError) or events:
                        raise NonFiniteResult(self.year, f"the arithmetic overflowed while {doing}") from exc
                    raise
            self._check_finite()

    def _check_finite(self) -> None:
        """NonFiniteResult naming the first inf or NaN in the state: segment sizes, model scalars, ledger columns.

        One sum over everything finds any inf or NaN (they survive addition) at a third of the cost
        of a test per column; only then is the state searched for the value to name.
        """
        led = self.ledger
        n = led.n
        total = sum(_SUM(getattr(led, name)[:n], axis=None) for name in FLOAT_COLUMNS)
        total += _SUM(led.pipeline[:, :n], axis=None) + _SUM(self.strategy_probabilities, axis=None)
        total += _SUM(self.size_bn) + _SUM(self.fringe_spend_bn) + sum(value for _, value in self._scalars())
        if not math.isfinite(total):
            self._name_non_finite()

    def _scalars(self) -> tuple[tuple[str, float], ...]:
        return (("the talent supply", self.talent_supply_bn), ("the compute capacity", self.compute_capacity_bn),
                ("the AI wage index", self.wage_index), ("the compute demand", self.compute_demand_ratio),
                ("the fill rate", self.fill_rate), ("the 2023 talent tightness", self.talent_tightness_2023))

    def _name_non_finite(self) -> None:
        """Raise NonFiniteResult for the first inf or NaN; nothing if the sum merely overflowed finite values."""
        if not np.all(np.isfinite(self.size_bn)):
            s = int(np.flatnonzero(~np.isfinite(self.size_bn))[0])
            raise NonFiniteResult(self.year, f"size_bn of segment {SEGMENTS[s]} is {float(self.size_bn[s])!r}")
        for name, value in self._scalars():
            if not math.isfinite(value):
                raise NonFiniteResult(self.year, f"{name} is {float(value)!r}")
        led = self.ledger
        n = led.n
        for name in FLOAT_COLUMNS:
            column = getattr(led, name)[:n]
            if not np.isfinite(column).all():
                row, *segment = (int(i) for i in np.argwhere(~np.isfinite(column))[0])
                where = f" in {SEGMENTS[segment[0]]}" if segment else ""
                value = float(column[(row, *segment)])
                raise NonFiniteResult(self.year, f"{name} of {led.ids[row]}{where} is {value!r}")
        for name, values in (("capability in the pipeline", led.pipeline[:, :n]), ("fringe AI spend", self.fringe_spend_bn),
                             ("strategy probabilities", self.strategy_probabilities)):
            if not np.isfinite(values).all():
                raise NonFiniteResult(self.year, f"{name} is not finite")

    def grow_demand(self) -> None:
        seg = [self.params.segments[s] for s in SEGMENTS]
        index = self._capability_basis() / self.initial_capability_index_basis
        growth = market.segment_growth(
            np.array([s.base_growth for s in seg]), np.array([s.ai_uplift for s in seg]), index
        )
        self.size_bn = self.size_bn * (1.0 + growth)
        self.last_growth = growth
        self.talent_supply_bn *= 1.0 + self.params.talent.supply_growth
        self.compute_capacity_bn *= 1.0 + self.params.compute.capacity_growth
        self.fringe_spend_bn = self.fringe_spend_bn * (1.0 + np.array([s.fringe_spend_growth for s in seg]))

    def enter_startups(self) -> None:
        count = int(self.streams["entry"].poisson(self.params.startups.entry_rate))
        self._init_startups(count)
        if self.strategy_probabilities.shape[0] < self.ledger.n:
            grown = np.zeros((self.ledger.n, len(STRATEGIES)))
            grown[: self.strategy_probabilities.shape[0]] = self.strategy_probabilities
            self.strategy_probabilities = grown

    def choose_strategies(self) -> None:
        adaptive = [f for f in self._living() if f.policy == "adaptive"]
        if adaptive:
            rows = np.array([f.row for f in adaptive])
            values = self._strategy_values(rows)
            seen = np.array([f.tried for f in adaptive])
            experience = np.array([f.experience_bn for f in adaptive])
            values = blend_experience(values, experience, seen, self.params.adaptive.experience_weight)
            scale = np.maximum(self.ledger.revenue_bn[rows].sum(axis=1), self.ledger.ai_budget_bn[rows])
            temperature = self.params.adaptive.temperature * np.maximum(scale, 1e-3)
            self.strategy_probabilities[rows] = logit_probabilities(values, temperature)
        for firm in self._living():
            firm.choose_strategy()

    def _strategy_values(self, rows: np.ndarray) -> np.ndarray:
        led, p = self.ledger, self.params
        m, st = p.market, p.strategies
        pulls = np.stack([self._pull(s) for s in range(len(SEGMENTS))], axis=1)
        totals = pulls.sum(axis=0)
        share, diff = led.col("share"), led.col("differentiation")
        contested = np.sum(share * (1.0 - diff), axis=0)
        provider_cap = np.array([self._best_provider_capability(r) for r in rows])
        partner_cap = np.where(
            provider_cap > 0, self._rented_capability(p.partnership.fee_share * led.ai_budget_bn[rows], provider_cap), 0.0
        )
        return forecast_profits(
            budget_bn=led.ai_budget_bn[rows], efficiency=led.efficiency[rows], fill_rate=self.fill_rate,
            allocation=led.allocation[rows], share=led.share[rows], differentiation=led.differentiation[rows],
            min_differentiation=led.min_differentiation[rows],
            brand=led.brand[rows], present=led.present[rows], margin=led.margin[rows], take_rate=led.take_rate[rows],
            size_bn=self.size_bn,
            future_size_bn=self.size_bn * np.power(1.0 + self.last_growth, p.adaptive.horizon_years),
            rival_pull=totals - pulls[rows], contested=contested,
            partner_capability=partner_cap,
            spend_mult=market.spend_multipliers(st.differentiate_spend_share, st.partner_spend_share),
            fee_share=p.partnership.fee_share, open_model_efficiency=st.open_model_efficiency,
            differentiation_step=(st.differentiation_gain, st.differentiation_decay, st.max_differentiation),
            pull_params=(m.capability_elasticity, m.installed_base_elasticity, m.installed_base_floor, m.differentiation_pull_bonus),
            returns_exponent=p.capability.returns_exponent, depreciation=p.capability.depreciation,
            patience=p.adaptive.patience,
            may_partner=np.array([p.partnership.providers_may_partner or led.ids[r] not in CLOUD_PROVIDERS for r in rows]),
        )

    def _provider_rows(self, client_row: int) -> list[int]:
        return [self.firms[fid].row for fid in CLOUD_PROVIDERS
                if fid in self.firms and self.firms[fid].row != client_row and self.ledger.alive[self.firms[fid].row]]

    def _best_provider(self, client_row: int) -> int:
        rows = self._provider_rows(client_row)
        if not rows:
            return -1
        return max(rows, key=lambda r: (self.ledger.capability[r, CLOUD], -r))

    def _best_provider_capability(self, client_row: int) -> float:
        best = self._best_provider(client_row)
        return 0.0 if best < 0 else float(self.ledger.capability[best, CLOUD])

    def _living(self) -> list[Firm]:
        """Live firms in the order they were created (Mesa's AgentSet order)."""
        return list(self.live.values())

    def ration_inputs(self) -> None:
        """Share out compute/power and talent: each firm's deployed and effective spend, the wage."""
        led, p = self.ledger, self.params
        st = p.strategies
        mult = market.spend_multipliers(st.differentiate_spend_share, st.partner_spend_share)
        alive = led.col("alive") & (led.col("kind") != KIND_FRINGE)
        wanted = np.where(alive, led.col("ai_budget_bn") * mult[led.col("strategy")], 0.0)
        compute_fill = market.ration(wanted, self.compute_capacity_bn)
        demand = float(wanted.sum())
        self.compute_demand_ratio = demand / self.compute_capacity_bn
        self.compute_utilization = min(1.0, self.compute_demand_ratio)
        deployed = wanted * compute_fill
        talent_demand = p.talent.labour_share * float(deployed.sum())
        talent_fill = market.ration(np.array([talent_demand]), self.talent_supply_bn)
        self.wage_index = market.wage_index(talent_demand, self.talent_supply_bn, p.talent.wage_elasticity,
                                            p.talent.min_wage_index, self.talent_tightness_2023)
        self.fill_rate = compute_fill * talent_fill
        differentiators = led.col("strategy") == DIFFERENTIATE
        efficiency = led.col("efficiency") * np.where(differentiators, st.open_model_efficiency, 1.0)
        led.ai_spend_bn[: led.n] = deployed
        led.effective_spend_bn[: led.n] = deployed * talent_fill * efficiency
        led.talent_cost_bn[: led.n] = p.talent.labour_share * deployed * talent_fill * (self.wage_index - 1.0)

    def invest(self) -> None:
        """New capability arrives after the gestation lag; all capability drifts (depreciates)."""
        led, cap = self.ledger, self.params.capability
        n = led.n
        built = market.new_capability(led.col("effective_spend_bn")[:, None] * led.col("allocation"), cap.returns_exponent)
        built *= led.col("present")
        built[0] = market.new_capability(self.fringe_spend_bn, cap.returns_exponent)
        if cap.lag_years == 0:
            arriving = built
        else:
            arriving = led.pipeline[0, :n].copy()
            led.pipeline[:-1, :n] = led.pipeline[1:, :n]
            led.pipeline[-1, :n] = built
        new = market.accumulate_capability(led.col("capability"), arriving, cap.depreciation)
        led.capability[:n] = np.where(led.col("alive")[:, None], new, 0.0)

    def form_partnerships(self) -> None:
        """Partners rent capability from the best cloud; differentiators may pool infrastructure."""
        led, p = self.ledger, self.params
        led.fees_paid_bn[: led.n] = 0.0
        led.fees_received_bn[: led.n] = 0.0
        led.provider[: led.n] = -1
        for firm in self._living():
            if led.strategy[firm.row] != PARTNER:
                continue
            provider = self._best_provider(firm.row)
            if provider < 0:
                continue
            fee = p.partnership.fee_share * led.ai_budget_bn[firm.row]
            led.provider[firm.row] = provider
            led.fees_paid_bn[firm.row] += fee
            led.fees_received_bn[provider] += fee
            provider_id = led.ids[provider]
            self.graph.add_edge(firm.firm_id, provider_id, kind="partner", mode="cloud", year=self.year, value_bn=float(fee))
            self._event("partnership", firm.firm_id, provider_id, "cloud_ai", fee)
        if p.strategies.consortium:
            members = [f for f in self._living() if f.kind == "major" and led.strategy[f.row] == DIFFERENTIATE]
            if len(members) >= 2:
                lead = members[0]
                for firm in members:
                    saving = p.strategies.consortium_saving * led.ai_spend_bn[firm.row]
                    led.ai_spend_bn[firm.row] -= saving
                    led.talent_cost_bn[firm.row] *= 1.0 - p.strategies.consortium_saving
                    if firm is not lead:
                        self.graph.add_edge(firm.firm_id, lead.firm_id, kind="partner", mode="consortium", year=self.year, value_bn=float(saving))
                        self._event("partnership", firm.firm_id, lead.firm_id, "", saving)
        self._update_effective_capability()

    def move_shares(self) -> None:
        """Shares move toward pull-implied shares with inertia; movements are recorded as flows."""
        led, p = self.ledger, self.params
        st = p.strategies
        diff = led.col("differentiation")
        movable = (led.col("kind") != KIND_FRINGE)[:, None]
        moved = market.next_differentiation(
            diff, led.col("min_differentiation"), (led.col("strategy") == DIFFERENTIATE)[:, None],
            st.differentiation_gain, st.differentiation_decay, st.max_differentiation,
        )
        led.differentiation[: led.n] = np.where(movable, moved, diff) * led.col("present")
        for s, seg in enumerate(SEGMENTS):
            rows = np.flatnonzero(led.col("present")[:, s] & led.col("alive"))
            before = led.share[rows, s].copy()
            target = market.share_target(before, led.differentiation[rows, s], self._pull(s)[rows])
            after = market.adjust_shares(before, target, p.market.adjustment_speed)
            led.share[rows, s] = after
            src, dst, amount = market.share_flow(before, after, p.market.min_flow_bn / self.size_bn[s])
            for i, j, a in zip(rows[src], rows[dst], amount):
                self.graph.add_edge(led.ids[i], led.ids[j], kind="share_flow", segment=seg, year=self.year, value_bn=float(a * self.size_bn[s]))
        self._update_revenue()

    def settle_money(self) -> None:
        """Profit = revenue x margin - AI spend - talent premium - fees paid + fees received - fines.

        Cash grows by profit plus the group's other cash flow, less what is paid out of a positive year.
        """
        led, p = self.ledger, self.params
        n = led.n
        revenue = led.col("revenue_bn")
        dominant = (led.col("share") > p.regulator.dominance_share) & (led.col("kind") != KIND_FRINGE)[:, None]
        fines = np.sum(np.where(dominant, revenue * p.regulator.dominance_fine_rate, 0.0), axis=1)
        led.fines_bn[:n] = fines
        operating = np.sum(revenue * led.col("margin"), axis=1)
        led.operating_bn[:n] = operating
        profit = operating - led.col("ai_spend_bn") - led.col("talent_cost_bn") - led.col("fees_paid_bn") + led.col("fees_received_bn") - fines
        firms = (led.col("kind") != KIND_FRINGE) & led.col("alive")
        profit = np.where(firms, profit, 0.0)
        led.profit_bn[:n] = profit
        cash_flow = np.where(firms, profit + led.col("other_cash_flow_bn"), 0.0)
        led.payout_bn[:n] = np.maximum(cash_flow, 0.0) * led.col("payout_share")
        led.cash_bn[:n] += cash_flow - led.col("payout_bn")
        led.cum_ai_spend_bn[:n] += led.col("ai_spend_bn")
        led.cum_fees_paid_bn[:n] += led.col("fees_paid_bn")
        led.cum_profit_bn[:n] += profit
        led.cum_operating_gain_bn[:n] += np.where(firms, operating - led.col("base_operating_bn"), 0.0)
        for firm in self._living():
            if firm.policy == "adaptive":
                firm.learn()
        broke = np.flatnonzero(firms & (led.col("kind") == KIND_STARTUP) & (led.col("cash_bn") < 0.0))
        for row in broke:
            self._event("exit", led.ids[row], "", "cloud_ai", float(led.revenue_bn[row].sum()))
        if broke.size:
            self._retire(broke)

    def _retire(self, rows) -> None:
        """Take firms out: their customers return to the rest of each market pro rata."""
        led = self.ledger
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        freed = led.share[rows].sum(axis=0)
        led.share[rows] = 0.0
        led.alive[rows] = False
        led.capability[rows] = 0.0
        led.effective_capability[rows] = 0.0
        led.pipeline[:, rows] = 0.0
        led.exit_year[rows] = self.year
        for s in np.flatnonzero(freed > 0):
            others = led.col("present")[:, s] & led.col("alive")
            total = led.col("share")[others, s].sum()
            if total > 0:
                led.share[: led.n][others, s] *= 1.0 + freed[s] / total
        for row in rows:
            firm_id = led.ids[row]
            self.graph.nodes[firm_id].update(alive=False, exit_year=self.year)
            self._dying.append(self.live.pop(firm_id))

    def acquire(self) -> None:
        """Cash-rich firms bid for startups; the regulator reviews every deal in cloud_ai."""
        led, p = self.ledger, self.params
        ap, reg = p.acquisitions, p.regulator
        bidders = [f for f in self._living() if f.kind == "major"]
        order = self.streams["deals"].permutation(len(bidders))
        for idx in order:
            bidder = bidders[idx]
            row = bidder.row
            chance = {ACCELERATE: ap.bid_probability, DIFFERENTIATE: ap.differentiator_bid_probability}.get(int(led.strategy[row]), 0.0)
            if self.streams["deals"].random() >= chance:  # drawn even at chance 0, to keep paired runs aligned
                continue
            tried: set[int] = set()
            for _ in range(ap.max_deals_per_firm):
                budget = led.cash_bn[row] - ap.min_cash_bn
                target = self._pick_target(budget, tried)
                if target < 0:
                    break
                tried.add(target)
                price = self.deal_price(target)
                shares = self.review_shares(CLOUD)
                harmful = market.merger_presumed_harmful(
                    self.segment_hhi(CLOUD, shares), float(shares[row]), float(shares[target]),
                    reg.hhi_threshold, reg.delta_hhi_threshold, reg.share_threshold, reg.strictness,
                )
                if harmful:
                    self.blocked_this_year += 1
                    self.graph.add_edge(bidder.firm_id, led.ids[target], kind="blocked", year=self.year, value_bn=price)
                    self._event("blocked_acquisition", bidder.firm_id, led.ids[target], "cloud_ai", price)
                    continue
                self._merge(row, target, price)

    def deal_price(self, target: int) -> float:
        led, ap = self.ledger, self.params.acquisitions
        return float(ap.revenue_multiple * led.revenue_bn[target].sum() + ap.capability_price_bn * led.capability[target].sum())

    def _pick_target(self, budget_bn: float, tried: set[int]) -> int:
        """The affordable live startup with the most capability per dollar."""
        led = self.ledger
        candidates = np.flatnonzero(led.col("alive") & (led.col("kind") == KIND_STARTUP))
        if tried:
            candidates = candidates[~np.isin(candidates, list(tried))]
        if candidates.size == 0 or budget_bn <= 0:
            return -1
        ap = self.params.acquisitions
        prices = ap.revenue_multiple * led.revenue_bn[candidates].sum(axis=1) + ap.capability_price_bn * led.capability[candidates].sum(axis=1)
        affordable = prices <= budget_bn
        if not affordable.any():
            return -1
        value = led.capability[candidates, CLOUD] / np.maximum(prices, 1e-9)
        value = np.where(affordable, value, -np.inf)
        return int(candidates[int(np.argmax(value))])

    def _merge(self, acquirer: int, target: int, price_bn: float) -> None:
        """The acquirer pays the target's owners, takes its cash, customers and (most) capability."""
        led, p = self.ledger, self.params
        keep = 1.0 - p.capability.integration_loss
        pull_acquirer, pull_target = self._pull(CLOUD, np.array([acquirer, target]))
        combined_pull = pull_acquirer + keep * pull_target
        led.cash_bn[acquirer] += led.cash_bn[target] - price_bn
        led.cash_bn[target] = 0.0
        if not led.present[acquirer, CLOUD]:
            led.present[acquirer, CLOUD] = True
            led.margin[acquirer, CLOUD] = led.margin[target, CLOUD]
            led.take_rate[acquirer, CLOUD] = 1.0
        led.capability[acquirer, CLOUD] += keep * led.capability[target, CLOUD]
        led.pipeline[:, acquirer, CLOUD] += keep * led.pipeline[:, target, CLOUD]
        led.share[acquirer, CLOUD] += led.share[target, CLOUD]
        led.share[target, CLOUD] = 0.0
        self._update_effective_capability(np.array([acquirer]))
        m = p.market
        basis = market.pull(
            np.ones(1), led.share[[acquirer], CLOUD], led.effective_capability[[acquirer], CLOUD],
            led.differentiation[[acquirer], CLOUD], m.capability_elasticity, m.installed_base_elasticity,
            m.installed_base_floor, m.differentiation_pull_bonus,
        )[0]
        if basis > 0:
            led.brand[acquirer, CLOUD] = combined_pull / basis
        acquirer_id, target_id = led.ids[acquirer], led.ids[target]
        self.acquisitions_this_year += 1
        self.graph.add_edge(acquirer_id, target_id, kind="acquired", year=self.year, value_bn=price_bn)
        self._event("acquisition", acquirer_id, target_id, "cloud_ai", price_bn)
        self._retire(target)

    def _record(self) -> None:
        """Shares are as at the end of the year; revenue is what each firm earned during it."""
        led = self.ledger
        n = led.n
        led.total_capability[:n] = led.col("capability").sum(axis=1)
        led.total_revenue_bn[:n] = led.col("revenue_bn").sum(axis=1)
        rows = np.flatnonzero(led.col("alive") | (led.col("exit_year") == self.year))
        self._record_network(rows)
        self._record_tables(rows)
        if self.events_this_year:
            self._extend_table("events", {k: [e[k] for e in self.events_this_year] for k in self.events_this_year[0]})
        self.datacollector.collect(self)

    def _record_network(self, rows: np.ndarray) -> None:
        """Node attributes as of this year's end (edges are added as events happen)."""
        led = self.ledger
        ids, nodes = led.ids, self.graph.nodes
        strategies = [STRATEGIES[k] if self.steps else "" for k in led.strategy[rows].tolist()]
        for row, revenue, strategy, kind in zip(rows.tolist(), led.total_revenue_bn[rows].tolist(), strategies,
                                                led.kind[rows].tolist()):
            node = nodes[ids[row]]
            node["revenue_bn"] = revenue
            node["strategy"] = strategy if kind != KIND_FRINGE else ""

    def _record_tables(self, rows: np.ndarray) -> None:
        led = self.ledger
        ids = led.ids
        firms = rows[led.kind[rows] != KIND_FRINGE]
        record = {"year": [self.year] * firms.size, "firm": [ids[r] for r in firms.tolist()],
                  "kind": [KIND_NAMES[k] for k in led.kind[firms].tolist()],
                  "strategy": [STRATEGIES[k] if self.steps else "" for k in led.strategy[firms].tolist()]}
        record |= {name: getattr(led, column)[firms].tolist() for name, column in FIRM_SOURCES.items() if column}
        self._extend_table("firms", record)
        firm_rows, segments = np.nonzero(led.present[rows])
        firm_rows = rows[firm_rows]
        self._extend_table("shares", {
            "year": [self.year] * firm_rows.size,
            "segment": [SEGMENTS[s] for s in segments.tolist()],
            "firm": [ids[r] for r in firm_rows.tolist()],
            "share": led.share[firm_rows, segments].tolist(),
            "revenue_bn": led.revenue_bn[firm_rows, segments].tolist(),
        })

    def _extend_table(self, name: str, columns: dict[str, list]) -> None:
        """Many rows at once into a DataCollector table (what add_table_row does one row at a time)."""
        table = self.datacollector.tables[name]
        if set(columns) != set(table):
            raise KeyError(f"table {name} has columns {sorted(table)}, got {sorted(columns)}")
        for column, values in columns.items():
            table[column].extend(values)

    # ----------------------------------------------------------------- results
    def run(self) -> None:
        while self.running:
            self.step()


def _toml_value(value: Any) -> str:
    """A Python value as TOML text, so keyword overrides go through the same validation as --set."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    return json.dumps(str(value), ensure_ascii=False)
