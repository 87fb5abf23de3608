"""Load and validate a history folder: the public figures the model is calibrated and scored against.

The CSVs are edited by hand, so every refusal is a HistoryError of one line that names the file, the
line and column and the raw text: enough to fix the file without reading a traceback.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.errors import BadInput
from model.params import CLOUD_PROVIDERS, MAJOR_IDS

CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.5, "low": 0.25, "guidance": 0.25}
PRIMARY_TARGETS = ("cloud_share", "cloud_market_bn")
SHARE_TARGET, MARKET_TARGET = PRIMARY_TARGETS
SHARE_UNIT, MONEY_UNIT = "points", "bn"
MONEY_SUFFIX = "_bn"
SIGNED_SUFFIX = "_operating_income_bn"  # a segment's profit may be a loss; no other money figure may be negative
SEGMENT_METRICS = ("cloud_revenue", "cloud_operating_income", "intelligent_cloud_revenue", "advertising_revenue", "gmv")
MAX_SHARE = 100.0
FIRST_YEAR, LAST_YEAR = 1900, 2200
MAX_FILE_BYTES = 10_000_000

CLOUD_MARKET, CAPEX, SEGMENTS, AI_FUNDING = "cloud_market.csv", "capex.csv", "segments.csv", "ai_funding.csv"
REQUIRED_FILES = (CLOUD_MARKET, CAPEX)
REQUIRED_COLUMNS = {
    CLOUD_MARKET: ("year", "market_bn", "confidence"),
    CAPEX: ("year", "firm", "capex_bn", "confidence"),
    SEGMENTS: ("year", "firm", "metric", "value_bn", "confidence"),
    AI_FUNDING: ("year", "ai_venture_funding_bn", "confidence"),
}
MARKET_COLUMNS = ("year", "market_bn", "source", "confidence")  # cloud_market.csv's columns that are not a provider's share

OBSERVATION_COLUMNS = {
    "year": "int64", "target": "str", "firm": "str", "value": "float64", "unit": "str", "confidence": "str", "weight": "float64",
}
CAPEX_COLUMNS = {"year": "int64", "firm": "str", "capex_bn": "float64", "confidence": "str"}
FUNDING_COLUMNS = {"year": "int64", "ai_venture_funding_bn": "float64", "confidence": "str"}

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")  # plain decimals: no nan, inf or 1_000
CONFIDENCE_WORD = re.compile(r"\s*([A-Za-z]+)")
MARKET_QUALIFIER = re.compile(r"(?:(\d+)\s+)?market\s+([A-Za-z]+)", re.IGNORECASE)


__all__ = [
    "AI_FUNDING", "CAPEX", "CLOUD_MARKET", "CONFIDENCE_WEIGHT", "MARKET_TARGET", "MAX_FILE_BYTES", "MAX_SHARE", "MONEY_UNIT",
    "PRIMARY_TARGETS", "SEGMENTS", "SEGMENT_METRICS", "SHARE_TARGET", "SHARE_UNIT", "History", "HistoryError",
    "check_cutoff", "check_overlap", "is_signed", "load_history",
]


class HistoryError(BadInput, ValueError):
    """Bad history input: one line naming the file, the line/column and the bad value."""


@dataclass(frozen=True, eq=False)
class History:
    """One folder of history: tidy targets to fit and score, and the inputs (capex, funding) of a hindcast."""

    folder: Path
    observations: pd.DataFrame
    capex: pd.DataFrame
    funding: pd.DataFrame

    @property
    def first_year(self) -> int:
        return int(self.observations["year"].min())

    @property
    def last_year(self) -> int:
        return int(self.observations["year"].max())

    def targets(self, first: int | None = None, last: int | None = None) -> pd.DataFrame:
        """The observations of the years a fit or a score looks at."""
        years = self.observations["year"]
        inside = years.between(FIRST_YEAR if first is None else first, LAST_YEAR if last is None else last)
        return self.observations[inside].reset_index(drop=True)


# ---------------------------------------------------------------- reading a CSV into located rows


@dataclass(frozen=True)
class Row:
    """One data row with its line number, so every problem can point at the cell that has it."""

    file: str
    line: int
    cells: dict[str, str]

    def text(self, column: str) -> str:
        return self.cells[column].strip()

    def problem(self, column: str | None, what: str) -> HistoryError:
        return located(self.file, self.line, column, what)


@dataclass(frozen=True)
class Table:
    file: str
    header_line: int
    header: tuple[str, ...]
    rows: tuple[Row, ...]


def located(file: str, line: int, column: str | None, what: str) -> HistoryError:
    where = f"{file} line {line}" + (f", column {column!r}" if column else "")
    return HistoryError(f"{where}: {what}")


def did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_text(path: Path) -> str:
    """The file's text, refused before decoding when it is too big to be a table of yearly figures."""
    name = path.name
    if not path.is_file():
        raise HistoryError(f"{name}: not a regular file in {str(path.parent)!r}")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise HistoryError(f"{name}: cannot read ({exc.strerror})") from None
    if max(size, len(raw)) > MAX_FILE_BYTES:
        raise HistoryError(f"{name}: file is {max(size, len(raw)):,} bytes, more than the {MAX_FILE_BYTES:,} a history file may have")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise HistoryError(f"{name} line {line}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})") from None


