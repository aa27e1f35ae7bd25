"""Naive and seasonal naive forecasts: yardsticks, and the fallback for items a model cannot fit.

Seasonal naive repeats the last season: ``f(T + h) = y(T + h - m * ceil(h / m))``.
Naive is the case ``m = 1``. Quantiles come from the empirical distribution of
the in-sample errors of the same rule, ``e_t = y_t - y_(t-m)``, widened by
``sqrt(k)`` for a forecast ``k = ceil(h / m)`` seasons ahead (errors of a random
walk in seasons add up).

>>> import numpy as np, pandas as pd
>>> from fc_core.panel import Panel
>>> y = np.tile([1.0, 2.0, 3.0], 4)
>>> df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2020", periods=12, freq="D"), "target_value": y})
>>> p = Panel.from_frame(df, ["item_id"], "target_value", "D")
>>> est = SeasonalNaiveEstimator(4, season_length=3)
>>> est.train(p).predict()["p50"].tolist()
[1.0, 2.0, 3.0, 1.0]
"""
from __future__ import annotations

from .. import frequency as fq
from .base import Capabilities, Estimator, ForecastArrays, Predictor  # noqa: F401
# the fallback helpers lived here; they stay importable from this module
from .fallback import (cold_start_from_donors, collect_with_fallback, complete_global_forecast,  # noqa: F401
                       ffill_rows, item_labels, seasonal_naive_arrays)


class SeasonalNaivePredictor(Predictor):
    def _forecast(self, panel, horizon, levels, progress=False):
        m = self.estimator.params["season_length"] or fq.season_length(panel.frequency)
        arr = seasonal_naive_arrays(panel, horizon, levels, m)
        return arr  # the guard clips at 0 (non_negative)


class SeasonalNaiveEstimator(Estimator):
    """Seasonal naive: the last season repeated. ``season_length`` defaults to the frequency's season."""

    name = "SeasonalNaive"
    capabilities = Capabilities(local=True, cold_start=False)
    defaults = {"season_length": None}
    predictor_class = SeasonalNaivePredictor


class NaivePredictor(Predictor):
    def _forecast(self, panel, horizon, levels, progress=False):
        arr = seasonal_naive_arrays(panel, horizon, levels, 1)
        return arr  # the guard clips at 0 (non_negative)


class NaiveEstimator(Estimator):
    """Naive: the last value repeated."""

    name = "Naive"
    capabilities = Capabilities(local=True)
    defaults: dict = {}
    predictor_class = NaivePredictor
