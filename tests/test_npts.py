"""NPTS: the four variants, sampling weights, missing values, determinism, parity with GluonTS."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import parallel
from fc_core.algorithms import npts
from fc_core.algorithms.base import Predictor, make_estimator
from fc_core.algorithms.npts import NPTSEstimator, npts_sample, season_feature
from fc_core.errors import ConfigError
from fc_core.panel import Panel

FT = ["0.025", "0.1", "0.5", "0.9", "0.975", "mean"]


def panel_of(series: dict, freq="H", start="2024-01-01"):
    frames = [pd.DataFrame({"item_id": k, "timestamp": pd.date_range(start, periods=len(v), freq=freq.lower()
                                                                      if freq == "H" else freq),
                            "target_value": np.asarray(v, float)}) for k, v in series.items()]
    return Panel.from_frame(pd.concat(frames), ["item_id"], "target_value", freq)


def test_seasonal_npts_draws_values_of_the_same_hour():
    y = np.tile([10.0, 0.0], 24 * 5)  # 10 at even hours, 0 at odd hours (start 00:00)
    p = panel_of({"a": y})
    f = NPTSEstimator(24).train(p).predict(forecast_types=FT)
    hours = f["timestamp"].dt.hour.to_numpy()
    even = hours % 2 == 0
    np.testing.assert_allclose(f.loc[even, "mean"], 10.0)
    np.testing.assert_allclose(f.loc[~even, "mean"], 0.0)
    # the non-seasonal NPTS mixes both values
    g = NPTSEstimator(24, use_seasonal_model=False).train(p).predict(forecast_types=FT)
    assert 3.0 < g["mean"].mean() < 7.0
    assert set(np.unique(g[["p2.5", "p97.5"]].to_numpy())) <= {0.0, 10.0}


def test_climatological_ignores_recency_and_npts_prefers_recent_values():
    y = np.r_[np.zeros(100), np.full(100, 100.0)]
    p = panel_of({"a": y}, freq="D")
    clim = NPTSEstimator(1, kernel_type="uniform", use_seasonal_model=False, num_samples=4000).train(p)
    m_clim = clim.predict()["mean"].iloc[0]
    assert abs(m_clim - 50.0) < 4.0
    # exponential kernel: P(draw from the recent half) = sum of exp(-lambda (T - t) / (L + H - 1)) over it
    for lam in (1.0, 20.0):
        est = NPTSEstimator(1, use_seasonal_model=False, exp_kernel_weights=lam, num_samples=4000)
        m = est.train(p).predict()["mean"].iloc[0]
        w = np.exp(-lam * (200 - np.arange(200)) / 200)
        expected = 100.0 * w[100:].sum() / w.sum()
        assert abs(m - expected) < 3.0, (lam, m, expected)
        assert m > m_clim + 8


def test_seasonal_climatological_weighs_all_same_hour_values_equally():
    # value at hour 0 of day d is d (0..9); other hours are -1
    days = 10
    y = np.full(24 * days, -1.0)
    y[::24] = np.arange(days)
    p = panel_of({"a": y})
    est = NPTSEstimator(24, kernel_type="uniform", num_samples=4000)
    f = est.train(p).predict(forecast_types=FT)
    first = f.iloc[0]  # 00:00 of the next day
    assert abs(first["mean"] - 4.5) < 0.3 and first["p2.5"] == 0.0 and first["p97.5"] == 9.0
    assert (f["mean"].iloc[1:] == -1.0).all()


def test_daily_data_uses_the_day_of_week():
    y = np.tile([1.0, 1.0, 1.0, 1.0, 1.0, 50.0, 50.0], 12)  # weekends (Sat, Sun) high; 2024-01-01 is a Monday
    f = NPTSEstimator(7).train(panel_of({"a": y}, freq="D")).predict()
    np.testing.assert_allclose(f["p50"], [1, 1, 1, 1, 1, 50, 50])
    codes, num = season_feature(pd.date_range("2024-01-01", periods=3, freq="D"), "D")
    assert codes.tolist() == [0, 1, 2] and num == 7


def test_missing_values_are_never_drawn_and_empty_series_fall_back():
    y = np.tile([5.0, 7.0], 60)
    y[::3] = np.nan
    p = panel_of({"gappy": y, "all_nan": np.full(50, np.nan), "ok": np.arange(48.0)})
    with pytest.warns(UserWarning, match="seasonal naive"):
        f = NPTSEstimator(12, num_samples=200).train(p).predict(forecast_types=FT)
    assert np.isfinite(f[["p2.5", "p50", "p97.5", "mean"]].to_numpy()).all()
    g = f[f.item_id == "gappy"]
    assert set(np.unique(g[["p2.5", "p50", "p97.5"]].to_numpy())) <= {5.0, 7.0}
    # no observed value: a cold start from the other items (issue 13), never a silent 0
    others = np.mean([f[f.item_id == k]["mean"].to_numpy() for k in ("gappy", "ok")], axis=0)  # step by step
    np.testing.assert_allclose(f[f.item_id == "all_nan"]["mean"].to_numpy(), others)
    assert (f[f.item_id == "all_nan"]["mean"] > 0).all()


def test_sampler_with_an_all_missing_season_draws_any_observed_value():
    Y = np.array([[1.0, np.nan, 2.0, np.nan]])  # hour codes 0,1,0,1: hour 1 never observed
    codes = np.array([[0, 1, 0, 1, 0, 1]])
    U = np.random.default_rng(0).random((1, 2, 500))
    paths = npts_sample(Y, np.array([4]), codes, 2, 2, U)
    assert set(np.unique(paths[0, :, 0])) <= {1.0, 2.0}          # hour 0: observed values
    assert set(np.unique(paths[0, :, 1])) <= {1.0, 2.0}          # hour 1: falls back to observed ones


def test_quantiles_ordered_nonnegative_and_requested_levels():
    rng = np.random.default_rng(0)
    p = panel_of({"a": rng.normal(0, 5, 200), "b": rng.poisson(2, 200)})
    est = NPTSEstimator(24, non_negative=True, forecast_types=FT)
    f = est.train(p).predict()
    q = f[["p2.5", "p10", "p50", "p90", "p97.5"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all() and (f["mean"] >= 0).all()
    free = NPTSEstimator(24).train(p).predict(forecast_types=["0.025"])
    assert (free["p2.5"] < 0).any()


def test_same_seed_same_numbers_everywhere_and_other_seed_differs(monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    p = panel_of({f"s{i}": rng.poisson(3, 100 + 10 * i) for i in range(7)})
    pred = NPTSEstimator(24, seed=7).train(p)
    a = pred.predict(forecast_types=FT)
    pd.testing.assert_frame_equal(NPTSEstimator(24, seed=7).train(p).predict(forecast_types=FT), a)
    assert not NPTSEstimator(24, seed=8).train(p).predict(forecast_types=FT).equals(a)
    # a series gets the same numbers on its own
    alone = pred.predict(forecast_types=FT, items=["s3"])
    np.testing.assert_array_equal(alone["mean"].to_numpy(), a[a.item_id == "s3"]["mean"].to_numpy())
    # ... and when the work is split over processes
    monkeypatch.setattr(npts, "CHUNK", 2)
    with parallel.options(n_jobs=2, inline_below=1):
        split = pred.predict(forecast_types=FT)
    pd.testing.assert_frame_equal(split, a)
    # save / load
    pred.save(tmp_path / "npts")
    pd.testing.assert_frame_equal(Predictor.load(tmp_path / "npts").predict(forecast_types=FT), a)


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError, match="kernel_type"):
        NPTSEstimator(5, kernel_type="gaussian")
    with pytest.raises(ConfigError, match="exp_kernel_weights"):
        NPTSEstimator(5, exp_kernel_weights=0)
    with pytest.raises(ConfigError, match="num_samples"):
        NPTSEstimator(5, num_samples=0)
    with pytest.raises(ConfigError, match="context_length"):
        make_estimator("NPTS", 5, context_length=-3)


def _wql(y, q, taus):
    out = []
    for j, t in enumerate(taus):
        d = y - q[..., j]
        out.append(2 * np.sum(np.maximum(t * d, (t - 1) * d)) / np.sum(np.abs(y)))
    return float(np.mean(out))


def test_accuracy_matches_gluonts_npts_on_sparse_series():
    gl = pytest.importorskip("gluonts.model.npts")
    from gluonts.dataset.common import ListDataset

    rng = np.random.default_rng(5)
    n, L, H = 30, 24 * 12, 24
    hour = np.arange(L + H) % 24
    rate = 0.3 + 2.0 * (hour >= 8) * (hour < 18)
    Y = rng.poisson(rate * rng.uniform(0.5, 2.0, (n, 1)))  # sparse, spiky counts with a daily shape
    p = panel_of({f"s{i:02d}": Y[i, :L] for i in range(n)})
    taus = [0.1, 0.5, 0.9]
    ours = NPTSEstimator(H, num_samples=400).train(p).predict_arrays(levels=taus)
    np.random.seed(0)
    ds = ListDataset([{"start": pd.Period("2024-01-01 00:00", "h"), "target": Y[i, :L].astype(float)}
                      for i in range(n)], freq="h")
    fcs = list(gl.NPTSPredictor(prediction_length=H).predict(ds, num_samples=400))
    theirs = np.stack([np.stack([f.quantile(t) for t in taus], axis=-1) for f in fcs])
    truth = Y[:, L:].astype(float)
    w_ours, w_theirs = _wql(truth, ours.quantiles, taus), _wql(truth, theirs, taus)
    assert abs(w_ours - w_theirs) / w_theirs < 0.05, (w_ours, w_theirs)
    # and the two agree forecast by forecast on the median
    assert np.mean(ours.quantiles[..., 1] == theirs[..., 1]) > 0.8
