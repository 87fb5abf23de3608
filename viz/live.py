"""The charts of the browser's single-run view, redrawn every simulated year (Matplotlib only).

Each chart's figure is kept for the model's life and redrawn in place: its axes, ticks and
legends are drawn once into a background that is reused every year, and only the year's data is
drawn on top (Matplotlib's blitting), which keeps a step's redraw short. The network keeps its
node positions between years: placed nodes never move and only new ones are laid out
(`viz.plots.stable_layout`).

One palette per meaning, the same in every chart: firms (`viz.plots.FIRM_COLOURS`, also the
network's node fills), strategies (`STRATEGY_COLOURS`, the strategy grid only; the network
writes a strategy as a letter), segments (black line styles, `SEGMENT_STYLE`) and links (greys,
`EDGE_STYLE`). No text is smaller than `MIN_FONT_PT` at the figure's own size.
"""

from __future__ import annotations

import io
import math
import threading
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from PIL import Image as PILImage

from model.params import FRINGE_ID, MAJOR_IDS, SEGMENTS, STRATEGIES
from model.race import AIRaceModel
from report.tables import run_tables
from viz.plots import EDGE_STYLES, FIRM_COLOURS, STARTUP_BAND, segment_label, stable_layout

__all__ = [
    "DPI", "MIN_FONT_PT", "STRATEGY_COLOURS", "STRATEGY_LETTER", "SEGMENT_STYLE", "EDGE_STYLE", "NETWORK_STARTUPS",
    "Snapshot", "snapshot", "NodeMark", "Chart", "NetworkChart", "SharesChart", "FinanceChart", "StrategyChart",
    "HHIChart", "CHART_KINDS", "chart_for", "min_text_px",
]

DPI = 80
MIN_FONT_PT = 10.0  # 11 px at 80 dpi: at least 9 px on screen down to 82 % of the natural width
FONT = {"tick": 10.0, "label": 10.5, "legend": 10.0, "title": 12.0}

# Shades of one hue no firm uses, so a strategy never reads as a firm.
STRATEGY_COLOURS: dict[str, str] = {"accelerate": "#7a0177", "differentiate": "#dd3497", "partner": "#fbb4c9"}
STRATEGY_TEXT = {"accelerate": "white", "differentiate": "white", "partner": "black"}
STRATEGY_LETTER = {"accelerate": "A", "differentiate": "D", "partner": "P"}
SEGMENT_STYLE = {
    "cloud_ai": {"color": "black", "linestyle": "solid", "marker": "o"},
    "ecommerce": {"color": "black", "linestyle": (0, (5, 2)), "marker": "s"},
    "advertising": {"color": "black", "linestyle": (0, (1, 1.2)), "marker": "^"},
}
EDGE_STYLE = EDGE_STYLES  # the links of the CLI's network plot
NETWORK_STARTUPS = 25  # the largest active startups drawn; the rest are counted in the title
ACQUIRED_YEARS = 2  # acquired startups stay drawn beside their buyer this many years (the deals table keeps all)
LETTER_OUTLINE = [patheffects.withStroke(linewidth=2.5, foreground="black")]  # white on any firm colour
BANDS = (*MAJOR_IDS, "startups", FRINGE_ID)
BAND_LABEL = {"startups": "startups (all)", FRINGE_ID: "others (fringe)"}


