"""Prophet behind the estimator/predictor contract: seasonality, regressors, holidays, fallback, save/load."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("prophet")

from fc_core import features as ft  # noqa: E402
from fc_core.algorithms.base import Predictor, make_estimator  # noqa: E402
from fc_core.algorithms.prophet import ProphetEstimator  # noqa: E402
from fc_core.errors import ConfigError, DataError  # noqa: E402
from fc_core.panel import Panel  # noqa: E402

TYPES = ["0.025", "0.1", "0.5", "0.9", "0.975", "mean"]


def _daily(n_items=2, start="2023-01-01", end="2024-03-31", seed=0):
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, end, freq="D")
    dow = ts.dayofweek.to_numpy()
    parts = []
    for i in range(n_items):
        y = 50 * (i + 1) + 10 * (dow >= 5) + rng.normal(0, 1, len(ts))  # weekend bump
        parts.append(pd.DataFrame({"item_id": f"s{i}", "timestamp": ts, "target_value": y}))
    return pd.concat(parts, ignore_index=True)


def test_weekly_seasonal_forecast_with_ordered_quantiles():
    panel = Panel.from_frame(_daily(), ["item_id"], "target_value", "D")
    pred = make_estimator("Prophet", 14, frequency="D", n_jobs=1, forecast_types=TYPES).train(panel)
    fc = pred.predict()
    assert list(fc.columns) == ["item_id", "timestamp", "p2.5", "p10", "p50", "p90", "p97.5", "mean"]
    q = fc[["p2.5", "p10", "p50", "p90", "p97.5"]].to_numpy()
    assert np.all(np.diff(q, axis=1) > 0)
    a = fc[fc.item_id == "s0"].set_index("timestamp")
    weekend = a.index.dayofweek >= 5
    assert a.loc[weekend, "mean"].mean() - a.loc[~weekend, "mean"].mean() == pytest.approx(10, abs=1.5)
    assert a.loc[~weekend, "p50"].mean() == pytest.approx(50, abs=1.5)
    assert fc[fc.item_id == "s1"]["mean"].mean() == pytest.approx(100 + 10 * 4 / 14, abs=2)
    # the 95 % interval of unit noise is about +-2 (plus a little trend uncertainty)
    width = (a["p97.5"] - a["p2.5"]).mean()
    assert 3.0 < width < 7.0
    assert pred.info["fallback_items"] == []


def test_regressor_moves_the_forecast():
    rng = np.random.default_rng(1)
    T, H = 200, 10
    ts = pd.date_range("2024-01-01", periods=T + H, freq="D")
    price = rng.uniform(1, 3, T + H)
    df = pd.DataFrame({"item_id": "a", "timestamp": ts[:T], "target_value": 20 + 5 * price[:T] + rng.normal(0, 0.3, T)})

    def panel(future_price=None, cut=0):
        p = price.copy()
        if future_price is not None:
            p[T:] = future_price
        rel = pd.DataFrame({"item_id": "a", "timestamp": ts[:T + H - cut], "price": p[:T + H - cut]})
        return Panel.from_frame(df, ["item_id"], "target_value", "D", related=rel, related_columns=["price"])

    pred = ProphetEstimator(H, n_jobs=1).train(panel())
    low = pred.predict(panel(1.0))["mean"].to_numpy()
    high = pred.predict(panel(3.0))["mean"].to_numpy()
    np.testing.assert_allclose(high - low, 10.0, atol=0.7)  # 5 * (3 - 1)
    ignore = ProphetEstimator(H, n_jobs=1, use_related=False).train(panel())
    np.testing.assert_allclose(ignore.predict(panel(1.0))["mean"], ignore.predict(panel(3.0))["mean"])
    with pytest.raises(DataError, match=r"Prophet: the related time series must cover.*\('a',\)"):
        pred.predict(panel(cut=2))


def test_korean_holidays_capture_chuseok():
    rng = np.random.default_rng(2)
    ts = pd.date_range("2021-01-01", "2024-08-31", freq="D")
    h = ft.holiday_names("KR", range(2021, 2025))
    chuseok = h.loc[h.holiday.str.contains("Chuseok"), "timestamp"]
    y = 100 + 5 * (ts.dayofweek.to_numpy() >= 5) + rng.normal(0, 2, len(ts))
    y[np.asarray(ts.isin(chuseok))] += 60
    panel = Panel.from_frame(pd.DataFrame({"item_id": "shop", "timestamp": ts, "target_value": y}),
                             ["item_id"], "target_value", "D")
    on = ProphetEstimator(30, holidays={"CountryCode": "KR"}, n_jobs=1).train(panel).predict().set_index("timestamp")
    off = ProphetEstimator(30, n_jobs=1).train(panel).predict().set_index("timestamp")
    days = pd.to_datetime(["2024-09-16", "2024-09-17", "2024-09-18"])  # Chuseok 2024 and the days around it
    normal = on.index.difference(days)
    assert on.loc[days, "mean"].mean() - on.loc[normal, "mean"].mean() > 45
    assert off.loc[days, "mean"].mean() - off.loc[normal, "mean"].mean() < 25
    assert (ProphetEstimator(30, holidays_country="KR", n_jobs=1).train(panel).predict()["mean"].max()
            == pytest.approx(on["mean"].max()))


def test_failing_item_gets_seasonal_naive_fallback():
    df = _daily(n_items=1, start="2024-01-01", end="2024-03-31")
    lonely = pd.DataFrame({"item_id": "one_value", "timestamp": [pd.Timestamp("2024-03-31")], "target_value": [7.0]})
    panel = Panel.from_frame(pd.concat([df, lonely]), ["item_id"], "target_value", "D")
    pred = ProphetEstimator(7, n_jobs=1).train(panel)
    with pytest.warns(UserWarning, match="1 of 2 series could not be fitted"):
        fc = pred.predict(forecast_types=["0.1", "0.5", "0.9"])
    assert pred.info["fallback_items"] == ["one_value"]
    assert "too short" in pred.info["fallback_reasons"]["one_value"]
    np.testing.assert_allclose(fc.loc[fc.item_id == "one_value", "p50"], 7.0)
    assert fc.loc[fc.item_id == "s0", "p50"].between(45, 75).all()


def test_save_load_refits_to_identical_numbers(tmp_path):
    panel = Panel.from_frame(_daily(n_items=2, start="2024-01-01"), ["item_id"], "target_value", "D")
    pred = ProphetEstimator(7, n_jobs=1, num_samples=200, holidays="US", seed=5).train(panel)
    before = pred.predict(forecast_types=TYPES)
    pred.save(tmp_path / "p")
    loaded = Predictor.load(tmp_path / "p")
    assert loaded.estimator.params["holidays"] == "US" and loaded.estimator.seed == 5
    pd.testing.assert_frame_equal(loaded.predict(forecast_types=TYPES), before)
    other_seed = ProphetEstimator(7, n_jobs=1, num_samples=200, holidays="US", seed=6).train(panel)
    assert not np.allclose(other_seed.predict(forecast_types=TYPES)["p10"], before["p10"])


def test_logging_is_left_as_it_was():
    before = {n: logging.getLogger(n).level for n in ("prophet", "cmdstanpy")}
    panel = Panel.from_frame(_daily(n_items=1, start="2024-02-01"), ["item_id"], "target_value", "D")
    ProphetEstimator(3, n_jobs=1, num_samples=50).train(panel).predict()
    import cmdstanpy  # noqa: F401

    after = {n: logging.getLogger(n).level for n in ("prophet", "cmdstanpy")}
    assert all(after[n] != logging.CRITICAL for n in after), (before, after)


def test_bad_settings():
    with pytest.raises(ConfigError, match="no holiday calendar"):
        ProphetEstimator(7, holidays={"CountryCode": "ZZ"})
    with pytest.raises(ConfigError, match="seasonality_mode"):
        ProphetEstimator(7, seasonality_mode="both")
    with pytest.raises(ConfigError, match="weekly_seasonality"):
        ProphetEstimator(7, weekly_seasonality="yes")
