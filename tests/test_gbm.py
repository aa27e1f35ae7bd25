"""GBM: the global LightGBM forecaster (fc_core.algorithms.gbm) on tiny synthetic panels."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from fc_core.algorithms.base import make_estimator
from fc_core.algorithms.baselines import seasonal_naive_arrays
from fc_core.algorithms.gbm import GBMEstimator, GBMPredictor
from fc_core.errors import ConfigError
from fc_core.panel import Panel

FAST = dict(num_trees=60, learning_rate=0.15, num_leaves=15, min_data_in_leaf=10, calibration_windows=2)


def _frame(values: np.ndarray, freq: str = "h", start: str = "2024-01-01", names=None) -> pd.DataFrame:
    n, L = values.shape
    names = names or [f"s{i:02d}" for i in range(n)]
    ts = pd.date_range(start, periods=L, freq=freq)
    return pd.DataFrame({"item_id": np.repeat(names, L), "timestamp": np.tile(ts, n),
                         "target_value": values.ravel()})


def _seasonal(n=12, L=24 * 24, H=24, noise=0.15, seed=0, trend=True):
    """Series sharing one daily shape at different levels, with noise and a gentle trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(L + H)
    shape = 1 + 0.5 * np.sin(2 * np.pi * t / 24) + 0.25 * np.cos(4 * np.pi * t / 24)
    level = rng.uniform(5, 50, n)[:, None]
    slope = (rng.uniform(-0.3, 0.6, n)[:, None] / L) if trend else 0.0
    y = level * shape[None, :] * (1 + slope * t[None, :]) * np.exp(rng.normal(0, noise, (n, L + H)))
    return y[:, :L], y[:, L:]


def _panel(values, freq="h", **kw) -> Panel:
    from fc_core import frequency as fq

    return Panel.from_frame(_frame(values, freq, **kw), ["item_id"], "target_value", fq.normalize(freq))


def price_response(make_estimator, L: int, n: int = 12, H: int = 14):
    """Daily demand that falls with price (elasticity -0.12 per unit): train ``make_estimator(H)`` with the
    prices as a related series, then forecast with planned prices of 8 and of 12; returns
    ``(predictor, median forecast at 8, median forecast at 12, a panel whose related data ends 5 days
    into the horizon)``."""
    rng = np.random.default_rng(1)
    t = np.arange(L + H)
    price = 10 + rng.choice([0.0, -2.0, 2.0], size=(n, L + H), p=[0.6, 0.2, 0.2])
    base = rng.uniform(20, 60, n)[:, None]
    demand = base * (1 + 0.2 * np.sin(2 * np.pi * t / 7))[None, :] * np.exp(-0.12 * (price - 10))
    demand *= np.exp(rng.normal(0, 0.03, demand.shape))
    ts = pd.date_range("2023-01-01", periods=L + H, freq="D")
    names = [f"i{j:02d}" for j in range(n)]
    target = pd.DataFrame({"item_id": np.repeat(names, L), "timestamp": np.tile(ts[:L], n),
                           "target_value": demand[:, :L].ravel()})

    def panel_with(prices, periods=L + H):
        rel = pd.DataFrame({"item_id": np.repeat(names, periods), "timestamp": np.tile(ts[:periods], n),
                            "price": prices[:, :periods].ravel()})
        return Panel.from_frame(target, ["item_id"], "target_value", "D", related=rel, related_columns=["price"])

    pred = make_estimator(H).train(panel_with(price))
    low, high = price.copy(), price.copy()
    low[:, L:], high[:, L:] = 8.0, 12.0
    f_low = pred.predict_arrays(panel_with(low), levels=[0.5]).quantiles[..., 0]
    f_high = pred.predict_arrays(panel_with(high), levels=[0.5]).quantiles[..., 0]
    return pred, f_low, f_high, panel_with(price, L + 5)


def mae_and_seasonal_naive_mae(panel, test, pred) -> tuple[float, float]:
    """Mean absolute error of ``pred``'s median forecast of ``test``, and of seasonal naive (24)'s."""
    arr = pred.predict_arrays(levels=[0.5])
    sn = seasonal_naive_arrays(panel, test.shape[1], np.array([0.5]), 24)
    return float(np.mean(np.abs(arr.quantiles[..., 0] - test))), float(np.mean(np.abs(sn.quantiles[..., 0] - test)))


@pytest.fixture(scope="module")
def seasonal():
    train, test = _seasonal()
    panel = _panel(train)
    pred = GBMEstimator(24, seed=3, **FAST).train(panel)
    return panel, test, pred


def test_learns_shared_seasonal_pattern_and_beats_seasonal_naive(seasonal):
    mae_gbm, mae_sn = mae_and_seasonal_naive_mae(*seasonal)
    assert mae_gbm < 0.85 * mae_sn, (mae_gbm, mae_sn)
    pred = seasonal[2]
    assert pred.info["fallback_items"] == [] and pred.info["cold_start_items"] == []
    assert pred.info["calibration"] == "backtest"


