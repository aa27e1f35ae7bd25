"""MLP-QR: the global quantile network (fc_core.algorithms.mlp) on tiny synthetic panels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core.algorithms.base import make_estimator
from fc_core.algorithms.mlp import QUANTILE_GRID, MLPQREstimator, MLPQRPredictor
from fc_core.errors import ConfigError, DataError
from fc_core.panel import Panel

from test_gbm import _frame, _panel, _seasonal, mae_and_seasonal_naive_mae, price_response

pytest.importorskip("torch")

FAST = dict(num_steps=250, hidden_size=64, num_layers=2, batch_size=64, learning_rate=3e-3, device="cpu",
            num_threads=1)


@pytest.fixture(scope="module")
def seasonal():
    train, test = _seasonal()
    panel = _panel(train)
    pred = MLPQREstimator(24, seed=3, **FAST).train(panel)
    return panel, test, pred


def test_learns_shared_pattern_and_beats_seasonal_naive(seasonal):
    mae, mae_sn = mae_and_seasonal_naive_mae(*seasonal)
    assert mae < 0.9 * mae_sn, (mae, mae_sn)
    pred = seasonal[2]
    assert pred.info["fallback_items"] == [] and pred.info["cold_start_items"] == []
    assert pred.info["device"] == "cpu" and pred.info["trained_series"] == 12


def test_quantiles_ordered_calibrated_and_mean_inside(seasonal):
    panel, test, pred = seasonal
    arr = pred.predict_arrays(levels=[0.025, 0.1, 0.33, 0.5, 0.9, 0.975])
    assert arr.quantiles.shape == (12, 24, 6)
    assert np.all(np.diff(arr.quantiles, axis=-1) >= 0)
    cover80 = np.mean((test >= arr.quantile(0.1)) & (test <= arr.quantile(0.9)))
    assert 0.6 <= cover80 <= 0.97, cover80
    assert np.all((arr.mean >= arr.quantile(0.1)) & (arr.mean <= arr.quantile(0.9)))
    # a level between grid points is interpolated between its neighbours
    q30, q40 = arr.quantile(0.3), arr.quantile(0.4)
    assert 0.3 in QUANTILE_GRID and np.all((arr.quantile(0.33) >= q30) & (arr.quantile(0.33) <= q40))
    out = pred.predict(forecast_types=["0.05", "0.5", "0.95", "mean"])
    assert list(out.columns) == ["item_id", "timestamp", "p5", "p50", "p95", "mean"]
    assert out["timestamp"].min() == panel.end_timestamps().max() + pd.Timedelta(hours=1)


def test_related_series_moves_the_forecast():
    """Demand falls with price; a higher planned price must lower the forecast."""
    pred, f_low, f_high, p_short = price_response(
        lambda H: MLPQREstimator(H, seed=0, **{**FAST, "num_steps": 400}), L=200)
    assert np.mean(f_low) > 1.2 * np.mean(f_high), (np.mean(f_low), np.mean(f_high))
    # related values must reach the end of the horizon
    with pytest.raises(DataError, match="cover the forecast horizon"):
        pred.predict_arrays(p_short)


def test_deterministic_with_seed_and_save_load_identical(tmp_path, seasonal):
    panel, _, pred = seasonal
    again = MLPQREstimator(24, seed=3, **FAST).train(panel)
    a, b = pred.predict_arrays(levels=[0.1, 0.5, 0.9]), again.predict_arrays(levels=[0.1, 0.5, 0.9])
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    np.testing.assert_array_equal(a.mean, b.mean)
    other = MLPQREstimator(24, seed=4, **FAST).train(panel).predict_arrays(levels=[0.1, 0.5, 0.9])
    assert not np.allclose(other.quantiles, a.quantiles)
    pred.save(tmp_path / "mlp")
    files = {p.name for p in (tmp_path / "mlp").iterdir()}
    assert "mlpqr_0.npz" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pt", ".joblib"))]
    loaded = MLPQRPredictor.load(tmp_path / "mlp")
    c = loaded.predict_arrays(levels=[0.1, 0.5, 0.9])
    np.testing.assert_allclose(a.quantiles, c.quantiles, rtol=1e-6)
    np.testing.assert_allclose(a.mean, c.mean, rtol=1e-6)


def test_gaps_short_items_cold_start_and_negative_values():
    rng = np.random.default_rng(2)
    n, L = 8, 24 * 16
    t = np.arange(L)
    y = rng.poisson(3.0, (n, L)) * (1 + np.sin(2 * np.pi * t / 24))[None, :]
    frame = _frame(y.astype(float))
    frame.loc[frame.index[50:90], "target_value"] = np.nan  # a gap in the first series
    short = pd.DataFrame({"item_id": "short", "timestamp": pd.date_range("2024-01-16 12:00", periods=1, freq="h"),
                          "target_value": 2.0})
    frame = pd.concat([frame, short], ignore_index=True)
    static = pd.DataFrame({"item_id": [*(f"s{i:02d}" for i in range(n)), "short", "new"],
                           "category": ["a"] * 4 + ["b"] * 4 + ["a", "b"]})
    panel = Panel.from_frame(frame, ["item_id"], "target_value", "H", static=static,
                             extra_keys=pd.DataFrame({"item_id": ["new"]}))
    pred = MLPQREstimator(24, seed=0, **FAST).train(panel)
    arr = pred.predict_arrays(levels=[0.05, 0.5, 0.95])
    assert pred.info["fallback_items"] == ["short"] and pred.info["cold_start_items"] == ["new"]
    # every training item had a category: the "missing or unseen" code gets the mean embedding
    emb = pred.nets[0].emb[0].weight.detach().numpy()
    np.testing.assert_allclose(emb[0], emb[1:].mean(axis=0), rtol=1e-6)
    assert np.isfinite(arr.quantiles).all() and np.isfinite(arr.mean).all()
    assert arr.quantiles.min() >= 0  # log transform: non-negative data give non-negative forecasts
    keys = panel.keys["item_id"].tolist()
    group_b = [keys.index(f"s{i:02d}") for i in range(4, 8)]
    np.testing.assert_allclose(arr.mean[keys.index("new")], arr.mean[group_b].mean(axis=0))
    # negative data: no log transform, forecasts may go below zero and follow the level
    neg = _panel(-_seasonal(n=6, L=24 * 12)[0])
    p2 = MLPQREstimator(24, seed=0, **FAST).train(neg)
    assert p2.spec["log"] is False
    assert p2.predict_arrays(levels=[0.5]).quantiles.max() < 0


def test_registry_and_config_errors(seasonal):
    assert isinstance(make_estimator("MLP-QR", 24), MLPQREstimator)
    assert isinstance(make_estimator("mlp", 24), MLPQREstimator)
    with pytest.raises(ConfigError, match="num_steps"):
        MLPQREstimator(24, num_steps=0)
    with pytest.raises(ConfigError, match="transform"):
        MLPQREstimator(24, transform="sqrt")
    with pytest.raises(ConfigError, match="device"):
        MLPQREstimator(24, device="tpu")
    with pytest.raises(ConfigError, match="no parameter"):
        MLPQREstimator(24, epochs=3)
    panel = seasonal[0]
    with pytest.raises(DataError, match="more than forecast_horizon"):
        MLPQREstimator(24 * 30, **FAST).train(panel)
    with pytest.raises(ConfigError, match="cannot forecast 48"):
        seasonal[2].predict_arrays(horizon=48)


def test_items_without_recent_values_fall_back_and_bad_inputs_are_refused(seasonal):
    panel, _, pred = seasonal
    frame = panel.to_frame()
    # item s00 loses everything after its first 100 hours: nothing left in the network's context
    late = (frame["item_id"] == "s00") & (frame.groupby("item_id").cumcount() >= 100)
    frame.loc[late, "target_value"] = np.nan
    gappy = Panel.from_frame(frame, ["item_id"], "target_value", "H")
    arr = pred.predict_arrays(gappy, levels=[0.5])
    assert pred.info["fallback_items"] == ["s00"]
    last_seen = frame.loc[(frame["item_id"] == "s00") & frame["target_value"].notna(), "target_value"].iloc[-1]
    np.testing.assert_allclose(arr.quantiles[0, :, 0], last_seen)  # the last value carried forward, not 0
    # a log-transform model refuses negative data instead of clipping it to 0
    neg = frame.assign(target_value=np.where(frame["item_id"] == "s01", -frame["target_value"], frame["target_value"]))
    with pytest.raises(DataError, match="negative values"):
        pred.predict_arrays(Panel.from_frame(neg, ["item_id"], "target_value", "H"))
    # a context shorter than one season cannot carry the seasonal base
    with pytest.raises(ConfigError, match="shorter than the season"):
        MLPQREstimator(24, context_length=10, **FAST).train(panel)


def test_a_category_only_on_untrainable_items_gets_the_mean_embedding():
    train, _ = _seasonal(n=6, L=24 * 12)
    frame = _frame(train)
    short = pd.DataFrame({"item_id": "short", "timestamp": pd.date_range("2024-01-12", periods=20, freq="h"),
                          "target_value": 5.0})  # too short for a training window (H + 2 = 26)
    frame = pd.concat([frame, short], ignore_index=True)
    static = pd.DataFrame({"item_id": [*(f"s{i:02d}" for i in range(6)), "short"],
                           "category": ["a", "a", "a", "b", "b", "b", "rare"]})
    panel = Panel.from_frame(frame, ["item_id"], "target_value", "H", static=static)
    pred = MLPQREstimator(24, seed=0, **FAST).train(panel)
    cats = pred.spec["categories"][0]
    emb = pred.nets[0].emb[0].weight.detach().numpy()
    rare, trained = cats.index("rare") + 1, [cats.index("a") + 1, cats.index("b") + 1]
    np.testing.assert_allclose(emb[rare], emb[trained].mean(axis=0), rtol=1e-6)
    assert np.isfinite(pred.predict_arrays(levels=[0.5]).quantiles).all()


def test_ctrl_c_stops_training(seasonal, ctrl_c):
    import _thread
    import threading
    import time

    panel = seasonal[0]
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            MLPQREstimator(24, **{**FAST, "num_steps": 100_000}).train(panel)
    finally:
        timer.cancel()
    assert time.perf_counter() - t0 < 30  # 100,000 steps were not waited for
