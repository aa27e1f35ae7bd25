"""The forecast guard (issue 13): finite, plausible, non-negative forecasts; every fallback said."""
import warnings

import numpy as np
import pandas as pd
import pytest

import toy_estimators  # noqa: F401  (registers the toy estimators)
from fc_core.algorithms.base import Capabilities, Estimator, ForecastArrays, Predictor, make_estimator, register
from fc_core.automl import AutoPredictor
from fc_core.panel import Panel


def _monthly(n_items=6, length=24, seed=0, level=100.0, noise=0.4):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        t = np.arange(length)
        y = level * (1 + i / 10) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * (1 + noise * rng.standard_normal(length))
        rows.append(pd.DataFrame({"item_id": f"item_{i}", "timestamp": pd.date_range("2020-01-01", periods=length,
                                                                                   freq="MS"),
                                  "target_value": np.maximum(y, 0.0)}))
    return pd.concat(rows, ignore_index=True)


def _panel(df, freq="M"):
    return Panel.from_frame(df, ["item_id"], "target_value", freq)


class _WildPredictor(Predictor):
    """Seasonal-naive-like forecasts, except item 0 gets inf and item 1 gets 1e9."""

    def _forecast(self, panel, horizon, levels, progress=False):
        n = panel.n_series
        last = np.array([np.nanmean(panel.series(i)[-3:]) for i in range(n)])
        point = np.repeat(last[:, None], horizon, axis=1)
        point[0, 2] = np.inf
        point[1, :] = 1e9
        q = point[:, :, None] + np.array([-5.0, 0.0, 5.0])[None, None, :len(levels)]
        return ForecastArrays(np.asarray(levels), q, point, panel.forecast_starts())


class _WildEstimator(Estimator):
    name = "Wild"
    capabilities = Capabilities(local=True)
    defaults = {}
    predictor_class = _WildPredictor


register("Wild", "test_guard:_WildEstimator")


def test_guard_replaces_inf_and_absurd_values_with_the_fallback_and_counts_them():
    p = _panel(_monthly())
    pred = _WildEstimator(6).train(p)
    with pytest.warns(UserWarning, match="forecast guard"):
        out = pred.predict(forecast_types=["0.1", "0.5", "0.9", "mean"])
    vals = out[["p10", "p50", "p90", "mean"]].to_numpy()
    assert np.isfinite(vals).all()
    biggest = p.values.max()
    assert vals.max() <= 20 * biggest
    s = pred.info["fallback_summary"]
    assert s["fallback_items"] == 2
    assert s["reasons"] == {"guard: not finite": 1, "guard: implausible": 1}
    assert pred.info["fallback_reasons"] == {"item_0": "guard: not finite", "item_1": "guard: implausible"}
    # the fallback is seasonal naive (season 12 for monthly data): the value a year before
    sn = make_estimator("SeasonalNaive", 6).train(p).predict()
    got = out[out.item_id == "item_0"]["p50"].to_numpy()
    assert np.allclose(got, sn[sn.item_id == "item_0"]["p50"].to_numpy())
    # untouched items keep their own forecast
    assert np.allclose(out[out.item_id == "item_2"]["mean"], np.nanmean(p.series(2)[-3:]))


