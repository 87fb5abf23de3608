#!/usr/bin/env python3
"""Command line for the AI investment race simulator.

    python run.py run --scenario baseline --years 10 --seed 7 --out results/baseline
    python run.py scenarios
    python run.py show-scenario baseline --set firms.amazon.ai_budget_bn=60
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

EXIT_BAD_INPUT = 2
DEFAULT_HISTORY = Path("../shared/history")
MAX_FORCED_WORKERS = 1024
DESIGN_CHOICES = ("grid", "lhs", "mc")


class UsageError(Exception):
    """Bad input from the user: reported in one line per problem, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="run.py",
        description="Agent-based simulator of the AI investment race: who wins when one giant bets $200B on AI?",
        epilog="Scenarios live in scenarios/*.toml; `run.py scenarios` lists them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def scenario_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--scenario", default="baseline", metavar="NAME|PATH",
                       help="scenario name from scenarios/ or a path to a TOML file (default: baseline)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                       help="override one parameter, e.g. firms.amazon.ai_budget_bn=60 (repeatable)")

    def worker_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workers", type=positive_int, default=None,
                       help="local worker processes (default: all cores; at most 4 per core unless --force-workers)")
        p.add_argument("--force-workers", action="store_true",
                       help=f"allow --workers above 4 per core, up to {MAX_FORCED_WORKERS} (each worker holds a model in memory)")

    run = sub.add_parser("run", help="simulate one scenario and write tables, network and plots",
                         description="Simulate one scenario year by year; print a summary and write results to --out.")
    scenario_options(run)
    run.add_argument("--years", type=positive_int, default=None, help="years to simulate (default: the scenario's, 10 for baseline)")
    run.add_argument("--seed", type=seed_int, default=1, help="random seed; same scenario + seed = same results (default: 1)")
    run.add_argument("--out", type=Path, default=None, help="folder for the result files (default: results/<scenario>)")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots (faster)")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")

    compare = sub.add_parser(
        "compare", help="run scenarios over the same seeds and compare them with uncertainty bands",
        description="Run every scenario with the same seeds (common random numbers), so differences are due to "
                    "the scenario; write distributions, paired differences, plots and print a verdict.",
    )
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                         help="two or more scenario names or TOML paths; the first is compared with each other one")
    compare.add_argument("--replicates", type=positive_int, default=50, help="seeds per scenario (default: 50)")
    compare.add_argument("--years", type=positive_int, default=None, help="years to simulate (default: each scenario's)")
    compare.add_argument("--seed", type=seed_int, default=1, help="base seed from which the replicate seeds are derived (default: 1)")
    compare.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                         help="override a parameter in every scenario (repeatable)")
    compare.add_argument("--draws", type=int, default=0, metavar="N",
                         help="also draw N parameter sets (Latin hypercube over the scenario's [uncertainties], or from "
                              "--calibration's posterior), each run with every seed in every scenario; the outputs split "
                              "the spread between parameters and seeds (default: 0, seeds only)")
    compare.add_argument("--calibration", type=Path, default=None, metavar="DIR",
                         help="draw the parameters from this posterior (a folder written by `run.py calibrate`) instead")
    worker_options(compare)
    compare.add_argument("--out", type=Path, default=None, help="folder for the results (default: results/compare-<first>-<second>)")
    compare.add_argument("--quiet", action="store_true", help="print nothing but errors")

    def execution_options(p: argparse.ArgumentParser, replicates: int = 1, out: str | None = None) -> None:
        p.add_argument("--replicates", type=positive_int, default=replicates,
                       help=f"runs per design point, each with its own seed (default: {replicates})")
        p.add_argument("--years", type=positive_int, default=None, help="years to simulate (default: the scenario's)")
        p.add_argument("--seed", type=seed_int, default=1, help="sweep seed from which every run's seed is derived (default: 1)")
        p.add_argument("--out", type=Path, required=out is None, default=out,
                       help="folder for the results; the same command on it again resumes"
                            + (f" (default: {out})" if out else ""))
        worker_options(p)
        p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on an existing Dask cluster instead, e.g. tcp://10.0.0.5:8786")
        p.add_argument("--fresh", action="store_true", help="delete an earlier result of this command in --out (only its own files) and start over")
        p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
        p.add_argument("--quiet", action="store_true", help="print nothing but errors")

    sweep = sub.add_parser(
        "sweep", help="run a parameter sweep (grid, Latin hypercube or Monte Carlo) on local cores or a Dask cluster",
        description="Run every design point x replicate; results stream to --out as runs finish and a rerun resumes.",
    )
    scenario_options(sweep)
    sweep.add_argument("--vary", action="append", default=[], metavar="PATH=SPEC",
                       help="a varied parameter: lo:hi:n (n evenly spaced values; lo:hi for lhs/mc) or a,b,c (repeatable)")
    sweep.add_argument("--design", choices=DESIGN_CHOICES, default="grid",
                       help="grid: every combination; lhs: Latin hypercube; mc: plain random sampling (default: grid)")
    sweep.add_argument("--samples", type=positive_int, default=None, help="design points for lhs and mc")
    sweep.add_argument("--common-seeds", action="store_true",
                       help="reuse the same replicate seeds at every design point (common random numbers)")
    sweep.add_argument("--metric", action="append", default=[], help="metric column to plot (repeatable; default: a few key ones)")
    execution_options(sweep)

    sens = sub.add_parser(
        "sensitivity", help="global sensitivity analysis (SALib Sobol indices or Morris screening)",
        description="Sample the parameter ranges with SALib, run the sample as a sweep, and compute the indices. "
                    "Every sample point is run with the same seeds (common random numbers), so the indices measure "
                    "the parameters rather than the model's noise; --replicates averages over more seeds.",
    )
    scenario_options(sens)
    sens.add_argument("--method", choices=("sobol", "morris"), default="sobol", help="sobol (default) or morris (cheaper screen)")
    sens.add_argument("--samples", type=positive_int, default=256,
                      help="base sample size N: sobol runs N*(2D+2) points (N a power of two), morris N*(D+1) (default: 256)")
    sens.add_argument("--param", action="append", default=[], metavar="PATH=LO:HI", help="a parameter and its range (repeatable)")
    sens.add_argument("--metric", required=True, help="the output to explain, e.g. amazon.cumulative_profit_bn")
    execution_options(sens)

    explore = sub.add_parser(
        "explore", help="scenario discovery: does the first plan pay, for whom, and under which conditions",
        description="Run both plans over the same sample of the scenario's [uncertainties] x seeds (paired: run i of "
                    "each plan shares its draw and its seed), as two resumable sweeps in --out; then report each firm's "
                    "incremental value and how often it is positive, the split of its spread between uncertainties and "
                    "luck, PRIM boxes of the conditions under which the first plan pays (EMA Workbench), feature scores, "
                    "Sobol indices, and what happens to startups and concentration, in explore.md with its plots.",
    )
    explore.add_argument("plans", nargs=2, metavar="PLAN", help="the two scenarios (names or TOML paths); the first is the plan judged")
    explore.add_argument("--samples", type=positive_int, default=200,
                         help="draws of the uncertainties (lhs); with --design sobol the base sample N, a power of two, "
                              "which makes N x (2D + 2) draws (default: 200)")
    explore.add_argument("--design", choices=("lhs", "sobol"), default="lhs",
                         help="lhs: Latin hypercube, first-order Sobol indices estimated from it; sobol: Saltelli's sample, "
                              "first-order and total indices (default: lhs)")
    explore.add_argument("--firm", default="amazon", help="the firm the verdict and the conditions plot are about (default: amazon)")
    explore.add_argument("--metric", default="value_bn",
                         help="the firm metric compared (default: value_bn, NPV of free cash flow plus terminal value)")
    explore.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                         help="override a parameter in both plans (repeatable)")
    execution_options(explore, replicates=4, out="results/explore-<first>-<second>")

    def history_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--history", type=Path, default=DEFAULT_HISTORY, metavar="DIR",
                       help=f"folder of history CSVs (cloud_market.csv, capex.csv, ...; default: {DEFAULT_HISTORY})")
        p.add_argument("--replicates", type=positive_int, default=8,
                       help="seeds per parameter set, common to every set (default: 8)")
        p.add_argument("--seed", type=seed_int, default=1, help="seed of the sampler and of the model runs (default: 1)")
        worker_options(p)
        p.add_argument("--quiet", action="store_true", help="print nothing but errors")

    cal = sub.add_parser(
        "calibrate", help="fit the behavioural parameters to history (ABC-SMC posterior)",
        description="Start the model in 2019 (scenario history_2019), replay what firms spent (capex.csv), and fit the "
                    "behavioural parameters to the cloud shares and market size up to --fit-until (secondary targets "
                    "weighted by their confidence) with pyabc's ABC-SMC. Writes the posterior, fit plots and an "
                    "identification report.",
    )
    cal.add_argument("--fit-until", type=year_int, default=None, help="last year the fit sees (default: the history's last)")
    cal.add_argument("--scenario", default="history_2019", metavar="NAME|PATH", help="the historical start (default: history_2019)")
    cal.add_argument("--population", type=positive_int, default=200, help="particles per ABC generation (default: 200)")
    cal.add_argument("--generations", type=positive_int, default=8, help="ABC-SMC generations (default: 8)")
    cal.add_argument("--out", type=Path, default=Path("results/calibration"), help="folder for the results (default: results/calibration)")
    history_options(cal)

    hind = sub.add_parser(
        "hindcast", help="run the calibrated model from its historical start and score its forecasts",
        description="Run the calibrated model from 2019, replaying the inputs, with bands over posterior draws x seeds; "
                    "score every year after the calibration's cutoff that the history holds against persistence and "
                    "drift, and report how often history falls inside the 90 % band.",
    )
    hind.add_argument("--calibration", type=Path, required=True, metavar="DIR", help="a folder written by `run.py calibrate`")
    hind.add_argument("--fit-until", type=year_int, default=None,
                      help="the cutoff; must be the calibration's (default: the calibration's)")
    hind.add_argument("--until", type=year_int, default=None, help="last year to simulate (default: the history's last, at least the cutoff + 1)")
    hind.add_argument("--draws", type=positive_int, default=50, help="posterior draws (default: 50)")
    hind.add_argument("--out", type=Path, default=Path("results/hindcast"), help="folder for the results (default: results/hindcast)")
    hind.add_argument("--no-plots", action="store_true", help="skip the PNG plot")
    history_options(hind)

    viz = sub.add_parser(
        "viz", help="explore the model live in a browser (Mesa's SolaraViz)",
        description="Serve the browser view: pick a scenario, seed and knobs, then Step / Play / Reset and watch "
                    "the network, shares, finances, strategies, HHI and events year by year. Works offline once "
                    "scripts/setup.sh has fetched the front-end files. Stop it with Ctrl-C.",
    )
    viz.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    viz.add_argument("--port", type=port_number, default=8765, help="port to listen on, 1-65535 (default: 8765)")
    sub.add_parser("scenarios", help="list the scenarios with their descriptions")
    show = sub.add_parser("show-scenario", help="print a scenario's fully resolved parameters as JSON")
    show.add_argument("name", metavar="NAME|PATH")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from model.race import AIRaceModel
    from model.scenario import load_scenario
    from report.export import write_run
    from report.outputs import Command, check_writable
    from report.tables import format_summary, run_tables, summarize
    from viz.plots import save_run_figures

    params = load_scenario(args.scenario, args.overrides, _years(args))
    out = args.out if args.out is not None else Path("results") / params.name
    check_writable(out, Command.RUN)

    started = time.perf_counter()
    model = AIRaceModel(params, rng=args.seed)
    with tqdm(total=params.years, desc=params.name, unit="yr", disable=True if args.quiet else None,
              file=sys.stderr, leave=False) as progress:
        while model.running:
            model.step()
            progress.update(1)
    simulated = time.perf_counter() - started
    tables = run_tables(model)
    summary = summarize(model, seed=args.seed)
    figures = None if args.no_plots else functools.partial(save_run_figures, tables.shares, tables.firms, model.graph)
    write_run(out, tables, model.graph, summary, figures)
    if not args.quiet:
        print(format_summary(summary))
        print(f"\nSimulated in {simulated:.2f} s; results in {out}/")
    return 0


