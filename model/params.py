"""Typed, validated scenario parameters.

Every number the model uses lives in one of these frozen dataclasses, filled once from a
scenario's TOML (see `model.scenario`). Bounds sit beside each field so that validation,
`--set` overrides and documentation share one source of truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

SEGMENTS: tuple[str, ...] = ("cloud_ai", "ecommerce", "advertising")
MAJOR_IDS: tuple[str, ...] = ("amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba")
CLOUD_PROVIDERS: tuple[str, ...] = ("amazon", "azure", "google_cloud", "alibaba")
FRINGE_ID = "others"
CLOUD = SEGMENTS.index("cloud_ai")  # the segment where startups compete, deals are reviewed and capability is rented


class Coded(IntEnum):
    """An enum stored as its integer in a ledger column and written as its lower-case name."""

    @property
    def label(self) -> str:
        return self.name.lower()


class Strategy(Coded):
    """The three answers to the bet; stored in the ledger's `strategy` column."""

    ACCELERATE = 0
    DIFFERENTIATE = 1
    PARTNER = 2


STRATEGIES: tuple[str, ...] = tuple(strategy.label for strategy in Strategy)
ADAPTIVE = "adaptive"
# A firm's policy: always one strategy, or adaptive (it weighs the three each year).
Policy = Literal["accelerate", "differentiate", "partner", "adaptive"]


# Inputs a scenario may give as a schedule by year (`[schedules]`, `model.schedules`): what firms
# decide outside the model (their AI budget, their policy) and what the world supplies (growth rates).
# A '*' stands for a firm or a segment.
SCHEDULABLE: tuple[str, ...] = (
    "firms.*.ai_budget_bn", "firms.*.policy", "segments.*.base_growth", "segments.*.fringe_spend_growth",
    "talent.supply_growth", "compute.capacity_growth", "startups.funding_growth", "startups.entry_rate",
)

# What a firm chooses (exploratory modelling's levers): a plan sets them, so a scenario may not
# declare them uncertain. Everything else numeric that shapes the run is an uncertainty candidate.
LEVERS: tuple[str, ...] = (
    "firms.*.policy", "firms.*.ai_budget_bn", "firms.*.payout_share", "firms.*.segments.*.allocation",
)
# Parameters that frame or value a run rather than shape it: never drawn as uncertainties.
NOT_UNCERTAIN: tuple[str, ...] = ("start_year", "years", "market.min_flow_bn", "valuation.*", "valuation.firms.*.*")

# Upper ends of the ranges: far beyond any plausible scenario, far below where float64 overflows.
MAX_MONEY_BN = 1e5  # $100 trillion, about a year of world GDP
MAX_MARKET_BN = 1e6  # $1,000 trillion
MAX_GROWTH = 2.0  # +200 % a year
MAX_MULTIPLIER = 100.0  # efficiencies, leverage, noise: 100x the calibrated unit


# A scenario's name is the default results folder, results/<name>: nothing that could leave it.
PLAIN_NAME = re.compile(r"(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", re.ASCII)
PLAIN_NAME_RULE = "1-64 letters, digits, '_', '-' or '.', not starting with '.' or '-' and without '..'"


def bounded(lo: float, hi: float, *, lo_open: bool = False, doc: str = ""):
    """A required field with an allowed range [lo, hi] (or (lo, hi]), read by the validator."""
    return field(metadata={"lo": lo, "hi": hi, "lo_open": lo_open, "doc": doc})


def money(doc: str = ""):
    return bounded(0.0, MAX_MONEY_BN, doc=doc)


def fraction(doc: str = ""):
    return bounded(0.0, 1.0, doc=doc)


def growth(doc: str = ""):
    return bounded(-1.0, MAX_GROWTH, lo_open=True, doc=doc)


