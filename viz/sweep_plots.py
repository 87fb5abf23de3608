"""Plots of parameter sweeps and of sensitivity indices.

Inputs are the sweep's run table (one row per run: ``run_id``, ``point``, ``replicate``,
``seed``, ``status``, ``error``, one column per varied parameter named by its dotted path and
one column per outcome metric) and, for ``plot_sensitivity``, a table of Sobol or Morris
indices. Rows whose ``status`` is not ``"ok"`` are ignored by every function here.

As in ``viz.plots`` only the object-oriented Matplotlib API is used (``Figure``, never
``pyplot``); every plot function returns a Figure, to be written with ``save_figure``.
The small pure helpers ``summarise_by_factor`` and ``heatmap_table`` compute exactly what
is drawn, so tests can check it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from viz.plots import FIRM_COLOURS, save_figure

__all__ = [
    "PREFERRED_METRICS",
    "META_COLUMNS",
    "ok_runs",
    "is_numeric_factor",
    "short_name",
    "summarise_by_factor",
    "heatmap_table",
    "default_metrics",
    "plot_metrics_vs_factors",
    "plot_heatmap",
    "plot_sensitivity",
    "save_figure",
]

PREFERRED_METRICS: tuple[str, ...] = (
    "amazon.cumulative_profit_bn",
    "amazon.return_on_ai_spend",
    "amazon.final_share_cloud_ai",
    "azure.final_share_cloud_ai",
    "hhi_cloud_ai",
    "acquisitions",
    "blocked_acquisitions",
)
MAX_DEFAULT_METRICS = 6
META_COLUMNS: tuple[str, ...] = ("run_id", "point", "replicate", "seed", "status", "error")

# Quantile bins for continuous designs (lhs, mc): about ten, at least ~4 runs in each.
N_BINS = 10
MIN_PER_BIN = 4
BAND = (5.0, 95.0)

NEUTRAL_COLOUR = "#4d4d4d"
SOBOL_COLOURS = {"S1": "#4c72b0", "ST": "#dd8452"}
MORRIS_COLOUR = "#4c72b0"
_JITTER_SEED = 20250101


# --------------------------------------------------------------------------- helpers


def ok_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that finished (``status == "ok"``); all rows if there is no status column."""
    if "status" not in runs.columns:
        return runs
    return runs.loc[runs["status"].astype(str) == "ok"]


def is_numeric_factor(values: pd.Series) -> bool:
    """True for numbers (ints, floats), False for strings, bools and mixtures."""
    s = values.dropna()
    if pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_numeric_dtype(s):
        return True
    if s.empty:
        return False
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in s)


def short_name(path: str) -> str:
    """Last two parts of a dotted path: ``firms.amazon.ai_budget_bn`` -> ``amazon.ai_budget_bn``."""
    return ".".join(str(path).split(".")[-2:])


def _short_labels(paths: Sequence[str]) -> dict[str, str]:
    """Short names, falling back to the full path where two short names would collide."""
    shorts = [short_name(p) for p in paths]
    return {p: (s if shorts.count(s) == 1 else str(p)) for p, s in zip(paths, shorts)}


def _metric_label(metric: str) -> str:
    """Metric name over two lines when it has a firm prefix, so it fits beside a small panel."""
    head, _, tail = str(metric).partition(".")
    return f"{head}\n{tail}" if tail else str(metric)


def _metric_colour(metric: str) -> str:
    """A firm's metric in the firm's colour; market-wide metrics in grey."""
    return FIRM_COLOURS.get(str(metric).split(".")[0], NEUTRAL_COLOUR)


def _sorted_categories(values: Iterable) -> list:
    uniq = list(dict.fromkeys(v for v in values if not _is_missing(v)))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=lambda v: (type(v).__name__, str(v)))


def _is_missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def _fmt(value: float) -> str:
    """Compact number for annotations and tick labels."""
    if value is None or not np.isfinite(value):
        return "n/a"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1 or a == 0:
        return f"{value:.2f}"
    return f"{value:.2g}" if a < 0.01 else f"{value:.3f}"


