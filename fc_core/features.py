"""Calendar, holiday and future-known features shared by the models.

Everything here is a pure function of timestamps, a frequency and a country
code, returning numpy arrays or small frames, so any model (DeepAR+, Prophet,
GBM) can use the same definitions.

* :func:`calendar_features`: position in the hour, day, week, month and year,
  each scaled to [-0.5, 0.5] as ``(value - min) / (max - min) - 0.5``; only the
  features a frequency can resolve are returned (an hourly series gets hour of
  day, day of week, day of month, week of year and month; a monthly one only
  month). ``scaled=False`` gives the plain values instead (GBM's trees use them).
* :func:`holiday_indicator`, :func:`holiday_names`, :func:`list_holiday_countries`:
  public holidays from the ``holidays`` package, lunar ones included (Korean New
  Year/Seollal and Chuseok for ``KR``, Chinese New Year for ``CN``), always with
  English names (``language="en_US"``).
* :func:`holidays_country`: reads Amazon Forecast's ``{"CountryCode": "KR"}``
  (its ``holiday`` supplementary feature) or a plain ``"KR"``.
* :func:`future_related`: the related series of each item over its history and
  the forecast horizon, refusing with a clear message when they stop short.

>>> import pandas as pd
>>> ts = pd.date_range("2024-09-15", periods=4, freq="D")
>>> holiday_indicator(ts, "KR").tolist()  # Chuseok 2024: 16-18 September
[0.0, 1.0, 1.0, 1.0]
>>> calendar_feature_names("H")
['hour_of_day', 'day_of_week', 'day_of_month', 'week_of_year', 'month_of_year']
>>> calendar_features(pd.date_range("2024-01-01", periods=2, freq="D"), "D")[:, 0].tolist()  # Mon, Tue
[-0.5, -0.33333333333333337]
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import frequency as fq
from .errors import ConfigError, DataError, require

# name -> (base units that resolve it, function of a DatetimeIndex, min value, max value)
_CALENDAR = {
    "minute_of_hour": (("min",), lambda t: t.minute, 0, 59),
    "hour_of_day": (("min", "H"), lambda t: t.hour, 0, 23),
    "day_of_week": (("min", "H", "D"), lambda t: t.dayofweek, 0, 6),
    "day_of_month": (("min", "H", "D"), lambda t: t.day, 1, 31),
    "week_of_year": (("min", "H", "D", "W"), lambda t: t.isocalendar().week.to_numpy(dtype=float), 1, 53),
    "month_of_year": (("min", "H", "D", "W", "M"), lambda t: t.month, 1, 12),
    # in no frequency's default set (DeepAR+ and MLP-QR were tuned without it); GBM asks for it by name
    "quarter_of_year": ((), lambda t: t.quarter, 1, 4),
}


# shortest history that shows a feature's whole cycle
_CYCLE = {"minute_of_hour": pd.Timedelta(hours=1), "hour_of_day": pd.Timedelta(days=1),
          "day_of_week": pd.Timedelta(days=7), "day_of_month": pd.Timedelta(days=31),
          "week_of_year": pd.Timedelta(days=365), "month_of_year": pd.Timedelta(days=365),
          "quarter_of_year": pd.Timedelta(days=365)}


def calendar_feature_names(frequency: str, history: pd.Timedelta | None = None) -> list[str]:
    """Names of the calendar features :func:`calendar_features` returns for ``frequency``.

    With ``history`` (the time span of the training data), features whose cycle
    the data does not cover are left out: a model trained on six weeks of data
    has seen a single month of the year, and would have to extrapolate when the
    forecast reaches the next one.

    >>> calendar_feature_names("H", history=pd.Timedelta(days=40))
    ['hour_of_day', 'day_of_week', 'day_of_month']
    """
    _, base = fq.parse(frequency)
    names = [name for name, (bases, *_rest) in _CALENDAR.items() if base in bases]
    if history is not None:
        names = [n for n in names if pd.Timedelta(history) >= _CYCLE[n]]
    return names


def calendar_features(timestamps, frequency: str, names: Sequence[str] | None = None,
                      scaled: bool = True) -> np.ndarray:
    """Calendar features of ``timestamps`` as a (T, k) float array in [-0.5, 0.5].

    Parameters
    ----------
    timestamps : array-like of datetimes
    frequency : str
        The series' frequency; it decides which features are meaningful
        (see :func:`calendar_feature_names`).
    names : list of str, optional
        The features to compute, in this order (default: all those of ``frequency``).
    scaled : bool, default True
        False gives the plain values as floats: minute 0-59, hour 0-23, day of week
        0-6 (Monday 0), day of month 1-31, ISO week 1-53, month 1-12, quarter 1-4.
        GBM's trees split on these; its saved models need them unscaled.

    Returns
    -------
    ndarray, shape (len(timestamps), k)
        Column ``j`` is feature ``names[j]``, ``(value - min) / (max - min) - 0.5``
        (the value itself when ``scaled`` is False).

    >>> calendar_features(pd.DatetimeIndex(["2024-12-30 17:00"]), "H", ["hour_of_day", "week_of_year",
    ...                                                                  "quarter_of_year"], scaled=False).tolist()
    [[17.0, 1.0, 4.0]]

    Raises
    ------
    ConfigError
        For an unknown feature name.
    """
    ts = pd.DatetimeIndex(timestamps)
    names = calendar_feature_names(frequency) if names is None else list(names)
    unknown = [n for n in names if n not in _CALENDAR]
    if unknown:
        raise ConfigError(f"unknown calendar feature(s) {unknown}; choose from {list(_CALENDAR)}.")
    out = np.empty((len(ts), len(names)))
    for j, name in enumerate(names):
        _, fn, lo, hi = _CALENDAR[name]
        value = np.asarray(fn(ts), dtype=float)
        out[:, j] = (value - lo) / (hi - lo) - 0.5 if scaled else value
    return out


def calendar_grid(starts, spans, frequency: str, names: Sequence[str] | None = None,
                  holiday_country: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Calendar (and holiday) features on one time grid covering several series.

    Series ``i`` starts at ``starts[i]`` and spans ``spans[i]`` steps; its step ``t``
    has the features ``grid[offsets[i] + t]``. One grid is far cheaper than
    features per series when the series overlap in time.

    Returns
    -------
    grid : ndarray, shape (G, k)
    offsets : ndarray of int, shape (n,)

    >>> g, o = calendar_grid(pd.DatetimeIndex(["2024-01-01", "2024-01-03"]), [2, 2], "D", ["day_of_week"])
    >>> o.tolist(), g.shape
    ([0, 2], (4, 1))
    >>> g, o = calendar_grid(pd.DatetimeIndex(["2024-01-01", "2024-01-02 12:00"]), [2, 2], "D", ["day_of_week"])
    >>> o.tolist(), g[o[1], 0] == calendar_features(pd.DatetimeIndex(["2024-01-02"]), "D", ["day_of_week"])[0, 0]
    ([0, 2], np.True_)
    """
    starts = pd.DatetimeIndex(starts)
    spans = np.asarray(spans, dtype=np.int64)
    names = calendar_feature_names(frequency) if names is None else list(names)
    width = len(names) + bool(holiday_country)
    if not len(starts):
        return np.zeros((0, width)), np.zeros(0, dtype=np.int64)

    def features_at(ts):
        parts = [calendar_features(ts, frequency, names)]
        if holiday_country:
            parts.append(holiday_indicator(ts, holiday_country, frequency)[:, None])
        return np.concatenate(parts, axis=1)

    g0 = starts.min()
    steps = np.asarray(fq.step_index(starts, g0, frequency), dtype=float)
    offs = np.round(steps).astype(np.int64)
    if np.allclose(steps, offs):
        return features_at(fq.date_range(g0, max(int((offs + spans).max()), 1), frequency)), offs
    # some series start between the steps of the first one's grid (daily data at noon, 2H from 01:00):
    # one stretch of features per series, laid end to end
    blocks = [features_at(fq.date_range(st, max(int(n), 1), frequency)) for st, n in zip(starts, spans)]
    offs = np.concatenate([[0], np.cumsum([len(b) for b in blocks])[:-1]]).astype(np.int64)
    return np.concatenate(blocks), offs


