"""Shared machinery of the local statistical models (ETS, ARIMA, Theta, MSTL).

A local model fits every series on its own, inside ``predict``. This module
does what they have in common:

1. clean each series (drop leading gaps, interpolate interior NaN, carry the
   last value over trailing NaN);
2. send the series in chunks to :func:`fc_core.parallel.map_chunks` (all cores,
   or a Dask cluster, with a progress bar), where a module-level *forecast
   function* of the algorithm fits one series and returns its mean and
   symmetric intervals (statsforecast's ``{"mean", "lo-80", "hi-80", ...}``);
3. turn intervals into quantiles: level ``tau`` is the edge of the central
   interval of ``100 |2 tau - 1|`` per cent, the lower edge below the median and
   the upper edge above it (the median is the mean: the intervals are symmetric);
4. give every series that fails (an exception, a NaN forecast, too little
   data) the seasonal naive forecast and report it in
   ``predictor.info["fallback_items"]`` and as a warning. One bad series never
   stops a run.
"""
from __future__ import annotations

import functools
import warnings
from typing import Callable

import numpy as np

from .. import frequency as fq
from .. import parallel
from ..errors import ConfigError
from ..panel import Panel
from .base import Capabilities, Estimator, ForecastArrays, Predictor
from .baselines import collect_with_fallback

ENGINES = ("statsforecast", "statsmodels")


# ------------------------------------------------------------------ series
def clean_series(y: np.ndarray) -> tuple[np.ndarray, int] | None:
    """A gap-free copy of ``y`` for a model that cannot take NaN, and the number of
    missing values at its end; None if all is missing.

    Leading and trailing NaN are dropped, interior NaN interpolated linearly. A
    series whose last ``k`` values are missing is forecast ``k`` steps further
    and the first ``k`` steps are dropped, so the forecast still starts after
    the series' end.

    >>> y, k = clean_series(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    >>> y.tolist(), k
    ([1.0, 2.0, 3.0], 1)
    >>> clean_series(np.array([np.nan, np.nan])) is None
    True
    """
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    if not ok.any():
        return None
    first, last = int(np.argmax(ok)), len(y) - int(np.argmax(ok[::-1]))
    trailing = len(y) - last
    y, ok = y[first:last], ok[first:last]
    if ok.all():
        return y.copy(), trailing
    t = np.arange(len(y))
    return np.interp(t, t[ok], y[ok]), trailing


def level_of(tau: float) -> float | int:
    """The central interval (per cent) whose edge is quantile ``tau``: ``100 |2 tau - 1|``.

    >>> level_of(0.1), level_of(0.975), level_of(0.5)
    (80, 95, 0)
    """
    v = round(abs(2.0 * float(tau) - 1.0) * 100.0, 6)
    return int(v) if float(v).is_integer() else v


def interval_levels(taus: np.ndarray) -> list:
    """Distinct interval levels needed for quantiles ``taus`` (0 excluded: the median is the mean)."""
    return sorted({level_of(t) for t in taus} - {0})


def quantiles_from_intervals(out: dict, taus: np.ndarray) -> np.ndarray:
    """(H, Q) quantiles from statsforecast-style output ``{"mean", "lo-80", "hi-80", ...}``."""
    mean = np.asarray(out["mean"], dtype=float)
    cols = []
    for t in taus:
        lv = level_of(t)
        if lv == 0:
            cols.append(mean)
        else:
            cols.append(np.asarray(out[f"{'lo' if t < 0.5 else 'hi'}-{lv}"], dtype=float))
    return np.stack(cols, axis=-1)


def normal_intervals(mean: np.ndarray, sigma: np.ndarray, levels: list) -> dict:
    """statsforecast-style intervals of a Gaussian forecast with standard deviations ``sigma``."""
    from scipy.stats import norm

    out = {"mean": mean}
    for lv in levels:
        z = norm.ppf(0.5 + lv / 200.0)
        out[f"lo-{lv}"] = mean - z * sigma
        out[f"hi-{lv}"] = mean + z * sigma
    return out


