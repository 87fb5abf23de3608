"""Sweep plots render from small synthetic run tables and draw what the data says."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from viz.sweep_plots import (
    PREFERRED_METRICS,
    default_metrics,
    heatmap_table,
    is_numeric_factor,
    plot_heatmap,
    plot_metrics_vs_factors,
    plot_sensitivity,
    save_figure,
    short_name,
    summarise_by_factor,
)

MIN_PNG_BYTES = 5_000
BUDGET = "firms.amazon.ai_budget_bn"
HHI = "regulator.hhi_threshold"
POLICY = "firms.amazon.policy"
PROFIT = "amazon.cumulative_profit_bn"
SHARE = "azure.final_share_cloud_ai"
ERROR_VALUE = 1.0e6  # metric value planted in failed runs: any leak shows in a mean


def _rows_to_frame(rows):
    frame = pd.DataFrame(rows)
    frame.insert(0, "run_id", range(len(frame)))
    return frame


def _metrics(rng, budget, hhi):
    return {
        PROFIT: 2.0 * budget - 0.01 * hhi + rng.normal(0, 5),
        "amazon.return_on_ai_spend": 1.5 - 0.01 * budget + rng.normal(0, 0.1),
        "amazon.final_share_cloud_ai": 0.3 + 0.002 * budget + rng.normal(0, 0.02),
        SHARE: 0.35 - 0.001 * budget + rng.normal(0, 0.02),
        "hhi_cloud_ai": 2500 + hhi * 0.2 + rng.normal(0, 50),
        "acquisitions": float(rng.poisson(3)),
        "blocked_acquisitions": float(rng.poisson(1)) if hhi < 2500 else 0.0,
    }


def make_grid(budgets=(20.0, 40.0, 60.0), thresholds=(1500.0, 2500.0), replicates=4, seed=0,
              errors=((0, 0), (3, 1)), nans=((1, 2),)):
    """A full factorial; runs (point, replicate) in ``errors`` fail, in ``nans`` lose PROFIT."""
    rng = np.random.default_rng(seed)
    rows = []
    point = 0
    for b in budgets:
        for h in thresholds:
            for r in range(replicates):
                row = {"point": point, "replicate": r, "seed": 1000 + len(rows), "status": "ok", "error": None,
                       BUDGET: b, HHI: h, **_metrics(rng, b, h)}
                if (point, r) in errors:
                    row.update({"status": "error", "error": "RuntimeError: boom (race.py:1)",
                                **{m: ERROR_VALUE for m in PREFERRED_METRICS}})
                if (point, r) in nans:
                    row[PROFIT] = np.nan
                rows.append(row)
            point += 1
    return _rows_to_frame(rows)


def make_lhs(n=40, seed=1, n_errors=3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        b, h = rng.uniform(10, 80), rng.uniform(1000, 4000)
        row = {"point": i, "replicate": 0, "seed": 2000 + i, "status": "ok", "error": None,
               BUDGET: b, HHI: h, POLICY: ["accelerate", "hold", "partner"][i % 3], **_metrics(rng, b, h)}
        if i < n_errors:
            row.update({"status": "error", "error": "ValueError: bad", **{m: ERROR_VALUE for m in PREFERRED_METRICS}})
        if i == n - 1:
            row[SHARE] = np.nan
        rows.append(row)
    return _rows_to_frame(rows)


def make_sobol():
    frame = pd.DataFrame({
        "parameter": [BUDGET, HHI, POLICY, "market.demand_growth"],
        "S1": [0.55, 0.20, 0.05, -0.01],
        "S1_conf": [0.05, 0.04, 0.02, np.nan],
        "ST": [0.60, 0.30, 0.07, 0.02],
        "ST_conf": [0.06, 0.05, 0.03, 0.01],
    })
    frame.attrs["metric"] = PROFIT
    return frame


def make_morris():
    frame = pd.DataFrame({
        "parameter": [BUDGET, HHI, "market.demand_growth"],
        "mu_star": [12.0, 4.0, 0.5],
        "mu_star_conf": [2.0, 1.0, 0.2],
        "sigma": [3.0, 6.0, 0.4],
    })
    frame.attrs["metric"] = PROFIT
    return frame


def ok_of(runs):
    return runs[runs["status"] == "ok"]


def check_png(fig, tmp_path, name):
    path = save_figure(fig, tmp_path / f"{name}.png")
    assert path.exists() and path.stat().st_size > MIN_PNG_BYTES
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def data_axes(fig):
    """Axes that are panels (colourbars excluded)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


# --------------------------------------------------------------------------- helpers


