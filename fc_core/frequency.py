"""Forecast frequencies: Amazon Forecast's names and pandas' changing aliases, in one place.

Amazon Forecast names frequencies ``1min``, ``5min``, ``10min``, ``15min``,
``30min``, ``H``, ``D``, ``W``, ``M`` and ``Y``, with multiples such as ``2H`` or
``3M``. pandas renamed several aliases over the years (``H`` -> ``h``, ``M`` ->
``ME``, ``T`` -> ``min``); everything in fc_core goes through
:func:`to_offset`, so only this module knows about it.

Weeks start on Monday, months on the 1st and years on 1 January (Amazon
Forecast's boundaries), so ``W`` maps to ``W-MON``, ``M`` to ``MS`` and ``Y`` to
``YS``. Data on other boundaries (Amazon's ``TimeAlignmentBoundary``) carries an
anchor in its name: ``W-SUN`` (weeks starting on Sunday), ``Y-APR`` (years
starting on 1 April) and ``M-15`` (months starting on the 15th); :func:`parse`
ignores the anchor, :func:`to_offset` and :func:`date_range` honour it.

>>> to_pandas_freq("H"), to_pandas_freq("3M"), to_pandas_freq("W"), to_pandas_freq("15min")
('h', '3MS', 'W-MON', '15min')
>>> season_length("H"), season_length("D"), season_length("M")
(24, 7, 12)
>>> normalize("1h"), normalize("MS"), normalize("min")
('H', 'M', '1min')
>>> normalize("w-sun"), normalize("W-MON"), to_pandas_freq("Y-APR"), str(date_range("2024-01-15", 2, "M-15")[1].date())
('W-SUN', 'W', 'YS-APR', '2024-02-15')
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from .errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

# Amazon Forecast's base units -> pandas offset alias (pandas >= 2.2 spelling).
_BASE = {
    "min": "min",
    "H": "h",
    "D": "D",
    "W": "W-MON",
    "M": "MS",
    "Q": "QS",
    "Y": "YS",
}
# Every spelling a user or pandas may give -> Amazon Forecast's base unit.
_ALIASES = {
    "min": "min", "t": "min", "minute": "min", "minutes": "min",
    "h": "H", "hour": "H", "hourly": "H",
    "d": "D", "day": "D", "daily": "D", "b": "D",
    "w": "W", "week": "W", "weekly": "W",
    "w-mon": "W", "w-sun": "W", "w-sat": "W", "w-tue": "W", "w-wed": "W", "w-thu": "W", "w-fri": "W",
    "m": "M", "ms": "M", "me": "M", "month": "M", "monthly": "M",
    "q": "Q", "qs": "Q", "qe": "Q", "qs-jan": "Q", "qe-dec": "Q", "quarter": "Q",
    "y": "Y", "ys": "Y", "ye": "Y", "a": "Y", "as": "Y", "ye-dec": "Y", "ys-jan": "Y",
    "year": "Y", "yearly": "Y", "a-dec": "Y", "as-jan": "Y",
}
_PATTERN = re.compile(r"^\s*(\d*)\s*([A-Za-z\-]+)\s*$")
_MINUTE_STEPS = (1, 5, 10, 15, 30)

# Length of the main season and of the longer ones, per base unit.
_SEASONS = {"min": 60, "H": 24, "D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1}


_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ANCHOR = re.compile(r"^\s*(\d*)\s*(W|Y|YS|M)-([A-Za-z]{3}|\d{1,2})\s*$", re.IGNORECASE)


def split_anchor(freq) -> tuple[str, str | None]:
    """``("2W", "SUN")`` for ``"2W-SUN"``; the anchor is None on Amazon Forecast's default boundaries.

    >>> split_anchor("W-SUN"), split_anchor("W-MON"), split_anchor("M-15"), split_anchor("YS-APR"), split_anchor("H")
    (('W', 'SUN'), ('W', None), ('M', '15'), ('Y', 'APR'), ('H', None))
    """
    if not isinstance(freq, str):
        return freq, None
    m = _ANCHOR.match(freq)
    if not m:
        return freq, None
    mult, unit, anc = m.group(1), m.group(2).upper(), m.group(3).upper()
    core = f"{mult}{'Y' if unit == 'YS' else unit}"
    if unit == "W" and anc in _WEEKDAYS:
        return core, None if anc == "MON" else anc
    if unit in ("Y", "YS") and anc in _MONTHS:
        return core, None if anc == "JAN" else anc
    if unit == "M" and anc.isdigit() and 1 <= int(anc) <= 28:
        return core, None if int(anc) == 1 else str(int(anc))
    if unit == "M" and anc.isdigit():
        raise ConfigError(f"frequency {freq!r}: a monthly anchor is a day 1-28 (every month has it).")
    return freq, None


def anchor(freq: str) -> str | None:
    """The anchor of ``freq`` (``"SUN"`` for ``"W-SUN"``), None on the default boundaries."""
    return split_anchor(freq)[1]


def anchored(freq: str, first: "pd.Timestamp") -> str:
    """``freq`` with the anchor that timestamp ``first`` (a period start) implies.

    >>> anchored("W", pd.Timestamp("2024-01-07")), anchored("M", pd.Timestamp("2024-01-15")), anchored("D", pd.Timestamp("2024-01-07"))
    ('W-SUN', 'M-15', 'D')
    """
    core = normalize(split_anchor(freq)[0])
    mult, base = parse(core)
    first = pd.Timestamp(first)
    if base == "W":
        a = _WEEKDAYS[first.weekday()]
        return core if a == "MON" else f"{core}-{a}"
    if base == "M" and first.day != 1:
        if first.day > 28:
            raise ConfigError(f"monthly data on day {first.day} of the month has no common day in every month; "
                              "use days 1-28 or aggregate daily data to months.")
        return f"{core}-{first.day}"
    if base == "Y" and first.month != 1:
        return f"{core}-{_MONTHS[first.month - 1]}"
    return core


def matches(configured: str, data: str) -> bool:
    """Whether data of frequency ``data`` fits a model configured for ``configured``: the same
    frequency, or the same step where ``configured`` names no anchor (``"W"`` takes weeks starting
    on any weekday, e.g. ``"W-SUN"``; ``"M"`` any day of the month). An explicit anchor must match,
    but Amazon Forecast's default ones (``W-MON``, ``M-1``, ``Y-JAN``) normalise to the bare unit,
    so models configured with them accept any anchor too.

    >>> matches("W", "W-SUN"), matches("W-MON", "W-SUN"), matches("H", "H"), matches("D", "W-SUN")
    (True, False, True, False)
    """
    if normalize(configured) == normalize(data):
        return True
    explicit = isinstance(configured, str) and "-" in configured
    return not explicit and normalize(split_anchor(configured)[0]) == normalize(split_anchor(data)[0])


def parse(freq: str) -> tuple[int, str]:
    """Split a frequency into ``(multiple, base unit)`` with Amazon Forecast's unit names (anchor ignored).

    Raises
    ------
    ConfigError
        If the frequency is not one fc_core knows.
    """
    if not isinstance(freq, str):
        try:
            freq = pd.tseries.frequencies.to_offset(freq).freqstr
        except Exception:  # noqa: BLE001 - any failure means "not a frequency"
            raise ConfigError(f"frequency {freq!r} is not a frequency string such as 'H', 'D', 'W' or 'M'.")
    freq = split_anchor(freq)[0]
    m = _PATTERN.match(freq)
    if not m:
        raise ConfigError(
            f"unknown frequency {freq!r}: use one of 1min, 5min, 10min, 15min, 30min, H, D, W, M, Y "
            "or a multiple such as 2H or 3M."
        )
    mult = int(m.group(1)) if m.group(1) else 1
    base = _ALIASES.get(m.group(2).lower())
    if base is None:
        raise ConfigError(
            f"unknown frequency {freq!r}: use one of 1min, 5min, 10min, 15min, 30min, H, D, W, M, Y "
            "or a multiple such as 2H or 3M."
        )
    if mult < 1:
        raise ConfigError(f"frequency {freq!r} must have a positive multiple.")
    return mult, base


def normalize(freq: str) -> str:
    """Amazon Forecast's spelling of ``freq`` (``'1h'`` -> ``'H'``, ``'MS'`` -> ``'M'``)."""
    mult, base = parse(freq)
    if base == "min":
        return f"{mult}min"
    out = base if mult == 1 else f"{mult}{base}"
    anc = anchor(freq)
    return out if anc is None else f"{out}-{anc}"


