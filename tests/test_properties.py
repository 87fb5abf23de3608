"""Property-based tests: any valid parameter set runs with every yearly invariant intact, and any
invalid scenario file or override is refused cleanly (ScenarioError, one line per problem).

Hypothesis runs derandomized and without its example database, so every run of the suite tries
the same examples.
"""

from __future__ import annotations

import atexit
import datetime as dt
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from model.params import MAJOR_IDS
from model.race import AIRaceModel
from model.scenario import SCENARIO_DIR, ScenarioError, load_scenario, scenario_to_dict

from tests.test_invariants import YearChecker

ROOT = Path(__file__).resolve().parent.parent
BASELINE_TEXT = (SCENARIO_DIR / "baseline.toml").read_text(encoding="utf-8")
BASELINE = tomllib.loads(BASELINE_TEXT)
DETERMINISTIC = dict(derandomize=True, database=None, deadline=None, print_blob=False)
WORK_DIR = Path(tempfile.mkdtemp(prefix="scenario-properties-"))
atexit.register(shutil.rmtree, WORK_DIR, ignore_errors=True)


# ================================================================== (a) valid parameter sets
POLICIES = ("accelerate", "differentiate", "partner", "adaptive")


def between(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


OPTIONAL_PARAMETERS = {
    **{f"firms.{firm}.ai_budget_bn": between(0.0, 100.0) for firm in MAJOR_IDS},
    "talent.supply_growth": between(-0.5, 0.5),
    "compute.capacity_growth": between(-0.5, 1.0),
    "regulator.hhi_threshold": between(0.0, 10_000.0),
    "regulator.delta_hhi_threshold": between(0.0, 10_000.0),
    "regulator.strictness": between(0.1, 100.0),
    "regulator.share_basis": st.sampled_from(["revenue", "capability"]),
    "regulator.dominance_share": between(0.0, 1.0),
    "regulator.dominance_fine_rate": between(0.0, 0.3),
    "startups.entry_rate": between(0.0, 50.0),
    "startups.initial_count": st.integers(0, 50),
    "capability.lag_years": st.integers(0, 3),
    "capability.depreciation": between(0.05, 0.9),
    "market.adjustment_speed": between(0.01, 1.0),
    "partnership.fee_share": between(0.0, 1.0),
    "partnership.capability_share": between(0.0, 1.0),
    "partnership.leverage": between(0.0, 6.0),
    "partnership.providers_may_partner": st.booleans(),
    "strategies.consortium": st.booleans(),
}
VALID_PARAMETERS = st.fixed_dictionaries(
    {f"firms.{firm}.policy": st.sampled_from(POLICIES) for firm in MAJOR_IDS}, optional=OPTIONAL_PARAMETERS,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], **DETERMINISTIC)
