"""A sweep's results on disk: an append-only journal while it runs, Parquet tables at the end.

Every finished run is appended to `journal.jsonl` as one line, handed to the operating system
at once (not fsync'd: a crash or Ctrl-C of the sweep loses only the runs in flight; a power
cut may lose the last few), and running the same sweep again skips every run the
journal already holds. The Parquet tables are rebuilt from the journal in run order, streaming
a bounded number of runs at a time, so memory stays flat however long the sweep is.

A journal line is believed only if it is intact (each line ends in a CRC-32 of the rest) and
holds a run the plan expects; damaged lines are moved to `journal.rejected.jsonl`, never
dropped, and their runs are run again. A `.lock` held for the whole sweep keeps a second
sweep off the folder.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import stat
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from report.outputs import JOURNAL, LOCK, REJECTED_JOURNAL, RUNS_TABLE, YEARLY_TABLE, OutputError, reason, temporary_name

JOURNAL_TMP = temporary_name(JOURNAL)
CHUNK_RUNS = 500
_CRC = b',"crc":'


def _clean(value: Any) -> Any:
    """NaN and infinities as None, so every line is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def encode_line(record: dict[str, Any]) -> bytes:
    """One journal line: the record as compact JSON whose last key, "crc", is the CRC-32 of the bytes before it."""
    try:
        text = json.dumps(record, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: rare, so only then is the record walked
        text = json.dumps(_clean(record), separators=(",", ":"), allow_nan=False)
    body = text.encode()[:-1]
    return body + b'%s%d}\n' % (_CRC, zlib.crc32(body))


def decode_line(line: bytes) -> dict[str, Any] | None:
    """The record of an intact line (without its "crc"), or None for a damaged one."""
    cut = line.rfind(_CRC)
    tail = line[cut + len(_CRC):]
    if cut < 0 or not tail.endswith(b"}\n") or not tail[:-2].isdigit() or len(tail) > 13:
        return None
    if int(tail[:-2]) != zlib.crc32(line[:cut]):
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    record.pop("crc", None)
    return record


Check = Callable[[dict[str, Any]], "int | None"]


class Journal:
    """Append-only record of finished runs, keyed by run index.

    `check` maps an intact record to its run index, or None if the plan has no such run; the
    default believes any intact record with an int "run"."""

    def __init__(self, folder: Path, check: Check | None = None):
        self.folder = folder
        self.path = folder / JOURNAL
        self.check = check or (lambda record: record["run"] if type(record.get("run")) is int else None)
        self.offsets: dict[int, int] = {}
        self.rejected: list[int] = []
        self.torn = False

    def done(self) -> dict[int, int]:
        """Run index -> byte offset of its line, after moving every line not to be believed to
        `journal.rejected.jsonl`: damaged, not a run of this plan, or a repeat of an earlier run.
        A torn last line (a crash mid-write) is cut off and moved there too."""
        self.offsets, self.rejected, self.torn = {}, [], False
        bad: set[int] = set()
        torn = b""
        try:
            if not os.path.lexists(self.path):
                return self.offsets
            if not stat.S_ISREG(os.lstat(self.path).st_mode):
                raise OutputError(f"--out {self.folder}: {JOURNAL} is not a regular file; move it away")
            with self.path.open("rb") as handle:
                position = 0
                for number, line in enumerate(handle, start=1):
                    if not line.endswith(b"\n"):
                        torn = line
                        break
                    record = decode_line(line)
                    run = None if record is None else self.check(record)
                    if run is None or run in self.offsets:
                        bad.add(number)
                    else:
                        self.offsets[run] = position
                    position += len(line)
            self.rejected, self.torn = sorted(bad), bool(torn)
            if bad:
                self._rewrite(bad, torn)
            elif torn:
                self._keep_rejected([torn + b"\n"])
                with self.path.open("r+b") as handle:
                    handle.truncate(position)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"--out {self.folder}: cannot read or repair {JOURNAL} ({reason(exc)})") from None
        return self.offsets

    def _keep_rejected(self, lines: list[bytes]) -> None:
        with (self.folder / REJECTED_JOURNAL).open("ab") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def _rewrite(self, bad: set[int], torn: bytes) -> None:
        """Rejected lines are saved first, then the journal is replaced atomically by its believed lines."""
        with self.path.open("rb") as handle:
            self._keep_rejected([line for number, line in enumerate(handle, start=1) if number in bad]
                                + ([torn + b"\n"] if torn else []))
        tmp = self.folder / JOURNAL_TMP
        offsets: dict[int, int] = {}
        kept = {position: run for run, position in self.offsets.items()}
        with self.path.open("rb") as source, tmp.open("wb") as target:
            position = 0
            for line in source:
                if position in kept:
                    offsets[kept[position]] = target.tell()
                    target.write(line)
                position += len(line)
            target.flush()
            os.fsync(target.fileno())
        os.replace(tmp, self.path)
        _fsync_folder(self.folder)
        self.offsets = offsets

    def append(self, record: dict[str, Any]) -> None:
        """Add one finished run; a failed write (a full disk) is undone and reported in one line."""
        line = encode_line(record)
        start = None
        try:
            # Never through a link planted under the journal's name: a symlink is refused by
            # O_NOFOLLOW, a hard link (someone else's file) by its link count.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            with os.fdopen(fd, "ab") as handle:
                if os.fstat(handle.fileno()).st_nlink > 1:
                    raise OSError(errno.EMLINK, "the journal is linked to another file")
                start = handle.tell()
                handle.write(line)
        except OSError as exc:
            if start is not None:
                try:
                    os.truncate(self.path, start)
                except OSError:
                    pass
            raise OutputError(f"--out {self.folder}: cannot write {JOURNAL} ({reason(exc)}); the {len(self.offsets)} "
                              f"runs already in it are kept, and running the same command again resumes") from None
        self.offsets[record["run"]] = start

    def records_in_order(self, offsets: dict[int, int] | None = None) -> Iterator[dict[str, Any]]:
        offsets = self.offsets if offsets is None else offsets
        with self.path.open("rb") as handle:
            for run in sorted(offsets):
                handle.seek(offsets[run])
                yield decode_line(handle.readline())

    def warning(self) -> str | None:
        """One line saying which lines were not believed, or None if all were."""
        if not (self.rejected or self.torn):
            return None
        parts = []
        if self.rejected:
            shown = ", ".join(map(str, self.rejected[:10])) + (f" and {len(self.rejected) - 10} more" if len(self.rejected) > 10 else "")
            parts.append(f"rejected {len(self.rejected)} damaged or unexpected line{'s' * (len(self.rejected) > 1)} "
                         f"(line{'s' * (len(self.rejected) > 1)} {shown})")
        if self.torn:
            parts.append("cut off a torn last line (a run being written when the sweep stopped)")
        return (f"--out {self.folder}: {JOURNAL}: {' and '.join(parts)}; moved to {REJECTED_JOURNAL}, "
                f"and the runs they held will be run again")


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderLock:
    """An exclusive, non-blocking flock on `<folder>/.lock`, holding the owner's pid for the message."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock or refuse in one line; a lock file replaced under us (another sweep's
        `--fresh`) is taken again, so two sweeps never both believe they hold it."""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise OutputError(f"--out {self.folder}: cannot create the lock file {LOCK} ({reason(exc)})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise OutputError(f"--out {self.folder}: another sweep is running on this folder (pid {holder}); "
                                  f"wait for it or choose another folder") from None
            except OSError as exc:
                os.close(fd)
                raise OutputError(f"--out {self.folder}: cannot lock {LOCK} ({reason(exc)})") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise OutputError(f"--out {self.folder}: the lock file {LOCK} keeps changing; is another sweep clearing it?")
        self.release()
        self.fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only for the message
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            text = ""
        return text if text.isdigit() else "unknown"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _record_chunks(records: Iterator[dict[str, Any]]) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """The journal's records, read once, as chunks of (run rows, yearly rows) of CHUNK_RUNS runs each."""
    rows: list[dict[str, Any]] = []
    yearly: list[dict[str, Any]] = []
    for record in records:
        rows.append(record["row"])
        yearly += [{"run_id": record["run"], **row} for row in record.get("yearly") or []]
        if len(rows) >= CHUNK_RUNS:
            yield rows, yearly
            rows, yearly = [], []
    if rows:
        yield rows, yearly