def to_pandas_freq(freq: str) -> str:
    """The pandas offset alias for ``freq``, on Amazon Forecast's boundaries."""
    mult, base = parse(freq)
    alias = _BASE[base]
    anc = anchor(freq)
    if anc is not None and base == "W":
        alias = f"W-{anc}"
    elif anc is not None and base == "Y":
        alias = f"YS-{anc}"
    # "M-15" has no pandas alias; engines get "MS" (to_offset / date_range keep the 15th)
    return alias if mult == 1 else f"{mult}{alias}"


def to_offset(freq: str) -> pd.DateOffset:
    """A pandas ``DateOffset`` for ``freq`` (``M-15``: calendar months from the 15th)."""
    mult, base = parse(freq)
    if base == "M" and anchor(freq) is not None:
        return pd.DateOffset(months=mult)
    return pd.tseries.frequencies.to_offset(to_pandas_freq(freq))


def to_period_freq(freq: str) -> str:
    """The pandas *Period* frequency string for ``freq`` (what GluonTS wants).

    >>> to_period_freq("H"), to_period_freq("W-SUN"), to_period_freq("2D")
    ('h', 'W-SUN', '2D')
    """
    mult, base = parse(freq)
    try:
        return pd.Period(pd.Timestamp("2000-01-03"), freq=to_offset(freq)).freqstr
    except (ValueError, TypeError):  # month/quarter/year *begin* offsets have no Period twin
        return base if mult == 1 else f"{mult}{base}"


