"""Sweeps under hostile input and a hostile environment (issue 9): damaged journals and folders,
two sweeps on one folder, a killed parent, absurd worker counts, overflowing runs, full disks,
unreachable schedulers, broken pipes and meaningless sensitivity samples.

Every destructive path runs in a temporary folder; every process a test starts is ended by its id.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeps.design import grid_points, parse_factor, run_seed
from sweeps.execute import RunSpec, run_spec, worker_limit
from sweeps.sweep import SweepPlan, run_sweep

ROOT = Path(__file__).resolve().parent.parent
GRID = ["firms.amazon.ai_budget_bn=20:60:2"]
TINY = ("sweep", "--vary", "firms.amazon.ai_budget_bn=20:40:2", "--years", "1", "--workers", "1", "--no-plots", "--quiet")
# Long enough (120 runs of 10 years) that a sweep is still running while a test acts on it.
LONG = ("sweep", "--vary", "firms.amazon.ai_budget_bn=10:80:20", "--replicates", "6", "--years", "10", "--no-plots",
        "--quiet")
# Long enough (1,200 runs) to outlast two more sweeps starting up beside it, on a busy machine; stopped by the test.
LONGER = ("sweep", "--vary", "firms.amazon.ai_budget_bn=10:80:20", "--replicates", "60", "--years", "10",
          "--no-plots", "--quiet")
# Within every bound, yet a firm's return on an almost-zero AI spend overflows to inf.
# Walmart spends next to nothing on AI and buys nothing, so its return on AI spend divides by ~0.
OVERFLOW = ("--set", "firms.walmart.ai_budget_bn=5e-324", "--set", "firms.walmart.policy=accelerate",
            "--set", "firms.walmart.initial_ai_spend_bn=5e-324", "--set", "acquisitions.bid_probability=0")


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_error_line(result: subprocess.CompletedProcess, *named: str, status: int = 2) -> str:
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for word in named:
        assert word in lines[0], lines[0]
    return lines[0]


def plan_of(replicates: int = 3, years: int = 2) -> SweepPlan:
    factors = [parse_factor(t) for t in GRID]
    return SweepPlan(scenario="baseline", overrides=[], factors=[f.path for f in factors], points=grid_points(factors),
                     replicates=replicates, seed=11, years=years, design="grid")


def journal_lines(folder: Path) -> list[bytes]:
    path = folder / "journal.jsonl"
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def start_sweep(*args: str) -> subprocess.Popen:
    """`run.py` in the background, its stderr kept for the test to read."""
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_for_lines(folder: Path, count: int, process: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.time() + limit
    while len(journal_lines(folder)) < count:
        assert process.poll() is None, "the sweep ended before the test could act on it"
        assert time.time() < deadline, "the sweep wrote no journal lines"
        time.sleep(0.05)


def line_for(record: dict) -> bytes:
    """A journal line with a correct checksum, as a hand-edit or another program might write one."""
    body = json.dumps(record, separators=(",", ":")).encode()[:-1]
    return body + b',"crc":%d}\n' % zlib.crc32(body)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 6-run sweep to damage (copies of it, never itself)."""
    out = tmp_path_factory.mktemp("finished") / "sweep"
    assert run_sweep(plan_of(), out, workers=1)["done"] == 6
    return out


def copy_of(finished: Path, where: Path) -> Path:
    shutil.copytree(finished, where)
    return where


