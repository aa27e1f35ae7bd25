"""Seeded data with a known answer for the hard cases (level shift, moving holidays, two seasons),
used by ``notebooks/hard_cases.ipynb``, ``bench/hard_cases_bench.py`` and the tests.

Each function returns ``{"target": history frame, "future": noise-free truth over the forecast
period}`` in the canonical long layout (``item_id``, ``timestamp``, ``target_value``).

>>> d = chuseok_sales(seed=0)
>>> str(d["target"]["timestamp"].max().date()), len(d["future"])
('2024-08-31', 30)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ConfigError

__all__ = ["level_shift", "chuseok_sales", "two_seasons"]


def _frame(item: str, ts: pd.DatetimeIndex, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"item_id": item, "timestamp": ts, "target_value": np.asarray(y, dtype=float)})


def level_shift(factor: float = 2.0, hours_before_end: int = 48, days: int = 38, horizon: int = 24,
                noise: float = 0.1, seed: int = 0, items: int = 1) -> dict[str, pd.DataFrame]:
    """Hourly series with a daily and a weekly pattern (weekends at 70 %) whose level is
    multiplied by ``factor`` from ``hours_before_end`` hours before the end of the history.
    Starts Monday 2024-01-01; ``days=38`` ends on a Wednesday.

    Raises
    ------
    ConfigError
        For a shift outside the history or non-positive sizes.
    """
    T = 24 * int(days)
    if not 0 < hours_before_end < T or factor <= 0 or horizon < 1 or items < 1:
        raise ConfigError(f"level_shift: need 0 < hours_before_end < {T}, factor > 0, horizon >= 1, items >= 1.")
    t = np.arange(T + horizon)
    ts = pd.date_range("2024-01-01", periods=T + horizon, freq="h")
    rng = np.random.default_rng(seed)
    hist, fut = [], []
    for i in range(items):
        level = np.full(T + horizon, 100.0 * (1 + i))
        level[T - hours_before_end:] *= factor
        truth = level * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * np.where((t // 24) % 7 >= 5, 0.7, 1.0)
        y = truth[:T] * (1 + rng.normal(0, noise, T))
        hist.append(_frame(f"series_{i}", ts[:T], y))
        fut.append(_frame(f"series_{i}", ts[T:], truth[T:]))
    return {"target": pd.concat(hist, ignore_index=True), "future": pd.concat(fut, ignore_index=True)}


def chuseok_sales(effect: float = 3.0, country: str = "KR", holiday: str = "Chuseok", start: str = "2021-01-01",
                  cutoff: str = "2024-08-31", horizon: int = 30, noise: float = 0.05,
                  seed: int = 0) -> dict[str, pd.DataFrame]:
    """Daily sales with weekly and yearly seasons, multiplied by ``effect`` on every day whose
    holiday name (English, from the ``holidays`` package) contains ``holiday``: Chuseok moves
    with the lunar calendar (2021-09-21, 2022-09-10, 2023-09-29, 2024-09-17, with the days
    before and after). History to ``cutoff``; ``future`` holds the next ``horizon`` days'
    noise-free truth and a ``holiday`` flag.

    Raises
    ------
    ConfigError
        For a country without a holiday calendar.
    """
    from .features import holiday_names

    end = pd.Timestamp(cutoff) + pd.Timedelta(days=int(horizon))
    ts = pd.date_range(start, end, freq="D")
    hol = holiday_names(country, range(ts[0].year, ts[-1].year + 1))
    on = ts.isin(hol.loc[hol["holiday"].str.contains(holiday, regex=False), "timestamp"])
    t = np.arange(len(ts))
    truth = 100 * (1 + 0.1 * np.sin(2 * np.pi * t / 7)) * (1 + 0.1 * np.sin(2 * np.pi * t / 365.25))
    truth = truth * np.where(on, effect, 1.0)
    y = truth * (1 + np.random.default_rng(seed).normal(0, noise, len(ts)))
    cut = int(np.searchsorted(ts, pd.Timestamp(cutoff), side="right"))
    fut = _frame("shop", ts[cut:], truth[cut:])
    fut["holiday"] = on[cut:]
    return {"target": _frame("shop", ts[:cut], y[:cut]), "future": fut.reset_index(drop=True)}


def two_seasons(weeks: int = 6, horizon: int = 168, noise: float = 0.05, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Hourly series with a daily (24) and a weekly (168) sine season, ``weeks`` of history."""
    T = 24 * 7 * int(weeks)
    t = np.arange(T + horizon)
    ts = pd.date_range("2024-01-01", periods=T + horizon, freq="h")
    truth = 100 * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * (1 + 0.25 * np.sin(2 * np.pi * t / 168))
    y = truth[:T] * (1 + np.random.default_rng(seed).normal(0, noise, T))
    return {"target": _frame("series_0", ts[:T], y), "future": _frame("series_0", ts[T:], truth[T:])}
