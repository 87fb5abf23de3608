"""Year-indexed inputs (`[schedules]`): every schedulable input takes its scheduled value from its
year on and not before, budgets keep pace with markets after their schedule, and bad schedules are
refused in one line each."""

from __future__ import annotations

import numpy as np
import pytest

import run as cli
from model.params import CLOUD, SCHEDULABLE
from model.race import AIRaceModel
from model.scenario import ScenarioError, build_scenario, load_scenario, scenario_to_dict, with_schedules
from model.schedules import firm_inputs, held, in_year

START = 2024
LATER = START + 2

# one instance of each schedulable input, with a value far from the baseline's
INSTANCES = {
    "firms.*.ai_budget_bn": ("firms.azure.ai_budget_bn", 90.0),
    "firms.*.policy": ("firms.azure.policy", "partner"),
    "segments.*.base_growth": ("segments.cloud_ai.base_growth", 0.45),
    "segments.*.fringe_spend_growth": ("segments.cloud_ai.fringe_spend_growth", 0.9),
    "talent.supply_growth": ("talent.supply_growth", 0.6),
    "compute.capacity_growth": ("compute.capacity_growth", 0.9),
    "startups.funding_growth": ("startups.funding_growth", 1.5),
    "startups.entry_rate": ("startups.entry_rate", 80.0),
}


def yearly_state(model: AIRaceModel, years: int) -> list[np.ndarray]:
    """Per year: shares, cash and capability of every firm alive, and the input supplies."""
    states = []
    for _ in range(years):
        model.step()
        led = model.ledger
        states.append(np.concatenate([led.col("share").ravel(), led.col("cash_bn"), led.col("capability").ravel(),
                                      [led.n, model.demand.compute_capacity_bn, model.demand.talent_supply_bn,
                                       model.demand.venture_funding_bn, *model.demand.size_bn]]))
    return states


def test_every_schedulable_input_has_an_instance_here():
    assert set(INSTANCES) == set(SCHEDULABLE)


@pytest.mark.parametrize("pattern", SCHEDULABLE)
def test_a_scheduled_input_acts_from_its_year_and_not_before(pattern):
    path, value = INSTANCES[pattern]
    plain = load_scenario("baseline", values={"years": 4})
    scheduled = with_schedules(plain, {}, {path: {LATER: value}})
    before, after = yearly_state(AIRaceModel(plain, rng=3), 4), yearly_state(AIRaceModel(scheduled, rng=3), 4)
    for year in range(LATER - START):
        np.testing.assert_array_equal(before[year], after[year], err_msg=f"{path} acted before {LATER}")
    differs = [not (a.shape == b.shape and np.allclose(a, b)) for a, b in zip(before[LATER - START:], after[LATER - START:])]
    assert any(differs), f"{path} = {value} from {LATER} changed nothing"


def test_scheduled_values_hold_until_the_next_year_and_the_policy_is_followed():
    sc = with_schedules(load_scenario("baseline", values={"years": 5}), {}, {
        "compute.capacity_growth": {START + 1: 0.5, START + 3: 0.0},
        "firms.walmart.policy": {START: "partner", START + 2: "adaptive"},
    })
    model = AIRaceModel(sc, rng=1)
    seen = []
    for _ in range(5):
        model.step()
        walmart = model.majors["walmart"]
        seen.append((model.params.compute.capacity_growth, walmart.policy, walmart.strategy))
    assert [s[0] for s in seen] == [0.2, 0.5, 0.5, 0.0, 0.0]
    assert [s[1] for s in seen] == ["partner", "partner", "adaptive", "adaptive", "adaptive"]
    assert seen[0][2] == seen[1][2] == "partner"
    assert held({2025: 1.0, 2027: 2.0}, 2024) is None and held({2025: 1.0, 2027: 2.0}, 2026) == 1.0
    assert firm_inputs(sc, START + 2, "policy") == {"walmart": "adaptive"} and firm_inputs(sc, START + 1, "policy") == {}
    assert in_year(sc, START - 1) == sc


def test_a_scheduled_budget_is_the_years_budget_then_keeps_pace_with_markets():
    sc = with_schedules(load_scenario("baseline", values={"years": 4}), {},
                        {"firms.amazon.ai_budget_bn": {START + 1: 80.0}, "firms.amazon.policy": {START: "accelerate"}})
    model = AIRaceModel(sc, rng=2)
    row = model.majors["amazon"].row
    budgets, revenue = [], []
    for _ in range(4):
        model.step()
        budgets.append(float(model.ledger.ai_budget_bn[row]))
        revenue.append(float(model.ledger.revenue_bn[row].sum()))
    assert budgets[1] == pytest.approx(80.0)
    assert budgets[2] != pytest.approx(80.0) and budgets[2] == pytest.approx(80.0, rel=0.25)
    # it grows with the markets after the schedule: more revenue, more budget
    assert (budgets[3] - budgets[2]) * (revenue[3] - revenue[2]) > 0
    assert model.ledger.ai_spend_bn[row] > 0 and model.ledger.share[row, CLOUD] > 0


def test_a_scenario_file_with_schedules_loads_and_extends_merge_years(tmp_path):
    parent = tmp_path / "parent.toml"
    parent.write_text('extends = "baseline"\nname = "parent"\n[schedules]\n"compute.capacity_growth" = { 2025 = 0.3 }\n')
    child = tmp_path / "child.toml"
    child.write_text('extends = "parent.toml"\nname = "child"\n[schedules]\n"compute.capacity_growth" = { 2027 = 0.1 }\n'
                     '"firms.amazon.policy" = { 2024 = "accelerate" }\n')
    sc = load_scenario(str(child))
    assert sc.schedules == {"compute.capacity_growth": {2025: 0.3, 2027: 0.1}, "firms.amazon.policy": {2024: "accelerate"}}
    assert build_scenario(scenario_to_dict(sc)) == sc


@pytest.mark.parametrize("schedule, expected", [
    ('"segments.cloud_ai.capability_elasticity" = { 2025 = 1.0 }', "not an input that can be scheduled"),
    ('"firms.amazon.ai_budget" = { 2025 = 1.0 }', "unknown parameter 'firms.amazon.ai_budget'"),
    ('"firms.amazom.policy" = { 2025 = "accelerate" }', "unknown firm 'amazom' (did you mean 'amazon'?)"),
    ('"compute.capacity_growth" = { 20x5 = 0.1 }', "'20x5' is not a year"),
    ('"compute.capacity_growth" = { 2025 = 5.0 }', "schedules.compute.capacity_growth.2025: 5.0 is out of range"),
    ('"firms.amazon.policy" = { 2025 = "bold" }', "expected one of accelerate, differentiate, partner, adaptive, got 'bold'"),
    ('"compute.capacity_growth" = { 2020 = 0.1 }', "year 2020 is before start_year 2024"),
    ('"compute.capacity_growth" = 0.1', "expected a table of year = value"),
])
def test_bad_schedules_are_refused_in_one_line(tmp_path, capsys, schedule, expected):
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "baseline"\nname = "bad"\n[schedules]\n{schedule}\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert any(expected in line for line in caught.value.problems), caught.value.problems
    assert cli.main(["run", "--scenario", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_schedule_for_a_firm_the_scenario_lacks_is_refused():
    data = scenario_to_dict(load_scenario("baseline"))
    del data["firms"]["shopify"]
    data["schedules"] = {"firms.shopify.ai_budget_bn": {2025: 2.0}}
    with pytest.raises(ScenarioError, match="the scenario has no firm 'shopify'"):
        build_scenario(data)