def test_any_quantile_levels_ordered_and_roughly_calibrated(seasonal):
    panel, test, pred = seasonal
    levels = [0.025, 0.1, 0.33, 0.5, 0.9, 0.975]
    arr = pred.predict_arrays(levels=levels)
    assert arr.quantiles.shape == (12, 24, 6)
    assert np.all(np.diff(arr.quantiles, axis=-1) >= 0)
    assert np.all(arr.quantiles[..., 0] < arr.quantiles[..., -1])
    cover80 = np.mean((test >= arr.quantile(0.1)) & (test <= arr.quantile(0.9)))
    assert 0.65 <= cover80 <= 0.95, cover80
    # the mean of a log-normal-ish forecast sits near the median, inside the 80% band
    assert np.all((arr.mean >= arr.quantile(0.1)) & (arr.mean <= arr.quantile(0.9)))
    out = pred.predict(forecast_types=["0.05", "0.5", "0.95", "mean"])
    assert list(out.columns) == ["item_id", "timestamp", "p5", "p50", "p95", "mean"]
    assert out["timestamp"].min() == panel.end_timestamps().max() + pd.Timedelta(hours=1)


def test_gaussian_noise_coverage():
    rng = np.random.default_rng(5)
    n, L, H = 10, 24 * 20, 24
    t = np.arange(L + H)
    y = 20 + 4 * np.sin(2 * np.pi * t / 24)[None, :] + rng.normal(0, 1.0, (n, L + H))
    pred = GBMEstimator(H, seed=0, **FAST).train(_panel(y[:, :L]))
    arr = pred.predict_arrays(levels=[0.1, 0.9])
    cover = np.mean((y[:, L:] >= arr.quantiles[..., 0]) & (y[:, L:] <= arr.quantiles[..., 1]))
    assert 0.65 <= cover <= 0.95, cover


def test_related_series_moves_the_forecast():
    """Demand falls with price; a higher planned price must lower the forecast."""
    _, f_low, f_high, _ = price_response(lambda H: GBMEstimator(H, seed=0, **FAST), L=140)
    assert np.mean(f_low) > 1.2 * np.mean(f_high), (np.mean(f_low), np.mean(f_high))


def test_deterministic_with_seed_and_save_load_identical(tmp_path, seasonal):
    panel, _, pred = seasonal
    again = GBMEstimator(24, seed=3, **FAST).train(panel)
    a, b = pred.predict_arrays(levels=[0.1, 0.5, 0.9]), again.predict_arrays(levels=[0.1, 0.5, 0.9])
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    np.testing.assert_array_equal(a.mean, b.mean)
    other = GBMEstimator(24, seed=4, **FAST).train(panel).predict_arrays(levels=[0.5])
    assert not np.array_equal(other.quantiles[..., 0], a.quantiles[..., 1])
    pred.save(tmp_path / "gbm")
    files = {p.name for p in (tmp_path / "gbm").iterdir()}
    assert {"gbm_direct.txt", "gbm_tables.npz"} <= files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))]
    loaded = GBMPredictor.load(tmp_path / "gbm")
    c = loaded.predict_arrays(levels=[0.1, 0.5, 0.9])
    np.testing.assert_array_equal(a.quantiles, c.quantiles)
    np.testing.assert_array_equal(a.mean, c.mean)


def test_nonnegative_clips_and_handles_gaps_short_and_cold_start():
    rng = np.random.default_rng(2)
    n, L = 8, 24 * 16
    t = np.arange(L)
    y = np.maximum(rng.poisson(1.0, (n, L)) * (1 + np.sin(2 * np.pi * t / 24))[None, :] - 0.5, 0.0)
    frame = _frame(y)
    frame.loc[frame.index[50:90], "target_value"] = np.nan  # a gap in the first series
    short = pd.DataFrame({"item_id": "short", "timestamp": pd.date_range("2024-01-16 12:00", periods=12, freq="h"),
                          "target_value": 2.0})
    late = frame[frame.item_id == "s01"].iloc[: L - 30].assign(item_id="ends_early")  # ends 30 hours earlier
    frame = pd.concat([frame, short, late], ignore_index=True)
    static = pd.DataFrame({"item_id": [*(f"s{i:02d}" for i in range(n)), "short", "ends_early", "new"],
                           "category": ["a"] * 4 + ["b"] * 4 + ["a", "b", "b"]})
    panel = Panel.from_frame(frame, ["item_id"], "target_value", "H", static=static,
                             extra_keys=pd.DataFrame({"item_id": ["new"]}))
    pred = GBMEstimator(24, seed=0, non_negative=True, **FAST).train(panel)
    assert pred.info["fallback_items"] == ["short"]
    assert pred.info["cold_start_items"] == ["new"]
    arr = pred.predict_arrays(levels=[0.05, 0.5, 0.95])
    assert np.isfinite(arr.quantiles).all() and np.isfinite(arr.mean).all()
    assert arr.quantiles.min() >= 0 and arr.mean.min() >= 0
    keys = panel.keys["item_id"].tolist()
    # the cold-start item gets the average forecast of its metadata group ("b")
    group_b = [keys.index(k) for k in ("s04", "s05", "s06", "s07", "ends_early")]
    np.testing.assert_allclose(arr.mean[keys.index("new")], arr.mean[group_b].mean(axis=0))
    # each series is forecast from its own end
    early = keys.index("ends_early")
    assert arr.start[early] == panel.end_timestamps()[early] + pd.Timedelta(hours=1)


