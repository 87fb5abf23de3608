"""The custom components of the browser view (`run.py viz`, viz/app.py), shown by Mesa's SolaraViz.

Every component takes the model and redraws when Mesa's `update_counter` moves (each Step, Play
tick and Reset); nothing here changes the model. The charts use the object-oriented Matplotlib
API (`Figure`, never pyplot). Each chart's figure is kept for the model's life and redrawn in
place: its axes, ticks and legends are drawn once into a background that is reused every year,
and only the year's data is drawn on top (Matplotlib's blitting), which keeps a step's redraw
short. The network keeps its node positions between years: placed nodes never move and only
new ones are laid out (`viz.plots.stable_layout`).

`BrowserRaceModel` is `AIRaceModel` as SolaraViz builds and rebuilds it from the sidebar (its
docstring says what Mesa's Reset needs).
"""

from __future__ import annotations

import html
import io
import math
import threading
import weakref
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import solara
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from matplotlib.ticker import MaxNLocator
from mesa.visualization.utils import update_counter
from PIL import Image as PILImage

from model.params import FRINGE_ID, MAJOR_IDS, SEGMENTS, STRATEGIES
from model.race import AIRaceModel
from model.scenario import load_scenario
from model.schema import Event
from report.tables import run_tables
from viz.plots import FIRM_COLOURS, STARTUP_BAND, stable_layout

__all__ = [
    "KNOBS", "Knob", "BrowserRaceModel", "knob_values", "parse_seed",
    "NetworkView", "SharesView", "FinanceView", "StrategyView", "HHIView", "EventLog", "COMPONENTS",
    "Chart", "NetworkChart", "SharesChart", "FinanceChart", "StrategyChart", "HHIChart", "chart_for",
    "snapshot", "status_text", "events_html", "LOG_LINES",
]


DPI = 80
STRATEGY_COLOURS: dict[str, str] = {
    "accelerate": "#e6550d",
    "differentiate": "#756bb1",
    "partner": "#31a354",
    "": "#bdbdbd",  # the calibrated start year, before any choice
}
STRATEGY_LETTER = {"accelerate": "A", "differentiate": "D", "partner": "P"}
DEAD_COLOUR = "#d0d0d0"
EDGE_STYLE = {
    "acquired": {"color": "#252525", "linestyle": "solid", "linewidth": 1.1, "alpha": 0.75},
    "blocked": {"color": "#d62728", "linestyle": (0, (4, 2)), "linewidth": 1.6, "alpha": 0.95},
    "partner": {"color": "#1f77b4", "linestyle": (0, (1, 1.5)), "linewidth": 2.2, "alpha": 0.95},
    "share_flow": {"color": "#7a7a7a", "linestyle": "solid", "linewidth": 1.0, "alpha": 0.6},
}
EVENT_ORDER = ("acquisition", "blocked_acquisition", "partnership", "exit", "entry")
EVENT_LABEL = {"entry": "entries", "exit": "exits", "acquisition": "acquisitions",
               "blocked_acquisition": "blocked deals", "partnership": "partnerships"}
LOG_LINES = 10


# --------------------------------------------------------------------------- the knobs


@dataclass(frozen=True)
class Knob:
    """A slider in the sidebar, keyed by its dotted parameter path (what AIRaceModel accepts)."""

    path: str
    label: str
    min: float
    max: float
    step: float
    short: str  # how the status line names it
    unit: str  # "bn", "pct" or ""

    def default(self) -> float:
        """The baseline scenario's value: where the slider starts."""
        return _resolve(_baseline(), self.path)

    def fmt(self, value: float) -> str:
        if self.unit == "bn":
            return f"${value:g}bn"
        if self.unit == "pct":
            return f"{value * 100:+.0f} %/yr"
        return f"{value:g}"


KNOBS: tuple[Knob, ...] = (
    Knob("firms.amazon.ai_budget_bn", "Amazon AI budget ($bn/yr)", 0, 200, 5, "Amazon budget", "bn"),
    Knob("regulator.hhi_threshold", "Merger review: HHI threshold", 500, 5000, 100, "HHI threshold", ""),
    Knob("regulator.delta_hhi_threshold", "Merger review: HHI increase threshold", 0, 500, 10, "ΔHHI threshold", ""),
    Knob("talent.supply_growth", "AI talent supply growth (/yr)", -0.10, 0.20, 0.01, "talent", "pct"),
    Knob("compute.capacity_growth", "Compute capacity growth (/yr)", -0.05, 0.40, 0.01, "compute", "pct"),
    Knob("startups.entry_rate", "Startup entry rate (firms/yr)", 0, 60, 1, "entry", ""),
)
_KNOB_BY_PATH = {k.path: k for k in KNOBS}

