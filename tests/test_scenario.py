"""Loading, overriding and validating scenarios (model/scenario.py)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from model.params import MAJOR_IDS, SEGMENTS, FirmParams, Scenario
from model.scenario import (
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    SCENARIO_DIR,
    ScenarioError,
    available_scenarios,
    build_scenario,
    load_scenario,
    resolve_raw,
    scenario_to_dict,
)

BASELINE_TOML = SCENARIO_DIR / "baseline.toml"
SCENARIO_FILES = sorted(SCENARIO_DIR.glob("*.toml"))


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario("baseline")


def flatten(tree, prefix=""):
    """Nested dicts -> {dotted.path: leaf}."""
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def changed_leaves(a: Scenario, b: Scenario) -> dict:
    """Leaves whose value differs between two scenarios, as {path: (old, new)}."""
    fa, fb = flatten(scenario_to_dict(a)), flatten(scenario_to_dict(b))
    keys = fa.keys() | fb.keys()
    return {k: (fa.get(k), fb.get(k)) for k in keys if fa.get(k) != fb.get(k)}


def problems_of(name_or_path, overrides=()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(name_or_path), list(overrides))
    problems = info.value.problems
    assert problems, "a ScenarioError must carry at least one problem"
    for line in problems:
        assert isinstance(line, str) and "\n" not in line, f"problem is not one line: {line!r}"
    return problems


def find(problems: list[str], *fragments: str) -> str:
    """The one problem line holding every fragment; fails with the full list otherwise."""
    hits = [p for p in problems if all(f in p for f in fragments)]
    assert hits, f"no problem mentions {fragments}; got {problems}"
    return hits[0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def extends_baseline(tmp_path: Path, body: str, name: str = "mine.toml") -> Path:
    return write(tmp_path, name, 'extends = "baseline"\n' + body)


def baseline_text_without(*line_patterns: str) -> str:
    """baseline.toml's text with the lines matching any regex removed."""
    lines = BASELINE_TOML.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [ln for ln in lines if not any(re.match(p, ln) for p in line_patterns)]
    assert len(kept) < len(lines), f"patterns {line_patterns} matched nothing in baseline.toml"
    return "".join(kept)


# ------------------------------------------------------------------ loading

def test_baseline_has_six_majors_and_three_segments(baseline):
    """Baseline loads into a Scenario with the six majors and the three segments."""
    assert isinstance(baseline, Scenario)
    assert set(baseline.firms) == set(MAJOR_IDS) and len(baseline.firms) == 6
    assert tuple(baseline.segments) == SEGMENTS
    assert all(isinstance(f, FirmParams) for f in baseline.firms.values())


def test_baseline_segment_shares_sum_to_at_most_one(baseline):
    """In every segment the majors' shares are positive and sum to no more than 1."""
    for seg in SEGMENTS:
        total = sum(f.segments[seg].share for f in baseline.firms.values() if seg in f.segments)
        assert 0.0 < total <= 1.0 + 1e-9, seg


def test_baseline_allocations_sum_to_one(baseline):
    """Each firm splits its AI spend over its segments in full."""
    for fid, firm in baseline.firms.items():
        assert sum(s.allocation for s in firm.segments.values()) == pytest.approx(1.0), fid


def test_baseline_values_match_the_file(baseline):
    """Leaves are the numbers written in baseline.toml, converted to the field's type."""
    raw = tomllib.loads(BASELINE_TOML.read_text(encoding="utf-8"))
    assert baseline.years == raw["years"] and isinstance(baseline.years, int)
    assert baseline.regulator.hhi_threshold == raw["regulator"]["hhi_threshold"]
    assert isinstance(baseline.regulator.hhi_threshold, float)
    assert baseline.firms["amazon"].ai_budget_bn == raw["firms"]["amazon"]["ai_budget_bn"]
    assert (baseline.firms["amazon"].segments["cloud_ai"].share
            == raw["firms"]["amazon"]["segments"]["cloud_ai"]["share"])
    # Firms keep the segments they sell in, and only those.
    for fid in MAJOR_IDS:
        assert set(baseline.firms[fid].segments) == set(raw["firms"][fid]["segments"])


