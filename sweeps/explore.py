"""Scenario discovery for a pair of plans: does the first pay, for whom, and under which conditions.

Both plans run as ordinary sweeps (journal, resume, local cores or Dask) over the same sample of
the scenario's [uncertainties] with the same sweep seed, so run i of one plan and run i of the
other share the parameter draw and the seed: the paired difference is the plan's effect alone.
From the pairs: each firm's incremental value (or another metric), how often it is positive,
how much of its spread is parameters rather than luck, the PRIM box where the first plan pays,
feature scores and Sobol indices of the uncertainties, and what happens to startups and
concentration.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from model.errors import BadInput
from model.params import MAJOR_IDS, SEGMENTS, Scenario
from report.compare import VALUE_METRICS, run_values
from report.discovery import MASS_MIN, MAX_DIMENSIONS, Box, find_box
from report.tables import FIRM_OUTCOMES
from report.uncertainty import mean_interval, variance_split
from sweeps.design import DesignError, Factor, paired_uncertainty_factors, sampled_points
from sweeps.sensitivity import analyze, metric_problem, salib_problem
from sweeps.sensitivity import sample as salib_sample
from sweeps.sweep import SweepPlan

DESIGNS = ("lhs", "sobol")
# The metrics a firm wants more of, so that "the first plan is higher" means "it gains"
# (spend, fees, outlays and deal counts are costs or neither).
EXPLORE_METRICS = (*(m for m in VALUE_METRICS if m.endswith("_bn")),
                   *(m for m in FIRM_OUTCOMES if m in ("cumulative_profit_bn", "return_on_ai_spend", "final_cash_bn",
                                                        "final_revenue_bn")),
                   *(f"final_share_{s}" for s in SEGMENTS), *(f"final_revenue_bn_{s}" for s in SEGMENTS))
# Beside the majors' metric: what the plan does to the startups and to concentration in each segment.
MARKET_MEASURES = (*(f"startups.final_share_{s}" for s in SEGMENTS), *(f"hhi_{s}" for s in SEGMENTS))
GAINS = "first_plan_higher"
MIN_CASES = 5  # fewer points of interest than this make a box that describes single points


class ExploreError(BadInput, ValueError):
    """Bad explore input: one line naming the bad value."""


def check_metric(metric: str) -> None:
    if metric not in EXPLORE_METRICS:
        close = difflib.get_close_matches(metric, EXPLORE_METRICS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExploreError(f"--metric {metric}: unknown metric{hint}; one of {', '.join(EXPLORE_METRICS)}")


def check_firm_metric(firm: str, metric: str, plans: list[Scenario], factor_paths: list[str]) -> None:
    """Refuse a headline metric the firm has no value for in some runs (a segment it does not sell in)."""
    for plan in plans:
        problem = metric_problem(f"{firm}.{metric}", plan, factor_paths)
        if problem:
            raise ExploreError(problem.replace("the indices need one at every sample point", "explore needs one in every run")
                               .replace(f"--metric {firm}.{metric}", f"--firm {firm} --metric {metric}"))


def check_firm(firm: str) -> None:
    if firm not in MAJOR_IDS:
        close = difflib.get_close_matches(firm, MAJOR_IDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExploreError(f"--firm {firm}: unknown firm{hint}; one of {', '.join(MAJOR_IDS)}")


def explore_factors(plans: list[Scenario], design: str) -> list[Factor]:
    """The uncertainties both plans declare, identically (else their runs could not be paired).

    A Sobol sample needs ranges: a whole-number uncertainty lo..hi becomes the range lo-0.5..hi+0.5
    rounded, so each whole value is drawn as often."""
    factors = paired_uncertainty_factors(plans, "explore")
    if design == "lhs":
        return factors
    return [f if f.is_range else Factor(path=f.path, low=min(f.values) - 0.5, high=max(f.values) + 0.5, integer=True)
            for f in factors]


def explore_points(factors: list[Factor], design: str, samples: int, seed: int) -> list[dict[str, Any]]:
    """LHS: `samples` points. Sobol: Saltelli's `samples` x (2D + 2) points (`samples` a power of two)."""
    if design == "lhs":
        return sampled_points(factors, samples, seed, "lhs")
    if design == "sobol":
        return salib_sample(salib_problem(factors), factors, "sobol", samples, seed)
    raise DesignError(f"--design {design!r}: expected one of {', '.join(DESIGNS)}")


