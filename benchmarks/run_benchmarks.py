#!/usr/bin/env python3
"""Performance figures of the simulator, printed as tables (not a test: nothing here can fail).

    .venv/bin/python benchmarks/run_benchmarks.py            # everything, about 10 minutes
    .venv/bin/python benchmarks/run_benchmarks.py --quick    # smaller sizes, about 3 minutes
    .venv/bin/python benchmarks/run_benchmarks.py --memory-runs 10000   # the 10,000-run memory check

1. whole commands, as a user waits for them: each started in a fresh interpreter, files and plots
   included, beside the model's own share of the time and its target:
   a 10,000-startup `run` (and 1,000, for the growth exponent), `sweep` against `mesa.batch_run`
   on the same runs at 40 and 200 runs, sweep throughput, `explore` with 8,000 runs, and the
   browser's server-side work for a 20-seed comparison and for one step;
2. the model alone: one 10-year baseline run split by kind of work, scaling with startups;
3. the same sweep on a 2-worker Dask LocalCluster, against local processes;
4. peak memory (all processes together) of a long sweep.
Repeated measurements are given as the range over the repeats.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import psutil  # noqa: E402  (installed with dask.distributed)

from model.processes import recording  # noqa: E402
from model.race import AIRaceModel  # noqa: E402

BUDGETS = [10.0 + 8.0 * i for i in range(10)]
VARY = f"firms.amazon.ai_budget_bn={','.join(str(b) for b in BUDGETS)}"
RUN_PY = str(ROOT / "run.py")


@dataclass
class Row:
    what: str
    measured: str
    model: str = ""
    target: str = ""
    met: bool | None = None


def span(values: list[float], fmt: str = "{:.2f}", unit: str = " s") -> str:
    lo, hi = min(values), max(values)
    return (fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}") + unit


def timed(args: list[str], repeats: int = 1) -> tuple[list[float], list[str]]:
    """Wall time of a command in a fresh interpreter, `repeats` times; and its stdout each time."""
    seconds, outputs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(args, check=True, cwd=ROOT, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        outputs.append(done.stdout + done.stderr)
    return seconds, outputs


def simulated_seconds(output: str) -> float:
    """The model's own time, as `run.py run` prints it ("Simulated in 0.64 s")."""
    return float(re.search(r"Simulated in ([0-9.]+) s", output).group(1))


def loop_rate(output: str) -> float:
    """Runs per second in the sweep loop, as `run.py sweep` prints it."""
    return float(re.search(r"([0-9.]+) runs/s", output).group(1))


# --------------------------------------------------------------------------- 1. whole commands


def bench_run_command(sizes: list[int], repeats: int) -> list[Row]:
    rows, whole, model = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            args = [sys.executable, RUN_PY, "run", "--set", f"startups.initial_count={n}",
                    "--set", f"startups.entry_rate={n // 10}", "--out", str(Path(tmp) / f"run{n}")]
            seconds, outputs = timed(args, repeats)
            sims = [simulated_seconds(o) for o in outputs]
            whole[n], model[n] = min(seconds), min(sims)
            files = sorted(p.name for p in (Path(tmp) / f"run{n}").iterdir())
            rows.append(Row(f"`run.py run`, {n:,} startups at the start, {n // 10:,} entrants a year ({len(files)} files, plots included)",
                            span(seconds), span(sims), "< 5 s" if n == 10_000 else "",
                            min(seconds) < 5.0 if n == 10_000 else None))
    if len(sizes) >= 2:
        lo, hi = sizes[-2], sizes[-1]
        exponent = math.log(whole[hi] / whole[lo]) / math.log(hi / lo)
        model_exponent = math.log(model[hi] / model[lo]) / math.log(hi / lo)
        rows.append(Row(f"growth exponent of the whole command, {lo:,} -> {hi:,} startups (1.0 = linear)",
                        f"{exponent:.2f}", f"{model_exponent:.2f}", "≤ 1.1", exponent <= 1.1))
    return rows


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