def _years(args: argparse.Namespace) -> dict[str, int]:
    """--years as a typed setting (it wins over a --set years=...)."""
    return {} if args.years is None else {"years": args.years}


def whole_number(what: str, low: int, high: int | None = None):
    """An argparse type: a whole number in [low, high], refused in one line naming the value."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what}: {text!r} (a whole number)") from None
        if value < low or (high is not None and value > high):
            span = f"from {low}" if high is None else f"{low}-{high}"
            raise argparse.ArgumentTypeError(f"invalid {what}: {value} (must be {span})")
        return value
    parse.__name__ = what
    return parse


positive_int = whole_number("count", 1)
year_int = whole_number("year", 1900, 2200)
seed_int = whole_number("seed", 0)
port_number = whole_number("port", 1, 65535)


def cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from model.scenario import load_scenario
    from report.compare import check_compare_size, paired_seed_counts, verdict
    from report.export import write_csv
    from report.outputs import Command, check_writable, staged_folder, written_by
    from report.tables import json_ready
    from sweeps.execute import derive_seeds
    from sweeps.paired import DifferentHorizons, NothingToCompare, PlansDiffer, check_plans, compare_plans
    from viz.compare_plots import plot_paired, plot_share_bands
    from viz.plots import save_figure

    if len(args.scenarios) < 2:
        raise UsageError("compare: give at least two scenarios")
    loaded = [load_scenario(name, args.overrides, _years(args)) for name in args.scenarios]
    names = [p.name for p in loaded]
    if len(set(names)) < len(names):
        raise UsageError(f"compare: the same scenario is given twice ({', '.join(names)})")
    out = args.out if args.out is not None else Path("results") / f"compare-{names[0]}-{names[1]}"
    check_writable(out, Command.COMPARE)
    try:
        check_plans(loaded)
    except DifferentHorizons as exc:
        raise UsageError(f"compare: {exc}; give --years") from None
    except PlansDiffer as exc:
        raise UsageError(f"compare: {exc}") from None
    points = _compare_points(args, loaded)
    check_compare_size(len(loaded), args.replicates * len(points), loaded[0].years)
    seeds = derive_seeds(args.seed, args.replicates)
    years = loaded[0].years
    total = len(loaded) * len(points) * len(seeds)
    with tqdm(total=total, desc="compare", unit="run", disable=True if args.quiet else None,
              file=sys.stderr, leave=False) as progress:
        try:
            result = compare_plans(loaded, points, seeds, drawn=bool(args.draws), workers=args.workers,
                                   on_run=lambda: progress.update(1))
        except NothingToCompare as exc:
            raise UsageError(str(exc)) from None
    runs, horizons = result.runs, result.horizons
    outcomes, failures, elapsed, replicate_seeds = runs.outcomes, runs.failures, runs.seconds, runs.replicate_seeds
    paired, incremental, sensitivity, bands, split = (result.paired, result.incremental, result.sensitivity,
                                                      result.bands, result.split)
    valuation = loaded[0].valuation
    with staged_folder(out, Command.COMPARE) as folder:
        for name, frame in result.table_files().items():
            write_csv(frame, folder / name)
        write_csv(pd.DataFrame([{"point": p, **point} for p, point in enumerate(points)]), folder / "parameter_draws.csv")
        save_figure(plot_share_bands(bands, names), folder / "compare_shares.png")
        save_figure(plot_paired(paired), folder / "compare_paired.png")
        meta = {"written_by": written_by(Command.COMPARE), "scenarios": names, "sources": args.scenarios,
                "replicates": args.replicates, "base_seed": args.seed, "seeds": seeds, "years": years, "overrides": args.overrides,
                "parameter_draws": len(points) if args.draws else 0,
                "parameters_from": (str(args.calibration) if args.calibration else "uncertainties") if args.draws else None,
                "valuation": dataclasses.asdict(valuation), "horizons_years": horizons,
                "paired_seeds": paired_seed_counts(outcomes, names), "failed_runs": failures}
        (folder / "compare.json").write_text(json.dumps(json_ready(meta), indent=2) + "\n")
    if not args.quiet:
        print(verdict(outcomes, paired, names, years, len(replicate_seeds), incremental, sensitivity, valuation, split))
        print(f"\n{total} runs in {elapsed:.1f} s ({total / elapsed:.1f} runs/s)"
              + (f", {len(failures)} failed (see compare.json)" if failures else "") + f"; results in {out}/")
    return 0


def _compare_points(args: argparse.Namespace, loaded: list) -> list[dict]:
    """The parameter sets every scenario of a comparison runs at: one empty set without --draws."""
    from calibration.hindcast import draw_particles
    from calibration.priors import BEHAVIOURAL_PATHS
    from calibration.store import read_calibration
    from sweeps.design import paired_uncertainty_factors, sampled_points

    if args.draws < 0:
        raise UsageError(f"--draws {args.draws}: must be 0 or more")
    if args.calibration is not None and not args.draws:
        raise UsageError(f"--calibration {args.calibration}: give --draws N, the number of posterior draws")
    if not args.draws:
        return [{}]
    if args.replicates < 2:
        raise UsageError(f"--replicates {args.replicates}: with --draws every parameter set needs at least 2 seeds, "
                         f"so the spread can be split between parameters and luck")
    if args.calibration is not None:
        drawn = draw_particles(read_calibration(args.calibration).particles, args.draws, args.seed)[list(BEHAVIOURAL_PATHS)]
        return [{path: float(v) for path, v in row.items()} for row in drawn.to_dict("records")]
    return sampled_points(paired_uncertainty_factors(loaded, f"--draws {args.draws}"), args.draws, args.seed, "lhs")


def check_workers(args: argparse.Namespace) -> None:
    """--workers against the cores, once the whole command line is read (so --force-workers may come
    before or after it); even forced, never more processes than the operating system can be asked for."""
    from sweeps.execute import default_workers, worker_limit

    workers = getattr(args, "workers", None)
    if workers is None:
        return
    if workers > MAX_FORCED_WORKERS:
        raise UsageError(f"--workers {workers}: more than the {MAX_FORCED_WORKERS} local worker processes a command may start")
    if workers > worker_limit() and not getattr(args, "force_workers", False):
        raise UsageError(f"--workers {workers}: more than the limit of {worker_limit()} (4 per core, {default_workers()} "
                         f"cores here); give --force-workers to start that many anyway")


def _say(*lines: str) -> None:
    """Print to stdout; a reader that went away (`| head -1`) ends the printing, not the command."""
    if getattr(_say, "closed", False):
        return
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        _say.closed = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _sweep_progress(quiet: bool, desc: str = "runs"):
    from tqdm import tqdm

    def bar(total: int, initial: int):
        return tqdm(total=total, initial=initial, desc=desc, unit="run", disable=True if quiet else None,
                    file=sys.stderr, smoothing=0.1)
    return bar


def _check_metric(name: str) -> None:
    import difflib

    from sweeps.sweep import metric_columns

    if name not in metric_columns():
        close = difflib.get_close_matches(name, metric_columns(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"--metric {name}: unknown metric{hint}; metrics are <firm>.<measure> such as "
                         f"amazon.cumulative_profit_bn, or market-wide such as hhi_cloud_ai")


def _finish_sweep(args: argparse.Namespace, plan, report: dict, label: str):
    import pandas as pd

    from report.outputs import OutputError

    try:
        runs = pd.read_parquet(args.out / "runs.parquet")
    except (OSError, ValueError) as exc:
        raise OutputError(f"--out {args.out}: cannot read back runs.parquet ({exc})") from None
    failed = runs[runs["status"] == "error"]
    if not args.quiet:
        workers = args.scheduler or f"{args.workers or 'all'} local worker(s)"
        _say(f"{label}: {plan.total_runs} runs ({len(plan.points)} points x {plan.replicates} replicates)",
             f"  {report['done']} done: {report['ran_now']} now, {report['skipped']} from earlier; "
             f"{len(failed)} failed; {report['seconds']:.1f} s, {report['runs_per_second']:.1f} runs/s on {workers}",
             *(f"  run {row.run_id} (seed {row.seed}) failed: {row.error}" for row in failed.head(5).itertuples()),
             *([f"  ... and {len(failed) - 5} more failed runs (status 'error' in runs.parquet)"] if len(failed) > 5 else []),
             f"  results in {args.out}/ (runs.parquet, yearly.parquet, design.json)")
    if report["interrupted"]:
        print(f"interrupted after {report['done']} of {plan.total_runs} runs; run the same command again to resume",
              file=sys.stderr)
    return runs


def cmd_sweep(args: argparse.Namespace) -> int:
    from report.outputs import Command
    from sweeps.design import grid_points, parse_factor, sampled_points
    from sweeps.sweep import SweepPlan, run_sweep

    for metric in args.metric:
        _check_metric(metric)
    factors = [parse_factor(text, "--vary", need_count=args.design == "grid") for text in args.vary]
    if len({f.path for f in factors}) < len(factors):
        raise UsageError("--vary: the same parameter is varied twice")
    if args.design == "grid":
        if args.samples is not None:
            raise UsageError("--samples goes with --design lhs or mc; a grid's size comes from --vary")
        points = grid_points(factors)
    else:
        if args.samples is None:
            raise UsageError(f"--design {args.design} needs --samples N")
        points = sampled_points(factors, args.samples, args.seed, args.design)
    plan = SweepPlan(scenario=args.scenario, overrides=args.overrides, factors=[f.path for f in factors], points=points,
                     replicates=args.replicates, seed=args.seed, years=args.years, design=args.design,
                     common_seeds=args.common_seeds)
    report = run_sweep(plan, args.out, workers=args.workers, scheduler=args.scheduler, fresh=args.fresh,
                       progress=_sweep_progress(args.quiet), command=Command.SWEEP, warn=_warn)
    runs = _finish_sweep(args, plan, report, f"Sweep of {args.scenario} ({args.design})")
    if not args.no_plots and plan.factors and (runs["status"] == "ok").any():
        from viz.plots import save_figure
        from viz.sweep_plots import default_metrics, plot_heatmap, plot_metrics_vs_factors

        metrics = args.metric or default_metrics(runs, exclude=plan.factors)
        write_result(args.out / "metrics_vs_factors.png",
                      lambda path: save_figure(plot_metrics_vs_factors(runs, plan.factors, metrics, plan.design), path))
        numeric = [f for f in factors if f.is_range or all(isinstance(v, (int, float)) for v in f.values)]
        if args.design == "grid" and len(factors) == 2 and len(numeric) == 2:
            write_result(args.out / "heatmap.png",
                          lambda path: save_figure(plot_heatmap(runs, plan.factors[0], plan.factors[1], metrics[0]), path))
    return 130 if report["interrupted"] else 0


def write_result(path: Path, write) -> None:
    """Write one result file beside the tables; a failed write (a full disk) leaves no partial file."""
    from report.outputs import OutputError, reason, replace_with

    try:
        replace_with(path, write)
    except OSError as exc:
        raise OutputError(f"--out {path.parent}: cannot write {path.name} ({reason(exc)}); "
                          f"the runs are kept, and running the same command again writes it") from None


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from report.outputs import Command
    from sweeps.design import parse_factor
    from sweeps.sensitivity import analyze, index_warnings, metric_problem, salib_problem, sample
    from sweeps.sweep import SweepPlan, resolved_points, run_sweep

    _check_metric(args.metric)
    if not args.param:
        raise UsageError("sensitivity: give at least one --param PATH=LO:HI")
    factors = [parse_factor(text, "--param") for text in args.param]
    if len({f.path for f in factors}) < len(factors):
        raise UsageError("--param: the same parameter is given twice")
    problem = salib_problem(factors)
    points = sample(problem, factors, args.method, args.samples, args.seed)
    plan = SweepPlan(scenario=args.scenario, overrides=args.overrides, factors=[f.path for f in factors], points=points,
                     replicates=args.replicates, seed=args.seed, years=args.years, design=args.method,
                     common_seeds=True, extra={"samples": args.samples})
    resolved = resolved_points(plan)
    wrong_metric = metric_problem(args.metric, resolved[0], [f.path for f in factors])
    if wrong_metric:
        raise UsageError(wrong_metric)
    report = run_sweep(plan, args.out, workers=args.workers, scheduler=args.scheduler, fresh=args.fresh,
                       progress=_sweep_progress(args.quiet), command=Command.SENSITIVITY, resolved=resolved, warn=_warn)
    runs = _finish_sweep(args, plan, report, f"Sensitivity ({args.method}) of {args.scenario}")
    if report["interrupted"]:
        return 130
    values = runs.groupby("point")[args.metric].mean().reindex(range(len(points))).to_numpy(dtype=float)
    try:
        tables = analyze(problem, args.method, points, values, args.seed)
    except ValueError as exc:
        print(f"error: cannot compute the indices for {args.metric}: {exc}", file=sys.stderr)
        return 1
    for line in index_warnings(args.method, tables, args.samples):
        _warn(line)
    for name, table in tables.items():
        write_result(args.out / f"{name}.csv", lambda path: table.to_csv(path, index=False, float_format="%.6g"))
    main_table = tables[f"{args.method}_indices"]
    main_table.attrs["metric"] = args.metric
    if not args.no_plots:
        from viz.plots import save_figure
        from viz.sweep_plots import plot_sensitivity

        write_result(args.out / f"{args.method}_indices.png",
                      lambda path: save_figure(plot_sensitivity(main_table, args.method), path))
    if not args.quiet:
        _say(f"\n{args.method.capitalize()} indices of {args.metric}:",
             main_table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    import pandas as pd

    from model.scenario import load_scenario
    from report.explore import condition_lines, explore_markdown, verdict_line
    from report.outputs import FILES, FRESH_REMEDY, Command, OutputError, check_writable, clear_result, make_folder, written_by
    from report.tables import json_ready
    from sweeps.explore import (
        PlanRuns, check_firm, check_firm_metric, check_metric, conditions, explore_factors, explore_points,
        feature_scores, paired_runs, point_means, sobol_indices, sweep_plans, who_wins,
    )
    from sweeps.store import FolderLock
    from sweeps.sweep import check_folder, resolved_points, run_sweep

    check_firm(args.firm)
    check_metric(args.metric)
    loaded = [load_scenario(source, args.overrides, _years(args)) for source in args.plans]
    names = [p.name for p in loaded]
    if names[0] == names[1]:
        raise UsageError(f"explore: both plans are named {names[0]}; give two different scenarios")
    for what, values in (("horizons", [f"{p.years} years" for p in loaded]), ("start years", [p.start_year for p in loaded]),
                         ("valuations", [p.valuation for p in loaded])):
        if values[0] != values[1]:
            shown = f"{names[0]} {values[0]}, {names[1]} {values[1]}" if what != "valuations" else "see show-scenario"
            raise UsageError(f"explore: the plans have different {what} ({shown}); their values could not be compared"
                             + ("; give --years" if what == "horizons" else ""))
    factors = explore_factors(loaded, args.design)
    check_firm_metric(args.firm, args.metric, loaded, [f.path for f in factors])
    points = explore_points(factors, args.design, args.samples, args.seed)
    plans = sweep_plans(args.plans, args.overrides, factors, points, args.replicates, args.seed, args.years, args.design,
                        args.samples)
    resolved = [resolved_points(plan) for plan in plans]
    out = args.out if str(args.out) != "results/explore-<first>-<second>" else Path("results") / f"explore-{names[0]}-{names[1]}"
    check_writable(out, Command.EXPLORE, FRESH_REMEDY if args.fresh else "choose another folder")
    for name, plan, (base, _) in zip(names, plans, resolved):
        check_folder(plan, out / name, args.fresh, base)
    make_folder(out)
    lock = FolderLock(out).acquire()  # one explore at a time on a folder, from clearing to the report
    try:
        if args.fresh:
            clear_result(out, Command.EXPLORE)
        marker = {"written_by": written_by(Command.EXPLORE), "complete": False, "plans": names}
        write_result(out / "explore.json", lambda path: path.write_text(json.dumps(marker, indent=2) + "\n"))
        started = time.perf_counter()
        tables, seconds, ran_now, earlier = [], 0.0, 0, 0
        for name, plan, points_of in zip(names, plans, resolved):
            report = run_sweep(plan, out / name, workers=args.workers, scheduler=args.scheduler, fresh=args.fresh,
                               progress=_sweep_progress(args.quiet, name), command=Command.SWEEP, warn=_warn,
                               resolved=points_of)
            seconds, ran_now, earlier = seconds + report["seconds"], ran_now + report["ran_now"], earlier + report["skipped"]
            if report["interrupted"]:
                print(f"interrupted after {report['done']} of {plan.total_runs} runs of {name}; run the same command "
                      f"again to resume", file=sys.stderr)
                return 130
            try:
                tables.append(PlanRuns(name, pd.read_parquet(out / name / "runs.parquet"),
                                       pd.read_parquet(out / name / "yearly.parquet")))
            except (OSError, ValueError) as exc:
                raise OutputError(f"--out {out / name}: cannot read back the sweep's tables ({exc})") from None
        valuation = loaded[0].valuation
        paired = paired_runs(tables[0], tables[1], args.metric, valuation, loaded[0].years)
        if paired.empty:
            first_error = next((r for t in tables for r in t.runs.loc[t.runs["status"] == "error", "error"]), "none")
            raise UsageError(f"explore: no run finished in both plans, so there is nothing to compare; first error: {first_error}")
        wins = who_wins(paired)
        scores = feature_scores(paired, points, args.metric, args.seed)
        found, boxes = conditions(paired, points, args.metric, args.seed)
        sobol, sobol_notes = sobol_indices(paired, points, factors, args.design, args.metric, args.seed)
        failed = sum(int((t.runs["status"] == "error").sum()) for t in tables)
        meta = {
            "written_by": written_by(Command.EXPLORE), "complete": True, "plans": names, "sources": args.plans,
            "firm": args.firm, "metric": args.metric, "design": args.design, "samples": args.samples, "points": len(points),
            "replicates": args.replicates, "seed": args.seed, "common_seeds": plans[0].common_seeds, "years": loaded[0].years,
            "start_year": loaded[0].start_year, "overrides": args.overrides,
            "uncertainties": {f.path: loaded[0].uncertainties[f.path] for f in factors},
            "valuation": dataclasses.asdict(valuation), "runs_per_plan": plans[0].total_runs, "runs_paired": len(paired),
            "failed_runs": failed, "runs_now": ran_now, "runs_from_earlier": earlier, "seconds": seconds,
        }
        plots = [] if args.no_plots else _explore_plots(out, paired, points, factors, scores, boxes, args.firm, args.metric, names)
        for name in FILES[Command.EXPLORE]:
            if name.endswith(".png") and name not in plots and (out / name).is_file():
                (out / name).unlink()  # an earlier call's picture of another firm or metric
        write_result(out / "paired_runs.parquet", lambda path: paired.to_parquet(path, index=False))
        for name, table in (("who_wins", wins), ("conditions", found), ("feature_scores", scores), ("sobol_indices", sobol)):
            write_result(out / f"{name}.csv", lambda path, table=table: table.to_csv(path, index=False, float_format="%.10g"))
        write_result(out / "explore.md", lambda path: path.write_text(
            explore_markdown(meta, wins, found, scores, sobol, sobol_notes, plots)))
        write_result(out / "explore.json", lambda path: path.write_text(json.dumps(json_ready(meta), indent=2) + "\n"))
        if not args.quiet:
            head = wins[wins["firm"] == args.firm]
            _say(f"Explore {names[0]} against {names[1]}: {len(paired):,} paired runs ({len(points):,} draws x "
                 f"{args.replicates} seeds, {args.design}); {ran_now:,} runs now in {seconds:.0f} s"
                 + (f", {earlier:,} from earlier" if earlier else "") + f"; {time.perf_counter() - started:.0f} s in all",
                 verdict_line(head.iloc[0], *names).replace("**", "") if len(head) else f"no paired run of {args.firm}",
                 f"Where {names[0]} raises each firm's {args.metric} (PRIM):",
                 *(line.replace("**", "") for line in condition_lines(found, names[0])),
                 f"results in {out}/ (explore.md, who_wins.csv, conditions.csv, feature_scores.csv, sobol_indices.csv)")
        return 0
    finally:
        lock.release()


def _explore_plots(out: Path, paired, points, factors, scores, boxes, firm: str, metric: str, names: list[str]) -> list[str]:
    """Write explore's plots; the names of those written (the feature scores need a difference that varies)."""
    from sweeps.explore import point_means
    from viz.explore_plots import plot_conditions, plot_feature_scores, plot_who_wins
    from viz.plots import save_figure

    write_result(out / "who_wins.png", lambda path: save_figure(plot_who_wins(paired, metric, *names), path))
    box = boxes[firm]
    ranked = list(scores[scores["firm"] == firm].sort_values("score", ascending=False)["parameter"])
    axes = list(dict.fromkeys([p for p in ranked if box is not None and p in box.limits] + ranked))[:2] \
        or [f.path for f in factors[:2]]
    x, y = point_means(paired, points, f"{firm}.{metric}")
    write_result(out / "conditions.png", lambda path: save_figure(
        plot_conditions(x, y, box.limits if box else {}, axes, firm, metric, names[0]), path))
    written = ["who_wins.png", "conditions.png"]
    if not scores.empty:
        write_result(out / "feature_scores.png", lambda path: save_figure(plot_feature_scores(scores), path))
        written.append("feature_scores.png")
    return written


