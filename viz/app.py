"""The race in the browser, with Mesa's SolaraViz: `python run.py viz` (or `solara run viz/app.py`).

The sidebar holds Mesa's Step / Play / Reset, the scenario, the seed and the knobs; a changed
value takes effect on Reset, which builds a new model with the sidebar's values. The main area
holds the components of viz/components.py, redrawn every year. This file only lays them out.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `solara run viz/app.py` puts only viz/ on the path
    sys.path.insert(0, _ROOT)

import solara  # noqa: E402
from mesa.visualization import Slider, SolaraViz  # noqa: E402

from model.scenario import available_scenarios, load_scenario  # noqa: E402
from viz.components import COMPONENTS, KNOBS, BrowserRaceModel  # noqa: E402

DEFAULT_SCENARIO = "baseline"
DEFAULT_SEED = 7
PLAY_INTERVAL_MS = 400

model_params = {
    "scenario": {"type": "Select", "value": DEFAULT_SCENARIO, "values": available_scenarios(), "label": "Scenario"},
    "rng": {"type": "InputText", "value": str(DEFAULT_SEED), "label": "Seed (whole number)"},
    "years": {"type": "SliderInt", "value": load_scenario(DEFAULT_SCENARIO).years, "min": 1, "max": 30, "step": 1,
              "label": "Years to simulate"},
    **{k.path: Slider(k.label, value=k.default(), min=k.min, max=k.max, step=k.step, dtype=float) for k in KNOBS},
}


@solara.component
def Page():
    """One model per browser session: a module-level model would be shared by every visitor."""
    model = solara.use_memo(lambda: BrowserRaceModel(DEFAULT_SCENARIO, rng=DEFAULT_SEED), [])
    return SolaraViz(
        model,
        components=list(COMPONENTS),
        model_params=model_params,
        name="AI investment race",
        play_interval=PLAY_INTERVAL_MS,
    )


page = Page
