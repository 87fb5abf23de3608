"""Calibration to 2019-2023 and the hindcast: the capex mapping, parameter recovery on synthetic
history, the commands' files, determinism across workers, longer history files, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import run as cli
from calibration.fit import HistoryModel, Targets, calibrate, summary
from calibration.priors import PRIORS, Prior
from calibration.history import load_history
from calibration.replay import AWS_NET_ADDITIONS_BN, CAPEX_AI_RAMP_START, ai_spend_bn, ramp, replay, replayed_inputs
from calibration.simulate import SIMULATED_TARGETS, mean_over_seeds, over_years, simulate
from model.race import AIRaceModel
from model.scenario import load_scenario, with_values
from sweeps.execute import derive_seeds

HISTORY = Path(__file__).resolve().parents[2] / "shared" / "history"
START = "history_2019"
SMALL = ["--population", "16", "--generations", "2", "--replicates", "2", "--quiet"]


def observed_targets(history, first: int, last: int) -> pd.DataFrame:
    seen = history.targets(first, last)
    return seen[seen["target"].isin(SIMULATED_TARGETS)].reset_index(drop=True)


@pytest.fixture(scope="module")
def history():
    return load_history(HISTORY)


@pytest.fixture(scope="module")
def small_calibration(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "cal"
    assert cli.main(["calibrate", "--history", str(HISTORY), "--fit-until", "2021", "--out", str(out), "--workers", "1",
                     *SMALL]) == 0
    return out


# ---------------------------------------------------------------- the capex mapping
def test_capex_maps_to_the_baselines_2023_ai_spend_and_ramps_down_before(history):
    base = load_scenario("baseline")
    spend = ai_spend_bn(history.capex, base, 2019).set_index(["firm", "year"])["ai_spend_bn"]
    for firm in ("amazon", "azure", "google_cloud", "walmart"):
        assert spend[(firm, 2023)] == pytest.approx(base.firms[firm].initial_ai_spend_bn)
    capex = history.capex.set_index(["firm", "year"])["capex_bn"]
    a = base.firms["azure"].initial_ai_spend_bn / capex[("azure", 2023)]
    assert spend[("azure", 2019)] == pytest.approx(capex[("azure", 2019)] * a * CAPEX_AI_RAMP_START)
    assert spend[("azure", 2025)] == pytest.approx(capex[("azure", 2025)] * a)
    # Amazon's capex of the years with a segment figure counts as AWS's additions did
    aws = AWS_NET_ADDITIONS_BN
    assert spend[("amazon", 2019)] == pytest.approx(15.0 * aws[2019] / aws[2023] * CAPEX_AI_RAMP_START)
    assert spend[("amazon", 2021)] == pytest.approx(15.0 * aws[2021] / aws[2023] * ramp(2021, 2019))
    assert spend[("amazon", 2025)] == pytest.approx(capex[("amazon", 2025)] * 15.0 / capex[("amazon", 2023)])


def test_history_2019_starts_from_the_mapped_2019_spend_and_replays_the_budgets(history):
    start = load_scenario(START)
    values, schedules = replayed_inputs(history, start, load_scenario("baseline"))
    for path, value in values.items():
        assert float(eval_path(start, path)) == pytest.approx(value, rel=2e-3), path  # the file rounds to 3 digits
    sc = replay(history, start, load_scenario("baseline"))
    assert sc.schedules["firms.amazon.policy"][2020] == "accelerate"
    model = AIRaceModel(sc, rng=1)
    model.step()
    row = model.majors["amazon"].row
    assert model.ledger.ai_budget_bn[row] == pytest.approx(schedules["firms.amazon.ai_budget_bn"][2020])
    assert model.majors["amazon"].strategy == "accelerate"


def eval_path(scenario, path: str):
    node = scenario
    parts = path.split(".")
    while parts:
        head = parts.pop(0)
        node = getattr(node, head)
        if isinstance(node, dict):
            node = node[parts.pop(0)]
    return node


# ---------------------------------------------------------------- the method finds known parameters
def test_parameter_recovery_on_synthetic_history(history, tmp_path):
    """Synthetic history from known parameters (other seeds than the fit's): the posterior's 90 %
    interval holds each true value, and the data narrow the market's growth to under half its prior."""
    truth = {"segments.cloud_ai.base_growth": 0.3, "market.adjustment_speed": 0.6}
    priors = tuple(p for p in PRIORS if p.path in truth)
    start = replay(history, over_years(load_scenario(START), 2023), load_scenario("baseline"))
    synthetic = mean_over_seeds(simulate(with_values(start, truth), derive_seeds(99, 8)))
    observed = observed_targets(history, 2020, 2023)
    observed = observed.drop(columns="value").merge(synthetic, on=["year", "target", "firm"], how="inner")
    targets = Targets.of(observed)
    model = HistoryModel(start, tuple(derive_seeds(5, 8)), tuple(targets.values), priors)
    posterior = calibrate(model, targets, population=40, generations=4, seed=3, workers=2)
    table = summary(posterior.particles, priors).set_index("parameter")
    for path, value in truth.items():
        assert table.loc[path, "q05"] <= value <= table.loc[path, "q95"], table
    assert table.loc["segments.cloud_ai.base_growth", "identified"], table


# ---------------------------------------------------------------- the commands
def test_calibrate_writes_the_posterior_plots_and_report(small_calibration):
    files = {p.name for p in small_calibration.iterdir()}
    assert {"posterior.csv", "posterior_summary.csv", "fit.csv", "fit_vs_history.png", "posterior.png",
            "identification.md", "calibration.json", "posterior_correlations.csv"} <= files
    posterior = pd.read_csv(small_calibration / "posterior.csv")
    assert list(posterior.columns) == [p.path for p in PRIORS] + ["weight"]
    assert len(posterior) == 16 and posterior["weight"].sum() == pytest.approx(1.0)
    for p in PRIORS:
        assert posterior[p.path].between(p.lo, p.hi).all()
    meta = json.loads((small_calibration / "calibration.json").read_text())
    assert meta["fit_until"] == 2021 and meta["start_year"] == 2020 and meta["scenario"] == START
    fit = pd.read_csv(small_calibration / "fit.csv")
    assert fit["year"].between(2020, 2021).all() and {"lo", "median", "hi", "observed"} <= set(fit.columns)
    assert "| parameter |" in (small_calibration / "identification.md").read_text()


def test_the_calibration_is_the_same_on_one_worker_or_two(small_calibration, tmp_path):
    out = tmp_path / "two"
    assert cli.main(["calibrate", "--history", str(HISTORY), "--fit-until", "2021", "--out", str(out), "--workers", "2",
                     *SMALL]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "posterior.csv"), pd.read_csv(small_calibration / "posterior.csv"))