def sweep_plans(sources: list[str], overrides: list[str], factors: list[Factor], points: list[dict[str, Any]],
                replicates: int, seed: int, years: int | None, design: str, samples: int) -> list[SweepPlan]:
    """One sweep per plan, with the same points, replicates and seed (so the same run seeds).

    A Saltelli sample's indices compare points with one another, so there every point gets the
    same seeds (common random numbers, as `sensitivity` does): seed noise would otherwise inflate
    every total index. A hypercube's points keep their own seeds, for honest shares of runs."""
    return [SweepPlan(scenario=source, overrides=overrides, factors=[f.path for f in factors], points=points,
                      replicates=replicates, seed=seed, years=years, design=f"explore-{design}",
                      common_seeds=design == "sobol", extra={"samples": samples}) for source in sources]


@dataclass(frozen=True)
class PlanRuns:
    """One plan's sweep tables as read back: runs.parquet and yearly.parquet."""

    name: str
    runs: pd.DataFrame
    yearly: pd.DataFrame


def _firm_metric(plan: PlanRuns, metric: str, valuation, years: int) -> pd.DataFrame:
    """run_id x major: the metric of each successful run."""
    ok = plan.runs.loc[plan.runs["status"] == "ok", "run_id"]
    if ok.empty:
        return pd.DataFrame(columns=list(MAJOR_IDS), index=pd.Index([], name="run_id"), dtype=float)
    if metric in VALUE_METRICS:
        yearly = plan.yearly[plan.yearly["run_id"].isin(ok)].assign(scenario=plan.name).rename(columns={"run_id": "replicate"})
        values = run_values(yearly, valuation, years)
        return values.pivot(index="replicate", columns="firm", values=metric).rename_axis("run_id").reindex(columns=list(MAJOR_IDS))
    table = plan.runs.set_index("run_id").loc[ok]
    return pd.DataFrame({firm: table[f"{firm}.{metric}"] for firm in MAJOR_IDS}, index=table.index)


def paired_runs(first: PlanRuns, second: PlanRuns, metric: str, valuation, years: int) -> pd.DataFrame:
    """paired_runs.parquet: per run both plans finished, its point, replicate and seed, and the first
    plan's difference in each major's metric and in each market measure it moves (first minus second)."""
    a, b = _firm_metric(first, metric, valuation, years), _firm_metric(second, metric, valuation, years)
    common = a.index.intersection(b.index)
    diff = (a.loc[common] - b.loc[common]).rename(columns=lambda firm: f"{firm}.{metric}")
    market = (first.runs.set_index("run_id").loc[common, list(MARKET_MEASURES)]
              - second.runs.set_index("run_id").loc[common, list(MARKET_MEASURES)])
    market = market.loc[:, market.fillna(0).ne(0).any()]  # a segment without startups: nothing to report
    keys = first.runs.set_index("run_id").loc[common, ["point", "replicate", "seed"]]
    return pd.concat([keys, diff, market], axis=1).reset_index().sort_values("run_id", kind="stable").reset_index(drop=True)


def measure_columns(paired: pd.DataFrame) -> list[str]:
    return [c for c in paired.columns if c not in ("run_id", "point", "replicate", "seed")]


