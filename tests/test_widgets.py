"""fc_widgets panels driven without a browser: set control values, click buttons, check the results."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from fc_core import demo  # noqa: E402
from fc_core.automl import AutoPredictor  # noqa: E402
from fc_core.backtest import panel_windows  # noqa: E402
from fc_core.errors import ConfigError  # noqa: E402
from fc_widgets import BacktestPanel, DatasetPanel, LeaderboardPanel, QuantilePanel, TrainingPanel  # noqa: E402
from fc_widgets._common import ItemPicker  # noqa: E402
from fc_core.views import ALL_ITEMS, ItemIndex  # noqa: E402

FAST = ["SeasonalNaive", "Naive"]


@pytest.fixture(scope="module")
def dg():
    return demo.electricity(n_items=6, days=14, seed=1)


@pytest.fixture(scope="module")
def predictor(dg):
    return AutoPredictor(24, backtest_windows=2, algorithms=FAST).train(dg, progress=False)


def _legend(fig):
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def _png_shown(out):
    return len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"][:8] == "iVBORw0K"  # PNG magic, base64


# ------------------------------------------------------------------ picker
def test_item_picker_caps_matches_and_follows_the_search():
    idx = ItemIndex(pd.DataFrame({"item_id": [f"client_{i}" for i in range(1000)]}))
    p = ItemPicker(idx, limit=50)
    assert len(p.dropdown.options) == 50 and p.value == "client_0"
    assert p.count.value == "showing 50 of 1,000 matches (1,000 items)"
    p.search.value = "client_1"
    assert p.count.value == "showing 50 of 111 matches (1,000 items)" and p.value == "client_1"
    p.search.value = "client_12"
    assert p.dropdown.options[:2] == ("client_12", "client_120") and p.value == "client_12"
    assert p.count.value == "11 of 1,000 items"
    p.dropdown.value = "client_120"
    assert p.value == "client_120"
    p.search.value = "client_120"   # still listed: the choice stays
    assert p.value == "client_120"
    p.search.value = "zzz"
    assert p.value is None and p.count.value == "no item matches (of 1,000)"
    p.select("client_999")
    assert p.value == "client_999" and p.search.value == "client_999"


# ----------------------------------------------------------------- dataset
def test_dataset_panel_demo_import_summary_and_item_preview():
    panel = DatasetPanel(demo_items=4, demo_length=7)
    dg = panel.dataset_group
    assert len(dg.items) == 4 and dg.frequency == "H" and len(dg.target) == 4 * 7 * 24
    assert "4 items, 672 rows, frequency H" in panel.status.value
    assert ">items</td>" in panel.summary_html.value and ">672</td>" in panel.summary_html.value
    assert panel.items.value == ("client_0", "client_1", "client_2") and _png_shown(panel.chart)
    assert "Figure: Dataset group: client_0, client_1, client_2" in panel.caption.value
    panel.item_search.value = "client_3"
    panel.items.value = ("client_3",)
    line = panel.figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), dg.target.loc[dg.target["item_id"] == "client_3", "target_value"])
    assert _legend(panel.figure) == ["client_3"]
    # aggregation to days from the Import button
    panel.aggregate_to.value = "D"
    panel.import_button.click()
    assert panel.dataset_group.frequency == "D" and len(panel.dataset_group.target) == 4 * 7
    assert panel.summary.overall["frequency"] == "D"


def test_dataset_panel_file_mapping_import_and_inline_errors(tmp_path):
    p = tmp_path / "load.csv"
    rows = [f"c{i % 2},2024-01-01 {i // 2:02d}:00:00,{i}.0" for i in range(12)]
    p.write_text("client,Date,kW\n" + "\n".join(rows) + "\n")
    panel = DatasetPanel(path=str(p), source="file")
    assert panel.dataset_group is None and panel.header.value is True
    assert "first rows of the file" in panel.preview_html.value and "c1" in panel.preview_html.value
    assert panel.column_mapping == {"item_id": "client", "timestamp": "Date", "target_value": None}
    panel.import_button.click()                      # target not mapped: the SchemaError is shown
    assert "choose a column for field(s) ['target_value']" in panel.error_text
    assert "SchemaError" in panel.errors.value and panel.dataset_group is None
    panel.mapping["target_value"].value = "kW"
    panel.import_button.click()
    assert panel.error_text == "" and len(panel.dataset_group.items) == 2
    assert panel.dataset_group.target.loc[panel.dataset_group.target["item_id"] == "c1", "target_value"].tolist() == \
        [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
    # a bad value: fc_core's DataError with the file's offending line, the previous group kept
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,timestamp,target_value\na,2024-01-01 00:00:00,1\na,2024-01-01 01:00:00,oops\n")
    panel.path.value = str(bad)
    assert panel.column_mapping == {"item_id": "item_id", "timestamp": "timestamp", "target_value": "target_value"}
    panel.import_button.click()
    assert "line 3" in panel.error_text and "'oops'" in panel.error_text
    assert "a,2024-01-01 01:00:00,oops" in panel.errors.value          # the offending row itself
    assert "import failed" in panel.status.value and len(panel.dataset_group.items) == 2


def test_dataset_panel_headerless_file_uses_a_schema(tmp_path):
    p = tmp_path / "nohead.csv"
    p.write_text("2024-01-01,a,1\n2024-01-02,a,2\n2024-01-03,a,3\n")
    panel = DatasetPanel(path=str(p), source="file")
    assert panel.header.value is False and list(panel.preview.columns) == ["column_1", "column_2", "column_3"]
    panel.mapping["item_id"].value = "column_2"
    panel.mapping["timestamp"].value = "column_1"
    panel.mapping["target_value"].value = "column_3"
    panel.import_button.click()
    assert panel.error_text == "" and panel.dataset_group.frequency == "D"
    assert panel.dataset_group.target["target_value"].tolist() == [1.0, 2.0, 3.0]


def test_dataset_panel_guesses_the_columns_of_a_headerless_file(tmp_path):
    p = tmp_path / "nohead.csv"
    p.write_text("2024-01-01,a,1\n2024-01-02,a,2\n2024-01-03,a,3.5\n")
    panel = DatasetPanel(path=str(p), source="file")
    assert panel.header.value is False
    assert panel.column_mapping == {"item_id": "column_2", "timestamp": "column_1", "target_value": "column_3"}
    panel.import_button.click()
    assert panel.error_text == "" and panel.dataset_group.target["target_value"].tolist() == [1.0, 2.0, 3.5]


def test_dataset_panel_errors_sit_by_their_control_and_stale_statuses_go(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("item_id,timestamp,target_value\na,2024-01-01 00:00:00,1\na,2024-01-01 01:00:00,2\n")
    panel = DatasetPanel(path=str(good), source="file")
    panel.import_button.click()
    assert "imported target" in panel.status.value and "#2ca02c" in panel.status.value   # green
    assert "import summary" in panel.summary_html.value
    panel.path.value = str(tmp_path / "missing.csv")            # a path that is not there
    path_box = panel.error_area("path")
    assert "missing.csv" in path_box.value and panel.errors.value == ""   # beside the path box
    assert path_box in panel.file_box.children
    assert panel.summary_html.value == "" and "#2ca02c" not in panel.status.value   # stale: gone
    assert "press Import" in panel.status.value and "previous import: 1 items" in panel.status.value
    panel.path.value = str(good)                                   # fixed: the path error goes
    assert path_box.value == "" and panel.error_text == ""
    # import errors sit right under the Import button
    kids = list(panel.children)
    button_row = next(k for k in kids if getattr(k, "children", None) and panel.import_button in k.children)
    assert kids.index(panel.errors) == kids.index(button_row) + 1


# ---------------------------------------------------------------- backtest
def test_backtest_panel_config_windows_and_messages(dg):
    panel = BacktestPanel(dg)
    assert panel.config == {"forecast_horizon": 24, "backtest_windows": 1, "backtest_offset": None}
    panel.windows.value = 3
    assert panel.config["backtest_windows"] == 3
    assert panel.plan.windows == panel_windows(dg.to_panel(), 24, 3)
    assert "backtest window 3: train to" in panel.messages.value and "scores 6 of 6 items" in panel.messages.value
    spans = [p for p in panel.figure.axes[0].patches]
    assert len(spans) == 3 and "backtest window 3" in _legend(panel.figure)
    # the sum over all items is drawn by default; one item on request
    y = panel.figure.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(y, dg.target.groupby("timestamp")["target_value"].sum().to_numpy())
    panel.item.select("client_4")
    y = panel.figure.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(y, dg.target.loc[dg.target["item_id"] == "client_4", "target_value"].to_numpy())
    assert panel.figure.axes[0].get_title() == "Backtest windows over item client_4"
    # the horizon slider stops at the longest horizon the data allow (a third of 336 hours)
    panel.horizon.value = 150
    assert panel.horizon.max == 112 and panel.config["forecast_horizon"] == 112
    # 3 windows of 112 hours do not fit: the ConfigError of fc_core.backtest, live
    with pytest.raises(ConfigError) as exc:
        AutoPredictor(**panel.config, algorithms=FAST).train(dg, progress=False)
    assert panel.plan.error == str(exc.value) and str(exc.value) in panel.messages.value.replace("&#x27;", "'")
    assert _png_shown(panel.chart)
    panel.horizon.value = 24
    panel.offset.value = 200
    assert "backtest_offset=200 must be less than half" in panel.plan.error
    panel.offset.value = 48
    assert panel.plan.ok and panel.config["backtest_offset"] == 48
    assert panel.plan.windows[0].cutoff == dg.end_timestamp - pd.Timedelta(hours=48)


def test_backtest_panel_names_the_items_a_window_leaves_out():
    df = demo.electricity(n_items=3, days=10).target
    late = (df["item_id"] == "client_2") & (df["timestamp"] < df["timestamp"].max() - pd.Timedelta(hours=36))
    from fc_core.datasets import DatasetGroup

    dg = DatasetGroup(target=df[~late].drop(columns="_filled", errors="ignore"), frequency="H")
    panel = BacktestPanel(dg, backtest_windows=2)
    assert "scores 3 of 3 items." in panel.plan.messages[0]
    assert "leaves out 1: client_2 (starts after cutoff)" in panel.plan.messages[1]
    assert "leaves out 1: client_2" in panel.messages.value
    assert panel.item.dropdown.options[0] == ALL_ITEMS


# ---------------------------------------------------------------- training
def test_training_panel_run_progress_and_errors(dg):
    board = LeaderboardPanel()
    assert "no predictor yet" in board.summary.value
    panel = TrainingPanel(dg, config={"forecast_horizon": 24, "backtest_windows": 2, "backtest_offset": None},
                          algorithms=FAST)
    panel.on_trained(board.set_predictor)
    assert panel.stop_button.disabled
    panel.run_button.click()  # trains in a background thread
    assert panel.wait(120) is not None and not panel.thread.is_alive()
    p = panel.predictor
    assert p is not None and p.trained and p.algorithms == FAST and p.backtest_windows == 2
    stages = [(e["stage"], e["algorithm"], e["window"]) for e in panel.events]
    assert stages[:4] == [("backtest", "SeasonalNaive", 0), ("backtest", "Naive", 0),
                          ("backtest", "SeasonalNaive", 1), ("backtest", "Naive", 1)]
    assert stages[-1] == ("done", None, None) and all(e["elapsed"] >= 0 for e in panel.events)
    assert panel.progress.value == panel.progress.max == 6 and panel.progress.bar_style == "success"
    assert "run 1 done in" in panel.status.value
    assert board.predictor is p and board.best == p.leaderboard().iloc[0]["algorithm"]   # linked panel
    from fc_core.views import blend_summary

    lines = blend_summary(p.weights_, p.ensemble_check_, p.item_choice_, board.board, p.optimization_metric)
    assert all(html.escape(line) in board.summary.value for line in lines)
    assert "no blend" not in board.summary.value and lines[0] in html.unescape(panel.status.value)
    # errors inline, the last good predictor kept
    assert panel.stop_button.disabled and not panel.run_button.disabled
    panel.horizon.value = 500                       # bounded by the data: a third of 336 hours
    assert panel.horizon.value == panel.horizon.max == 112
    panel.horizon.value = 24
    panel.offset.value = 200
    panel.run_button.click()
    panel.wait(120)
    assert "backtest_offset=200 must be less than half" in panel.error_text and panel.predictor is p
    assert panel.progress.bar_style == "danger" and not panel.run_button.disabled
    assert "backtest_offset=200" in panel.errors.value and "the error is shown above" in panel.status.value
    panel.offset.value = 0
    panel.algorithms.value = ()
    panel.run_button.click()
    panel.wait(120)
    assert "choose at least one algorithm" in panel.error_text
    assert not panel.run_button.disabled and panel.stop_button.disabled  # the panel can train again
    panel.stop()  # idle: nothing to stop, and the next run is not stopped by it
    panel.algorithms.value = tuple(FAST)
    assert panel.run() is not None and panel.runs == 2


def test_training_panel_stop_ends_the_run_after_the_current_step_and_keeps_the_last_predictor(dg):
    import threading

    panel = TrainingPanel(dg, config={"forecast_horizon": 24, "backtest_windows": 2, "backtest_offset": None},
                          algorithms=FAST)
    first = panel.run()  # synchronous, as from a script
    assert first is not None and panel.runs == 1
    # the second run is stopped from another thread once its second step has started
    started = threading.Event()
    real = panel._on_event

    def slow(event):
        real(event)
        if len(panel.events) == 2:
            started.set()
            panel._stop.wait(10)  # hold the step until Stop is pressed

    panel._on_event = slow
    panel.horizon.value = 12
    panel.run_button.click()
    assert started.wait(60)
    assert not panel.stop_button.disabled and panel.run_button.disabled
    panel.stop_button.click()
    panel.wait(60)
    assert panel.predictor is first and panel.runs == 1  # nothing of the stopped run is kept
    assert panel.progress.bar_style == "warning" and "stopped after 2 of 6 steps" in panel.status.value
    assert "kept" in panel.status.value and panel.error_text == ""
    assert panel.stop_button.disabled and not panel.run_button.disabled


# ------------------------------------------------------------- leaderboard
def test_leaderboard_panel_ranks_marks_best_and_per_window(predictor):
    panel = LeaderboardPanel(predictor)
    lb = predictor.leaderboard()
    metric = predictor.optimization_metric
    assert panel.metric.value == metric
    assert panel.best == lb.loc[lb[metric].idxmin(), "algorithm"]
    assert panel.board["best"].iloc[0] and panel.board["algorithm"].iloc[0] == panel.best
    assert "\u2605" in panel.table.value and f"best by {metric} (mean over all backtest windows): {panel.best}" \
        in panel.summary.value
    bars = {t.get_text(): p.get_width() for t, p in zip(panel.figure.axes[0].get_yticklabels(),
                                                        panel.figure.axes[0].patches)}
    assert bars == pytest.approx(dict(zip(lb["algorithm"], lb[metric])))
    panel.metric.value = "RMSE"
    assert panel.best == lb.loc[lb["RMSE"].idxmin(), "algorithm"]
    assert panel.figure.axes[0].get_xlabel() == "RMSE (lower is better)"
    panel.window.value = 1
    per = predictor.leaderboard(per_window=True)
    w1 = per[per["backtest_window"] == 1]
    assert panel.best == w1.loc[w1["RMSE"].idxmin(), "algorithm"] and set(panel.board["backtest_window"]) == {1}
    assert "backtest window 2" in panel.figure.axes[0].get_title()


# ----------------------------------------------------------------- quantile
def test_quantile_panel_item_search_band_table_and_export(predictor, dg, tmp_path):
    fc = predictor.forecast()
    panel = QuantilePanel(fc, history=dg, export_path=str(tmp_path / "shown.csv"))
    assert panel.item.value == "client_0" and panel.band.value == ("p10", "p90")
    panel.item.search.value = "client_5"
    assert panel.item.dropdown.options == ("client_5",) and panel.item.value == "client_5"
    ax = panel.figure.axes[0]
    assert ax.get_title() == "Forecast of client_5" and ax.get_ylabel() == "target_value of client_5"
    assert _legend(panel.figure) == ["history", "p10 to p90", "p50 (median)", "mean"]
    want = fc.query(item_id="client_5")
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(want["p10"].min()) and band.max() == pytest.approx(want["p90"].max())
    hist = ax.get_lines()[0]
    assert hist.get_xdata()[-1] < want["timestamp"].min()  # history before the forecast
    panel.band.value = ("p10", "p50")
    assert "p10 to p50" in _legend(panel.figure)
    band = panel.figure.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() == pytest.approx(want["p50"].max())
    assert f"{want['p90'].iloc[0]:.4g}" in panel.table.value
    # export what is shown
    path = panel.export_button.click() or panel.export_path.value
    got = pd.read_csv(path)
    assert got.columns.tolist() == ["item_id", "date", "p10", "p50", "p90", "mean"]
    assert set(got["item_id"]) == {"client_5"} and len(got) == 24
    np.testing.assert_allclose(got["p50"], want["p50"])
    assert got["date"].iloc[0] == want["timestamp"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "wrote 24 rows of client_5" in panel.export_status.value
    panel.export_path.value = ""
    panel.export_button.click()
    assert "type a file path" in panel.error_text
    panel.item.search.value = "no such item"
    assert "no item matches 'no such item'" in panel.error_text


def test_quantile_panel_backtests_window_selector_and_actuals(predictor, dg, tmp_path):
    bf = predictor.backtest_forecasts(None)
    panel = QuantilePanel(bf, history=dg)
    assert panel.window.options == (("window 1", 0), ("window 2", 1))
    assert panel.window.layout.display is None and panel.algorithm.options == ("AutoPredictor", "SeasonalNaive", "Naive")
    panel.item.select("client_2")
    panel.window.value = 1
    rows = bf[(bf["item_id"] == "client_2") & (bf["backtest_window"] == 1) & (bf["algorithm"] == "AutoPredictor")]
    lines = {ln.get_label(): ln for ln in panel.figure.axes[0].get_lines()}
    np.testing.assert_allclose(lines["actual"].get_ydata(), rows["target_value"])
    np.testing.assert_allclose(lines["p50 (median)"].get_ydata(), rows["p50"])
    assert pd.Timestamp(lines["history"].get_xdata()[-1]) < rows["timestamp"].min()
    assert panel.figure.axes[0].get_title() == "Backtest window 2 of client_2 (AutoPredictor)"
    panel.algorithm.value = "Naive"
    naive = bf[(bf["item_id"] == "client_2") & (bf["backtest_window"] == 1) & (bf["algorithm"] == "Naive")]
    np.testing.assert_allclose(panel.rows["p50"], naive["p50"])
    out = panel.export(str(tmp_path / "bt.csv"))
    got = pd.read_csv(out)
    assert "target_value" in got.columns and "backtestwindow_start_time" in got.columns
    np.testing.assert_allclose(got["target_value"], naive["target_value"])


def test_errors_in_callbacks_are_shown_not_swallowed(predictor, dg, monkeypatch):
    panel = QuantilePanel(predictor.forecast(), history=dg)
    import fc_widgets.quantile as q

    def boom(*a, **k):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(q.plotting, "plot_forecast", boom)
    panel.band.value = panel.band.options[-1][1]
    assert isinstance(panel.last_error, RuntimeError)
    assert "RuntimeError" in panel.errors.value and "traceback" in panel.errors.value
    monkeypatch.undo()
    panel.band.value = panel.band.options[0][1]
    assert panel.last_error is None and panel.errors.value == ""


def test_dataset_panel_imports_related_and_item_metadata_files(tmp_path):
    paths = demo.write_files("retail", tmp_path, n_items=8, periods=24)
    panel = DatasetPanel(path=paths["target"], source="file", domain="RETAIL", frequency="M")
    assert panel.column_mapping == {"item_id": "item_id", "timestamp": "timestamp", "demand": "demand"}
    panel.import_button.click()
    assert panel.dataset_group.related is None
    panel.dataset_type.value = "RELATED_TIME_SERIES"
    panel.path.value = paths["related"]
    assert panel.column_mapping == {"item_id": "item_id", "timestamp": "timestamp"}
    panel.import_button.click()
    panel.dataset_type.value = "ITEM_METADATA"
    panel.path.value = paths["item_metadata"]
    assert panel.header.value is True and panel.column_mapping == {"item_id": "item_id"}
    panel.import_button.click()
    dg = panel.dataset_group
    assert panel.error_text == "" and set(panel.sources) == {"target", "related", "item_metadata"}
    assert dg.related_columns == ["price", "promotion_applied"] and {"category", "brand"} <= set(dg.item_metadata.columns)
    assert len(dg.cold_start_items()) == 3 and panel.summary.overall["cold_start_items"] == 3


def test_panels_with_a_forecast_dimension():
    from fc_core.datasets import DatasetGroup

    df = demo.electricity(n_items=2, days=10).target[["item_id", "timestamp", "target_value"]]
    df = pd.concat([df.assign(store_id="s1"), df.assign(store_id="s2", target_value=df["target_value"] + 100)])
    dg = DatasetGroup(target=df, frequency="H", forecast_dimensions=["store_id"])
    bt = BacktestPanel(dg)
    bt.item.select("client_1 (store_id=s2)")
    y = bt.figure.axes[0].get_lines()[0].get_ydata()
    want = df[(df["item_id"] == "client_1") & (df["store_id"] == "s2")]["target_value"].to_numpy()
    np.testing.assert_allclose(y, want)
    p = AutoPredictor(24, algorithms=FAST, forecast_dimensions=["store_id"]).train(dg, progress=False)
    q = QuantilePanel(p.forecast(), history=dg)
    q.item.select("client_1 (store_id=s2)")
    assert q.error_text == "" and set(q.rows["store_id"]) == {"s2"} and set(q.rows["item_id"]) == {"client_1"}
    np.testing.assert_allclose(q.figure.axes[0].get_lines()[0].get_ydata(), want[-96:])


# ------------------------------------------------------------ linked state
def test_linked_panels_share_data_horizon_windows_and_the_predictor(dg):
    from fc_widgets import link

    data = DatasetPanel(demo_items=3, demo_length=14)
    backtest = BacktestPanel(data.dataset_group, backtest_windows=2)
    training = TrainingPanel(data.dataset_group, algorithms=FAST)
    board = LeaderboardPanel()
    links = link(data, backtest, training, board)
    assert training.windows.value == 2                         # the training panel starts from the backtest's
    backtest.windows.value = 5
    assert training.windows.value == 5 and training.config["backtest_windows"] == 5
    training.horizon.value = 12                                # and back
    assert backtest.horizon.value == 12 and backtest.plan.config["forecast_horizon"] == 12
    backtest.windows.value = 2
    # a new import reaches both panels, with bounds from the new data (7 days: a third is 56 hours)
    data.demo_length.value = 7
    data.import_button.click()
    assert backtest.dataset_group is data.dataset_group and training.dataset_group is data.dataset_group
    assert backtest.horizon.max == training.horizon.max == 56
    assert backtest.plan.windows[0].end == data.dataset_group.end_timestamp
    # the trained predictor reaches the leaderboard
    pred = training.run()
    assert pred is not None and board.predictor is pred and pred.backtest_windows == 2
    assert "TrainingPanel -> LeaderboardPanel: predictor" in repr(links)


def test_backtest_panel_bounds_the_horizon_and_says_when_it_shortens_it(dg):
    panel = BacktestPanel(dg, forecast_horizon=200)
    assert panel.horizon.max == 112 and panel.config["forecast_horizon"] == 112
    assert "forecast horizon 200 shortened to 112" in panel.messages.value


# ------------------------------------------------- progress between steps, Ctrl-C
def test_training_panel_elapsed_time_moves_between_steps(dg):
    import threading

    panel = TrainingPanel(dg, config={"forecast_horizon": 24, "backtest_windows": 1}, algorithms=FAST)
    panel.tick_seconds = 3600  # the test drives the ticks itself
    seen = []
    started, release = threading.Event(), threading.Event()
    real = panel._on_event

    def held(event):
        real(event)
        if len(panel.events) == 1:
            started.set()
            release.wait(30)

    panel._on_event = held
    thread = threading.Thread(target=panel.run)
    thread.start()
    assert started.wait(60)
    t0 = panel._t0
    panel.tick(now=t0 + 5.0)
    seen.append(panel.status.value)
    panel.tick(now=t0 + 7.5)
    seen.append(panel.status.value)
    release.set()
    thread.join(60)
    assert "backtest window 1/1: SeasonalNaive (5.0 s elapsed)" in seen[0]
    assert "(7.5 s elapsed)" in seen[1]
    assert "run 1 done" in panel.status.value
    panel.tick(now=t0 + 99)                                     # after the run: the final text stays
    assert "run 1 done" in panel.status.value


def test_training_panel_ctrl_c_says_it_was_interrupted_and_frees_the_panel(dg):
    panel = TrainingPanel(dg, config={"forecast_horizon": 24, "backtest_windows": 2}, algorithms=FAST)
    real = panel._on_event

    def interrupt(event):
        real(event)
        if len(panel.events) == 2:
            raise KeyboardInterrupt

    panel._on_event = interrupt
    with pytest.raises(KeyboardInterrupt):
        panel.run()
    assert "interrupted (Ctrl-C" in panel.status.value and "after 2 of 6 steps" in panel.status.value
    assert panel.progress.bar_style == "warning" and panel.predictor is None
    assert not panel.run_button.disabled and panel.stop_button.disabled and not panel._running


# ------------------------------------------------------------------ export
def test_quantile_panel_bad_export_path_is_a_message_beside_the_box(predictor, dg, tmp_path):
    panel = QuantilePanel(predictor.forecast(), history=dg)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    panel.export(str(tmp_path / "ok.csv"))
    assert "wrote 24 rows" in panel.export_status.value
    panel.export_path.value = str(blocker / "out.csv")        # a folder that is a file
    panel.export_button.click()
    box = panel.error_area("export")
    assert "cannot write the CSV to" in box.value and "a_file/out.csv" in box.value
    assert "traceback" not in box.value and "ConfigError" in box.value
    assert panel.export_status.value == "" and panel.errors.value == ""   # the old "wrote" is gone
    kids = list(panel.children)
    assert kids.index(box) == kids.index(next(k for k in kids if getattr(k, "children", None)
                                              and panel.export_button in k.children)) + 1
    panel.export_path.value = str(tmp_path / "ok2.csv")
    panel.export_button.click()
    assert box.value == "" and "wrote 24 rows" in panel.export_status.value


def test_quantile_panel_follows_a_new_forecast(predictor, dg):
    panel = QuantilePanel(predictor.forecast(), history=dg, item="client_3")
    other = AutoPredictor(12, backtest_windows=1, algorithms=["Naive"]).train(dg, progress=False)
    panel.set_forecast(other.forecast())
    assert panel.item.value == "client_3" and len(panel.rows) == 12
