"""Series blocks: the sorted (key, time, values) arrays the import works on; sorting, concatenation, duplicates."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

DUPLICATE_METHODS = ("error", "sum", "mean", "avg", "first", "last", "min", "max")
DAY = 86_400_000_000_000
HOUR = 3_600_000_000_000
MINUTE = 60_000_000_000
_CHUNK = 1 << 21


# ------------------------------------------------------------------ blocks
@dataclass
class SeriesBlock:
    """Rows sorted by key, then time.

    Attributes
    ----------
    keys : DataFrame
        One row per key (item field, then forecast dimensions), sorted; strings.
    codes : ndarray of int32
        Row -> key (non-decreasing).
    ts : ndarray of int64
        Naive timestamps in nanoseconds, increasing within a key.
    fields : dict of str -> ndarray
        The other columns (float64, or object for strings).
    where : Provenance, optional
        Source of the rows, for messages.
    rows : ndarray, optional
        Reading-order position of each row (None: the identity).
    filled : ndarray of bool, optional
        True where a row or value was filled, not observed.
    """

    keys: pd.DataFrame
    codes: np.ndarray
    ts: np.ndarray
    fields: dict
    where: object = None
    rows: np.ndarray | None = None
    filled: np.ndarray | None = None
    duplicates: np.ndarray | None = None  # per key: rows merged away by duplicates=...
    _indptr: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_keys(self) -> int:
        return len(self.keys)

    @property
    def n_rows(self) -> int:
        return len(self.codes)

    @property
    def indptr(self) -> np.ndarray:
        if self._indptr is None:
            self._indptr = np.searchsorted(self.codes, np.arange(self.n_keys + 1)).astype(np.int64)
        return self._indptr

    @property
    def key_columns(self) -> list[str]:
        return list(self.keys.columns)

    def first_ts(self) -> np.ndarray:
        """First timestamp of every key (every key has rows)."""
        return self.ts[self.indptr[:-1]] if self.n_rows else np.zeros(0, np.int64)

    def last_ts(self) -> np.ndarray:
        return self.ts[self.indptr[1:] - 1] if self.n_rows else np.zeros(0, np.int64)

    def locate(self, j: int) -> str:
        """Where row ``j`` (sorted position) came from."""
        if self.where is None:
            return f"row {int(j) + 1}"
        pos = int(self.rows[j]) if self.rows is not None else int(j)
        return self.where.locate(pos)

    def key_label(self, k: int) -> str:
        vals = self.keys.iloc[int(k)]
        if len(vals) == 1:
            return f"'{vals.iloc[0]}'"
        return "(" + ", ".join(f"{c}='{v}'" for c, v in vals.items()) + ")"

    def take(self, idx: np.ndarray) -> "SeriesBlock":
        """Rows at sorted positions ``idx`` (kept sorted); keys without rows are dropped."""
        codes = self.codes[idx]
        used = np.unique(codes)
        remap = np.full(self.n_keys, -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return SeriesBlock(self.keys.iloc[used].reset_index(drop=True), remap[codes], self.ts[idx],
                           {k: v[idx] for k, v in self.fields.items()}, self.where,
                           None if self.rows is None else self.rows[idx],
                           None if self.filled is None else self.filled[idx],
                           None if self.duplicates is None else self.duplicates[used])

    def to_frame(self, key_dtype: str = "object", filled_column: bool = False) -> pd.DataFrame:
        """The canonical long frame (keys, ``timestamp``, fields[, ``_filled``])."""
        from ..panel import FILLED

        out = {}
        for c in self.key_columns:
            labels = self.keys[c].to_numpy(dtype=object)
            if key_dtype == "category":
                out[c] = pd.Categorical.from_codes(self.codes, categories=pd.Index(labels), validate=False) \
                    if len(self.key_columns) == 1 else pd.Categorical(labels.take(self.codes))
            else:
                out[c] = take_chunked(labels, self.codes)
        out["timestamp"] = self.ts.view("M8[ns]")
        out.update(self.fields)
        if filled_column:
            out[FILLED] = self.filled if self.filled is not None else np.zeros(self.n_rows, bool)
        return pd.DataFrame(out, copy=False)


def take_chunked(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]`` for a long int32 ``idx`` without numpy's full-length int64 copy of it."""
    out = np.empty(len(idx), dtype=values.dtype)
    for s in range(0, len(idx), _CHUNK):
        np.take(values, idx[s:s + _CHUNK], out=out[s:s + _CHUNK])
    return out


def concat_blocks(a: SeriesBlock, b: SeriesBlock) -> SeriesBlock:
    """Rows of ``a`` then ``b`` (read order), keys unified; not yet sorted."""
    cols = a.key_columns
    keys = pd.concat([a.keys, b.keys], ignore_index=True).drop_duplicates().sort_values(cols)
    keys = keys.reset_index(drop=True)
    pos = pd.MultiIndex.from_frame(keys) if len(cols) > 1 else pd.Index(keys[cols[0]])
    def codes_of(blk):
        ix = pd.MultiIndex.from_frame(blk.keys) if len(cols) > 1 else pd.Index(blk.keys[cols[0]])
        return pos.get_indexer(ix).astype(np.int32)[blk.codes]
    from ..readers import Provenance

    where = Provenance.concat([a.where, b.where]) if a.where is not None and b.where is not None else None
    na = a.n_rows if a.where is None else a.where.n_rows
    rows = np.concatenate([a.rows if a.rows is not None else np.arange(a.n_rows),
                           (b.rows if b.rows is not None else np.arange(b.n_rows)) + na])
    fields = {}
    for name in a.fields:
        if name not in b.fields:
            raise DataError(f"the new data lacks field '{name}' that the dataset group has; add the column.")
        fa, fb = a.fields[name], b.fields[name]
        fields[name] = np.concatenate([fa, fb.astype(fa.dtype) if fa.dtype != object else fb])
    return SeriesBlock(keys, np.concatenate([codes_of(a), codes_of(b)]), np.concatenate([a.ts, b.ts]),
                       fields, where, rows)


