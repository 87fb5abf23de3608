"""Load scenario TOML files into validated `Scenario` objects.

Scenario files are data only: they are parsed with `tomllib` and checked against the
dataclasses in `model.params`; every problem is collected and reported at once, one line
each, naming the file and the key path. Nothing deeper in the code reads raw dicts.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import errno
import functools
import math
import os
import stat
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import numpy as np

from model.errors import BadInput
from model.params import GORDON, LEVERS, MAJOR_IDS, NOT_UNCERTAIN, SCHEDULABLE, SEGMENTS, Scenario
from model.schedules import matches, schedulable

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
MAX_FILE_BYTES = 1_000_000
MAX_EXTENDS_DEPTH = 32  # files in one extends chain, the loaded one included
MAX_PROBLEMS = 20  # problems listed in one error; the rest are counted
MAX_FIRMS = 500_000  # firms (startups included) one run may create; each costs a few kB of state and records
SHARE_TOLERANCE = 1e-6


class ScenarioError(BadInput, ValueError):
    """Bad scenario input; `problems` holds one human-readable line per problem.

    At most MAX_PROBLEMS are kept, then one line counting the rest, so a file with thousands of
    mistakes still gives a readable error.
    """

    def __init__(self, problems: list[str]):
        problems = list(problems)
        kept = [_one_line(p) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            kept.append(f"... and {more:,} more problem{'s' if more > 1 else ''}")
        self.problems = kept
        super().__init__("\n".join(kept))

    def __reduce__(self):
        """Pickled (e.g. back from a worker process) as its lines, not re-split from the message."""
        return _restore_error, (type(self), self.problems, dict(self.__dict__))



@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types; resolving them (typing.get_type_hints) costs ~0.4 ms a call,
    and validating one scenario asks thousands of times."""
    return typing.get_type_hints(cls)

def _restore_error(cls: type, problems: list[str], state: dict) -> ScenarioError:
    error = cls.__new__(cls)
    ValueError.__init__(error, "\n".join(problems))
    error.__dict__.update(state)
    return error


class NonFiniteResult(ScenarioError):
    """Valid parameters that drive the model to inf or NaN: the run stops, saying the year and the quantity.

    A ScenarioError, since the cure is other parameters: the command line reports it like bad input.
    """

    def __init__(self, year: int, quantity: str):
        self.year, self.quantity = year, quantity
        super().__init__([f"year {year}: {quantity} (the parameters make the model overflow)"])


MAX_PROBLEM_CHARS = 400
MAX_PATH_CHARS = 160


def _one_line(text: str) -> str:
    """Control characters escaped and overlong echoes cut, so each problem prints as one line."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 1] + "…"


def _shown(path: str | Path) -> str:
    """A path as a problem shows it: an overlong one is cut in the middle, so the reason after it stays visible."""
    text = str(path)
    if len(text) <= MAX_PATH_CHARS:
        return text
    return text[: MAX_PATH_CHARS // 2] + "…" + text[-MAX_PATH_CHARS // 3 :]


NOT_FOUND = "scenario file not found"
PATH_TOO_LONG = "path too long"
FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
              (stat.S_ISSOCK, "a socket"))


def _regular_file(path: Path) -> tuple[os.stat_result | None, str | None]:
    """(stat, None) for a regular file, else (None, what is there instead).

    Only stat is used, never open: opening a FIFO would block and a device may never end.
    """
    if "\0" in str(path):
        return None, "the path contains a NUL byte"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, f"{NOT_FOUND} (a broken symbolic link)" if os.path.islink(path) else NOT_FOUND
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "is a symbolic link loop, not a scenario file"
        if exc.errno == errno.ENAMETOOLONG:
            return None, PATH_TOO_LONG
        if exc.errno == errno.ENOTDIR:
            return None, f"{NOT_FOUND} (a part of the path is not a directory)"
        return None, f"cannot use it ({exc.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return None, "is a directory, not a scenario file"
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in FILE_KINDS if test(info.st_mode)), "an unknown kind of file")
        return None, f"not a regular file ({kind})"
    return info, None


def available_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml") if _regular_file(p)[1] is None)


def scenario_path(name_or_path: str | Path) -> Path:
    """A bare name is looked up in `scenarios/`; anything else is a path to the user's file."""
    name_or_path = os.fspath(name_or_path)
    if "\0" in name_or_path:
        raise ScenarioError([f"{_shown(name_or_path)}: the path contains a NUL byte"])
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.parent != Path("."):
        problem = _regular_file(candidate)[1]
        if problem:
            raise ScenarioError([f"{_shown(name_or_path)}: {problem}"])
        return candidate
    path = SCENARIO_DIR / f"{name_or_path}.toml"
    problem = _regular_file(path)[1]
    if problem is None:
        return path
    if not problem.startswith(NOT_FOUND) and problem != PATH_TOO_LONG:
        raise ScenarioError([f"{_shown(path)}: {problem}"])
    hint = _did_you_mean(name_or_path, available_scenarios())
    raise ScenarioError([f"unknown scenario '{name_or_path}'{hint} (available: {', '.join(available_scenarios())})"])