def resume(out: Path) -> tuple[dict, list[str]]:
    """Run the plan again on `out`; the report and the warnings it gave about the journal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run_sweep(plan_of(), out, workers=1)
    return report, [str(w.message) for w in caught if "journal.jsonl" in str(w.message)]


def tables(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(folder / "runs.parquet"), pd.read_parquet(folder / "yearly.parquet")


# ------------------------------------------------------------------ A. a damaged journal is not believed

def test_a_run_outside_the_plan_is_rejected_not_counted(finished, tmp_path):
    out = copy_of(finished, tmp_path / "s")
    record = json.loads(journal_lines(out)[0])
    record.pop("crc", None)
    foreign = line_for({**record, "run": 99999, "row": {**record["row"], "run_id": 99999}})
    with (out / "journal.jsonl").open("ab") as handle:
        handle.write(foreign)
    report, said = resume(out)
    runs, _ = tables(out)
    assert report["done"] == 6 and list(runs["run_id"]) == list(range(6))
    assert len(said) == 1 and "line 7" in said[0] and "journal.rejected.jsonl" in said[0]
    assert (out / "journal.rejected.jsonl").read_bytes() == foreign


def test_lines_after_a_bad_line_are_kept_and_the_bad_one_is_reported(finished, tmp_path):
    out = copy_of(finished, tmp_path / "s")
    lines = journal_lines(out)
    (out / "journal.jsonl").write_bytes(b"".join(lines[:2]) + b"\n" + b"garbage\n" + b"".join(lines[2:]))
    report, said = resume(out)
    assert report["ran_now"] == 0 and report["skipped"] == 6, "no valid line after the damage is dropped"
    assert len(said) == 1 and "rejected 2" in said[0] and "lines 3, 4" in said[0]
    assert journal_lines(out) == lines, "the journal is rewritten with exactly its valid lines"
    assert (out / "journal.rejected.jsonl").read_bytes() == b"\ngarbage\n"
    pd.testing.assert_frame_equal(tables(out)[0], tables(finished)[0])


@pytest.mark.parametrize("bad", [b"\xff\xfe\x00not utf-8", b"{}", b'{"run":"abc"}', b"[]", b"42", b'{"run": 1}',
                                 b'{"run": 2, "row": {}}', b"{" * 100_000])
def test_every_kind_of_damaged_line_is_rejected(finished, tmp_path, bad):
    out = copy_of(finished, tmp_path / "s")
    lines = journal_lines(out)
    (out / "journal.jsonl").write_bytes(lines[0] + bad + b"\n" + b"".join(lines[1:]))
    report, said = resume(out)
    assert report["done"] == 6 and report["ran_now"] == 0
    assert len(said) == 1 and "line 2)" in said[0]
    pd.testing.assert_frame_equal(tables(out)[0], tables(finished)[0])


def test_a_line_inconsistent_with_the_plan_is_rejected_and_its_run_rerun(finished, tmp_path):
    """A well-formed line whose seed, point or status does not match the plan is not believed."""
    assert_forged_lines_are_rerun(finished, tmp_path, [
        lambda r: r["row"].update({"seed": run_seed(11, 0, 0) + 1}), lambda r: r["row"].update({"point": 1}),
        lambda r: r["row"].update({"status": "fine"})])


def test_checksummed_lines_with_values_the_tables_cannot_hold_are_rejected(finished, tmp_path):
    assert_forged_lines_are_rerun(finished, tmp_path, [
        lambda r: r["row"].update({"amazon.cumulative_profit_bn": 10**400}),
        lambda r: r["yearly"][0].update({"cash_bn": "lots"}), lambda r: r["yearly"][0].update({"year": 2.5})])


def assert_forged_lines_are_rerun(finished: Path, tmp_path: Path, damages) -> None:
    """Rewrite the first lines with `damages` (valid checksums, as a hand-edit would); they are
    rejected by number, their runs rerun, and the tables end as if nothing happened."""
    out = copy_of(finished, tmp_path / "s")
    lines = journal_lines(out)
    forged = []
    for line, damage in zip(lines, damages):
        record = json.loads(line)
        record.pop("crc", None)
        damage(record)
        forged.append(line_for(record))
    (out / "journal.jsonl").write_bytes(b"".join(forged) + b"".join(lines[len(damages):]))
    report, said = resume(out)
    assert report["ran_now"] == len(damages) and "lines 1, 2, 3" in said[0]
    pd.testing.assert_frame_equal(tables(out)[0], tables(finished)[0])


def test_a_repeated_run_keeps_its_first_line_and_reports_the_rest(finished, tmp_path):
    out = copy_of(finished, tmp_path / "s")
    lines = journal_lines(out)
    (out / "journal.jsonl").write_bytes(b"".join(lines) + lines[2] + lines[2])
    report, said = resume(out)
    assert report["done"] == 6
    assert "rejected 2" in said[0] and "lines 7, 8" in said[0]
    assert tables(out)[0]["run_id"].is_unique


def test_a_torn_last_line_is_cut_off_reported_and_kept_aside(finished, tmp_path):
    out = copy_of(finished, tmp_path / "s")
    lines = journal_lines(out)
    (out / "journal.jsonl").write_bytes(b"".join(lines[:5]) + lines[5][:100])
    report, said = resume(out)
    assert report["ran_now"] == 1 and len(said) == 1 and "torn last line" in said[0]
    assert (out / "journal.rejected.jsonl").read_bytes() == lines[5][:100] + b"\n"
    pd.testing.assert_frame_equal(tables(out)[0], tables(finished)[0])


def _split(data: bytes) -> list[bytes]:
    """Lines by b"\\n" alone (a flipped byte may make a \\r or \\x0b that is no line break here)."""
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _damage(data: bytes, operations) -> bytes:
    for kind, where, extra in operations:
        lines = _split(data)
        if kind == "insert":
            lines.insert(int(where * len(lines)), extra + b"\n")
        elif kind == "append":
            lines.append(extra + b"\n")
        elif kind == "duplicate" and lines:
            line = lines[int(where * (len(lines) - 1))]
            lines.insert(int(extra * len(lines)), line if line.endswith(b"\n") else line + b"\n")
        data = b"".join(lines)
        if kind == "truncate":
            data = data[: int(where * len(data))]
        elif kind == "flip" and data:
            at = int(where * (len(data) - 1))
            data = data[:at] + bytes([data[at] ^ extra]) + data[at + 1:]
    return data


_garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
_operation = st.one_of(
    st.tuples(st.just("insert"), st.floats(0, 1), _garbage),
    st.tuples(st.just("append"), st.just(0.0), _garbage),
    st.tuples(st.just("duplicate"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(None)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(_operation, min_size=1, max_size=4))
def test_random_damage_never_changes_the_results_nor_drops_a_run_silently(finished, operations):
    original = journal_lines(finished)
    run_of = {line: json.loads(line)["run"] for line in original}
    with tempfile.TemporaryDirectory() as tmp:
        out = copy_of(finished, Path(tmp) / "s")
        damaged = _damage((out / "journal.jsonl").read_bytes(), operations)
        (out / "journal.jsonl").write_bytes(damaged)
        lines = _split(damaged)
        torn = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        believed, rejected = set(), []
        for number, line in enumerate(lines, start=1):
            if line in run_of and run_of[line] not in believed:
                believed.add(run_of[line])
            else:
                rejected.append(number)

        report, said = resume(out)
        assert report["ran_now"] == 6 - len(believed), "exactly the runs not believed are run again"
        for mine, reference in zip(tables(out), tables(finished)):
            pd.testing.assert_frame_equal(mine, reference)
        assert len(said) == (1 if rejected or torn else 0), "every damaged line is reported"
        if rejected:
            listed = ", ".join(map(str, rejected[:10]))
            assert f"rejected {len(rejected)} " in said[0] and f" {listed}" in said[0], (rejected, said)
        if torn:
            assert "torn last line" in said[0]
        kept_aside = b"".join(lines[n - 1] for n in rejected) + (torn + b"\n" if torn else b"")
        assert (out / "journal.rejected.jsonl").exists() == bool(kept_aside)
        if kept_aside:
            assert (out / "journal.rejected.jsonl").read_bytes() == kept_aside, "nothing is lost"


# ------------------------------------------------------------------ B. damaged sweep folders

def _stamped(out: Path) -> dict:
    return json.loads((out / "design.json").read_text())


@pytest.mark.parametrize("damage", ["design_garbage", "design_empty", "design_list", "design_dir", "journal_dir",
                                    "journal_fifo", "runs_dir"])
def test_a_damaged_sweep_folder_is_one_line_and_left_alone(tmp_path, damage):
    out = tmp_path / "s"
    assert cli(*TINY, "--out", str(out)).returncode == 0
    target = {"design": out / "design.json", "journal": out / "journal.jsonl", "runs": out / "runs.parquet"}[damage.split("_")[0]]
    kind = damage.split("_")[1]
    if kind in ("dir", "fifo"):
        target.unlink()
        target.mkdir() if kind == "dir" else os.mkfifo(target)
    else:
        target.write_bytes({"garbage": b"\x00\xffnot json", "empty": b"", "list": b"[]"}[kind])
    before = sorted(os.listdir(out))
    for extra in ((), ("--fresh",)):
        one_error_line(cli(*TINY, "--out", str(out), *extra, timeout=60), str(out))
    assert sorted(os.listdir(out)) == before


def test_a_design_in_another_json_encoding_resumes_without_a_traceback(tmp_path):
    out = tmp_path / "s"
    assert cli(*TINY, "--out", str(out)).returncode == 0
    (out / "design.json").write_bytes(json.dumps(_stamped(out)).encode("utf-16"))
    result = cli(*TINY, "--out", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert len(pd.read_parquet(out / "runs.parquet")) == 2


# ------------------------------------------------------------------ C. one sweep at a time on a folder

def test_a_second_sweep_on_a_running_folder_is_refused(tmp_path):
    out = tmp_path / "s"
    first = start_sweep(*LONGER, "--workers", "1", "--out", str(out))
    try:
        wait_for_lines(out, 1, first)
        for extra in ((), ("--fresh",)):
            one_error_line(cli(*LONGER, "--workers", "1", "--out", str(out), *extra, timeout=60),
                           f"another sweep is running on this folder (pid {first.pid})", "wait for it")
        assert first.poll() is None and (out / "design.json").exists(), "--fresh deleted nothing under the running sweep"
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    lines = journal_lines(out)
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == len(lines) and runs["run_id"].is_unique, "one sweep wrote the journal"
    assert (out / ".lock").read_text().strip() == str(first.pid)


# ------------------------------------------------------------------ D. workers die with their parent

def _descendants(pid: int) -> set[int]:
    try:
        import psutil
    except ImportError:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    status = Path(f"/proc/{entry}/status").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(status.split("PPid:")[1].split()[0])
        found, frontier = set(), {pid}
        while frontier:
            frontier = {child for child, parent in parents.items() if parent in frontier} - found
            found |= frontier
        return found
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no memory; it waits for a reaper)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


FORKSERVER = """
import sys, threading, time
from pathlib import Path
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()  # a thread: workers come from a forkserver
from sweeps.design import grid_points, parse_factor
from sweeps.sweep import SweepPlan, run_sweep
factors = [parse_factor("firms.amazon.ai_budget_bn=10:80:20")]
plan = SweepPlan(scenario="baseline", overrides=[], factors=[factors[0].path], points=grid_points(factors),
                 replicates=6, seed=1, years=10, design="grid")