@given(overrides=VALID_PARAMETERS, years=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_any_valid_parameter_set_keeps_every_yearly_invariant(overrides, years, seed):
    model = AIRaceModel("baseline", rng=seed, **{**overrides, "years": years})
    for path, value in overrides.items():
        section, *rest = path.split(".")
        resolved = scenario_to_dict(model.params)[section]
        for part in rest:
            resolved = resolved[part]
        assert resolved == value, f"{path}: asked {value!r}, the model uses {resolved!r}"
    checker = YearChecker(model)
    checker.check_year()
    while model.running:
        model.step()
        checker.check_year()
        led = model.ledger
        for column in ("share", "capability", "cash_bn", "revenue_bn", "profit_bn", "ai_spend_bn"):
            assert np.all(np.isfinite(led.col(column))), f"{model.year}: {column} is not finite"
        assert np.isfinite(model.inputs.wage_index) and 0.0 <= model.inputs.compute_utilization <= 1.0
    assert model.steps == years and model.year == model.params.start_year + years - 1
    assert len(checker.acquired) == len(set(checker.acquired)), "a firm was acquired twice"
    for firm in MAJOR_IDS:
        policy = overrides[f"firms.{firm}.policy"]
        agent = model.majors[firm]
        assert agent.strategy_years.sum() == years
        if policy != "adaptive":
            assert agent.strategy_years[("accelerate", "differentiate", "partner").index(policy)] == years, \
                f"{firm} did not follow its fixed policy {policy}"


# ================================================================== (b) invalid scenario files and overrides
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
NAMES = st.text(st.characters(exclude_characters=LINE_BREAKS, exclude_categories=("Cs",)), max_size=12)


def toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_dumps(data: dict) -> str:
    """A small TOML writer: scalars, then sub-tables under [headers]; tables inside arrays go inline."""
    lines: list[str] = []

    def table(node: dict, prefix: list[str]) -> None:
        scalars = [(k, v) for k, v in node.items() if not isinstance(v, dict)]
        tables = [(k, v) for k, v in node.items() if isinstance(v, dict)]
        if prefix and (scalars or not tables):
            lines.append("[" + ".".join(map(toml_key, prefix)) + "]")
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in scalars)
        for key, sub in tables:
            table(sub, [*prefix, key])

    table(data, [])
    return "\n".join(lines) + "\n"


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_the_toml_writer_round_trips_the_baseline():
    assert same(tomllib.loads(toml_dumps(BASELINE)), BASELINE)


def paths(node: dict, prefix: tuple = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in node.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out += paths(value, (*prefix, key))
    return out


BASELINE_PATHS = paths(BASELINE)


def get(node: dict, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


TABLE_PATHS = [()] + [p for p in BASELINE_PATHS if isinstance(get(BASELINE, p), dict)]
LEAF_PATHS = [p for p in BASELINE_PATHS if not isinstance(get(BASELINE, p), dict)]

SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(10**300), 10**300),
    st.floats(),  # NaN and infinities included
    st.sampled_from([-1, -1e-12, 0, 0.0, 1.0000001, 2, 10_000.5, 1e9, -1e9, 1e308, 201, 1899]),  # out of many ranges
    NAMES,
    st.sampled_from(POLICIES + ("revenue", "capability", "Accelerate", "")),
    st.dates(), st.times(), st.datetimes(),
)
GARBAGE = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
                       max_leaves=12)


def nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


DEEP = st.builds(nested, st.integers(1, 40), st.sampled_from(["list", "table"]))
HUGE_TEXT = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "\\", '"', "\t", "€"]), st.integers(10_000, 300_000))
WRONG_VALUES = st.one_of(SCALARS, GARBAGE, DEEP, HUGE_TEXT)


KEY_NAMES = NAMES.filter(lambda name: name != "extends")  # a long text as `extends` is the known bug tested below


@st.composite
def mutations(draw):
    """One change to the baseline table: a key renamed or removed, a leaf or table replaced, garbage added."""
    op = draw(st.sampled_from(["rename", "delete", "replace_leaf", "replace_table", "add"]))
    if op == "add":
        return op, draw(st.sampled_from(TABLE_PATHS)), draw(KEY_NAMES), draw(WRONG_VALUES)
    path = draw(st.sampled_from(LEAF_PATHS if op == "replace_leaf" else TABLE_PATHS[1:] if op == "replace_table" else BASELINE_PATHS))
    if op == "rename":
        return op, path, draw(KEY_NAMES.filter(lambda name: name != path[-1])), None
    if op == "delete":
        return op, path, None, None
    return op, path, None, draw(WRONG_VALUES)


def mutate(data: dict, mutation) -> dict:
    op, path, name, value = mutation
    data = tomllib.loads(toml_dumps(data))  # a deep copy
    parent = get(data, path[:-1]) if path else data
    if op == "add":
        target = get(data, path)
        if name in target:
            target[name + "_added"] = value
        else:
            target[name] = value
    elif op == "rename":
        parent[name] = parent.pop(path[-1])
    elif op == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def write(content: bytes | str, name: str = "scenario.toml") -> Path:
    path = WORK_DIR / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load_or_problems(source, overrides=()) -> tuple[Any, list[str] | None]:
    """The loaded scenario, or the problems of the ScenarioError; anything else fails the test."""
    try:
        return load_scenario(str(source), list(overrides)), None
    except ScenarioError as exc:
        problems = exc.problems
        assert problems, "a ScenarioError without any problem"
        for problem in problems:
            assert isinstance(problem, str) and problem.strip(), f"an empty problem in {problems!r}"
            assert len(problem.splitlines()) == 1, f"a problem spans several lines: {problem[:300]!r}"
        assert str(exc) == "\n".join(problems)
        return None, problems


