"""How firms value the three strategies: forecasts as pure functions over arrays.

The forecast uses the market's own formulas (`model.market`), so the two cannot drift apart.
An adaptive firm weighs each strategy by the profit it expects from it (a blend of next-year
and long-run profit under that strategy, with rivals held where they are) and the profit it
has seen when it used it before; it then picks by a logit rule, so it usually but not always
picks the best-looking strategy.
"""

from __future__ import annotations

import numpy as np

from model.market import (
    next_differentiation, operating_income, partner_fee, planned_spend, pull, revenue, steady_capability,
)
from model.params import AdaptiveParams, Strategy


def forecast_profits(
    *,
    budget_bn: np.ndarray,            # (n,)
    efficiency: np.ndarray,           # (n,)
    fill_rate: float,
    allocation: np.ndarray,           # (n, S)
    share: np.ndarray,                # (n, S)
    differentiation: np.ndarray,      # (n, S)
    min_differentiation: np.ndarray,  # (n, S)
    brand: np.ndarray,                # (n, S)
    present: np.ndarray,              # (n, S) bool
    margin: np.ndarray,               # (n, S)
    take_rate: np.ndarray,            # (n, S)
    size_bn: np.ndarray,              # (S,)
    future_size_bn: np.ndarray,       # (S,): size expected at the firm's horizon
    rival_pull: np.ndarray,           # (n, S): total pull of everyone else in the segment
    contested: np.ndarray,            # (S,): share of customers not locked in niches
    partner_capability: np.ndarray,   # (n, S): capability a partner would rent in each segment (0: no provider)
    spend_mult: np.ndarray,           # (3,)
    previous_spend_bn: np.ndarray,    # (n,): what the firm planned to spend last year
    spend_adjustment: float,
    fee_share: float,
    open_model_efficiency: float,
    differentiation_step: tuple[float, float, float],  # gain, decay, max
    pull_params: tuple,               # gamma (one per segment), theta, floor, bonus: Scenario.pull_params()
    returns_exponent: float,
    depreciation: float,
    patience: float,
    may_partner: np.ndarray,          # (n,) bool
) -> tuple[np.ndarray, np.ndarray]:
    """Value of each strategy to each firm and its next-year part, both shape (n, 3).

    The value blends next year's profit (this year's planned spend: capex moves only part of the
    way) with the long-run profit of the strategy sustained (its full spend, the capability that
    sustains, the market `horizon_years` ahead), by `patience`; rivals are held where they are."""
    gamma, theta, floor, bonus = pull_params
    gain, decay, max_diff = differentiation_step
    operating_now = operating_income(revenue(share, size_bn, take_rate), margin)
    out = np.empty((budget_bn.size, len(Strategy)))
    next_year = np.empty_like(out)
    for k in Strategy:
        sustained = budget_bn * spend_mult[k]
        spend = planned_spend(previous_spend_bn, sustained, spend_adjustment)
        fee = partner_fee(budget_bn, fee_share) if k == Strategy.PARTNER else np.zeros_like(budget_bn)
        eff = efficiency * fill_rate * (open_model_efficiency if k == Strategy.DIFFERENTIATE else 1.0)
        capability = steady_capability(sustained[:, None] * allocation * eff[:, None], returns_exponent, depreciation)
        if k == Strategy.PARTNER:
            capability = capability + partner_capability * present
        diff = next_differentiation(differentiation, min_differentiation, k == Strategy.DIFFERENTIATE, gain, decay, max_diff)
        own_pull = pull(brand, share, capability, diff, gamma, theta, floor, bonus)
        total = own_pull + rival_pull
        long_share = diff * share + contested * np.divide(own_pull, total, out=np.zeros_like(total), where=total > 0)
        long_share = np.where(present, long_share, 0.0)
        operating_long = operating_income(revenue(long_share, future_size_bn, take_rate), margin)
        next_year[:, k] = operating_now - (spend + fee)
        out[:, k] = (1.0 - patience) * next_year[:, k] + patience * (operating_long - (sustained + fee))
        if k == Strategy.PARTNER:
            impossible = (partner_capability.sum(axis=1) <= 0) | ~may_partner
            out[impossible, k] = next_year[impossible, k] = -np.inf
    return out, next_year


def drawn_strategies(probabilities: np.ndarray, draws: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The strategy each firm draws: its fixed one where `fixed` >= 0, else the one whose slice of
    the cumulative probabilities holds its uniform draw."""
    cumulative = np.cumsum(probabilities, axis=1)
    chosen = np.minimum(np.sum(cumulative <= (draws * cumulative[:, -1])[:, None], axis=1), len(Strategy) - 1)
    return np.where(fixed >= 0, fixed, chosen)


def logit_probabilities(values: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Choice probabilities per row; -inf values are never chosen."""
    scaled = (values - np.max(values, axis=1, keepdims=True)) / temperature[:, None]
    weights = np.exp(scaled)
    return weights / np.sum(weights, axis=1, keepdims=True)


def blend_experience(forecast: np.ndarray, experience: np.ndarray, seen: np.ndarray, weight: float) -> np.ndarray:
    """Mix forecast with realised profit where the firm has tried the strategy."""
    usable = seen & np.isfinite(forecast)
    return np.where(usable, (1.0 - weight) * forecast + weight * experience, forecast)


def strategy_probabilities(forecast: np.ndarray, experience_bn: np.ndarray, tried: np.ndarray, scale_bn: np.ndarray,
                           adaptive: AdaptiveParams) -> np.ndarray:
    """The adaptive rule: forecast blended with experience, then a logit whose noise is a share of
    `scale_bn`, the AI budget at stake (not the firm's revenue, which for a retailer is mostly GMV)."""
    values = blend_experience(forecast, experience_bn, tried, adaptive.experience_weight)
    return logit_probabilities(values, adaptive.temperature * np.maximum(scale_bn, 1e-3))


def acquisition_target(candidates: np.ndarray, capability: np.ndarray, share: np.ndarray, prices_bn: np.ndarray,
                       budget_bn: float, scaled_share: float) -> int:
    """The target among those the budget affords that bring cloud capability (-1: none): first the
    scaled rival with the largest share (at least `scaled_share` of the market: customers worth
    buying), else the candidate with the most capability per dollar."""
    affordable = (prices_bn <= budget_bn) & (capability > 0)
    if not affordable.any():
        return -1
    scaled = affordable & (share >= scaled_share)
    if scaled.any():
        return int(candidates[int(np.argmax(np.where(scaled, share, -np.inf)))])
    value = capability / np.maximum(prices_bn, 1e-9)
    value = np.where(affordable, value, -np.inf)
    return int(candidates[int(np.argmax(value))])
