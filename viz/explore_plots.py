"""Plots of a scenario discovery: who wins, where the plan pays, and which uncertainties matter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from model.params import MAJOR_IDS
from viz.plots import FIRM_COLOURS


def plot_who_wins(paired: pd.DataFrame, metric: str, first: str, second: str) -> Figure:
    """Each major's paired difference over all runs (box: 5-95 %, bar: median) with its P(> 0)."""
    fig = Figure(figsize=(8.5, 4.2), layout="constrained")
    ax = fig.subplots()
    data = [paired[f"{firm}.{metric}"].dropna().to_numpy(dtype=float) for firm in MAJOR_IDS]
    parts = ax.boxplot(data, whis=(5, 95), showfliers=False, patch_artist=True, widths=0.6)
    ax.set_xticks(range(1, len(MAJOR_IDS) + 1), MAJOR_IDS)
    for patch, firm in zip(parts["boxes"], MAJOR_IDS):
        patch.set_facecolor(FIRM_COLOURS.get(firm, "grey"))
        patch.set_alpha(0.55)
    for i, values in enumerate(data, start=1):
        if values.size:
            ax.annotate(f"P(>0) {np.mean(values > 0):.0%}", (i, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(f"{metric} of {first} minus {second}")
    ax.set_title(f"{first} against {second}: paired difference over parameter draws x seeds (box 25-75 %, whiskers 5-95 %)",
                 fontsize=9, pad=16)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_conditions(x: pd.DataFrame, y: np.ndarray, box_limits: dict[str, tuple[float, float]], axes_paths: list[str],
                    firm: str, metric: str, first: str) -> Figure:
    """The parameter points on the two uncertainties that matter most, coloured by the firm's mean
    difference, with PRIM's box where the plan pays drawn over them."""
    fig = Figure(figsize=(6.4, 5.0), layout="constrained")
    ax = fig.subplots()
    px, py = axes_paths[0], axes_paths[1] if len(axes_paths) > 1 else axes_paths[0]
    jitter = np.random.default_rng(0)
    xs = x[px].to_numpy(dtype=float)
    ys = x[py].to_numpy(dtype=float)
    spread = [np.ptp(v) or 1.0 for v in (xs, ys)]
    whole = [np.all(np.mod(v, 1) == 0) for v in (xs, ys)]
    xs = xs + (jitter.uniform(-0.15, 0.15, xs.size) * spread[0] / max(spread[0], 1) if whole[0] else 0)
    ys = ys + (jitter.uniform(-0.15, 0.15, ys.size) * spread[1] / max(spread[1], 1) if whole[1] else 0)
    limit = float(np.nanmax(np.abs(y))) or 1.0
    points = ax.scatter(xs, ys, c=y, cmap="RdBu", vmin=-limit, vmax=limit, s=14, edgecolors="none")
    fig.colorbar(points, ax=ax, label=f"{firm} {metric}, mean difference")
    gains = y > 0
    if gains.any():
        ax.scatter(xs[gains], ys[gains], s=42, facecolors="none", edgecolors="black", linewidths=0.9,
                   label=f"{first} raises it ({gains.sum()} of {gains.size} points)")
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    (xlo, xhi), (ylo, yhi) = (box_limits.get(p, (-np.inf, np.inf)) for p in (px, py))
    bx = [max(xlo, np.nanmin(xs)), min(xhi, np.nanmax(xs))]
    by = [max(ylo, np.nanmin(ys)), min(yhi, np.nanmax(ys))]
    if box_limits:
        ax.add_patch(_rectangle(bx, by))
    ax.set_xlabel(px)
    ax.set_ylabel(py)
    ax.set_title(f"Where {first} pays for {firm} (PRIM box, dashed)", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _rectangle(bx, by):
    from matplotlib.patches import Rectangle

    return Rectangle((bx[0], by[0]), bx[1] - bx[0], by[1] - by[0], fill=False, linestyle="--", linewidth=1.6,
                     edgecolor="black")


def plot_feature_scores(scores: pd.DataFrame) -> Figure:
    """Heat map: uncertainties x majors, each cell the uncertainty's feature score for that firm."""
    table = scores.pivot(index="parameter", columns="firm", values="score").reindex(
        columns=[f for f in MAJOR_IDS if f in set(scores["firm"])])
    table = table.loc[table.mean(axis=1).sort_values(ascending=False).index]
    fig = Figure(figsize=(1.3 * len(table.columns) + 3.8, 0.42 * len(table) + 1.4), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(dtype=float), cmap="Blues", vmin=0, aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table)), table.index)
    for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if value > 0.6 * np.nanmax(table.to_numpy()) else "black")
    fig.colorbar(image, ax=ax, label="feature score (extra trees)")
    ax.set_title("Which uncertainties decide each firm's difference", fontsize=10)
    return fig
