"""Hostile input (issue 9): absurd magnitudes, runs that cannot fit, overflow, odd files, names and seeds.

Every refusal is a ScenarioError with one line per problem that names the bad value; the command
line prints each as `error: ...` and exits 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import tracemalloc
import typing
import warnings
from pathlib import Path
from typing import get_args, get_origin

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from model import params as params_module
from model import scenario as scenario_module
from model.ledger import BOOL_COLUMNS, INT_COLUMNS, PER_FIRM, PER_SEGMENT
from model.params import Scenario
from model.race import AIRaceModel
from model.scenario import (
    MAX_EXTENDS_DEPTH, MAX_FILE_BYTES, MAX_FIRMS, MAX_PROBLEMS, SCENARIO_DIR, NonFiniteResult, ScenarioError,
    available_scenarios, load_scenario, scenario_to_dict,
)

ROOT = Path(__file__).resolve().parent.parent
DETERMINISTIC = dict(derandomize=True, database=None, deadline=None, print_blob=False)
FLOAT_COLUMNS = [c for c in PER_SEGMENT + PER_FIRM if c not in INT_COLUMNS and c not in BOOL_COLUMNS]
OVERFLOW = {"talent.supply_growth": -0.99, "talent.wage_elasticity": 10.0}  # the AI wage index explodes


def problems_of(source, overrides=()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(source), list(overrides))
    problems = info.value.problems
    assert problems and all(isinstance(p, str) and len(p.splitlines()) == 1 for p in problems), problems[:5]
    return problems


def only_problem(source, overrides=()) -> str:
    problems = problems_of(source, overrides)
    assert len(problems) == 1, problems[:5]
    return problems[0]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def refused_in_one_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, result.stderr[-500:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[:1000]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def schema_field(dotted: str) -> tuple[dataclasses.Field, typing.Any]:
    """The dataclass field and type a dotted parameter path names."""
    cls, parts, i = Scenario, dotted.split("."), 0
    while True:
        hint = typing.get_type_hints(cls)[parts[i]]
        fld = {f.name: f for f in dataclasses.fields(cls)}[parts[i]]
        if get_origin(hint) is dict:
            cls, i = get_args(hint)[1], i + 2
        elif dataclasses.is_dataclass(hint):
            cls, i = hint, i + 1
        else:
            return fld, hint


def leaves(tree: dict, prefix: str = "") -> dict[str, typing.Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# The declared ranges of [uncertainties] are tables about parameters, not parameters (tests/test_uncertainty.py).
BASELINE = {path: value for path, value in leaves(scenario_to_dict(load_scenario("baseline"))).items()
            if not path.startswith("uncertainties.")}
NUMERIC = sorted(p for p in BASELINE if schema_field(p)[1] in (int, float))
NOT_RUN = {"years", "start_year", "startups.initial_count", "startups.entry_rate"}  # checked by loading only


def bounds(path: str) -> tuple[float, float]:
    meta = schema_field(path)[0].metadata
    return meta["lo"], meta["hi"]


def in_bounds(path: str, value: float) -> bool:
    meta = schema_field(path)[0].metadata
    lo, hi = meta["lo"], meta["hi"]
    above_lo = value > lo if meta["lo_open"] else value >= lo
    return above_lo and value <= hi


def assert_finite_state(model: AIRaceModel) -> None:
    led = model.ledger
    for column in FLOAT_COLUMNS:
        assert np.all(np.isfinite(led.col(column))), f"{model.year}: {column} is not finite"
    assert np.all(np.isfinite(model.demand.size_bn)), f"{model.year}: segment sizes {model.demand.size_bn}"


# ================================================================== 1. every number has a finite range
def numeric_fields():
    for name in dir(params_module):
        cls = getattr(params_module, name)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == params_module.__name__:
            hints = typing.get_type_hints(cls)
            for fld in dataclasses.fields(cls):
                if hints[fld.name] in (int, float):
                    yield f"{cls.__name__}.{fld.name}", fld.metadata


def test_every_numeric_parameter_has_a_finite_range():
    unbounded = []
    for name, meta in numeric_fields():
        lo, hi = meta.get("lo"), meta.get("hi")
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            unbounded.append(f"{name} [{lo}, {hi}]")
        assert meta.get("doc"), f"{name} lost its doc"
    assert not unbounded, f"{len(unbounded)} parameters without a finite range: {', '.join(unbounded)}"


@pytest.mark.parametrize("override, shown", [
    ("segments.cloud_ai.size_bn=1e308", "(must be <= 1,000,000)"),
    ("segments.ecommerce.base_growth=1e6", "(must be <= 2)"),
    ("firms.amazon.cash_bn=-1e308", "(must be >= -100,000)"),
    ("firms.azure.other_cash_flow_bn=1e300", "(must be <= 100,000)"),
    ("firms.amazon.ai_budget_bn=1e12", "(must be <= 100,000)"),
    ("talent.supply_growth=3", "(must be <= 2)"),
    ("talent.wage_elasticity=1e9", "(must be <= 10)"),
    ("market.differentiation_pull_bonus=1e300", "(must be <= 10)"),
    ("partnership.leverage=1e300", "(must be <= 100)"),
    ("regulator.strictness=1e300", "(must be <= 10,000)"),
    ("startups.initial_count=1000000", "(must be <= 100,000)"),
    ("startups.entry_rate=1e9", "(must be <= 100,000)"),
])
def test_an_absurd_magnitude_is_refused_naming_its_range(override, shown):
    path, value = override.split("=")
    line = only_problem("baseline", [override])
    assert line.startswith(f"baseline.toml: {path}: ") and "out of range" in line and line.endswith(shown), line
    assert repr(float(value) if schema_field(path)[1] is float else int(value)) in line


def test_the_command_line_refuses_an_absurd_market_size():
    result = cli("run", "--set", "segments.cloud_ai.size_bn=1e308", "--years", "1", "--quiet", "--no-plots",
                 "--out", "/nonexistent/never-written")
    refused_in_one_line(result, "segments.cloud_ai.size_bn", "1e+308", "must be <= 1,000,000")


EDGE_VALUES = st.sampled_from([1e308, -1e308, 1e300, 1e15, 1e9, -1e9, 1_000_001.0, 100_001.0, 10_001.0, 2.0000001,
                               201.0, 1001.0, 5e-324, -5e-324, 0.0, -0.0, 1.0])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], **DETERMINISTIC)
@given(data=st.data())
def test_any_numeric_override_is_refused_or_runs_to_finite_results(data):
    """In range: the model runs with finite state (or stops with NonFiniteResult); out of range: one line naming it."""
    path = data.draw(st.sampled_from(NUMERIC), label="path")
    lo, hi = bounds(path)
    near = st.builds(lambda x, f: x * f, st.sampled_from([lo, hi]), st.sampled_from([1.0, 0.5, 1.0000001, 2.0, -1.0]))
    value = data.draw(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**20), 10**20),
                                EDGE_VALUES, near), label="value")
    if schema_field(path)[1] is int and isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        value = int(value)
    try:
        if path in NOT_RUN:
            load_scenario("baseline", [f"{path}={value!r}"])
            model = None
        else:
            model = AIRaceModel("baseline", rng=0, years=2, **{path: value})
    except ScenarioError as exc:
        assert exc.problems and all(len(p.splitlines()) == 1 for p in exc.problems)
        if isinstance(value, (int, float)) and not in_bounds(path, value):
            assert any(f"{path}: " in p for p in exc.problems), exc.problems
        event("refused")
        return
    assert in_bounds(path, value), f"{path}={value!r} was accepted, outside [{lo}, {hi}]"
    if model is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            model.run()
        except NonFiniteResult as exc:
            assert re.fullmatch(r"year \d{4}: .+ \(the parameters make the model overflow\)", str(exc)), str(exc)
            event("overflow")
            return
    event("ran")
    assert_finite_state(model)


# ================================================================== 2. a run that cannot fit
def test_a_run_that_would_create_too_many_firms_is_refused():
    line = only_problem("baseline", ["startups.entry_rate=100000", "years=200"])
    assert line.startswith("baseline.toml: startups.entry_rate: ")
    for fragment in ("100,000 entrants a year over 200 years", "about 20,000,030 firms", f"{MAX_FIRMS:,}",
                     "startups.initial_count", "years"):
        assert fragment in line, line
    line = only_problem("baseline", ["startups.initial_count=100000", "startups.entry_rate=50000"])
    assert "about 600,000 firms" in line and f"{MAX_FIRMS:,}" in line, line
    for entry_rate in (1000, 10_000 / 3):  # the benchmarks' largest workloads still fit
        sc = load_scenario("baseline", ["startups.initial_count=10000", f"startups.entry_rate={entry_rate}"])
        assert sc.startups.initial_count == 10_000 and sc.startups.entry_rate == entry_rate


def test_the_command_line_refuses_a_huge_entry_rate_at_once():
    result = cli("run", "--set", "startups.entry_rate=1e9", "--quiet", "--no-plots", "--out", "/nonexistent/x",
                 timeout=60)
    refused_in_one_line(result, "startups.entry_rate", "1000000000.0", "must be <= 100,000")


# ================================================================== 3. overflow is a clear failure
OVERFLOW_MESSAGE = r"year (\d{4}): (.+) \(the parameters make the model overflow\)"


def test_an_overflowing_run_raises_non_finite_result_without_warnings():
    baseline = AIRaceModel("baseline", rng=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        baseline.run()
    assert_finite_state(baseline)
    model = AIRaceModel("baseline", rng=0, years=40, **OVERFLOW)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteResult) as info:
            model.run()
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, ScenarioError)
    match = re.fullmatch(OVERFLOW_MESSAGE, str(err))
    assert match, str(err)
    assert int(match.group(1)) == model.year and 2024 < model.year < 2064
    assert "rationing talent and compute" in match.group(2), str(err)
    assert err.problems == [str(err)]


def test_a_non_finite_ledger_value_is_named_with_its_year_and_firm():
    """Capability so large that capability^gamma overflows (the fringe's spend tripling every year for a
    century and more): shares become NaN, named with the firm."""
    model = AIRaceModel("baseline", rng=0, years=150, **{
        "capability.returns_exponent": 1.0, "segments.cloud_ai.capability_elasticity": 5.0,
        "segments.cloud_ai.fringe_ai_spend_bn": 1e5, "segments.cloud_ai.fringe_spend_growth": 2.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteResult) as info:
            model.run()
    match = re.fullmatch(OVERFLOW_MESSAGE, str(info.value))
    assert match, str(info.value)
    assert re.fullmatch(r"\w+ of [\w ]+ is (inf|-inf|nan)", match.group(2)), match.group(2)
    assert model.datacollector.get_model_vars_dataframe()["year"].max() < int(match.group(1)), \
        "the year that overflowed was recorded"


def test_the_command_line_reports_an_overflow_in_one_line(tmp_path):
    result = cli("run", *[a for k, v in OVERFLOW.items() for a in ("--set", f"{k}={v}")], "--years", "40", "--quiet",
                 "--no-plots",
                 "--out", str(tmp_path / "out"))
    line = refused_in_one_line(result, "the parameters make the model overflow")
    assert re.fullmatch("error: " + OVERFLOW_MESSAGE, line), line
    assert not (tmp_path / "out").exists()


# ================================================================== 4. the loader's messages
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_deep_extends_chain_is_refused_naming_where_it_stops(tmp_path):
    depth = 1000
    for i in range(depth):
        parent = f"c{i + 1}.toml" if i + 1 < depth else "baseline"
        write(tmp_path / f"c{i}.toml", f'extends = "{parent}"\n')
    line = only_problem(tmp_path / "c0.toml")
    assert f"c{MAX_EXTENDS_DEPTH - 1}.toml" in line and f"more than {MAX_EXTENDS_DEPTH} files" in line, line
    assert "nested too deeply" not in line


def test_an_extends_chain_at_the_limit_loads(tmp_path):
    for i in range(MAX_EXTENDS_DEPTH - 1):
        parent = f"c{i + 1}.toml" if i + 1 < MAX_EXTENDS_DEPTH - 1 else "baseline"
        write(tmp_path / f"c{i}.toml", f'extends = "{parent}"\nyears = {i + 1}\n')
    assert load_scenario(str(tmp_path / "c0.toml")).years == 1
    write(tmp_path / f"c{MAX_EXTENDS_DEPTH - 2}.toml", f'extends = "c{MAX_EXTENDS_DEPTH - 1}.toml"\n')
    write(tmp_path / f"c{MAX_EXTENDS_DEPTH - 1}.toml", 'extends = "baseline"\n')
    assert f"more than {MAX_EXTENDS_DEPTH} files" in only_problem(tmp_path / "c0.toml")


def finishes(target, seconds: float = 20.0):
    """target() run in a thread; fails (instead of hanging) if it blocks, e.g. by opening a FIFO."""
    outcome = {}

    def run():
        try:
            outcome["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the loader blocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def special_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Things that are not a scenario file, and what the loader must call them."""
    (tmp_path / "folder.toml").mkdir()
    os.mkfifo(tmp_path / "pipe.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "missing.toml")
    return {
        "directory": (tmp_path / "folder.toml", "is a directory, not a scenario file"),
        "plain directory": (tmp_path, "is a directory, not a scenario file"),
        "fifo": (tmp_path / "pipe.toml", "not a regular file (a FIFO)"),
        "device": (Path("/dev/zero"), "not a regular file (a character device)"),
        "symlink loop": (tmp_path / "loop.toml", "is a symbolic link loop, not a scenario file"),
        "dangling symlink": (tmp_path / "dangling.toml", "scenario file not found (a broken symbolic link)"),
        "under a file": (tmp_path / "pipe.toml" / "x.toml",
                         "scenario file not found (a part of the path is not a directory)"),
    }


KINDS = ["directory", "plain directory", "fifo", "device", "symlink loop", "dangling symlink", "under a file"]


@pytest.mark.parametrize("kind", KINDS)
def test_what_is_not_a_scenario_file_is_called_what_it_is(tmp_path, kind):
    path, expected = special_files(tmp_path)[kind]
    line = finishes(lambda: only_problem(path))
    assert line == f"{path}: {expected}", line


@pytest.mark.parametrize("kind", KINDS)
def test_extends_naming_what_is_not_a_scenario_file(tmp_path, kind):
    path, expected = special_files(tmp_path)[kind]
    child = write(tmp_path / "child.toml", f'extends = "{path}"\n')
    line = finishes(lambda: only_problem(child))
    assert line.startswith(f"{child.resolve()}: extends ") and line.endswith(expected), line


def test_the_command_line_does_not_block_on_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")
    refused_in_one_line(cli("run", "--scenario", str(tmp_path / "pipe.toml"), "--quiet", "--out", str(tmp_path / "o"),
                            timeout=60), "pipe.toml", "FIFO")


def test_a_path_with_a_nul_byte(tmp_path):
    line = only_problem(f"{tmp_path}/a\0b.toml")
    assert "a\\x00b.toml" in line and line.endswith("the path contains a NUL byte"), line
    child = write(tmp_path / "child.toml", 'extends = "x\\u0000y"\n')
    assert only_problem(child).endswith("the path contains a NUL byte")


def test_an_overlong_path_keeps_its_reason_visible(tmp_path):
    line = only_problem(str(tmp_path / ("x" * 5000 + ".toml")))
    assert line.endswith("path too long") and len(line) < 400 and "…" in line, line


def problem_and_peak_memory(path) -> tuple[str, int]:
    """The loader's one problem for `path`, and the most memory Python allocated to find it."""
    tracemalloc.start()
    try:
        line = only_problem(path)
        return line, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_file_is_refused_by_its_size_without_reading_it(tmp_path):
    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no disk space used
    line, peak = problem_and_peak_memory(huge)
    assert line == f"{huge}: file is 2,147,483,648 bytes, more than the {MAX_FILE_BYTES:,} a scenario may have"
    assert peak < 20 * 1024**2, f"{peak:,} bytes allocated to refuse it"


def test_a_file_that_grows_after_the_size_check_is_read_no_further_than_the_limit(tmp_path, monkeypatch):
    path = write(tmp_path / "growing.toml", 'extends = "baseline"\n' + "# x\n" * (2 * MAX_FILE_BYTES))
    real_stat, real_fstat = os.stat, os.fstat

    def shrunk(info: os.stat_result) -> os.stat_result:
        return os.stat_result((*info[:6], 10, *info[7:]))

    monkeypatch.setattr(os, "stat", lambda target, *a, **k: shrunk(real_stat(target, *a, **k))
                        if str(target) == str(path) else real_stat(target, *a, **k))
    monkeypatch.setattr(os, "fstat", lambda fd: shrunk(real_fstat(fd)))
    line, peak = problem_and_peak_memory(path)
    assert line == f"{path}: file is more than the {MAX_FILE_BYTES:,} bytes a scenario may have", line
    assert peak < 3 * MAX_FILE_BYTES, f"{peak:,} bytes allocated to refuse it"


def test_a_scenario_error_from_a_worker_process_keeps_its_lines():
    """Sweeps and batch_run send exceptions back between processes by pickling them."""
    with pytest.raises(ScenarioError) as info:
        load_scenario("baseline", ["years=0", "firms.amazon.ai_budget_bn=-1"])
    error = pickle.loads(pickle.dumps(info.value))
    assert type(error) is ScenarioError and error.problems == info.value.problems and len(error.problems) == 2
    overflow = pickle.loads(pickle.dumps(NonFiniteResult(2051, "cash_bn of amazon is inf")))
    assert str(overflow) == "year 2051: cash_bn of amazon is inf (the parameters make the model overflow)"
    assert (overflow.year, overflow.quantity, overflow.problems) == (2051, "cash_bn of amazon is inf", [str(overflow)])


def test_thousands_of_problems_are_cut_to_a_readable_list(tmp_path):
    keys = 85_000
    path = write(tmp_path / "many.toml", 'extends = "baseline"\n' + "".join(f"k{i} = 1\n" for i in range(keys)))
    problems = problems_of(path)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0] == "many.toml: k0: unknown key"
    assert problems[-1] == f"... and {keys - MAX_PROBLEMS:,} more problems"
    result = cli("run", "--scenario", str(path), "--quiet", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == f"error: ... and {keys - MAX_PROBLEMS:,} more problems"
    assert len(result.stderr.splitlines()) == MAX_PROBLEMS + 1


def test_a_folder_with_a_scenario_name_is_not_a_scenario(tmp_path, monkeypatch):
    library = tmp_path / "scenarios"
    library.mkdir()
    shutil.copy(SCENARIO_DIR / "baseline.toml", library / "baseline.toml")
    (library / "evil.toml").mkdir()
    os.mkfifo(library / "pipe.toml")
    monkeypatch.setattr(scenario_module, "SCENARIO_DIR", library)
    assert available_scenarios() == ["baseline"]
    assert finishes(lambda: only_problem("evil")) == f"{library / 'evil.toml'}: is a directory, not a scenario file"
    assert finishes(lambda: only_problem("pipe")).endswith("not a regular file (a FIFO)")
    assert load_scenario("baseline").name == "baseline"


BAD_NAMES = ["/abs/path", "../../x", "a/b", "..", "a..b", ".hidden", "-rf", "", "x" * 65, "tab\there", "two words",
             "nul\0", "back\\slash", "rocket_\U0001F680", "ünïcode"]


GOOD_NAMES = ["baseline", "my-run_2.v1", "x" * 64, "2030", "A"]


def test_a_scenario_name_must_be_a_plain_name(tmp_path):
    for name in BAD_NAMES:
        escaped = name.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\0", "\\u0000")
        for problems in (problems_of("baseline", [f'name="{escaped}"']),
                         problems_of(write(tmp_path / "named.toml", f'extends = "baseline"\nname = "{escaped}"\n'))):
            assert len(problems) == 1, problems
            assert ": name: " in problems[0] and "not a plain name" in problems[0], problems[0]
            assert scenario_module._one_line(repr(name)) in problems[0], problems[0]
    for name in GOOD_NAMES:
        assert load_scenario("baseline", [f'name="{name}"']).name == name


RAW_BASELINE = scenario_module.resolve_raw("baseline")[0]


@settings(max_examples=300, **DETERMINISTIC)
@given(name=st.one_of(st.text(max_size=70), st.text(st.sampled_from("./-_ ab\\\0\n~"), max_size=8)))
def test_any_accepted_name_stays_a_folder_inside_results(name):
    try:
        scenario = scenario_module.build_scenario({**RAW_BASELINE, "name": name}, source="named.toml")
    except ScenarioError as exc:
        assert len(exc.problems) == 1 and exc.problems[0].startswith("named.toml: name: "), exc.problems
        event("refused")
        return
    event("kept")
    folder = os.path.normpath(os.path.join("results", scenario.name))
    assert os.path.dirname(folder) == "results" and os.path.basename(folder) == name, folder
    assert 1 <= len(name) <= 64 and name.isascii() and name.isprintable() and " " not in name
    assert not name.startswith(("-", ".")) and ".." not in name


def test_the_command_line_never_writes_outside_results(tmp_path):
    target = tmp_path / "escaped"
    result = cli("run", "--set", f'name="{target}"', "--years", "1", "--quiet", "--no-plots")
    refused_in_one_line(result, "name", str(target), "not a plain name")
    assert not target.exists()


# ================================================================== 5. the browser's seed box
def parse_seed(value):
    from browser.settings import parse_seed as parse
    return parse(value)


@pytest.mark.parametrize("text", ["²", "１２", "٣", "1" * 4400, str(2**63), str(10**30)])
def test_a_seed_that_is_not_a_plain_number_is_a_checksum(text):
    seed, shown = parse_seed(text)
    assert isinstance(seed, int) and 0 <= seed <= 2**63 - 1
    assert "from the text" in shown and len(shown) < 120 and len(shown.splitlines()) == 1, shown
    assert parse_seed(text) == (seed, shown)
    from browser.settings import BrowserRaceModel
    model = BrowserRaceModel("baseline", rng=text)
    model.step()
    assert model.seed == seed and model.seed_text == shown


def test_the_largest_plain_seed_is_a_number():
    assert parse_seed(str(2**63 - 1)) == (2**63 - 1, str(2**63 - 1))
    assert parse_seed(2**63 - 1) == (2**63 - 1, str(2**63 - 1))
    assert parse_seed(2**70)[0] <= 2**63 - 1 and "from the text" in parse_seed(2**70)[1]


@settings(max_examples=300, **DETERMINISTIC)
@given(text=st.one_of(st.text(max_size=30), st.text(st.characters(categories=("Nd", "No")), max_size=30),
                      st.integers(0, 10**40).map(str), st.integers(-(10**40), 10**40)))
def test_any_seed_box_value_gives_a_usable_seed(text):
    seed, shown = parse_seed(text)
    assert seed is None or (isinstance(seed, int) and 0 <= seed <= 2**63 - 1)
    assert isinstance(shown, str) and len(shown.splitlines()) <= 1 and len(shown) < 120
    np.random.default_rng(seed)
    if isinstance(text, str) and re.fullmatch(r"[0-9]+", text.strip()) and int(text.strip()) <= 2**63 - 1:
        assert seed == int(text.strip())


@settings(max_examples=200, **DETERMINISTIC)
@given(query=st.one_of(st.text(max_size=80), st.dictionaries(
    st.sampled_from(["scenario", "seed", "years", "amazon_budget", "amazon_policy", "hhi", "talent", "entry", "tab",
                     "seeds", "draws", "first", "second"]),
    st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6).map(str), st.floats().map(str)), max_size=8)))
def test_any_link_gives_settings_the_page_can_use(query):
    """A link to the browser view with any query: usable settings and a reason for each value dropped."""
    from urllib.parse import urlencode

    from browser.app import _request
    from browser.settings import KNOBS, MAX_YEARS, from_query

    text = query if isinstance(query, str) else urlencode(query)
    restored = from_query(text, ("tab", "first", "second", "seeds", "draws"))
    settings = restored.settings
    assert 1 <= settings.years <= MAX_YEARS
    for knob in KNOBS:
        value = settings.values[knob.path]
        assert value in knob.choices if knob.choices else knob.min <= value <= knob.max
    assert all(len(p.splitlines()) == 1 for p in restored.problems)
    request, problems = _request(restored.extra)
    assert 0 <= request.draws <= 50 and 0 <= request.seeds <= 100
