"""The scenario library: every file runs from the command line, and each scenario does what its description says.

The behaviour checks average 10-year runs over a few seeds (common random numbers: seed k of
one scenario is compared with seed k of another) and compare each scenario with the one its
description argues against.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import run as cli_main
from model.ledger import Kind
from model.params import CLOUD_PROVIDERS
from model.scenario import SCENARIO_DIR, available_scenarios, load_scenario, scenario_to_dict

from tests.conftest import simulate

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [
    "baseline", "conservative", "jassy_bold", "open_source_wave", "power_crunch", "regulatory_crackdown",
    "rivals_accelerate", "rivals_partner", "startup_boom", "talent_crunch",
]
HISTORICAL = ["history_2019"]  # the 2019 start of calibration (tests/test_calibration.py)
RUN_FILES = {"shares.csv", "firms.csv", "model.csv", "events.csv", "network.graphml", "summary.json"}
YEARS = 10
SEEDS = range(4)


def test_the_library_holds_the_ten_scenarios_and_the_historical_start():
    assert available_scenarios() == sorted(SCENARIOS + HISTORICAL)


# ------------------------------------------------------------------ end to end from the command line
@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """`run.py run --scenario NAME --years 2` for every scenario, started together (they are independent)."""
    base = tmp_path_factory.mktemp("library")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    procs = {}
    for name in SCENARIOS:
        out = base / name
        cmd = [sys.executable, "run.py", "run", "--scenario", name, "--years", "2", "--no-plots", "--quiet", "--out", str(out)]
        procs[name] = (out, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = {}
    for name, (out, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[name] = (out, proc.returncode, stdout, stderr)
    return results


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_runs_end_to_end_from_the_command_line(cli_runs, name):
    out, code, stdout, stderr = cli_runs[name]
    assert code == 0, stderr
    assert stderr == "" and stdout == "", "--quiet prints nothing"
    assert {p.name for p in out.iterdir()} == RUN_FILES
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == name
    assert summary["years"] == 2
    assert summary["end_year"] == summary["start_year"] + 1
    assert summary["parameters"] == json.loads(json.dumps(scenario_to_dict(load_scenario(name, ["years=2"]))))
    model = (out / "model.csv").read_text().strip().splitlines()
    assert len(model) == 1 + 3, "a header, the calibrated 2023 row and two simulated years"


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_loads_by_path_as_well_as_by_name(name, tmp_path, capsys):
    by_name = load_scenario(name)
    assert load_scenario(str(SCENARIO_DIR / f"{name}.toml")) == by_name
    # A copy outside scenarios/ (a user's own file) still finds the parent it extends by name.
    copy = tmp_path / f"{name}.toml"
    shutil.copyfile(SCENARIO_DIR / f"{name}.toml", copy)
    assert load_scenario(str(copy)) == by_name
    # And the command line takes the name and the path alike.
    assert cli_main.main(["show-scenario", name]) == 0
    shown_by_name = capsys.readouterr().out
    assert cli_main.main(["show-scenario", str(copy)]) == 0
    assert capsys.readouterr().out == shown_by_name
    assert json.loads(shown_by_name)["name"] == name


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_has_a_description(name):
    scenario = load_scenario(name)
    assert scenario.name == name, "the file's name field matches its file name"
    assert scenario.description.strip(), f"{name} has an empty description"
    assert len(scenario.description.split()) >= 10, f"{name}: the description should say what the scenario is"


def _parent(name: str) -> str | None:
    return tomllib.loads((SCENARIO_DIR / f"{name}.toml").read_text()).get("extends")


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), tree


EXTENDING = [name for name in SCENARIOS if _parent(name) is not None]


def test_every_scenario_but_baseline_extends_another():
    assert sorted(EXTENDING) == sorted(set(SCENARIOS) - {"baseline"})


@pytest.mark.parametrize("name", EXTENDING)
def test_extending_scenario_differs_from_its_parent(name):
    parent = _parent(name)
    assert parent in SCENARIOS
    child_params = dict(_leaves(scenario_to_dict(load_scenario(name))))
    parent_params = dict(_leaves(scenario_to_dict(load_scenario(parent))))
    for key in ("name", "description"):
        assert child_params.pop(key) != parent_params.pop(key), f"{name} reuses its parent's {key}"
    changed = sorted(k for k in child_params.keys() | parent_params.keys() if child_params.get(k) != parent_params.get(k))
    assert changed, f"{name} is a copy of {parent}: no parameter differs"


def test_scenarios_command_lists_every_scenario_with_its_description(capsys):
    assert cli_main.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in SCENARIOS:
        assert f"{name}\n" in out
        first_words = " ".join(load_scenario(name).description.split()[:6])
        assert first_words in out, f"{name}'s description is not listed"


# ------------------------------------------------------------------ behaviour: each scenario does what it says
@functools.cache
def runs(scenario: str, seeds: int = len(SEEDS)) -> tuple:
    """10-year runs of a scenario, one per seed, shared by every check below."""
    if seeds > len(SEEDS):
        return runs(scenario) + tuple(simulate(seed, YEARS, scenario) for seed in range(len(SEEDS), seeds))
    return tuple(simulate(seed, YEARS, scenario) for seed in range(seeds))


@functools.cache
def _agents(model):
    df = model.datacollector.get_table_dataframe("firms")
    return df[df["year"] >= model.params.start_year]


def mean(metric, scenario: str, seeds: int = len(SEEDS)) -> float:
    return float(np.mean([metric(m) for m in runs(scenario, seeds)]))


def yearly_strategies(model, firm: str) -> list[str]:
    df = _agents(model)
    return df.loc[df["firm"] == firm, "strategy"].tolist()


def yearly(model, firm: str, column: str) -> np.ndarray:
    df = _agents(model)
    return df.loc[df["firm"] == firm, column].to_numpy(dtype=float)


def model_mean(column: str):
    return lambda m: float(m.datacollector.get_model_vars_dataframe()[column].iloc[1:].mean())


def edges(kind: str):
    return lambda m: float(sum(1 for _, _, d in m.graph.edges(data=True) if d["kind"] == kind))


def startups_alive(m) -> float:
    return float(m.datacollector.get_model_vars_dataframe()["startups_alive"].iloc[-1])


def majors_capability(m) -> float:
    led = m.ledger
    return float(led.col("capability")[led.col("kind") == Kind.MAJOR].sum())


def cloud_fees_received(m) -> float:
    df = _agents(m)
    return float(df.loc[df["firm"].isin(CLOUD_PROVIDERS), "fees_received_bn"].sum())


def differentiators_capability(m) -> float:
    """Mean capability of a major in the years it differentiates."""
    df = _agents(m)
    rows = df[(df["kind"] == "major") & (df["strategy"] == "differentiate")]
    return float(rows["capability"].mean())


def assert_every_year(scenario: str, firm: str, strategy: str) -> None:
    for seed, model in zip(SEEDS, runs(scenario)):
        chosen = yearly_strategies(model, firm)
        assert chosen == [strategy] * YEARS, f"{scenario} seed {seed}: {firm} chose {chosen}"


def assert_more(metric, high: str, low: str, what: str, seeds: int = len(SEEDS)) -> None:
    high_value, low_value = mean(metric, high, seeds), mean(metric, low, seeds)
    assert high_value > low_value, f"{what}: {high} {high_value:.4g} vs {low} {low_value:.4g}"


def test_jassy_bold_amazon_accelerates_every_year_and_spends_about_200bn_in_five_years():
    """The article's plan: about $200B over five years. Spend ramps up from 2023's (capex moves part of
    the way each year) and then grows with the budget, which follows revenue."""
    assert_every_year("jassy_bold", "amazon", "accelerate")
    spend = np.mean([yearly(m, "amazon", "ai_spend_bn") for m in runs("jassy_bold")], axis=0)
    assert spend.shape == (YEARS,)
    assert spend[:5].sum() == pytest.approx(200.0, rel=0.15), f"Amazon's yearly AI spend {spend.round(1)}"
    assert np.all(np.diff(spend) > 0), f"the bold plan ramps up and keeps growing: {spend.round(1)}"


def test_conservative_amazon_differentiates_every_year_and_spends_less_than_jassy_bold():
    assert_every_year("conservative", "amazon", "differentiate")
    spend = lambda m: float(yearly(m, "amazon", "ai_spend_bn").mean())  # noqa: E731
    conservative, bold = mean(spend, "conservative"), mean(spend, "jassy_bold")
    assert conservative < 0.5 * bold, f"conservative {conservative:.1f} vs jassy_bold {bold:.1f} $bn a year"
    # "near its pre-plan level (about $15B a year)": at the fitted values it averages about 17 a year.
    assert conservative == pytest.approx(15.0, rel=0.25)


def test_rivals_accelerate_azure_and_google_accelerate_every_year_and_wages_rise():
    for firm in ("amazon", "azure", "google_cloud"):
        assert_every_year("rivals_accelerate", firm, "accelerate")
    assert_more(model_mean("ai_wage_index"), "rivals_accelerate", "jassy_bold", "AI wage index")
    assert_more(model_mean("compute_utilization"), "rivals_accelerate", "jassy_bold", "compute utilization")


def test_rivals_partner_retailers_partner_every_year_and_clouds_earn_more_fees():
    for firm in ("walmart", "shopify", "alibaba"):
        assert_every_year("rivals_partner", firm, "partner")
    assert_more(cloud_fees_received, "rivals_partner", "baseline", "partner fees received by the clouds")
    for model in runs("rivals_partner"):
        clients = {source for source, target, d in model.graph.edges(data=True)
                   if d["kind"] == "partner" and d.get("mode") == "cloud" and target in CLOUD_PROVIDERS}
        assert {"walmart", "shopify", "alibaba"} <= clients


def test_regulatory_crackdown_blocks_more_deals_allows_fewer_and_fines():
    assert_more(edges("blocked"), "regulatory_crackdown", "baseline", "blocked acquisitions")
    assert_more(edges("acquired"), "baseline", "regulatory_crackdown", "acquisitions")
    # Amazon starts at 31 % of cloud, just over the crackdown's 30 % line, and at the fitted values
    # drifts around it: a seed is fined exactly when a firm's share passes the line after the start.
    fined = []
    for seed, model in zip(SEEDS, runs("regulatory_crackdown")):
        shares = model.datacollector.get_table_dataframe("shares")
        over = shares[(shares["year"] >= model.params.start_year) & (shares["firm"] != "others") & (shares["share"] > 0.30)]
        fined.append(model.ledger.col("cum_fines_bn").sum() > 0.0)
        assert fined[-1] == (not over.empty), (seed, fined[-1], over.head())
    assert sum(fined) >= 3, fined
    for model in runs("baseline"):
        assert model.ledger.col("cum_fines_bn").sum() == 0.0


def test_talent_crunch_raises_the_wage_index():
    assert_more(model_mean("ai_wage_index"), "talent_crunch", "baseline", "AI wage index")


def test_power_crunch_raises_utilization_and_lowers_majors_capability():
    assert_more(model_mean("compute_utilization"), "power_crunch", "baseline", "compute utilization")
    # Capacity binds only in some years, so the effect on capability is small (about -2 %,
    # -3.0 +- 0.6 units over 40 seeds); 4 seeds cannot resolve it, 8 do.
    assert_more(majors_capability, "baseline", "power_crunch", "majors' capability", seeds=8)


def test_open_source_wave_lifts_differentiators_and_startups():
    assert_more(differentiators_capability, "open_source_wave", "baseline", "capability of differentiating majors")
    assert_more(startups_alive, "open_source_wave", "baseline", "startups alive")


def test_startup_boom_has_more_startups_alive():
    assert_more(startups_alive, "startup_boom", "baseline", "startups alive")


def test_startup_boom_has_more_acquisitions():
    assert_more(edges("acquired"), "startup_boom", "baseline", "acquisitions")