_BASELINE: list = []


def _baseline():
    if not _BASELINE:
        _BASELINE.append(load_scenario("baseline"))
    return _BASELINE[0]


def _resolve(params, path: str) -> Any:
    node = params
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def knob_values(model: AIRaceModel) -> dict[str, Any]:
    """The values the model is running with, by knob path (the scenario's, or the slider's)."""
    return {k.path: _resolve(model.params, k.path) for k in KNOBS}


MAX_SEED = 2**63 - 1
MAX_SEED_ECHO = 40


def parse_seed(value: Any) -> tuple[int | None, str]:
    """The seed box's value as (seed, how to show it); the box gives text once edited.

    A whole number from 0 to 2**63 - 1, in ASCII digits, is the seed; empty means a random seed.
    Anything else (other text, digits Python knows but int() may refuse such as "²", a bigger
    number) becomes a seed by a checksum of its text, so it is reproducible and never breaks the
    page, and the status line says so.
    """
    if value is None:
        return None, "random"
    if isinstance(value, (bool, np.bool_)):
        value = str(value)
    if isinstance(value, (int, np.integer)) and 0 <= value <= MAX_SEED:
        return int(value), str(int(value))
    try:
        text = str(value).strip()
    except ValueError:  # an int too long for str()
        text = hex(value)
    if not text:
        return None, "random"
    digits = text.lstrip("0") or "0"
    if text.isascii() and text.isdigit() and len(digits) <= len(str(MAX_SEED)) and int(digits) <= MAX_SEED:
        return int(digits), digits
    seed = zlib.crc32(text.encode("utf-8", "surrogatepass"))
    shown = repr(text)
    if len(shown) > MAX_SEED_ECHO:
        shown = shown[: MAX_SEED_ECHO - 1] + "…"
    return seed, f"{seed} (from the text {shown})"


class BrowserRaceModel(AIRaceModel):
    """`AIRaceModel` as SolaraViz builds and rebuilds it from the sidebar's values.

    Two things Mesa 3.5's Reset needs (`mesa.visualization.solara_viz._build_model_init_kwargs`):

    * Reset replaces a `scenario` keyword with a new `mesa.experimental.scenarios.Scenario()`
      whenever the model's `scenario` attribute is set, which `mesa.Model` always does. Here the
      `scenario` argument is the race's scenario name, so `scenario` reads as None and Mesa
      passes the Select's value through unchanged; Mesa's own object is kept in `_scenario`.
    * Every slider's value is passed on every Reset. A knob (or the years slider) still at its
      starting place keeps the chosen scenario's own value (power_crunch keeps its slow compute
      growth); a knob that was moved overrides it. `knob_values(model)` tells the values in force.

    The seed box's text becomes a seed through `parse_seed`.
    """

    def __init__(self, scenario: str = "baseline", rng: Any = None, years: int | None = None, **overrides: Any):
        seed, self.seed_text = parse_seed(rng)
        kept = {}
        for path, value in overrides.items():
            knob = _KNOB_BY_PATH.get(path)
            if knob is not None and math.isclose(float(value), knob.default(), abs_tol=knob.step / 2):
                continue
            kept[path] = value
        if years is not None and int(years) != _baseline().years:
            kept["years"] = int(years)  # at its starting place, the years slider leaves the scenario's own horizon
        super().__init__(scenario, rng=seed, **kept)
        self.seed = seed
        self.knob_overrides = dict(kept)

    @property
    def scenario(self):  # noqa: D102 - see the class docstring
        return None

    @scenario.setter
    def scenario(self, value) -> None:
        self._scenario = value
        value.model = self


# --------------------------------------------------------------------------- what is drawn


@dataclass(frozen=True)
class Snapshot:
    """What the charts read, taken once per (model, step)."""

    year: int
    shares: dict[str, pd.DataFrame]  # per segment: years x bands (majors, "startups", "others")
    majors: dict[str, pd.DataFrame]  # per major: year, strategy, ai_spend_bn, profit_bn, cash_bn
    market: pd.DataFrame  # year, hhi_<segment>, ...


