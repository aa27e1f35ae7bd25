"""Checks and helpers of DatasetGroup: read options, frequency anchors, leakage, key lookups."""

from __future__ import annotations


import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import BOUNDARIES_DIFFER, YEAR_START, ConfigError, DataError
from ..featurization import AGG_METHODS, SeriesBlock, concat_blocks, floor_steps, resolve_duplicates, sort_block
from .reading import _READ_KEYS


def _read_options(read_options, header, timezone) -> dict:
    ro = dict(read_options or {})
    bad = sorted(set(ro) - {"target", "related", "item_metadata"})
    if bad:
        raise ConfigError(f"read_options: unknown dataset(s) {bad}; use 'target', 'related', 'item_metadata'.")
    out = {}
    for k in ("target", "related", "item_metadata"):
        o = dict(ro.get(k) or {})
        unknown = sorted(set(o) - set(_READ_KEYS))
        if unknown:
            raise ConfigError(f"read_options['{k}']: unknown option(s) {unknown}; use {', '.join(_READ_KEYS)}.")
        o.setdefault("header", header)
        o.setdefault("timezone", timezone)
        out[k] = o
    return out


def _data_anchor(freq: str, blk: SeriesBlock) -> str:
    """``W`` -> ``W-SUN`` when the weeks start on Sunday (likewise ``M-15``, ``Y-APR``), so that
    forecast timestamps continue the data's own boundaries.

    Raises
    ------
    DataError
        When items disagree on the boundary, or it contradicts an anchor given in ``freq``.
    """
    _, base = fq.parse(freq)
    if base not in ("W", "M", "Y") or not blk.n_rows:
        return freq
    first = pd.DatetimeIndex(blk.first_ts().view("M8[ns]"))
    if base == "W":
        part, what = first.weekday, "weekday"
    elif base == "M":
        part, what = first.day, "day of the month"
    else:
        part, what = first.month * 100 + first.day, "day of the year"
    part = np.asarray(part)
    other = np.flatnonzero(part != part[0])
    if len(other):
        k = int(other[0])
        raise DataError(
            f"the {freq} series start on different boundaries: item {blk.key_label(0)} starts on "
            f"{first[0].date()} but item {blk.key_label(k)} on {first[k].date()} (another {what}); put all items "
            "on the same boundary, or aggregate finer data with DatasetGroup.aggregate(..., align=...).",
            reason=BOUNDARIES_DIFFER)
    if base == "Y" and first[0].day != 1:
        raise DataError(f"yearly data must start on the 1st of a month, but item {blk.key_label(0)} starts on "
                        f"{first[0].date()}; aggregate finer data with aggregate('Y', align={{'Month': ...}}).",
                        reason=YEAR_START)
    try:
        got = fq.anchored(freq, first[0])
    except ConfigError as exc:
        raise DataError(f"item {blk.key_label(0)} starts on {first[0].date()}: {exc}") from None
    if fq.anchor(freq) is not None and got != freq:
        raise DataError(f"frequency {freq} was declared but the data's periods start on {first[0].date()} "
                        f"(that is {got}); declare frequency='{got}' or fix the timestamps.")
    return got


def _refuse_leakage(tblock: SeriesBlock, rblock: SeriesBlock, target_field: str, max_keys: int = 2000) -> None:
    """Refuse a related field that is the target, or whose values equal the target's wherever both
    have one (e.g. the target file given again as the related series): a model reading it would
    score well in the backtests and have no such values when it forecasts.

    The values are compared on the first ``max_keys`` target items (a copy of the target equals it
    on any of them); at least 10 shared points with 2 different values are needed to call it a copy
    (fewer prove nothing: a short price list may match a short sales history).

    Raises
    ------
    DataError
        Naming the field and the fix.
    """
    fix = ("remove that column from the related time series (e.g. read_options={'related': {'columns': [...the "
           "other fields...]}}), or give a related file that holds only values known in advance (prices, "
           "promotions, weather, ...)")
    if target_field in rblock.fields:
        raise DataError(f"the related time series has a field '{target_field}', the target itself: a model "
                        f"given it would read the answer (leakage) and look accurate in the backtests; {fix}.")
    numeric = [f for f, v in rblock.fields.items() if v.dtype != object]
    if not numeric or not tblock.n_rows or not rblock.n_rows:
        return
    tk = min(tblock.n_keys, max_keys)
    t_end = int(tblock.indptr[tk])
    t = pd.DataFrame({"k": tblock.codes[:t_end], "ts": tblock.ts[:t_end], "y": tblock.fields[target_field][:t_end]})
    rmap = _key_index(tblock.keys, rblock.keys)  # related key -> target key (-1: not a target item)
    rcode = rmap[rblock.codes]
    keep = (rcode >= 0) & (rcode < tk)
    r = pd.DataFrame({"k": rcode[keep], "ts": rblock.ts[keep], **{f: rblock.fields[f][keep] for f in numeric}})
    both = t.merge(r, on=["k", "ts"], how="inner")
    y = both["y"].to_numpy(dtype=float)
    for f in numeric:
        x = both[f].to_numpy(dtype=float)
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.sum() >= 10 and len(np.unique(y[ok])) >= 2 and np.array_equal(x[ok], y[ok]):
            items = ", ".join(tblock.key_label(int(k)) for k in pd.unique(both.loc[ok, "k"])[:3])
            raise DataError(f"related time series field '{f}' equals the target '{target_field}' on all "
                            f"{int(ok.sum())} item-timestamps where both have a value (items {items} ...): it is a "
                            f"copy of the target, so a model given it would read the answer (leakage) and look "
                            f"accurate in the backtests; {fix}.")


def _uses_step(blk: SeriesBlock, freq: str) -> bool:
    """Whether any two consecutive timestamps of an item are exactly one ``freq`` step apart."""
    nxt = floor_steps(blk.ts[1:], blk.ts[:-1], freq)
    return bool(((np.diff(blk.codes) == 0) & (nxt[0] == 1) & nxt[1]).any())


def _agg_method(m: str) -> str:
    m = str(m).lower()
    m = "avg" if m in ("mean", "average") else m
    if m not in AGG_METHODS:
        raise ConfigError(f"aggregation method {m!r}: use one of sum, avg, first, min, max.")
    return m


def _key_index(keys: pd.DataFrame, query: pd.DataFrame) -> np.ndarray:
    """Position of every row of ``query`` in ``keys`` (-1 where absent)."""
    cols = list(keys.columns)
    if not len(query):
        return np.zeros(0, np.int64)
    if len(cols) == 1:
        return pd.Index(keys[cols[0]].astype(str)).get_indexer(query[cols[0]].astype(str)).astype(np.int64)
    return pd.MultiIndex.from_frame(keys[cols].astype(str)).get_indexer(
        pd.MultiIndex.from_frame(query[cols].astype(str))).astype(np.int64)


def _merge_newer(old: SeriesBlock, new: SeriesBlock) -> SeriesBlock:
    both = sort_block(concat_blocks(old, new))
    dup_old = pd.Series(old.duplicates if old.duplicates is not None else 0, index=_key_tuples(old.keys))
    dup_new = pd.Series(new.duplicates if new.duplicates is not None else 0, index=_key_tuples(new.keys))
    merged = resolve_duplicates(both, "last")
    total = dup_old.add(dup_new, fill_value=0)
    merged.duplicates = total.reindex(_key_tuples(merged.keys), fill_value=0).to_numpy(dtype=np.int64)
    return merged


def _key_tuples(keys: pd.DataFrame) -> pd.Index:
    return pd.Index(list(keys.itertuples(index=False, name=None)))
