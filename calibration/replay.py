"""What a hindcast replays: the inputs history records (capex, AI venture funding) as a scenario's
start values and year-indexed schedules (`model.schedules`), so the model spends what firms spent.

Capex is the whole group's, not only AI (history README), so it maps to AI spend as

    AI spend_t = capex_t x a_f x ramp_t,   a_f = (2023 AI spend of the baseline) / capex_2023,
    ramp_t = r0 + (1 - r0) (t - t0) / (2023 - t0) up to 2023, 1 after,

t0 the calibration year (the year before the start). a_f is the AI part of the firm's 2023 capex
that the baseline states (Amazon 15 of 52.7, Microsoft 15 of 28.1, Alphabet 12 of 32.3, Walmart
1.5 of 20.6). Amazon's capex of 2020-2022 went mostly to fulfilment (warehouses doubled; AWS was
"just under 40 %" of 2021 capex, Amazon's CFO, Q4 2021 call), so for the years the 10-K's segment
note gives AWS's net additions to property and equipment, Amazon's capex is scaled by AWS's
additions relative to 2023's (AWS_NET_ADDITIONS_BN); r0 = CAPEX_AI_RAMP_START (assumed, range 0.25-1) says AI's part of capex was smaller
in 2019 (the README: "small in 2019, most of the increase from 2023 on"). In a year with capex a
firm follows the accelerate policy with that budget; after its last capex year it returns to its
own policy, and its budget keeps pace with its markets from there.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from calibration.history import History
from model.params import Scenario
from model.scenario import with_schedules

REFERENCE_YEAR = 2023  # the year of the baseline's AI spend and of the capex it is set against
CAPEX_AI_RAMP_START = 0.5  # assumed (range 0.25-1): AI's part of capex in the calibration year, relative to 2023's
REPLAYED_POLICY = "accelerate"
# AWS segment, "total net additions to property and equipment by segment" (Amazon 10-K segment
# information, $bn; finance leases included). 2019-2022 from the 10-Ks as compiled by a secondary
# source whose 2014-16 figures match the SEC filing (medium); 2023 inferred from 2024's $53B being
# +114 % (medium).
AWS_NET_ADDITIONS_BN = {2019: 13.058, 2020: 16.530, 2021: 22.047, 2022: 27.755, 2023: 24.8}
CLOUD_OF_CAPEX = {"amazon": AWS_NET_ADDITIONS_BN}


def ai_share_of_capex(reference: Scenario, capex: pd.DataFrame) -> dict[str, float]:
    """a_f per firm with 2023 capex: the baseline's 2023 AI spend over that capex."""
    in_2023 = capex[capex["year"] == REFERENCE_YEAR].set_index("firm")["capex_bn"]
    return {firm: reference.firms[firm].initial_ai_spend_bn / float(value)
            for firm, value in in_2023.items() if firm in reference.firms and value > 0}


def ramp(year: int, calibration_year: int, start: float = CAPEX_AI_RAMP_START) -> float:
    if year >= REFERENCE_YEAR or calibration_year >= REFERENCE_YEAR:
        return 1.0
    return start + (1.0 - start) * (year - calibration_year) / (REFERENCE_YEAR - calibration_year)


def cloud_part(firm: str, year: int, capex_bn: dict[tuple[str, int], float]) -> float:
    """The share of `year`'s capex that went where 2023's did, relative to 2023's share: AWS's
    additions over Amazon's capex, against 2023 (1 where no segment figure exists)."""
    cloud = CLOUD_OF_CAPEX.get(firm, {})
    if year not in cloud or REFERENCE_YEAR not in cloud or (firm, REFERENCE_YEAR) not in capex_bn:
        return 1.0
    return (cloud[year] / capex_bn[(firm, year)]) / (cloud[REFERENCE_YEAR] / capex_bn[(firm, REFERENCE_YEAR)])


def ai_spend_bn(capex: pd.DataFrame, reference: Scenario, calibration_year: int) -> pd.DataFrame:
    """capex rows with the AI spend they map to (columns year, firm, capex_bn, ai_spend_bn)."""
    shares = ai_share_of_capex(reference, capex)
    rows = capex[capex["firm"].isin(list(shares))].copy()
    by_key = {(firm, int(year)): float(bn) for firm, year, bn in zip(capex["firm"], capex["year"], capex["capex_bn"])}
    rows["ai_spend_bn"] = [bn * shares[firm] * cloud_part(firm, int(year), by_key) * ramp(int(year), calibration_year)
                           for year, firm, bn in zip(rows["year"], rows["firm"], rows["capex_bn"])]
    return rows[["year", "firm", "capex_bn", "ai_spend_bn"]].sort_values(["firm", "year"]).reset_index(drop=True)


def replayed_inputs(history: History, scenario: Scenario, reference: Scenario) -> tuple[dict[str, Any], dict[str, dict[int, Any]]]:
    """(start values, schedules) replaying `history` on `scenario`; `reference` is the 2023 baseline."""
    calibration_year = scenario.start_year - 1
    values: dict[str, Any] = {}
    schedules: dict[str, dict[int, Any]] = {}
    spend = ai_spend_bn(history.capex, reference, calibration_year)
    for firm, rows in spend.groupby("firm", sort=True):
        if firm not in scenario.firms:
            continue
        by_year = dict(zip(rows["year"].astype(int), rows["ai_spend_bn"].astype(float)))
        if calibration_year in by_year:
            values[f"firms.{firm}.initial_ai_spend_bn"] = by_year[calibration_year]
            values[f"firms.{firm}.ai_budget_bn"] = by_year[calibration_year]
        replayed = {year: round(bn, 6) for year, bn in by_year.items() if year >= scenario.start_year}
        if replayed:
            schedules[f"firms.{firm}.ai_budget_bn"] = replayed
            schedules[f"firms.{firm}.policy"] = {min(replayed): REPLAYED_POLICY,
                                                 max(replayed) + 1: scenario.firms[firm].policy}
    funding = history.funding.set_index("year")["ai_venture_funding_bn"]
    if calibration_year in funding.index:
        values["startups.initial_funding_bn"] = float(funding[calibration_year])
        growth = {int(year): round(float(funding[year] / funding[year - 1] - 1.0), 6)
                  for year in funding.index if year >= scenario.start_year and year - 1 in funding.index}
        if growth:
            growth[max(growth) + 1] = scenario.startups.funding_growth
            schedules["startups.funding_growth"] = growth
    return values, schedules


def replay(history: History, scenario: Scenario, reference: Scenario) -> Scenario:
    """`scenario` with the history's inputs replayed (validated like a scenario file)."""
    values, schedules = replayed_inputs(history, scenario, reference)
    return with_schedules(scenario, values, schedules)
