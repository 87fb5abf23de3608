"""Static plots of one run's results.

Only the object-oriented Matplotlib API is used (``matplotlib.figure.Figure``,
never ``pyplot``), so these functions keep no global state, need no display and
are safe to call from worker threads or processes.
"""

from __future__ import annotations

import inspect
import math
import zlib
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from matplotlib.ticker import MaxNLocator

__all__ = [
    "MAJORS",
    "FIRM_COLOURS",
    "STARTUP_BAND",
    "segment_label",
    "FRINGE_BAND",
    "stacked_share_table",
    "share_flow_edges",
    "stable_layout",
    "plot_shares",
    "plot_finance",
    "plot_network",
    "save_figure",
    "save_run_figures",
]

MAJORS: tuple[str, ...] = ("amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba")
STARTUP_BAND = "startups"
FRINGE_BAND = "others"

# Fixed colours so a firm looks the same in every plot and every run.
FIRM_COLOURS: dict[str, str] = {
    "amazon": "#ff7f0e",
    "azure": "#1f77b4",
    "google_cloud": "#2ca02c",
    "walmart": "#9467bd",
    "shopify": "#bcbd22",
    "alibaba": "#d62728",
    STARTUP_BAND: "#17becf",
    FRINGE_BAND: "#7f7f7f",
}
DEAD_COLOUR = "#c8c8c8"


def segment_label(segment: str) -> str:
    """A segment as the charts name it."""
    return {"cloud_ai": "cloud AI", "ecommerce": "e-commerce"}.get(segment, segment.replace("_", " "))
_FALLBACK_COLOURS = ("#8c564b", "#e377c2", "#393b79", "#637939", "#843c39", "#7b4173")

# Links in greys, told apart by line style: colours belong to the firms (blocked deals were drawn
# in Alibaba's red and partnerships in Azure's blue). The browser's network uses the same styles.
EDGE_STYLES: dict[str, dict] = {
    "acquired": {"color": "#252525", "linestyle": "solid", "linewidth": 1.4, "alpha": 0.8},
    "blocked": {"color": "#252525", "linestyle": (0, (4, 2)), "linewidth": 1.4, "alpha": 0.9},
    "partner": {"color": "#636363", "linestyle": (0, (1, 1.2)), "linewidth": 2.6, "alpha": 0.95},
    "share_flow": {"color": "#bdbdbd", "linestyle": "solid", "linewidth": 1.0, "alpha": 0.9},
}

# From networkx 3.5 large graphs default to an "energy" method whose gravity pulls
# loose nodes towards (0.5, 0.5), off our circle's centre; ask for plain forces.
_SPRING_KW = {"method": "force"} if "method" in inspect.signature(nx.spring_layout).parameters else {}

# Anchors sit on a unit circle; k=0.2 fans a major's startups out around it
# (networkx's default k shrinks with node count and hides them under the major),
# and few iterations keep unlinked nodes from drifting far out.
_SPRING_K = 0.2
_SPRING_ITERATIONS = 20

# Node area in points^2 per sqrt($bn): absolute, so sizes are comparable year to year.
PLOT_STARTUPS = 150  # beyond this many startups the network plot draws the largest (`drawn_nodes`)
_SIZE_PER_SQRT_BN = 40.0
_MIN_SIZE = {"major": 120.0, "fringe": 120.0, "startup": 6.0}
_MAX_SIZE = {"major": 1600.0, "fringe": 1600.0, "startup": 250.0}


def _colour(firm: str) -> str:
    if firm in FIRM_COLOURS:
        return FIRM_COLOURS[firm]
    # Unknown majors still get a stable colour across calls.
    return _FALLBACK_COLOURS[sum(map(ord, firm)) % len(_FALLBACK_COLOURS)]


def _band(firm: str) -> str:
    if firm == FRINGE_BAND:
        return FRINGE_BAND
    if firm in MAJORS:
        return firm
    return STARTUP_BAND


def _band_order(bands) -> list[str]:
    bands = set(bands)
    majors = [m for m in MAJORS if m in bands]
    extra = sorted(b for b in bands if b not in MAJORS and b not in (STARTUP_BAND, FRINGE_BAND))
    tail = [b for b in (STARTUP_BAND, FRINGE_BAND) if b in bands]
    return majors + extra + tail


def _ordered_unique(values) -> list:
    return list(dict.fromkeys(values))


