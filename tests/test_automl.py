"""AutoPredictor on toy estimators with known answers, and on the seasonal naive baseline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toy_estimators  # noqa: F401  (registers the toy algorithms)
from fc_core import AutoPredictor, DatasetGroup
from fc_core.errors import ConfigError, NotTrainedError


def _flat_group(n_items=4, length=60, level=10.0):
    rows = [pd.DataFrame({"item_id": f"i{i}", "timestamp": pd.date_range("2024-01-01", periods=length, freq="D"),
                          "target_value": level}) for i in range(n_items)]
    return DatasetGroup(domain="CUSTOM", frequency="D", target=pd.concat(rows, ignore_index=True))


def test_blend_of_two_opposite_biases_is_exact_and_beats_each():
    dg = _flat_group()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["BiasUp", "BiasDown"], backtest_windows=2)
    ap.train(dg, progress=False)
    assert ap.weights_ == pytest.approx({"BiasUp": 0.5, "BiasDown": 0.5})
    board = ap.leaderboard().set_index("algorithm")
    # each biased model is off by 1 on a level of 10: WAPE 0.1; the blend is exact
    assert board.loc["BiasUp", "WAPE"] == pytest.approx(0.1)
    assert board.loc["BiasDown", "WAPE"] == pytest.approx(0.1)
    assert board.loc["AutoPredictor", "WAPE"] == pytest.approx(0.0, abs=1e-12)
    assert board.index[0] == "AutoPredictor"
    # blends chosen without a window beat the best single candidate on it
    check = ap.ensemble_check_
    assert check["decision"] == "blend" and len(check["held_out"]) == 2
    assert all(r["blend"] < r["single"] for r in check["held_out"])
    fc = ap.forecast()
    assert fc.frame["mean"].to_numpy() == pytest.approx(10.0)
    assert list(fc.frame.columns) == ["item_id", "timestamp", "p10", "p50", "p90", "mean"]
    assert len(fc.frame) == 4 * 5


def test_the_right_model_wins_on_a_seasonal_series():
    t = np.arange(24 * 20)
    y = 50 + 20 * np.sin(2 * np.pi * t / 24)
    df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                       "target_value": y})
    ap = AutoPredictor(forecast_horizon=24, algorithms=["Naive", "SeasonalNaive"], backtest_windows=2)
    ap.train(DatasetGroup(target=df, frequency="H"), progress=False)
    assert ap.weights_ == {"SeasonalNaive": 1.0}
    lb = ap.leaderboard().set_index("algorithm")
    assert lb.loc["SeasonalNaive", "AverageWeightedQuantileLoss"] < 1e-9
    assert lb.loc["Naive", "AverageWeightedQuantileLoss"] > 0.1
    np.testing.assert_allclose(ap.forecast().frame["p50"].to_numpy(), y[-24:], atol=1e-9)


def test_per_item_choice_falls_back_to_the_best_single_model():
    # item a is flat at 1000 (BiasUp/Down equally wrong by 0.1%, the blend exact); items b and c rise by
    # 1 a day, so the mean of their last five values lags and BiasUp (+1) is better alone than the blend
    # (by several percent of their level: averaged over items, BiasUp alone wins)
    t = np.arange(60, dtype=float)
    df = pd.concat([
        pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-01", periods=60), "target_value": 1000.0}),
        pd.DataFrame({"item_id": "b", "timestamp": pd.date_range("2024-01-01", periods=60), "target_value": 10 + t}),
        pd.DataFrame({"item_id": "c", "timestamp": pd.date_range("2024-01-01", periods=60), "target_value": 20 + t}),
    ])
    ap = AutoPredictor(forecast_horizon=3, algorithms=["BiasUp", "BiasDown"])
    ap.train(DatasetGroup(target=df, frequency="D"), progress=False)
    choice = dict(zip(ap.item_choice_["item_id"], ap.item_choice_["algorithm"]))
    assert ap.weights_ == {"BiasUp": 1.0}  # on two of the three items BiasUp is best alone
    assert choice["a"] == "BiasDown & BiasUp"  # ... but item a's own best is the even blend, exact
    fc = ap.forecast().frame
    assert fc.loc[fc["item_id"] == "a", "mean"].to_numpy() == pytest.approx(1000.0)
    assert fc.loc[fc["item_id"] == "b", "mean"].to_numpy() == pytest.approx(np.mean(10 + t[-5:]) + 1)


def test_a_blend_that_does_not_carry_over_between_windows_is_dropped():
    """The older window is flat at 10: the even blend of BiasUp (+1) and BiasDown (-1) is exact there.
    In the recent one the series steps up to 10.8: BiasUp is off by 0.2, the blend by 0.8. On both
    windows together the blend looks best (0.8 in all against BiasUp's 1.2), but chosen on the older
    window it loses to BiasUp on the recent one, and chosen on the recent one there is no blend:
    BiasUp is used alone."""
    y = np.r_[np.full(46, 10.0), np.full(3, 10.8)]
    df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-01", periods=len(y)), "target_value": y})
    ap = AutoPredictor(forecast_horizon=3, algorithms=["BiasUp", "BiasDown"], backtest_windows=2,
                       item_selection=False)
    ap.train(DatasetGroup(target=df, frequency="D"), progress=False)
    check = ap.ensemble_check_
    assert check["blend_weights"] == pytest.approx({"BiasUp": 0.5, "BiasDown": 0.5})
    held = {r["held_out_window"]: r for r in check["held_out"]}  # window index 0 is the most recent
    assert held[0]["weights"] == pytest.approx({"BiasUp": 0.5, "BiasDown": 0.5})  # chosen on the older one
    assert held[0]["blend"] > held[0]["single"]  # ... loses to BiasUp on the recent one
    assert held[1]["weights"] == {"BiasUp": 1.0}
    assert check["decision"] == "single: BiasUp"
    assert ap.weights_ == {"BiasUp": 1.0}
    assert ap.forecast().frame["mean"].to_numpy() == pytest.approx(np.mean(y[-5:]) + 1)


def test_a_failing_candidate_is_reported_and_left_out():
    dg = _flat_group()
    with pytest.warns(UserWarning, match="Broken failed"):
        ap = AutoPredictor(forecast_horizon=5, algorithms=["Constant", "Broken"]).train(dg, progress=False)
    assert "Broken" in ap.failed_
    assert set(ap.weights_) == {"Constant"}


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError, match="optimization_metric"):
        AutoPredictor(forecast_horizon=5, optimization_metric="R2")
    with pytest.raises(ConfigError, match="unknown algorithm"):
        AutoPredictor(forecast_horizon=5, algorithms=["XGBoostPlus"])
    with pytest.raises(ConfigError, match="the maximum is 20"):
        AutoPredictor(forecast_horizon=21, algorithms=["Constant"]).train(_flat_group(), progress=False)
    with pytest.raises(NotTrainedError):
        AutoPredictor(forecast_horizon=5).forecast()


def test_save_load_round_trip_and_exports(tmp_path):
    dg = _flat_group()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["SeasonalNaive", "BiasUp", "BiasDown"],
                       forecast_types=["0.025", "0.5", "0.975", "mean"]).train(dg, progress=False)
    before = ap.forecast().frame
    assert list(before.columns) == ["item_id", "timestamp", "p2.5", "p50", "p97.5", "mean"]
    ap.save(tmp_path / "ap")
    again = AutoPredictor.load(tmp_path / "ap")
    pd.testing.assert_frame_equal(before, again.forecast().frame)
    paths = again.export_backtest(tmp_path / "out")
    bt = pd.read_csv(paths["backtest_forecasts"])
    assert {"item_id", "timestamp", "target_value", "p50", "backtestwindow_start_time", "algorithm"} <= set(bt.columns)
    acc = pd.read_csv(paths["accuracy_metrics"])
    assert {"item_id", "algorithm", "WAPE", "wQL[0.5]"} <= set(acc.columns)


def test_forecast_for_selected_items_and_query():
    dg = _flat_group()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["Constant"]).train(dg, progress=False)
    fc = ap.forecast(items=["i1", "i3"])
    assert sorted(fc.items["item_id"]) == ["i1", "i3"]
    q = fc.query(item_id="i1", start="2024-03-02")
    assert q["timestamp"].min() == pd.Timestamp("2024-03-02") and len(q) == 4


def test_cold_start_items_are_forecast_by_a_cold_start_capable_candidate():
    from fc_core import demo

    dg = demo.retail(n_items=10, periods=24, n_new=2, n_discontinued=0)
    cold = set(dg.cold_start_items()["item_id"])
    ap = AutoPredictor(forecast_horizon=6, algorithms=["SeasonalNaive", "GBM"],
                       algorithm_params={"GBM": {"num_trees": 30, "calibration_windows": 1}}).train(dg, progress=False)
    assert "GBM" in ap.predictors_
    f = ap.forecast().frame
    got = f[f["item_id"].isin(cold)]
    assert len(got) == 2 * 6
    # seasonal naive alone would forecast zero for an item with no history
    assert (got["mean"] > 1).all()


def test_switch_margin_is_chosen_on_each_window_held_out_in_turn():
    from fc_core.automl import SWITCH_MARGINS

    t = np.arange(80, dtype=float)
    df = pd.concat([
        pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-01", periods=80), "target_value": 10.0}),
        pd.DataFrame({"item_id": "b", "timestamp": pd.date_range("2024-01-01", periods=80), "target_value": 10 + t}),
    ])
    ap = AutoPredictor(forecast_horizon=3, algorithms=["BiasUp", "BiasDown"], backtest_windows=3)
    ap.train(DatasetGroup(target=df, frequency="D"), progress=False)
    assert set(ap.margin_losses_) == set(SWITCH_MARGINS)
    # item a's own choice (the even blend) is exact in every window, so switching must win on the latest
    assert ap.margin_losses_[0.0] < ap.margin_losses_[float("inf")]
    assert ap.item_switch_margin_ < float("inf")
    fixed = AutoPredictor(forecast_horizon=3, algorithms=["BiasUp", "BiasDown"], backtest_windows=3,
                          item_switch_margin=float("inf")).train(DatasetGroup(target=df, frequency="D"), progress=False)
    assert set(fixed.item_choice_["algorithm"]) == {"AutoPredictor"}


def test_switch_margin_losses_are_per_item_means_over_every_held_out_window():
    """Each margin's score is the blend weights' objective: every item's own optimization metric,
    averaged over items, summed over the windows held out in turn (not one window's pooled metric,
    which a few large items dominate)."""
    rng = np.random.default_rng(0)
    t = np.arange(80, dtype=float)
    df = pd.concat([pd.DataFrame({"item_id": f"i{k}", "timestamp": pd.date_range("2024-01-01", periods=80),
                                  "target_value": 10 + 50 * (k == 0) + rng.gamma(2, 2, 80) + (t % 7)})
                    for k in range(6)])
    ap = AutoPredictor(forecast_horizon=7, algorithms=["SeasonalNaive", "NPTS", "Naive"], backtest_windows=3)
    ap.train(DatasetGroup(target=df, frequency="D"), progress=False)
    assert ap.item_switch_margin_ == float("inf")  # no item switched: the AutoPredictor rows are the global blend
    im = ap.item_metrics_[ap.item_metrics_["algorithm"] == "AutoPredictor"]
    per_window = im.groupby("backtest_window")["AverageWeightedQuantileLoss"].mean()
    assert len(per_window) == 3
    assert ap.margin_losses_[float("inf")] == pytest.approx(per_window.sum(), rel=1e-12)


def test_zero_clip_counts_reach_the_fallback_line():
    """Non-negative history, a candidate whose p10 goes below 0: the line the notebooks print says how
    many values the zero clip raised, in how many items (the worst backtest window)."""
    from fc_core.automl import fallback_text

    df = pd.DataFrame({"item_id": np.repeat(["low", "high"], 40),
                       "timestamp": np.tile(pd.date_range("2024-01-01", periods=40), 2),
                       "target_value": np.r_[np.full(40, 0.5), np.full(40, 50.0)]})
    ap = AutoPredictor(forecast_horizon=4, algorithms=["Constant", "BiasUp"], backtest_windows=2,
                       algorithm_params={"Constant": {"spread": 2.0}, "BiasUp": {"spread": 0.1}})
    ap.train(DatasetGroup(target=df, frequency="D"), progress=False)
    c = ap.fallbacks_["Constant"]
    # item "low" (0.5 +- 2 z): p10 = 0.5 - 2 * 1.28 < 0 on each of 4 steps; "high" never negative
    assert (c["clipped_at_zero_items"], c["clipped_at_zero_values"]) == (1, 4)
    assert ap.fallbacks_["BiasUp"]["clipped_at_zero_values"] == 0
    assert "Constant raised 4 negative values of 1 of 2 items to 0 in the worst of 2 windows" in fallback_text(ap)
    # and the leaderboard has the column, per window and on average
    per_window = ap.leaderboard(per_window=True).set_index(["algorithm", "backtest_window"])
    assert per_window.loc[("Constant", 0), "clipped_at_zero_values"] == 4
    lb = ap.leaderboard().set_index("algorithm")
    assert (lb.loc["Constant", "clipped_at_zero_values"], lb.loc["BiasUp", "clipped_at_zero_values"]) == (4, 0)
    from fc_core.views.leaderboard import metric_columns

    assert "clipped_at_zero_values" not in metric_columns(lb)  # a count, not a metric to rank by
