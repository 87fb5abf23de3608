"""Write one run's files: all of them or none; and the one way `run`, `compare` and the browser write a table.

Everything is written into a hidden staging folder beside `--out` and moved into place only
when every file is complete, so an interrupted or failed run never leaves a folder that looks
finished. Tables go through pyarrow's CSV writer (ten times pandas' `to_csv`), every float at
full precision; a table of more than `PARQUET_ROWS` rows is also written as Parquet beside it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from report.outputs import Command, staged_folder, written_by
from report.tables import RunTables, json_ready

PARQUET_ROWS = 100_000  # a table this long is also written as Parquet: a fifth to a third of the CSV, far quicker to read
_PLAIN = pacsv.WriteOptions(quoting_style="none", quoting_header="none")  # ids, kinds, segments: nothing in them needs quotes...
_QUOTED = pacsv.WriteOptions(quoting_style="needed")  # ...unless a scenario's names do: then every string is quoted


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_csv(table: pd.DataFrame | pa.Table, sink: str | PathLike | io.BytesIO) -> None:
    """A table as `run`, `compare` and the browser write it: a header, then one line per row; true/false,
    empty for missing; quotes only when a value (or a column name) needs them."""
    table = arrow_table(table) if isinstance(table, pd.DataFrame) else table
    try:
        pacsv.write_csv(table, sink, _PLAIN)
    except pa.ArrowInvalid:
        if isinstance(sink, io.BytesIO):
            sink.seek(0)
            sink.truncate()
        pacsv.write_csv(table, sink, _QUOTED)


def csv_text(frame: pd.DataFrame) -> str:
    """The bytes `write_csv` writes, as text (the browser's downloads are the CLI's files)."""
    buffer = io.BytesIO()
    write_csv(frame, buffer)
    return buffer.getvalue().decode()


def write_table(frame: pd.DataFrame, folder: Path, name: str) -> list[str]:
    """`name` (a .csv) in `folder`, and beside it the same table as .parquet when it is long; the names written."""
    table = arrow_table(frame)
    write_csv(table, folder / name)
    if table.num_rows <= PARQUET_ROWS:
        return [name]
    parquet = Path(name).with_suffix(".parquet").name
    pq.write_table(table, folder / parquet)
    return [name, parquet]


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
            write_table(frame, folder, name)
        nx.write_graphml(graph, folder / "network.graphml")  # through lxml: twice the standard library's speed
        (folder / "summary.json").write_text(json.dumps(json_ready({**summary, "written_by": written_by(Command.RUN)}), indent=2, allow_nan=False) + "\n")
        if figures is not None:
            figures(folder)
    return out
