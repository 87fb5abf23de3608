"""Paired runs of several plans held in memory: what `compare` and the browser's comparison run.

Every plan runs every (parameter point, seed): replicate p * seeds + r is point p with seed r in
each plan, so runs pair up by replicate and their differences are the plans' alone. The plans
travel with every run as loaded, so editing or deleting a scenario file during the comparison
cannot change what it compares.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from model.params import Scenario
from model.scenario import with_values
from report.compare import (
    HORIZONS, distribution_table, incremental_table, outcome_rows, paired_table, run_values, sensitivity_table,
    uncertainty_table, value_rows, yearly_share_bands,
)
from sweeps.execute import RunSpec, WorkerPool, execute


class NothingToCompare(ValueError):
    """Every run of some plan failed: one line with the first error."""


class PlansDiffer(ValueError):
    """Plans that cannot be paired year by year: one line naming them."""


class DifferentHorizons(PlansDiffer):
    """The plans simulate different numbers of years."""


def check_plans(plans: list[Scenario]) -> None:
    """Paired runs compare the same years: the plans must start together and run as long."""
    if len({p.start_year for p in plans}) > 1:
        raise PlansDiffer("the plans start in different years (" + ", ".join(f"{p.name} in {p.start_year}" for p in plans)
                          + "), so their years cannot be paired")
    if len({p.years for p in plans}) > 1:
        raise DifferentHorizons("the plans simulate different horizons ("
                                + ", ".join(f"{p.name} {p.years} years" for p in plans) + ")")


@dataclass
class PairedRuns:
    names: list[str]
    outcomes: pd.DataFrame  # tidy: scenario, replicate, seed, firm, metric, value (values included)
    yearly: pd.DataFrame  # report.tables.yearly_records of every run, with scenario and replicate
    failures: list[dict[str, Any]]
    replicate_seeds: list[int]
    point_of: dict[int, int]  # replicate -> parameter point
    seconds: float


def run_paired(plans: list[Scenario], points: list[dict[str, Any]], seeds: list[int], extra_years: int = 0,
               workers: int | None = None, on_run: Callable[[], Any] | None = None,
               pool: WorkerPool | None = None) -> PairedRuns:
    """Run each plan at each point with each seed; `extra_years` more years go into the yearly
    records only (for valuations at longer horizons). Values are at the plans' own horizon."""
    names = [p.name for p in plans]
    variants = [[with_values(plan, point) for point in points] for plan in plans]
    point_of = {p * len(seeds) + r: p for p in range(len(points)) for r in range(len(seeds))}
    replicate_seeds = [seeds[i % len(seeds)] for i in range(len(point_of))]
    specs = [
        RunSpec(run_id=f"{name}#{i}", scenario=variant[point_of[i]], seed=seed, yearly=True,
                labels=(("scenario", name), ("replicate", i)), extra_years=extra_years)
        for name, variant in zip(names, variants) for i, seed in enumerate(replicate_seeds)
    ]
    started = time.perf_counter()
    rows, yearly, failures = [], [], []
    for result in execute(specs, workers=workers, pool=pool):
        label = dict(result.spec.labels)
        if on_run is not None:
            on_run()
        if result.error:
            failures.append({"run_id": result.spec.run_id, "seed": result.spec.seed, "error": result.error})
            continue
        rows += outcome_rows(label["scenario"], label["replicate"], result.spec.seed, result.outcomes)
        yearly += [{**row, "scenario": label["scenario"], "replicate": label["replicate"]} for row in result.yearly]
    seconds = time.perf_counter() - started
    finished = {row["scenario"] for row in rows}
    missing = [n for n in names if n not in finished]
    if missing:
        first_error = next(f["error"] for f in failures if f["run_id"].split("#")[0] in missing)
        raise NothingToCompare(f"compare: every run of {', '.join(missing)} failed, so there is nothing to compare; "
                               f"first error: {first_error}")
    yearly = pd.DataFrame(yearly)
    run_seeds = {(name, i): seed for name in names for i, seed in enumerate(replicate_seeds)}
    rows += value_rows(run_values(yearly, plans[0].valuation, plans[0].years), run_seeds)
    outcomes = pd.DataFrame(rows).sort_values(["scenario", "replicate", "firm", "metric"], kind="stable")
    return PairedRuns(names, outcomes, yearly, failures, replicate_seeds, point_of, seconds)


@dataclass
class Comparison:
    """Paired runs and every table `compare` reports of them (`table_files` names their files)."""

    runs: PairedRuns
    horizons: tuple[int, ...]
    distribution: pd.DataFrame  # compare.csv
    paired: pd.DataFrame  # compare_paired.csv: first plan minus each other, with 90 % intervals and wins
    incremental: pd.DataFrame  # valuation_paired.csv
    sensitivity: pd.DataFrame  # verdict_sensitivity.csv
    bands: pd.DataFrame  # share_bands.csv
    split: pd.DataFrame  # uncertainty_split.csv

    def table_files(self) -> dict[str, pd.DataFrame]:
        """The tables by the file name `compare` gives them (the browser offers the same files)."""
        return {"compare.csv": self.distribution, "compare_paired.csv": self.paired, "runs.csv": self.runs.outcomes,
                "share_bands.csv": self.bands, "valuation_paired.csv": self.incremental,
                "verdict_sensitivity.csv": self.sensitivity, "uncertainty_split.csv": self.split}


def compare_plans(plans: list[Scenario], points: list[dict[str, Any]], seeds: list[int], drawn: bool = False,
                  horizons: tuple[int, ...] = HORIZONS, workers: int | None = None,
                  on_run: Callable[[], Any] | None = None, pool: WorkerPool | None = None) -> Comparison:
    """What `compare` and the browser's comparison view compute: `run_paired`, then the tables.

    With parameter draws (`drawn`: the points were drawn, even one) intervals of the mean are over
    the draws; without, every seed is its own, independent pair. `horizons` are the valuation horizons of the
    sensitivity grid beside the plans' own; the runs go on to the longest of them.
    """
    check_plans(plans)
    years = plans[0].years
    horizons = tuple(sorted({*horizons, years}))
    runs = run_paired(plans, points, seeds, extra_years=horizons[-1] - years, workers=workers, on_run=on_run,
                      pool=pool)
    names, valuation = runs.names, plans[0].valuation
    draws = runs.point_of if drawn else None
    return Comparison(
        runs=runs, horizons=horizons,
        distribution=distribution_table(runs.outcomes),
        paired=paired_table(runs.outcomes, names, draws),
        incremental=incremental_table(runs.yearly, names, valuation, years),
        sensitivity=sensitivity_table(runs.yearly, names, valuation, horizons, point_of=draws),
        bands=yearly_share_bands(runs.yearly[runs.yearly["year"] < plans[0].start_year + years]),
        split=uncertainty_table(runs.outcomes, names, runs.point_of),
    )
