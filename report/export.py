"""Write one run's files: all of them or none.

Everything is written into a hidden staging folder beside `--out` and moved into place only
when every file is complete, so an interrupted or failed run never leaves a folder that looks
finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx

from report.outputs import Command, staged_folder, written_by
from report.tables import RunTables, json_ready


def write_run(out: Path, tables: RunTables, graph: nx.MultiDiGraph, summary: dict[str, Any], plots: bool = True) -> Path:
    from viz.plots import plot_finance, plot_network, plot_shares, save_figure

    with staged_folder(out, Command.RUN) as folder:
        tables.shares.to_csv(folder / "shares.csv", index=False, float_format="%.10g")
        tables.firms.to_csv(folder / "firms.csv", index=False, float_format="%.10g")
        tables.model.to_csv(folder / "model.csv", index=False, float_format="%.10g")
        tables.events.to_csv(folder / "events.csv", index=False, float_format="%.10g")
        nx.write_graphml(graph, folder / "network.graphml")
        (folder / "summary.json").write_text(json.dumps(json_ready({**summary, "written_by": written_by(Command.RUN)}), indent=2, allow_nan=False) + "\n")
        if plots:
            save_figure(plot_shares(tables.shares), folder / "shares.png")
            save_figure(plot_finance(tables.firms), folder / "finance.png")
            save_figure(plot_network(graph), folder / "network.png")
    return out
