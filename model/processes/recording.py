"""Process 10, recording: the year's tables (through Mesa's DataCollector) and the network.

Shares are as at the end of the year; revenue is what each firm earned during it. Edges of the
network are added as processes return their events and share flows; node attributes (revenue,
strategy) are brought up to the year's end here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import mesa
import networkx as nx
import numpy as np

from model.ledger import KIND_LABELS, FirmLedger, Kind
from model.params import SEGMENTS, STRATEGIES
from model.processes.shares import ShareFlows
from model.schema import EVENT_COLUMNS, EVENT_LINKS, FIRM_COLUMNS, FIRM_SOURCES, SHARE_COLUMNS, Event, EventKind, LinkKind


def model_reporters() -> dict[str, str | Callable]:
    """The model-level series, one row a year: segment sizes and concentration, input markets, startups, deals."""
    reporters: dict[str, str | Callable] = {"year": "year"}
    for s, seg in enumerate(SEGMENTS):
        reporters[f"size_bn_{seg}"] = lambda m, s=s: float(m.served_sizes()[s])
        reporters[f"hhi_{seg}"] = lambda m, s=s: m.segment_hhi(s)
    reporters.update({
        "ai_wage_index": lambda m: m.inputs.wage_index,
        "compute_utilization": lambda m: m.inputs.compute_utilization,
        "compute_demand_ratio": lambda m: m.inputs.compute_demand_ratio,
        "startups_alive": lambda m: int(np.sum(m.ledger.col("alive") & (m.ledger.col("kind") == Kind.STARTUP))),
        "acquisitions": lambda m: m.events_of(EventKind.ACQUISITION),
        "blocked_acquisitions": lambda m: m.events_of(EventKind.BLOCKED),
        "partnerships_reviewed": lambda m: m.events_of(EventKind.PARTNERSHIP_CLEARED) + m.events_of(EventKind.PARTNERSHIP_BLOCKED),
        "blocked_partnerships": lambda m: m.events_of(EventKind.PARTNERSHIP_BLOCKED),
        "funding_rounds": lambda m: m.events_of(EventKind.FUNDING),
        "funding_raised_bn": lambda m: float(sum(e.value_bn for e in m.events_this_year if e.kind is EventKind.FUNDING)),
    })
    return reporters


def datacollector(model_reporters: dict[str, str | Callable], major_type: type) -> mesa.DataCollector:
    """Model-level series; the six majors through Mesa's per-agent reporters; every firm (thousands
    of startups included) through the "firms" table, filled a whole column at a time."""
    return mesa.DataCollector(
        model_reporters=model_reporters,
        agenttype_reporters={major_type: {"year": lambda a: a.model.year, "firm": "firm_id"}
                             | {name: name for name in FIRM_COLUMNS if name not in ("year", "firm")}},
        tables={"firms": list(FIRM_COLUMNS), "shares": list(SHARE_COLUMNS), "events": list(EVENT_COLUMNS)},
    )


def add_firm_nodes(graph: nx.MultiDiGraph, ids: Iterable[str], kind: Kind, year: int, niches: Iterable[str] | None = None) -> None:
    """A node per new firm (startups with their niche); revenue and strategy are filled in as years are recorded."""
    for firm_id, niche in zip(ids, niches if niches is not None else itertools.repeat(None)):
        graph.add_node(firm_id, kind=kind.label, **({} if niche is None else {"niche": niche}), entry_year=year,
                       exit_year=-1, alive=True, revenue_bn=0.0, strategy="")


def add_event_links(graph: nx.MultiDiGraph, events: Iterable[Event], year: int) -> None:
    """The edge each deal or partnership leaves: who partnered with, bought or was blocked from buying whom."""
    for event in events:
        link = EVENT_LINKS.get(event.kind)
        if link is LinkKind.PARTNER:
            graph.add_edge(event.source, event.target, kind=link.value, mode=event.mode.value, year=year, value_bn=event.value_bn)
        elif link is not None:
            graph.add_edge(event.source, event.target, kind=link.value, year=year, value_bn=event.value_bn)


def add_share_flows(graph: nx.MultiDiGraph, ids: list[str], flows: Iterable[ShareFlows], year: int) -> None:
    kind = LinkKind.SHARE_FLOW.value
    for flow in flows:
        for i, j, value in zip(flow.source_rows.tolist(), flow.target_rows.tolist(), flow.value_bn.tolist()):
            graph.add_edge(ids[i], ids[j], kind=kind, segment=flow.segment, year=year, value_bn=value)


def mark_exits(graph: nx.MultiDiGraph, ids: Iterable[str], year: int) -> None:
    for firm_id in ids:
        graph.nodes[firm_id].update(alive=False, exit_year=year)


def record_year(collector: mesa.DataCollector, model: mesa.Model, ledger: FirmLedger, graph: nx.MultiDiGraph | None,
                events: list[Event], year: int, started: bool) -> None:
    """Totals, network node attributes (unless `graph` is None: not recorded) and the year's rows of
    every table; `started` is False for the calibrated start."""
    n = ledger.n
    ledger.total_capability[:n] = ledger.col("capability").sum(axis=1)
    ledger.total_revenue_bn[:n] = ledger.col("revenue_bn").sum(axis=1)
    rows = np.flatnonzero(ledger.col("alive") | (ledger.col("exit_year") == year))
    if graph is not None:
        update_nodes(graph, ledger, rows, started)
    record_tables(collector, ledger, rows, events, year, started)
    collector.collect(model)


def update_nodes(graph: nx.MultiDiGraph, ledger: FirmLedger, rows: np.ndarray, started: bool) -> None:
    """Each recorded firm's node gets its revenue and strategy of the year."""
    ids, nodes = ledger.ids, graph.nodes
    strategies = [STRATEGIES[k] if started else "" for k in ledger.strategy[rows].tolist()]
    for row, revenue, strategy, kind in zip(rows.tolist(), ledger.total_revenue_bn[rows].tolist(), strategies,
                                            ledger.kind[rows].tolist()):
        node = nodes[ids[row]]
        node["revenue_bn"] = revenue
        node["strategy"] = strategy if kind != Kind.FRINGE else ""


