"""Scenario comparison over common seeds: distributions, paired differences and a verdict.

Every scenario is run with the same list of seeds, so each seed gives a pair (or tuple) of
runs that differ only by the scenario: paired differences remove most of the seed-to-seed
noise that separate samples would carry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from model.params import MAJOR_IDS, SEGMENTS
from report.tables import MARKET, outcome_items


# What a comparison reports of each major (besides its shares and revenue by segment); a
# "win" is the higher value except where lower is better.
FIRM_METRICS = (
    "cumulative_profit_bn", "final_cash_bn", "cumulative_ai_spend_bn", "return_on_ai_spend", "acquisitions",
)
MARKET_METRICS = ("acquisitions", "blocked_acquisitions", "startups_alive")
LOWER_IS_BETTER = {"cumulative_ai_spend_bn"}


# What a comparison can hold in memory: its tidy rows and yearly records take about 25 kB per
# run-year (measured: 405 MB at 2 x 500 seeds x 10 years), so 100,000 run-years is about 2.5 GB.
MAX_COMPARE_RUN_YEARS = 100_000


class CompareTooLarge(ValueError):
    """A comparison that would not fit in memory: one line naming the sizes and the limit."""


def check_compare_size(scenarios: int, replicates: int, years: int) -> None:
    run_years = scenarios * replicates * years
    if run_years > MAX_COMPARE_RUN_YEARS:
        raise CompareTooLarge(
            f"--replicates {replicates}: {scenarios} scenarios x {replicates} seeds x {years} years is "
            f"{run_years:,} run-years, more than the {MAX_COMPARE_RUN_YEARS:,} a comparison can hold; "
            f"use fewer replicates or years, or a sweep (which streams to disk)")


def _compared(firm: str, metric: str) -> bool:
    if firm == MARKET:
        return metric.startswith("hhi_") or metric in MARKET_METRICS
    return metric in FIRM_METRICS or metric.startswith(("final_share_", "final_revenue_bn_"))


def outcome_rows(scenario: str, replicate: int, seed: int, outcomes: dict[str, Any]) -> list[dict[str, Any]]:
    """One run's outcomes as tidy rows (scenario, replicate, seed, firm, metric, value)."""
    base = {"scenario": scenario, "replicate": replicate, "seed": seed}
    return [{**base, "firm": firm, "metric": metric, "value": np.nan if value is None else float(value)}
            for firm, metric, value in outcome_items(outcomes) if _compared(firm, metric)]


def _quantiles(values: pd.Series) -> pd.Series:
    clean = values.dropna()
    if clean.empty:
        return pd.Series({"n": 0, "mean": np.nan, "median": np.nan, "p5": np.nan, "p95": np.nan})
    return pd.Series({
        "n": int(clean.size), "mean": clean.mean(), "median": clean.median(),
        "p5": clean.quantile(0.05), "p95": clean.quantile(0.95),
    })


def distribution_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """compare.csv: per scenario x firm x metric, mean, median and the 5th and 95th percentiles."""
    grouped = outcomes.groupby(["scenario", "firm", "metric"], sort=False)["value"]
    table = grouped.apply(_quantiles).unstack().reset_index()
    table["n"] = table["n"].astype(int)
    return table


def paired_table(outcomes: pd.DataFrame, scenarios: list[str]) -> pd.DataFrame:
    """compare_paired.csv: first scenario minus each other one, seed by seed."""
    first, rest = scenarios[0], scenarios[1:]
    keys = ["replicate", "firm", "metric"]
    base = outcomes[outcomes["scenario"] == first].set_index(keys)["value"]
    rows = []
    for other in rest:
        against = outcomes[outcomes["scenario"] == other].set_index(keys)["value"]
        diff = (base - against).dropna()
        for (firm, metric), values in diff.groupby(level=["firm", "metric"], sort=False):
            values = values.to_numpy()
            n = values.size
            mean = float(values.mean())
            half_width = float(student_t.ppf(0.95, n - 1)) * float(values.std(ddof=1)) / np.sqrt(n) if n > 1 else np.nan
            wins = values < 0 if metric in LOWER_IS_BETTER else values > 0
            rows.append({
                "first": first, "other": other, "firm": firm, "metric": metric, "n": n,
                "diff_mean": mean, "diff_median": float(np.median(values)),
                "diff_p5": float(np.quantile(values, 0.05)), "diff_p95": float(np.quantile(values, 0.95)),
                "mean_ci90_low": mean - half_width, "mean_ci90_high": mean + half_width,
                "first_wins_share": float(np.mean(wins)), "ties_share": float(np.mean(values == 0)),
            })
    return pd.DataFrame(rows)


