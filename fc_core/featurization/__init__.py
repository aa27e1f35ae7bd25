"""Time grids, missing values and aggregation (Amazon Forecast's featurization), vectorised.

Data live here as a :class:`SeriesBlock`: rows sorted by key and time, with the
key of each row as an integer code, timestamps as int64 nanoseconds and every
field as one array, so that checks and fills run without Python loops over rows.

Missing values (Amazon Forecast's ``FillMethods``)
--------------------------------------------------
For every series the time line splits into regions:

* ``frontfill``: before the series' first timestamp (target: always ``none``,
  nothing is added; related series: only where the target starts earlier);
* ``middlefill``: gaps between its first and last timestamp, and empty values;
* ``backfill``: after its last timestamp up to the dataset group's end (the last
  target timestamp of all items);
* ``futurefill`` (related series only): after the group's end, up to end + horizon.

Each region takes one of ``zero``, ``nan``, ``value`` (with ``<region>_value``),
``mean``, ``median``, ``min`` or ``max``, where the statistics are taken over the
observed values of the same series (item). The target defaults to
``middlefill=zero, backfill=zero``; related fields have no default, so a gap
there without a rule is a :class:`~fc_core.errors.DataError`. Filled target
points are marked in the ``_filled`` column.

What a filled target point means follows the fill method, as in Amazon Forecast,
whose models read a zero-filled point as a recorded zero and ignore a NaN-filled one:
``zero`` and ``value`` state a real value (an absent row of counts is a zero), so
those points are trained on and scored like observed ones; ``nan``, ``mean``,
``median``, ``min`` and ``max`` are estimates (:data:`ESTIMATE_METHODS`), marked
*estimated*: algorithms do not learn from them and backtests do not score them.

Aggregation
-----------
To a coarser frequency, with ``sum`` (default), ``avg``, ``first``, ``min`` or
``max``, on Amazon Forecast's boundaries (weeks start on Monday, months on the 1st,
years on 1 January, days at midnight) unless ``align`` moves them, like
Amazon's ``TimeAlignmentBoundary``: ``{"DayOfWeek": "SUNDAY"}`` for weeks,
``{"DayOfMonth": 15}`` for months, ``{"Month": "APRIL"}`` for years and
``{"Hour": 6}`` for days and longer. A bucket is labelled with its first instant.

>>> import numpy as np
>>> ts = np.array(["2024-01-06T10", "2024-01-07T00", "2024-01-08T05"], dtype="M8[ns]").view(np.int64)
>>> bucket_start(ts, "W").view("M8[ns]").astype(str).tolist()
['2024-01-01T00:00:00.000000000', '2024-01-01T00:00:00.000000000', '2024-01-08T00:00:00.000000000']
>>> bucket_start(ts, "W", {"DayOfWeek": "SUNDAY"}).view("M8[ns]").astype("M8[D]").astype(str).tolist()
['2023-12-31', '2024-01-07', '2024-01-07']
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import ConfigError, DataError

FILL_METHODS = ("zero", "nan", "value", "mean", "median", "min", "max")
ESTIMATE_METHODS = ("nan", "mean", "median", "min", "max")  # fills that guess a value: never scored
FILL_REGION_CODES = {0: "", 1: "middlefill", 2: "backfill"}  # FillResult.region
TARGET_REGIONS = ("frontfill", "middlefill", "backfill")
RELATED_REGIONS = ("frontfill", "middlefill", "backfill", "futurefill")
TARGET_DEFAULT_FILL = {"frontfill": "none", "middlefill": "zero", "backfill": "zero"}
AGG_METHODS = ("sum", "avg", "first", "last", "min", "max")
DUPLICATE_METHODS = ("error", "sum", "mean", "avg", "first", "last", "min", "max")
DAY = 86_400_000_000_000
HOUR = 3_600_000_000_000
MINUTE = 60_000_000_000
_CHUNK = 1 << 21
_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_MONTHS = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER",
           "NOVEMBER", "DECEMBER")


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


# ------------------------------------------------------------- time grid
def _unit(freq: str) -> tuple[str, int]:
    """('fixed', step in ns) or ('months', step in months)."""
    mult, base = fq.parse(freq)
    if base in ("M", "Q", "Y"):
        return "months", {"M": 1, "Q": 3, "Y": 12}[base] * mult
    return "fixed", {"min": MINUTE, "H": HOUR, "D": DAY, "W": 7 * DAY}[base] * mult


def _months(ts: np.ndarray) -> np.ndarray:
    return np.asarray(ts).view("M8[ns]").astype("M8[M]").astype(np.int64)


def _month_start(m: np.ndarray) -> np.ndarray:
    return np.asarray(m).astype("M8[M]").astype("M8[ns]").view(np.int64)


def floor_steps(t: np.ndarray, origin: np.ndarray, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """Whole steps of ``freq`` from ``origin`` to ``t`` (floored) and whether ``t`` is exactly on that grid."""
    kind, step = _unit(freq)
    t = np.asarray(t, np.int64)
    origin = np.asarray(origin, np.int64)
    if kind == "fixed":
        d = t - origin
        return d // step, d % step == 0
    mt, mo = _months(t), _months(origin)
    pt, po = t - _month_start(mt), origin - _month_start(mo)
    dm = mt - mo - (pt < po)
    return dm // step, (dm % step == 0) & (pt == po)


def grid_time(origin: np.ndarray, steps: np.ndarray, freq: str) -> np.ndarray:
    """Timestamps ``steps`` steps of ``freq`` after ``origin`` (int64 ns)."""
    kind, step = _unit(freq)
    origin = np.asarray(origin, np.int64)
    steps = np.asarray(steps, np.int64)
    if kind == "fixed":
        return origin + steps * step
    mo = _months(origin)
    return _month_start(mo + steps * step) + (origin - _month_start(mo))


def check_grid(blk: SeriesBlock, freq: str) -> np.ndarray:
    """Check every key's timestamps lie a whole number of steps after its first one; return the
    number of absent steps (gaps) per key.

    Raises
    ------
    DataError
        Naming the first off-grid row, its item and the item's first timestamp.
    """
    kind, step = _unit(freq)
    n = blk.n_rows
    missing = np.zeros(blk.n_keys, np.int64)
    for s in range(0, max(n - 1, 0), _CHUNK):
        e = min(s + _CHUNK + 1, n)
        same = np.diff(blk.codes[s:e]) == 0
        if kind == "fixed":
            d = np.diff(blk.ts[s:e])
        else:
            m = _months(blk.ts[s:e])
            ph = blk.ts[s:e] - _month_start(m)
            d = np.diff(m)
            d[np.diff(ph) != 0] = step + 1  # another position inside the month: off the grid
            del m, ph
        odd = np.flatnonzero(same & (d != step))  # gaps or off-grid steps: usually few
        if not len(odd):
            continue
        dd = d[odd]
        off = dd % step != 0
        if kind == "months":
            ph = blk.ts[s:e] - _month_start(_months(blk.ts[s:e]))
            off |= ph[odd + 1] != ph[odd]
        if off.any():
            j = s + 1 + int(odd[np.flatnonzero(off)[0]])
            k = int(blk.codes[j])
            first = pd.Timestamp(int(blk.ts[blk.indptr[k]]))
            raise DataError(
                f"{blk.locate(j)}: column 'timestamp' value {pd.Timestamp(int(blk.ts[j]))} of item {blk.key_label(k)} "
                f"is off the "
                f"declared frequency {freq} (not a whole number of {freq} steps after the item's first timestamp "
                f"{first}); fix the timestamp, or declare the data's own frequency (e.g. the finer one) and "
                f"aggregate with DatasetGroup.aggregate('{freq}').")
        missing += np.bincount(blk.codes[s + 1 + odd], weights=dd // step - 1, minlength=blk.n_keys).astype(np.int64)
    return missing


def infer_frequency(blk: SeriesBlock) -> str | None:
    """The most common step between consecutive timestamps of the same key, over all keys,
    as Amazon Forecast's frequency name (None when no key has two rows).

    >>> import numpy as np, pandas as pd
    >>> ts = pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-01-01", "2020-02-01"])
    >>> blk = SeriesBlock(pd.DataFrame({"item_id": ["a", "b"]}), np.array([0, 0, 0, 1, 1], np.int32),
    ...                   ts.values.view(np.int64), {})
    >>> infer_frequency(blk)
    'M'
    """
    n = blk.n_rows
    cand, n_pairs, n_cand = None, 0, 0
    for s in range(0, max(n - 1, 0), _CHUNK):  # a majority step is the mode: no sort needed
        e = min(s + _CHUNK + 1, n)
        d = np.diff(blk.ts[s:e])
        ok = (np.diff(blk.codes[s:e]) == 0) & (d > 0)
        if cand is None and ok.any():
            cand = int(d[np.argmax(ok)])
        n_pairs += int(ok.sum())
        if cand is not None:
            n_cand += int((ok & (d == cand)).sum())
    if cand is None:
        return None
    if n_cand * 2 > n_pairs:
        mode = cand
    else:
        same = np.diff(blk.codes) == 0
        d = np.diff(blk.ts)[same]
        mode = int(pd.Series(d[d > 0]).value_counts().index[0])
    same = None
    if mode >= 28 * DAY:
        m = _months(blk.ts)
        dm = np.diff(m)[np.diff(blk.codes) == 0]
        dm = dm[dm > 0]
        if len(dm):
            k = int(pd.Series(dm).value_counts().index[0])
            if mode <= 31 * DAY * k + DAY:
                if k % 12 == 0:
                    return "Y" if k == 12 else f"{k // 12}Y"
                return "M" if k == 1 else f"{k}M"
    if mode % (7 * DAY) == 0:
        w = mode // (7 * DAY)
        return "W" if w == 1 else f"{w}W"
    if mode % DAY == 0:
        d_ = mode // DAY
        return "D" if d_ == 1 else f"{d_}D"
    if mode % HOUR == 0:
        h = mode // HOUR
        return "H" if h == 1 else f"{h}H"
    if mode % MINUTE == 0:
        return f"{mode // MINUTE}min"
    return None


# ------------------------------------------------------------- fill rules
@dataclass(frozen=True)
class FillRule:
    """One region's rule: a method from :data:`FILL_METHODS` (``value`` with ``value``)."""

    method: str
    value: float | str | None = None

    def describe(self) -> str:
        return f"value {self.value!r}" if self.method == "value" else self.method


