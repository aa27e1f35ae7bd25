"""What a filled target point means (issue 13 item 3).

Amazon Forecast reads a zero-filled target point as a recorded zero and a NaN-filled one as
unknown. So zero- and value-filled points (absent rows of counts) are trained on and scored like
observed ones; points filled with an estimate (nan, mean, median, min, max) are neither.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import AutoPredictor, DatasetGroup
from fc_core.algorithms.base import make_estimator


def _sparse_log(n_items=4, days=12, seed=0):
    """Hourly counts with a daily profile, kept only where the count is positive (a transaction log),
    and the full truth."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * days)
    prof = np.clip(np.sin(np.pi * (t % 24 - 6) / 14), 0, None)
    full = pd.concat([pd.DataFrame({"item_id": f"i{i}", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                                    "target_value": rng.poisson((1 + i) * 2 * prof).astype(float)})
                      for i in range(n_items)], ignore_index=True)
    return full[full["target_value"] > 0].reset_index(drop=True), full


def test_zero_filled_rows_are_observed_and_estimates_are_not():
    df = pd.DataFrame({"item_id": ["a"] * 4 + ["b"] * 2,
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05",
                                                    "2024-01-01", "2024-01-02"]),
                       "target_value": [3.0, 5.0, 4.0, np.nan, 1.0, 2.0]})
    zero = DatasetGroup(target=df, frequency="D")
    p = zero.to_panel()
    # a: 01-03 absent (zero-filled), 01-05 empty (zero-filled); b: back-filled 01-03..01-05 with zeros
    assert p.values.tolist() == [3.0, 5.0, 0.0, 4.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0]
    assert p.observed.all()
    rows = zero.filled_rows()
    assert rows["timestamp"].dt.day.tolist() == [3, 5, 3, 4, 5]
    assert rows["region"].tolist() == ["middlefill", "middlefill", "backfill", "backfill", "backfill"]
    assert rows["method"].tolist() == ["zero"] * 5 and rows["scored"].all()
    s = zero.summary().overall
    assert (s["filled"], s["filled_as_values"], s["estimated"]) == (5, 5, 0)

    est = DatasetGroup(target=df, frequency="D", fill={"target": {"middlefill": "mean", "backfill": "value",
                                                                  "backfill_value": 7}})
    p = est.to_panel()
    assert p.values[:5].tolist() == pytest.approx([3.0, 5.0, 4.0, 4.0, 4.0])  # mean of a's 3, 5, 4
    assert p.observed.tolist() == [True, True, False, True, False, True, True, True, True, True]
    rows = est.filled_rows()
    assert rows["method"].tolist() == ["mean", "mean", "value 7.0", "value 7.0", "value 7.0"]
    assert rows["scored"].tolist() == [False, False, True, True, True]
    assert est.filled_rows(scored=False)["timestamp"].dt.day.tolist() == [3, 5]
    s = est.summary()
    assert (s.overall["filled"], s.overall["filled_as_values"], s.overall["estimated"]) == (5, 3, 2)
    assert s.per_item["estimated"].tolist() == [2, 0]
    # nan fill: not observed either (it never was a value)
    nan = DatasetGroup(target=df, frequency="D", fill={"target": {"middlefill": "nan", "backfill": "nan"}})
    assert int(nan.to_panel().observed.sum()) == 5


def test_backtest_scores_every_hour_of_zero_filled_counts():
    log, _ = _sparse_log()
    dg = DatasetGroup(target=log, frequency="H")
    ap = AutoPredictor(forecast_horizon=24, algorithms=["SeasonalNaive"], backtest_windows=2, item_selection=False)
    ap.train(dg, progress=False)
    lb = ap.leaderboard_
    sn = lb[lb["algorithm"] == "SeasonalNaive"]
    assert sn["n_observed"].tolist() == [4 * 24, 4 * 24]  # the night hours (no rows) are zeros, and scored
    bt = ap.backtest_forecasts("SeasonalNaive")
    assert bt["observed"].all()
    # with mean-filled gaps the same hours are estimates: only the hours with rows are scored
    est = DatasetGroup(target=log, frequency="H", fill={"target": {"middlefill": "mean", "backfill": "mean"}})
    ap2 = AutoPredictor(forecast_horizon=24, algorithms=["SeasonalNaive"], backtest_windows=2, item_selection=False)
    ap2.train(est, progress=False)
    lb2 = ap2.leaderboard_
    cut = [pd.Timestamp(c) for c in lb2.loc[lb2["algorithm"] == "SeasonalNaive", "window_start"]]
    rows_in = [int(((log["timestamp"] >= c) & (log["timestamp"] < c + pd.Timedelta(hours=24))).sum()) for c in cut]
    assert lb2.loc[lb2["algorithm"] == "SeasonalNaive", "n_observed"].tolist() == rows_in


def test_models_learn_the_zeros_of_sparse_counts():
    """GBM learnt only from the hours with rows, so it forecast night hours near the daytime counts."""
    log, full = _sparse_log(days=20)
    dg = DatasetGroup(target=log, frequency="H")
    est = make_estimator("GBM", 24, frequency="H", num_trees=40, calibration_windows=1)
    fc = est.train(dg.to_panel()).predict(dg.to_panel())
    night = fc["timestamp"].dt.hour.isin([0, 1, 2, 3, 4, 22, 23])
    assert fc.loc[night, "p50"].abs().max() < 0.5
    assert fc.loc[~night, "p50"].mean() > 2


def test_backtest_error_is_close_to_the_next_days_error():
    """The backtest must predict the error on the next, unseen day of sparse counts (it flattered
    them about 4x when the zero-filled hours were left out; bench/real_files.py)."""
    log, full = _sparse_log(n_items=6, days=16, seed=3)
    end = full["timestamp"].max() - pd.Timedelta(hours=24)
    dg = DatasetGroup(target=log[log["timestamp"] <= end], frequency="H")
    ap = AutoPredictor(forecast_horizon=24, algorithms=["SeasonalNaive", "GBM"], backtest_windows=2,
                       algorithm_params={"GBM": {"num_trees": 40, "calibration_windows": 1}}).train(dg, progress=False)
    lb = ap.leaderboard().set_index("algorithm")
    backtest = lb.loc["AutoPredictor", "AverageWeightedQuantileLoss"]
    fc = ap.forecast().frame.merge(full, on=["item_id", "timestamp"])
    from fc_core.metrics import average_wql

    nxt = average_wql(fc["target_value"].to_numpy(), fc[["p10", "p50", "p90"]].to_numpy(), [0.1, 0.5, 0.9])
    assert 0.67 < nxt / backtest < 1.5, (backtest, nxt)
