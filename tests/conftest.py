"""Shared helpers: build and run models quickly, and average a metric over seeds."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from model.params import MAJOR_IDS  # noqa: E402
from model.race import AIRaceModel  # noqa: E402

SEEDS = range(6)
ALL_ACCELERATE = {f"firms.{f}.policy": "accelerate" for f in MAJOR_IDS}


def simulate(seed: int = 0, years: int = 10, scenario: str = "baseline", **overrides) -> AIRaceModel:
    model = AIRaceModel(scenario, rng=seed, years=years, **overrides)
    model.run()
    return model


def mean_over_seeds(metric, seeds=SEEDS, **overrides) -> float:
    return float(np.mean([metric(simulate(seed, **overrides)) for seed in seeds]))


@pytest.fixture(scope="session")
def baseline_runs():
    """A few full baseline runs, shared by the invariant tests that only read them."""
    return [simulate(seed) for seed in range(3)]
