"""The model is a plain mesa.Model that Mesa's own tools accept unchanged."""

from __future__ import annotations

import mesa
import pandas as pd

from agents.firm import MajorFirm, Startup
from model.race import AIRaceModel


def test_batch_run_varies_a_dotted_parameter_and_seeds_reproducibly():
    parameters = {"scenario": "baseline", "firms.amazon.ai_budget_bn": [20.0, 60.0], "firms.amazon.policy": "accelerate"}
    kwargs = dict(parameters=parameters, rng=[1, 2], max_steps=5, number_processes=1,
                  data_collection_period=-1, display_progress=False)
    first = pd.DataFrame(mesa.batch_run(AIRaceModel, **kwargs))
    second = pd.DataFrame(mesa.batch_run(AIRaceModel, **kwargs))
    pd.testing.assert_frame_equal(first, second)
    amazon = first[first["firm"] == "amazon"]
    assert set(amazon["Step"]) == {5}
    by_budget = amazon.groupby("firms.amazon.ai_budget_bn")["ai_spend_bn"].mean()
    assert by_budget[60.0] > by_budget[20.0]


def test_agents_live_in_mesa_agentsets_and_data_collector():
    model = AIRaceModel("baseline", rng=5)
    assert isinstance(model, mesa.Model)
    assert len(model.agents_by_type[MajorFirm]) == 6
    assert len(model.agents_by_type[Startup]) == model.params.startups.initial_count
    model.step()
    assert model.steps == 1 and model.year == model.params.start_year
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame["year"]) == [2023, 2024]
    assert model.datacollector.get_agent_vars_dataframe()["firm"].nunique() >= 6
