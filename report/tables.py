"""Tidy tables and the machine-readable summary of one finished run.

Reads what the model's DataCollector recorded; never touches the model's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from model.params import FRINGE_ID, MAJOR_IDS, SEGMENTS, STRATEGIES
from model.scenario import scenario_to_dict

SHARE_COLUMNS = ["year", "segment", "firm", "share", "revenue_bn"]
FIRM_COLUMNS = [
    "year", "firm", "kind", "strategy", "ai_spend_bn", "capability", "revenue_bn", "profit_bn",
    "fees_paid_bn", "fees_received_bn", "payout_bn", "cash_bn", "alive",
]
EVENT_COLUMNS = ["year", "event", "source", "target", "segment", "value_bn"]


@dataclass(frozen=True)
class RunTables:
    shares: pd.DataFrame
    firms: pd.DataFrame
    model: pd.DataFrame
    events: pd.DataFrame


def run_tables(model) -> RunTables:
    dc = model.datacollector
    shares = dc.get_table_dataframe("shares")[SHARE_COLUMNS]
    segment_order = shares["segment"].map({seg: i for i, seg in enumerate(SEGMENTS)})
    shares = shares.assign(_order=segment_order).sort_values(["year", "_order", "firm"], kind="stable")
    shares = shares.drop(columns="_order").reset_index(drop=True)
    firms = dc.get_agent_vars_dataframe().reset_index(drop=True)[FIRM_COLUMNS]
    firms = firms.sort_values(["year", "firm"], kind="stable").reset_index(drop=True)
    events = dc.get_table_dataframe("events")
    events = (events if len(events) else pd.DataFrame(columns=EVENT_COLUMNS))[EVENT_COLUMNS].reset_index(drop=True)
    model_df = dc.get_model_vars_dataframe().reset_index(drop=True)
    return RunTables(shares=shares, firms=firms, model=model_df, events=events)


def _final_shares(shares: pd.DataFrame) -> dict[str, dict[str, float]]:
    last = shares[shares["year"] == shares["year"].max()]
    out: dict[str, dict[str, float]] = {}
    for seg in SEGMENTS:
        rows = last[last["segment"] == seg]
        named = rows["firm"].isin((*MAJOR_IDS, FRINGE_ID))
        seg_shares = {r.firm: float(r.share) for r in rows[named].itertuples()}
        seg_shares["startups"] = float(rows.loc[~named, "share"].sum())
        out[seg] = seg_shares
    return out


def return_on_ai_spend(operating_gain_bn: float, ai_spend_bn: float) -> float | None:
    """Each AI dollar (own spend and partner fees) returned through operating income above the 2023 level: 0 = paid back."""
    return (operating_gain_bn - ai_spend_bn) / ai_spend_bn if ai_spend_bn > 0 else None


def summarize(model, tables: RunTables, seed: Any) -> dict[str, Any]:
    """Everything the printed summary shows, plus what is needed to reproduce the run."""
    led = model.ledger
    played = tables.firms[tables.firms["year"] > model.params.start_year - 1]
    events = tables.events
    firms: dict[str, Any] = {}
    for firm_id in model.params.firms:
        row = model.firms[firm_id].row
        history = played[played["firm"] == firm_id]
        mix = history["strategy"].value_counts()
        spend, profit = float(led.cum_ai_spend_bn[row]), float(led.cum_profit_bn[row])
        firms[firm_id] = {
            "strategy_mix": {s: int(mix.get(s, 0)) for s in STRATEGIES},
            "cumulative_ai_spend_bn": spend,
            "cumulative_profit_bn": profit,
            "cumulative_operating_gain_bn": float(led.cum_operating_gain_bn[row]),
            "cumulative_fees_paid_bn": float(led.cum_fees_paid_bn[row]),
            "return_on_ai_spend": return_on_ai_spend(float(led.cum_operating_gain_bn[row]), spend + float(led.cum_fees_paid_bn[row])),
            "final_cash_bn": float(led.cash_bn[row]),
            "final_revenue_bn": float(led.revenue_bn[row].sum()),
            "acquisitions": int(((events["event"] == "acquisition") & (events["source"] == firm_id)).sum()),
            "blocked_acquisitions": int(((events["event"] == "blocked_acquisition") & (events["source"] == firm_id)).sum()),
        }
    last = tables.model.iloc[-1]
    return {
        "scenario": model.params.name,
        "seed": seed,
        "years": model.steps,
        "start_year": model.params.start_year,
        "end_year": int(model.year),
        "final_shares": _final_shares(tables.shares),
        "final_hhi": {seg: float(last[f"hhi_{seg}"]) for seg in SEGMENTS},
        "firms": firms,
        "market": {
            "acquisitions": int((events["event"] == "acquisition").sum()),
            "blocked_acquisitions": int((events["event"] == "blocked_acquisition").sum()),
            "startups_entered": int((events["event"] == "entry").sum()),
            "startups_exited": int((events["event"] == "exit").sum()),
            "startups_alive": int(last["startups_alive"]),
            "final_ai_wage_index": float(last["ai_wage_index"]),
            "final_compute_utilization": float(last["compute_utilization"]),
        },
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
