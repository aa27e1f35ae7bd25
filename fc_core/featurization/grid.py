"""The time grid: steps of a frequency, grid checks and frequency inference."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import OFF_GRID, DataError
from .blocks import DAY, HOUR, MINUTE, _CHUNK, SeriesBlock


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
                f"aggregate with DatasetGroup.aggregate('{freq}').", reason=OFF_GRID)
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
