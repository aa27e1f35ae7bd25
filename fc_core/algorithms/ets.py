"""ETS: exponential smoothing with automatic error, trend and season selection (as R's ``ets``).

Amazon Forecast's ETS runs R's ``forecast::ets``: every combination of
additive/multiplicative error, no/additive/damped trend and no/additive/
multiplicative season is fitted by maximum likelihood and the one with the
smallest AICc wins. Forecasts are the state-space model's mean with Gaussian
prediction intervals.

Engines
-------
``statsforecast`` (default)
    statsforecast's compiled ``AutoETS`` (``model="ZZZ"``: the same search as R).
``statsmodels``
    statsmodels' ``ETSModel``, AICc selection over a smaller candidate set
    (``ANN, AAdN, ANA, AAdA`` and, for positive series, ``MNM, MAdM``): its fits
    are about 50 times slower (see ``bench/RESULTS.md``).

Seasons longer than 24 steps are not modelled (R's ``ets`` refuses them too);
series shorter than two seasons get a non-seasonal model.
"""
from __future__ import annotations

import numpy as np

from .local import LocalStatsEstimator, LocalStatsPredictor

MAX_SEASON = 24


def _season(y: np.ndarray, spec: dict) -> int:
    m = int(spec["season_length"])
    return m if 1 < m <= MAX_SEASON and len(y) >= 2 * m else 1


def ets_statsforecast(y: np.ndarray, spec: dict) -> dict:
    """One series with statsforecast's AutoETS; statsforecast-style output."""
    from statsforecast.models import AutoETS

    p = spec["params"]
    m = _season(y, spec)
    model = str(p["model"]).upper()
    if m == 1 and model[2] != "N":
        model = model[:2] + "N"
    fit = AutoETS(season_length=m, model=model, damped=p["damped"])
    return fit.forecast(y=y, h=spec["horizon"], level=spec["levels"] or None)


def _sm_candidates(y: np.ndarray, m: int, p: dict) -> list[tuple]:
    model = str(p["model"]).upper()
    positive = bool(np.min(y) > 0)
    out = []
    for e, t, d, s in [("add", None, False, None), ("add", "add", True, None), ("add", None, False, "add"),
                       ("add", "add", True, "add"), ("mul", None, False, "mul"), ("mul", "add", True, "mul")]:
        if (e == "mul" or s == "mul") and not positive:
            continue
        if s is not None and m == 1:
            continue
        if model[0] != "Z" and e[0].upper() != model[0]:
            continue
        if model[1] != "Z" and (t or "n")[0].upper() != model[1]:
            continue
        if model[2] != "Z" and (s or "n")[0].upper() != model[2]:
            continue
        if p["damped"] is False and d:
            continue
        if p["damped"] is True and t is not None and not d:
            continue
        out.append((e, t, d, s))
    if not out:  # e.g. a multiplicative model asked for on a series with zeros
        out = [("add", None, False, "add" if m > 1 else None)]
    return out


def ets_statsmodels(y: np.ndarray, spec: dict) -> dict:
    """One series with statsmodels' ETSModel, the candidate with the smallest AICc."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    m = _season(y, spec)
    h = spec["horizon"]
    ys = pd.Series(y)
    best = None
    for e, t, d, s in _sm_candidates(y, m, spec["params"]):
        try:
            res = ETSModel(ys, error=e, trend=t, damped_trend=d, seasonal=s,
                           seasonal_periods=m if s else None).fit(disp=False)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(res.aicc) and (best is None or res.aicc < best.aicc):
            best = res
    if best is None:
        raise RuntimeError("no ETS candidate could be fitted")
    n = len(y)
    pred = best.get_prediction(start=n, end=n + h - 1, rng=np.random.default_rng(spec["seed"]))
    mean = np.asarray(pred.predicted_mean, dtype=float)
    out = {"mean": mean}
    for lv in spec["levels"]:
        iv = np.asarray(pred.pred_int(alpha=1 - lv / 100.0), dtype=float)
        out[f"lo-{lv}"], out[f"hi-{lv}"] = iv[:, 0], iv[:, 1]
    return out


class ETSPredictor(LocalStatsPredictor):
    pass


class ETSEstimator(LocalStatsEstimator):
    """Exponential smoothing (ETS) with automatic model selection by AICc, per series.

    Parameters
    ----------
    season_length : int, optional
        Seasonal period; default the frequency's (24 hourly, 7 daily, 12 monthly).
    model : str
        Three letters error/trend/season from ``A`` (additive), ``M``
        (multiplicative), ``N`` (none) and ``Z`` (choose); default ``"ZZZ"``.
    damped : bool or None
        Damped trend: ``None`` lets the selection decide.
    engine : {"statsforecast", "statsmodels"}

    >>> import numpy as np, pandas as pd
    >>> from fc_core.panel import Panel
    >>> t = np.arange(96)
    >>> df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024", periods=96, freq="h"),
    ...                    "target_value": 10 + np.sin(2 * np.pi * t / 24)})
    >>> p = Panel.from_frame(df, ["item_id"], "target_value", "H")
    >>> f = ETSEstimator(24).train(p).predict(progress=False)
    >>> bool(np.abs(f["p50"].to_numpy() - (10 + np.sin(2 * np.pi * (96 + np.arange(24)) / 24))).max() < 0.1)
    True
    """

    name = "ETS"
    defaults = {"season_length": None, "model": "ZZZ", "damped": None, "engine": "statsforecast"}
    predictor_class = ETSPredictor
    min_length = 3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ..errors import ConfigError

        model = str(self.params["model"]).upper()
        if len(model) != 3 or model[0] not in "AMZ" or model[1] not in "ANMZ" or model[2] not in "ANMZ":
            raise ConfigError(f"ETS model {self.params['model']!r}: three letters error/trend/season, e.g. "
                              "'ZZZ' (choose all), 'AAN' or 'MAM'; error A|M|Z, trend and season A|M|N|Z.")

    def forecast_function(self):
        return ets_statsmodels if self.params["engine"] == "statsmodels" else ets_statsforecast