def records(name: str, text: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of every record that is not blank; malformed quoting becomes one line, not a traceback."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    found, line = [], 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                found.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise HistoryError(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None
    return found


def read_table(path: Path) -> Table:
    name = path.name
    found = records(name, read_text(path))
    if not found:
        raise HistoryError(f"{name}: empty file")
    (header_line, raw_header), body = found[0], found[1:]
    header = tuple(cell.strip() for cell in raw_header)
    check_header(name, header_line, header)
    if not body:
        raise HistoryError(f"{name}: no data rows (only the header on line {header_line})")
    rows = []
    for line, cells in body:
        if len(cells) != len(header):
            raise located(name, line, None, f"{len(cells)} fields where the header has {len(header)}: {','.join(cells)!r}")
        rows.append(Row(name, line, dict(zip(header, cells))))
    return Table(name, header_line, header, tuple(rows))


def check_header(name: str, line: int, header: tuple[str, ...]) -> None:
    for index, column in enumerate(header):
        if not column:
            raise located(name, line, None, f"column {index + 1} has no name")
        if column in header[:index]:
            raise located(name, line, column, f"duplicate column {column!r}")
    missing = [column for column in REQUIRED_COLUMNS[name] if column not in header]
    if missing:
        raise located(name, line, None, f"missing columns {', '.join(map(repr, missing))} (header: {','.join(header)!r})")


# ---------------------------------------------------------------- reading one cell


def year_of(row: Row) -> int:
    raw, text = row.cells["year"], row.text("year")
    number = float(text) if NUMBER.fullmatch(text) else math.nan
    if not (number.is_integer() and FIRST_YEAR <= number <= LAST_YEAR):
        raise row.problem("year", f"year {raw!r} is not a whole number in {FIRST_YEAR}-{LAST_YEAR}")
    return int(number)


def number_of(row: Row, column: str, *, signed: bool = False) -> float | None:
    """The cell's number; None when blank, which the README uses for 'not found in a source'."""
    raw, text = row.cells[column], row.text(column)
    if not text:
        return None
    number = float(text) if NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(number):
        raise row.problem(column, f"not a number: {raw!r}")
    if number < 0 and not signed:
        raise row.problem(column, f"negative {column} {raw!r}")
    return number


def share_of(row: Row, provider: str) -> float | None:
    share = number_of(row, provider, signed=True)
    if share is not None and not 0 <= share <= MAX_SHARE:
        raise row.problem(provider, f"share {row.cells[provider]!r} is outside 0-{MAX_SHARE:g} points")
    return share


def level_of(row: Row, word: str, raw: str) -> str:
    level = word.lower()
    if level not in CONFIDENCE_WEIGHT:
        raise row.problem("confidence", f"unknown confidence {raw!r} (expected one of {', '.join(CONFIDENCE_WEIGHT)})")
    return level


def confidence_of(row: Row) -> str:
    """The first word of the cell; what follows is a note for the reader (or, in cloud_market.csv, a qualifier)."""
    raw = row.cells["confidence"]
    match = CONFIDENCE_WORD.match(raw)
    return level_of(row, match.group(1) if match else "", raw)


def market_confidence_of(row: Row, year: int) -> str | None:
    """The level of a '[<year>] market <level>' qualifier after ';', when the market figure is less sure than the shares."""
    level = None
    for qualifier in filter(None, (part.strip() for part in row.cells["confidence"].split(";")[1:])):
        match = MARKET_QUALIFIER.fullmatch(qualifier)
        if not match:
            raise row.problem("confidence", f"qualifier {qualifier!r} is not '[<year>] market <level>'")
        if match.group(1) and int(match.group(1)) != year:
            raise row.problem("confidence", f"qualifier {qualifier!r} names another year than {year}")
        level = level_of(row, match.group(2), qualifier)
    return level


def firm_of(row: Row) -> str:
    raw, firm = row.cells["firm"], row.text("firm")
    if firm not in MAJOR_IDS:
        raise row.problem("firm", f"unknown firm {raw!r}{did_you_mean(firm, MAJOR_IDS)}")
    return firm


def metric_of(row: Row) -> str:
    raw, metric = row.cells["metric"], row.text("metric")
    if metric not in SEGMENT_METRICS:
        raise row.problem("metric", f"unknown metric {raw!r}{did_you_mean(metric, SEGMENT_METRICS)}")
    return metric


def is_signed(target: str) -> bool:
    return target.endswith(SIGNED_SUFFIX)


def check_unique(row: Row, key: tuple, first_lines: dict[tuple, int], what: str) -> None:
    if key in first_lines:
        shown = key[0] if len(key) == 1 else key
        raise row.problem(what.replace(" and ", ", "), f"duplicate {what} {shown!r} (first on line {first_lines[key]})")
    first_lines[key] = row.line


# ---------------------------------------------------------------- one file each


def observation(year: int, target: str, firm: str, value: float, confidence: str) -> dict:
    primary = target in PRIMARY_TARGETS
    return {
        "year": year, "target": target, "firm": firm, "value": value,
        "unit": SHARE_UNIT if target == SHARE_TARGET else MONEY_UNIT,
        "confidence": confidence, "weight": 1.0 if primary else CONFIDENCE_WEIGHT[confidence],
    }


def provider_columns(table: Table) -> tuple[str, ...]:
    providers = tuple(column for column in table.header if column not in MARKET_COLUMNS)
    for column in providers:
        if column not in CLOUD_PROVIDERS:
            hint = did_you_mean(column, CLOUD_PROVIDERS)
            raise located(table.file, table.header_line, column, f"unknown firm {column!r}{hint}; share columns are cloud providers")
    return providers


def check_share_total(row: Row, shares: dict[str, float]) -> None:
    total = sum(shares.values())
    if total > MAX_SHARE:
        parts = " + ".join(f"{firm} {row.cells[firm].strip()}" for firm in shares)
        raise row.problem(None, f"shares sum to {total:g} points, above {MAX_SHARE:g}: {parts}")


def cloud_market_observations(table: Table) -> list[dict]:
    providers, first_lines, found = provider_columns(table), {}, []
    for row in table.rows:
        year = year_of(row)
        check_unique(row, (year,), first_lines, "year")
        confidence = confidence_of(row)
        market_confidence = market_confidence_of(row, year) or confidence
        market = number_of(row, "market_bn")
        shares = {firm: share for firm in providers if (share := share_of(row, firm)) is not None}
        check_share_total(row, shares)
        if market is not None:
            found.append(observation(year, MARKET_TARGET, "", market, market_confidence))
        found.extend(observation(year, SHARE_TARGET, firm, share, confidence) for firm, share in shares.items())
    return found


def segment_observations(table: Table) -> list[dict]:
    first_lines, found = {}, []
    for row in table.rows:
        year, firm, metric = year_of(row), firm_of(row), metric_of(row)
        check_unique(row, (year, firm, metric), first_lines, "year and firm and metric")
        target = metric + MONEY_SUFFIX
        value, confidence = number_of(row, "value_bn", signed=is_signed(target)), confidence_of(row)
        if value is not None:
            found.append(observation(year, target, firm, value, confidence))
    return found


def capex_rows(table: Table) -> list[dict]:
    first_lines, found = {}, []
    for row in table.rows:
        year, firm = year_of(row), firm_of(row)
        check_unique(row, (year, firm), first_lines, "year and firm")
        capex, confidence = number_of(row, "capex_bn"), confidence_of(row)
        if capex is not None:
            found.append({"year": year, "firm": firm, "capex_bn": capex, "confidence": confidence})
    return found


def funding_rows(table: Table) -> list[dict]:
    first_lines, found = {}, []
    for row in table.rows:
        year = year_of(row)
        check_unique(row, (year,), first_lines, "year")
        funding, confidence = number_of(row, "ai_venture_funding_bn"), confidence_of(row)
        if funding is not None:
            found.append({"year": year, "ai_venture_funding_bn": funding, "confidence": confidence})
    return found


def frame(rows: Iterable[dict], columns: dict[str, str], order: list[str]) -> pd.DataFrame:
    """A tidy table with its columns typed even when empty, so callers can filter without special cases."""
    table = pd.DataFrame(list(rows), columns=list(columns)).astype(columns)
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def optional_table(folder: Path, name: str) -> Table | None:
    return read_table(folder / name) if (folder / name).exists() else None


def load_history(folder: str | Path) -> History:
    """Read and check a history folder; the first problem found is raised as one HistoryError line."""
    folder = Path(folder)
    if not folder.exists():
        raise HistoryError(f"history folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise HistoryError(f"history folder {str(folder)!r} is not a directory")
    for name in REQUIRED_FILES:
        if not (folder / name).exists():
            raise HistoryError(f"{name}: required file missing from history folder {str(folder)!r}")
    market, capex = read_table(folder / CLOUD_MARKET), read_table(folder / CAPEX)
    segments, funding = optional_table(folder, SEGMENTS), optional_table(folder, AI_FUNDING)
    found = cloud_market_observations(market)
    if not found:
        raise HistoryError(f"{CLOUD_MARKET}: no figures (every market_bn and share cell is blank)")
    if segments is not None:
        found += segment_observations(segments)
    return History(
        folder=folder,
        observations=frame(found, OBSERVATION_COLUMNS, ["target", "firm", "year"]),
        capex=frame(capex_rows(capex), CAPEX_COLUMNS, ["firm", "year"]),
        funding=frame(funding_rows(funding) if funding is not None else [], FUNDING_COLUMNS, ["year"]),
    )


# ---------------------------------------------------------------- fitting windows


def span(years: pd.Series) -> str:
    return f"{int(years.min())}-{int(years.max())}" if len(years) else "no years"


def check_cutoff(history: History, fit_until: int, first_model_year: int) -> None:
    """A fit needs observed years the model also simulates, and a cutoff the data reach."""
    years = history.observations["year"]
    data = f"the history's observations cover {span(years)}"
    if fit_until > history.last_year:
        raise HistoryError(f"cutoff fit_until={fit_until} is after the last observed year {history.last_year}; {data}")
    if not years.between(first_model_year, fit_until).any():
        raise HistoryError(f"cutoff fit_until={fit_until} leaves nothing to fit from the first model year {first_model_year}; {data}")


def check_overlap(history: History, first_model_year: int, last_model_year: int) -> None:
    """A hindcast needs years to score and the capex firms actually spent from the year before it starts."""
    years = history.observations["year"]
    if not years.between(first_model_year, last_model_year).any():
        raise HistoryError(
            f"model years {first_model_year}-{last_model_year} overlap no observation; the history's observations cover {span(years)}"
        )
    needed = set(range(first_model_year - 1, min(last_model_year, history.last_year) + 1))
    covered = history.capex.groupby("firm")["year"].agg(set)
    if not any(needed <= firm_years for firm_years in covered):
        raise HistoryError(
            f"{CAPEX}: no firm has capex for every year {min(needed)}-{max(needed)} of a hindcast from {first_model_year}; "
            f"capex covers {span(history.capex['year'])}"
        )