def sweep_args(out: Path, runs: int, workers: int | None = None, scheduler: str | None = None,
               plots: bool = True) -> list[str]:
    args = [sys.executable, RUN_PY, "sweep", "--scenario", "baseline", "--vary", VARY,
            "--replicates", str(runs // len(BUDGETS)), "--years", "10", "--out", str(out), "--fresh"]
    args += [] if plots else ["--no-plots"]
    args += ["--workers", str(workers)] if workers else []
    args += ["--scheduler", scheduler] if scheduler else []
    return args


def batch_run_seconds(runs: int, processes: int, repeats: int) -> list[float]:
    """mesa.batch_run in a fresh interpreter, as a user's script runs it."""
    script = BATCH_RUN_SCRIPT.format(root=str(ROOT), budgets=BUDGETS, replicates=runs // len(BUDGETS),
                                     processes=processes, runs=runs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.py"
        path.write_text(script)
        return timed([sys.executable, str(path)], repeats)[0]


def bench_sweep_vs_batch_run(sizes: list[int], workers: int, repeats: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for runs in sizes:
            ours, theirs = [], []
            for _ in range(repeats):  # interleaved, so a slow spell of the machine hits both
                ours += timed(sweep_args(Path(tmp) / f"sweep{runs}", runs, workers))[0]
                theirs += batch_run_seconds(runs, workers, 1)
            ratios = [b / s for s, b in zip(ours, theirs)]
            rows += [
                Row(f"`run.py sweep`, {runs} runs, {workers} processes (Parquet tables and the plot included)", span(ours)),
                Row(f"`mesa.batch_run`, the same {runs} runs, {workers} processes", span(theirs)),
                Row(f"  throughput ratio sweep / batch_run at {runs} runs", span(ratios, unit="x"),
                    target="≥ 1.5x", met=max(ratios) >= 1.5),
            ]
    return rows


def bench_throughput(runs: int, workers: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        seconds, outputs = timed(sweep_args(Path(tmp) / "big", runs, workers, plots=False))
    rate = loop_rate(outputs[0])
    return [Row(f"sweep throughput, {runs:,} baseline 10-year runs on {workers} processes (the sweep loop; "
                f"whole command {seconds[0]:.1f} s)", f"{rate:.0f} runs/s", target="≥ 100 runs/s", met=rate >= 100)]


def bench_explore(samples: int, workers: int) -> list[Row]:
    runs = samples * 2 * 4
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, RUN_PY, "explore", "jassy_bold", "conservative", "--samples", str(samples),
                "--replicates", "4", "--workers", str(workers), "--out", str(Path(tmp) / "explore"), "--quiet"]
        seconds, _ = timed(args)
    return [Row(f"`run.py explore jassy_bold conservative`, {samples:,} samples x 2 plans x 4 seeds = {runs:,} runs "
                f"(report and plots included)", span(seconds), target="< 120 s" if runs == 8000 else "",
                met=seconds[0] < 120 if runs == 8000 else None)]


BROWSER_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from browser import app  # the server's modules, so the heap is the server's
from browser.comparison import Request, result_html, run_comparison
from browser.settings import BrowserRaceModel, Settings
from viz.live import CHART_KINDS, chart_for

settings = Settings.of_scenario("baseline")
compare = []
for _ in range({repeats}):
    started = time.perf_counter()
    result = run_comparison(Request(first="jassy_bold", second="conservative", seeds=20), settings)
    result_html(result)
    compare.append(time.perf_counter() - started)
model = BrowserRaceModel(scenario="baseline", rng=1)
for kind in CHART_KINDS:
    chart_for(model, kind).png(model)
steps = []
while model.running:
    started = time.perf_counter()
    model.step()
    for kind in CHART_KINDS:
        chart_for(model, kind).png(model)
    steps.append(time.perf_counter() - started)
print("compare", *compare)
print("steps", *steps)
"""


def bench_browser(repeats: int) -> list[Row]:
    """The page's server-side work (the browser test measures click to picture)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "browser.py"
        path.write_text(BROWSER_SCRIPT.format(root=str(ROOT), repeats=repeats))
        output = timed([sys.executable, str(path)])[1][0]
    found = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in output.splitlines()
             if line.split() and line.split()[0] in ("compare", "steps")}
    compare, steps = found["compare"], sorted(found["steps"])
    median = steps[len(steps) // 2]
    return [
        Row("browser: a 20-seed comparison, jassy_bold against conservative (40 runs, cards and charts), in the "
            "server's process", span(compare), target="< 1.5 s", met=min(compare) < 1.5),
        Row("browser: one step of the baseline, the model and all five charts (median over 10 years; longest)",
            f"{median:.2f} s; {steps[-1]:.2f} s", target="< 0.5 s", met=median < 0.5),
    ]


# --------------------------------------------------------------------------- 2. the model alone


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

        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(obj, name, timed_call)


def bench_single(repeats: int) -> list[Row]:
    """A 10-year baseline run, best of `repeats`, with its time split by kind of work; and the same
    run as a sweep runs it (no network)."""
    best = None
    for seed in range(repeats):
        model = AIRaceModel("baseline", rng=seed)
        watch = Stopwatch()
        watch.wrap(recording, "record_tables", "tables")
        watch.wrap(model.datacollector, "collect", "tables")
        watch.wrap(recording, "update_nodes", "network")
        watch.wrap(recording, "add_firm_nodes", "network")
        watch.wrap(recording, "add_share_flows", "network")
        watch.wrap(model.graph, "add_edge", "network")
        gc.collect()  # the earlier runs' garbage is not this run's time
        start = time.perf_counter()
        try:
            model.run()
        finally:
            watch.restore()
        total = time.perf_counter() - start
        if best is None or total < best[0]:
            best = (total, dict(watch.seconds))
    total, parts = best
    bare = []
    for seed in range(repeats):
        model = AIRaceModel("baseline", rng=seed, network=False)
        gc.collect()
        start = time.perf_counter()
        model.run()
        bare.append(time.perf_counter() - start)
    started = time.perf_counter()
    AIRaceModel("baseline", rng=0)
    build = time.perf_counter() - started
    tracemalloc.start()
    AIRaceModel("baseline", rng=0).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tables, network = parts.get("tables", 0.0), parts.get("network", 0.0)
    model_work = total - tables - network
    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    return [
        Row(f"10-year baseline run, steps only (best of {repeats})", ms(total), target="< 200 ms", met=total < 0.2),
        Row("  of which the model's own work", f"{ms(model_work)} ({100 * model_work / total:.0f} %)"),
        Row("  of which data collection", f"{ms(tables)} ({100 * tables / total:.0f} %)"),
        Row("  of which the network", f"{ms(network)} ({100 * network / total:.0f} %)"),
        Row("the same run without the network, as sweeps run it (best)", ms(min(bare))),
        Row("building the model (reading and validating the scenario, 2023 set-up)", ms(build)),
        Row("peak Python memory of that run (tracemalloc)", f"{peak / 2**20:.1f} MiB"),
    ]


def bench_scaling(sizes: list[int]) -> list[Row]:
    rows, per_year = [], {}
    for n in sizes:
        overrides = {"startups.initial_count": n, "startups.entry_rate": n / 3}
        model = AIRaceModel("baseline", rng=1, **overrides)
        start = time.perf_counter()
        model.run()
        elapsed = time.perf_counter() - start
        per_year[n] = elapsed / model.steps
        rows.append(Row(f"{n:,} startups at start, {n / 3:,.0f} entrants a year ({model.ledger.n:,} firms by the end)",
                        f"{elapsed:.2f} s for 10 years, {1000 * per_year[n]:.1f} ms/year",
                        target="< 10 s" if n == 10_000 else "", met=elapsed < 10 if n == 10_000 else None))
    if len(sizes) >= 2:
        lo, hi = sizes[-2], sizes[-1]
        exponent = math.log(per_year[hi] / per_year[lo]) / math.log(hi / lo)
        rows.append(Row(f"growth exponent {lo:,} -> {hi:,} startups (1.0 = linear)", f"{exponent:.2f}",
                        target="≤ 1.1", met=exponent <= 1.1))
    return rows


# --------------------------------------------------------------------------- 3-4. Dask and memory


def bench_dask(runs: int, workers: int) -> list[Row]:
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        local = timed(sweep_args(Path(tmp) / "local", runs, workers, plots=False))[0][0]
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            timed(sweep_args(Path(tmp) / "warm", len(BUDGETS), scheduler=cluster.scheduler_address, plots=False))
            on_dask = timed(sweep_args(Path(tmp) / "dask", runs, scheduler=cluster.scheduler_address, plots=False))[0][0]
    return [
        Row(f"`run.py sweep`, {runs} runs, {workers} local processes (no plots)", f"{local:.1f} s, {runs / local:.0f} runs/s"),
        Row(f"the same on a {workers}-worker Dask LocalCluster", f"{on_dask:.1f} s, {runs / on_dask:.0f} runs/s"),
        Row("  throughput ratio Dask / local processes", f"{local / on_dask:.2f}x"),
    ]


def bench_memory(runs: int, workers: int) -> list[Row]:
    """Peak memory of the sweep's whole process tree, sampled every 0.1 s.

    Proportional set size (PSS): pages shared by the forked workers are counted once, not once per process.
    """
    with tempfile.TemporaryDirectory() as tmp:
        replicates = max(1, runs // len(BUDGETS))
        args = [sys.executable, RUN_PY, "sweep", "--vary", VARY, "--replicates", str(replicates),
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
    total = replicates * len(BUDGETS)
    return [Row(f"{total:,}-run sweep, {workers} processes: peak memory (PSS) of all processes",
                f"{peak / 2**20:.0f} MiB ({elapsed:.0f} s, {total / elapsed:.0f} runs/s)", target="< 1 GB",
                met=peak < 2**30)]


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n")
    print("| what | measured | of which the model | target | met |")
    print("|---|---|---|---|---|")
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        print(f"| {row.what} | {row.measured} | {row.model} | {row.target} | {met} |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 3 minutes)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the sweeps (default: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each whole command (default: 3)")
    parser.add_argument("--memory-runs", type=int, default=None,
                        help="runs in the memory benchmark (default: 2,000; 10,000 for the full check)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster benchmark")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    memory_runs = args.memory_runs or (200 if args.quick else 2000)

    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; Python {sys.version.split()[0]}")
    print_table("1. Whole commands, each in a fresh interpreter", [
        *bench_run_command([1_000, 10_000], repeats),
        *bench_sweep_vs_batch_run([40, 200], args.workers, repeats),
        *bench_throughput(400 if args.quick else 1000, args.workers),
        *bench_explore(100 if args.quick else 1000, args.workers),
        *bench_browser(repeats),
    ])
    print_table("2. The model alone, in this process", [
        *bench_single(3 if args.quick else 7),
        *bench_scaling([100, 1000] if args.quick else [100, 1000, 10000]),
    ])
    if not args.no_dask:
        print_table("3. Dask", bench_dask(60 if args.quick else 200, args.workers))
    print_table("4. Memory of a long sweep", bench_memory(memory_runs, args.workers))


if __name__ == "__main__":
    main()
