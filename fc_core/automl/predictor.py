"""AutoPredictor: backtest candidate algorithms, rank them, blend them per item, retrain, forecast.

What Amazon Forecast's CreateAutoPredictor, GetAccuracyMetrics and
CreatePredictorBacktestExportJob do, as one object:

1. lay the backtest windows back from the end of the data (:mod:`fc_core.backtest`);
2. train every candidate on the data before each window's cutoff and forecast the window;
3. score each candidate per window and per item (:mod:`fc_core.metrics`) and rank them
   by the optimization metric;
4. build the ensemble: weights chosen greedily on the backtest forecasts (forward
   selection with replacement, Caruana et al. 2004, on the optimization metric of each
   item averaged over items), quantiles averaged level by level; with two or more
   windows the blend is kept only if blends chosen without a window beat the best
   single candidate on it; an item whose backtests a candidate or a pair beats the
   ensemble in every window uses that instead;
5. retrain the candidates the blend uses on all the data and forecast.
"""
from __future__ import annotations

import contextlib
import functools
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .. import changepoints, costs, lifecycle, parallel
from .. import frequency as fq
from ..algorithms.base import (DEFAULT_FORECAST_TYPES, ForecastArrays, Predictor, canonical_name, execution_of,
                              get_estimator_class, parse_forecast_types, read_artifact, to_forecast_frame)
from ..backtest import BacktestWindow, check_horizon, panel_windows, window_coverage
from ..errors import ConfigError, NotTrainedError
from ..explain import explain_blend
from ..forecast import Forecast
from ..io import atomic_dir, load_panel, save_panel
from ..panel import Panel

OPTIMIZATION_METRICS = ("AverageWeightedQuantileLoss", "WAPE", "RMSE", "MASE", "MAPE")
DEFAULT_ALGORITHMS = ("SeasonalNaive", "ETS", "Theta", "MSTL", "NPTS", "GBM", "GBM-L2", "MLP-QR", "ARIMA", "DeepAR+",
                      "Prophet")
ENSEMBLE = "AutoPredictor"
#: The presets (AutoGluon's convention): candidates, backtest windows and per-candidate settings.
#: Chosen by backtests on the training part of M4 Hourly (``bench/presets_m4.py``), never its test set.
#: Settings the user gives explicitly (``algorithms=``, ``backtest_windows=``, ``algorithm_params=``) win.
PRESETS = {
    "fast": {"algorithms": ("SeasonalNaive", "GBM"), "backtest_windows": 1,
             "algorithm_params": {"GBM": {"num_trees": 200, "learning_rate": 0.2, "calibration_windows": 4}},
             "description": "seasonal naive and a lighter GBM, one backtest window: a first answer in minutes"},
    "medium": {"algorithms": ("SeasonalNaive", "NPTS", "GBM"), "backtest_windows": 2, "algorithm_params": {},
               "description": "seasonal naive, NPTS and GBM, two backtest windows: the default"},
    "best": {"algorithms": ("SeasonalNaive", "NPTS", "GBM", "GBM-L2", "MLP-QR"), "backtest_windows": 3,
             "algorithm_params": {},
             "description": "adds GBM-L2 and MLP-QR to medium, three backtest windows: the most accurate blend"},
}
DEFAULT_PRESET = "medium"
#: Rough relative cost of each candidate, for ordering under a time limit (cheapest first).
_COST_RANK = {"Naive": 0, "SeasonalNaive": 0, "NPTS": 1, "Theta": 2, "ETS": 3, "MSTL": 3, "GBM": 5, "GBM-L2": 5,
              "MLP-QR": 6, "ARIMA": 7, "Prophet": 7, "DeepAR+": 8}
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


@dataclass
class _WindowResult:
    window: BacktestWindow
    rows: np.ndarray           # positions of scored items in the full panel
    actuals: np.ndarray        # (n, H)
    observed: np.ndarray       # (n, H)
    insample: Panel            # training panel of the scored items (for MASE scaling)
    forecasts: dict            # algorithm -> ForecastArrays
    coverage: pd.DataFrame
    short_forecasts: dict = field(default_factory=dict)  # local algorithm -> forecasts from the history since a shift