def test_short_name_and_factor_kinds():
    assert short_name(BUDGET) == "amazon.ai_budget_bn"
    assert short_name("years") == "years"
    assert is_numeric_factor(pd.Series([1.0, 2.0]))
    assert is_numeric_factor(pd.Series([1, 2, None], dtype=object))
    assert not is_numeric_factor(pd.Series(["a", "b"]))
    assert not is_numeric_factor(pd.Series([True, False]))
    assert not is_numeric_factor(pd.Series([True, False, None], dtype=object))


def test_summarise_grid_is_per_value_and_ignores_errors_and_nans():
    runs = make_grid()
    s = summarise_by_factor(runs, BUDGET, PROFIT, "grid")
    assert list(s.columns) == ["x", "mean", "p5", "p95", "n"]
    assert s["x"].tolist() == [20.0, 40.0, 60.0]
    ok = ok_of(runs).dropna(subset=[PROFIT])
    expected = ok.groupby(BUDGET)[PROFIT]
    np.testing.assert_allclose(s["mean"], expected.mean().to_numpy())
    np.testing.assert_allclose(s["p5"], expected.quantile(0.05).to_numpy())
    np.testing.assert_allclose(s["p95"], expected.quantile(0.95).to_numpy())
    # 8 runs per budget; budget 20 loses failed (0, 0) and NaN (1, 2), budget 40 failed (3, 1).
    assert s["n"].tolist() == [6, 7, 8]
    assert (s["mean"] < ERROR_VALUE / 100).all()
    assert (s["p5"] <= s["mean"]).all() and (s["mean"] <= s["p95"]).all()


def test_summarise_lhs_uses_quantile_bins():
    runs = make_lhs()
    s = summarise_by_factor(runs, BUDGET, PROFIT, "lhs")
    ok = ok_of(runs)
    assert 5 <= len(s) <= 10
    assert s["n"].sum() == len(ok)
    assert s["x"].is_monotonic_increasing
    assert ok[BUDGET].min() <= s["x"].min() and s["x"].max() <= ok[BUDGET].max()
    # The run-weighted mean of the bin means is the mean of the ok runs: error rows are out.
    np.testing.assert_allclose((s["mean"] * s["n"]).sum() / s["n"].sum(), ok[PROFIT].mean())
    # A NaN metric only drops that run.
    assert summarise_by_factor(runs, BUDGET, SHARE, "lhs")["n"].sum() == len(ok) - 1


def test_summarise_lhs_with_few_distinct_values_groups_by_value():
    runs = make_lhs()
    runs[BUDGET] = np.where(runs.index % 2 == 0, 10.0, 50.0)
    s = summarise_by_factor(runs, BUDGET, PROFIT, "mc")
    assert s["x"].tolist() == [10.0, 50.0]


def test_summarise_categorical():
    runs = make_lhs()
    s = summarise_by_factor(runs, POLICY, PROFIT, "lhs")
    assert s["x"].tolist() == ["accelerate", "hold", "partner"]
    expected = ok_of(runs).groupby(POLICY)[PROFIT].mean()
    np.testing.assert_allclose(s["mean"], expected.loc[s["x"]].to_numpy())
    assert s["n"].sum() == len(ok_of(runs))


def test_summarise_all_errors_is_empty():
    runs = make_grid()
    runs["status"] = "error"
    assert summarise_by_factor(runs, BUDGET, PROFIT, "grid").empty


def test_heatmap_table_is_replicate_mean_per_cell():
    runs = make_grid()
    table = heatmap_table(runs, BUDGET, HHI, PROFIT)
    assert table.shape == (2, 3)
    assert table.index.tolist() == [1500.0, 2500.0]
    assert table.columns.tolist() == [20.0, 40.0, 60.0]
    ok = ok_of(runs)
    for y in table.index:
        for x in table.columns:
            cell = ok.loc[(ok[BUDGET] == x) & (ok[HHI] == y), PROFIT]
            assert table.loc[y, x] == pytest.approx(cell.mean())
    assert table.to_numpy().max() < ERROR_VALUE / 100


def test_heatmap_table_sorts_and_marks_empty_cells():
    runs = make_grid(budgets=(60.0, 20.0, 40.0), thresholds=(2500.0, 1500.0), errors=(), nans=())
    runs = runs.sample(frac=1.0, random_state=3)
    # Every replicate of the (40, 1500) cell fails.
    runs.loc[(runs[BUDGET] == 40.0) & (runs[HHI] == 1500.0), "status"] = "error"
    table = heatmap_table(runs, BUDGET, HHI, PROFIT)
    assert table.columns.tolist() == [20.0, 40.0, 60.0]
    assert table.index.tolist() == [1500.0, 2500.0]
    assert np.isnan(table.loc[1500.0, 40.0])
    assert np.isfinite(table.drop(columns=40.0).to_numpy()).all()


