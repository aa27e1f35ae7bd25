"""The backtest panel's logic: where the backtest windows fall and what they cover."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .items import item_labels


BACKTEST_META = ("observed", "algorithm", "backtest_window", "backtestwindow_start_time", "backtestwindow_end_time")


# ---------------------------------------------------------------- backtests
@dataclass
class WindowPlan:
    """What a choice of horizon, windows and offset gives: the windows, which items each
    leaves out, readable messages, and the ConfigError text when the choice does not fit."""

    config: dict
    windows: list = field(default_factory=list)
    coverage: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def plan_windows(panel, forecast_horizon: int, backtest_windows: int = 1, backtest_offset: int | None = None,
                 max_listed: int = 10) -> WindowPlan:
    """Lay the backtest windows over ``panel`` and explain them, never raising for a bad choice.

    The error text is exactly the :class:`~fc_core.errors.ConfigError` that
    :func:`fc_core.backtest.panel_windows` (and so the AutoPredictor) raises.
    """
    from ..backtest import check_horizon, panel_windows, window_coverage

    cfg = {"forecast_horizon": int(forecast_horizon), "backtest_windows": int(backtest_windows),
           "backtest_offset": None if backtest_offset is None else int(backtest_offset)}
    plan = WindowPlan(cfg)
    try:
        check_horizon(cfg["forecast_horizon"], int(panel.lengths.max(initial=0)))
        plan.windows = panel_windows(panel, cfg["forecast_horizon"], cfg["backtest_windows"], cfg["backtest_offset"])
    except ConfigError as exc:
        plan.error = str(exc)
        return plan
    labels = np.array(item_labels(panel.keys), dtype=object)
    for w in plan.windows:
        cov = window_coverage(panel, w, cfg["forecast_horizon"])
        plan.coverage.append(cov)
        plan.messages.append(coverage_message(w, cov, labels, max_listed))
    return plan


def coverage_message(window, coverage: pd.DataFrame, labels=None, max_listed: int = 10) -> str:
    """``"backtest window 1: train to ..., test ... to ...: scores 998 of 1,000 items; leaves out 2:
    item_3 (too short), ..."``."""
    n = len(coverage)
    reason = coverage["reason"].to_numpy()
    out = np.flatnonzero(reason != "")
    fmt = "%Y-%m-%d %H:%M"
    head = (f"backtest window {window.index + 1}: train to {window.cutoff.strftime(fmt)}, "
            f"test {window.start.strftime(fmt)} to {window.end.strftime(fmt)}: "
            f"scores {n - len(out):,} of {n:,} items")
    if len(out) == 0:
        return head + "."
    if labels is None:
        labels = np.array(item_labels(coverage.drop(columns=["train_length", "test_points", "reason"])), dtype=object)
    listed = ", ".join(f"{labels[i]} ({reason[i]})" for i in out[:max_listed])
    more = f" and {len(out) - max_listed:,} more" if len(out) > max_listed else ""
    return f"{head}; leaves out {len(out):,}: {listed}{more}."
