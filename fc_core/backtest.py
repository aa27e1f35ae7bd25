"""Backtest windows (Amazon Forecast's ``EvaluationParameters``), and :func:`run`, the backtest of one estimator.

Windows are laid back from the end of the data. Window 0 is the most recent:
its training data ends at ``cutoff_0 = end - offset`` steps and it scores the
``forecast_horizon`` steps after the cutoff. Each further window moves back by
one horizon: ``cutoff_w = end - offset - w * forecast_horizon``.

``offset`` (Amazon's ``BacktestWindowOffset``) defaults to the horizon and must
satisfy ``horizon <= offset < length / 2``; the number of windows
(``NumberOfBacktestWindows``) is 1 to 5.

>>> import pandas as pd
>>> w = backtest_windows(pd.Timestamp("2024-01-10"), 24 * 10, "H", forecast_horizon=24, windows=2)
>>> [str(x.cutoff) for x in w]
['2024-01-09 00:00:00', '2024-01-08 00:00:00']
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import frequency as fq
from .errors import ConfigError

MAX_WINDOWS = 5
MAX_HORIZON = 500


@dataclass(frozen=True)
class BacktestWindow:
    """One backtest window.

    Attributes
    ----------
    index : int
        0 for the most recent window.
    cutoff : Timestamp
        Last timestamp of the training data.
    start, end : Timestamp
        First and last scored timestamps.
    """

    index: int
    cutoff: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp
    steps_back: int | None = None  # per-item cutoffs: each item's end minus this many steps

    def __str__(self) -> str:
        if self.steps_back is not None:
            return (f"window {self.index}: train to each item's end - {self.steps_back} steps "
                    f"(latest {self.cutoff}), test the next steps")
        return f"window {self.index}: train to {self.cutoff}, test {self.start} .. {self.end}"

    def cutoffs(self, panel):
        """The training cutoff of every series of ``panel``: the window's cutoff, or each
        series' own end minus ``steps_back`` steps (``forecast_from="item_end"``)."""
        if self.steps_back is None:
            return self.cutoff
        off = fq.to_offset(panel.frequency)
        return pd.DatetimeIndex([e - self.steps_back * off for e in panel.end_timestamps()])


