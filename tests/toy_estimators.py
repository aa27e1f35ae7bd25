"""Toy estimators with known answers, for testing the AutoPredictor without real models."""
from __future__ import annotations

import numpy as np

from fc_core import frequency as fq
from fc_core.algorithms.base import Capabilities, Estimator, ForecastArrays, Predictor, register


class ConstantPredictor(Predictor):
    """Forecasts ``value`` (or the last value + ``bias``) with a band of +-``spread``."""

    def _forecast(self, panel, horizon, levels, progress=False):
        p = self.estimator.params
        n = panel.n_series
        if p["value"] is not None:
            point = np.full((n, horizon), float(p["value"]))
        else:
            last = np.array([np.nanmean(panel.series(i)[-5:]) if panel.lengths[i] else 0.0 for i in range(n)])
            point = np.repeat(last[:, None], horizon, axis=1) + p["bias"]
        from scipy.stats import norm

        z = norm.ppf(levels)
        q = point[:, :, None] + p["spread"] * z[None, None, :]
        start = panel.end_timestamps() + fq.to_offset(panel.frequency)
        if p["fail"]:
            raise RuntimeError("toy failure")
        return ForecastArrays(np.asarray(levels), q, point, start)


class ConstantEstimator(Estimator):
    name = "Constant"
    capabilities = Capabilities(local=True)
    defaults = {"value": None, "bias": 0.0, "spread": 1.0, "fail": False}
    predictor_class = ConstantPredictor


class BiasUpEstimator(ConstantEstimator):
    name = "BiasUp"
    defaults = {"value": None, "bias": 1.0, "spread": 1.0, "fail": False}


class BiasDownEstimator(ConstantEstimator):
    name = "BiasDown"
    defaults = {"value": None, "bias": -1.0, "spread": 1.0, "fail": False}


class BrokenEstimator(ConstantEstimator):
    name = "Broken"
    defaults = {"value": None, "bias": 0.0, "spread": 1.0, "fail": True}


for _cls in (ConstantEstimator, BiasUpEstimator, BiasDownEstimator, BrokenEstimator):
    register(_cls.name, f"toy_estimators:{_cls.__name__}")