def _read_at_most(path: Path, limit: int) -> bytes:
    """Up to `limit` bytes; opened without blocking, and refused if what was opened is no longer a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ScenarioError([f"{_shown(path)}: cannot read ({exc.strerror})"]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ScenarioError([f"{_shown(path)}: not a regular file"])
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    except OSError as exc:
        raise ScenarioError([f"{_shown(path)}: cannot read ({exc.strerror})"]) from None
    finally:
        os.close(fd)


def read_toml(path: Path) -> dict[str, Any]:
    info, problem = _regular_file(path)
    if problem:
        raise ScenarioError([f"{_shown(path)}: {problem}"])
    if info.st_size > MAX_FILE_BYTES:
        raise ScenarioError([f"{_shown(path)}: file is {info.st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a scenario may have"])
    raw = _read_at_most(path, MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:  # it grew after the stat
        raise ScenarioError([f"{_shown(path)}: file is more than the {MAX_FILE_BYTES:,} bytes a scenario may have"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{_shown(path)}: not UTF-8 text (byte {exc.start})"]) from None
    if not text.strip():
        raise ScenarioError([f"{_shown(path)}: file is empty"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{_shown(path)}: malformed TOML: {exc}"]) from None
    except RecursionError:
        raise ScenarioError([f"{_shown(path)}: tables or arrays nested too deeply"]) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise ScenarioError([f"{_shown(path)}: malformed TOML: {exc}"]) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_raw(name_or_path: str) -> tuple[dict[str, Any], Path]:
    """The scenario's table with every `extends` parent merged under it."""
    return _resolve(_resolved(scenario_path(name_or_path)), ())


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:
        raise ScenarioError([f"{_shown(path)}: cannot resolve the path ({exc})"]) from None


def _resolve(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Path]:
    data = read_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data, path
    if not isinstance(parent, str):
        raise ScenarioError([f"{_shown(path)}: extends: expected a scenario name, got {parent!r}"])
    is_file_ref = parent.endswith(".toml") or "/" in parent
    parent_ref = str(path.parent / parent) if is_file_ref else parent
    try:
        parent_path = _resolved(scenario_path(parent_ref))
    except ScenarioError as exc:
        raise ScenarioError([f"{_shown(path)}: extends {parent!r}: {p}" for p in exc.problems]) from None
    files = (*chain, path, parent_path)
    if parent_path in files[:-1]:
        cycle = " -> ".join(p.stem for p in files)
        raise ScenarioError([f"{_shown(parent_path)}: extends cycle: {cycle}"])
    if len(files) > MAX_EXTENDS_DEPTH:
        names = [p.stem for p in files]
        shown = " -> ".join([*names[:2], "…", *names[-2:]])
        raise ScenarioError([f"{_shown(path)}: extends {parent!r}: the extends chain is more than {MAX_EXTENDS_DEPTH} "
                             f"files deep ({shown})"])
    base, _ = _resolve(parent_path, (*chain, path))
    return _merge(base, data), path


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (['a','b','c'], value); the value is read as a TOML value, else as text."""
    if "=" not in text:
        raise ScenarioError([f"--set {text!r}: expected dotted.path=value"])
    key, raw_value = text.split("=", 1)
    path = key.strip().split(".")
    if not all(part.strip() for part in path):
        raise ScenarioError([f"--set {text!r}: empty name in the key path"])
    try:
        value = parse_value(raw_value)
    except (RecursionError, ValueError):
        raise ScenarioError([f"--set {key}: the value is nested too deeply or too long"]) from None
    return path, value


def parse_value(text: str) -> Any:
    """A value as typed on the command line: read as a TOML value (number, boolean, quoted text...), else as text."""
    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def typed_settings(values: Mapping[str, Any]) -> list[tuple[list[str], Any, str]]:
    """Python values by dotted path, as settings for `apply_values`; numpy scalars become Python ones."""
    return [(path.split("."), value.item() if isinstance(value, np.generic) else value, path) for path, value in values.items()]


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Overrides may only set paths the scenario schema knows; unknown ones are errors."""
    return apply_values(data, [(*parse_override(text), f"--set {text}") for text in overrides])


