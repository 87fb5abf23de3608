"""Output folders: nothing the program did not write is ever replaced or deleted (issue 9, items 1-5).

Every destructive path runs in a temporary folder.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import run as cli_main
from report.outputs import FILES, Command, OutputError, check_writable, clear_result, staged_folder, written_by

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry below `folder` with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def user_folder(path: Path, marker: str | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("precious")
    (path / "sub").mkdir()
    (path / "sub" / "notes.md").write_text("also precious")
    if marker:
        (path / marker).write_text('{"mine": true}')
    return path


def one_error_line(result: subprocess.CompletedProcess, *named: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in named:
        assert word in lines[0], lines[0]
    return lines[0]


SWEEP = ("sweep", "--vary", "firms.amazon.ai_budget_bn=20:40:2", "--years", "1", "--workers", "1", "--no-plots",
         "--quiet")
SENSITIVITY = ("sensitivity", "--method", "morris", "--samples", "2", "--param", "firms.amazon.ai_budget_bn=20:40",
               "--metric", "amazon.cumulative_profit_bn", "--years", "1", "--workers", "1", "--no-plots", "--quiet")


# 1. --fresh deletes only an earlier result of the same command.
@pytest.mark.parametrize("command", [SWEEP, SENSITIVITY], ids=["sweep", "sensitivity"])
def test_fresh_refuses_a_folder_of_the_users_files(tmp_path, command):
    mine = user_folder(tmp_path / "d")
    before = snapshot(mine)
    one_error_line(cli(*command, "--out", str(mine), "--fresh"), str(mine))
    assert snapshot(mine) == before


def test_fresh_refuses_the_scenario_library_and_the_checkout(tmp_path):
    library = tmp_path / "checkout" / "scenarios"
    library.mkdir(parents=True)
    for source in (ROOT / "scenarios").glob("*.toml"):
        (library / source.name).write_bytes(source.read_bytes())
    (tmp_path / "checkout" / "run.py").write_text("# a checkout")
    before = snapshot(tmp_path / "checkout")
    one_error_line(cli(*SWEEP, "--out", str(library), "--fresh"))
    one_error_line(cli(*SWEEP, "--out", ".", "--fresh", cwd=tmp_path / "checkout"))
    assert snapshot(tmp_path / "checkout") == before


def test_fresh_clears_an_earlier_sweep_but_not_a_file_added_to_it(tmp_path):
    out = tmp_path / "sweep"
    assert cli(*SWEEP, "--out", str(out)).returncode == 0
    assert json.loads((out / "design.json").read_text())["written_by"] == written_by(Command.SWEEP)
    rerun = cli(*SWEEP, "--out", str(out), "--fresh")
    assert rerun.returncode == 0, rerun.stderr
    (out / "my_analysis.ipynb").write_text("{}")
    before = snapshot(out)
    one_error_line(cli(*SWEEP, "--out", str(out), "--fresh"), "my_analysis.ipynb")
    assert snapshot(out) == before


@pytest.mark.parametrize("command", [SWEEP, SENSITIVITY], ids=["sweep", "sensitivity"])
def test_fresh_on_a_folder_that_does_not_exist_yet_just_runs(tmp_path, command):
    """--fresh in a script that runs the same command again and again: the first time there is nothing to clear."""
    out = tmp_path / "new" / "result"
    result = cli(*command, "--out", str(out), "--fresh")
    assert result.returncode == 0, result.stderr
    assert (out / "design.json").is_file() and (out / "runs.parquet").is_file()


def test_explore_fresh_on_a_folder_that_does_not_exist_yet_just_runs(tmp_path):
    """explore takes its folder's lock before clearing it: the lock alone is not someone else's folder."""
    out = tmp_path / "new" / "explore"
    result = cli("explore", "jassy_bold", "conservative", "--samples", "6", "--replicates", "1", "--years", "3",
                 "--workers", "1", "--no-plots", "--quiet", "--out", str(out), "--fresh")
    assert result.returncode == 0, result.stderr
    assert (out / "explore.md").is_file()


def test_sweep_fresh_does_not_clear_a_sensitivity_folder(tmp_path):
    out = tmp_path / "sens"
    assert cli(*SENSITIVITY, "--out", str(out)).returncode == 0
    before = snapshot(out)
    one_error_line(cli(*SWEEP, "--out", str(out), "--fresh"), "sensitivity")
    assert snapshot(out) == before


# 2. A file named like a marker does not make a folder an earlier result.
@pytest.mark.parametrize("marker", ["summary.json", "compare.json", "design.json"])
def test_run_and_compare_refuse_a_folder_with_the_users_own_marker_file(tmp_path, marker):
    mine = user_folder(tmp_path / "mine", marker)
    before = snapshot(mine)
    one_error_line(cli("run", "--years", "1", "--no-plots", "--out", str(mine)), str(mine))
    one_error_line(cli("compare", "baseline", "conservative", "--replicates", "1", "--years", "1", "--workers", "1",
                       "--out", str(mine)), str(mine))
    assert snapshot(mine) == before


def test_a_lone_unstamped_summary_is_not_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.json").write_text('{"scenario": "baseline", "seed": 1}')
    before = snapshot(mine)
    one_error_line(cli("run", "--years", "1", "--no-plots", "--out", str(mine)), "summary.json")
    assert snapshot(mine) == before


def test_an_earlier_run_with_a_users_file_added_is_refused(tmp_path):
    out = tmp_path / "run"
    assert cli("run", "--years", "1", "--no-plots", "--quiet", "--out", str(out)).returncode == 0
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    one_error_line(cli("run", "--years", "1", "--no-plots", "--out", str(out)), "notes.txt")
    assert snapshot(out) == before


# 3. A scenario's name cannot send output outside results/.
@pytest.mark.parametrize("name", ["/abs/elsewhere", "../../x", "..", "a/b", " spaced"])
def test_a_scenario_name_cannot_choose_a_path(tmp_path, name):
    work = tmp_path / "work"
    (work / "results").mkdir(parents=True)
    victim = user_folder(tmp_path / "x", "summary.json")
    scenario = tmp_path / "shared.toml"
    scenario.write_text(f'extends = "baseline"\nname = {json.dumps(name)}\n')
    before = snapshot(tmp_path)
    one_error_line(cli("run", "--scenario", str(scenario), "--years", "1", "--no-plots", cwd=work), "name")
    one_error_line(cli("run", "--set", f"name={json.dumps(name)}", "--years", "1", "--no-plots", cwd=work), "name")
    assert snapshot(tmp_path) == before
    assert not Path("/abs").exists()


# 4. run does not replace a sweep (nor compare a run, ...).
def test_run_refuses_a_sweep_folder_and_compare_refuses_a_run_folder(tmp_path):
    sweep = tmp_path / "sweep"
    assert cli(*SWEEP, "--out", str(sweep)).returncode == 0
    before = snapshot(sweep)
    one_error_line(cli("run", "--years", "1", "--no-plots", "--out", str(sweep)), "sweep")
    assert snapshot(sweep) == before
    run_out = tmp_path / "run"
    assert cli("run", "--years", "1", "--no-plots", "--quiet", "--out", str(run_out)).returncode == 0
    before = snapshot(run_out)
    one_error_line(cli("compare", "baseline", "conservative", "--replicates", "1", "--years", "1", "--workers", "1",
                       "--out", str(run_out)), "run")
    one_error_line(cli(*SWEEP, "--out", str(run_out)), "run")
    assert snapshot(run_out) == before


def test_misleading_paths_get_clear_lines(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    line = one_error_line(cli("run", "--years", "1", "--no-plots", "--out", str(afile / "sub")))
    assert "is a file, not a folder" in line
    one_error_line(cli("run", "--years", "1", "--no-plots", "--out", str(afile)), "not a folder")


# The rule itself, over random folder contents: only an exact earlier result is ever touched.
names = st.sampled_from([*FILES[Command.RUN], *FILES[Command.SWEEP], "thesis.tex", "sub", ".hidden", "summary.json.bak"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(names, max_size=6, unique=True), stamped=st.sampled_from([None, "run", "sweep", "other"]))
def test_random_folders_are_kept_unless_exactly_an_earlier_result(tmp_path_factory, entries, stamped):
    base = tmp_path_factory.mktemp("f")
    folder = base / "out"
    folder.mkdir()
    for name in entries:
        if name == "sub":
            (folder / name).mkdir()
        else:
            (folder / name).write_text("x")
    if stamped:
        marker = "summary.json" if stamped in ("run", "other") else "design.json"
        stamp = written_by(Command.RUN if stamped == "run" else Command.SWEEP)
        if stamped == "other":
            stamp = {"program": "someone-else", "command": "run"}
        (folder / marker).write_text(json.dumps({"written_by": stamp}))
    before = snapshot(folder)
    present = {p.name for p in folder.iterdir()}
    exact_run = present <= {".lock"} or (stamped == "run" and present <= set(FILES[Command.RUN]) and "sub" not in present)
    exact_sweep = present <= {".lock"} or (stamped == "sweep" and present <= set(FILES[Command.SWEEP]))
    for command, exact in ((Command.RUN, exact_run), (Command.SWEEP, exact_sweep)):
        try:
            clear_result(folder, command)
        except OutputError:
            assert not exact
            assert snapshot(folder) == before
        else:
            assert exact
            assert {p.name for p in folder.iterdir()} <= {".lock"}  # the lock stays with the sweep holding it
            return
    try:
        with staged_folder(folder, Command.RUN) as staging:
            (staging / "summary.json").write_text(json.dumps({"written_by": written_by(Command.RUN)}))
    except OutputError:
        assert snapshot(folder) == before
    else:
        assert not present or exact_run
    assert sorted(p.name for p in base.iterdir()) == ["out"]


def test_a_folder_changed_during_the_run_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    with staged_folder(out, Command.RUN) as staging:
        (staging / "summary.json").write_text(json.dumps({"written_by": written_by(Command.RUN)}))
    check_writable(out, Command.RUN)
    with pytest.raises(OutputError, match="changed during the run"):
        with staged_folder(out, Command.RUN) as staging:
            (staging / "summary.json").write_text("{}")
            (out / "arrived.txt").write_text("mine")
    assert sorted(p.name for p in out.iterdir()) == ["arrived.txt", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# 5. compare uses the scenarios as they were when it started, and says how many pairs it rests on.
def _compare_in_process(monkeypatch, tmp_path, mine: Path, during, extra=()) -> tuple[int, Path]:
    import sweeps.paired  # compare's runs go through run_paired's executor

    real = sweeps.paired.execute
    changed = []

    def execute(specs, **kwargs):
        for i, result in enumerate(real(specs, **kwargs)):
            if i == 1:
                during(mine)
                changed.append(i)
            yield result

    monkeypatch.setattr(sweeps.paired, "execute", execute)
    out = tmp_path / "cmp"
    code = cli_main.main(["compare", str(mine), "conservative", "--replicates", "6", "--years", "2", "--workers", "1",
                          "--quiet", "--out", str(out), *extra])
    assert changed, "the file was never changed during the comparison"
    return code, out


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_compare_is_immune_to_scenario_files_changing_under_it(monkeypatch, tmp_path, change):
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "baseline"\nname = "mine"\n[firms.amazon]\nai_budget_bn = 60.0\n')

    def during(path: Path) -> None:
        if change == "edit":
            path.write_text('extends = "baseline"\nname = "mine"\n[firms.amazon]\nai_budget_bn = 5.0\n')
        else:
            path.unlink()

    code, out = _compare_in_process(monkeypatch, tmp_path, mine, during)
    assert code == 0
    meta = json.loads((out / "compare.json").read_text())
    assert meta["failed_runs"] == [] and meta["paired_seeds"] == {"conservative": 6}
    import pandas as pd

    runs = pd.read_csv(out / "runs.csv")
    spend = runs[(runs["scenario"] == "mine") & (runs["firm"] == "amazon") & (runs["metric"] == "cumulative_ai_spend_bn")]
    assert len(spend) == 6
    monkeypatch.undo()
    mine.write_text('extends = "baseline"\nname = "mine"\n[firms.amazon]\nai_budget_bn = 60.0\n')
    reference = tmp_path / "ref"
    assert cli_main.main(["compare", str(mine), "conservative", "--replicates", "6", "--years", "2", "--workers", "1",
                          "--quiet", "--out", str(reference)]) == 0
    assert (reference / "runs.csv").read_bytes() == (out / "runs.csv").read_bytes()


def test_compare_headline_counts_the_pairs_it_rests_on(monkeypatch, tmp_path, capsys):
    import sweeps.paired  # compare's runs go through run_paired's executor

    real = sweeps.paired.execute

    def execute(specs, **kwargs):
        for result in real(specs, **kwargs):
            label = dict(result.spec.labels)
            if label["scenario"] == "baseline" and label["replicate"] in (0, 3):
                result.error, result.outcomes, result.yearly = "RuntimeError: injected", None, None
            yield result

    monkeypatch.setattr(sweeps.paired, "execute", execute)
    out = tmp_path / "cmp"
    code = cli_main.main(["compare", "baseline", "conservative", "--replicates", "5", "--years", "1", "--workers", "1",
                          "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 paired seeds of 5" in printed
    meta = json.loads((out / "compare.json").read_text())
    assert meta["paired_seeds"] == {"conservative": 3} and len(meta["failed_runs"]) == 2
    import pandas as pd

    paired = pd.read_csv(out / "compare_paired.csv")
    assert set(paired["n"]) == {3}


def test_compare_with_every_run_of_a_scenario_failing_is_one_line(monkeypatch, tmp_path, capsys):
    import sweeps.paired  # compare's runs go through run_paired's executor

    real = sweeps.paired.execute

    def execute(specs, **kwargs):
        for result in real(specs, **kwargs):
            if dict(result.spec.labels)["scenario"] == "conservative":
                result.error, result.outcomes, result.yearly = "RuntimeError: injected", None, None
            yield result

    monkeypatch.setattr(sweeps.paired, "execute", execute)
    out = tmp_path / "cmp"
    assert cli_main.main(["compare", "baseline", "conservative", "--replicates", "2", "--years", "1", "--workers", "1",
                          "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "every run of conservative failed" in err[0] and "injected" in err[0]
    assert not out.exists()


def test_compare_refuses_sizes_that_cannot_fit(tmp_path):
    line = one_error_line(cli("compare", "baseline", "conservative", "--replicates", "100000000000",
                              "--out", str(tmp_path / "c")), "100000000000")
    assert "100,000" in line
    assert not (tmp_path / "c").exists()


def test_compare_refuses_different_horizons(tmp_path):
    longer = tmp_path / "longer.toml"
    longer.write_text('extends = "baseline"\nname = "longer"\nyears = 12\n')
    one_error_line(cli("compare", "baseline", str(longer), "--replicates", "1", "--out", str(tmp_path / "c")),
                   "--years")


# Faults while writing: one line, nothing that looks complete, nothing of the user's touched.
def test_a_full_disk_during_run_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import pyarrow.csv

    def full(table, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pyarrow.csv, "write_csv", full)  # what report.export writes every table with
    out = tmp_path / "out"
    assert cli_main.main(["run", "--years", "1", "--no-plots", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "disk is full" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_real_full_disk_during_run(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        result = cli("run", "--years", "2", "--no-plots", "--out", str(disk / "out"))
        line = one_error_line(result, "disk is full")
        assert "nothing was written" in line
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_an_unwritable_parent_is_refused_before_the_run(tmp_path):
    one_error_line(cli("run", "--years", "1", "--no-plots", "--out", "/proc/x"), "/proc")


@pytest.mark.parametrize("command", [["scenarios"], ["show-scenario", "baseline"],
                                     ["run", "--years", "1", "--no-plots", "--out", "{tmp}/r"]])
def test_a_closed_pipe_is_not_a_traceback(tmp_path, command):
    reader_gone = subprocess.Popen([sys.executable, "run.py", *(a.format(tmp=tmp_path) for a in command)], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader_gone.stdout.close()
    assert reader_gone.wait(timeout=120) in (0, 141)
    err = reader_gone.stderr.read().decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


# Found by the hostile review: links, modes, and a scenario file edited while a sweep starts.
def test_a_symlinked_out_keeps_the_link_and_what_it_points_to(tmp_path):
    target = tmp_path / "target"
    assert cli("run", "--years", "1", "--no-plots", "--quiet", "--out", str(target)).returncode == 0
    (tmp_path / "link").symlink_to(target)
    assert cli("run", "--years", "2", "--no-plots", "--quiet", "--out", str(tmp_path / "link")).returncode == 0
    assert (tmp_path / "link").is_symlink() and json.loads((target / "summary.json").read_text())["years"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "target"]


def test_a_hard_link_to_a_users_file_under_a_result_name_is_refused(tmp_path):
    out = tmp_path / "sweep"
    assert cli(*SWEEP, "--out", str(out)).returncode == 0
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("precious")
    os.link(thesis, out / "metrics_vs_factors.png")
    one_error_line(cli(*SWEEP, "--out", str(out)), "metrics_vs_factors.png")
    one_error_line(cli("run", "--years", "1", "--out", str(out)))
    assert thesis.read_text() == "precious"


def test_a_symlink_planted_under_a_plot_name_is_replaced_not_written_through(tmp_path):
    out = tmp_path / "sweep"
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("precious")
    code = cli_main.main([*SWEEP[:-2], "--quiet", "--out", str(out)])  # with plots
    assert code == 0
    (out / "metrics_vs_factors.png").unlink()
    (out / "metrics_vs_factors.png").symlink_to(thesis)  # planted after the start check, as a race would
    from run import write_result

    write_result(out / "metrics_vs_factors.png", lambda path: path.write_bytes(b"\x89PNG"))
    assert thesis.read_text() == "precious" and not (out / "metrics_vs_factors.png").is_symlink()


def test_results_get_the_umasks_mode_not_0700(tmp_path):
    out = tmp_path / "r"
    old = os.umask(0o022)
    try:
        assert cli("run", "--years", "1", "--no-plots", "--quiet", "--out", str(out)).returncode == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755


def test_a_sweep_reads_its_scenario_file_once(tmp_path, monkeypatch):
    import model.scenario

    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "baseline"\nname = "mine"\n')
    reads = []
    real = model.scenario.read_toml
    monkeypatch.setattr(model.scenario, "read_toml", lambda path: reads.append(path) or real(path))
    from sweeps.sweep import SweepPlan, resolved_points

    plan = SweepPlan(scenario=str(mine), overrides=[], factors=["regulator.hhi_threshold"],
                     points=[{"regulator.hhi_threshold": float(v)} for v in range(1000, 1050)], replicates=1, seed=1,
                     years=1, design="grid")
    base, points = resolved_points(plan)
    assert [p.regulator.hhi_threshold for p in points] == [float(v) for v in range(1000, 1050)]
    assert sum(Path(r).name == "mine.toml" for r in reads) == 1


def test_workers_have_a_hard_cap_even_when_forced(tmp_path):
    one_error_line(cli("compare", "baseline", "jassy_bold", "--workers", "99999999999999999999999999",
                       "--force-workers", "--replicates", "1", "--years", "1", "--out", str(tmp_path / "c")), "1024")


def test_a_sweep_out_that_is_not_utf8_is_one_line(tmp_path):
    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/s\xff")
    one_error_line(cli(*SWEEP, "--out", out), "UTF-8")


def test_calibrate_and_hindcast_refuse_a_folder_of_the_users_files(tmp_path):
    mine = user_folder(tmp_path / "mine", "calibration.json")
    before = snapshot(mine)
    one_error_line(cli("calibrate", "--fit-until", "2021", "--population", "10", "--generations", "1",
                       "--replicates", "1", "--workers", "1", "--quiet", "--out", str(mine)), str(mine))
    one_error_line(cli("hindcast", "--calibration", str(ROOT / "data" / "calibration-2021"), "--draws", "1",
                       "--replicates", "1", "--workers", "1", "--no-plots", "--quiet", "--out", str(mine)), str(mine))
    assert snapshot(mine) == before


def test_tables_are_written_plain_quoted_only_where_needed_and_long_ones_also_as_parquet(tmp_path, monkeypatch):
    """A header and cells without quotes; a value with a comma quoted (the whole file then quotes
    strings); full precision and true/false; a table over PARQUET_ROWS rows also as Parquet,
    equal to its CSV."""
    import pandas as pd

    from report import export

    frame = pd.DataFrame({"firm": ["amazon", "startup_0001"], "share": [0.1 + 0.2, 1 / 3], "alive": [True, False]})
    assert export.write_table(frame, tmp_path, "plain.csv") == ["plain.csv"]
    assert (tmp_path / "plain.csv").read_text().splitlines() == [
        "firm,share,alive", "amazon,0.30000000000000004,true", "startup_0001,0.3333333333333333,false"]
    odd = frame.assign(firm=["amazon", "Acme, Inc."])
    export.write_table(odd, tmp_path, "odd.csv")
    assert pd.read_csv(tmp_path / "odd.csv")["firm"].tolist() == ["amazon", "Acme, Inc."]
    monkeypatch.setattr(export, "PARQUET_ROWS", 1)
    assert export.write_table(frame, tmp_path, "long.csv") == ["long.csv", "long.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "long.parquet"), pd.read_csv(tmp_path / "long.csv"))