def _rule(region: str, method, value, where: str) -> FillRule | None:
    if method is None:
        return None
    if isinstance(method, (int, float)) and not isinstance(method, bool):
        return FillRule("value", float(method))
    m = str(method).lower()
    if m == "none":
        return None
    if m not in FILL_METHODS:
        raise ConfigError(f"{where}: {region}={method!r} is not a fill method; use one of "
                          f"{', '.join(FILL_METHODS)} (or 'none' for frontfill).")
    if m == "value":
        if value is None:
            raise ConfigError(f"{where}: {region}='value' needs {region}_value=<number>.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        return FillRule("value", value)
    return FillRule(m)


def parse_region_rules(spec: dict | None, regions: tuple, where: str) -> dict[str, FillRule | None]:
    """``{"middlefill": "value", "middlefill_value": 3}`` -> ``{"middlefill": FillRule("value", 3.0)}``."""
    spec = dict(spec or {})
    allowed = set(regions) | {f"{r}_value" for r in regions}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown fill setting(s) {unknown}; use {', '.join(regions)} and "
                          "<region>_value for the 'value' method.")
    return {r: _rule(r, spec.get(r), spec.get(f"{r}_value"), where) for r in regions if r in spec}


def parse_fill(fill: dict | None, related_fields=()) -> tuple[dict, dict]:
    """Target and related rules from a ``fill=`` argument.

    ``fill = {"target": {"middlefill": "zero", "backfill": "nan"},
    "related": {"price": {"middlefill": "median", "futurefill": "value", "futurefill_value": 9.99},
    "*": {...}}}``; ``"*"`` applies to every related field without its own entry.

    Raises
    ------
    ConfigError
        Unknown methods, regions or related fields; a target frontfill other than ``none``.
    """
    fill = dict(fill or {})
    unknown = sorted(set(fill) - {"target", "related"})
    if unknown:
        raise ConfigError(f"fill: unknown key(s) {unknown}; use 'target' and 'related'.")
    tspec = {**TARGET_DEFAULT_FILL, **(fill.get("target") or {})}
    if str(tspec.get("frontfill", "none")).lower() != "none":
        raise ConfigError("fill: the target's frontfill can only be 'none' (as in Amazon Forecast); a series "
                          "starts at its first observation.")
    if "futurefill" in tspec:
        raise ConfigError("fill: the target has no futurefill; that is what the forecast is for.")
    target = parse_region_rules(tspec, TARGET_REGIONS, "fill['target']")
    for r in ("middlefill", "backfill"):
        if target.get(r) is None:
            raise ConfigError(f"fill['target']: {r} needs a method ({', '.join(FILL_METHODS)}); "
                              "'nan' keeps the points missing.")
    related = {}
    rspec = dict(fill.get("related") or {})
    star = rspec.pop("*", None)
    bad = sorted(set(rspec) - set(related_fields))
    if bad:
        raise ConfigError(f"fill['related'] names field(s) {bad} that the related time series lacks "
                          f"(it has {list(related_fields)}).")
    for f in related_fields:
        spec = rspec.get(f, star)
        related[f] = parse_region_rules(spec, RELATED_REGIONS, f"fill['related']['{f}']") if spec else {}
    return target, related