def test_hindcast_scores_the_years_after_the_cutoff_beside_the_naive_forecasts(small_calibration, tmp_path):
    out = tmp_path / "hind"
    assert cli.main(["hindcast", "--history", str(HISTORY), "--calibration", str(small_calibration), "--draws", "4",
                     "--replicates", "2", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    forecast = pd.read_csv(out / "forecast.csv", keep_default_na=False, na_values=[""])
    assert list(forecast.columns) == ["year", "target", "firm", "lo", "median", "hi", "observed"]
    assert forecast["year"].min() == 2020 and forecast["year"].max() == 2023
    assert (forecast["lo"] <= forecast["median"]).all() and (forecast["median"] <= forecast["hi"]).all()
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False, na_values=[""])
    ahead = scores[scores["period"] == "forecast"]
    assert set(ahead["method"]) == {"model", "anchored", "persistence", "drift"} and set(ahead["year"]) == {2022, 2023}
    shares = ahead[ahead["target"] == "cloud_share"]
    assert shares.groupby("method").size().to_dict() == {"anchored": 7, "drift": 7, "model": 7, "persistence": 7}
    summary_table = pd.read_csv(out / "score_summary.csv")
    assert {"method", "group", "period", "n", "mean_error", "error_unit"} == set(summary_table.columns)
    coverage = pd.read_csv(out / "coverage.csv")
    assert coverage["coverage"].between(0, 1).all()
    assert (out / "hindcast.png").stat().st_size > 10_000 and (out / "runs.parquet").exists()


def test_a_longer_history_file_is_scored_in_every_year_it_holds(small_calibration, tmp_path):
    longer = tmp_path / "history"
    shutil.copytree(HISTORY, longer)
    with open(longer / "cloud_market.csv", "a") as handle:
        handle.write('2024,330,30,25,12,4,"synthetic test row",medium\n')
    out = tmp_path / "hind"
    assert cli.main(["hindcast", "--history", str(longer), "--calibration", str(small_calibration), "--draws", "2",
                     "--replicates", "1", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False, na_values=[""])
    assert 2024 in set(scores[(scores["target"] == "cloud_share") & (scores["method"] == "model")]["year"])


COMMITTED = Path(__file__).resolve().parents[1] / "data"


def test_fitted_until_2021_the_committed_calibration_forecasts_2022_2023_cloud_shares_better_than_persistence(tmp_path):
    """Out of sample: data/calibration-2021 saw 2019-2021 only. The model's forecast anchored on
    2021's shares beats persistence (1.43 points) by at least a quarter of a point; the raw
    model's level (its fit misses Azure's rise) is recorded beside it, not required to win."""
    out = tmp_path / "hind"
    assert cli.main(["hindcast", "--history", str(HISTORY), "--calibration", str(COMMITTED / "calibration-2021"),
                     "--out", str(out), "--quiet", "--no-plots"]) == 0
    table = pd.read_csv(out / "score_summary.csv").set_index(["method", "group", "period"])["mean_error"]
    persistence = table[("persistence", "cloud_share", "forecast")]
    assert persistence == pytest.approx(10 / 7, abs=1e-4)
    assert table[("anchored", "cloud_share", "forecast")] <= persistence - 0.25
    assert table[("model", "cloud_share", "forecast")] < table[("drift", "cloud_share", "forecast")]


# ---------------------------------------------------------------- bad input
def bad_history(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "history"
    shutil.copytree(HISTORY, folder)
    edit(folder)
    return folder


@pytest.mark.parametrize("edit, expected", [
    (lambda f: (f / "cloud_market.csv").write_text(
        (f / "cloud_market.csv").read_text().replace("year,market_bn", "year,size_bn")), "market_bn"),
    (lambda f: (f / "capex.csv").write_text((f / "capex.csv").read_text().replace("2019,amazon", "2019,amazonn")),
     "amazonn"),
    (lambda f: (f / "cloud_market.csv").write_text((f / "cloud_market.csv").read_text().replace("2023,270,31", "2023,270,131")),
     "131"),
])
def test_bad_history_is_refused_in_one_line_with_nothing_written(tmp_path, capsys, edit, expected):
    folder = bad_history(tmp_path, edit)
    out = tmp_path / "cal"
    assert cli.main(["calibrate", "--history", str(folder), "--fit-until", "2021", "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("cutoff", ["2030", "2019"])
def test_a_cutoff_outside_the_data_is_refused(tmp_path, capsys, cutoff):
    out = tmp_path / "cal"
    assert cli.main(["calibrate", "--history", str(HISTORY), "--fit-until", cutoff, "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err
    assert cutoff in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_calibration_from_another_model_version_or_cutoff_is_refused(small_calibration, tmp_path, capsys):
    stale = tmp_path / "stale"
    shutil.copytree(small_calibration, stale)
    meta = json.loads((stale / "calibration.json").read_text())
    (stale / "calibration.json").write_text(json.dumps({**meta, "model_version": "0.0.1"}))
    out = tmp_path / "hind"
    assert cli.main(["hindcast", "--calibration", str(stale), "--history", str(HISTORY), "--out", str(out), "--quiet"]) == 2
    assert "model version '0.0.1'" in capsys.readouterr().err
    assert cli.main(["hindcast", "--calibration", str(small_calibration), "--history", str(HISTORY), "--fit-until", "2022",
                     "--out", str(out), "--quiet"]) == 2
    assert "fitted until 2021" in capsys.readouterr().err
    assert cli.main(["hindcast", "--calibration", str(tmp_path / "none"), "--history", str(HISTORY), "--out", str(out)]) == 2
    assert not out.exists()
    (stale / "calibration.json").write_text(json.dumps(meta))
    posterior = pd.read_csv(stale / "posterior.csv").rename(columns={"market.adjustment_speed": "market.speed"})
    posterior.to_csv(stale / "posterior.csv", index=False)
    assert cli.main(["hindcast", "--calibration", str(stale), "--history", str(HISTORY), "--out", str(out), "--quiet"]) == 2
    assert "market.speed" in capsys.readouterr().err
    assert not out.exists()


def test_prior_keys_have_no_dots():
    assert all("." not in p.key for p in PRIORS) and Prior("a.b", 0, 1).key == "a__b"
    assert np.all([p.lo < p.hi for p in PRIORS])
