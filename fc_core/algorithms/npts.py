"""NPTS: non-parametric time series forecaster (Amazon Forecast's NPTS), vectorised.

A forecast for time ``T`` is one of the series' past values, drawn with
probability ``q_T(t)`` from a kernel over the time steps ``t < T``; forecasts
for later steps may draw earlier *sampled* values too (sequential sampling:
each sample path is extended one step at a time). Quantiles and the mean come
from ``num_samples`` paths. Forecasts never leave the range of the observed
values, which suits sparse, spiky (intermittent) series.

Kernels (Amazon Forecast's four variants)
-----------------------------------------
* ``kernel_type="exponential"`` (NPTS):
  ``q_T(t) = exp(-lambda * (|T - t| / (L + H - 1) + s * |f(T) - f(t)|))``, with
  ``lambda = exp_kernel_weights``, ``L`` the context length, ``H`` the horizon.
  Recent values are likelier; with ``use_seasonal_model`` the calendar feature
  ``f`` (hour of day for hourly data, day of week for daily, day of month for
  weekly, month of year for monthly, minute of hour for minutes; scaled to
  [-0.5, 0.5]) enters with scale ``s = feature_scale = 1000``, so in effect only
  values of the same hour (day, month) are drawn: seasonal NPTS.
* ``kernel_type="uniform"`` (climatological): every past value equally likely,
  or with ``use_seasonal_model`` every value whose calendar feature equals
  ``f(T)``: seasonal climatological.

Missing values are never drawn (their weight is 0); a step with no eligible
value draws uniformly from the observed ones. The sampler is vectorised over
all series of a chunk and all samples: per step one cumulative-weight matrix
and one ``searchsorted``. Each series draws from its own random stream, seeded
by the estimator's seed and the series' key, so a series gets the same numbers
whatever other series are forecast with it and whatever ``n_jobs``.

The method follows GluonTS's ``NPTSPredictor`` (same kernels, features and
defaults; ``context_length`` defaults to the last 1,100 values as there).
"""
from __future__ import annotations

import functools
import warnings
import zlib

import numpy as np
import pandas as pd

from .. import frequency as fq
from .. import parallel
from ..errors import ConfigError
from ..panel import Panel
from .base import Capabilities, Estimator, ForecastArrays, Predictor
from .baselines import seasonal_naive_arrays
from .baselines import item_labels

DEFAULT_CONTEXT = 1100
CHUNK = 1024  # series per vectorised block (memory: CHUNK x (context + horizon) floats per step)


# ------------------------------------------------------------- calendar
def season_feature(timestamps: pd.DatetimeIndex, frequency: str) -> tuple[np.ndarray, int] | None:
    """The calendar feature of seasonal NPTS as integer codes and their count, or None.

    >>> codes, num = season_feature(pd.date_range("2024-01-01", periods=3, freq="h"), "H")
    >>> codes.tolist(), num
    ([0, 1, 2], 24)
    """
    _, base = fq.parse(frequency)
    ts = pd.DatetimeIndex(timestamps)
    if base == "min":
        return ts.minute.to_numpy(np.int64), 60
    if base == "H":
        return ts.hour.to_numpy(np.int64), 24
    if base == "D":
        return ts.dayofweek.to_numpy(np.int64), 7
    if base == "W":
        return (ts.day - 1).to_numpy(np.int64), 31
    if base in ("M", "Q"):
        return (ts.month - 1).to_numpy(np.int64), 12
    return None


def _stream_seed(seed: int, label: str) -> int:
    return (int(seed) & 0xFFFFFFFF) << 32 | zlib.crc32(label.encode("utf-8"))