# ------------------------------------------------------------ sort + dups
def sort_block(blk: SeriesBlock) -> SeriesBlock:
    """Sort rows by key, then time (stable, so later rows stay later among equals)."""
    c, t = blk.codes, blk.ts
    if len(c) < 2:
        return blk
    bad = False
    for s in range(0, len(c) - 1, _CHUNK):
        e = min(s + _CHUNK + 1, len(c))
        dc = np.diff(c[s:e])
        if (dc < 0).any() or ((dc == 0) & (np.diff(t[s:e]) < 0)).any():
            bad = True
            break
    if not bad:
        return blk
    order = np.lexsort((t, c))
    rows = order if blk.rows is None else blk.rows[order]
    return SeriesBlock(blk.keys, c[order], t[order], {k: v[order] for k, v in blk.fields.items()}, blk.where, rows,
                       None if blk.filled is None else blk.filled[order], blk.duplicates)


def resolve_duplicates(blk: SeriesBlock, how: str = "error", extra_columns=(), what: str = "target") -> SeriesBlock:
    """Handle rows with the same key and timestamp (``blk`` sorted).

    Raises
    ------
    DataError
        With ``how="error"``, naming the item, timestamp and both rows.
    """
    how = _check_dup_method(how)
    n = blk.n_rows
    if n < 2:
        blk.duplicates = np.zeros(blk.n_keys, np.int64)
        return blk
    dup = np.zeros(n, bool)  # row i equals row i-1
    for s in range(0, n - 1, _CHUNK):
        e = min(s + _CHUNK + 1, n)
        dup[s + 1:e] = (np.diff(blk.codes[s:e]) == 0) & (np.diff(blk.ts[s:e]) == 0)
    if not dup.any():
        blk.duplicates = np.zeros(blk.n_keys, np.int64)
        return blk
    j = int(np.flatnonzero(dup)[0])
    if how == "error":
        k = int(blk.codes[j])
        hint = ""
        if extra_columns:
            hint = (f" If the rows differ in {list(extra_columns)}, those columns identify separate series: "
                    f"declare them with forecast_dimensions={list(extra_columns)[:2]}.")
        raise DataError(
            f"duplicate {what} rows for item {blk.key_label(k)} at {pd.Timestamp(int(blk.ts[j]))}: "
            f"{blk.locate(j - 1)} and {blk.locate(j)} ({int(dup.sum())} duplicate row(s) in all); remove them, or "
            f"pass duplicates='sum', 'mean' or 'last' to combine rows with the same item and timestamp.{hint}")
    starts = np.flatnonzero(~dup)
    per_key = np.bincount(blk.codes[dup], minlength=blk.n_keys).astype(np.int64)
    fields = {name: reduce_groups(v, starts, how) for name, v in blk.fields.items()}
    last_rows = np.r_[starts[1:] - 1, n - 1]
    rows = (blk.rows[last_rows] if blk.rows is not None else last_rows) if how == "last" else \
        (blk.rows[starts] if blk.rows is not None else starts)
    out = SeriesBlock(blk.keys, blk.codes[starts], blk.ts[starts], fields, blk.where, rows)
    out.duplicates = per_key
    return out


def _check_dup_method(how: str) -> str:
    how = str(how).lower()
    if how not in DUPLICATE_METHODS:
        raise ConfigError(f"duplicates={how!r}: use one of {', '.join(DUPLICATE_METHODS)}.")
    return "avg" if how == "mean" else how


def reduce_groups(v: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    """Reduce consecutive groups of ``v`` beginning at ``starts`` ignoring NaN (all-NaN -> NaN)."""
    n = len(v)
    if v.dtype == object:
        if how not in ("first", "last"):
            how = "last"
        valid = pd.notna(v)
    else:
        valid = ~np.isnan(v)
    if how in ("first", "last"):
        idx = np.arange(n)
        if how == "first":
            pick = np.minimum.reduceat(np.where(valid, idx, n), starts)
        else:
            pick = np.maximum.reduceat(np.where(valid, idx, -1), starts)
        ok = (pick >= 0) & (pick < n)
        out = np.empty(len(starts), dtype=v.dtype)
        out[ok] = v[pick[ok]]
        if (~ok).any():
            out[~ok] = None if v.dtype == object else np.nan
        return out
    cnt = np.add.reduceat(valid.astype(np.int64), starts)
    if how in ("sum", "avg"):
        s = np.add.reduceat(np.where(valid, v, 0.0), starts)
        out = s / np.maximum(cnt, 1) if how == "avg" else s
    elif how == "min":
        out = np.fmin.reduceat(v, starts)
    elif how == "max":
        out = np.fmax.reduceat(v, starts)
    else:  # pragma: no cover - checked by callers
        raise ConfigError(f"unknown aggregation {how!r}")
    return np.where(cnt > 0, out, np.nan)
