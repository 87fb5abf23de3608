"""What the sidebar sets, as typed values: the scenario, the seed, the horizon and the knobs.

`Settings` is one complete choice. `Settings.of_scenario(name)` puts every knob at that
scenario's own value (the sidebar moves there when the scenario changes); a knob away from its
scenario's value is an override, marked in the status line. The page's URL holds the settings
(`to_query` / `from_query`), so a link restores them.
"""

from __future__ import annotations

import math
import secrets
import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

from model.params import ADAPTIVE, STRATEGIES, Scenario
from model.race import AIRaceModel
from model.scenario import available_scenarios, load_scenario, value_at, with_values

__all__ = [
    "Knob", "KNOBS", "Settings", "Restored", "BrowserRaceModel", "parse_seed", "scenario_values", "knob_values",
    "DEFAULT_SCENARIO", "DEFAULT_SEED", "MAX_YEARS", "settings_plan", "from_query", "whole_number",
]

DEFAULT_SCENARIO = "baseline"
DEFAULT_SEED = "7"
MAX_YEARS = 30
POLICIES = (ADAPTIVE, *STRATEGIES)


@dataclass(frozen=True)
class Knob:
    """A control in the sidebar, keyed by its dotted parameter path (what AIRaceModel accepts).
    Numeric knobs have a range and step; a knob with `choices` is a list to pick from."""

    path: str
    label: str
    short: str  # how the status line names it
    unit: str = ""  # "bn", "pct" or ""
    min: float = 0.0
    max: float = 0.0
    step: float = 1.0
    choices: tuple[str, ...] = ()
    key: str = ""  # its name in the URL

    def fmt(self, value: Any) -> str:
        if self.choices:
            return str(value)
        if self.unit == "bn":
            return f"${value:g}bn/yr"
        if self.unit == "pct":
            return f"{value * 100:+.0f} %/yr"
        return f"{value:g}"

    def parse(self, text: str, typed: bool = False) -> Any:
        """A value from text: the URL's (as stored), or typed in the sidebar (`typed`: a rate in
        percent, as the sidebar shows it). ValueError naming the knob if it is not one."""
        text = str(text).strip()
        if self.choices:
            if text not in self.choices:
                raise ValueError(f"{self.label}: {_echo(text)} is not one of {', '.join(self.choices)}")
            return text
        try:
            value = float(text) if len(text) <= MAX_NUMBER_TEXT else math.nan
        except (TypeError, ValueError):
            raise ValueError(f"{self.label}: {_echo(text)} is not a number") from None
        if typed and self.unit == "pct":
            value /= 100.0
        if not math.isfinite(value):
            raise ValueError(f"{self.label}: {_echo(text)} is not a number")
        if not self.min <= value <= self.max:
            raise ValueError(f"{self.label}: {_echo(text)} is outside {self.fmt(self.min)} to {self.fmt(self.max)}")
        return value

    def typed_text(self, value: Any) -> str:
        """The value as the typed entry shows it (rates in percent)."""
        return f"{100 * value:.4g}" if self.unit == "pct" else f"{value:g}"

    def same(self, a: Any, b: Any) -> bool:
        """Equal up to float noise (a slider's 0.1 + 0.2): any real change is an override."""
        if self.choices:
            return a == b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


KNOBS: tuple[Knob, ...] = (
    Knob("firms.amazon.policy", "Amazon's strategy", "Amazon", choices=POLICIES, key="amazon_policy"),
    Knob("firms.amazon.ai_budget_bn", "Amazon AI budget ($bn/yr)", "Amazon budget", "bn", 0, 200, 5, key="amazon_budget"),
    Knob("regulator.hhi_threshold", "Merger review: HHI threshold", "HHI threshold", "", 500, 5000, 100, key="hhi"),
    Knob("regulator.delta_hhi_threshold", "Merger review: HHI increase threshold", "ΔHHI threshold", "", 0, 500, 10,
         key="delta_hhi"),
    Knob("talent.supply_growth", "AI talent supply growth (/yr)", "talent", "pct", -0.10, 0.20, 0.01, key="talent"),
    Knob("compute.capacity_growth", "Compute capacity growth (/yr)", "compute", "pct", -0.05, 0.40, 0.01, key="compute"),
    Knob("startups.entry_rate", "Startup entry rate (firms/yr)", "entry", "", 0, 60, 1, key="entry"),
)
KNOB_BY_PATH = {k.path: k for k in KNOBS}
MAX_NUMBER_TEXT = 40  # longer text is no number a knob takes (and int() refuses 4,300 digits)
MAX_ECHO = 40


def _echo(text: str) -> str:
    """Bad input quoted in a message, cut to a readable length."""
    shown = repr(text)
    return shown if len(shown) <= MAX_ECHO else shown[: MAX_ECHO - 1] + "…"


def whole_number(text: str, low: int, high: int) -> int | None:
    """A plain whole number from low to high, or None (text of any length, never an error)."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= len(str(high)) and low <= int(text) <= high:
        return int(text)
    return None
KNOB_BY_KEY = {k.key: k for k in KNOBS}


@lru_cache(maxsize=64)
def _scenario(name: str) -> Scenario:
    return load_scenario(name)


def scenario_values(name: str) -> dict[str, Any]:
    """The scenario's own value of every knob, by path."""
    params = _scenario(name)
    return {k.path: value_at(params, k.path) for k in KNOBS}


def knob_values(model: AIRaceModel) -> dict[str, Any]:
    """The values the model is running with, by knob path."""
    return {k.path: value_at(model.params, k.path) for k in KNOBS}


MAX_SEED = 2**63 - 1
MAX_SEED_ECHO = 40


