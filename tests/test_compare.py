"""`run.py compare` end to end, and the paired and distribution tables it is built on."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.params import MAJOR_IDS
from model.scenario import load_scenario
from report.compare import FIRM_METRICS, LOWER_IS_BETTER, distribution_table, paired_table
from sweeps.execute import derive_seeds

ROOT = Path(__file__).resolve().parent.parent
FIRST, OTHER, THIRD = "jassy_bold", "conservative", "baseline"
REPLICATES, YEARS = 4, 3
COMPARE_FILES = {
    "compare.csv", "compare_paired.csv", "runs.csv", "share_bands.csv", "valuation_paired.csv", "verdict_sensitivity.csv",
    "uncertainty_split.csv", "parameter_draws.csv",
    "compare_shares.png", "compare_paired.png", "compare.json",
}
DISTRIBUTION_COLUMNS = ["scenario", "firm", "metric", "n", "mean", "median", "p5", "p95"]
PAIRED_COLUMNS = [
    "first", "other", "firm", "metric", "n", "diff_mean", "diff_median", "diff_p5", "diff_p95", "mean_ci90_low",
    "mean_ci90_high", "first_wins_share", "ties_share",
]
REL = 1e-8  # the CSVs hold 10 significant digits


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The same small comparison with 1 and 2 workers, and a three-way one, run side by side."""
    base = tmp_path_factory.mktemp("compare")
    common = ["--replicates", str(REPLICATES), "--years", str(YEARS)]
    procs = {
        1: start("compare", FIRST, OTHER, *common, "--out", str(base / "w1"), "--workers", "1"),
        2: start("compare", FIRST, OTHER, *common, "--out", str(base / "w2"), "--workers", "2"),
        3: start("compare", FIRST, OTHER, THIRD, "--replicates", "3", "--years", "2", "--out", str(base / "three"),
                 "--workers", "1", "--quiet"),
    }
    results = {key: finish(proc) for key, proc in procs.items()}
    outs = {1: base / "w1", 2: base / "w2", 3: base / "three"}
    return {key: (outs[key], results[key]) for key in procs}


@pytest.fixture(scope="module")
def w1(compared):
    out, result = compared[1]
    assert result.returncode == 0, result.stderr
    return out, result


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / name)


def test_compare_exits_0_and_writes_every_file(w1):
    out, result = w1
    assert {p.name for p in out.iterdir()} == COMPARE_FILES
    for png in ("compare_shares.png", "compare_paired.png"):
        data = (out / png).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000, f"{png} is not a real plot"
    assert "Traceback" not in result.stderr
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "a staging folder was left behind"


def test_compare_csv_has_both_scenarios_every_major_and_every_metric(w1):
    out, _ = w1
    table = read(out, "compare.csv")
    assert list(table.columns) == DISTRIBUTION_COLUMNS
    assert set(table["scenario"]) == {FIRST, OTHER}
    assert not table.duplicated(["scenario", "firm", "metric"]).any()
    for scenario in (FIRST, OTHER):
        params = load_scenario(scenario)
        rows = table[table["scenario"] == scenario]
        for firm in MAJOR_IDS:
            metrics = set(rows.loc[rows["firm"] == firm, "metric"])
            wanted = set(FIRM_METRICS) | {f"final_share_{seg}" for seg in params.firms[firm].segments}
            assert wanted <= metrics, f"{scenario}/{firm} lacks {sorted(wanted - metrics)}"
        core = rows[rows["firm"].isin(MAJOR_IDS) & rows["metric"].isin(FIRM_METRICS)]
        assert (core["n"] == REPLICATES).all()
        market = set(rows.loc[rows["firm"] == "market", "metric"])
        assert {"acquisitions", "blocked_acquisitions", "startups_alive"} <= market