run_sweep(plan, Path(sys.argv[1]), workers=2)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the death signal is Linux's prctl")
@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_kill_9_of_the_parent_takes_its_workers_with_it(tmp_path, start):
    out = tmp_path / "s"
    command = ([sys.executable, str(ROOT / "run.py"), *LONG, "--workers", "2", "--out", str(out)] if start == "fork"
               else [sys.executable, "-c", FORKSERVER, str(out)])
    parent = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        wait_for_lines(out, 2, parent)
        workers = _descendants(parent.pid)
        assert len(workers) >= 2, workers
        parent.kill()
        parent.wait()
        killed = time.monotonic()
        while any(map(_running, workers)) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        left = [pid for pid in workers if _running(pid)]
        assert not left, f"workers {left} outlived their parent by 10 s"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_mid_sweep_stops_it_in_one_line_and_keeps_the_journal(tmp_path):
    out = tmp_path / "s"
    parent = start_sweep(*LONG, "--workers", "2", "--out", str(out))
    try:
        wait_for_lines(out, 2, parent)
        os.kill(min(_descendants(parent.pid)), signal.SIGKILL)
        _, stderr = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    one_error_line(subprocess.CompletedProcess([], parent.returncode, "", stderr), "a worker process died",
                   "running the same command again resumes")
    runs = pd.read_parquet(out / "runs.parquet")
    assert 2 <= len(runs) == len(journal_lines(out)) < 120


