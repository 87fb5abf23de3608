"""The words of a calibration: which parameters the history pins down, which it does not, and how
the scores read; text for the terminal and the identification report."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from calibration.fit import IDENTIFIED_SHRINK
from calibration.scoring import METHODS

STRONG_CORRELATION = 0.6


def trade_offs(corr: pd.DataFrame) -> list[tuple[str, str, float]]:
    """Pairs of parameters whose posterior correlation is strong: the data fix a combination of them."""
    names = list(corr.columns)
    return [(a, b, float(corr.loc[a, b])) for i, a in enumerate(names) for b in names[i + 1:]
            if abs(corr.loc[a, b]) >= STRONG_CORRELATION]


def identification_report(summary: pd.DataFrame, corr: pd.DataFrame, meta: dict) -> str:
    """Markdown: the posterior of every parameter, what is identified, what trades off against what."""
    lines = [
        f"# Identification: calibration fitted until {meta['fit_until']}",
        "",
        f"Scenario `{meta['scenario']}` from {meta['start_year']}, history `{meta['history']}`; ABC-SMC (pyabc), "
        f"{meta['population']} particles x {meta['generations']} generations, {meta['evaluations']:,} model evaluations "
        f"of {meta['replicates']} common seeds each, {meta['seconds']:.0f} s. Final distance (RMS of weighted errors, "
        f"share points or 5 % of a money figure): {meta['epsilons'][-1]:.2f}.",
        "",
        f"A parameter is **identified** when its posterior 90 % interval covers at most {IDENTIFIED_SHRINK:.0%} of its "
        "prior range (uniform over the range assumed before calibration).",
        "",
        "| parameter | median | 90 % interval | prior range | interval / prior | identified |",
        "|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples(index=False):
        lines.append(f"| `{row.parameter}` | {row.median:.3g} | {row.q05:.3g}–{row.q95:.3g} | {row.prior_lo:g}–{row.prior_hi:g} "
                     f"| {row.interval_share_of_prior:.0%} | {'yes' if row.identified else 'no'} |")
    identified = [r.parameter for r in summary.itertuples() if r.identified]
    loose = [r.parameter for r in summary.itertuples() if not r.identified]
    lines += ["", "**Pinned down by the data:** " + (", ".join(f"`{p}`" for p in identified) or "none") + ".",
              "", "**Not pinned down** (the data leave most of the prior): " + (", ".join(f"`{p}`" for p in loose) or "none") + "."]
    pairs = trade_offs(corr)
    if pairs:
        lines += ["", f"**Trade-offs** (posterior correlation of at least {STRONG_CORRELATION}): the data fix a combination, "
                  "not each one:", ""]
        lines += [f"- `{a}` and `{b}`: {r:+.2f}" for a, b, r in pairs]
    lines += ["", "Parameters outside this list keep the values the scenario states (`scenarios/baseline.toml`)."]
    return "\n".join(lines) + "\n"


def score_lines(summary: pd.DataFrame, methods: Sequence[str] = METHODS) -> list[str]:
    """The score summary as aligned text: a row per target group and period, a column per method."""
    index = ["group", "period", "error_unit"]
    table = summary.pivot_table(index=index, columns="method", values="mean_error", sort=False)
    counts = summary.pivot_table(index=index, columns="method", values="n", sort=False)
    present = [m for m in methods if m in table.columns]
    lines = [f"{'target':<16} {'years':<9} {'n':>3}  " + "  ".join(f"{m:>12}" for m in present)]
    for key, row in table.iterrows():
        group, period, unit = key
        n = int(counts.loc[key].max())
        suffix = " %" if unit == "%" else " pt"
        cells = "  ".join(f"{row[m]:>9.2f}{suffix}" if pd.notna(row[m]) else f"{'-':>12}" for m in present)
        lines.append(f"{group:<16} {period:<9} {n:>3}  {cells}")
    return lines
