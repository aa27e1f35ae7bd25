"""Parsing timestamps and numbers, with the first bad value's file, line, column and item in the error."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .provenance import Provenance


TIMESTAMP_HELP = ("use yyyy-MM-dd, yyyy-MM-dd HH:mm:ss or ISO 8601 such as 2020-01-31T13:00:00 "
                  "(or pass timestamp_format='%d/%m/%Y %H:%M' for another layout)")
_ZONE_RE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_GEO_RE = r"^(?:-?\d{1,2}(?:\.\d+)?_-?\d{1,3}(?:\.\d+)?|[A-Z]{2}_[0-9A-Za-z][0-9A-Za-z \-]*)$"


def parse_numbers(s: pd.Series, col: str, where: Provenance, items, typ: str = "float") -> np.ndarray:
    """float64 values of ``s``; empty cells become NaN.

    Raises
    ------
    DataError
        Naming the first value that is not a number (file, line, column, item).
    """
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        text = s.astype("string").str.strip()
        num = pd.to_numeric(text.replace("", pd.NA), errors="coerce")
        badmask = (num.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
        if badmask.any():
            bad = int(np.flatnonzero(badmask)[0])
            raise DataError(
                f"{where.locate(bad)}: column '{col}' value {s.iloc[bad]!r}{_item_note(items, bad, col)} is not a "
                f"number ({int(badmask.sum())} such row(s)); the {typ} field needs numbers like 12 or 3.5 "
                "(leave the cell empty for a missing value).")
        v = num.to_numpy(dtype=float, na_value=np.nan)
    if typ == "integer":
        frac = np.flatnonzero(np.isfinite(v) & (np.mod(v, 1) != 0))
        if len(frac):
            raise DataError(f"{where.locate(frac[0])}: column '{col}' (type integer) has value {v[frac[0]]}"
                            f"{_item_note(items, int(frac[0]), col)}; make it a whole number or declare it float.")
    return v


def _item_note(items, i: int, col: str) -> str:
    if items is None or col == getattr(items, "name", None):
        return ""
    try:
        return f" (item '{items.iloc[i]}')"
    except Exception:  # noqa: BLE001 - only decorates a message
        return ""


def parse_timestamps(s: pd.Series, col: str, where: Provenance, items=None, timezone: str | None = None,
                     fmt: str | None = None, flags: dict | None = None) -> np.ndarray:
    """Naive int64 nanoseconds of the timestamps in ``s`` (see the module docstring for time zones).

    Raises
    ------
    DataError
        Empty or unparseable timestamps, or a column that mixes values with and without a time zone.
    """
    flags = {} if flags is None else flags
    flags["zoned"] = False
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        flags["zoned"] = True
        out = s.dt.tz_convert(timezone) if timezone else s.dt.tz_convert("UTC")
        return out.dt.tz_localize(None).astype("datetime64[ns]").to_numpy().view(np.int64)
    isna = s.isna().to_numpy()
    if isna.any():
        bad = int(np.flatnonzero(isna)[0])
        raise DataError(f"{where.locate(bad)}: column '{col}' is empty{_item_note(items, bad, col)}; every row "
                        "needs a timestamp; fill it in or remove the row.")
    if pd.api.types.is_datetime64_dtype(s):
        return s.astype("datetime64[ns]").to_numpy().view(np.int64)
    if s.dtype == object and len(s) and not isinstance(s.iloc[0], str):
        kinds = s.map(lambda v: "aware" if getattr(v, "tzinfo", None) is not None else
                      ("naive" if hasattr(v, "year") else "text"))
        if (kinds != "text").all():
            aware = (kinds == "aware").to_numpy()
            if aware.any() and not aware.all():
                _raise_mixed(aware, s, col, where, items)
            if aware.all():
                return parse_timestamps(pd.Series(pd.to_datetime(s, utc=True)), col, where, items, timezone,
                                        flags=flags)
            return pd.to_datetime(s).astype("datetime64[ns]").to_numpy().view(np.int64)
        s = s.astype(str)
    text = s.astype("string").str.strip()
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        zoned = np.zeros(len(text), bool)
    else:
        zoned = text.str.contains(_ZONE_RE, regex=True).fillna(False).to_numpy(bool) & \
            text.str.match(r"^\d{4}-\d{2}-\d{2}[T ]").fillna(False).to_numpy(bool)
        if zoned.any() and not zoned.all():
            _raise_mixed(zoned, s, col, where, items)
        ok_shape = text.str.match(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?"
                                  + r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$").fillna(False).to_numpy(bool)
        parsed = pd.to_datetime(text.where(ok_shape, None), format="ISO8601", errors="coerce",
                                utc=bool(zoned.all()))
    badmask = parsed.isna().to_numpy()
    if badmask.any():
        bad = int(np.flatnonzero(badmask)[0])
        raise DataError(
            f"{where.locate(bad)}: column '{col}' value {s.iloc[bad]!r}{_item_note(items, bad, col)} is not a "
            f"timestamp ({int(badmask.sum())} such row(s)); {TIMESTAMP_HELP}.")
    if zoned.any():
        flags["zoned"] = True
        parsed = parsed.dt.tz_convert(timezone) if timezone else parsed.dt.tz_convert("UTC")
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]").to_numpy().view(np.int64)


def _raise_mixed(zoned: np.ndarray, s: pd.Series, col: str, where: Provenance, items):
    a = int(np.flatnonzero(zoned)[0])
    b = int(np.flatnonzero(~zoned)[0])
    raise DataError(
        f"column '{col}' mixes time zones: {where.locate(a)} has {str(s.iloc[a])!r}{_item_note(items, a, col)} "
        f"with a time zone but {where.locate(b)} has {str(s.iloc[b])!r}{_item_note(items, b, col)} without one "
        f"({int(zoned.sum())} with, {int((~zoned).sum())} without); write every timestamp the same way, either all "
        "in local time without offset (and pass timezone=...) or all with an offset.")
