"""The parameters a calibration fits and their priors: uniform over the ranges assumed before any
calibration.

Kept apart from `calibration.fit` (which needs pyabc) so a calibration folder can be read and checked
without loading the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prior:
    """A calibrated parameter: its path and the uniform prior over its assumed range."""

    path: str
    lo: float
    hi: float
    # False: it describes the historical years (a market input, or how far the start was from rest),
    # so neither the 2023 baseline nor a comparison's posterior draws carry it
    behavioural: bool = True

    @property
    def key(self) -> str:
        """The name pyabc stores it under (its database columns take no dots)."""
        return self.path.replace(".", "__")


PRIORS: tuple[Prior, ...] = (
    Prior("segments.cloud_ai.capability_elasticity", 0.5, 2.0),
    Prior("market.installed_base_elasticity", 0.25, 0.75),
    Prior("market.adjustment_speed", 0.25, 0.75),
    Prior("segments.cloud_ai.rest_at_start", 0.0, 1.0, behavioural=False),
    Prior("capability.returns_exponent", 0.5, 0.9),
    Prior("capability.depreciation", 0.15, 0.35),
    Prior("segments.cloud_ai.ai_uplift", 0.05, 0.2),
    Prior("segments.cloud_ai.base_growth", 0.1, 0.4, behavioural=False),
)

# What a 2023 scenario takes from a posterior: the behaviour, not the historical years' inputs or state.
BEHAVIOURAL_PATHS: tuple[str, ...] = tuple(p.path for p in PRIORS if p.behavioural)
