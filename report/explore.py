"""The one-page answer of a scenario discovery (explore.md), in words and numbers, from its tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.params import GORDON, MAJOR_IDS
from report.discovery import MASS_MIN, MAX_DIMENSIONS, MIN_DENSITY


def amount(measure: str, value: float) -> str:
    """A difference with its unit: $bn for money, points for shares (of 100) and HHI (of 10,000)."""
    if not np.isfinite(value):
        return "n/a"
    if measure.startswith("final_share_"):
        return f"{100 * value:+.1f} pt"
    if measure.startswith("hhi_"):
        return f"{value:+.0f} HHI pt"
    if "_bn" in measure:
        return f"{value:+,.0f} $bn" if abs(value) >= 10 else f"{value:+,.1f} $bn"
    return f"{value:+.3g}"


def percent(value: float) -> str:
    """A share in words: one decimal near 0 and near 1, where rounding would say 'never' or 'always'."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.1%}" if 0 < value < 0.1 or 0.99 < value < 1 else f"{value:.0%}"


def verdict_line(row: pd.Series, first: str, second: str) -> str:
    return (f"For **{row.firm}**, {first} changes its `{row.measure}` by {amount(row.measure, row['mean'])} against "
            f"{second} on average (95 % interval of the mean {amount(row.measure, row.mean_ci_low)} to "
            f"{amount(row.measure, row.mean_ci_high)}; 90 % of runs between {amount(row.measure, row.q05)} and "
            f"{amount(row.measure, row.q95)}). It is higher in {percent(row.share_positive)} of the {row.runs:,} runs, "
            f"and the uncertainties explain {percent(row.parameter_share)} of the spread (the seeds, luck, the rest).")


def condition_lines(conditions: pd.DataFrame, first: str, firms: list[str] | tuple[str, ...] = MAJOR_IDS) -> list[str]:
    """One line per firm: at how many draws `first` raises its metric (mean over the seeds), and
    PRIM's box of them with coverage, density and lift."""
    lines = []
    for firm in firms:
        rows = conditions[conditions["firm"] == firm]
        if rows.empty:
            continue
        row = rows.iloc[0]
        where = f"**{firm}** gains from {first} at {percent(row.share_of_points)} of the {row.points:,} draws"
        if not np.isfinite(row.coverage):
            lines.append(f"- {where}: {row.box}.")
            continue
        box = row.box.replace("<=", "≤").replace(">=", "≥")
        quality = (f"coverage {percent(row.coverage)}, density {percent(row.density)}, {row.lift:.1f} times the base "
                   f"rate; the box holds {percent(row.mass)} of the draws")
        if row.density >= MIN_DENSITY:
            lines.append(f"- {where}; it does when {box} ({quality}).")
            continue
        ceiling = (f" With so few such draws no box of at least {MASS_MIN:.0%} of them can be more than "
                   f"{percent(row.density_ceiling)} dense." if row.density_ceiling < MIN_DENSITY else "")
        lines.append(f"- {where}; no box of its {MAX_DIMENSIONS} most telling uncertainties is {MIN_DENSITY:.0%} dense. "
                     f"The gains gather where {box}, and even there it gains at only {percent(row.density)} of the draws "
                     f"({quality}).{ceiling}")
    return lines


def top_parameters(scores: pd.DataFrame, firm: str, count: int = 3) -> list[tuple[str, float]]:
    rows = scores[scores["firm"] == firm].sort_values("score", ascending=False).head(count)
    return list(zip(rows["parameter"], rows["score"]))


def _value_words(meta: dict[str, Any]) -> str:
    valuation = meta["valuation"]
    own = valuation.get("firms") or {}
    rates = f"{valuation['discount_rate']:.0%}" + (f" ({', '.join(own)} at their own rates)" if own else "")
    terminal = ("Gordon growth at " + f"{valuation['terminal_growth']:.0%}" if valuation["terminal"] == GORDON
                else f"an exit multiple of {valuation['exit_multiple']:g}")
    return f": free cash flow discounted at {rates}, plus a terminal value by {terminal}."


def explore_markdown(meta: dict[str, Any], wins: pd.DataFrame, conditions: pd.DataFrame, scores: pd.DataFrame,
                     sobol: pd.DataFrame, sobol_notes: list[str], plots: list[str]) -> str:
    """The report; `plots` names the PNG files written beside it."""
    first, second, firm, metric = meta["plans"][0], meta["plans"][1], meta["firm"], meta["metric"]
    head = wins[wins["firm"] == firm]
    lines = [
        f"# Does {first} pay against {second}?",
        "",
        f"{meta['runs_paired']:,} paired runs: {meta['points']:,} draws of {len(meta['uncertainties'])} uncertainties "
        f"({meta['design']}) x {meta['replicates']} seeds, each run in both plans with the same draw and seed, over "
        f"{meta['years']} years from {meta['start_year']}. The metric is `{metric}`"
        + (_value_words(meta) if metric.endswith("value_bn") else "."),
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
        name = row.firm if row.firm in MAJOR_IDS else f"{row.firm} {row.measure}"
        lines.append(f"| {name} | {amount(row.measure, row.mean)} | {amount(row.measure, row.q05)} to "
                     f"{amount(row.measure, row.q95)} | {percent(row.share_positive)} | {percent(row.parameter_share)} |")
    lines += ["", f"*First plan higher in*: the share of runs in which {first} gives the firm a higher `{metric}` (for the "
              "startups and the market: a larger share, more concentration). *Parameters' share*: how much of the "
              "spread over runs the drawn uncertainties explain; the seeds explain the rest.", ""]
    if "who_wins.png" in plots:
        lines += ["![who wins](who_wins.png)", ""]
    lines += ["## Under which conditions", "",
              f"Each draw counts once here, by its mean over the seeds. PRIM (the EMA Workbench's) peels the space of a "
              f"firm's {MAX_DIMENSIONS} most telling uncertainties down to a box where the draws at which {first} raises "
              f"the firm's `{metric}` are dense. *Coverage*: the share of all such draws inside the box; *density*: the "
              f"share of the box's draws that are such draws; *lift*: the density over the share of such draws overall.",
              "", *condition_lines(conditions, first), ""]
    if "conditions.png" in plots:
        lines += ["![conditions](conditions.png)", ""]
    lines += ["## Which uncertainties matter", "", "Extra-trees feature scores (summing to 1 for each firm):", ""]
    for major in MAJOR_IDS:
        top = top_parameters(scores, major)
        if top:
            lines.append(f"- **{major}**: " + ", ".join(f"`{path}` {score:.2f}" for path, score in top))
    first_order = sobol[sobol["firm"] == firm].sort_values("S1", ascending=False)
    if not first_order.empty:
        saltelli = first_order["estimator"].iloc[0] == "saltelli"
        lines += ["", f"Sobol indices of {firm}'s mean difference ("
                  + ("Saltelli's sample, common seeds" if saltelli else "first order, estimated from the Latin hypercube "
                     "by RBD-FAST; the variance of the draws' means still holds a little seed noise") + "):",
                  "", "| uncertainty | S1 | S1 ± (95 %) | ST | ST ± (95 %) |", "|---|---:|---:|---:|---:|"]
        lines += [f"| `{r.parameter}` | {r.S1:.2f} | {r.S1_conf:.2f} | {_fmt(r.ST)} | {_fmt(r.ST_conf)} |"
                  for r in first_order.itertuples()]
    lines += [f"- {note}" for note in sobol_notes]
    if "feature_scores.png" in plots:
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
