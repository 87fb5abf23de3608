"""Valuation on hand-computed cash flows, and the comparison's verdict in a constructed case."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
import pytest

from model.params import FirmValuationParams, ValuationParams
from report import valuation as val
from report.compare import incremental_table, run_values, sensitivity_table

GORDON_9_3 = ValuationParams(discount_rate=0.09, terminal="gordon", terminal_growth=0.03, exit_multiple=15.0)


def test_npv_discounts_each_year_from_its_end():
    assert float(val.npv([100.0, 100.0], 0.10)) == pytest.approx(100 / 1.1 + 100 / 1.21)


def test_gordon_terminal_value_and_its_share():
    # CF 10, 10, 10 at 9 %; TV at the end of year 3 = 10 x 1.03 / 0.06 = 171.667
    value = val.value([[10.0, 10.0, 10.0]], [10.0], 0.09, GORDON_9_3)
    explicit = 10 / 1.09 + 10 / 1.09**2 + 10 / 1.09**3
    terminal = 10 * 1.03 / 0.06 / 1.09**3
    assert value.explicit_bn[0] == pytest.approx(explicit)
    assert value.terminal_bn[0] == pytest.approx(terminal)
    assert value.terminal_at_end_bn[0] == pytest.approx(171.6666667)
    assert value.terminal_share[0] == pytest.approx(terminal / (explicit + terminal))


def test_exit_multiple_terminal_value():
    multiple = ValuationParams(discount_rate=0.1, terminal="multiple", terminal_growth=0.0, exit_multiple=12.0)
    value = val.value([[0.0, 5.0]], [5.0], 0.1, multiple)
    assert value.terminal_bn[0] == pytest.approx(60 / 1.21)


def test_gordon_refuses_a_rate_at_or_below_the_growth():
    with pytest.raises(ValueError, match="terminal growth"):
        val.terminal_value(1.0, 0.03, "gordon", 0.03, 0.0)


def test_irr_of_a_hand_computed_stream():
    # -100 then +121 a year later... over years 1..2: -100/(1+r) + 121/(1+r)^2 = 0 -> r = 21 %
    assert val.irr([-100.0, 121.0]) == pytest.approx(0.21)
    assert math.isnan(val.irr([1.0, 2.0]))  # better every year: no rate makes it zero
    assert math.isnan(val.irr([10.0, -12.0]))  # a gain first, a cost later: not an investment


def test_break_even_year_is_when_the_cumulative_stays_above_zero():
    # discounted at 0: cumulative -10, -5, +1, +7 -> from the third year (2026 when year 1 is 2024)
    assert val.break_even_year([-10.0, 5.0, 6.0, 6.0], 1e-12, 2024) == 2026
    assert val.break_even_year([2.0, 1.0], 0.05, 2024) == 2024
    assert math.isnan(val.break_even_year([-10.0, 1.0, 1.0], 0.05, 2024))


def _yearly(flows: dict[str, list[float]], replicates: int = 3) -> pd.DataFrame:
    """Yearly records of one major (amazon) per scenario: a calibration-year row, then the flows."""
    rows = []
    for scenario, cash in flows.items():
        for replicate in range(replicates):
            for i, cf in enumerate([0.0, *cash]):
                rows.append({"scenario": scenario, "replicate": replicate, "year": 2023 + i, "firm": "amazon",
                             "profit_bn": cf + replicate, "free_cash_flow_bn": cf + replicate})
    return pd.DataFrame(rows)


def test_a_dominating_plan_wins_at_every_horizon_and_rate():
    yearly = _yearly({"bold": [-5.0, 20.0, 20.0, 20.0, 20.0, 20.0], "calm": [0.0, 10.0, 10.0, 10.0, 10.0, 10.0]})
    table = sensitivity_table(yearly, ["bold", "calm"], GORDON_9_3, horizons=(2, 4, 6), rates=(0.06, 0.12))
    assert len(table) == 6
    assert (table["diff_mean"] > 0).all() and (table["first_wins_share"] == 1.0).all()
    inc = incremental_table(yearly, ["bold", "calm"], GORDON_9_3, horizon=6)
    assert (inc["break_even_year"] == 2025).all()  # -5 in 2024, +10 from 2025
    assert (inc["irr"] > 0.5).all()


def test_run_values_uses_each_firms_own_rate():
    yearly = _yearly({"a": [10.0, 10.0]}, replicates=1)
    own = ValuationParams(discount_rate=0.09, terminal="gordon", terminal_growth=0.03, exit_multiple=15.0,
                          firms={"amazon": FirmValuationParams(0.2)})
    common, specific = run_values(yearly, GORDON_9_3, 2), run_values(yearly, own, 2)
    assert specific["value_bn"].iloc[0] < common["value_bn"].iloc[0]
    assert specific["value_bn"].iloc[0] == pytest.approx(10 / 1.2 + 10 / 1.44 + 10 * 1.03 / 0.17 / 1.44)


def test_compare_refuses_a_discount_rate_not_above_the_terminal_growth(tmp_path):
    done = subprocess.run([sys.executable, "run.py", "compare", "jassy_bold", "conservative", "--replicates", "2",
                           "--set", "valuation.discount_rate=0.02", "--out", str(tmp_path / "c")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "valuation.discount_rate" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
