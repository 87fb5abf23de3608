"""Tidy tables and the machine-readable summary of one finished run.

Reads what the model's DataCollector recorded and its query interface (`AIRaceModel.final_shares`,
`.major_positions`, `.deal_counts`, `.startup_counts`, `.segment_hhi`); never the ledger or the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from model.params import FRINGE_ID, MAJOR_IDS, SEGMENTS, STRATEGIES
from model.scenario import scenario_to_dict
from model.schema import EVENT_COLUMNS, FIRM_COLUMNS, SHARE_COLUMNS, LinkKind
from report.valuation import free_cash_flow


@dataclass(frozen=True)
class RunTables:
    shares: pd.DataFrame
    firms: pd.DataFrame
    model: pd.DataFrame
    events: pd.DataFrame


def run_tables(model) -> RunTables:
    dc = model.datacollector
    shares = dc.get_table_dataframe("shares")[list(SHARE_COLUMNS)]
    segment_order = shares["segment"].map({seg: i for i, seg in enumerate(SEGMENTS)})
    shares = shares.assign(_order=segment_order).sort_values(["year", "_order", "firm"], kind="stable")
    shares = shares.drop(columns="_order").reset_index(drop=True)
    firms = dc.get_table_dataframe("firms")[list(FIRM_COLUMNS)]
    firms = firms.sort_values(["year", "firm"], kind="stable").reset_index(drop=True)
    events = dc.get_table_dataframe("events")
    events = (events if len(events) else pd.DataFrame(columns=list(EVENT_COLUMNS)))[list(EVENT_COLUMNS)].reset_index(drop=True)
    model_df = dc.get_model_vars_dataframe().reset_index(drop=True)
    return RunTables(shares=shares, firms=firms, model=model_df, events=events)


def return_on_ai_spend(operating_gain_bn: float, ai_spend_bn: float) -> float | None:
    """Each AI dollar (own spend, partner fees and acquisitions) returned through operating income above the 2023 level: 0 = paid back."""
    return (operating_gain_bn - ai_spend_bn) / ai_spend_bn if ai_spend_bn > 0 else None


def run_outcomes(model) -> dict[str, Any]:
    """What a run ended with: per major and for the market. Cheap: reads the model's query interface only."""
    deals = model.deal_counts()
    acquired, blocked = deals[LinkKind.ACQUIRED], deals[LinkKind.BLOCKED]
    firms: dict[str, Any] = {}
    for firm_id, position in model.major_positions().items():
        spend, fees, gain = position.cumulative_ai_spend_bn, position.cumulative_fees_paid_bn, position.cumulative_operating_gain_bn
        deals_bn = position.cumulative_acquisition_outlay_bn
        firms[firm_id] = {
            "strategy_mix": position.strategy_years,
            "cumulative_ai_spend_bn": spend,
            "cumulative_fees_paid_bn": fees,
            "cumulative_acquisition_outlay_bn": deals_bn,
            "cumulative_profit_bn": position.cumulative_profit_bn,
            "cumulative_operating_gain_bn": gain,
            "return_on_ai_spend": return_on_ai_spend(gain, spend + fees + deals_bn),
            "final_cash_bn": position.cash_bn,
            "final_revenue_bn": position.revenue_bn,
            "final_revenue_by_segment_bn": position.revenue_by_segment_bn,
            "acquisitions": acquired.get(firm_id, 0),
            "blocked_acquisitions": blocked.get(firm_id, 0),
        }
    startups = model.startup_counts()
    return {
        "final_shares": model.final_shares(),
        "final_hhi": {seg: model.segment_hhi(s) for s, seg in enumerate(SEGMENTS)},
        "firms": firms,
        "market": {
            "acquisitions": sum(acquired.values()),
            "blocked_acquisitions": sum(blocked.values()),
            "startups_entered": startups.entered,
            "startups_exited": startups.left - startups.acquired,
            "startups_alive": startups.alive,
            "final_ai_wage_index": float(model.inputs.wage_index),
            "final_compute_utilization": float(model.inputs.compute_utilization),
        },
    }


FIRM_OUTCOMES = (
    "cumulative_profit_bn", "cumulative_ai_spend_bn", "cumulative_fees_paid_bn", "cumulative_acquisition_outlay_bn",
    "return_on_ai_spend",
    "final_cash_bn", "final_revenue_bn", "acquisitions", "blocked_acquisitions",
)
MARKET_OUTCOMES = (
    "acquisitions", "blocked_acquisitions", "startups_alive", "startups_entered", "startups_exited",
    "final_ai_wage_index", "final_compute_utilization",
)
MARKET = "market"


def outcome_items(outcomes: dict[str, Any]) -> Iterator[tuple[str, str, float | None]]:
    """(firm, metric, value) for every end-of-run metric of `run_outcomes`; firm "market" for
    market-wide ones. Comparisons store them as tidy rows, sweeps as columns."""
    for firm, values in outcomes["firms"].items():
        for metric in FIRM_OUTCOMES:
            yield firm, metric, values[metric]
        for seg, revenue in values["final_revenue_by_segment_bn"].items():
            yield firm, f"final_revenue_bn_{seg}", revenue
    for seg, shares in outcomes["final_shares"].items():
        for firm, share in shares.items():
            yield firm, f"final_share_{seg}", share
    for seg, value in outcomes["final_hhi"].items():
        yield MARKET, f"hhi_{seg}", value
    for metric in MARKET_OUTCOMES:
        yield MARKET, metric, outcomes["market"][metric]


