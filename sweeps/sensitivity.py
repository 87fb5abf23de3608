"""Global sensitivity analysis with SALib: Sobol indices, or a Morris screen when runs are dear.

The sample is run as an ordinary sweep (same executor, journal and resume); only the design
points come from SALib instead of a grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sweeps.design import DesignError, Factor

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4


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
        matrix = sobol.sample(problem, samples, calc_second_order=True, seed=seed)
    elif method == "morris":
        from SALib.sample import morris

        matrix = morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        raise DesignError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    return [{f.path: (int(round(v)) if f.integer else float(v)) for f, v in zip(factors, row)} for row in matrix]


def analyze(problem: dict, method: str, points: list[dict], values: np.ndarray, seed: int) -> dict[str, pd.DataFrame]:
    """Indices with confidence intervals; `values` is the metric per design point, in sample order."""
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise ValueError(f"{bad} of {values.size} sample points have no value for the metric (failed runs or NaN)")
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
