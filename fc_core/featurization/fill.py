"""Missing-value rules (Amazon Forecast's featurization) and filling a block onto its grid."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .blocks import _CHUNK, SeriesBlock, reduce_groups
from .grid import _unit, floor_steps, grid_time

FILL_METHODS = ("zero", "nan", "value", "mean", "median", "min", "max")
ESTIMATE_METHODS = ("nan", "mean", "median", "min", "max")  # fills that guess a value: never scored
FILL_REGION_CODES = {0: "", 1: "middlefill", 2: "backfill"}  # FillResult.region
TARGET_REGIONS = ("frontfill", "middlefill", "backfill")
RELATED_REGIONS = ("frontfill", "middlefill", "backfill", "futurefill")
TARGET_DEFAULT_FILL = {"frontfill": "none", "middlefill": "zero", "backfill": "zero"}


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