def write_tables(journal: Journal, folder: Path, run_schema: pa.Schema, yearly_schema: pa.Schema) -> tuple[int, int]:
    """runs.parquet and yearly.parquet from the journal's believed runs, in run order; returns
    (runs, yearly rows). A failure (a full disk) leaves the journal and any earlier tables as they were."""

    tmp_runs, tmp_yearly = folder / temporary_name(RUNS_TABLE), folder / temporary_name(YEARLY_TABLE)
    try:
        runs = yearly = 0
        with pq.ParquetWriter(tmp_runs, run_schema) as run_writer, pq.ParquetWriter(tmp_yearly, yearly_schema) as yearly_writer:
            for rows, yearly_rows in _record_chunks(journal.records_in_order()):
                run_writer.write_table(pa.Table.from_pylist(rows, schema=run_schema))
                yearly_writer.write_table(pa.Table.from_pylist(yearly_rows, schema=yearly_schema))
                runs, yearly = runs + len(rows), yearly + len(yearly_rows)
        tmp_runs.replace(folder / RUNS_TABLE)
        tmp_yearly.replace(folder / YEARLY_TABLE)
    except (OSError, pa.ArrowException) as exc:
        for tmp in (tmp_runs, tmp_yearly):
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
        what = reason(exc) if isinstance(exc, OSError) else f"a journal value does not fit the table: {exc}"
        raise OutputError(f"--out {folder}: cannot write the Parquet tables ({what}); {JOURNAL} is kept, "
                          f"and running the same command again writes them") from None
    return runs, yearly
