"""ETS, ARIMA, Theta and MSTL: accuracy on clean seasonal data, quantiles, fallbacks, determinism, save/load."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core import parallel
from fc_core.algorithms.base import make_estimator
from fc_core.algorithms.local import clean_series, interval_levels, level_of, quantiles_from_intervals
from fc_core.errors import ConfigError
from fc_core.panel import Panel

FT = ["0.025", "0.1", "0.5", "0.9", "0.975", "mean"]
QCOLS = ["p2.5", "p10", "p50", "p90", "p97.5"]


def truth(t, i, season=24):
    return 10.0 * (1 + i) + 3.0 * np.sin(2 * np.pi * t / season)


def seasonal_panel(n=3, length=24 * 10, freq="h", season=24, noise=0.1, seed=0, horizon=24):
    """Clean seasonal series; returns the panel and the noise-free future (n, horizon)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    frames = [pd.DataFrame({"item_id": f"item_{i}", "timestamp": pd.date_range("2024-01-01", periods=length, freq=freq),
                            "target_value": truth(t, i, season) + rng.normal(0, noise, length)}) for i in range(n)]
    fut = np.stack([truth(np.arange(length, length + horizon), i, season) for i in range(n)])
    return Panel.from_frame(pd.concat(frames), ["item_id"], "target_value", "H" if freq == "h" else "D"), fut


@pytest.fixture(scope="module")
def hourly():
    return seasonal_panel()


@pytest.fixture(scope="module")
def fitted(hourly):
    """Predictor and forecast frame per algorithm on ``hourly``, computed once (local fits are slow)."""
    cache = {}

    def get(name):
        if name not in cache:
            pred = make_estimator(name, 24, frequency="H").train(hourly[0])
            cache[name] = (pred, pred.predict(forecast_types=FT))
        return cache[name]
    return get


# ------------------------------------------------------------- helpers
def test_levels_and_quantiles_from_intervals():
    assert [level_of(t) for t in (0.025, 0.1, 0.5, 0.9, 0.975)] == [95, 80, 0, 80, 95]
    assert interval_levels(np.array([0.025, 0.5, 0.975, 0.9])) == [80, 95]
    out = {"mean": np.array([1.0, 2.0]), "lo-80": np.array([0.0, 1.0]), "hi-80": np.array([2.0, 3.0])}
    q = quantiles_from_intervals(out, np.array([0.1, 0.5, 0.9]))
    np.testing.assert_array_equal(q, [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]])


def test_clean_series_interpolates_and_trims():
    y, skip = clean_series(np.array([np.nan, 2.0, np.nan, np.nan, 5.0, np.nan, np.nan]))
    np.testing.assert_allclose(y, [2, 3, 4, 5])
    assert skip == 2
    assert clean_series(np.array([np.nan])) is None


# ------------------------------------------------------------- accuracy
@pytest.mark.parametrize("name, tol", [("ETS", 0.3), ("ARIMA", 0.3), ("Theta", 0.3), ("MSTL", 0.3)])
def test_clean_seasonal_series_is_forecast_well(hourly, fitted, name, tol):
    panel, fut = hourly
    pred, f = fitted(name)
    assert list(f.columns) == ["item_id", "timestamp", *QCOLS, "mean"]
    assert f["timestamp"].iloc[0] == pd.Timestamp("2024-01-11 00:00")
    p50 = f["p50"].to_numpy().reshape(3, 24)
    mae = np.abs(p50 - fut).mean()
    assert mae < tol, f"{name}: MAE {mae:.3f} against the noise-free truth"
    # a naive forecast would be off by the season's amplitude (~1.9 on average)
    assert np.abs(np.repeat(panel.padded()[:, -1:], 24, axis=1) - fut).mean() > 1.5
    q = f[QCOLS].to_numpy()
    assert np.all(np.diff(q, axis=1) > 0), "quantiles must be strictly ordered on noisy data"
    if name != "Theta":  # statsforecast's Theta intervals are not Gaussian
        # Gaussian intervals: the 95 % half-width is 1.96 / 1.2816 times the 80 % one
        ratio = (f["p97.5"] - f["p50"]) / (f["p90"] - f["p50"])
        np.testing.assert_allclose(ratio, 1.959964 / 1.281552, rtol=1e-3)
    # the 95 % interval is wider than the noise (sd 0.1) but not absurdly so
    width = (f["p97.5"] - f["p2.5"]).to_numpy()
    assert 0.2 < np.median(width) < 3.0
    assert pred.info["fallback_items"] == []