# ------------------------------------------------------------- sampler
def npts_sample(Y: np.ndarray, lengths: np.ndarray, codes: np.ndarray | None, num_codes: int, horizon: int,
                uniforms: np.ndarray, kernel_type: str = "exponential", exp_kernel_weights: float = 1.0,
                feature_scale: float = 1000.0) -> np.ndarray:
    """Sample paths of NPTS for a block of series, vectorised.

    Parameters
    ----------
    Y : ndarray (n, L)
        Contexts, right-aligned, NaN where missing or padding.
    lengths : ndarray (n,)
        Context length of each series (its last ``lengths[i]`` columns of ``Y``).
    codes : ndarray (n, L + H) of int, or None
        Calendar feature of every context and forecast step (None: not seasonal).
    num_codes : int
        Number of distinct codes (the feature is scaled as ``code / (num_codes - 1) - 0.5``).
    horizon : int
    uniforms : ndarray (n, H, S)
        Uniform draws in [0, 1): one per series, step and sample path.
    kernel_type : {"exponential", "uniform"}

    Returns
    -------
    ndarray (n, S, H)
    """
    n, L = Y.shape
    S = uniforms.shape[2]
    P = L + horizon
    pos = np.arange(P)
    pad = (L - lengths)[:, None]
    valid = np.zeros((n, P), dtype=bool)
    valid[:, :L] = (pos[None, :L] >= pad) & ~np.isnan(Y)
    valid[:, L:] = True
    scale = 1.0 / np.maximum(lengths + horizon - 1, 1)[:, None]
    paths = np.zeros((n, S, horizon))
    rows = np.arange(n)
    offsets = 2.0 * rows[:, None]
    Yz = np.nan_to_num(Y)
    if codes is not None:
        cscale = feature_scale / max(num_codes - 1, 1)
    for h in range(horizon):
        T = L + h
        ok = valid[:, :T]
        if kernel_type == "exponential":
            logw = -exp_kernel_weights * (T - pos[None, :T]) * scale
            if codes is not None:
                logw = logw - exp_kernel_weights * cscale * np.abs(codes[:, :T] - codes[:, T:T + 1])
            logw = np.where(ok, logw, -np.inf)
            top = logw.max(axis=1, keepdims=True)
            w = np.exp(logw - np.where(np.isfinite(top), top, 0.0))
        else:
            w = ok.astype(float)
            if codes is not None:
                w = w * (codes[:, :T] == codes[:, T:T + 1])
        empty = w.sum(axis=1) <= 0
        if empty.any():  # no eligible value for this step: any observed value
            w[empty] = ok[empty]
        cdf = np.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]
        flat = (cdf + offsets).ravel()
        q = uniforms[:, h, :] + offsets  # (n, S)
        j = np.searchsorted(flat, q.ravel(), side="right").reshape(n, S) - (rows * T)[:, None]
        j = np.clip(j, 0, T - 1)
        from_ctx = j < L
        ctx_vals = Yz[rows[:, None], np.minimum(j, L - 1)]
        if h:
            old = np.take_along_axis(paths, np.clip(j - L, 0, horizon - 1)[:, :, None], axis=2)[:, :, 0]
            paths[:, :, h] = np.where(from_ctx, ctx_vals, old)
        else:
            paths[:, :, h] = ctx_vals
    return paths


def _npts_chunk(chunk: list, spec: dict) -> list:
    """Worker side: ``chunk`` holds ``(context, codes or None, stream seed)`` per series;
    returns ``(mean (H,), quantiles (H, Q))`` per series."""
    H, S = spec["horizon"], spec["num_samples"]
    taus = np.asarray(spec["taus"], dtype=float)
    lengths = np.array([len(c[0]) for c in chunk], dtype=np.int64)
    L = int(lengths.max())
    n = len(chunk)
    Y = np.full((n, L), np.nan)
    codes = np.zeros((n, L + H), dtype=np.int64) if spec["seasonal"] else None
    U = np.empty((n, H, S))
    for i, (y, c, s) in enumerate(chunk):
        Y[i, L - len(y):] = y
        if codes is not None:
            codes[i, L - len(y):] = c
            codes[i, :L - len(y)] = -10**6  # padding never matches
        U[i] = np.random.Generator(np.random.PCG64(s)).random((H, S))
    paths = npts_sample(Y, lengths, codes, spec["num_codes"], H, U, spec["kernel_type"],
                        spec["exp_kernel_weights"], spec["feature_scale"])
    # a quantile is one of the sampled values (as GluonTS): counts stay whole numbers
    q = np.moveaxis(np.quantile(paths, taus, axis=1, method="nearest"), 0, -1)  # (n, H, Q)
    mean = paths.mean(axis=1)
    return [(mean[i], q[i]) for i in range(n)]


