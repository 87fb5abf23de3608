"""Naive forecasts and scores: the bar a calibrated model has to clear on years it was not fitted to.

Pure functions over tidy tables keyed by (year, target, firm), so a model run, a naive forecast and
an uncertainty band are all scored against the same observations in the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from calibration.history import MAX_SHARE, PRIMARY_TARGETS, SHARE_UNIT, is_signed

METHODS = ("model", "anchored", "persistence", "drift")
MODEL, ANCHORED, PERSISTENCE, DRIFT = METHODS
KEY = ["year", "target", "firm"]
PERIODS = ("fit", "forecast")
FIT, FORECAST = PERIODS
REVENUES = "revenues"  # every money target that is not the cloud market's size
GROUPS = (*PRIMARY_TARGETS, REVENUES)
POINTS_ERROR, PERCENT_ERROR = "points", "%"

PREDICTION_COLUMNS = ["year", "target", "firm", "method", "value"]
SCORE_COLUMNS = ["method", "target", "firm", "year", "predicted", "observed", "error", "error_unit", "period"]
SUMMARY_COLUMNS = ["method", "group", "period", "n", "mean_error", "error_unit"]
COVERAGE_COLUMNS = ["group", "n", "coverage"]


def target_group(target: str) -> str:
    """Shares, market size and revenues are summarised apart: their errors are in different units and scales."""
    return target if target in PRIMARY_TARGETS else REVENUES


def clipped(value: float, target: str, unit: str) -> float:
    """Keep a naive extrapolation inside what the figure can be, so it is not scored on impossible values."""
    if unit == SHARE_UNIT:
        return float(np.clip(value, 0.0, MAX_SHARE))
    return value if is_signed(target) else max(value, 0.0)


def drift_slope(series: pd.DataFrame) -> float:
    """The yearly change between the last two observations; zero when there is only one."""
    if len(series) < 2:
        return 0.0
    (year_before, value_before), (year, value) = series[["year", "value"]].iloc[-2:].itertuples(index=False)
    return (value - value_before) / (year - year_before)


class LastObservation(NamedTuple):
    target: str
    firm: str
    unit: str
    year: int
    value: float
    slope: float


def last_observations(observed: pd.DataFrame, fit_until: int) -> Iterator[LastObservation]:
    """Each observed series' last value up to the cutoff, with its last yearly change: what the naive
    forecasts extrapolate and what the anchored model is moved onto."""
    seen = observed[observed["year"] <= fit_until].sort_values(["target", "firm", "year"], kind="stable")
    for (target, firm), series in seen.groupby(["target", "firm"], sort=True):
        yield LastObservation(target, firm, series["unit"].iat[-1], int(series["year"].iat[-1]),
                              float(series["value"].iat[-1]), drift_slope(series))


def naive_forecasts_of(last: LastObservation, years: Sequence[int]) -> list[dict]:
    rows = []
    for year in years:
        for method, value in ((PERSISTENCE, last.value), (DRIFT, last.value + last.slope * (year - last.year))):
            rows.append({"year": year, "target": last.target, "firm": last.firm, "method": method,
                         "value": clipped(value, last.target, last.unit)})
    return rows


def naive_forecasts(observed: pd.DataFrame, fit_until: int, years: Iterable[int]) -> pd.DataFrame:
    """Persistence and drift from the observations up to fit_until: what a model must beat to be worth its parameters."""
    years = sorted({int(year) for year in years})
    rows = [row for last in last_observations(observed, fit_until) for row in naive_forecasts_of(last, years)]
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def anchored_forecasts(model: pd.DataFrame, observed: pd.DataFrame, fit_until: int) -> pd.DataFrame:
    """The model's forecast moved onto the last observation up to the cutoff (an intercept
    correction): its change since that year added to the observed share, or its growth since then
    applied to the observed money figure. Scored beside the raw model, it says whether the model's
    dynamics beat persistence apart from how well the fit matched the level."""
    modelled = model.set_index(["target", "firm", "year"])["value"].sort_index()
    rows = []
    for last in last_observations(observed, fit_until):
        if (last.target, last.firm, last.year) not in modelled.index:
            continue
        at_last = float(modelled[(last.target, last.firm, last.year)])
        ahead = modelled.loc[(last.target, last.firm)]
        for year, value in ahead[ahead.index > fit_until].items():
            if last.unit == SHARE_UNIT:
                anchored = last.value + float(value) - at_last
            elif at_last > 0:
                anchored = last.value * float(value) / at_last
            else:
                continue
            rows.append({"year": int(year), "target": last.target, "firm": last.firm, "method": ANCHORED,
                         "value": clipped(anchored, last.target, last.unit)})
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def check_one_prediction_each(predictions: pd.DataFrame) -> None:
    duplicated = predictions.duplicated(["method", *KEY])
    if duplicated.any():
        first = predictions[duplicated].iloc[0]
        raise ValueError(f"predictions hold more than one value for {first['method']} {first['target']} {first['firm']!r} {first['year']}")


def errors(predicted: pd.Series, observed: pd.Series, unit: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Points for shares; a percentage of the observed figure for money, undefined (NaN) where that figure is zero."""
    gap = (predicted - observed).abs()
    percent = 100.0 * gap / observed.abs().where(observed != 0)
    in_points = unit == SHARE_UNIT
    return gap.where(in_points, percent), pd.Series(np.where(in_points, POINTS_ERROR, PERCENT_ERROR), index=unit.index)


