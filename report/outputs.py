"""Result folders: which folder a command may write, replace or clear, and how it does so safely.

A folder counts as an earlier result of a command only when its marker file (`summary.json`,
`compare.json` or `design.json`) says it was written by this program *and that command*, and
every entry in it is a regular file that command writes. Anything else — a user's own
`summary.json`, a thesis beside results, a sweep folder given to `run` — is refused, never
replaced or deleted. Deleting is done file by file from that list, never by removing a tree.
"""

from __future__ import annotations

import enum
import errno
import json
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from model.errors import BadInput

PROGRAM = "ai-race-simulator"
FRESH_REMEDY = "choose another folder (--fresh deletes only an earlier result of the same command)"


class OutputError(BadInput, OSError):
    """The output folder cannot or may not be written: one line for the user."""


class Command(enum.Enum):
    """The commands that write a result folder; each owns one kind of folder."""

    RUN = "run"
    COMPARE = "compare"
    SWEEP = "sweep"
    SENSITIVITY = "sensitivity"
    CALIBRATE = "calibrate"
    HINDCAST = "hindcast"
    EXPLORE = "explore"


MARKER = {
    Command.RUN: "summary.json", Command.COMPARE: "compare.json",
    Command.SWEEP: "design.json", Command.SENSITIVITY: "design.json",
    Command.CALIBRATE: "calibration.json", Command.HINDCAST: "hindcast.json", Command.EXPLORE: "explore.json",
}
# A sweep folder's own files, named once: the sweep, its journal and store use these names.
DESIGN = "design.json"
JOURNAL = "journal.jsonl"
REJECTED_JOURNAL = "journal.rejected.jsonl"
RUNS_TABLE = "runs.parquet"
YEARLY_TABLE = "yearly.parquet"
LOCK = ".lock"


def temporary_name(name: str) -> str:
    """Where a sweep file is written before an atomic rename (hidden, '.tmp' at the end)."""
    return f".{name}.tmp"


_SWEEP_FILES = (
    DESIGN, JOURNAL, REJECTED_JOURNAL, RUNS_TABLE, YEARLY_TABLE, LOCK,
    *(temporary_name(name) for name in (DESIGN, RUNS_TABLE, YEARLY_TABLE, JOURNAL)),
)


def staged_name(path: Path) -> Path:
    """Where a result file is written before it is moved into place (its suffix kept for the writer)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


_SWEEP_RESULTS = ("metrics_vs_factors.png", "heatmap.png")
_SENSITIVITY_RESULTS = (
    "sobol_indices.csv", "sobol_second_order.csv", "morris_indices.csv", "sobol_indices.png", "morris_indices.png",
)
_EXPLORE_RESULTS = (
    "explore.json", "explore.md", "paired_runs.parquet", "who_wins.csv", "conditions.csv", "feature_scores.csv",
    "sobol_indices.csv", "who_wins.png", "conditions.png", "feature_scores.png", LOCK,
)
FILES: dict[Command, tuple[str, ...]] = {
    Command.RUN: (
        "shares.csv", "firms.csv", "model.csv", "events.csv", "network.graphml", "summary.json",
        "shares.png", "finance.png", "network.png",
        "shares.parquet", "firms.parquet", "model.parquet", "events.parquet",  # beside a long table (report.export)
    ),
    Command.COMPARE: (
        "compare.csv", "compare_paired.csv", "runs.csv", "share_bands.csv", "valuation_paired.csv",
        "verdict_sensitivity.csv", "uncertainty_split.csv", "parameter_draws.csv", "compare_shares.png", "compare_paired.png", "compare.json",
    ),
    Command.CALIBRATE: (
        "posterior.csv", "posterior_summary.csv", "posterior_correlations.csv", "fit.csv", "fit_vs_history.png",
        "posterior.png", "identification.md", "calibration.json",
    ),
    Command.HINDCAST: (
        "forecast.csv", "runs.parquet", "scores.csv", "score_summary.csv", "coverage.csv", "hindcast.png",
        "hindcast.json",
    ),
    Command.EXPLORE: _EXPLORE_RESULTS + tuple(staged_name(Path(n)).name for n in _EXPLORE_RESULTS),
    Command.SWEEP: _SWEEP_FILES + _SWEEP_RESULTS + tuple(staged_name(Path(n)).name for n in _SWEEP_RESULTS),
    Command.SENSITIVITY: _SWEEP_FILES + _SWEEP_RESULTS + _SENSITIVITY_RESULTS
    + tuple(staged_name(Path(n)).name for n in _SWEEP_RESULTS + _SENSITIVITY_RESULTS),
}
# A command whose folder holds the result folders of another command (explore's two sweeps).
NESTED: dict[Command, Command] = {Command.EXPLORE: Command.SWEEP}


def reason(exc: OSError) -> str:
    """An OSError as a few words for the user; a full disk or quota said as such."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc):
        return "the disk is full"
    return exc.strerror or str(exc)


def replace_with(path: Path, write: Callable[[Path], None], staged: Path | None = None) -> None:
    """Write `path` under a staged name and move it into place: a failed write leaves no partial
    file, and a link planted under the name is replaced, never written through."""
    staged = staged_name(path) if staged is None else staged
    try:
        write(staged)
        os.replace(staged, path)
    except BaseException:
        try:
            staged.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def written_by(command: Command) -> dict[str, str]:
    """The stamp a marker file carries, so a folder is recognised as this command's result."""
    return {"program": PROGRAM, "command": command.value}


