#!/usr/bin/env python3
"""Performance figures of the simulator, printed as a table (not a test: nothing here can fail).

    .venv/bin/python benchmarks/run_benchmarks.py            # all benchmarks, about 3 minutes
    .venv/bin/python benchmarks/run_benchmarks.py --quick    # smaller sizes, about 1 minute
    .venv/bin/python benchmarks/run_benchmarks.py --memory-runs 10000   # the 10,000-run memory check

1. one 10-year baseline run: wall time, peak memory, and the split between the model's own
   work, data collection and the network;
2. scaling with startups (100, 1,000, 10,000 at the start, entry rate scaled alike): time per
   simulated year and the growth exponent from 1,000 to 10,000;
3. sweep throughput: the same 200-run design through `run.py sweep` and `mesa.batch_run`,
   both on the same number of processes;
4. the same design on a 2-worker Dask LocalCluster, against local processes;
5. peak memory (all processes together) of a long sweep.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import psutil  # noqa: E402  (installed with dask.distributed)

from model.processes import recording  # noqa: E402
from model.race import AIRaceModel  # noqa: E402

BUDGETS = [10.0 + 8.0 * i for i in range(10)]


class Stopwatch:
    """Accumulates the time spent in wrapped methods of one object."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.wrapped: list[tuple[object, str, object]] = []

    def restore(self) -> None:
        """Put the wrapped functions back (module functions are shared by every later model)."""
        for obj, name, method in reversed(self.wrapped):
            setattr(obj, name, method)
        self.wrapped = []

    def wrap(self, obj, name: str, label: str) -> None:
        method = getattr(obj, name)
        self.wrapped.append((obj, name, method))

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(obj, name, timed)


def bench_single(repeats: int) -> list[tuple[str, str]]:
    """A 10-year baseline run, best of `repeats`, with its time split by kind of work."""
    best = None
    for seed in range(repeats):
        model = AIRaceModel("baseline", rng=seed)
        watch = Stopwatch()
        watch.wrap(recording, "record_tables", "tables")
        watch.wrap(model.datacollector, "collect", "tables")
        watch.wrap(recording, "update_nodes", "network")
        watch.wrap(model.graph, "add_edge", "network")
        start = time.perf_counter()
        try:
            model.run()
        finally:
            watch.restore()
        total = time.perf_counter() - start
        if best is None or total < best[0]:
            best = (total, dict(watch.seconds))
    total, parts = best
    started = time.perf_counter()
    AIRaceModel("baseline", rng=0)
    build = time.perf_counter() - started
    tracemalloc.start()
    AIRaceModel("baseline", rng=0).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tables, network = parts.get("tables", 0.0), parts.get("network", 0.0)
    model_work = total - tables - network
    return [
        ("10-year baseline run, steps only (best of %d)" % repeats, f"{total * 1000:.1f} ms"),
        ("  of which the model's own work", f"{model_work * 1000:.1f} ms ({100 * model_work / total:.0f} %)"),
        ("  of which data collection", f"{tables * 1000:.1f} ms ({100 * tables / total:.0f} %)"),
        ("  of which the network", f"{network * 1000:.1f} ms ({100 * network / total:.0f} %)"),
        ("building the model (reading and validating the scenario, 2023 set-up)", f"{build * 1000:.1f} ms"),
        ("peak Python memory of that run (tracemalloc)", f"{peak / 2**20:.1f} MiB"),
    ]


def bench_scaling(sizes: list[int]) -> list[tuple[str, str]]:
    rows, per_year = [], {}
    for n in sizes:
        overrides = {"startups.initial_count": n, "startups.entry_rate": n / 3}
        model = AIRaceModel("baseline", rng=1, **overrides)
        start = time.perf_counter()
        model.run()
        elapsed = time.perf_counter() - start
        per_year[n] = elapsed / model.steps
        rows.append((f"{n:,} startups at start ({model.ledger.n:,} firms by the end)",
                     f"{elapsed:.2f} s for 10 years, {1000 * per_year[n]:.1f} ms/year"))
    if len(sizes) >= 2:
        lo, hi = sizes[-2], sizes[-1]
        exponent = math.log(per_year[hi] / per_year[lo]) / math.log(hi / lo)
        rows.append((f"growth exponent {lo:,} -> {hi:,} startups (1.0 = linear)", f"{exponent:.2f}"))
    return rows


def _sweep_cli(out: Path, runs: int, workers: int | None = None, scheduler: str | None = None) -> float:
    replicates = runs // len(BUDGETS)
    args = [sys.executable, str(ROOT / "run.py"), "sweep", "--scenario", "baseline",
            "--vary", f"firms.amazon.ai_budget_bn={','.join(str(b) for b in BUDGETS)}",
            "--replicates", str(replicates), "--years", "10", "--out", str(out), "--no-plots", "--quiet", "--fresh"]
    args += ["--workers", str(workers)] if workers else []
    args += ["--scheduler", scheduler] if scheduler else []
    start = time.perf_counter()
    subprocess.run(args, check=True, cwd=ROOT)
    return time.perf_counter() - start