def fourier(t: np.ndarray, period: float, k: int) -> np.ndarray:
    """Fourier terms ``sin/cos(2 pi j t / period)``, ``j = 1..k``: shape (len(t), 2k)."""
    x = 2.0 * np.pi * np.asarray(t, dtype=float)[:, None] * np.arange(1, k + 1)[None, :] / period
    return np.concatenate([np.sin(x), np.cos(x)], axis=1)


# ---------------------------------------------------------- worker side
def run_chunk(chunk: list, fn: Callable, spec: dict) -> list:
    """Forecast every series of ``chunk`` with ``fn(y, spec) -> dict``; runs in a worker.

    ``chunk`` holds :func:`clean_series` results. Returns per series ``(mean (H,), quantiles (H, Q))`` or the reason it failed (a str).
    """
    taus = np.asarray(spec["taus"], dtype=float)
    h = spec["horizon"]
    out = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for item in chunk:
            if item is None:
                out.append("no data")
                continue
            y, skip = item
            if len(y) < spec.get("min_length", 3):
                out.append(f"too short ({len(y)} values)")
                continue
            try:
                res = fn(y, dict(spec, horizon=h + skip) if skip else spec)
                mean = np.asarray(res["mean"], dtype=float).reshape(-1)[skip:skip + h]
                q = quantiles_from_intervals(res, taus)[skip:skip + h]
            except Exception as exc:  # noqa: BLE001 - any engine failure -> seasonal naive
                out.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            if mean.shape != (h,) or not (np.all(np.isfinite(mean)) and np.all(np.isfinite(q))):
                out.append("non-finite forecast")
                continue
            out.append((mean, q))
    return out


# ---------------------------------------------------------- predictor side
class LocalStatsPredictor(Predictor):
    """Fits each series inside ``_forecast`` with the estimator's forecast function."""

    def _spec(self, panel: Panel, horizon: int, levels: np.ndarray) -> dict:
        p = self.estimator.params
        m = p.get("season_length") or fq.season_length(panel.frequency)
        return {"horizon": int(horizon), "taus": [float(t) for t in levels], "levels": interval_levels(levels),
                "season_length": int(m), "frequency": panel.frequency, "params": dict(p),
                "seasonalities": fq.seasonalities(panel.frequency), "seed": self.estimator.seed,
                "min_length": self.estimator.min_length}

    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        est = self.estimator
        spec = self._spec(panel, horizon, levels)
        fn = est.forecast_function()
        series = [clean_series(panel.series(i)) for i in range(panel.n_series)]
        results = parallel.map_chunks(functools.partial(run_chunk, fn=fn, spec=spec), series,
                                      desc=f"{est.name} ({len(series)} series)", progress=progress)
        arr, labels, reasons = collect_with_fallback(est.name, results, panel, horizon, levels, spec["season_length"])
        self.info["fallback_items"] = labels
        self.info["fallback_reasons"] = reasons
        return arr.clip(None)  # sorted; the guard clips at 0 (non_negative)


class LocalStatsEstimator(Estimator):
    """Base of the local statistical estimators; subclasses name their forecast function."""

    capabilities = Capabilities(local=True)
    predictor_class = LocalStatsPredictor
    parallel_items = True  # per-item fits through fc_core.parallel (cores or a Dask cluster)
    min_length = 3  # fewer values -> seasonal naive fallback

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        engine = self.params.get("engine")
        if "engine" in self.defaults and engine not in ENGINES:
            raise ConfigError(f"{self.name}: engine {engine!r} is not one of {', '.join(ENGINES)}.")
        sl = self.params.get("season_length")
        if sl is not None and (not isinstance(sl, (int, np.integer)) or sl < 1):
            raise ConfigError(f"{self.name}: season_length must be a positive whole number or None, got {sl!r}.")

    def forecast_function(self) -> Callable:
        """The module-level ``fn(y, spec) -> {"mean", "lo-<level>", "hi-<level>"}`` of this model."""
        raise NotImplementedError
