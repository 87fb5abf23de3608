"""Scenario discovery (issue 13): `explore` end to end, its pairing, its analyses on planted effects,
its bad input, and the EMA Workbench model interface."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from model.params import MAJOR_IDS
from sweeps.design import Factor, sampled_points
from report.uncertainty import mean_interval
from sweeps.explore import PlanRuns, conditions, feature_scores, paired_runs, sobol_indices


def _explore(out, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "explore", *args, "--out", str(out), "--quiet"],
                          capture_output=True, text=True)


SMALL = ("--samples", "10", "--replicates", "2", "--years", "3", "--workers", "2")


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore") / "e"
    done = _explore(out, "jassy_bold", "conservative", *SMALL)
    assert done.returncode == 0, done.stderr
    return out


def test_explore_writes_the_report_and_pairs_every_run(explored):
    for name in ("explore.md", "who_wins.csv", "conditions.csv", "feature_scores.csv", "sobol_indices.csv",
                 "paired_runs.parquet", "who_wins.png", "conditions.png", "feature_scores.png"):
        assert (explored / name).is_file(), name
    meta = json.loads((explored / "explore.json").read_text())
    assert meta["complete"] and meta["runs_paired"] == 20 and meta["points"] == 10
    bold = pd.read_parquet(explored / "jassy_bold" / "runs.parquet").set_index("run_id")
    cautious = pd.read_parquet(explored / "conservative" / "runs.parquet").set_index("run_id")
    factors = list(meta["uncertainties"])
    # run i of each plan: the same draw and the same seed, and two seeds per draw
    assert (bold[["seed", *factors]] == cautious.loc[bold.index, ["seed", *factors]]).all().all()
    assert bold.groupby("point")["seed"].nunique().eq(2).all()
    paired = pd.read_parquet(explored / "paired_runs.parquet").set_index("run_id")
    share = "startups.final_share_cloud_ai"
    assert np.allclose(paired[share], bold[share] - cautious[share])
    wins = pd.read_csv(explored / "who_wins.csv")
    amazon = wins[wins["firm"] == "amazon"].iloc[0]
    column = paired["amazon.value_bn"]
    assert amazon["mean"] == pytest.approx(column.mean()) and amazon["share_positive"] == pytest.approx((column > 0).mean())
    assert amazon["mean_ci_low"] < amazon["mean"] < amazon["mean_ci_high"]
    assert set(pd.read_csv(explored / "conditions.csv")["firm"]) == set(MAJOR_IDS)
    report = (explored / "explore.md").read_text()
    assert "# Does jassy_bold pay against conservative?" in report and "For **amazon**" in report


def test_explore_resumes_without_running_again(explored):
    journal = (explored / "jassy_bold" / "journal.jsonl").read_bytes()
    done = subprocess.run([sys.executable, "run.py", "explore", "jassy_bold", "conservative", *SMALL,
                           "--out", str(explored)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (explored / "jassy_bold" / "journal.jsonl").read_bytes() == journal
    assert "20 paired runs" in done.stdout


def test_a_different_sample_in_the_same_folder_is_refused(explored):
    done = _explore(explored, "jassy_bold", "conservative", "--samples", "11", "--replicates", "2", "--years", "3")
    assert done.returncode == 2 and "different sweep" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_same_plan_under_two_names_differs_by_nothing(tmp_path):
    twin = tmp_path / "twin.toml"
    twin.write_text('extends = "baseline"\nname = "twin"\n')
    done = _explore(tmp_path / "e", "baseline", str(twin), "--samples", "4", "--replicates", "2", "--years", "2")
    assert done.returncode == 0, done.stderr
    paired = pd.read_parquet(tmp_path / "e" / "paired_runs.parquet")
    assert len(paired) == 8 and (paired[[f"{f}.value_bn" for f in MAJOR_IDS]] == 0).all().all()
    found = pd.read_csv(tmp_path / "e" / "conditions.csv")
    assert (found["box"] == "nowhere in the sample").all()
    (tmp_path / "e" / "notes").mkdir()  # a folder of the user's beside the two sweeps: never taken over
    again = _explore(tmp_path / "e", "baseline", str(twin), "--samples", "4", "--replicates", "2", "--years", "2", "--fresh")
    assert again.returncode == 2 and "notes" in again.stderr and (tmp_path / "e" / "notes").is_dir()


@pytest.mark.parametrize("args, says", [
    (["--firm", "amazn"], "did you mean 'amazon'"),
    (["--metric", "value"], "--metric value"),
    (["--design", "sobol", "--samples", "12"], "power of two"),
    (["--samples", "0"], "--samples"),
    (["--set", "valuation.discount_rate=0.02"], "discount_rate"),
    (["--metric", "cumulative_ai_spend_bn"], "--metric cumulative_ai_spend_bn"),  # a cost: higher is not a gain
    (["--firm", "azure", "--metric", "final_share_advertising"], "azure does not sell in advertising"),
])
def test_explore_refuses_bad_input_in_one_line(tmp_path, args, says):
    done = _explore(tmp_path / "e", "jassy_bold", "conservative", "--years", "2", *args)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "e").exists()


def test_explore_refuses_the_same_plan_twice_and_a_folder_it_did_not_write(tmp_path):
    done = _explore(tmp_path / "e", "baseline", "baseline", "--years", "2")
    assert done.returncode == 2 and "both plans are named baseline" in done.stderr
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("keep")
    done = _explore(mine, "jassy_bold", "conservative", "--years", "2", "--samples", "2")
    assert done.returncode == 2 and "thesis.txt" in done.stderr
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]


def _planted(design_points: list[dict], offset: float = 1.0) -> pd.DataFrame:
    """Paired runs whose Amazon difference is 4 a + b^2 - offset (c does nothing), two identical seeds a point."""
    rows = []
    for point, values in enumerate(design_points):
        effect = 4 * values["a"] + values["b"] ** 2 - offset
        for replicate in range(2):
            rows.append({"run_id": 2 * point + replicate, "point": point, "replicate": replicate, "seed": replicate,
                         **{f"{firm}.value_bn": (effect if firm == "amazon" else 0.0) for firm in MAJOR_IDS}})
    return pd.DataFrame(rows)


FACTORS = [Factor(path="a", low=0.0, high=1.0), Factor(path="b", low=0.0, high=1.0), Factor(path="c", low=0.0, high=1.0)]


def test_sobol_indices_rank_a_planted_effect_on_both_designs():
    from sweeps.explore import explore_points

    for design, samples in (("lhs", 400), ("sobol", 128)):
        points = explore_points(FACTORS, design, samples, seed=3)
        table, notes = sobol_indices(_planted(points), points, FACTORS, design, "value_bn", seed=3)
        assert len(notes) == len(MAJOR_IDS) - 1 and all("same at every" in n or "every sample point" in n for n in notes)
        amazon = table[table["firm"] == "amazon"].set_index("parameter")
        assert set(table["firm"]) == {"amazon"}  # the other firms' differences never change
        # analytic: S1(a) = (16/12) / (16/12 + 4/45) = 0.94, S1(b) = 0.06, S1(c) = 0
        assert amazon.loc["a", "S1"] == pytest.approx(0.94, abs=0.08), design
        assert amazon.loc["c", "S1"] < 0.05 and amazon.loc["a", "S1"] > amazon.loc["b", "S1"]
        if design == "sobol":
            assert amazon.loc["a", "ST"] == pytest.approx(0.94, abs=0.08)


def test_feature_scores_and_the_box_point_at_the_planted_condition():
    points = sampled_points(FACTORS, 300, seed=5, method="lhs")
    paired = _planted(points, offset=3.0)
    scores = feature_scores(paired, points, "value_bn", seed=5)
    amazon = scores[scores["firm"] == "amazon"].set_index("parameter")["score"]
    assert amazon.idxmax() == "a" and amazon["c"] < amazon["a"] / 3
    found, boxes = conditions(paired, points, "value_bn", seed=5)
    box = boxes["amazon"]  # pays where 4 a + b^2 > 3: a above 0.5 to 0.75, depending on b
    assert "a" in box.limits and 0.5 <= box.limits["a"][0] <= 0.75 and box.limits["a"][1] == np.inf
    assert "c" not in box.limits and box.density >= 0.8 and box.coverage >= 0.6
    amazon_row = found[found["firm"] == "amazon"].iloc[0]
    assert amazon_row["lift"] == pytest.approx(box.density / amazon_row["share_of_points"])
    assert found[found["firm"] == "azure"]["box"].iloc[0] == "nowhere in the sample"


def test_the_workbench_model_runs_both_plans_on_the_same_draws():
    import warnings

    from ema_workbench import SequentialEvaluator

    from sweeps.ema import OUTCOMES, race_outcomes, workbench_model

    model = workbench_model(("jassy_bold", "conservative"))
    assert {u.name for u in model.uncertainties} >= {"capability__lag_years", "segments__cloud_ai__capability_elasticity"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SequentialEvaluator(model) as evaluator:
            experiments, outcomes = evaluator.perform_experiments(scenarios=2, policies=2)
    assert set(outcomes) == set(OUTCOMES) and len(experiments) == 4
    assert experiments.groupby("scenario")["plan"].nunique().eq(2).all()
    first = experiments.iloc[0]
    inputs = {u.name: first[u.name] for u in model.uncertainties}
    again = race_outcomes(plan=first["plan"], seed=1, **inputs)
    assert again["amazon_value_bn"] == pytest.approx(outcomes["amazon_value_bn"][0])
    bold, cautious = (outcomes["amazon_value_bn"][i] for i in (experiments.index[experiments["plan"] == p][0]
                                                              for p in ("jassy_bold", "conservative")))
    assert bold != cautious


@pytest.mark.parametrize("talent, uncertain, says", [
    ("supply_growth = 0.03", "", "talent.supply_growth differently (slow_talent 0.03, baseline 0.05)"),
    ("supply_growth = 0.01", "", "slow_talent sets talent.supply_growth = 0.01, outside its declared uncertainty"),
    ("supply_growth = -0.02", '[uncertainties]\n"talent.supply_growth" = [-0.04, 0.0]\n',
     "talent.supply_growth: slow_talent [-0.04, 0], baseline [0.02, 0.1]"),
])
def test_a_plan_whose_difference_is_an_uncertainty_is_refused(tmp_path, talent, uncertain, says):
    """A plan's own setting of an uncertain parameter is what distinguishes it: drawing it in both would erase it."""
    plan = tmp_path / "slow.toml"
    plan.write_text(f'extends = "baseline"\nname = "slow_talent"\n{uncertain}\n[talent]\n{talent}\n')
    for command in (["explore", str(plan), "baseline", "--samples", "2"], ["compare", str(plan), "baseline", "--draws", "2"]):
        done = subprocess.run([sys.executable, "run.py", *command, "--years", "2", "--out", str(tmp_path / "e"), "--quiet"],
                              capture_output=True, text=True)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "e").exists()


