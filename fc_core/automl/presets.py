"""AutoPredictor planning: the presets, the time limit and where each candidate runs.

:data:`PRESETS` (AutoGluon's convention), the constants the AutoPredictor ranks and blends with, the
time-limit plan (:class:`_Plan`, shown by :meth:`AutoPredictor.plan_summary`), the backtest windows a
preset asks for and the data holds, and the execution plan (local processes or a Dask cluster).
"""
from __future__ import annotations

import contextlib
import functools
import time
import warnings

import numpy as np
import pandas as pd

from .. import frequency as fq
from .. import parallel
from ..algorithms.base import execution_of, get_estimator_class
from ..backtest import BacktestWindow, panel_windows
from ..errors import ConfigError
from ..panel import Panel

OPTIMIZATION_METRICS = ("AverageWeightedQuantileLoss", "WAPE", "RMSE", "MASE", "MAPE")
DEFAULT_ALGORITHMS = ("SeasonalNaive", "ETS", "Theta", "MSTL", "NPTS", "GBM", "GBM-L2", "MLP-QR", "ARIMA", "DeepAR+",
                      "Prophet")
ENSEMBLE = "AutoPredictor"
#: The presets (AutoGluon's convention): candidates, backtest windows and per-candidate settings.
#: Chosen by backtests on the training part of M4 Hourly (``bench/presets_m4.py --validate``, ``bench/gbm_bench.py
#: --grid``: the last 48 hours of each training series held out), never its test set.
#: Settings the user gives explicitly (``algorithms=``, ``backtest_windows=``, ``algorithm_params=``) win.
PRESETS = {
    "fast": {"algorithms": ("SeasonalNaive", "GBM"), "backtest_windows": 1,
             "algorithm_params": {"GBM": {"num_trees": 200, "learning_rate": 0.2, "calibration_windows": 4,
                                          "direct_samples": 1.0}},
             "description": "seasonal naive and a lighter GBM, one backtest window: a first answer in minutes"},
    "medium": {"algorithms": ("SeasonalNaive", "NPTS", "GBM"), "backtest_windows": 2,
               "algorithm_params": {"GBM": {"num_trees": 400}},
               "description": "seasonal naive, NPTS and GBM (400 trees), two backtest windows: the default"},
    "best": {"algorithms": ("SeasonalNaive", "NPTS", "GBM", "GBM-L2", "MLP-QR"), "backtest_windows": 3,
             "algorithm_params": {},
             "description": "adds GBM-L2 and MLP-QR to medium, three backtest windows: the most accurate blend"},
}
DEFAULT_PRESET = "medium"
#: The names the presets parameter takes: the presets and "auto" (the default: medium, size-aware).
PRESET_NAMES = (*PRESETS, "auto")
#: Rough relative cost of each candidate, for ordering under a time limit (cheapest first).
_COST_RANK = {"Naive": 0, "SeasonalNaive": 0, "NPTS": 1, "Theta": 2, "ETS": 3, "MSTL": 3, "GBM": 5, "GBM-L2": 5,
              "MLP-QR": 6, "ARIMA": 7, "Prophet": 7, "DeepAR+": 8}
#: The size-aware default: when neither ``algorithms`` nor ``presets`` is given and the data holds more
#: than this many observed values (items x history), the AutoPredictor plans cheaper settings
#: (:data:`LARGE_PANEL_SETTINGS`, what the user gives explicitly wins) and says so. GBM's training rows
#: are sampled to its fixed budget above 2 million candidate rows, so beyond this size its cost grows
#: only through what is computed per item: the backtest windows and the calibration windows
#: (``bench/RESULTS.md``, "Scale").
LARGE_PANEL_VALUES = 2_000_000
LARGE_PANEL_SETTINGS = {"backtest_windows": 1, "algorithm_params": {"GBM": {"calibration_windows": 2},
                                                                    "GBM-L2": {"calibration_windows": 2}}}
SWITCH_MARGINS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, float("inf"))
DEFAULT_SWITCH_MARGIN = 0.05