# ------------------------------------------------------------------ holidays
def list_holiday_countries() -> list[str]:
    """ISO 3166 two-letter codes of the countries with holiday calendars.

    >>> {"US", "KR", "DE"} <= set(list_holiday_countries())
    True
    """
    holidays = require("holidays", "holiday features")

    return sorted(c for c in holidays.list_supported_countries() if len(c) == 2)


def holidays_country(spec) -> str | None:
    """The country code in a holiday setting, or None when there is none.

    Accepts ``None``, ``"KR"``, or Amazon Forecast's supplementary feature
    ``{"CountryCode": "KR"}`` (also ``{"Name": "holiday", "Value": "KR"}``).

    >>> holidays_country({"CountryCode": "kr"}), holidays_country("US"), holidays_country(None)
    ('KR', 'US', None)

    Raises
    ------
    ConfigError
        For a country the ``holidays`` package has no calendar of, or a malformed setting.
    """
    if spec is None or spec == "" or spec == {}:
        return None
    if isinstance(spec, dict):
        code = spec.get("CountryCode", spec.get("Value"))
        if code is None:
            raise ConfigError(f"holidays={spec!r}: give the country as {{'CountryCode': 'US'}}.")
    elif isinstance(spec, str):
        code = spec
    else:
        raise ConfigError(f"holidays={spec!r}: give the country as 'US' or {{'CountryCode': 'US'}}.")
    code = str(code).strip().upper()
    if code not in set(list_holiday_countries()):
        raise ConfigError(
            f"no holiday calendar for country {code!r}; use a two-letter ISO code such as US, KR, DE, JP "
            "(fc_core.features.list_holiday_countries() lists them all)."
        )
    return code