def test_gbm_back_transform_cannot_overflow():
    from fc_core.algorithms import gbm

    p = _panel(_monthly(length=30))
    est = gbm.GBMEstimator(3, num_trees=5, calibration_windows=0)
    pred = est.train(p)
    grid = gbm._Grid(p, pred.layout, 3, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "overflow encountered in expm1" fails the test
        x = grid.inverse(np.full((p.n_series, 3), 1000.0), np.arange(p.n_series))
    assert np.isfinite(x).all()


def test_gbm_fallback_on_short_history_is_counted_with_its_reason():
    df = _monthly(n_items=12, length=30)  # 1 short item of 12: under the 10% that makes GBM adapt
    df = df[~((df.item_id == "item_0") & (df.timestamp < "2021-12-01"))]  # 7 months: too short for GBM
    p = _panel(df)
    pred = make_estimator("GBM", 3, num_trees=20, calibration_windows=0).train(p)
    pred.predict_arrays()
    from fc_core.algorithms.guard import fallback_text

    s = pred.info["fallback_summary"]
    assert s["reasons"].get("history too short") == 1
    assert pred.info["fallback_reasons"]["item_0"] == "history too short"
    assert "GBM: fallback" in fallback_text(s, "GBM") and "history too short 1" in fallback_text(s, "GBM")


def test_non_negative_by_default_where_the_history_is_never_negative():
    rng = np.random.default_rng(3)
    df = _monthly(n_items=4, length=36, level=5.0, noise=1.5)  # small counts with big swings: raw p10 < 0
    neg = df.item_id == "item_3"
    df.loc[neg, "target_value"] = rng.normal(0, 5, neg.sum())  # this item has negative history
    p = _panel(df)
    for name in ("SeasonalNaive", "ETS"):
        out = make_estimator(name, 6).train(p).predict()
        keep = out.item_id != "item_3"
        assert (out.loc[keep, ["p10", "p50", "p90", "mean"]] >= 0).all().all(), name
        assert (out.loc[~keep, "p10"] < 0).any(), name  # negative history: not clipped
        raw = make_estimator(name, 6, non_negative=False).train(p).predict()
        assert (raw.loc[raw.item_id != "item_3", "p10"] < 0).any(), name  # the setting turns it off
    forced = make_estimator("SeasonalNaive", 6, non_negative=True).train(p).predict()
    assert (forced["p10"] >= 0).all()


def test_auto_predictor_blend_is_non_negative_and_setting_reaches_candidates():
    rng = np.random.default_rng(3)
    df = _monthly(n_items=4, length=36, level=5.0, noise=1.5)
    p = _panel(df)
    ap = AutoPredictor(6, algorithms=["SeasonalNaive", "Naive"], item_selection=False).train(p, progress=False)
    fc = ap.forecast().frame
    assert (fc[["p10", "p50", "p90", "mean"]] >= 0).all().all()
    off = AutoPredictor(6, algorithms=["SeasonalNaive", "Naive"], item_selection=False,
                        non_negative=False).train(p, progress=False)
    assert (off.forecast().frame["p10"] < 0).any()
    del rng


def test_all_missing_item_is_reported_and_forecast_as_cold_start_not_zero():
    df = _monthly(n_items=4, length=24)
    df.loc[df.item_id == "item_3", "target_value"] = np.nan
    p = _panel(df)
    for name in ("SeasonalNaive", "ETS"):
        pred = make_estimator(name, 6).train(p)
        with pytest.warns(UserWarning, match="all missing"):
            out = pred.predict()
        cold = out[out.item_id == "item_3"]
        assert (cold["p50"] > 0).all(), name  # never a silent 0
        others = out[out.item_id != "item_3"].groupby("timestamp")["p50"].mean().to_numpy()
        assert np.allclose(cold["p50"].to_numpy(), others), name  # the average of the other items
        assert pred.info["fallback_reasons"]["item_3"] == "no history"
        assert pred.info["fallback_summary"]["all_missing_items"] == 1


def test_all_missing_items_counted_in_the_dataset_summary():
    from fc_core.datasets import DatasetGroup

    df = _monthly(n_items=4, length=24)
    df.loc[df.item_id == "item_3", "target_value"] = np.nan
    g = DatasetGroup("CUSTOM", "M", target=df, fill={"target": {"middlefill": "nan", "backfill": "nan"}})
    with pytest.warns(UserWarning, match="no observed target value"):
        s = g.summary()
    assert s.overall["all_missing_items"] == 1


def test_mostly_fallback_algorithm_is_named_and_not_in_the_blend():
    df = _monthly(n_items=5, length=20)
    p = _panel(df)
    # GBM needs m + 2 = 14 observed months: with a 6-month backtest most items have 14, so cut them
    short = pd.concat([g.tail(16 if k != "item_0" else 20) for k, g in df.groupby("item_id")])
    p = _panel(short)
    with pytest.warns(UserWarning, match="not used in the blend"):
        ap = AutoPredictor(6, algorithms=["SeasonalNaive", "GBM"], item_selection=False,
                           algorithm_params={"GBM": {"num_trees": 10, "calibration_windows": 0,
                                                     "short_history": "fallback"}}).train(p, progress=False)
    lb = ap.leaderboard().set_index("algorithm")
    assert lb.loc["GBM", "fallback_share"] > 0.5 and bool(lb.loc["GBM", "mostly_fallback"])
    assert "history too short" in lb.loc["GBM", "fallback_reasons"]
    assert "GBM" not in ap.weights_
    from fc_core.automl import fallback_text

    text = fallback_text(ap)
    n_fb = ap.fallbacks_["GBM"]["fallback_items"]
    assert f"GBM {n_fb} of 5 items" in text and "not in the blend" in text
    acc = ap.item_metrics("GBM")
    per_window = (acc["fallback_reason"] == "history too short").groupby(acc["backtest_window"]).sum()
    assert per_window.max() == n_fb >= 3  # counted per backtest window, not items x windows
    # and so are the reasons: each one's largest count in a window, never more items than the data holds
    assert len(per_window) >= 2
    assert ap.fallbacks_["GBM"]["reasons"]["history too short"] == per_window.max() <= 5
    assert f"history too short {n_fb}" in lb.loc["GBM", "fallback_reasons"]
    assert ap.fallbacks_["GBM"]["items"] == 5


def test_gbm_adapts_to_short_history_before_falling_back():
    short = _monthly(n_items=5, length=16)
    p = _panel(short)
    pred = make_estimator("GBM", 6, num_trees=10, calibration_windows=0).train(p)
    pred.predict_arrays()
    assert pred.info["fallback_summary"]["fallback_items"] == 0
    assert pred.info["short_history"]["season_length"] < 12
