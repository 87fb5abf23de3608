"""Valuation as an equity analyst does it: free cash flow, its present value, a terminal value of the
end position, and the incremental NPV, IRR and break-even year of one plan against another.

Pure functions over numpy arrays of yearly cash flows, shape (..., years): the last axis is the
simulated years 1..T, each flow at the end of its year, discounted to the start of year 1 (the
end of the calibration year). Runs are rows, so a comparison values thousands of runs at once.

Why a terminal value: a plan that builds capability, installed base and share pays mostly after
any finite horizon; summing profit inside the horizon values that end position at zero and makes
the verdict flip with the horizon chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from model.params import GORDON, TerminalMethod, ValuationParams


def free_cash_flow(profit_bn, acquisition_outlay_bn):
    """Free cash flow of a year: profit (operating income - AI spend - talent premium - fees paid -
    fines; fees received are in operating income) less the prices paid for acquisitions."""
    return np.asarray(profit_bn, dtype=float) - np.asarray(acquisition_outlay_bn, dtype=float)


def discount_factors(rate, years: int) -> np.ndarray:
    """1 / (1 + r)^t for t = 1..years; `rate` a scalar or an array (one rate per row)."""
    rate = np.asarray(rate, dtype=float)[..., None]
    return (1.0 + rate) ** -np.arange(1, years + 1)


def terminal_value(final_cash_flow_bn, rate, method: TerminalMethod, terminal_growth: float, exit_multiple: float):
    """Value at the end of the last year of the cash flows after it: Gordon growth on the final year's
    recurring cash flow, CF_T (1 + g) / (r - g), or an exit multiple of it, m CF_T."""
    final = np.asarray(final_cash_flow_bn, dtype=float)
    if method != GORDON:
        return exit_multiple * final
    rate = np.asarray(rate, dtype=float)
    if np.any(rate <= terminal_growth):
        raise ValueError(f"the discount rate must exceed the terminal growth {terminal_growth:g}")
    return final * (1.0 + terminal_growth) / (rate - terminal_growth)


@dataclass(frozen=True)
class Value:
    """A stream's value, split into the explicit years and the terminal value (arrays, one per row)."""

    explicit_bn: np.ndarray   # present value of the cash flows of years 1..T
    terminal_bn: np.ndarray   # present value of the terminal value
    terminal_at_end_bn: np.ndarray  # the terminal value itself, at the end of year T

    @property
    def total_bn(self) -> np.ndarray:
        return self.explicit_bn + self.terminal_bn

    @property
    def terminal_share(self) -> np.ndarray:
        """Share of the value that comes from the terminal value (NaN where the value is zero)."""
        total = self.total_bn
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total != 0, self.terminal_bn / total, np.nan)


def value(cash_flows_bn, recurring_final_bn, rate, valuation: ValuationParams) -> Value:
    """NPV of yearly cash flows (..., T) plus the present value of the terminal value on the final
    year's recurring cash flow (...,): the end position is worth what it keeps earning."""
    flows = np.asarray(cash_flows_bn, dtype=float)
    factors = discount_factors(rate, flows.shape[-1])
    explicit = np.sum(flows * factors, axis=-1)
    at_end = terminal_value(recurring_final_bn, rate, valuation.terminal, valuation.terminal_growth, valuation.exit_multiple)
    return Value(explicit_bn=explicit, terminal_bn=at_end * factors[..., -1], terminal_at_end_bn=np.asarray(at_end, dtype=float))


def npv(cash_flows_bn, rate) -> np.ndarray:
    """Present value of yearly cash flows (..., T), without a terminal value."""
    flows = np.asarray(cash_flows_bn, dtype=float)
    return np.sum(flows * discount_factors(rate, flows.shape[-1]), axis=-1)


IRR_BRACKET = (-0.99, 10.0)


def irr(cash_flows_bn) -> float:
    """The rate at which an investment's yearly cash flows (years 1..T) have zero present value; NaN
    when it is not an investment (its first non-zero flow is not a cost: a rate found then is what
    an early gain "borrows" at, not a return) or has no such rate in (-99 %, 1000 %)."""
    flows = np.asarray(cash_flows_bn, dtype=float)
    if not np.all(np.isfinite(flows)) or not (np.any(flows > 0) and np.any(flows < 0)):
        return float("nan")
    if flows[np.flatnonzero(flows)[0]] > 0:
        return float("nan")
    lo, hi = IRR_BRACKET
    f_lo, f_hi = float(npv(flows, lo)), float(npv(flows, hi))
    if np.sign(f_lo) == np.sign(f_hi):
        return float("nan")
    return float(brentq(lambda r: float(npv(flows, r)), lo, hi, xtol=1e-10))


def break_even_year(cash_flows_bn, rate, first_year: int) -> float:
    """The first calendar year from which the cumulative discounted cash flow stays at or above zero
    to the end (payback of an incremental stream); NaN if it ends below zero (it pays back, if at
    all, only through the terminal value)."""
    flows = np.asarray(cash_flows_bn, dtype=float)
    cumulative = np.cumsum(flows * discount_factors(rate, flows.size))
    if cumulative[-1] < 0:
        return float("nan")
    below = np.flatnonzero(cumulative < 0)
    return float(first_year + (below[-1] + 1 if below.size else 0))