def min_text_px(fig: Figure) -> float:
    """The smallest visible text of a figure, in pixels at its own size (points x dpi / 72)."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=MIN_FONT_PT) * fig.dpi / 72


# --------------------------------------------------------------------------- what is drawn


@dataclass(frozen=True)
class Snapshot:
    """What the charts read, taken once per (model, step)."""

    year: int
    shares: dict[str, pd.DataFrame]  # per segment: years x bands (majors, "startups", "others")
    majors: dict[str, pd.DataFrame]  # per major: year, strategy, ai_spend_bn, profit_bn, cash_bn
    market: pd.DataFrame  # year, hhi_<segment>, ...
    events: pd.DataFrame  # the run's events table so far (events.csv)


_SNAPSHOTS: "weakref.WeakKeyDictionary[AIRaceModel, tuple[int, Snapshot]]" = weakref.WeakKeyDictionary()
_CHARTS: "weakref.WeakKeyDictionary[AIRaceModel, dict[type, Chart]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def snapshot(model: AIRaceModel) -> Snapshot:
    with _LOCK:
        cached = _SNAPSHOTS.get(model)
        if cached is not None and cached[0] == model.steps:
            return cached[1]
        run = run_tables(model)  # the tables a run writes (shares.csv, firms.csv, model.csv)
        shares = run.shares
        named = shares["firm"].isin((*MAJOR_IDS, FRINGE_ID))
        shares = shares.assign(firm=shares["firm"].where(named, "startups"))
        tables = {}
        for seg, frame in shares.groupby("segment", sort=False):
            table = frame.groupby(["year", "firm"], sort=True)["share"].sum().unstack("firm", fill_value=0.0)
            tables[seg] = table.reindex(columns=[b for b in BANDS if b in table.columns])
        majors = run.firms.loc[run.firms["kind"] == "major"]
        by_firm = {firm: frame.sort_values("year") for firm, frame in majors.groupby("firm", sort=False)}
        by_firm = {f: by_firm[f] for f in [m for m in MAJOR_IDS if m in by_firm] + sorted(set(by_firm) - set(MAJOR_IDS))}
        snap = Snapshot(year=int(model.year), shares=tables, majors=by_firm, market=run.model, events=run.events)
        _SNAPSHOTS[model] = (model.steps, snap)
        return snap


def _firm_colour(firm: str) -> str:
    return FIRM_COLOURS.get(firm, FIRM_COLOURS[STARTUP_BAND])


def _rgb(colour: str) -> tuple[float, float, float]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


class Chart:
    """One figure, kept for one model and redrawn every year.

    `setup(model)` makes the axes, ticks, legends: the static part, drawn once into a background.
    `update(model)` adds the year's artists through `keep`, which marks them animated, so a full
    draw leaves them out. `png` restores the background, draws the kept artists on it and encodes
    the picture; the background is drawn again only when an axis' limits changed (`static_key`).
    Charts fix their year axis to the whole horizon and only ever widen value axes, so that is rare.
    """

    size = (6.0, 4.3)
    name = "chart"  # the file name of its PNG download

    def __init__(self, model: AIRaceModel) -> None:
        self.fig = Figure(figsize=self.size, dpi=DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.lock = threading.RLock()
        self._artists: list = []
        self._background = None
        self._key: tuple | None = None
        self.first_year = int(model.year)  # the calibrated start
        self.last_year = self.first_year + int(model.params.years)
        self.setup(model)

    def setup(self, model: AIRaceModel) -> None:  # pragma: no cover - every chart has one
        raise NotImplementedError

    def update(self, model: AIRaceModel) -> None:  # pragma: no cover - every chart has one
        raise NotImplementedError

    def keep(self, artist):
        """Draw this artist (or these) this year only: removed before the next year is drawn."""
        for a in artist if isinstance(artist, (list, tuple)) else [artist]:
            a.set_animated(True)
            self._artists.append(a)
        return artist

    def title(self, text: str) -> None:
        self.keep(self.fig.text(0.01, 0.985, text, ha="left", va="top", fontsize=FONT["title"]))

    def static_key(self) -> tuple:
        return tuple((ax.get_xlim(), ax.get_ylim()) for ax in self.fig.axes)

    def draw(self, model: AIRaceModel) -> Figure:
        """Bring the figure to the model's year (a full `fig.savefig` then shows everything)."""
        with self.lock:
            for artist in self._artists:
                artist.remove()
            self._artists = []
            self.update(model)
            return self.fig

    def png(self, model: AIRaceModel) -> bytes:
        with self.lock:
            self.draw(model)
            key = self.static_key()
            if self._background is None or key != self._key:
                self.canvas.draw()  # everything but this year's (animated) artists
                self._background = self.canvas.copy_from_bbox(self.fig.bbox)
                self._key = key
            else:
                self.canvas.restore_region(self._background)
            renderer = self.canvas.get_renderer()
            for artist in sorted(self._artists, key=lambda a: a.get_zorder()):
                artist.draw(renderer)
            width, height = self.canvas.get_width_height()
            picture = PILImage.frombuffer("RGBA", (width, height), bytes(self.canvas.buffer_rgba()), "raw", "RGBA", 0, 1)
            out = io.BytesIO()
            picture.convert("RGB").save(out, format="PNG", compress_level=1)
            return out.getvalue()

    def year_axis(self, ax, nbins: int = 4) -> None:
        """The whole horizon on the year axis, so it never moves while the run fills it in."""
        ax.set_xlim(self.first_year - 0.3, self.last_year + 0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=nbins))
        ax.tick_params(labelsize=FONT["tick"])

    @staticmethod
    def widen(ax, lo: float, hi: float, floor: float | None = None) -> None:
        """Widen the value axis to show [lo, hi] clear of its edges, with room to grow; never narrow it."""
        cur_lo, cur_hi = ax.get_ylim()
        span = max(hi - lo, abs(hi), abs(lo), 1.0)
        edge = 0.04 * (cur_hi - cur_lo)
        if lo < cur_lo + edge and not (floor is not None and lo >= floor and cur_lo <= floor):
            cur_lo = lo - 0.6 * span
            if floor is not None:
                cur_lo = max(cur_lo, floor)
        if hi > cur_hi - edge:
            cur_hi = hi + 0.6 * span
        ax.set_ylim(cur_lo, cur_hi)


