"""Static plots render from small synthetic runs and draw what the data says."""

import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from viz.plots import (
    FIRM_COLOURS,
    MAJORS,
    plot_finance,
    plot_network,
    plot_shares,
    save_figure,
    share_flow_edges,
    stable_layout,
    stacked_share_table,
)

SEGMENTS = ["cloud_ai", "ecommerce", "advertising"]
MIN_PNG_BYTES = 5_000


def make_shares(years, n_startups=5, seed=0):
    """Shares summing to one per year and segment; startup_0001 dies after the first year."""
    rng = np.random.default_rng(seed)
    startups = [f"startup_{i:04d}" for i in range(1, n_startups + 1)]
    rows = []
    for i, year in enumerate(years):
        firms = list(MAJORS) + ["others"] + [s for s in startups if not (s == "startup_0001" and i > 0)]
        for seg in SEGMENTS:
            w = rng.random(len(firms)) + 0.05
            w /= w.sum()
            rows += [(year, seg, f, float(s), float(500 * s)) for f, s in zip(firms, w)]
    return pd.DataFrame(rows, columns=["year", "segment", "firm", "share", "revenue_bn"])


def make_firms(years, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i, year in enumerate(years):
        for m in MAJORS:
            alive = not (m == "shopify" and i == len(years) - 1 and len(years) > 2)
            rows.append((year, m, "major", "accelerate", 30 + 5 * i, 1.0 + i, float(rng.normal(10, 20)),
                         100 + 10 * i, alive))
        rows.append((year, "startup_0001", "startup", "partner", 0.2, 0.5, -0.1, 0.5, i == 0))
        rows.append((year, "startup_0002", "startup", "differentiate", 0.3, 0.6, 0.1, 1.0, True))
    return pd.DataFrame(rows, columns=["year", "firm", "kind", "strategy", "ai_spend_bn", "capability",
                                       "profit_bn", "cash_bn", "alive"])


def add_majors(g, fringe=True):
    for i, m in enumerate(MAJORS):
        g.add_node(m, kind="major", alive=True, entry_year=2025, exit_year=-1, revenue_bn=100.0 + 50 * i,
                   strategy="accelerate")
    if fringe:
        g.add_node("others", kind="fringe", alive=True, entry_year=2025, exit_year=-1, revenue_bn=200.0,
                   strategy="")
    return g


def make_graph(n_startups=40):
    """A run with every edge kind, dead startups and parallel share_flow edges."""
    g = add_majors(nx.MultiDiGraph())
    for i in range(1, n_startups + 1):
        dead = i % 4 == 0
        g.add_node(f"startup_{i:04d}", kind="startup", alive=not dead, entry_year=2025 + i % 3,
                   exit_year=2027 if dead else -1, revenue_bn=0.05 * i, strategy="partner" if i % 2 else "")
    for i in range(4, n_startups + 1, 4):
        g.add_edge("amazon", f"startup_{i:04d}", kind="acquired", year=2027, value_bn=2.0)
    g.add_edge("azure", "startup_0001", kind="blocked", year=2026, value_bn=1.0)
    g.add_edge("startup_0002", "google_cloud", kind="partner", year=2026, value_bn=0.5)
    for seg, v in zip(SEGMENTS, (1.0, 2.0, 3.5)):  # parallel edges, same pair, same year
        g.add_edge("others", "amazon", kind="share_flow", year=2027, segment=seg, value_bn=v)
    g.add_edge("walmart", "startup_0003", kind="share_flow", year=2027, segment="ecommerce", value_bn=0.4)
    g.add_edge("walmart", "alibaba", kind="share_flow", year=2026, segment="ecommerce", value_bn=9.0)
    return g


def saved_png(fig, tmp_path, name):
    path = save_figure(fig, tmp_path / name)
    assert Path(path).exists()
    assert Path(path).stat().st_size > MIN_PNG_BYTES
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


# ---------------------------------------------------------------- shares


@pytest.mark.parametrize("years", [[2025, 2026], [2025, 2026, 2027, 2028], [2025]])
def test_plot_shares_renders_one_axes_per_segment(tmp_path, years):
    shares = make_shares(years)
    fig = plot_shares(shares)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(SEGMENTS)
    assert [ax.get_title() for ax in fig.axes] == [s.replace("_", " ") for s in SEGMENTS]
    for ax in fig.axes:
        assert ax.get_ylim() == (0.0, 1.0)
    assert len(fig.legends) == 1
    saved_png(fig, tmp_path, "shares.png")


def test_segment_order_follows_data(tmp_path):
    shares = make_shares([2025, 2026])
    order = ["advertising", "cloud_ai", "ecommerce"]
    shares = pd.concat([shares[shares["segment"] == s] for s in order])
    fig = plot_shares(shares)
    assert [ax.get_title() for ax in fig.axes] == [s.replace("_", " ") for s in order]


def test_stacked_share_table_sums_to_one_and_aggregates_startups():
    shares = make_shares([2025, 2026, 2027], n_startups=7)
    for seg in SEGMENTS:
        table = stacked_share_table(shares, seg)
        assert list(table.index) == [2025, 2026, 2027]
        np.testing.assert_allclose(table.sum(axis=1).to_numpy(), 1.0, atol=1e-9)
        assert not any(c.startswith("startup_") for c in table.columns)
        assert list(table.columns) == list(MAJORS) + ["startups", "others"]
        seg_rows = shares[shares["segment"] == seg]
        expected = seg_rows[seg_rows["firm"].str.startswith("startup_")].groupby("year")["share"].sum()
        np.testing.assert_allclose(table["startups"].to_numpy(), expected.to_numpy(), atol=1e-12)
        amazon = seg_rows[seg_rows["firm"] == "amazon"].set_index("year")["share"]
        np.testing.assert_allclose(table["amazon"].to_numpy(), amazon.to_numpy(), atol=1e-12)


def test_stacked_share_table_fills_missing_years_with_zero():
    shares = pd.DataFrame(
        [(2025, "cloud_ai", "amazon", 0.6, 6.0), (2025, "cloud_ai", "others", 0.4, 4.0),
         (2026, "cloud_ai", "amazon", 0.5, 5.0), (2026, "cloud_ai", "others", 0.3, 3.0),
         (2026, "cloud_ai", "startup_0009", 0.2, 2.0)],
        columns=["year", "segment", "firm", "share", "revenue_bn"])
    table = stacked_share_table(shares, "cloud_ai")
    assert table.loc[2025, "startups"] == 0.0
    np.testing.assert_allclose(table.sum(axis=1).to_numpy(), 1.0, atol=1e-9)


def test_plot_shares_rejects_empty():
    with pytest.raises(ValueError):
        plot_shares(make_shares([2025]).iloc[0:0])


# ---------------------------------------------------------------- finance


@pytest.mark.parametrize("years", [[2025, 2026], [2025, 2026, 2027, 2028, 2029]])
def test_plot_finance_majors_only(tmp_path, years):
    fig = plot_finance(make_firms(years))
    assert len(fig.axes) == 3
    for ax, word in zip(fig.axes, ("Cash", "Profit", "AI spend")):
        assert word in ax.get_ylabel() and "$bn" in ax.get_ylabel()
        labelled = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        assert labelled == list(MAJORS)  # one line per major, no startups
    spend = fig.axes[2]
    amazon = next(ln for ln in spend.get_lines() if ln.get_label() == "amazon")
    assert amazon.get_color() == FIRM_COLOURS["amazon"]
    saved_png(fig, tmp_path, "finance.png")


def test_plot_finance_line_stops_after_exit():
    fig = plot_finance(make_firms([2025, 2026, 2027, 2028]))
    cash = fig.axes[0]
    shopify = next(ln for ln in cash.get_lines() if ln.get_label() == "shopify")
    y = np.asarray(shopify.get_ydata(), dtype=float)
    assert np.isnan(y[-1]) and not np.isnan(y[:-1]).any()


# ---------------------------------------------------------------- layout


def test_stable_layout_anchors_on_deterministic_circle():
    g = add_majors(nx.MultiDiGraph())
    pos = stable_layout(g)
    assert set(pos) == set(g.nodes)
    radii = [np.hypot(*pos[n]) for n in g.nodes]
    np.testing.assert_allclose(radii, 1.0)
    # Insertion order must not matter, only sorted ids.
    h = nx.MultiDiGraph()
    h.add_nodes_from(reversed(list(g.nodes(data=True))))
    pos2 = stable_layout(h, seed=123)
    for n in g.nodes:
        np.testing.assert_array_equal(pos[n], pos2[n])


def test_stable_layout_keeps_previous_positions():
    g = make_graph(20)
    first = stable_layout(g.subgraph([n for n in g if not str(n).startswith("startup_001")]).copy())
    snapshot = {n: np.array(p, copy=True) for n, p in first.items()}
    second = stable_layout(g, previous_pos=first, seed=5)
    assert set(second) >= set(g.nodes)
    for n, p in snapshot.items():
        np.testing.assert_array_equal(second[n], p)
        np.testing.assert_array_equal(first[n], p)  # input not mutated
    new = [n for n in g if n not in first]
    assert new and all(np.all(np.isfinite(second[n])) for n in new)
    # Previous positions win even for anchors placed elsewhere.
    moved = dict(first)
    moved["amazon"] = np.array([5.0, 5.0])
    np.testing.assert_array_equal(stable_layout(g, previous_pos=moved)["amazon"], [5.0, 5.0])


def test_stable_layout_is_deterministic_for_same_seed():
    g = make_graph(30)
    a, b = stable_layout(g, seed=3), stable_layout(g, seed=3)
    for n in g.nodes:
        np.testing.assert_array_equal(a[n], b[n])
    c = stable_layout(g, seed=4)
    assert any(not np.array_equal(a[n], c[n]) for n in g if str(n).startswith("startup_"))


def test_unlinked_node_position_does_not_depend_on_call_history():
    g = add_majors(nx.MultiDiGraph())
    g.add_node("startup_0007", kind="startup")
    alone = stable_layout(g)
    for i in range(1, 30):
        g.add_node(f"startup_{i:04d}", kind="startup")
    crowded = stable_layout(g)
    np.testing.assert_array_equal(alone["startup_0007"], crowded["startup_0007"])
    # Same seed for two different nodes must not stack them on one spot.
    assert not np.array_equal(crowded["startup_0001"], crowded["startup_0002"])
    radii = [np.hypot(*crowded[f"startup_{i:04d}"]) for i in range(1, 30)]
    assert 1.0 < min(radii) and max(radii) < 2.5  # outside the anchor circle, not flung away


def test_stable_layout_edge_cases():
    assert stable_layout(nx.MultiDiGraph()) == {}
    g = nx.MultiDiGraph()
    g.add_node("startup_0001", kind="startup")
    g.add_node("startup_0002", kind="startup")
    pos = stable_layout(g)
    assert set(pos) == {"startup_0001", "startup_0002"}


# ---------------------------------------------------------------- network


def test_share_flow_edges_sums_parallel_edges_of_one_year():
    g = make_graph(10)
    latest = share_flow_edges(g)
    assert latest == {("others", "amazon"): pytest.approx(6.5), ("walmart", "startup_0003"): pytest.approx(0.4)}
    assert share_flow_edges(g, 2026) == {("walmart", "alibaba"): pytest.approx(9.0)}
    assert share_flow_edges(g, 2030) == {}
    assert share_flow_edges(add_majors(nx.MultiDiGraph())) == {}


def test_plot_network_full_run(tmp_path):
    g = make_graph(200)
    fig = plot_network(g)
    ax = fig.axes[0]
    assert len(fig.axes) == 1
    labels = {t.get_text() for t in ax.texts}
    assert labels == set(MAJORS) | {"others"}  # no startup labels
    assert len(fig.legends) == 2
    assert len(ax.patches) == 2  # aggregated share_flow arrows of the last year only
    saved_png(fig, tmp_path, "network.png")


def test_plot_network_no_edges_and_majors_only(tmp_path):
    g = make_graph(10)
    g.remove_edges_from(list(g.edges))
    saved_png(plot_network(g), tmp_path, "no_edges.png")
    only_majors = add_majors(nx.MultiDiGraph(), fringe=False)
    fig = plot_network(only_majors)
    assert {t.get_text() for t in fig.axes[0].texts} == set(MAJORS)
    saved_png(fig, tmp_path, "majors_only.png")


def test_plot_network_given_year_and_pos(tmp_path):
    g = make_graph(30)
    pos = stable_layout(g, seed=1)
    before = {n: np.array(p, copy=True) for n, p in pos.items()}
    fig = plot_network(g, year=2026, pos=pos)
    assert "2026" in fig.axes[0].get_title()
    assert len(fig.axes[0].patches) == 1  # walmart -> alibaba flow of 2026
    for n, p in before.items():
        np.testing.assert_array_equal(pos[n], p)
    saved_png(fig, tmp_path, "network_2026.png")


def test_plot_network_fills_in_missing_positions():
    g = make_graph(10)
    partial = {m: np.array([float(i), 0.0]) for i, m in enumerate(MAJORS)}
    plot_network(g, pos=partial)
    assert set(partial) == set(MAJORS)  # caller's dict not mutated


def test_module_does_not_use_pyplot():
    code = (
        "import sys; import viz.plots as p; import networkx as nx; "
        "g = nx.MultiDiGraph(); g.add_node('amazon', kind='major', alive=True, revenue_bn=1.0); "
        "p.plot_network(g); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_a_big_network_plot_draws_the_majors_the_deals_and_the_largest_startups():
    """Beyond `limit` startups: every non-startup, every startup in a deal and the `limit` largest
    active ones by revenue are drawn; the rest are counted, split into active and departed."""
    from viz.plots import drawn_nodes

    graph = nx.MultiDiGraph()
    graph.add_node("amazon", kind="major", alive=True, entry_year=2023, exit_year=-1)
    graph.add_node("others", kind="fringe", alive=True, entry_year=2023, exit_year=-1)
    for i in range(30):
        graph.add_node(f"startup_{i:04d}", kind="startup", alive=i < 25, revenue_bn=float(i),
                       entry_year=2024, exit_year=-1 if i < 25 else 2026)
    graph.add_edge("amazon", "startup_0001", kind="acquired", year=2025)
    drawn, active_out, departed_out = drawn_nodes(graph, limit=5)
    largest = {f"startup_{i:04d}" for i in range(20, 25)}
    assert drawn == {"amazon", "others", "startup_0001"} | largest
    assert active_out == 25 - 5 - 1 and departed_out == 5
    everything, none_active, none_departed = drawn_nodes(graph, limit=100)
    assert everything == set(graph.nodes) and none_active == none_departed == 0
