"""Hindcast: the calibrated model run from its historical start, replaying the inputs, forecasting
every year after the cutoff with bands over posterior draws x seeds, scored against history beside
the model anchored on the last observation and the naive forecasts (persistence, drift)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from calibration.scoring import MODEL, anchored_forecasts, naive_forecasts
from calibration.simulate import COLUMNS, quantiles, simulate
from model.params import Scenario
from model.scenario import with_values
from sweeps.execute import RunResult, RunSpec

BAND = (0.05, 0.5, 0.95)
BAND_COLUMNS = {"q05": "lo", "q50": "median", "q95": "hi"}


def draw_particles(particles: pd.DataFrame, draws: int, seed: int) -> pd.DataFrame:
    """`draws` parameter sets resampled from the weighted posterior (with replacement)."""
    rng = np.random.default_rng(seed)
    weights = particles["weight"].to_numpy(dtype=float)
    picked = rng.choice(len(particles), size=draws, replace=True, p=weights / weights.sum())
    return particles.iloc[picked].drop(columns="weight").reset_index(drop=True)


def hindcast_specs(scenario: Scenario, drawn: pd.DataFrame, seeds: Sequence[int]) -> list[RunSpec]:
    """One run per posterior draw x seed; the seeds are common to every draw."""
    specs = []
    for i, values in enumerate(drawn.to_dict("records")):
        drawn_scenario = with_values(scenario, values)
        specs += [RunSpec(run_id=f"draw{i}#seed{j}", scenario=drawn_scenario, seed=seed, labels=(("draw", i), ("replicate", j)))
                  for j, seed in enumerate(seeds)]
    return specs


def run_targets(spec: RunSpec) -> RunResult:
    """A run's history targets, year by year (for `sweeps.execute.execute`)."""
    try:
        runs = simulate(spec.scenario, [spec.seed])
    except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the others go on
        return RunResult(spec=spec, error=f"{type(exc).__name__}: {exc}")
    return RunResult(spec=spec, outcomes={"targets": runs.to_dict("list")})


def runs_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Every finished run's targets, with its draw and replicate."""
    frames = []
    for result in results:
        if result.error is None:
            frame = pd.DataFrame(result.outcomes["targets"], columns=COLUMNS)
            labels = dict(result.spec.labels)
            frames.append(frame.assign(draw=labels["draw"], replicate=labels["replicate"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*COLUMNS, "draw", "replicate"])


def bands(runs: pd.DataFrame) -> pd.DataFrame:
    """year, target, firm, lo, median, hi: the 90 % band and median over draws x seeds."""
    return quantiles(runs, ["year", "target", "firm"], BAND).rename(columns=BAND_COLUMNS)


def predictions(band: pd.DataFrame, observed: pd.DataFrame, fit_until: int) -> pd.DataFrame:
    """The model's median, the same anchored on the last observation, persistence and drift, for
    every observed year and target the model simulates."""
    model = band[["year", "target", "firm"]].assign(method=MODEL, value=band["median"])
    years = sorted(set(band["year"]))
    naive = naive_forecasts(observed, fit_until, [y for y in years if y > fit_until])
    return pd.concat([model, anchored_forecasts(model, observed, fit_until), naive], ignore_index=True)
