"""The model is a plain mesa.Model that Mesa's own tools accept unchanged."""

from __future__ import annotations

import mesa
import pandas as pd

from agents.firm import MajorFirm, Startup
from model.race import AIRaceModel


def test_batch_run_varies_a_dotted_parameter_and_seeds_reproducibly():
    parameters = {"scenario": "baseline", "firms.amazon.ai_budget_bn": [20.0, 80.0], "firms.amazon.policy": "accelerate"}
    kwargs = dict(parameters=parameters, rng=[1, 2], max_steps=5, number_processes=1,
                  data_collection_period=-1, display_progress=False)
    first = pd.DataFrame(mesa.batch_run(AIRaceModel, **kwargs))
    second = pd.DataFrame(mesa.batch_run(AIRaceModel, **kwargs))
    pd.testing.assert_frame_equal(first, second)
    assert set(first["Step"]) == {5} and len(first) == 4 * 6, "one row per run and major"
    amazon = first[first["firm"] == "amazon"].groupby("firms.amazon.ai_budget_bn")
    assert amazon["ai_spend_bn"].mean()[80.0] > amazon["ai_spend_bn"].mean()[20.0]
    concentration = first.groupby("firms.amazon.ai_budget_bn")["hhi_cloud_ai"].mean()
    assert concentration[80.0] > concentration[20.0], "a bolder leader concentrates the cloud market"


def test_agents_live_in_mesa_agentsets_and_data_collector():
    model = AIRaceModel("baseline", rng=5)
    assert isinstance(model, mesa.Model)
    assert len(model.agents_by_type[MajorFirm]) == 6
    assert len(model.agents_by_type[Startup]) == model.params.startups.initial_count
    model.step()
    assert model.steps == 1 and model.year == model.params.start_year
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame["year"]) == [2023, 2024]
    majors = model.datacollector.get_agenttype_vars_dataframe(MajorFirm)
    assert set(majors["firm"]) == {"amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba"}
    firms = model.datacollector.get_table_dataframe("firms")
    assert set(firms["kind"]) == {"major", "startup"} and len(firms) == len(majors) + (firms["kind"] == "startup").sum()
