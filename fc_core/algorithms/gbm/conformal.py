"""GBM's conformal quantiles: out-of-sample errors of backtest windows, their spread and per-step quantiles."""
from __future__ import annotations

import numpy as np

from ...panel import Panel
from .boosting import _fit_models, _predict_x, _threads
from .features import _cut, _Grid, _Layout, _nanmean, _static_codes
from .sampling import _chunks, item_sample, sample_note

# ------------------------------------------------------------- calibration
def _calibrate(panel: Panel, lay: _Layout, params: dict, seed: int, horizon: int, use_log: bool, cats: dict,
               progress: bool, sampled: dict | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Out-of-sample errors ``x - x_hat`` of ``W`` backtest windows, shape (W, n, H), and the
    series' volatility at each window's origin (W, n); None if impossible.

    The windows start ``stride`` steps apart (default ``min(H, m)``); fewer than
    ``calibration_windows`` are used when the held-out stretch would exceed a third
    of the median series length. The calibration model trains on the row budget
    (:func:`.sampling.item_sample`; what was sampled goes to ``sampled["calibration_model"]``);
    the windows are forecast a chunk of items at a time.
    """
    W = int(params["calibration_windows"])
    if W < 1:
        return None
    stride = int(params["calibration_stride"] or max(1, min(horizon, lay.m)))
    n = panel.n_series
    room = np.median(panel.lengths[panel.lengths > 0]) / 3 if (panel.lengths > 0).any() else 0
    W = int(min(W, max(1, np.floor((room - horizon) / stride) + 1)))
    ks = horizon + stride * np.arange(W)
    train = _cut(panel, int(ks[-1]))
    pick, info = item_sample(train, lay, params, seed + 1)
    if pick is not None:
        train = train.select(pick)
    grid = _Grid(train, lay, horizon, use_log)
    models = _fit_models(grid, _static_codes(train, cats), params, seed + 1, progress, "GBM calibration model")
    del grid
    if not models:
        return None
    if sampled is not None:
        sampled["calibration_model"] = sample_note(info, next(iter(models.values())).fc_effort)
    err = np.full((W, n, horizon), np.nan)
    vol = np.full((W, n), np.nan)
    for chunk in _chunks(n, W):  # W windows of a chunk of items on one grid
        reps = np.tile(chunk, W)
        kk = np.repeat(ks, len(chunk))
        windows = _cut(panel.select(reps), kk)
        g = _Grid(windows, lay, horizon, use_log)
        ok = (g.n_obs >= lay.m + 2) & (g.lens > lay.m)
        xhat = _predict_x(models, g, _static_codes(windows, cats), np.flatnonzero(ok), _threads(params))
        # actual values of each window, transformed with the window's own scale
        actual = np.full((len(reps), horizon), np.nan)
        for r, (i, k) in enumerate(zip(reps, kk)):
            a = panel.indptr[i] + panel.lengths[i] - k
            b = min(a + horizon, panel.indptr[i + 1])
            if b > a:
                v = np.where(panel.observed[a:b], panel.values[a:b], np.nan)
                actual[r, :b - a] = v
        x = actual / g.scale[:, None]
        if use_log:
            x = np.log1p(np.maximum(x, 0.0))
        e = np.full_like(actual, np.nan)
        e[ok] = x[ok] - xhat
        err[:, chunk] = e.reshape(W, len(chunk), horizon)
        vol[:, chunk] = g.volatility().reshape(W, len(chunk))
    return err, vol


def _spread(err: np.ndarray, vol: np.ndarray, mode: str, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-series spread ratio ``r`` (n,) and standardised errors Z (W * n, H).

    The errors of window ``w`` of series ``i`` are divided by ``b_wi`` = the series'
    in-sample volatility at that origin (modes ``volatility``, ``both``; else 1) and,
    for modes ``series``/``both``, by ``r_i = (prior + sum_w q_wi) / (prior + N_i)``,
    ``q_wi`` the window's mean of ``|e / b| / mean_pooled|e / b|`` per step (leave
    the window itself out). A forecast's spread is then ``b_i r_i``.
    """
    W, n, H = err.shape
    if mode in ("volatility", "both"):
        med = np.nanmedian(vol) if np.isfinite(vol).any() else 1.0
        err = err / np.where(np.isfinite(vol), vol, med)[:, :, None]
    if mode in ("pooled", "volatility"):
        return np.ones(n), err.reshape(W * n, H)
    with np.errstate(all="ignore"):
        a = _nanmean(np.abs(err), axis=(0, 1))
        a = np.where(a > 0, a, _nanmean(np.abs(err)) if np.isfinite(err).any() else 1.0)
        rw = _nanmean(np.abs(err) / a[None, None, :], axis=2)  # (W, n)
    has = ~np.isnan(rw)
    tot, cnt = np.nansum(rw, axis=0), has.sum(axis=0)
    ratio = (prior + tot) / (prior + cnt)
    Z = np.empty_like(err)
    for w in range(W):
        t = tot - np.where(has[w], rw[w], 0.0)
        c = cnt - has[w]
        Z[w] = err[w] / ((prior + t) / (prior + c))[:, None]
    return ratio, Z.reshape(W * n, H)


def _z_quantiles(Z: np.ndarray, levels: np.ndarray, horizon: int, min_count: int = 100) -> np.ndarray:
    """Quantiles (horizon, Q) of standardised errors per step, pooling neighbouring steps while
    fewer than ``min_count`` errors; a normal tail where too few errors reach a level."""
    from scipy.stats import norm

    levels = np.asarray(levels, dtype=float)
    Hc = Z.shape[1]
    cnt = np.sum(~np.isnan(Z), axis=0)
    out = np.zeros((horizon, len(levels)))
    for h in range(horizon):
        hc = min(h, Hc - 1)
        b = 0
        while cnt[max(0, hc - b):hc + b + 1].sum() < min_count and (hc - b > 0 or hc + b < Hc - 1):
            b += 1
        v = Z[:, max(0, hc - b):hc + b + 1].ravel()
        v = v[~np.isnan(v)]
        if not len(v):
            continue
        q = np.quantile(v, levels)
        med = np.median(v)
        sd = 1.4826 * np.median(np.abs(v - med)) or np.std(v)
        thin = len(v) * np.minimum(levels, 1 - levels) < 2
        gauss = med + sd * norm.ppf(levels)
        q = np.where(thin & (np.abs(gauss - med) > np.abs(q - med)), gauss, q)
        if h >= Hc:  # past the calibrated horizon: widen like a random walk
            q = med + (q - med) * np.sqrt((h + 1) / Hc)
        out[h] = np.maximum.accumulate(q)
    return out