def test_scenario_is_frozen(baseline):
    """Parameters cannot be changed after loading."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        baseline.years = 3  # type: ignore[misc]


def test_available_scenarios_lists_every_file():
    """available_scenarios() names every scenarios/*.toml, baseline included."""
    names = available_scenarios()
    assert "baseline" in names
    assert names == sorted(p.stem for p in SCENARIO_FILES)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_every_scenario_file_loads(path):
    """Each shipped scenario loads by name and by path, to the same parameters."""
    by_name = load_scenario(path.stem)
    assert isinstance(by_name, Scenario)
    assert set(by_name.firms) <= set(MAJOR_IDS)
    assert load_scenario(str(path)) == by_name


def test_loading_is_repeatable(baseline):
    """Loading twice (and after an override) gives equal scenarios: overrides do not leak."""
    load_scenario("baseline", ["years=3"])
    assert load_scenario("baseline") == baseline


# ------------------------------------------------------------------ --set overrides

@pytest.mark.parametrize(
    ("override", "path", "expected"),
    [
        ("firms.amazon.ai_budget_bn=60", "firms.amazon.ai_budget_bn", 60.0),
        ("regulator.hhi_threshold=1200", "regulator.hhi_threshold", 1200.0),
        ("talent.supply_growth=0.02", "talent.supply_growth", 0.02),
        ("firms.amazon.policy=accelerate", "firms.amazon.policy", "accelerate"),
        ('firms.amazon.policy="partner"', "firms.amazon.policy", "partner"),
        ("firms.amazon.segments.cloud_ai.margin=0.2", "firms.amazon.segments.cloud_ai.margin", 0.2),
        ("regulator.strictness=2", "regulator.strictness", 2.0),
        ("strategies.consortium=false", "strategies.consortium", False),
        ("years=5", "years", 5),
        ("years=7.0", "years", 7),
        ("startups.niches.edge_chips.weight=0.5", "startups.niches.edge_chips.weight", 0.5),
    ],
)
def test_override_changes_exactly_that_value(baseline, override, path, expected):
    """A --set changes the named leaf to the given value and nothing else."""
    changed = load_scenario("baseline", [override])
    diff = changed_leaves(baseline, changed)
    assert diff.keys() == {path}
    new = diff[path][1]
    assert new == expected and type(new) is type(expected)


def test_override_number_types(baseline):
    """An integer given for a float field becomes a float; a whole float for an int becomes an int."""
    sc = load_scenario("baseline", ["firms.amazon.ai_budget_bn=60", "capability.lag_years=2.0"])
    assert type(sc.firms["amazon"].ai_budget_bn) is float
    assert type(sc.capability.lag_years) is int and sc.capability.lag_years == 2


def test_several_overrides_apply_in_order(baseline):
    """Several --set at once all apply; for the same key, the last one wins."""
    sc = load_scenario("baseline", ["years=5", "regulator.hhi_threshold=1200", "years=7"])
    assert changed_leaves(baseline, sc) == {
        "years": (baseline.years, 7),
        "regulator.hhi_threshold": (baseline.regulator.hhi_threshold, 1200.0),
    }


@pytest.mark.parametrize("value", ["-0.99", "0", "0.5"])
def test_growth_just_above_minus_one_is_accepted(value):
    """Growth rates may be anything above -1."""
    sc = load_scenario("baseline", [f"talent.supply_growth={value}"])
    assert sc.talent.supply_growth == float(value)


def test_years_one_is_accepted():
    """A one-year run is valid."""
    assert load_scenario("baseline", ["years=1"]).years == 1


# ------------------------------------------------------------------ bad names and paths

def test_unknown_scenario_name_lists_available():
    """An unknown name is rejected, naming it and listing the scenarios there are."""
    problems = problems_of("no_such_scenario_xyz")
    line = find(problems, "no_such_scenario_xyz", "available")
    for name in available_scenarios():
        assert name in line


def test_unknown_scenario_name_near_miss_suggests():
    """A misspelt scenario name gets a did-you-mean hint."""
    find(problems_of("basline"), "basline", "did you mean 'baseline'")


def test_missing_scenario_path(tmp_path):
    """A path to a file that does not exist is reported as not found."""
    find(problems_of(tmp_path / "nope.toml"), "nope.toml", "not found")


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("regulator.hhi_treshold=1200", ("regulator.hhi_treshold", "did you mean 'hhi_threshold'")),
        ("regulatr.hhi_threshold=1200", ("regulatr", "did you mean 'regulator'")),
        ("firms.amzon.ai_budget_bn=1", ("amzon", "unknown firm", "did you mean 'amazon'")),
        ("firms.amazon.ai_budjet_bn=1", ("firms.amazon.ai_budjet_bn", "did you mean 'ai_budget_bn'")),
        ("firms.amazon.segments.cloud.share=0.1", ("unknown segment 'cloud'",)),
        ("colour=red", ("colour", "unknown parameter")),
        ("firms.amazon=1", ("firms.amazon", "is a table")),
        ("regulator=1", ("regulator", "is a table")),
        ("years.total=3", ("years", "is a value, not a table")),
    ],
)
def test_unknown_override_path_is_rejected(override, fragments):
    """--set paths the schema does not know are rejected, naming the path (with a hint if close)."""
    line = find(problems_of("baseline", [override]), *fragments)
    assert line.startswith("--set ")


def test_unknown_override_far_from_anything_has_no_hint():
    """No did-you-mean when nothing is close."""
    line = find(problems_of("baseline", ["regulator.zzzzzz=1"]), "regulator.zzzzzz")
    assert "did you mean" not in line


@pytest.mark.parametrize("override", ["years", "=5", "years..x=1", ".years=1"])
def test_malformed_override_is_rejected(override):
    """An override without `path=value` or with an empty name in the path is rejected."""
    problems_of("baseline", [override])


def test_several_bad_override_paths_reported_together():
    """All unknown --set paths are reported in one error."""
    problems = problems_of("baseline", ["regulator.hhi_treshold=1", "firms.amzon.ai_budget_bn=1"])
    find(problems, "hhi_treshold")
    find(problems, "amzon")


# ------------------------------------------------------------------ bad values

@pytest.mark.parametrize(
    ("override", "path", "fragment"),
    [
        ("firms.amazon.ai_budget_bn=abc", "firms.amazon.ai_budget_bn", "expected a number, got 'abc'"),
        ("firms.amazon.ai_budget_bn=true", "firms.amazon.ai_budget_bn", "expected a number"),
        ('firms.amazon.ai_budget_bn="60"', "firms.amazon.ai_budget_bn", "expected a number"),
        ("firms.amazon.ai_budget_bn=-5", "firms.amazon.ai_budget_bn", "out of range"),
        ("firms.amazon.ai_budget_bn=nan", "firms.amazon.ai_budget_bn", "finite"),
        ("firms.amazon.ai_budget_bn=inf", "firms.amazon.ai_budget_bn", "finite"),
        ("firms.amazon.ai_budget_bn=-inf", "firms.amazon.ai_budget_bn", "finite"),
        ("regulator.hhi_threshold=nan", "regulator.hhi_threshold", "finite"),
        ("firms.amazon.policy=yolo", "firms.amazon.policy", "'yolo'"),
        ("firms.amazon.policy=3", "firms.amazon.policy", "expected one of"),
        ("startups.policy=adapt", "startups.policy", "did you mean 'adaptive'"),
        ("talent.supply_growth=-1", "talent.supply_growth", "out of range"),
        ("talent.supply_growth=-1.5", "talent.supply_growth", "out of range"),
        ("compute.capacity_growth=-1", "compute.capacity_growth", "out of range"),
        ("segments.cloud_ai.base_growth=-2", "segments.cloud_ai.base_growth", "out of range"),
        ("segments.ecommerce.fringe_spend_growth=-1", "segments.ecommerce.fringe_spend_growth", "out of range"),
        ("years=0", "years", "out of range"),
        ("years=-3", "years", "out of range"),
        ("years=2.5", "years", "expected a whole number"),
        ("years=inf", "years", "expected a whole number"),
        ("regulator.strictness=0", "regulator.strictness", "out of range"),
        ("firms.amazon.segments.cloud_ai.share=1.5", "firms.amazon.segments.cloud_ai.share", "out of range"),
        ("strategies.consortium=1", "strategies.consortium", "expected true or false"),
        ("name=3", "name", "expected text"),
    ],
)
def test_bad_value_is_rejected_naming_key(override, path, fragment):
    """Wrong types, out-of-range, NaN/inf and unknown policies are rejected, naming the key path."""
    line = find(problems_of("baseline", [override]), f"{path}:", fragment)
    assert line.startswith("baseline.toml: ")


def test_bad_policy_lists_the_four_policies():
    """The policy message names all four allowed policies."""
    line = find(problems_of("baseline", ["firms.amazon.policy=yolo"]), "firms.amazon.policy")
    for policy in ("accelerate", "differentiate", "partner", "adaptive"):
        assert policy in line


def test_allocations_not_summing_to_one():
    """A firm whose allocations do not sum to 1 is rejected, naming the firm and the sum."""
    problems = problems_of("baseline", ["firms.azure.segments.cloud_ai.allocation=0.5"])
    find(problems, "firms.azure.segments.*.allocation", "0.5000")


def test_segment_shares_summing_over_one():
    """Majors' shares of one segment summing over 1 are rejected, naming the segment."""
    problems = problems_of("baseline", ["firms.azure.segments.cloud_ai.share=0.9"])
    line = find(problems, "cloud_ai.share", "more than 1")
    assert "ecommerce" not in line


def test_several_value_problems_reported_together():
    """Every bad --set value is reported in the same error, not just the first."""
    problems = problems_of("baseline", [
        "years=0", "firms.amazon.ai_budget_bn=-1", "firms.shopify.policy=yolo", "talent.supply_growth=nan",
    ])
    find(problems, "years:")
    find(problems, "firms.amazon.ai_budget_bn:")
    find(problems, "firms.shopify.policy:")
    find(problems, "talent.supply_growth:")


# A wrong-typed share, allocation or niche weight must not reach the cross-checks.
@pytest.mark.parametrize(
    ("override", "path"),
    [
        ("firms.amazon.segments.cloud_ai.share=abc", "firms.amazon.segments.cloud_ai.share"),
        ("firms.amazon.segments.cloud_ai.allocation=abc", "firms.amazon.segments.cloud_ai.allocation"),
        ("startups.niches.edge_chips.weight=abc", "startups.niches.edge_chips.weight"),
    ],
)
def test_wrong_type_in_cross_checked_field_is_a_scenario_error(override, path):
    """A text value for a share, allocation or niche weight is reported like any wrong type."""
    find(problems_of("baseline", [override]), f"{path}:", "expected a number")


def test_huge_integer_for_float_field_is_a_scenario_error():
    """An integer too large for a float (TOML allows it) is rejected, not a crash."""
    find(problems_of("baseline", ["firms.amazon.ai_budget_bn=1" + "0" * 400]), "firms.amazon.ai_budget_bn:")


# ------------------------------------------------------------------ bad files

def test_user_file_extending_baseline_changes_one_value(tmp_path, baseline):
    """A user's TOML path that extends baseline and sets one value loads with only that change."""
    path = extends_baseline(tmp_path, "[regulator]\nstrictness = 2.0\n")
    sc = load_scenario(str(path))
    assert changed_leaves(baseline, sc) == {"regulator.strictness": (baseline.regulator.strictness, 2.0)}


def test_user_file_extending_another_user_file_by_relative_name(tmp_path, baseline, monkeypatch):
    """`extends = "base.toml"` is found beside the extending file, whatever the working directory."""
    extends_baseline(tmp_path, "years = 4\n", name="base.toml")
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\n[talent]\nsupply_growth = 0.02\n')
    monkeypatch.chdir(Path(__file__).parent)
    sc = load_scenario(str(child), ["regulator.hhi_threshold=1200"])
    assert changed_leaves(baseline, sc) == {
        "years": (baseline.years, 4),
        "talent.supply_growth": (baseline.talent.supply_growth, 0.02),
        "regulator.hhi_threshold": (baseline.regulator.hhi_threshold, 1200.0),
    }


def test_missing_required_key(tmp_path):
    """A file without a required key is rejected, naming the key."""
    path = write(tmp_path, "noyears.toml", baseline_text_without(r"years\s*="))
    find(problems_of(path), "years: missing required key")


def test_missing_required_nested_key_and_table(tmp_path):
    """Missing nested keys and missing segment tables are named by their full path."""
    data, _ = resolve_raw("baseline")
    del data["regulator"]["hhi_threshold"]
    del data["segments"]["advertising"]
    del data["firms"]["amazon"]["segments"]["cloud_ai"]["margin"]
    with pytest.raises(ScenarioError) as info:
        build_scenario(data, source="x.toml")
    problems = info.value.problems
    find(problems, "regulator.hhi_threshold: missing required key")
    find(problems, "segments.advertising: missing required table")
    find(problems, "firms.amazon.segments.cloud_ai.margin: missing required key")
    assert all(p.startswith("x.toml: ") for p in problems)


def test_unknown_key_in_file(tmp_path):
    """Unknown keys in a file are rejected with their path and a hint when close."""
    path = extends_baseline(tmp_path, 'colour = "red"\n[regulator]\nhhi_treshold = 1200.0\n')
    problems = problems_of(path)
    find(problems, "regulator.hhi_treshold: unknown key", "did you mean 'hhi_threshold'")
    find(problems, "colour: unknown key")


def test_unknown_firm_and_segment_in_file(tmp_path):
    """A firm id or segment the model does not know is rejected, with a hint."""
    path = extends_baseline(
        tmp_path,
        '[firms.amzon]\npolicy = "accelerate"\n[segments.clud_ai]\nsize_bn = 1.0\n',
    )
    problems = problems_of(path)
    find(problems, "firms.amzon", "unknown firm", "did you mean 'amazon'")
    find(problems, "segments.clud_ai", "unknown segment", "did you mean 'cloud_ai'")


def test_wrong_table_type_in_file(tmp_path):
    """A value where a table belongs is rejected, naming the key."""
    path = write(tmp_path, "flat.toml", baseline_text_without(r"\[regulator\]", r"hhi_threshold", r"delta_hhi",
                                                              r"share_threshold", r"strictness", r"dominance_")
                 .replace('name = "baseline"', 'name = "baseline"\nregulator = 5'))
    find(problems_of(path), "regulator: expected a table")


def test_malformed_toml_reports_line_number(tmp_path):
    """Broken TOML is rejected with the file name and the line of the error."""
    path = write(tmp_path, "broken.toml", 'extends = "baseline"\nyears = 3\nstart_year 2024\n')
    line = find(problems_of(path), "broken.toml", "malformed TOML")
    assert "line 3" in line


@pytest.mark.parametrize("text", ["", "   \n\n\t\n"])
def test_empty_file(tmp_path, text):
    """An empty (or whitespace-only) file is rejected as empty."""
    path = write(tmp_path, "blank.toml", text)
    problems = problems_of(path)
    find(problems, "blank.toml", "file is empty")
    assert len(problems) == 1


def test_non_utf8_file(tmp_path):
    """A file that is not UTF-8 is rejected, naming the offending byte."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('extends = "baseline"\nname = "café"\n'.encode("latin-1"))
    find(problems_of(path), "latin1.toml", "not UTF-8")


def test_file_over_one_megabyte(tmp_path):
    """A file over the 1 MB limit is rejected before parsing; one just under it loads."""
    head = 'extends = "baseline"\nyears = 3\n'
    comment = "# " + "x" * 97 + "\n"
    body = head + comment * ((MAX_FILE_BYTES - len(head)) // len(comment))
    ok = write(tmp_path, "big_ok.toml", body)
    assert ok.stat().st_size <= MAX_FILE_BYTES
    assert load_scenario(str(ok)).years == 3
    too_big = write(tmp_path, "too_big.toml", body + comment)
    assert too_big.stat().st_size > MAX_FILE_BYTES
    find(problems_of(too_big), "too_big.toml", "bytes")


def test_extends_cycle_between_two_files(tmp_path):
    """a extends b extends a is rejected as a cycle naming both files."""
    a = write(tmp_path, "a.toml", 'extends = "b.toml"\nyears = 3\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\nyears = 4\n')
    line = find(problems_of(a), "cycle")
    assert "a -> b -> a" in line


def test_extends_itself(tmp_path):
    """A file that extends itself is a cycle, not a recursion error."""
    a = write(tmp_path, "selfish.toml", 'extends = "selfish.toml"\n')
    find(problems_of(a), "cycle", "selfish")


def test_extends_unknown_scenario(tmp_path):
    """Extending a scenario that does not exist is rejected with the available list."""
    path = write(tmp_path, "orphan.toml", 'extends = "basline"\n')
    find(problems_of(path), "basline", "available")


def test_extends_not_text(tmp_path):
    """`extends` must be a scenario name."""
    path = write(tmp_path, "odd.toml", "extends = 3\n")
    find(problems_of(path), "extends", "expected a scenario name")


def test_several_problems_in_one_file_reported_at_once(tmp_path):
    """Every problem in a file is reported in one error, each on its own line."""
    path = extends_baseline(
        tmp_path,
        "years = 0\n"
        "[firms.amazon]\nai_budget_bn = -40.0\npolicy = \"bold\"\n"
        "[talent]\nsupply_growth = -1.0\nwage_elasticty = 1.0\n"
        "[regulator]\nstrictness = nan\n",
    )
    problems = problems_of(path)
    find(problems, "years:", "out of range")
    find(problems, "firms.amazon.ai_budget_bn:", "out of range")
    find(problems, "firms.amazon.policy:", "'bold'")
    find(problems, "talent.supply_growth:", "out of range")
    find(problems, "talent.wage_elasticty: unknown key")
    find(problems, "regulator.strictness:", "finite")
    assert len(problems) >= 6
    assert all(p.startswith("mine.toml: ") for p in problems)


def test_cross_check_problems_reported_with_field_problems(tmp_path):
    """Share and allocation sums are checked alongside other problems, all in one error."""
    path = extends_baseline(
        tmp_path,
        "[firms.azure.segments.cloud_ai]\nshare = 0.9\nallocation = 0.5\n"
        "[compute]\ncapacity_growth = -3.0\n",
    )
    problems = problems_of(path)
    find(problems, "cloud_ai.share", "more than 1")
    find(problems, "firms.azure.segments.*.allocation")
    find(problems, "compute.capacity_growth:")


def test_scenario_error_is_a_value_error_with_all_lines():
    """ScenarioError is a ValueError whose message is the problems joined by newlines."""
    with pytest.raises(ValueError) as info:
        load_scenario("baseline", ["years=0", "firms.amazon.ai_budget_bn=-1"])
    err = info.value
    assert isinstance(err, ScenarioError)
    assert str(err) == "\n".join(err.problems)
    assert len(err.problems) == 2


def test_nan_never_passes_silently():
    """No float field accepts NaN: every one rejects it, naming the field (MAX_PROBLEMS fields at a time)."""
    sc = load_scenario("baseline")
    floats = [k for k, v in flatten(scenario_to_dict(sc)).items() if isinstance(v, float)]
    assert len(floats) > 40
    for start in range(0, len(floats), MAX_PROBLEMS):
        chunk = floats[start : start + MAX_PROBLEMS]
        problems = problems_of("baseline", [f"{k}=nan" for k in chunk])
        for key in chunk:
            find(problems, f"{key}:", "finite")


# ------------------------------------------------------------ typed values, parsed once
def test_typed_values_equal_the_same_setting_given_as_text():
    """`values` (Python, numpy included) and `--set` text reach the same typed scenario: no text round trip."""
    import numpy as np

    text = load_scenario("baseline", ["firms.amazon.ai_budget_bn=60", "years=4", "firms.walmart.policy=partner"])
    typed = load_scenario("baseline", values={"firms.amazon.ai_budget_bn": np.float64(60.0), "years": np.int64(4),
                                               "firms.walmart.policy": "partner"})
    assert typed == text
    assert type(typed.years) is int and type(typed.firms["amazon"].ai_budget_bn) is float


def test_values_on_a_loaded_scenario_round_trip_and_validate():
    """with_values on a loaded Scenario: nothing set gives it back equal; a set value is validated as a file's."""
    from model.scenario import with_values

    for name in ("baseline", "jassy_bold", "startup_boom"):
        loaded = load_scenario(name)
        assert with_values(loaded, {}) is loaded
        assert with_values(loaded, {"years": loaded.years}) == loaded
        assert with_values(loaded, {"years": 3}) == dataclasses.replace(loaded, years=3)
    with pytest.raises(ScenarioError) as info:
        with_values(load_scenario("baseline"), {"years": 0, "firms.amazon.nope": 1})
    assert len(info.value.problems) == 1 and "firms.amazon.nope" in info.value.problems[0]


def test_values_override_text_settings_of_the_same_path():
    """--years beside --set years=...: the typed value is applied after the text, so it wins."""
    assert load_scenario("baseline", ["years=7"], {"years": 3}).years == 3
