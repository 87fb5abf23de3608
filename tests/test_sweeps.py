"""Sweeps and sensitivity: designs, seeds, executors, resume, failures and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweeps.design import DesignError, grid_points, parse_factor, run_seed, sampled_points
from sweeps.execute import RunResult, run_spec
from sweeps.sweep import SweepPlan, run_sweep

ROOT = Path(__file__).resolve().parent.parent
SMALL_GRID = ["firms.amazon.ai_budget_bn=20:60:2", "regulator.hhi_threshold=1000,2500"]


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def small_plan(replicates: int = 2, years: int = 3) -> SweepPlan:
    factors = [parse_factor(t) for t in SMALL_GRID]
    return SweepPlan(scenario="baseline", overrides=[], factors=[f.path for f in factors], points=grid_points(factors),
                     replicates=replicates, seed=5, years=years, design="grid")


def frames(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(folder / "runs.parquet"), pd.read_parquet(folder / "yearly.parquet")


# ------------------------------------------------------------------ designs and seeds

def test_grid_is_the_full_factorial_of_ranges_and_lists():
    factors = [parse_factor("firms.amazon.ai_budget_bn=10:80:8"), parse_factor("regulator.hhi_threshold=1000,1800,2500")]
    points = grid_points(factors)
    assert len(points) == 24
    assert sorted({p["firms.amazon.ai_budget_bn"] for p in points}) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    assert sorted({p["regulator.hhi_threshold"] for p in points}) == [1000, 1800, 2500]
    assert len({tuple(sorted(p.items())) for p in points}) == 24


def test_whole_number_parameters_get_whole_values():
    assert parse_factor("startups.initial_count=10:100:4").grid_values() == [10, 40, 70, 100]


def test_latin_hypercube_uses_each_stratum_once_and_is_reproducible():
    factors = [parse_factor("firms.amazon.ai_budget_bn=0:100"), parse_factor("talent.supply_growth=0:0.1")]
    points = sampled_points(factors, 20, seed=3, method="lhs")
    budgets = np.array([p["firms.amazon.ai_budget_bn"] for p in points])
    growth = np.array([p["talent.supply_growth"] for p in points])
    assert sorted((budgets // 5).astype(int)) == list(range(20)), "each of 20 strata of the budget is used once"
    assert sorted((growth / 0.005).astype(int)) == list(range(20))
    assert points == sampled_points(factors, 20, seed=3, method="lhs")
    assert points != sampled_points(factors, 20, seed=4, method="lhs")
    mc = sampled_points(factors, 20, seed=3, method="mc")
    assert all(0 <= p["firms.amazon.ai_budget_bn"] <= 100 for p in mc)


def test_run_seeds_are_deterministic_distinct_and_optionally_common():
    seeds = {run_seed(7, point, rep) for point in range(30) for rep in range(10)}
    assert len(seeds) == 300
    assert run_seed(7, 3, 2) == run_seed(7, 3, 2)
    assert run_seed(7, 3, 2) != run_seed(8, 3, 2)
    assert run_seed(7, 0, 2, common_seeds=True) == run_seed(7, 9, 2, common_seeds=True)


@pytest.mark.parametrize("text, fragment", [
    ("firms.amazon.ai_budget_bn", "expected path=lo:hi:n"),
    ("regulator.hhi_treshold=1:2:3", "did you mean"),
    ("firms.amzon.ai_budget_bn=1:2:3", "amzon"),
    ("firms.amazon.ai_budget_bn=80:10:3", "impossible range"),
    ("firms.amazon.ai_budget_bn=a:b:3", "must be numbers"),
    ("firms.amazon.ai_budget_bn=1:2:0", "at least 1"),
    ("firms.amazon.ai_budget_bn=1:2:3:4", "lo:hi"),
    ("firms.amazon.policy=1:2:3", "not a number"),
    ("firms.amazon=1:2:3", "table"),
])
def test_bad_factor_syntax_is_named(text, fragment):
    with pytest.raises(DesignError, match=fragment):
        parse_factor(text)


# ------------------------------------------------------------------ executors give identical results

@pytest.fixture(scope="module")
def one_worker_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "w1"
    report = run_sweep(small_plan(), out, workers=1)
    assert report["done"] == 8
    return out


def test_sweep_writes_runs_yearly_and_design(one_worker_sweep):
    runs, yearly = frames(one_worker_sweep)
    assert list(runs["run_id"]) == list(range(8)) and set(runs["status"]) == {"ok"}
    assert {"firms.amazon.ai_budget_bn", "regulator.hhi_threshold", "seed", "amazon.cumulative_profit_bn",
            "amazon.return_on_ai_spend", "amazon.final_share_cloud_ai", "hhi_cloud_ai", "acquisitions",
            "blocked_acquisitions"} <= set(runs.columns)
    assert runs["seed"].nunique() == 8
    assert set(yearly["run_id"]) == set(range(8)) and set(yearly["year"]) == {2023, 2024, 2025, 2026}
    assert set(yearly["firm"]) == {"amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba", "startups", "others"}
    shares = yearly.groupby(["run_id", "year"])[["share_cloud_ai", "share_ecommerce", "share_advertising"]].sum()
    assert (shares.sub(1.0).abs() < 1e-9).all().all(), "majors, startups and fringe hold every segment"
    design = json.loads((one_worker_sweep / "design.json").read_text())
    assert design["total_runs"] == 8 and design["identity"]["factors"] == ["firms.amazon.ai_budget_bn", "regulator.hhi_threshold"]
    assert design["parameters"]["firms"]["amazon"]["policy"] == "adaptive"


def test_bigger_budget_points_show_in_the_results(one_worker_sweep):
    runs, _ = frames(one_worker_sweep)
    spend = runs.groupby("firms.amazon.ai_budget_bn")["amazon.cumulative_ai_spend_bn"].mean()
    assert spend[60.0] > spend[20.0]


def test_two_workers_give_the_same_results(one_worker_sweep, tmp_path):
    run_sweep(small_plan(), tmp_path / "w2", workers=2)
    for a, b in zip(frames(one_worker_sweep), frames(tmp_path / "w2")):
        pd.testing.assert_frame_equal(a, b)


def test_a_kept_pool_gives_the_same_results_call_after_call_and_recovers_from_a_dead_worker():
    """The browser's pool: its workers live on between comparisons; one killed while idle is replaced
    and the next batch goes on; workers killed mid-batch are reported (WorkersLost)."""
    from sweeps.execute import RunSpec, WorkerPool, WorkersLost, execute

    specs = [RunSpec(run_id=str(i), scenario="baseline", seed=i, yearly=True) for i in range(6)]
    alone = {r.spec.run_id: (r.outcomes, r.yearly) for r in execute(specs, workers=1)}
    pool = WorkerPool(2)
    try:
        pids = pool.start()
        assert len(pids) == 2
        for _ in range(2):
            assert {r.spec.run_id: (r.outcomes, r.yearly) for r in execute(specs, pool=pool)} == alone
        assert {pool.executor().submit(os.getpid).result() for _ in range(8)} <= pids, "the same workers served both"
        os.kill(next(iter(pids)), signal.SIGKILL)
        time.sleep(0.5)
        assert {r.spec.run_id: (r.outcomes, r.yearly) for r in execute(specs, pool=pool)} == alone, "new workers took over"
        replacements = {pool.executor().submit(os.getpid).result() for _ in range(8)}
        assert replacements and not pids & replacements
        stalled = execute([RunSpec(run_id="0", scenario="baseline", seed=0)] * 400, pool=pool)
        next(stalled)
        for pid in replacements:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkersLost):
            list(stalled)
        assert {r.spec.run_id: (r.outcomes, r.yearly) for r in execute(specs, pool=pool)} == alone
    finally:
        pool.close()


def test_dask_local_cluster_gives_the_same_results(one_worker_sweep, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        run_sweep(small_plan(), tmp_path / "dask", scheduler=cluster.scheduler_address)
    for a, b in zip(frames(one_worker_sweep), frames(tmp_path / "dask")):
        pd.testing.assert_frame_equal(a, b)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sweep_through_a_real_dask_scheduler_and_worker(one_worker_sweep, tmp_path):
    """`dask scheduler` and `dask worker` started from another folder, without the project on their path."""
    port = _free_port()
    dask = str(Path(sys.executable).parent / "dask")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                 cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "2", "--nthreads", "1",
                               "--no-dashboard"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        out = tmp_path / "cluster"
        result = cli("sweep", "--scenario", "baseline", *sum((["--vary", v] for v in SMALL_GRID), []),
                     "--replicates", "2", "--years", "3", "--seed", "5", "--out", str(out), "--no-plots",
                     "--scheduler", f"tcp://127.0.0.1:{port}")
        assert result.returncode == 0, result.stderr
        for a, b in zip(frames(one_worker_sweep), frames(out)):
            pd.testing.assert_frame_equal(a, b)
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# ------------------------------------------------------------------ resume, interruption, failures

def test_rerun_resumes_and_a_different_design_is_refused(one_worker_sweep, tmp_path):
    out = tmp_path / "again"
    first = run_sweep(small_plan(), out, workers=1)
    again = run_sweep(small_plan(), out, workers=1)
    assert first["ran_now"] == 8 and again["ran_now"] == 0 and again["done"] == 8
    from sweeps.sweep import SweepConflict

    with pytest.raises(SweepConflict):
        run_sweep(small_plan(replicates=3), out, workers=1)
    assert run_sweep(small_plan(replicates=3), out, workers=1, fresh=True)["ran_now"] == 12


def test_killed_sweep_resumes_without_duplicate_or_missing_runs(tmp_path):
    out = tmp_path / "killed"
    args = ["sweep", "--scenario", "baseline", "--vary", "firms.amazon.ai_budget_bn=10:80:10", "--replicates", "6",
            "--years", "10", "--out", str(out), "--no-plots", "--workers", "2", "--quiet"]
    process = subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    journal = out / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") < 10):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with journal.open("ab") as handle:
        handle.write(b'{"run": 999, "row": {"trunc')  # a line torn by the kill
    done_before = journal.read_text().count("\n")
    assert 10 <= done_before < 60
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    runs, yearly = frames(out)
    assert list(runs["run_id"]) == list(range(60))
    assert (runs["status"] == "ok").all()
    assert yearly.groupby("run_id")["year"].nunique().eq(11).all()
    fresh = tmp_path / "fresh"
    assert cli(*[a if a != str(out) else str(fresh) for a in args]).returncode == 0
    pd.testing.assert_frame_equal(runs, frames(fresh)[0])


def test_interrupted_sweep_keeps_finished_runs_and_says_how_to_resume(tmp_path):
    out = tmp_path / "ctrl_c"
    args = ["sweep", "--scenario", "baseline", "--vary", "firms.amazon.ai_budget_bn=10:80:10", "--replicates", "6",
            "--years", "10", "--out", str(out), "--no-plots", "--workers", "2", "--quiet"]
    process = subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    journal = out / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") < 5):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    partial = pd.read_parquet(out / "runs.parquet")
    assert 5 <= len(partial) < 60 and partial["run_id"].is_unique


def fail_some(spec):
    """A run function that fails for two runs, as a bug in a corner of parameter space would."""
    if dict(spec.labels)["run"] in (1, 6):
        return RunResult(spec=spec, error="ValueError: boom (test)")
    return run_spec(spec)


def test_failing_runs_are_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    import sweeps.sweep as sweep_module

    original = sweep_module.execute
    monkeypatch.setattr(sweep_module, "execute", lambda specs, **kw: original(specs, func=fail_some, **kw))
    report = run_sweep(small_plan(), tmp_path / "failing", workers=2)
    runs, yearly = frames(tmp_path / "failing")
    assert report["done"] == 8 and report["errors_now"] == 2
    failed = runs[runs["status"] == "error"]
    assert list(failed["run_id"]) == [1, 6] and failed["error"].str.contains("boom").all()
    assert failed["amazon.cumulative_profit_bn"].isna().all()
    assert set(yearly["run_id"]) == {0, 2, 3, 4, 5, 7}


def test_run_spec_returns_errors_instead_of_raising():
    from sweeps.execute import RunSpec

    result = run_spec(RunSpec(run_id="x", scenario="no_such_scenario", seed=1))
    assert result.outcomes is None and "ScenarioError" in result.error


# ------------------------------------------------------------------ command line

def test_sweep_command_end_to_end_with_plots(tmp_path):
    out = tmp_path / "cli"
    result = cli("sweep", "--scenario", "baseline", *sum((["--vary", v] for v in SMALL_GRID), []),
                 "--replicates", "2", "--years", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "8 done" in result.stdout
    for name in ("runs.parquet", "yearly.parquet", "design.json", "metrics_vs_factors.png", "heatmap.png"):
        assert (out / name).stat().st_size > 0, name


def test_lhs_sweep_from_the_command_line(tmp_path):
    out = tmp_path / "lhs"
    result = cli("sweep", "--vary", "firms.amazon.ai_budget_bn=10:80", "--vary", "talent.supply_growth=0:0.1",
                 "--design", "lhs", "--samples", "6", "--years", "2", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 6 and runs["firms.amazon.ai_budget_bn"].between(10, 80).all()


def test_sensitivity_end_to_end_on_a_small_sample(tmp_path):
    out = tmp_path / "sens"
    result = cli("sensitivity", "--method", "sobol", "--samples", "8", "--param", "firms.amazon.ai_budget_bn=10:80",
                 "--param", "regulator.hhi_threshold=1000:2500", "--metric", "amazon.cumulative_ai_spend_bn",
                 "--years", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    indices = pd.read_csv(out / "sobol_indices.csv")
    assert list(indices["parameter"]) == ["firms.amazon.ai_budget_bn", "regulator.hhi_threshold"]
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(indices.columns)
    assert (out / "sobol_second_order.csv").exists() and (out / "sobol_indices.png").exists()
    assert len(pd.read_parquet(out / "runs.parquet")) == 8 * (2 * 2 + 2)
    morris = tmp_path / "morris"
    result = cli("sensitivity", "--method", "morris", "--samples", "4", "--param", "firms.amazon.ai_budget_bn=10:80",
                 "--param", "talent.supply_growth=0:0.1", "--metric", "amazon.cumulative_ai_spend_bn",
                 "--years", "3", "--out", str(morris), "--quiet")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(morris / "morris_indices.csv")
    top = table.sort_values("mu_star", ascending=False)["parameter"].iloc[0]
    assert top == "firms.amazon.ai_budget_bn", "the budget drives the firm's own AI spend"


@pytest.mark.parametrize("args, fragment", [
    (["sweep", "--vary", "firms.amazon.ai_budget_bn=80:10:3"], "impossible range"),
    (["sweep", "--vary", "regulator.hhi_treshold=1000,2000"], "did you mean"),
    (["sweep", "--vary", "firms.amazon.ai_budget_bn=10:80"], "lo:hi:n"),
    (["sweep", "--vary", "firms.amazon.ai_budget_bn=10:80", "--design", "lhs"], "--samples"),
    (["sweep", "--vary", "firms.amazon.ai_budget_bn=lots,-5"], "ai_budget_bn"),
    (["sweep", "--vary", "firms.amazon.ai_budget_bn=10:80:3", "--replicates", "0"], "must be from 1"),
    (["sweep", "--vary", "firms.amazon.ai_budget_bn=10:80:3", "--metric", "amazon.profit"], "unknown metric"),
    (["sensitivity", "--param", "firms.amazon.ai_budget_bn=10:10", "--metric", "amazon.cumulative_profit_bn"], "impossible range"),
    (["sensitivity", "--param", "firms.amazon.policy=a,b", "--metric", "amazon.cumulative_profit_bn"], "range"),
    (["sensitivity", "--param", "firms.amazon.ai_budget_bn=10:80", "--metric", "amazon.cumulative_profit_bn",
      "--samples", "100"], "power of two"),
    (["sensitivity", "--param", "firms.amazon.ai_budget_bn=10:80", "--metric", "amazon.nothing"], "unknown metric"),
])
def test_bad_sweep_input_exits_2_with_one_line(tmp_path, args, fragment):
    out = tmp_path / "never"
    result = cli(*args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr
    assert not out.exists()


def test_runs_in_this_process_unfreeze_the_collector_however_they_end():
    """`--workers 1` freezes what the process held out of the collector's way while it runs, and
    gives it back when the runs end, stop early or fail."""
    import gc

    from sweeps.execute import RunSpec, execute

    specs = [RunSpec(run_id=str(i), scenario="baseline", seed=i) for i in range(3)]
    before = gc.get_freeze_count()
    results = execute(specs, workers=1)
    next(results)
    assert gc.get_freeze_count() > before
    results.close()
    assert gc.get_freeze_count() == before
    assert len(list(execute(specs, workers=1))) == 3 and gc.get_freeze_count() == before

    def failing(spec):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        list(execute(specs, workers=1, func=failing))
    assert gc.get_freeze_count() == before and gc.isenabled()
