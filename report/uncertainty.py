"""How much of an outcome's spread is the parameters and how much is luck.

Runs are drawn as parameter points x seeds. By the law of total variance, Var(Y) = Var(E[Y | point]) +
E[Var(Y | point)]: the first part is what the uncertain parameters explain, the second is seed noise.
With n seeds per point the variance of the point means also holds the noise divided by n, so the
parameters' part is estimated as the one-way random-effects ANOVA does (method of moments), and
floored at 0 when the points differ no more than luck would make them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t


@dataclass(frozen=True)
class VarianceSplit:
    total: float
    parameters: float
    seeds: float
    points: int
    seeds_per_point: float

    @property
    def parameter_share(self) -> float:
        """Share of the spread the parameters explain, 0..1 (NaN if nothing varies)."""
        whole = self.parameters + self.seeds
        return self.parameters / whole if whole > 0 else float("nan")


def variance_split(values: np.ndarray, points: np.ndarray) -> VarianceSplit:
    """Split the variance of `values` between the parameter point each run used and the runs' seeds.

    A point needs two runs for its seeds' part to be seen: points with fewer (a failed run) and NaN
    values are left out.
    """
    frame = pd.DataFrame({"y": np.asarray(values, dtype=float), "point": np.asarray(points)}).dropna()
    frame = frame[frame.groupby("point")["y"].transform("size") >= 2]
    groups = frame.groupby("point")["y"]
    sizes = groups.size()
    if len(sizes) == 0:
        raise ValueError("a variance split needs at least two runs (seeds) at some parameter point")
    within = float(groups.var(ddof=1).mul(sizes - 1).sum() / (sizes - 1).sum())
    n_bar = float(sizes.mean())
    between_means = float(groups.mean().var(ddof=1)) if len(sizes) > 1 else 0.0
    parameters = max(between_means - within / n_bar, 0.0)
    return VarianceSplit(total=float(frame["y"].var(ddof=1)), parameters=parameters, seeds=within,
                         points=len(sizes), seeds_per_point=n_bar)


def mean_interval(values: np.ndarray, level: float, groups: np.ndarray | None = None) -> tuple[float, float]:
    """The mean of `values` and the half-width of its Student-t interval at `level` (NaN below two).

    With `groups`, the parameter draw of each run, the interval comes from the draws' means: the
    seeds of one draw share its parameters, so the runs are not independent and their own spread
    would understate it (1.9 times for Amazon's value over 1,000 draws x 4 seeds)."""
    values = np.asarray(values, dtype=float)
    kept = np.isfinite(values)
    if not kept.any():
        return float("nan"), float("nan")
    spread = values[kept] if groups is None else pd.Series(values[kept]).groupby(np.asarray(groups)[kept]).mean().to_numpy()
    n = spread.size
    half = float(student_t.ppf(0.5 + level / 2, n - 1) * spread.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return float(values[kept].mean()), half
