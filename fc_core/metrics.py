"""Accuracy metrics of Amazon Forecast, as pure numpy functions, plus the backtest aggregation.

Every metric takes actuals ``y`` and forecasts of the same shape and an
optional boolean ``mask`` (True where a point is scored). Points that are
masked out or whose actual is NaN are left out: filled target values are not
observations, so they are never scored (Amazon Forecast: "Forecast only
compares forecasted values with observed values during backtesting").

``axis=None`` pools every given point into one number; ``axis=-1`` gives one
number per row (per item, for ``(n, H)`` arrays).

Definitions (Amazon Forecast's "Evaluating Predictor Accuracy" page), with ``y``
the observed value, ``q(tau)`` the tau-quantile forecast and ``f`` the point
(mean) forecast:

* ``wQL[tau] = 2 sum[tau (y - q)+ + (1 - tau)(q - y)+] / sum |y|``;
  when ``sum |y|`` is (approximately) zero Amazon reports the unweighted loss
  (the numerator), and so does :func:`wql`.
* ``AverageWeightedQuantileLoss`` = mean of the wQL over the quantiles.
* ``WAPE = sum |y - f| / sum |y|``; numerator alone when ``sum |y|`` is ~0.
* ``RMSE = sqrt(sum (y - f)^2 / n_T)`` over all scored points.
* ``MAPE = mean |y - f| / |y|`` per item, then mean over items.
* ``MASE = mean |y - f| / mean_{t>m} |Y_t - Y_(t-m)|`` (in-sample), per item, then mean.

Amazon Forecast uses the mean forecast for WAPE, RMSE, MAPE and MASE, and the
quantile forecasts for wQL. ``sMAPE``, ``MSIS`` and ``Coverage`` are additions
(M4-style) that Amazon does not report.

>>> import numpy as np
>>> y = np.array([[1.0, 3.0]]); f = np.array([[2.0, 2.0]])
>>> float(wape(y, f)), float(rmse(y, f)), float(mape(y, f))
(0.5, 1.0, 0.6666666666666666)
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError

#: a pooled ``sum |y|`` at or below this counts as zero (Amazon: "approximately zero")
ZERO_TOLERANCE = 1e-10

__all__ = [
    "wql", "average_wql", "wape", "rmse", "mape", "smape", "mase", "msis", "coverage",
    "seasonal_scale", "evaluate", "metric_names", "ranking_score", "metric_goal", "ZERO_TOLERANCE",
]


# ------------------------------------------------------------------ helpers
def _prep(y, f, mask):
    """Arrays as float, plus the scoring mask (given mask & y observed & forecast present)."""
    y = np.asarray(y, dtype=float)
    f = np.asarray(f, dtype=float)
    if f.shape != y.shape:
        try:
            f = np.broadcast_to(f, y.shape)
        except ValueError:
            raise ConfigError(f"forecast shape {f.shape} does not match actuals shape {y.shape}.") from None
    ok = ~np.isnan(y)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != y.shape:
            raise ConfigError(f"mask shape {mask.shape} does not match actuals shape {y.shape}.")
        ok &= mask
    return y, f, ok


def _sum(x, ok, axis):
    return np.sum(np.where(ok, x, 0.0), axis=axis)


def _count(ok, axis):
    return np.sum(ok, axis=axis)


def _ratio_or_numerator(num, den, n):
    """num / den; the numerator itself where den is ~0; NaN where nothing was scored."""
    num, den, n = np.asarray(num, float), np.asarray(den, float), np.asarray(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.abs(den) <= ZERO_TOLERANCE, num, num / np.where(den == 0, 1.0, den))
    out = np.where(n > 0, out, np.nan)
    return out if out.ndim else float(out)


def _mean(x, ok, axis):
    n = _count(ok, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _sum(x, ok, axis) / n
    out = np.where(n > 0, out, np.nan)
    return out if np.ndim(out) else float(out)


# ------------------------------------------------------------------ metrics
def wql(y, q, tau: float, mask=None, axis=None):
    """Weighted quantile loss at quantile ``tau`` (Amazon Forecast's ``wQL[tau]``).

    .. math:: wQL[\\tau] = \\frac{2 \\sum_{i,t} [\\tau \\max(y - q, 0) + (1 - \\tau) \\max(q - y, 0)]}
              {\\sum_{i,t} |y|}

    Parameters
    ----------
    y, q : array_like
        Actuals and the ``tau``-quantile forecast, same shape.
    tau : float
        Quantile level in (0, 1).
    mask : array_like of bool, optional
        True where a point is scored.
    axis : None or int
        None pools all points; -1 gives one value per row.

    Returns
    -------
    float or ndarray
        The loss. When ``sum |y|`` is zero (within :data:`ZERO_TOLERANCE`) the
        weighting is undefined and the unweighted loss (the numerator) is
        returned, as Amazon Forecast does. NaN when no point is scored.

    Raises
    ------
    ConfigError
        If ``tau`` is not in (0, 1) or the shapes differ.

    Examples
    --------
    >>> float(wql([2.0, 4.0], [3.0, 3.0], 0.9))  # 2 * (0.1 * 1 + 0.9 * 1) / 6
    0.3333333333333333
    >>> float(wql([0.0, 0.0], [1.0, 0.0], 0.5))  # all-zero actuals: the numerator 2 * 0.5 * 1
    1.0
    """
    if not 0.0 < float(tau) < 1.0:
        raise ConfigError(f"quantile level {tau!r} must lie strictly between 0 and 1.")
    y, q, ok = _prep(y, q, mask)
    d = y - q
    loss = tau * np.maximum(d, 0.0) + (1.0 - tau) * np.maximum(-d, 0.0)
    return _ratio_or_numerator(2.0 * _sum(loss, ok, axis), _sum(np.abs(y), ok, axis), _count(ok, axis))


def average_wql(y, quantiles, taus: Sequence[float], mask=None, axis=None):
    """Mean of :func:`wql` over quantile levels (``AverageWeightedQuantileLoss``).

    Parameters
    ----------
    y : array_like, shape (...)
    quantiles : array_like, shape (..., Q)
        Quantile forecasts, last axis in the order of ``taus``.
    taus : sequence of float, length Q

    Examples
    --------
    >>> y = np.array([2.0, 4.0]); qs = np.array([[1.0, 3.0], [3.0, 5.0]])
    >>> round(float(average_wql(y, qs, [0.1, 0.9])), 6)  # both wQL are 2 * (0.1 + 0.1) / 6
    0.066667
    """
    quantiles = np.asarray(quantiles, dtype=float)
    taus = list(taus)
    if quantiles.shape[-1] != len(taus):
        raise ConfigError(f"{quantiles.shape[-1]} quantile forecasts given for {len(taus)} levels {taus}.")
    vals = [wql(y, quantiles[..., j], t, mask=mask, axis=axis) for j, t in enumerate(taus)]
    out = np.mean(np.stack([np.asarray(v, float) for v in vals]), axis=0)
    return out if np.ndim(out) else float(out)


def wape(y, yhat, mask=None, axis=None):
    """Weighted absolute percentage error.

    .. math:: WAPE = \\frac{\\sum_{i,t} |y - \\hat y|}{\\sum_{i,t} |y|}

    Amazon Forecast uses the mean forecast as ``yhat``. When ``sum |y|`` is zero
    (within :data:`ZERO_TOLERANCE`) the unweighted absolute error sum (the
    numerator) is returned, as Amazon Forecast does; NaN when nothing is scored.

    Examples
    --------
    >>> float(wape([1.0, 3.0], [2.0, 2.0]))
    0.5
    >>> float(wape([0.0, 0.0], [1.0, 2.0]))  # all-zero actuals: the numerator
    3.0
    """
    y, f, ok = _prep(y, yhat, mask)
    return _ratio_or_numerator(_sum(np.abs(y - f), ok, axis), _sum(np.abs(y), ok, axis), _count(ok, axis))


def rmse(y, yhat, mask=None, axis=None):
    """Root mean square error over the scored points.

    .. math:: RMSE = \\sqrt{\\frac{1}{n_T} \\sum_{i,t} (y - \\hat y)^2}

    ``n_T`` is the number of scored points (pooled over items with ``axis=None``,
    as Amazon Forecast does over a backtest window). NaN when nothing is scored.

    Examples
    --------
    >>> float(rmse([1.0, 3.0], [2.0, 5.0]))  # sqrt((1 + 4) / 2)
    1.5811388300841898
    """
    y, f, ok = _prep(y, yhat, mask)
    out = np.sqrt(_mean((y - f) ** 2, ok, axis))
    return out if np.ndim(out) else float(out)


def mape(y, yhat, mask=None, axis=None):
    """Mean absolute percentage error (as a fraction, not per cent).

    .. math:: MAPE = \\frac{1}{n} \\sum_t \\left|\\frac{A_t - F_t}{A_t}\\right|

    Points whose actual is exactly zero have no percentage error and are left
    out (``n`` counts the rest); with no non-zero actual the result is NaN.
    Amazon Forecast documents the formula but not its zero handling; this is the
    rule fc_core implements. Amazon reports the mean over items of per-item
    MAPE (:func:`evaluate` does the same).

    Examples
    --------
    >>> float(mape([2.0, 0.0, 4.0], [1.0, 5.0, 5.0]))  # (0.5 + 0.25) / 2; the zero actual is skipped
    0.375
    >>> mape([0.0, 0.0], [1.0, 1.0])
    nan
    """
    y, f, ok = _prep(y, yhat, mask)
    ok = ok & (y != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pe = np.abs(y - f) / np.abs(np.where(y == 0, 1.0, y))
    return _mean(pe, ok, axis)


def smape(y, yhat, mask=None, axis=None):
    """Symmetric MAPE as a fraction in [0, 2] (multiply by 100 for M4's per cent).

    .. math:: sMAPE = \\frac{1}{n} \\sum_t \\frac{2 |y_t - \\hat y_t|}{|y_t| + |\\hat y_t|}

    A point where both actual and forecast are zero counts as a perfect 0.

    This is M4's definition (2 in the numerator). Some libraries (utilsforecast's
    ``smape``) leave the 2 out and report values in [0, 1]: fc_core's sMAPE is
    exactly twice theirs (checked in tests/test_metrics_crosscheck.py).

    Examples
    --------
    >>> float(smape([1.0, 0.0], [3.0, 0.0]))  # (2 * 2 / 4 + 0) / 2
    0.5
    """
    y, f, ok = _prep(y, yhat, mask)
    den = np.abs(y) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(den == 0, 0.0, 2.0 * np.abs(y - f) / np.where(den == 0, 1.0, den))
    return _mean(s, ok, axis)


def seasonal_scale(insample, season_length: int, mask=None):
    """MASE's denominator: mean ``|Y_t - Y_(t-m)|`` over the in-sample series.

    Parameters
    ----------
    insample : array_like, shape (T,) or (n, T)
        Training values; rows of a 2-D array are series (NaN-padded is fine).
    season_length : int
        ``m``. A series with at most ``m`` values falls back to ``m = 1``.
    mask : array_like of bool, optional
        True where an in-sample value was observed; a difference counts only
        when both of its ends are observed (NaN values never are).

    Returns
    -------
    float or ndarray
        NaN where no difference can be formed.

    Examples
    --------
    >>> float(seasonal_scale([1.0, 2.0, 4.0, 7.0], 2))  # (|4 - 1| + |7 - 2|) / 2
    4.0
    >>> float(seasonal_scale([1.0, 3.0], 2))  # too short for m = 2: lag 1
    2.0
    """
    x = np.asarray(insample, dtype=float)
    one = x.ndim == 1
    x = np.atleast_2d(x)
    ok = ~np.isnan(x)
    if mask is not None:
        ok &= np.atleast_2d(np.asarray(mask, dtype=bool))
    m = max(int(season_length), 1)

    def lag(k):
        if x.shape[1] <= k:
            return np.full(x.shape[0], np.nan)
        d = np.abs(x[:, k:] - x[:, :-k])
        return _mean(d, ok[:, k:] & ok[:, :-k], axis=-1)

    n_obs = ok.sum(axis=1)
    out = np.where(n_obs > m, lag(m), lag(1)) if m > 1 else lag(1)
    out = np.asarray(out, float)
    return float(out[0]) if one else out


def _scaled(err_mean, scale):
    scale = np.asarray(scale, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((scale > 0) & np.isfinite(scale), err_mean / np.where(scale > 0, scale, 1.0), np.nan)
    return out if np.ndim(out) else float(out)


def mase(y, yhat, insample=None, season_length: int = 1, mask=None, axis=None, scale=None):
    """Mean absolute scaled error.

    .. math:: MASE = \\frac{\\frac{1}{J} \\sum_j |e_j|}{\\frac{1}{T - m} \\sum_{t=m+1}^{T} |Y_t - Y_{t-m}|}

    with ``e_j`` the forecast errors and ``Y`` the in-sample series; Amazon
    Forecast picks ``m`` from the forecast frequency and uses the mean forecast.

    Parameters
    ----------
    y, yhat : array_like
    insample : array_like, optional
        Training series (1-D; or 2-D rows with ``axis=-1``). Not needed when ``scale`` is given.
    season_length : int
        ``m``; see :func:`seasonal_scale` for short series.
    scale : float or ndarray, optional
        A precomputed denominator (per row with ``axis=-1``).

    Returns
    -------
    float or ndarray
        NaN where the denominator is zero or undefined (a constant or too short
        in-sample series) or nothing is scored: such items drop out of the mean
        over items.

    Examples
    --------
    >>> float(mase([5.0, 6.0], [4.0, 8.0], insample=[1.0, 2.0, 3.0, 4.0], season_length=1))
    1.5
    >>> mase([5.0], [4.0], insample=[2.0, 2.0, 2.0], season_length=1)
    nan
    """
    y, f, ok = _prep(y, yhat, mask)
    if scale is None:
        if insample is None:
            raise ConfigError("mase needs the in-sample series (insample=...) or a precomputed scale.")
        scale = seasonal_scale(insample, season_length)
    return _scaled(_mean(np.abs(y - f), ok, axis), scale)


def msis(y, lower, upper, alpha: float, insample=None, season_length: int = 1, mask=None, axis=None,
         scale=None):
    """Mean scaled interval score of the ``(1 - alpha)`` interval ``[lower, upper]`` (M4).

    .. math:: MSIS = \\frac{\\frac{1}{h} \\sum_t (U_t - L_t) + \\frac{2}{\\alpha}(L_t - y_t) 1\\{y_t < L_t\\}
              + \\frac{2}{\\alpha}(y_t - U_t) 1\\{y_t > U_t\\}}{\\frac{1}{T - m} \\sum_{t=m+1}^{T} |Y_t - Y_{t-m}|}

    Scaled like :func:`mase` (same NaN rule for a zero denominator).

    Examples
    --------
    >>> float(msis([5.0, 10.0], [4.0, 4.0], [6.0, 6.0], 0.05, insample=[1.0, 2.0], season_length=1))
    82.0
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"alpha {alpha!r} must lie strictly between 0 and 1 (0.05 for a 95% interval).")
    y, lo, ok = _prep(y, lower, mask)
    hi = np.broadcast_to(np.asarray(upper, dtype=float), y.shape)
    score = (hi - lo) + (2.0 / alpha) * (lo - y) * (y < lo) + (2.0 / alpha) * (y - hi) * (y > hi)
    if scale is None:
        if insample is None:
            raise ConfigError("msis needs the in-sample series (insample=...) or a precomputed scale.")
        scale = seasonal_scale(insample, season_length)
    return _scaled(_mean(score, ok, axis), scale)