@dataclass(frozen=True)
class NodeMark:
    """Where a drawn node sits in the picture (fractions of its width and height from the top
    left) and what hovering it says."""

    node: str
    x: float
    y: float
    radius: float  # fraction of the picture's width
    label: str


class NetworkChart(Chart):
    """The industry network at the model's current year.

    Majors and the fringe are circles filled in the firm's colour, with this year's strategy as a
    letter; area ~ revenue. Of the active startups (triangles) the `NETWORK_STARTUPS` largest are
    drawn, and any in this year's deals; acquired startups stay beside their buyer, filled in the
    buyer's colour. Links: acquisitions and blocked deals up to now (this year's thicker), this
    year's partnerships and share flows (arrow width ~ $bn moved). Positions are kept.
    """

    size = (7.0, 5.2)
    name = "network"

    def setup(self, model: AIRaceModel) -> None:
        self.pos: dict = {}
        self.marks: list[NodeMark] = []
        ax = self.ax = self.fig.add_axes((0.0, 0.0, 0.68, 0.92))
        ax.set_axis_off()
        ax.set_aspect("equal")
        ax.set_xlim(-2.45, 2.45)
        ax.set_ylim(-2.35, 2.35)
        ax.apply_aspect()  # the equal aspect fixes the axes' place now, so hover targets are right from year one
        dot = {"linestyle": "none", "markersize": 9}
        node_handles = [
            Line2D([], [], marker="o", color="#9e9e9e", label="major (fill: firm;\nletter: strategy)", **dot),
            Line2D([], [], marker="^", color=FIRM_COLOURS[STARTUP_BAND], label="active startup", **dot),
            Line2D([], [], marker="^", markerfacecolor="#9e9e9e", markeredgecolor="#252525",
                   label=f"acquired startup\n(fill: buyer; last\n{ACQUIRED_YEARS} years)", **dot),
        ]
        link_handles = [
            Line2D([], [], color=EDGE_STYLE[k]["color"], linestyle=EDGE_STYLE[k]["linestyle"], linewidth=2.0,
                   marker="X" if k == "blocked" else None, markersize=7, label=label)
            for k, label in (("acquired", "acquisition"), ("blocked", "blocked deal"),
                             ("partner", "partnership\n(this year)"), ("share_flow", "share flow\n(this year)"))
        ]
        legend = {"fontsize": FONT["legend"], "title_fontsize": FONT["legend"], "frameon": False, "alignment": "left"}
        self.fig.legend(handles=node_handles, title="A accelerate\nD differentiate\nP partner", loc="upper right",
                        bbox_to_anchor=(1.0, 0.92), **legend)
        self.fig.legend(handles=link_handles, title="links", loc="lower right", bbox_to_anchor=(1.0, 0.0),
                        handlelength=2.4, **legend)

    def update(self, model: AIRaceModel) -> None:
        graph, year, ax = model.graph, int(model.year), self.ax
        pos = self.pos = stable_layout(graph, previous_pos=self.pos)
        nodes = graph.nodes
        buyer: dict[str, tuple[str, int, float]] = {}
        in_deal: set = set()
        for u, v, d in graph.edges(data=True):
            kind, when = d.get("kind"), int(d.get("year", -1))
            if kind == "acquired" and when <= year:
                buyer[v] = (u, when, float(d.get("value_bn", 0.0)))
            if kind in ("acquired", "blocked", "partner") and when == year:
                in_deal.update((u, v))
        alive = [n for n, d in nodes(data=True) if d.get("alive", True)]
        startups = [n for n in alive if nodes[n].get("kind") == "startup"]
        ranked = sorted(startups, key=lambda n: (-float(nodes[n].get("revenue_bn", 0.0) or 0.0), str(n)))
        shown_startups = set(ranked[:NETWORK_STARTUPS]) | (set(startups) & in_deal)
        big = sorted((n for n in alive if nodes[n].get("kind") in ("major", "fringe")), key=str)
        bought = [n for n in buyer if n in nodes and not nodes[n].get("alive", True)]
        acquired = sorted((n for n in bought if buyer[n][1] > year - ACQUIRED_YEARS), key=str)
        shown = set(big) | shown_startups | set(acquired)
        area = {n: _node_area(nodes[n].get("kind", "startup"), nodes[n].get("revenue_bn", 0.0)) for n in shown}
        for n in acquired:
            area[n] = 45.0

        lines: dict[str, list] = {"acquired": [], "blocked": [], "partner": []}
        widths: dict[str, list] = {"acquired": [], "blocked": [], "partner": []}
        blocked_mid = []
        flows: dict[tuple, float] = {}
        for u, v, d in graph.edges(data=True):
            kind, when = d.get("kind"), int(d.get("year", -1))
            if u == v or u not in shown or v not in shown:
                continue
            if kind == "share_flow":
                if when == year:
                    flows[(u, v)] = flows.get((u, v), 0.0) + float(d.get("value_bn", 0.0))
            elif kind in ("acquired", "blocked") and when <= year:
                lines[kind].append((pos[u], pos[v]))
                widths[kind].append(EDGE_STYLE[kind]["linewidth"] * (2.0 if when == year else 1.0))
                if kind == "blocked":
                    blocked_mid.append((np.asarray(pos[u]) + np.asarray(pos[v])) / 2)
            elif kind == "partner" and when == year:
                lines[kind].append((pos[u], pos[v]))
                widths[kind].append(EDGE_STYLE[kind]["linewidth"])
        for kind, segs in lines.items():
            if segs:
                st = EDGE_STYLE[kind]
                self.keep(ax.add_collection(LineCollection(segs, colors=st["color"], linestyles=st["linestyle"],
                                                           linewidths=widths[kind], alpha=st["alpha"], zorder=1),
                                            autolim=False))
        if blocked_mid:
            mid = np.array(blocked_mid)
            self.keep(ax.scatter(mid[:, 0], mid[:, 1], marker="X", s=50, c=EDGE_STYLE["blocked"]["color"], zorder=2))
        if flows:
            top = max(flows.values()) or 1.0
            st = EDGE_STYLE["share_flow"]
            for (u, v), value in sorted(flows.items(), key=lambda kv: kv[1]):
                self.keep(ax.add_patch(FancyArrowPatch(
                    tuple(pos[u]), tuple(pos[v]), arrowstyle="-|>", mutation_scale=9,
                    connectionstyle="arc3,rad=0.15", color=st["color"], alpha=st["alpha"],
                    linewidth=0.4 + 3.6 * max(value, 0.0) / top,
                    shrinkA=math.sqrt(area[u]) / 2, shrinkB=math.sqrt(area[v]) / 2 + 1, zorder=2)))

        def scatter(members, marker, **kw):
            if members:
                xy = np.array([pos[n] for n in members], dtype=float)
                self.keep(ax.scatter(xy[:, 0], xy[:, 1], s=[area[n] for n in members], marker=marker, **kw))

        scatter(acquired, "^", c=[_firm_colour(str(buyer[n][0])) for n in acquired], alpha=0.75,
                edgecolors="#252525", linewidths=0.6, zorder=3)
        live = sorted(shown_startups, key=str)
        scatter(live, "^", c=FIRM_COLOURS[STARTUP_BAND], alpha=0.95, edgecolors="white", linewidths=0.5, zorder=4)
        scatter(big, "o", c=[_firm_colour(str(n)) if nodes[n].get("kind") == "major" else FIRM_COLOURS["others"]
                             for n in big], edgecolors="white", linewidths=1.5, zorder=5)
        for n in big:
            strategy = nodes[n].get("strategy", "")
            if strategy in STRATEGY_LETTER:
                self.keep(ax.text(*pos[n], STRATEGY_LETTER[strategy], ha="center", va="center", color="white",
                                  fontsize=FONT["label"], fontweight="bold", zorder=6, path_effects=LETTER_OUTLINE))
            self.keep(ax.annotate(str(n), tuple(pos[n]), xytext=(0, math.sqrt(area[n]) / 2 + 3),
                                  textcoords="offset points", ha="center", va="bottom", fontsize=FONT["label"],
                                  zorder=6, bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none",
                                                  "alpha": 0.8}))
        hidden = len(startups) - len(live)
        exited = sum(1 for n, d in nodes(data=True) if d.get("kind") == "startup" and not d.get("alive", True)
                     and n not in buyer)
        self.title(f"Network {year}: {len(startups)} active startups" + (f" ({len(live)} drawn)" if hidden else "")
                   + f", {len(bought)} acquired ({len(acquired)} drawn), {exited} failed")
        self.marks = self._marks(model, [*big, *live, *acquired], area, buyer)

    def _marks(self, model, drawn, area, buyer) -> list[NodeMark]:
        """Hover targets: each drawn node's place in the picture and a one-line description."""
        nodes, year = model.graph.nodes, int(model.year)
        width, height = self.fig.bbox.width, self.fig.bbox.height
        xy = self.ax.transData.transform(np.array([self.pos[n] for n in drawn], dtype=float)) if drawn else []
        marks = []
        for n, (px, py) in zip(drawn, xy):
            d = nodes[n]
            kind, revenue = d.get("kind", "startup"), float(d.get("revenue_bn", 0.0) or 0.0)
            if n in buyer and not d.get("alive", True):
                who, when, price = buyer[n]
                label = f"{n}: startup ({d.get('niche', '')}) acquired by {who} in {when} for ${price:.2f}bn"
            else:
                strategy = d.get("strategy", "")
                what = {"major": "major", "fringe": "the fringe of smaller providers"}.get(kind, f"startup ({d.get('niche', '')})")
                label = (f"{n}: {what}, revenue ${revenue:.1f}bn in {year}"
                         + (f", chose {strategy}" if strategy and kind != "fringe" else ""))
            radius_px = math.sqrt(area[n]) / 2 * self.fig.dpi / 72
            marks.append(NodeMark(str(n), px / width, 1 - py / height, max(radius_px, 6.0) / width, label))
        return marks


