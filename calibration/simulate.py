"""The model's version of each history target, year by year: what calibration fits and hindcast scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from calibration.history import MARKET_TARGET, MONEY_UNIT, SHARE_TARGET, SHARE_UNIT
from model.params import CLOUD, CLOUD_PROVIDERS, SEGMENTS, Scenario
from model.race import AIRaceModel
from model.scenario import with_values

ECOMMERCE, ADVERTISING = SEGMENTS.index("ecommerce"), SEGMENTS.index("advertising")
# history target -> what the model holds for it; targets history has that the model does not
# (operating income, Microsoft's Intelligent Cloud, wider than Azure) are left unscored
SIMULATED_TARGETS = (SHARE_TARGET, MARKET_TARGET, "cloud_revenue_bn", "advertising_revenue_bn", "gmv_bn")
UNITS = {SHARE_TARGET: SHARE_UNIT} | {t: MONEY_UNIT for t in SIMULATED_TARGETS[1:]}
COLUMNS = ["seed", "year", "target", "firm", "value"]


def over_years(scenario: Scenario, last_year: int) -> Scenario:
    """The scenario run from its start year to `last_year`."""
    years = last_year - scenario.start_year + 1
    return scenario if years == scenario.years else with_values(scenario, {"years": years})


def year_targets(model: AIRaceModel) -> list[tuple[str, str, float]]:
    """(target, firm, value) of the model's current year."""
    led, served = model.ledger, model.served_sizes()
    rows = {firm_id: firm.row for firm_id, firm in model.majors.items()}
    out = [(SHARE_TARGET, f, 100.0 * float(led.share[rows[f], CLOUD])) for f in CLOUD_PROVIDERS if f in rows]
    out.append((MARKET_TARGET, "", float(served[CLOUD])))
    for firm, row in rows.items():
        if led.present[row, CLOUD]:
            out.append(("cloud_revenue_bn", firm, float(led.revenue_bn[row, CLOUD])))
        if led.present[row, ADVERTISING]:
            out.append(("advertising_revenue_bn", firm, float(led.revenue_bn[row, ADVERTISING])))
        if led.present[row, ECOMMERCE]:
            out.append(("gmv_bn", firm, float(led.share[row, ECOMMERCE] * served[ECOMMERCE])))
    return out


def simulate(scenario: Scenario, seeds: Sequence[int]) -> pd.DataFrame:
    """Every target in every simulated year for each seed (tidy: seed, year, target, firm, value)."""
    rows = []
    for seed in seeds:
        model = AIRaceModel(scenario, rng=int(seed), network=False)
        while model.running:
            model.step()
            rows += [(seed, model.year, target, firm, value) for target, firm, value in year_targets(model)]
    return pd.DataFrame(rows, columns=COLUMNS)


def mean_over_seeds(runs: pd.DataFrame) -> pd.DataFrame:
    """The seeds' mean of each target and year: the model's prediction under common random numbers."""
    return runs.groupby(["year", "target", "firm"], as_index=False)["value"].mean()


def quantiles(runs: pd.DataFrame, by: Sequence[str], levels: Sequence[float]) -> pd.DataFrame:
    """Quantiles of `value` over everything not in `by` (draws x seeds), one column per level."""
    grouped = runs.groupby(list(by))["value"]
    table = pd.concat({f"q{round(level * 100):02d}": grouped.quantile(level) for level in levels}, axis=1)
    return table.reset_index()


def finite(runs: pd.DataFrame) -> bool:
    return bool(np.isfinite(runs["value"].to_numpy(dtype=float)).all())