def parse_seed(value: Any) -> tuple[int | None, str]:
    """The seed box's value as (seed, how to show it).

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


@dataclass(frozen=True)
class Settings:
    """One complete choice in the sidebar."""

    scenario: str = DEFAULT_SCENARIO
    seed: str = DEFAULT_SEED
    years: int = 10
    knobs: tuple[tuple[str, Any], ...] = field(default=())  # (path, value) for every knob, in KNOBS order

    @classmethod
    def of_scenario(cls, name: str, seed: str = DEFAULT_SEED) -> "Settings":
        values = scenario_values(name)
        return cls(scenario=name, seed=seed, years=int(_scenario(name).years),
                   knobs=tuple((k.path, values[k.path]) for k in KNOBS))

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.knobs)

    def with_knob(self, path: str, value: Any) -> "Settings":
        return replace(self, knobs=tuple((p, value if p == path else v) for p, v in self.knobs))

    def overrides(self) -> dict[str, Any]:
        """The knobs and horizon that differ from the scenario's own values, by path."""
        own = scenario_values(self.scenario)
        changed = {p: v for p, v in self.knobs if not KNOB_BY_PATH[p].same(v, own[p])}
        if self.years != int(_scenario(self.scenario).years):
            changed["years"] = self.years
        return changed

    def model_kwargs(self) -> dict[str, Any]:
        """What Mesa's Reset passes to `BrowserRaceModel` (the controller's model parameters)."""
        return {"scenario": self.scenario, "rng": self.seed, "years": self.years, **self.values}

    def to_query(self, **extra: Any) -> str:
        """The settings as a URL query: the scenario and seed always, the knobs and horizon that differ."""
        pairs: dict[str, Any] = {"scenario": self.scenario, "seed": self.seed}
        changed = self.overrides()
        if "years" in changed:
            pairs["years"] = self.years
        pairs.update({KNOB_BY_PATH[p].key: f"{v:.12g}" if isinstance(v, float) else v
                      for p, v in changed.items() if p in KNOB_BY_PATH})
        pairs.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(pairs)


@dataclass(frozen=True)
class Restored:
    """Settings read from a URL query, with what could not be used (shown on the page)."""

    settings: Settings
    extra: dict[str, str]  # keys the sidebar does not own (the tab, the comparison's choices)
    problems: tuple[str, ...]


def from_query(search: str | None, extra_keys: tuple[str, ...] = ()) -> Restored:
    """Settings from a URL query; a bad value is dropped with a one-line reason, never an error page."""
    pairs = dict(parse_qsl(search or "", keep_blank_values=True))
    problems = []
    scenario = pairs.get("scenario", DEFAULT_SCENARIO)
    if scenario not in available_scenarios():
        problems.append(f"scenario {_echo(scenario)} is not in the library; showing {DEFAULT_SCENARIO}")
        scenario = DEFAULT_SCENARIO
    settings = Settings.of_scenario(scenario, seed=pairs.get("seed", DEFAULT_SEED))
    if "years" in pairs:
        years = whole_number(pairs["years"], 1, MAX_YEARS)
        if years is not None:
            settings = replace(settings, years=years)
        else:
            problems.append(f"years {_echo(pairs['years'])} is not a whole number from 1 to {MAX_YEARS}; "
                            f"using {settings.years}")
    for key, knob in KNOB_BY_KEY.items():
        if key in pairs:
            try:
                settings = settings.with_knob(knob.path, knob.parse(pairs[key]))
            except ValueError as exc:
                problems.append(f"{exc}; using the scenario's value")
    extra = {k: pairs[k] for k in extra_keys if k in pairs}
    return Restored(settings, extra, tuple(problems))


def settings_plan(settings: Settings) -> Scenario:
    """The settings as a plan for a comparison, named after its scenario (so it can face it)."""
    return with_values(_scenario(settings.scenario), {**settings.overrides(), "name": f"{settings.scenario}_as_set"})


class BrowserRaceModel(AIRaceModel):
    """`AIRaceModel` as the page builds and Mesa's Reset rebuilds it from the sidebar's settings.

    Mesa 3.5's Reset (`mesa.visualization.solara_viz._build_model_init_kwargs`) replaces a
    `scenario` keyword with a new `mesa.experimental.scenarios.Scenario()` whenever the model's
    `scenario` attribute is set, which `mesa.Model` always does. Here `scenario` is the race's
    scenario name, so the attribute reads as None and Mesa passes the name through unchanged;
    Mesa's own object is kept in `_scenario`.

    Every knob's value comes on every Reset; those equal to the scenario's own are not overrides.
    `settings` is what built the model, so the page can tell when the sidebar has moved on. An
    empty seed box draws a seed, which `seed` holds and the status line shows.
    """

    def __init__(self, scenario: str = DEFAULT_SCENARIO, rng: Any = DEFAULT_SEED, years: int | None = None,
                 **knobs: Any):
        own = Settings.of_scenario(scenario, seed="" if rng is None else str(rng))
        settings = replace(own, years=int(years) if years is not None else own.years)
        for path, value in knobs.items():
            if path not in KNOB_BY_PATH:
                raise TypeError(f"unknown setting {path!r}")
            settings = settings.with_knob(path, value)
        seed, self.seed_text = parse_seed(rng)
        if seed is None:  # a random seed, drawn here so it can be shown, linked and run again
            seed = secrets.randbelow(2**31)
            self.seed_text = f"{seed} (drawn at random)"
        self.settings = settings
        self.knob_overrides = settings.overrides()
        super().__init__(scenario, rng=seed, **self.knob_overrides)
        self.seed = seed

    @property
    def scenario(self):  # noqa: D102 - see the class docstring
        return None

    @scenario.setter
    def scenario(self, value) -> None:
        self._scenario = value
        value.model = self