def test_fresh_touches_nothing_when_a_sweep_folder_holds_a_users_file(explored):
    before = {p.name: p.read_bytes() for p in explored.iterdir() if p.is_file()}
    note = explored / "conservative" / "notes.txt"
    note.write_text("mine")
    try:
        done = _explore(explored, "jassy_bold", "conservative", *SMALL, "--fresh")
        assert done.returncode == 2 and "notes.txt" in done.stderr
        assert {p.name: p.read_bytes() for p in explored.iterdir() if p.is_file()} == before
        assert (explored / "jassy_bold" / "journal.jsonl").stat().st_size > 0
    finally:
        note.unlink()


def test_the_interval_of_the_mean_is_over_the_draws_when_seeds_share_them():
    rng = np.random.default_rng(4)
    draws = np.repeat(np.arange(200), 4)
    values = rng.normal(0, 10, 200)[draws] + rng.normal(0, 1, draws.size)  # the draws make most of the spread
    mean, half = mean_interval(values, 0.95, draws)
    means = pd.Series(values).groupby(draws).mean()
    assert mean == pytest.approx(values.mean())
    assert half == pytest.approx(1.972 * means.std(ddof=1) / np.sqrt(200), rel=0.01)
    assert half > 1.7 * mean_interval(values, 0.95)[1]  # as if the 800 runs were independent


def test_no_finished_pair_gives_an_empty_table_not_an_error():
    from model.scenario import load_scenario
    from sweeps.sweep import run_schema, yearly_schema

    runs = pd.DataFrame({"run_id": [0, 1], "point": [0, 0], "replicate": [0, 1], "seed": [5, 6], "status": ["error"] * 2,
                         "error": ["boom"] * 2}).reindex(columns=run_schema([]).names)  # as runs.parquet holds them
    yearly = pd.DataFrame(columns=yearly_schema().names)

    failed = PlanRuns("a", runs, yearly)
    assert paired_runs(failed, PlanRuns("b", runs, yearly), "value_bn", load_scenario("baseline").valuation, 3).empty


def test_a_second_explore_on_a_busy_folder_is_refused(explored):
    from sweeps.store import FolderLock

    report = (explored / "explore.md").read_bytes()
    lock = FolderLock(explored).acquire()
    try:
        done = _explore(explored, "jassy_bold", "conservative", *SMALL)
    finally:
        lock.release()
    assert done.returncode == 2 and "running on this folder" in done.stderr
    assert (explored / "explore.md").read_bytes() == report
