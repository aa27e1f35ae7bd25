"""The packed representation of a dataset group that algorithms consume.

The canonical data format of fc_core is the long pandas DataFrame with Amazon
Forecast's column names. Algorithms, metrics and backtests work on a
:class:`Panel`: every series' target packed into one contiguous float array with
offsets (``indptr``), on a regular time grid, plus the related series (which may
run past the end of the target, into the forecast horizon) and the item
metadata. Converters to engine-specific shapes (GluonTS, statsforecast,
Prophet) start from a Panel, at the engine's edge.

>>> import pandas as pd
>>> df = pd.DataFrame({"item_id": ["a", "a", "b"],
...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-02"]),
...                    "target_value": [1.0, 2.0, 5.0]})
>>> p = Panel.from_frame(df, key_columns=["item_id"], target_column="target_value", frequency="D")
>>> p.n_series, p.lengths.tolist(), p.series(0).tolist()
(2, [2, 1], [1.0, 2.0])
>>> p.end_timestamps().strftime("%Y-%m-%d").tolist()
['2020-01-02', '2020-01-02']
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import frequency as fq
from .errors import DataError

FILLED = "_filled"  # boolean column of the canonical frame: True where the fill added or completed the value
ESTIMATED = "_estimated"  # True where that value is an estimate (mean, median, min, max fill): not observed


@dataclass
class Panel:
    """All series of a dataset group packed into contiguous arrays.

    Attributes
    ----------
    keys : DataFrame
        One row per series with the key columns (item field, then forecast dimensions).
    starts : DatetimeIndex
        First timestamp of each series.
    indptr : ndarray of int64, shape (n + 1,)
        Series ``i`` is ``values[indptr[i]:indptr[i + 1]]``.
    values : ndarray of float64
        Target values on the regular grid; NaN where missing.
    observed : ndarray of bool
        True where the value is known: observed, or filled with a real value (zero or value fill,
        :mod:`fc_core.featurization`); not for estimates or missing values. Training and scoring use only these.
    frequency : str
        Amazon Forecast's frequency name (``"H"``, ``"D"``, ...).
    related : ndarray of float64, shape (m, F), optional
        Related series on the same grid, series ``i`` spanning
        ``related[related_indptr[i]:related_indptr[i + 1]]`` from ``starts[i]``,
        possibly running past the end of its target (future-known values).
    related_names : list of str
    static : DataFrame, optional
        Item metadata aligned row by row with ``keys`` (strings; missing as "").
    forecast_from : {"global_end", "item_end"}
        Where forecasts and backtest cutoffs are laid from: the latest end of all series
        (Amazon Forecast's behaviour; items ending early were back-filled to it) or each
        series' own end (``DatasetGroup(..., forecast_from="item_end")``).
    """

    keys: pd.DataFrame
    starts: pd.DatetimeIndex
    indptr: np.ndarray
    values: np.ndarray
    observed: np.ndarray
    frequency: str
    related: np.ndarray | None = None
    related_indptr: np.ndarray | None = None
    related_names: list = field(default_factory=list)
    static: pd.DataFrame | None = None
    forecast_from: str = "global_end"

    # ------------------------------------------------------------------ basics
    @property
    def n_series(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def key_columns(self) -> list[str]:
        return list(self.keys.columns)

    def key_strings(self, sep: str = "\x1f") -> np.ndarray:
        """One string per series identifying it: the key values joined by ``sep`` (``"|"`` for
        readable labels)."""
        k = self.keys.astype(str)
        return k.iloc[:, 0].to_numpy() if k.shape[1] == 1 else k.agg(sep.join, axis=1).to_numpy()

    def observed_counts(self, last: int | None = None) -> np.ndarray:
        """Observed (not missing, not filled) values per series, or among its ``last`` steps;
        0 for a cold-start series."""
        ok = self.observed & ~np.isnan(self.values)
        c = np.concatenate([[0], np.cumsum(ok, dtype=np.int64)])
        end = self.indptr[1:]
        begin = self.indptr[:-1] if last is None else np.maximum(self.indptr[:-1], end - int(last))
        return c[end] - c[begin]

    def nonnegative(self) -> bool:
        """Whether some value is observed and none of the observed values is negative."""
        obs = self.values[self.observed & ~np.isnan(self.values)]
        return bool(len(obs) and obs.min() >= 0)

    def forecast_starts(self) -> pd.DatetimeIndex:
        """The first forecast timestamp of each series (the step after its end)."""
        return self.end_timestamps() + fq.to_offset(self.frequency) if self.n_series else self.starts

    def history_span(self) -> pd.Timedelta:
        """Longest time span covered by one series (which calendar cycles the data can show)."""
        ok = self.lengths > 0
        if not ok.any():
            return pd.Timedelta(0)
        return ((self.end_timestamps()[ok] + fq.to_offset(self.frequency)) - self.starts[ok]).max()

    def series(self, i: int) -> np.ndarray:
        """Target of series ``i`` (a view)."""
        return self.values[self.indptr[i]:self.indptr[i + 1]]

    def observed_mask(self, i: int) -> np.ndarray:
        return self.observed[self.indptr[i]:self.indptr[i + 1]]

    def related_series(self, i: int) -> np.ndarray | None:
        """Related features of series ``i``, shape (length_i + future_i, F), or None."""
        if self.related is None:
            return None
        return self.related[self.related_indptr[i]:self.related_indptr[i + 1]]

    def related_future_length(self) -> np.ndarray:
        """How many steps of related data each series has past the end of its target."""
        if self.related is None:
            return np.zeros(self.n_series, dtype=np.int64)
        return np.diff(self.related_indptr) - self.lengths

    def timestamps(self, i: int) -> pd.DatetimeIndex:
        return fq.date_range(self.starts[i], int(self.lengths[i]), self.frequency)

    def end_timestamps(self) -> pd.DatetimeIndex:
        """Last timestamp of each series (its start for an empty, cold-start series minus one step)."""
        off = fq.to_offset(self.frequency)
        return pd.DatetimeIndex([s + (int(n) - 1) * off for s, n in zip(self.starts, self.lengths)])

    def future_timestamps(self, horizon: int) -> list[pd.DatetimeIndex]:
        """The ``horizon`` timestamps after the end of each series."""
        off = fq.to_offset(self.frequency)
        return [fq.date_range(s + int(n) * off, horizon, self.frequency) for s, n in zip(self.starts, self.lengths)]

    def padded(self, length: int | None = None, align: str = "right") -> np.ndarray:
        """A dense (n, length) array, NaN-padded on the left (``align="right"``), the last
        ``length`` values of each series; handy for vectorised local models."""
        lens = self.lengths
        length = int(lens.max()) if length is None else int(length)
        out = np.full((self.n_series, length), np.nan)
        for i in range(self.n_series):
            s = self.series(i)[-length:] if length else self.series(i)[:0]
            if align == "right":
                out[i, length - len(s):] = s
            else:
                out[i, :len(s)] = s
        return out

    # --------------------------------------------------------------- selection
    def select(self, rows) -> "Panel":
        """A new Panel with the series at positions ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        lens = self.lengths[rows]
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        idx = np.concatenate([np.arange(self.indptr[r], self.indptr[r + 1]) for r in rows]) if len(rows) else np.zeros(0, np.int64)
        rel = rel_ptr = None
        if self.related is not None:
            rl = np.diff(self.related_indptr)[rows]
            rel_ptr = np.concatenate([[0], np.cumsum(rl)]).astype(np.int64)
            ridx = np.concatenate([np.arange(self.related_indptr[r], self.related_indptr[r + 1]) for r in rows]) if len(rows) else np.zeros(0, np.int64)
            rel = self.related[ridx]
        return replace(
            self,
            keys=self.keys.iloc[rows].reset_index(drop=True),
            starts=self.starts[rows],
            indptr=indptr,
            values=self.values[idx],
            observed=self.observed[idx],
            related=rel,
            related_indptr=rel_ptr,
            static=None if self.static is None else self.static.iloc[rows].reset_index(drop=True),
        )

    def slice(self, first=0, stop=None, related_stop=None) -> "Panel":
        """Each series ``i`` cut to its positions ``first[i]:stop[i]`` (one number, or one per series).

        ``first`` (default 0) moves each start forward by that many steps; ``stop`` (default: the
        whole series) is exclusive. Related series keep positions ``first[i]:related_stop[i]``
        (default: to their end, so values past ``stop`` stay as future-known values). The one way
        series are cut out of a Panel: :meth:`truncate`, the changepoint cut and GBM's backtest
        windows use it.

        >>> p = Panel(keys=pd.DataFrame({"item_id": ["a", "b"]}), starts=pd.DatetimeIndex(["2020-01-01"] * 2),
        ...           indptr=np.array([0, 4, 7]), values=np.arange(7.0), observed=np.ones(7, bool), frequency="D")
        >>> q = p.slice(first=[1, 0], stop=[3, 2])
        >>> q.series(0).tolist(), q.series(1).tolist(), [str(t.date()) for t in q.starts]
        ([1.0, 2.0], [4.0, 5.0], ['2020-01-02', '2020-01-01'])
        """
        n = self.n_series
        lens = self.lengths
        first = np.clip(np.broadcast_to(np.asarray(first, dtype=np.int64), (n,)), 0, lens)
        stop = lens if stop is None else np.broadcast_to(np.asarray(stop, dtype=np.int64), (n,))
        stop = np.clip(stop, first, lens)
        indptr, idx = _gather(self.indptr, first, stop)
        starts = self.starts
        if first.any():
            off = fq.to_offset(self.frequency)
            starts = pd.DatetimeIndex([s + int(k) * off for s, k in zip(self.starts, first)])
        rel = rel_ptr = None
        if self.related is not None:
            avail = np.diff(self.related_indptr)
            rstop = avail if related_stop is None else np.broadcast_to(np.asarray(related_stop, dtype=np.int64), (n,))
            rel_ptr, ridx = _gather(self.related_indptr, np.minimum(first, avail), np.clip(rstop, np.minimum(first, avail), avail))
            rel = self.related[ridx]
        return replace(self, starts=starts, indptr=indptr, values=self.values[idx], observed=self.observed[idx],
                       related=rel, related_indptr=rel_ptr)

    def cutoff_index(self, cutoff) -> pd.DatetimeIndex:
        """One cutoff per series: ``cutoff`` repeated, or ``cutoff`` itself when it holds one per series."""
        if np.ndim(cutoff) == 0:
            return pd.DatetimeIndex([pd.Timestamp(cutoff)] * self.n_series)
        out = pd.DatetimeIndex(cutoff)
        if len(out) != self.n_series:
            raise ValueError(f"{len(out)} cutoffs for {self.n_series} series")
        return out

    def truncate(self, cutoff: pd.Timestamp, keep_related_future: int | None = None) -> "Panel":
        """Each series cut to the timestamps ``<= cutoff`` (a backtest's training data; ``cutoff``
        may hold one timestamp per series).

        Related series keep ``keep_related_future`` steps past the cutoff (the
        forecast horizon, for future-known features); by default all of them.
        Series that start after the cutoff come back empty (length 0).
        """
        pos = fq.step_index(self.cutoff_index(cutoff), self.starts, self.frequency)
        keep = np.clip(np.floor(pos + 1e-9).astype(np.int64) + 1, 0, self.lengths)
        related_stop = None
        if self.related is not None and keep_related_future is not None:
            related_stop = np.minimum(np.diff(self.related_indptr), keep + keep_related_future)
        return self.slice(0, keep, related_stop)

    def actuals_after(self, cutoff: pd.Timestamp, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``horizon`` values after ``cutoff`` per series, as (n, horizon) arrays of
        values (NaN where absent) and of the observed mask."""
        pos = fq.step_index(self.cutoff_index(cutoff), self.starts, self.frequency)
        first = np.floor(pos + 1e-9).astype(np.int64) + 1
        vals = np.full((self.n_series, horizon), np.nan)
        obs = np.zeros((self.n_series, horizon), dtype=bool)
        for i in range(self.n_series):
            a, n = int(first[i]), int(self.lengths[i])
            lo, hi = max(a, 0), min(a + horizon, n)
            if hi > lo:
                s = self.indptr[i]
                vals[i, lo - a:hi - a] = self.values[s + lo:s + hi]
                obs[i, lo - a:hi - a] = self.observed[s + lo:s + hi]
        return vals, obs

    # ------------------------------------------------------------ construction
    @classmethod
    def from_frame(cls, df: pd.DataFrame, key_columns: list[str], target_column: str, frequency: str,
                   related: pd.DataFrame | None = None, related_columns: list[str] | None = None,
                   static: pd.DataFrame | None = None, extra_keys: pd.DataFrame | None = None) -> "Panel":
        """Pack a canonical long frame (sorted or not) into a Panel.

        Missing grid steps become NaN with ``observed=False``; rows marked in the
        ``_estimated`` column count as not observed (filled with an estimate); rows marked
        ``_filled`` only (zero or value fill) are real values. ``extra_keys`` adds series with
        no history (cold-start items) at the end, which start where the related
        data for them starts (or at the group's end).
        """
        frequency = fq.normalize(frequency)
        keys_sorted = df.sort_values([*key_columns, "timestamp"], kind="stable")
        codes, uniques = _factorize_keys(keys_sorted, key_columns)
        n = len(uniques)
        ts = pd.DatetimeIndex(keys_sorted["timestamp"])
        if ts.tz is not None:
            ts = ts.tz_convert(None)
        bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True]) if len(codes) else np.array([0])
        first_idx = bounds[:-1]
        starts = ts[first_idx] if n else pd.DatetimeIndex([])
        origin = np.repeat(starts.values, np.diff(bounds)) if n else np.array([], dtype="datetime64[ns]")
        step = fq.step_index(ts, origin, frequency)
        if len(step) and not np.allclose(step, np.round(step)):
            bad = int(np.flatnonzero(~np.isclose(step, np.round(step)))[0])
            raise DataError(
                f"timestamp {ts[bad]} of item {tuple(keys_sorted.iloc[bad][key_columns])} is off the "
                f"{frequency} grid that starts at {pd.Timestamp(origin[bad])}; aggregate the data to "
                f"{frequency} first (DatasetGroup.aggregate) or choose the data's own frequency."
            )
        step = np.round(step).astype(np.int64)
        lens = np.zeros(n, dtype=np.int64)
        if n:
            np.maximum.at(lens, codes, step + 1)
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        values = np.full(int(indptr[-1]), np.nan)
        observed = np.zeros(int(indptr[-1]), dtype=bool)
        flat = indptr[codes] + step if n else np.zeros(0, np.int64)
        y = pd.to_numeric(keys_sorted[target_column], errors="coerce").to_numpy(dtype=float)
        values[flat] = y
        obs = ~np.isnan(y)
        if ESTIMATED in keys_sorted.columns:
            obs &= ~keys_sorted[ESTIMATED].to_numpy(dtype=bool)
        observed[flat] = obs
        keys = uniques.reset_index(drop=True)
        panel = cls(keys=keys, starts=pd.DatetimeIndex(starts), indptr=indptr, values=values,
                    observed=observed, frequency=frequency)
        if extra_keys is not None and len(extra_keys):
            panel = panel._with_cold_start(extra_keys.reset_index(drop=True)[key_columns], related)
        if related is not None and related_columns:
            panel = panel._attach_related(related, related_columns)
        if static is not None:
            panel = panel._attach_static(static)
        return panel

    def _with_cold_start(self, extra_keys: pd.DataFrame, related: pd.DataFrame | None) -> "Panel":
        """Append series with no history (cold-start items): each starts one step after the
        group's last timestamp, so its forecast covers the same dates as everyone else's."""
        n_new = len(extra_keys)
        end = self.end_timestamps().max() if self.n_series else pd.Timestamp("2000-01-01")
        start = end + fq.to_offset(self.frequency)
        return replace(
            self,
            keys=pd.concat([self.keys, extra_keys], ignore_index=True),
            starts=self.starts.append(pd.DatetimeIndex([start] * n_new)),
            indptr=np.concatenate([self.indptr, np.full(n_new, self.indptr[-1])]),
        )

    def _attach_related(self, related: pd.DataFrame, columns: list[str]) -> "Panel":
        keys = self.key_columns
        rel = related.sort_values([*keys, "timestamp"], kind="stable")
        rcodes, runiq = _factorize_keys(rel, keys)
        pos_of = _positions(self.keys[keys], runiq[keys])
        row_series = pos_of[rcodes] if len(rcodes) else np.zeros(0, np.int64)
        ok = row_series >= 0
        rel = rel.loc[ok]
        row_series = row_series[ok]
        ts = pd.DatetimeIndex(rel["timestamp"])
        if ts.tz is not None:
            ts = ts.tz_convert(None)
        step = fq.step_index(ts, self.starts.values[row_series], self.frequency)
        step = np.round(step).astype(np.int64)
        keep = step >= 0
        row_series, step = row_series[keep], step[keep]
        vals = rel[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)[keep]
        rl = np.array(self.lengths, dtype=np.int64)
        if len(step):
            np.maximum.at(rl, row_series, step + 1)
        rptr = np.concatenate([[0], np.cumsum(rl)]).astype(np.int64)
        arr = np.full((int(rptr[-1]), len(columns)), np.nan)
        arr[rptr[row_series] + step] = vals
        return replace(self, related=arr, related_indptr=rptr, related_names=list(columns))

    def _attach_related_block(self, block, columns: list[str], chunk_rows: int = 1 << 22) -> "Panel":
        """Attach related series straight from a sorted series block (keys sorted, time increasing
        within a key): what :meth:`_attach_related` computes from the long frame, without sorting or
        copying the frame. Rows are placed a key range at a time, so the temporaries stay bounded
        (``chunk_rows`` rows) whatever the number of items."""
        keys = self.key_columns
        pos = _positions(self.keys[keys], block.keys[keys])  # block key -> series, -1: not in the panel
        ptr, ts = block.indptr, block.ts
        starts = self.starts.values
        rl = np.array(self.lengths, dtype=np.int64)
        mine = np.flatnonzero(pos >= 0)
        if len(mine) and block.n_rows:
            last = fq.step_index(ts[ptr[mine + 1] - 1].view("M8[ns]"), starts[pos[mine]], self.frequency)
            np.maximum.at(rl, pos[mine], np.round(last).astype(np.int64) + 1)
        rptr = np.concatenate([[0], np.cumsum(rl)]).astype(np.int64)
        arr = np.full((int(rptr[-1]), len(columns)), np.nan)
        k0 = 0
        while k0 < block.n_keys:
            k1 = int(np.searchsorted(ptr, ptr[k0] + chunk_rows, side="right")) - 1
            k1 = min(max(k1, k0 + 1), block.n_keys)
            lo, hi = int(ptr[k0]), int(ptr[k1])
            series = pos[block.codes[lo:hi]]
            ok = series >= 0
            series = series[ok]
            step = np.round(fq.step_index(ts[lo:hi][ok].view("M8[ns]"), starts[series], self.frequency)).astype(np.int64)
            keep = step >= 0
            at = rptr[series[keep]] + step[keep]
            for j, c in enumerate(columns):
                v = block.fields[c][lo:hi]
                v = v.astype(float) if v.dtype != object else pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(float)
                arr[at, j] = v[ok][keep]
            k0 = k1
        return replace(self, related=arr, related_indptr=rptr, related_names=list(columns))

    def _attach_static(self, static: pd.DataFrame) -> "Panel":
        item = self.key_columns[0]
        meta = static.drop_duplicates(item).set_index(item)
        aligned = meta.reindex(self.keys[item].astype(str).values if meta.index.dtype == object else self.keys[item].values)
        aligned = aligned.astype("string").fillna("").astype(object).reset_index(drop=True)
        return replace(self, static=aligned)

    # ------------------------------------------------------------------ output
    def to_frame(self, target_column: str = "target_value") -> pd.DataFrame:
        """Back to the canonical long frame (observed and filled values, no NaN rows)."""
        parts = []
        for i in range(self.n_series):
            ts = self.timestamps(i)
            f = pd.DataFrame({"timestamp": ts, target_column: self.series(i)})
            for c in self.key_columns:
                f.insert(len(f.columns) - 2, c, self.keys.iloc[i][c])
            parts.append(f)
        if not parts:
            return pd.DataFrame(columns=[*self.key_columns, "timestamp", target_column])
        out = pd.concat(parts, ignore_index=True)
        return out.dropna(subset=[target_column]).reset_index(drop=True)


def _gather(indptr: np.ndarray, first: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The new ``indptr`` and the flat positions of the values ``indptr[i] + first[i] : indptr[i] + stop[i]``."""
    lens = (stop - first).astype(np.int64)
    new_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    idx = np.repeat(indptr[:-1] + first - new_ptr[:-1], lens) + np.arange(new_ptr[-1], dtype=np.int64)
    return new_ptr, idx.astype(np.int64)


def _positions(keys: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """For each row of ``other``, the position of the same key (compared as strings) in ``keys``; -1 if absent."""
    if keys.shape[1] == 1:
        return pd.Index(keys.iloc[:, 0].astype(str)).get_indexer(other.iloc[:, 0].astype(str)).astype(np.int64)
    return pd.MultiIndex.from_frame(keys.astype(str)).get_indexer(
        pd.MultiIndex.from_frame(other.astype(str))).astype(np.int64)


def _factorize_keys(df: pd.DataFrame, key_columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer codes of the key tuples in order of first appearance, and the unique key rows."""
    if len(key_columns) == 1:
        codes, uniq = pd.factorize(df[key_columns[0]], sort=False)
        return codes.astype(np.int64), pd.DataFrame({key_columns[0]: uniq})
    codes = np.zeros(len(df), dtype=np.int64)
    mi = pd.MultiIndex.from_frame(df[key_columns])
    codes, uniq = pd.factorize(mi, sort=False)
    keys = uniq.to_frame(index=False)
    keys.columns = list(key_columns)  # pd.factorize drops the MultiIndex names
    return codes.astype(np.int64), keys
