"""The market's arithmetic as small pure functions over numpy arrays.

Arrays are indexed by firm (rows) and, where it matters, by segment (columns). Nothing here
knows about Mesa, agents or scenarios, so each function can be tested on its own.
"""

from __future__ import annotations

import numpy as np


def hhi(shares: np.ndarray) -> float:
    """Herfindahl-Hirschman index on shares in [0, 1], in points (0..10,000)."""
    return float(np.sum(np.square(shares)) * 10_000.0)


def merger_delta_hhi(share_a: float, share_b: float) -> float:
    """HHI increase from merging two firms: (a+b)^2 - a^2 - b^2 = 2ab, in points."""
    return 2.0 * share_a * share_b * 10_000.0


def merger_presumed_harmful(
    pre_hhi: float,
    share_a: float,
    share_b: float,
    hhi_threshold: float,
    delta_threshold: float,
    share_threshold: float,
    strictness: float = 1.0,
) -> bool:
    """2023 US Merger Guidelines presumption; `strictness` > 1 lowers every threshold."""
    delta = merger_delta_hhi(share_a, share_b)
    if delta <= delta_threshold / strictness:
        return False
    concentrated = pre_hhi + delta > hhi_threshold / strictness
    dominant = share_a + share_b > share_threshold / strictness
    return bool(concentrated or dominant)


def pull(
    brand: np.ndarray,
    share: np.ndarray,
    capability: np.ndarray,
    differentiation: np.ndarray,
    capability_elasticity: float | np.ndarray,
    installed_base_elasticity: float,
    installed_base_floor: float,
    differentiation_bonus: float,
) -> np.ndarray:
    """Attraction of each firm's offer: brand x installed base x capability x niche fit. For arrays of
    shape (n, S) `capability_elasticity` may hold one gamma per segment (the last axis)."""
    return (
        brand
        * np.power(share + installed_base_floor, installed_base_elasticity)
        * np.power(np.maximum(capability, 0.0), capability_elasticity)
        * (1.0 + differentiation_bonus * differentiation)
    )


def share_target(share: np.ndarray, differentiation: np.ndarray, attraction: np.ndarray) -> np.ndarray:
    """Shares the market would settle at: niche customers stay, the contested rest follow pull.

    A fraction `differentiation` of each firm's customers is locked in its niche; the remaining
    (contested) customers are split in proportion to pull. Sums to the same total as `share`.
    """
    locked = differentiation * share
    contested = float(np.sum(share) - np.sum(locked))
    total_pull = float(np.sum(attraction))
    if total_pull <= 0.0:
        return share.copy()
    return locked + contested * attraction / total_pull


def capped_target(target: np.ndarray, capped: np.ndarray, ceiling: float) -> np.ndarray:
    """Target shares with the `capped` firms together held to `ceiling` of the segment: what their
    pull would win beyond it goes to the other firms in proportion to their targets. Startups' niche
    tools are a bounded part of what cloud customers buy, however capable the tools become."""
    held = float(target[capped].sum())
    rest = float(target[~capped].sum())
    if held <= ceiling or rest <= 0.0:
        return target
    out = target.copy()
    out[capped] *= ceiling / held
    out[~capped] *= (rest + held - ceiling) / rest
    return out


def shocked_target(target: np.ndarray, shock: np.ndarray) -> np.ndarray:
    """Target shares moved by lumps of customers (`shock`, in shares, zero-mean), kept non-negative
    and rescaled to the same total: a contract one firm wins, the others lose pro rata."""
    moved = np.maximum(target + shock, 0.0)
    total, was = float(moved.sum()), float(target.sum())
    return moved * (was / total) if total > 0 else target.copy()


def adjust_shares(share: np.ndarray, target: np.ndarray, speed: float) -> np.ndarray:
    """Partial adjustment toward target: switching costs keep customers where they are."""
    return (1.0 - speed) * share + speed * target


def brand_for_pull(wanted_pull, share: np.ndarray, capability: np.ndarray, differentiation: np.ndarray,
                   *pull_params: float, otherwise=0.0) -> np.ndarray:
    """The brand that gives an offer the wanted pull; `otherwise` where no brand can (zero pull basis).
    `pull_params` are the last four arguments of `pull` (gamma, theta, floor, bonus)."""
    basis = pull(np.ones_like(capability), share, capability, differentiation, *pull_params)
    out = np.zeros(basis.shape) + otherwise
    return np.divide(wanted_pull, basis, out=out, where=basis > 0)