def apply_values(data: dict[str, Any], settings: list[tuple[list[str], Any, str]]) -> dict[str, Any]:
    """A copy of `data` with each (path, typed value, label for messages) set; unknown paths are errors."""
    data = copy.deepcopy(data)
    problems = []
    for path, value, label in settings:
        problem = _check_path(path)
        if problem:
            problems.append(f"{label}: {problem}")
            continue
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"{label}: '{part}' is not a table")
                break
        else:
            node[path[-1]] = value
    if problems:
        raise ScenarioError(problems)
    return data


def _check_path(path: list[str], cls: Any = Scenario, prefix: str = "") -> str | None:
    """None if `path` names a leaf of the schema, else why not."""
    name = lambda depth: prefix + ".".join(path[:depth])  # noqa: E731
    for depth, part in enumerate(path):
        if not dataclasses.is_dataclass(cls):
            return f"'{name(depth)}' is a value, not a table"
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return f"unknown parameter '{name(depth + 1)}'{_did_you_mean(part, fields)}"
        hint = _type_hints(cls)[part]
        if get_origin(hint) is dict:
            if len(path) < depth + 3:
                return f"'{name(len(path))}' is a table, not a value"
            item, keys = path[depth + 1], fields[part].metadata.get("keys")
            if keys is not None and item not in keys:
                return f"unknown {_key_kind(keys)} '{item}'{_did_you_mean(item, keys)}"
            return _check_path(path[depth + 2 :], get_args(hint)[1], name(depth + 2) + ".")
        cls = hint
    return f"'{name(len(path))}' is a table, not a value" if dataclasses.is_dataclass(cls) else None


def check_parameter_path(dotted: str) -> None:
    """Raise ScenarioError unless `dotted` names one parameter (a leaf) of the schema."""
    problem = _check_path(dotted.split("."))
    if problem:
        raise ScenarioError([problem])


def parameter_type(dotted: str) -> Any:
    """The declared type of a checked parameter path (float, int, bool, str or a Literal)."""
    return _leaf_field(dotted)[0]


def _leaf_field(dotted: str) -> tuple[Any, dict]:
    """(declared type, field metadata with its bounds) of a checked parameter path."""
    cls: Any = Scenario
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        hint = _type_hints(cls)[parts[i]]
        meta = dict(next(f for f in dataclasses.fields(cls) if f.name == parts[i]).metadata)
        if get_origin(hint) is dict:
            cls, i = get_args(hint)[1], i + 2
        elif dataclasses.is_dataclass(hint):
            cls, i = hint, i + 1
        else:
            return hint, meta
    raise ScenarioError([f"'{dotted}' is a table, not a value"])


def _key_kind(keys) -> str:
    return "firm" if keys == MAJOR_IDS else "segment" if keys == SEGMENTS else "key"


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _hint(word: str, options, problems: list[str]) -> str:
    """A did-you-mean for a problem that will be listed; the ones past MAX_PROBLEMS are only counted."""
    return _did_you_mean(word, options) if len(problems) < MAX_PROBLEMS else ""


def _type_name(hint: Any) -> str:
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, get_args(hint)))
    return {float: "a number", int: "a whole number", str: "text", bool: "true or false"}.get(hint, str(hint))


def _convert_leaf(hint: Any, value: Any, meta: dict, where: str, problems: list[str]) -> Any:
    """The value in its declared type, or None when it has the wrong type.

    Out-of-range numbers are recorded as problems but kept, so the cross-checks can still
    report on them in the same pass; a scenario with any problem is never returned.
    """
    problem = _type_problem(hint, value)
    if problem:
        problems.append(f"{where}: {problem}")
        return None
    if hint is float:
        value = float(value) + 0.0  # -0.0 becomes 0.0: numpy refuses a negative zero spread
    elif hint is int:
        value = int(value)
    problem = _range_problem(value, meta) if hint in (float, int) else _pattern_problem(value, meta)
    if problem:
        problems.append(f"{where}: {problem}")
    return value


