"""GBM: one global gradient-boosted model over many series, with conformal quantiles.

In the spirit of Amazon Forecast's CNN-QR (one model learns from every series,
forecasts all horizon steps at once), built on LightGBM. Each design choice
below was made on backtests cut from the *training* part of M4 Hourly (the last
48 and the 48 before; numbers in ``bench/RESULTS.md``, section "GBM"):

* **Per-series normalisation.** Each series is divided by ``s`` = the mean of
  ``|y|`` over its last ``scale_window`` observed values (a week for hourly data);
  non-negative data are then taken as ``x = log1p(y / s)``. Series of any size
  share one model; errors become relative.
* **Direct multi-horizon model** (``strategy="direct"``, the default). One model
  predicts ``x[T + h] - base`` for every step ``h = 1 .. H`` (``h`` is a
  feature), where ``base`` is the seasonal naive value in ``x`` space
  (``x[T + h - m ceil(h / m)]``, ``m`` from :func:`fc_core.frequency.season_length`).
  Features: the same-phase values of the previous seasons (a week for hourly
  data) and the longer season (168 h) relative to ``base``; the last ``m``
  seasonal differences at the origin; the origin's level against ``base``; the
  *paths* (how the series moved from the origin's phase to the target's phase
  one season and one week earlier, and the naive forecast they imply); rolling
  means of the seasonal differences; the phase ``(t - end) mod m``; calendar
  features of the target time (hour, day of week, ... from the timestamps);
  ``log s``; related series at the target time (future-known values: raw,
  relative to the item's mean, change over a season and since the origin) and
  item metadata as categorical features. Training rows: every observed value
  as a target, each with ``direct_samples`` random steps ``h`` (origins ``h``
  before). On validation the direct model beat the recursive one (one-step
  model fed back, ``strategy="recursive"``) by 0.07 OWA and their average
  (``"ensemble"``) by 0.005.
* **Objective L1** (a median forecast of the log ratio): 0.024 OWA better than
  L2 on validation.
* **Quantiles are conformal.** A second model, trained on each series minus its
  last ``H + (W - 1) * stride`` values, forecasts ``W`` windows from origins
  ``stride`` apart in the held-out stretch (data it never saw). Its errors
  ``e = x - x_hat`` are divided by a per-series spread ``sigma_i = v_i r_i``:
  ``v_i`` the series' in-sample mean ``|x_t - x_(t-m)|`` and ``r_i`` its own
  calibration error level relative to all series, shrunk towards 1 by
  ``sigma_prior`` windows. The pooled standardised errors, centred per step,
  give quantiles ``x_hat + sigma_i Q_h(level)`` for *any* level, mapped back
  through the (monotone) transform: never crossing, median = the model's own
  forecast. The mean averages 100 quantiles. Scaling by ``v_i r_i`` cut the
  validation MSIS from 17.5 (pooled by series) and 9.4 (``v_i`` only) to 6.2.
* Items that cannot be modelled (fewer than ``m + 2`` observed values) get the
  seasonal naive forecast (``info["fallback_items"]``); cold-start items (no
  history) get the average forecast of the items sharing their first metadata
  value, or of all items (``info["cold_start_items"]``).

Deterministic for a given seed (``deterministic=True``, a fixed thread count);
saved without pickle (LightGBM's text model plus ``npz`` tables). LightGBM's
OpenMP threads spin briefly before they sleep (see :func:`_lightgbm`).

>>> from fc_core.demo import two_sines
>>> p = two_sines()  # two hourly series with a daily cycle, 20 days
>>> est = GBMEstimator(24, num_trees=30, calibration_windows=2)
>>> out = est.train(p).predict()
>>> out.shape, bool((out["p10"] <= out["p90"]).all())
((48, 6), True)
"""
from .boosting import _fit_booster, _fit_models, _lgb_params, _lightgbm, _predict_x, _recursive, _threads  # noqa: F401
from .conformal import _calibrate, _spread, _z_quantiles  # noqa: F401
from .features import (_Grid, _Layout, _calendar_names, _cut, _related_names,  # noqa: F401
                       _static_categories, _static_codes)
from .training import GBML2Estimator, GBMEstimator, GBMPredictor, _adapted_season  # noqa: F401

# saved predictors name their class by this path (fc_core.algorithms.gbm:GBMEstimator), as before the split
for _cls in (GBMEstimator, GBML2Estimator, GBMPredictor):
    _cls.__module__ = __name__
del _cls

__all__ = ["GBMEstimator", "GBML2Estimator", "GBMPredictor"]