def calibrate_brand(share: np.ndarray, capability: np.ndarray, differentiation: np.ndarray, *pull_params: float) -> np.ndarray:
    """Brand constants that make the starting shares a resting point of the market."""
    return brand_for_pull((1.0 - differentiation) * share, share, capability, differentiation, *pull_params)


def entrant_brand(total_pull: float, entry_share: float, capability: np.ndarray, differentiation: np.ndarray,
                  *pull_params: float) -> np.ndarray:
    """Brand for entrants so that each alone would win `entry_share` of the contested pull."""
    wanted = entry_share * total_pull / max(1.0 - entry_share, 1e-12)
    return brand_for_pull(wanted, np.zeros_like(capability), capability, differentiation, *pull_params)


def next_differentiation(
    differentiation: np.ndarray, floor: np.ndarray, differentiating, gain: float, decay: float, ceiling: float
) -> np.ndarray:
    """A niche strategy builds differentiation up to a ceiling; otherwise it fades back to the floor."""
    raised = np.maximum(floor, np.minimum(ceiling, differentiation + gain))
    lowered = np.maximum(floor, differentiation - decay)
    return np.where(differentiating, raised, lowered)


def share_flow(before: np.ndarray, after: np.ndarray, min_flow: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers moving from losers to gainers, split in proportion to each gain.

    Returns (source rows, destination rows, amounts) of the flows at least `min_flow` (in the
    units of the shares) and above zero. Uses that, for a loser, the flows above a threshold go to a prefix of
    the gainers sorted by gain, so it never builds the full losers x gainers matrix.
    """
    delta = after - before
    gainers = np.flatnonzero(delta > 0)
    losers = np.flatnonzero(delta < 0)
    total_gain = float(np.sum(delta[gainers]))
    empty = np.empty(0, dtype=np.int64)
    if total_gain <= 0.0 or losers.size == 0:
        return empty, empty, np.empty(0)
    order = gainers[np.argsort(-delta[gainers], kind="stable")]
    gains = delta[order]
    loss = -delta[losers]
    if min_flow > 0:
        # a loser's flows above the threshold go to the gainers whose gain is at least min_flow*G/loss
        threshold = min_flow * total_gain / loss * (1.0 - 1e-12)
        counts = np.searchsorted(-gains, -threshold, side="right")
    else:
        counts = np.full(losers.size, gains.size)
    rank = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    src = np.repeat(losers, counts)
    amount = np.repeat(loss, counts) * gains[rank] / total_gain
    keep = (amount >= min_flow) & (amount > 0.0)  # a product that underflows to 0 moves nobody
    return src[keep].astype(np.int64), order[rank][keep].astype(np.int64), amount[keep]


def planned_spend(previous_bn, target_bn, adjustment: float):
    """Capex moves part of the way toward what the strategy asks (commitments, time to build)."""
    return previous_bn + adjustment * (target_bn - previous_bn)


def scaled_budget(base_budget_bn, revenue_bn, base_revenue_bn, market_revenue_bn, share_elasticity: float):
    """A firm's AI budget keeps pace with the markets it sells in, and with its own share of them
    less than in proportion: base budget x (revenue at 2023 shares / 2023 revenue) x (revenue /
    revenue at 2023 shares)^elasticity. An elasticity of 1 would make every 2023 share an unstable
    resting point (pull would grow faster than share: installed base + returns x elasticity > 1)."""
    def ratio(num, den):
        num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
        return np.divide(num, den, out=np.ones_like(num), where=den > 0)
    return (base_budget_bn * np.maximum(ratio(market_revenue_bn, base_revenue_bn), 0.0)
            * np.power(np.maximum(ratio(revenue_bn, market_revenue_bn), 0.0), share_elasticity))


def spend_multipliers(differentiate_share: float, partner_share: float) -> np.ndarray:
    """Own AI spend under each strategy (accelerate, differentiate, partner), as a share of the
    firm's accelerate budget: what a firm asks of the scarce inputs."""
    return np.array([1.0, differentiate_share, partner_share])


def revenue(share: np.ndarray, size_bn: np.ndarray, take_rate: np.ndarray) -> np.ndarray:
    """What a share of a market is worth to a firm: share x market size x the firm's take rate."""
    return share * size_bn * take_rate


def operating_income(revenue_bn: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Operating income of each firm (row): revenue x margin, summed over segments."""
    return np.sum(revenue_bn * margin, axis=1)


def partner_fee(budget_bn, fee_share: float):
    """What a partner pays its provider a year: a share of the AI budget it would spend accelerating."""
    return fee_share * budget_bn


def rented_capability(fee_bn: np.ndarray, provider_capability: np.ndarray, leverage: float, capability_share: float,
                      returns_exponent: float, depreciation: float) -> np.ndarray:
    """What fees buy: the provider's scale makes a $ go further, up to a share of what it has.
    Fees spent on a segment (fee x the client's allocation) buy capability in that segment only."""
    bought = steady_capability(leverage * fee_bn, returns_exponent, depreciation)
    return np.minimum(capability_share * provider_capability, bought)


def contracted_shares(fees_received_bn: np.ndarray, size_bn: float, most: float = 0.5) -> np.ndarray:
    """Share of the cloud market each provider holds through its clients' fees (their AI workloads
    are its cloud_ai revenue), of a market `size_bn` that includes them; scaled down if together
    they would pass `most` of it."""
    shares = np.asarray(fees_received_bn, dtype=float) / size_bn
    total = float(shares.sum())
    return shares * (most / total) if total > most else shares


def place_contracts(open_share: np.ndarray, contracted_before: np.ndarray, contracted_now: np.ndarray) -> np.ndarray:
    """Shares of the whole market: the open part (which follows pull) is rescaled to leave room for
    this year's contracted shares, which go to their providers. The total is kept."""
    room_before = float(open_share.sum())
    room_now = room_before + float(contracted_before.sum()) - float(contracted_now.sum())
    scale = room_now / room_before if room_before > 0 else 0.0
    return open_share * scale + contracted_now


def margin_uplift(capability: np.ndarray, base_capability: np.ndarray, ceiling: np.ndarray, half_gain: float) -> np.ndarray:
    """Margin AI adds where it is aimed (automation, data-centre efficiency, targeting): zero at the
    2023 capability, rising with the log of capability gained, half of `ceiling` at `half_gain`
    (e.g. ln 2: capability doubled) and never above it; capability lost below 2023 costs nothing."""
    ratio = np.divide(capability, base_capability, out=np.ones_like(capability), where=base_capability > 0)
    gained = np.log(np.maximum(ratio, 1.0))
    return ceiling * gained / (gained + half_gain)


def deal_price(revenue_bn, capability, cash_bn, revenue_multiple: float, capability_price_bn: float):
    """What a target costs: a multiple of its revenue, a price per unit of its capability, and the
    cash the buyer takes over (a startup fresh from a round is not a bargain)."""
    return revenue_multiple * revenue_bn + capability_price_bn * capability + np.maximum(cash_bn, 0.0)


def ration(demand: np.ndarray, capacity: float) -> float:
    """Fill rate under proportional rationing: everyone gets the same fraction of what it asked."""
    total = float(np.sum(demand))
    if total <= capacity or total <= 0.0:
        return 1.0
    return capacity / total


def wage_index(
    talent_demand_bn: float, talent_supply_bn: float, elasticity: float, floor: float, reference_tightness: float = 1.0
) -> float:
    """AI wage relative to 2023: rises with demand over supply, 1 at the 2023 tightness."""
    if talent_supply_bn <= 0.0:
        return float("inf") if talent_demand_bn > 0 else 1.0
    ratio = talent_demand_bn / talent_supply_bn / reference_tightness
    return max(floor, ratio**elasticity) if ratio > 0 else floor


def new_capability(effective_spend_bn: np.ndarray, returns_exponent: float) -> np.ndarray:
    """Diminishing returns to spend."""
    return np.power(np.maximum(effective_spend_bn, 0.0), returns_exponent)


def accumulate_capability(capability: np.ndarray, arriving: np.ndarray, depreciation: float) -> np.ndarray:
    """Capability drifts away unless renewed (retraining), and grows with what arrives."""
    return (1.0 - depreciation) * capability + arriving


def steady_capability(spend_bn: np.ndarray, returns_exponent: float, depreciation: float) -> np.ndarray:
    """Capability that a constant yearly spend sustains."""
    return new_capability(spend_bn, returns_exponent) / depreciation


def segment_growth(base_growth: np.ndarray, ai_uplift: np.ndarray, capability_index: np.ndarray,
                   size_bn: np.ndarray, potential_bn: np.ndarray, size_2023_bn: np.ndarray) -> np.ndarray:
    """Yearly growth of each segment: base rate plus an uplift in the log of industry capability,
    both slowing as the segment nears its potential (logistic, scaled so that the base rate is the
    growth at the 2023 size), so AI cannot grow a market without end."""
    index = np.maximum(capability_index, 1e-9)
    room = np.clip(1.0 - size_bn / potential_bn, 0.0, 1.0) / (1.0 - size_2023_bn / potential_bn)
    return np.maximum((base_growth + ai_uplift * np.log(index)) * room, -0.9)