def season_length(freq: str) -> int:
    """The main seasonal period in steps of ``freq`` (24 for hourly, 7 for daily, 12 for monthly).

    For multiples the period shrinks accordingly (``2H`` -> 12) and falls back to 1
    when it is not a whole number of steps.
    """
    mult, base = parse(freq)
    s = _SEASONS[base]
    if base == "min":
        # a day of minutes would be too long for most engines: use the hour
        s = 60
    if mult > 1:
        s = s // mult if s % mult == 0 else 1
    return max(int(s), 1)


def seasonalities(freq: str) -> list[int]:
    """All seasonal periods worth modelling for ``freq``, shortest first.

    >>> seasonalities("H")
    [24, 168]
    >>> seasonalities("D")
    [7, 365]
    """
    mult, base = parse(freq)
    per_base = {
        "min": [60, 1440],
        "H": [24, 168],
        "D": [7, 365],
        "W": [52],
        "M": [12],
        "Q": [4],
        "Y": [],
    }[base]
    out = [p // mult for p in per_base if p % mult == 0 and p // mult > 1]
    return out


def is_coarser_or_equal(coarse: str, fine: str) -> bool:
    """Whether ``coarse`` is at least as long a step as ``fine`` (for aggregation)."""
    anchor = pd.Timestamp("2000-01-03")  # a Monday, 1st-of-month independent enough
    return anchor + to_offset(coarse) >= anchor + to_offset(fine)


def date_range(start, periods: int, freq: str) -> pd.DatetimeIndex:
    """``periods`` timestamps from ``start`` at ``freq``."""
    return pd.date_range(start=start, periods=periods, freq=to_offset(freq))


def validate_minutes(freq: str) -> None:
    """Refuse minute frequencies Amazon Forecast does not offer (e.g. 7min)."""
    mult, base = parse(freq)
    if base == "min" and mult not in _MINUTE_STEPS:
        raise ConfigError(f"frequency {freq!r}: minute frequencies are 1min, 5min, 10min, 15min or 30min.")


def step_index(timestamps, origin, freq: str) -> np.ndarray:
    """Whole steps of ``freq`` from ``origin`` to each timestamp (vectorised).

    Fixed-length units (minutes to weeks) use integer division of the time
    difference; months, quarters and years count calendar units. Timestamps off
    the grid give fractional positions, which :func:`on_grid` reports.

    >>> import pandas as pd
    >>> step_index(pd.to_datetime(["2020-01-01", "2020-03-01"]), pd.Timestamp("2019-12-01"), "M").tolist()
    [1.0, 3.0]
    """
    import numpy as np

    mult, base = parse(freq)
    ts = pd.DatetimeIndex(timestamps)
    origin = pd.DatetimeIndex(np.broadcast_to(np.asarray(origin, dtype="datetime64[ns]"), ts.shape))
    if base in ("M", "Q", "Y"):
        months = {"M": 1, "Q": 3, "Y": 12}[base] * mult
        a = ts.year.values * 12 + ts.month.values - 1
        b = origin.year.values * 12 + origin.month.values - 1
        out = (a - b) / months
        # off the grid: another position inside the month than the origin's
        # (the 1st at midnight on Amazon Forecast's boundaries, the 15th for M-15)
        ms = ts.values.astype("datetime64[M]").astype("datetime64[ns]")
        mo = origin.values.astype("datetime64[M]").astype("datetime64[ns]")
        off = (ts.values - ms) != (origin.values - mo)
        return np.where(np.asarray(off), out + 0.5 / months, out).astype(float)
    unit = {"min": pd.Timedelta(minutes=1), "H": pd.Timedelta(hours=1), "D": pd.Timedelta(days=1),
            "W": pd.Timedelta(days=7)}[base] * mult
    return ((ts.values - origin.values) / unit.to_timedelta64()).astype(float)
