"""Global sensitivity analysis with SALib: Sobol indices, or a Morris screen when runs are dear.

The sample is run as an ordinary sweep (same executor, journal and resume); only the design
points come from SALib instead of a grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from model.params import MAJOR_IDS, SEGMENTS
from sweeps.design import DesignError, Factor, check_design_size

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4
# The confidence intervals are a bootstrap over the N base rows. With N rows there are only
# C(2N-1, N) distinct resamples: 1 for N=1 (every interval is exactly 0), 35 for N=4, 6435 for
# N=8. Below 8 the intervals say nothing, so the indices cannot be judged at all.
SOBOL_MIN_SAMPLES = 8
SOBOL_ROUGH_SAMPLES = 64
MORRIS_MIN_SAMPLES = 2  # sigma is the spread of a parameter's elementary effects over trajectories


def salib_problem(factors: list[Factor]) -> dict:
    for factor in factors:
        if not factor.is_range:
            raise DesignError(f"--param {factor.path}: sensitivity needs a numeric range lo:hi, not a list")
        if factor.high <= factor.low:
            raise DesignError(f"--param {factor.path}: impossible range {factor.low}..{factor.high} (need lo < hi)")
    return {"num_vars": len(factors), "names": [f.path for f in factors], "bounds": [[f.low, f.high] for f in factors]}


def sample(problem: dict, factors: list[Factor], method: str, samples: int, seed: int) -> list[dict]:
    """Design points of the SALib sample, ints rounded for whole-number parameters."""
    if samples < 1:
        raise DesignError(f"--samples must be at least 1, got {samples}")
    if method == "sobol":
        from SALib.sample import sobol

        if samples & (samples - 1):
            raise DesignError(f"--samples {samples}: Sobol sampling needs a power of two (e.g. 256, 512, 1024)")
        if samples < SOBOL_MIN_SAMPLES:
            raise DesignError(f"--samples {samples}: Sobol indices need at least {SOBOL_MIN_SAMPLES} base samples "
                              f"(below that their confidence intervals are meaningless); use 256 or more")
        check_design_size(samples * (2 * len(factors) + 2), 1)
        matrix = sobol.sample(problem, samples, calc_second_order=True, seed=seed)
    elif method == "morris":
        from SALib.sample import morris

        if samples < MORRIS_MIN_SAMPLES:
            raise DesignError(f"--samples {samples}: a Morris screen needs at least {MORRIS_MIN_SAMPLES} trajectories "
                              f"(sigma is the spread of the effects across trajectories)")
        check_design_size(samples * (len(factors) + 1), 1)
        matrix = morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        raise DesignError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    return [{f.path: (int(round(v)) if f.integer else float(v)) for f, v in zip(factors, row)} for row in matrix]


def metric_problem(metric: str, scenario, factor_paths: list[str]) -> str | None:
    """Why `metric` cannot be explained in this scenario, or None. A firm's share or revenue in a
    segment it does not sell in has no value in the runs where it never enters (a firm can buy
    its way into cloud_ai only), and the indices need a value at every sample point."""
    firm, _, measure = metric.partition(".")
    if firm not in MAJOR_IDS:
        return None
    for stem in ("final_share_", "final_revenue_bn_"):
        segment = measure.removeprefix(stem)
        if measure.startswith(stem) and segment in SEGMENTS:
            if segment in scenario.firms[firm].segments:
                return None
            if any(path.startswith(f"firms.{firm}.segments.{segment}.") for path in factor_paths):
                return None
            sellers = [f for f in MAJOR_IDS if segment in scenario.firms[f].segments]
            return (f"--metric {metric}: {firm} does not sell in {segment} in {scenario.name}, so the metric has no "
                    f"value in runs where it never enters that segment, and the indices need one at every sample "
                    f"point; firms that sell there: {', '.join(sellers) or 'none'}")
    return None


def analyze(problem: dict, method: str, points: list[dict], values: np.ndarray, seed: int) -> dict[str, pd.DataFrame]:
    """Indices with confidence intervals; `values` is the metric per design point, in sample order.

    Refused (ValueError, one line) when points lack a value or the metric never changes, since
    there is then nothing to attribute; numpy's and SALib's warnings are silenced, the checks
    that matter are `index_warnings`."""
    missing = int(np.sum(~np.isfinite(values)))
    if missing == values.size:
        raise ValueError("no sample point has a value for the metric (every run failed, or the metric is always missing)")
    if missing:
        raise ValueError(f"{missing} of {values.size} sample points have no value for the metric (failed runs or NaN)")
    if np.ptp(values) <= np.finfo(float).eps * max(1.0, float(np.abs(values).max())):
        raise ValueError(f"the metric is {values[0]:g} at every sample point, so no parameter has an effect to attribute")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _analyze(problem, method, points, values, seed)


def index_warnings(method: str, tables: dict[str, pd.DataFrame], samples: int) -> list[str]:
    """One line per problem worth knowing: Sobol indices outside [0, 1] by more than their
    confidence interval (the sample is too small for the metric), or a rough, small sample."""
    if method != "sobol":
        return []
    lines = []
    outside = []
    first, second = tables["sobol_indices"], tables["sobol_second_order"]
    for name, conf in (("S1", "S1_conf"), ("ST", "ST_conf")):
        for row in first.itertuples(index=False):
            value, width = getattr(row, name), getattr(row, conf)
            if value - width > 1 or value + width < 0:
                outside.append(f"{name} of {row.parameter} = {value:.2f} +/- {width:.2f}")
    for row in second.itertuples(index=False):
        if row.S2 - row.S2_conf > 1 or row.S2 + row.S2_conf < 0:
            outside.append(f"S2 of {row.parameter_1} x {row.parameter_2} = {row.S2:.2f} +/- {row.S2_conf:.2f}")
    if outside:
        lines.append(f"{'; '.join(outside)}: outside [0, 1] beyond the confidence interval, so the sample is too "
                     f"small for this metric; raise --samples")
    if samples < SOBOL_ROUGH_SAMPLES:
        lines.append(f"--samples {samples}: Sobol indices from so few base samples are rough; "
                     f"read them with their confidence intervals, or use 256 or more")
    return lines


def _analyze(problem: dict, method: str, points: list[dict], values: np.ndarray, seed: int) -> dict[str, pd.DataFrame]:
    names = problem["names"]
    if method == "sobol":
        from SALib.analyze import sobol

        result = sobol.analyze(problem, values, calc_second_order=True, seed=seed)
        first = pd.DataFrame({"parameter": names, "S1": result["S1"], "S1_conf": result["S1_conf"],
                              "ST": result["ST"], "ST_conf": result["ST_conf"]})
        pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
        second = pd.DataFrame({
            "parameter_1": [names[i] for i, _ in pairs], "parameter_2": [names[j] for _, j in pairs],
            "S2": [result["S2"][i, j] for i, j in pairs], "S2_conf": [result["S2_conf"][i, j] for i, j in pairs],
        })
        return {"sobol_indices": first, "sobol_second_order": second}
    from SALib.analyze import morris

    matrix = np.array([[point[n] for n in names] for point in points], dtype=float)
    result = morris.analyze(problem, matrix, values, num_levels=MORRIS_LEVELS, seed=seed)
    table = pd.DataFrame({"parameter": names, "mu": result["mu"], "mu_star": result["mu_star"],
                          "mu_star_conf": result["mu_star_conf"], "sigma": result["sigma"]})
    return {"morris_indices": table}