# ----------------------------------------------------------------- filling
@dataclass
class FillResult:
    """The filled block; ``present`` marks its rows that existed before (None: unchanged);
    ``raw_nan`` the positions of existing rows whose marked field was empty; for the marked
    field, ``estimated`` marks the rows filled with an estimate (:data:`ESTIMATE_METHODS`) and
    ``region`` the region each filled row belongs to (:data:`FILL_REGION_CODES`, 0 = not filled)."""

    block: SeriesBlock
    filled_per_key: np.ndarray  # filled target points per key (target) or cells (related)
    changed: bool
    present: np.ndarray | None = None
    raw_nan: np.ndarray | None = None
    estimated: np.ndarray | None = None
    region: np.ndarray | None = None


def fill_block(blk: SeriesBlock, freq: str, end, rules: dict, *, horizon: int = 0,
               origin: np.ndarray | None = None, what: str = "target", mark_field: str | None = None,
               consume: bool = False) -> FillResult:
    """Put every key on a complete grid from its origin to ``end`` (+ ``horizon`` steps) and fill;
    ``end`` is one timestamp (ns) or one per key (each item's own end: no back-fill).

    Parameters
    ----------
    rules : dict
        field -> {region -> FillRule or None}; a missing value in a region without a rule
        raises (for the target, regions without rule are left absent).
    origin : array of int64, optional
        Per key, where its time line starts (the target's start for a related series);
        defaults to its first row.
    mark_field : str, optional
        Field whose filled cells make ``filled`` True (the target).
    consume : bool
        Free ``blk``'s arrays as soon as they are copied (the caller must not use ``blk`` after).

    Raises
    ------
    DataError
        A related series off the target's grid, or a gap without a rule (naming item, field and dates).
    """
    n = blk.n_keys
    ip = blk.indptr
    rows_k = np.diff(ip)
    first, last = blk.first_ts(), blk.last_ts()
    o = first.copy()
    if origin is not None:
        has = origin != np.iinfo(np.int64).min
        o = np.where(has & (origin < first), origin, first)
        _, exact = floor_steps(first, o, freq)
        if not exact.all():
            k = int(np.flatnonzero(~exact)[0])
            raise DataError(
                f"the {what} of item {blk.key_label(k)} starts at {pd.Timestamp(int(first[k]))}, which is not on "
                f"the {freq} grid of its target (starting {pd.Timestamp(int(o[k]))}); put both on the same grid "
                f"(same time of day / day of month).")
    f_pos = floor_steps(first, o, freq)[0]
    l_pos = floor_steps(last, o, freq)[0]
    e_pos = floor_steps(np.full(n, end, np.int64), o, freq)[0]
    if what == "target":
        top = np.maximum(l_pos, e_pos)
    else:
        top = np.maximum(l_pos, e_pos + int(horizon))
    T = top + 1
    nan_fields = [f for f, v in blk.fields.items() if v.dtype != object and np.isnan(v).any()] + \
                 [f for f, v in blk.fields.items() if v.dtype == object and pd.isna(v).any()]
    if np.array_equal(rows_k, T) and not nan_fields:
        out = replace(blk, filled=np.zeros(blk.n_rows, bool) if mark_field else blk.filled, _indptr=None)
        return FillResult(out, np.zeros(n, np.int64), False)
    kind, step = _unit(freq)
    ip2 = np.concatenate([[0], np.cumsum(T)]).astype(np.int64)
    N2 = int(ip2[-1])
    # statistics the rules need, from the observed values (before the input is consumed)
    stats = {}
    for name, v in blk.fields.items():
        for rule in rules.get(name, {}).values():
            if rule is not None and rule.method in ("mean", "median", "min", "max") and v.dtype != object:
                stats[(name, rule.method)] = _key_stat(v, blk, rule.method)
    new_fields = {name: np.full(N2, None, dtype=object) if v.dtype == object else np.full(N2, np.nan)
                  for name, v in blk.fields.items()}
    is_obj = {name: v.dtype == object for name, v in blk.fields.items()}
    present = np.zeros(N2, bool)
    base = ip2[:-1]
    for s in range(0, blk.n_rows, _CHUNK):  # scatter the existing rows onto the complete grid
        e = min(s + _CHUNK, blk.n_rows)
        c = blk.codes[s:e]
        if kind == "fixed":  # rows are on the grid (check_grid): a rounded float quotient is exact
            pos = np.rint((blk.ts[s:e] - o[c]) * (1.0 / step)).astype(np.int64)
        else:
            pos = floor_steps(blk.ts[s:e], o[c], freq)[0]
        pos += base[c]
        present[pos] = True
        for name, v in blk.fields.items():
            new_fields[name][pos] = v[s:e]
        del c, pos
    labels = SeriesBlock(blk.keys, np.zeros(0, np.int32), np.zeros(0, np.int64), {})  # for messages
    where, dups = blk.where, blk.duplicates
    if consume:  # free the input's arrays now (the caller gave them up)
        blk.codes = blk.ts = blk.rows = blk.filled = blk._indptr = None
        blk.fields = {}
    filled_k = np.zeros(n, np.int64)
    filled = np.zeros(N2, bool) if mark_field else None
    estimated = np.zeros(N2, bool) if mark_field else None
    fill_region = np.zeros(N2, np.int8) if mark_field else None
    raw_nan = None
    errors = []
    for name, nv in new_fields.items():
        miss = np.flatnonzero(pd.isna(nv) if is_obj[name] else np.isnan(nv))
        if mark_field == name:
            raw_nan = miss[present[miss]]
        if not len(miss):
            continue
        km = (np.searchsorted(ip2, miss, side="right") - 1).astype(np.int64)
        wm = miss - ip2[km]
        region = np.select([wm < f_pos[km], wm <= l_pos[km], wm <= e_pos[km]], [0, 1, 2], 3)
        done = np.zeros(len(miss), bool)
        frule = rules.get(name, {})
        for r, rname in enumerate(RELATED_REGIONS):
            sel = np.flatnonzero(region == r)
            if not len(sel):
                continue
            rule = frule.get(rname)
            if rule is None:
                if what != "target":
                    errors.append((name, rname, km[sel], wm[sel]))
                continue  # the target's frontfill is none: never reached
            nv[miss[sel]] = _fill_values(rule, is_obj[name], stats.get((name, rule.method)), km[sel], name, rname)
            done[sel] = True
            if mark_field == name:
                fill_region[miss[sel]] = r
                estimated[miss[sel]] = rule.method in ESTIMATE_METHODS
        if mark_field == name:
            filled[miss] = True
            filled_k += np.bincount(km, minlength=n)
        elif mark_field is None:
            filled_k += np.bincount(km[done], minlength=n)
    if errors:
        _raise_gap(errors, labels, o, freq, end, what)
    # new grid: codes and timestamps
    codes = np.repeat(np.arange(n, dtype=np.int32), T)
    if kind == "fixed":
        # o[k] + j * step inside key k, built in place with one cumulative sum
        ts = np.full(N2, step, dtype=np.int64)
        if n:
            ts[0] = o[0]
            ts[ip2[1:-1]] = o[1:] - (o[:-1] + (T[:-1] - 1) * step)
            np.cumsum(ts, out=ts)
    else:
        wpos = np.arange(N2, dtype=np.int64) - np.repeat(ip2[:-1], T)
        ts = grid_time(np.repeat(o, T), wpos, freq)
    out = SeriesBlock(labels.keys, codes, ts, new_fields, where, None, filled, dups)
    return FillResult(out, filled_k, True, present, raw_nan, estimated, fill_region)


