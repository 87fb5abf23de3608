"""The simulator as an EMA Workbench model, so the workbench's samplers, optimisers and analyses apply.

    from ema_workbench import SequentialEvaluator
    from sweeps.ema import workbench_model

    model = workbench_model(("jassy_bold", "conservative"))
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=100, policies=2)

Inputs are the uncertainties a scenario declares, named by their scenario path with `__` for
each dot (the workbench wants Python identifiers: `capability__lag_years`), the plan (a
scenario) as the lever, and the seed as a constant, so every experiment of a draw runs on
the same random numbers whichever plan it is (paired). Outcomes are per-major values.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from model.params import MAJOR_IDS, SEGMENTS
from model.scenario import load_scenario
from report.compare import run_values
from sweeps.design import paired_uncertainty_factors
from sweeps.execute import RunSpec, run_spec
from sweeps.sweep import flatten_outcomes

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # optional parallel back ends the workbench looks for at import
    from ema_workbench import CategoricalParameter, Constant, IntegerParameter, Model, RealParameter, ScalarOutcome

OUTCOMES = (*(f"{firm}_value_bn" for firm in MAJOR_IDS), *(f"{firm}_cumulative_profit_bn" for firm in MAJOR_IDS),
            *(f"startups_share_{s}" for s in SEGMENTS), *(f"hhi_{s}" for s in SEGMENTS))


class RunFailed(RuntimeError):
    """A run the model could not finish (its error, one line)."""


def workbench_name(path: str) -> str:
    return path.replace(".", "__")


def scenario_path(name: str) -> str:
    return name.replace("__", ".")


def race_outcomes(plan: str, seed: int = 1, **uncertain: Any) -> dict[str, float]:
    """One run of `plan` (a scenario name or TOML path) with the given uncertain values (by
    workbench name) and seed: each major's value (NPV of free cash flow plus terminal value, $bn)
    and cumulative profit, and the startups' share and the HHI of each segment at the end."""
    scenario = load_scenario(plan, values={scenario_path(name): value for name, value in uncertain.items()})
    result = run_spec(RunSpec(run_id=f"ema-{plan}", scenario=scenario, seed=int(seed), yearly=True))
    if result.error:
        raise RunFailed(result.error)
    yearly = pd.DataFrame(result.yearly).assign(scenario=scenario.name, replicate=0)
    value = run_values(yearly, scenario.valuation, scenario.years).set_index("firm")["value_bn"]
    flat = flatten_outcomes(result.outcomes)
    return {
        **{f"{firm}_value_bn": float(value[firm]) for firm in MAJOR_IDS},
        **{f"{firm}_cumulative_profit_bn": flat[f"{firm}.cumulative_profit_bn"] for firm in MAJOR_IDS},
        **{f"startups_share_{s}": flat[f"startups.final_share_{s}"] for s in SEGMENTS},
        **{f"hhi_{s}": flat[f"hhi_{s}"] for s in SEGMENTS},
    }


def workbench_model(plans: tuple[str, ...] = ("jassy_bold", "conservative"), seed: int = 1, name: str = "ai_race") -> Model:
    """An EMA Workbench `Model`: the plans' common [uncertainties] as uncertainties, the plans as
    the lever `plan`, the seed as a constant, OUTCOMES as scalar outcomes.

    One seed for every experiment: the spread over experiments is then the uncertainties' alone,
    and luck is not sampled; the workbench's `ReplicatorModel`, or several seeds, adds it."""
    factors = paired_uncertainty_factors([load_scenario(plan) for plan in plans], "workbench_model")
    model = Model(name, function=race_outcomes)
    model.uncertainties = [RealParameter(workbench_name(f.path), f.low, f.high) if f.is_range
                           else IntegerParameter(workbench_name(f.path), min(f.values), max(f.values)) for f in factors]
    model.levers = [CategoricalParameter("plan", list(plans))]
    model.constants = [Constant("seed", seed)]
    model.outcomes = [ScalarOutcome(outcome) for outcome in OUTCOMES]
    return model