def who_wins(paired: pd.DataFrame) -> pd.DataFrame:
    """who_wins.csv: per firm (or market measure) the first plan's paired difference over all runs:
    mean with its 95 % interval (over the draws' means: mean_interval), 5/50/95 % quantiles, the
    shares of runs above zero and at zero, and the share of the spread the uncertainties explain
    rather than the seeds."""
    rows = []
    for column in measure_columns(paired):
        values = paired[column].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        firm, _, measure = column.rpartition(".") if "." in column else ("market", "", column)
        n = finite.size
        _, half = mean_interval(values, 0.95, paired["point"].to_numpy())
        try:
            share = variance_split(values, paired["point"].to_numpy()).parameter_share
        except ValueError:
            share = float("nan")
        rows.append({
            "firm": firm, "measure": measure, "runs": n, "mean": finite.mean() if n else np.nan,
            "mean_ci_low": finite.mean() - half if n else np.nan, "mean_ci_high": finite.mean() + half if n else np.nan,
            "q05": np.quantile(finite, 0.05) if n else np.nan, "median": np.median(finite) if n else np.nan,
            "q95": np.quantile(finite, 0.95) if n else np.nan, "share_positive": float(np.mean(finite > 0)) if n else np.nan,
            "share_tied": float(np.mean(finite == 0)) if n else np.nan,
            "parameter_share": share,
        })
    return pd.DataFrame(rows)