def _observed(history, first: int, last: int):
    """The history's targets the model simulates, first <= year <= last."""
    from calibration.simulate import SIMULATED_TARGETS

    observed = history.targets(first, last)
    return observed[observed["target"].isin(SIMULATED_TARGETS)].reset_index(drop=True)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from calibration.fit import HistoryModel, Targets, calibrate, correlations, predictive_bands, summary
    from calibration.history import check_cutoff, load_history
    from calibration.replay import replay
    from calibration.report import identification_report
    from calibration.simulate import over_years
    from model import MODEL_VERSION
    from model.scenario import load_scenario
    from report.outputs import Command, check_writable, staged_folder, written_by
    from report.tables import json_ready
    from sweeps.execute import default_workers, derive_seeds
    from viz.calibration_plots import plot_bands_vs_history, plot_posterior
    from viz.plots import save_figure

    history = load_history(args.history)
    start = load_scenario(args.scenario)
    fit_until = args.fit_until if args.fit_until is not None else history.last_year
    check_cutoff(history, fit_until, start.start_year)
    check_writable(args.out, Command.CALIBRATE)
    scenario = replay(history, over_years(start, fit_until), load_scenario("baseline"))
    observed = _observed(history, scenario.start_year, fit_until)
    targets = Targets.of(observed)
    seeds = derive_seeds(args.seed, args.replicates)
    model = HistoryModel(scenario, tuple(seeds), tuple(targets.values))
    workers = args.workers or default_workers()
    _quiet_pyabc()
    with tqdm(total=args.generations, desc="ABC-SMC", unit="gen", disable=True if args.quiet else None,
              file=sys.stderr, leave=False) as bar:
        def progress(generation: int) -> None:
            bar.n = min(generation + 1, args.generations)
            bar.refresh()
        posterior = calibrate(model, targets, population=args.population, generations=args.generations, seed=args.seed,
                              workers=workers, progress=progress)
    table = summary(posterior.particles)
    corr = correlations(posterior.particles)
    band = predictive_bands(posterior.predictive)
    fit = band.merge(observed[["year", "target", "firm", "value", "weight"]].rename(columns={"value": "observed"}),
                     on=["year", "target", "firm"], how="left")
    meta = {"written_by": written_by(Command.CALIBRATE), "model_version": MODEL_VERSION, "scenario": start.name,
            "scenario_source": args.scenario,
            "start_year": scenario.start_year, "fit_until": fit_until, "history": str(args.history),
            "population": args.population, "generations": args.generations, "replicates": args.replicates,
            "seed": args.seed, "seeds": seeds, "workers": workers, "epsilons": posterior.epsilons,
            "evaluations": posterior.evaluations, "seconds": posterior.seconds,
            "targets": len(targets.values), "parameters": table.to_dict("records")}
    with staged_folder(args.out, Command.CALIBRATE) as folder:
        posterior.particles.to_csv(folder / "posterior.csv", index=False, float_format="%.10g")
        table.to_csv(folder / "posterior_summary.csv", index=False, float_format="%.6g")
        corr.to_csv(folder / "posterior_correlations.csv", float_format="%.4f")
        fit.to_csv(folder / "fit.csv", index=False, float_format="%.6g")
        save_figure(plot_bands_vs_history(band, observed, f"Fit to history, {scenario.start_year}-{fit_until}"),
                    folder / "fit_vs_history.png")
        save_figure(plot_posterior(posterior.particles, table), folder / "posterior.png")
        (folder / "identification.md").write_text(identification_report(table, corr, meta))
        (folder / "calibration.json").write_text(json.dumps(json_ready(meta), indent=2) + "\n")
    if not args.quiet:
        _say(f"Calibrated {len(table)} parameters to {len(targets.values)} observations of {scenario.start_year}-{fit_until} "
             f"({posterior.evaluations:,} evaluations x {args.replicates} seeds, {posterior.seconds:.0f} s; final distance "
             f"{posterior.epsilons[-1]:.2f}):",
             *(f"  {r.parameter:<34} {r.median:8.3g}  90 % {r.q05:.3g}-{r.q95:.3g}  "
               f"{'identified' if r.identified else 'not identified'}" for r in table.itertuples()),
             f"results in {args.out}/ (posterior.csv, identification.md, fit_vs_history.png)")
    return 0


