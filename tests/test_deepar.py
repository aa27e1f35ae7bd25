"""DeepAR+ behind the estimator/predictor contract: tiny data, a few epochs, real assertions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gluonts.torch")

from fc_core.algorithms.base import Predictor, make_estimator  # noqa: E402
from fc_core.algorithms.deepar import DeepARPlusEstimator  # noqa: E402
from fc_core.errors import ConfigError, DataError  # noqa: E402
from fc_core.panel import Panel  # noqa: E402

H = 12
FAST = dict(num_cells=16, num_layers=1, dropout_rate=0.0, batch_size=32, num_samples=200)
LEVELS = [0.025, 0.1, 0.5, 0.9, 0.975]


def _frame(levels, T=24 * 10, seed=0, start="2024-01-01"):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    parts = []
    for i, lv in enumerate(levels):
        y = lv * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) + rng.normal(0, 0.05 * lv, T)
        parts.append(pd.DataFrame({"item_id": f"i{i}", "timestamp": pd.date_range(start, periods=T, freq="h"),
                                   "target_value": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def seasonal():
    df = _frame([10, 20, 40, 80])
    panel = Panel.from_frame(df, ["item_id"], "target_value", "H")
    est = DeepARPlusEstimator(H, epochs=4, num_batches_per_epoch=15, learning_rate=1e-2, lags_seq=[1, 24],
                              context_length=24, seed=3, **FAST)
    return panel, est, est.train(panel)


def test_registry_and_capabilities():
    est = make_estimator("DeepAR+", 24, frequency="H", epochs=2)
    assert isinstance(est, DeepARPlusEstimator)
    c = est.capabilities
    assert (c.uses_related, c.uses_item_metadata, c.cold_start, c.gpu, c.local) == (True, True, True, True, False)
    assert est.params["context_length"] is None and est.params["likelihood"] == "student-T"


def test_quantiles_ordered_at_requested_levels(seasonal):
    panel, est, pred = seasonal
    fc = pred.predict(forecast_types=["0.025", "0.1", "0.5", "0.9", "0.975", "mean"])
    cols = ["p2.5", "p10", "p50", "p90", "p97.5"]
    assert list(fc.columns) == ["item_id", "timestamp", *cols, "mean"]
    assert len(fc) == 4 * H
    q = fc[cols].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    assert np.all(q[:, -1] - q[:, 0] > 0)  # real intervals, not a point
    assert fc["timestamp"].min() == panel.end_timestamps().max() + pd.Timedelta(hours=1)
    # the forecasts follow each item's level (10, 20, 40, 80) within a loose factor
    med = fc.groupby("item_id")["p50"].mean().to_numpy()
    assert np.all(np.diff(med) > 0)
    assert np.allclose(med, [10, 20, 40, 80], rtol=0.35)


def test_seeded_determinism(seasonal):
    panel, est, pred = seasonal
    a = pred.predict_arrays(levels=LEVELS)
    b = pred.predict_arrays(levels=LEVELS)
    np.testing.assert_array_equal(a.quantiles, b.quantiles)  # sampling is seeded
    again = DeepARPlusEstimator(H, **{**est.params}, seed=est.seed).train(panel)
    np.testing.assert_array_equal(again.predict_arrays(levels=LEVELS).quantiles, a.quantiles)
    other = DeepARPlusEstimator(H, **{**est.params}, seed=est.seed + 1).train(panel)
    assert not np.array_equal(other.predict_arrays(levels=LEVELS).quantiles, a.quantiles)


def test_early_stopping_on_held_out_last_window(seasonal):
    panel, est, _ = seasonal
    pred = DeepARPlusEstimator(H, **{**est.params, "epochs": 3, "early_stopping": True}, seed=1).train(panel)
    assert pred.info["best_loss_on"] == "val" and pred.info["validation_series"] == 4
    assert 0 <= pred.info["best_epoch"] < 3 and np.isfinite(pred.info["best_loss"])
    med = pred.predict()["p50"].groupby(np.repeat(np.arange(4), H)).mean().to_numpy()
    assert np.all(np.diff(med) > 0)


def test_save_load_round_trip(seasonal, tmp_path):
    panel, est, pred = seasonal
    before = pred.predict(forecast_types=["0.1", "0.5", "0.9", "mean"])
    pred.save(tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert "deepar_weights.pt" in files and not any(f.endswith((".pkl", ".pickle", ".ckpt")) for f in files)
    loaded = Predictor.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict(forecast_types=["0.1", "0.5", "0.9", "mean"]), before)


def test_related_series_moves_the_forecast():
    rng = np.random.default_rng(1)
    T, n = 300, 10
    ts = pd.date_range("2024-01-01", periods=T + H, freq="h")
    tgt, rel = [], []
    for i in range(n):
        price = rng.uniform(1, 3, T + H)
        y = 5 * price + rng.normal(0, 0.5, T + H)
        tgt.append(pd.DataFrame({"item_id": f"i{i}", "timestamp": ts[:T], "target_value": y[:T]}))
        rel.append(pd.DataFrame({"item_id": f"i{i}", "timestamp": ts, "price": price}))
    df, rf = pd.concat(tgt), pd.concat(rel)

    def panel(future_price=None, cut=0):
        r = rf.copy()
        if future_price is not None:
            r.loc[r.timestamp >= ts[T], "price"] = future_price
        if cut:
            r = r[r.timestamp < ts[T + H - cut]]
        return Panel.from_frame(df, ["item_id"], "target_value", "H", related=r, related_columns=["price"])

    est = DeepARPlusEstimator(H, epochs=5, num_batches_per_epoch=20, learning_rate=1e-2, lags_seq=[1],
                              context_length=12, seed=0, **FAST)
    pred = est.train(panel())
    assert pred.spec["related_names"] == ["price"]
    low = pred.predict(panel(1.0))["p50"].mean()
    high = pred.predict(panel(3.0))["p50"].mean()
    assert high - low > 4.0  # truth: 5 * (3 - 1) = 10
    assert abs(low - 5) < 2.5 and abs(high - 15) < 3.5
    # related data that stops 3 steps short of the horizon: a clear error naming items and dates
    with pytest.raises(DataError, match=r"cover the forecast horizon.*\('i0',\).*missing from 2024-01-13 21:00"):
        pred.predict(panel(cut=3))


def _category_panel(cold=True):
    """Items of category 'big' (level ~100) and 'small' (level ~10), plus two cold-start items."""
    levels = [100, 110, 90, 10, 11, 9]
    df = _frame(levels, T=24 * 8 + 6, seed=2)  # the horizon covers hours 6..17: its mean is ~ the level
    meta = pd.DataFrame({"item_id": [f"i{i}" for i in range(6)] + ["new_big", "new_small"],
                         "category": ["big"] * 3 + ["small"] * 3 + ["big", "small"]})
    extra = pd.DataFrame({"item_id": ["new_big", "new_small"]}) if cold else None
    return Panel.from_frame(df, ["item_id"], "target_value", "H", static=meta, extra_keys=extra)


def test_static_categories_and_cold_start():
    panel = _category_panel()
    est = DeepARPlusEstimator(H, epochs=4, num_batches_per_epoch=15, learning_rate=1e-2, lags_seq=[1, 24],
                              context_length=24, seed=0, **FAST)
    pred = est.train(panel)
    assert pred.spec["static_columns"] == ["category"] and pred.spec["categories"] == [["big", "small"]]
    assert pred.spec["series_scaling"] == "mean"  # levels 10 and 100 reach the network at ~1
    assert pred.info["trained_series"] == 6  # the cold-start items cannot be trained on
    fc = pred.predict(forecast_types=["0.1", "0.5", "0.9"])
    med = fc.groupby("item_id")["p50"].mean()
    assert 75 < med["new_big"] < 125, med["new_big"]
    assert 7.5 < med["new_small"] < 12.5, med["new_small"]
    assert set(pred.info["cold_start_items"]) == {"('new_big',)", "('new_small',)"}
    first = panel.end_timestamps()[:6].max() + pd.Timedelta(hours=1)
    assert (fc.loc[fc.item_id == "new_big", "timestamp"].min()) == first

    # the item embedding is used: the same history with the other category, or an unseen one, changes the forecast
    warm = panel.select([0])
    base = pred.predict_arrays(warm, levels=[0.5]).quantiles
    swapped = warm.static.copy()
    swapped["category"] = "small"
    unseen = warm.static.copy()
    unseen["category"] = "never-seen"
    from dataclasses import replace

    q_swap = pred.predict_arrays(replace(warm, static=swapped), levels=[0.5]).quantiles
    q_unseen = pred.predict_arrays(replace(warm, static=unseen), levels=[0.5]).quantiles
    assert not np.allclose(base, q_swap)
    assert np.isfinite(q_unseen).all() and not np.allclose(q_unseen, q_swap)


def test_negative_binomial_counts_are_nonnegative_integers():
    rng = np.random.default_rng(4)
    T = 24 * 8
    t = np.arange(T)
    parts = [pd.DataFrame({"item_id": f"c{i}", "timestamp": pd.date_range("2024-01-01", periods=T, freq="h"),
                           "target_value": rng.poisson(3 + 2 * np.sin(2 * np.pi * t / 24) + i).astype(float)})
             for i in range(4)]
    panel = Panel.from_frame(pd.concat(parts), ["item_id"], "target_value", "H")
    est = DeepARPlusEstimator(H, epochs=2, num_batches_per_epoch=10, likelihood="negative-binomial",
                              lags_seq=[1, 24], context_length=24, seed=0, **FAST)
    pred = est.train(panel)
    assert pred.spec["series_scaling"] == "none"  # counts stay whole numbers
    s = pred.sample_paths()
    assert s.shape == (4, FAST["num_samples"], H)
    assert s.min() >= 0
    np.testing.assert_allclose(s, np.round(s), atol=1e-4)
    assert 0 < s.mean() < 20


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="likelihood"):
        DeepARPlusEstimator(H, likelihood="beta")
    with pytest.raises(ConfigError, match="device"):
        DeepARPlusEstimator(H, device="tpu")
    with pytest.raises(ConfigError, match="no holiday calendar"):
        DeepARPlusEstimator(H, holidays={"CountryCode": "XX"})
    with pytest.raises(ConfigError, match="has no parameter"):
        DeepARPlusEstimator(H, hidden_size=10)


def test_device_auto_falls_back_to_cpu_and_cuda_is_refused_without_gpu():
    import torch

    from fc_core.algorithms.deepar import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_horizon_and_short_data_errors(seasonal):
    panel, est, pred = seasonal
    with pytest.raises(ConfigError, match="forecast_horizon=12"):
        pred.predict_arrays(horizon=H + 1)
    short = Panel.from_frame(_frame([10], T=H), ["item_id"], "target_value", "H")
    with pytest.raises(DataError, match="more than forecast_horizon"):
        DeepARPlusEstimator(H, epochs=1, **FAST).train(short)


def test_holiday_feature_and_ctrl_c(monkeypatch):
    import fc_core.algorithms.deepar as mod

    panel = Panel.from_frame(_frame([10, 20], T=24 * 4), ["item_id"], "target_value", "H")
    est = DeepARPlusEstimator(H, epochs=3, num_batches_per_epoch=50, lags_seq=[1], context_length=12,
                              holidays={"CountryCode": "KR"}, **FAST)
    spec = DeepARPlusEstimator(H, epochs=1, num_batches_per_epoch=2, lags_seq=[1], context_length=12,
                               holidays="KR", **FAST).train(panel).spec
    assert spec["holiday_country"] == "KR" and spec["num_dynamic"] == len(spec["calendar"]) + 1

    class Interrupt:
        def __init__(self, *args):
            pass

        def callback(self):
            import lightning.pytorch as pl

            class _Stop(pl.Callback):
                def on_train_batch_end(self, *a, **k):
                    raise KeyboardInterrupt

            return _Stop()

    monkeypatch.setattr(mod, "_KeepBest", Interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.train(panel)


def test_standard_series_scaling_round_trips_level_and_swing():
    """``series_scaling="standard"``: each series is centred and divided by its spread before the
    network and the samples are mapped back, so a smooth series on a high level (1000 +- 5) comes
    back on its level with a swing of its own size, not the level's."""
    from fc_core.algorithms.deepar import _series_affine

    t = np.arange(24 * 12)
    smooth = 1000 + 5 * np.sin(2 * np.pi * t / 24)
    shift, scale = _series_affine([smooth, np.array([np.nan, 2.0, 4.0])], "standard")
    np.testing.assert_allclose(shift, [smooth.mean(), 3.0])
    np.testing.assert_allclose(scale, [smooth.std(), 1.0])
    assert _series_affine([smooth], True)[1][0] == pytest.approx(np.abs(smooth).mean())  # old artifacts
    assert _series_affine([np.full(5, 7.0)], "standard")[1][0] == pytest.approx(7e-3)  # a flat series
    df = pd.DataFrame({"item_id": np.repeat(["a", "b"], len(t)),
                       "timestamp": np.tile(pd.date_range("2024-01-01", periods=len(t), freq="h"), 2),
                       "target_value": np.r_[smooth, 10 + 3 * np.sin(2 * np.pi * t / 24)]})
    panel = Panel.from_frame(df, ["item_id"], "target_value", "H")
    pred = DeepARPlusEstimator(H, epochs=3, num_batches_per_epoch=10, learning_rate=1e-2, lags_seq=[1, 24],
                               context_length=24, seed=0, series_scaling="standard", **FAST).train(panel)
    assert pred.spec["series_scaling"] == "standard"
    arr = pred.predict_arrays(levels=[0.1, 0.5, 0.9])
    big = arr.quantiles[0]
    assert np.all(np.abs(big[:, 1] - 1000) < 20)  # on its level
    assert np.median(big[:, 2] - big[:, 0]) < 40  # a band of the swing's size, not the level's
