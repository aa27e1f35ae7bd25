"""Theta: the M3 competition's winner, with automatic variant selection (beyond Amazon Forecast).

statsforecast's ``AutoTheta`` tests the series for seasonality (a 90 %
autocorrelation test at the season's lag), removes the season by classical
decomposition where found, and picks among the standard, optimised and dynamic
(optimised) Theta models by in-sample MSE (Fiorucci et al., 2016). The
decomposition is multiplicative unless the series has zeros or negative values,
then additive. Intervals are Gaussian.
"""
from __future__ import annotations

import numpy as np

from .local import LocalStatsEstimator, LocalStatsPredictor


def theta_statsforecast(y: np.ndarray, spec: dict) -> dict:
    """One series with statsforecast's AutoTheta."""
    from statsforecast.models import AutoTheta

    p = spec["params"]
    m = int(spec["season_length"])
    if len(y) < 2 * m:
        m = 1
    decomposition = p["decomposition_type"]
    if decomposition == "multiplicative" and np.min(y) <= 0:
        decomposition = "additive"
    model = AutoTheta(season_length=m, decomposition_type=decomposition, model=p["model"])
    return model.forecast(y=y, h=spec["horizon"], level=spec["levels"] or None)


class ThetaPredictor(LocalStatsPredictor):
    pass


class ThetaEstimator(LocalStatsEstimator):
    """Automatic Theta model per series (statsforecast ``AutoTheta``).

    Parameters
    ----------
    season_length : int, optional
        Seasonal period; default the frequency's.
    decomposition_type : {"multiplicative", "additive"}
        Deseasonalisation; multiplicative falls back to additive for series with values <= 0.
    model : {None, "STM", "OTM", "DSTM", "DOTM"}
        Fix the Theta variant; None chooses by in-sample MSE.
    """

    name = "Theta"
    defaults = {"season_length": None, "decomposition_type": "multiplicative", "model": None}
    predictor_class = ThetaPredictor
    min_length = 4

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ..errors import ConfigError

        if self.params["decomposition_type"] not in ("multiplicative", "additive"):
            raise ConfigError(f"Theta decomposition_type {self.params['decomposition_type']!r}: "
                              "use 'multiplicative' or 'additive'.")
        if self.params["model"] not in (None, "STM", "OTM", "DSTM", "DOTM"):
            raise ConfigError(f"Theta model {self.params['model']!r}: use None, 'STM', 'OTM', 'DSTM' or 'DOTM'.")

    def forecast_function(self):
        return theta_statsforecast