@dataclass(frozen=True)
class SegmentParams:
    size_bn: float = bounded(0.0, MAX_MARKET_BN, lo_open=True, doc="2023 market size")
    base_growth: float = growth("yearly growth before the AI uplift")
    ai_uplift: float = bounded(0.0, MAX_GROWTH, doc="extra growth per unit of log industry capability index")
    fringe_ai_spend_bn: float = money("yearly AI spend of the long tail, sets its capability")
    fringe_spend_growth: float = growth("yearly growth of the fringe's AI spend")
    fringe_differentiation: float = fraction("share of the fringe's customers locked in niches")
    fringe_internal_hhi: float = fraction("concentration inside the fringe (sum of squared shares of the fringe), 0 = atomistic")
    potential_bn: float = bounded(0.0, MAX_MARKET_BN, lo_open=True, doc="size at which the segment stops growing (logistic ceiling)")
    ai_margin_ceiling: float = bounded(0.0, 0.2, doc="most operating margin a major's own AI capability can add here (automation, efficiency, targeting)")
    rest_at_start: float = fraction("how much of the starting shares brands explain: 1 = the start is a resting point, "
                                    "0 = alike brands, shares move toward what capability and installed base imply")
    capability_elasticity: float = bounded(0.0, 5.0, doc="gamma: pull ~ capability^gamma in this segment's market")


@dataclass(frozen=True)
class FirmSegmentParams:
    share: float = fraction("2023 market share")
    margin: float = bounded(-1.0, 1.0, doc="operating margin on revenue before the AI programme")
    take_rate: float = bounded(0.0, 1.0, lo_open=True, doc="revenue per $ of segment size won")
    allocation: float = fraction("share of the firm's AI spend aimed at this segment")
    differentiation: float = fraction("2023 share of customers locked in the firm's niches")


@dataclass(frozen=True)
class FirmParams:
    policy: Policy
    ai_budget_bn: float = money("yearly AI spend when the firm accelerates")
    initial_ai_spend_bn: float = money("2023 AI spend, sets the starting capability")
    cash_bn: float = bounded(-MAX_MONEY_BN, MAX_MONEY_BN, doc="cash and securities at the start")
    other_cash_flow_bn: float = bounded(-MAX_MONEY_BN, MAX_MONEY_BN, doc="yearly cash from the group's unmodelled businesses")
    capability_efficiency: float = bounded(0.0, MAX_MULTIPLIER, lo_open=True, doc="capability per effective $ relative to 1")
    payout_share: float = fraction("share of a year's positive cash flow paid to shareholders or spent outside the model")
    segments: dict[str, FirmSegmentParams] = field(metadata={"keys": SEGMENTS})


@dataclass(frozen=True)
class MarketParams:
    installed_base_elasticity: float = bounded(0.0, 1.0, doc="theta: pull ~ (share + floor)^theta")
    installed_base_floor: float = bounded(0.0, 1.0, lo_open=True, doc="lets a firm with no customers attract some")
    differentiation_pull_bonus: float = bounded(0.0, 10.0, doc="pull multiplier 1 + bonus * differentiation")
    adjustment_speed: float = bounded(0.0, 1.0, lo_open=True, doc="lambda: share of the gap to target closed a year")
    min_flow_bn: float = money("smallest share flow recorded in the network")
    contract_shock: float = fraction("sd of the yearly cloud_ai share a major wins or loses in large contracts")


@dataclass(frozen=True)
class CapabilityParams:
    returns_exponent: float = bounded(0.0, 1.0, lo_open=True, doc="alpha: new capability ~ effective spend^alpha")
    depreciation: float = bounded(0.0, 1.0, lo_open=True, doc="delta: model drift, share of capability lost a year")
    lag_years: int = bounded(0, 10, doc="years before spend becomes capability")
    integration_loss: float = fraction("share of an acquired startup's capability lost in integration")
    margin_half_gain: float = bounded(0.0, 10.0, lo_open=True, doc="log capability gain over 2023 at which AI adds half its margin ceiling")


@dataclass(frozen=True)
class StrategyParams:
    differentiate_spend_share: float = fraction("spend when differentiating, as a share of ai_budget_bn")
    partner_spend_share: float = fraction("own spend when partnering, as a share of ai_budget_bn")
    differentiation_gain: float = fraction("yearly rise of differentiation while differentiating")
    differentiation_decay: float = fraction("yearly fall of differentiation otherwise")
    max_differentiation: float = fraction("ceiling of differentiation")
    consortium: bool
    consortium_saving: float = fraction("share of infrastructure cost saved by each consortium member")
    open_model_efficiency: float = bounded(0.0, MAX_MULTIPLIER, lo_open=True, doc="efficiency multiplier for differentiators (open models)")
    budget_share_elasticity: float = bounded(0.0, 0.9, doc="a major's AI budget ~ its markets' growth x (its share / 2023 share)^this")
    spend_adjustment: float = bounded(0.0, 1.0, lo_open=True, doc="share of the gap to the chosen strategy's spend closed in a year")