def refused_cleanly(source, overrides=()) -> None:
    """load_or_problems for the known-bug tests: an escaping exception fails without its (huge) traceback."""
    try:
        load_or_problems(source, overrides)
    except Exception as exc:  # noqa: BLE001 - anything but a ScenarioError is the bug
        message = f"{type(exc).__name__} escaped load_scenario: {str(exc)[:300]}"
    else:
        return
    pytest.fail(message, pytrace=False)


FILE_CONTENTS = st.one_of(
    st.binary(max_size=3_000),
    st.text(max_size=3_000),
    st.builds(lambda cut: BASELINE_TEXT.encode("utf-8")[:cut], st.integers(0, len(BASELINE_TEXT.encode("utf-8")))),
    st.builds(lambda cut, junk: BASELINE_TEXT[:cut] + junk, st.integers(0, len(BASELINE_TEXT)), st.text(max_size=40)),
    # extends: not a scenario name (names over 255 bytes are a known bug, tested below)
    st.builds(lambda value: "extends = " + toml_value(value) + "\n", st.one_of(SCALARS, GARBAGE, DEEP)),
    st.builds(lambda key, value: f'extends = "baseline"\n{key} = {toml_value(value)}\n',
              st.sampled_from([".".join(map(toml_key, p)) for p in BASELINE_PATHS]), WRONG_VALUES),
    st.builds(lambda depth: 'extends = "baseline"\n' + ".".join(["deep"] * depth) + " = 1\n", st.integers(1, 60)),
    st.builds(lambda text: 'extends = "baseline"\ndescription = ' + toml_string(text) + "\n", HUGE_TEXT),
    st.builds(lambda n: b"# " + b"x" * n + b"\n", st.integers(999_000, 1_100_000)),  # around the size limit
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **DETERMINISTIC)
@given(content=FILE_CONTENTS)
def test_any_file_loads_or_is_refused_with_one_line_problems(content):
    scenario, problems = load_or_problems(write(content))
    event("loaded" if scenario is not None else "refused")
    assert (scenario is None) != (problems is None)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **DETERMINISTIC)
@given(mutation=mutations(), via_extends=st.booleans())
def test_a_mutated_baseline_loads_or_names_its_problem(mutation, via_extends):
    data = mutate(BASELINE, mutation)
    op, path, name, value = mutation
    text = toml_dumps(data)
    assert same(tomllib.loads(text), data), "the test's TOML writer lost the mutation"
    if via_extends and path and op != "add":
        # the child file carries only the changed top-level section and inherits the rest
        top = path[0] if op != "rename" or len(path) > 1 else name
        child = {"extends": "baseline", **({top: data[top]} if top in data else {})}
        text = toml_dumps(child)
    scenario, problems = load_or_problems(write(text))
    event(f"{op}: {'loaded' if scenario is not None else 'refused'}")
    if scenario is not None:
        if op == "replace_leaf" and not via_extends:
            resolved = get(scenario_to_dict(scenario), path)
            assert resolved == value, f"{'.'.join(path)}: wrote {value!r}, loaded {resolved!r}"
        return
    if not via_extends:
        # the problem points at the changed key, at its table, or at the new name
        named = {str(k) for k in (*path[-2:], name) if k is not None}
        assert any(n in p for p in problems for n in named), f"{mutation[:3]}: no problem names {named}: {problems[:5]}"


