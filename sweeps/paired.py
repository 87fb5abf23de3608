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
from report.compare import outcome_rows, run_values, value_rows
from sweeps.execute import RunSpec, execute


class NothingToCompare(ValueError):
    """Every run of some plan failed: one line with the first error."""


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
               workers: int | None = None, on_run: Callable[[], Any] | None = None) -> PairedRuns:
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
    for result in execute(specs, workers=workers):
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