_SNAPSHOTS: "weakref.WeakKeyDictionary[AIRaceModel, tuple[int, Snapshot]]" = weakref.WeakKeyDictionary()
_CHARTS: "weakref.WeakKeyDictionary[AIRaceModel, dict[type, Chart]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
BANDS = (*MAJOR_IDS, "startups", FRINGE_ID)


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
            table = frame.pivot_table(index="year", columns="firm", values="share", aggfunc="sum", fill_value=0.0)
            tables[seg] = table.reindex(columns=[b for b in BANDS if b in table.columns])
        majors = run.firms.loc[run.firms["kind"] == "major"]
        by_firm = {firm: frame.sort_values("year") for firm, frame in majors.groupby("firm", sort=False)}
        by_firm = {f: by_firm[f] for f in [m for m in MAJOR_IDS if m in by_firm] + sorted(set(by_firm) - set(MAJOR_IDS))}
        snap = Snapshot(year=int(model.year), shares=tables, majors=by_firm, market=run.model)
        _SNAPSHOTS[model] = (model.steps, snap)
        return snap


def _firm_colour(firm: str) -> str:
    return FIRM_COLOURS.get(firm, FIRM_COLOURS[STARTUP_BAND])


def _node_area(kind: str, revenue: float) -> float:
    rev = revenue if revenue and math.isfinite(revenue) and revenue > 0 else 0.0
    if kind == "startup":
        return float(np.clip(60.0 * math.sqrt(rev), 10.0, 160.0))
    return float(np.clip(30.0 * math.sqrt(rev), 110.0, 1100.0))


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

    size = (7.2, 4.8)

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
        self.keep(self.fig.text(0.01, 0.985, text, ha="left", va="top", fontsize=11))

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

    def year_axis(self, ax, first: int | None = None) -> None:
        """The whole horizon on the year axis, so it never moves while the run fills it in."""
        first = self.first_year if first is None else first
        ax.set_xlim(first - 0.3, self.last_year + 0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))

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


