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
                           build_dataset_group, demo_sources, error_rows, preview_file, reader_options, summary_tables,
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


# ----------------------------------------------------------- dataset import
def test_preview_file_detects_header_and_reads_only_the_first_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("client,Date,kW\n" + "".join(f"c{i % 2},2024-01-01 {i:02d}:00:00,{i}.5\n" for i in range(20)))
    head, header = preview_file(str(p), nrows=4)
    assert header and head.columns.tolist() == ["client", "Date", "kW"] and len(head) == 4
    assert head.iloc[1].tolist() == ["c1", "2024-01-01 01:00:00", "1.5"]
    q = tmp_path / "noheader.csv"
    q.write_text("2024-01-01,a,1\n2024-01-02,a,2\n")
    head, header = preview_file(str(q))
    assert not header and head.columns.tolist() == ["column_1", "column_2", "column_3"] and len(head) == 2


def test_reader_options_and_build_dataset_group_from_a_mapped_file(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("2024-01-01 00:00:00,a,1\n2024-01-01 01:00:00,a,2\n2024-01-01 03:00:00,a,4\n"
                 "2024-01-01 00:00:00,b,5\n2024-01-01 01:00:00,b,6\n")
    head, header = preview_file(str(p))
    mapping = {"item_id": "column_2", "timestamp": "column_1", "target_value": "column_3"}
    opts = reader_options(head.columns, mapping, header, head)
    assert opts == {"header": False, "schema": "timestamp:timestamp,item_id:string,target_value:float"}
    dg = build_dataset_group({"target": {"path": str(p), **opts}}, frequency="H",
                             fill={"target": {"middlefill": "value", "middlefill_value": -1}})
    assert dg.target.loc[dg.target["item_id"] == "a", "target_value"].tolist() == [1.0, 2.0, -1.0, 4.0]
    s = dg.summary()
    assert s.overall["items"] == 2 and s.overall["missing"] == 1
    overall, worst = summary_tables(s)
    assert overall.set_index("statistic").loc["items", "value"] == "2" and worst.iloc[0]["item_id"] == "a"
    daily = build_dataset_group({"target": {"path": str(p), **opts}}, frequency="H", aggregate_to="D")
    assert daily.frequency == "D" and daily.target["target_value"].tolist() == [7.0, 11.0]
    with_header = reader_options(["Date", "sku", "y"], {"item_id": "sku", "timestamp": "Date", "target_value": "y"}, True)
    assert with_header == {"header": True, "column_map": {"Date": "timestamp", "sku": "item_id", "y": "target_value"}}


def test_error_rows_reads_back_the_lines_an_error_names(tmp_path):
    from fc_core.errors import DataError

    p = tmp_path / "bad.csv"
    p.write_text("item_id,timestamp,target_value\na,2024-01-01 00:00:00,1\na,2024-01-01 01:00:00,x\n")
    with pytest.raises(DataError) as exc:
        build_dataset_group({"target": {"path": str(p)}})
    rows = error_rows(exc.value)
    assert rows.to_dict("records") == [{"file": str(p), "line": 3, "text": "a,2024-01-01 01:00:00,x"}]
    assert error_rows(ValueError("no location")) is None


def test_demo_sources_give_the_demo_group():
    src, domain, freq = demo_sources("electricity", 3, 7)
    dg = build_dataset_group(src, domain, freq)
    assert (domain, dg.frequency, len(dg.items)) == ("CUSTOM", "H", 3) and len(dg.target) == 3 * 7 * 24
    with pytest.raises(ConfigError, match="unknown demo 'weather'"):
        demo_sources("weather", 3, 7)


def test_header_of_an_all_text_file_is_found_by_its_field_names():
    from fc_core.views import looks_like_header

    assert looks_like_header(pd.DataFrame([["item_id", "category"], ["a", "toys"], ["b", "home"]]))
    assert not looks_like_header(pd.DataFrame([["a", "toys"], ["b", "home"]]))
    assert not looks_like_header(pd.DataFrame([["item_id", "x"], ["item_id", "y"]]))  # a value, repeated


def test_envelope_keeps_peaks_and_troughs_of_a_long_series():
    from fc_core.views import envelope

    rng = np.random.default_rng(0)
    s = pd.Series(rng.normal(size=10_000), index=pd.date_range("2024-01-01", periods=10_000, freq="h"))
    s.iloc[1234], s.iloc[8765] = 50.0, -50.0
    e = envelope(s, 3000)
    assert len(e) <= 3000 and e.max() == 50.0 and e.min() == -50.0 and e.index.is_monotonic_increasing
    assert e.index[0] == s.index[0] and (e == s.loc[e.index]).all()
    assert envelope(s.iloc[:100], 3000) is not None and len(envelope(s.iloc[:100], 3000)) == 100


def test_coverage_is_ranked_by_its_distance_from_the_nominal_level():
    board = pd.DataFrame({"algorithm": ["Naive", "ETS", "GBM", "NPTS"],
                          "Coverage[0.8]": [0.602, 0.648, 0.95, 0.78], "WAPE": [0.3, 0.2, 0.25, 0.4]})
    r = rank_leaderboard(board, "Coverage[0.8]")
    assert r["algorithm"].tolist() == ["NPTS", "GBM", "ETS", "Naive"]  # |c - 0.8|: 0.02, 0.15, 0.152, 0.198
    assert r.loc[r["best"], "algorithm"].tolist() == ["NPTS"]
    assert rank_leaderboard(board, "WAPE")["algorithm"].tolist() == ["ETS", "GBM", "Naive", "NPTS"]
    from fc_core.plotting import plot_leaderboard

    fig = plot_leaderboard(board, "Coverage[0.8]")
    bars = fig.axes[0].patches
    green = [t.get_text() for t, b in zip(fig.axes[0].get_yticklabels(), bars) if b.get_facecolor()[1] > 0.5]
    assert green == ["NPTS"] and "closest to 0.8 is best" in fig.axes[0].get_xlabel()


def test_blend_summary_agrees_with_the_leaderboard():
    from fc_core.views import blend_summary

    board = pd.DataFrame({"algorithm": ["AutoPredictor", "GBM", "ETS"], "WAPE": [0.20, 0.22, 0.30]})
    choice = pd.DataFrame({"item_id": list("abcdefghij"), "algorithm": ["AutoPredictor"] * 7 + ["ETS"] * 2 + ["GBM+ETS"]})
    lines = blend_summary({"GBM": 1.0}, {"decision": "single"}, choice, board, "WAPE")
    text = "\n".join(lines)
    assert "no blend" not in text
    assert lines[0] == "AutoPredictor = GBM alone (global blend weight 1.00) for 7 of 10 items; " \
                       "a per-item choice for 3: ETS 2, GBM+ETS 1"
    assert "AutoPredictor scores 0.2000 by WAPE against 0.2200 for GBM" in lines[-1]
    # a real blend that loses to one candidate says so
    board2 = board.assign(WAPE=[0.25, 0.22, 0.30])
    lines = blend_summary({"GBM": 0.5, "ETS": 0.5}, {"decision": "blend"}, choice.assign(algorithm="AutoPredictor"),
                          board2, "WAPE")
    assert lines[0] == "AutoPredictor = a blend of GBM 0.50, ETS 0.50 for all 10 items"
    assert lines[-1].endswith("GBM alone scored better on these backtests")