# ------------------------------------------------------------- estimator
class NPTSPredictor(Predictor):
    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        p = self.estimator.params
        n = panel.n_series
        ctx = int(p["context_length"] or DEFAULT_CONTEXT)
        seasonal = bool(p["use_seasonal_model"] and p["use_default_time_features"])
        feat = season_feature(pd.DatetimeIndex([]), panel.frequency) if seasonal else None
        seasonal = feat is not None
        num_codes = feat[1] if feat else 1
        labels = item_labels(panel, range(n))
        ends = panel.end_timestamps() if n else pd.DatetimeIndex([])
        off = fq.to_offset(panel.frequency)
        cal_cache: dict = {}
        items, rows, failed, reasons = [], [], [], []
        for i in range(n):
            y = panel.series(i)[-ctx:]
            if not np.isfinite(y).any():
                failed.append(i)
                reasons.append("no data" if len(y) == 0 else f"no observed value in the last {ctx} steps")
                continue
            codes = None
            if seasonal:
                key = (ends[i], len(y))
                if key not in cal_cache:
                    first = ends[i] - (len(y) - 1) * off
                    cal_cache[key] = season_feature(fq.date_range(first, len(y) + horizon, panel.frequency),
                                                    panel.frequency)[0]
                codes = cal_cache[key]
            items.append((np.asarray(y, dtype=float), codes, _stream_seed(self.estimator.seed, labels[i])))
            rows.append(i)
        spec = {"horizon": int(horizon), "num_samples": int(p["num_samples"]), "taus": [float(t) for t in levels],
                "seasonal": seasonal, "num_codes": num_codes, "kernel_type": p["kernel_type"],
                "exp_kernel_weights": float(p["exp_kernel_weights"]), "feature_scale": float(p["feature_scale"])}
        # similar lengths in one block keep the padding small
        order = np.argsort([-len(it[0]) for it in items], kind="stable")
        res = parallel.map_chunks(functools.partial(_npts_chunk, spec=spec), [items[k] for k in order],
                                  desc=f"NPTS ({len(items)} series)", progress=progress, chunk_size=CHUNK,
                                  inline_below=4 * CHUNK)
        quant = np.zeros((n, horizon, len(levels)))
        mean = np.zeros((n, horizon))
        for k, r in zip(order, res):
            mean[rows[k]], quant[rows[k]] = r
        if failed:
            fb = seasonal_naive_arrays(panel.select(failed), horizon, levels, fq.season_length(panel.frequency))
            mean[failed], quant[failed] = fb.mean, fb.quantiles
            warnings.warn(f"NPTS: {len(failed)} of {n} series have no observed value to sample and get the "
                          f"seasonal naive forecast ({', '.join(labels[i] for i in failed[:5])}"
                          f"{' ...' if len(failed) > 5 else ''}).", UserWarning, stacklevel=3)
        fb_labels = [labels[i] for i in failed]
        self.info["fallback_items"] = fb_labels
        self.info["fallback_reasons"] = dict(zip(fb_labels, reasons))
        start = ends + off if n else panel.starts
        arr = ForecastArrays(np.asarray(levels, float), quant, mean, start, {"fallback_items": fb_labels})
        return arr.clip(None)  # sorted; the guard clips at 0 (non_negative)


class NPTSEstimator(Estimator):
    """Non-parametric time series (NPTS) and its seasonal and climatological variants.

    Parameters
    ----------
    kernel_type : {"exponential", "uniform"}
        ``exponential``: NPTS (recent values likelier); ``uniform``: climatological.
    exp_kernel_weights : float
        Decay ``lambda`` of the exponential kernel (default 1.0); larger = more weight on recent values.
    use_seasonal_model : bool
        Seasonal variant: draw values of the same hour of day (day of week, ...).
    use_default_time_features : bool
        Use the frequency's calendar feature for the seasonal variant (False makes it non-seasonal).
    context_length : int, optional
        Past values considered (default: the last 1,100).
    num_samples : int
        Sample paths behind the quantiles and the mean (default 100).
    feature_scale : float
        Weight of the calendar feature against time distance in the exponential kernel.

    Raises
    ------
    ConfigError
        For an unknown kernel or a non-positive weight, context length or sample count.

    >>> import numpy as np, pandas as pd
    >>> from fc_core.panel import Panel
    >>> df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024", periods=96, freq="h"),
    ...                    "target_value": np.tile([0.0, 10.0], 48)})
    >>> p = Panel.from_frame(df, ["item_id"], "target_value", "H")
    >>> NPTSEstimator(4).train(p).predict()["p50"].tolist()
    [0.0, 10.0, 0.0, 10.0]
    """

    name = "NPTS"
    capabilities = Capabilities(local=True, needs_seed=True)
    parallel_items = True  # per-item fits through fc_core.parallel (cores or a Dask cluster)
    defaults = {"kernel_type": "exponential", "exp_kernel_weights": 1.0, "use_seasonal_model": True,
                "use_default_time_features": True, "context_length": None, "num_samples": 100,
                "feature_scale": 1000.0}
    predictor_class = NPTSPredictor

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.params
        if p["kernel_type"] not in ("exponential", "uniform"):
            raise ConfigError(f"NPTS kernel_type {p['kernel_type']!r}: use 'exponential' or 'uniform'.")
        try:
            w = float(p["exp_kernel_weights"])
        except (TypeError, ValueError):
            w = -1.0
        if not w > 0:
            raise ConfigError(f"NPTS exp_kernel_weights must be a positive number, got {p['exp_kernel_weights']!r}.")
        self._check_positive_ints("num_samples")
        self._check_positive_ints("context_length", optional=True)
        if not float(p["feature_scale"]) > 0:
            raise ConfigError(f"NPTS feature_scale must be positive, got {p['feature_scale']!r}.")