class NetworkChart(Chart):
    """The industry network at the model's current year.

    Nodes: majors and the fringe as circles ringed in the firm's colour, startups as triangles;
    fill = the strategy chosen this year, area ~ revenue; exited firms grey. Edges: acquisitions
    and blocked deals up to now (this year's drawn thicker), this year's partnerships and this
    year's share flows (arrow width ~ $bn moved). Positions are kept from year to year.
    """

    size = (7.2, 5.0)

    def setup(self, model: AIRaceModel) -> None:
        self.pos: dict = {}
        ax = self.ax = self.fig.add_axes((0.0, 0.0, 0.71, 0.94))
        ax.set_axis_off()
        ax.set_aspect("equal")
        ax.set_xlim(-2.45, 2.45)
        ax.set_ylim(-2.35, 2.35)
        dot = {"linestyle": "none", "markersize": 8}
        firm_handles = [Line2D([], [], marker="o", color=STRATEGY_COLOURS[s], label=s, **dot) for s in STRATEGIES] + [
            Line2D([], [], marker="o", markerfacecolor="#ffffff", markeredgecolor="#555555", markeredgewidth=2.5,
                   label="major (ring: firm)", **dot),
            Line2D([], [], marker="^", color="#9e9e9e", label="startup", **dot),
            Line2D([], [], marker="o", color=DEAD_COLOUR, label="exited", **dot),
        ]
        link_handles = [
            Line2D([], [], color=EDGE_STYLE[k]["color"], linestyle=EDGE_STYLE[k]["linestyle"], linewidth=2.0, label=label)
            for k, label in (("acquired", "acquisition"), ("blocked", "blocked deal"),
                             ("partner", "partnership"), ("share_flow", "share flow"))
        ]
        self.fig.legend(handles=firm_handles, title="fill: strategy", loc="upper right", fontsize=8,
                        title_fontsize=8, frameon=False, bbox_to_anchor=(1.0, 0.93), alignment="left")
        self.fig.legend(handles=link_handles, title="links (flows and\npartnerships: this year)", loc="lower right",
                        fontsize=8, title_fontsize=8, frameon=False, bbox_to_anchor=(1.0, 0.02), alignment="left",
                        handlelength=2.4)

    def update(self, model: AIRaceModel) -> None:
        graph, year, ax = model.graph, int(model.year), self.ax
        pos = self.pos = stable_layout(graph, previous_pos=self.pos)
        nodes = graph.nodes
        alive = {n for n, d in nodes(data=True) if d.get("alive", True)}
        area = {n: _node_area(d.get("kind", "startup"), d.get("revenue_bn", 0.0)) for n, d in nodes(data=True)}

        lines: dict[str, list] = {"acquired": [], "blocked": [], "partner": []}
        widths: dict[str, list] = {"acquired": [], "blocked": [], "partner": []}
        flows: dict[tuple, float] = {}
        for u, v, d in graph.edges(data=True):
            kind, when = d.get("kind"), int(d.get("year", -1))
            if u == v or u not in pos or v not in pos:
                continue
            if kind == "share_flow":
                if when == year:
                    flows[(u, v)] = flows.get((u, v), 0.0) + float(d.get("value_bn", 0.0))
            elif kind in ("acquired", "blocked") and when <= year:
                lines[kind].append((pos[u], pos[v]))
                widths[kind].append(EDGE_STYLE[kind]["linewidth"] * (2.0 if when == year else 1.0))
            elif kind == "partner" and when == year:
                lines[kind].append((pos[u], pos[v]))
                widths[kind].append(EDGE_STYLE[kind]["linewidth"])
        for kind, segs in lines.items():
            if segs:
                st = EDGE_STYLE[kind]
                self.keep(ax.add_collection(LineCollection(segs, colors=st["color"], linestyles=st["linestyle"],
                                                           linewidths=widths[kind], alpha=st["alpha"], zorder=1),
                                            autolim=False))
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

        scatter([n for n in nodes if n not in alive], "o", c=DEAD_COLOUR, alpha=0.55, edgecolors="none", zorder=3)
        startups = [n for n in alive if nodes[n].get("kind") == "startup"]
        scatter(startups, "^", c=[STRATEGY_COLOURS.get(nodes[n].get("strategy", ""), "#bdbdbd") for n in startups],
                alpha=0.9, edgecolors="white", linewidths=0.4, zorder=4)
        big = sorted((n for n in alive if nodes[n].get("kind") in ("major", "fringe")), key=str)
        fills = [STRATEGY_COLOURS.get(nodes[n].get("strategy", ""), "#bdbdbd") if nodes[n].get("kind") == "major"
                 else "#ffffff" for n in big]
        scatter(big, "o", c=fills, edgecolors=[_firm_colour(str(n)) for n in big], linewidths=3.0, zorder=5)
        for n in big:
            self.keep(ax.annotate(str(n), tuple(pos[n]), xytext=(0, math.sqrt(area[n]) / 2 + 3),
                                  textcoords="offset points", ha="center", va="bottom", fontsize=9, zorder=6,
                                  bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.75}))
        self.title(f"Industry network, {year}: {len(startups)} active startups")