def test_default_metrics_order_and_filtering():
    runs = make_grid()
    assert default_metrics(runs) == list(PREFERRED_METRICS[:6])
    shuffled = runs[list(reversed(runs.columns))]
    assert default_metrics(shuffled) == list(PREFERRED_METRICS[:6])
    runs["amazon.return_on_ai_spend"] = np.nan
    runs = runs.drop(columns=["hhi_cloud_ai"])
    assert default_metrics(runs) == [PROFIT, "amazon.final_share_cloud_ai", SHARE, "acquisitions",
                                     "blocked_acquisitions"]
    # A metric with values only in failed runs counts as all missing.
    runs["acquisitions"] = np.where(runs["status"] == "error", 3.0, np.nan)
    assert "acquisitions" not in default_metrics(runs)


def test_default_metrics_fallback_without_preferred():
    runs = pd.DataFrame({"run_id": [0, 1], "point": [0, 1], "replicate": [0, 0], "seed": [1, 2],
                         "status": ["ok", "ok"], "error": [None, None], BUDGET: [1.0, 2.0],
                         "google_cloud.final_cash_bn": [3.0, 4.0], "startups_alive": [5.0, 6.0]})
    assert default_metrics(runs, exclude=[BUDGET]) == ["google_cloud.final_cash_bn", "startups_alive"]
    assert default_metrics(runs.drop(columns=["google_cloud.final_cash_bn", "startups_alive"]), exclude=[BUDGET]) == []


# --------------------------------------------------------------------------- metrics vs factors


def _mean_line(ax):
    lines = [ln for ln in ax.get_lines() if ln.get_color() == "black" and ln.get_marker() == "o"]
    assert len(lines) == 1
    return lines[0]


def test_metrics_vs_factors_grid(tmp_path):
    runs = make_grid()
    metrics = default_metrics(runs)
    fig = plot_metrics_vs_factors(runs, [BUDGET, HHI], metrics, "grid")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(metrics) * 2
    check_png(fig, tmp_path, "grid")
    # Panel (profit, budget): mean line = means of ok rows; band drawn.
    ax = fig.axes[0]
    line = _mean_line(ax)
    s = summarise_by_factor(runs, BUDGET, PROFIT, "grid")
    np.testing.assert_allclose(line.get_xdata(), s["x"])
    np.testing.assert_allclose(line.get_ydata(), s["mean"])
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    # Dots: ok runs with a profit, jittered in x but not in y, none from failed runs.
    dots = ax.collections[0].get_offsets()
    ok = ok_of(runs).dropna(subset=[PROFIT])
    assert len(dots) == len(ok)
    np.testing.assert_allclose(np.sort(dots[:, 1]), np.sort(ok[PROFIT]))
    assert not np.allclose(dots[:, 0], ok[BUDGET])
    assert np.abs(dots[:, 0] - ok[BUDGET].to_numpy()).max() <= 0.125 * 20 + 1e-9
    assert ax.get_ylabel().replace("\n", ".") == PROFIT
    assert fig.axes[-1].get_xlabel() == short_name(HHI)


def test_metrics_vs_factors_lhs_with_categorical(tmp_path):
    runs = make_lhs()
    metrics = [PROFIT, SHARE, "hhi_cloud_ai"]
    fig = plot_metrics_vs_factors(runs, [BUDGET, HHI, POLICY], metrics, "lhs")
    assert len(fig.axes) == 9
    check_png(fig, tmp_path, "lhs")
    # No jitter for lhs: dot x values are the factor values of the ok runs.
    ok = ok_of(runs)
    dots = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.sort(dots[:, 0]), np.sort(ok[BUDGET]))
    np.testing.assert_allclose(_mean_line(fig.axes[0]).get_ydata(),
                               summarise_by_factor(runs, BUDGET, PROFIT, "lhs")["mean"])
    # Categorical panel: ticks are the categories, the diamonds sit at the ok means.
    cat_ax = fig.axes[2]
    # Shared x per column: only the bottom panel shows the tick labels.
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["accelerate", "hold", "partner"]
    assert fig.axes[-1].get_xlabel() == short_name(POLICY)
    diamonds = [c for c in cat_ax.collections if len(c.get_offsets()) == 3 and c.get_sizes()[0] == 28]
    assert len(diamonds) == 1
    expected = ok.groupby(POLICY)[PROFIT].mean().to_numpy()
    np.testing.assert_allclose(diamonds[0].get_offsets()[:, 1], expected)


def test_metrics_vs_factors_single_factor_single_value(tmp_path):
    runs = make_grid(budgets=(40.0,), thresholds=(2000.0,), replicates=5, errors=((0, 4),), nans=())
    fig = plot_metrics_vs_factors(runs, [BUDGET], [PROFIT], "grid")
    assert len(fig.axes) == 1
    check_png(fig, tmp_path, "single")
    line = _mean_line(fig.axes[0])
    assert line.get_ydata()[0] == pytest.approx(ok_of(runs)[PROFIT].mean())