def _on_scheduler(method):
    """Run an AutoPredictor method with its ``n_jobs``/``scheduler`` as fc_core.parallel's settings, so
    that every per-item fit inside it (backtests, final training, forecasts) runs there."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._parallel(announce=method.__name__ == "train"):
            return method(self, *args, **kwargs)
    return wrapper


# ------------------------------------------------------------- time limit
_FINAL_FACTOR = 1.2  # the final fit on all the data costs about this many first-window fits
_FIRST_WINDOW_SHARE = 0.45  # under a time limit, new candidates start in the first window only before this share


class _Plan:
    """What ran, what was left out and why, under an optional time limit (``AutoPredictor.plan_``)."""

    def __init__(self, limit: float | None, t_start: float):
        self.limit = limit
        self.t_start = t_start
        self.rows: list[dict] = []
        self.first_window: dict[str, float] = {}  # seconds of each candidate in the first window

    @property
    def limited(self) -> bool:
        return self.limit is not None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    def add(self, step: str, status: str, seconds: float | None, note: str = "") -> None:
        self.rows.append({"step": step, "status": status,
                          "seconds": np.nan if seconds is None else round(float(seconds), 2), "note": note})


def _notify(callback, stage, algorithm, window, t_start):
    if callback is not None:
        callback({"stage": stage, "algorithm": algorithm, "window": window,
                  "elapsed": time.perf_counter() - t_start})


class _NoBar:
    def update(self, n=1):
        pass

    def set_description(self, s):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc)


class _PlanningMixin:
    """The AutoPredictor's planning methods: where candidates run, which windows, what ran."""

    # ------------------------------------------------------------ execution
    def execution_plan(self) -> pd.DataFrame:
        """Where each candidate's work runs with the current settings: one row per algorithm with
        ``runs_on`` (``"dask"``, ``"local processes"``, ``"this process"``) and ``why``."""
        sched = parallel.scheduler_label(self.scheduler if self.scheduler is not None
                                         else parallel.get_config()["scheduler"])
        jobs = parallel.effective_n_jobs(self.n_jobs)
        rows = []
        for a in self.algorithms:
            mode = execution_of(get_estimator_class(a))
            if mode == "items":
                where = f"dask {sched}" if sched else ("local processes" if jobs > 1 else "this process")
                why = "per-item fits in chunks (fc_core.parallel.map_chunks)"
            elif mode == "global":
                where, why = "this process", "global model: one model trained on all the series in the client process"
            else:
                where, why = "this process", "vectorized over all the series (no per-item fits)"
            rows.append({"algorithm": a, "execution": mode, "runs_on": where, "why": why})
        return pd.DataFrame(rows, columns=["algorithm", "execution", "runs_on", "why"])

    @contextlib.contextmanager
    def _parallel(self, announce: bool = False):
        settings = {k: v for k, v in (("n_jobs", self.n_jobs), ("scheduler", self.scheduler)) if v is not None}
        with parallel.options(**settings):
            if announce:
                plan = self.execution_plan()
                sched = parallel.scheduler_label(parallel.get_config()["scheduler"])
                if sched and (plan["execution"] == "items").any():
                    from ..errors import require

                    require("distributed", f"running on the Dask cluster {sched}", "dask[distributed]")
                here = plan.loc[plan["execution"] != "items"]
                if sched and len(here):
                    on = plan.loc[plan["execution"] == "items", "algorithm"].tolist()
                    glob = here.loc[here["execution"] == "global", "algorithm"].tolist()
                    vec = here.loc[here["execution"] == "vectorized", "algorithm"].tolist()
                    parts = [f"{', '.join(on)} fit per item on the cluster" if on else "no candidate fits per item"]
                    if glob:
                        parts.append(f"{', '.join(glob)} are global models and train in this (client) process")
                    if vec:
                        parts.append(f"{', '.join(vec)} are vectorized and compute in this process")
                    warnings.warn(f"Dask scheduler {sched}: " + "; ".join(parts) + " (see execution_plan()).",
                                  UserWarning, stacklevel=4)
                self._pending_execution = plan
            yield

    # ----------------------------------------------------------------- data
    def _check_related_future(self, data, panel: Panel) -> None:
        """Amazon Forecast's rule: related series a candidate trains with must reach the end of the
        forecast horizon for every item (their future values are what the forecast reads).

        Raises
        ------
        DataError
            Naming the items and dates missing, and how to supply or futurefill them.
        """
        from ..errors import DataError

        if panel.related is None or not panel.related_names:
            return
        users = [a for a in self.algorithms if get_estimator_class(a).capabilities.uses_related]
        if not users:
            return
        if hasattr(data, "check_related_horizon") and not getattr(data, "frames_released", False):
            try:
                data.check_related_horizon(self.forecast_horizon)
            except DataError as exc:
                raise DataError(f"{exc} ({', '.join(users)} train with the related series.)") from None
            return
        future = panel.related_future_length()
        short = np.flatnonzero(future < self.forecast_horizon)
        if len(short):
            k = int(short[0])
            ends = panel.end_timestamps()
            off = fq.to_offset(panel.frequency)
            names = ", ".join(panel.key_strings("|")[short[:5]].tolist())
            raise DataError(
                f"the related series stop before the forecast horizon for {len(short)} item(s) ({names}"
                f"{' ...' if len(short) > 5 else ''}): item {panel.key_strings('|')[k]} has {int(future[k])} of the "
                f"{self.forecast_horizon} future steps, so it lacks {ends[k] + (int(future[k]) + 1) * off} to "
                f"{ends[k] + self.forecast_horizon * off}; {', '.join(users)} train with them. Add the future "
                "values, or futurefill them (DatasetGroup(..., forecast_horizon=..., fill={'related': ...})).")

    def _size_plan(self, panel: Panel) -> dict:
        """The size-aware default's settings for ``panel``: ``{}`` when the user chose the algorithms or
        the preset, or the data is not large; else ``backtest_windows`` (when not given),
        ``algorithm_params`` (those not given) and ``note``, the sentence that says what and why."""
        if not getattr(self, "_size_aware", False):
            return {}
        values = int(panel.observed_counts().sum())
        if values <= LARGE_PANEL_VALUES:
            return {}
        out, said = {}, []
        if not self._windows_given and self.backtest_windows > LARGE_PANEL_SETTINGS["backtest_windows"]:
            out["backtest_windows"] = LARGE_PANEL_SETTINGS["backtest_windows"]
            said.append(f"{out['backtest_windows']} backtest window instead of {self.backtest_windows}")
        params = {}
        for a, kw in LARGE_PANEL_SETTINGS["algorithm_params"].items():
            if a not in self.algorithms:
                continue
            mine = {k: v for k, v in kw.items() if k not in self.algorithm_params.get(a, {})}
            if mine:
                params[a] = mine
                said.append(f"{a} with " + ", ".join(f"{k}={v}" for k, v in mine.items()))
        if not said:
            return {}
        out["algorithm_params"] = params
        out["note"] = (f"{panel.n_series:,} items, {values:,} observed values: using {'; '.join(said)}, because the "
                       f"data holds more than {LARGE_PANEL_VALUES:,} values (the size-aware default; GBM trains on at "
                       f"most max_train_rows rows; give presets=, algorithms=, backtest_windows= or "
                       f"algorithm_params= to choose yourself)")
        return out

    def _fit_windows(self, panel: Panel, plan: "_Plan", size: dict | None = None) -> list[BacktestWindow]:
        """The backtest windows; the preset's count (or the size-aware default's) is lowered to what the
        data holds (and said so)."""
        n = (size or {}).get("backtest_windows", self.backtest_windows)
        if self._windows_given:
            return panel_windows(panel, self.forecast_horizon, n, self.backtest_offset)
        for k in range(n, 0, -1):
            try:
                windows = panel_windows(panel, self.forecast_horizon, k, self.backtest_offset)
            except ConfigError:
                if k == 1:
                    raise
                continue
            if k < n:
                plan.add(f"backtest windows {k}..{n - 1}", "reduced", None,
                         f"the data holds {k} of the {self.presets!r} preset's {n} windows")
            return windows
        raise AssertionError("unreachable")

    def windows(self, data) -> list[BacktestWindow]:
        """The backtest windows training would use on ``data`` (the preset's count, fewer if the data is short)."""
        panel = self._panel_of(data)
        return self._fit_windows(panel, _Plan(None, time.perf_counter()), self._size_plan(panel))

    def plan_summary(self) -> pd.DataFrame:
        """What training did: each candidate and window with its status (``done``, ``failed``,
        ``skipped`` for the time limit, ``reduced`` for the data), seconds and why.

        The first row states the preset, the time limit and the windows and candidates used.
        """
        self._check()
        asked = getattr(self, "size_plan_", {}).get("backtest_windows", self.backtest_windows)
        head = {"step": f"presets={self.presets!r}, time_limit={self.time_limit}", "status": "plan",
                "seconds": round(float(self.timings_.get("total", np.nan)), 2),
                "note": f"{asked} windows asked, {self.leaderboard_['backtest_window'].nunique()} run; "
                        f"candidates {', '.join(self.algorithms)}; kept {', '.join(self.predictors_)}"}
        return pd.DataFrame([head, *self.plan_], columns=["step", "status", "seconds", "note"])

