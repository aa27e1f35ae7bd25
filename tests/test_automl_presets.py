"""Presets, time_limit, and the AutoGluon-like API of the AutoPredictor (issue 19), on small data."""
from __future__ import annotations

import doctest
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toy_estimators  # noqa: F401  (registers the toy algorithms)
from fc_core import AutoPredictor
from fc_core import backtest as bt
from fc_core.algorithms.base import register
from fc_core.automl import PRESETS
from fc_core.errors import ConfigError


def _flat_frame(n_items=4, length=60, level=10.0):
    return pd.concat([pd.DataFrame({"item_id": f"i{i}", "timestamp": pd.date_range("2024-01-01", periods=length, freq="D"),
                                    "target_value": level}) for i in range(n_items)], ignore_index=True)


def _seasonal_frame(n_items=3, days=14):
    t = pd.date_range("2024-01-01", periods=24 * days, freq="h")
    return pd.concat([pd.DataFrame({"item_id": f"s{i}", "timestamp": t,
                                    "target_value": 10.0 * (i + 1) + 3 * np.sin(2 * np.pi * t.hour / 24)})
                      for i in range(n_items)], ignore_index=True)


class _SlowPredictor(toy_estimators.ConstantPredictor):
    def _fit(self, panel, progress=False):
        time.sleep(0.6)


class SlowEstimator(toy_estimators.ConstantEstimator):
    name = "Slow"
    predictor_class = _SlowPredictor


register("Slow", f"{__name__}:SlowEstimator")


# ------------------------------------------------------------------ presets
def test_presets_fill_what_is_not_given_and_medium_is_the_default():
    assert set(PRESETS) == {"fast", "medium", "best"}
    ap = AutoPredictor(forecast_horizon=24)
    assert ap.presets == "medium"
    assert ap.algorithms == list(PRESETS["medium"]["algorithms"])
    assert ap.backtest_windows == PRESETS["medium"]["backtest_windows"]
    fast = AutoPredictor(forecast_horizon=24, presets="fast")
    assert fast.algorithms == list(PRESETS["fast"]["algorithms"]) and fast.backtest_windows == 1
    assert fast.algorithm_params["GBM"] == PRESETS["fast"]["algorithm_params"]["GBM"]
    # explicit settings win over the preset's
    mine = AutoPredictor(forecast_horizon=24, presets="best", algorithms=["SeasonalNaive"], backtest_windows=4)
    assert mine.algorithms == ["SeasonalNaive"] and mine.backtest_windows == 4
    with pytest.raises(ConfigError, match="presets 'quick': choose one of fast, medium, best"):
        AutoPredictor(forecast_horizon=24, presets="quick")
    with pytest.raises(ConfigError, match="time_limit must be a positive number"):
        AutoPredictor(forecast_horizon=24, time_limit=0)


def test_preset_windows_are_reduced_to_what_short_data_holds_and_said_so():
    df = _flat_frame(length=15)  # horizon 5: two windows need 10 steps (< 15), three need 15
    ap = AutoPredictor(forecast_horizon=5, presets="best", algorithms=["BiasUp", "BiasDown"]).train(df, progress=False)
    plan = ap.plan_summary()
    assert ap.leaderboard_["backtest_window"].nunique() == 2
    assert (plan["status"] == "reduced").sum() == 1
    assert "holds 2 of the 'best' preset's 3 windows" in plan.loc[plan["status"] == "reduced", "note"].iloc[0]
    # an explicit window count is not reduced: the user hears why it does not fit
    with pytest.raises(ConfigError, match="Use fewer windows"):
        AutoPredictor(forecast_horizon=5, algorithms=["BiasUp"], backtest_windows=3).train(df, progress=False)


def test_time_limit_plans_windows_and_candidates_and_keeps_what_ran():
    df = _flat_frame()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["BiasUp", "Slow", "BiasDown"], backtest_windows=3,
                       time_limit=0.5)
    with pytest.warns(UserWarning, match="time_limit: left out"):
        ap.train(df, progress=False)
    plan = ap.plan_summary()
    skipped = plan.loc[plan["status"] == "skipped", "step"].tolist()
    assert "BiasDown" in skipped  # started after the first-window share of the limit was spent
    assert "backtest window 1" in skipped and "backtest window 2" in skipped
    assert ap.leaderboard_["backtest_window"].unique().tolist() == [0]
    assert "BiasDown" not in set(ap.leaderboard_["algorithm"])
    assert ap.forecast().frame["mean"].notna().all()  # the best result so far is kept and forecasts
    # without a limit, everything runs and nothing is skipped
    full = AutoPredictor(forecast_horizon=5, algorithms=["BiasUp", "BiasDown"], backtest_windows=2).train(df, progress=False)
    assert not (full.plan_summary()["status"] == "skipped").any()


# ---------------------------------------------------------------------- API
def test_train_accepts_a_long_dataframe_and_evaluate_scores_new_data():
    df = _flat_frame()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["BiasUp", "BiasDown"], backtest_windows=2)
    ap.train(df[df["timestamp"] < "2024-02-25"], progress=False)
    assert ap.weights_ == pytest.approx({"BiasUp": 0.5, "BiasDown": 0.5})
    scores = ap.evaluate(df)  # the last 5 days of each item, forecast from the days before
    assert scores["WAPE"] == pytest.approx(0.0, abs=1e-12)
    assert scores["n_items"] == 4 and scores["n_observed"] == 20
    board = ap.leaderboard(df)
    assert board["algorithm"].iloc[0] == "AutoPredictor"
    assert board.set_index("algorithm").loc["BiasUp", "WAPE"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="expected a DatasetGroup or a long DataFrame"):
        ap.evaluate([1, 2, 3])