def _quiet_pyabc() -> None:
    """pyabc logs every generation at INFO; the progress bar says enough."""
    import logging

    for name in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance", "ABC.Epsilon", "ABC.Predictor", "ABC.Adaptation",
                 "ABC.Transition", "ABC.Acceptor", "Epsilon", "Distance", "Acceptor", "History"):
        logging.getLogger(name).setLevel(logging.WARNING)


def cmd_hindcast(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from calibration.hindcast import bands, draw_particles, hindcast_specs, predictions, run_targets, runs_table
    from calibration.history import check_overlap, load_history
    from calibration.replay import replay
    from calibration.report import score_lines
    from calibration.scoring import MODEL, band_coverage, score, score_summary
    from calibration.simulate import over_years
    from calibration.store import read_calibration
    from model.scenario import load_scenario
    from report.outputs import Command, check_writable, staged_folder, written_by
    from report.tables import json_ready
    from sweeps.execute import derive_seeds, execute
    from viz.calibration_plots import plot_bands_vs_history
    from viz.plots import save_figure

    calibration = read_calibration(args.calibration)
    fit_until = calibration.fit_until
    if args.fit_until is not None and args.fit_until != fit_until:
        raise UsageError(f"--fit-until {args.fit_until}: the calibration in {args.calibration} was fitted until {fit_until}; "
                         f"a hindcast scores the years after the calibration's cutoff")
    history = load_history(args.history)
    start = load_scenario(calibration.scenario)
    until = args.until if args.until is not None else max(history.last_year, fit_until + 1)
    if until <= fit_until:
        raise UsageError(f"--until {until}: must be after the cutoff {fit_until}")
    check_overlap(history, start.start_year, until)
    check_writable(args.out, Command.HINDCAST)
    scenario = replay(history, over_years(start, until), load_scenario("baseline"))
    drawn = draw_particles(calibration.particles, args.draws, args.seed)
    seeds = derive_seeds(args.seed, args.replicates)
    specs = hindcast_specs(scenario, drawn, seeds)
    started = time.perf_counter()
    results = []
    with tqdm(total=len(specs), desc="hindcast", unit="run", disable=True if args.quiet else None,
              file=sys.stderr, leave=False) as bar:
        for result in execute(specs, workers=args.workers, func=run_targets):
            results.append(result)
            bar.update(1)
    failed = [r for r in results if r.error]
    if len(failed) == len(results):
        raise UsageError(f"hindcast: every run failed; first error: {failed[0].error}")
    runs = runs_table(sorted(results, key=lambda r: r.spec.run_id))
    band = bands(runs)
    observed = _observed(history, history.first_year, until)
    scored = observed[observed["year"] >= scenario.start_year]
    preds = predictions(band, observed, fit_until)
    scores = score(preds, scored, fit_until)
    table = score_summary(scores)
    coverage = band_coverage(band, scored, fit_until)
    forecast = band.merge(observed[["year", "target", "firm", "value"]].rename(columns={"value": "observed"}),
                          on=["year", "target", "firm"], how="left")
    meta = {"written_by": written_by(Command.HINDCAST), "calibration": str(args.calibration), "fit_until": fit_until,
            "scenario": calibration.scenario, "start_year": scenario.start_year, "until": until,
            "history": str(args.history), "draws": args.draws, "replicates": args.replicates, "seed": args.seed,
            "seeds": seeds, "runs": len(results), "failed_runs": [{"run_id": r.spec.run_id, "error": r.error} for r in failed],
            "seconds": time.perf_counter() - started, "scores": table.to_dict("records"),
            "coverage": coverage.to_dict("records")}
    with staged_folder(args.out, Command.HINDCAST) as folder:
        forecast.to_csv(folder / "forecast.csv", index=False, float_format="%.6g")
        runs.to_parquet(folder / "runs.parquet", index=False)
        scores.to_csv(folder / "scores.csv", index=False, float_format="%.6g")
        table.to_csv(folder / "score_summary.csv", index=False, float_format="%.6g")
        coverage.to_csv(folder / "coverage.csv", index=False, float_format="%.4g")
        if not args.no_plots:
            naive = preds[preds["method"] != MODEL]
            save_figure(plot_bands_vs_history(band, observed, f"Hindcast from {scenario.start_year}, fitted until {fit_until}",
                                              cutoff=fit_until, naive=naive), folder / "hindcast.png")
        (folder / "hindcast.json").write_text(json.dumps(json_ready(meta), indent=2) + "\n")
    if not args.quiet:
        after = [year for year in sorted(set(scored["year"])) if year > fit_until]
        _say(f"Hindcast from {scenario.start_year} to {until}, fitted until {fit_until}: {args.draws} posterior draws x "
             f"{args.replicates} seeds ({len(results)} runs, {meta['seconds']:.1f} s); mean error (shares in points, "
             f"money in %):", *score_lines(table),
             *(f"  90 % band covers {row.coverage:.0%} of {row.n} {row.group} points after {fit_until}"
               for row in coverage.itertuples()),
             *([] if after else [f"  (the history holds no year after {fit_until}: only the fit is scored)"]),
             f"results in {args.out}/ (forecast.csv, scores.csv, hindcast.png)")
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    """Check the address can be listened on, then become `solara run browser/app.py`, quiet and offline."""
    import socket

    try:
        infos = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"viz: cannot listen on {args.host}:{args.port} ({getattr(exc, 'strerror', None) or exc})") from None
    root = Path(__file__).resolve().parent
    assets = Path(os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR") or Path(sys.prefix) / "share" / "solara" / "cdn")
    if not (assets / "@widgetti").is_dir():
        print(f"warning: no front-end files in {assets}; the page will stay blank offline "
              f"(run: bash scripts/fetch_solara_assets.sh)", file=sys.stderr)
    env = dict(os.environ, SOLARA_TELEMETRY_MIXPANEL_ENABLE="False", SOLARA_THEME_SHOW_BANNER="False", MPLBACKEND="Agg")
    env.setdefault("SOLARA_ASSETS_CDN", "http://127.0.0.1:9/")  # a missing front-end file fails at once, offline
    # Solara warns on every page load that a plain-http cookie cannot be samesite=none: true and harmless here.
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"),
                                                   "ignore:Cookies with samesite=none:UserWarning"]))
    cmd = [sys.executable, "-m", "solara", "run", str(root / "browser" / "app.py"), "--host", args.host,
           "--port", str(args.port), "--no-open", "--no-check-version", "--production"]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Browser view at http://{shown}:{args.port}/ (Ctrl-C stops it)", flush=True)
    os.chdir(root)
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


def cmd_scenarios(args: argparse.Namespace) -> int:
    from model.scenario import available_scenarios, load_scenario

    for name in available_scenarios():
        params = load_scenario(name)
        print(f"{name}\n    {' '.join(params.description.split())}\n")
    return 0


def cmd_show_scenario(args: argparse.Namespace) -> int:
    from model.scenario import load_scenario, scenario_to_dict

    print(json.dumps(scenario_to_dict(load_scenario(args.name, args.overrides)), indent=2))
    return 0


COMMANDS = {
    "run": cmd_run, "compare": cmd_compare, "sweep": cmd_sweep, "sensitivity": cmd_sensitivity,
    "scenarios": cmd_scenarios, "show-scenario": cmd_show_scenario, "viz": cmd_viz,
    "calibrate": cmd_calibrate, "hindcast": cmd_hindcast, "explore": cmd_explore,
}


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from model.errors import BadInput

    tqdm.monitor_interval = 0  # no monitor thread, so worker processes can be forked (sweeps.execute)
    try:
        args = build_parser().parse_args(argv)
        check_workers(args)
        status = COMMANDS[args.command](args)
        sys.stdout.flush()
        return status
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BadInput as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; no results written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`run.py scenarios | head -1`): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
