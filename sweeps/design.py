"""Experimental designs: which parameter values each run gets, and its seed.

A design is a list of points (dicts from dotted parameter path to value); every point is run
`replicates` times. Seeds come from numpy's SeedSequence keyed by (sweep seed, point,
replicate), so any run's seed is known without running the others, in any order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.errors import BadInput
from model.params import Scenario
from model.scenario import ScenarioError, check_parameter_path, parameter_type, parse_value, value_at

DESIGNS = ("grid", "lhs", "mc")
# Every point is validated (about 10 ms) and held as a Scenario before the first run, and every
# run leaves a journal line: these bounds keep a design to what one sweep folder can hold.
MAX_POINTS = 100_000
MAX_RUNS = 10_000_000


class DesignError(BadInput, ValueError):
    """A malformed --vary / --param: one line naming the bad text."""


@dataclass(frozen=True)
class Factor:
    """One varied parameter: a numeric range or an explicit list of values."""

    path: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    count: int | None = None
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def grid_values(self) -> list[Any]:
        if not self.is_range:
            return list(self.values)
        if self.count is None:
            raise DesignError(f"--vary {self.path}: a grid needs lo:hi:n (n points), got a range without n")
        points = np.linspace(self.low, self.high, self.count)
        return [self._cast(v) for v in points]

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map points in [0, 1) onto the factor (uniform over a range, equal chance for each listed value)."""
        if self.is_range:
            return [self._cast(self.low + x * (self.high - self.low)) for x in u]
        index = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
        return [self.values[i] for i in index]

    def _cast(self, value: float) -> Any:
        return int(round(value)) if self.integer else float(value)


def parse_factor(text: str, option: str = "--vary", need_count: bool = False) -> Factor:
    """`path=lo:hi:n`, `path=lo:hi` or `path=a,b,c` to a checked Factor."""
    if "=" not in text:
        raise DesignError(f"{option} {text!r}: expected path=lo:hi:n or path=a,b,c")
    path, spec = (part.strip() for part in text.split("=", 1))
    try:
        check_parameter_path(path)
    except ScenarioError as exc:
        raise DesignError(f"{option} {text}: {exc.problems[0]}") from None
    kind = parameter_type(path)
    if not spec:
        raise DesignError(f"{option} {text}: no values after '='")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise DesignError(f"{option} {text}: a range is lo:hi or lo:hi:n")
        if kind not in (float, int):
            raise DesignError(f"{option} {text}: {path} is not a number, list its values instead (a,b,c)")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2]) if len(parts) == 3 else None
        except ValueError:
            raise DesignError(f"{option} {text}: lo and hi must be numbers and n a whole number") from None
        if not (np.isfinite(low) and np.isfinite(high)) or high < low:
            raise DesignError(f"{option} {text}: impossible range {low}..{high} (need finite lo <= hi)")
        if count is not None and count < 1:
            raise DesignError(f"{option} {text}: n must be at least 1, got {count}")
        if count is not None and count > MAX_POINTS:
            raise DesignError(f"{option} {text}: n = {count:,} values is more than the {MAX_POINTS:,} points a design may have")
        if need_count and count is None:
            raise DesignError(f"{option} {text}: a grid needs lo:hi:n")
        if kind is int and (low != int(low) or high != int(high)):
            raise DesignError(f"{option} {text}: {path} takes whole numbers")
        return Factor(path=path, low=low, high=high, count=count, integer=kind is int)
    values = tuple(parse_value(v) for v in spec.split(","))
    if any(v == "" for v in values):
        raise DesignError(f"{option} {text}: empty value in the list")
    return Factor(path=path, values=values)


def check_design_size(points: int, replicates: int) -> None:
    """Refuse, before anything is built, a design larger than a sweep can hold."""
    if points > MAX_POINTS:
        raise DesignError(f"the design has {points:,} points, more than the {MAX_POINTS:,} a sweep may have; "
                          f"use fewer values or samples")
    if points * replicates > MAX_RUNS:
        raise DesignError(f"--replicates {replicates}: {points:,} points x {replicates:,} replicates is "
                          f"{points * replicates:,} runs, more than the {MAX_RUNS:,} a sweep may have")