@pytest.mark.parametrize("freq,season,H", [("D", 7, 14), ("MS", 12, 6)])
def test_daily_and_monthly(freq, season, H):
    rng = np.random.default_rng(0)
    n, L = 10, 160 if freq == "D" else 72
    t = np.arange(L + H)
    y = rng.uniform(10, 30, n)[:, None] * (1 + 0.3 * np.sin(2 * np.pi * t / season))[None, :]
    y = y * np.exp(rng.normal(0, 0.05, y.shape))
    panel = _panel(y[:, :L], freq=freq)
    pred = GBMEstimator(H, seed=0, **FAST).train(panel)
    arr = pred.predict_arrays(levels=[0.1, 0.5, 0.9])
    assert arr.quantiles.shape == (n, H, 3)
    mape = np.mean(np.abs(arr.quantiles[..., 1] - y[:, L:]) / y[:, L:])
    assert mape < 0.12, mape
    out = pred.predict()
    assert len(out) == n * H and out["timestamp"].nunique() == H


def test_strategies_registry_and_config_errors(seasonal):
    panel, test, _ = seasonal
    for strategy in ("recursive", "ensemble"):
        pred = GBMEstimator(24, strategy=strategy, **{**FAST, "num_trees": 30}).train(panel)
        arr = pred.predict_arrays(levels=[0.5])
        assert np.mean(np.abs(arr.quantiles[..., 0] - test)) < np.mean(np.abs(test - test.mean()))
    assert isinstance(make_estimator("GBM", 24), GBMEstimator)
    assert isinstance(make_estimator("CNN-QR", 24), GBMEstimator)
    with pytest.raises(ConfigError, match="strategy"):
        GBMEstimator(24, strategy="magic")
    with pytest.raises(ConfigError, match="num_trees"):
        GBMEstimator(24, num_trees=0)
    with pytest.raises(ConfigError, match="no parameter"):
        GBMEstimator(24, trees=10)


def test_gbm_l2_variant_is_its_own_candidate(seasonal, tmp_path):
    """GBM-L2: the same model with the squared-error objective, registered under its own name,
    giving different forecasts and loading back as itself."""
    from fc_core.algorithms.base import Predictor, canonical_name
    from fc_core.algorithms.gbm import GBML2Estimator

    panel, test, pred = seasonal
    est = make_estimator("gbm-l2", 24, seed=3, **FAST)
    assert isinstance(est, GBML2Estimator) and canonical_name("GBM-L2") == "GBM-L2"
    assert est.params["objective"] == "l2" and GBMEstimator.defaults["objective"] == "l1"
    l2 = est.train(panel)
    a, b = pred.predict_arrays(levels=[0.5]), l2.predict_arrays(levels=[0.5])
    assert not np.allclose(a.quantiles, b.quantiles)
    assert np.mean(np.abs(b.quantiles[..., 0] - test)) < np.mean(np.abs(test - test.mean()))
    l2.save(tmp_path / "l2")
    back = Predictor.load(tmp_path / "l2")
    assert back.name == "GBM-L2"
    np.testing.assert_array_equal(back.predict_arrays(levels=[0.5]).quantiles, b.quantiles)


@pytest.mark.parametrize("freq,names", [
    ("15min", ["minute_of_hour", "hour_of_day", "day_of_week"]), ("h", ["hour_of_day", "day_of_week"]),
    ("D", ["day_of_week", "day_of_month", "month_of_year"]), ("W-MON", ["week_of_year", "month_of_year"]),
    ("MS", ["month_of_year"]), ("QS", ["quarter_of_year"]), ("YS", [])])
