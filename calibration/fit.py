"""Calibration by approximate Bayesian computation (pyabc's ABC-SMC): a posterior sample of the
behavioural parameters whose simulated history comes close to the observed one.

Each evaluation runs the replayed historical scenario with the same seeds (common random
numbers) and averages the targets over them; the distance weighs each target by its weight
(primary targets 1, secondary ones by their confidence) and its scale (a share point; 5 % of a
money figure). The sampler is pyabc's MappingSampler with one seed per task, drawn in order from
the calibration seed, so the posterior is the same on 1 worker or many.
"""

from __future__ import annotations

import functools
import math
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
from pyabc.sampler import MappingSampler
from pyabc.weighted_statistics import weighted_quantile

from calibration.history import SHARE_UNIT
from calibration.priors import PRIORS, Prior
from calibration.simulate import simulate
from model.params import Scenario
from model.scenario import ScenarioError, with_values
from sweeps.execute import process_context

MONEY_SCALE = 0.05  # a 5 % miss of a money figure weighs as a one-point miss of a share
FAILED = "failed"
SE2 = "|se2"  # suffix of a target's squared standard error over the seeds
INTERVAL = (0.05, 0.95)
IDENTIFIED_SHRINK = 0.5  # identified: the posterior's 90 % interval is at most half the prior's range


def observation_key(target: str, firm: str, year: int) -> str:
    return f"{target}|{firm}|{year}"


@dataclass(frozen=True)
class Targets:
    """The observations a calibration fits, as pyabc's summary statistics and the distance's weights."""

    values: dict[str, float]
    weights: dict[str, float]
    scales: dict[str, float]

    @classmethod
    def of(cls, observed: pd.DataFrame) -> "Targets":
        keys = [observation_key(t, f, int(y)) for t, f, y in zip(observed["target"], observed["firm"], observed["year"])]
        scales = [1.0 if unit == SHARE_UNIT else MONEY_SCALE * abs(v) or 1.0
                  for unit, v in zip(observed["unit"], observed["value"])]
        return cls(dict(zip(keys, observed["value"].astype(float))), dict(zip(keys, observed["weight"].astype(float))),
                   dict(zip(keys, scales)))

    def distance(self, simulated: Mapping[str, float], _observed: Mapping[str, float] | None = None) -> float:
        """Weighted RMS miss of the seeds' mean, less the part the seeds' own spread explains (the
        squared standard error of the mean): otherwise parameters that damp the model's noise would
        look closer to the data than the true ones."""
        if simulated.get(FAILED):
            return math.inf
        total = sum(self.weights[k] * ((simulated[k] - v) ** 2 - simulated.get(k + SE2, 0.0)) / self.scales[k] ** 2
                    for k, v in self.values.items())
        return math.sqrt(max(total, 0.0) / sum(self.weights.values()))


@dataclass(frozen=True)
class HistoryModel:
    """pyabc's model: parameters -> the targets' mean over the common seeds."""

    scenario: Scenario
    seeds: tuple[int, ...]
    keys: tuple[str, ...]
    priors: tuple[Prior, ...] = PRIORS

    def values(self, parameters: Mapping[str, float]) -> dict[str, float]:
        return {p.path: float(parameters[p.key]) for p in self.priors}

    def __call__(self, parameters: Mapping[str, float]) -> dict[str, float]:
        try:
            runs = simulate(with_values(self.scenario, self.values(parameters)), self.seeds)
        except ScenarioError:  # a draw that overflows the model is rejected, not fatal
            return {FAILED: 1.0}
        stats = runs.groupby(["year", "target", "firm"])["value"].agg(["mean", "var", "count"]).reset_index()
        found = {}
        for y, t, f, mean, var, count in stats.itertuples(index=False, name=None):
            key = observation_key(t, f, int(y))
            found[key], found[key + SE2] = float(mean), float(var) / count if count > 1 else 0.0
        if not all(k in found and math.isfinite(found[k]) and math.isfinite(found[k + SE2]) for k in self.keys):
            return {FAILED: 1.0}
        return {name: found[name] for k in self.keys for name in (k, k + SE2)}


class SeededMappingSampler(MappingSampler):
    """pyabc's MappingSampler with one seed per task, drawn from numpy's global state in the parent:
    the accepted particles and their order do not depend on the map (1 process, a pool, a cluster).
    `progress(t)` is called as each generation `t` is sampled."""

    def __init__(self, map_=map, progress: Callable[[int], None] | None = None):
        super().__init__(map_=map_)
        self.progress = progress

    def __getstate__(self):
        return (*super().__getstate__(), None)

    def __setstate__(self, state):
        super().__setstate__(state[:-1])
        self.progress = state[-1]

    def map_function(self, simulate_one, seed):
        """Sample until one particle is accepted, from the task's own seed."""
        simulate_one = self.unpickle(simulate_one)
        np.random.seed(seed)
        random.seed(int(seed))
        sample, evaluations = self._create_empty_sample(), 0
        while True:
            particle = simulate_one()
            evaluations += 1
            sample.append(particle)
            if particle.accepted:
                return sample, evaluations

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
        seeds = np.random.randint(0, 2**31 - 1, size=n).tolist()
        state, py_state = np.random.get_state(), random.getstate()  # an in-process map must not move the parent's draws
        work = functools.partial(self.map_function, self.pickle(simulate_one))
        results, evaluations = zip(*self.map_(work, seeds))
        np.random.set_state(state)
        random.setstate(py_state)
        self.nr_evaluations_ = sum(evaluations)
        if self.progress is not None:
            self.progress(t)
        sample = self._create_empty_sample()
        for result in results:
            sample += result
        return sample


