"""Plots of a scenario comparison: share paths with uncertainty bands, and paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from model.params import MAJOR_IDS, SEGMENTS
from viz.plots import FIRM_COLOURS, STARTUP_BAND, segment_label

BAND_FIRMS = (*MAJOR_IDS, STARTUP_BAND)
PAIRED_METRICS = {
    "money": (("value_bn", "value (NPV + terminal)"), ("cumulative_profit_bn", "cumulative profit")),
    "share": tuple((f"final_share_{seg}", f"{seg} share") for seg in SEGMENTS),
}


def plot_share_bands(bands: pd.DataFrame, scenarios: list[str]) -> Figure:
    """Rows: scenarios; columns: segments; each firm's median share with its 5-95 % band over seeds."""
    fig = Figure(figsize=(4.6 * len(SEGMENTS), 2.9 * len(scenarios) + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(scenarios), len(SEGMENTS), sharex=True, sharey="col", squeeze=False))
    for r, scenario in enumerate(scenarios):
        for c, seg in enumerate(SEGMENTS):
            ax = axes[r, c]
            data = bands[(bands["scenario"] == scenario) & (bands["segment"] == seg)]
            for firm in BAND_FIRMS:
                line = data[data["firm"] == firm]
                if line.empty or line["p95"].max() <= 0:
                    continue
                colour = FIRM_COLOURS.get(firm, FIRM_COLOURS[STARTUP_BAND])
                ax.fill_between(line["year"], line["p5"], line["p95"], color=colour, alpha=0.2, linewidth=0)
                ax.plot(line["year"], line["median"], color=colour, linewidth=1.8, label=firm)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(seg.replace("_", " "))
            if c == 0:
                ax.set_ylabel(f"{scenario}\nshare")
            if r == len(scenarios) - 1:
                ax.set_xlabel("year")
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle("Market shares by scenario: median over seeds, band = 5th-95th percentile")
    return fig


def plot_paired(paired: pd.DataFrame) -> Figure:
    """Forest plot: first scenario minus each other one, per major; dot = mean, bar = 5-95 % of seeds."""
    others = list(dict.fromkeys(paired["other"]))
    firms = [f for f in MAJOR_IDS if f in set(paired["firm"])]
    fig = Figure(figsize=(13, 0.55 * len(firms) * 2 + 2.2), layout="constrained")
    ax_money, ax_share = fig.subplots(1, 2)
    first = paired["first"].iloc[0] if len(paired) else ""
    for ax, (kind, metrics) in zip((ax_money, ax_share), PAIRED_METRICS.items()):
        scale = 1.0 if kind == "money" else 100.0
        labels, positions = [], []
        for firm in firms:
            for metric, label in metrics:
                rows = paired[(paired["firm"] == firm) & (paired["metric"] == metric)]
                if rows.empty:
                    continue
                y = len(positions)
                positions.append(y)
                labels.append(f"{firm}: {label}")
                for k, other in enumerate(others):
                    row = rows[rows["other"] == other]
                    if row.empty:
                        continue
                    row = row.iloc[0]
                    dy = (k - (len(others) - 1) / 2) * 0.25
                    ax.errorbar(scale * row["diff_mean"], y + dy,
                                xerr=[[scale * (row["diff_mean"] - row["diff_p5"])], [scale * (row["diff_p95"] - row["diff_mean"])]],
                                fmt="o", color=f"C{k}", capsize=3, label=f"{first} - {other}" if y == 0 else None)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("difference, $bn" if kind == "money" else "difference, percentage points")
    handles, labels = ax_money.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=max(1, len(others)), frameon=False)
    fig.suptitle("Paired differences over common seeds: dot = mean, bar = 5th-95th percentile of seeds")
    return fig


PATH_FONT = 10.0  # points; the browser shows these at about their own size


def _plan_styles(scenarios: list[str]) -> dict[str, str]:
    return dict(zip(scenarios, ("solid", (0, (4, 2)), (0, (1, 1.2)))))


def plot_share_paths(bands: pd.DataFrame, scenarios: list[str], firms=BAND_FIRMS) -> Figure:
    """Both plans in one panel per segment: each firm's median share (line style = plan) with its
    5-95 % band over runs; compact, for the browser's comparison view."""
    fig = Figure(figsize=(10.5, 3.6), dpi=80)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.91, bottom=0.27, wspace=0.22)
    axes = fig.subplots(1, len(SEGMENTS), sharex=True)
    styles = _plan_styles(scenarios)
    for ax, seg in zip(axes, SEGMENTS):
        for scenario in scenarios:
            data = bands[(bands["scenario"] == scenario) & (bands["segment"] == seg)]
            for firm in firms:
                line = data[data["firm"] == firm]
                if line.empty or line["p95"].max() <= 0:
                    continue
                colour = FIRM_COLOURS.get(firm, FIRM_COLOURS[STARTUP_BAND])
                ax.fill_between(line["year"], 100 * line["p5"], 100 * line["p95"], color=colour, alpha=0.12, linewidth=0)
                ax.plot(line["year"], 100 * line["median"], color=colour, linewidth=1.8, linestyle=styles[scenario])
        ax.set_title(segment_label(seg), fontsize=PATH_FONT + 1)
        ax.tick_params(labelsize=PATH_FONT)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share, % (median, 5-95 % band)", fontsize=PATH_FONT)
    _path_legend(fig, scenarios, [f for f in firms if f in set(bands["firm"])])
    return fig


def plot_profit_paths(bands: pd.DataFrame, scenarios: list[str]) -> Figure:
    """Each major's cumulative profit under both plans (line style = plan), median and 5-95 % band."""
    firms = [f for f in MAJOR_IDS if f in set(bands["firm"])]
    cols = 3
    rows = max(1, -(-len(firms) // cols))
    fig = Figure(figsize=(10.5, 2.3 * rows + 0.9), dpi=80)
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.35 / fig.get_figheight(), bottom=0.75 / fig.get_figheight(),
                        hspace=0.45, wspace=0.22)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False)).ravel()
    styles = _plan_styles(scenarios)
    for ax, firm in zip(axes, firms):
        colour = FIRM_COLOURS.get(firm, FIRM_COLOURS[STARTUP_BAND])
        for scenario in scenarios:
            line = bands[(bands["scenario"] == scenario) & (bands["firm"] == firm)]
            ax.fill_between(line["year"], line["p5"], line["p95"], color=colour, alpha=0.15, linewidth=0)
            ax.plot(line["year"], line["median"], color=colour, linewidth=1.8, linestyle=styles[scenario])
        ax.axhline(0.0, color="black", linewidth=0.6, alpha=0.5)
        ax.set_title(f"{firm}: cumulative profit, $bn", fontsize=PATH_FONT + 1)
        ax.tick_params(labelsize=PATH_FONT)
        ax.grid(alpha=0.3)
    for ax in axes[len(firms):]:
        ax.set_visible(False)
    _path_legend(fig, scenarios, [])
    return fig


def _path_legend(fig: Figure, scenarios: list[str], firms: list[str]) -> None:
    styles = _plan_styles(scenarios)
    handles = [Line2D([], [], color="black", linestyle=styles[s], linewidth=1.8, label=s) for s in scenarios]
    handles += [Line2D([], [], color=FIRM_COLOURS.get(f, FIRM_COLOURS[STARTUP_BAND]), linewidth=3, label=f) for f in firms]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False, fontsize=PATH_FONT)