def _type_problem(hint: Any, value: Any) -> str | None:
    if get_origin(hint) is Literal:
        if value not in get_args(hint):
            return f"expected {_type_name(hint)}, got {value!r}{_did_you_mean(str(value), get_args(hint))}"
        return None
    if hint is bool or hint is str:
        return None if isinstance(value, hint) else f"expected {_type_name(hint)}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected {_type_name(hint)}, got {value!r}"
    if hint is int and isinstance(value, float) and not value.is_integer():
        return f"expected a whole number, got {value!r}"
    try:
        number = float(value)
    except OverflowError:
        return f"{value} is too large"
    if not math.isfinite(number):
        return f"expected a finite number, got {value!r}"
    return None


def _range_problem(value: float, meta: dict) -> str | None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
        return f"{value!r} is out of range (must be {'>' if meta.get('lo_open') else '>='} {_bound(lo)})"
    if hi is not None and value > hi:
        return f"{value!r} is out of range (must be <= {_bound(hi)})"
    return None


def _bound(x: float) -> str:
    """A range's end as people write it: 2, 0.5, 1,000,000."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{x:.0f}" if abs(x) < 10_000 else f"{x:,.0f}"
    return f"{x:g}"


def _pattern_problem(value: Any, meta: dict) -> str | None:
    pattern = meta.get("pattern")
    if pattern is None or not isinstance(value, str) or pattern.fullmatch(value):
        return None
    return f"{value!r} is not a plain name ({meta['rule']})"


def _build(cls: Any, data: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a table, got {data!r}")
        return None
    hints = _type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            problems.append(f"{where}.{key}: unknown key{_hint(key, fields, problems)}".lstrip("."))
    values = {}
    for name, fld in fields.items():
        path = f"{where}.{name}".lstrip(".")
        if name not in data:
            if not fld.metadata.get("optional"):
                problems.append(f"{path}: missing required key")
            continue
        hint, value = hints[name], data[name]
        if name == "schedules":
            values[name] = _build_schedules(value, path, problems)
        elif name == "uncertainties":
            values[name] = _build_uncertainties(value, path, problems)
        elif get_origin(hint) is dict:
            values[name] = _build_table(get_args(hint)[1], value, fld.metadata, path, problems)
        elif dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, path, problems)
        else:
            values[name] = _convert_leaf(hint, value, dict(fld.metadata), path, problems)
    required = [name for name, fld in fields.items() if not fld.metadata.get("optional")]
    if any(v is None for v in values.values()) or any(name not in values for name in required):
        return None
    try:
        return cls(**values)
    except TypeError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _build_table(item_cls: Any, data: Any, meta: Any, where: str, problems: list[str]) -> dict | None:
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a table, got {data!r}")
        return None
    keys = meta.get("keys")
    out = {}
    for key, value in data.items():
        if keys is not None and key not in keys:
            problems.append(f"{where}.{key}: unknown {_key_kind(keys)}{_hint(key, keys, problems)}")
            continue
        out[key] = _build(item_cls, value, f"{where}.{key}", problems)
    if meta.get("all_keys"):
        for key in keys:
            if key not in data:
                problems.append(f"{where}.{key}: missing required table")
    if keys is not None:
        out = {k: out[k] for k in keys if k in out}
    return None if any(v is None for v in out.values()) else out


MIN_YEAR, MAX_YEAR = 1900, 2200


def _build_schedules(data: Any, where: str, problems: list[str]) -> dict | None:
    """`{"firms.amazon.ai_budget_bn": {"2024": 60.0, ...}, ...}` -> {path: {year: typed value}}, years in order."""
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a table of parameter paths, got {data!r}")
        return None
    out, ok = {}, True
    for path, by_year in data.items():
        label = f"{where}.{path}"
        problem = _check_path(str(path).split("."))
        if problem or not schedulable(path):
            problems.append(f"{label}: {problem or 'not an input that can be scheduled'} (schedulable: {', '.join(SCHEDULABLE)})")
            ok = False
            continue
        if not isinstance(by_year, dict) or not by_year:
            problems.append(f"{label}: expected a table of year = value, got {by_year!r}")
            ok = False
            continue
        hint, meta = _leaf_field(path)
        typed = {}
        for year_key, value in by_year.items():
            year = _year(year_key)
            if year is None:
                problems.append(f"{label}: '{year_key}' is not a year ({MIN_YEAR}-{MAX_YEAR})")
                ok = False
                continue
            converted = _convert_leaf(hint, value, meta, f"{label}.{year}", problems)
            ok &= converted is not None
            typed[year] = converted
        out[path] = dict(sorted(typed.items()))
    return out if ok else None


def _build_uncertainties(data: Any, where: str, problems: list[str]) -> dict | None:
    """`{"segments.cloud_ai.capability_elasticity": [1.3, 2.0], ...}` -> {path: (lo, hi)}, each inside the parameter's bounds."""
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a table of parameter path = [lo, hi], got {data!r}")
        return None
    out, ok = {}, True
    for path, bounds in data.items():
        label = f"{where}.{path}"
        problem = _check_path(str(path).split("."))
        if problem is None and any(matches(path, lever) for lever in LEVERS):
            problem = "a lever (what a firm chooses, set by its plan), not an uncertainty"
        elif problem is None and any(matches(path, frame) for frame in NOT_UNCERTAIN):
            problem = "frames or values the run, it is not an uncertainty of the model"
        elif problem is None and _leaf_field(path)[0] not in (float, int):
            problem = "not a number that can be drawn from a range"
        if problem is None:
            problem = _bounds_problem(bounds, *_leaf_field(path))
        if problem:
            problems.append(f"{label}: {problem}")
            ok = False
            continue
        out[path] = (float(bounds[0]), float(bounds[1]))
    return out if ok else None


