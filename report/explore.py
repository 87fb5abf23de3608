"""The one-page answer of a scenario discovery (explore.md), in words and numbers, from its tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.params import MAJOR_IDS
from report.discovery import MAX_DIMENSIONS, MIN_DENSITY


def amount(measure: str, value: float) -> str:
    """A difference with its unit: $bn for money, points for shares (of 100) and HHI (of 10,000)."""
    if not np.isfinite(value):
        return "n/a"
    if measure.startswith("final_share_") or measure == "terminal_share":
        return f"{100 * value:+.1f} pt"
    if measure.startswith("hhi_"):
        return f"{value:+.0f} HHI pt"
    if measure.endswith("_bn"):
        return f"{value:+,.0f} $bn" if abs(value) >= 10 else f"{value:+,.1f} $bn"
    return f"{value:+.3g}"


def _percent(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.1%}" if 0 < value < 0.01 else f"{value:.0%}"


def verdict_line(row: pd.Series, first: str, second: str) -> str:
    return (f"For **{row.firm}**, {first} is worth {amount(row.measure, row['mean'])} against {second} on average "
            f"(95 % interval of the mean {amount(row.measure, row.mean_ci_low)} to {amount(row.measure, row.mean_ci_high)}; "
            f"90 % of runs between {amount(row.measure, row.q05)} and {amount(row.measure, row.q95)}). "
            f"It pays in {_percent(row.share_positive)} of the runs, and the uncertainties explain "
            f"{_percent(row.parameter_share)} of the spread (the seeds, luck, the rest).")


def condition_lines(conditions: pd.DataFrame, first: str, firms: list[str] | tuple[str, ...] = MAJOR_IDS) -> list[str]:
    """One line per firm: where `first` raises its metric, as PRIM's box with coverage and density."""
    lines = []
    for firm in firms:
        rows = conditions[conditions["firm"] == firm]
        if rows.empty:
            continue
        row = rows.iloc[0]
        where = f"**{firm}** gains from {first} at {_percent(row.share_of_points)} of the {row.points} parameter points"
        if not np.isfinite(row.coverage):
            lines.append(f"- {where}: {row.box}.")
            continue
        box = row.box.replace("<=", "≤").replace(">=", "≥")
        quality = (f"coverage {_percent(row.coverage)}, density {_percent(row.density)}, the box holds "
                   f"{_percent(row.mass)} of the points")
        if row.density >= MIN_DENSITY:
            lines.append(f"- {where}; it does when {box} ({quality})")
        else:
            lines.append(f"- {where}; no box of its {MAX_DIMENSIONS} most important uncertainties is {MIN_DENSITY:.0%} "
                         f"dense. The gains gather where {box}: there it gains at {_percent(row.density)} of the points "
                         f"({quality})")
    return lines


def top_parameters(scores: pd.DataFrame, firm: str, count: int = 3) -> list[tuple[str, float]]:
    rows = scores[scores["firm"] == firm].sort_values("score", ascending=False).head(count)
    return list(zip(rows["parameter"], rows["score"]))


def explore_markdown(meta: dict[str, Any], wins: pd.DataFrame, conditions: pd.DataFrame, scores: pd.DataFrame,
                     sobol: pd.DataFrame, plots: bool) -> str:
    first, second, firm, metric = meta["plans"][0], meta["plans"][1], meta["firm"], meta["metric"]
    head = wins[wins["firm"] == firm]
    valuation = meta["valuation"]
    lines = [
        f"# Does {first} pay against {second}?",
        "",
        f"{meta['runs_paired']:,} paired runs: {meta['points']:,} draws of {len(meta['uncertainties'])} uncertainties "
        f"({meta['design']}) x {meta['replicates']} seeds, each run in both plans with the same draw and seed, over "
        f"{meta['years']} years from {meta['start_year']}. The metric is `{metric}`"
        + (f": free cash flow discounted at {valuation['discount_rate']:.0%} plus a {valuation['terminal']} terminal value."
           if metric.endswith("value_bn") else "."),
        "",
        "## Verdict",
        "",
        verdict_line(head.iloc[0], first, second) if len(head) else f"No paired run of {firm} finished.",
        "",
        "## Who wins and who loses",
        "",
        "| firm | mean difference | 90 % of runs | first plan higher in | parameters' share of the spread |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in wins.itertuples():
        lines.append(f"| {row.firm} {'' if row.firm in MAJOR_IDS else row.measure} | {amount(row.measure, row.mean)} | "
                     f"{amount(row.measure, row.q05)} to {amount(row.measure, row.q95)} | {_percent(row.share_positive)} | "
                     f"{_percent(row.parameter_share)} |")
    lines += ["", f"\"First plan higher\": the share of runs in which {first} gives the firm a higher {metric} (for the startups and "
              "the market: a larger share, more concentration).", ""]
    if plots:
        lines += ["![who wins](who_wins.png)", ""]
    lines += ["## Under which conditions", "",
              f"PRIM (the EMA Workbench's) peels the space of uncertainties down to a box where the points at which {first} "
              f"raises the firm's {metric} (its mean over the seeds above zero) are dense. *Coverage*: the share of all such "
              f"points inside the box; *density*: the share of the box's points that are such points.", "", *condition_lines(conditions, first), ""]
    if plots:
        lines += ["![conditions](conditions.png)", ""]
    lines += ["## Which uncertainties matter", ""]
    for major in MAJOR_IDS:
        top = top_parameters(scores, major)
        if top:
            lines.append(f"- **{major}**: " + ", ".join(f"`{path}` {score:.2f}" for path, score in top))
    first_order = sobol[sobol["firm"] == firm].sort_values("S1", ascending=False)
    if not first_order.empty:
        estimator = first_order["estimator"].iloc[0]
        lines += ["", f"Sobol indices of {firm}'s difference ({'Saltelli sample' if estimator == 'saltelli' else 'first order, estimated from the Latin hypercube by RBD-FAST'}):",
                  "", "| uncertainty | S1 | ± | ST | ± |", "|---|---:|---:|---:|---:|"]
        lines += [f"| `{r.parameter}` | {r.S1:.2f} | {r.S1_conf:.2f} | {_fmt(r.ST)} | {_fmt(r.ST_conf)} |"
                  for r in first_order.itertuples()]
    if plots:
        lines += ["", "![feature scores](feature_scores.png)"]
    lines += ["", "## The uncertainties and their ranges", "", "| uncertainty | range |", "|---|---|"]
    lines += [f"| `{path}` | {lo:g} to {hi:g} |" for path, (lo, hi) in meta["uncertainties"].items()]
    earlier = f", {meta['runs_from_earlier']:,} from earlier calls" if meta["runs_from_earlier"] else ""
    lines += ["", f"Seed {meta['seed']}; {meta['failed_runs']} failed runs; {meta['runs_now']:,} runs in "
              f"{meta['seconds']:.0f} s by the last call{earlier}. Tables: who_wins.csv, conditions.csv, "
              f"feature_scores.csv, sobol_indices.csv, paired_runs.parquet.", ""]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "–"
