"""Aggregation to a coarser frequency: bucket starts, time alignment and the partial last bucket."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import ConfigError
from .blocks import DAY, HOUR, MINUTE, SeriesBlock, reduce_groups
from .grid import _month_start, _months, _unit

AGG_METHODS = ("sum", "avg", "first", "last", "min", "max")
_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_MONTHS = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER",
           "NOVEMBER", "DECEMBER")


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
