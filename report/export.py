"""Write one run's files: all of them or none.

Everything is written into a hidden staging folder beside `--out` and moved into place only
when every file is complete, so an interrupted or failed run never leaves a folder that looks
finished.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from report.outputs import Command, staged_folder, written_by
from report.tables import RunTables, json_ready

CSV_OPTIONS = {"index": False, "float_format": "%.10g"}


def csv_text(frame: pd.DataFrame) -> str:
    """A table as every command writes it (the browser's downloads are the same bytes)."""
    return frame.to_csv(**CSV_OPTIONS)


def run_table_files(tables: RunTables) -> dict[str, pd.DataFrame]:
    """A run's tables by the file name `run` gives them."""
    return {"shares.csv": tables.shares, "firms.csv": tables.firms, "model.csv": tables.model,
            "events.csv": tables.events}


def write_run(out: Path, tables: RunTables, graph: nx.MultiDiGraph, summary: dict[str, Any],
              figures: Callable[[Path], object] | None = None) -> Path:
    """The tables, the network and the summary; `figures(folder)` draws the plots into the same
    staging folder (the command passes it in: reports do not draw)."""
    with staged_folder(out, Command.RUN) as folder:
        for name, frame in run_table_files(tables).items():
            frame.to_csv(folder / name, **CSV_OPTIONS)
        nx.write_graphml(graph, folder / "network.graphml")
        (folder / "summary.json").write_text(json.dumps(json_ready({**summary, "written_by": written_by(Command.RUN)}), indent=2, allow_nan=False) + "\n")
        if figures is not None:
            figures(folder)
    return out