def test_compare_csv_matches_the_runs(w1):
    """Each row's statistics are those of the runs in runs.csv."""
    out, _ = w1
    table = read(out, "compare.csv").set_index(["scenario", "firm", "metric"])
    runs = read(out, "runs.csv")
    assert list(runs.columns) == ["scenario", "replicate", "seed", "firm", "metric", "value"]
    assert len(runs) == len(runs.drop_duplicates(["scenario", "replicate", "firm", "metric"]))
    for key, group in runs.groupby(["scenario", "firm", "metric"]):
        values = group["value"].dropna().to_numpy()
        row = table.loc[key]
        assert row["n"] == values.size
        if values.size == 0:
            continue
        expected = [values.mean(), np.median(values), np.quantile(values, 0.05), np.quantile(values, 0.95)]
        got = row[["mean", "median", "p5", "p95"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, rtol=REL, atol=1e-9, err_msg=str(key))
        assert row["p5"] <= row["median"] <= row["p95"]
        assert row["p5"] - 1e-9 <= row["mean"] <= row["p95"] + 1e-9
    assert len(table) == runs.groupby(["scenario", "firm", "metric"]).ngroups


def test_paired_differences_match_the_runs(w1):
    out, _ = w1
    paired = read(out, "compare_paired.csv")
    runs = read(out, "runs.csv")
    assert list(paired.columns) == PAIRED_COLUMNS
    assert set(paired["first"]) == {FIRST} and set(paired["other"]) == {OTHER}
    assert not paired.duplicated(["firm", "metric"]).any()
    wide = runs.pivot_table(index=["firm", "metric", "replicate"], columns="scenario", values="value", dropna=False)
    indexed = paired.set_index(["firm", "metric"])
    checked = 0
    for firm, metric in [("amazon", "cumulative_profit_bn"), ("amazon", "cumulative_ai_spend_bn"),
                         ("amazon", "final_cash_bn"), ("azure", "cumulative_profit_bn"),
                         ("amazon", "final_share_cloud_ai"), ("market", "acquisitions")]:
        pair = wide.loc[(firm, metric)]
        first, other = pair[FIRST].to_numpy(), pair[OTHER].to_numpy()
        row = indexed.loc[(firm, metric)]
        assert row["n"] == REPLICATES
        assert row["diff_mean"] == pytest.approx(first.mean() - other.mean(), rel=1e-7, abs=1e-9)
        diff = first - other
        wins = diff < 0 if metric in LOWER_IS_BETTER else diff > 0
        assert row["first_wins_share"] == pytest.approx(wins.mean())
        assert row["ties_share"] == pytest.approx((diff == 0).mean())
        checked += 1
    assert checked == 6
    # Amazon's spend ramps 23 -> 37 a year in jassy_bold's first three years and stays 11-16 in
    # conservative (about 90 against 40 in all): spending more is not a win.
    spend = indexed.loc[("amazon", "cumulative_ai_spend_bn")]
    assert spend["diff_mean"] > 40 and spend["first_wins_share"] == 0.0


def test_paired_table_is_internally_consistent(w1):
    out, _ = w1
    paired = read(out, "compare_paired.csv")
    assert paired["first_wins_share"].between(0, 1).all()
    assert paired["ties_share"].between(0, 1).all()
    assert (paired["first_wins_share"] + paired["ties_share"] <= 1 + 1e-12).all()
    assert (paired["diff_p5"] <= paired["diff_median"] + 1e-9).all()
    assert (paired["diff_median"] <= paired["diff_p95"] + 1e-9).all()
    assert (paired["diff_p5"] <= paired["diff_mean"] + 1e-9).all() and (paired["diff_mean"] <= paired["diff_p95"] + 1e-9).all()
    several = paired[paired["n"] > 1]
    assert len(several) > 0.9 * len(paired)
    assert (several["mean_ci90_low"] <= several["diff_mean"] + 1e-9).all()
    assert (several["diff_mean"] <= several["mean_ci90_high"] + 1e-9).all()
    # one pair (a firm that entered cloud_ai by an acquisition in a single seed): no interval
    single = paired[paired["n"] == 1]
    assert single["mean_ci90_low"].isna().all() and single["mean_ci90_high"].isna().all()
    assert (paired["n"].between(1, REPLICATES)).all()
    distribution = read(out, "compare.csv")
    keys = set(zip(distribution.loc[distribution["scenario"] == FIRST, "firm"],
                   distribution.loc[distribution["scenario"] == FIRST, "metric"]))
    assert set(zip(paired["firm"], paired["metric"])) == keys, "every outcome of the first scenario is paired"


def test_both_scenarios_use_the_same_seeds(w1):
    out, _ = w1
    meta = json.loads((out / "compare.json").read_text())
    assert meta["scenarios"] == [FIRST, OTHER]
    assert meta["replicates"] == REPLICATES and meta["years"] == YEARS and meta["failed_runs"] == []
    assert meta["seeds"] == derive_seeds(1, REPLICATES)
    assert len(set(meta["seeds"])) == REPLICATES
    runs = read(out, "runs.csv")
    by_scenario = {
        name: group.drop_duplicates("replicate").sort_values("replicate")["seed"].tolist()
        for name, group in runs.groupby("scenario")
    }
    assert by_scenario == {FIRST: meta["seeds"], OTHER: meta["seeds"]}
    assert (runs.groupby(["scenario", "replicate"])["seed"].nunique() == 1).all()


def test_share_bands(w1):
    out, _ = w1
    bands = read(out, "share_bands.csv")
    assert list(bands.columns) == ["scenario", "segment", "firm", "year", "p5", "median", "p95"]
    assert set(bands["scenario"]) == {FIRST, OTHER}
    start_year = load_scenario(FIRST).start_year
    assert sorted(bands["year"].unique()) == list(range(start_year - 1, start_year + YEARS))
    assert ((bands["p5"] <= bands["median"] + 1e-12) & (bands["median"] <= bands["p95"] + 1e-12)).all()
    assert bands[["p5", "median", "p95"]].stack().between(0, 1).all()


def test_verdict_names_both_scenarios_and_amazon(w1):
    _, result = w1
    out = result.stdout
    assert f"{FIRST} vs {OTHER}" in out
    verdict = [line for line in out.splitlines() if line.strip().startswith("Verdict:")]
    assert len(verdict) == 1
    assert FIRST in verdict[0] and OTHER in verdict[0] and "Amazon" in verdict[0]
    assert any(line.split()[:1] == ["amazon"] for line in out.splitlines()), "no amazon row in the verdict table"


def test_results_do_not_depend_on_the_number_of_workers(compared, w1):
    out1, _ = w1
    out2, result2 = compared[2]
    assert result2.returncode == 0, result2.stderr
    for name in ("compare.csv", "compare_paired.csv", "runs.csv", "share_bands.csv"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), f"{name} differs between 1 and 2 workers"


def test_a_third_scenario_is_paired_with_the_first(compared):
    out, result = compared[3]
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "--quiet prints nothing"
    paired = read(out, "compare_paired.csv")
    assert set(paired["first"]) == {FIRST}
    assert set(paired["other"]) == {OTHER, THIRD}
    pairs = {other: set(zip(g["firm"], g["metric"])) for other, g in paired.groupby("other")}
    assert pairs[OTHER] == pairs[THIRD]
    assert {(f, "cumulative_profit_bn") for f in MAJOR_IDS} <= pairs[THIRD]
    assert (paired["n"] == 3).all()
    assert set(read(out, "compare.csv")["scenario"]) == {FIRST, OTHER, THIRD}
    assert json.loads((out / "compare.json").read_text())["scenarios"] == [FIRST, OTHER, THIRD]


# ------------------------------------------------------------------ bad input
BAD_INPUT = {
    "one scenario": [FIRST],
    "unknown scenario": [FIRST, "no_such_scenario"],
    "same scenario twice": [FIRST, FIRST],
    "same scenario by name and path": [FIRST, f"scenarios/{FIRST}.toml"],
    "zero replicates": [FIRST, OTHER, "--replicates", "0"],
    "replicates not a number": [FIRST, OTHER, "--replicates", "abc"],
    "unknown --set path": [FIRST, OTHER, "--set", "firms.amazon.ai_budget=5"],
    "out-of-range --set value": [FIRST, OTHER, "--set", "firms.amazon.ai_budget_bn=-5"],
    "zero workers": [FIRST, OTHER, "--workers", "0"],
}
EXPECTED_WORDS = {
    "one scenario": "two scenarios", "unknown scenario": "no_such_scenario", "same scenario twice": "twice",
    "same scenario by name and path": "twice", "zero replicates": "--replicates", "replicates not a number": "abc",
    "unknown --set path": "firms.amazon.ai_budget", "out-of-range --set value": "ai_budget_bn", "zero workers": "--workers",
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    procs = {}
    for case, args in BAD_INPUT.items():
        folder = base / case.replace(" ", "_").replace("-", "")
        folder.mkdir()
        defaults = [arg for option in ("--replicates", "--workers") if option not in args for arg in (option, "1")]
        procs[case] = (folder, start("compare", *args, *defaults, "--years", "1", "--out", str(folder / "out")))
    return {case: (folder, finish(proc)) for case, (folder, proc) in procs.items()}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_exits_2_with_one_error_line_and_no_output(bad_runs, case):
    folder, result = bad_runs[case]
    assert result.returncode == 2, f"{case}: exit {result.returncode}: {result.stderr}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), f"{case}: {result.stderr!r}"
    assert "Traceback" not in result.stderr
    assert EXPECTED_WORDS[case] in lines[0]
    assert result.stdout == ""
    assert list(folder.iterdir()) == [], f"{case}: something was written: {list(folder.iterdir())}"


def test_negative_seed_is_bad_input(tmp_path):
    result = finish(start("compare", FIRST, OTHER, "--seed", "-1", "--replicates", "1", "--years", "1",
                          "--workers", "1", "--out", str(tmp_path / "out")))
    assert result.returncode == 2, result.stderr[-300:]
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------ the tables, on hand-made outcomes
def outcomes_frame(values: dict[str, dict[tuple[str, str], list[float]]]) -> pd.DataFrame:
    rows = []
    for scenario, by_key in values.items():
        for (firm, metric), series in by_key.items():
            for replicate, value in enumerate(series):
                rows.append({"scenario": scenario, "replicate": replicate, "seed": 100 + replicate, "firm": firm,
                             "metric": metric, "value": value})
    return pd.DataFrame(rows)


NAN = float("nan")
HAND = {
    "A": {
        ("amazon", "cumulative_profit_bn"): [10.0, 20.0, 30.0, 40.0],
        ("amazon", "cumulative_ai_spend_bn"): [1.0, 2.0, 3.0, 4.0],
        ("amazon", "return_on_ai_spend"): [0.5, NAN, 1.0, 2.0],
        ("market", "acquisitions"): [3.0, 3.0, 3.0, 3.0],
        ("azure", "return_on_ai_spend"): [NAN, NAN, NAN, NAN],
    },
    "B": {
        ("amazon", "cumulative_profit_bn"): [5.0, 25.0, 25.0, 30.0],
        ("amazon", "cumulative_ai_spend_bn"): [2.0, 2.0, 1.0, 5.0],
        ("amazon", "return_on_ai_spend"): [0.25, 0.5, NAN, 1.0],
        ("market", "acquisitions"): [3.0, 3.0, 3.0, 3.0],
        ("azure", "return_on_ai_spend"): [1.0, NAN, NAN, NAN],
    },
}


def test_distribution_table_known_answers():
    table = distribution_table(outcomes_frame(HAND)).set_index(["scenario", "firm", "metric"])
    assert list(table.reset_index().columns) == DISTRIBUTION_COLUMNS
    assert len(table) == 10
    profit = table.loc[("A", "amazon", "cumulative_profit_bn")]
    # 10, 20, 30, 40: the 5th percentile lies 0.15 of the way from 10 to 20, the 95th 0.85 from 30 to 40.
    assert profit.to_dict() == pytest.approx({"n": 4, "mean": 25.0, "median": 25.0, "p5": 11.5, "p95": 38.5})
    spend_b = table.loc[("B", "amazon", "cumulative_ai_spend_bn")]
    assert spend_b.to_dict() == pytest.approx({"n": 4, "mean": 2.5, "median": 2.0, "p5": 1.15, "p95": 4.55})
    roi = table.loc[("A", "amazon", "return_on_ai_spend")]  # NaN (no spend) is left out: 0.5, 1, 2
    assert roi.to_dict() == pytest.approx({"n": 3, "mean": 3.5 / 3, "median": 1.0, "p5": 0.55, "p95": 1.9})
    single = table.loc[("B", "azure", "return_on_ai_spend")]
    assert single.to_dict() == pytest.approx({"n": 1, "mean": 1.0, "median": 1.0, "p5": 1.0, "p95": 1.0})
    empty = table.loc[("A", "azure", "return_on_ai_spend")]
    assert empty["n"] == 0 and all(math.isnan(empty[c]) for c in ("mean", "median", "p5", "p95"))
    assert table["n"].dtype.kind == "i"


def paired_rows(outcomes, scenarios):
    return paired_table(outcomes, scenarios).set_index(["other", "firm", "metric"])


T_95_3DF = 2.353363434801823  # Student's t, 95th percentile, 3 degrees of freedom (tables)


def test_paired_table_known_answers():
    assert list(paired_table(outcomes_frame(HAND), ["A", "B"]).columns) == PAIRED_COLUMNS
    table = paired_rows(outcomes_frame(HAND), ["A", "B"])
    assert set(table["first"]) == {"A"}
    # profit differences A - B, seed by seed: 5, -5, 5, 10 (higher is better)
    profit = table.loc[("B", "amazon", "cumulative_profit_bn")]
    sd = math.sqrt(((5 - 3.75) ** 2 + (-5 - 3.75) ** 2 + (5 - 3.75) ** 2 + (10 - 3.75) ** 2) / 3)
    assert profit.drop("first").to_dict() == pytest.approx({
        "n": 4, "diff_mean": 3.75, "diff_median": 5.0, "diff_p5": -3.5, "diff_p95": 9.25,
        "mean_ci90_low": 3.75 - T_95_3DF * sd / 2, "mean_ci90_high": 3.75 + T_95_3DF * sd / 2,
        "first_wins_share": 0.75, "ties_share": 0.0,
    })
    # AI spend differences: -1, 0, 2, -1; lower is better, so A wins where it spent less (2 of 4), ties once
    spend = table.loc[("B", "amazon", "cumulative_ai_spend_bn")]
    assert spend["diff_mean"] == pytest.approx(0.0) and spend["diff_median"] == pytest.approx(-0.5)
    assert spend["first_wins_share"] == 0.5 and spend["ties_share"] == 0.25
    # ROI: only seeds 0 and 3 have both values: 0.25 and 1.0
    roi = table.loc[("B", "amazon", "return_on_ai_spend")]
    assert roi["n"] == 2 and roi["diff_mean"] == pytest.approx(0.625) and roi["first_wins_share"] == 1.0
    # all ties
    acq = table.loc[("B", "market", "acquisitions")]
    assert acq["diff_mean"] == 0.0 and acq["first_wins_share"] == 0.0 and acq["ties_share"] == 1.0
    # no seed with both values: no row at all
    assert ("B", "azure", "return_on_ai_spend") not in table.index
    assert len(table) == 4


def test_paired_table_pairs_by_replicate_not_by_row_order():
    outcomes = outcomes_frame(HAND)
    shuffled = outcomes.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = paired_rows(outcomes, ["A", "B"]).sort_index()
    b = paired_rows(shuffled, ["A", "B"]).sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_paired_table_lower_is_better_only_for_ai_spend():
    assert LOWER_IS_BETTER == {"cumulative_ai_spend_bn"}
    # The same differences under a higher-is-better name count the other way.
    renamed = outcomes_frame({s: {("amazon", "final_cash_bn"): v[("amazon", "cumulative_ai_spend_bn")]} for s, v in HAND.items()})
    cash = paired_rows(renamed, ["A", "B"]).loc[("B", "amazon", "final_cash_bn")]
    assert cash["first_wins_share"] == 0.25 and cash["ties_share"] == 0.25


def test_paired_table_with_three_scenarios_pairs_the_first_with_each_other():
    three = {**HAND, "C": HAND["A"]}
    table = paired_rows(outcomes_frame(three), ["A", "B", "C"])
    assert set(table.index.get_level_values("other")) == {"B", "C"}
    same = table.loc["C"]
    assert (same["diff_mean"] == 0).all() and (same["ties_share"] == 1).all() and (same["first_wins_share"] == 0).all()
    assert table.loc[("B", "amazon", "cumulative_profit_bn"), "diff_mean"] == pytest.approx(3.75)
    # the order of the scenarios decides which one is "first"
    flipped = paired_rows(outcomes_frame(HAND), ["B", "A"]).loc[("A", "amazon", "cumulative_profit_bn")]
    assert flipped["diff_mean"] == pytest.approx(-3.75) and flipped["first_wins_share"] == 0.25


def test_verdict_is_incremental_value_with_its_horizon_and_rate_grid(w1):
    out, result = w1
    text = result.stdout
    assert "Amazon's incremental value" in text and all(f"{h} years" in text for h in (5, 10, 20))
    assert all(f"{r} %" in text for r in (6, 9, 12))
    paired = read(out, "compare_paired.csv").set_index(["other", "firm", "metric"])
    inc = read(out, "valuation_paired.csv")
    assert {"incremental_value_bn", "irr", "break_even_year", "discount_rate"} <= set(inc.columns)
    for (other, firm), rows in inc.groupby(["other", "firm"]):
        assert rows["incremental_value_bn"].mean() == pytest.approx(paired.loc[(other, firm, "value_bn"), "diff_mean"])
        parts = rows["incremental_explicit_bn"] + rows["incremental_terminal_bn"]
        assert np.allclose(parts, rows["incremental_value_bn"])
    grid = read(out, "verdict_sensitivity.csv")
    at_default = grid[(grid["horizon_years"] == YEARS) & (grid["discount_rate"] == 0.09)].set_index(["other", "firm"])
    for (other, firm), row in at_default.iterrows():
        assert row["diff_mean"] == pytest.approx(paired.loc[(other, firm, "value_bn"), "diff_mean"])
