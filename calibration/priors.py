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
    behavioural: bool = True  # False: a market input of the historical years, not carried into the 2023 baseline

    @property
    def key(self) -> str:
        """The name pyabc stores it under (its database columns take no dots)."""
        return self.path.replace(".", "__")


PRIORS: tuple[Prior, ...] = (
    Prior("market.capability_elasticity", 0.5, 2.0),
    Prior("market.installed_base_elasticity", 0.25, 0.75),
    Prior("market.adjustment_speed", 0.25, 0.75),
    Prior("segments.cloud_ai.rest_at_start", 0.0, 1.0),
    Prior("capability.returns_exponent", 0.5, 0.9),
    Prior("capability.depreciation", 0.15, 0.35),
    Prior("segments.cloud_ai.ai_uplift", 0.05, 0.2),
    Prior("segments.cloud_ai.base_growth", 0.1, 0.4, behavioural=False),
)