def _node_area(kind: str, revenue: float) -> float:
    rev = revenue if revenue and math.isfinite(revenue) and revenue > 0 else 0.0
    if kind == "startup":
        return float(np.clip(60.0 * math.sqrt(rev), 18.0, 160.0))
    return float(np.clip(30.0 * math.sqrt(rev), 160.0, 1100.0))


class SharesChart(Chart):
    """Stacked market shares per segment: each major, all startups together, the fringe."""

    name = "shares"

    def setup(self, model: AIRaceModel) -> None:
        self.fig.subplots_adjust(left=0.11, right=0.99, top=0.84, bottom=0.29, wspace=0.12)
        self.axes = self.fig.subplots(1, len(SEGMENTS), sharey=True)
        for ax, seg in zip(self.axes, SEGMENTS):
            ax.set_ylim(0, 1)
            ax.set_title(segment_label(seg), fontsize=FONT["label"])
            self.year_axis(ax, nbins=2)
        self.axes[0].set_ylabel("market share", fontsize=FONT["label"])
        handles = [Patch(color=_firm_colour(b), label=BAND_LABEL.get(b, b)) for b in BANDS]
        self.fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=FONT["legend"], frameon=False,
                        handlelength=1.2, columnspacing=1.0)

    def update(self, model: AIRaceModel) -> None:
        snap = snapshot(model)
        for ax, seg in zip(self.axes, SEGMENTS):
            table = snap.shares.get(seg)
            if table is None or table.empty:
                continue
            years = table.index.to_numpy(dtype=float)
            values = table.to_numpy().T
            if len(years) == 1:  # one year has no width as an area: a narrow band around it
                years, values = np.array([years[0] - 0.2, years[0] + 0.2]), np.repeat(values, 2, axis=1)
            self.keep(ax.stackplot(years, values, colors=[_firm_colour(b) for b in table.columns], linewidth=0))
        self.title(f"Market shares by segment, {snap.year}")