def test_a_user_metric_function_drives_the_choice():
    def under_forecast(actual, forecast):
        return float(np.mean(np.maximum(actual - forecast, 0.0)))

    df = _flat_frame()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["BiasDown", "BiasUp"], backtest_windows=2,
                       optimization_metric=under_forecast, ensemble=False, item_selection=False)
    ap.train(df, progress=False)
    board = ap.leaderboard()
    assert ap.optimization_metric == "under_forecast"
    assert board.set_index("algorithm").loc["BiasDown", "under_forecast"] == pytest.approx(1.0)
    assert board.set_index("algorithm").loc["BiasUp", "under_forecast"] == pytest.approx(0.0)
    assert ap.weights_ == {"BiasUp": 1.0}
    assert ap.evaluate(df)["under_forecast"] == pytest.approx(0.0)


def test_plot_draws_several_items():
    df = _flat_frame()
    ap = AutoPredictor(forecast_horizon=5, algorithms=["BiasUp", "BiasDown"], backtest_windows=1).train(df, progress=False)
    fig = ap.plot(items=["i1", "i3"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["Forecast for i1", "Forecast for i3"]


def test_backtest_run_is_public_and_scores_one_estimator():
    from fc_core.algorithms.baselines import NaiveEstimator, SeasonalNaiveEstimator

    df = _seasonal_frame()
    res = bt.run(SeasonalNaiveEstimator(24), df, windows=2)
    assert isinstance(res, bt.BacktestResult)
    assert res.metrics["backtest_window"].tolist() == [0, 1]
    assert res.metrics["WAPE"].to_numpy() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert len(res.forecasts) == 2 * 3 * 24
    assert {"target_value", "cutoff", "backtest_window", "p50"} <= set(res.forecasts.columns)
    naive = bt.run(NaiveEstimator(24), df, windows=2)
    assert naive.mean()["WAPE"] > 0.05


# --------------------------------------------------------------- engines
def test_gbm_effort_auto_scales_trees_and_leaves_to_small_data():
    from fc_core.algorithms.gbm import GBMEstimator

    df = _seasonal_frame(days=21)
    auto = GBMEstimator(24, calibration_windows=2).train(df_to_panel(df))
    eff = auto.info["effort"]["direct"]
    assert eff["mode"] == "auto" and eff["num_trees"] < 600 and eff["num_leaves"] < 127
    full = GBMEstimator(24, calibration_windows=2, num_trees=40, effort="full").train(df_to_panel(df))
    assert full.info["effort"]["direct"] == {**full.info["effort"]["direct"], "mode": "full", "num_trees": 40,
                                             "num_leaves": 127}
    with pytest.raises(ConfigError, match="effort must be 'auto' or 'full'"):
        GBMEstimator(24, effort="max")


def df_to_panel(df):
    from fc_core.panel import Panel

    return Panel.from_frame(df, ["item_id"], "target_value", "H")


# --------------------------------------------------------------- workflow
def test_getting_started_parameters_take_presets_and_time_limit():
    from fc_core.workflow import getting_started_config

    cfg = getting_started_config(presets="fast", time_limit=60)
    p = cfg.make_predictor()
    assert p.presets == "fast" and p.time_limit == 60 and p.backtest_windows == 1
    # the notebook's default "auto" is the API's default: medium, size-aware (no preset chosen by the user)
    default = getting_started_config().make_predictor()
    assert default.presets == "medium" and default._size_aware
    assert not getting_started_config(presets="medium").make_predictor()._size_aware
    with pytest.raises(ConfigError, match="parameter presets='quick'"):
        getting_started_config(presets="quick")
    with pytest.raises(ConfigError, match="parameter time_limit=-1"):
        getting_started_config(time_limit=-1)


def test_readme_examples_run_as_doctests():
    readme = Path(__file__).resolve().parents[1] / "README.md"
    res = doctest.testfile(str(readme), module_relative=False,
                           optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert res.attempted >= 5 and res.failed == 0


def test_pipeline_yaml_takes_presets_and_time_limit(tmp_path):
    from fc_core.pipeline.config import PipelineConfig

    doc = {"name": "p", "input": {"location": str(tmp_path), "frequency": "H"},
           "predictor": {"forecast_horizon": 24, "presets": "fast", "time_limit": 120}}
    kw = PipelineConfig.from_dict(doc, base_dir=tmp_path).predictor_kwargs()
    ap = AutoPredictor(**kw)
    assert ap.presets == "fast" and ap.time_limit == 120
    doc["predictor"]["presets"] = "quick"
    with pytest.raises(ConfigError, match="predictor.presets 'quick'"):
        PipelineConfig.from_dict(doc, base_dir=tmp_path)
    doc["predictor"].update(presets="best", time_limit=-5)
    with pytest.raises(ConfigError, match="predictor.time_limit must be a positive number"):
        PipelineConfig.from_dict(doc, base_dir=tmp_path)


def test_arima_fits_long_series_on_their_recent_history_by_default():
    from fc_core.algorithms.arima import ARIMAEstimator, history_length

    assert ARIMAEstimator(24).params["max_history"] == "auto"
    spec = {"params": {"max_history": "auto"}, "season_length": 24}
    assert history_length(8760, spec) == 480  # a year of hourly data: the last 20 days
    assert history_length(300, spec) == 300
    assert history_length(8760, {"params": {"max_history": None}, "season_length": 24}) == 8760
    assert history_length(100, {"params": {"max_history": "auto"}, "season_length": 7}) == 100
    assert history_length(1000, {"params": {"max_history": "auto"}, "season_length": 7}) == 250