def score(predictions: pd.DataFrame, observed: pd.DataFrame, fit_until: int) -> pd.DataFrame:
    """One row per prediction that has an observation, with its error and whether the fit saw that year."""
    check_one_prediction_each(predictions)
    both = predictions[["method", *KEY, "value"]].rename(columns={"value": "predicted"}).merge(
        observed[[*KEY, "value", "unit"]].rename(columns={"value": "observed"}), on=KEY, how="inner"
    )
    error, error_unit = errors(both["predicted"], both["observed"], both["unit"])
    scored = both.assign(error=error, error_unit=error_unit, period=np.where(both["year"] <= fit_until, FIT, FORECAST))
    return ordered(scored[SCORE_COLUMNS], ["method", "target", "firm", "year"])


def ordered(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Sorted with methods, groups and periods in their reading order, anything unknown after them."""
    ranks = {"method": METHODS, "group": GROUPS, "period": PERIODS}

    def rank(values: pd.Series) -> pd.Series:
        known = ranks.get(values.name)
        if known is None:
            return values
        categories = [*known, *sorted(set(values) - set(known))]
        return pd.Series(pd.Categorical(values, categories=categories, ordered=True), index=values.index)

    return table.sort_values(columns, key=rank, kind="stable").reset_index(drop=True)


def score_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean error per method, target group and period: MAE in points for shares, MAPE in % for money."""
    grouped = scores.assign(group=scores["target"].map(target_group)).groupby(["method", "group", "period"])
    summary = grouped.agg(n=("error", "count"), mean_error=("error", "mean"), error_unit=("error_unit", "first")).reset_index()
    return ordered(summary[SUMMARY_COLUMNS], ["method", "group", "period"])


def band_coverage(bands: pd.DataFrame, observed: pd.DataFrame, after: int) -> pd.DataFrame:
    """How often the observations after `after` fall inside the bands: a calibrated 90 % band covers about 90 %."""
    both = bands[[*KEY, "lo", "hi"]].merge(observed[[*KEY, "value"]], on=KEY, how="inner")
    both = both[both["year"] > after]
    inside = both.assign(group=both["target"].map(target_group), inside=both["value"].between(both["lo"], both["hi"]))
    coverage = inside.groupby("group").agg(n=("inside", "size"), coverage=("inside", "mean")).reset_index()
    return ordered(coverage[COVERAGE_COLUMNS], ["group"])