class AutoPredictor:
    """Train and blend forecasting algorithms chosen by backtests.

    Parameters
    ----------
    forecast_horizon : int
        Steps to forecast.
    frequency : str, optional
        The data's frequency when omitted.
    forecast_types : list of str
        Quantiles such as ``"0.1"`` and/or ``"mean"`` (default 0.1, 0.5, 0.9 and mean).
    backtest_windows : int, optional
        1 to 5; default the preset's (fewer when the data is too short for them, said in
        :meth:`plan_summary`).
    backtest_offset : int, optional
        Steps from the end of the data to the first window's cutoff (default the horizon).
    algorithms : list of str, optional
        Candidates (default the preset's; an empty list: every algorithm of
        :data:`DEFAULT_ALGORITHMS`); see :func:`fc_core.algorithms.base.available_algorithms`.
    optimization_metric : str or callable
        One of AverageWeightedQuantileLoss, WAPE, RMSE, MASE, MAPE, or a function
        ``metric(actual, forecast) -> float`` (lower is better) of one item's observed values
        and point forecasts (the ``mean``, as Amazon Forecast scores points), both 1-D arrays;
        the overall score is its mean over items. It ranks, blends and chooses per item, and
        appears in the leaderboard under the function's name.
    forecast_dimensions : list of str, optional
        Must match the dataset group's.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` for algorithms that can use a GPU.
    algorithm_params : dict, optional
        Per-algorithm hyperparameters, e.g. ``{"DeepAR+": {"epochs": 5}}``.
    ensemble : bool
        Blend candidates (default) or use the single best.
    seed : int
    n_jobs, scheduler :
        Where the per-item fits of the local models (ETS, ARIMA, Theta, MSTL, Prophet, NPTS) run, in
        backtests, final training and forecasts: this machine's cores (``n_jobs``) or a Dask cluster
        (a ``"tcp://host:8786"`` address or a ``distributed.Client``); by default
        :func:`fc_core.parallel.configure`'s settings. Global models (GBM, GBM-L2, MLP-QR, DeepAR+) and
        vectorized baselines run in this process either way; :meth:`execution_plan` and a warning say which
        candidate runs where. The numbers are the same wherever they run.
    item_selection : bool
        Let an item use a single candidate, or the even blend of its two best, where that
        beat the global blend on the item's backtests.
    item_switch_margin : float, optional
        Relative improvement an item's own choice must show on its backtests to replace the global
        blend. By default it is chosen on the backtests: with two or more windows, the choices made
        on the older windows are scored on the most recent one for each of :data:`SWITCH_MARGINS`.
    keep_all_candidates : bool
        Retrain every candidate on all the data, not just those the blend uses, so that
        :meth:`candidate_forecast` can compare them on new data.
    history : {"all", "since_shift", "auto"}
        Which history local models train on around level shifts (:mod:`fc_core.changepoints`):
        all of it, only since each item's last detected shift, or (``"auto"``) per item and
        algorithm whichever scored better in the backtests.
    end_of_life : dict or DataFrame, optional
        Discontinued items and their end-of-life dates (``{"item_7": "2024-05-01"}``); with the
        item metadata field ``end_of_life_date`` (:mod:`fc_core.lifecycle`): forecasts after the
        date are 0 and backtests do not score it.
    holidays : str or dict, optional
        Country holidays (``{"CountryCode": "KR"}``) for the candidates that use them (Prophet, DeepAR+).
    presets : {"fast", "medium", "best"}
        Candidate set, window count and settings from :data:`PRESETS` (AutoGluon's convention);
        ``algorithms``, ``backtest_windows`` and ``algorithm_params`` given explicitly win.
    time_limit : float, optional
        Seconds for the whole of ``train``. The candidates run cheapest first; the first window's
        timings decide how many windows and candidates fit, with the final training of the chosen
        ones; what is left out is said in :meth:`plan_summary` (and warned). If time runs out
        during the final training, the blend keeps the candidates already trained.

    Attributes (after ``train``)
    ----------------------------
    weights_ : dict
        The global blend: algorithm -> weight.
    ensemble_check_ : dict
        How the blend was checked: the weights found on all windows, and for each held-out
        window the blend and the best single candidate chosen without it and their scores on
        it (``held_out``); ``decision`` is ``"blend"`` or ``"single: <algorithm>"``.
    item_choice_ : DataFrame
        Per item: ``algorithms``, a tuple of algorithm names (``("AutoPredictor",)`` for the global
        blend, one algorithm, or a pair blended evenly), and ``algorithm``, a label for people
        (``"AutoPredictor"``, ``"GBM"``, ``"DeepAR+ & GBM"``) that is never parsed.
    item_switch_margin_ : float
        The relative backtest improvement an item's own choice had to show.

    Raises
    ------
    ConfigError
        For an unknown algorithm or metric, or a bad horizon, window count or offset.
    """

    def __init__(self, forecast_horizon: int, frequency: str | None = None,
                 forecast_types: Sequence[str] = DEFAULT_FORECAST_TYPES, backtest_windows: int | None = None,
                 backtest_offset: int | None = None, algorithms: Sequence[str] | None = None,
                 optimization_metric: str | Callable = "AverageWeightedQuantileLoss",
                 forecast_dimensions: Sequence[str] | None = None, device: str = "auto",
                 algorithm_params: dict | None = None, ensemble: bool = True, seed: int = 0,
                 n_jobs: int | None = None, scheduler=None, item_selection: bool = True,
                 item_switch_margin: float | None = None, keep_all_candidates: bool = False, history: str = "all",
                 end_of_life=None, holidays=None, non_negative="auto", presets: str | None = DEFAULT_PRESET,
                 time_limit: float | None = None):
        if not isinstance(forecast_horizon, (int, np.integer)) or forecast_horizon < 1:
            raise ConfigError(f"forecast_horizon must be a positive whole number, got {forecast_horizon!r}.")
        presets = presets or DEFAULT_PRESET
        if presets not in PRESETS:
            raise ConfigError(f"presets {presets!r}: choose one of {', '.join(PRESETS)}.")
        if time_limit is not None and (not isinstance(time_limit, (int, float, np.integer, np.floating))
                                       or isinstance(time_limit, bool) or not time_limit > 0):
            raise ConfigError(f"time_limit must be a positive number of seconds (or None for no limit), got {time_limit!r}.")
        self.presets = presets
        self.time_limit = None if time_limit is None else float(time_limit)
        preset = PRESETS[presets]
        self._windows_given = backtest_windows is not None
        if backtest_windows is None:
            backtest_windows = preset["backtest_windows"]
        if algorithms is None:
            algorithms = preset["algorithms"]
            algorithm_params = {**{k: dict(v) for k, v in preset["algorithm_params"].items()},
                                **(algorithm_params or {})}
        self.custom_metric = None
        if callable(optimization_metric):
            self.custom_metric = optimization_metric
            optimization_metric = getattr(optimization_metric, "__name__", "custom_metric")
            if optimization_metric in ("<lambda>", ""):
                optimization_metric = "custom_metric"
            if optimization_metric in OPTIMIZATION_METRICS:
                raise ConfigError(f"a custom optimization metric may not be named like a built-in one "
                                  f"({optimization_metric}); rename the function.")
        elif optimization_metric not in OPTIMIZATION_METRICS:
            raise ConfigError(f"optimization_metric {optimization_metric!r}: choose one of {', '.join(OPTIMIZATION_METRICS)}"
                              " or pass a function metric(actual, forecast) -> float (lower is better).")
        if device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device {device!r}: choose 'auto', 'cpu' or 'cuda'.")
        self.forecast_horizon = int(forecast_horizon)
        self.frequency = fq.normalize(frequency) if frequency else None
        self.forecast_types = [str(t) for t in forecast_types]
        self.levels, self.want_mean = parse_forecast_types(self.forecast_types)
        self.backtest_windows = backtest_windows
        self.backtest_offset = backtest_offset
        names = list(algorithms) if len(algorithms) else list(DEFAULT_ALGORITHMS)
        self.algorithms = [canonical_name(a) for a in names]
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ConfigError(f"algorithms {names} name one algorithm twice.")
        self.optimization_metric = optimization_metric
        self.forecast_dimensions = list(forecast_dimensions or [])
        self.device = device
        self.algorithm_params = {canonical_name(k): dict(v) for k, v in (algorithm_params or {}).items()}
        self.ensemble = bool(ensemble)
        self.seed = int(seed)
        self.n_jobs = n_jobs
        self.scheduler = scheduler
        self.item_selection = bool(item_selection)
        self.item_switch_margin = None if item_switch_margin is None else float(item_switch_margin)
        self.item_switch_margin_: float | None = None
        self.ensemble_check_: dict = {}
        self.margin_losses_: dict = {}
        self.keep_all_candidates = bool(keep_all_candidates)
        self.history = changepoints.HistoryPolicy(history).mode
        self.end_of_life = lifecycle.normalize_end_of_life(end_of_life)
        from ..features import holidays_country

        holidays_country(holidays)  # validate early
        self.holidays = holidays
        from ..algorithms.guard import check_non_negative

        self.non_negative = check_non_negative(non_negative)
        self.fallbacks_: dict = {}  # algorithm -> backtest fallback summary (fc_core.algorithms.guard)
        self.history_choice_: pd.DataFrame | None = None
        self.cost_log_ = costs.CostLog()
        # fitted state
        self.trained = False
        self.panel: Panel | None = None
        self.target_field = "target_value"
        self.leaderboard_: pd.DataFrame | None = None
        self.item_metrics_: pd.DataFrame | None = None
        self.weights_: dict[str, float] = {}
        self.item_choice_: pd.DataFrame | None = None
        self.predictors_: dict[str, Predictor] = {}
        self.backtest_frame_: pd.DataFrame | None = None
        self.skipped_items_: pd.DataFrame | None = None
        self.failed_: dict[str, str] = {}
        self.timings_: dict[str, float] = {}
        self.execution_: pd.DataFrame | None = None  # where each candidate ran (execution_plan at train)
        self.plan_: list[dict] = []

    # ---------------------------------------------------------------- config
    def config(self) -> dict:
        return {"forecast_horizon": self.forecast_horizon, "frequency": self.frequency,
                "forecast_types": self.forecast_types, "backtest_windows": self.backtest_windows,
                "backtest_offset": self.backtest_offset, "algorithms": self.algorithms,
                "optimization_metric": self.optimization_metric, "forecast_dimensions": self.forecast_dimensions,
                "device": self.device, "algorithm_params": self.algorithm_params, "ensemble": self.ensemble,
                "seed": self.seed, "n_jobs": self.n_jobs, "item_selection": self.item_selection,
                "item_switch_margin": self.item_switch_margin, "keep_all_candidates": self.keep_all_candidates,
                "history": self.history, "end_of_life": self.end_of_life, "holidays": self.holidays,
                "non_negative": self.non_negative, "presets": self.presets, "time_limit": self.time_limit}

    def __repr__(self) -> str:
        state = f"trained, weights={ {k: round(v, 3) for k, v in self.weights_.items()} }" if self.trained else "not trained"
        return f"AutoPredictor(horizon={self.forecast_horizon}, algorithms={self.algorithms}, {state})"

    @property
    def score_levels(self) -> list[float]:
        """Quantile levels produced internally: the requested ones plus the median."""
        return sorted(set(self.levels) | {0.5})

    def _estimator(self, name: str, panel: Panel, domain_count_like: bool):
        cls = get_estimator_class(name)
        params = dict(self.algorithm_params.get(name, {}))
        if "nonnegative" in cls.defaults and domain_count_like:
            params.setdefault("nonnegative", True)
        params.setdefault("non_negative", self.non_negative)
        if "device" in cls.defaults:
            params.setdefault("device", self.device)
        if "n_jobs" in cls.defaults and self.n_jobs is not None:
            params.setdefault("n_jobs", self.n_jobs)
        if "scheduler" in cls.defaults and self.scheduler is not None:
            params.setdefault("scheduler", self.scheduler)
        if "holidays" in cls.defaults and self.holidays is not None:
            params.setdefault("holidays", self.holidays)
        return cls(self.forecast_horizon, frequency=panel.frequency, forecast_types=self.forecast_types,
                   seed=self.seed, **params)

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

    # ----------------------------------------------------------------- train
    @_on_scheduler
    @costs.tracked("train")
    def train(self, dataset_group, progress: bool = True, callback: Callable[[dict], None] | None = None) -> "AutoPredictor":
        """Backtest every candidate, build the ensemble, retrain on all the data.

        ``callback`` receives a dict (``stage``, ``algorithm``, ``window``, ``elapsed``)
        before and after each step; widgets use it to show progress. Ctrl-C stops
        the run, and so does :class:`~fc_core.errors.TrainingStopped` raised by the
        callback (a Stop button); nothing of this predictor changes until training completes.

        Raises
        ------
        ConfigError
            If the horizon or the backtest windows do not fit the data.
        """
        from .. import metrics

        t_start = time.perf_counter()
        dataset_group = self._as_data(dataset_group)
        metrics = _MetricsWithCustom(metrics, self.custom_metric, self.optimization_metric)
        panel = dataset_group.to_panel() if hasattr(dataset_group, "to_panel") else dataset_group
        if self.frequency and not fq.matches(self.frequency, panel.frequency):
            raise ConfigError(f"AutoPredictor frequency {self.frequency} differs from the data's {panel.frequency}; "
                              f"aggregate the data first: dataset_group.aggregate('{self.frequency}').")
        if self.forecast_dimensions and list(panel.key_columns[1:]) != self.forecast_dimensions:
            raise ConfigError(f"forecast_dimensions {self.forecast_dimensions} differ from the dataset group's "
                              f"{panel.key_columns[1:]}; build the group with the same dimensions.")
        check_horizon(self.forecast_horizon, int(panel.lengths.max(initial=0)))
        self._check_related_future(dataset_group, panel)
        count_like = bool(getattr(getattr(dataset_group, "domain", None), "count_like", False))
        target_field = getattr(dataset_group, "target_field", self.target_field)
        plan = _Plan(self.time_limit, t_start)
        windows = self._fit_windows(panel, plan)
        season = fq.season_length(panel.frequency)
        levels = self.score_levels
        eol = lifecycle.end_of_life_dates(panel, self.end_of_life)
        policy = changepoints.HistoryPolicy(self.history)

        steps = [(w, a) for w in windows for a in self.algorithms]
        bar = _progress(len(steps) + len(self.algorithms), progress, "AutoPredictor")
        results: list[_WindowResult] = []
        failed: dict[str, str] = {}
        skipped: list[str] = []  # candidates left out for time
        timings: dict[str, float] = {a: 0.0 for a in self.algorithms}
        # under a time limit the cheapest candidates run first, so that something is always there
        order = sorted(self.algorithms, key=lambda a: _COST_RANK.get(a, 5)) if plan.limited else self.algorithms
        try:
            for w in windows:
                if w.index > 0 and plan.limited:
                    ran = [a for a in self.algorithms if a not in failed and a not in skipped]
                    first = {a: plan.first_window.get(a, 0.0) for a in ran}
                    need = sum(first.values()) * (1 + _FINAL_FACTOR)  # this window and the final fits
                    if plan.elapsed() + need > plan.limit:
                        for v in windows[w.index:]:
                            plan.add(f"backtest window {v.index}", "skipped", None,
                                     f"time_limit: about {need:.1f} s more would pass {plan.limit:g} s")
                        bar.update(len(self.algorithms) * (len(windows) - w.index))
                        break
                cov = window_coverage(panel, w, self.forecast_horizon)
                cut = w.cutoffs(panel)  # one per item where the data is forecast from each item's end
                past_eol = lifecycle.mask_window(panel, eol, cut, self.forecast_horizon, cov)
                rows = np.flatnonzero(cov["reason"].to_numpy() == "")
                if len(rows) == 0:
                    raise ConfigError(f"backtest {w} has no item with history before and actuals after its cutoff; "
                                      "use fewer windows or a smaller offset.")
                sub = panel.select(rows)
                cut = cut if np.ndim(cut) == 0 else cut[rows]
                train_panel = sub.truncate(cut, keep_related_future=self.forecast_horizon)
                actuals, observed = sub.actuals_after(cut, self.forecast_horizon)
                observed = observed & ~past_eol[rows]  # not scored after an item's end of life
                shifted = policy.shifted(train_panel) if policy.active else (np.zeros(0, np.int64), None)
                fc, short_fc = {}, {}
                for a in order:
                    if a in failed or a in skipped:
                        bar.update(1)
                        continue
                    if w.index == 0 and plan.limited and fc and plan.elapsed() > plan.limit * _FIRST_WINDOW_SHARE:
                        skipped.append(a)
                        plan.add(a, "skipped", None, f"time_limit: {plan.elapsed():.1f} s of {plan.limit:g} s "
                                 "spent before its first backtest")
                        bar.update(1)
                        continue
                    _notify(callback, "backtest", a, w.index, t_start)
                    bar.set_description(f"backtest window {w.index + 1}/{len(windows)}: {a}")
                    t0 = time.perf_counter()
                    try:
                        est = self._estimator(a, panel, count_like)
                        pred = est.train(train_panel)
                        fc[a] = pred.predict_arrays(train_panel, levels=levels)
                        if len(shifted[0]) and policy.applies(type(est)):
                            short_fc[a] = policy.variant(pred, train_panel, fc[a], levels, prepared=shifted)
                    except KeyboardInterrupt:
                        raise
                    except Exception as exc:  # one algorithm must not sink the run
                        failed[a] = f"{type(exc).__name__}: {exc}"
                        warnings.warn(f"{a} failed in backtest window {w.index} and is left out: {failed[a]}")
                    timings[a] += time.perf_counter() - t0
                    if w.index == 0:
                        plan.first_window[a] = time.perf_counter() - t0
                    plan.add(f"{a}, backtest window {w.index}", "failed" if a in failed else "done",
                             time.perf_counter() - t0, failed.get(a, ""))
                    bar.update(1)
                results.append(_WindowResult(w, rows, actuals, observed, train_panel, fc, cov, short_fc))
            ok = [a for a in self.algorithms if a not in failed and a not in skipped]
            if not ok:
                raise ConfigError("every candidate algorithm failed in the backtests: " +
                                  "; ".join(f"{k}: {v}" for k, v in failed.items()))
            for r in results:
                r.forecasts = {a: r.forecasts[a] for a in ok}
            history_choice = policy.choose(
                results, [a for a in ok if policy.applies(get_estimator_class(a))],
                lambda r, arr: metrics.evaluate(r.actuals, r.observed, arr, r.insample, season,
                                                quantiles=self.levels)[0][self.optimization_metric].to_numpy(),
                panel.n_series) if policy.active else {}

            # ---- scoring, ranking and the ensemble
            board, item_metrics = self._score(results, ok, season, metrics)
            fallbacks = _fallback_summaries(results, ok)
            cands = _blend_candidates(ok, fallbacks)
            weights, check = self._checked_weights(results, cands, season, metrics) if self.ensemble and len(cands) > 1 else ({}, {})
            if not weights:
                best = board.groupby("algorithm")[self.optimization_metric].mean().loc[cands].idxmin()
                weights = {best: 1.0}
            glob_results = [_blend_arrays(r.forecasts, weights) for r in results]
            table = self._item_score_table(results, glob_results, cands, season, metrics, panel.n_series)
            margin, margin_losses = self._choose_margin(table, results, glob_results, cands, season, metrics)
            choices = self._choose_labels(table, cands, margin, range(len(results)))
            ens_results = [self._apply_choice(r.forecasts, g, choices[r.rows])
                           for r, g in zip(results, glob_results)]
            board, item_metrics = self._add_ensemble_scores(board, item_metrics, results, ens_results, season, metrics)

            # ---- final training on all the data
            used = set(weights)
            if (panel.lengths == 0).any():  # cold-start items need a candidate that can forecast them
                used |= {a for a in ok if get_estimator_class(a).capabilities.cold_start}
            for ch in set(choices):
                used |= set(ch) - {ENSEMBLE}
            if self.keep_all_candidates:
                used |= set(ok)
            # the blend's heaviest members first: if time runs out, the best part of the blend is kept
            used = sorted(used, key=lambda a: (-weights.get(a, 0.0), self.algorithms.index(a)))
            predictors = {}
            for a in used:
                if plan.limited and predictors and plan.elapsed() + plan.first_window.get(a, 0.0) > plan.limit:
                    plan.add(f"{a}, final training", "skipped", None,
                             f"time_limit: {plan.elapsed():.1f} s of {plan.limit:g} s spent; the blend keeps "
                             f"{', '.join(predictors)}")
                    bar.update(1)
                    continue
                _notify(callback, "train", a, None, t_start)
                bar.set_description(f"final training: {a}")
                t0 = time.perf_counter()
                try:
                    predictors[a] = self._estimator(a, panel, count_like).train(panel)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    failed[a] = f"final training: {type(exc).__name__}: {exc}"
                    warnings.warn(f"{a} failed in final training and is left out: {failed[a]}")
                timings[a] += time.perf_counter() - t0
                plan.add(f"{a}, final training", "done" if a in predictors else "failed", time.perf_counter() - t0,
                         failed.get(a, ""))
                bar.update(1)
            bar.update(len(self.algorithms) - len(used))
        finally:
            bar.close()
        if not predictors:
            raise ConfigError("every algorithm failed in final training: " + "; ".join(failed.values()))
        weights = {a: w for a, w in weights.items() if a in predictors}
        tot = sum(weights.values())
        weights = {a: w / tot for a, w in weights.items()} if tot > 0 else {next(iter(predictors)): 1.0}
        choices = _choice_array([ch if set(ch) - {ENSEMBLE} <= set(predictors) else (ENSEMBLE,) for ch in choices])
        choice = _choice_frame(panel.keys, choices)

        # commit the fitted state only now
        self.target_field = target_field
        self.panel = panel
        self.leaderboard_ = board
        self.item_metrics_ = item_metrics
        self.weights_ = weights
        self.ensemble_check_ = check
        self.item_choice_ = choice
        self.item_switch_margin_ = margin
        self.margin_losses_ = margin_losses
        self.predictors_ = predictors
        self.failed_ = failed
        self.fallbacks_ = fallbacks
        self.timings_ = {**timings, "total": time.perf_counter() - t_start}
        self.execution_ = getattr(self, "_pending_execution", None)
        self.plan_ = plan.rows
        left_out = [r for r in plan.rows if r["status"] == "skipped"]
        if left_out:
            warnings.warn("time_limit: left out " + "; ".join(r["step"] for r in left_out)
                          + " (see plan_summary()).")
        self.history_choice_ = policy.choice_frame(panel, history_choice)
        self.backtest_frame_ = self._backtest_frame(panel, results, ens_results)
        self.skipped_items_ = pd.concat(
            [r.coverage.loc[r.coverage["reason"] != ""].assign(backtest_window=r.window.index) for r in results],
            ignore_index=True)
        self.trained = True
        _notify(callback, "done", None, None, t_start)
        return self

    # ------------------------------------------------------------- internals
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
        if hasattr(data, "check_related_horizon"):
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

    def _score_one(self, name: str, r: _WindowResult, arr: ForecastArrays, season, metrics):
        """One leaderboard row and the per-item metrics of forecasts ``arr`` of window ``r``."""
        per_item, overall = metrics.evaluate(r.actuals, r.observed, arr, r.insample, season, quantiles=self.levels)
        row = {"algorithm": name, "backtest_window": r.window.index,
               "window_start": r.window.start, "window_end": r.window.end, **overall}
        fb = (arr.info or {}).get("fallback_summary")
        reasons = (arr.info or {}).get("fallback_reasons") or {}
        row["fallback_items"] = fb["fallback_items"] if fb else np.nan
        row["fallback_share"] = fb["fallback_share"] if fb else np.nan
        row["fallback_reasons"] = "; ".join(f"{k} {v}" for k, v in fb["reasons"].items()) if fb else ""
        per_item = per_item.copy()
        per_item["fallback_reason"] = [reasons.get(k, "") for k in r.insample.key_strings("|")]
        per_item.insert(0, "algorithm", name)
        per_item.insert(1, "backtest_window", r.window.index)
        per_item.insert(2, "row", r.rows)
        return row, per_item

    def _score(self, results, algos, season, metrics):
        scored = [self._score_one(a, r, r.forecasts[a], season, metrics) for r in results for a in algos]
        return pd.DataFrame([x[0] for x in scored]), pd.concat([x[1] for x in scored], ignore_index=True)

    def _stack(self, results, fc_of):
        """Concatenate windows: actuals (N, H), observed, ForecastArrays, insample list."""
        A = np.concatenate([r.actuals for r in results])
        O = np.concatenate([r.observed for r in results])
        F = [fc_of(r) for r in results]
        arr = ForecastArrays(F[0].quantile_levels, np.concatenate([f.quantiles for f in F]),
                             np.concatenate([f.mean for f in F]),
                             pd.DatetimeIndex(np.concatenate([f.start.values for f in F])))
        return A, O, arr

    def _blend_objective(self, results, algos, season, metrics):
        """``loss(weights)``: the optimization metric of the blend, computed for every item and window
        on its own and averaged (each item counts once, whatever its volume), on ``results``.

        Pooled metrics such as wQL are dominated by the few largest items; weights chosen on them
        followed those items' luck in the backtest windows (on M4 Hourly, two of 414 series carry
        a quarter to 40% of the pooled wQL, and the pooled choice gave weak candidates 40% of the
        blend and did worse on held-out data). The leaderboard keeps Amazon Forecast's pooled metrics.
        """
        insample = _concat_panels([r.insample for r in results])
        A, O, _ = self._stack(results, lambda r: r.forecasts[algos[0]])
        stacked = {a: self._stack(results, lambda r, a=a: r.forecasts[a])[2] for a in algos}
        metric = self.optimization_metric

        def loss(weights: dict) -> float:
            per_item, overall = metrics.evaluate(A, O, _blend_arrays(stacked, weights), insample, season,
                                                 quantiles=self.levels)
            v = per_item[metric].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            return float(v.mean()) if len(v) else float(overall[metric])

        return loss

    @staticmethod
    def _best_single(loss, algos) -> str:
        """The candidate with the lowest ``loss`` alone (NaN counts as worst; ties go to the first)."""
        return min(algos, key=lambda a: (np.nan_to_num(loss({a: 1.0}), nan=np.inf), algos.index(a)))

    @staticmethod
    def _greedy_weights(loss, algos, rounds: int = 20) -> dict:
        """Forward selection with replacement (Caruana et al. 2004) on the objective ``loss``."""
        counts = {a: 0 for a in algos}
        best_loss = np.inf
        for _ in range(rounds):
            cand_loss = {}
            for a in algos:
                trial = dict(counts)
                trial[a] += 1
                cand_loss[a] = loss(trial)
            a_best = min(cand_loss, key=lambda k: (np.nan_to_num(cand_loss[k], nan=np.inf), algos.index(k)))
            if cand_loss[a_best] >= best_loss - 1e-12 and sum(counts.values()) > 0:
                break
            counts[a_best] += 1
            best_loss = cand_loss[a_best]
        tot = sum(counts.values())
        return {a: c / tot for a, c in counts.items() if c > 0}

    def _checked_weights(self, results, algos, season, metrics) -> tuple[dict, dict]:
        """Blend weights, kept only if a blend beats the best single candidate on windows it was not
        chosen on.

        With two or more windows, for each window the weights and the best single candidate are
        chosen on the other windows and both are scored on the held-out one
        (:meth:`_blend_objective`). If the blends lose in total, the best single candidate
        (by the same objective on all windows) is used alone. Returns the weights and a record of
        the check (kept as ``ensemble_check_``).
        """
        objective = {}  # window positions -> loss function, each built once

        def loss_on(positions):
            key = tuple(positions)
            if key not in objective:
                objective[key] = self._blend_objective([results[k] for k in key], algos, season, metrics)
            return objective[key]

        everything = range(len(results))
        weights = self._greedy_weights(loss_on(everything), algos)
        check = {"windows": len(results), "blend_weights": dict(weights)}
        if len(results) < 2 or len(weights) < 2:
            check["decision"] = "blend" if len(weights) > 1 else "single"
            return weights, check
        blend_loss = single_loss = 0.0
        rows = []
        for j, held in enumerate(results):
            rest_loss = loss_on([k for k in everything if k != j])
            w = self._greedy_weights(rest_loss, algos)
            best = self._best_single(rest_loss, algos)
            held_loss = loss_on([j])
            b, s1 = held_loss(w), held_loss({best: 1.0})
            rows.append({"held_out_window": held.window.index, "blend": b, "best_single": best, "single": s1,
                         "weights": w})
            blend_loss += b
            single_loss += s1
        check["held_out"] = rows
        if np.nan_to_num(blend_loss, nan=np.inf) < np.nan_to_num(single_loss, nan=np.inf):
            check["decision"] = "blend"
            return weights, check
        best = self._best_single(loss_on(everything), algos)
        check["decision"] = f"single: {best}"
        return {best: 1.0}, check

    def _add_ensemble_scores(self, board, item_metrics, results, ens_results, season, metrics):
        scored = [self._score_one(ENSEMBLE, r, e, season, metrics) for r, e in zip(results, ens_results)]
        return (pd.concat([board, pd.DataFrame([x[0] for x in scored])], ignore_index=True),
                pd.concat([item_metrics, *[x[1] for x in scored]], ignore_index=True))

    def _apply_choice(self, forecasts: dict, glob: ForecastArrays, choices: np.ndarray) -> ForecastArrays:
        """The global blend with each item's own choice (a tuple of names) put in where it has one."""
        q, m = glob.quantiles.copy(), glob.mean.copy()
        choices = list(choices)
        for ch in set(choices) - {(ENSEMBLE,)}:
            sel = np.array([c == ch for c in choices], dtype=bool)
            b = _blend_arrays(forecasts, self.blend_weights(ch))
            q[sel], m[sel] = b.quantiles[sel], b.mean[sel]
        return ForecastArrays(glob.quantile_levels, np.sort(q, axis=-1), m, glob.start)

    def _item_score_table(self, results, glob_results, algos, season, metrics, n_series: int) -> dict:
        """Per window and item, the optimization metric of the global blend, of each candidate and of
        the even blend of every pair of candidates: ``label -> array (windows, n_series)`` (NaN where an
        item was not scored in a window)."""
        m = self.optimization_metric
        labels = {(ENSEMBLE,): None, **{(a,): {a: 1.0} for a in algos}}
        if len(algos) > 1:
            for i, x in enumerate(algos):
                for y in algos[i + 1:]:
                    labels[tuple(sorted((x, y)))] = {x: 0.5, y: 0.5}
        table = {lab: np.full((len(results), n_series), np.nan) for lab in labels}
        for w, (r, g) in enumerate(zip(results, glob_results)):
            for lab, wts in labels.items():
                arr = g if wts is None else (r.forecasts[lab[0]] if len(wts) == 1 else _blend_arrays(r.forecasts, wts))
                per_item, _ = metrics.evaluate(r.actuals, r.observed, arr, r.insample, season, quantiles=self.levels)
                table[lab][w, r.rows] = per_item[m].to_numpy()
        return table

    def _choose_labels(self, table: dict, algos, margin: float, windows) -> np.ndarray:
        """Per item (a tuple of names): the global blend, unless one candidate or the even blend of the
        item's two best candidates scored better on the item's backtests in ``windows`` by the relative
        ``margin`` on average and no worse in any single window (a choice that wins only once is noise)."""
        windows = list(windows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # items not scored in these windows: all-NaN
            means = {lab: np.nanmean(v[windows], axis=0) for lab, v in table.items()}
        n = len(means[(ENSEMBLE,)])
        labels = _choice_array([(ENSEMBLE,)] * n)
        if len(algos) < 2 or not self.item_selection or not np.isfinite(margin):
            return labels
        singles = np.stack([means[(a,)] for a in algos], axis=1)
        filled = np.where(np.isnan(singles), np.inf, singles)
        order = np.argsort(filled, axis=1, kind="stable")
        best_single = filled[np.arange(n), order[:, 0]]
        pair_lab = _choice_array([tuple(sorted((algos[i], algos[j]))) for i, j in order[:, :2]])
        pair_val = np.array([means[lab][k] for k, lab in enumerate(pair_lab)])
        pair_val = np.where(np.isnan(pair_val), np.inf, pair_val)
        use_pair = pair_val < best_single
        best_val = np.where(use_pair, pair_val, best_single)
        best_lab = _choice_array([pair_lab[k] if use_pair[k] else (algos[order[k, 0]],) for k in range(n)])
        base = means[(ENSEMBLE,)]
        better = np.isfinite(best_val) & ~np.isnan(base) & (best_val < base * (1 - margin) - 1e-12)
        # and consistently: the item's own choice must not lose to the blend in any scored window
        for w in windows:
            alt = np.array([table[lab][w, k] for k, lab in enumerate(best_lab)])
            ref = table[(ENSEMBLE,)][w]
            scored = ~np.isnan(alt) & ~np.isnan(ref)
            better &= ~scored | (alt <= ref + 1e-12)
        labels[better] = best_lab[better]
        return labels

    def _choose_margin(self, table, results, glob_results, algos, season, metrics) -> tuple[float, dict]:
        """The switch margin, chosen on the backtests: choices made on the older windows are scored on
        the most recent one, and the margin that scores best wins (ties go to the larger margin).
        With one window, :data:`DEFAULT_SWITCH_MARGIN`. Also returns each margin's score."""
        if self.item_switch_margin is not None:
            return float(self.item_switch_margin), {}
        if len(results) < 2 or len(algos) < 2 or not self.item_selection:
            return DEFAULT_SWITCH_MARGIN, {}
        r, g = results[0], glob_results[0]
        losses = {}
        for margin in SWITCH_MARGINS:
            labels = self._choose_labels(table, algos, margin, range(1, len(results)))
            arr = self._apply_choice(r.forecasts, g, labels[r.rows])
            _, overall = metrics.evaluate(r.actuals, r.observed, arr, r.insample, season, quantiles=self.levels)
            losses[margin] = overall[self.optimization_metric]
        return min(losses, key=lambda k: (np.nan_to_num(losses[k], nan=np.inf), -k)), losses

    def _cold_start_blend(self) -> dict:
        """Weights for items with no history: the blend restricted to candidates that can forecast
        cold-start items (from item metadata), or an even blend of those kept."""
        able = [a for a, p in self.predictors_.items() if p.estimator.capabilities.cold_start]
        w = {a: self.weights_.get(a, 0.0) for a in able}
        if sum(w.values()) > 0:
            return {a: v for a, v in w.items() if v > 0}
        return {a: 1.0 for a in able}

    def blend_weights(self, choice) -> dict:
        """Weights of a per-item choice: a tuple of algorithm names (the global blend is
        ``("AutoPredictor",)``), blended evenly; a single name is one algorithm."""
        names = (choice,) if isinstance(choice, str) else tuple(choice)
        if names == (ENSEMBLE,):
            return dict(self.weights_)
        return {a: 1.0 / len(names) for a in names}

    def _backtest_frame(self, panel, results, ens_results) -> pd.DataFrame:
        parts = []
        for r, e in zip(results, ens_results):
            sub = panel.select(r.rows)
            for name, arr in [(ENSEMBLE, e), *r.forecasts.items()]:
                f = to_forecast_frame(sub, arr, self.forecast_types)
                f.insert(len(sub.key_columns) + 1, self.target_field, r.actuals.reshape(-1))
                f["observed"] = r.observed.reshape(-1)
                f["algorithm"] = name
                f["backtest_window"] = r.window.index
                f["backtestwindow_start_time"] = r.window.start
                f["backtestwindow_end_time"] = r.window.end
                parts.append(f)
        return pd.concat(parts, ignore_index=True)

    def _check(self):
        if not self.trained:
            raise NotTrainedError("call AutoPredictor.train(dataset_group) first.")

    def _as_data(self, data):
        """A DatasetGroup or Panel as is; a long DataFrame (item_id, timestamp, target_value, ...) as a
        CUSTOM-domain DatasetGroup with this predictor's frequency and forecast dimensions."""
        if isinstance(data, pd.DataFrame):
            from ..datasets import DatasetGroup

            return DatasetGroup(target=data, frequency=self.frequency,
                                forecast_dimensions=self.forecast_dimensions or None)
        if not hasattr(data, "to_panel") and not isinstance(data, Panel):
            raise ConfigError(f"expected a DatasetGroup or a long DataFrame (item_id, timestamp, target_value), "
                              f"got {type(data).__name__}.")
        return data

    def _panel_of(self, data) -> Panel:
        data = self._as_data(data)
        return data.to_panel() if hasattr(data, "to_panel") else data

    def _fit_windows(self, panel: Panel, plan: "_Plan") -> list[BacktestWindow]:
        """The backtest windows; the preset's count is lowered to what the data holds (and said so)."""
        n = self.backtest_windows
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
        return self._fit_windows(self._panel_of(data), _Plan(None, time.perf_counter()))

    def plan_summary(self) -> pd.DataFrame:
        """What training did: each candidate and window with its status (``done``, ``failed``,
        ``skipped`` for the time limit, ``reduced`` for the data), seconds and why.

        The first row states the preset, the time limit and the windows and candidates used.
        """
        self._check()
        head = {"step": f"presets={self.presets!r}, time_limit={self.time_limit}", "status": "plan",
                "seconds": round(float(self.timings_.get("total", np.nan)), 2),
                "note": f"{self.backtest_windows} windows asked, {self.leaderboard_['backtest_window'].nunique()} run; "
                        f"candidates {', '.join(self.algorithms)}; kept {', '.join(self.predictors_)}"}
        return pd.DataFrame([head, *self.plan_], columns=["step", "status", "seconds", "note"])

    # ---------------------------------------------------------------- results
    def leaderboard(self, data=None, per_window: bool = False) -> pd.DataFrame:
        """Algorithms by metric (mean over backtest windows), best first; ``per_window`` for detail.

        With ``data`` (a DatasetGroup or long DataFrame that goes ``forecast_horizon`` steps past
        what the predictor should see), the retrained candidates and the AutoPredictor are scored
        instead on those last steps of each item, forecasting from the data before them: one row
        per algorithm with the metrics of :func:`fc_core.metrics.evaluate`, best first.
        """
        self._check()
        if data is not None:
            scores = self._score_new(data, with_candidates=True)
            board = pd.DataFrame([{"algorithm": a, **m} for a, m in scores.items()])
            return board.sort_values(self.optimization_metric, kind="stable").reset_index(drop=True)
        b = self.leaderboard_
        if per_window:
            return b.sort_values(["backtest_window", self.optimization_metric]).reset_index(drop=True)
        num = b.drop(columns=["backtest_window", "window_start", "window_end"]).groupby("algorithm").mean(numeric_only=True)
        num = num.sort_values(self.optimization_metric)
        why = b.groupby("algorithm")["fallback_reasons"].agg(lambda v: " / ".join(dict.fromkeys(x for x in v if x))) \
            if "fallback_reasons" in b else pd.Series(dtype=object)
        num["fallback_reasons"] = [why.get(a, "") for a in num.index]
        num["mostly_fallback"] = [bool(self.fallbacks_.get(a, {}).get("mostly_fallback", False)) for a in num.index]
        num["weight"] = [self.weights_.get(a, 0.0) if a != ENSEMBLE else np.nan for a in num.index]
        chosen = list(self.item_choice_["algorithms"])
        num["items_chosen"] = [sum(c == (a,) for c in chosen) for a in num.index]
        num["train_seconds"] = [self.timings_.get(a, np.nan) for a in num.index]
        return num.reset_index()

    def accuracy_metrics(self) -> pd.DataFrame:
        """Overall metrics per algorithm and window, in GetAccuracyMetrics' spirit (a flat table)."""
        self._check()
        return self.leaderboard_.copy()

    def item_metrics(self, algorithm: str = ENSEMBLE) -> pd.DataFrame:
        """Per-item, per-window metrics of one algorithm (default the ensemble) with the item keys."""
        self._check()
        m = self.item_metrics_[self.item_metrics_["algorithm"] == algorithm]
        keys = self.panel.keys.iloc[m["row"].to_numpy()].reset_index(drop=True)
        rest = m.drop(columns=["row", *[c for c in keys.columns if c in m.columns]]).reset_index(drop=True)
        return pd.concat([keys, rest], axis=1)

    def backtest_forecasts(self, algorithm: str | None = ENSEMBLE) -> pd.DataFrame:
        """Backtest forecasts beside the actuals (CreatePredictorBacktestExportJob's forecasted values)."""
        self._check()
        f = self.backtest_frame_
        return f if algorithm is None else f[f["algorithm"] == algorithm].reset_index(drop=True)

    def export_backtest(self, folder) -> dict:
        """Write ``backtest_forecasts.csv`` and ``accuracy_metrics.csv`` (per item and window) into ``folder``."""
        from ..io import write_frame

        self._check()
        folder = str(folder).rstrip("/")
        bf = self.backtest_forecasts(None).copy()
        for c in ("timestamp", "backtestwindow_start_time", "backtestwindow_end_time"):
            bf[c] = pd.to_datetime(bf[c]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        acc = pd.concat([self.item_metrics(a) for a in self.leaderboard_["algorithm"].unique()], ignore_index=True)
        return {"backtest_forecasts": write_frame(bf, f"{folder}/backtest_forecasts.csv"),
                "accuracy_metrics": write_frame(acc, f"{folder}/accuracy_metrics.csv")}

    def evaluate(self, data) -> dict:
        """Accuracy on new data: each item's last ``forecast_horizon`` steps of ``data`` (a DatasetGroup
        or long DataFrame) are forecast from the data before them and scored.

        Returns the overall metrics of :func:`fc_core.metrics.evaluate` (``AverageWeightedQuantileLoss``,
        ``WAPE``, ``RMSE``, ``MASE``, ``MAPE``, ``sMAPE``, ``MSIS``, ...), plus a custom optimization metric.

        Raises
        ------
        NotTrainedError
            Before :meth:`train`.
        ConfigError
            If the data is too short to hold out a horizon.
        """
        self._check()
        return self._score_new(data, with_candidates=False)[ENSEMBLE]

    def _score_new(self, data, with_candidates: bool) -> dict:
        from .. import metrics

        metrics = _MetricsWithCustom(metrics, self.custom_metric, self.optimization_metric)
        panel = self._panel_of(data)
        H = self.forecast_horizon
        w = panel_windows(panel, H, 1)[0]
        cov = window_coverage(panel, w, H)
        rows = np.flatnonzero(cov["reason"].to_numpy() == "")
        if len(rows) == 0:
            raise ConfigError(f"no item of the data has history before and actuals after {w.cutoff}; "
                              f"give each item at least {H} more steps than the predictor should see.")
        sub = panel.select(rows)
        train = sub.truncate(w.cutoff, keep_related_future=H)
        actuals, observed = sub.actuals_after(w.cutoff, H)
        season = fq.season_length(panel.frequency)
        arrays = self._candidate_arrays(train)
        out = {ENSEMBLE: metrics.evaluate(actuals, observed, self._combine(arrays, train), train, season,
                                          quantiles=self.levels)[1]}
        if with_candidates:
            for a in self.predictors_:
                out[a] = metrics.evaluate(actuals, observed, arrays[a], train, season, quantiles=self.levels)[1]
        return out

    def plot(self, items=None, data=None, max_items: int = 4, history_points: int | None = None):
        """Fan charts of several items' forecasts, one panel each, with their recent history.

        ``items`` defaults to the first ``max_items`` items; ``data`` forecasts from other data (as in
        :meth:`forecast`). Returns a matplotlib Figure.
        """
        from ..plotting import plot_forecasts

        self._check()
        panel = self.panel if data is None else self._panel_of(data)
        if items is None:
            items = list(panel.keys.iloc[:max_items, 0].astype(str))
        elif isinstance(items, str):
            items = [items]
        fc = self.forecast(items=list(items), data=None if data is None else panel)
        from ..algorithms.base import select_items

        hist = select_items(panel, list(items)).to_frame()[[*panel.key_columns, "timestamp", "target_value"]]
        return plot_forecasts(fc, list(items), history=hist, history_points=history_points)

    # --------------------------------------------------------------- forecast
    @_on_scheduler
    @costs.tracked("forecast")
    def forecast(self, items=None, data=None) -> Forecast:
        """Forecasts of all items (or a selection) after the end of the data (CreateForecast)."""
        from ..algorithms.base import select_items

        self._check()
        panel = self.panel if data is None else self._panel_of(data)
        rows = np.arange(panel.n_series)
        if items is not None:
            sub = select_items(panel, items)
            key = panel.keys.astype(str).apply(tuple, axis=1)
            want = set(sub.keys.astype(str).apply(tuple, axis=1))
            rows = np.flatnonzero(key.isin(want).to_numpy())
            panel = panel.select(rows)
        out = self._combine(self._candidate_arrays(panel), panel)
        frame = to_forecast_frame(panel, out, self.forecast_types)
        return Forecast(frame, panel.key_columns, self.target_field, panel.frequency,
                        info={"weights": dict(self.weights_)})

    def _candidate_arrays(self, panel: Panel) -> dict:
        """Each retrained candidate's forecasts of ``panel`` (with the history policy's variants)."""
        arrays = {a: p.predict_arrays(panel, levels=self.score_levels) for a, p in self.predictors_.items()}
        return changepoints.HistoryPolicy(self.history).forecast_variants(self.predictors_, arrays, panel,
                                                                           self.score_levels, self.history_choice_)

    def _combine(self, arrays: dict, panel: Panel) -> ForecastArrays:
        """The AutoPredictor's forecasts from its candidates': per-item choice, blend, cold start, end of life."""
        choice = self._choice_for(panel)
        cold = self._cold_start_blend()
        if cold and (panel.lengths == 0).any():
            choice = _choice_array([("__cold__",) if n == 0 else c for n, c in zip(panel.lengths, choice)])
            arrays = {**arrays, "__cold__": _blend_arrays(arrays, cold)}
        out = self._apply_choice(arrays, _blend_arrays(arrays, self.weights_), choice)
        return lifecycle.apply_end_of_life(out, panel, lifecycle.end_of_life_dates(panel, self.end_of_life, strict=False))

    @_on_scheduler
    def explain(self, items=None, start=None, end=None, max_items: int | None = None, n_permutations: int = 20,
                seed: int | None = None, progress: bool = False):
        """Impact scores of the attributes (Amazon Forecast's Explainability), from the members
        that use attributes, weighted by each item's blend weights (:func:`fc_core.explain.explain_blend`).

        Same arguments as :meth:`fc_core.algorithms.base.Predictor.explain`; ``.items`` of the result
        gives each explained item's weight on models that use attributes, and the notes name items
        forecast only by models that use none.
        """
        self._check()
        labels = self._choice_for(self.panel)
        cold = self._cold_start_blend()
        rows = []
        for i, lab in enumerate(labels):
            wts = cold if (self.panel.lengths[i] == 0 and cold) else self.blend_weights(lab)
            wts = {a: v for a, v in wts.items() if a in self.predictors_}
            tot = sum(wts.values()) or 1.0
            rows.append({a: wts.get(a, 0.0) / tot for a in self.predictors_})
        weights = pd.DataFrame(rows, columns=list(self.predictors_)).fillna(0.0)
        return explain_blend(self.predictors_, self.panel, weights, items=items, start=start, end=end,
                             max_items=max_items, n_permutations=n_permutations,
                             seed=self.seed if seed is None else int(seed), progress=progress, name=ENSEMBLE)

    def feature_importance(self, **kwargs) -> pd.DataFrame:
        """AutoGluon-style alias: the predictor-level impact table (``explain(**kwargs).predictor_level()``)."""
        return self.explain(**kwargs).predictor_level()

    @_on_scheduler
    def candidate_forecast(self, algorithm: str, items=None) -> Forecast:
        """Forecasts of one retrained candidate alone (for side-by-side comparisons)."""
        from ..algorithms.base import select_items

        self._check()
        name = canonical_name(algorithm)
        if name not in self.predictors_:
            raise ConfigError(f"{name} was not retrained on all the data (kept: {sorted(self.predictors_)}); "
                              "train with keep_all_candidates=True to keep every candidate.")
        panel = self.panel if items is None else select_items(self.panel, items)
        arr = self.predictors_[name].predict_arrays(panel, levels=self.score_levels)
        arr = changepoints.HistoryPolicy(self.history).forecast_variants(
            self.predictors_, {name: arr}, panel, self.score_levels, self.history_choice_)[name]
        arr = lifecycle.apply_end_of_life(arr, panel, lifecycle.end_of_life_dates(panel, self.end_of_life, strict=False))
        return Forecast(to_forecast_frame(panel, arr, self.forecast_types), panel.key_columns, self.target_field,
                        panel.frequency, info={"algorithm": name})

    def _choice_for(self, panel: Panel) -> np.ndarray:
        ch = self.item_choice_
        keys = panel.key_columns
        lut = dict(zip(ch[keys].astype(str).apply(tuple, axis=1), ch["algorithms"]))
        mine = panel.keys[keys].astype(str).apply(tuple, axis=1)
        return _choice_array([tuple(lut.get(k, (ENSEMBLE,))) for k in mine])

    # ---------------------------------------------------------------- retrain
    def retrain(self, dataset_group, progress: bool = True) -> "AutoPredictor":
        """A new AutoPredictor with the same configuration trained on newer data
        (Amazon Forecast's ``ReferencePredictorArn``)."""
        return AutoPredictor(**self.config(), scheduler=self.scheduler).train(dataset_group, progress=progress)

    # ---------------------------------------------------------------- costs
    def cost_report(self, prices=None, total: bool = True) -> pd.DataFrame:
        """What each train and forecast run used (time, CPU, memory, series, values, data size) and what
        Amazon Forecast would have charged for it (:mod:`fc_core.costs`; ``prices`` overrides its prices)."""
        return self.cost_log_.frame(prices, total=total)

    def write_cost_report(self, path, prices=None) -> str:
        """Write :meth:`cost_report` as CSV (a folder gets ``cost_report.csv``); returns the path."""
        return self.cost_log_.write(path, prices)

    # ---------------------------------------------------------------- persist
    def save(self, path, key=None) -> Path:
        """Save to folder ``path``: JSON config, Parquet tables, sub-predictors; no pickle; atomic.
        ``key`` (:func:`fc_core.security.generate_key`) encrypts it."""
        self._check()
        if key is not None:
            from ..security import save_encrypted

            return save_encrypted(self.save, path, key, kind="auto_predictor")
        with atomic_dir(path) as tmp:
            save_panel(self.panel, tmp / "panel")
            for a, p in self.predictors_.items():
                p.save(tmp / "predictors" / _slug(a))
            self.leaderboard_.to_parquet(tmp / "leaderboard.parquet", index=False)
            self.item_metrics_.to_parquet(tmp / "item_metrics.parquet", index=False)
            self.item_choice_.astype({c: str for c in self.panel.key_columns}).to_parquet(tmp / "item_choice.parquet", index=False)
            self.backtest_frame_.to_parquet(tmp / "backtest_forecasts.parquet", index=False)
            if self.skipped_items_ is not None:
                self.skipped_items_.astype({c: str for c in self.panel.key_columns}).to_parquet(tmp / "skipped_items.parquet", index=False)
            if self.history_choice_ is not None:
                self.history_choice_.to_parquet(tmp / "history_choice.parquet", index=False)
            doc = {"fc_core_artifact": "auto_predictor", "version": 1, "config": self.config(),
                   "weights": self.weights_, "ensemble_check_": self.ensemble_check_, "item_switch_margin_": self.item_switch_margin_, "failed": self.failed_, "fallbacks": self.fallbacks_, "timings": self.timings_, "plan": self.plan_,
                   "target_field": self.target_field, "predictors": {a: _slug(a) for a in self.predictors_}}
            (tmp / "fc_artifact.json").write_text(json.dumps(doc, indent=2, default=str))
        return Path(path)

    @classmethod
    def load(cls, path, key=None) -> "AutoPredictor":
        """Load an AutoPredictor saved by :meth:`save` (``key``: the one it was encrypted with).

        Raises
        ------
        ArtifactError
            If the folder was not written by :meth:`save`, or for a missing or wrong key.
        """
        from ..security import open_artifact

        with open_artifact(path, key, kind="auto_predictor") as folder:
            return cls._load_plain(folder)

    @classmethod
    def _load_plain(cls, folder: Path) -> "AutoPredictor":
        from ..security import safe_name

        doc = read_artifact(folder, "auto_predictor")
        for s in doc.get("predictors", {}).values():
            safe_name(s, f"{folder / 'fc_artifact.json'} (predictors)")
        config = dict(doc["config"])
        metric = config.get("optimization_metric")
        if metric not in OPTIMIZATION_METRICS:  # a custom metric: its scores are saved, not the function
            config["optimization_metric"] = "AverageWeightedQuantileLoss"
        self = cls(**config)
        self.optimization_metric = metric
        self.plan_ = doc.get("plan", [])
        self.panel = load_panel(folder / "panel")
        self.predictors_ = {a: Predictor.load(folder / "predictors" / s) for a, s in doc["predictors"].items()}
        self.leaderboard_ = pd.read_parquet(folder / "leaderboard.parquet")
        self.item_metrics_ = pd.read_parquet(folder / "item_metrics.parquet")
        self.item_choice_ = _read_choices(folder / "item_choice.parquet", set(self.predictors_) | set(self.algorithms))
        self.backtest_frame_ = pd.read_parquet(folder / "backtest_forecasts.parquet")
        sk = folder / "skipped_items.parquet"
        self.skipped_items_ = pd.read_parquet(sk) if sk.exists() else None
        hc = folder / "history_choice.parquet"
        self.history_choice_ = pd.read_parquet(hc) if hc.exists() else None
        self.weights_ = doc["weights"]
        self.item_switch_margin_ = doc.get("item_switch_margin_")
        self.ensemble_check_ = doc.get("ensemble_check_", {})
        self.failed_ = doc["failed"]
        self.fallbacks_ = doc.get("fallbacks", {})
        self.timings_ = doc["timings"]
        self.target_field = doc["target_field"]
        self.trained = True
        return self


# ------------------------------------------------------------------- helpers
def _blend_arrays(forecasts: dict, weights: dict) -> ForecastArrays:
    """Weighted average of forecasts level by level (quantile averaging) and of means."""
    tot = float(sum(weights.values()))
    first = next(iter(forecasts[a] for a in weights))
    q = np.zeros_like(first.quantiles)
    m = np.zeros_like(first.mean)
    for a, w in weights.items():
        if w <= 0:
            continue
        f = forecasts[a]
        q += (w / tot) * f.quantiles
        m += (w / tot) * f.mean
    return ForecastArrays(first.quantile_levels, np.sort(q, axis=-1), m, first.start)


def _concat_panels(panels: list[Panel]) -> Panel:
    """Stack the series of several panels (for pooled scoring across windows)."""
    if len(panels) == 1:
        return panels[0]
    lens = np.concatenate([p.lengths for p in panels])
    return Panel(keys=pd.concat([p.keys for p in panels], ignore_index=True),
                 starts=pd.DatetimeIndex(np.concatenate([p.starts.values for p in panels])),
                 indptr=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                 values=np.concatenate([p.values for p in panels]),
                 observed=np.concatenate([p.observed for p in panels]),
                 frequency=panels[0].frequency)


def _choice_array(choices) -> np.ndarray:
    """A 1-D object array of per-item choices (tuples of names); ``np.array`` would make it 2-D."""
    out = np.empty(len(choices), dtype=object)
    out[:] = [tuple(c) for c in choices]
    return out


def choice_label(choice) -> str:
    """How a per-item choice reads for people: ``"GBM"``, ``"DeepAR+ & GBM"`` (never parsed back)."""
    return " & ".join(choice)


def _choice_frame(keys: pd.DataFrame, choices) -> pd.DataFrame:
    out = keys.copy()
    out["algorithm"] = [choice_label(c) for c in choices]
    out["algorithms"] = list(_choice_array(choices))
    return out


def _legacy_choice(label: str, known: set) -> tuple:
    """A label saved before choices were tuples (``"DeepAR++GBM"``: names joined on ``+``), split into
    known names (names may themselves contain ``+``); an unreadable label is the global blend.

    >>> _legacy_choice("DeepAR++GBM", {"DeepAR+", "GBM", "ETS"})
    ('DeepAR+', 'GBM')
    >>> _legacy_choice("DeepAR+", {"DeepAR+", "GBM"})
    ('DeepAR+',)
    """
    known = set(known) | {ENSEMBLE}

    def split(rest: str):
        if rest in known:
            return (rest,)
        for name in sorted(known, key=len, reverse=True):
            if rest.startswith(name + "+"):
                tail = split(rest[len(name) + 1:])
                if tail is not None:
                    return (name, *tail)
        return None

    return split(label) or (ENSEMBLE,)


def _read_choices(path, known: set) -> pd.DataFrame:
    """``item_choice.parquet``, with tuples restored (or rebuilt from an older file's labels)."""
    ch = pd.read_parquet(path)
    if "algorithms" in ch.columns:
        choices = [tuple(str(a) for a in c) for c in ch["algorithms"]]
    else:
        choices = [_legacy_choice(str(lab), known) for lab in ch["algorithm"]]
    return _choice_frame(ch.drop(columns=[c for c in ("algorithm", "algorithms") if c in ch.columns]), choices)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


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


class _MetricsWithCustom:
    """:mod:`fc_core.metrics` with a user's metric added to every evaluation (per item and overall)."""

    def __init__(self, base, fn, name: str):
        self.base, self.fn, self.name = base, fn, name

    def evaluate(self, actuals, observed, forecast, insample, season_length, quantiles=None):
        per_item, overall = self.base.evaluate(actuals, observed, forecast, insample, season_length,
                                               quantiles=quantiles)
        if self.fn is None:
            return per_item, overall
        vals = np.full(len(actuals), np.nan)
        for i in range(len(actuals)):
            ok = np.asarray(observed[i], bool) & np.isfinite(actuals[i])
            if ok.any():
                try:
                    vals[i] = float(self.fn(np.asarray(actuals[i])[ok], np.asarray(forecast.mean[i])[ok]))
                except Exception as exc:
                    raise ConfigError(f"the optimization metric {self.name} failed: {type(exc).__name__}: {exc}; "
                                      "it must take (actual, forecast) 1-D arrays and return a number.") from exc
        per_item = per_item.copy()
        per_item[self.name] = vals
        fin = vals[np.isfinite(vals)]
        overall = {**overall, self.name: float(fin.mean()) if len(fin) else float("nan")}
        return per_item, overall


def _fallback_summaries(results, algos) -> dict:
    """Per algorithm, its fallbacks in the backtests: mean share of items, counts per reason, and
    whether it fell back on most items (then it is no blend candidate)."""
    from ..algorithms.guard import MOSTLY_FALLBACK_SHARE

    out = {}
    for a in algos:
        sums = [r.forecasts[a].info.get("fallback_summary") for r in results]
        sums = [x for x in sums if x]
        if not sums:
            continue
        reasons: dict = {}
        for x in sums:
            for k, v in x["reasons"].items():
                reasons[k] = reasons.get(k, 0) + v
        share = float(np.mean([x["fallback_share"] for x in sums]))
        # counts per backtest window, the worst window's (never items x windows, which reads as
        # more items than the data holds); the reasons add up over the windows
        worst = max(sums, key=lambda x: x["fallback_items"])
        out[a] = {"items": int(worst["items"]), "fallback_items": int(worst["fallback_items"]),
                  "windows": len(sums), "fallback_share": round(share, 4), "reasons": reasons,
                  "mostly_fallback": share > MOSTLY_FALLBACK_SHARE}
    return out


def _blend_candidates(algos, fallbacks: dict) -> list:
    """The algorithms that may enter the blend: not those that fell back on most items (their
    scores are the fallback's, not their own), unless every algorithm did."""
    mostly = [a for a in algos if fallbacks.get(a, {}).get("mostly_fallback")]
    for a in mostly:
        warnings.warn(f"{a} fell back to seasonal naive on {fallbacks[a]['fallback_share']:.0%} of the items in the "
                      f"backtests ({fallbacks[a]['reasons']}); it is not used in the blend.", UserWarning, stacklevel=3)
    return [a for a in algos if a not in mostly] or list(algos)


def fallback_text(predictor) -> str:
    """One line saying, per algorithm, how many items got the fallback forecast in the backtests and why
    (the notebooks print it).

    >>> class P: fallbacks_ = {"GBM": {"items": 10, "fallback_items": 10, "fallback_share": 1.0,
    ...                                "reasons": {"history too short": 10}, "mostly_fallback": True}}
    >>> fallback_text(P())
    'Fallbacks in the backtests: GBM 10 of 10 items (100%: history too short 10) - mostly fallback, not in the blend'
    """
    fb = getattr(predictor, "fallbacks_", None) or {}
    parts = []
    for a, x in fb.items():
        if not x["fallback_items"]:
            continue
        why = ", ".join(f"{k} {v}" for k, v in x["reasons"].items())
        flag = " - mostly fallback, not in the blend" if x.get("mostly_fallback") else ""
        where = f" in the worst of {x['windows']} windows" if x.get("windows", 1) > 1 else ""
        parts.append(f"{a} {x['fallback_items']} of {x['items']} items{where} ({x['fallback_share']:.0%}: {why}){flag}")
    return "Fallbacks in the backtests: " + ("; ".join(parts) if parts else "none (every algorithm forecast every item itself)")
