#!/usr/bin/env python3
"""Command line for the AI investment race simulator.

    python run.py run --scenario baseline --years 10 --seed 7 --out results/baseline
    python run.py scenarios
    python run.py show-scenario baseline --set firms.amazon.ai_budget_bn=60
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

EXIT_BAD_INPUT = 2


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

    run = sub.add_parser("run", help="simulate one scenario and write tables, network and plots",
                         description="Simulate one scenario year by year; print a summary and write results to --out.")
    scenario_options(run)
    run.add_argument("--years", type=int, default=None, help="years to simulate (default: the scenario's, 10 for baseline)")
    run.add_argument("--seed", type=int, default=1, help="random seed; same scenario + seed = same results (default: 1)")
    run.add_argument("--out", type=Path, default=None, help="folder for the result files (default: results/<scenario>)")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots (faster)")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")

    sub.add_parser("scenarios", help="list the scenarios with their descriptions")
    show = sub.add_parser("show-scenario", help="print a scenario's fully resolved parameters as JSON")
    show.add_argument("name", metavar="NAME|PATH")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from model.race import AIRaceModel
    from model.scenario import load_scenario
    from report.export import check_writable, write_run
    from report.tables import format_summary, run_tables, summarize

    overrides = list(args.overrides) + ([f"years={args.years}"] if args.years is not None else [])
    params = load_scenario(args.scenario, overrides)
    out = args.out if args.out is not None else Path("results") / params.name
    check_writable(out)

    started = time.perf_counter()
    model = AIRaceModel(params, rng=args.seed)
    with tqdm(total=model.horizon_years, desc=params.name, unit="yr", disable=True if args.quiet else None,
              file=sys.stderr, leave=False) as progress:
        while model.running:
            model.step()
            progress.update(1)
    simulated = time.perf_counter() - started
    tables = run_tables(model)
    summary = summarize(model, tables, seed=args.seed)
    write_run(out, tables, model.graph, summary, plots=not args.no_plots)
    if not args.quiet:
        print(format_summary(summary))
        print(f"\nSimulated in {simulated:.2f} s; results in {out}/")
    return 0


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


COMMANDS = {"run": cmd_run, "scenarios": cmd_scenarios, "show-scenario": cmd_show_scenario}


def main(argv: list[str] | None = None) -> int:
    from model.scenario import ScenarioError
    from report.export import OutputError

    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; no results written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