def _read_stamp(marker: Path) -> dict[str, Any] | None:
    try:
        if not stat.S_ISREG(marker.lstat().st_mode) or marker.stat().st_size > 100_000_000:
            return None
        data = json.loads(marker.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    stamp = data.get("written_by") if isinstance(data, dict) else None
    return stamp if isinstance(stamp, dict) else None


def folder_owner(folder: Path) -> Command | None:
    """The command whose marker stamp the folder carries (None: no valid stamp)."""
    for command in (Command.RUN, Command.COMPARE, Command.SWEEP, Command.CALIBRATE, Command.HINDCAST, Command.EXPLORE):
        stamp = _read_stamp(folder / MARKER[command])
        if stamp and stamp.get("program") == PROGRAM:
            try:
                return Command(stamp.get("command"))
            except ValueError:
                return None
    return None


def _foreign_entries(folder: Path, command: Command) -> list[str]:
    """Entries of `folder` that `command` does not write (or that are not plain files)."""
    allowed = set(FILES[command])
    foreign = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if (command in NESTED and entry.is_dir(follow_symlinks=False)
                    and folder_owner(Path(entry.path)) is NESTED[command]):
                continue
            # A hard link is someone else's file too: writing the result would write through it.
            if (entry.name not in allowed or not entry.is_file(follow_symlinks=False)
                    or entry.stat(follow_symlinks=False).st_nlink > 1):
                foreign.append(entry.name)
    return sorted(foreign)


def _describe(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _ownership_problem(out: Path, command: Command, remedy: str = "choose another folder") -> str | None:
    """None if `command` may replace the existing folder `out`, else why not (one line, ending in `remedy`)."""
    try:
        if not any(out.iterdir()):
            return None
        owner = folder_owner(out)
        foreign = _foreign_entries(out, command)
    except OSError as exc:
        return f"--out {out}: cannot read the folder ({exc.strerror or exc})"
    if owner is not None and owner is not command:
        return f"--out {out}: holds the results of `{owner.value}`, which `{command.value}` will not replace; {remedy}"
    if owner is None:
        return (f"--out {out}: folder is not empty and is not an earlier `{command.value}` result "
                f"(it holds {_describe(sorted(p.name for p in out.iterdir()))}); {remedy}")
    if foreign:
        return (f"--out {out}: holds files that `{command.value}` did not write or that are linked elsewhere "
                f"({_describe(foreign)}); move them or {remedy}")
    return None


def _existing_ancestor(path: Path) -> Path:
    probe = path
    while not os.path.lexists(probe):
        probe = probe.parent
    return probe


def check_writable(out: Path, command: Command, remedy: str = "choose another folder") -> None:
    """Fail before the work rather than after it; refuse any folder that is not this command's result."""
    try:
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out {out}: exists and is not a folder")
        if out.is_dir():
            problem = _ownership_problem(out.resolve(), command, remedy)
            if problem:
                raise OutputError(problem)
            base = out
        else:
            base = _existing_ancestor(out.absolute().parent)
            if not base.is_dir():
                raise OutputError(f"--out {out}: {base} is a file, not a folder")
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"--out {out}: not a usable folder ({exc.strerror or exc})") from None
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: folder {base} is not writable")


def make_folder(out: Path) -> None:
    """mkdir -p, with any failure as one line."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None


def clear_result(out: Path, command: Command) -> None:
    """`--fresh`: delete an earlier result of `command` in `out`, file by file; refuse anything else.

    The lock file stays: the sweep clearing the folder holds it."""
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    try:
        if {p.name for p in out.iterdir()} <= {LOCK}:  # nothing but the lock the caller holds: nothing to clear
            return
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot read the folder ({exc.strerror or exc})") from None
    problem = _ownership_problem(out.resolve(), command, FRESH_REMEDY)
    if problem:
        raise OutputError(problem)
    out = out.resolve()
    try:
        for name in FILES[command]:
            path = out / name
            if name != LOCK and os.path.lexists(path):
                path.unlink()
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot delete the earlier results ({exc.strerror or exc})") from None


def _remove_own_files(folder: Path, command: Command) -> None:
    """Delete what `command` wrote in `folder` and the folder if that left it empty; keep anything else."""
    for name in FILES[command]:
        path = folder / name
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass


@contextmanager
def staged_folder(out: Path, command: Command) -> Iterator[Path]:
    """Yield a fresh hidden staging folder beside `out`; on success it becomes `out`, on error it goes.

    An existing `out` is replaced only if it is still an earlier result of `command` when the
    work is done (it is checked again then, not only at the start).
    """
    out = out.resolve()  # through a symlinked --out to the folder it names; the link itself stays
    make_folder(out.parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name[:100]}.partial-", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # as mkdir would make it, not mkdtemp's 0700
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    try:
        yield staging
        if out.exists():
            problem = _ownership_problem(out, command) if out.is_dir() else f"--out {out}: exists and is not a folder"
            if problem:
                raise OutputError(problem + " (it changed during the run; nothing was written)")
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name[:100]}.old-", dir=out.parent))
            os.replace(out, retired / "result")
            os.replace(staging, out)
            _remove_own_files(retired / "result", command)
            try:
                retired.rmdir()
            except OSError:
                pass
        else:
            os.replace(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"--out {out}: cannot write the results ({reason(exc)}); nothing was written") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
