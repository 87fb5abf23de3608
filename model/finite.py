"""The guard that stops a run whose arithmetic overflowed, before an inf or NaN reaches the tables.

A run is a sequence of named phases; numpy's overflow and invalid-value events are noted instead
of printed as warnings; an exception after one (NaN probabilities, say), or Python's own
OverflowError, is reported as the overflow it is, as a `NonFiniteResult` naming the year and
the first quantity that is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from model.ledger import BOOL_COLUMNS, INT_COLUMNS, PER_FIRM, PER_SEGMENT, FirmLedger
from model.params import SEGMENTS
from model.scenario import NonFiniteResult

FLOAT_COLUMNS = tuple(c for c in PER_SEGMENT + PER_FIRM if c not in INT_COLUMNS and c not in BOOL_COLUMNS)
_SUM = np.add.reduce


class FiniteGuard:
    """Runs phases and checks the state they leave: the ledger, and beyond it the segment sizes and
    the `scalars` and `arrays` named by (description, value) pairs, read at the time of the check."""

    def __init__(self, ledger: FirmLedger, sizes: Callable[[], np.ndarray], scalars: Callable[[], Sequence[tuple[str, float]]],
                 arrays: Callable[[], Sequence[tuple[str, np.ndarray]]]):
        self.ledger = ledger
        self.sizes = sizes
        self.scalars = scalars
        self.arrays = arrays

    def run(self, year: int, phases: Sequence[tuple[Callable[[], object], str]]) -> None:
        events: list[str] = []
        with np.errstate(over="call", invalid="call", divide="call", call=lambda kind, flag: events.append(kind)):
            for phase, doing in phases:
                try:
                    phase()
                except (ArithmeticError, ValueError) as exc:
                    self.check(year)
                    if isinstance(exc, ArithmeticError) or events:
                        raise NonFiniteResult(year, f"the arithmetic overflowed while {doing}") from exc
                    raise
            self.check(year)

    def check(self, year: int) -> None:
        """One sum over everything finds any inf or NaN (they survive addition) at a third of the cost
        of a test per column; only then is the state searched for the value to name."""
        led = self.ledger
        n = led.n
        total = sum(_SUM(getattr(led, name)[:n], axis=None) for name in FLOAT_COLUMNS)
        total += _SUM(led.pipeline[:, :n], axis=None) + _SUM(self.sizes())
        total += sum(_SUM(values, axis=None) for _, values in self.arrays()) + sum(value for _, value in self.scalars())
        if not math.isfinite(total):
            self._name_non_finite(year)

    def _name_non_finite(self, year: int) -> None:
        """Raise NonFiniteResult for the first inf or NaN; nothing if the sum merely overflowed finite values."""
        sizes = self.sizes()
        if not np.all(np.isfinite(sizes)):
            s = int(np.flatnonzero(~np.isfinite(sizes))[0])
            raise NonFiniteResult(year, f"size_bn of segment {SEGMENTS[s]} is {float(sizes[s])!r}")
        for name, value in self.scalars():
            if not math.isfinite(value):
                raise NonFiniteResult(year, f"{name} is {float(value)!r}")
        led = self.ledger
        n = led.n
        for name in FLOAT_COLUMNS:
            column = getattr(led, name)[:n]
            if not np.isfinite(column).all():
                row, *segment = (int(i) for i in np.argwhere(~np.isfinite(column))[0])
                where = f" in {SEGMENTS[segment[0]]}" if segment else ""
                value = float(column[(row, *segment)])
                raise NonFiniteResult(year, f"{name} of {led.ids[row]}{where} is {value!r}")
        for name, values in (("capability in the pipeline", led.pipeline[:, :n]), *self.arrays()):
            if not np.isfinite(values).all():
                raise NonFiniteResult(year, f"{name} is not finite")