def coverage(y, lower, upper, mask=None, axis=None):
    """Share of scored actuals inside ``[lower, upper]`` (bounds included); NaN when nothing is scored.

    Examples
    --------
    >>> float(coverage([1.0, 5.0, 3.0, 2.0], [0.0, 0.0, 3.0, 3.0], [2.0, 2.0, 4.0, 4.0]))
    0.5
    """
    y, lo, ok = _prep(y, lower, mask)
    hi = np.broadcast_to(np.asarray(upper, dtype=float), y.shape)
    inside = ((y >= lo) & (y <= hi)).astype(float)
    return _mean(inside, ok, axis)


# -------------------------------------------------------------- aggregation
def _level_name(x: float) -> str:
    return f"{round(float(x), 6):g}"


def metric_names(quantiles: Sequence[float]) -> list[str]:
    """Metric names :func:`evaluate` reports for ``quantiles``, in its order.

    >>> metric_names([0.1, 0.5, 0.9])
    ['wQL[0.1]', 'wQL[0.5]', 'wQL[0.9]', 'AverageWeightedQuantileLoss', 'WAPE', 'RMSE', 'MAPE', 'MASE', 'sMAPE', 'MSIS', 'Coverage[0.8]']
    """
    qs = sorted(float(q) for q in quantiles)
    names = [f"wQL[{_level_name(q)}]" for q in qs]
    if qs:
        names.append("AverageWeightedQuantileLoss")
    names += ["WAPE", "RMSE", "MAPE", "MASE", "sMAPE"]
    if len(qs) >= 2 and qs[0] < qs[-1]:
        names += ["MSIS", f"Coverage[{_level_name(qs[-1] - qs[0])}]"]
    return names


