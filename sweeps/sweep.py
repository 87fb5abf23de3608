"""Run a design (grid, Latin hypercube, Monte Carlo or a SALib sample) and stream it to disk.

The sweep folder holds `design.json` (what is being run), the journal of finished runs, and,
once the sweep ends or is interrupted, `runs.parquet` and `yearly.parquet`. Running the same
command on the same folder resumes: only runs missing from the journal are run. One sweep at a
time works on a folder (`.lock`), from reading the journal until the tables are written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from model.errors import BadInput
from model.params import MAJOR_IDS, SEGMENTS, Scenario
from model.scenario import load_variants, parameter_type, scenario_to_dict
from report.outputs import (
    DESIGN, FRESH_REMEDY, JOURNAL, LOCK, Command, OutputError, check_writable, clear_result, make_folder, reason, replace_with,
    temporary_name, written_by,
)
from report.tables import FIRM_OUTCOMES, MARKET, MARKET_OUTCOMES, YEARLY_COLUMNS, json_ready, outcome_items
from sweeps.design import check_design_size, run_seed
from sweeps.execute import RunSpec, WorkersLost, connect_scheduler, execute
from sweeps.store import FolderLock, Journal, write_tables

class SweepConflict(BadInput, ValueError):
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

    def __post_init__(self) -> None:
        check_design_size(len(self.points), self.replicates)

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


def resolved_points(plan: SweepPlan) -> tuple[Scenario, list[Scenario]]:
    """The base scenario and every design point, validated before anything runs (a bad value stops
    the sweep at once), from one reading of the scenario file."""
    return load_variants(plan.scenario, plan.overrides, plan.points, {"years": plan.years} if plan.years else None)


_MISSING = object()
_ROW_FIELDS = ("run_id", "point", "replicate", "seed", "status", "error")


def _same(stored: Any, planned: Any) -> bool:
    return stored == planned and isinstance(stored, bool) == isinstance(planned, bool)


def journal_check(plan: SweepPlan):
    """What a journal line must hold to be believed: a run of this plan whose row carries that
    run's point, replicate, seed and parameter values, a status, and only known columns."""
    row_keys = frozenset(run_schema(plan.factors).names)
    metrics = row_keys.difference(_ROW_FIELDS, plan.factors)
    yearly_keys = frozenset(YEARLY_COLUMNS)

    def check(record: dict[str, Any]) -> int | None:
        run, row, yearly = record.get("run"), record.get("row"), record.get("yearly")
        if record.keys() - {"run", "row", "yearly"} or type(run) is not int or not 0 <= run < plan.total_runs:
            return None
        if not isinstance(row, dict) or not row.keys() <= row_keys:
            return None
        point, replicate = divmod(run, plan.replicates)
        expected = {"run_id": run, "point": point, "replicate": replicate,
                    "seed": run_seed(plan.seed, point, replicate, plan.common_seeds), **plan.points[point]}
        if not all(_same(row.get(key, _MISSING), value) for key, value in expected.items()):
            return None
        if row.get("status") == "ok":
            if row.get("error", _MISSING) is not None or not isinstance(yearly, list) \
                    or not all(type(y) is dict and y.keys() <= yearly_keys and _yearly_values_ok(y) for y in yearly):
                return None
        elif row.get("status") != "error" or not isinstance(row.get("error"), str) or yearly is not None:
            return None
        if not all(_finite_or_none(row[key]) for key in metrics.intersection(row)):
            return None
        return run

    return check


def _finite_or_none(value: Any) -> bool:
    """A metric as the tables take it: null, or a number a float64 holds (10**400 is not)."""
    if value is None:
        return True
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


_YEARLY_TEXT = frozenset({"firm", "strategy"})


def _yearly_values_ok(record: dict[str, Any]) -> bool:
    """Every value of a yearly record in the type of its column (yearly_schema), so the tables can be written."""
    for key, value in record.items():
        if key in _YEARLY_TEXT:
            if value is not None and not isinstance(value, str):
                return False
        elif key == "year":
            if type(value) is not int or not -(2**63) <= value < 2**63:
                return False
        elif not _finite_or_none(value):
            return False
    return True


def _read_design(path: Path, out: Path) -> dict[str, Any]:
    try:
        stored = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise OutputError(f"--out {out}: cannot read design.json ({getattr(exc, 'strerror', None) or exc})") from None
    if not isinstance(stored, dict):
        raise SweepConflict(f"--out {out}: design.json is not a sweep design; use --fresh or another folder")
    return stored


def _write_design(plan: SweepPlan, out: Path, base: Scenario, command: Command) -> None:
    design = {"written_by": written_by(command), "identity": plan.identity(base), "total_runs": plan.total_runs,
              "parameters": scenario_to_dict(base)}
    text = json.dumps(json_ready(design), indent=2) + "\n"
    try:
        replace_with(out / DESIGN, lambda path: path.write_text(text), staged=out / temporary_name(DESIGN))
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write design.json ({reason(exc)})") from None


