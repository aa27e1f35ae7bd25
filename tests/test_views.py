"""fc_core.views: item search, history slices, window plans, forecast slices, leaderboards."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import make_seasonal_frame
from fc_core.backtest import panel_windows
from fc_core.datasets import DatasetGroup
from fc_core.errors import ConfigError, SchemaError
from fc_core.views import (ALL_ITEMS, ForecastView, HistoryView, ItemIndex, apply_column_mapping, band_choices,
                           guess_column_mapping, item_labels, metric_columns, plan_windows, progress_text,
                           quantile_columns, rank_leaderboard, search_message, step_name, training_steps)


@pytest.fixture(scope="module")
def many_items():
    ids = [f"client_{i}" for i in range(3000)] + ["shop_1", "CLIENT_X"]
    return ItemIndex(pd.DataFrame({"item_id": ids}))


def test_search_orders_exact_then_prefix_then_natural_and_caps(many_items):
    shown, total = many_items.search("client_12")
    assert shown[0] == "client_12"
    assert shown[1:4] == ["client_120", "client_121", "client_122"]
    assert total == 1 + 10 + 100  # client_12, client_12x, client_12xx
    shown, total = many_items.search("", limit=200)
    assert len(shown) == 200 and total == 3002 and shown[:3] == ["client_0", "client_1", "client_2"]
    assert many_items.search("client_x")[0] == ["CLIENT_X"]           # case-insensitive
    assert many_items.search("nothing here") == ([], 0)
    assert search_message(200, 1111, 3002) == "showing 200 of 1,111 matches (3,002 items)"


def test_item_index_rows_and_keys_with_dimensions():
    df = pd.DataFrame({"item_id": ["a", "a", "b", "a"], "store": ["s1", "s2", "s1", "s1"], "v": [1, 2, 3, 4]})
    idx = ItemIndex(df, ["item_id", "store"])
    assert idx.labels == ["a (store=s1)", "a (store=s2)", "b (store=s1)"]
    assert df.iloc[idx.rows("a (store=s1)")]["v"].tolist() == [1, 4]
    assert idx.key("b (store=s1)") == {"item_id": "b", "store": "s1"}
    with pytest.raises(ConfigError, match="no item 'zz'"):
        idx.rows("zz")
    assert item_labels(pd.DataFrame({"item_id": [1]})) == ["1"]


def test_history_view_item_and_total_match_pandas():
    df = make_seasonal_frame(n_items=3, length=48)
    df = df[~((df["item_id"] == "item_2") & (df["timestamp"] < "2024-01-01 10:00"))]  # a later start
    dg = DatasetGroup(target=df, frequency="H")
    hv = HistoryView(dg)
    s = hv.series("item_2")
    want = df[df["item_id"] == "item_2"].set_index("timestamp")["target_value"]
    np.testing.assert_allclose(s.to_numpy(), want.to_numpy())
    assert (s.index == want.index).all()
    total = hv.series(ALL_ITEMS)
    expect = df.groupby("timestamp")["target_value"].sum()
    np.testing.assert_allclose(total.to_numpy(), expect.to_numpy())
    f = hv.frame("item_1", before="2024-01-01 05:00")
    assert f.columns.tolist() == ["item_id", "timestamp", "target_value"] and len(f) == 5
    assert set(f["item_id"]) == {"item_1"}
    # a plain frame gives the same answers
    hv2 = HistoryView(df)
    np.testing.assert_allclose(hv2.series("item_2").to_numpy(), want.to_numpy())
    np.testing.assert_allclose(hv2.total().to_numpy(), expect.to_numpy())


def test_plan_windows_reports_the_config_error_text_and_left_out_items():
    df = make_seasonal_frame(n_items=3, length=24 * 6)
    late = df["item_id"] == "item_2"
    df = df[~late | (df["timestamp"] >= df["timestamp"].max() - pd.Timedelta(hours=30))]  # short newcomer
    panel = DatasetGroup(target=df, frequency="H").to_panel()
    plan = plan_windows(panel, 24, 2)
    assert plan.ok and len(plan.windows) == 2
    assert plan.windows == panel_windows(panel, 24, 2)
    assert "scores 3 of 3 items." in plan.messages[0]
    assert "scores 2 of 3 items; leaves out 1: item_2 (starts after cutoff)" in plan.messages[1]
    bad = plan_windows(panel, 24, 5, 48)
    with pytest.raises(ConfigError) as exc:
        panel_windows(panel, 24, 5, 48)
    assert bad.error == str(exc.value) and "need more than" in bad.error and not bad.ok and bad.windows == []
    too_long = plan_windows(panel, 60, 1)
    assert "forecast_horizon=60 is too long" in too_long.error and "maximum is 48" in too_long.error
    assert plan_windows(panel, 24, 1, 24).config == {"forecast_horizon": 24, "backtest_windows": 1, "backtest_offset": 24}


def test_band_choices_and_quantile_columns():
    cols = ["item_id", "timestamp", "p2.5", "p10", "p50", "p90", "p97.5", "mean"]
    assert quantile_columns(cols) == ["p2.5", "p10", "p50", "p90", "p97.5"]
    b = band_choices(cols)
    assert b[:2] == [("p2.5", "p97.5"), ("p10", "p90")]
    assert len(b) == 10 and ("p10", "p50") in b


def _backtest_frame():
    ts = pd.date_range("2024-01-02", periods=3, freq="h")
    rows = []
    for w in (0, 1):
        for algo in ("AutoPredictor", "Naive"):
            for item in ("a", "b"):
                base = 10 * w + (5 if algo == "Naive" else 0) + (100 if item == "b" else 0)
                rows.append(pd.DataFrame({
                    "item_id": item, "timestamp": ts - pd.Timedelta(hours=3 * w), "target_value": base + np.arange(3.0),
                    "p10": base - 1.0, "p50": base + 0.0, "p90": base + 1.0, "mean": base + 0.5,
                    "observed": [True, False, True], "algorithm": algo, "backtest_window": w,
                    "backtestwindow_start_time": ts[0] - pd.Timedelta(hours=3 * w),
                    "backtestwindow_end_time": ts[-1] - pd.Timedelta(hours=3 * w)}))
    return pd.concat(rows, ignore_index=True)


def test_forecast_view_backtest_slices_actuals_and_export():
    v = ForecastView(_backtest_frame())
    assert v.is_backtest and v.windows == [0, 1] and v.algorithms == ["AutoPredictor", "Naive"]
    assert v.forecast_types == ["p10", "p50", "p90", "mean"] and v.actual_column == "target_value"
    rows = v.item("b", window=1, algorithm="Naive")
    assert rows["p50"].tolist() == [115.0] * 3
    act = v.actuals(rows)
    assert act.tolist() == [115.0, 117.0]          # the unobserved point is not drawn
    ex = v.export_frame(rows)
    assert ex.columns.tolist() == ["item_id", "date", "target_value", "p10", "p50", "p90", "mean",
                                   "backtestwindow_start_time", "backtestwindow_end_time"]
    assert ex["date"].iloc[0] == "2024-01-01T21:00:00Z"
    assert v.table(rows).columns.tolist() == ["timestamp", "target_value", "p10", "p50", "p90", "mean"]
    with pytest.raises(ConfigError, match="no backtest window 7"):
        v.item("a", window=7)
    with pytest.raises(ConfigError, match="no algorithm 'ETS'"):
        v.item("a", algorithm="ETS")


def test_forecast_view_plain_forecast():
    f = pd.DataFrame({"item_id": ["x", "x"], "timestamp": pd.date_range("2024-01-01", periods=2, freq="D"),
                      "p10": [1.0, 2.0], "p90": [3.0, 4.0]})
    v = ForecastView(f)
    assert not v.is_backtest and v.actual_column is None and v.actuals(v.item("x")) is None
    assert v.bands == [("p10", "p90")]
    with pytest.raises(SchemaError, match="no forecast columns"):
        ForecastView(f[["item_id", "timestamp"]])


def test_rank_leaderboard_marks_best_and_filters_windows():
    board = pd.DataFrame({"algorithm": ["A", "B", "C", "A", "B", "C"], "backtest_window": [0, 0, 0, 1, 1, 1],
                          "WAPE": [0.3, 0.2, np.nan, 0.1, 0.4, 0.5], "RMSE": [1.0, 2.0, 3.0, 1.0, 1.0, 9.0],
                          "n_items": [5] * 6})
    assert metric_columns(board) == ["WAPE", "RMSE"]
    r = rank_leaderboard(board, "WAPE", window=0)
    assert r["algorithm"].tolist() == ["B", "A", "C"] and r["best"].tolist() == [True, False, False]
    r = rank_leaderboard(board, "RMSE", window=1)
    assert r.loc[r["best"], "algorithm"].tolist() == ["A", "B"]   # a tie marks both
    with pytest.raises(ConfigError, match="no metric 'MASE'"):
        rank_leaderboard(board, "MASE")
    with pytest.raises(ConfigError, match="no backtest window 3"):
        rank_leaderboard(board, "WAPE", window=3)


def test_column_mapping_guess_and_errors():
    cols = ["Date", "sku", "units", "price"]
    m = guess_column_mapping(cols, ["item_id", "timestamp", "demand"])
    assert m == {"item_id": "sku", "timestamp": "Date", "demand": None}
    df = pd.DataFrame({"Date": ["2024-01-01"], "sku": ["a"], "units": [3], "price": [1.0]})
    out = apply_column_mapping(df, {**m, "demand": "units"})
    assert out.columns.tolist() == ["timestamp", "item_id", "demand", "price"]
    with pytest.raises(SchemaError, match=r"choose a column for field\(s\) \['demand'\]"):
        apply_column_mapping(df, m)
    with pytest.raises(SchemaError, match="mapped to more than one field"):
        apply_column_mapping(df, {"item_id": "sku", "timestamp": "Date", "demand": "sku"})
    with pytest.raises(SchemaError, match=r"has no column\(s\) \['qty'\]"):
        apply_column_mapping(df, {"item_id": "sku", "timestamp": "Date", "demand": "qty"})


def test_progress_and_step_names():
    assert training_steps(2, 3) == 9
    assert progress_text({"stage": "train", "algorithm": "ETS", "window": None, "elapsed": 1.0}, 2) == \
        "final training on all the data: ETS (1.0 s elapsed)"
    assert step_name("D") == "day" and step_name("W") == "week"
