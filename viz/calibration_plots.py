"""Pictures of a calibration and a hindcast: the model's band against history, target by target."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from viz.plots import FIRM_COLOURS

PANELS = (("cloud_share", "Cloud shares (Q4, points)"), ("cloud_market_bn", "Cloud market ($bn)"),
          ("revenues", "Revenues and GMV ($bn)"))
MARKET_COLOUR = "#333333"


def _panel_of(target: str) -> str:
    return target if target in ("cloud_share", "cloud_market_bn") else "revenues"


REVENUE_NAMES = {("cloud_revenue_bn", "amazon"): "AWS revenue", ("cloud_revenue_bn", "google_cloud"): "Google Cloud revenue",
                 ("advertising_revenue_bn", "amazon"): "Amazon ads revenue",
                 ("advertising_revenue_bn", "walmart"): "Walmart ads revenue", ("gmv_bn", "shopify"): "Shopify GMV"}


def _series_label(target: str, firm: str) -> str:
    if _panel_of(target) == "revenues":
        return REVENUE_NAMES.get((target, firm), f"{firm} {target.replace('_bn', '')}")
    return firm or target.replace("_bn", "")


def _colour(target: str, firm: str, i: int) -> str:
    if target == "cloud_share" or target == "cloud_revenue_bn":
        return FIRM_COLOURS.get(firm, MARKET_COLOUR)
    return MARKET_COLOUR if not firm else FIRM_COLOURS.get(firm, f"C{i % 10}")


def plot_bands_vs_history(band: pd.DataFrame, observed: pd.DataFrame, title: str, cutoff: int | None = None,
                          naive: pd.DataFrame | None = None) -> Figure:
    """One panel per kind of target: the model's median and 90 % band, history as dots, the cutoff
    as a line (what the fit saw is left of it), persistence dashed and the anchored model dash-dotted."""
    fig = Figure(figsize=(14, 4.6), layout="constrained")
    axes = fig.subplots(1, len(PANELS))
    shown = band.merge(observed[["year", "target", "firm"]].drop_duplicates()[["target", "firm"]].drop_duplicates(),
                       on=["target", "firm"])
    for ax, (panel, label) in zip(axes, PANELS):
        rows = shown[shown["target"].map(_panel_of) == panel]
        for i, ((target, firm), series) in enumerate(rows.groupby(["target", "firm"], sort=True)):
            series = series.sort_values("year")
            colour = _colour(target, firm, i)
            name = _series_label(target, firm)
            ax.fill_between(series["year"], series["lo"], series["hi"], color=colour, alpha=0.18, linewidth=0)
            ax.plot(series["year"], series["median"], color=colour, linewidth=1.8, label=name,
                    marker="." if len(series) < 3 else None)
            if panel == "revenues":
                ax.annotate(name, (series["year"].iat[-1], series["median"].iat[-1]), xytext=(4, 0),
                            textcoords="offset points", fontsize=7, color=colour, va="center")
            seen = observed[(observed["target"] == target) & (observed["firm"] == firm)]
            ax.plot(seen["year"], seen["value"], "o", color=colour, markersize=5, markeredgecolor="white")
            if naive is not None:
                flat = naive[(naive["target"] == target) & (naive["firm"] == firm) & (naive["method"] == "persistence")]
                ax.plot(flat["year"], flat["value"], "--", color=colour, linewidth=0.9, alpha=0.7)
                moved = naive[(naive["target"] == target) & (naive["firm"] == firm) & (naive["method"] == "anchored")]
                ax.plot(moved["year"], moved["value"], "-.", color=colour, linewidth=1.1, alpha=0.9)
        if cutoff is not None:
            ax.axvline(cutoff + 0.5, color="#888888", linewidth=0.8, linestyle=":")
            ax.text(cutoff + 0.55, 0.98, "forecast", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="#555555")
        if panel != "cloud_share":
            ax.set_yscale("log")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("year")
        years = sorted(int(y) for y in set(rows["year"]) | set(observed["year"]))
        if panel == "revenues" and years:  # labelled at the lines' ends, with room on the right for them
            ax.set_xlim(years[0] - 0.2, years[-1] + 0.2 + 0.25 * (years[-1] - years[0]))
            ax.set_xticks(range(years[0], years[-1] + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if len(rows):
                ax.legend(fontsize=7, loc="best")
    fig.suptitle(title + "  (line: model median; band: 90 %; dots: history" + (
        "; dashed: persistence; dash-dot: anchored model)" if naive is not None else ")"), fontsize=11)
    return fig


def plot_posterior(particles: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Each parameter's posterior (weighted histogram) over its prior range; shaded: the 90 % interval."""
    rows = list(summary.itertuples(index=False))
    cols = min(4, len(rows))
    fig = Figure(figsize=(3.4 * cols, 2.6 * int(np.ceil(len(rows) / cols))), layout="constrained")
    axes = np.atleast_1d(fig.subplots(int(np.ceil(len(rows) / cols)), cols)).ravel()
    weights = particles["weight"].to_numpy(dtype=float)
    for ax, row in zip(axes, rows):
        ax.hist(particles[row.parameter], bins=20, range=(row.prior_lo, row.prior_hi), weights=weights, color="#4c72b0")
        ax.axvspan(row.q05, row.q95, color="#4c72b0", alpha=0.12)
        ax.axvline(row.median, color="black", linewidth=1)
        ax.set_xlim(row.prior_lo, row.prior_hi)
        verdict = "identified" if row.identified else "not identified"
        ax.set_title(f"{row.parameter}\n{verdict} ({row.interval_share_of_prior:.0%} of prior)", fontsize=8)
        ax.set_yticks([])
    for ax in axes[len(rows):]:
        ax.set_visible(False)
    fig.suptitle("Posterior of the calibrated parameters (x axis: the prior's range)", fontsize=11)
    return fig
