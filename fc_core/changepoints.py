"""Level shifts per item, and training local models on the history since the last one.

Method (:func:`detect_shifts`)
------------------------------
For each series, on its observed values (filled values count as missing; interior
gaps are interpolated; a positive series is analysed on the log scale, so seasons
and shifts are multiplicative):

1. **Deseasonalise.** For each season ``m`` of the frequency (hourly: 24 and 168;
   daily: 7 and 365) that the series covers at least three times, subtract a
   seasonal profile: the per-phase median of the series minus its centred moving
   average of length ``m``, centred to mean 0 (a season that is a multiple of one
   already removed, weekly over daily, gets one value per shorter cycle: per day of
   the week). Medians keep the profile robust to the shift itself. The result ``z``
   keeps the level and turns a level shift into a clean step.
2. **Binary segmentation** for changes in the mean with the Gaussian cost, on ``z``
   smoothed by a running median of ``min_size`` steps (removes spikes, keeps steps
   sharp): the split of segment ``[a, b)`` at ``k`` reduces the sum of squares by
   ``G(k) = S1^2/n1 + S2^2/n2 - S^2/n`` (``S`` = sums of the centred values, computed
   for every ``k`` at once from cumulative sums); the best split of any segment is
   taken while ``G > penalty * sigma^2`` (``sigma = 1.4826 MAD(diff z) / sqrt 2``,
   ``penalty`` defaults to ``2 log n``, BIC's price of a change point's two
   parameters), each side at least ``min_size`` steps, at most ``max_shifts``. Each
   change point is then moved to the best split of the unsmoothed ``z`` nearby.
3. **Keep only real shifts.** A change must happen at once and stand out of the
   level's own wander: with ``span`` = one season, the medians of the ``span`` steps
   on either side must differ, beyond the series' typical drift per ``span``, by at
   least ``min_change`` (4) times ``scale``, the robust standard deviation of the
   difference of two adjacent ``span``-step medians (MAD over the whole series, so
   slow wander and noise both count); so must the medians of the whole segments on
   either side. The weakest change is dropped and its neighbours merged until all
   pass. This rejects trends (a staircase of small steps), slow drifts and spikes.

Limits: a change of seasonal shape without a change of level is not detected;
shifts closer than ``min_size`` steps to either end are not either.

History choice (``AutoPredictor(history=...)``)
-----------------------------------------------
``"all"`` (default) trains on the whole history. ``"since_shift"`` gives local
models (statistical models, Prophet, NPTS, seasonal naive) each item's history
since its last detected shift (:func:`history_since_shift`): when that is shorter
than ``min_history`` steps (two cycles of the longest season, three of the
shortest: hourly 336), the steps before the shift that make up the difference are
kept, moved to the new level (scaled by ``after / before`` for a positive series,
shifted by the difference otherwise), so that models still see whole seasons.
``"auto"`` runs both variants in the backtests and keeps, per item and algorithm,
the one that scored better (:class:`HistoryPolicy`). Global models (DeepAR+, GBM)
always see the history as it is.

>>> import numpy as np
>>> y = np.r_[np.full(60, 10.0), np.full(30, 20.0)] + np.tile([0.0, 0.5, -0.5], 30)
>>> detect_shifts(y, season_length=3)[["position", "before_level", "after_level"]].round(1).to_dict("records")
[{'position': 60, 'before_level': 10.0, 'after_level': 20.0}]
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import frequency as fq
from .errors import ConfigError
from .quantiles import ForecastArrays

HISTORY_MODES = ("all", "since_shift", "auto")

__all__ = ["detect_shifts", "last_shift_positions", "truncate_history", "history_since_shift", "default_min_history",
           "HistoryPolicy", "HISTORY_MODES"]


# ------------------------------------------------------------------ one series
def _fill_gaps(y: np.ndarray) -> tuple[np.ndarray, int]:
    ok = np.isfinite(y)
    if not ok.any():
        return y[:0], 0
    first, last = int(np.argmax(ok)), len(y) - int(np.argmax(ok[::-1]))
    y, ok = y[first:last], ok[first:last]
    if not ok.all():
        t = np.arange(len(y))
        y = np.interp(t, t[ok], y[ok])
    return y.astype(float), first


def _deseasonalise(y: np.ndarray, seasons) -> np.ndarray:
    z = y.copy()
    done = []
    for m in sorted({int(s) for s in seasons if s and int(s) > 1}):
        if len(z) < 3 * m:
            continue
        s = pd.Series(z)
        trend = s.rolling(m, center=True).mean()
        if m % 2 == 0:  # 2 x m moving average: centred for an even period
            trend = trend.rolling(2).mean().shift(-1)
        detr = (s - trend).to_numpy()
        t = np.arange(len(z))
        # a season that is a multiple of a shorter one already removed (weekly over daily) gets one
        # value per shorter cycle (per day of the week): far fewer values to estimate
        sub = max([d for d in done if m % d == 0], default=1)
        phase = (t // sub) % (m // sub)
        prof = np.array([np.nanmedian(detr[phase == p]) if np.isfinite(detr[phase == p]).any() else 0.0
                         for p in range(m // sub)])
        prof = np.nan_to_num(prof - np.nanmean(prof))
        z = z - prof[phase]
        done.append(m)
    return z


def _noise(z: np.ndarray) -> float:
    d = np.diff(z)
    if len(d) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _level_noise(z: np.ndarray, block: int) -> tuple[float, float]:
    """Robust sd of the difference of two adjacent block medians (MAD of their differences), and
    their median: the level's typical wander and drift per block. Zeros when there are too few blocks."""
    nb = len(z) // block
    if block < 2 or nb < 8:
        return 0.0, 0.0
    med = np.median(z[len(z) - nb * block:].reshape(nb, block), axis=1)
    return _noise(med) * np.sqrt(2.0), float(np.median(np.diff(med)))