BATCH_RUN_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import mesa
from model.race import AIRaceModel

if __name__ == "__main__":
    results = mesa.batch_run(AIRaceModel, parameters={{"scenario": "baseline", "firms.amazon.ai_budget_bn": {budgets!r}}},
                             rng=list(range({replicates})), max_steps=10, number_processes={processes},
                             data_collection_period=-1, display_progress=False)
    assert len(results) == {runs} * 6
"""


def _batch_run(runs: int, processes: int) -> float:
    """mesa.batch_run in a fresh interpreter, as a user's script runs it (like run.py sweep's own start)."""
    replicates = runs // len(BUDGETS)
    script = BATCH_RUN_SCRIPT.format(root=str(ROOT), budgets=BUDGETS, replicates=replicates, processes=processes, runs=runs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.py"
        path.write_text(script)
        start = time.perf_counter()
        subprocess.run([sys.executable, str(path)], check=True, cwd=ROOT)
        return time.perf_counter() - start


def bench_throughput(runs: int, workers: int, dask: bool) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = _sweep_cli(Path(tmp) / "sweep", runs, workers=workers)
        theirs = _batch_run(runs, workers)
        rows += [
            (f"run.py sweep, {runs} runs, {workers} processes (incl. start-up and writing Parquet)",
             f"{ours:.1f} s, {runs / ours:.1f} runs/s"),
            (f"mesa.batch_run, same design, {workers} processes (a fresh script, like the sweep)",
             f"{theirs:.1f} s, {runs / theirs:.1f} runs/s"),
            ("throughput ratio sweep / batch_run", f"{theirs / ours:.2f}x"),
        ]
        one = _sweep_cli(Path(tmp) / "one", runs, workers=1)
        rows.append(("run.py sweep on 1 process", f"{one:.1f} s, {runs / one:.1f} runs/s"))
        if dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
                _sweep_cli(Path(tmp) / "warm", len(BUDGETS), scheduler=cluster.scheduler_address)
                on_dask = _sweep_cli(Path(tmp) / "dask", runs, scheduler=cluster.scheduler_address)
            rows += [
                (f"run.py sweep on a {workers}-worker Dask LocalCluster", f"{on_dask:.1f} s, {runs / on_dask:.1f} runs/s"),
                ("throughput ratio Dask / local processes", f"{ours / on_dask:.2f}x"),
            ]
    return rows


def bench_memory(runs: int, workers: int) -> list[tuple[str, str]]:
    """Peak memory of the sweep's whole process tree, sampled every 0.1 s.

    Proportional set size (PSS): pages shared by the forked workers are counted once, not once per process.
    """
    with tempfile.TemporaryDirectory() as tmp:
        replicates = max(1, runs // len(BUDGETS))
        args = [sys.executable, str(ROOT / "run.py"), "sweep", "--vary",
                f"firms.amazon.ai_budget_bn={','.join(str(b) for b in BUDGETS)}", "--replicates", str(replicates),
                "--years", "10", "--out", str(Path(tmp) / "big"), "--no-plots", "--quiet", "--workers", str(workers)]
        start = time.perf_counter()
        process = psutil.Popen(args, cwd=ROOT)
        peak = 0
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
    return [(f"{replicates * len(BUDGETS):,}-run sweep, {workers} processes: peak memory (PSS) of all processes",
             f"{peak / 2**20:.0f} MiB ({elapsed:.0f} s, {replicates * len(BUDGETS) / elapsed:.1f} runs/s)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the throughput comparison (default: 2)")
    parser.add_argument("--memory-runs", type=int, default=None,
                        help="runs in the memory benchmark (default: 2,000; 10,000 for the full check)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster benchmark")
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1000, 10000]
    runs = 60 if args.quick else 200
    memory_runs = args.memory_runs or (200 if args.quick else 2000)

    sections = [
        ("1. One run", lambda: bench_single(3 if args.quick else 7)),
        ("2. Scaling with startups", lambda: bench_scaling(sizes)),
        ("3-4. Sweep throughput", lambda: bench_throughput(runs, args.workers, not args.no_dask)),
        ("5. Memory of a long sweep", lambda: bench_memory(memory_runs, args.workers)),
    ]
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; Python {sys.version.split()[0]}")
    for title, bench in sections:
        print(f"\n{title}")
        for label, value in bench():
            print(f"  {label:<78} {value}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