class FinanceChart(Chart):
    """Cash, profit and AI spend of the majors over the years."""

    name = "finance"
    PANELS = (("cash_bn", "cash ($bn)"), ("profit_bn", "profit ($bn/yr)"), ("ai_spend_bn", "AI spend ($bn/yr)"))

    def setup(self, model: AIRaceModel) -> None:
        self.fig.subplots_adjust(left=0.1, right=0.99, top=0.84, bottom=0.3, wspace=0.5)
        self.axes = self.fig.subplots(1, 3)
        for ax, (col, title) in zip(self.axes, self.PANELS):
            ax.set_title(title, fontsize=FONT["label"])
            self.year_axis(ax, nbins=2)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.grid(axis="y", alpha=0.3)
            ax.set_ylim(0, 1)
            if col == "ai_spend_bn":  # the most a major spends is its accelerating budget
                ax.set_ylim(0, 1.15 * max((f.ai_budget_bn for f in model.params.firms.values()), default=1.0))
            if col == "profit_bn":
                ax.axhline(0.0, color="black", linewidth=0.7, alpha=0.6)
        handles = [Line2D([], [], color=_firm_colour(f), linewidth=2.5, label=f) for f in MAJOR_IDS]
        self.fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=FONT["legend"], frameon=False)

    def update(self, model: AIRaceModel) -> None:
        snap = snapshot(model)
        for ax, (col, _) in zip(self.axes, self.PANELS):
            lo, hi = 0.0, 0.0
            for firm, d in snap.majors.items():
                y = d[col].to_numpy(dtype=float)
                self.keep(ax.plot(d["year"].to_numpy(), y, color=_firm_colour(firm), linewidth=1.8,
                                  marker="o" if len(y) < 3 else None, markersize=3))
                if y.size and np.isfinite(y).any():
                    lo, hi = min(lo, float(np.nanmin(y))), max(hi, float(np.nanmax(y)))
            self.widen(ax, lo, hi, floor=None if lo < 0 else 0.0)
        self.title(f"Majors: cash, profit and AI spend, {snap.year}")


