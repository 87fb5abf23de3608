"""Run a design (grid, Latin hypercube, Monte Carlo or a SALib sample) and stream it to disk.

The sweep folder holds `design.json` (what is being run), the journal of finished runs, and,
once the sweep ends or is interrupted, `runs.parquet` and `yearly.parquet`. Running the same
command on the same folder resumes: only runs missing from the journal are run.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from model.params import MAJOR_IDS, SEGMENTS, Scenario
from model.scenario import load_scenario, parameter_type, scenario_to_dict
from report.tables import FIRM_OUTCOMES, MARKET, MARKET_OUTCOMES, YEARLY_COLUMNS, json_ready, outcome_items
from sweeps.design import run_seed
from sweeps.execute import RunSpec, execute
from sweeps.store import JOURNAL, Journal, write_tables

class SweepConflict(ValueError):
    """The output folder holds a different sweep."""


@dataclass
class SweepPlan:
    """Everything that defines a sweep's runs; stored as design.json and compared on resume."""

    scenario: str
    overrides: list[str]
    factors: list[str]
    points: list[dict[str, Any]]
    replicates: int
    seed: int
    years: int | None
    design: str
    common_seeds: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_runs(self) -> int:
        return len(self.points) * self.replicates

    def identity(self, base: Scenario) -> dict[str, Any]:
        """The fields that must match for a folder's results to belong to this sweep; the digest of
        the resolved scenario catches a scenario file edited between a run and its resume."""
        digest = hashlib.sha256(json.dumps(json_ready(scenario_to_dict(base)), sort_keys=True).encode()).hexdigest()
        return json_ready({
            "scenario": self.scenario, "scenario_sha256": digest, "overrides": self.overrides, "factors": self.factors,
            "points": self.points,
            "replicates": self.replicates, "seed": self.seed, "years": self.years, "design": self.design,
            "common_seeds": self.common_seeds, **self.extra,
        })


def metric_columns() -> list[str]:
    columns = [f"{firm}.{metric}" for firm in MAJOR_IDS for metric in FIRM_OUTCOMES]
    columns += [f"{firm}.final_revenue_bn_{seg}" for firm in MAJOR_IDS for seg in SEGMENTS]
    columns += [f"{firm}.final_share_{seg}" for firm in (*MAJOR_IDS, "startups", "others") for seg in SEGMENTS]
    columns += [f"hhi_{seg}" for seg in SEGMENTS] + list(MARKET_OUTCOMES)
    return columns


def flatten_outcomes(outcomes: dict[str, Any]) -> dict[str, float | None]:
    """One run's outcomes as flat metric columns (missing: a firm not in a segment)."""
    row = {metric if firm == MARKET else f"{firm}.{metric}": value for firm, metric, value in outcome_items(outcomes)}
    return {k: (None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)) for k, v in row.items()}


def _arrow_type(path: str) -> pa.DataType:
    kind = parameter_type(path)
    return {float: pa.float64(), int: pa.int64(), bool: pa.bool_()}.get(kind, pa.string())


def run_schema(factors: list[str]) -> pa.Schema:
    fields = [pa.field("run_id", pa.int64()), pa.field("point", pa.int64()), pa.field("replicate", pa.int64()),
              pa.field("seed", pa.int64()), pa.field("status", pa.string()), pa.field("error", pa.string())]
    fields += [pa.field(path, _arrow_type(path)) for path in factors]
    fields += [pa.field(name, pa.float64()) for name in metric_columns()]
    return pa.schema(fields)


def yearly_schema() -> pa.Schema:
    types = {"year": pa.int64(), "firm": pa.string(), "strategy": pa.string()}
    return pa.schema([pa.field("run_id", pa.int64())] + [pa.field(c, types.get(c, pa.float64())) for c in YEARLY_COLUMNS])


def _resolved_points(plan: SweepPlan) -> list[Scenario]:
    """Validate every design point before anything runs (a bad value stops the sweep at once)."""
    from model.race import _toml_value

    return [
        load_scenario(plan.scenario, [*plan.overrides, *(f"{k}={_toml_value(v)}" for k, v in point.items()),
                                      *([f"years={plan.years}"] if plan.years else [])])
        for point in plan.points
    ]


def prepare_folder(plan: SweepPlan, out: Path, fresh: bool, base: Scenario) -> Journal:
    """Create the folder or check it belongs to this sweep (resume); returns its journal."""
    design_path = out / "design.json"
    if fresh and out.exists():
        shutil.rmtree(out)
    if design_path.exists():
        stored = json.loads(design_path.read_text())
        if stored.get("identity") != plan.identity(base):
            raise SweepConflict(f"--out {out}: holds a different sweep (design.json differs); use --fresh or another folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        design = {"identity": plan.identity(base), "total_runs": plan.total_runs, "parameters": scenario_to_dict(base)}
        tmp = out / ".design.json.tmp"
        tmp.write_text(json.dumps(json_ready(design), indent=2) + "\n")
        tmp.replace(design_path)
    return Journal(out)


def run_sweep(
    plan: SweepPlan,
    out: Path,
    workers: int | None = None,
    scheduler: str | None = None,
    fresh: bool = False,
    progress: Callable[[int, int], Any] | None = None,
) -> dict[str, Any]:
    """Run what is missing, journal each run as it finishes, then write the Parquet tables."""
    scenarios = _resolved_points(plan)
    base = load_scenario(plan.scenario, [*plan.overrides, *([f"years={plan.years}"] if plan.years else [])])
    journal = prepare_folder(plan, out, fresh, base)
    done = journal.done()
    todo = [i for i in range(plan.total_runs) if i not in done]

    def specs():
        for index in todo:
            point, replicate = divmod(index, plan.replicates)
            yield RunSpec(run_id=str(index), scenario=scenarios[point], seed=run_seed(plan.seed, point, replicate, plan.common_seeds),
                          years=plan.years, yearly=True, labels=(("run", index), ("point", point), ("replicate", replicate)))

    started = time.perf_counter()
    finished = errors = 0
    interrupted = False
    bar = progress(plan.total_runs, len(done)) if progress else None
    try:
        for result in execute(specs(), workers=workers, scheduler=scheduler):
            labels = dict(result.spec.labels)
            row = {"run_id": labels["run"], "point": labels["point"], "replicate": labels["replicate"],
                   "seed": result.spec.seed, "status": "error" if result.error else "ok", "error": result.error,
                   **plan.points[labels["point"]]}
            record: dict[str, Any] = {"run": labels["run"], "row": row}
            if not result.error:
                row.update(flatten_outcomes(result.outcomes))
                record["yearly"] = result.yearly
            else:
                errors += 1
            journal.append(record)
            finished += 1
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    runs, _ = write_tables(journal, out, run_schema(plan.factors), yearly_schema())
    return {
        "total": plan.total_runs, "done": runs, "ran_now": finished, "skipped": len(done), "errors_now": errors,
        "seconds": elapsed, "runs_per_second": finished / elapsed if elapsed > 0 else float("nan"),
        "interrupted": interrupted, "journal": str(out / JOURNAL),
    }