RESOLVED_BASELINE = scenario_to_dict(load_scenario("baseline"))
SCHEMA_LEAVES = [".".join(p) for p in paths(RESOLVED_BASELINE) if not isinstance(get(RESOLVED_BASELINE, p), dict)]
OVERRIDES = st.one_of(
    # valid ones too, so that a mix of good and bad overrides is tried
    st.builds(lambda key: f"{key}={toml_value(get(RESOLVED_BASELINE, tuple(key.split('.'))))}", st.sampled_from(SCHEMA_LEAVES)),
    st.builds(lambda key, value: f"{key}={value}", NAMES, NAMES),
    st.builds(lambda text: text, NAMES),
    st.builds(lambda key, value: f"{key}={toml_value(value)}", st.sampled_from(SCHEMA_LEAVES), st.one_of(SCALARS, GARBAGE, DEEP)),
    st.builds(lambda key, suffix, value: f"{key}{suffix}={value}", st.sampled_from(SCHEMA_LEAVES),
              st.sampled_from([".x", "x", ".", "..", " . "]), NAMES),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], **DETERMINISTIC)
@given(overrides=st.lists(OVERRIDES, min_size=1, max_size=3), scenario=st.sampled_from(["baseline", "jassy_bold"]))
def test_any_override_is_applied_or_refused_with_one_line_problems(overrides, scenario):
    loaded, problems = load_or_problems(scenario, overrides)
    event("applied" if loaded is not None else "refused")
    assert (loaded is None) != (problems is None)


BMP_TEXT = st.text(st.characters(max_codepoint=0xFFFF, exclude_characters=LINE_BREAKS, exclude_categories=("Cs",)),
                   max_size=12)  # characters beyond the BMP are a known bug, tested below
KEYWORD_VALUES = st.one_of(
    st.booleans(), st.integers(-(10**300), 10**300), st.floats(), BMP_TEXT, st.sampled_from(POLICIES),
    st.none(), st.just(np.float64("nan")), st.builds(np.float64, between(-10.0, 10.0)), st.builds(np.int64, st.integers(-5, 300)),
    st.lists(st.integers(), max_size=2), st.dates(),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], **DETERMINISTIC)
@given(path=st.sampled_from(SCHEMA_LEAVES), value=KEYWORD_VALUES)
def test_model_keyword_overrides_are_validated_like_set(path, value):
    """AIRaceModel(**{path: value}) goes through the same validation: it builds or raises ScenarioError."""
    try:
        model = AIRaceModel("baseline", rng=0, years=1, **{path: value})
    except ScenarioError as exc:
        assert exc.problems and all(len(p.splitlines()) == 1 for p in exc.problems)
        event("refused")
        return
    event("built")
    resolved = get(scenario_to_dict(model.params), tuple(path.split(".")))
    if isinstance(value, (bool, int, float, str, np.integer, np.floating)):
        assert resolved == value, f"{path}: passed {value!r}, the model uses {resolved!r}"
    model.step()


# Not `name`: a name must be a plain one (tests/test_hostile_input.py).
@pytest.mark.parametrize("path, value", [("description", "rocket \U0001F680"), ("description", "\U0001D4D0 bold plan")])
def test_model_keyword_strings_beyond_the_bmp_are_kept(path, value):
    model = AIRaceModel("baseline", rng=0, years=1, **{path: value})
    assert getattr(model.params, path) == value