def test_any_quantile_level_and_interpolation(fitted):
    pred, _ = fitted("MSTL")
    arr = pred.predict_arrays(levels=[0.01, 0.3, 0.5, 0.7, 0.99], horizon=12)
    assert arr.quantiles.shape == (3, 12, 5)
    # symmetric: 0.3 and 0.7 mirror around the median
    np.testing.assert_allclose(arr.quantiles[..., 1] + arr.quantiles[..., 3], 2 * arr.quantiles[..., 2], rtol=1e-9)
    np.testing.assert_allclose(arr.quantiles[..., 2], arr.mean)
    f = pred.predict(forecast_types=["0.05", "0.95"])
    assert list(f.columns[-2:]) == ["p5", "p95"] and (f["p5"] < f["p95"]).all()


def test_statsmodels_engine_for_ets_and_arima():
    panel, fut = seasonal_panel(n=2, length=7 * 12, freq="D", season=7, horizon=7)
    for name in ("ETS", "ARIMA"):
        pred = make_estimator(name, 7, frequency="D", engine="statsmodels").train(panel)
        f = pred.predict(forecast_types=FT)
        p50 = f["p50"].to_numpy().reshape(2, 7)
        assert np.abs(p50 - fut).mean() < 0.3, name
        assert np.all(np.diff(f[QCOLS].to_numpy(), axis=1) > 0)
        assert pred.info["fallback_items"] == []


# ------------------------------------------------------------- data problems
def _broken_panel():
    t = np.arange(24 * 6)
    good = pd.DataFrame({"item_id": "good", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                         "target_value": 5 + np.sin(2 * np.pi * t / 24) + np.random.default_rng(3).normal(0, 0.05, len(t))})
    gappy = good.assign(item_id="gappy")
    gappy.loc[gappy.index[20:26], "target_value"] = np.nan
    gappy.loc[gappy.index[-3:], "target_value"] = np.nan
    nan = good.assign(item_id="all_nan", target_value=np.nan)
    one = pd.DataFrame({"item_id": ["one"], "timestamp": [good["timestamp"].iloc[-1]], "target_value": [7.0]})
    short = good.iloc[-30:].assign(item_id="short")  # 30 hours: not two seasons
    return Panel.from_frame(pd.concat([good, gappy, nan, one, short]), ["item_id"], "target_value", "H")


@pytest.mark.parametrize("name", ["ETS", "ARIMA", "Theta", "MSTL"])
def test_broken_series_fall_back_to_seasonal_naive_and_the_run_survives(name):
    panel = _broken_panel()
    pred = make_estimator(name, 6, frequency="H").train(panel)
    with pytest.warns(UserWarning, match="seasonal naive"):
        f = pred.predict(forecast_types=FT)
    assert sorted(pred.info["fallback_items"]) == ["all_nan", "one"]
    assert set(pred.info["fallback_reasons"]) == {"all_nan", "one"}
    assert np.isfinite(f[QCOLS + ["mean"]].to_numpy()).all()
    by = {k: g["p50"].to_numpy() for k, g in f.groupby("item_id")}
    np.testing.assert_allclose(by["one"], 7.0)   # seasonal naive of a single value
    # no observed value: a cold start (the average of the other items' forecasts), never a silent 0
    others = f[f.item_id != "all_nan"].groupby("timestamp")["p50"].mean().to_numpy()
    np.testing.assert_allclose(by["all_nan"], others)
    assert pred.info["fallback_reasons"]["all_nan"] == "no history"
    # gaps inside a series are interpolated, not a reason to give up
    expected = 5 + np.sin(2 * np.pi * np.arange(144, 150) / 24)
    assert np.abs(by["gappy"] - expected).max() < 0.4
    assert np.abs(by["good"] - expected).max() < 0.3