@dataclass
class Posterior:
    particles: pd.DataFrame       # one column per parameter path, and `weight` (sums to 1)
    predictive: pd.DataFrame      # key, value, weight: the simulated targets of the final particles
    epsilons: list[float]
    evaluations: int
    seconds: float


def calibrate(model: HistoryModel, targets: Targets, *, population: int, generations: int, seed: int,
              workers: int = 1, progress: Callable[[int], None] | None = None) -> Posterior:
    """Run ABC-SMC for `generations` populations of `population` particles."""
    prior = pyabc.Distribution(**{p.key: pyabc.RV("uniform", p.lo, p.hi - p.lo) for p in model.priors})
    np.random.seed(seed)
    random.seed(seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ai-race-abc-") as tmp, _mapper(workers) as map_:
        abc = pyabc.ABCSMC(model, prior, targets.distance, population_size=population,
                           sampler=SeededMappingSampler(map_=map_, progress=progress))
        abc.new("sqlite:///" + str(Path(tmp) / "abc.db"), targets.values)
        history = abc.run(max_nr_populations=generations)
        epsilons = [float(e) for e in history.get_all_populations()["epsilon"].iloc[1:]]
        frame, weights = history.get_distribution()
        sum_weights, stats = history.get_weighted_sum_stats()
        evaluations = int(history.total_nr_simulations)
    particles = pd.DataFrame({p.path: frame[p.key].to_numpy(dtype=float) for p in model.priors})
    particles["weight"] = np.asarray(weights, dtype=float) / float(np.sum(weights))
    predictive = pd.DataFrame([(k, float(v), float(w)) for w, s in zip(sum_weights, stats) for k, v in s.items()
                               if not k.endswith(SE2)],
                              columns=["key", "value", "weight"])
    return Posterior(particles, predictive, epsilons, evaluations, time.perf_counter() - started)


class _mapper:
    """`map` on one process, a pool's ordered map on several (forked, or from a forkserver when
    other threads are alive, as the sweeps' workers are: `sweeps.execute.process_context`)."""

    def __init__(self, workers: int):
        self.workers, self.pool = workers, None

    def __enter__(self):
        if self.workers <= 1:
            return map
        self.pool = process_context().Pool(self.workers)
        return self.pool.map

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def predictive_bands(predictive: pd.DataFrame) -> pd.DataFrame:
    """year, target, firm, lo, median, hi: the final population's simulated targets, weighted."""
    rows = []
    for key, group in predictive.groupby("key", sort=True):
        target, firm, year = key.split("|")
        values, weights = group["value"].to_numpy(dtype=float), group["weight"].to_numpy(dtype=float)
        lo, med, hi = (float(weighted_quantile(values, weights, alpha=a)) for a in (INTERVAL[0], 0.5, INTERVAL[1]))
        rows.append({"year": int(year), "target": target, "firm": firm, "lo": lo, "median": med, "hi": hi})
    return pd.DataFrame(rows, columns=["year", "target", "firm", "lo", "median", "hi"])


def summary(particles: pd.DataFrame, priors: Sequence[Prior] = PRIORS) -> pd.DataFrame:
    """Per parameter: the posterior's median and 90 % interval, the prior's range, how much the data
    narrowed it (interval width / prior width) and whether that counts as identified."""
    weights = particles["weight"].to_numpy(dtype=float)
    rows = []
    for p in priors:
        values = particles[p.path].to_numpy(dtype=float)
        lo, med, hi = (float(weighted_quantile(values, weights, alpha=a)) for a in (INTERVAL[0], 0.5, INTERVAL[1]))
        shrink = (hi - lo) / (p.hi - p.lo)
        rows.append({"parameter": p.path, "median": med, "q05": lo, "q95": hi, "prior_lo": p.lo, "prior_hi": p.hi,
                     "interval_share_of_prior": shrink, "identified": bool(shrink <= IDENTIFIED_SHRINK),
                     "behavioural": p.behavioural})
    return pd.DataFrame(rows)


def correlations(particles: pd.DataFrame, priors: Sequence[Prior] = PRIORS) -> pd.DataFrame:
    """Weighted correlations between the parameters in the posterior: a strong one means the data pin
    down a combination rather than each parameter."""
    values = particles[[p.path for p in priors]].to_numpy(dtype=float)
    cov = np.cov(values, rowvar=False, aweights=particles["weight"].to_numpy(dtype=float))
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(np.where(sd > 0, sd, 1.0), np.where(sd > 0, sd, 1.0))
    return pd.DataFrame(corr, index=[p.path for p in priors], columns=[p.path for p in priors])
