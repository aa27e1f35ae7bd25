"""End of life: items that went quiet, and items the user marks as discontinued.

Two separate things, on purpose:

* :func:`quiet_items` **reports** items that look discontinued: their data stops
  before the group's end, or they end in a long run of zeros. It never changes a
  forecast: whether a quiet item is gone for good or just slow is the user's call.
* An **end-of-life date** is the user's decision. It comes from the item metadata
  field ``end_of_life_date`` or from ``AutoPredictor(..., end_of_life={"item_7":
  "2024-05-01"})`` (the argument wins). Every forecast value of the item *after*
  that timestamp (``t > end_of_life_date``) is exactly 0 at every quantile and the
  mean (:func:`apply_end_of_life`), and backtests do not score the item after it
  (:func:`after_end_of_life` masks those points out of ``observed``).

When is a run of zeros "long"?
------------------------------
A *quiet step* is one without an observed non-zero value (an observed 0, a missing
or a filled value). The trailing quiet run of an item starts after its last
observed non-zero value and lasts to the group's end. It is reported when it is at
least ``max(min_run, factor * longest_earlier_run)`` steps long, where
``longest_earlier_run`` is the item's longest quiet run between its first and its
last non-zero value. Defaults ``min_run=3``, ``factor=2``: a steady seller that
stops for three steps is reported, an intermittent item that often pauses for five
steps only after ten. Items whose data stops before the group's end are always
reported (reason ``"data stops"``), whatever the length.

>>> import numpy as np, pandas as pd
>>> from fc_core.panel import Panel
>>> y = np.r_[np.ones(10), np.zeros(4)]
>>> df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-01", periods=14, freq="D"),
...                    "target_value": y})
>>> q = quiet_items(Panel.from_frame(df, ["item_id"], "target_value", "D"))
>>> q[["item_id", "quiet_since", "reason", "run_length"]].to_dict("records")
[{'item_id': 'a', 'quiet_since': Timestamp('2024-01-11 00:00:00'), 'reason': 'trailing zeros', 'run_length': 4}]
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from . import frequency as fq
from .errors import ConfigError

EOL_FIELD = "end_of_life_date"
DATA_STOPS = "data stops"
TRAILING_ZEROS = "trailing zeros"

__all__ = ["quiet_items", "normalize_end_of_life", "end_of_life_dates", "after_end_of_life",
           "apply_end_of_life", "apply_end_of_life_frame", "backtest_mask", "mask_window", "EOL_FIELD"]


def _as_panel(data):
    if hasattr(data, "to_panel"):
        return data.to_panel()
    return data


# ------------------------------------------------------------------ quiet items
def quiet_items(data, min_run: int = 3, factor: float = 2.0) -> pd.DataFrame:
    """Items whose data stops before the group's end or that end in a long run of zeros.

    Parameters
    ----------
    data : Panel or DatasetGroup
    min_run : int
        Shortest trailing quiet run (steps) ever reported (default 3).
    factor : float
        A trailing run must also be ``factor`` times the item's longest earlier quiet run.

    Returns
    -------
    DataFrame
        One row per quiet item, most recently quiet last: the key columns,
        ``last_observed`` (last observed timestamp), ``last_nonzero`` (last observed
        non-zero timestamp; NaT if none), ``quiet_since`` (the step after it),
        ``reason`` (``"data stops"`` or ``"trailing zeros"``), ``run_length`` (steps from
        ``quiet_since`` to the group's end, both included), ``longest_earlier_run`` and
        ``threshold`` (the run length that counts as long for this item).

    Raises
    ------
    ConfigError
        For ``min_run < 1`` or ``factor < 0``.
    """
    if not isinstance(min_run, (int, np.integer)) or min_run < 1:
        raise ConfigError(f"min_run must be a whole number >= 1, got {min_run!r}.")
    if not factor >= 0:
        raise ConfigError(f"factor must be >= 0, got {factor!r}.")
    panel = _as_panel(data)
    cols = [*panel.key_columns, "last_observed", "last_nonzero", "quiet_since", "reason", "run_length",
            "longest_earlier_run", "threshold"]
    n = panel.n_series
    lens = panel.lengths.astype(np.int64)
    has = lens > 0
    if n == 0 or not has.any():
        return pd.DataFrame(columns=cols)
    sid = np.repeat(np.arange(n), lens)
    pos = np.arange(int(panel.indptr[-1])) - np.repeat(panel.indptr[:-1], lens)
    v = panel.values
    obs = panel.observed & np.isfinite(v)
    nz = obs & (v != 0)

    last_obs = np.full(n, -1, np.int64)
    np.maximum.at(last_obs, sid[obs], pos[obs])
    rows_end = getattr(data, "_last_row_steps", None)  # a DatasetGroup: zero back-fill is observed,
    if rows_end is not None:                           # but the data stopped at its last imported row
        k = rows_end()
        last_obs[:len(k)] = np.minimum(last_obs[:len(k)], k)
    last_nz = np.full(n, -1, np.int64)
    np.maximum.at(last_nz, sid[nz], pos[nz])
    first_nz = np.full(n, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first_nz, sid[nz], pos[nz])

    end = panel.end_timestamps()[has].max()
    end_pos = np.round(fq.step_index(pd.DatetimeIndex([end] * n), panel.starts, panel.frequency)).astype(np.int64)

    # longest quiet run strictly between the first and the last non-zero value of each item
    inner = ~nz & (pos > first_nz[sid]) & (pos < last_nz[sid])
    earlier = np.zeros(n, np.int64)
    if inner.any():
        idx = np.flatnonzero(inner)
        new_run = np.r_[True, (np.diff(idx) != 1) | (np.diff(sid[idx]) != 0)]
        run_id = np.cumsum(new_run) - 1
        run_len = np.bincount(run_id)
        np.maximum.at(earlier, sid[idx][new_run], run_len)

    run = end_pos - last_nz  # steps from the one after the last non-zero value to the end, both included
    stops = has & (last_obs >= 0) & (last_obs < end_pos)
    threshold = np.maximum(min_run, np.ceil(factor * earlier)).astype(np.int64)
    zeros = has & (last_obs >= 0) & ~stops & (run >= threshold)
    rows = np.flatnonzero(stops | zeros)
    off = fq.to_offset(panel.frequency)
    out = panel.keys.iloc[rows].reset_index(drop=True)
    starts = panel.starts[rows]
    out["last_observed"] = pd.DatetimeIndex([s + int(k) * off for s, k in zip(starts, last_obs[rows])])
    out["last_nonzero"] = pd.DatetimeIndex([s + int(k) * off if k >= 0 else pd.NaT for s, k in zip(starts, last_nz[rows])])
    out["quiet_since"] = pd.DatetimeIndex([s + int(k + 1) * off for s, k in zip(starts, last_nz[rows])])
    out["reason"] = np.where(stops[rows], DATA_STOPS, TRAILING_ZEROS)
    out["run_length"] = run[rows].astype(np.int64)
    out["longest_earlier_run"] = earlier[rows]
    out["threshold"] = threshold[rows]
    return out.sort_values(["quiet_since", *panel.key_columns], kind="stable").reset_index(drop=True)[cols]


# ------------------------------------------------------------------ end of life
def _parse_date(value, where: str) -> pd.Timestamp:
    if value is None or (isinstance(value, str) and not value.strip()):
        return pd.NaT
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"end-of-life date {value!r} of {where} is not a date; use ISO 8601 such as "
                          "'2024-05-01' or '2024-05-01 06:00'.") from None
    if ts is pd.NaT:
        return ts
    if ts.tz is not None:
        ts = ts.tz_convert(None)
    return ts


def normalize_end_of_life(spec) -> dict[str, str]:
    """``end_of_life`` as a JSON-able ``{item label: ISO timestamp}`` dict.

    Accepts ``None``, a dict ``{"item_7": "2024-05-01"}`` (a tuple key
    ``("item_7", "store_1")`` names one series when there are forecast dimensions;
    it is stored as ``"item_7|store_1"``), or a DataFrame with the key columns and
    an ``end_of_life_date`` column.

    >>> normalize_end_of_life({"item_7": "2024-05-01", ("a", "s1"): pd.Timestamp("2024-06-01 06:00")})
    {'item_7': '2024-05-01T00:00:00', 'a|s1': '2024-06-01T06:00:00'}

    Raises
    ------
    ConfigError
        For a value that is not a date, or an unsupported type.
    """
    if spec is None:
        return {}
    if isinstance(spec, pd.DataFrame):
        if EOL_FIELD not in spec.columns:
            raise ConfigError(f"the end-of-life frame needs an '{EOL_FIELD}' column besides the key columns; "
                              f"it has {list(spec.columns)}.")
        keys = [c for c in spec.columns if c != EOL_FIELD]
        spec = {"|".join(map(str, k)) if len(keys) > 1 else str(k[0]): d
                for k, d in zip(spec[keys].itertuples(index=False, name=None), spec[EOL_FIELD])}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"end_of_life={spec!r}: give a dict such as {{'item_7': '2024-05-01'}} or a DataFrame "
                          f"with the key columns and '{EOL_FIELD}'.")
    out = {}
    for k, d in spec.items():
        label = "|".join(map(str, k)) if isinstance(k, tuple) else str(k)
        ts = _parse_date(d, f"item {label!r}")
        if ts is not pd.NaT:
            out[label] = ts.isoformat()
    return out


def end_of_life_dates(panel, end_of_life=None, strict: bool = True) -> np.ndarray:
    """End-of-life timestamp of each series of ``panel`` (``datetime64[ns]``, NaT where none).

    Sources: the item metadata field ``end_of_life_date`` (``panel.static``), then
    ``end_of_life`` (see :func:`normalize_end_of_life`), which wins. An item label
    names every series of that item; ``"item|dim"`` names one series.

    Raises
    ------
    ConfigError
        For a metadata value that is not a date, or (``strict``) an item the data lacks.
    """
    panel = _as_panel(panel)
    n = panel.n_series
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    item_col = panel.key_columns[0]
    items = panel.keys[item_col].astype(str).to_numpy()
    if panel.static is not None and EOL_FIELD in panel.static.columns:
        for i, val in enumerate(panel.static[EOL_FIELD].to_numpy()):
            ts = _parse_date(val, f"item '{items[i]}' (item metadata field {EOL_FIELD})")
            if ts is not pd.NaT:
                out[i] = ts.to_datetime64()
    spec = normalize_end_of_life(end_of_life)
    if spec:
        full = np.array(["|".join(r) for r in panel.keys.astype(str).itertuples(index=False, name=None)], dtype=object)
        unknown = []
        for label, d in spec.items():
            hit = (full == label) | (items == label)
            if not hit.any():
                unknown.append(label)
            out[hit] = np.datetime64(pd.Timestamp(d).to_datetime64(), "ns")
        if unknown and strict:
            raise ConfigError(f"end_of_life names item(s) {unknown[:10]} that the data lacks; check the "
                              f"{item_col} values (use 'item|dimension' to name one series).")
    return out


def after_end_of_life(eol: np.ndarray, first: pd.DatetimeIndex, horizon: int, frequency: str) -> np.ndarray:
    """(n, horizon) mask: True where the step ``first[i] + k`` lies after ``eol[i]``."""
    n = len(eol)
    mask = np.zeros((n, int(horizon)), dtype=bool)
    for i in np.flatnonzero(~np.isnat(eol)):
        ts = fq.date_range(first[i], int(horizon), frequency).values
        mask[i] = ts > eol[i]
    return mask


def apply_end_of_life(arrays, panel, eol: np.ndarray):
    """ForecastArrays with every value after each series' end of life set to exactly 0."""
    if eol is None or not (~np.isnat(eol)).any():
        return arrays
    from .algorithms.base import ForecastArrays

    mask = after_end_of_life(eol, pd.DatetimeIndex(arrays.start), arrays.mean.shape[1], panel.frequency)
    if not mask.any():
        return arrays
    q = np.where(mask[:, :, None], 0.0, arrays.quantiles)
    m = np.where(mask, 0.0, arrays.mean)
    info = dict(arrays.info)
    info["end_of_life_points"] = int(mask.sum())
    return ForecastArrays(arrays.quantile_levels, q, m, arrays.start, info)


def backtest_mask(panel, eol: np.ndarray, cutoff: pd.Timestamp, horizon: int) -> np.ndarray:
    """(n, horizon) mask of the backtest points after ``cutoff`` that lie past each series' end of life
    (they are not scored)."""
    off = fq.to_offset(panel.frequency)
    first = pd.DatetimeIndex([c + off for c in panel.cutoff_index(cutoff)])
    return after_end_of_life(eol, first, horizon, panel.frequency)


def mask_window(panel, eol: np.ndarray, cutoff: pd.Timestamp, horizon: int, coverage: pd.DataFrame) -> np.ndarray:
    """The backtest points past each series' end of life, (n, horizon) for the full ``panel``;
    items left with no scored point get the reason ``"past end of life"`` in ``coverage``."""
    past = backtest_mask(panel, eol, cutoff, horizon)
    if past.any():
        _, obs = panel.actuals_after(cutoff, horizon)
        gone = past.any(axis=1) & ((obs & ~past).sum(axis=1) == 0) & (coverage["reason"].to_numpy() == "")
        coverage.loc[gone, "reason"] = "past end of life"
    return past


def apply_end_of_life_frame(frame: pd.DataFrame, key_columns, end_of_life) -> pd.DataFrame:
    """A forecast frame (keys, ``timestamp``, forecast columns) with the values after each item's
    end of life set to 0; for forecasts made by a single predictor.

    Raises
    ------
    ConfigError
        For dates that do not parse.
    """
    spec = normalize_end_of_life(end_of_life)
    out = frame.copy()
    if not spec or not len(out):
        return out
    key_columns = list(key_columns)
    value_cols = [c for c in out.columns if c not in (*key_columns, "timestamp")]
    item = out[key_columns[0]].astype(str).to_numpy()
    full = out[key_columns].astype(str).agg("|".join, axis=1).to_numpy() if len(key_columns) > 1 else item
    eol = np.full(len(out), np.datetime64("NaT"), dtype="datetime64[ns]")
    for label, d in spec.items():
        eol[(full == label) | (item == label)] = np.datetime64(pd.Timestamp(d).to_datetime64(), "ns")
    ts = pd.to_datetime(out["timestamp"]).to_numpy(dtype="datetime64[ns]")
    past = ~np.isnat(eol) & (ts > eol)
    out.loc[past, value_cols] = 0.0
    return out