def _fill_values(rule: FillRule, is_object: bool, stat, keys_sel: np.ndarray, name: str, region: str):
    if rule.method == "nan":
        return None if is_object else np.nan
    if rule.method == "value":
        return rule.value
    if is_object:
        raise ConfigError(f"fill for '{name}' ({region}): {rule.method!r} needs a numeric field; use 'value'.")
    if rule.method == "zero":
        return 0.0
    return stat[keys_sel]


def _key_stat(v: np.ndarray, blk: SeriesBlock, how: str) -> np.ndarray:
    """Per-key statistic of the observed values (NaN for a key without any)."""
    ip = blk.indptr
    n = blk.n_keys
    nonempty = ip[:-1] < ip[1:]
    starts = ip[:-1][nonempty]
    out = np.full(n, np.nan)
    if not len(starts):
        return out
    if how == "mean":
        out[nonempty] = reduce_groups(v, starts, "avg")
    elif how in ("min", "max"):
        out[nonempty] = reduce_groups(v, starts, how)
    elif how == "median":
        order = np.lexsort((v, blk.codes))  # NaN sort last within a key
        sv = v[order]
        cnt = np.add.reduceat((~np.isnan(sv)).astype(np.int64), starts)
        lo = starts + np.maximum(cnt - 1, 0) // 2
        hi = starts + cnt // 2
        med = np.where(cnt > 0, (sv[lo] + sv[np.minimum(hi, len(sv) - 1)]) / 2, np.nan)
        out[nonempty] = med
    return out