def max_forecast_horizon(length: int) -> int:
    """The longest horizon the data supports: the lesser of 500 steps and a third of the
    longest series (Amazon Forecast's limit)."""
    return int(min(MAX_HORIZON, length // 3))


def check_horizon(forecast_horizon: int, length: int) -> None:
    """Refuse a horizon beyond what the data supports, saying the maximum.

    Raises
    ------
    ConfigError
    """
    mx = max_forecast_horizon(length)
    if forecast_horizon > mx:
        raise ConfigError(
            f"forecast_horizon={forecast_horizon} is too long for series of at most {length} steps: "
            f"the maximum is {mx} (a third of the data, at most {MAX_HORIZON}). Shorten the horizon or "
            "provide more history."
        )


def backtest_windows(end: pd.Timestamp, length: int, frequency: str, forecast_horizon: int,
                     windows: int = 1, offset: int | None = None) -> list[BacktestWindow]:
    """The backtest windows for data ending at ``end`` whose longest series has ``length`` steps.

    Raises
    ------
    ConfigError
        If the number of windows is not 1 to 5, the offset is outside
        ``horizon <= offset < length / 2``, or the windows need more history than there is.
    """
    if not isinstance(windows, (int, np.integer)) or not 1 <= windows <= MAX_WINDOWS:
        raise ConfigError(f"backtest_windows must be 1 to {MAX_WINDOWS}, got {windows!r}.")
    offset = forecast_horizon if offset is None else int(offset)
    if offset < forecast_horizon:
        raise ConfigError(f"backtest_offset={offset} is shorter than the forecast horizon {forecast_horizon}; "
                          "it must be at least the horizon.")
    if offset >= length / 2:
        raise ConfigError(
            f"backtest_offset={offset} must be less than half the series length ({length} steps, so at most "
            f"{max((length - 1) // 2, 0)}); use a smaller offset or fewer windows."
        )
    need = offset + (windows - 1) * forecast_horizon
    if need >= length:
        raise ConfigError(
            f"{windows} backtest windows of {forecast_horizon} steps with offset {offset} need more than "
            f"{need} steps of history; the longest series has {length}. Use fewer windows."
        )
    off = fq.to_offset(frequency)
    out = []
    for w in range(windows):
        cutoff = pd.Timestamp(end) - (offset + w * forecast_horizon) * off
        out.append(BacktestWindow(w, cutoff, cutoff + off, cutoff + forecast_horizon * off))
    return out


def panel_windows(panel, forecast_horizon: int, windows: int = 1, offset: int | None = None) -> list[BacktestWindow]:
    """:func:`backtest_windows` for a :class:`~fc_core.panel.Panel` (its latest end and longest series)."""
    if panel.n_series == 0 or panel.lengths.max() == 0:
        raise ConfigError("the data has no history to backtest on.")
    ends = panel.end_timestamps()[panel.lengths > 0]
    out = backtest_windows(ends.max(), int(panel.lengths.max()), panel.frequency, forecast_horizon, windows, offset)
    if getattr(panel, "forecast_from", "global_end") == "item_end":
        off = forecast_horizon if offset is None else int(offset)
        out = [BacktestWindow(w.index, w.cutoff, w.start, w.end, off + w.index * forecast_horizon) for w in out]
    return out


def window_coverage(panel, window: BacktestWindow, forecast_horizon: int, min_train: int = 2) -> pd.DataFrame:
    """Which items a window can score, and why the others are left out.

    Returns a frame with the key columns, ``train_length`` (observed points up to the
    cutoff), ``test_points`` (observed points in the window) and ``reason`` (empty when
    the item is scored; otherwise ``"too short"``, ``"no actuals in window"`` or
    ``"starts after cutoff"``).
    """
    cut = window.cutoffs(panel)
    pos = fq.step_index(panel.cutoff_index(cut), panel.starts, panel.frequency)
    n_train = np.clip(np.floor(pos + 1e-9).astype(np.int64) + 1, 0, panel.lengths)
    obs_train = np.array([panel.observed_mask(i)[:n_train[i]].sum() for i in range(panel.n_series)], dtype=np.int64)
    _, obs = panel.actuals_after(cut, forecast_horizon)
    test_points = obs.sum(axis=1)
    reason = np.where(n_train <= 0, "starts after cutoff",
                      np.where(obs_train < min_train, "too short",
                               np.where(test_points == 0, "no actuals in window", "")))
    out = panel.keys.copy()
    out["train_length"] = obs_train
    out["test_points"] = test_points
    out["reason"] = reason
    return out


@dataclass(frozen=True)
class BacktestResult:
    """What :func:`run` returns.

    Attributes
    ----------
    forecasts : DataFrame
        The forecast frame of every window (keys, ``timestamp``, quantile columns, ``mean``) beside
        the actual ``target_value``, with ``backtest_window`` and ``cutoff``.
    metrics : DataFrame
        One row per window: the overall metrics of :func:`fc_core.metrics.evaluate`.
    item_metrics : DataFrame
        One row per item and window.
    """

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    item_metrics: pd.DataFrame

    def mean(self) -> pd.Series:
        """The metrics averaged over the windows."""
        return self.metrics.drop(columns=["backtest_window", "cutoff"]).mean(numeric_only=True)


def run(estimator, data, windows: int = 1, offset: int | None = None) -> BacktestResult:
    """Backtest one estimator: for each window, train on the data before its cutoff, forecast the
    ``forecast_horizon`` steps after it and score them against the actuals.

    Parameters
    ----------
    estimator : Estimator
        Any fc_core estimator (e.g. ``SeasonalNaiveEstimator(24)``); its horizon is the window length.
    data : DatasetGroup, Panel or DataFrame
        A long frame (``item_id``, ``timestamp``, ``target_value``) is read as a CUSTOM dataset group.
    windows : int
        1 to 5, laid back from the end of the data (:func:`backtest_windows`).
    offset : int, optional
        Steps from the end of the data to the most recent cutoff (default the horizon).

    Returns
    -------
    BacktestResult

    Raises
    ------
    ConfigError
        If the windows do not fit the data or a window has no item to score.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from fc_core.algorithms.baselines import SeasonalNaiveEstimator
    >>> t = pd.date_range("2024-01-01", periods=24 * 14, freq="h")
    >>> df = pd.DataFrame({"item_id": "a", "timestamp": t, "target_value": 10 + np.sin(2 * np.pi * t.hour / 24)})
    >>> res = run(SeasonalNaiveEstimator(24), df, windows=2)
    >>> res.metrics["backtest_window"].tolist(), round(float(res.metrics["WAPE"].max()), 6)
    ([0, 1], 0.0)
    """
    from . import metrics as mt
    from .algorithms.base import to_forecast_frame

    if isinstance(data, pd.DataFrame):
        from .datasets import DatasetGroup

        data = DatasetGroup(target=data, frequency=getattr(estimator, "frequency", None))
    panel = data.to_panel() if hasattr(data, "to_panel") else data
    H = int(estimator.forecast_horizon)
    check_horizon(H, int(panel.lengths.max(initial=0)))
    season = fq.season_length(panel.frequency)
    target = getattr(data, "target_field", "target_value")
    frames, rows_, items = [], [], []
    for w in panel_windows(panel, H, windows, offset):
        cov = window_coverage(panel, w, H)
        rows = np.flatnonzero(cov["reason"].to_numpy() == "")
        if len(rows) == 0:
            raise ConfigError(f"backtest {w} has no item with history before and actuals after its cutoff; "
                              "use fewer windows or a smaller offset.")
        sub = panel.select(rows)
        train = sub.truncate(w.cutoff, keep_related_future=H)
        actuals, observed = sub.actuals_after(w.cutoff, H)
        arr = estimator.train(train).predict_arrays(train)
        per_item, overall = mt.evaluate(actuals, observed, arr, train, season)
        f = to_forecast_frame(sub, arr, estimator.forecast_types)
        f.insert(len(sub.key_columns) + 1, target, actuals.reshape(-1))
        f["backtest_window"], f["cutoff"] = w.index, w.cutoff
        frames.append(f)
        rows_.append({"backtest_window": w.index, "cutoff": w.cutoff, **overall})
        items.append(per_item.assign(backtest_window=w.index))
    return BacktestResult(pd.concat(frames, ignore_index=True), pd.DataFrame(rows_),
                          pd.concat(items, ignore_index=True))