_COVERAGE = re.compile(r"^Coverage\[([0-9.]+)\]$")


def nominal_coverage(metric: str) -> float | None:
    """The nominal level of a ``Coverage[level]`` metric name; None for any other metric.

    >>> nominal_coverage("Coverage[0.8]"), nominal_coverage("WAPE")
    (0.8, None)
    """
    m = _COVERAGE.match(str(metric))
    return float(m.group(1)) if m else None


def ranking_score(metric: str, values):
    """What ranks algorithms by ``metric``, lower being better: the value itself for the
    error metrics, and ``|coverage - level|`` for ``Coverage[level]`` (an 80 % interval
    that holds 78 % of the actuals beats one that holds 60 % or 95 %). NaN stays NaN.

    >>> ranking_score("Coverage[0.8]", np.array([0.78, 0.60, 0.95])).round(2).tolist()
    [0.02, 0.2, 0.15]
    >>> ranking_score("WAPE", np.array([0.3, 0.1])).tolist()
    [0.3, 0.1]
    """
    level = nominal_coverage(metric)
    if level is None:
        return values
    return abs(values - level)


def metric_goal(metric: str) -> str:
    """How ``metric`` ranks, in words, for axis labels and summaries.

    >>> metric_goal("Coverage[0.8]"), metric_goal("MASE")
    ('closest to 0.8 is best', 'lower is better')
    """
    level = nominal_coverage(metric)
    return "lower is better" if level is None else f"closest to {level:g} is best"