def _raise_gap(errors, blk: SeriesBlock, o, freq, end, what):
    name, region, km, wm = errors[0]
    k = int(km[0])
    mine = wm[km == k]
    dates = grid_time(np.full(len(mine), o[k]), mine, freq)
    shown = ", ".join(str(pd.Timestamp(int(d))) for d in dates[:5]) + (" ..." if len(dates) > 5 else "")
    n_items = len(np.unique(km))
    meaning = {"frontfill": "before its first value (where the target already has data)",
               "middlefill": "inside its range (gaps or empty values)",
               "backfill": f"after its last value, up to the target's end {pd.Timestamp(int(np.max(end)))}",
               "futurefill": "past the target's end, inside the forecast horizon"}[region]
    raise DataError(
        f"{what} field '{name}' of item {blk.key_label(k)} has no value on {len(mine)} date(s) {meaning}: {shown} "
        f"({n_items} item(s) affected); add the missing rows, or give a fill rule such as "
        f"fill={{'related': {{'{name}': {{'{region}': 'value', '{region}_value': 0.0}}}}}} "
        f"(methods: {', '.join(FILL_METHODS)}).")


# ------------------------------------------------------------- aggregation
def parse_align(align: dict | None, freq: str) -> dict:
    """Check Amazon-style ``TimeAlignmentBoundary`` keys against the target frequency.

    Raises
    ------
    ConfigError
        For an unknown key or value, or a key that does not apply to ``freq``.
    """
    align = dict(align or {})
    _, base = fq.parse(freq)
    allowed = {"min": set(), "H": set(), "D": {"Hour"}, "W": {"DayOfWeek", "Hour"},
               "M": {"DayOfMonth", "Hour"}, "Q": {"DayOfMonth", "Hour"},
               "Y": {"Month", "DayOfMonth", "Hour"}}[base]
    out = {"Hour": 0, "DayOfWeek": 0, "DayOfMonth": 1, "Month": 1}
    anc = fq.anchor(freq)
    if anc is not None:  # W-SUN, M-15, Y-APR carry their boundary in the name
        key, val = {"W": ("DayOfWeek", _WEEKDAYS[[d[:3] for d in _WEEKDAYS].index(anc)] if base == "W" else None),
                    "M": ("DayOfMonth", int(anc) if anc.isdigit() else None),
                    "Y": ("Month", _MONTHS[[m[:3] for m in _MONTHS].index(anc)] if base == "Y" else None)}[base]
        if key in align and str(align[key]).upper() != str(val):
            raise ConfigError(f"align={{'{key}': {align[key]!r}}} contradicts frequency {freq}; give one of them.")
        align.setdefault(key, val)
    for k, v in align.items():
        if k not in allowed:
            raise ConfigError(f"align={{'{k}': ...}} does not apply to frequency {freq}; "
                              f"it accepts {sorted(allowed) or 'no alignment keys'}.")
        if k == "Hour":
            if not (isinstance(v, (int, np.integer)) and 0 <= v <= 23):
                raise ConfigError(f"align Hour={v!r}: give a whole hour 0-23.")
            out[k] = int(v)
        elif k == "DayOfWeek":
            name = str(v).upper()
            if name not in _WEEKDAYS:
                raise ConfigError(f"align DayOfWeek={v!r}: use one of {', '.join(_WEEKDAYS)}.")
            out[k] = _WEEKDAYS.index(name)
        elif k == "DayOfMonth":
            if not (isinstance(v, (int, np.integer)) and 1 <= v <= 28):
                raise ConfigError(f"align DayOfMonth={v!r}: give a day 1-28 (every month has it).")
            out[k] = int(v)
        elif k == "Month":
            name = str(v).upper()
            if name not in _MONTHS:
                raise ConfigError(f"align Month={v!r}: use one of {', '.join(_MONTHS)}.")
            out[k] = _MONTHS.index(name) + 1
    return out


