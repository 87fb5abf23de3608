"""A sweep's results on disk: an append-only journal while it runs, Parquet tables at the end.

Every finished run is appended to `journal.jsonl` as one line, handed to the operating system
at once (not fsync'd: a crash or Ctrl-C of the sweep loses only the runs in flight; a power
cut may lose the last few), and running the same sweep again skips every run the
journal already holds. The Parquet tables are rebuilt from the journal in run order, streaming
a bounded number of runs at a time, so memory stays flat however long the sweep is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

JOURNAL = "journal.jsonl"
CHUNK_RUNS = 500


def _clean(value: Any) -> Any:
    """NaN and infinities as None, so every line is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class Journal:
    """Append-only record of finished runs, keyed by run index."""

    def __init__(self, folder: Path):
        self.path = folder / JOURNAL

    def done(self) -> dict[int, int]:
        """Run index -> byte offset of its line; a torn last line (a crash mid-write) is cut off."""
        offsets: dict[int, int] = {}
        if not self.path.exists():
            return offsets
        good_end = 0
        with self.path.open("rb") as handle:
            while True:
                start = handle.tell()
                line = handle.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):
                    break
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    break
                offsets[int(record["run"])] = start
                good_end = handle.tell()
        if good_end < self.path.stat().st_size:
            with self.path.open("r+b") as handle:
                handle.truncate(good_end)
        return offsets

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(_clean(record), separators=(",", ":"), allow_nan=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)

    def records_in_order(self, offsets: dict[int, int]) -> Iterator[dict[str, Any]]:
        with self.path.open("rb") as handle:
            for run in sorted(offsets):
                handle.seek(offsets[run])
                yield json.loads(handle.readline())


def _write_chunks(path: Path, batches: Iterator[list[dict[str, Any]]], schema: pa.Schema | None = None) -> int:
    """Stream lists of row dicts into one Parquet file; the schema is fixed by the first batch."""
    writer = None
    rows = 0
    try:
        for batch in batches:
            if not batch:
                continue
            table = pa.Table.from_pylist(batch, schema=schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table)
            rows += len(batch)
    finally:
        if writer is not None:
            writer.close()
    if writer is None and schema is not None:
        pq.write_table(schema.empty_table(), path)
    return rows


def write_tables(journal: Journal, folder: Path, run_schema: pa.Schema, yearly_schema: pa.Schema) -> tuple[int, int]:
    """runs.parquet and yearly.parquet from the journal, in run order; returns (runs, yearly rows)."""
    offsets = journal.done()

    def run_batches() -> Iterator[list[dict[str, Any]]]:
        batch = []
        for record in journal.records_in_order(offsets):
            batch.append(record["row"])
            if len(batch) >= CHUNK_RUNS:
                yield batch
                batch = []
        yield batch

    def yearly_batches() -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        for i, record in enumerate(journal.records_in_order(offsets)):
            batch += [{"run_id": record["run"], **row} for row in record.get("yearly") or []]
            if (i + 1) % CHUNK_RUNS == 0:
                yield batch
                batch = []
        yield batch

    tmp_runs, tmp_yearly = folder / ".runs.parquet.tmp", folder / ".yearly.parquet.tmp"
    runs = _write_chunks(tmp_runs, run_batches(), run_schema)
    yearly = _write_chunks(tmp_yearly, yearly_batches(), yearly_schema)
    tmp_runs.replace(folder / "runs.parquet")
    tmp_yearly.replace(folder / "yearly.parquet")
    return runs, yearly