def _bounds_problem(bounds: Any, kind: Any, meta: dict) -> str | None:
    numeric = (isinstance(bounds, (list, tuple)) and len(bounds) == 2
               and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds))
    if not numeric:
        return f"expected [lo, hi], two numbers, got {bounds!r}"
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"[{lo:g}, {hi:g}] is not finite"
    if lo >= hi:
        return f"lo {lo:g} is not below hi {hi:g}"
    if kind is int and not (lo.is_integer() and hi.is_integer()):
        return f"[{lo:g}, {hi:g}]: this parameter takes whole numbers"
    return _range_problem(lo, meta) or _range_problem(hi, meta)


def _year(key: Any) -> int | None:
    text = str(key).strip()
    if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
        return None
    return int(text)


def _cross_checks(sc: Scenario, problems: list[str]) -> None:
    for path, by_year in sc.schedules.items():
        parts = path.split(".")
        if parts[0] == "firms" and parts[1] not in sc.firms:
            problems.append(f"schedules.{path}: the scenario has no firm '{parts[1]}'")
        early = [y for y in by_year if y < sc.start_year]
        if early:
            problems.append(f"schedules.{path}: year {early[0]} is before start_year {sc.start_year}, so it would never apply")
    for path in sc.uncertainties:
        parts = path.split(".")
        if parts[0] == "firms" and parts[1] not in sc.firms:
            problems.append(f"uncertainties.{path}: the scenario has no firm '{parts[1]}'")
    for seg, params in sc.segments.items():
        already = any(p.startswith((f"segments.{seg}.size_bn", f"segments.{seg}.potential_bn")) for p in problems)
        if not already and params.potential_bn <= params.size_bn:
            problems.append(f"segments.{seg}.potential_bn: {params.potential_bn:g} is not above the 2023 size "
                            f"{params.size_bn:g} (the segment could only shrink)")
    for seg in SEGMENTS:
        total = sum(f.segments[seg].share for f in sc.firms.values() if seg in f.segments)
        if total > 1 + SHARE_TOLERANCE:
            problems.append(f"firms.*.segments.{seg}.share: the firms' shares sum to {total:.4f}, more than 1")
    for fid, firm in sc.firms.items():
        if not firm.segments:
            problems.append(f"firms.{fid}.segments: a firm must sell in at least one segment")
            continue
        total = sum(s.allocation for s in firm.segments.values())
        if abs(total - 1.0) > 1e-6:
            problems.append(f"firms.{fid}.segments.*.allocation: allocations sum to {total:.4f}, expected 1")
    if sc.startups.niches and sum(n.weight for n in sc.startups.niches.values()) <= 0:
        problems.append("startups.niches.*.weight: at least one niche needs a positive weight")
    if not sc.startups.niches:
        problems.append("startups.niches: at least one niche is required")
    val = sc.valuation
    if val.terminal == GORDON:
        for who, rate in [("valuation.discount_rate", val.discount_rate),
                          *((f"valuation.firms.{fid}.discount_rate", f.discount_rate) for fid, f in val.firms.items())]:
            if rate <= val.terminal_growth:
                problems.append(f"{who}: {rate:g} is not above valuation.terminal_growth {val.terminal_growth:g} "
                                f"(Gordon growth needs a discount rate above the growth)")
    sizing = ("startups.entry_rate", "startups.initial_count", "years")
    if not any(p.split(":", 1)[0] in sizing for p in problems):  # an out-of-range one is reported already
        problem = _firm_count_problem(sc)
        if problem:
            problems.append(problem)


