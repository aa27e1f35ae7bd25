"""Prophet: a local additive model (trend + seasonalities + holidays + regressors) per item.

Prophet (Taylor and Letham, 2018) fits ``y(t) = g(t) + s(t) + h(t) + beta' x(t) + e(t)``
to each series separately: a piecewise-linear trend ``g``, Fourier seasonalities
``s`` (daily, weekly, yearly as the data allows), holiday effects ``h`` and
linear effects of related series ``x`` (extra regressors, whose future values
must be known).

Design choices
--------------
* **Local, refit at predict time.** Like fc_core's other local models, the
  predictor stores the training panel and fits each item inside ``predict``;
  saving writes only the JSON config and the panel (no Stan fits, no pickle),
  and a loaded predictor gives the same numbers because every fit and every
  sample is seeded per item.
* **Quantiles from posterior predictive samples.** Prophet returns one interval
  (``interval_width``). Any set of quantiles comes from
  ``Prophet.predictive_samples`` (trend-change and observation-noise
  simulation, ``num_samples`` draws, 1000 by default): one vectorised draw per
  item gives every level at once, which is as fast as a single interval and
  exact in the limit, whereas refitting per interval width would cost one
  prediction per level. The ``mean`` column is Prophet's point forecast
  ``yhat``.
* **Holidays** from :mod:`fc_core.features` (``holidays="KR"`` or Amazon's
  ``{"CountryCode": "KR"}``; lunar holidays such as Seollal and Chuseok
  included; English names), one Prophet holiday per name.
* **Related series** become extra regressors; gaps in their history are
  carried forward/backward, and their future must cover the horizon
  (:class:`~fc_core.errors.DataError` otherwise).
* **Failures.** An item Prophet cannot fit (too few values, a Stan error, a
  non-finite forecast) gets the seasonal naive forecast and is listed in
  ``predictor.info["fallback_items"]`` with the reason in
  ``info["fallback_reasons"]``.
* Items run through :func:`fc_core.parallel.map_chunks` (``n_jobs``; all cores by
  default), with a progress bar and Ctrl-C support. Prophet's and cmdstanpy's
  logging is silenced during each call and restored afterwards.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import warnings
import zlib

import numpy as np
import pandas as pd

from .. import features as ft
from .. import frequency as fq
from ..errors import ConfigError, MissingDependencyError
from ..panel import Panel
from .base import Capabilities, Estimator, ForecastArrays, Predictor, silenced
from .baselines import collect_with_fallback, item_labels

_QUIET_LOGGERS = ("prophet", "prophet.plot", "prophet.models", "cmdstanpy")
_SEASONALITY = ("auto", True, False)


@contextlib.contextmanager
def quiet_prophet():
    """Silence Prophet's and cmdstanpy's logs and warnings inside the block, then restore them."""
    plot_log = logging.getLogger("prophet.plot")
    level = plot_log.level
    plot_log.setLevel(logging.CRITICAL)  # "Importing plotly failed" at import time
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import prophet  # noqa: F401
            from cmdstanpy.utils import get_logger

            get_logger()  # cmdstanpy sets its logger's level and handler on first use: let it happen now
    finally:
        plot_log.setLevel(level)
    with silenced(_QUIET_LOGGERS, logging.CRITICAL):
        yield


def _fill(a: np.ndarray) -> np.ndarray:
    """Carry values forward then backward along time (axis 0); all-missing columns become 0."""
    if a.size == 0 or not np.isnan(a).any():
        return a
    return pd.DataFrame(a).ffill().bfill().fillna(0.0).to_numpy()


# ---------------------------------------------------------- worker side
def fit_one(item: dict, spec: dict):
    """Fit Prophet to one series and forecast; returns ``(mean (H,), quantiles (H, Q))``.

    ``item``: ``ds`` (int64 ns timestamps, history then horizon), ``y`` (history),
    ``x`` (regressors over history and horizon, or None), ``seed``.
    """
    from prophet import Prophet

    p = spec["params"]
    T, H = len(item["y"]), spec["horizon"]
    ds = pd.DatetimeIndex(item["ds"].astype("datetime64[ns]"))
    hist = pd.DataFrame({"ds": ds[:T], "y": item["y"]})
    fut = pd.DataFrame({"ds": ds[T:]})
    m = Prophet(growth="linear", changepoint_prior_scale=p["changepoint_prior_scale"],
                seasonality_prior_scale=p["seasonality_prior_scale"],
                holidays_prior_scale=p["holidays_prior_scale"], seasonality_mode=p["seasonality_mode"],
                yearly_seasonality=p["yearly_seasonality"], weekly_seasonality=p["weekly_seasonality"],
                daily_seasonality=p["daily_seasonality"], holidays=spec["holidays"],
                uncertainty_samples=int(p["num_samples"]))
    if item["x"] is not None:
        for j in range(item["x"].shape[1]):
            name = f"fc_x{j}"  # internal names: never clash with Prophet's reserved columns
            m.add_regressor(name)
            hist[name] = item["x"][:T, j]
            fut[name] = item["x"][T:T + H, j]
    m.fit(hist, seed=int(item["seed"]) % (2 ** 31))
    state = np.random.get_state()
    try:
        np.random.seed(int(item["seed"]) % (2 ** 32))
        samples = m.predictive_samples(fut)["yhat"]  # (H, S)
    finally:
        np.random.set_state(state)
    m.uncertainty_samples = 0  # the point forecast without a second round of sampling
    mean = m.predict(fut)["yhat"].to_numpy(dtype=float)
    q = np.quantile(samples, np.asarray(spec["taus"], dtype=float), axis=1).T
    return mean, q


def run_chunk(chunk: list, spec: dict) -> list:
    """Forecast each item of ``chunk``; a failure gives its reason (a str) instead of a forecast."""
    out = []
    H = spec["horizon"]
    with quiet_prophet(), np.errstate(all="ignore"):
        for item in chunk:
            n_obs = int(np.isfinite(item["y"]).sum())
            if n_obs < 2:
                out.append(f"too short ({n_obs} observed values; Prophet needs 2)")
                continue
            try:
                mean, q = fit_one(item, spec)
            except Exception as exc:  # noqa: BLE001 - any Prophet/Stan failure -> seasonal naive
                out.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            if mean.shape != (H,) or not (np.isfinite(mean).all() and np.isfinite(q).all()):
                out.append("non-finite forecast")
                continue
            out.append((mean, q))
    return out


# ---------------------------------------------------------- predictor side
_labels = item_labels


class ProphetPredictor(Predictor):
    """Fits Prophet to each series inside ``_forecast`` (a local model)."""

    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        try:
            with quiet_prophet():
                pass
        except ImportError as exc:
            raise MissingDependencyError("prophet", "the Prophet algorithm") from exc
        est = self.estimator
        p = est.params
        n = panel.n_series
        names = list(panel.related_names) if p["use_related"] and panel.related is not None else []
        related = ft.future_related(panel, horizon, names, algorithm="Prophet") if names else None
        future = panel.future_timestamps(horizon)
        holidays = None
        country = ft.holidays_country(p["holidays"] or p["holidays_country"])
        if country and n:
            first = panel.starts.min()
            last = max(f[-1] for f in future) if horizon else first
            h = ft.holiday_names(country, range(first.year, last.year + 1))
            holidays = pd.DataFrame({"holiday": h["holiday"], "ds": h["timestamp"],
                                     "lower_window": 0, "upper_window": 0})
        spec = {"horizon": int(horizon), "taus": [float(t) for t in levels], "params": dict(p), "holidays": holidays}
        items = []
        for i, key in enumerate(_labels(panel, range(n))):
            ds = np.concatenate([panel.timestamps(i).values, future[i].values]).astype("datetime64[ns]")
            x = None if related is None else _fill(related[i])
            items.append({"ds": ds.astype(np.int64), "y": panel.series(i).copy(), "x": x,
                          "seed": zlib.crc32(key.encode()) ^ est.seed})
        fn = functools.partial(run_chunk, spec=spec)
        desc = f"Prophet ({n} series)"
        from .. import parallel

        results = parallel.map_chunks(fn, items, n_jobs=p["n_jobs"], desc=desc, progress=progress)
        m = p["season_length"] or fq.season_length(panel.frequency)
        arr, labels, reasons = collect_with_fallback("Prophet", results, panel, horizon, levels, m)
        self.info["fallback_items"] = labels
        self.info["fallback_reasons"] = reasons
        return arr.clip(None)  # sorted; the guard clips at 0 (non_negative)


class ProphetEstimator(Estimator):
    """Prophet per item, with related series as regressors and country holidays.

    Parameters
    ----------
    holidays : str or dict, optional
        Country holidays: ``"KR"`` or Amazon Forecast's ``{"CountryCode": "KR"}``.
    holidays_country : str, optional
        The same as a plain country code (``holidays`` wins when both are given).
    use_related : bool
        Use the related time series as extra regressors (True); their future
        values must cover the horizon.
    changepoint_prior_scale, seasonality_prior_scale, holidays_prior_scale : float
        Prophet's priors (0.05, 10, 10): larger values give a more flexible trend,
        seasonality or holiday effects.
    seasonality_mode : {"additive", "multiplicative"}
    yearly_seasonality, weekly_seasonality, daily_seasonality : "auto", bool or int
        Prophet's switches (an int sets the number of Fourier terms).
    num_samples : int
        Posterior predictive draws per item behind the quantiles (1000).
    season_length : int, optional
        Season of the seasonal naive fallback (default: the frequency's).
    n_jobs : int, optional
        Worker processes (default: fc_core.parallel's setting, all cores); 1 runs inline.
    """

    name = "Prophet"
    capabilities = Capabilities(uses_related=True, local=True)
    defaults = {
        "holidays": None, "holidays_country": None, "use_related": True, "changepoint_prior_scale": 0.05,
        "seasonality_prior_scale": 10.0, "holidays_prior_scale": 10.0, "seasonality_mode": "additive",
        "yearly_seasonality": "auto", "weekly_seasonality": "auto", "daily_seasonality": "auto",
        "num_samples": 1000, "season_length": None, "n_jobs": None,
    }
    predictor_class = ProphetPredictor
    parallel_items = True  # per-item fits through fc_core.parallel (cores or a Dask cluster)

    def __init__(self, forecast_horizon: int, **kwargs):
        super().__init__(forecast_horizon, **kwargs)
        p = self.params
        ft.holidays_country(p["holidays"])
        ft.holidays_country(p["holidays_country"])
        if p["seasonality_mode"] not in ("additive", "multiplicative"):
            raise ConfigError(f"seasonality_mode={p['seasonality_mode']!r}: use 'additive' or 'multiplicative'.")
        for k in ("yearly_seasonality", "weekly_seasonality", "daily_seasonality"):
            v = p[k]
            if not (v in _SEASONALITY or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0)):
                raise ConfigError(f"{k}={v!r}: use 'auto', True, False or a positive number of Fourier terms.")
        if not isinstance(p["num_samples"], (int, np.integer)) or p["num_samples"] < 10:
            raise ConfigError(f"num_samples must be a whole number >= 10, got {p['num_samples']!r}.")
        for k in ("changepoint_prior_scale", "seasonality_prior_scale", "holidays_prior_scale"):
            if not float(p[k]) > 0:
                raise ConfigError(f"{k} must be positive, got {p[k]!r}.")