class StrategyChart(Chart):
    """Which strategy each major chose each year: a majors x years grid."""

    name = "strategies"

    def setup(self, model: AIRaceModel) -> None:
        ax = self.ax = self.fig.add_axes((0.22, 0.22, 0.76, 0.66))
        self.firms = list(model.params.firms)
        self.years = list(range(self.first_year + 1, self.last_year + 1))
        ax.set_xlim(-0.5, len(self.years) - 0.5)
        ax.set_ylim(len(self.firms) - 0.5, -0.5)
        ax.set_yticks(range(len(self.firms)), self.firms, fontsize=FONT["tick"])
        every = max(1, math.ceil(len(self.years) / 5))
        ax.set_xticks(range(0, len(self.years), every), [str(y) for y in self.years[::every]], fontsize=FONT["tick"])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        handles = [Patch(color=STRATEGY_COLOURS[s], label=f"{STRATEGY_LETTER[s]}: {s}") for s in STRATEGIES]
        self.fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=FONT["legend"], frameon=False)

    def update(self, model: AIRaceModel) -> None:
        snap, ax = snapshot(model), self.ax
        column = {y: i for i, y in enumerate(self.years)}
        rgb = np.ones((len(self.firms), len(self.years), 3))
        letters = []
        for r, firm in enumerate(self.firms):
            frame = snap.majors.get(firm)
            if frame is None:
                continue
            for year, strategy in zip(frame["year"].tolist(), frame["strategy"].tolist()):
                if strategy in STRATEGY_LETTER and year in column:
                    rgb[r, column[year]] = _rgb(STRATEGY_COLOURS[strategy])
                    letters.append((column[year], r, strategy))
        self.keep(ax.imshow(rgb, aspect="auto", interpolation="nearest", extent=(-0.5, len(self.years) - 0.5,
                                                                                 len(self.firms) - 0.5, -0.5)))
        if not letters:
            self.keep(ax.text(0.5, 0.5, "No strategy chosen yet: press Step", ha="center", va="center",
                              fontsize=FONT["title"], transform=ax.transAxes))
        elif len(self.years) <= 20:
            for c, r, strategy in letters:
                self.keep(ax.text(c, r, STRATEGY_LETTER[strategy], ha="center", va="center", fontsize=FONT["label"],
                                  color=STRATEGY_TEXT[strategy], fontweight="bold"))
        self.title(f"Strategy each major chose, {snap.year}")


