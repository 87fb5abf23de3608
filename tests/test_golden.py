"""Golden outputs: every scenario x 3 seeds, a small sweep and a comparison, hashed table by table.

This guards restructurings that must not change behaviour: any change to a number, a row, a
column or an edge of the network shows up as a changed hash, named by the command and file.
A change of behaviour on purpose regenerates the hashes in its own commit:

    GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/test_golden.py

Tables are hashed by content (CSV cells, Parquet rows and the network's nodes and edges read
back into a canonical form, floats to 12 digits), not by the bytes a library writes, so a new
pyarrow, pandas or networkx laying out the same content otherwise does not count as a change.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import networkx as nx
import pyarrow.parquet as pq
import pytest

import run as cli
from model.scenario import available_scenarios

GOLDEN = Path(__file__).resolve().parent / "golden" / "hashes.json"
SEEDS = (0, 1, 2)
YEARS = 10
RUN_FILES = ("shares.csv", "firms.csv", "model.csv", "events.csv", "network.graphml", "summary.json")
COMPARE_FILES = ("compare.csv", "compare_paired.csv", "runs.csv", "share_bands.csv", "valuation_paired.csv",
                 "verdict_sensitivity.csv", "uncertainty_split.csv", "compare.json")
SWEEP_FILES = ("runs.parquet", "yearly.parquet")
SWEEP = ["sweep", "--vary", "firms.amazon.ai_budget_bn=20:60:3", "--vary", "regulator.hhi_threshold=1000,2500",
         "--replicates", "2", "--years", "5", "--seed", "3", "--workers", "1", "--no-plots", "--quiet"]
COMPARE = ["compare", "jassy_bold", "conservative", "--replicates", "4", "--years", str(YEARS), "--seed", "5",
           "--workers", "1", "--quiet"]


def _canonical(value):
    if isinstance(value, float):
        return format(value, ".12g")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _cell(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _content(path: Path):
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return [[_cell(cell) for cell in row] for row in csv.reader(handle)]
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    graph = nx.read_graphml(path)
    return {"graph": graph.graph,
            "nodes": sorted([str(n), attrs] for n, attrs in graph.nodes(data=True)),
            "edges": sorted(([str(u), str(v), attrs] for u, v, attrs in graph.edges(data=True)),
                           key=lambda edge: json.dumps(_canonical(edge), sort_keys=True))}


def _digest(path: Path) -> str:
    if path.suffix in (".json", ".csv", ".parquet", ".graphml"):  # floats to 12 digits: the last bits move with numpy's build
        content = json.loads(path.read_text()) if path.suffix == ".json" else _content(path)
        data = json.dumps(_canonical(content), sort_keys=True).encode()
    else:
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def _hashes(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: _digest(folder / name) for name in names}


def _run(args: list[str]) -> None:
    assert cli.main(args) == 0, args


@pytest.fixture(scope="module")
def current(tmp_path_factory) -> dict[str, dict[str, str]]:
    base = tmp_path_factory.mktemp("golden")
    hashes: dict[str, dict[str, str]] = {}
    for scenario in available_scenarios():
        for seed in SEEDS:
            out = base / f"{scenario}-{seed}"
            _run(["run", "--scenario", scenario, "--seed", str(seed), "--years", str(YEARS), "--no-plots", "--quiet",
                  "--out", str(out)])
            hashes[f"run {scenario} seed {seed}"] = _hashes(out, RUN_FILES)
    _run([*SWEEP, "--out", str(base / "sweep")])
    hashes["sweep"] = _hashes(base / "sweep", SWEEP_FILES)
    _run([*COMPARE, "--out", str(base / "compare")])
    hashes["compare"] = _hashes(base / "compare", COMPARE_FILES)
    return hashes


def test_outputs_match_the_golden_hashes(current):
    if os.environ.get("GOLDEN_UPDATE"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(current) == sorted(golden), "the set of golden cases changed"
    changed = [f"{case}: {name}" for case in golden for name in golden[case] if current[case].get(name) != golden[case][name]]
    assert not changed, f"{len(changed)} outputs changed, e.g. " + "; ".join(changed[:8])