@dataclass(frozen=True)
class AdaptiveParams:
    temperature: float = bounded(0.0, MAX_MULTIPLIER, lo_open=True, doc="logit noise, as a share of the firm's AI budget (the stakes)")
    patience: float = fraction("weight of long-run over next-year profit in forecasts")
    horizon_years: float = bounded(0.0, 50.0, doc="the long run is valued at the market size expected this many years ahead")
    experience_weight: float = fraction("weight of realised over forecast profit")
    memory: float = fraction("weight of old experience when a new profit is seen")


@dataclass(frozen=True)
class TalentParams:
    initial_supply_bn: float = bounded(0.0, MAX_MONEY_BN, lo_open=True, doc="2023 AI talent pool, in $bn of wages at the 2023 wage")
    supply_growth: float = growth("yearly growth of the talent pool")
    labour_share: float = fraction("share of AI spend that needs talent")
    wage_elasticity: float = bounded(0.0, 10.0, doc="wage index = (demand/supply)^elasticity")
    min_wage_index: float = bounded(0.0, 1.0, lo_open=True, doc="floor of the wage index in a slack market")


@dataclass(frozen=True)
class ComputeParams:
    initial_capacity_bn: float = bounded(0.0, MAX_MONEY_BN, lo_open=True, doc="AI spend the world's compute and power could absorb in 2023")
    capacity_growth: float = growth("yearly growth of compute/power capacity")


@dataclass(frozen=True)
class PartnershipParams:
    fee_share: float = bounded(0.0, 10.0, doc="yearly fee as a share of the client's ai_budget_bn")
    capability_share: float = fraction("most of the provider's cloud_ai capability a client can get")
    leverage: float = bounded(0.0, MAX_MULTIPLIER, doc="capability a $ of fees buys, relative to a $ of own spend")
    providers_may_partner: bool


@dataclass(frozen=True)
class AcquisitionParams:
    min_cash_bn: float = money("cash a firm keeps before it bids")
    financing_multiple: float = bounded(0.0, 5.0, doc="debt or stock a bidder can add to its cash, as a multiple of its operating income")
    bid_probability: float = fraction("chance a cash-rich accelerating firm looks for a deal in a year")
    differentiator_bid_probability: float = fraction("same for a differentiating firm")
    max_deals_per_firm: int = bounded(0, 1000, doc="attempts a firm makes in a year")
    revenue_multiple: float = bounded(0.0, 1000.0, doc="price per $ of the target's revenue")
    capability_price_bn: float = money("price per unit of the target's capability")
    scaled_share: float = fraction("cloud_ai share from which a startup is a scaled rival that bidders go for first")
    min_target_age: int = bounded(0, 100, doc="years a startup must have been in the market before majors bid for it")
    majors_may_bid_for_majors: bool


@dataclass(frozen=True)
class RegulatorParams:
    hhi_threshold: float = bounded(0.0, 10000.0, doc="post-merger HHI above which a deal is presumed harmful")
    delta_hhi_threshold: float = bounded(0.0, 10000.0, doc="HHI increase that must also be exceeded")
    share_threshold: float = bounded(0.0, 1.0, doc="merged share above which (with the increase) a deal is presumed harmful")
    strictness: float = bounded(0.0, 10_000.0, lo_open=True, doc="thresholds are divided by this")
    share_basis: Literal["revenue", "capability"]
    dominance_share: float = fraction("segment share above which a firm is fined")
    dominance_fine_rate: float = fraction("fine as a share of the dominant firm's segment revenue")


@dataclass(frozen=True)
class NicheParams:
    weight: float = bounded(0.0, 1e6, doc="relative chance an entrant picks this niche")
    differentiation: float = fraction("customers locked in the niche")
    efficiency: float = bounded(0.0, MAX_MULTIPLIER, lo_open=True, doc="capability per effective $ relative to majors")


