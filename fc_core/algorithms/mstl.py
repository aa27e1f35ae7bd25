"""MSTL: several seasons removed by STL, the rest forecast by ETS (beyond Amazon Forecast).

Multiple Seasonal-Trend decomposition by Loess (Bandara, Hyndman and
Bergmeir, 2021) peels off each seasonal component in turn (hourly data: the
daily 24 and weekly 168 seasons; daily data: 7 and 365; see
:func:`fc_core.frequency.seasonalities`). The seasonally adjusted series is
forecast by a non-seasonal AutoETS and the last cycle of each season is added
back. Intervals come from the ETS part (Gaussian). Each season is used only
where the series covers two of its cycles; a series too short for any season
gets a plain non-seasonal AutoETS.
"""
from __future__ import annotations

import numpy as np

from .local import LocalStatsEstimator, LocalStatsPredictor


def mstl_statsforecast(y: np.ndarray, spec: dict) -> dict:
    """One series with statsforecast's MSTL (AutoETS trend)."""
    from statsforecast.models import MSTL, AutoETS

    p = spec["params"]
    seasons = p["season_lengths"] or spec["seasonalities"] or [spec["season_length"]]
    seasons = sorted(int(s) for s in seasons if 1 < int(s) and len(y) >= 2 * int(s))
    trend = AutoETS(model=p["trend_model"])
    h, levels = spec["horizon"], spec["levels"] or None
    if not seasons:
        return trend.forecast(y=y, h=h, level=levels)
    model = MSTL(season_length=seasons, trend_forecaster=trend)
    return model.forecast(y=y, h=h, level=levels)


class MSTLPredictor(LocalStatsPredictor):
    pass


class MSTLEstimator(LocalStatsEstimator):
    """Multiple seasonal decomposition (MSTL) + non-seasonal AutoETS per series.

    Parameters
    ----------
    season_lengths : list of int, optional
        Seasonal periods; default all of the frequency's (``[24, 168]`` hourly, ``[7, 365]`` daily).
    trend_model : str
        AutoETS model of the adjusted series (season letter ``N``); default ``"ZZN"`` (choose).
    """

    name = "MSTL"
    defaults = {"season_lengths": None, "trend_model": "ZZN"}
    predictor_class = MSTLPredictor
    min_length = 4

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ..errors import ConfigError

        sl = self.params["season_lengths"]
        if sl is not None:
            if isinstance(sl, (int, np.integer)):
                sl = [int(sl)]
            if not all(isinstance(s, (int, np.integer)) and s > 1 for s in sl):
                raise ConfigError(f"MSTL season_lengths {sl!r}: a list of whole numbers above 1, e.g. [24, 168].")
            self.params["season_lengths"] = [int(s) for s in sl]
        tm = str(self.params["trend_model"]).upper()
        if len(tm) != 3 or tm[2] != "N":
            raise ConfigError(f"MSTL trend_model {tm!r}: a non-seasonal ETS model such as 'ZZN' or 'AAN'.")

    def forecast_function(self):
        return mstl_statsforecast