def bucket_start(ts: np.ndarray, freq: str, align: dict | None = None) -> np.ndarray:
    """First instant of the ``freq`` bucket holding each timestamp (int64 ns in, int64 ns out)."""
    a = parse_align(align, freq)
    ts = np.asarray(ts, np.int64)
    mult, base = fq.parse(freq)
    h = a["Hour"] * HOUR
    if base in ("min", "H"):
        step = (MINUTE if base == "min" else HOUR) * mult
        day0 = ts - ts % DAY
        return day0 + ((ts - day0) // step) * step
    if base == "D":
        step = DAY * mult
        return ((ts - h) // step) * step + h
    if base == "W":
        days = (ts - h) // DAY
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        start = days - (weekday - a["DayOfWeek"]) % 7
        if mult > 1:
            ref = (a["DayOfWeek"] - 3) % 7
            start = ref + ((start - ref) // (7 * mult)) * (7 * mult)
        return start * DAY + h
    dom = (a["DayOfMonth"] - 1) * DAY
    m = _months(ts - dom - h)
    if base in ("M", "Q"):
        k = mult * (3 if base == "Q" else 1)
        m = (m // k) * k
    else:
        mo = a["Month"] - 1
        k = 12 * mult
        m = ((m - mo) // k) * k + mo
    return _month_start(m) + dom + h


def check_aggregation(src: str, dst: str) -> None:
    """Refuse aggregating ``src`` data to ``dst`` unless ``dst`` is coarser and made of whole ``src`` steps.

    Raises
    ------
    ConfigError
    """
    ks, ss = _unit(src)
    kd, sd = _unit(dst)
    if ks == "fixed" and kd == "fixed":
        ok = sd >= ss and sd % ss == 0
    elif ks == "fixed":
        ok = ss <= DAY and DAY % ss == 0
    elif kd == "months":
        ok = sd >= ss and sd % ss == 0
    else:
        ok = False
    if not ok:
        finer = (kd == "fixed" and ks == "months") or (ks == kd and sd < ss)
        why = "a finer frequency than the data" if finer else "a frequency whose steps do not cover whole data steps"
        raise ConfigError(
            f"cannot aggregate {src} data to {dst}: that is {why}. Aggregation only makes steps coarser "
            "(e.g. H -> D, D -> W or M, M -> 3M or Y); weeks cannot become months (aggregate the daily data instead).")


def aggregate_block(blk: SeriesBlock, freq: str, methods: dict, align: dict | None = None) -> SeriesBlock:
    """Aggregate every field of the sorted block to ``freq`` buckets with ``methods[field]``."""
    b = bucket_start(blk.ts, freq, align)
    n = blk.n_rows
    if n == 0:
        return blk
    new = np.ones(n, bool)
    new[1:] = (np.diff(blk.codes) != 0) | (np.diff(b) != 0)
    starts = np.flatnonzero(new)
    fields = {}
    for name, v in blk.fields.items():
        how = methods.get(name, "sum")
        fields[name] = reduce_groups(v, starts, how)
    rows = None if blk.rows is None else blk.rows[starts]
    if blk.rows is None:
        rows = starts
    return SeriesBlock(blk.keys, blk.codes[starts], b[starts], fields, blk.where, rows)


def partial_last_bucket(blk: SeriesBlock, src: str, dst: str, align: dict | None = None) -> dict | None:
    """The last ``dst`` bucket of ``src`` data when the data stop inside it, else None.

    The bucket holding the block's last timestamp is partial when the next ``src``
    step still falls in it (days at a 06:00 boundary, data to 22:00: 17 of 24 hours).
    Returns ``{"bucket": start (ns), "steps": steps with data, "of": steps in a whole bucket}``.

    >>> ts = pd.date_range("2024-01-01 06:00", "2024-01-02 22:00", freq="h").values.astype("int64")
    >>> blk = SeriesBlock(pd.DataFrame({"item_id": ["a"]}), np.zeros(len(ts), np.int32), ts, {"v": np.ones(len(ts))})
    >>> p = partial_last_bucket(blk, "H", "D", {"Hour": 6})
    >>> str(pd.Timestamp(p["bucket"])), p["steps"], p["of"]
    ('2024-01-02 06:00:00', 17, 24)
    """
    if blk.n_rows == 0:
        return None
    last = int(blk.ts.max())
    b = int(bucket_start(np.array([last], np.int64), dst, align)[0])
    step = fq.to_offset(src)
    nxt = (pd.Timestamp(last) + step).value
    if int(bucket_start(np.array([nxt], np.int64), dst, align)[0]) != b:
        return None
    # the bucket's end: the first src step past the data that lands in another bucket
    cand = pd.date_range(pd.Timestamp(b), pd.Timestamp(b) + 2 * fq.to_offset(dst), freq=step)
    starts = bucket_start(cand.values.astype(np.int64), dst, align)
    inside = cand.values.astype(np.int64)[starts == b]
    return {"bucket": b, "steps": int((inside <= last).sum()), "of": int(len(inside))}


__all__ = ["SeriesBlock", "FillRule", "parse_fill", "fill_block", "bucket_start", "aggregate_block",
           "partial_last_bucket",
           "check_aggregation", "infer_frequency", "check_grid", "FILL_METHODS", "AGG_METHODS", "ESTIMATE_METHODS"]
