"""Run many model runs on local worker processes or on a Dask cluster, streaming results back.

Each run is described by a small picklable `RunSpec` and computed by `run_spec`, a plain
function of the spec alone (its seed included), so results do not depend on which worker ran
it or in which order: the same specs give the same results with 1 worker, 8, or a cluster.
Only a bounded number of runs is in flight at any time, so memory stays flat however many
runs a design has.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.errors import BadInput
from model.params import Scenario
from model.race import AIRaceModel
from report.tables import outcome_items, run_outcomes, yearly_records

IN_FLIGHT_PER_WORKER = 4
RUNS_PER_TASK = 4  # runs sent to a worker at once: one task's overhead (pickling, queues, wake-ups) shared by four runs
WORKERS_PER_CORE = 4
SCHEDULER_TIMEOUT_ENV = "AI_RACE_SCHEDULER_TIMEOUT"
SCHEDULER_TIMEOUT_S = 10.0


class SchedulerError(BadInput, ValueError):
    """A --scheduler address that is malformed or has no reachable Dask scheduler: one line."""


class WorkersLost(BadInput, RuntimeError):
    """The worker processes or the Dask cluster went away mid-sweep: one line, the journal is kept."""


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario (loaded, with its horizon and every override in it, or a name or path) and a seed."""

    run_id: str
    scenario: Scenario | str
    seed: int
    yearly: bool = False
    labels: tuple[tuple[str, Any], ...] = field(default=())
    # Years simulated after the outcomes are read, into the yearly records only: a valuation at a
    # horizon longer than the scenario's needs the cash flows of those years.
    extra_years: int = 0


@dataclass
class RunResult:
    spec: RunSpec
    outcomes: dict[str, Any] | None = None
    yearly: list[dict[str, Any]] | None = None  # report.tables.yearly_records
    error: str | None = None


def derive_seeds(base_seed: int, count: int) -> list[int]:
    """Independent, reproducible seeds for replicates (numpy SeedSequence spawning)."""
    children = np.random.SeedSequence(base_seed).spawn(count)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def run_spec(spec: RunSpec) -> RunResult:
    """Build, run and summarise one model; any exception is returned as the run's error."""
    try:
        model = AIRaceModel(spec.scenario, rng=spec.seed, network=False)
        model.run()
        result = RunResult(spec=spec, outcomes=run_outcomes(model))
        for _ in range(spec.extra_years):
            model.step()
        if spec.yearly:
            result.yearly = yearly_records(model)
        problem = non_finite(result.outcomes, result.yearly)
        if problem:
            return RunResult(spec=spec, error=f"non-finite result: {problem}")
        return result
    except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the sweep goes on
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return RunResult(spec=spec, error=f"{type(exc).__name__}: {exc} ({os.path.basename(last.filename)}:{last.lineno})")


def non_finite(outcomes: dict[str, Any], yearly: list[dict[str, Any]] | None) -> str | None:
    """The first infinite or NaN value of a run, as "<firm>.<metric> = inf", or None: such a run
    has overflowed, and its numbers must not pass for results."""
    for firm, metric, value in outcome_items(outcomes):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{firm}.{metric} = {value}"
    for row in yearly or ():
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                return f"{row.get('firm')}.{key} in {row.get('year')} = {value}"
    return None


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def worker_limit() -> int:
    """Most local workers started without --force-workers: a few per core is already past any
    speed-up, and each worker holds a full model in memory."""
    return WORKERS_PER_CORE * default_workers()


class WorkerPool:
    """Local worker processes started once and kept for many `execute` calls.

    For a long-lived process that runs many small batches (the browser's server): started from a
    forkserver with the model preloaded, they cost a second or so to start; once, not for every
    comparison. A pool whose worker died while idle is started again at its next use, which goes on.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # a forkserver always: the pool's own thread makes any later fork (a dead worker's
                # replacement) one from a process with threads
                self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=forkserver_context(),
                                                     initializer=_worker_init, initargs=(os.getpid(),))
            return self._executor

    def start(self) -> set[int]:
        """Start every worker process now (and wait for them), so the first batch does not wait; their pids.
        Workers are started as tasks find none idle, so each is held a moment to make them all start."""
        for attempt in range(2):
            executor = self.executor()
            try:
                return {future.result() for future in [executor.submit(_held_pid) for _ in range(self.workers)]}
            except BrokenProcessPool:
                self.discard(executor)
                if attempt:
                    raise WorkersLost("a worker process died as it started") from None
        raise AssertionError("unreachable")

    def discard(self, broken: ProcessPoolExecutor) -> None:
        """Forget a broken executor, so the next use starts new workers; one that another caller has
        already put in its place is kept."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _held_pid() -> int:
    time.sleep(0.2)
    return os.getpid()


