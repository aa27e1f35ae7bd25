"""fc_core.metrics: Amazon Forecast's accuracy metrics, checked against hand-computed numbers."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from fc_core import metrics as M
from fc_core.algorithms.base import ForecastArrays
from fc_core.errors import ConfigError
from fc_core.panel import Panel


# ------------------------------------------------------------- point metrics
def test_wql_by_hand():
    y = np.array([10.0, 0.0, 5.0])
    q = np.array([8.0, 1.0, 5.0])
    # tau = 0.9: under-forecast 2 -> 0.9*2 = 1.8; over-forecast 1 -> 0.1*1 = 0.1; sum 1.9; *2 / 15
    assert M.wql(y, q, 0.9) == pytest.approx(3.8 / 15)
    # tau = 0.1: 0.1*2 + 0.9*1 = 1.1 -> 2.2 / 15
    assert M.wql(y, q, 0.1) == pytest.approx(2.2 / 15)
    # tau = 0.5 equals WAPE of the median: (2 + 1 + 0) / 15
    assert M.wql(y, q, 0.5) == pytest.approx(M.wape(y, q)) == pytest.approx(3 / 15)


def test_wql_and_wape_with_zero_actuals_give_the_numerator():
    y = np.zeros(3)
    q = np.array([1.0, 0.0, 2.0])
    assert M.wql(y, q, 0.5) == pytest.approx(2 * 0.5 * 3)  # unweighted loss 3.0
    assert M.wql(y, q, 0.9) == pytest.approx(2 * 0.1 * 3)
    assert M.wape(y, q) == pytest.approx(3.0)
    # nothing scored -> NaN, not 0
    assert np.isnan(M.wql(y, q, 0.5, mask=np.zeros(3, bool)))
    assert np.isnan(M.wape(y, q, mask=np.zeros(3, bool)))


def test_wql_refuses_bad_level_and_shapes():
    with pytest.raises(ConfigError, match="between 0 and 1"):
        M.wql([1.0], [1.0], 1.5)
    with pytest.raises(ConfigError, match="shape"):
        M.wape([1.0, 2.0], [1.0, 2.0, 3.0])


def test_wape_rmse_mape_smape_by_hand():
    y = np.array([4.0, 2.0, 0.0, 8.0])
    f = np.array([3.0, 4.0, 1.0, 8.0])
    assert M.wape(y, f) == pytest.approx((1 + 2 + 1 + 0) / 14)
    assert M.rmse(y, f) == pytest.approx(np.sqrt((1 + 4 + 1 + 0) / 4))
    # MAPE skips the zero actual: (1/4 + 2/2 + 0/8) / 3
    assert M.mape(y, f) == pytest.approx((0.25 + 1.0 + 0.0) / 3)
    # sMAPE: 2*1/7, 2*2/6, 2*1/1, 0
    assert M.smape(y, f) == pytest.approx((2 / 7 + 4 / 6 + 2 + 0) / 4)
    assert M.smape([0.0], [0.0]) == 0.0
    assert np.isnan(M.mape([0.0, 0.0], [1.0, 2.0]))


def test_mask_and_nan_actuals_are_left_out():
    y = np.array([4.0, np.nan, 100.0, 2.0])
    f = np.array([3.0, 50.0, 0.0, 4.0])
    mask = np.array([True, True, False, True])  # the 100 was a filled value
    assert M.wape(y, f, mask) == pytest.approx(3 / 6)
    assert M.rmse(y, f, mask) == pytest.approx(np.sqrt(5 / 2))
    assert M.mape(y, f, mask) == pytest.approx((0.25 + 1.0) / 2)
    assert M.wql(y, f, 0.5, mask) == pytest.approx(3 / 6)


def test_per_row_axis():
    y = np.array([[1.0, 3.0], [2.0, 2.0]])
    f = np.array([[2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_allclose(M.wape(y, f, axis=-1), [0.5, 0.0])
    np.testing.assert_allclose(M.rmse(y, f, axis=-1), [1.0, 0.0])
    assert M.wape(y, f) == pytest.approx(2 / 8)  # pooled, not the mean of rows


# -------------------------------------------------------------- scaled metrics
def test_seasonal_scale_and_mase():
    ins = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    assert M.seasonal_scale(ins, 2) == pytest.approx((3 + 5 + 7) / 3)
    assert M.seasonal_scale(ins, 1) == pytest.approx((1 + 2 + 3 + 4) / 4)
    assert M.seasonal_scale(ins[:2], 2) == pytest.approx(1.0)  # too short: lag 1
    # missing in-sample point: differences touching it are skipped
    assert M.seasonal_scale([1.0, np.nan, 4.0, 7.0], 1) == pytest.approx(3.0)
    assert M.mase([12.0, 14.0], [10.0, 10.0], insample=ins, season_length=2) == pytest.approx(3.0 / 5.0)
    # constant in-sample: denominator 0 -> NaN
    assert np.isnan(M.mase([1.0], [2.0], insample=[3.0, 3.0, 3.0], season_length=1))
    with pytest.raises(ConfigError, match="insample"):
        M.mase([1.0], [2.0])


def test_msis_and_coverage_by_hand():
    y = np.array([5.0, 10.0, 1.0])
    lo = np.array([4.0, 4.0, 2.0])
    hi = np.array([6.0, 6.0, 3.0])
    # widths 2, 2, 1; penalties 0, (2/0.2)*(10-6)=40, (2/0.2)*(2-1)=10 -> (2 + 42 + 11) / 3
    assert M.msis(y, lo, hi, 0.2, scale=2.0) == pytest.approx(55 / 3 / 2)
    assert M.coverage(y, lo, hi) == pytest.approx(1 / 3)
    assert M.coverage(y, lo, hi, mask=[True, False, False]) == 1.0
    with pytest.raises(ConfigError, match="alpha"):
        M.msis(y, lo, hi, 0.0, scale=1.0)


# ------------------------------------------------------------------ evaluate
def _arrays(mean, qs, levels):
    n = mean.shape[0]
    return ForecastArrays(np.asarray(levels, float), np.asarray(qs, float), np.asarray(mean, float),
                          pd.DatetimeIndex(["2021-01-01"] * n))


def test_evaluate_pools_and_averages_like_amazon():
    y = np.array([[10.0, 20.0], [1.0, 0.0]])
    obs = np.ones_like(y, bool)
    mean = np.array([[12.0, 20.0], [2.0, 1.0]])
    p10, p50, p90 = mean - 2, mean, mean + 2
    fa = _arrays(mean, np.stack([p10, p50, p90], -1), [0.1, 0.5, 0.9])
    ins = [np.array([0.0, 10.0, 20.0]), np.array([1.0, 1.0, 3.0])]  # lag-1 scales 10 and 1
    per, overall = M.evaluate(y, obs, fa, ins, season_length=1)
    assert list(per.columns) == ["item", "n_observed", *M.metric_names([0.1, 0.5, 0.9])]
    # WAPE pooled: (2 + 0 + 1 + 1) / 31 ; per item 2/30 and 2/1
    assert overall["WAPE"] == pytest.approx(4 / 31)
    np.testing.assert_allclose(per["WAPE"], [2 / 30, 2.0])
    assert overall["wQL[0.5]"] == pytest.approx(4 / 31)
    # RMSE over all 4 points
    assert overall["RMSE"] == pytest.approx(np.sqrt((4 + 0 + 1 + 1) / 4))
    # MAPE: item 0 (0.2 + 0)/2 = 0.1; item 1 only the non-zero actual: 1.0 -> mean 0.55
    assert overall["MAPE"] == pytest.approx(0.55)
    # MASE: item 0 mean err 1 / 10; item 1 mean err 1 / 1 -> mean 0.55
    np.testing.assert_allclose(per["MASE"], [0.1, 1.0])
    assert overall["MASE"] == pytest.approx(0.55)
    # p10 = mean - 2 = [[10, 18], [0, -1]]: y - q = 0, 2, 1, 1, all under-forecasts
    l10 = 0.1 * (0 + 2 + 1 + 1)
    assert overall["wQL[0.1]"] == pytest.approx(2 * l10 / 31)
    # p90 = mean + 2 = [[14, 22], [4, 3]]: q - y = 4, 2, 3, 3, all over-forecasts
    assert overall["wQL[0.9]"] == pytest.approx(2 * 0.1 * 12 / 31)
    avg = np.mean([overall["wQL[0.1]"], overall["wQL[0.5]"], overall["wQL[0.9]"]])
    assert overall["AverageWeightedQuantileLoss"] == pytest.approx(avg)
    # 80% interval [mean - 2, mean + 2] holds every actual
    assert overall["Coverage[0.8]"] == 1.0
    assert overall["n_items"] == 2 and overall["n_observed"] == 4


def test_evaluate_masks_filled_points_and_empty_items():
    y = np.array([[10.0, 99.0], [np.nan, np.nan]])
    obs = np.array([[True, False], [False, False]])
    mean = np.array([[11.0, 0.0], [5.0, 5.0]])
    fa = _arrays(mean, mean[..., None], [0.5])
    per, overall = M.evaluate(y, obs, fa, [np.arange(5.0), np.arange(5.0)], season_length=1)
    assert overall["WAPE"] == pytest.approx(0.1)  # the filled 99 is ignored
    assert overall["n_items"] == 1
    assert np.isnan(per.loc[1, "WAPE"]) and per.loc[1, "n_observed"] == 0
    assert "Coverage[0.8]" not in overall and "MSIS" not in per.columns  # one level: no interval


def test_evaluate_with_panel_keys_and_seasonal_scale():
    t = pd.date_range("2021-01-01", periods=6, freq="D")
    df = pd.DataFrame({"item_id": ["a"] * 6 + ["b"] * 3, "timestamp": list(t) + list(t[:3]),
                       "target_value": [1, 2, 1, 3, 1, 4, 5, 5, 6.0]})
    panel = Panel.from_frame(df, ["item_id"], "target_value", "D")
    y = np.array([[2.0], [6.0]])
    mean = np.array([[1.0], [6.0]])
    fa = _arrays(mean, np.stack([mean - 1, mean + 1], -1), [0.1, 0.9])
    per, overall = M.evaluate(y, np.ones_like(y, bool), fa, panel, season_length=2)
    assert per["item_id"].tolist() == ["a", "b"]
    # item a: lag-2 diffs |1-1|,|3-2|,|1-1|,|4-3| -> 0.5 ; item b: lag-2 diff |6-5| = 1
    np.testing.assert_allclose(per["MASE"], [1 / 0.5, 0.0])
    # MSIS with the 80% interval [mean-1, mean+1]: item a width 2 + (2/0.2)*0 = 2 -> 2/0.5
    np.testing.assert_allclose(per["MSIS"], [4.0, 2.0])
    assert "Coverage[0.8]" in overall


def test_evaluate_checks_shapes():
    fa = _arrays(np.zeros((2, 3)), np.zeros((2, 3, 1)), [0.5])
    with pytest.raises(ConfigError, match="forecast covers"):
        M.evaluate(np.zeros((3, 3)), np.ones((3, 3), bool), fa, [np.zeros(3)] * 3, 1)
    with pytest.raises(ConfigError, match="insample has"):
        M.evaluate(np.zeros((2, 3)), np.ones((2, 3), bool), fa, [np.zeros(3)] * 3, 1)


def _evaluate_calls(n: int, H: int = 48, T: int = 200) -> tuple[int, dict]:
    """Python-level function calls made by one ``M.evaluate`` over ``n`` items (sys.setprofile)."""
    import sys

    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, 10.0, (n, H))
    mean = y + rng.normal(0, 3, (n, H))
    q = np.stack([mean - 4, mean, mean + 4], -1)
    fa = _arrays(mean, q, [0.1, 0.5, 0.9])
    ins = rng.gamma(2.0, 10.0, n * T)
    panel = Panel(keys=pd.DataFrame({"item_id": np.arange(n).astype(str)}),
                  starts=pd.DatetimeIndex(["2020-01-01"] * n), indptr=np.arange(n + 1) * T,
                  values=ins, observed=np.ones(n * T, bool), frequency="H")
    calls = [0]

    def count(frame, event, arg):
        if event == "call":
            calls[0] += 1

    sys.setprofile(count)
    try:
        per, overall = M.evaluate(y, np.ones((n, H), bool), fa, panel, season_length=24)
    finally:
        sys.setprofile(None)
    assert len(per) == n and 0 < overall["MASE"] < 1
    return calls[0], overall


def test_evaluate_is_vectorised():
    """No Python work per item: the calls evaluate makes do not grow with the item count
    (counted, not timed, so a loaded machine cannot fail it; speed is in bench/)."""
    small, _ = _evaluate_calls(50)
    large, _ = _evaluate_calls(5_000)
    assert large <= small * 1.05 + 50, f"{small} Python calls for 50 items, {large} for 5,000"
