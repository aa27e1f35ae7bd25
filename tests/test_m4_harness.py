"""bench/m4.py: the M4 Hourly harness reproduces M4's published yardsticks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench import m4


# ------------------------------------------------------------- synthetic checks
def _frames(train_vals: dict, test_vals: dict, fc: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    def long(d, end, col):
        parts = []
        for k, v in d.items():
            ts = end - pd.to_timedelta(np.arange(len(v))[::-1], unit="h")
            parts.append(pd.DataFrame({"item_id": k, "timestamp": ts, col: np.asarray(v, float)}))
        return pd.concat(parts, ignore_index=True)

    end = pd.Timestamp("2020-01-01 23:00")
    train = long(train_vals, end, "target_value")
    test = long(test_vals, end + pd.Timedelta(hours=2), "target_value")
    forecast = long(fc, end + pd.Timedelta(hours=2), "p50")
    return train, test, forecast


def test_score_m4_matches_hand_computed_smape_and_mase():
    # m = 1: MASE scale = mean |diff| of the training series = 1 for [1, 2, 3, 4]
    train, test, fc = _frames({"a": [1, 2, 3, 4]}, {"a": [5, 6]}, {"a": [4, 8]})
    overall, per = m4.score_m4(train, test, fc, m=1)
    # sMAPE: 200*1/9 and 200*2/14, averaged
    assert overall["sMAPE"] == pytest.approx((200 / 9 + 400 / 14) / 2)
    assert overall["MASE"] == pytest.approx(1.5)  # mean(|1|, |2|) / 1
    assert per.loc[0, "item_id"] == "a"
    # Naive2 with m = 1 is naive: forecast 4, 4 -> sMAPE (200/9 + 400/10)/2, MASE 1.5
    assert overall["sMAPE_Naive2"] == pytest.approx((200 / 9 + 400 / 10) / 2)
    assert overall["MASE_Naive2"] == pytest.approx(1.5)
    expect_owa = (overall["sMAPE"] / overall["sMAPE_Naive2"] + 1.0) / 2
    assert overall["OWA"] == pytest.approx(expect_owa)
    assert np.isnan(overall["MSIS"])  # no interval columns


def test_score_m4_msis_wql_and_coverage():
    train, test, fc = _frames({"a": [1, 2, 3, 4]}, {"a": [5, 10]}, {"a": [5, 5]})
    fc["p2.5"] = [4.0, 4.0]
    fc["p97.5"] = [6.0, 6.0]
    fc["p10"] = [4.0, 4.0]
    fc["p90"] = [6.0, 6.0]
    overall, per = m4.score_m4(train, test, fc, m=1)
    # step 1 inside [4, 6]: width 2; step 2 above: 2 + 40 * (10 - 6) = 162 -> mean 82, scale 1
    assert overall["MSIS"] == pytest.approx(82.0)
    assert overall["Coverage[0.95]"] == pytest.approx(0.5)
    # wQL[0.5] = 2 * (0.5 * 0 + 0.5 * 5) / 15; wQL[0.1] = 2*(0.1*1 + 0.1*6)/15; wQL[0.9] = 2*(0.1*1 + 0.9*4)/15
    w5, w1, w9 = 2 * 2.5 / 15, 2 * 0.7 / 15, 2 * 3.7 / 15
    assert overall["wQL[0.5]"] == pytest.approx(w5)
    assert overall["wQL"] == pytest.approx((w1 + w5 + w9) / 3)


def test_score_m4_point_mean_and_missing_item():
    train, test, fc = _frames({"a": [1, 2, 3, 4]}, {"a": [5, 6]}, {"a": [5, 6]})
    fc["mean"] = [4.0, 8.0]
    assert m4.score_m4(train, test, fc, m=1, point="p50")[0]["MASE"] == 0.0
    assert m4.score_m4(train, test, fc, m=1, point="mean")[0]["MASE"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="lacks"):
        m4.score_m4(train, test, fc[fc.item_id != "a"], m=1)


def test_naive2_reseasonalises_a_seasonal_series():
    season = np.array([1.0, 2.0, 3.0, 2.0])
    y = 10 * np.tile(season, 12)
    assert m4.seasonality_test(y, 4)
    f = m4.naive2(y, horizon=6, m=4)
    # y ends at position 47 (47 % 4 = 3); the forecast continues the pattern from position 0
    np.testing.assert_allclose(f, 10 * season[[0, 1, 2, 3, 0, 1]], rtol=1e-12)
    flat = np.r_[np.zeros(20), 5.0]  # too short (< 3 m) -> plain naive
    assert not m4.seasonality_test(flat, 8)
    np.testing.assert_allclose(m4.naive2(flat, 3, 8), [5.0, 5.0, 5.0])


def test_append_results_writes_a_dated_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    m4.append_results([{"method": "X", "sMAPE": 13.9123, "wall s": 0.5}], "Trial", "python -m bench.m4 X", path=out)
    m4.append_results([{"method": "Y", "sMAPE": 1.0}], "Second", "cmd", path=out)
    text = out.read_text()
    assert text.count("## ") == 2 and "| method | sMAPE | wall s |" in text
    assert "| X | 13.912 | 0.500 |" in text
    assert "UTC" in text and m4.MACHINE in text and "`python -m bench.m4 X`" in text


def test_results_table_one_float_format_on_request():
    """The hard-cases bench keeps its fixed three decimals through results_table(float_format=".3f")."""
    rows = [{"model": "A", "WAPE": 0.04321, "MAE": 123.4567, "n": 3, "note": "-"},
            {"model": "B", "WAPE": float("nan"), "MAE": np.float64(2.0), "n": 0, "note": "5/5"}]
    assert m4.results_table(rows).splitlines()[2:] == ["| A | 0.0432 | 123.5 | 3 | - |", "| B |  | 2.000 | 0 | 5/5 |"]
    assert m4.results_table(rows, float_format=".3f").splitlines() == [
        "| model | WAPE | MAE | n | note |", "| --- | --- | --- | --- | --- |",
        "| A | 0.043 | 123.457 | 3 | - |", "| B |  | 2.000 | 0 | 5/5 |"]


# ------------------------------------------------------------ real M4 Hourly
@pytest.fixture(scope="module")
def m4_data(shared_data):
    return m4.load_m4_hourly(shared_data / "m4")


def test_load_right_aligns_every_series(m4_data):
    train, test = m4_data
    assert list(train.columns) == ["item_id", "timestamp", "target_value"]
    assert train["item_id"].nunique() == 414 and len(test) == 414 * 48
    ends = train.groupby("item_id")["timestamp"].max()
    assert (ends == m4.TRAIN_END).all()
    lens = train.groupby("item_id").size()
    assert set(lens) == {700, 960}
    assert test.groupby("item_id")["timestamp"].min().eq(m4.TRAIN_END + pd.Timedelta(hours=1)).all()
    assert train.iloc[0].tolist()[::2] == ["H1", 605.0]
    dg = m4.to_dataset_group(train)
    assert dg.frequency == "H" and dg.to_panel().n_series == 414


def test_naive2_reproduces_m4(m4_data):
    train, test = m4_data
    overall, per = m4.score_m4(train, test, m4.naive2_forecast(train))
    assert round(overall["sMAPE"], 3) == 18.383
    assert round(overall["MASE"], 3) == 2.395
    assert overall["OWA"] == pytest.approx(1.0)
    assert len(per) == 414


def test_seasonal_naive_reproduces_m4(shared_data):
    from fc_core.algorithms.baselines import SeasonalNaiveEstimator

    row = m4.run_and_score(lambda: SeasonalNaiveEstimator(48, frequency="H", season_length=24), "SeasonalNaive",
                           data_dir=shared_data / "m4")
    assert round(row["sMAPE"], 3) == 13.912
    assert round(row["MASE"], 3) == 1.193
    assert 0.627 <= row["OWA"] <= 0.628
    assert row["wall s"] > 0 and row["cpu s"] > 0
    assert 0.5 < row["Coverage[0.95]"] <= 1.0