class SharesChart(Chart):
    """Stacked market shares per segment: each major, all startups together, the fringe."""

    def setup(self, model: AIRaceModel) -> None:
        self.fig.subplots_adjust(left=0.09, right=0.99, top=0.86, bottom=0.25, wspace=0.1)
        self.axes = self.fig.subplots(1, len(SEGMENTS), sharey=True)
        for ax, seg in zip(self.axes, SEGMENTS):
            ax.set_ylim(0, 1)
            ax.set_title(seg.replace("_", " "), fontsize=10)
            self.year_axis(ax)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
            ax.tick_params(labelsize=8)
        self.axes[0].set_ylabel("market share", fontsize=9)
        handles = [Patch(color=_firm_colour(b), label={"startups": "startups (all)", FRINGE_ID: "others"}.get(b, b))
                   for b in BANDS]
        self.fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False, handlelength=1.2,
                        columnspacing=1.0)

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

    PANELS = (("cash_bn", "cash ($bn)"), ("profit_bn", "profit ($bn/yr)"), ("ai_spend_bn", "AI spend ($bn/yr)"))

    def setup(self, model: AIRaceModel) -> None:
        self.fig.subplots_adjust(left=0.08, right=0.99, top=0.86, bottom=0.25, wspace=0.38)
        self.axes = self.fig.subplots(1, 3)
        for ax, (col, title) in zip(self.axes, self.PANELS):
            ax.set_title(title, fontsize=10)
            self.year_axis(ax)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
            ax.tick_params(labelsize=8)
            ax.grid(axis="y", alpha=0.3)
            ax.set_ylim(0, 1)
            if col == "ai_spend_bn":  # the most a major spends is its accelerating budget
                ax.set_ylim(0, 1.15 * max((f.ai_budget_bn for f in model.params.firms.values()), default=1.0))
            if col == "profit_bn":
                ax.axhline(0.0, color="black", linewidth=0.7, alpha=0.6)
        handles = [Line2D([], [], color=_firm_colour(f), linewidth=2, label=f) for f in MAJOR_IDS]
        self.fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)

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

    def setup(self, model: AIRaceModel) -> None:
        ax = self.ax = self.fig.add_axes((0.17, 0.2, 0.8, 0.68))
        self.firms = list(model.params.firms)
        self.years = list(range(self.first_year + 1, self.last_year + 1))
        ax.set_xlim(-0.5, len(self.years) - 0.5)
        ax.set_ylim(len(self.firms) - 0.5, -0.5)
        ax.set_yticks(range(len(self.firms)), self.firms, fontsize=9)
        every = max(1, math.ceil(len(self.years) / 10))
        ax.set_xticks(range(0, len(self.years), every), [str(y) for y in self.years[::every]], fontsize=8)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        handles = [Patch(color=STRATEGY_COLOURS[s], label=f"{STRATEGY_LETTER[s]}: {s}") for s in STRATEGIES]
        self.fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)

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
                    letters.append((column[year], r, STRATEGY_LETTER[strategy]))
        self.keep(ax.imshow(rgb, aspect="auto", interpolation="nearest", extent=(-0.5, len(self.years) - 0.5,
                                                                                 len(self.firms) - 0.5, -0.5)))
        if not letters:
            self.keep(ax.text(0.5, 0.5, "No strategy chosen yet: press Step", ha="center", va="center",
                              fontsize=11, transform=ax.transAxes))
        elif len(self.years) <= 20:
            for c, r, letter in letters:
                self.keep(ax.text(c, r, letter, ha="center", va="center", fontsize=8, color="white",
                                  fontweight="bold"))
        self.title(f"Strategy each major chose, {snap.year}")


SEGMENT_COLOURS = {"cloud_ai": "#1f77b4", "ecommerce": "#ff7f0e", "advertising": "#2ca02c"}


class HHIChart(Chart):
    """Herfindahl-Hirschman index per segment, with the merger-review threshold in force."""

    def setup(self, model: AIRaceModel) -> None:
        self.fig.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.22)
        ax = self.ax = self.fig.add_subplot()
        ax.set_ylabel("HHI (0-10,000)", fontsize=9)
        self.year_axis(ax)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        reg = model.params.regulator
        threshold = float(reg.hhi_threshold) / float(reg.strictness)
        ax.axhline(threshold, color="#d62728", linestyle=(0, (4, 2)), linewidth=1.2)
        ax.set_ylim(0, max(threshold * 1.3, 100.0))
        handles = [Line2D([], [], color=SEGMENT_COLOURS[s], linewidth=2, label=s.replace("_", " ")) for s in SEGMENTS]
        handles.append(Line2D([], [], color="#d62728", linestyle=(0, (4, 2)), linewidth=1.2,
                              label=f"merger-review threshold ({threshold:g})"))
        self.fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)

    def update(self, model: AIRaceModel) -> None:
        snap, ax = snapshot(model), self.ax
        market = snap.market
        top = 0.0
        for seg in SEGMENTS:
            col = f"hhi_{seg}"
            if col in market:
                y = market[col].to_numpy(dtype=float)
                self.keep(ax.plot(market["year"].to_numpy(), y, color=SEGMENT_COLOURS[seg], linewidth=2,
                                  marker="o" if len(y) < 3 else None, markersize=3))
                top = max(top, float(np.nanmax(y)) if y.size else 0.0)
        self.widen(ax, 0.0, top, floor=0.0)
        self.title(f"Concentration (HHI) per segment, {snap.year}")


def chart_for(model: AIRaceModel, kind: type[Chart]) -> Chart:
    """The model's chart of this kind, made on first use and kept while the model lives."""
    with _LOCK:
        charts = _CHARTS.setdefault(model, {})
        if kind not in charts:
            charts[kind] = kind(model)
        return charts[kind]


def _chart_image(model: AIRaceModel, kind: type[Chart], css: str):
    """The model's chart of this kind as an image, drawn once per model and year."""
    update_counter.get()  # redraw on Step / Play / Reset
    data = solara.use_memo(lambda: chart_for(model, kind).png(model), [model, model.steps])
    return solara.Image(data, format="png", width="100%", classes=["race-figure", css])