def test_calendar_columns_are_the_shared_calendar_features_unscaled(freq, names):
    """GBM's calendar columns are fc_core.features.calendar_features(scaled=False) of each grid
    column's timestamp: plain hours, weekdays, ISO weeks, months, quarters (its saved trees split on those)."""
    from fc_core import features as ft
    from fc_core import frequency as fq
    from fc_core.algorithms.gbm import _Grid, _Layout

    values = np.abs(np.random.default_rng(0).normal(10, 2, (2, 30))) + 1
    panel = _panel(values, freq, start="2024-11-25").slice(stop=np.array([30, 27]))  # s01 ends 3 steps earlier
    f = fq.normalize(freq)
    grid = _Grid(panel, _Layout.make(f, GBMEstimator.defaults, m=2), horizon=5, use_log=False)
    assert grid.cal_names == names and len(set(grid.cal_code)) == 2
    off = fq.to_offset(f)
    for i, end in enumerate(panel.end_timestamps()):
        stamps = pd.DatetimeIndex([end + (c - grid.end) * off for c in range(grid.cols)])
        cal = grid.cal[grid.cal_code[i]]
        np.testing.assert_array_equal(cal, ft.calendar_features(stamps, f, names, scaled=False))
        plain = {"minute_of_hour": stamps.minute, "hour_of_day": stamps.hour, "day_of_week": stamps.dayofweek,
                 "day_of_month": stamps.day, "week_of_year": stamps.isocalendar().week, "month_of_year": stamps.month,
                 "quarter_of_year": stamps.quarter}
        for j, name in enumerate(names):
            np.testing.assert_array_equal(cal[:, j], np.asarray(plain[name], dtype=float))


def test_bags_average_their_boosters_and_save_load(tmp_path, seasonal):
    """``bags=3`` trains three direct boosters with their own seeds (the first is the unbagged model),
    forecasts with their average in model space, calibrates that average, explains it and saves it."""
    from fc_core.algorithms.gbm import _predict_x, _static_codes
    from fc_core.algorithms.gbm.features import _Grid

    panel, test, single = seasonal
    bagged = GBMEstimator(24, seed=3, bags=3, **FAST).train(panel)
    assert sorted(bagged.models) == ["direct", "direct_2", "direct_3"]
    # the first bag is the unbagged model itself; the others differ from it
    assert bagged.models["direct"].model_to_string() == single.models["direct"].model_to_string()
    assert bagged.models["direct_2"].model_to_string() != bagged.models["direct"].model_to_string()

    grid = _Grid(panel, bagged.layout, 24, bagged.use_log)
    static = _static_codes(panel, bagged.categories)
    rows = np.arange(panel.n_series)
    each = [_predict_x({"direct": b}, grid, static, rows, 1) for b in bagged.models.values()]
    both = _predict_x(bagged.models, grid, static, rows, 1)
    np.testing.assert_allclose(both, np.mean(each, axis=0), rtol=1e-12)
    assert np.abs(each[0] - each[1]).max() > 1e-3  # the bags disagree, so averaging does something

    # the median is the averaged model's own forecast (conformal errors centred per step)
    med = bagged.predict_arrays(levels=[0.5]).quantiles[..., 0]
    np.testing.assert_allclose(med, grid.inverse(both[:, :, None], rows)[..., 0], rtol=1e-6)
    mae_bag = np.mean(np.abs(med - test))
    mae_one = np.mean(np.abs(single.predict_arrays(levels=[0.5]).quantiles[..., 0] - test))
    assert mae_bag < 1.1 * mae_one, (mae_bag, mae_one)

    sv = bagged.shap_values(panel)  # TreeSHAP of the average = the average of the bags' values
    np.testing.assert_allclose(sv["x"], both, rtol=1e-6, atol=1e-8)

    bagged.save(tmp_path / "bag")
    assert {"gbm_direct.txt", "gbm_direct_2.txt", "gbm_direct_3.txt"} <= {p.name for p in (tmp_path / "bag").iterdir()}
    back = GBMPredictor.load(tmp_path / "bag")
    a, b = bagged.predict_arrays(levels=[0.1, 0.9]), back.predict_arrays(levels=[0.1, 0.9])
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    with pytest.raises(ConfigError, match="bags"):
        GBMEstimator(24, bags=0)


def test_lightgbm_import_sets_a_short_openmp_spin_unless_the_user_chose_a_wait_setting(monkeypatch):
    from fc_core.algorithms.gbm.boosting import _lightgbm

    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):  # set first, so the test's changes are undone afterwards
        monkeypatch.setenv(var, "x")
        monkeypatch.delenv(var)
    _lightgbm()
    assert os.environ["GOMP_SPINCOUNT"] == "1000" and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "20000")  # the user's spin count wins
    _lightgbm()
    assert os.environ["GOMP_SPINCOUNT"] == "20000"
    monkeypatch.delenv("GOMP_SPINCOUNT")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # so does the user's wait policy: no spin count added
    _lightgbm()
    assert "GOMP_SPINCOUNT" not in os.environ and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