def summarize(model, seed: Any) -> dict[str, Any]:
    """Everything the printed summary shows, plus what is needed to reproduce the run."""
    return {
        "scenario": model.params.name,
        "seed": seed,
        "years": model.steps,
        "start_year": model.params.start_year,
        "end_year": int(model.year),
        **run_outcomes(model),
        "parameters": scenario_to_dict(model.params),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few plain-text tables for the terminal."""
    lines = [
        f"Scenario {summary['scenario']} | seed {summary['seed']} | {summary['start_year']}-{summary['end_year']} "
        f"({summary['years']} years)",
        "",
        "Final market shares (%)",
    ]
    columns = [*MAJOR_IDS, "startups", FRINGE_ID]
    lines.append(f"  {'segment':<12}" + "".join(f"{c:>13}" for c in columns) + f"{'HHI':>8}")
    for seg, shares in summary["final_shares"].items():
        cells = "".join(f"{100 * shares[c]:>13.1f}" if c in shares else f"{'-':>13}" for c in columns)
        lines.append(f"  {seg:<12}{cells}{summary['final_hhi'][seg]:>8.0f}")
    lines += ["", "Majors over the run ($bn; strategy mix = years accelerate/differentiate/partner)"]
    header = f"  {'firm':<13}{'acc/dif/par':>12}{'AI spend':>10}{'profit':>10}{'ROI':>7}{'cash':>9}{'acq':>5}{'blocked':>8}"
    lines.append(header)
    for firm_id, f in summary["firms"].items():
        mix = "/".join(str(f["strategy_mix"][s]) for s in STRATEGIES)
        roi = "n/a" if f["return_on_ai_spend"] is None else f"{f['return_on_ai_spend']:.2f}"
        lines.append(
            f"  {firm_id:<13}{mix:>12}{f['cumulative_ai_spend_bn']:>10.1f}{f['cumulative_profit_bn']:>10.1f}"
            f"{roi:>7}{f['final_cash_bn']:>9.1f}{f['acquisitions']:>5}{f['blocked_acquisitions']:>8}"
        )
    m = summary["market"]
    lines += [
        "",
        f"Acquisitions {m['acquisitions']} made, {m['blocked_acquisitions']} blocked | startups: "
        f"{m['startups_entered']} entered, {m['startups_exited']} failed, {m['startups_alive']} alive at the end | "
        f"AI wage index {m['final_ai_wage_index']:.2f}, compute use {100 * m['final_compute_utilization']:.0f} %",
    ]
    return "\n".join(lines)


def json_ready(value: Any) -> Any:
    """numpy scalars and tuples to plain JSON types, recursively."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


YEARLY_COLUMNS = ("year", "firm", "strategy", "ai_spend_bn", "profit_bn", "free_cash_flow_bn", "cash_bn",
                  *(f"share_{s}" for s in SEGMENTS))


def yearly_records(model) -> list[dict[str, Any]]:
    """Per year: each major's strategy, spend, profit, free cash flow, cash and shares, plus the startups' and the
    fringe's shares; small enough to ship back from a worker, built straight from the recorded
    columns (no DataFrame), since sweeps call it once per run."""
    tables = model.datacollector.tables
    firms, shares = tables["firms"], tables["shares"]
    majors = set(MAJOR_IDS)
    records: dict[tuple[int, str], dict[str, Any]] = {}
    empty = {f"share_{seg}": None for seg in SEGMENTS}
    for i, (year, firm, kind) in enumerate(zip(firms["year"], firms["firm"], firms["kind"])):
        if kind == "major":
            records[(year, firm)] = {"year": year, "firm": firm, "strategy": firms["strategy"][i],
                                     "ai_spend_bn": firms["ai_spend_bn"][i], "profit_bn": firms["profit_bn"][i],
                                     "free_cash_flow_bn": float(free_cash_flow(firms["profit_bn"][i],
                                                                               firms["acquisition_outlay_bn"][i])),
                                     "cash_bn": firms["cash_bn"][i], **empty}
    for year, segment, firm, share in zip(shares["year"], shares["segment"], shares["firm"], shares["share"]):
        if firm not in majors and firm != FRINGE_ID:
            firm = "startups"
        record = records.get((year, firm))
        if record is None:
            record = records[(year, firm)] = {"year": year, "firm": firm, "strategy": None, "ai_spend_bn": None,
                                              "profit_bn": None, "free_cash_flow_bn": None, "cash_bn": None, **empty}
        key = f"share_{segment}"
        record[key] = share if record[key] is None else record[key] + share
    return sorted(records.values(), key=lambda r: (r["year"], _firm_rank(r["firm"])))


def _firm_rank(firm: str) -> tuple[int, str]:
    return (MAJOR_IDS.index(firm), firm) if firm in MAJOR_IDS else (len(MAJOR_IDS) + (firm == FRINGE_ID), firm)