def yearly_share_bands(yearly: pd.DataFrame) -> pd.DataFrame:
    """Median and 5-95 % band of each firm's share per scenario, segment and year.

    `yearly` holds report.tables.yearly_records rows with `scenario` and `replicate` added.
    """
    long = yearly.melt(id_vars=["scenario", "replicate", "year", "firm"],
                       value_vars=[f"share_{seg}" for seg in SEGMENTS], var_name="segment", value_name="share")
    long = long.dropna(subset=["share"]).assign(segment=lambda d: d["segment"].str.removeprefix("share_"))
    grouped = long.groupby(["scenario", "segment", "firm", "year"], sort=True)["share"]
    bands = grouped.quantile([0.05, 0.5, 0.95]).unstack()
    bands.columns = ["p5", "median", "p95"]
    return bands.reset_index()


def paired_seed_counts(outcomes: pd.DataFrame, scenarios: list[str]) -> dict[str, int]:
    """For each other scenario, the seeds on which both it and the first one have a finished run."""
    done = outcomes.groupby("scenario")["replicate"].agg(lambda r: set(r.unique()))
    first = done.get(scenarios[0], set())
    return {other: len(first & done.get(other, set())) for other in scenarios[1:]}


def verdict(outcomes: pd.DataFrame, paired: pd.DataFrame, scenarios: list[str], years: int, replicates: int) -> str:
    """A table a reader of the article takes in at a glance: who gains, who loses, how surely."""
    first = scenarios[0]
    counts = paired_seed_counts(outcomes, scenarios)
    seg_heads = "".join(f"{seg + ' pp':>16}" for seg in SEGMENTS)
    lines = []
    for other in scenarios[1:]:
        rows = paired[paired["other"] == other].set_index(["firm", "metric"])
        pairs = counts[other]
        pair_text = f"{pairs} paired seeds" if pairs == replicates else (
            f"{pairs} paired seeds of {replicates} (the rest had a failed run)")
        lines += [
            f"{first} vs {other}: {pair_text}, {years} years "
            f"(difference = {first} minus {other}; 90 % of seeds fall in the range shown)",
            f"  {'firm':<13}{'profit $bn':>12}{'(90% range)':>22}{'wins':>6}{seg_heads}{'ROI':>8}",
        ]
        for firm in sorted({f for f, m in rows.index if m == "cumulative_profit_bn"}, key=_firm_order):
            profit = rows.loc[(firm, "cumulative_profit_bn")]
            shares = "".join(
                f"{100 * rows.loc[(firm, f'final_share_{seg}'), 'diff_mean']:>+16.1f}"
                if (firm, f"final_revenue_bn_{seg}") in rows.index else f"{'-':>16}"
                for seg in SEGMENTS
            )
            roi = rows.loc[(firm, "return_on_ai_spend"), "diff_mean"] if (firm, "return_on_ai_spend") in rows.index else np.nan
            roi_text = f"{roi:>+8.2f}" if np.isfinite(roi) else f"{'n/a':>8}"
            lines.append(
                f"  {firm:<13}{profit['diff_mean']:>+12.1f}{_range(profit):>22}{100 * profit['first_wins_share']:>5.0f}%"
                f"{shares}{roi_text}"
            )
        lines.append("  " + _headline(first, other, rows))
        lines.append("")
    return "\n".join(lines).rstrip()


def _firm_order(firm: str) -> tuple[int, str]:
    return (MAJOR_IDS.index(firm) if firm in MAJOR_IDS else len(MAJOR_IDS), firm)


def _range(row: pd.Series) -> str:
    return f"({row['diff_p5']:+.1f} .. {row['diff_p95']:+.1f})"


def _headline(first: str, other: str, rows: pd.DataFrame) -> str:
    """One sentence for Amazon (the article's subject) when it is among the firms."""
    if ("amazon", "cumulative_profit_bn") not in rows.index:
        return ""
    profit = rows.loc[("amazon", "cumulative_profit_bn")]
    share = rows.loc[("amazon", "final_share_cloud_ai")]
    wins = profit["first_wins_share"]
    if wins >= 0.9:
        word = "pays off"
    elif wins <= 0.1:
        word = "does not pay off"
    else:
        word = "is a gamble"
    return (
        f"Verdict: for Amazon, {first} {word} against {other} on cumulative profit "
        f"({profit['diff_mean']:+.0f} $bn on average, higher in {100 * wins:.0f} % of seeds) "
        f"and moves its cloud share by {100 * share['diff_mean']:+.1f} points."
    )
