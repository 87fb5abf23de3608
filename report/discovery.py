"""Scenario discovery: the conditions under which a plan pays, found by the EMA Workbench's PRIM.

PRIM (Friedman and Fisher 1999; Bryant and Lempert 2010) peels the space of uncertainties down to
a box where the cases of interest are dense, tracing coverage (share of all such cases inside
the box) against density (share of the box's cases that are of interest). From that trajectory
we keep the box with the most coverage among those at least `min_density` dense and restricting
at most `max_dimensions` uncertainties (a box of seven limits describes the sample, not a
condition anyone can act on), as analysts do by hand with `inspect_tradeoff`, and report only the
dimensions it restricts. When no such box is dense enough, the densest of them is kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_DENSITY = 0.8
MAX_DIMENSIONS = 3
MASS_MIN = 0.05  # the smallest box, as a share of the points


@dataclass(frozen=True)
class Box:
    """Where a plan pays: each restricted uncertainty's [lo, hi], and how good the box is."""

    limits: dict[str, tuple[float, float]]  # an unrestricted side is -inf or inf
    coverage: float
    density: float
    mass: float

    def describe(self) -> str:
        parts = [f"{path} = {lo:.3g}" if lo == hi else f"{path} <= {hi:.3g}" if lo == -np.inf
                 else f"{path} >= {lo:.3g}" if hi == np.inf else f"{lo:.3g} <= {path} <= {hi:.3g}"
                 for path, (lo, hi) in self.limits.items()]
        return " and ".join(parts) if parts else "anywhere (no restriction)"


def find_box(x: pd.DataFrame, of_interest: np.ndarray, min_density: float = MIN_DENSITY,
             mass_min: float = MASS_MIN, max_dimensions: int = MAX_DIMENSIONS) -> Box | None:
    """The first PRIM box of the cases `of_interest` (booleans, one per row of `x`), or None if
    there are none or every case is one."""
    y = np.asarray(of_interest, dtype=bool)
    if len(y) != len(x):
        raise ValueError(f"{len(y)} outcomes for {len(x)} rows of uncertainties")
    if not y.any() or y.all():
        return None
    whole = {path for path in x.columns if np.all(np.mod(x[path].to_numpy(dtype=float), 1) == 0)}
    # Given as floats: the workbench's peeling of integer columns fails under pandas 3.
    x = x.astype(float).reset_index(drop=True)
    with warnings.catch_warnings():
        # pandas 3 deprecations inside the workbench's own code and, at its import (4 s, so only when a
        # box is wanted), its notes on optional parallel back ends this project does not use
        warnings.filterwarnings("ignore", module="ema_workbench")
        warnings.simplefilter("ignore", UserWarning)
        from ema_workbench.analysis import prim

        found = prim.Prim(x, y, peel_alpha=0.05, paste_alpha=0.05, mass_min=mass_min).find_box()
    trajectory = found.peeling_trajectory.reset_index(drop=True)
    simple = trajectory[trajectory["res_dim"] <= max_dimensions]
    dense = simple.index[simple["density"] >= min_density]
    pick = int(simple.loc[dense, "coverage"].idxmax()) if len(dense) else int(simple["density"].idxmax())
    lims, start = found.box_lims[pick], found.box_lims[0]
    limits = {}
    for path in x.columns:
        (lo, hi), (lo0, hi0) = lims[path].to_numpy(dtype=float), start[path].to_numpy(dtype=float)
        if not np.isclose(lo, lo0) or not np.isclose(hi, hi0):
            lo, hi = _kept(lo, hi, path in whole)
            limits[path] = (float(lo) if not np.isclose(lo, lo0) else -np.inf, float(hi) if not np.isclose(hi, hi0) else np.inf)
    row = trajectory.loc[pick]
    return Box(limits=limits, coverage=float(row["coverage"]), density=float(row["density"]), mass=float(row["mass"]))


def _kept(lo: float, hi: float, whole: bool) -> tuple[float, float]:
    """A whole-number uncertainty's limits as the values the box keeps (a cut at 0.5 keeps 0)."""
    return (float(np.ceil(lo)), float(np.floor(hi))) if whole else (lo, hi)
