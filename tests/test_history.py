"""The history folder (../shared/history): it loads, bad edits are refused in one line, naive forecasts score as by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from calibration.history import (
    AI_FUNDING, CAPEX, CLOUD_MARKET, MAX_FILE_BYTES, SEGMENTS, History, HistoryError, check_cutoff, check_overlap,
    load_history,
)
from calibration.scoring import METHODS, anchored_forecasts, band_coverage, naive_forecasts, score, score_summary

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT.parent / "shared" / "history"
FIT_UNTIL = 2021
FORECAST_YEARS = (2022, 2023)


@pytest.fixture(scope="module")
def history() -> History:
    return load_history(SHIPPED)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "history"
    shutil.copytree(SHIPPED, copy)
    return copy


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not unique in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def refusal(folder: Path) -> str:
    with pytest.raises(HistoryError) as caught:
        load_history(folder)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def observed(history: History, target: str, firm: str, year: int) -> pd.DataFrame:
    table = history.observations
    return table[(table["target"] == target) & (table["firm"] == firm) & (table["year"] == year)]


# ---------------------------------------------------------------- the shipped folder


def test_shipped_history_loads(history):
    assert (history.first_year, history.last_year) == (2019, 2023)
    assert list(history.observations.columns) == ["year", "target", "firm", "value", "unit", "confidence", "weight"]
    assert list(history.capex.columns) == ["year", "firm", "capex_bn", "confidence"]
    assert list(history.funding.columns) == ["year", "ai_venture_funding_bn", "confidence"]
    keys = ["target", "firm", "year"]
    assert history.observations[keys].equals(history.observations.sort_values(keys)[keys].reset_index(drop=True))
    assert not history.observations.duplicated(keys).any()


def test_shipped_observations(history):
    amazon = observed(history, "cloud_share", "amazon", 2023).iloc[0]
    assert (amazon["value"], amazon["unit"], amazon["weight"]) == (31.0, "points", 1.0)
    market = observed(history, "cloud_market_bn", "", 2019).iloc[0]
    assert (market["value"], market["unit"], market["confidence"], market["weight"]) == (97.0, "bn", "low", 1.0)
    assert observed(history, "cloud_share", "amazon", 2019).iloc[0]["confidence"] == "medium"
    assert observed(history, "cloud_share", "google_cloud", 2021).empty
    loss = observed(history, "cloud_operating_income_bn", "google_cloud", 2020).iloc[0]
    assert (loss["value"], loss["confidence"], loss["weight"]) == (-5.6, "medium", 0.5)
    assert observed(history, "intelligent_cloud_revenue_bn", "azure", 2019).iloc[0]["weight"] == 0.25
    assert set(history.observations["unit"]) == {"points", "bn"}


def test_shipped_inputs(history):
    capex = history.capex.set_index(["firm", "year"])
    assert capex.loc[("amazon", 2026), ["capex_bn", "confidence"]].tolist() == [200.0, "guidance"]
    assert history.funding.set_index("year").loc[2021, "ai_venture_funding_bn"] == 74.6


def test_targets_window(history):
    window = history.targets(2022, 2023)
    assert set(window["year"]) == {2022, 2023}
    assert len(history.targets()) == len(history.observations)


def test_optional_files_may_be_absent(folder):
    (folder / SEGMENTS).unlink()
    (folder / AI_FUNDING).unlink()
    history = load_history(folder)
    assert set(history.observations["target"]) == {"cloud_share", "cloud_market_bn"}
    assert history.funding.empty and list(history.funding.columns) == ["year", "ai_venture_funding_bn", "confidence"]


# ---------------------------------------------------------------- refusals, each one line naming the file and value


BAD_EDITS = {
    "header columns missing": (CAPEX, "year,firm,capex_bn,basis", "year,company,capex,basis", ["line 1", "'firm'", "'capex_bn'"]),
    "unknown provider column": (CLOUD_MARKET, "google_cloud,alibaba,source", "google_cloud,oracle,source", ["line 1", "unknown firm 'oracle'"]),
    "unknown capex firm": (CAPEX, "2019,amazon,16.9", "2019,amazn,16.9", ["line 2", "unknown firm 'amazn'", "did you mean 'amazon'"]),
    "unknown segment firm": (SEGMENTS, "2020,shopify,gmv", "2020,Shopify,gmv", ["unknown firm 'Shopify'", "did you mean 'shopify'"]),
    "unknown metric": (SEGMENTS, "2020,shopify,gmv", "2020,shopify,gmvv", ["unknown metric 'gmvv'", "did you mean 'gmv'"]),
    "non-numeric capex": (CAPEX, "2019,amazon,16.9", "2019,amazon,16.9bn", ["line 2", "capex_bn", "'16.9bn'"]),
    "non-numeric share": (CLOUD_MARKET, "2020,129,32,", "2020,129,thirty,", ["line 3", "amazon", "'thirty'"]),
    "non-finite market": (CLOUD_MARKET, "2020,129,", "2020,nan,", ["line 3", "market_bn", "'nan'"]),
    "fractional year": (CAPEX, "2019,amazon,16.9", "2019.5,amazon,16.9", ["line 2", "'2019.5'"]),
    "year out of range": (AI_FUNDING, "2019,32.5", "1850,32.5", ["line 2", "'1850'"]),
    "year not a number": (SEGMENTS, "2020,shopify,gmv", "MMXX,shopify,gmv", ["'MMXX'"]),
    "duplicate market year": (CLOUD_MARKET, "2020,129", "2019,129", ["line 3", "duplicate year 2019", "line 2"]),
    "duplicate capex year and firm": (CAPEX, "2020,amazon,40.1", "2019,amazon,40.1", ["line 3", "duplicate", "2019", "'amazon'"]),
    "duplicate segment row": (SEGMENTS, "2019,amazon,cloud_operating_income", "2019,amazon,cloud_revenue", ["line 3", "duplicate", "'cloud_revenue'"]),
    "duplicate funding year": (AI_FUNDING, "2020,33.7", "2019,33.7", ["line 3", "duplicate year 2019"]),
    "share above 100": (CLOUD_MARKET, "2021,178,33,", "2021,178,133,", ["line 4", "amazon", "'133'"]),
    "negative share": (CLOUD_MARKET, "2021,178,33,22", "2021,178,33,-2", ["line 4", "azure", "'-2'"]),
    "shares sum above 100": (CLOUD_MARKET, "2019,97,33,", "2019,97,80,", ["line 2", "sum to 109", "amazon 80"]),
    "negative market": (CLOUD_MARKET, "2022,227,", "2022,-227,", ["line 5", "market_bn", "'-227'"]),
    "negative capex": (CAPEX, "2019,amazon,16.9", "2019,amazon,-16.9", ["line 2", "capex_bn", "'-16.9'"]),
    "negative revenue": (SEGMENTS, "2019,amazon,cloud_revenue,35.0", "2019,amazon,cloud_revenue,-35.0", ["line 2", "'-35.0'"]),
    "negative gmv": (SEGMENTS, "2020,shopify,gmv,119.6", "2020,shopify,gmv,-119.6", ["value_bn", "'-119.6'"]),
    "negative funding": (AI_FUNDING, "2019,32.5", "2019,-32.5", ["line 2", "'-32.5'"]),
    "unknown confidence": (CAPEX, "Amazon 10-K cash flow statement,high", "Amazon 10-K cash flow statement,certain", ["confidence", "'certain'"]),
    "unknown market qualifier level": (CLOUD_MARKET, "2019 market low", "2019 market vague", ["line 2", "'2019 market vague'"]),
    "qualifier of another year": (CLOUD_MARKET, "2019 market low", "2018 market low", ["line 2", "'2018 market low'"]),
    "malformed quoting": (CLOUD_MARKET, '"Synergy Research Group, Feb 2023', '"Synergy Research Group," Feb 2023', ["malformed CSV"]),
    "unterminated quote": (AI_FUNDING, "2023,42.5,same;", '2023,42.5,"same;', ["malformed CSV"]),
    "too many fields": (CAPEX, "2019,amazon,16.9", "2019,amazon,16.9,extra", ["line 2", "7 fields", "header has 6"]),
}


@pytest.mark.parametrize("case", BAD_EDITS, ids=list(BAD_EDITS))
def test_bad_edit_is_refused_in_one_line(folder, case):
    name, old, new, fragments = BAD_EDITS[case]
    edit(folder, name, old, new)
    message = refusal(folder)
    assert message.startswith(name)
    for fragment in fragments:
        assert fragment in message


def test_negative_operating_income_is_accepted(folder):
    edit(folder, SEGMENTS, "2019,amazon,cloud_operating_income,9.2", "2019,amazon,cloud_operating_income,-9.2")
    assert observed(load_history(folder), "cloud_operating_income_bn", "amazon", 2019)["value"].tolist() == [-9.2]


def test_missing_folder_and_file_are_refused(tmp_path, folder):
    assert "'" + str(tmp_path / "nowhere") + "'" in refusal(tmp_path / "nowhere")
    (tmp_path / "plain").write_text("")
    assert "not a directory" in refusal(tmp_path / "plain")
    for name in (CLOUD_MARKET, CAPEX):
        shutil.copytree(folder, tmp_path / name)
        (tmp_path / name / name).unlink()
        message = refusal(tmp_path / name)
        assert message.startswith(name) and "required file missing" in message


@pytest.mark.parametrize("name", [CLOUD_MARKET, CAPEX, SEGMENTS, AI_FUNDING])
def test_empty_file_and_header_only_are_refused(folder, name):
    path = folder / name
    header = path.read_text(encoding="utf-8").splitlines()[0]
    path.write_text("")
    assert refusal(folder) == f"{name}: empty file"
    path.write_text(header + "\n")
    assert refusal(folder).startswith(f"{name}: no data rows")


def test_oversized_file_is_refused(folder):
    with (folder / CAPEX).open("r+b") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    message = refusal(folder)
    assert message.startswith(CAPEX) and f"{MAX_FILE_BYTES + 1:,} bytes" in message


def test_undecodable_bytes_are_refused(folder):
    path = folder / SEGMENTS
    path.write_bytes(path.read_bytes().replace(b"Shopify annual report", b"Shopify \xff report", 1))
    message = refusal(folder)
    assert message.startswith(SEGMENTS) and "0xff" in message and "line 31" in message


def test_blank_market_has_no_figures(folder):
    (folder / CLOUD_MARKET).write_text("year,market_bn,amazon,source,confidence\n2019,,,x,high\n")
    assert "no figures" in refusal(folder)


# ---------------------------------------------------------------- fitting windows


def test_check_cutoff(history):
    check_cutoff(history, fit_until=FIT_UNTIL, first_model_year=2020)
    check_cutoff(history, fit_until=2023, first_model_year=2023)
    with pytest.raises(HistoryError, match="fit_until=2024.*2019-2023"):
        check_cutoff(history, fit_until=2024, first_model_year=2020)
    with pytest.raises(HistoryError, match="fit_until=2019.*2019-2023"):
        check_cutoff(history, fit_until=2019, first_model_year=2020)


def test_check_overlap(history):
    check_overlap(history, first_model_year=2020, last_model_year=2030)
    with pytest.raises(HistoryError, match="2024-2030 overlap no observation"):
        check_overlap(history, first_model_year=2024, last_model_year=2030)
    with pytest.raises(HistoryError, match="capex.csv.*2018"):
        check_overlap(history, first_model_year=2019, last_model_year=2023)


# ---------------------------------------------------------------- naive forecasts and scores, checked by hand


@pytest.fixture(scope="module")
def naive(history) -> pd.DataFrame:
    return naive_forecasts(history.observations, FIT_UNTIL, FORECAST_YEARS)


def forecast(naive: pd.DataFrame, method: str, target: str, firm: str) -> list[float]:
    rows = naive[(naive["method"] == method) & (naive["target"] == target) & (naive["firm"] == firm)]
    return rows.sort_values("year")["value"].tolist()


def test_persistence_repeats_the_last_observation(naive):
    assert forecast(naive, "persistence", "cloud_share", "amazon") == [33, 33]
    assert forecast(naive, "persistence", "cloud_share", "google_cloud") == [9, 9]  # 2021 is blank: 2020's
    assert forecast(naive, "persistence", "cloud_market_bn", "") == [178, 178]


def test_drift_extends_the_last_two_observations(naive):
    assert forecast(naive, "drift", "cloud_share", "amazon") == [34, 35]
    assert forecast(naive, "drift", "cloud_share", "azure") == [24, 26]
    assert forecast(naive, "drift", "cloud_share", "google_cloud") == [15, 18]
    assert forecast(naive, "drift", "cloud_market_bn", "") == [227, 276]
    assert forecast(naive, "drift", "cloud_operating_income_bn", "google_cloud") == pytest.approx([-0.6, 1.9])


def test_drift_is_clipped_and_single_points_persist():
    observed = pd.DataFrame({
        "year": [2020, 2021, 2020, 2021, 2021], "target": ["cloud_share"] * 2 + ["gmv_bn"] * 2 + ["cloud_revenue_bn"],
        "firm": ["azure", "azure", "shopify", "shopify", "amazon"], "value": [60.0, 90.0, 50.0, 10.0, 5.0],
        "unit": ["points"] * 2 + ["bn"] * 3,
    })
    drift = naive_forecasts(observed, 2021, [2023]).query("method == 'drift'").set_index("firm")["value"]
    assert drift.to_dict() == {"amazon": 5.0, "azure": 100.0, "shopify": 0.0}


def test_persistence_share_mae_is_ten_sevenths(history, naive):
    summary = score_summary(score(naive, history.observations, FIT_UNTIL)).set_index(["method", "group", "period"])
    share = summary.loc[("persistence", "cloud_share", "forecast")]
    assert (share["n"], share["error_unit"]) == (7, "points")
    assert share["mean_error"] == pytest.approx(10 / 7)
    assert summary.loc[("drift", "cloud_share", "forecast"), "mean_error"] == pytest.approx(22 / 7)
    market = summary.loc[("drift", "cloud_market_bn", "forecast")]
    assert (market["n"], market["error_unit"]) == (2, "%")
    assert market["mean_error"] == pytest.approx((0 + 100 * 6 / 270) / 2)
    assert set(summary.reset_index()["group"]) == {"cloud_share", "cloud_market_bn", "revenues"}


def test_score_errors_are_points_for_shares_and_percent_for_money(history):
    predictions = pd.DataFrame({
        "year": [2021, 2023, 2023, 2023], "target": ["cloud_share", "cloud_share", "cloud_market_bn", "gmv_bn"],
        "firm": ["amazon", "amazon", "", "walmart"], "method": "model", "value": [30.0, 35.0, 243.0, 1.0],
    })
    scores = score(predictions, history.observations, FIT_UNTIL).set_index(["target", "year"])
    assert scores.loc[("cloud_share", 2021), ["error", "error_unit", "period"]].tolist() == [3.0, "points", "fit"]
    assert scores.loc[("cloud_share", 2023), ["error", "period"]].tolist() == [4.0, "forecast"]
    assert scores.loc[("cloud_market_bn", 2023), "error"] == pytest.approx(10.0)
    assert scores.loc[("cloud_market_bn", 2023), "error_unit"] == "%"
    assert ("gmv_bn", 2023) not in scores.index  # walmart has no gmv to score against
    assert set(scores["method"]) == {"model"} and "model" in METHODS


def test_score_refuses_two_values_for_one_point(history):
    twice = pd.DataFrame({"year": [2022, 2022], "target": "cloud_share", "firm": "amazon", "method": "model", "value": [1.0, 2.0]})
    with pytest.raises(ValueError, match="more than one"):
        score(twice, history.observations, FIT_UNTIL)


def test_band_coverage(history):
    bands = pd.DataFrame({
        "year": [2021, 2022, 2023, 2022, 2023, 2023],
        "target": ["cloud_share"] * 3 + ["cloud_market_bn", "cloud_market_bn", "cloud_revenue_bn"],
        "firm": ["amazon"] * 3 + ["", "", "amazon"],
        "lo": [0.0, 32.0, 32.0, 200.0, 200.0, 80.0], "hi": [1.0, 34.0, 34.0, 227.0, 260.0, 100.0],
    })
    coverage = band_coverage(bands, history.observations, after=FIT_UNTIL).set_index("group")
    assert coverage.loc["cloud_share"].tolist() == [2, 0.5]  # 2021 is not after the cutoff; 2023's 31 is below 32
    assert coverage.loc["cloud_market_bn"].tolist() == [2, 0.5]  # 227 on the edge counts, 270 above 260 does not
    assert coverage.loc["revenues"].tolist() == [1, 1.0]


def test_the_anchored_forecast_moves_the_model_onto_the_last_observation(history):
    model = pd.DataFrame({
        "year": [2020, 2021, 2022, 2023] * 2 + [2021, 2023],
        "target": ["cloud_share"] * 4 + ["cloud_share"] * 4 + ["cloud_market_bn"] * 2,
        "firm": ["azure"] * 4 + ["google_cloud"] * 4 + [""] * 2,
        "method": "model", "value": [17.0, 18.0, 19.5, 99.0, 7.0, 8.0, 8.5, 9.0, 150.0, 300.0],
    })
    anchored = anchored_forecasts(model, history.observations, FIT_UNTIL).set_index(["target", "firm", "year"])["value"]
    assert anchored[("cloud_share", "azure", 2022)] == pytest.approx(22 + 1.5)  # 2021's 22 plus the model's change
    assert anchored[("cloud_share", "azure", 2023)] == 100.0  # clipped to what a share can be
    assert anchored[("cloud_share", "google_cloud", 2023)] == pytest.approx(9 + 2.0)  # 2021 blank: from 2020's 9
    assert anchored[("cloud_market_bn", "", 2023)] == pytest.approx(178 * 2.0)  # money: the model's growth
    assert set(anchored.index.get_level_values("year")) == {2022, 2023}
    assert "anchored" in METHODS