@lru_cache(maxsize=64)
def _holiday_table(country: str, years: tuple[int, ...]) -> tuple[tuple[np.datetime64, str], ...]:
    holidays = require("holidays", "holiday features")

    cal = holidays.country_holidays(country, years=list(years), language="en_US")
    return tuple(sorted((np.datetime64(d, "D"), str(name)) for d, name in cal.items()))


def holiday_names(country: str, years: Iterable[int]) -> pd.DataFrame:
    """Public holidays of ``country`` in ``years``: a frame with ``timestamp`` (midnight) and ``holiday``.

    Several holidays on one date give one row each. Names are English.

    >>> h = holiday_names("KR", [2024])
    >>> h.loc[h.holiday == "Chuseok", "timestamp"].dt.strftime("%Y-%m-%d").tolist()
    ['2024-09-17']

    Raises
    ------
    ConfigError
        For a country without a holiday calendar.
    """
    code = holidays_country(country)
    rows = []
    for d, name in _holiday_table(code, tuple(sorted({int(y) for y in years}))):
        for part in name.split("; "):  # the package joins same-day holidays with "; "
            rows.append((d, part))
    return pd.DataFrame({"timestamp": pd.to_datetime([r[0] for r in rows]).astype("datetime64[ns]"),
                         "holiday": [r[1] for r in rows]})


def holiday_indicator(timestamps, country_code: str, frequency: str | None = None) -> np.ndarray:
    """1.0 where a timestamp falls on a public holiday of ``country_code``, else 0.0.

    For sub-daily timestamps every step of a holiday date is 1.0. For weekly,
    monthly or coarser data pass ``frequency``: a step is 1.0 when any day of
    the period that starts at the timestamp is a holiday.

    Raises
    ------
    ConfigError
        For a country without a holiday calendar.
    """
    ts = pd.DatetimeIndex(timestamps)
    if len(ts) == 0:
        return np.zeros(0)
    code = holidays_country(country_code)
    days = ts.values.astype("datetime64[D]")
    coarse = frequency is not None and fq.parse(frequency)[1] in ("W", "M", "Q", "Y")
    last = ts.max() + fq.to_offset(frequency) if coarse else ts.max()
    years = tuple(range(int(ts.min().year), int(last.year) + 1))
    hol = np.array(sorted({d for d, _ in _holiday_table(code, years)}), dtype="datetime64[D]")
    if not coarse:
        return np.isin(days, hol).astype(float)
    ends = (ts + fq.to_offset(frequency)).values.astype("datetime64[D]")
    # any holiday in [start, end): count of holidays before end minus before start
    n = np.searchsorted(hol, ends, side="left") - np.searchsorted(hol, days, side="left")
    return (n > 0).astype(float)


# --------------------------------------------------------- future-known data
def future_related(panel, horizon: int, names: Sequence[str] | None = None,
                   algorithm: str = "this algorithm") -> list[np.ndarray]:
    """Related series of every item over its history plus ``horizon`` future steps.

    Parameters
    ----------
    panel : Panel
    horizon : int
    names : list of str, optional
        Related columns to return, in this order (default: all of them).
    algorithm : str
        Named in error messages.

    Returns
    -------
    list of ndarray
        Item ``i`` gets an array of shape (length_i + horizon, F).

    Raises
    ------
    DataError
        When the related data lacks a requested column, or stops before the end
        of the horizon (or holds missing values in it) for some items; the
        message names the items and the dates needed.
    """
    names = list(panel.related_names if names is None else names)
    if panel.related is None or not names:
        if names:
            raise DataError(f"{algorithm} was trained with related time series {names}, but the data has none; "
                            "pass the related time series (with values for the forecast horizon).")
        return [np.zeros((int(n) + horizon, 0)) for n in panel.lengths]
    missing = [c for c in names if c not in panel.related_names]
    if missing:
        raise DataError(f"{algorithm} needs related column(s) {missing}, which the related time series lacks "
                        f"(it has {list(panel.related_names)}).")
    cols = [list(panel.related_names).index(c) for c in names]
    off = fq.to_offset(panel.frequency)
    out, bad = [], []
    for i in range(panel.n_series):
        n = int(panel.lengths[i])
        r = panel.related_series(i)[:n + horizon][:, cols]
        fut = r[n:]
        if len(fut) < horizon or np.isnan(fut).any():
            nan_rows = np.flatnonzero(np.isnan(fut).any(axis=1))
            ok = int(nan_rows[0]) if len(nan_rows) else len(fut)
            first_missing = panel.starts[i] + (n + ok) * off
            last_needed = panel.starts[i] + (n + horizon - 1) * off
            bad.append(f"{tuple(panel.keys.iloc[i])} (missing from {first_missing}, needed through {last_needed})")
        out.append(r)
    if bad:
        raise DataError(
            f"{algorithm}: the related time series must cover the forecast horizon ({horizon} steps) for every "
            f"item; {len(bad)} item(s) fall short: {'; '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}. "
            "Add future values of the related columns (e.g. planned prices) up to the last forecast date."
        )
    return out