def _tick_label(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def _summary_row(x, y: pd.Series) -> dict:
    v = y.to_numpy(dtype=float)
    lo, hi = np.percentile(v, BAND)
    return {"x": x, "mean": float(v.mean()), "p5": float(lo), "p95": float(hi), "n": int(v.size)}


def summarise_by_factor(runs: pd.DataFrame, factor: str, metric: str, design: str = "grid") -> pd.DataFrame:
    """Mean and 5-95 % band of ``metric`` per value (or per quantile bin) of ``factor``.

    Only ok runs with a non-missing metric count. A numeric factor is grouped by its
    distinct values for a grid design, or when it takes at most ~10 values; otherwise (lhs,
    mc) by about ten quantile bins whose ``x`` is the mean factor value in the bin. A
    categorical factor (strings, bools) is grouped by category, in sorted order. Returns
    columns ``x, mean, p5, p95, n`` (n = runs in the group), sorted by ``x``.
    """
    columns = ["x", "mean", "p5", "p95", "n"]
    ok = ok_runs(runs)
    ok = ok.loc[ok[factor].notna()]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    y = _numeric(ok[metric])

    if not is_numeric_factor(ok[factor]):
        rows = []
        for cat in _sorted_categories(ok[factor]):
            vals = y[(ok[factor] == cat).to_numpy() & y.notna().to_numpy()]
            if len(vals):
                rows.append(_summary_row(cat, vals))
        return pd.DataFrame(rows, columns=columns)

    x = _numeric(ok[factor]).reset_index(drop=True)
    y = y.reset_index(drop=True)
    n_bins = min(N_BINS, max(1, len(x) // MIN_PER_BIN))
    if design == "grid" or x.nunique() <= N_BINS:
        groups = x
    else:
        # Bins are set on every ok run, so all metrics of a sweep share the same bins.
        groups = pd.qcut(x, q=n_bins, labels=False, duplicates="drop")
    data = pd.DataFrame({"x": x, "g": groups, "y": y}).dropna(subset=["y"])
    rows = [_summary_row(float(d["x"].mean()), d["y"]) for _, d in data.groupby("g", sort=True)]
    return pd.DataFrame(rows, columns=columns).sort_values("x", ignore_index=True)


def heatmap_table(runs: pd.DataFrame, fx: str, fy: str, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` over the ok replicates of each (fy, fx) cell.

    Index: the sorted values of ``fy``; columns: the sorted values of ``fx``. A cell whose
    runs all failed or have a missing metric is NaN; values seen only in failed runs are
    left out.
    """
    ok = ok_runs(runs)
    ok = ok.loc[ok[fx].notna() & ok[fy].notna()]
    data = pd.DataFrame({"x": ok[fx].to_numpy(), "y": ok[fy].to_numpy(), "v": _numeric(ok[metric]).to_numpy()})
    table = data.groupby(["y", "x"], sort=False)["v"].mean().unstack("x")
    table = table.reindex(index=_sorted_categories(data["y"]), columns=_sorted_categories(data["x"]))
    table.index.name, table.columns.name = fy, fx
    return table.astype(float)


def _heatmap_counts(runs: pd.DataFrame, fx: str, fy: str, metric: str, like: pd.DataFrame) -> pd.DataFrame:
    ok = ok_runs(runs)
    ok = ok.loc[ok[fx].notna() & ok[fy].notna()]
    data = pd.DataFrame({"x": ok[fx].to_numpy(), "y": ok[fy].to_numpy(), "v": _numeric(ok[metric]).to_numpy()})
    counts = data.groupby(["y", "x"], sort=False)["v"].count().unstack("x")
    return counts.reindex(index=like.index, columns=like.columns).fillna(0).astype(int)


def default_metrics(runs: pd.DataFrame, exclude: Iterable[str] = ()) -> list[str]:
    """Up to six metric columns to plot by default.

    The preferred metrics (``PREFERRED_METRICS``, in that order) that are present and not
    all missing among the ok runs. Only if none of them is there: other numeric columns that
    are neither bookkeeping (run_id, seed, ...) nor listed in ``exclude`` (pass the factors).
    """
    ok = ok_runs(runs)

    def usable(col: str) -> bool:
        return col in ok.columns and _numeric(ok[col]).notna().any()

    chosen = [m for m in PREFERRED_METRICS if usable(m)]
    if not chosen:
        skip = set(META_COLUMNS) | set(exclude)
        chosen = [c for c in ok.columns if c not in skip and is_numeric_factor(ok[c]) and usable(c)]
    return chosen[:MAX_DEFAULT_METRICS]


def _jitter_width(values: np.ndarray) -> float:
    """A quarter of the smallest gap between grid values (2 % of a lone value)."""
    uniq = np.unique(values[np.isfinite(values)])
    if uniq.size > 1:
        return 0.25 * float(np.diff(uniq).min())
    return 0.02 * (abs(float(uniq[0])) if uniq.size and uniq[0] != 0 else 1.0)


def _jitter(x: np.ndarray, width: float) -> np.ndarray:
    rng = np.random.default_rng(_JITTER_SEED)
    return x + rng.uniform(-width / 2, width / 2, size=x.size)


def _dot_alpha(n: int) -> float:
    """Solid enough to see a few runs, light enough for thousands to show density."""
    return float(np.clip(4.0 / np.sqrt(max(n, 1)), 0.15, 0.6))


# --------------------------------------------------------------------------- metrics vs factors


def _draw_numeric(ax, ok: pd.DataFrame, factor: str, metric: str, design: str, colour: str) -> None:
    x = _numeric(ok[factor]).to_numpy()
    y = _numeric(ok[metric]).to_numpy()
    keep = np.isfinite(x) & np.isfinite(y)
    width = _jitter_width(x)
    xs = _jitter(x[keep], width) if design == "grid" else x[keep]
    ax.scatter(xs, y[keep], s=9, color=colour, alpha=_dot_alpha(int(keep.sum())), linewidths=0, zorder=2)
    lone = np.unique(x[np.isfinite(x)])
    if lone.size == 1:
        # A single value: keep the jittered dots near it instead of letting them fill the axis.
        ax.set_xlim(lone[0] - 2.5 * width, lone[0] + 2.5 * width)
        ax.set_xticks(lone, [_tick_label(float(lone[0]))])
    summary = summarise_by_factor(ok, factor, metric, design)
    if summary.empty:
        return
    sx = summary["x"].to_numpy(dtype=float)
    if len(summary) == 1:
        lo = summary["mean"] - summary["p5"]
        hi = summary["p95"] - summary["mean"]
        ax.errorbar(sx, summary["mean"], yerr=[lo.to_numpy(), hi.to_numpy()], color="black", capsize=4,
                    linewidth=1.2, zorder=3)
    else:
        ax.fill_between(sx, summary["p5"], summary["p95"], color=colour, alpha=0.2, linewidth=0, zorder=1)
    ax.plot(sx, summary["mean"], color="black", linewidth=1.4, marker="o", markersize=3, zorder=4)


def _draw_categorical(ax, ok: pd.DataFrame, factor: str, metric: str, categories: list, colour: str) -> None:
    y = _numeric(ok[metric])
    rng = np.random.default_rng(_JITTER_SEED)
    data, positions = [], []
    for i, cat in enumerate(categories):
        vals = y[(ok[factor] == cat).to_numpy()].dropna().to_numpy()
        if vals.size == 0:
            continue
        data.append(vals)
        positions.append(i)
        ax.scatter(i + rng.uniform(-0.15, 0.15, vals.size), vals, s=9, color=colour,
                   alpha=_dot_alpha(vals.size), linewidths=0, zorder=2)
    if data:
        ax.boxplot(data, positions=positions, widths=0.5, showfliers=False, whis=(5, 95),
                   patch_artist=True, manage_ticks=False, zorder=1,
                   boxprops={"facecolor": colour, "alpha": 0.25, "edgecolor": "black", "linewidth": 0.8},
                   medianprops={"color": "black", "linewidth": 0.8, "alpha": 0.6},
                   whiskerprops={"linewidth": 0.8}, capprops={"linewidth": 0.8})
        ax.scatter(positions, [v.mean() for v in data], marker="D", s=28, color="black", zorder=4)
    ax.set_xticks(range(len(categories)), [_tick_label(c) for c in categories])
    ax.set_xlim(-0.6, len(categories) - 0.4)


def plot_metrics_vs_factors(runs: pd.DataFrame, factors: Sequence[str], metrics: Sequence[str],
                            design: str = "grid") -> Figure:
    """Rows: metrics; columns: factors. Each run as a dot, with the mean and 5-95 % band.

    A numeric factor shows the runs (jittered along x for a grid, so replicates do not
    overlap), the mean per grid value (lhs/mc: per quantile bin of the factor) as a black
    line and the 5th-95th percentile of the runs as a shaded band: the spread over
    replicates and over the other factors. A categorical factor shows a box (5-95 %
    whiskers) and the runs per category, the mean as a black diamond. Error runs are left out.
    """
    factors, metrics = list(factors), list(metrics)
    if not factors or not metrics:
        raise ValueError("plot_metrics_vs_factors: need at least one factor and one metric")
    missing = [c for c in factors + metrics if c not in runs.columns]
    if missing:
        raise ValueError(f"plot_metrics_vs_factors: no column(s) {', '.join(missing)} in runs")
    ok = ok_runs(runs)
    n_failed = len(runs) - len(ok)
    nrows, ncols = len(metrics), len(factors)
    fig = Figure(figsize=(max(3.2 * ncols + 1.2, 6.0), 2.25 * nrows + 1.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex="col", sharey="row", squeeze=False)
    labels = _short_labels(factors)
    numeric = {f: is_numeric_factor(ok[f]) for f in factors}
    any_categorical = not all(numeric.values())

    for c, factor in enumerate(factors):
        categories = None if numeric[factor] else _sorted_categories(ok[factor])
        for r, metric in enumerate(metrics):
            ax = axes[r, c]
            colour = _metric_colour(metric)
            if numeric[factor]:
                _draw_numeric(ax, ok, factor, metric, design, colour)
            else:
                _draw_categorical(ax, ok, factor, metric, categories, colour)
            if not (ok[factor].notna() & _numeric(ok[metric]).notna()).any():
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            if r == nrows - 1:
                ax.set_xlabel(labels[factor], fontsize=9)
            if c == 0:
                ax.set_ylabel(_metric_label(metric), fontsize=9)

    handles = [Line2D([], [], marker="o", linestyle="none", color=NEUTRAL_COLOUR, alpha=0.5, markersize=4,
                      label="run"),
               Line2D([], [], color="black", marker="o", markersize=3, linewidth=1.4, label="mean"),
               Patch(facecolor=NEUTRAL_COLOUR, alpha=0.2, label="5-95 % of runs")]
    if any_categorical:
        handles.append(Line2D([], [], marker="D", linestyle="none", color="black", markersize=5,
                              label="mean (box: quartiles, whiskers 5-95 %)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=9)
    binning = "per grid value" if design == "grid" else f"per quantile bin (~{N_BINS})"
    note = f", {n_failed} failed run{'s' if n_failed != 1 else ''} left out" if n_failed else ""
    fig.suptitle(f"Sweep outcomes vs parameters\n{design} design, {len(ok)} runs{note}; "
                 f"mean and 5-95 % band {binning}", fontsize=11)
    return fig


# --------------------------------------------------------------------------- heatmap


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def plot_heatmap(runs: pd.DataFrame, factor_x: str, factor_y: str, metric: str) -> Figure:
    """Replicate mean of ``metric`` on a two-parameter grid, cells annotated.

    A metric taking both signs is drawn on a diverging scale centred on zero.
    """
    for col in (factor_x, factor_y, metric):
        if col not in runs.columns:
            raise ValueError(f"plot_heatmap: no column {col} in runs")
    table = heatmap_table(runs, factor_x, factor_y, metric)
    counts = _heatmap_counts(runs, factor_x, factor_y, metric, table)
    ny, nx = table.shape
    if table.empty:
        fig = Figure(figsize=(6.0, 3.5), layout="constrained")
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no successful runs", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(short_name(factor_x))
        ax.set_ylabel(short_name(factor_y))
        ax.set_title(f"{metric}\nno data", fontsize=11)
        return fig
    fig = Figure(figsize=(min(1.0 * nx + 3.2, 16), min(0.6 * ny + 2.4, 14)), layout="constrained")
    ax = fig.add_subplot()
    values = table.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() < 0 < finite.max():
        bound = float(np.abs(finite).max())
        norm, cmap = TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound), colormaps["RdBu_r"]
    else:
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm, cmap = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0), colormaps["viridis"]
    cmap = cmap.with_extremes(bad="#e6e6e6")
    image = ax.imshow(np.ma.masked_invalid(values), origin="lower", aspect="auto", cmap=cmap, norm=norm,
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label=metric, shrink=0.9)

    fontsize = 9 if nx <= 8 else 7
    for i in range(ny):
        for j in range(nx):
            v = values[i, j]
            if np.isfinite(v):
                ax.text(j, i, _fmt(v), ha="center", va="center", fontsize=fontsize,
                        color=_text_colour(cmap(norm(v))))
            else:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=fontsize, color="grey")

    ax.set_xticks(range(nx), [_tick_label(v) for v in table.columns], fontsize=8,
                  rotation=45 if nx > 8 else 0, ha="right" if nx > 8 else "center")
    ax.set_yticks(range(ny), [_tick_label(v) for v in table.index], fontsize=8)
    ax.set_xlabel(short_name(factor_x))
    ax.set_ylabel(short_name(factor_y))
    cell_n = counts.to_numpy()[np.isfinite(values)]
    if cell_n.size == 0:
        reps = "no data"
    elif cell_n.min() == cell_n.max():
        reps = f"mean of {cell_n.min()} replicate{'s' if cell_n.min() != 1 else ''} per cell"
    else:
        reps = f"mean of {cell_n.min()}-{cell_n.max()} replicates per cell"
    ax.set_title(f"{metric}\n{reps}", fontsize=11)
    return fig


# --------------------------------------------------------------------------- sensitivity

_SENSITIVITY_COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "morris": ("mu_star", "mu_star_conf", "sigma")}


def plot_sensitivity(indices: pd.DataFrame, method: str) -> Figure:
    """Sobol: S1 and ST as grouped horizontal bars (error bar = conf); Morris: mu* bars, mu* vs sigma.

    Parameters are sorted by ST (Sobol) or mu* (Morris), most influential on top. The metric
    named in ``indices.attrs["metric"]``, if any, goes in the title.
    """
    method = str(method).lower()
    if method not in _SENSITIVITY_COLUMNS:
        raise ValueError(f"plot_sensitivity: method must be 'sobol' or 'morris', got {method!r}")
    need = ("parameter", *_SENSITIVITY_COLUMNS[method])
    missing = [c for c in need if c not in indices.columns]
    if missing:
        raise ValueError(f"plot_sensitivity: {method} indices need column(s) {', '.join(missing)}")
    if indices.empty:
        raise ValueError("plot_sensitivity: empty indices table")

    data = indices.copy()
    for col in _SENSITIVITY_COLUMNS[method]:
        data[col] = _numeric(data[col])
    key = "ST" if method == "sobol" else "mu_star"
    data = data.sort_values(key, ascending=False, na_position="last", ignore_index=True)
    params = [str(p) for p in data["parameter"]]
    labels = [_short_labels(params)[p] for p in params]
    y = np.arange(len(params))
    metric = indices.attrs.get("metric")
    of = f" of {metric}" if metric else ""
    height = 0.42 * len(params) + 1.9

    if method == "sobol":
        fig = Figure(figsize=(8.5, height), layout="constrained")
        ax = fig.add_subplot()
        w = 0.38
        for offset, col in ((-w / 2, "S1"), (w / 2, "ST")):
            name = "first order S1" if col == "S1" else "total ST"
            ax.barh(y + offset, data[col], height=w, xerr=data[f"{col}_conf"].fillna(0.0).abs(),
                    color=SOBOL_COLOURS[col], label=name, capsize=2.5, error_kw={"linewidth": 0.9})
        ax.axvline(0.0, color="black", linewidth=0.7)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel("Sobol index (share of output variance); error bar = ± conf")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", frameon=False)
        fig.suptitle(f"Sobol sensitivity indices{of}")
        return fig

    fig = Figure(figsize=(13, max(height, 4.2)), layout="constrained")
    ax_bar, ax_sc = fig.subplots(1, 2, width_ratios=(1, 1))
    ax_bar.barh(y, data["mu_star"], height=0.6, xerr=data["mu_star_conf"].fillna(0.0).abs(), color=MORRIS_COLOUR,
                capsize=2.5, error_kw={"linewidth": 0.9})
    ax_bar.set_yticks(y, labels)
    ax_bar.invert_yaxis()
    ax_bar.set_xlabel("mu* (mean absolute elementary effect); error bar = ± conf")
    ax_bar.grid(axis="x", alpha=0.3)
    ax_bar.set_title("Importance")

    mu, sigma = data["mu_star"].to_numpy(dtype=float), data["sigma"].to_numpy(dtype=float)
    ax_sc.scatter(mu, sigma, color=MORRIS_COLOUR, s=30, zorder=3)
    for xi, yi, lab in zip(mu, sigma, labels):
        if np.isfinite(xi) and np.isfinite(yi):
            ax_sc.annotate(lab, (xi, yi), xytext=(4, 3), textcoords="offset points", fontsize=8)
    finite = np.concatenate([mu[np.isfinite(mu)], sigma[np.isfinite(sigma)]])
    top = float(finite.max()) * 1.1 if finite.size and finite.max() > 0 else 1.0
    ax_sc.plot([0, top], [0, top], color="grey", linestyle="dashed", linewidth=0.9, label="sigma = mu*")
    ax_sc.set_xlim(0, top * 1.15)
    ax_sc.set_ylim(0, top)
    ax_sc.set_xlabel("mu*")
    ax_sc.set_ylabel("sigma (spread of effects: nonlinearity / interactions)")
    ax_sc.grid(alpha=0.3)
    ax_sc.legend(loc="upper left", frameon=False)
    ax_sc.set_title("Effect vs interaction")
    fig.suptitle(f"Morris elementary effects{of}")
    return fig
