"""The command line end to end: files and columns, reproducibility, and clean failures on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from model.schema import EVENT_KINDS

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_COLUMNS = {
    "shares.csv": ["year", "segment", "firm", "share", "revenue_bn"],
    "firms.csv": ["year", "firm", "kind", "strategy", "ai_spend_bn", "capability", "profit_bn", "cash_bn", "alive"],
    "events.csv": ["year", "event", "source", "target", "segment", "value_bn"],
    "model.csv": ["year", "size_bn_cloud_ai", "hhi_cloud_ai", "size_bn_ecommerce", "hhi_ecommerce", "size_bn_advertising",
                  "hhi_advertising", "ai_wage_index", "compute_utilization", "startups_alive", "acquisitions",
                  "blocked_acquisitions"],
}
ALL_FILES = {*EXPECTED_COLUMNS, "network.graphml", "summary.json", "shares.png", "finance.png", "network.png"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "baseline"
    result = cli("run", "--scenario", "baseline", "--years", "10", "--seed", "7", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_run_writes_every_file_with_its_columns(baseline_run):
    out, result = baseline_run
    assert {p.name for p in out.iterdir()} == ALL_FILES
    for name, columns in EXPECTED_COLUMNS.items():
        frame = pd.read_csv(out / name)
        assert set(columns) <= set(frame.columns), f"{name} lacks {set(columns) - set(frame.columns)}"
    shares = pd.read_csv(out / "shares.csv")
    assert sorted(shares["year"].unique()) == list(range(2023, 2034))
    assert set(shares["segment"]) == {"cloud_ai", "ecommerce", "advertising"}
    assert {"amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba", "others"} <= set(shares["firm"])
    totals = shares.groupby(["year", "segment"])["share"].sum()
    assert totals.sub(1.0).abs().max() < 1e-9
    firms = pd.read_csv(out / "firms.csv")
    assert set(firms["kind"]) == {"major", "startup"}
    assert set(firms.loc[firms["year"] > 2023, "strategy"]) <= {"accelerate", "differentiate", "partner"}
    events = pd.read_csv(out / "events.csv")
    assert set(events["event"]) <= set(EVENT_KINDS)
    assert len(pd.read_csv(out / "model.csv")) == 11


def test_run_network_and_summary(baseline_run):
    out, result = baseline_run
    graph = nx.read_graphml(out / "network.graphml", force_multigraph=True)
    assert {"amazon", "azure", "others"} <= set(graph.nodes)
    kinds = {d["kind"] for _, _, d in graph.edges(data=True)}
    assert kinds <= {"acquired", "blocked", "partner", "share_flow"} and "share_flow" in kinds
    assert all("year" in d and "value_bn" in d for _, _, d in graph.edges(data=True))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "baseline" and summary["seed"] == 7 and summary["years"] == 10
    assert summary["parameters"]["firms"]["amazon"]["ai_budget_bn"] == 40.0
    assert set(summary["firms"]) == {"amazon", "azure", "google_cloud", "walmart", "shopify", "alibaba"}
    assert "Final market shares" in result.stdout and "amazon" in result.stdout
    for segment, shares in summary["final_shares"].items():
        assert sum(shares.values()) == pytest.approx(1.0)


def test_same_seed_gives_byte_identical_files_and_other_seeds_differ(baseline_run, tmp_path):
    out, _ = baseline_run
    again = tmp_path / "again"
    assert cli("run", "--scenario", "baseline", "--years", "10", "--seed", "7", "--out", str(again)).returncode == 0
    for name in ALL_FILES:
        assert (out / name).read_bytes() == (again / name).read_bytes(), f"{name} differs between identical runs"
    other = tmp_path / "other"
    assert cli("run", "--seed", "8", "--no-plots", "--out", str(other)).returncode == 0
    assert (out / "shares.csv").read_bytes() != (other / "shares.csv").read_bytes()


def test_overrides_reach_the_model(tmp_path):
    out = tmp_path / "stricter"
    result = cli("run", "--scenario", "baseline", "--set", "firms.amazon.ai_budget_bn=60",
                 "--set", "regulator.hhi_threshold=1200", "--years", "2", "--no-plots", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    params = json.loads((out / "summary.json").read_text())["parameters"]
    assert params["firms"]["amazon"]["ai_budget_bn"] == 60.0
    assert params["regulator"]["hhi_threshold"] == 1200.0
    assert params["years"] == 2


@pytest.mark.parametrize("args, named", [
    (["--scenario", "no_such_scenario"], "no_such_scenario"),
    (["--set", "regulator.hhi_treshold=1200"], "hhi_treshold"),
    (["--set", "firms.amzon.ai_budget_bn=60"], "amzon"),
    (["--set", "firms.amazon.ai_budget_bn=lots"], "lots"),
    (["--set", "firms.amazon.ai_budget_bn=-5"], "-5"),
    (["--set", "talent.supply_growth=nan"], "nan"),
    (["--set", "compute.capacity_growth=-1.5"], "-1.5"),
    (["--set", "firms.amazon.policy=yolo"], "yolo"),
    (["--set", "noequals"], "noequals"),
    (["--years", "0"], "0"),
    (["--years", "ten"], "ten"),
    (["--seed", "1.5"], "1.5"),
])
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, args, named):
    out = tmp_path / "never"
    result = cli("run", *args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unwritable_output_folder_exits_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = cli("run", "--years", "1", "--out", str(blocker / "results"))
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_failed_write_leaves_no_folder_that_looks_complete(tmp_path, monkeypatch):
    """If anything fails while writing, neither the output nor a staging folder is left behind."""
    from functools import partial

    import viz.plots
    from model.race import AIRaceModel
    from report.export import write_run
    from report.tables import run_tables, summarize

    model = AIRaceModel("baseline", rng=1, years=2)
    model.run()
    tables = run_tables(model)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(viz.plots, "plot_network", broken)
    out = tmp_path / "results"
    with pytest.raises(RuntimeError):
        write_run(out, tables, model.graph, summarize(model, seed=1),
                  partial(viz.plots.save_run_figures, tables.shares, tables.firms, model.graph))
    assert list(tmp_path.iterdir()) == []


def test_rerun_replaces_old_results_but_not_other_folders(tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    refused = cli("run", "--years", "1", "--out", str(mine))
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    out = tmp_path / "results"
    assert cli("run", "--years", "1", "--no-plots", "--quiet", "--out", str(out)).returncode == 0
    assert cli("run", "--years", "2", "--no-plots", "--quiet", "--out", str(out)).returncode == 0
    assert json.loads((out / "summary.json").read_text())["years"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "results"]


def test_help_and_scenario_listing():
    result = cli("--help")
    assert result.returncode == 0 and "run" in result.stdout and "show-scenario" in result.stdout
    assert "--set" in cli("run", "--help").stdout
    listing = cli("scenarios")
    assert listing.returncode == 0 and "baseline" in listing.stdout
    shown = cli("show-scenario", "baseline", "--set", "firms.amazon.ai_budget_bn=55")
    assert shown.returncode == 0 and json.loads(shown.stdout)["firms"]["amazon"]["ai_budget_bn"] == 55.0


def test_compare_refuses_plans_that_start_in_different_years(tmp_path):
    """history_2019 runs 2020-; baseline 2024-: pairing their years would value one against zeros."""
    done = subprocess.run([sys.executable, "run.py", "compare", "history_2019", "baseline", "--years", "4",
                           "--replicates", "2", "--out", str(tmp_path / "c")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "start in different years" in lines[0] and "history_2019 in" in lines[0]
    assert not (tmp_path / "c").exists()
