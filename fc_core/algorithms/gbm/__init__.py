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
OpenMP threads are set to wait passively (see :func:`_lightgbm`).

>>> import numpy as np, pandas as pd
>>> from fc_core.panel import Panel
>>> t = np.arange(24 * 20)
>>> df = pd.DataFrame({"item_id": np.repeat(["a", "b"], len(t)),
...                    "timestamp": np.tile(pd.date_range("2024-01-01", periods=len(t), freq="h"), 2),
...                    "target_value": np.r_[10 + 3 * np.sin(2 * np.pi * t / 24), 20 + 6 * np.sin(2 * np.pi * t / 24)]})
>>> p = Panel.from_frame(df, ["item_id"], "target_value", "H")
>>> est = GBMEstimator(24, num_trees=30, calibration_windows=2)
>>> out = est.train(p).predict()
>>> out.shape, bool((out["p10"] <= out["p90"]).all())
((48, 6), True)
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ... import frequency as fq
from ...errors import ConfigError
from ...panel import Panel
from ..base import Capabilities, Estimator, ForecastArrays, Predictor
from ..baselines import complete_global_forecast, ffill_rows

_MEAN_GRID = (np.arange(100) + 0.5) / 100  # levels averaged to get the mean
_MAX_Z_ROWS = 50_000  # calibration errors kept per horizon step
_AUTO_EFFORT_ROWS = 200_000  # effort="auto": below this many training rows, fewer leaves and early stopping
_EARLY_STOPPING_ROUNDS = 20
_MAX_LOG = 50.0  # largest log1p(y / scale) mapped back: e^50 = 5e21 times the item's scale, finite