def point_means(paired: pd.DataFrame, points: list[dict[str, Any]], column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The uncertainties of every point with a finished pair, and the mean difference over its seeds."""
    means = paired.groupby("point")[column].mean()
    means = means[np.isfinite(means)]
    x = pd.DataFrame([points[p] for p in means.index], index=means.index)
    return x, means.to_numpy(dtype=float)


def conditions(paired: pd.DataFrame, points: list[dict[str, Any]], metric: str,
               seed: int) -> tuple[pd.DataFrame, dict[str, Box | None]]:
    """conditions.csv: for each major, PRIM's box of the points where the first plan raises its
    metric (the mean difference over the seeds above zero), one row per restricted uncertainty.

    PRIM peels only the MAX_DIMENSIONS uncertainties that best tell those points from the others
    (extra-trees classification scores), as the workbench's guides advise. Beside coverage and
    density: the base rate, the lift (density over base rate), and the highest density a box of at
    least MASS_MIN of the points could reach with so few cases."""
    rows, boxes = [], {}
    for firm in MAJOR_IDS:
        x, y = point_means(paired, points, f"{firm}.{metric}")
        pays = y > 0
        cases = int(pays.sum())
        box = None
        if MIN_CASES <= cases < len(y):
            ranked = _extra_trees(x, pays, classify=True, seed=seed)
            box = find_box(x[list(ranked.index[:MAX_DIMENSIONS])], pays)
        boxes[firm] = box
        rate = cases / len(y) if len(y) else np.nan
        base = {"firm": firm, "metric": metric, "outcome": GAINS, "points": len(y), "share_of_points": rate,
                "density_ceiling": min(1.0, cases / max(1.0, np.ceil(MASS_MIN * len(y)))) if len(y) else np.nan}
        if box is None:
            where = ("no value in these runs" if not len(y) else "everywhere in the sample" if cases == len(y)
                     else "nowhere in the sample" if cases == 0
                     else f"too rarely for a box ({cases} draws; a box needs {MIN_CASES})")
            rows.append({**base, "parameter": None, "low": np.nan, "high": np.nan, "coverage": np.nan, "density": np.nan,
                         "lift": np.nan, "mass": np.nan, "box": where})
            continue
        quality = {"coverage": box.coverage, "density": box.density, "lift": box.density / rate, "mass": box.mass,
                   "box": box.describe()}
        for path, (lo, hi) in (box.limits.items() or [(None, (np.nan, np.nan))]):
            rows.append({**base, "parameter": path, "low": lo, "high": hi, **quality})
    return pd.DataFrame(rows), boxes


def _extra_trees(x: pd.DataFrame, y: np.ndarray, classify: bool, seed: int) -> pd.Series:
    """The EMA Workbench's extra-trees feature scores of the columns of `x` for `y`, best first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the workbench's import notes and sklearn's, not ours
        from ema_workbench.analysis import feature_scoring
        from ema_workbench.analysis.scenario_discovery_util import RuleInductionType

        mode = RuleInductionType.CLASSIFICATION if classify else RuleInductionType.REGRESSION
        scores, _ = feature_scoring.get_ex_feature_scores(x.astype(float).reset_index(drop=True), y, mode=mode,
                                                          random_state=seed)
    return scores.iloc[:, 0].astype(float).sort_values(ascending=False)


def feature_scores(paired: pd.DataFrame, points: list[dict[str, Any]], metric: str, seed: int) -> pd.DataFrame:
    """feature_scores.csv: extra-trees feature scores of each uncertainty for each major's mean
    difference (how much of the trees' fit each uncertainty carries, summing to 1)."""
    frames = []
    for firm in MAJOR_IDS:
        x, y = point_means(paired, points, f"{firm}.{metric}")
        if len(y) < 2 or np.ptp(y) == 0:
            continue
        scores = _extra_trees(x, y, classify=False, seed=seed)
        frames.append(pd.DataFrame({"firm": firm, "metric": metric, "parameter": scores.index, "score": scores.to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["firm", "metric", "parameter", "score"])


def sobol_indices(paired: pd.DataFrame, points: list[dict[str, Any]], factors: list[Factor], design: str, metric: str,
                  seed: int) -> tuple[pd.DataFrame, list[str]]:
    """sobol_indices.csv: each uncertainty's share of the variance of each major's mean difference
    over the seeds (so the variance still holds the seed noise divided by the seeds per point),
    and a line for each firm that gets none, saying why.

    On a Saltelli sample (`--design sobol`): first-order and total indices with SALib's Sobol
    estimator (sweeps.sensitivity.analyze). On a Latin hypercube: first-order indices from the given
    sample with SALib's RBD-FAST (Tarantola et al. 2006; Plischke 2010), which needs no special
    design; totals need Saltelli's."""
    problem = salib_problem([f if f.is_range else Factor(path=f.path, low=min(f.values), high=max(f.values)) for f in factors])
    frames, notes = [], []
    for firm in MAJOR_IDS:
        means = paired.groupby("point")[f"{firm}.{metric}"].mean().reindex(range(len(points))).to_numpy(dtype=float)
        try:
            table = (analyze(problem, "sobol", points, means, seed)["sobol_indices"] if design == "sobol"
                     else _rbd_fast(problem, points, means, seed))
        except ValueError as exc:
            notes.append(f"{firm}: no Sobol indices, {exc}")
            continue
        frames.append(table.assign(firm=firm, metric=metric, estimator="saltelli" if design == "sobol" else "rbd-fast"))
    columns = ["firm", "metric", "parameter", "S1", "S1_conf", "ST", "ST_conf", "estimator"]
    return (pd.concat(frames, ignore_index=True).reindex(columns=columns) if frames else pd.DataFrame(columns=columns)), notes


def _rbd_fast(problem: dict[str, Any], points: list[dict[str, Any]], means: np.ndarray, seed: int) -> pd.DataFrame:
    from SALib.analyze import rbd_fast

    kept = np.flatnonzero(np.isfinite(means))
    # RBD-FAST's harmonics: its bias correction (and that of its half-size bootstrap) needs 4M < points.
    harmonics = min(10, kept.size // 8)
    if harmonics < 1:
        raise ValueError(f"{kept.size} points with a value are too few for RBD-FAST (it needs 8)")
    if np.ptp(means[kept]) <= 1e-12 * max(1.0, float(np.abs(means[kept]).max())):
        raise ValueError("the difference is the same at every point")
    x = np.array([[points[p][n] for n in problem["names"]] for p in kept], dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = rbd_fast.analyze(problem, x, means[kept], M=harmonics, seed=seed)
    return pd.DataFrame({"parameter": problem["names"], "S1": result["S1"], "S1_conf": result["S1_conf"]})
