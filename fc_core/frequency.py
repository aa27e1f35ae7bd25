"""Forecast frequencies: Amazon Forecast's names and pandas' changing aliases, in one place.

Amazon Forecast names frequencies ``min``, ``H``, ``D``, ``W``, ``M`` and ``Y``,
with the multiples 1-59 min, 1-23 H, 1-6 D, 1-4 W and 1-11 M (``15min``, ``2H``,
``3M``); :func:`cycles` gives each one's seasons (2D data repeat every two weeks). pandas renamed several aliases over the years (``H`` -> ``h``, ``M`` ->
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

import math
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

# The calendar cycles of each base unit, in that unit, the main one first.
_CYCLES = {
    "min": (("hour", 60), ("day", 1440), ("week", 10080)),
    "H": (("day", 24), ("week", 168)),
    "D": (("week", 7), ("year", 365.25)),
    "W": (("year", 365.25 / 7),),
    "M": (("year", 12),),
    "Q": (("year", 4),),
    "Y": (),
}
# Longest season in steps: a day of 1min data. Longer ones (the week of 1min or 5min
# data) exceed what the engines fit and what most histories hold twice.
MAX_SEASON_STEPS = 1440
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


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


def cycles(freq: str) -> list[tuple[str, int]]:
    """The calendar cycles of ``freq`` as ``(name, length in steps)``, shortest first.

    Each base unit has its natural cycles: the hour, day and week for minutes; the
    day and week for hours; the week and year for days; the year for weeks, months
    and quarters. A cycle that is a whole number of base units (a week is 7 days)
    is counted in the fewest steps that hold a whole number of cycles, so 2D data
    repeat its weekdays every 7 steps (two weeks) and 5H data its hours of the day
    every 24 steps (five days). The year, 365.25 days, is rounded to whole steps
    (2D: 183, W: 52). Cycles of one step, and cycles longer than
    ``MAX_SEASON_STEPS`` (the week of 1min data), are left out; a cycle that
    repeats in as many steps as a shorter one appears once.

    >>> cycles("2D"), cycles("8H")
    ([('two weeks', 7), ('year', 183)], [('day', 3), ('week', 21)])
    >>> [m for _, m in cycles("15min")], cycles("2W"), cycles("Q"), cycles("Y")
    ([4, 96, 672], [('year', 26)], [('year', 4)], [])
    """
    mult, base = parse(freq)
    out: list[tuple[str, int]] = []
    for name, length in _CYCLES[base]:
        if float(length).is_integer():
            whole = math.lcm(int(length), mult)
            steps, k = whole // mult, whole // int(length)
        else:  # the year in days or weeks: never whole, rounded
            steps, k = int(round(length / mult)), 1
        if steps < 2 or steps > MAX_SEASON_STEPS or any(steps == m for _, m in out):
            continue
        same = [n for n, c in _CYCLES[base] if k > 1 and c == k * length]  # 7min: seven days are a week
        out.append((same[0] if same else name if k == 1 else f"{_NUMBERS.get(k, k)} {name}s", int(steps)))
    return sorted(out, key=lambda c: c[1])


def seasonalities(freq: str) -> list[int]:
    """All seasonal periods worth modelling for ``freq`` in steps, shortest first (see :func:`cycles`).

    >>> seasonalities("H"), seasonalities("D"), seasonalities("2D"), seasonalities("8H"), seasonalities("M")
    ([24, 168], [7, 365], [7, 183], [3, 21], [12])
    """
    return [m for _, m in cycles(freq)]


def season_length(freq: str) -> int:
    """The main seasonal period in steps of ``freq``, for models that take one season.

    The main cycle is the base unit's first one (the hour for minutes, the day for
    hours, the week for days, the year for weeks, months and quarters) in the
    steps of :func:`cycles`: 24 for H, 3 for 8H, 7 for D and for 2D (two weeks), 52
    for W, 26 for 2W, 12 for M. Where that cycle is left out (a single step), the
    next one is used; 1 (no season) where there is none, as for Y.

    >>> season_length("H"), season_length("8H"), season_length("2D"), season_length("15min"), season_length("Y")
    (24, 3, 7, 4, 1)
    """
    mult, base = parse(freq)
    found = dict(cycles(freq))
    for name, length in _CYCLES[base]:
        if float(length).is_integer():
            whole = math.lcm(int(length), mult)
            steps = whole // mult
        else:
            steps = int(round(length / mult))
        if steps in found.values():
            return int(steps)
    return 1


def is_coarser_or_equal(coarse: str, fine: str) -> bool:
    """Whether ``coarse`` is at least as long a step as ``fine`` (for aggregation)."""
    anchor = pd.Timestamp("2000-01-03")  # a Monday, 1st-of-month independent enough
    return anchor + to_offset(coarse) >= anchor + to_offset(fine)


def date_range(start, periods: int, freq: str) -> pd.DatetimeIndex:
    """``periods`` timestamps from ``start`` at ``freq``."""
    return pd.date_range(start=start, periods=periods, freq=to_offset(freq))


def validate_minutes(freq: str) -> None:
    """Refuse multiples Amazon Forecast does not offer: 1-59 min, 1-23 H (a longer step is the
    next unit, e.g. 60min is H, 24H is D).

    >>> validate_minutes("7min"), validate_minutes("23H")
    (None, None)
    """
    mult, base = parse(freq)
    top = {"min": (59, "H"), "H": (23, "D")}.get(base)
    if top is not None and mult > top[0]:
        raise ConfigError(f"frequency {freq!r}: {base} steps go from 1 to {top[0]}; "
                          f"use the next unit ({top[1]} or a multiple of it) instead.")


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