def test_metrics_vs_factors_big_grid_and_bool_factor(tmp_path):
    runs = make_lhs(n=60)
    runs["firms.azure.open_source"] = runs.index % 2 == 0
    factors = [BUDGET, HHI, POLICY, "firms.azure.open_source"]
    metrics = default_metrics(runs)
    assert len(metrics) == 6
    fig = plot_metrics_vs_factors(runs, factors, metrics, "mc")
    assert len(fig.axes) == 24
    check_png(fig, tmp_path, "big")
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["False", "True"]


def test_metrics_vs_factors_all_nan_metric_and_bad_column():
    runs = make_grid()
    runs["hhi_cloud_ai"] = np.nan
    fig = plot_metrics_vs_factors(runs, [BUDGET], ["hhi_cloud_ai"], "grid")
    assert any(t.get_text() == "no data" for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match="no_such"):
        plot_metrics_vs_factors(runs, [BUDGET], ["no_such"], "grid")


# --------------------------------------------------------------------------- heatmap


def test_heatmap(tmp_path):
    runs = make_grid()
    fig = plot_heatmap(runs, BUDGET, HHI, PROFIT)
    assert isinstance(fig, Figure)
    assert len(data_axes(fig)) == 1 and len(fig.axes) == 2  # panel + colourbar
    check_png(fig, tmp_path, "heatmap")
    ax = data_axes(fig)[0]
    table = heatmap_table(runs, BUDGET, HHI, PROFIT)
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), table.to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "40", "60"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1500", "2500"]
    assert len(ax.texts) == table.size
    assert PROFIT in ax.get_title()
    # Cells hold 3 or 4 replicates (one failure, one NaN): the title says so.
    assert "3-4 replicates per cell" in ax.get_title()


def test_heatmap_uniform_replicates_and_empty_cell(tmp_path):
    runs = make_grid(errors=(), nans=())
    fig = plot_heatmap(runs, BUDGET, HHI, "hhi_cloud_ai")
    assert "4 replicates per cell" in data_axes(fig)[0].get_title()
    runs.loc[(runs[BUDGET] == 40.0) & (runs[HHI] == 1500.0), "status"] = "error"
    fig = plot_heatmap(runs, BUDGET, HHI, "hhi_cloud_ai")
    assert "n/a" in [t.get_text() for t in data_axes(fig)[0].texts]
    check_png(fig, tmp_path, "heatmap_gap")


def test_heatmap_without_ok_runs():
    runs = make_grid()
    runs["status"] = "error"
    assert heatmap_table(runs, BUDGET, HHI, PROFIT).empty
    fig = plot_heatmap(runs, BUDGET, HHI, PROFIT)
    assert len(fig.axes) == 1
    assert any(t.get_text() == "no successful runs" for t in fig.axes[0].texts)
    fig = plot_metrics_vs_factors(runs, [BUDGET], [PROFIT], "grid")
    assert any(t.get_text() == "no data" for t in fig.axes[0].texts)


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_sobol(tmp_path):
    indices = make_sobol()
    fig = plot_sensitivity(indices, "sobol")
    assert len(fig.axes) == 1
    check_png(fig, tmp_path, "sobol")
    ax = fig.axes[0]
    assert PROFIT in fig.get_suptitle()
    assert len(ax.patches) == 2 * len(indices)
    # Sorted by ST, largest first.
    assert [t.get_text() for t in ax.get_yticklabels()][0] == short_name(BUDGET)
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == sorted(round(v, 6) for v in list(indices["S1"]) + list(indices["ST"]))


def test_sensitivity_morris(tmp_path):
    indices = make_morris()
    fig = plot_sensitivity(indices, "Morris")
    assert len(fig.axes) == 2
    check_png(fig, tmp_path, "morris")
    bar_ax, scatter_ax = fig.axes
    assert sorted(p.get_width() for p in bar_ax.patches) == sorted(indices["mu_star"])
    assert {t.get_text() for t in scatter_ax.texts} == {short_name(p) for p in indices["parameter"]}
    assert PROFIT in fig.get_suptitle()


def test_sensitivity_without_metric_and_bad_input():
    indices = make_morris()
    indices.attrs.clear()
    fig = plot_sensitivity(indices, "morris")
    assert fig.get_suptitle() == "Morris elementary effects"
    with pytest.raises(ValueError, match="sigma"):
        plot_sensitivity(indices.drop(columns=["sigma"]), "morris")
    with pytest.raises(ValueError, match="method"):
        plot_sensitivity(indices, "fast")
