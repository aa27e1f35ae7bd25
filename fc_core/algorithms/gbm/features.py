"""GBM's feature grid: the per-series layout, lag / seasonal / calendar / related features, item metadata codes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import frequency as fq
from ...errors import ConfigError
from ...features import calendar_features
from ...panel import Panel
from ..baselines import ffill_rows

_MEAN_GRID = (np.arange(100) + 0.5) / 100  # levels averaged to get the mean
_MAX_Z_ROWS = 50_000  # calibration errors kept per horizon step
_AUTO_EFFORT_ROWS = 200_000  # effort="auto": below this many training rows, fewer leaves and early stopping
_EARLY_STOPPING_ROUNDS = 20
_MAX_LOG = 50.0  # largest log1p(y / scale) mapped back: e^50 = 5e21 times the item's scale, finite


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
            tables.append(calendar_features(ts, panel.frequency, self.cal_names, scaled=False))
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


# GBM's calendar features by base unit, as plain values (fc_core.features.calendar_features with
# scaled=False): its own choice, not the default set of DeepAR+ and MLP-QR; saved models read these columns
_CALENDAR = {"min": ["minute_of_hour", "hour_of_day", "day_of_week"], "H": ["hour_of_day", "day_of_week"],
             "D": ["day_of_week", "day_of_month", "month_of_year"], "W": ["week_of_year", "month_of_year"],
             "M": ["month_of_year"], "Q": ["quarter_of_year"], "Y": []}


def _calendar_names(freq: str) -> list[str]:
    return list(_CALENDAR[fq.parse(freq)[1]])


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
