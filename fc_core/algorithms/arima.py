"""ARIMA with automatic order selection, as R's ``auto.arima`` (Amazon Forecast's ARIMA).

Per series: the differencing orders come from unit-root tests (KPSS for ``d``,
seasonal strength for ``D``), then a stepwise search over ``(p, q)(P, Q)``
keeps the model with the smallest AICc (Hyndman and Khandakar, 2008). The
forecast is the model's mean with Gaussian intervals.

Seasons
-------
The frequency's main season (24 hourly, 7 daily, 12 monthly, 52 weekly) is a
seasonal ARIMA term when it is at most ``max_seasonal_period`` (default 24)
steps long and the series covers two seasons. Longer seasons (a 60-minute
season, 52 weeks) and, with ``extra_seasonalities=True``, the longer seasons of
the frequency (168 for hourly, 365 for daily, see
:func:`fc_core.frequency.seasonalities`) enter as ``fourier_terms`` pairs of
Fourier regressors ``sin/cos(2 pi k t / period)`` (dynamic harmonic regression),
each only where the series covers two of its periods.

Engines
-------
``statsforecast`` (default)
    statsforecast's compiled ``AutoARIMA``. ``approximation=None`` follows R:
    approximate likelihoods during the search when the series is longer than
    150 or the season longer than 12 (exact search on M4 Hourly takes ~9 times longer).
``statsmodels``
    the same recipe over statsmodels' ``SARIMAX`` (KPSS and seasonal strength,
    then a stepwise search capped at 12 models): far slower, kept as a cross-check.
"""
from __future__ import annotations

import numpy as np

from .local import LocalStatsEstimator, LocalStatsPredictor, fourier, normal_intervals

SM_MAX_MODELS = 12


def _terms(y: np.ndarray, spec: dict) -> tuple[int, list[int]]:
    """The seasonal ARIMA period (1 = none) and the periods modelled with Fourier terms."""
    p = spec["params"]
    n = len(y)
    m = int(spec["season_length"])
    seasonal = m if 1 < m <= p["max_seasonal_period"] and n >= 2 * m else 1
    periods = []
    if m > p["max_seasonal_period"] and n >= 2 * m:
        periods.append(m)
    if p["extra_seasonalities"]:
        periods += [s for s in spec["seasonalities"] if s > max(m, seasonal) and n >= 2 * s and s not in periods]
    if p["fourier_terms"] < 1:
        periods = []
    return seasonal, periods


def history_length(n: int, spec: dict) -> int:
    """Values of a series the search uses: ``max_history`` (``"auto"``: the last
    ``max(20 m, 250)``, m the main season, so a year of hourly data is cut to 20 days; None: all)."""
    mh = spec["params"]["max_history"]
    if mh is None:
        return n
    if mh == "auto":
        mh = max(20 * int(spec["season_length"]), 250)
    return int(min(n, mh))


def _recent(y: np.ndarray, spec: dict) -> np.ndarray:
    return y[len(y) - history_length(len(y), spec):]