def uncertainty_factors(scenario: Scenario) -> list[Factor]:
    """The scenario's declared uncertainties as factors; a whole-number one lists its values, so each
    is drawn as often (rounding a uniform draw would give the ends half a chance).

    A path scheduled from the first simulated year on is left out: a drawn value would never apply.
    """
    held_from_start = {path for path, by_year in scenario.schedules.items() if min(by_year) <= scenario.start_year}
    return [Factor(path=path, values=tuple(range(int(lo), int(hi) + 1))) if parameter_type(path) is int
            else Factor(path=path, low=lo, high=hi)
            for path, (lo, hi) in scenario.uncertainties.items() if path not in held_from_start]


def paired_uncertainty_factors(plans: list[Scenario], what: str) -> list[Factor]:
    """The uncertainties every plan declares, identically, so that each draw runs in all of them (paired).

    A path the plans set differently is part of what distinguishes them (talent_crunch's talent
    growth): drawing it would overwrite the difference in both, so it is refused."""
    factors = [uncertainty_factors(p) for p in plans]
    if not factors[0]:
        raise DesignError(f"{what}: {plans[0].name} declares no [uncertainties] to draw from")
    if any(fs != factors[0] for fs in factors[1:]):
        paths = list(dict.fromkeys(f.path for fs in factors for f in fs))
        differ = [path for path in paths if len({p.uncertainties.get(path) for p in plans}) > 1]
        raise DesignError(f"{what}: the scenarios declare different [uncertainties], so their runs could not be paired ("
                          + "; ".join(f"{path}: " + ", ".join(f"{p.name} {_shown_range(p.uncertainties.get(path))}"
                                                              for p in plans) for path in differ) + ")")
    for factor in factors[0]:
        lo, hi = plans[0].uncertainties[factor.path]
        for plan in plans:
            own = value_at(plan, factor.path)
            if not lo <= own <= hi:
                raise DesignError(f"{what}: {plan.name} sets {factor.path} = {own:g}, outside its declared uncertainty "
                                  f"[{lo:g}, {hi:g}]; drawing it would erase what the scenario says, so declare a range "
                                  f"around its own value in its [uncertainties]")
        values = [(value_at(p, factor.path), p.schedules.get(factor.path)) for p in plans]
        if any(v != values[0] for v in values[1:]):
            shown = ", ".join(f"{p.name} {v!r}" + (" with a schedule" if s else "") for p, (v, s) in zip(plans, values))
            raise DesignError(f"{what}: the scenarios set the uncertain {factor.path} differently ({shown}); drawing it "
                              f"would erase that difference in both, so remove it from [uncertainties] to compare them")
    return factors[0]


def _shown_range(bounds: tuple[float, float] | None) -> str:
    return "not declared" if bounds is None else f"[{bounds[0]:g}, {bounds[1]:g}]"


def grid_points(factors: list[Factor]) -> list[dict[str, Any]]:
    if not factors:
        return [{}]
    check_design_size(math.prod((f.count or 1) if f.is_range else len(f.values) for f in factors), 1)
    axes = [f.grid_values() for f in factors]
    return [dict(zip((f.path for f in factors), combo)) for combo in itertools.product(*axes)]


def sampled_points(factors: list[Factor], samples: int, seed: int, method: str) -> list[dict[str, Any]]:
    """Latin hypercube (each range cut in `samples` strata, each stratum used once) or plain random."""
    if samples < 1:
        raise DesignError(f"--samples must be at least 1, got {samples}")
    check_design_size(samples, 1)
    if not factors:
        raise DesignError(f"--design {method} needs at least one --vary")
    if method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(factors), seed=np.random.default_rng(seed)).random(samples)
    else:
        unit = np.random.default_rng(seed).random((samples, len(factors)))
    columns = [f.from_unit(unit[:, j]) for j, f in enumerate(factors)]
    return [dict(zip((f.path for f in factors), row)) for row in zip(*columns)]


def run_seed(sweep_seed: int, point: int, replicate: int, common_seeds: bool = False) -> int:
    """Seed of one run; with common seeds, replicate r has the same seed at every point."""
    key = (replicate,) if common_seeds else (point, replicate)
    return int(np.random.SeedSequence(sweep_seed, spawn_key=key).generate_state(1, dtype=np.uint32)[0])
