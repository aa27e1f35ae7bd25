"""Level shifts: detection on series with a known answer, no shifts where there are none, and the
history choice that lets local models follow a new level."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core import changepoints as cp
from fc_core import demo
from fc_core.algorithms.base import make_estimator
from fc_core.automl import AutoPredictor
from fc_core.datasets import DatasetGroup
from fc_core.errors import ConfigError
from fc_core.panel import Panel

H = 24
T = 24 * 38  # 2024-01-01 (Monday) .. 2024-02-07 (Wednesday)


def _hourly(ys: dict, start="2024-01-01") -> Panel:
    parts = [pd.DataFrame({"item_id": k, "timestamp": pd.date_range(start, periods=len(y), freq="h"),
                           "target_value": y}) for k, y in ys.items()]
    return Panel.from_frame(pd.concat(parts), ["item_id"], "target_value", "H")


def _shifted(factor=1.5, dist=48, noise=0.1, seed=0, weekly=True):
    """Hourly daily (+ weekly) pattern; the level is multiplied by ``factor`` ``dist`` hours before
    the end. Returns the noisy history and the noise-free truth over history + horizon."""
    t = np.arange(T + H)
    level = np.full(T + H, 100.0)
    level[T - dist:] *= factor
    truth = level * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * (np.where((t // 24) % 7 >= 5, 0.7, 1.0) if weekly else 1)
    y = truth[:T] * (1 + np.random.default_rng(seed).normal(0, noise, T))
    return y, truth


def test_detects_a_known_shift_with_its_levels():
    y, _ = _shifted(factor=1.5, dist=48, noise=0.05)
    y2, _ = _shifted(factor=0.6, dist=200, noise=0.05, seed=1)
    out = cp.detect_shifts(_hourly({"up": y, "down": y2})).set_index("item_id")
    assert list(out.index) == ["down", "up"]
    assert abs(out.loc["up", "position"] - (T - 48)) <= 1
    assert out.loc["up", "timestamp"] == pd.Timestamp("2024-02-06 00:00")
    assert out.loc["up", "after_level"] / out.loc["up", "before_level"] == pytest.approx(1.5, rel=0.05)
    assert abs(out.loc["down", "position"] - (T - 200)) <= 1
    assert out.loc["down", "relative_change"] == pytest.approx(-0.4, abs=0.03)
    assert out["multiplicative"].all()


def test_no_shift_where_there_is_none():
    t = np.arange(24 * 35)
    base = 100 * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * np.where((t // 24) % 7 >= 5, 0.7, 1.0)
    ys = {}
    for s in range(6):
        r = np.random.default_rng(10 + s)
        ys[f"noise_{s}"] = base * (1 + r.normal(0, 0.05, len(t)))
        ys[f"trend_{s}"] = base * np.exp(0.0004 * t) * (1 + r.normal(0, 0.05, len(t)))  # +40 % steadily
        ys[f"count_{s}"] = r.poisson(base / 20).astype(float)  # low counts with zeros: additive scale
    assert len(cp.detect_shifts(_hourly(ys))) == 0
    # slow AR(1) drift of the demo electricity data is not a shift either
    assert len(cp.detect_shifts(demo.load("electricity", n_items=8))) <= 1


def test_detects_the_demo_capacity_shift_in_every_series():
    dg = demo.load("ec2_capacity", shift_at=24 * 20)
    out = cp.detect_shifts(dg)
    assert len(out) == 5 and (out["position"] == 24 * 20).all()
    assert out["relative_change"].between(0.4, 0.6).all()


def test_daily_data_with_weekly_and_yearly_seasons():
    t = np.arange(365 * 3)
    y = 100 * (1 + 0.2 * np.sin(2 * np.pi * t / 365.25)) * (1 + 0.1 * np.sin(2 * np.pi * t / 7))
    y = y * (1 + np.random.default_rng(3).normal(0, 0.05, len(t)))
    y[-60:] *= 1.4
    df = pd.DataFrame({"item_id": "d", "timestamp": pd.date_range("2021-01-01", periods=len(t), freq="D"),
                       "target_value": y})
    out = cp.detect_shifts(Panel.from_frame(df, ["item_id"], "target_value", "D"))
    assert len(out) == 1 and abs(out["position"].iloc[0] - (len(t) - 60)) <= 1


def test_arrays_and_series_and_settings():
    y = np.r_[np.full(50, 5.0), np.full(50, -5.0)] + np.random.default_rng(0).normal(0, 0.5, 100)
    a = cp.detect_shifts(y)
    assert len(a) == 1 and a["position"].iloc[0] == 50 and pd.isna(a["timestamp"].iloc[0])
    assert not a["multiplicative"].iloc[0] and a["after_level"].iloc[0] == pytest.approx(-5, abs=0.5)
    s = pd.Series(y, index=pd.date_range("2024-01-01", periods=100, freq="D"), name="x")
    b = cp.detect_shifts(s)
    assert b["timestamp"].iloc[0] == pd.Timestamp("2024-02-20") and b["series"].iloc[0] == "x"
    assert len(cp.detect_shifts(y, max_shifts=0)) == 0
    assert len(cp.detect_shifts(y, min_change=100.0)) == 0
    with pytest.raises(ConfigError):
        cp.detect_shifts(y, min_size=0)
    with pytest.raises(ConfigError):
        cp.HistoryPolicy("newest")
    with pytest.raises(ConfigError):
        AutoPredictor(H, algorithms=["Naive"], history="sometimes")


def test_history_since_shift_keeps_whole_seasons_at_the_new_level():
    y, _ = _shifted(factor=2.0, dist=48, noise=0.0)
    p = _hourly({"s": y, "flat": _shifted(factor=1.0, noise=0.0)[0]})
    rows, short = cp.history_since_shift(p)
    assert rows.tolist() == [1]  # "flat" has no shift (items are sorted: flat, s)
    assert cp.default_min_history("H") == 336 and short.lengths.tolist() == [336]
    assert short.starts[0] == p.starts[1] + pd.Timedelta(hours=T - 336)
    # the 288 steps before the shift are doubled: the kept history is the new level throughout
    np.testing.assert_allclose(short.series(0)[:288], 2 * y[T - 336:T - 48], rtol=0.02)
    np.testing.assert_allclose(short.series(0)[288:], y[T - 48:])
    long_enough = cp.history_since_shift(p, min_history=24)[1]
    assert long_enough.lengths.tolist() == [48]  # only the data since the shift


def test_since_shift_follows_the_new_level_where_whole_history_models_lag():
    """The proof: a x2 shift 48 hours before the end. Seasonal naive with the weekly season and
    Prophet on the whole history miss the new level by more than 10 %; with history="auto" the
    backtest picks the history since the shift and the median is within 10 % of the new level."""
    y, truth = _shifted(factor=2.0, dist=48, noise=0.1, seed=0)
    df = pd.DataFrame({"item_id": "x", "timestamp": pd.date_range("2024-01-01", periods=T, freq="h"),
                       "target_value": y})
    dg = DatasetGroup(target=df, frequency="H")
    future = truth[T:].mean()

    def ratio(forecast):
        return forecast["p50"].mean() / future

    params = {"SeasonalNaive": {"season_length": 168}, "Prophet": {"n_jobs": 1}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = {a: ratio(make_estimator(a, H, **params[a]).train(dg).predict()) for a in params}
        auto = AutoPredictor(H, algorithms=["SeasonalNaive", "Prophet"], history="auto", algorithm_params=params,
                             keep_all_candidates=True).train(dg, progress=False)
    assert whole["SeasonalNaive"] < 0.75 and whole["Prophet"] < 0.9
    assert abs(ratio(auto.forecast().frame) - 1) < 0.1
    for a in params:
        assert abs(ratio(auto.candidate_forecast(a).frame) - 1) < 0.1
    ch = auto.history_choice_
    assert ch[["SeasonalNaive", "Prophet"]].iloc[0].tolist() == ["since_shift", "since_shift"]
    assert ch["last_shift"].iloc[0] == pd.Timestamp("2024-02-06 00:00")


def test_history_modes_and_save_load(tmp_path):
    y, truth = _shifted(factor=1.5, dist=48, noise=0.05, seed=2)
    flat, _ = _shifted(factor=1.0, noise=0.05, seed=3)
    df = pd.concat([pd.DataFrame({"item_id": k, "timestamp": pd.date_range("2024-01-01", periods=T, freq="h"),
                                  "target_value": v}) for k, v in {"a_flat": flat, "b_shift": y}.items()])
    dg = DatasetGroup(target=df, frequency="H")
    kw = dict(algorithms=["SeasonalNaive"], algorithm_params={"SeasonalNaive": {"season_length": 168}})
    f_all = AutoPredictor(H, **kw).train(dg, progress=False).forecast().frame
    ap = AutoPredictor(H, history="since_shift", **kw).train(dg, progress=False)
    f_since = ap.forecast().frame
    a_all, a_since = (f[f["item_id"] == "a_flat"]["p50"].to_numpy() for f in (f_all, f_since))
    np.testing.assert_array_equal(a_all, a_since)  # no shift: untouched
    b_all, b_since = (f[f["item_id"] == "b_shift"]["p50"].mean() for f in (f_all, f_since))
    assert b_all / truth[T:].mean() < 0.8 and abs(b_since / truth[T:].mean() - 1) < 0.1
    assert ap.history_choice_.set_index("item_id")["SeasonalNaive"].to_dict() == {"a_flat": "since_shift",
                                                                                   "b_shift": "since_shift"}
    ap.save(tmp_path / "ap")
    back = AutoPredictor.load(tmp_path / "ap")
    assert back.history == "since_shift"
    pd.testing.assert_frame_equal(back.forecast().frame, f_since)
