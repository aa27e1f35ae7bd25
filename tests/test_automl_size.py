"""The size-aware default of the AutoPredictor (issue 17): large data, no presets/algorithms given."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core import AutoPredictor
from fc_core.automl import presets as automl_presets

GBM_SMALL = {"num_trees": 20, "num_leaves": 7, "min_data_in_leaf": 10}


def _frame(n_items=4, days=14):
    t = pd.date_range("2024-01-01", periods=24 * days, freq="h")
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"item_id": f"s{i}", "timestamp": t,
                                    "target_value": 10.0 * (i + 1) + 3 * np.sin(2 * np.pi * t.hour / 24)
                                    + rng.normal(0, 0.5, len(t))})
                      for i in range(n_items)], ignore_index=True)


@pytest.fixture
def large(monkeypatch):
    """Any panel of more than 1,000 observed values counts as large (this one has 4 x 336 = 1,344)."""
    monkeypatch.setattr(automl_presets, "LARGE_PANEL_VALUES", 1000)


def _train(**kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ap = AutoPredictor(forecast_horizon=24, keep_all_candidates=True, **kw).train(_frame(), progress=False)
    return ap, [str(w.message) for w in caught if "size-aware" in str(w.message)]


def test_large_default_plans_cheaper_settings_and_says_so(large):
    ap, said = _train(algorithm_params={"GBM": GBM_SMALL})
    note = ("4 items, 1,344 observed values: using 1 backtest window instead of 2; GBM with calibration_windows=2, "
            "because the data holds more than 1,000 values (the size-aware default")
    plan = ap.plan_summary()
    row = plan.loc[plan["step"] == "size-aware default"].iloc[0]
    assert row["status"] == "plan" and row["note"].startswith(note)
    assert len(said) == 1 and said[0].startswith(note)
    assert ap.leaderboard_["backtest_window"].nunique() == 1
    assert plan.iloc[0]["note"].startswith("1 windows asked, 1 run")
    assert ap.predictors_["GBM"].estimator.params["calibration_windows"] == 2
    assert ap.predictors_["GBM"].estimator.params["num_trees"] == 20  # the user's own settings stay
    assert ap.size_plan_["backtest_windows"] == 1


def test_explicit_settings_win_over_the_size_aware_default(large):
    ap, said = _train(backtest_windows=2, algorithm_params={"GBM": {**GBM_SMALL, "calibration_windows": 3}})
    assert said == [] and ap.size_plan_ == {}  # nothing left for it to choose
    assert ap.leaderboard_["backtest_window"].nunique() == 2
    assert ap.predictors_["GBM"].estimator.params["calibration_windows"] == 3
    # one explicit setting: the other is still planned for size
    ap, said = _train(backtest_windows=2, algorithm_params={"GBM": GBM_SMALL})
    assert len(said) == 1 and "using GBM with calibration_windows=2, because" in said[0]
    assert ap.leaderboard_["backtest_window"].nunique() == 2
    # a preset or candidates given: no size-aware default at all
    ap, said = _train(presets="medium", algorithm_params={"GBM": GBM_SMALL})
    assert said == [] and "size-aware default" not in set(ap.plan_summary()["step"])
    assert ap.leaderboard_["backtest_window"].nunique() == 2
    assert ap.predictors_["GBM"].estimator.params["calibration_windows"] == 8
    ap, said = _train(algorithms=["SeasonalNaive", "GBM"], algorithm_params={"GBM": GBM_SMALL})
    assert said == [] and ap.size_plan_ == {}


def test_auto_is_the_default_spelled_out(large):
    """presets="auto" (the notebooks' and the pipeline YAML's default) plans as no preset does."""
    ap, said = _train(presets="auto", algorithm_params={"GBM": GBM_SMALL})
    assert ap.presets == "medium" and said
    assert ap.size_plan_ == _train(algorithm_params={"GBM": GBM_SMALL})[0].size_plan_


def test_small_data_keeps_the_medium_preset():
    ap, said = _train(algorithm_params={"GBM": GBM_SMALL})
    assert said == [] and ap.size_plan_ == {}
    assert ap.leaderboard_["backtest_window"].nunique() == 2
    assert ap.predictors_["GBM"].estimator.params["calibration_windows"] == 8


def test_saved_and_retrained_predictors_keep_the_size_aware_default(large, tmp_path):
    from fc_core.automl import AutoPredictor as AP

    ap, _ = _train(algorithm_params={"GBM": GBM_SMALL})
    ap.save(tmp_path / "ap")
    back = AP.load(tmp_path / "ap")
    assert back.size_plan_ == ap.size_plan_ and back.plan_summary().iloc[0]["note"].startswith("1 windows asked, 1 run")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = back.retrain(_frame(), progress=False)
    assert any("size-aware" in str(w.message) for w in caught)
    assert again.size_plan_["backtest_windows"] == 1
    assert again.predictors_["GBM"].estimator.params["calibration_windows"] == 2