@dataclass(frozen=True)
class StartupParams:
    initial_count: int = bounded(0, 100_000, doc="startups alive at the start")
    entry_rate: float = bounded(0.0, 100_000.0, doc="expected entrants a year (Poisson)")
    seed_cash_bn: float = money("median seed funding of an entrant")
    seed_cash_spread: float = bounded(0.0, 5.0, doc="sigma of the lognormal spread of seed funding")
    ai_budget_bn: float = money("yearly AI spend of a startup that accelerates")
    budget_spread: float = bounded(0.0, 5.0, doc="sigma of the lognormal spread of startup budgets")
    margin: float = bounded(-1.0, 1.0, doc="operating margin on revenue")
    entry_share: float = fraction("cloud_ai share an entrant's pull is worth on entry")
    addressable_share: float = fraction("most of cloud_ai that startups' niches can hold together (the niche tools' market)")
    followon_probability: float = fraction("chance a live startup raises a follow-on round in a year of the 2023 climate")
    followon_step: float = bounded(0.0, MAX_MULTIPLIER, lo_open=True, doc="median factor by which a round multiplies the budget")
    followon_spread: float = bounded(0.0, 5.0, doc="sigma of the lognormal spread of that factor (heavy tails)")
    runway_years: float = bounded(0.0, 20.0, lo_open=True, doc="years of the new budget a round brings in cash")
    funding_growth: float = growth("yearly growth of AI venture funding")
    initial_funding_bn: float = money("AI venture funding in the calibration year (the year before start_year)")
    max_round_share: float = fraction("largest round as a share of the year's AI venture funding")
    funding_share: float = fraction("share of the year's AI venture funding that goes to the startups modelled here")
    policy: Policy
    niches: dict[str, NicheParams]


# How the end position is valued (`report.valuation.terminal_value`).
TerminalMethod = Literal["gordon", "multiple"]
GORDON: TerminalMethod = "gordon"


@dataclass(frozen=True)
class FirmValuationParams:
    discount_rate: float = bounded(0.0, 1.0, lo_open=True, doc="this firm's yearly discount rate (its cost of capital)")


@dataclass(frozen=True)
class ValuationParams:
    """How an analyst values a firm's free cash flow: not a force in the model, read by reports only."""

    discount_rate: float = bounded(0.0, 1.0, lo_open=True, doc="yearly discount rate of free cash flow (cost of capital)")
    terminal: TerminalMethod
    terminal_growth: float = bounded(-0.5, 0.5, doc="growth of the final year's cash flow for ever after (Gordon growth)")
    exit_multiple: float = bounded(0.0, 1000.0, doc="terminal value as a multiple of the final year's cash flow")
    firms: dict[str, FirmValuationParams] = field(
        default_factory=dict, metadata={"keys": MAJOR_IDS, "optional": True, "doc": "per-firm discount rates"})

    def rate(self, firm_id: str) -> float:
        """The firm's own discount rate where one is given, else the common one."""
        own = self.firms.get(firm_id)
        return own.discount_rate if own is not None else self.discount_rate


@dataclass(frozen=True)
class Scenario:
    name: str = field(metadata={"pattern": PLAIN_NAME, "rule": PLAIN_NAME_RULE, "doc": "names the results folder"})
    description: str
    start_year: int = bounded(1900, 2200, doc="first simulated year (the calibration is the year before)")
    years: int = bounded(1, 200, doc="years simulated")
    segments: dict[str, SegmentParams] = field(metadata={"keys": SEGMENTS, "all_keys": True})
    firms: dict[str, FirmParams] = field(metadata={"keys": MAJOR_IDS})
    market: MarketParams
    capability: CapabilityParams
    strategies: StrategyParams
    adaptive: AdaptiveParams
    talent: TalentParams
    compute: ComputeParams
    partnership: PartnershipParams
    acquisitions: AcquisitionParams
    regulator: RegulatorParams
    startups: StartupParams
    valuation: ValuationParams
    # dotted parameter path (one of SCHEDULABLE) -> {year: value}; validated like the value itself
    schedules: dict[str, dict[int, float | str]] = field(
        default_factory=dict, metadata={"optional": True, "doc": "year-indexed inputs (model.schedules)"})
    # dotted parameter path -> (lo, hi): what nobody chooses, drawn uniformly by compare and explore
    uncertainties: dict[str, tuple[float, float]] = field(
        default_factory=dict, metadata={"optional": True, "doc": "ranges of the uncertain parameters (sweeps.uncertain)"})

    def pull_params(self, segment: int | None = None) -> tuple:
        """(gamma, theta, floor, bonus): the trailing arguments of `market.pull` and its kin. gamma is
        the segment's, or with no segment every segment's in SEGMENTS order (for arrays of shape (n, S))."""
        gammas = tuple(self.segments[seg].capability_elasticity for seg in SEGMENTS)
        m = self.market
        return (gammas if segment is None else gammas[segment], m.installed_base_elasticity, m.installed_base_floor,
                m.differentiation_pull_bonus)