@solara.component
def NetworkView(model: AIRaceModel):
    """The industry network (see `NetworkChart`)."""
    return _chart_image(model, NetworkChart, "race-network")


@solara.component
def SharesView(model: AIRaceModel):
    """Market shares per segment over the years (see `SharesChart`)."""
    return _chart_image(model, SharesChart, "race-shares")


@solara.component
def FinanceView(model: AIRaceModel):
    """Cash, profit and AI spend of the majors (see `FinanceChart`)."""
    return _chart_image(model, FinanceChart, "race-finance")


@solara.component
def StrategyView(model: AIRaceModel):
    """The strategy each major chose each year (see `StrategyChart`)."""
    return _chart_image(model, StrategyChart, "race-strategy")


@solara.component
def HHIView(model: AIRaceModel):
    """HHI per segment with the merger-review threshold (see `HHIChart`)."""
    return _chart_image(model, HHIChart, "race-hhi")


# --------------------------------------------------------------------------- the events log


def status_text(model: AIRaceModel) -> str:
    """One line: scenario, seed, year, and the knob values in force."""
    seed = getattr(model, "seed_text", None) or str(getattr(model, "_seed", "?"))
    values = knob_values(model)
    overridden = set(getattr(model, "knob_overrides", {}))
    knobs = ", ".join(f"{k.short} {k.fmt(values[k.path])}{'*' if k.path in overridden else ''}" for k in KNOBS)
    return (f"{model.params.name} | seed {seed} | year {model.year} "
            f"(step {model.steps} of {model.params.years}) | {knobs}")


def events_html(model: AIRaceModel) -> str:
    events = list(model.events_this_year) if model.steps else []
    counts = {kind: 0 for kind in EVENT_ORDER}
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    esc = html.escape
    status = esc(status_text(model))
    parts = [f'<div class="race-status" style="font-size:0.85em;color:#555;margin-bottom:4px">{status}'
             f'<br><span style="font-size:0.9em">* = set by a slider; other values are the scenario\'s own</span></div>',
             f'<div class="race-year" style="font-size:1.1em;font-weight:600">Year {model.year}</div>']
    if not model.steps:
        parts.append("<div>The calibrated 2023 start. Press <b>Step</b> to simulate a year.</div>")
        return "".join(parts)
    parts.append('<div class="race-counts">' + ", ".join(f"{counts.get(k, 0)} {EVENT_LABEL[k]}" for k in EVENT_ORDER)
                 + "</div>")
    ordered = sorted(events, key=lambda e: (EVENT_ORDER.index(e.kind) if e.kind in EVENT_ORDER else 9, -e.value_bn))
    rows = []
    for e in ordered[:LOG_LINES]:
        rows.append(f"<tr><td>{esc(_event_text(e))}</td></tr>")
    if len(ordered) > LOG_LINES:
        rows.append(f"<tr><td><i>... and {len(ordered) - LOG_LINES} more</i></td></tr>")
    parts.append('<table class="race-events" style="font-size:0.85em;border-spacing:0 1px">' + "".join(rows)
                 + "</table>")
    return "".join(parts)


def _event_text(e: Event) -> str:
    src, dst, value, kind = e.source, e.target, e.value_bn, e.kind
    if kind == "acquisition":
        return f"{src} acquired {dst} for ${value:.2f}bn"
    if kind == "blocked_acquisition":
        return f"regulator blocked {src} buying {dst} (${value:.2f}bn)"
    if kind == "partnership":
        return f"{src} partners with {dst} (${value:.2f}bn)"
    if kind == "exit":
        return f"{src} ran out of cash and exited"
    if kind == "entry":
        return f"{src} entered {e.segment} (seed ${value:.2f}bn)"
    return f"{kind}: {src} {dst}"


@solara.component
def EventLog(model: AIRaceModel):
    update_counter.get()
    content = solara.use_memo(lambda: events_html(model), [model, model.steps])
    return solara.HTML(tag="div", unsafe_innerHTML=content, classes=["race-log"],
                       style="padding: 6px 10px; overflow-y: auto; height: 100%;")


# In the order they are laid out (two per row in Mesa's grid).
COMPONENTS = (NetworkView, EventLog, SharesView, FinanceView, StrategyView, HHIView)