class HHIChart(Chart):
    """Herfindahl-Hirschman index per segment; shaded above the merger-review threshold in force."""

    name = "hhi"

    def setup(self, model: AIRaceModel) -> None:
        self.fig.subplots_adjust(left=0.15, right=0.98, top=0.86, bottom=0.3)
        ax = self.ax = self.fig.add_subplot()
        ax.set_ylabel("HHI (0-10,000)", fontsize=FONT["label"])
        self.year_axis(ax)
        ax.grid(alpha=0.3)
        reg = model.params.regulator
        self.threshold = float(reg.hhi_threshold) / float(reg.strictness)
        self.zone = ax.axhspan(self.threshold, 10_000, color="#d9d9d9", alpha=0.6, linewidth=0, zorder=0)
        ax.set_ylim(0, max(self.threshold * 1.3, 100.0))
        handles = [Line2D([], [], linewidth=2, label=segment_label(s), **SEGMENT_STYLE[s]) for s in SEGMENTS]
        handles.append(Patch(color="#d9d9d9", label=f"deals reviewed (HHI > {self.threshold:,.0f})"))
        self.fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=FONT["legend"], frameon=False)

    def update(self, model: AIRaceModel) -> None:
        snap, ax = snapshot(model), self.ax
        market = snap.market
        top = 0.0
        for seg in SEGMENTS:
            col = f"hhi_{seg}"
            if col in market:
                y = market[col].to_numpy(dtype=float)
                self.keep(ax.plot(market["year"].to_numpy(), y, linewidth=2, markersize=4, **SEGMENT_STYLE[seg]))
                top = max(top, float(np.nanmax(y)) if y.size else 0.0)
        self.widen(ax, 0.0, top, floor=0.0)
        self.title(f"Concentration (HHI) per segment, {snap.year}")


CHART_KINDS: tuple[type[Chart], ...] = (NetworkChart, SharesChart, FinanceChart, StrategyChart, HHIChart)


def chart_for(model: AIRaceModel, kind: type[Chart]) -> Chart:
    """The model's chart of this kind, made on first use and kept while the model lives."""
    with _LOCK:
        charts = _CHARTS.setdefault(model, {})
        if kind not in charts:
            charts[kind] = kind(model)
        return charts[kind]
