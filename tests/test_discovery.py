"""Scenario discovery (issue 13): PRIM, through the EMA Workbench, finds a box planted in synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from report.discovery import find_box


def _sample(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"capability.lag_years": rng.integers(0, 3, n), "segments.cloud_ai.capability_elasticity": rng.uniform(0.5, 2.0, n),
                         "talent.supply_growth": rng.uniform(0.02, 0.1, n)})


def test_prim_finds_a_planted_box_and_leaves_the_irrelevant_uncertainty_alone():
    x = _sample()
    pays = ((x["capability.lag_years"] == 0) & (x["segments.cloud_ai.capability_elasticity"] >= 1.4)).to_numpy()
    box = find_box(x, pays)
    assert set(box.limits) == {"capability.lag_years", "segments.cloud_ai.capability_elasticity"}
    assert box.limits["capability.lag_years"][1] == 0
    low, high = box.limits["segments.cloud_ai.capability_elasticity"]
    assert low == pytest.approx(1.4, abs=0.15) and high == np.inf
    assert box.coverage >= 0.8 and box.density >= 0.8
    assert box.describe() == f"capability.lag_years <= 0 and segments.cloud_ai.capability_elasticity >= {low:.3g}"


def test_noisy_outcomes_still_point_at_the_planted_condition():
    x = _sample(2000, seed=1)
    rng = np.random.default_rng(2)
    inside = (x["segments.cloud_ai.capability_elasticity"] <= 1.0).to_numpy()
    pays = np.where(inside, rng.random(len(x)) < 0.9, rng.random(len(x)) < 0.1)
    box = find_box(x, pays)
    assert list(box.limits) == ["segments.cloud_ai.capability_elasticity"]
    assert box.limits["segments.cloud_ai.capability_elasticity"][1] == pytest.approx(1.0, abs=0.15)


def test_no_box_when_every_case_or_none_is_of_interest():
    x = _sample(100)
    assert find_box(x, np.zeros(100, bool)) is None and find_box(x, np.ones(100, bool)) is None
    with pytest.raises(ValueError):
        find_box(x, np.ones(99, bool))