def insample_scale(insample, n: int, season_length: int) -> np.ndarray:
    """Per-item MASE denominator from a Panel (vectorised over its flat arrays) or a list of arrays."""
    from .panel import Panel

    if hasattr(insample, "mase_scale"):  # computed once (fc_core.automl.ensemble._ScoredItems)
        return insample.mase_scale(n, season_length)
    if isinstance(insample, Panel):
        values = np.asarray(insample.values, float)
        observed = np.asarray(insample.observed, bool) & ~np.isnan(values)
        indptr = np.asarray(insample.indptr, np.int64)
    else:
        series = [np.asarray(s, float).ravel() for s in insample]
        lens = np.array([len(s) for s in series], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        values = np.concatenate(series) if len(series) else np.zeros(0)
        observed = ~np.isnan(values)
    if len(indptr) - 1 != n:
        raise ConfigError(f"insample has {len(indptr) - 1} series but the actuals have {n} rows.")
    lens = np.diff(indptr)
    item = np.repeat(np.arange(n), lens)
    pos = np.arange(len(values)) - np.repeat(indptr[:-1], lens)

    def lag(k):
        idx = np.flatnonzero(pos >= k)
        ok = observed[idx] & observed[idx - k]
        idx = idx[ok]
        d = np.abs(values[idx] - values[idx - k])
        s = np.bincount(item[idx], weights=d, minlength=n)
        c = np.bincount(item[idx], minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)

    m = max(int(season_length), 1)
    n_obs = np.bincount(item[observed], minlength=n)
    return np.where(n_obs > m, lag(m), lag(1)) if m > 1 else lag(1)


def evaluate(actuals, observed, forecast, insample, season_length: int,
             quantiles: Sequence[float] | None = None) -> tuple[pd.DataFrame, dict]:
    """Amazon Forecast's accuracy metrics of one backtest window, per item and overall.

    Parameters
    ----------
    actuals : ndarray, shape (n, H)
        Values of the window (NaN where absent).
    observed : ndarray of bool, shape (n, H)
        True where a value is known: observed, or filled with a real value (zero- or value-filled
        counts); points filled with an estimate (nan, mean, median, min, max) or absent are not scored.
    forecast : ForecastArrays
        Forecasts of the same ``n`` items and ``H`` steps (``forecast.mean`` is
        the point forecast, as in Amazon Forecast).
    insample : Panel or list of 1-D arrays
        Each item's training data before the window (the MASE/MSIS denominator), or an object with
        ``keys`` and ``mase_scale(n, season_length)`` holding the denominators computed once.
    season_length : int
        ``m`` of MASE and MSIS (e.g. ``frequency.season_length(freq)``).
    quantiles : sequence of float, optional
        Levels to score with wQL; default the forecast's own levels. The
        outermost pair also gives the interval of ``MSIS`` (``alpha = 1 - level``)
        and ``Coverage[level]``, named by its nominal level ``hi - lo``.

    Returns
    -------
    per_item : DataFrame
        One row per item: the key columns (when ``insample`` is a Panel),
        ``n_observed`` and the metrics of :func:`metric_names`, each computed on that item alone.
    overall : dict
        The window's metrics. ``wQL[tau]``, ``WAPE`` and ``Coverage`` pool the sums
        over all items and steps, ``RMSE`` pools all points (Amazon Forecast's
        definitions); ``MAPE``, ``MASE``, ``sMAPE`` and ``MSIS`` are means of the per-item
        values over the items where they are defined. ``AverageWeightedQuantileLoss``
        is the mean of the pooled ``wQL``. Also ``n_items`` and ``n_observed``.

    Raises
    ------
    ConfigError
        If shapes disagree or a level is outside (0, 1).

    Examples
    --------
    >>> import pandas as pd
    >>> from fc_core.quantiles import ForecastArrays
    >>> y = np.array([[2.0, 4.0]]); q = np.stack([y - 1, y, y + 1], axis=-1)
    >>> fa = ForecastArrays(np.array([0.1, 0.5, 0.9]), q, y.copy(), pd.DatetimeIndex(["2020-01-01"]))
    >>> per, overall = evaluate(y, np.ones_like(y, bool), fa, [np.array([1.0, 2.0, 3.0])], 1)
    >>> overall["WAPE"], overall["wQL[0.5]"], overall["Coverage[0.8]"], round(overall["wQL[0.1]"], 6)
    (0.0, 0.0, 1.0, 0.066667)
    """
    y = np.asarray(actuals, dtype=float)
    if y.ndim != 2:
        raise ConfigError(f"actuals must be a 2-D (items, horizon) array, got shape {y.shape}.")
    n, H = y.shape
    obs = np.asarray(observed, dtype=bool)
    if obs.shape != y.shape:
        raise ConfigError(f"observed mask shape {obs.shape} does not match actuals shape {y.shape}.")
    mean = np.asarray(forecast.mean, dtype=float)
    if mean.shape[0] != n or mean.shape[1] < H:
        raise ConfigError(f"forecast covers {mean.shape} (items, steps) but the actuals are {y.shape}.")
    mean = mean[:, :H]
    levels = sorted(float(q) for q in (forecast.quantile_levels if quantiles is None else quantiles))
    for q in levels:
        if not 0.0 < q < 1.0:
            raise ConfigError(f"quantile level {q!r} must lie strictly between 0 and 1.")
    ok = obs & ~np.isnan(y)
    qf = {q: np.asarray(forecast.quantile(q), float)[:, :H] for q in levels}
    scale = insample_scale(insample, n, season_length)

    per: dict[str, np.ndarray] = {}
    overall: dict[str, float] = {}
    for q in levels:
        name = f"wQL[{_level_name(q)}]"
        per[name] = wql(y, qf[q], q, mask=ok, axis=-1)
        overall[name] = wql(y, qf[q], q, mask=ok)
    if levels:
        per["AverageWeightedQuantileLoss"] = np.mean([per[f"wQL[{_level_name(q)}]"] for q in levels], axis=0)
        overall["AverageWeightedQuantileLoss"] = float(np.mean([overall[f"wQL[{_level_name(q)}]"] for q in levels]))
    per["WAPE"], overall["WAPE"] = wape(y, mean, ok, axis=-1), wape(y, mean, ok)
    per["RMSE"], overall["RMSE"] = rmse(y, mean, ok, axis=-1), rmse(y, mean, ok)
    per["MAPE"] = mape(y, mean, ok, axis=-1)
    per["MASE"] = mase(y, mean, mask=ok, axis=-1, scale=scale)
    per["sMAPE"] = smape(y, mean, ok, axis=-1)
    if len(levels) >= 2 and levels[0] < levels[-1]:
        lo, hi = qf[levels[0]], qf[levels[-1]]
        level = levels[-1] - levels[0]
        per["MSIS"] = msis(y, lo, hi, 1.0 - level, mask=ok, axis=-1, scale=scale)
        cname = f"Coverage[{_level_name(level)}]"
        per[cname] = coverage(y, lo, hi, ok, axis=-1)
        overall_cov = coverage(y, lo, hi, ok)
    for name in ("MAPE", "MASE", "sMAPE", "MSIS"):
        if name in per:
            v = per[name]
            overall[name] = float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")
    if len(levels) >= 2 and levels[0] < levels[-1]:
        overall[cname] = overall_cov
    order = metric_names(levels)
    overall = {k: overall[k] for k in order if k in overall}
    overall["n_items"] = int(np.sum(ok.any(axis=1)))
    overall["n_observed"] = int(ok.sum())

    from .panel import Panel

    keyed = isinstance(insample, Panel) or hasattr(insample, "mase_scale")
    frame = insample.keys.reset_index(drop=True).copy() if keyed else pd.DataFrame({"item": np.arange(n)})
    frame["n_observed"] = ok.sum(axis=1)
    for k in order:
        if k in per:
            frame[k] = np.asarray(per[k], float)
    return frame, overall
