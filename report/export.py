"""Write one run's files: all of them or none.

Everything is written into a hidden staging folder beside `--out` and moved into place only
when every file is complete, so an interrupted or failed run never leaves a folder that looks
finished.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import networkx as nx

from report.tables import RunTables, json_ready

RUN_FILES = (
    "shares.csv", "firms.csv", "model.csv", "events.csv", "network.graphml", "summary.json",
    "shares.png", "finance.png", "network.png",
)

# One of these in a folder marks it as written by this tool (a run, a comparison, a sweep).
RESULT_MARKERS = ("summary.json", "compare.json", "design.json")


class OutputError(OSError):
    """The output folder cannot be written."""


def check_writable(out: Path) -> None:
    """Fail before the run rather than after it; never replace a folder that is not an earlier run's."""
    parent = out.resolve().parent
    probe_base = parent
    while not probe_base.exists():
        probe_base = probe_base.parent
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not any((out / marker).is_file() for marker in RESULT_MARKERS):
        raise OutputError(f"--out {out}: folder is not empty and holds no earlier results; choose another")
    if not os.access(probe_base, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: folder {probe_base} is not writable")


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `out`, on any error it is removed."""
    out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    try:
        yield staging
        if out.exists():
            retired = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_run(out: Path, tables: RunTables, graph: nx.MultiDiGraph, summary: dict[str, Any], plots: bool = True) -> Path:
    from viz.plots import plot_finance, plot_network, plot_shares, save_figure

    with staged_folder(out) as folder:
        tables.shares.to_csv(folder / "shares.csv", index=False, float_format="%.10g")
        tables.firms.to_csv(folder / "firms.csv", index=False, float_format="%.10g")
        tables.model.to_csv(folder / "model.csv", index=False, float_format="%.10g")
        tables.events.to_csv(folder / "events.csv", index=False, float_format="%.10g")
        nx.write_graphml(graph, folder / "network.graphml")
        (folder / "summary.json").write_text(json.dumps(json_ready(summary), indent=2, allow_nan=False) + "\n")
        if plots:
            save_figure(plot_shares(tables.shares), folder / "shares.png")
            save_figure(plot_finance(tables.firms), folder / "finance.png")
            save_figure(plot_network(graph), folder / "network.png")
    return out
