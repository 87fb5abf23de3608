"""Uncertainties a scenario declares (issue 13): validated once, and the split of an outcome's spread
between the parameters and the seeds."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from calibration.priors import PRIORS
from model.scenario import ScenarioError, build_scenario, load_scenario, resolve_raw, with_values
from report.uncertainty import variance_split


def _with(uncertainties: dict) -> object:
    raw, _ = resolve_raw("baseline")
    data = copy.deepcopy(raw)
    data["uncertainties"] = uncertainties
    return build_scenario(data)


def test_a_declared_range_is_typed_and_survives_setting_values():
    scenario = _with({"segments.cloud_ai.capability_elasticity": [1.3, 2], "capability.lag_years": [0.0, 2.0]})
    assert scenario.uncertainties == {"segments.cloud_ai.capability_elasticity": (1.3, 2.0), "capability.lag_years": (0.0, 2.0)}
    assert with_values(scenario, {"segments.cloud_ai.capability_elasticity": 1.5}).uncertainties == scenario.uncertainties


@pytest.mark.parametrize("path, bounds, says", [
    ("segments.cloud_ai.capability_elasticity", [2.0, 1.3], "lo 2 is not below hi 1.3"),
    ("segments.cloud_ai.capability_elasticity", [1.0, 9.0], "out of range"),
    ("segments.cloud_ai.capability_elasticity", [1.0], "expected [lo, hi]"),
    ("firms.amazon.ai_budget_bn", [10.0, 60.0], "a lever"),
    ("firms.azure.segments.cloud_ai.allocation", [0.2, 0.4], "a lever"),
    ("valuation.discount_rate", [0.06, 0.12], "frames or values the run"),
    ("market.no_such_thing", [0.0, 1.0], "unknown parameter"),
])
def test_a_bad_uncertainty_is_refused_naming_it(path, bounds, says):
    with pytest.raises(ScenarioError) as caught:
        _with({path: bounds})
    assert f"uncertainties.{path}" in str(caught.value) and says in str(caught.value)


def test_the_cli_refuses_a_reversed_range_in_one_line(tmp_path):
    scenario = tmp_path / "uncertain.toml"
    scenario.write_text('extends = "baseline"\nname = "uncertain"\n\n[uncertainties]\n'
                        '"segments.cloud_ai.capability_elasticity" = [2.0, 1.0]\n')
    done = subprocess.run([sys.executable, "run.py", "run", "--scenario", str(scenario), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "uncertainties.segments.cloud_ai.capability_elasticity" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_variance_split_recovers_known_parts():
    rng = np.random.default_rng(3)
    points, seeds = 400, 4
    effect = rng.normal(0.0, 2.0, points)  # parameter part: variance 4
    values = np.repeat(effect, seeds) + rng.normal(0.0, 1.0, points * seeds)  # seed part: variance 1
    split = variance_split(values, np.repeat(np.arange(points), seeds))
    assert split.parameters == pytest.approx(4.0, rel=0.15)
    assert split.seeds == pytest.approx(1.0, rel=0.1)
    assert split.parameter_share == pytest.approx(0.8, abs=0.04)


def test_variance_split_of_pure_luck_gives_the_parameters_nothing_real():
    rng = np.random.default_rng(4)
    values = rng.normal(0.0, 1.0, 200 * 5)
    split = variance_split(values, np.repeat(np.arange(200), 5))
    assert split.parameter_share < 0.05
    with pytest.raises(ValueError):
        variance_split(np.arange(3.0), np.arange(3))


def _compare(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "compare", *args, "--out", str(tmp_path / "c"), "--quiet"],
                          capture_output=True, text=True)


def test_paired_runs_share_the_parameter_draws_and_the_seeds(tmp_path):
    """The same plan under two names differs by nothing, run by run, only if both got the same draw and seed."""
    twin = tmp_path / "twin.toml"
    twin.write_text('extends = "baseline"\nname = "twin"\n')
    done = _compare(tmp_path, "baseline", str(twin), "--replicates", "2", "--draws", "3", "--years", "3")
    assert done.returncode == 0, done.stderr
    runs = pd.read_csv(tmp_path / "c" / "runs.csv")
    assert runs["replicate"].nunique() == 6
    seeds = runs.groupby(["replicate", "scenario"])["seed"].first().unstack()
    assert (seeds["baseline"] == seeds["twin"]).all() and seeds["baseline"].nunique() == 2
    paired = pd.read_csv(tmp_path / "c" / "compare_paired.csv")
    assert (paired["diff_mean"].abs().max(), paired["diff_p5"].abs().max(), paired["diff_p95"].abs().max()) == (0, 0, 0)
    draws = pd.read_csv(tmp_path / "c" / "parameter_draws.csv")
    assert len(draws) == 3 and set(load_scenario("baseline").uncertainties) <= set(draws.columns)
    lags = draws["capability.lag_years"]
    assert (lags == lags.round()).all() and lags.between(0, 2).all()


def test_compare_splits_the_spread_between_draws_and_seeds(tmp_path):
    done = _compare(tmp_path, "jassy_bold", "conservative", "--replicates", "2", "--draws", "4", "--years", "3")
    assert done.returncode == 0, done.stderr
    split = pd.read_csv(tmp_path / "c" / "uncertainty_split.csv")
    amazon = split[(split["firm"] == "amazon") & (split["metric"] == "value_bn")].iloc[0]
    assert amazon["points"] == 4 and amazon["seeds_per_point"] == 2
    assert 0 <= amazon["parameter_share"] <= 1 and amazon["parameter_variance"] > 0


def test_posterior_draws_carry_the_behaviour_not_the_historical_years(tmp_path):
    """A 2023 comparison drawn from the posterior takes the behavioural parameters; 2019-2023's market
    growth and how far 2019's shares were from rest describe the historical years and stay the scenario's."""
    done = _compare(tmp_path, "jassy_bold", "conservative", "--replicates", "2", "--draws", "2", "--years", "2",
                    "--calibration", "data/calibration-2023")
    assert done.returncode == 0, done.stderr
    draws = pd.read_csv(tmp_path / "c" / "parameter_draws.csv")
    posterior = pd.read_csv("data/calibration-2023/posterior.csv")
    carried = [p.path for p in PRIORS if p.behavioural]
    assert set(carried) <= set(draws.columns)
    assert "segments.cloud_ai.base_growth" not in draws and "segments.cloud_ai.rest_at_start" not in draws
    for path in carried:
        assert draws[path].between(posterior[path].min(), posterior[path].max()).all(), path


@pytest.mark.parametrize("args, says", [
    (["--replicates", "1", "--draws", "3"], "--replicates 1"),
    (["--calibration", "data/calibration-2023"], "give --draws"),
    (["--draws", "-1"], "--draws -1"),
    (["--draws", "2", "--calibration", "no/such/folder"], "no/such/folder"),
])
def test_compare_refuses_bad_draws_in_one_line(tmp_path, args, says):
    done = _compare(tmp_path, "jassy_bold", "conservative", "--years", "2", *args)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_compare_refuses_plans_with_different_uncertainties(tmp_path):
    other = tmp_path / "narrow.toml"
    other.write_text('extends = "baseline"\nname = "narrow"\n\n[uncertainties]\n"capability.lag_years" = [0, 1]\n')
    done = _compare(tmp_path, "baseline", str(other), "--replicates", "2", "--draws", "2", "--years", "2")
    assert done.returncode == 2 and "different [uncertainties]" in done.stderr
    assert not (tmp_path / "c").exists()