def _firm_count_problem(sc: Scenario) -> str | None:
    """Refuse a run that cannot fit in memory (a million entrants a year would take gigabytes in seconds)."""
    su = sc.startups
    estimate = su.initial_count + su.entry_rate * sc.years
    if estimate <= MAX_FIRMS:
        return None
    start = f" and {su.initial_count:,} at the start" if su.initial_count else ""
    return (f"startups.entry_rate: {su.entry_rate:,g} entrants a year over {sc.years} years{start} would create "
            f"about {estimate:,.0f} firms, more than the {MAX_FIRMS:,} a run can hold; lower startups.entry_rate, "
            f"startups.initial_count or years")


def build_scenario(data: dict[str, Any], source: str = "scenario") -> Scenario:
    problems: list[str] = []
    scenario = _build(Scenario, data, "", problems)
    if scenario is not None:
        _cross_checks(scenario, problems)
    if problems:
        raise ScenarioError([f"{source}: {p}" for p in problems])
    return scenario


def load_scenario(name_or_path: str = "baseline", overrides: list[str] | tuple[str, ...] = (),
                  values: Mapping[str, Any] | None = None) -> Scenario:
    """The single entry point: name or path, plus `--set` overrides (text), then `values` (typed, by
    dotted path), to a validated Scenario."""
    return load_variants(name_or_path, overrides, [], values)[0]


def load_variants(name_or_path: str, overrides: list[str] | tuple[str, ...], variants: list[dict[str, Any]],
                  values: Mapping[str, Any] | None = None) -> tuple[Scenario, list[Scenario]]:
    """The scenario with its `--set` overrides and typed `values`, and one scenario per variant (typed
    values by dotted path) on top of it, all from a single reading of the file(s): a file edited while
    a sweep starts cannot give its points different bases."""
    try:
        data, path = resolve_raw(name_or_path)
        data = apply_overrides(data, list(overrides))
        if values:
            data = apply_values(data, typed_settings(values))
        base = build_scenario(data, source=str(path.name))
        points = [build_scenario(apply_values(data, typed_settings(variant)), str(path.name)) for variant in variants]
        return base, points
    except RecursionError:
        raise ScenarioError([f"{name_or_path}: keys or tables nested too deeply"]) from None


def with_values(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """A loaded scenario with typed values set by dotted path, validated as a file is."""
    if not values:
        return scenario
    return build_scenario(apply_values(scenario_to_dict(scenario), typed_settings(values)), source=scenario.name)


def resolve_scenario(scenario: Scenario | str, values: Mapping[str, Any]) -> Scenario:
    """A scenario name, path or loaded Scenario, with typed values set on top."""
    if isinstance(scenario, Scenario):
        return with_values(scenario, values)
    return load_scenario(scenario, values=values)


def value_at(scenario: Scenario, dotted: str) -> Any:
    """A parameter's value by its dotted path (a checked path: see check_parameter_path)."""
    node: Any = scenario
    for part in dotted.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return node


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    return dataclasses.asdict(scenario)


def with_schedules(scenario: Scenario, values: Mapping[str, Any], schedules: Mapping[str, Mapping[int, Any]]) -> Scenario:
    """A loaded scenario with typed values set and schedules added (a path's years merged into any it
    has), validated as a file is: how a hindcast replays history on top of a scenario."""
    data = apply_values(scenario_to_dict(scenario), typed_settings(values))
    merged = {path: dict(by_year) for path, by_year in data.get("schedules", {}).items()}
    for path, by_year in schedules.items():
        merged.setdefault(path, {}).update(by_year)
    data["schedules"] = merged
    return build_scenario(data, source=scenario.name)