def test_nonnegative_clips_at_zero():
    t = np.arange(60)
    df = pd.DataFrame({"item_id": "down", "timestamp": pd.date_range("2024-01-01", periods=60, freq="D"),
                       "target_value": 30.0 - 0.5 * t + np.random.default_rng(1).normal(0, 0.2, 60)})
    panel = Panel.from_frame(df, ["item_id"], "target_value", "D")
    free = make_estimator("ETS", 30, frequency="D", season_length=1, non_negative=False).train(panel).predict(
        forecast_types=FT)
    assert (free["p50"] < 0).any() and (free["p2.5"] < 0).any()
    clipped = make_estimator("ETS", 30, frequency="D", season_length=1, non_negative=True).train(panel)
    f = clipped.predict(forecast_types=FT)
    assert (f[QCOLS + ["mean"]].to_numpy() >= 0).all()
    assert (f["p50"] == 0).any()


# ------------------------------------------------------------- determinism, artifacts
def test_same_numbers_across_runs_and_n_jobs(fitted):
    pred, f = fitted("ETS")  # forecast on the process pool
    with parallel.options(n_jobs=1):
        again = pred.predict(forecast_types=FT)
    pd.testing.assert_frame_equal(again, f, check_exact=True)


@pytest.mark.parametrize("name", ["Theta", "MSTL"])
def test_save_load_round_trip_gives_identical_forecasts(fitted, tmp_path, name):
    from fc_core.algorithms.base import Predictor

    pred, before = fitted(name)
    pred.save(tmp_path / "p")
    loaded = Predictor.load(tmp_path / "p")
    assert type(loaded) is type(pred) and loaded.estimator.params == pred.estimator.params
    pd.testing.assert_frame_equal(loaded.predict(forecast_types=FT), before)


def test_mstl_uses_the_weekly_season():
    """Hourly data with a weekend effect: MSTL(24, 168) sees it, a daily-season ETS cannot."""
    n = 24 * 7 * 5
    t = np.arange(n + 48)
    weekend = ((t // 24) % 7 >= 5) * 6.0
    y = 20 + 3 * np.sin(2 * np.pi * t / 24) + weekend + np.random.default_rng(0).normal(0, 0.1, len(t))
    start = pd.Timestamp("2024-01-01")  # a Monday: hours 120..167 of each week are the weekend
    df = pd.DataFrame({"item_id": "w", "timestamp": pd.date_range(start, periods=n, freq="h"), "target_value": y[:n]})
    panel = Panel.from_frame(df, ["item_id"], "target_value", "H")
    fut = y[n:]  # a Monday and Tuesday after a weekend
    mstl = make_estimator("MSTL", 48, frequency="H").train(panel).predict()["p50"].to_numpy()
    ets = make_estimator("ETS", 48, frequency="H").train(panel).predict()["p50"].to_numpy()
    assert np.abs(mstl - fut).mean() < 0.5
    assert np.abs(ets - fut).mean() > 2 * np.abs(mstl - fut).mean()


def test_arima_fourier_terms_for_long_seasons():
    from fc_core.algorithms.arima import _terms

    spec = {"season_length": 24, "seasonalities": [24, 168],
            "params": {"max_seasonal_period": 24, "extra_seasonalities": True, "fourier_terms": 3}}
    assert _terms(np.zeros(400), spec) == (24, [168])
    assert _terms(np.zeros(300), spec) == (24, [])       # fewer than two weeks
    assert _terms(np.zeros(40), spec) == (1, [])         # fewer than two days: non-seasonal
    spec60 = dict(spec, season_length=60, seasonalities=[60, 1440])
    assert _terms(np.zeros(500), spec60) == (1, [60])    # too long for seasonal ARIMA


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError, match="engine"):
        make_estimator("ETS", 5, engine="R")
    with pytest.raises(ConfigError, match="ETS model"):
        make_estimator("ETS", 5, model="XYZ")
    with pytest.raises(ConfigError, match="season_lengths"):
        make_estimator("MSTL", 5, season_lengths=[1])
    with pytest.raises(ConfigError, match="no parameter"):
        make_estimator("ARIMA", 5, order=(1, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_estimator("Theta", 5, decomposition_type="additive")