def _best_split(c: np.ndarray, a: int, b: int, min_size: int) -> tuple[float, int]:
    """Largest reduction of the sum of squares by one split of ``x[a:b]`` (``c`` = cumsum with a leading 0)."""
    n = b - a
    if n < 2 * min_size:
        return -np.inf, -1
    k = np.arange(a + min_size, b - min_size + 1)
    s1 = c[k] - c[a]
    s = c[b] - c[a]
    n1 = (k - a).astype(float)
    n2 = (b - k).astype(float)
    gain = s1 ** 2 / n1 + (s - s1) ** 2 / n2 - s ** 2 / n
    j = int(np.argmax(gain))
    return float(gain[j]), int(k[j])


def _segment(y: np.ndarray, seasons, min_size: int, penalty: float | None, min_change: float,
             max_shifts: int) -> list[tuple[int, float, float, bool]]:
    """Change points of one gap-free series: ``(position, before_level, after_level, multiplicative)``."""
    n = len(y)
    if n < 2 * min_size or max_shifts < 1:
        return []
    log = bool(np.min(y) > 0)  # positive data: multiplicative season and relative shifts
    z = _deseasonalise(np.log(y) if log else y, seasons)
    period = min([int(s) for s in seasons if s and int(s) > 1], default=2 * min_size)
    span = max(min_size, period)
    tiny = 1e-9 * (np.median(np.abs(z)) + 1.0)
    sigma = max(_noise(z), tiny)
    # sd of the difference of two medians of ``span`` steps: measured on the series' own
    # blocks (noise and slow wander together), or from white noise when it is too short
    scale, drift = _level_noise(z, span)
    scale = max(scale or sigma * np.sqrt(np.pi / span), tiny)
    pen = (2.0 * np.log(n) if penalty is None else float(penalty)) * sigma ** 2
    w = max(2 * (min_size // 2) + 1, 1)
    zf = pd.Series(z).rolling(w, center=True, min_periods=1).median().to_numpy() if w > 1 else z
    centre = np.median(z)
    cf = np.r_[0.0, np.cumsum(zf - centre)]
    cz = np.r_[0.0, np.cumsum(z - centre)]
    cps: list[int] = []
    cand = {(0, n): _best_split(cf, 0, n, min_size)}
    while len(cps) < max_shifts and cand:
        seg = max(cand, key=lambda s: cand[s][0])
        gain, k = cand.pop(seg)
        if not gain > pen:
            break
        cps.append(k)
        for part in ((seg[0], k), (k, seg[1])):
            cand[part] = _best_split(cf, *part, min_size)
    cps.sort()
    # refine each change point on the unsmoothed series, within its neighbours
    for j, k in enumerate(cps):
        a = cps[j - 1] if j else 0
        b = cps[j + 1] if j + 1 < len(cps) else n
        lo, hi = max(a, k - w), min(b, k + w + 1)
        sub_min = max(1, min(min_size, k - a, b - k))
        ks = np.arange(max(lo, a + sub_min), min(hi, b - sub_min + 1))
        if len(ks):
            s1 = cz[ks] - cz[a]
            s = cz[b] - cz[a]
            g = s1 ** 2 / (ks - a) + (s - s1) ** 2 / (b - ks) - s ** 2 / (b - a)
            cps[j] = int(ks[int(np.argmax(g))])
    # keep only changes that happen at once and stand out of the level's own wander: the medians
    # of the ``span`` steps on either side must differ, beyond the series' drift per block, by
    # min_change * scale, and so must the medians of the whole segments on either side
    while cps:
        bounds = [0, *cps, n]
        jumps = np.array([abs(np.median(z[k:min(k + span, bounds[j + 2])]) - np.median(z[max(k - span, bounds[j]):k])
                              - drift) for j, k in enumerate(cps)])
        med = [float(np.median(z[bounds[i]:bounds[i + 1]])) for i in range(len(bounds) - 1)]
        size = np.minimum(jumps, np.abs(np.diff(med)))
        j = int(np.argmin(size))
        if size[j] >= min_change * scale:
            if log:
                med = list(np.exp(med))
            return [(k, med[i], med[i + 1], log) for i, k in enumerate(cps)]
        cps.pop(j)
    return []


# ------------------------------------------------------------------ public API
def _series_from(data, season_length):
    """(keys frame, list of (values, start timestamp or None), frequency, seasons, observed list)."""
    if isinstance(data, (pd.Series, np.ndarray, list)):
        s = pd.Series(data) if not isinstance(data, pd.Series) else data
        y = s.to_numpy(dtype=float)
        ts0 = s.index[0] if isinstance(s.index, pd.DatetimeIndex) and len(s) else None
        keys = pd.DataFrame({"series": [s.name if s.name is not None else 0]})
        seasons = [season_length] if season_length else []
        return keys, [y], [s.index if ts0 is not None else None], None, seasons
    panel = data.to_panel() if hasattr(data, "to_panel") else data
    seasons = [season_length] if season_length else fq.seasonalities(panel.frequency) or [fq.season_length(panel.frequency)]
    ys = [np.where(panel.observed_mask(i), panel.series(i), np.nan) for i in range(panel.n_series)]
    return panel.keys, ys, None, panel, seasons


def detect_shifts(data, season_length: int | None = None, *, min_size: int | None = None,
                  penalty: float | None = None, min_change: float = 4.0, max_shifts: int = 5,
                  progress: bool = False) -> pd.DataFrame:
    """Level shifts of every series (see the module docstring for the method).

    Parameters
    ----------
    data : Panel, DatasetGroup, pandas Series or 1-D array
        A Series with a DatetimeIndex reports timestamps; an array reports positions only.
    season_length : int, optional
        One season to remove; default all of the frequency's seasonalities (none for a bare array).
    min_size : int, optional
        Fewest steps on either side of a shift; default ``max(3, season // 2)`` of the
        shortest season (hourly: 12, daily: 3).
    penalty : float, optional
        Split threshold in units of ``sigma^2``; default ``2 log n``.
    min_change : float
        Smallest reported level change, in noise standard deviations (3).
    max_shifts : int
        Most shifts per series (5).

    Returns
    -------
    DataFrame
        One row per shift: the key columns, ``timestamp`` (first step of the new level;
        NaT for a bare array), ``position`` (its index in the series), ``before_level``,
        ``after_level`` (medians of the deseasonalised series on either side),
        ``change``, ``relative_change`` (``change / |before_level|``) and ``multiplicative``
        (True for a positive series, analysed on the log scale).

    Raises
    ------
    ConfigError
        For a ``min_size`` below 1, a negative ``min_change`` or ``max_shifts``.
    """
    if min_size is not None and (not isinstance(min_size, (int, np.integer)) or min_size < 1):
        raise ConfigError(f"min_size must be a whole number >= 1, got {min_size!r}.")
    if not min_change >= 0:
        raise ConfigError(f"min_change must be >= 0, got {min_change!r}.")
    if not isinstance(max_shifts, (int, np.integer)) or max_shifts < 0:
        raise ConfigError(f"max_shifts must be a whole number >= 0, got {max_shifts!r}.")
    keys, ys, indexes, panel, seasons = _series_from(data, season_length)
    shortest = min([int(s) for s in seasons if s and int(s) > 1], default=1)
    ms = int(min_size) if min_size is not None else max(3, shortest // 2)
    rows = []
    from tqdm.auto import tqdm

    for i in tqdm(range(len(ys)), desc="change points", disable=not progress, leave=False):
        y, first = _fill_gaps(np.asarray(ys[i], dtype=float))
        for k, before, after, mult in _segment(y, seasons, ms, penalty, min_change, max_shifts):
            p = first + k
            if panel is not None:
                ts = panel.starts[i] + p * fq.to_offset(panel.frequency)
            elif indexes[i] is not None:
                ts = indexes[i][p]
            else:
                ts = pd.NaT
            rows.append((i, ts, p, before, after, mult))
    out = keys.iloc[[r[0] for r in rows]].reset_index(drop=True)
    out["timestamp"] = pd.DatetimeIndex([r[1] for r in rows], dtype="datetime64[ns]")
    out["position"] = np.array([r[2] for r in rows], dtype=np.int64)
    out["before_level"] = np.array([r[3] for r in rows], dtype=float)
    out["after_level"] = np.array([r[4] for r in rows], dtype=float)
    out["change"] = out["after_level"] - out["before_level"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative_change"] = out["change"] / out["before_level"].abs()
    out["multiplicative"] = np.array([r[5] for r in rows], dtype=bool)
    return out


def last_shift_positions(panel, shifts: pd.DataFrame | None = None, **detect_kwargs) -> np.ndarray:
    """Index of each series' last detected shift in ``panel`` (-1 where none)."""
    if shifts is None:
        shifts = detect_shifts(panel, **detect_kwargs)
    pos = np.full(panel.n_series, -1, dtype=np.int64)
    if len(shifts):
        lut = {k: i for i, k in enumerate(panel.keys.astype(str).itertuples(index=False, name=None))}
        for k, p in zip(shifts[panel.key_columns].astype(str).itertuples(index=False, name=None), shifts["position"]):
            i = lut.get(k)
            if i is not None:
                pos[i] = max(pos[i], int(p))
    return pos


def truncate_history(panel, positions: np.ndarray):
    """Each series cut to start at ``positions[i]`` (unchanged where it is <= 0); related series too."""
    positions = np.clip(np.asarray(positions, dtype=np.int64), 0, panel.lengths)
    if not positions.any():
        return panel
    return panel.slice(first=positions)


def default_min_history(frequency: str) -> int:
    """Fewest steps a model trained "since the shift" sees: two cycles of the frequency's longest
    season and three of its shortest (hourly 336, daily 730, weekly 104, monthly 24), at least 8."""
    seasons = [int(s) for s in (fq.seasonalities(frequency) or [fq.season_length(frequency)]) if int(s) > 1]
    if not seasons:
        return 8
    return max(8, 3 * min(seasons), 2 * max(seasons))


def history_since_shift(panel, shifts: pd.DataFrame | None = None, min_history: int | None = None,
                        **detect_kwargs):
    """The rows of ``panel`` with a detected shift, and their history since the last shift.

    When the data since the last shift is shorter than ``min_history`` steps
    (:func:`default_min_history`), the steps before it that make up the difference are kept
    too, moved to the latest level: multiplied by ``latest / segment level`` (positive series)
    or shifted by the difference, segment by segment. Models then see whole seasons at the new
    level instead of a stub.

    Returns
    -------
    rows : ndarray of int
    panel : Panel or None
        Those rows, cut and level-adjusted (None when no row has a shift).
    """
    if shifts is None:
        shifts = detect_shifts(panel, **detect_kwargs)
    mh = int(min_history) if min_history is not None else default_min_history(panel.frequency)
    pos = last_shift_positions(panel, shifts)
    rows = np.flatnonzero(pos > 0)
    if not len(rows):
        return rows, None
    lens = panel.lengths[rows]
    start = np.minimum(pos[rows], np.maximum(lens - mh, 0))
    sub = truncate_history(panel.select(rows), start)
    values = sub.values.copy()
    lut = {k: j for j, k in enumerate(panel.keys.iloc[rows].astype(str).itertuples(index=False, name=None))}
    grouped = {}
    for rec in shifts.assign(series_key=list(shifts[panel.key_columns].astype(str).itertuples(index=False, name=None))) \
            .sort_values("position").itertuples(index=False):
        j = lut.get(rec.series_key)
        if j is not None:
            grouped.setdefault(j, []).append(rec)
    for j, recs in grouped.items():
        p_last = int(pos[rows[j]])
        if start[j] >= p_last:
            continue
        cps = np.array([int(r.position) for r in recs])
        levels = np.array([recs[0].before_level] + [r.after_level for r in recs], dtype=float)
        idx = np.arange(start[j], p_last)
        seg = np.searchsorted(cps, idx, side="right")
        flat = sub.indptr[j] + (idx - start[j])
        if recs[-1].multiplicative and np.all(levels > 0):
            values[flat] *= levels[-1] / levels[seg]
        else:
            values[flat] += levels[-1] - levels[seg]
    return rows, replace(sub, values=values)


def _splice(full, short, rows: np.ndarray):
    """``full`` ForecastArrays with the forecasts of ``rows`` replaced by ``short`` (aligned with ``rows``)."""

    q, m = full.quantiles.copy(), full.mean.copy()
    q[rows], m[rows] = short.quantiles, short.mean
    return ForecastArrays(full.quantile_levels, q, m, full.start, {**full.info, "since_shift_rows": rows})


# ------------------------------------------------------------------ AutoPredictor policy
@dataclass
class HistoryPolicy:
    """How an AutoPredictor's local candidates use the history around level shifts.

    ``mode``: ``"all"``, ``"since_shift"`` or ``"auto"`` (module docstring).
    ``margin``: in ``"auto"``, the relative improvement the truncated history must show.
    ``detect``: keyword arguments of :func:`detect_shifts`.

    Raises
    ------
    ConfigError
        For an unknown mode.
    """

    mode: str = "all"
    margin: float = 0.0
    detect: dict | None = None
    min_history: int | None = None

    def __post_init__(self):
        if self.mode not in HISTORY_MODES:
            raise ConfigError(f"history={self.mode!r}: choose one of {', '.join(HISTORY_MODES)}.")
        self.detect = dict(self.detect or {})

    @property
    def active(self) -> bool:
        return self.mode != "all"

    @staticmethod
    def applies(estimator_cls) -> bool:
        """Only local models (fitted per series at forecast time) train on a truncated history."""
        return bool(getattr(estimator_cls.capabilities, "local", False))

    def shifted(self, panel) -> tuple[np.ndarray, object]:
        """Rows of ``panel`` with a detected shift, and their history since it (:func:`history_since_shift`)."""
        return history_since_shift(panel, min_history=self.min_history, **self.detect)

    def variant(self, predictor, panel, full_arrays, levels, prepared=None, keep: np.ndarray | None = None):
        """``full_arrays`` with the rows that have a shift (and, if given, ``keep[row]``) forecast from
        their history since the shift."""
        rows, short = prepared if prepared is not None else self.shifted(panel)
        if keep is not None and len(rows):
            sel = keep[rows]
            rows = rows[sel]
            short = short.select(np.flatnonzero(sel)) if len(rows) else None
        if not len(rows):
            return full_arrays
        return _splice(full_arrays, predictor.predict_arrays(short, levels=levels), rows)

    def choose(self, results, algorithms, score_fn, n_series: int) -> dict[str, np.ndarray]:
        """Per local algorithm, a bool per series of the full panel: use the history since the shift.

        ``results`` are the AutoPredictor's backtest windows whose ``short_forecasts``
        hold the truncated variant; ``score_fn(result, arrays) -> per-item scores``
        (lower is better). Mutates each window's ``forecasts`` to the chosen variant.
        """
        choice = {}
        for a in algorithms:
            if self.mode == "since_shift":  # every item, wherever a shift is found
                use = np.ones(n_series, dtype=bool)
            else:
                full_s = np.zeros(n_series)
                short_s = np.zeros(n_series)
                cnt = np.zeros(n_series)
                for r in results:
                    if a not in r.short_forecasts:
                        continue
                    f = np.asarray(score_fn(r, r.forecasts[a]), dtype=float)
                    s = np.asarray(score_fn(r, r.short_forecasts[a]), dtype=float)
                    ok = np.isfinite(f) & np.isfinite(s)
                    np.add.at(full_s, r.rows[ok], f[ok])
                    np.add.at(short_s, r.rows[ok], s[ok])
                    np.add.at(cnt, r.rows[ok], 1)
                use = (cnt > 0) & (short_s < full_s * (1.0 - self.margin) - 1e-12)
            for r in results:
                if a in r.short_forecasts:
                    sel = use[r.rows]
                    q, m = r.forecasts[a].quantiles.copy(), r.forecasts[a].mean.copy()
                    q[sel], m[sel] = r.short_forecasts[a].quantiles[sel], r.short_forecasts[a].mean[sel]
                    r.forecasts[a] = replace(r.forecasts[a], quantiles=q, mean=m)
            choice[a] = use
        return choice

    def choice_frame(self, panel, choice: dict) -> pd.DataFrame | None:
        """Keys, the last detected shift and, per local algorithm, ``"all"`` or ``"since_shift"``."""
        if not self.active:
            return None
        out = panel.keys.astype(str).copy()
        pos = last_shift_positions(panel, **self.detect)
        off = fq.to_offset(panel.frequency)
        out["last_shift"] = pd.DatetimeIndex([s + int(p) * off if p > 0 else pd.NaT for s, p in zip(panel.starts, pos)],
                                             dtype="datetime64[ns]")
        for a, use in choice.items():
            out[a] = np.where(use, "since_shift", "all")
        return out

    def forecast_variants(self, predictors: dict, arrays: dict, panel, levels, choice: pd.DataFrame | None) -> dict:
        """Forecast arrays per algorithm with the items chosen in training forecast from their
        history since the last shift (detected on ``panel``, the data being forecast)."""
        if not self.active or choice is None or not panel.n_series:
            return arrays
        algos = [a for a in arrays if a in choice.columns and (choice[a] == "since_shift").any()]
        if not algos:
            return arrays
        prepared = self.shifted(panel)
        keys = [c for c in panel.key_columns]
        lut = {a: dict(zip(choice[keys].astype(str).itertuples(index=False, name=None), choice[a] == "since_shift"))
               for a in algos}
        mine = list(panel.keys[keys].astype(str).itertuples(index=False, name=None))
        out = dict(arrays)
        for a in algos:
            keep = np.array([bool(lut[a].get(k, False)) for k in mine])
            out[a] = self.variant(predictors[a], panel, arrays[a], levels, prepared=prepared, keep=keep)
        return out
