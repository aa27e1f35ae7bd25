"""fc_core.metrics against two well-kept libraries, utilsforecast (Nixtla) and GluonTS.

The hand-computed tests in test_metrics.py pin each formula on a few numbers; these
compare the same functions with independent implementations on random panels, so a
slip that a hand example happens not to exercise (an axis, a mask, a sign) shows.
Deliberate differences are tested as such:

* sMAPE: fc_core follows M4, ``2|y - f| / (|y| + |f|)`` in [0, 2]; utilsforecast
  divides by ``|y| + |f|`` without the 2, in [0, 1]. So fc_core's is exactly twice.
* wQL: utilsforecast's quantile_loss is the mean pinball loss per item; fc_core's
  wQL is Amazon Forecast's pooled ``2 * sum(pinball) / sum|y|``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import metrics as M

losses = pytest.importorskip("utilsforecast.losses")
gm = pytest.importorskip("gluonts.evaluation.metrics")

N_ITEMS, H, T, SEASON = 6, 12, 60, 4


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(7)
    insample = 50 + 10 * np.sin(np.arange(T) * 2 * np.pi / SEASON) + rng.normal(0, 3, (N_ITEMS, T))
    y = 50 + rng.normal(0, 8, (N_ITEMS, H))
    f = y + rng.normal(1, 6, (N_ITEMS, H))
    lo, hi = f - 9, f + 9
    ids = np.repeat([f"i{k}" for k in range(N_ITEMS)], H)
    df = pd.DataFrame({"unique_id": ids, "ds": np.tile(np.arange(T, T + H), N_ITEMS), "y": y.ravel(),
                       "m": f.ravel(), "m-lo-80": lo.ravel(), "m-hi-80": hi.ravel()})
    train = pd.DataFrame({"unique_id": np.repeat(ids[::H], T), "ds": np.tile(np.arange(T), N_ITEMS),
                          "y": insample.ravel()})
    return dict(y=y, f=f, lo=lo, hi=hi, insample=insample, df=df, train=train)


def _per_item(frame: pd.DataFrame) -> np.ndarray:
    return frame.set_index("unique_id")["m"].reindex([f"i{k}" for k in range(N_ITEMS)]).to_numpy()


def test_per_item_point_metrics_match_utilsforecast(panel):
    y, f, df = panel["y"], panel["f"], panel["df"]
    np.testing.assert_allclose(M.rmse(y, f, axis=-1), _per_item(losses.rmse(df, ["m"])), rtol=1e-12)
    np.testing.assert_allclose(M.mape(y, f, axis=-1), _per_item(losses.mape(df, ["m"])), rtol=1e-12)
    np.testing.assert_allclose(M.wape(y, f, axis=-1), _per_item(losses.wape(df, ["m"])), rtol=1e-12)
    cov = _per_item(losses.coverage(df, ["m"], level=80))
    np.testing.assert_allclose(M.coverage(y, panel["lo"], panel["hi"], axis=-1), cov, rtol=1e-12)


def test_smape_is_twice_utilsforecast_by_design(panel):
    """M4's sMAPE (fc_core) = 2 x utilsforecast's, point for point."""
    ours = M.smape(panel["y"], panel["f"], axis=-1)
    theirs = _per_item(losses.smape(panel["df"], ["m"]))
    np.testing.assert_allclose(ours, 2.0 * theirs, rtol=1e-12)
    assert not np.allclose(ours, theirs)


def test_mase_matches_utilsforecast_and_gluonts(panel):
    y, f, ins = panel["y"], panel["f"], panel["insample"]
    ours = M.mase(y, f, insample=ins, season_length=SEASON, axis=-1)
    theirs = _per_item(losses.mase(panel["df"], ["m"], seasonality=SEASON, train_df=panel["train"]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    for k in range(N_ITEMS):
        se = gm.calculate_seasonal_error(ins[k], seasonality=SEASON)
        assert ours[k] == pytest.approx(gm.mase(y[k], f[k], se), rel=1e-10)


def test_msis_matches_gluonts(panel):
    y, ins = panel["y"], panel["insample"]
    lo, hi = panel["lo"], panel["hi"]
    ours = M.msis(y, lo, hi, 0.05, insample=ins, season_length=SEASON, axis=-1)
    for k in range(N_ITEMS):
        se = gm.calculate_seasonal_error(ins[k], seasonality=SEASON)
        assert ours[k] == pytest.approx(gm.msis(y[k], lo[k], hi[k], se, alpha=0.05), rel=1e-10)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.9])
def test_wql_numerator_matches_pinball_losses(panel, tau):
    """wQL's numerator is GluonTS's quantile_loss (2 x the summed pinball loss) and 2 x the sum of
    utilsforecast's per-item mean pinball loss times the horizon."""
    y, f = panel["y"], panel["f"]
    q = f + (tau - 0.5) * 10
    pinball_sum = sum(gm.quantile_loss(y[k], q[k], tau) for k in range(N_ITEMS))
    assert M.wql(y, q, tau) == pytest.approx(pinball_sum / np.abs(y).sum(), rel=1e-12)
    df = panel["df"].assign(q=q.ravel())
    uf = losses.quantile_loss(df, {"m": "q"}, q=tau)  # mean pinball loss per item
    per_item_sum = _per_item(uf) * H
    np.testing.assert_allclose(M.wql(y, q, tau, axis=-1) * np.abs(y).sum(axis=1) / 2.0, per_item_sum,
                               rtol=1e-12)