def stacked_share_table(shares: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Years x bands table that plot_shares stacks; startups summed into one band.

    Exposed so tests can check what is drawn. Shares are not renormalised, so a
    model whose shares do not sum to one shows up as a gap or overshoot.
    """
    seg = shares.loc[shares["segment"] == segment, ["year", "firm", "share"]]
    if seg.empty:
        return pd.DataFrame(dtype=float)
    seg = seg.assign(band=seg["firm"].map(_band))
    table = seg.pivot_table(index="year", columns="band", values="share", aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=_band_order(table.columns)).astype(float).sort_index()
    table.columns.name = "band"
    return table


def plot_shares(shares: pd.DataFrame) -> Figure:
    """Stacked market shares, one panel per segment, majors in their own colours."""
    if shares.empty:
        raise ValueError("plot_shares: empty shares table")
    segments = _ordered_unique(shares["segment"])
    tables = {s: stacked_share_table(shares, s) for s in segments}
    bands = _band_order(set().union(*(t.columns for t in tables.values())))

    fig = Figure(figsize=(4.6 * len(segments) + 0.6, 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(segments), sharey=True, squeeze=False)[0])
    for ax, seg in zip(axes, segments):
        t = tables[seg]
        years = t.index.to_numpy()
        colours = [_colour(b) for b in t.columns]
        if len(years) == 1:
            # A single year has no width as an area: draw a stacked bar instead.
            bottom = 0.0
            for band, c in zip(t.columns, colours):
                v = float(t[band].iloc[0])
                ax.bar(years, [v], bottom=bottom, color=c, width=0.6, edgecolor="white", linewidth=0.3)
                bottom += v
            ax.set_xlim(years[0] - 0.6, years[0] + 0.6)
            ax.set_xticks(years)
        else:
            ax.stackplot(years, t.to_numpy().T, colors=colours, edgecolor="white", linewidth=0.3)
            ax.set_xlim(years.min(), years.max())
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 1)
        ax.set_title(seg.replace("_", " "))
        ax.set_xlabel("year")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("market share")
    handles = [Patch(facecolor=_colour(b), label=_band_label(b)) for b in bands]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), frameon=False)
    fig.suptitle("Market shares by segment")
    return fig


def _band_label(band: str) -> str:
    if band == FRINGE_BAND:
        return "others (fringe)"
    if band == STARTUP_BAND:
        return "startups (all)"
    return band


def plot_finance(firms: pd.DataFrame) -> Figure:
    """Cash, profit and AI spend of the majors; a line stops when the firm exits."""
    majors = firms.loc[firms["kind"] == "major"].sort_values(["firm", "year"])
    panels = [("cash_bn", "Cash ($bn)"), ("profit_bn", "Profit ($bn)"), ("ai_spend_bn", "AI spend ($bn/yr)")]
    fig = Figure(figsize=(14, 4.4), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True)
    names = [m for m in MAJORS if m in set(majors["firm"])] + sorted(set(majors["firm"]) - set(MAJORS))
    for ax, (col, label) in zip(axes, panels):
        for firm in names:
            d = majors.loc[majors["firm"] == firm]
            alive = d["alive"].astype(bool).to_numpy()
            y = d[col].astype(float).where(alive)
            ax.plot(d["year"], y, color=_colour(firm), linewidth=1.8, marker="o", markersize=3, label=firm)
            if not alive.all() and alive.any():
                last = d.loc[alive].iloc[-1]
                ax.plot([last["year"]], [last[col]], marker="x", color=_colour(firm), markersize=8, mew=2)
        if col == "profit_bn":
            ax.axhline(0.0, color="black", linewidth=0.7, alpha=0.6)
        ax.set_title(label.split(" (")[0])
        ax.set_ylabel(label)
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if not names:
            ax.text(0.5, 0.5, "no major firms", ha="center", va="center", transform=ax.transAxes)
    if names:
        handles = [Line2D([], [], color=_colour(f), linewidth=2, label=f) for f in names]
        if not majors["alive"].astype(bool).all():
            handles.append(Line2D([], [], color="black", marker="x", linestyle="none", label="exit"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle("Majors: finances")
    return fig


# --------------------------------------------------------------------------- network


def _is_anchor(node, data: Mapping) -> bool:
    return data.get("kind") in ("major", "fringe") or node == FRINGE_BAND


def stable_layout(graph: nx.Graph, previous_pos: Mapping | None = None, seed: int = 0) -> dict:
    """Positions in which already placed nodes never move, for a view redrawn every year.

    Majors and the fringe sit on a fixed circle (by sorted id). New linked nodes
    are placed by a spring layout with every earlier node held fixed; new
    unlinked nodes, which a spring layout would only fling outwards, get a spot
    in a ring outside the circle drawn from (seed, node id), so it does not
    depend on the year they appear. Entries of ``previous_pos`` for nodes absent
    from ``graph`` are kept, so a node that comes back keeps its place.
    """
    pos: dict = dict(previous_pos or {})
    anchors = sorted((n for n, d in graph.nodes(data=True) if _is_anchor(n, d)), key=str)
    for i, n in enumerate(anchors):
        if n not in pos:
            a = math.pi / 2 - 2 * math.pi * i / len(anchors)
            pos[n] = np.array([math.cos(a), math.sin(a)])

    simple = nx.Graph()
    simple.add_nodes_from(graph.nodes)
    simple.add_edges_from((u, v) for u, v in graph.edges() if u != v)
    new = [n for n in simple.nodes if n not in pos]
    for n in new:
        if simple.degree(n) == 0:
            rng = _node_rng(n, seed)
            r, a = math.sqrt(rng.uniform(1.45**2, 2.1**2)), 2 * math.pi * rng.random()
            pos[n] = np.array([r * math.cos(a), r * math.sin(a)])
    linked = [n for n in new if simple.degree(n) > 0]
    if not linked:
        return pos

    init = {n: np.asarray(pos[n], dtype=float) for n in simple.nodes if n in pos}
    for n in linked:
        # Start next to placed neighbours so the spring step is short; else in the outer ring.
        rng = _node_rng(n, seed)
        nbrs = [init[m] for m in simple.neighbors(n) if m in init]
        if nbrs:
            init[n] = np.mean(nbrs, axis=0) * 0.85 + rng.normal(0.0, 0.05, 2)
        else:
            r, a = rng.uniform(1.3, 1.7), 2 * math.pi * rng.random()
            init[n] = np.array([r * math.cos(a), r * math.sin(a)])
    sub = simple.subgraph([n for n in simple.nodes if n in pos or n in init])
    fixed = [n for n in sub.nodes if n in pos]
    kw = {"k": _SPRING_K, "iterations": _SPRING_ITERATIONS, "seed": seed, **_SPRING_KW}
    if fixed:
        placed = nx.spring_layout(sub, pos=init, fixed=fixed, **kw)
    else:
        placed = nx.spring_layout(sub, pos=init, center=(0.0, 0.0), **kw)
    for n in linked:
        pos[n] = _squash(np.asarray(placed[n], dtype=float))
    return pos


def _node_rng(node, seed: int) -> np.random.Generator:
    """Per-node randomness, so a node's start does not depend on which call first sees it."""
    return np.random.default_rng([zlib.crc32(str(node).encode()), seed % 2**32])


def _squash(p: np.ndarray, r0: float = 1.6, r_max: float = 2.2) -> np.ndarray:
    """Pull far-flung nodes (pure repulsion sends unlinked ones outwards) back inside r_max."""
    r = float(np.hypot(p[0], p[1]))
    if r <= r0:
        return p
    return p * ((r0 + (r_max - r0) * math.tanh((r - r0) / (r_max - r0))) / r)


def _edge_years(graph: nx.MultiDiGraph, kind: str) -> list[int]:
    return [int(d["year"]) for _, _, d in graph.edges(data=True) if d.get("kind") == kind and "year" in d]


def share_flow_edges(graph: nx.MultiDiGraph, year: int | None = None) -> dict[tuple, float]:
    """Share flows of one year (default: the latest) with parallel edges summed over segments."""
    if year is None:
        years = _edge_years(graph, "share_flow")
        if not years:
            return {}
        year = max(years)
    flows: dict[tuple, float] = {}
    for u, v, d in graph.edges(data=True):
        if d.get("kind") == "share_flow" and int(d.get("year", -1)) == year:
            flows[(u, v)] = flows.get((u, v), 0.0) + float(d.get("value_bn", 0.0))
    return flows


def _node_status(data: Mapping, year: int | None) -> tuple[bool, bool]:
    """(visible, alive) of a node, evaluated at ``year`` when given."""
    if year is None:
        return True, bool(data.get("alive", True))
    entry = data.get("entry_year")
    exit_ = int(data.get("exit_year", -1) if data.get("exit_year") is not None else -1)
    visible = entry is None or int(entry) <= year
    alive = exit_ < 0 or exit_ > year
    return visible, alive


def _node_size(kind: str, revenue: float) -> float:
    k = kind if kind in _MIN_SIZE else "startup"
    rev = float(revenue) if revenue is not None else 0.0
    s = _SIZE_PER_SQRT_BN * math.sqrt(rev) if math.isfinite(rev) and rev > 0 else 0.0
    return float(min(max(s, _MIN_SIZE[k]), _MAX_SIZE[k]))


def drawn_nodes(graph: nx.MultiDiGraph, year: int | None = None, limit: int = PLOT_STARTUPS) -> tuple[set, int, int]:
    """The nodes a network plot draws: every firm while there are at most `limit` startups; beyond
    that the majors, the fringe, the startups in a deal (bought, blocked, partnered) and the `limit`
    largest active ones by revenue. Returns (nodes, active startups left out, departed left out)."""
    nodes = graph.nodes
    startups = [n for n, d in nodes(data=True) if d.get("kind") == "startup" and _node_status(d, year)[0]]
    if len(startups) <= limit:
        return set(nodes), 0, 0
    in_deal = {end for u, v, d in graph.edges(data=True) if d.get("kind") in ("acquired", "blocked", "partner")
               and (year is None or int(d.get("year", -1)) <= year) for end in (u, v)}
    active = [n for n in startups if _node_status(nodes[n], year)[1]]
    largest = sorted(active, key=lambda n: (-float(nodes[n].get("revenue_bn", 0.0) or 0.0), str(n)))[:limit]
    drawn = {n for n, d in nodes(data=True) if d.get("kind") != "startup"} | set(largest) | (set(startups) & in_deal)
    left_out = [n for n in startups if n not in drawn]
    active_out = sum(1 for n in left_out if _node_status(nodes[n], year)[1])
    return drawn, active_out, len(left_out) - active_out


def plot_network(graph: nx.MultiDiGraph, year: int | None = None, pos: Mapping | None = None) -> Figure:
    """Firm network at the end of the run (or at ``year``).

    With ``year`` given, nodes that entered later are hidden, exits are judged at
    that year and relationship edges after it are left out; share flows are
    always those of a single year. A run with thousands of startups is drawn
    with its largest ones and those in deals (`drawn_nodes`); the title counts the rest.
    """
    all_startups = sum(1 for d in graph.nodes.values() if d.get("kind") == "startup" and all(_node_status(d, year)))
    drawn, active_out, departed_out = drawn_nodes(graph, year)
    if active_out or departed_out:
        graph = graph.subgraph(drawn)
    pos = stable_layout(graph, previous_pos=pos)
    status = {n: _node_status(d, year) for n, d in graph.nodes(data=True)}
    visible = {n for n, (vis, _) in status.items() if vis}

    shown_year = year
    if shown_year is None:
        years = _edge_years(graph, "share_flow")
        shown_year = max(years) if years else None
    flows = share_flow_edges(graph, shown_year) if shown_year is not None else {}

    fig = Figure(figsize=(11, 9), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")

    sizes: dict = {}
    colours: dict = {}
    for n, d in graph.nodes(data=True):
        kind = d.get("kind", "startup")
        sizes[n] = _node_size(kind, d.get("revenue_bn", 0.0))
        if not status[n][1]:
            colours[n] = DEAD_COLOUR
        elif kind == "major":
            colours[n] = _colour(str(n))
        elif kind == "fringe":
            colours[n] = FIRM_COLOURS[FRINGE_BAND]
        else:
            colours[n] = FIRM_COLOURS[STARTUP_BAND]

    # Relationship edges as plain segments (cheap with hundreds of them).
    present_kinds: list[str] = []
    for kind in ("acquired", "blocked", "partner"):
        segs = []
        for u, v, d in graph.edges(data=True):
            if d.get("kind") != kind or u not in visible or v not in visible or u == v:
                continue
            if year is not None and int(d.get("year", -1)) > year:
                continue
            segs.append([pos[u], pos[v]])
        if segs:
            st = EDGE_STYLES[kind]
            thin = 0.5 if len(segs) > 150 else 1.0  # keep crowded fans from turning solid
            ax.add_collection(LineCollection(segs, colors=st["color"], linestyles=st["linestyle"],
                                             linewidths=st["linewidth"] * thin, alpha=st["alpha"] * thin,
                                             zorder=1))
            present_kinds.append(kind)

    # Share flows as arrows whose width follows the $bn moved.
    flows = {e: val for e, val in flows.items() if e[0] in visible and e[1] in visible and e[0] != e[1]}
    if flows:
        vmax = max(flows.values()) or 1.0
        st = EDGE_STYLES["share_flow"]
        for (u, v), val in sorted(flows.items(), key=lambda kv: kv[1]):
            ax.add_patch(FancyArrowPatch(
                tuple(pos[u]), tuple(pos[v]), arrowstyle="-|>", mutation_scale=7,
                connectionstyle="arc3,rad=0.12", color=st["color"], alpha=st["alpha"],
                linewidth=0.3 + 2.7 * max(val, 0.0) / vmax,
                shrinkA=math.sqrt(sizes[u]) / 2, shrinkB=math.sqrt(sizes[v]) / 2 + 1, zorder=1))
        present_kinds.append("share_flow")

    # Dead nodes first, then startups, then majors/fringe on top.
    def layer(n):
        d = graph.nodes[n]
        return 0 if not status[n][1] else (1 if d.get("kind") not in ("major", "fringe") else 2)

    for lv in (0, 1, 2):
        nodes = [n for n in graph.nodes if n in visible and layer(n) == lv]
        if not nodes:
            continue
        xy = np.array([pos[n] for n in nodes], dtype=float)
        ax.scatter(xy[:, 0], xy[:, 1], s=[sizes[n] for n in nodes], c=[colours[n] for n in nodes],
                   alpha=(0.45 if lv == 0 else 0.9 if lv == 1 else 1.0),
                   edgecolors=("none" if lv < 2 else "white"), linewidths=(0 if lv < 2 else 1.2),
                   zorder=2 + lv)

    for n, d in graph.nodes(data=True):
        if n in visible and _is_anchor(n, d):
            ax.annotate(str(n), tuple(pos[n]), xytext=(0, math.sqrt(sizes[n]) / 2 + 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=9, zorder=6,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7})

    if visible:
        xy = np.array([pos[n] for n in visible], dtype=float)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = 0.12 * max(float((hi - lo).max()), 1.0)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)

    # Legends: node kinds present, then edge kinds present.
    kinds = {graph.nodes[n].get("kind") for n in visible}
    node_handles = [Line2D([], [], marker="o", linestyle="none", markersize=9, color=_colour(str(n)), label=str(n))
                    for n in sorted(visible, key=str) if graph.nodes[n].get("kind") == "major" and status[n][1]]
    if "startup" in kinds:
        node_handles.append(Line2D([], [], marker="o", linestyle="none", markersize=5,
                                   color=FIRM_COLOURS[STARTUP_BAND], label="startup"))
    if "fringe" in kinds:
        node_handles.append(Line2D([], [], marker="o", linestyle="none", markersize=9,
                                   color=FIRM_COLOURS[FRINGE_BAND], label="fringe (others)"))
    if any(not status[n][1] for n in visible):
        node_handles.append(Line2D([], [], marker="o", linestyle="none", markersize=7, color=DEAD_COLOUR,
                                   label="exited"))
    edge_labels = {"acquired": "acquired", "blocked": "blocked deal", "partner": "partnership",
                   "share_flow": f"share flow {shown_year} (width ~ $bn)"}
    edge_handles = [Line2D([], [], color=EDGE_STYLES[k]["color"], linestyle=EDGE_STYLES[k]["linestyle"],
                           linewidth=max(EDGE_STYLES[k]["linewidth"], 1.5), label=edge_labels[k])
                    for k in present_kinds]
    if node_handles:
        fig.legend(handles=node_handles, title="firms", loc="outside right upper", frameon=False)
    if edge_handles:
        fig.legend(handles=edge_handles, title="links", loc="outside right lower", frameon=False)

    when = f"year {year}" if year is not None else "end of run"
    title = f"Firm network, {when} ({all_startups:,} active startups)"
    if active_out or departed_out:
        title += (f"\ndrawn: the {PLOT_STARTUPS} largest and those in deals"
                  f"\nnot drawn: {active_out:,} smaller active and {departed_out:,} departed startups")
    ax.set_title(title)
    return fig


def save_figure(fig: Figure, path: str | PathLike) -> Path:
    """Write a PNG at 120 dpi; the figure stays usable and nothing global is closed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, format="png")
    return path


def save_run_figures(shares: pd.DataFrame, firms: pd.DataFrame, graph: nx.MultiDiGraph, folder: str | PathLike) -> None:
    """A run's three pictures: shares.png, finance.png and network.png in `folder`."""
    folder = Path(folder)
    save_figure(plot_shares(shares), folder / "shares.png")
    save_figure(plot_finance(firms), folder / "finance.png")
    save_figure(plot_network(graph), folder / "network.png")
