"""Year-indexed inputs: a scenario's `[schedules]` give an input parameter a value by year.

A schedule holds its value from its year on, until its next year; before its first year the
scenario's own value applies. So a hindcast replays what firms spent and a forecast continues
from it on one code path. Budgets are the exception: a scheduled budget is that year's budget,
and afterwards the budget keeps pace with the firm's markets from there (`plan_budgets`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from model.params import SCHEDULABLE, Scenario

BUDGET = "ai_budget_bn"
POLICY = "policy"


def matches(path: str, pattern: str) -> bool:
    """Whether a dotted parameter path is an instance of a SCHEDULABLE pattern ('*' is one name)."""
    parts, wanted = path.split("."), pattern.split(".")
    return len(parts) == len(wanted) and all(w in ("*", p) for p, w in zip(parts, wanted))


def schedulable(path: str) -> bool:
    return any(matches(path, pattern) for pattern in SCHEDULABLE)


def held(by_year: Mapping[int, Any], year: int) -> Any | None:
    """The value of the latest scheduled year at or before `year`, None before the first."""
    started = [y for y in by_year if y <= year]
    return by_year[max(started)] if started else None


def in_year(params: Scenario, year: int) -> Scenario:
    """`params` with every scheduled input at its value for `year` (unscheduled values untouched)."""
    for path, by_year in params.schedules.items():
        value = held(by_year, year)
        if value is not None:
            params = _with_leaf(params, path.split("."), value)
    return params


def firm_inputs(params: Scenario, year: int, name: str) -> dict[str, Any]:
    """Firm id -> the value of its `firms.<id>.<name>` schedule set for exactly `year`."""
    found = {}
    for path, by_year in params.schedules.items():
        parts = path.split(".")
        if parts[0] == "firms" and parts[-1] == name and year in by_year:
            found[parts[1]] = by_year[year]
    return found


def _with_leaf(node: Any, parts: list[str], value: Any) -> Any:
    head, rest = parts[0], parts[1:]
    current = getattr(node, head)
    if isinstance(current, dict):
        item, rest = rest[0], rest[1:]
        inner = _with_leaf(current[item], rest, value) if rest else value
        return dataclasses.replace(node, **{head: {**current, item: inner}})
    return dataclasses.replace(node, **{head: _with_leaf(current, rest, value) if rest else value})