# ------------------------------------------------------------------ E. a bounded number of workers

@pytest.mark.parametrize("command", [
    TINY,
    ("sensitivity", "--method", "morris", "--samples", "2", "--param", "firms.amazon.ai_budget_bn=20:40",
     "--metric", "amazon.cumulative_profit_bn", "--years", "1", "--no-plots", "--quiet"),
    ("compare", "baseline", "conservative", "--replicates", "2", "--years", "1", "--quiet"),
])
def test_more_workers_than_four_per_core_are_refused_without_force(tmp_path, command):
    too_many = str(worker_limit() + 1)
    args = list(command)
    if "--workers" in args:
        del args[args.index("--workers"):args.index("--workers") + 2]
    out = tmp_path / "never"
    one_error_line(cli(*args, "--workers", too_many, "--out", str(out), timeout=120),
                   f"--workers {too_many}", str(worker_limit()), "--force-workers")
    assert not out.exists()


@pytest.mark.parametrize("command", ["sweep", "sensitivity", "compare"])
def test_force_workers_lifts_the_limit_in_either_order(command):
    import run

    too_many = str(worker_limit() * 100)
    head = {"sweep": ["sweep", "--out", "x"], "sensitivity": ["sensitivity", "--metric", "hhi_cloud_ai", "--out", "x"],
            "compare": ["compare", "baseline", "conservative"]}[command]
    for tail in (["--workers", too_many, "--force-workers"], ["--force-workers", "--workers", too_many]):
        assert run.build_parser().parse_args(head + tail).workers == int(too_many)
    assert "--force-workers" in run.build_parser()._subparsers._group_actions[0].choices[command].format_help()