# ------------------------------------------------------------------ settings
def _lightgbm():
    """Import LightGBM, with OpenMP threads that sleep rather than spin while waiting.

    On a machine shared with other jobs, spinning OpenMP threads made LightGBM
    training up to 20x slower (measured on the 2-core benchmark machine); the
    passive policy costs little when the machine is idle. The variable only takes
    effect if no OpenMP runtime was started before, and a user's own setting wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ...errors import require

    return require("lightgbm", "The GBM algorithm")


def _lgb_params(p: dict, seed: int) -> dict:
    return {
        "objective": p["objective"], "learning_rate": p["learning_rate"], "num_leaves": p["num_leaves"],
        "min_data_in_leaf": p["min_data_in_leaf"], "feature_fraction": p["feature_fraction"],
        "bagging_fraction": p["bagging_fraction"], "bagging_freq": 1 if p["bagging_fraction"] < 1 else 0,
        "lambda_l2": p["lambda_l2"], "max_bin": 255, "seed": seed, "deterministic": True,
        "force_row_wise": True, "num_threads": _threads(p), "verbosity": -1,
    }


@dataclass
class _Layout:
    """Settings derived from the frequency and the parameters."""

    m: int
    lags: np.ndarray
    windows: list
    scale_window: int
    max_history: int
    margin: int
    longer: list
    same_phase: int
    calendar: bool
    paths: bool = False

    @classmethod
    def make(cls, freq: str, params: dict, m: int | None = None) -> "_Layout":
        m = int(m or fq.season_length(freq))
        longer = [s for s in fq.seasonalities(freq) if s > m]
        if params["lags"] is not None:
            lags = sorted({int(k) for k in params["lags"]})
            if not lags or lags[0] < 1:
                raise ConfigError(f"GBM lags must be positive whole numbers, got {params['lags']!r}.")
        else:
            lags = sorted(set(range(1, 2 * m + 1)) | {s for s in longer if s <= 400})
        windows = sorted({m, *[s for s in longer if s <= 400]})
        sw = params["scale_window"] or (max([s for s in longer if s <= 400], default=0) or max(4 * m, 8))
        maxlag = max(max(lags), max(windows))
        mh = params["max_history"] or max(1000, 6 * maxlag)
        longer = [s for s in longer if s <= 400]
        same = int(np.clip(max(longer, default=3 * m) // m - 1, 2, 12))
        return cls(m, np.asarray(lags, dtype=np.int64), windows, int(sw), int(mh), int(maxlag + m + 1),
                   longer, same, bool(params["calendar"]), bool(params.get("path_features", False)))


# ------------------------------------------------------------- the grid
class _Grid:
    """Every series right-aligned on one dense grid of columns, plus ``H`` future columns.

    Column ``end`` is each series' last value; the left ``margin`` columns are
    NaN so that lags never index below 0.
    """

    def __init__(self, panel: Panel, lay: _Layout, horizon: int, use_log: bool):
        self.lay, self.h, self.use_log = lay, int(horizon), use_log
        n = panel.n_series
        lens = np.minimum(panel.lengths, lay.max_history)
        self.lens = lens
        hist = int(lens.max(initial=0))
        self.end = lay.margin + hist - 1
        self.cols = self.end + 1 + self.h
        Y = np.full((n, self.cols), np.nan)
        obs = np.zeros((n, self.cols), dtype=bool)
        for i in range(n):
            k = int(lens[i])
            if k:
                a, b = panel.indptr[i + 1] - k, panel.indptr[i + 1]
                Y[i, self.end - k + 1:self.end + 1] = panel.values[a:b]
                obs[i, self.end - k + 1:self.end + 1] = panel.observed[a:b] & ~np.isnan(panel.values[a:b])
        Y[~obs] = np.nan
        self.obs = obs
        # per-series scale: mean |y| over the last scale_window observed values
        s = np.full(n, np.nan)
        for i in range(n):
            v = Y[i, :self.end + 1][obs[i, :self.end + 1]]
            if len(v):
                s[i] = np.mean(np.abs(v[-lay.scale_window:]))
                if not s[i] > 0:
                    s[i] = np.mean(np.abs(v))
        s[~(s > 0)] = 1.0
        self.scale = s
        X = Y / s[:, None]
        if use_log:
            X = np.log1p(np.maximum(X, 0.0))
        self.target = X.copy()  # NaN where not observed
        self.X = ffill_rows(X)  # carried forward, for lags and the differencing base
        self.X[:, self.end + 1:] = np.nan
        m = lay.m
        self.D = np.full_like(self.X, np.nan)
        self.D[:, m:] = self.X[:, m:] - self.X[:, :-m]
        self.first = self.end - lens + 1  # first column of each series
        self.n_obs = obs.sum(axis=1)
        # calendar tables per distinct end timestamp
        ends = panel.end_timestamps() if n else pd.DatetimeIndex([])
        codes, uniq = pd.factorize(ends)
        self.cal_code = codes.astype(np.int64)
        self.cal_names, tables = (_calendar_names(panel.frequency) if lay.calendar else []), []
        off = fq.to_offset(panel.frequency)
        for e in uniq:
            ts = fq.date_range(e - self.end * off, self.cols, panel.frequency)
            tables.append(_calendar(ts, panel.frequency) if lay.calendar else np.zeros((self.cols, 0)))
        C = len(self.cal_names)
        self.cal = np.stack(tables) if tables else np.zeros((0, self.cols, C))
        # related series on the grid (their values may run into the future columns)
        self.related_names = list(panel.related_names)
        F = len(self.related_names)
        self.R = np.full((n, self.cols, F), np.nan)
        if F:
            rl = np.diff(panel.related_indptr)
            for i in range(n):
                full = int(panel.lengths[i])
                col0 = self.end - full + 1
                j0 = max(0, -col0)
                j1 = min(int(rl[i]), self.cols - col0)
                if j1 > j0:
                    r = panel.related[panel.related_indptr[i] + j0:panel.related_indptr[i] + j1]
                    self.R[i, col0 + j0:col0 + j1] = r
            hist_r = self.R[:, :self.end + 1]  # each item's own mean and spread over its history
            mu = _nanmean(hist_r, axis=1)
            sd = np.sqrt(_nanmean((hist_r - mu[:, None, :]) ** 2, axis=1))
            mu = np.where(np.isnan(mu), np.nan_to_num(_nanmean(self.R, axis=(0, 1))), mu)
            sd = np.where(~(sd > 0), 1.0, sd)
            self.Rrel = (self.R - mu[:, None, :]) / sd[:, None, :]
        self.static = None

    # --------------------------------------------------------------- features
    def feature_names(self, n_static: int) -> list[str]:
        lay = self.lay
        names = [f"d_lag{k}" for k in lay.lags] + ["x_lag1", f"x_lag{lay.m}"]
        names += [f"d_mean{w}" for w in lay.windows] + ["phase"] + self.cal_names + ["log_scale"]
        for kind in ("rel", "relz", "reld"):  # the column order of features(): all fields per kind
            names += [f"{kind}_{r}" for r in self.related_names]
        names += [f"static{j}" for j in range(n_static)]
        return names

    def features(self, rows: np.ndarray, cols: np.ndarray, static_codes: np.ndarray | None,
                 cums: tuple | None = None) -> np.ndarray:
        """Feature matrix for predicting ``d`` at grid cell (rows[k], cols[k])."""
        lay = self.lay
        r, c = rows[:, None], cols[:, None]
        parts = [self.D[r, c - lay.lags[None, :]], self.X[r, c - 1], self.X[r, c - lay.m]]
        for w in lay.windows:
            if cums is not None:
                S, N = cums
                tot = S[rows, cols] - S[rows, cols - w]
                cnt = N[rows, cols] - N[rows, cols - w]
            else:
                blk = self.D[r, c - np.arange(1, w + 1)[None, :]]
                tot, cnt = np.nansum(blk, axis=1), np.sum(~np.isnan(blk), axis=1)
            with np.errstate(all="ignore"):
                parts.append(np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)[:, None])
        parts.append(((cols - self.end) % lay.m)[:, None].astype(float))
        if self.cal.shape[-1]:
            parts.append(self.cal[self.cal_code[rows], cols])
        parts.append(np.log(self.scale[rows])[:, None])
        if self.related_names:
            parts += [self.R[rows, cols], self.Rrel[rows, cols], self.R[rows, cols] - self.R[rows, cols - lay.m]]
        if static_codes is not None and static_codes.shape[1]:
            parts.append(static_codes[rows].astype(float))
        return np.hstack([np.asarray(p, dtype=np.float32).reshape(len(rows), -1) for p in parts])

    # --------------------------------------------------------- direct features
    def direct_names(self, n_static: int) -> list[str]:
        lay = self.lay
        names = ["h"] + [f"same{j}" for j in range(1, lay.same_phase + 1)] + [f"long{P}" for P in lay.longer]
        names += [f"d_origin{j}" for j in range(lay.m)] + ["x_origin", "x_origin_step"]
        if lay.paths:
            for P in [lay.m, *lay.longer]:
                names += [f"path{P}", f"pathfc{P}"]
        names += [f"d_mean{w}" for w in lay.windows] + ["phase"] + self.cal_names + ["log_scale"]
        for kind in ("rel", "relz", "reld", "relo"):  # the column order of features_direct()
            names += [f"{kind}_{r}" for r in self.related_names]
        names += [f"static{j}" for j in range(n_static)]
        return names

    def direct_base(self, rows: np.ndarray, origins: np.ndarray, hs: np.ndarray) -> np.ndarray:
        """The seasonal naive value (x-space) of target cell ``origin + h``: the base the direct
        model adds its prediction to."""
        t = origins + hs
        return self.X[rows, t - self.lay.m * ((hs + self.lay.m - 1) // self.lay.m)]

    def features_direct(self, rows: np.ndarray, origins: np.ndarray, hs: np.ndarray,
                        static_codes: np.ndarray | None, cums: tuple) -> np.ndarray:
        """Features for predicting ``x[origin + h] - base`` from the data up to ``origin``."""
        lay, m = self.lay, self.lay.m
        t = origins + hs
        k = (hs + m - 1) // m
        base = self.direct_base(rows, origins, hs)[:, None]
        r, o = rows[:, None], origins[:, None]
        js = np.arange(1, lay.same_phase + 1)[None, :]
        parts = [hs[:, None].astype(float), self.X[r, np.maximum(t[:, None] - m * (k[:, None] + js), 0)] - base]
        for P in lay.longer:
            parts.append(self.X[rows, np.maximum(t - P * ((hs + P - 1) // P), 0)][:, None] - base)
        parts.append(self.D[r, np.maximum(o - np.arange(m)[None, :], 0)])
        parts += [self.X[r, o] - base, self.X[r, o] - self.X[r, np.maximum(o - 1, 0)]]
        if lay.paths:  # how the series moved over the same stretch one season (week) earlier
            for P in [m, *lay.longer]:
                kP = P * ((hs + P - 1) // P)
                path = self.X[rows, np.maximum(t - kP, 0)] - self.X[rows, np.maximum(origins - kP, 0)]
                parts += [path[:, None], (self.X[rows, origins] + path)[:, None] - base]
        S, N = cums
        for w in lay.windows:
            a = np.maximum(origins + 1 - w, 0)
            tot, cnt = S[rows, origins + 1] - S[rows, a], N[rows, origins + 1] - N[rows, a]
            with np.errstate(all="ignore"):
                parts.append(np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)[:, None])
        parts.append(((t - self.end) % m)[:, None].astype(float))
        if self.cal.shape[-1]:
            parts.append(self.cal[self.cal_code[rows], t])
        parts.append(np.log(self.scale[rows])[:, None])
        if self.related_names:
            parts += [self.R[rows, t], self.Rrel[rows, t], self.R[rows, t] - self.R[rows, np.maximum(t - m, 0)],
                      self.R[rows, t] - self.R[rows, origins]]
        if static_codes is not None and static_codes.shape[1]:
            parts.append(static_codes[rows].astype(float))
        return np.hstack([np.asarray(p, dtype=np.float32).reshape(len(rows), -1) for p in parts])

    def cumsums(self):
        Dz = np.nan_to_num(self.D)
        S = np.concatenate([np.zeros((len(Dz), 1)), np.cumsum(Dz, axis=1)], axis=1)
        N = np.concatenate([np.zeros((len(Dz), 1)), np.cumsum(~np.isnan(self.D), axis=1)], axis=1)
        return S, N  # S[:, c] = sum of D[:, :c]; one column more than the grid

    def volatility(self) -> np.ndarray:
        """Mean ``|x_t - x_(t-m)|`` over each series' observed history (NaN where undefined)."""
        m, T = self.lay.m, self.target[:, :self.end + 1]
        with np.errstate(all="ignore"):
            v = _nanmean(np.abs(T[:, m:] - T[:, :-m]), axis=1) if T.shape[1] > m else np.full(len(T), np.nan)
        return np.where(v > 0, v, np.nan)

    def inverse(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        s = self.scale[rows].reshape((-1,) + (1,) * (x.ndim - 1))
        # clipped in log space first: expm1 of a wild extrapolation must not overflow to inf
        # (values past the plausible envelope are then caught by the forecast guard)
        return s * (np.expm1(np.clip(x, 0.0, _MAX_LOG)) if self.use_log else x)


def _nanmean(a: np.ndarray, axis=None) -> np.ndarray:
    """``np.nanmean`` without the warning for all-NaN slices (they give NaN)."""
    ok = ~np.isnan(a)
    cnt = ok.sum(axis=axis)
    tot = np.where(ok, a, 0.0).sum(axis=axis)
    with np.errstate(all="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _calendar_names(freq: str) -> list[str]:
    _, base = fq.parse(freq)
    return {"min": ["minute", "hour", "dayofweek"], "H": ["hour", "dayofweek"],
            "D": ["dayofweek", "dayofmonth", "month"], "W": ["weekofyear", "month"], "M": ["month"],
            "Q": ["quarter"], "Y": []}[base]


def _calendar(ts: pd.DatetimeIndex, freq: str) -> np.ndarray:
    vals = {"minute": ts.minute, "hour": ts.hour, "dayofweek": ts.dayofweek, "dayofmonth": ts.day,
            "month": ts.month, "quarter": ts.quarter}
    names = _calendar_names(freq)
    cols = [np.asarray(ts.isocalendar().week, dtype=float) if n == "weekofyear" else np.asarray(vals[n], dtype=float)
            for n in names]
    return np.stack(cols, axis=1) if cols else np.zeros((len(ts), 0))


# ------------------------------------------------------------ panel helpers
def _cut(panel: Panel, k: np.ndarray) -> Panel:
    """Each series without its last ``k[i]`` values; related data are kept whole, so the
    cut-off part becomes future-known related values (a backtest window)."""
    k = np.minimum(np.broadcast_to(np.asarray(k, dtype=np.int64), (panel.n_series,)), panel.lengths)
    return panel.slice(stop=panel.lengths - k)


def _related_names(panel: Panel) -> list[str]:
    return [str(r) for r in panel.related_names] if panel.related is not None else []


def _static_categories(panel: Panel, max_categories: int = 1000) -> dict:
    """Metadata columns usable as categorical features: name -> sorted category list."""
    if panel.static is None:
        return {}
    out = {}
    for col in panel.static.columns:
        vals = sorted(set(panel.static[col].astype(str)) - {""})
        if 2 <= len(vals) <= max_categories:
            out[str(col)] = vals
    return out


def _static_codes(panel: Panel, cats: dict) -> np.ndarray:
    if not cats or panel.static is None:
        return np.zeros((panel.n_series, len(cats)))
    out = np.full((panel.n_series, len(cats)), np.nan)
    for j, (col, vals) in enumerate(cats.items()):
        if col in panel.static.columns:
            lookup = {v: float(c) for c, v in enumerate(vals)}
            out[:, j] = [lookup.get(str(v), np.nan) for v in panel.static[col]]
    return out


# ---------------------------------------------------------------- training
def _train_cells(grid: _Grid, max_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Grid cells (row, column) with an observed target and a defined differencing base."""
    m = grid.lay.m
    ok = ~np.isnan(grid.target[:, :grid.end + 1])
    ok[:, :grid.lay.margin] = False
    ok[:, m:] &= ~np.isnan(grid.X[:, :grid.end + 1 - m])
    ok[:, :m] = False
    rows, cols = np.nonzero(ok)
    if len(rows) > max_rows:  # keep the most recent cells preferentially
        age = (grid.end - cols).astype(float)
        w = 1.0 / (1.0 + age / max(4 * grid.lay.margin, 1))
        pick = np.sort(rng.choice(len(rows), size=max_rows, replace=False, p=w / w.sum()))
        rows, cols = rows[pick], cols[pick]
    return rows, cols


def _direct_cells(grid: _Grid, horizon: int, per_cell: float, max_rows: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, origin, h) triples for the direct model: observed target cells, each with
    random horizons ``h`` (``per_cell`` of them on average), the origin ``h`` steps before."""
    ok = ~np.isnan(grid.target[:, :grid.end + 1])
    rows, cols = np.nonzero(ok)
    reps = int(min(max(np.ceil(per_cell), 1), horizon))
    r, t = np.repeat(rows, reps), np.repeat(cols, reps)
    h = rng.integers(1, horizon + 1, size=len(r))
    o = t - h
    keep = o >= grid.first[r] + grid.lay.m
    r, o, h = r[keep], o[keep], h[keep]
    keep = ~np.isnan(grid.direct_base(r, o, h))
    r, o, h = r[keep], o[keep], h[keep]
    want = int(min(max_rows, per_cell * len(rows)))
    if len(r) > want:
        age = (grid.end - o).astype(float)
        w = 1.0 / (1.0 + age / max(4 * grid.lay.margin, 1))
        pick = np.sort(rng.choice(len(r), size=want, replace=False, p=w / w.sum()))
        r, o, h = r[pick], o[pick], h[pick]
    return r, o, h


def _fit_booster(grid: _Grid, static: np.ndarray, params: dict, seed: int, progress: bool, desc: str,
                 kind: str = "recursive"):
    """Train the one-step (``recursive``) or the multi-horizon (``direct``) model; None if no data."""
    from tqdm.auto import tqdm

    lgb = _lightgbm()
    rng = np.random.default_rng(seed)
    cums = grid.cumsums()
    if kind == "direct":
        rows, origins, hs = _direct_cells(grid, grid.h, float(params["direct_samples"]),
                                          int(params["max_train_rows"]), rng)
        if len(rows) < 10:
            return None
        feats = grid.features_direct(rows, origins, hs, static, cums)
        label = grid.target[rows, origins + hs] - grid.direct_base(rows, origins, hs)
        names = grid.direct_names(static.shape[1])
    else:
        rows, cols = _train_cells(grid, int(params["max_train_rows"]), rng)
        if len(rows) < 10:
            return None
        feats = grid.features(rows, cols, static, cums=cums)
        label = grid.target[rows, cols] - grid.X[rows, cols - grid.lay.m]
        names = grid.feature_names(static.shape[1])
    del cums
    cat = [j for j, nme in enumerate(names) if nme.startswith("static")]
    n_trees = int(params["num_trees"])
    lgb_params = _lgb_params(params, seed)
    effort = {"mode": "full", "rows": int(len(label)), "num_trees": n_trees, "num_leaves": lgb_params["num_leaves"]}
    if params["effort"] == "auto" and len(label) < _AUTO_EFFORT_ROWS:
        # small data: fewer leaves, and as many rounds as early stopping on the most recent
        # tenth of the training rows asks for; then refit on all rows with that many
        lgb_params["num_leaves"] = int(min(lgb_params["num_leaves"], max(15, len(label) // 800)))
        t_of = (origins + hs) if kind == "direct" else cols
        recent = t_of >= np.quantile(t_of, 0.9)
        if recent.sum() >= 50 and (~recent).sum() >= 50:
            tr = lgb.Dataset(feats[~recent], label=label[~recent], feature_name=names, categorical_feature=cat or "auto",
                             params={"max_bin": 255, "verbosity": -1}, free_raw_data=False)
            va = lgb.Dataset(feats[recent], label=label[recent], reference=tr)
            probe = lgb.train(lgb_params, tr, num_boost_round=n_trees, valid_sets=[va],
                              callbacks=[lgb.early_stopping(_EARLY_STOPPING_ROUNDS, verbose=False)])
            n_trees = int(max(probe.best_iteration or n_trees, 20))
        effort.update(mode="auto", num_trees=n_trees, num_leaves=lgb_params["num_leaves"])
    ds = lgb.Dataset(feats, label=label, feature_name=names, categorical_feature=cat or "auto",
                     params={"max_bin": 255, "verbosity": -1}, free_raw_data=True)
    bar = tqdm(total=n_trees, desc=desc, disable=not progress, leave=False)

    def _tick(env):
        bar.update(1)

    try:
        booster = lgb.train(lgb_params, ds, num_boost_round=n_trees, callbacks=[_tick])
    finally:
        bar.close()
    booster.fc_effort = effort
    return booster


def _kinds(strategy: str) -> list[str]:
    return ["recursive", "direct"] if strategy == "ensemble" else [strategy]


def _fit_models(grid: _Grid, static: np.ndarray, params: dict, seed: int, progress: bool, desc: str) -> dict:
    out = {}
    for j, kind in enumerate(_kinds(params["strategy"])):
        b = _fit_booster(grid, static, params, seed + 17 * j, progress, f"{desc} ({kind})", kind)
        if b is not None:
            out[kind] = b
    return out


def _predict_x(models: dict, grid: _Grid, static: np.ndarray, rows: np.ndarray, num_threads: int) -> np.ndarray:
    """x-space forecasts (len(rows), H): the average of the models' forecasts."""
    H = grid.h
    outs = []
    if "direct" in models and len(rows):
        R = np.repeat(rows, H)
        O = np.full(len(R), grid.end)
        hs = np.tile(np.arange(1, H + 1), len(rows))
        feats = grid.features_direct(R, O, hs, static, grid.cumsums())
        d = models["direct"].predict(feats, num_threads=num_threads)
        outs.append((d + grid.direct_base(R, O, hs)).reshape(len(rows), H))
    if "recursive" in models:
        outs.append(_recursive(models["recursive"], grid, static, rows, num_threads=num_threads))
    if not outs:
        return np.full((len(rows), H), np.nan)
    return np.mean(outs, axis=0)


def _recursive(booster, grid: _Grid, static: np.ndarray, rows: np.ndarray | None = None,
               num_threads: int = 1) -> np.ndarray:
    """Forecast ``grid.h`` steps for ``rows`` by feeding predictions back; returns x-space (n, H)."""
    rows = np.arange(grid.X.shape[0]) if rows is None else rows
    out = np.full((len(rows), grid.h), np.nan)
    if not len(rows):
        return out
    m = grid.lay.m
    for h in range(1, grid.h + 1):
        c = grid.end + h
        cols = np.full(len(rows), c)
        d = booster.predict(grid.features(rows, cols, static), num_threads=num_threads)
        x = d + grid.X[rows, c - m]
        grid.X[rows, c] = x
        grid.D[rows, c] = d
        out[:, h - 1] = x
    return out


# ------------------------------------------------------------- calibration
def _calibrate(panel: Panel, lay: _Layout, params: dict, seed: int, horizon: int, use_log: bool, cats: dict,
               progress: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Out-of-sample errors ``x - x_hat`` of ``W`` backtest windows, shape (W, n, H), and the
    series' volatility at each window's origin (W, n); None if impossible.

    The windows start ``stride`` steps apart (default ``min(H, m)``); fewer than
    ``calibration_windows`` are used when the held-out stretch would exceed a third
    of the median series length.
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
    grid = _Grid(train, lay, horizon, use_log)
    models = _fit_models(grid, _static_codes(train, cats), params, seed + 1, progress, "GBM calibration model")
    if not models:
        return None
    reps = np.tile(np.arange(n), W)
    kk = np.repeat(ks, n)
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
    err = np.full_like(actual, np.nan)
    err[ok] = x[ok] - xhat
    return err.reshape(W, n, horizon), g.volatility().reshape(W, n)


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


def _adapted_season(panel: Panel, mode: str, min_rows: int = 200, max_short: float = 0.1) -> int:
    """The season the model's lags and windows use. With ``mode="adapt"``, when more than ``max_short``
    of the items with history have fewer than ``m + 2`` observed values (too short for the full
    season), or all items together give fewer than ``min_rows`` training targets past their first
    season, the largest shorter season ``m // k`` that satisfies both (else 1): fewer lags and
    shorter windows first, the seasonal naive fallback last."""
    m = fq.season_length(panel.frequency)
    if mode != "adapt" or m <= 1:
        return m
    obs = panel.observed_counts()
    obs = obs[obs > 0]
    if not len(obs):
        return m
    for k in range(1, m + 1):
        mm = max(m // k, 1)
        if (np.mean(obs < mm + 2) <= max_short and np.maximum(obs - mm - 1, 0).sum() >= min_rows) or mm == 1:
            return mm
    return 1


def _threads(params: dict) -> int:
    return int(params["num_threads"] or os.cpu_count() or 1)


# ------------------------------------------------------------ the predictor
class GBMPredictor(Predictor):
    """A trained GBM: the LightGBM booster(s), the conformal error table and per-series spreads."""

    models: dict | None = None  # kind ("direct", "recursive") -> LightGBM booster

    def _setup(self, panel: Panel) -> None:
        p = self.estimator.params
        m = _adapted_season(panel, p["short_history"], 10 * int(p["min_data_in_leaf"]))
        self.layout = _Layout.make(panel.frequency, p, m)
        if m != fq.season_length(panel.frequency):
            self.info["short_history"] = {"season_length": m, "instead_of": fq.season_length(panel.frequency),
                                          "why": "too little history for the full season's lags and windows"}
        self.use_log = panel.nonnegative() if p["log"] == "auto" else bool(p["log"])

    def _fit(self, panel: Panel, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        p, H = self.estimator.params, self.estimator.forecast_horizon
        self._setup(panel)
        lay = self.layout
        self.categories = _static_categories(panel)
        self.related_names_ = _related_names(panel)
        stages = tqdm(total=2, desc="GBM", disable=not progress)
        t0 = time.perf_counter()
        try:
            err = _calibrate(panel, lay, p, self.estimator.seed, H, self.use_log, self.categories, progress)
            stages.update(1)
            t1 = time.perf_counter()
            grid = _Grid(panel, lay, H, self.use_log)
            self.models = _fit_models(grid, _static_codes(panel, self.categories), p, self.estimator.seed,
                                      progress, "GBM model")
            stages.update(1)
        finally:
            stages.close()
        self.info["fit_seconds"] = {"calibration": round(t1 - t0, 2), "final_model": round(time.perf_counter() - t1, 2)}
        self.info["effort"] = {k: getattr(b, "fc_effort", None) for k, b in (self.models or {}).items()}
        keys = panel.key_strings()
        err, vol = err if err is not None else (None, None)
        self.vol_median = float(np.nanmedian(grid.volatility())) if np.isfinite(grid.volatility()).any() else 1.0
        if err is not None and np.isfinite(err).sum() >= 20:
            self._err, self._vol = err, vol  # kept for diagnostics, not saved
            sigma, Z = _spread(err, vol, p["interval_scaling"], float(p["sigma_prior"]))
            known = np.isfinite(err).any(axis=(0, 2))
            self.sigma_keys, self.sigma = keys[known], sigma[known]
            self.calibration = "backtest"
        else:  # too little data to hold windows out: season-over-season changes, widened per season
            D = grid.D[:, :grid.end + 1]
            if p["interval_scaling"] in ("volatility", "both"):
                v = grid.volatility()
                D = D / np.where(np.isfinite(v), v, self.vol_median)[:, None]
            d = D[np.isfinite(D)]
            k = np.sqrt(np.ceil(np.arange(1, H + 1) / lay.m))
            Z = (d[:, None] * k[None, :]) if len(d) else np.zeros((1, H))
            self.sigma_keys, self.sigma = keys[:0], np.zeros(0)
            self.calibration = "seasonal-differences"
        Z = Z[np.isfinite(Z).any(axis=1)]
        if len(Z) > _MAX_Z_ROWS:  # plenty for quantiles; keeps the artifact small
            Z = Z[np.sort(np.random.default_rng(self.estimator.seed).choice(len(Z), _MAX_Z_ROWS, replace=False))]
        ok_col = np.isfinite(Z).any(axis=0)
        med = np.zeros((1, Z.shape[1]))  # centre each step: the median forecast is the model's own
        if len(Z) and ok_col.any():
            med[0, ok_col] = np.nanmedian(Z[:, ok_col], axis=0)
        self.Z = (Z - med).astype(np.float32)
        ok = self._modellable(grid)
        self.info["fallback_items"] = [str(x) for x in keys[~ok & (panel.lengths > 0)]]
        self.info["cold_start_items"] = [str(x) for x in keys[panel.lengths == 0]]
        self.info["calibration"] = self.calibration
        self.info["uses_log"] = self.use_log

    def aligned(self, panel: Panel) -> Panel:
        """``panel`` with its related fields in the order the model was trained on.

        The booster reads features by position, so fields given in another order (or extra
        fields) must be put back in the training order, or they would be read as each other.

        Raises
        ------
        ConfigError
            When a related field the model was trained with is missing.
        """
        names = getattr(self, "related_names_", None)
        if names is None:
            return panel
        have = _related_names(panel)
        if have == names:
            return panel
        missing = [r for r in names if r not in have]
        if missing:
            raise ConfigError(f"GBM was trained with the related field(s) {missing}, which the data given lacks; "
                              f"give the related time series with the fields {names}.")
        from dataclasses import replace

        if not names:
            return replace(panel, related=None, related_indptr=None, related_names=[])
        idx = [have.index(r) for r in names]
        return replace(panel, related=panel.related[:, idx], related_names=list(names))

    # ------------------------------------------------------------ explainability
    def explain_attributes(self) -> list[tuple[str, str]]:
        """The related fields and the metadata columns the model was trained with."""
        return ([("related", r) for r in getattr(self, "related_names_", [])]
                + [("metadata", c) for c in (self.categories or {})])

    def tree_shap_available(self) -> bool:
        """TreeSHAP explains the direct model; the recursive strategies feed forecasts back
        (an attribute then also acts through the lags), so they are explained by re-forecasting."""
        return bool(self.models) and set(self.models) == {"direct"}

    def shap_values(self, panel: Panel) -> dict:
        """LightGBM's TreeSHAP values of the direct model for every forecast step of ``panel``.

        Returns a dict with ``rows`` (modellable series), ``names`` (feature names),
        ``contrib`` (len(rows), H, features + 1; the last column the expected value), ``base``
        (the seasonal naive value the model's output is added to) and ``x``
        (``base + contrib.sum(-1)``, the model-space forecast), ``dfdx`` (slope of the back-transform).
        """
        panel = self.aligned(panel)
        H = self.estimator.forecast_horizon
        grid = _Grid(panel, self.layout, H, self.use_log)
        rows = np.flatnonzero(self._modellable(grid))
        R = np.repeat(rows, H)
        O = np.full(len(R), grid.end)
        hs = np.tile(np.arange(1, H + 1), len(rows))
        booster = self.models["direct"]
        names = booster.feature_name()
        if len(rows):
            feats = grid.features_direct(R, O, hs, _static_codes(panel, self.categories), grid.cumsums())
            contrib = booster.predict(feats, pred_contrib=True, num_threads=_threads(self.estimator.params))
        else:
            contrib = np.zeros((0, len(names) + 1))
        base = grid.direct_base(R, O, hs)
        x = base + contrib.sum(axis=1)
        s = grid.scale[R]
        dfdx = s * np.exp(x) * (x > 0) if self.use_log else s
        shape = (len(rows), H)
        return {"rows": rows, "names": names, "contrib": contrib.reshape(*shape, -1), "base": base.reshape(shape),
                "x": x.reshape(shape), "dfdx": dfdx.reshape(shape)}

    def baseline_contributions(self, panel: Panel, n_permutations: int = 20, seed: int = 0) -> tuple[np.ndarray, str]:
        """Shapley values of the attributes in target units (n, H, attributes), the booster
        re-predicted for every coalition with the left-out attributes at their baseline (a related
        field at the item's history mean, so its relative and change features are 0; a metadata
        code unknown), as :func:`fc_core.explain.masked` does to the data; and how they were computed.

        Far cheaper than TreeSHAP on deep trees (``2^k`` ordinary predictions instead of one
        ``pred_contrib``); the values of a cell add up to the model's output minus its output
        with every attribute at its baseline (times the back-transform's slope).
        """
        from ...explain import shapley_values

        panel = self.aligned(panel)
        H = self.estimator.forecast_horizon
        grid = _Grid(panel, self.layout, H, self.use_log)
        rows = np.flatnonzero(self._modellable(grid))
        attrs = self.explain_attributes()
        out = np.zeros((panel.n_series, H, len(attrs)))
        if not len(rows):
            return out, "nothing to explain"
        R = np.repeat(rows, H)
        O = np.full(len(R), grid.end)
        hs = np.tile(np.arange(1, H + 1), len(rows))
        X = grid.features_direct(R, O, hs, _static_codes(panel, self.categories), grid.cumsums())
        booster = self.models["direct"]
        names = booster.feature_name()
        col = {n: j for j, n in enumerate(names)}
        nthreads = _threads(self.estimator.params)
        fill = []  # per attribute: [(column, values)]
        for j, (kind, name) in enumerate(attrs):
            if kind == "related":
                f = self.related_names_.index(name)
                mean = np.array([np.nanmean(panel.related_series(i)[:int(panel.lengths[i]), f])
                                 if panel.lengths[i] and np.isfinite(panel.related_series(i)[:int(panel.lengths[i]), f]).any()
                                 else 0.0 for i in range(panel.n_series)])
                fill.append([(col[f"rel_{name}"], mean[R])] + [(col[f"{k}_{name}"], 0.0) for k in ("relz", "reld", "relo")])
            else:
                fill.append([(col[f"static{list(self.categories).index(name)}"], np.nan)])

        def value(S: frozenset) -> np.ndarray:
            Xs = X.copy()
            for j in range(len(attrs)):
                if j not in S:
                    for c, v in fill[j]:
                        Xs[:, c] = v
            return booster.predict(Xs, num_threads=nthreads)

        phi, _, how = shapley_values(value, list(range(len(attrs))), n_permutations, seed)
        x = grid.direct_base(R, O, hs) + booster.predict(X, num_threads=nthreads)
        s = grid.scale[R]
        dfdx = s * np.exp(x) * (x > 0) if self.use_log else s
        out[rows] = (phi * dfdx[:, None]).reshape(len(rows), H, len(attrs))
        return out, how

    def tree_contributions(self, panel: Panel) -> np.ndarray:
        """Per-attribute TreeSHAP values in target units (n, H, attributes): each attribute's
        features summed, times the back-transform's slope; 0 for items the model does not forecast."""
        attrs = self.explain_attributes()
        sv = self.shap_values(panel)
        group = {f"{k}_{r}": j for j, (_, r) in enumerate(attrs[:len(self.related_names_)])
                 for k in ("rel", "relz", "reld", "relo")}
        group.update({f"static{j}": len(self.related_names_) + j for j in range(len(self.categories or {}))})
        M = np.zeros((len(sv["names"]) + 1, len(attrs)))
        for f, name in enumerate(sv["names"]):
            if name in group:
                M[f, group[name]] = 1.0
        out = np.zeros((panel.n_series, self.estimator.forecast_horizon, len(attrs)))
        out[sv["rows"]] = (sv["contrib"] @ M) * sv["dfdx"][..., None]
        return out

    def _modellable(self, grid: _Grid) -> np.ndarray:
        return (grid.n_obs >= self.layout.m + 2) & (grid.lens > self.layout.m)

    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        p = self.estimator.params
        panel = self.aligned(panel)
        n, Q = panel.n_series, len(levels)
        grid = _Grid(panel, self.layout, horizon, self.use_log)
        ok = self._modellable(grid) if self.models else np.zeros(n, bool)
        rows = np.flatnonzero(ok)
        quant = np.zeros((n, horizon, Q))
        mean = np.zeros((n, horizon))
        xhat = _predict_x(self.models, grid, _static_codes(panel, self.categories), rows, _threads(p))
        if len(rows):
            lookup = dict(zip(self.sigma_keys.tolist(), self.sigma.tolist()))
            sig = np.array([lookup.get(k, 1.0) for k in panel.key_strings()[rows]])
            if p["interval_scaling"] in ("volatility", "both"):
                v = grid.volatility()[rows]
                sig = sig * np.where(np.isfinite(v), v, self.vol_median)
            sig = sig[:, None, None]
            zq = _z_quantiles(self.Z, levels, horizon)
            quant[rows] = grid.inverse(xhat[:, :, None] + sig * zq[None], rows)
            zm = _z_quantiles(self.Z, _MEAN_GRID, horizon)
            mean[rows] = grid.inverse(xhat[:, :, None] + sig * zm[None], rows).mean(axis=-1)
        fb = np.flatnonzero(~ok & (panel.lengths > 0))
        arr = complete_global_forecast(panel, quant, mean, levels, rows, fb, self.layout.m, p["nonnegative"])
        self.info.update(arr.info)
        return arr

    # ------------------------------------------------------------- save/load
    def _state(self, folder: Path) -> dict:
        from ...io import save_arrays

        for kind, b in (self.models or {}).items():
            (folder / f"gbm_{kind}.txt").write_text(b.model_to_string())
        save_arrays(folder / "gbm_tables.npz", Z=self.Z, sigma=self.sigma,
                    sigma_keys=np.asarray(self.sigma_keys, dtype=str))
        return {"use_log": self.use_log, "categories": self.categories, "calibration": self.calibration,
                "vol_median": self.vol_median, "related_names": self.related_names_,
                "models": sorted(self.models or {})}

    def _load_state(self, folder: Path, meta: dict) -> None:
        from ...errors import ArtifactError
        from ...io import load_arrays

        self._setup(self.panel)
        self.use_log = bool(meta["use_log"])
        self.categories = meta.get("categories", {})
        self.calibration = meta.get("calibration", "backtest")
        self.vol_median = float(meta.get("vol_median", 1.0))
        self.related_names_ = list(meta.get("related_names", _related_names(self.panel)))
        lgb = _lightgbm()
        self.models = {}
        for kind in meta.get("models", []):
            f = folder / f"gbm_{kind}.txt"
            if not f.is_file():
                raise ArtifactError(f"{folder} lacks {f.name}; the GBM predictor was not saved completely.")
            self.models[kind] = lgb.Booster(model_str=f.read_text())
        t = load_arrays(folder / "gbm_tables.npz")
        self.Z, self.sigma, self.sigma_keys = t["Z"], t["sigma"], t["sigma_keys"].astype(str)


# ------------------------------------------------------------ the estimator
class GBMEstimator(Estimator):
    """Global LightGBM forecaster with conformal quantiles (Amazon Forecast's CNN-QR role).

    See the module docstring for the method and the validation behind the defaults.

    Parameters
    ----------
    forecast_horizon, frequency, forecast_types, seed
        See :class:`~fc_core.algorithms.base.Estimator`.
    num_trees, learning_rate, num_leaves, min_data_in_leaf, feature_fraction, bagging_fraction, lambda_l2
        LightGBM settings (each model).
    objective : {"l1", "l2", "huber"}
        LightGBM objective on the normalised target; ``l1`` gives median forecasts.
    strategy : {"direct", "recursive", "ensemble"}
        One model for all horizon steps; a one-step model fed back; or the average of both.
    direct_samples : float
        Random horizon steps per observed value in the direct model's training rows.
    lags : list of int, optional
        Lags of the seasonal differences for the recursive model; default ``1 .. 2m``
        plus the longer seasons up to 400.
    calendar : bool
        Calendar features of the target time from the timestamps.
    path_features : bool
        The direct model's "paths" (the same stretch one season and one long season earlier).
    scale_window : int, optional
        Values averaged for the per-series scale; default the longest season up to 400 or ``4m``.
    max_history : int, optional
        Most recent values used per series; default ``max(1000, 6 * largest lag)``.
    log : "auto" or bool
        ``log1p`` of the scaled target; ``"auto"`` uses it when no value is negative.
    max_train_rows : int
        Training rows are sampled down to this many (recent ones preferred).
    calibration_windows, calibration_stride : int
        Backtest windows whose errors give the quantiles, and their spacing (default
        ``min(H, m)``); fewer windows when they would take more than a third of the data.
        0 windows: quantiles from the in-sample seasonal differences instead.
    interval_scaling : {"both", "volatility", "series", "pooled"}
        Per-series spread of the errors: in-sample volatility times own calibration error
        level (``both``), either alone, or none.
    sigma_prior : float
        Windows' worth of the pooled error level mixed into each series' own level.
    nonnegative : bool
        Clip forecasts at 0.
    short_history : {"adapt", "fallback"}
        ``"adapt"`` (default): when more than 10% of the items have too little history for the full
        season's lags and windows (``m + 2`` observed values), use a shorter season for them all (fewer
        lags, shorter windows); ``"fallback"``: those items get the seasonal naive forecast.
    num_threads : int, optional
        LightGBM threads; default all cores (``os.cpu_count()``).
    effort : {"auto", "full"}
        ``"auto"`` scales the work to the data: below 200,000 training rows, at most one leaf per
        800 rows (at least 15) and as many boosting rounds (up to ``num_trees``) as early stopping
        (20 rounds) on the most recent tenth of the rows asks for, then a refit on all rows. Larger
        data, or ``"full"``, trains ``num_trees`` rounds of ``num_leaves``. What was used is in
        ``predictor.info["effort"]``.

    Raises
    ------
    ConfigError
        For out-of-range settings.
    """

    name = "GBM"
    capabilities = Capabilities(uses_related=True, uses_item_metadata=True, cold_start=True, local=False,
                                needs_seed=True)
    defaults = {
        # LightGBM
        "num_trees": 600, "learning_rate": 0.1, "num_leaves": 127, "min_data_in_leaf": 20,
        "feature_fraction": 0.5, "bagging_fraction": 0.8, "lambda_l2": 0.0, "objective": "l1",
        # model and features
        "strategy": "direct", "direct_samples": 2.0, "lags": None, "calendar": True, "path_features": True,
        "scale_window": None, "max_history": None, "log": "auto", "max_train_rows": 2_000_000,
        # quantiles
        "calibration_windows": 8, "calibration_stride": None, "interval_scaling": "both", "sigma_prior": 1.0,
        # output and resources
        "nonnegative": False, "num_threads": None, "short_history": "adapt", "effort": "auto",
    }
    predictor_class = GBMPredictor

    def __init__(self, forecast_horizon: int, frequency=None, forecast_types=("0.1", "0.5", "0.9", "mean"),
                 seed: int = 0, **params):
        super().__init__(forecast_horizon, frequency, forecast_types, seed, **params)
        p = self.params
        self._check_positive_ints("num_trees", "num_leaves", "min_data_in_leaf", "max_train_rows")
        if not isinstance(p["calibration_windows"], (int, np.integer)) or p["calibration_windows"] < 0:
            raise ConfigError(f"GBM calibration_windows must be 0 or more, got {p['calibration_windows']!r}.")
        if not 0 < float(p["learning_rate"]) <= 1:
            raise ConfigError(f"GBM learning_rate must lie in (0, 1], got {p['learning_rate']!r}.")
        for k in ("feature_fraction", "bagging_fraction"):
            if not 0 < float(p[k]) <= 1:
                raise ConfigError(f"GBM {k} must lie in (0, 1], got {p[k]!r}.")
        if p["objective"] not in ("l2", "l1", "huber", "regression", "regression_l1", "fair"):
            raise ConfigError(f"GBM objective must be 'l2', 'l1' or 'huber', got {p['objective']!r}.")
        if p["interval_scaling"] not in ("series", "pooled", "volatility", "both"):
            raise ConfigError("GBM interval_scaling must be 'series', 'pooled', 'volatility' or 'both', "
                              f"got {p['interval_scaling']!r}.")
        if p["strategy"] not in ("recursive", "direct", "ensemble"):
            raise ConfigError(f"GBM strategy must be 'recursive', 'direct' or 'ensemble', got {p['strategy']!r}.")
        if p["effort"] not in ("auto", "full"):
            raise ConfigError(f"GBM effort must be 'auto' or 'full', got {p['effort']!r}.")
        if p["short_history"] not in ("adapt", "fallback"):
            raise ConfigError(f"GBM short_history must be 'adapt' or 'fallback', got {p['short_history']!r}.")
        if p["log"] not in ("auto", True, False):
            raise ConfigError(f"GBM log must be 'auto', True or False, got {p['log']!r}.")


class GBML2Estimator(GBMEstimator):
    """GBM trained with the squared-error objective (``objective="l2"``), a separate candidate.

    The L1 default forecasts the median of the normalised target and was better on
    M4 Hourly's per-series averages (OWA); L2 forecasts its mean and was better on
    the volume-weighted quantile loss, where the few largest series count most
    (validation windows: wQL 0.0252 vs 0.0283, OWA 0.427 vs 0.400). Their errors
    differ enough that the AutoPredictor's blend of the two beat either alone on
    the backtests (``bench/RESULTS.md``, "GBM and GBM-L2").
    """

    name = "GBM-L2"
    defaults = {**GBMEstimator.defaults, "objective": "l2"}