def execute(
    specs: Iterable[RunSpec],
    workers: int | None = None,
    scheduler: str | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    func: Callable[[RunSpec], RunResult] = run_spec,
    pool: WorkerPool | None = None,
) -> Iterator[RunResult]:
    """Yield results as runs finish, on `workers` local processes, the processes of `pool`
    (kept running afterwards), or the Dask `scheduler` address."""
    if scheduler:
        yield from _execute_dask(specs, scheduler, func)
        return
    if pool is not None:
        yield from _on_pool(pool, list(specs), func)
        return
    workers = workers or default_workers()
    if workers == 1:
        yield from _in_process(func, specs)
        return
    context = process_context()
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        yield from _bounded(lambda batch: executor.submit(run_batch, func, batch), specs, workers * IN_FLIGHT_PER_WORKER)
    except BrokenProcessPool:
        raise WorkersLost("a worker process died (killed from outside, or out of memory)") from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _on_pool(pool: WorkerPool, specs: list[RunSpec], func: Callable[[RunSpec], RunResult]) -> Iterator[RunResult]:
    """The runs on a kept pool. A worker that died while the pool stood idle breaks it before any
    result comes back: the batch then starts again once on new workers; a death mid-batch is reported."""
    for attempt in range(2):
        executor = pool.executor()
        started = False
        try:
            for result in _bounded(lambda batch: executor.submit(run_batch, func, batch), specs,
                                   pool.workers * IN_FLIGHT_PER_WORKER):
                started = True
                yield result
            return
        except BrokenProcessPool:
            pool.discard(executor)
            if started or attempt:
                raise WorkersLost("a worker process died (killed from outside, or out of memory)") from None


def _in_process(func: Callable[[RunSpec], RunResult], specs: Iterable[RunSpec]) -> Iterator[RunResult]:
    """Runs in this process with what it held before frozen out of the cycle collector's way: in a
    process with a big heap (a notebook, a server) each automatic full collection would walk all of
    it, while the runs' own garbage (agents and their model in cycles) is still collected as it comes."""
    frozen_already = gc.get_freeze_count() > 0  # a worker froze its inheritance: leave that as it is
    gc.freeze()
    try:
        yield from map(func, specs)
    finally:
        if not frozen_already:
            gc.unfreeze()


def _wait_local(pending: set) -> tuple[set, set]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    return set(done), set(rest)


def _worker_init(parent_pid: int) -> None:
    """Ctrl-C reaches the whole process group; only the parent acts on it (it stops the sweep and
    keeps what finished), so a worker must not die mid-run with a traceback. A worker also dies
    with its parent (even a `kill -9` of it) instead of living on, holding a model's memory."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()  # what the worker inherited is never garbage: collections then walk only the runs' own objects
    _die_with_parent()
    if os.getppid() != parent_pid:
        if not _alive(parent_pid):
            os._exit(1)  # the sweep died before the death signal was armed
        _exit_with(parent_pid)


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills this process when its parent exits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_with(pid: int) -> None:
    """A forkserver's child: its parent, the forkserver, lives on after the sweep for as long as
    any worker holds its "alive" pipe open, so each worker watches the sweep itself and exits with it."""
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None

    def wait() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while _alive(pid):
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=wait, name="exit-with-sweep", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_context():
    """fork when this process has a single thread: workers start at once with everything already
    imported, and never re-run the caller's script (mesa#2135). With other threads alive (a
    notebook, a Dask client, a test runner) forking can deadlock, so workers then come from a
    clean forkserver with the model preloaded instead."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return forkserver_context()


def forkserver_context():
    """Workers forked from a clean server process that has the model imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sweeps.execute", "model.race", "report.tables"])
    return context


def run_batch(func: Callable[[RunSpec], RunResult], specs: list[RunSpec]) -> list[RunResult]:
    return [func(spec) for spec in specs]


def batches(specs: Iterable[RunSpec], size: int = RUNS_PER_TASK) -> Iterator[list[RunSpec]]:
    batch: list[RunSpec] = []
    for spec in specs:
        batch.append(spec)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bounded(submit, specs: Iterable[RunSpec], limit: int) -> Iterator[RunResult]:
    """Keep at most `limit` tasks (of RUNS_PER_TASK runs) submitted; yield each task's results as soon as it is done."""
    pending: set = set()
    try:
        for batch in batches(specs):
            pending.add(submit(batch))
            while len(pending) >= limit:
                done, pending = _wait_local(pending)
                for fut in done:
                    yield from fut.result()
        while pending:
            done, pending = _wait_local(pending)
            for fut in done:
                yield from fut.result()
    finally:  # stopped early (cancelled, failed): what has not started is not run
        for fut in pending:
            fut.cancel()