# ------------------------------------------------------------------ F. a non-finite result is a failed run

def test_a_run_whose_result_overflows_is_a_failed_run():
    from model.scenario import load_scenario

    scenario = load_scenario("baseline", list(OVERFLOW[1::2]), {"years": 2})
    result = run_spec(RunSpec(run_id="x", scenario=scenario, seed=1, yearly=True))
    assert result.outcomes is None and result.yearly is None
    assert result.error == "non-finite result: walmart.return_on_ai_spend = -inf"


def test_a_sweep_records_overflowing_runs_as_failures(tmp_path):
    out = tmp_path / "s"
    result = cli(*TINY, *OVERFLOW, "--out", str(out))
    assert result.returncode == 0, result.stderr
    runs = pd.read_parquet(out / "runs.parquet")
    assert (runs["status"] == "error").all()
    assert runs["error"].str.startswith("non-finite result: walmart.return_on_ai_spend = -inf").all()


# ------------------------------------------------------------------ G. environment faults are one line

def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def test_a_full_disk_stops_the_sweep_in_one_line_and_a_rerun_resumes(tmp_path):
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not _mount_tmpfs(disk, "160k"):
        pytest.skip("cannot mount a small tmpfs here (the in-process test below covers the write path)")
    try:
        out = disk / "s"
        args = (*LONG, "--workers", "1", "--out", str(out))
        one_error_line(cli(*args), str(out), "the disk is full", "running the same command again resumes")
        kept = journal_lines(out)
        assert kept and all(line.endswith(b"\n") for line in kept)
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        result = cli(*args)
        assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
        runs = pd.read_parquet(out / "runs.parquet")
        assert list(runs["run_id"]) == list(range(120)) and (runs["status"] == "ok").all()
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_full_disk_on_the_journal_or_the_tables_is_one_error_and_keeps_the_journal(finished, tmp_path, monkeypatch):
    from pyarrow import parquet

    from report.outputs import OutputError

    out = copy_of(finished, tmp_path / "s")
    lines = journal_lines(out)
    (out / "journal.jsonl").write_bytes(b"".join(lines[:3]))
    real_fdopen = os.fdopen

    class FullDisk:
        """The journal file, on which a write gets half the line out and then fails with ENOSPC."""

        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def tell(self):
            return self.handle.tell()

        def fileno(self):
            return self.handle.fileno()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_journal(fd, mode="r", *args, **kwargs):
        handle = real_fdopen(fd, mode, *args, **kwargs)
        appending_to_journal = "a" in mode and os.readlink(f"/proc/self/fd/{fd}").endswith("journal.jsonl")
        return FullDisk(handle) if appending_to_journal else handle

    monkeypatch.setattr(os, "fdopen", full_journal)
    with pytest.raises(OutputError, match="the disk is full.*the 3 runs already in it are kept"):
        run_sweep(plan_of(), out, workers=1)
    monkeypatch.undo()
    assert journal_lines(out) == lines[:3]

    def full_table(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parquet.ParquetWriter, "write_table", full_table)
    before = (out / "runs.parquet").read_bytes()
    with pytest.raises(OutputError, match="cannot write the Parquet tables \\(the disk is full\\)"):
        run_sweep(plan_of(), out, workers=1)
    assert (out / "runs.parquet").read_bytes() == before, "the earlier tables stay as they were"
    assert not list(out.glob(".*.tmp")) and journal_lines(out) == lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def not_dask():
    """A TCP service that answers like a web server, not a Dask scheduler."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("address, fragment", [
    ("foo bar", "not a Dask scheduler address"),
    ("tcp://10.0.0.1:99999", "not a Dask scheduler address"),
    ("http://127.0.0.1:8786", "not a Dask scheduler address"),
    ("unreachable", "cannot reach a Dask scheduler there"),
    ("not_dask", "cannot reach a Dask scheduler there"),
])
def test_a_bad_scheduler_is_one_line_within_the_timeout_and_leaves_no_folder(tmp_path, request, address, fragment):
    if address == "unreachable":
        address = f"tcp://127.0.0.1:{_free_port()}"
    elif address == "not_dask":
        address = request.getfixturevalue("not_dask")
    out = tmp_path / "never"
    started = time.monotonic()
    result = cli(*TINY, "--scheduler", address, "--out", str(out), env={**os.environ, "AI_RACE_SCHEDULER_TIMEOUT": "2"})
    one_error_line(result, f"--scheduler {address}", fragment)
    assert time.monotonic() - started < 25
    assert not out.exists()


def test_output_to_a_closed_pipe_ends_quietly_and_the_sweep_completes(tmp_path):
    out = tmp_path / "s"
    process = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sweep", "--vary", GRID[0], "--years", "1",
                                "--workers", "1", "--out", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is printed, as with `| head -0`
    stderr = process.stderr.read().decode()
    process.wait(timeout=300)
    assert process.returncode == 0 and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert (out / "metrics_vs_factors.png").stat().st_size > 0, "the plots after the summary were still written"


def test_a_metric_the_firm_cannot_have_is_refused_before_anything_runs(tmp_path):
    out = tmp_path / "never"
    one_error_line(cli("sensitivity", "--param", "firms.amazon.ai_budget_bn=10:80", "--samples", "8",
                       "--metric", "walmart.final_share_cloud_ai", "--years", "1", "--out", str(out), timeout=120),
                   "walmart does not sell in cloud_ai", "amazon, azure, google_cloud, alibaba")
    assert not out.exists()


@pytest.mark.parametrize("extra, metric, fragment", [
    ((), "amazon.cumulative_ai_spend_bn", "at every sample point"),
    (OVERFLOW, "walmart.return_on_ai_spend", "no sample point has a value"),
])
def test_a_constant_or_missing_metric_is_one_line_after_the_runs(tmp_path, extra, metric, fragment):
    out = tmp_path / "s"
    result = cli("sensitivity", "--samples", "8", "--param", "regulator.dominance_fine_rate=0:0.1", *extra,
                 "--metric", metric, "--years", "1", "--workers", "1", "--no-plots", "--quiet", "--out", str(out))
    one_error_line(result, metric, fragment, status=1)
    assert not (out / "sobol_indices.csv").exists()


# ------------------------------------------------------------------ H. meaningless sensitivity samples

@pytest.mark.parametrize("method, samples, fragment", [
    ("sobol", "4", "at least 8 base samples"),
    ("sobol", "1", "at least 8 base samples"),
    ("morris", "1", "at least 2 trajectories"),
])
def test_a_sample_too_small_for_its_indices_is_refused(tmp_path, method, samples, fragment):
    out = tmp_path / "never"
    one_error_line(cli("sensitivity", "--method", method, "--samples", samples, "--param",
                       "firms.amazon.ai_budget_bn=10:80", "--metric", "amazon.cumulative_profit_bn", "--years", "1",
                       "--out", str(out), timeout=120), f"--samples {samples}", fragment)
    assert not out.exists()


def test_indices_outside_0_1_beyond_their_interval_are_flagged():
    from sweeps.sensitivity import index_warnings

    first = pd.DataFrame({"parameter": ["a", "b"], "S1": [1.56, 0.2], "S1_conf": [0.3, 0.5], "ST": [0.9, -0.4],
                          "ST_conf": [0.2, 0.1]})
    second = pd.DataFrame({"parameter_1": ["a"], "parameter_2": ["b"], "S2": [0.1], "S2_conf": [0.4]})
    lines = index_warnings("sobol", {"sobol_indices": first, "sobol_second_order": second}, 512)
    assert len(lines) == 1
    assert "S1 of a = 1.56" in lines[0] and "ST of b = -0.40" in lines[0] and "outside [0, 1]" in lines[0]
    assert "S1 of b" not in lines[0] and "S2" not in lines[0], "an index within its interval of [0, 1] is fine"
    assert any("rough" in line for line in index_warnings("sobol", {"sobol_indices": first.iloc[1:0],
                                                                      "sobol_second_order": second.iloc[0:0]}, 8))


def test_a_sobol_sample_too_small_for_its_metric_says_so(tmp_path):
    """With 8 base samples the command warns that the indices are rough, and warns of an index outside
    [0, 1] beyond its confidence interval exactly when the written table has one (checked here)."""
    out = tmp_path / "s"
    # a metric whose 8-sample index comes out above 1 (1.50 at the fitted values; Amazon's profit gives 0.99)
    result = cli("sensitivity", "--samples", "8", "--param", "firms.amazon.ai_budget_bn=10:80", "--param",
                 "regulator.hhi_threshold=1000:2500", "--metric", "amazon.final_share_cloud_ai", "--years", "5",
                 "--workers", "1", "--no-plots", "--quiet", "--out", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(result.stderr.strip().splitlines()) == len(warned), result.stderr
    indices = pd.read_csv(out / "sobol_indices.csv")
    outside = [f"{name} of {row.parameter}" for row in indices.itertuples(index=False) for name in ("S1", "ST")
               if getattr(row, name) - getattr(row, f"{name}_conf") > 1 or getattr(row, name) + getattr(row, f"{name}_conf") < 0]
    assert indices[["S1", "ST"]].max().max() > 1.0, "8 samples give an index above 1 for this metric"
    if outside:
        assert len(warned) == 2 and all(item in warned[0] for item in outside) and "outside [0, 1]" in warned[0]
    else:
        assert len(warned) == 1 and "outside" not in warned[0]
    assert "--samples 8" in warned[-1] and "rough" in warned[-1]


def test_a_scheduler_lost_mid_sweep_is_one_line_and_keeps_the_journal(tmp_path):
    port = _free_port()
    dask = str(Path(sys.executable).parent / "dask")
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                 cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads", "1",
                               "--no-dashboard"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp_path / "s"
    sweep = None
    try:
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
        sweep = start_sweep(*LONG, "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(out))
        wait_for_lines(out, 1, sweep)
        scheduler.kill()
        _, stderr = sweep.communicate(timeout=120)
    finally:
        for process in (sweep, worker, scheduler):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    one_error_line(subprocess.CompletedProcess([], sweep.returncode, "", stderr), "the Dask cluster failed",
                   "running the same command again resumes")
    assert len(pd.read_parquet(out / "runs.parquet")) == len(journal_lines(out)) >= 1