def _check_out(out: Path, fresh: bool, command: Command) -> None:
    """Refuse a folder that is not this command's result, touching nothing."""
    try:
        str(out.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        raise OutputError(f"--out {out!r}: the path is not UTF-8 text, which the Parquet writer needs; "
                          f"choose another folder") from None
    check_writable(out, command, FRESH_REMEDY if fresh else "choose another folder")


def _check_identity(plan: SweepPlan, out: Path, base: Scenario) -> None:
    if _read_design(out / DESIGN, out).get("identity") != plan.identity(base):
        raise SweepConflict(f"--out {out}: holds a different sweep (design.json differs); use --fresh or another folder")


def check_folder(plan: SweepPlan, out: Path, fresh: bool, base: Scenario, command: Command = Command.SWEEP) -> None:
    """What prepare_folder would refuse, found without touching anything: a folder that is not an
    earlier result of `command`, or, without `fresh`, one that holds a different sweep."""
    _check_out(out, fresh, command)
    if not fresh and os.path.lexists(out / DESIGN):
        _check_identity(plan, out, base)


def prepare_folder(plan: SweepPlan, out: Path, fresh: bool, base: Scenario,
                   command: Command = Command.SWEEP) -> tuple[Journal, FolderLock, bool]:
    """Create the folder or check it belongs to this sweep (resume) and lock it; returns its
    journal (not yet read), the held lock, and whether this call created the folder.

    `--fresh` deletes only an earlier result of the same command, file by file, and only once the
    lock is held, so it never pulls the files from under a running sweep."""
    _check_out(out, fresh, command)
    created = not os.path.lexists(out)
    make_folder(out)
    lock = FolderLock(out).acquire()
    try:
        if fresh and not created:
            clear_result(out, command)
        if os.path.lexists(out / DESIGN):
            _check_identity(plan, out, base)
        else:
            _write_design(plan, out, base, command)
    except BaseException:
        lock.release()
        if created:
            _remove_if_only_design(out)
        raise
    return Journal(out, journal_check(plan)), lock, created


def _remove_if_only_design(out: Path) -> None:
    """Undo a folder this command created when nothing but its design and lock went in."""
    try:
        names = set(os.listdir(out))
        journal = out / JOURNAL
        if JOURNAL in names and journal.stat().st_size == 0:
            names.discard(JOURNAL)
        if not names <= {DESIGN, LOCK}:
            return
        for name in (DESIGN, LOCK, JOURNAL):
            if os.path.lexists(out / name):
                (out / name).unlink()
        out.rmdir()
    except OSError:
        pass


def _default_warn(text: str) -> None:
    warnings.warn(text, RuntimeWarning, stacklevel=3)


def run_sweep(
    plan: SweepPlan,
    out: Path,
    workers: int | None = None,
    scheduler: str | None = None,
    fresh: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    command: Command = Command.SWEEP,
    warn: Callable[[str], Any] | None = None,
    resolved: tuple[Scenario, list[Scenario]] | None = None,
) -> dict[str, Any]:
    """Run what is missing, journal each run as it finishes, then write the Parquet tables.

    The scheduler is reached before the folder is touched; the folder is locked from reading the
    journal until the tables are written. A journal line not to be believed is reported through
    `warn` (one line) and its run is run again."""
    base, scenarios = resolved_points(plan) if resolved is None else resolved
    _check_out(out, fresh, command)
    client = connect_scheduler(scheduler) if scheduler else None
    with _quiet_dask_client() if client is not None else contextlib.nullcontext():
        try:
            journal, lock, created = prepare_folder(plan, out, fresh, base, command)
            try:
                return _run(plan, out, journal, scenarios, workers, client, progress, warn or _default_warn)
            except BaseException:
                if created:
                    _remove_if_only_design(out)
                raise
            finally:
                lock.release()
        finally:
            if client is not None:
                client.close()


@contextlib.contextmanager
def _quiet_dask_client():
    """A lost scheduler is reported once, in one line (WorkersLost); the Dask client's own log of
    it, with its tracebacks, is held back meanwhile."""
    loggers = [logging.getLogger(name) for name in ["distributed", *logging.root.manager.loggerDict]
               if name.split(".")[0] == "distributed"]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _run(plan: SweepPlan, out: Path, journal: Journal, scenarios: list[Scenario], workers: int | None, client,
         progress, warn) -> dict[str, Any]:
    done = dict(journal.done())
    if journal.warning():
        warn(journal.warning())
    todo = [i for i in range(plan.total_runs) if i not in done]

    def specs():
        for index in todo:
            point, replicate = divmod(index, plan.replicates)
            yield RunSpec(run_id=str(index), scenario=scenarios[point], seed=run_seed(plan.seed, point, replicate, plan.common_seeds),
                          yearly=True, labels=(("run", index), ("point", point), ("replicate", replicate)))

    started = time.perf_counter()
    finished = errors = 0
    interrupted = False
    lost: WorkersLost | None = None
    bar = progress(plan.total_runs, len(done)) if progress else None
    results = execute(specs(), workers=workers, scheduler=client)
    try:
        for result in results:
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
    except WorkersLost as exc:
        lost = exc
    finally:
        results.close()
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    runs, _ = write_tables(journal, out, run_schema(plan.factors), yearly_schema())
    if lost is not None:
        raise WorkersLost(f"{lost}; the {runs} finished runs are kept in {out / JOURNAL}, "
                          f"and running the same command again resumes")
    return {
        "total": plan.total_runs, "done": runs, "ran_now": finished, "skipped": len(done), "errors_now": errors,
        "seconds": elapsed, "runs_per_second": finished / elapsed if elapsed > 0 else float("nan"),
        "interrupted": interrupted, "journal": str(out / JOURNAL),
    }