class _Call:
    """Pickles as "call func(specs)": unpickling it on a worker runs the models there.

    Submitting `pickle.loads` on these bytes means the Dask scheduler only ever sees a
    standard-library function and bytes, so it needs none of this project's code installed.
    """

    def __init__(self, func, specs: list[RunSpec]):
        self.func, self.specs = func, specs

    def __reduce__(self):
        return run_batch, (self.func, self.specs)


_ADDRESS = re.compile(r"(?:(?:tcp|tls)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})")


def check_scheduler_address(address: str) -> None:
    """tcp://HOST:PORT, tls://HOST:PORT, inproc://... or HOST:PORT, refused in one line otherwise."""
    if address.startswith("inproc://") and len(address) > len("inproc://"):
        return
    match = _ADDRESS.fullmatch(address)
    if not match or not 1 <= int(match.group(1)) <= 65535:
        raise SchedulerError(f"--scheduler {address}: not a Dask scheduler address "
                             f"(expected tcp://HOST:PORT, tls://HOST:PORT, inproc://... or HOST:PORT)")


def scheduler_timeout() -> float:
    text = os.environ.get(SCHEDULER_TIMEOUT_ENV, "")
    try:
        value = float(text) if text else SCHEDULER_TIMEOUT_S
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise SchedulerError(f"{SCHEDULER_TIMEOUT_ENV}={text}: expected a number of seconds above 0")
    return value


def connect_scheduler(address: str):
    """A Client of the Dask scheduler at `address`, or SchedulerError within the timeout.

    The scheduler is first asked who it is over a bare connection, so a wrong address fails in
    seconds with one line (and no half-made Client complaining at exit)."""
    import asyncio

    from distributed import Client
    from distributed.comm import connect

    check_scheduler_address(address)
    timeout = scheduler_timeout()

    async def identity():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    try:
        reply = asyncio.run(identity())
    except OSError as exc:
        raise SchedulerError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc})") from None
    except (TimeoutError, asyncio.TimeoutError):
        raise SchedulerError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                             f"(no answer within {timeout:g} s)") from None
    except Exception as exc:  # noqa: BLE001 - anything else on that port is not a Dask scheduler
        raise SchedulerError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                             f"(the service there does not speak Dask's protocol: {type(exc).__name__})") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise SchedulerError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                             f"(something answered, but not a Dask scheduler)")
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001
        raise SchedulerError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc})") from None


def _execute_dask(specs: Iterable[RunSpec], scheduler, func) -> Iterator[RunResult]:
    """`scheduler` is an address (a Client is opened and closed here) or an open Client."""
    if isinstance(scheduler, str):
        client = connect_scheduler(scheduler)
        with client:
            yield from _execute_dask(specs, client, func)
        return
    import pickle

    from distributed import as_completed

    client = scheduler
    try:
        ship_code(client)
        limit = max(1, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER
        queue = as_completed(loop=client.loop)
        in_flight = 0
        for batch in batches(specs):
            payload = pickle.dumps(_Call(func, batch), protocol=pickle.HIGHEST_PROTOCOL)
            queue.add(client.submit(pickle.loads, payload, pure=False, key=f"runs-{batch[0].run_id}"))
            in_flight += 1
            if in_flight >= limit:
                yield from next(queue).result()
                in_flight -= 1
        for future in queue:
            yield from future.result()
    except Exception as exc:  # noqa: BLE001 - a lost scheduler or worker, not a failing run (run_spec never raises)
        raise WorkersLost(f"the Dask cluster failed ({type(exc).__name__}: {' '.join(str(exc).split())})") from None


PROJECT_PACKAGES = ("model", "agents", "report", "sweeps")


def ship_code(client) -> None:
    """Put this checkout's model code on every worker, so a cluster runs exactly this version.

    The installer runs on the workers only (`client.run`), never in the scheduler: a LocalCluster's
    scheduler lives in this very process, which already has the code. Workers that join after the
    sweep has started do not get it.
    """
    import hashlib
    import io
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for package in PROJECT_PACKAGES:
            for source in sorted((root / package).rglob("*.py")):
                info = zipfile.ZipInfo(source.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                zf.writestr(info, source.read_bytes())
    data = buffer.getvalue()
    name = f"ai_race_code_{hashlib.sha256(data).hexdigest()[:16]}.zip"

    def install(data: bytes = data, name: str = name, packages: tuple[str, ...] = PROJECT_PACKAGES) -> None:
        import importlib
        import os
        import sys
        import tempfile

        path = os.path.join(tempfile.gettempdir(), name)
        if not os.path.exists(path):
            partial = f"{path}.{os.getpid()}.tmp"
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, path)
        if path not in sys.path:
            sys.path.insert(0, path)
            for module in [m for m in sys.modules if m.split(".")[0] in packages]:
                del sys.modules[module]
            importlib.invalidate_caches()

    client.run(install)