def _regressors(n: int, h: int, periods: list[int], k: int):
    if not periods:
        return None, None
    t = np.arange(n + h)
    X = np.concatenate([fourier(t, s, min(k, s // 2)) for s in periods], axis=1)
    return X[:n], X[n:]


def arima_statsforecast(y: np.ndarray, spec: dict) -> dict:
    """One series with statsforecast's AutoARIMA (plus Fourier regressors for long seasons)."""
    from statsforecast.models import AutoARIMA

    p = spec["params"]
    h = spec["horizon"]
    y = _recent(y, spec)
    m, periods = _terms(y, spec)
    X, Xf = _regressors(len(y), h, periods, p["fourier_terms"])
    approx = p["approximation"]
    if approx is None:
        approx = len(y) > 150 or int(spec["season_length"]) > 12
    model = AutoARIMA(season_length=m, seasonal=m > 1, approximation=approx, stepwise=p["stepwise"],
                      max_p=p["max_p"], max_q=p["max_q"], max_P=p["max_P"], max_Q=p["max_Q"],
                      nmodels=p["nmodels"])
    return model.forecast(y=y, h=h, X=X, X_future=Xf, level=spec["levels"] or None)


# ------------------------------------------------------------ statsmodels
def _ndiffs(y: np.ndarray, max_d: int = 2) -> int:
    from statsmodels.tsa.stattools import kpss

    d = 0
    x = y
    while d < max_d and len(x) > 10 and np.ptp(x) > 0:
        stat, pval, *_ = kpss(x, regression="c", nlags="auto")
        if pval >= 0.05:
            break
        x = np.diff(x)
        d += 1
    return d


def _nsdiffs(y: np.ndarray, m: int) -> int:
    """1 when the STL seasonal strength exceeds 0.64 (R's ``nsdiffs(test = "seas")``)."""
    from statsmodels.tsa.seasonal import STL

    if m < 2 or len(y) < 2 * m + 1 or np.ptp(y) == 0:
        return 0
    res = STL(y, period=m, robust=False).fit()
    rem, sea = np.asarray(res.resid), np.asarray(res.seasonal)
    strength = max(0.0, 1.0 - np.var(rem) / max(np.var(rem + sea), 1e-12))
    return int(strength > 0.64)


def _sm_fit(y, X, order, sorder, trend, search=True):
    """SARIMAX fit; during the search on the differenced series (faster; AICc comparable
    for fixed d, D), for the forecast as a full state-space model on the original series."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    mod = SARIMAX(y, exog=X, order=order, seasonal_order=sorder, trend=trend, simple_differencing=search)
    return mod.fit(disp=False, maxiter=50)


def arima_statsmodels(y: np.ndarray, spec: dict) -> dict:
    """One series: KPSS/seasonal-strength differencing, then a stepwise SARIMAX search by AICc."""
    p = spec["params"]
    h = spec["horizon"]
    y = _recent(y, spec)
    m, periods = _terms(y, spec)
    X, Xf = _regressors(len(y), h, periods, p["fourier_terms"])
    D = _nsdiffs(y, m) if m > 1 else 0
    yd = y[m:] - y[:-m] if D else y
    d = _ndiffs(yd)
    trend = "c" if d + D == 0 else "n"
    seasonal = m > 1
    tried: dict = {}

    def score(o):
        if o in tried:
            return tried[o][0]
        pp, qq, PP, QQ = o
        try:
            res = _sm_fit(y, X, (pp, d, qq), (PP, D, QQ, m) if seasonal else (0, 0, 0, 0), trend)
            val = res.aicc if np.isfinite(res.aicc) else np.inf
        except (ValueError, np.linalg.LinAlgError):
            res, val = None, np.inf
        tried[o] = (val, res)
        return val

    starts = [(2, 2, 1, 1), (0, 0, 0, 0), (1, 0, 1, 0), (0, 1, 0, 1)] if seasonal else \
        [(2, 2, 0, 0), (0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0)]
    best = min(starts, key=score)
    improved = True
    while improved and len(tried) < SM_MAX_MODELS:
        improved = False
        for dp, dq, dP, dQ in [(-1, 0, 0, 0), (1, 0, 0, 0), (0, -1, 0, 0), (0, 1, 0, 0), (-1, -1, 0, 0),
                               (1, 1, 0, 0), (0, 0, -1, 0), (0, 0, 1, 0), (0, 0, 0, -1), (0, 0, 0, 1)]:
            c = (best[0] + dp, best[1] + dq, best[2] + dP, best[3] + dQ)
            if min(c) < 0 or c[0] > p["max_p"] or c[1] > p["max_q"] or c[2] > p["max_P"] or c[3] > p["max_Q"]:
                continue
            if not seasonal and (c[2] or c[3]):
                continue
            if len(tried) >= SM_MAX_MODELS:
                break
            if score(c) < tried[best][0]:
                best, improved = c, True
                break
    if tried[best][1] is None:
        raise RuntimeError("no ARIMA model could be fitted")
    pp, qq, PP, QQ = best
    res = _sm_fit(y, X, (pp, d, qq), (PP, D, QQ, m) if seasonal else (0, 0, 0, 0), trend, search=False)
    fc = res.get_forecast(h, exog=Xf)
    mean = np.asarray(fc.predicted_mean, dtype=float)
    sigma = np.sqrt(np.maximum(np.asarray(fc.var_pred_mean, dtype=float), 0.0))
    return normal_intervals(mean, sigma, spec["levels"])


class ARIMAPredictor(LocalStatsPredictor):
    pass


class ARIMAEstimator(LocalStatsEstimator):
    """Automatic ARIMA per series (R's ``auto.arima`` recipe), Fourier terms for long seasons.

    Parameters
    ----------
    season_length : int, optional
        Main seasonal period; default the frequency's.
    max_seasonal_period : int
        Longest season modelled by seasonal ARIMA terms; longer ones use Fourier terms.
    extra_seasonalities : bool
        Add Fourier terms for the frequency's longer seasons (168 hourly, 365 daily).
    fourier_terms : int
        Sine/cosine pairs per Fourier season.
    approximation : bool or None
        Approximate likelihoods during the search; None = R's rule (n > 150 or season > 12).
    max_history : "auto", int or None
        The most recent values each series is fitted on: ``"auto"`` keeps ``max(20 m, 250)``
        (20 days of hourly data; m the main season), an int that many, None all of it. Long
        hourly series cost minutes per series with all of their history.
    stepwise : bool
        Stepwise search (True) or all models up to ``max_order`` (slow).
    max_p, max_q, max_P, max_Q, nmodels : int
        Limits of the search (R's defaults).
    engine : {"statsforecast", "statsmodels"}
    """

    name = "ARIMA"
    defaults = {"season_length": None, "max_seasonal_period": 24, "extra_seasonalities": False,
                "fourier_terms": 3, "approximation": None, "stepwise": True, "max_p": 5, "max_q": 5,
                "max_P": 2, "max_Q": 2, "nmodels": 94, "engine": "statsforecast",
                "max_history": "auto"}
    predictor_class = ARIMAPredictor
    min_length = 4

    def forecast_function(self):
        return arima_statsmodels if self.params["engine"] == "statsmodels" else arima_statsforecast
