"""Fallback forecasts as arrays, shared by the models and the forecast guard.

Seasonal naive forecasts for the items a model cannot fit (:func:`seasonal_naive_arrays`,
:func:`collect_with_fallback`), cold-start items filled from donor items (:func:`cold_start_from_donors`),
and small array helpers. The rule is explained in :mod:`fc_core.algorithms.baselines`; this module
imports no model, so :mod:`fc_core.algorithms.guard` (run by every predictor) can use it.
"""
from __future__ import annotations

import numpy as np

from ..panel import Panel
from ..quantiles import ForecastArrays


def cold_start_from_donors(panel: Panel, cold: np.ndarray, donors: np.ndarray, quant: np.ndarray,
                           mean: np.ndarray) -> None:
    """Fill the forecasts of cold-start items (rows ``cold``) in place: the average forecast of
    the ``donors`` sharing their first metadata value, else of all donors (nothing without donors)."""
    if not len(donors):
        return
    group = None
    if panel.static is not None and panel.static.shape[1]:
        group = panel.static.iloc[:, 0].astype(str).to_numpy()
    for i in cold:
        d = donors
        if group is not None and group[i] != "":
            same = donors[group[donors] == group[i]]
            d = same if len(same) else donors
        quant[i], mean[i] = quant[d].mean(axis=0), mean[d].mean(axis=0)


def complete_global_forecast(panel: Panel, quant: np.ndarray, mean: np.ndarray, levels, modelled: np.ndarray,
                             fallback: np.ndarray, season_length: int) -> ForecastArrays:
    """Finish a global model's forecast of ``panel``: rows ``fallback`` get seasonal naive, cold-start
    items (no history) the average of the ``modelled`` rows sharing their first metadata value; the
    quantiles are sorted (the guard clips at 0). ``info`` names the fallback and cold-start items."""
    cold = np.flatnonzero(panel.lengths == 0)
    _seasonal_naive_into(panel, fallback, quant, mean, levels, season_length)
    if len(cold):
        cold_start_from_donors(panel, cold, modelled, quant, mean)
    keys = panel.key_strings()
    info = {"fallback_items": keys[fallback].tolist(), "cold_start_items": keys[cold].tolist()}
    arr = ForecastArrays(np.asarray(levels, float), quant, mean, panel.forecast_starts(), info)
    return arr.clip(None)


def seasonal_naive_arrays(panel: Panel, horizon: int, levels: np.ndarray, season_length: int,
                          max_history: int = 2000) -> ForecastArrays:
    """Vectorised seasonal naive forecasts for every series of ``panel``.

    Missing values in the last season are carried from the season before
    (a series shorter than one season repeats its last value). A series with no
    data at all forecasts 0.
    """
    n = panel.n_series
    m = max(int(season_length), 1)
    Y = panel.padded(min(int(panel.lengths.max(initial=0)), max_history)) if n else np.zeros((0, 0))
    L = Y.shape[1]
    # forward-fill NaN along time so the last season is complete
    Yf = ffill_rows(Y)
    point = np.zeros((n, horizon))
    steps = np.arange(horizon)
    if L:
        lens = np.minimum(panel.lengths, L)
        mm = np.where(lens >= m, m, 1)  # short series fall back to naive
        # index into the last mm values, repeating
        idx = L - mm[:, None] + (steps[None, :] % mm[:, None])
        point = np.take_along_axis(Yf, idx, axis=1)
    point = np.nan_to_num(point, nan=0.0)
    # in-sample errors of the same rule
    if L > m:
        err = Y[:, m:] - Y[:, :-m]
    else:
        err = np.full((n, 1), np.nan)
    if L > 1 and np.all(np.isnan(err)):
        err = Y[:, 1:] - Y[:, :-1]
    qerr = np.nanquantile(np.where(np.isnan(err).all(axis=1, keepdims=True), 0.0, err), levels, axis=1).T if n else np.zeros((0, len(levels)))
    qerr = np.nan_to_num(qerr)  # (n, Q)
    # centre the errors on the point forecast: quantile of error minus its median
    med = np.nanmedian(np.where(np.isnan(err).all(axis=1, keepdims=True), 0.0, err), axis=1) if n else np.zeros(0)
    med = np.nan_to_num(med)
    k = np.ceil((steps + 1) / m)
    widen = np.sqrt(k)[None, :, None]
    q = point[:, :, None] + (qerr - med[:, None])[:, None, :] * widen
    start = panel.forecast_starts()
    return ForecastArrays(np.asarray(levels, float), np.sort(q, axis=-1), point.copy(), start)


def item_labels(panel: Panel, rows) -> list[str]:
    """Readable names of series ``rows``: the key values joined by ``|``."""
    return panel.key_strings("|")[list(rows)].tolist()


def _seasonal_naive_into(panel: Panel, rows, quant: np.ndarray, mean: np.ndarray, levels, season_length: int) -> None:
    """Put the seasonal naive forecast of series ``rows`` into ``quant`` and ``mean`` (in place)."""
    if len(rows):
        sn = seasonal_naive_arrays(panel.select(rows), mean.shape[1], np.asarray(levels, float), season_length)
        quant[rows], mean[rows] = sn.quantiles, sn.mean


def collect_with_fallback(name: str, results: list, panel: Panel, horizon: int, levels,
                          season_length: int) -> tuple[ForecastArrays, list[str], dict]:
    """Assemble per-series results of a local model: ``(mean, quantiles)`` tuples, or a string saying
    why that series failed. Failed series get the seasonal naive forecast and are reported in a
    warning; returns the arrays, the failed items' labels and their reasons."""
    import warnings

    n, Q = panel.n_series, len(levels)
    quant = np.zeros((n, horizon, Q))
    mean = np.zeros((n, horizon))
    failed, reasons = [], []
    for i, r in enumerate(results):
        if isinstance(r, str):
            failed.append(i)
            reasons.append(r)
        else:
            mean[i], quant[i] = r
    labels = []
    if failed:
        _seasonal_naive_into(panel, failed, quant, mean, levels, season_length)
        labels = item_labels(panel, failed)
        shown = "; ".join(f"{k}: {r}" for k, r in list(zip(labels, reasons))[:5])
        warnings.warn(f"{name}: {len(failed)} of {n} series could not be fitted and get the seasonal naive "
                      f"forecast instead ({shown}{' ...' if len(failed) > 5 else ''}).", UserWarning, stacklevel=4)
    start = panel.forecast_starts()
    arr = ForecastArrays(np.asarray(levels, float), quant, mean, start, {"fallback_items": labels})
    return arr, labels, dict(zip(labels, reasons))


def ffill_rows(Y: np.ndarray) -> np.ndarray:
    """Each row of ``Y`` with NaN replaced by the last value before it (leading NaN stay NaN).

    >>> ffill_rows(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])).tolist()
    [[nan, 1.0, 1.0, 3.0, 3.0]]
    """
    if Y.size == 0:
        return Y.copy()
    idx = np.where(~np.isnan(Y), np.arange(Y.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return np.take_along_axis(Y, idx, axis=1)