def record_tables(collector: mesa.DataCollector, ledger: FirmLedger, rows: np.ndarray, events: list[Event], year: int,
                  started: bool) -> None:
    """The year's rows of the firms, shares and events tables, a whole column at a time."""
    ids = ledger.ids
    firms = rows[ledger.kind[rows] != Kind.FRINGE]
    record = {"year": [year] * firms.size, "firm": [ids[r] for r in firms.tolist()],
              "kind": [KIND_LABELS[k] for k in ledger.kind[firms].tolist()],
              "strategy": [STRATEGIES[k] if started else "" for k in ledger.strategy[firms].tolist()]}
    record |= {name: getattr(ledger, column)[firms].tolist() for name, column in FIRM_SOURCES.items() if column}
    _extend_table(collector, "firms", record)
    firm_rows, segments = np.nonzero(ledger.present[rows])
    firm_rows = rows[firm_rows]
    _extend_table(collector, "shares", {
        "year": [year] * firm_rows.size,
        "segment": [SEGMENTS[s] for s in segments.tolist()],
        "firm": [ids[r] for r in firm_rows.tolist()],
        "share": ledger.share[firm_rows, segments].tolist(),
        "revenue_bn": ledger.revenue_bn[firm_rows, segments].tolist(),
    })
    if events:
        _extend_table(collector, "events", {
            "year": [year] * len(events), "event": [e.kind.value for e in events], "source": [e.source for e in events],
            "target": [e.target for e in events], "segment": [e.segment for e in events],
            "value_bn": [float(e.value_bn) for e in events]})


def count_events(events: Iterable[Event], kind: EventKind) -> int:
    return sum(1 for e in events if e.kind is kind)


def _extend_table(collector: mesa.DataCollector, name: str, columns: dict[str, list]) -> None:
    """Many rows at once into a DataCollector table (what add_table_row does one row at a time)."""
    table = collector.tables[name]
    if set(columns) != set(table):
        raise KeyError(f"table {name} has columns {sorted(table)}, got {sorted(columns)}")
    for column, values in columns.items():
        table[column].extend(values)