# ================================================================== the command line on invalid files
CLI_CASES = {
    "random bytes": bytes(range(256)) * 3,
    "random text": "ä = = [\n\x00",
    "truncated baseline": BASELINE_TEXT[: len(BASELINE_TEXT) // 2],
    "wrong type": BASELINE_TEXT.replace("strictness = 1.0", 'strictness = "strict"'),
    "out of range": BASELINE_TEXT.replace("lag_years = 1", "lag_years = -3"),
    "renamed key": BASELINE_TEXT.replace("hhi_threshold = 1800.0", "hhi_treshold = 1800.0"),
    "nested garbage": 'extends = "baseline"\n[regulator]\nstrictness = [[[{a = [1, {b = "c"}]}]]]\n',
    "huge string": 'extends = "baseline"\n[regulator]\nshare_basis = "' + "x" * 200_000 + '"\n',
    "too big": "# " + "x" * 1_100_000 + "\n",
}


def cli_processes(cases: dict[str, str | bytes], base: Path) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    procs = {}
    for i, (case, content) in enumerate(cases.items()):
        folder = base / f"case{i}"
        folder.mkdir()
        source = folder / "bad.toml"
        source.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        cmd = [sys.executable, "run.py", "run", "--scenario", str(source), "--years", "1", "--no-plots", "--quiet",
               "--out", str(folder / "out")]
        procs[case] = (folder, subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE))
    results = {}
    for case, (folder, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[case] = (folder, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return results


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    return cli_processes(CLI_CASES, tmp_path_factory.mktemp("cli"))


def assert_clean_refusal(folder: Path, result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, result.stderr[-500:]
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr[:1000]
    assert result.stdout == ""
    assert not (folder / "out").exists()


@pytest.mark.parametrize("case", CLI_CASES)
def test_the_command_line_refuses_an_invalid_file_cleanly(cli_results, case):
    folder, result = cli_results[case]
    assert_clean_refusal(folder, result)


# ================================================================== known bugs, one input each
DEEP_ARRAY = "x = " + "[" * 1000 + "]" * 1000 + "\n"
DEEP_INLINE_TABLE = "x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n"
DEEP_DOTTED_KEY = ".".join(["a"] * 1000) + " = 1\n"
LONG_INTEGER = 'extends = "baseline"\nyears = 1' + "0" * 5000 + "\n"


@pytest.mark.parametrize("content", [DEEP_ARRAY, DEEP_INLINE_TABLE, DEEP_DOTTED_KEY, 'extends = "baseline"\n' + DEEP_DOTTED_KEY,
                                     LONG_INTEGER], ids=["deep_array", "deep_inline_table", "deep_dotted_key",
                                                         "deep_dotted_key_extends", "long_integer"])
def test_pathological_file_is_a_scenario_error(content):
    refused_cleanly(write(content, "pathological.toml"))


def test_pathological_override_is_a_scenario_error():
    refused_cleanly("baseline", ["years=" + "[" * 1000 + "]" * 1000])


@pytest.mark.parametrize("source, overrides", [
    ('extends = "baseline"\n[regulator]\n"hhi\\nthreshold" = 5\n', []),
    ('extends = "baseline"\n[firms."ama\\nzon"]\npolicy = "partner"\n', []),
    ('extends = "no\\nsuch"\n', []),
    (None, ["regulator.hhi\nthreshold=5"]),
    (None, ["firms.ama\nzon.policy=partner"]),
], ids=["key", "firm", "extends", "set_path", "set_firm"])
def test_a_name_with_a_line_break_gives_one_line_problems(source, overrides):
    refused_cleanly(write(source, "linebreak.toml") if source else "baseline", overrides)


LONG_NAME = "x" * 300


@pytest.mark.parametrize("source", ["name", "path", "extends"])
def test_an_overlong_scenario_name_is_a_scenario_error(source):
    target = {"name": LONG_NAME, "path": str(WORK_DIR / (LONG_NAME + ".toml")),
              "extends": write(f'extends = "{LONG_NAME}"\n', "long.toml")}[source]
    refused_cleanly(target)


def test_the_command_line_refuses_an_overlong_scenario_name_cleanly(tmp_path):
    result = subprocess.run([sys.executable, "run.py", "run", "--scenario", LONG_NAME, "--years", "1", "--no-plots",
                             "--quiet", "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert_clean_refusal(tmp_path, result)


def test_the_command_line_refuses_a_deeply_nested_file_cleanly(tmp_path):
    folder, result = cli_processes({"deep": DEEP_ARRAY}, tmp_path)["deep"]
    assert_clean_refusal(folder, result)
