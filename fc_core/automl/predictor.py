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

import time
import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .. import changepoints, costs, lifecycle
from .. import frequency as fq
from ..algorithms.base import (DEFAULT_FORECAST_TYPES, ForecastArrays, Predictor, canonical_name,
                               get_estimator_class, parse_forecast_types, to_forecast_frame)
from ..backtest import check_horizon, window_coverage
from ..errors import ConfigError, NotTrainedError
from ..forecast import Forecast
from ..panel import Panel
from .ensemble import (_blend_arrays, _blend_candidates, _choice_array, _choice_frame, _EnsembleMixin,
                       _fallback_summaries, _MetricsWithCustom, _ScoredItems, _WindowResult)
from .persistence import _PersistenceMixin
from .presets import (_COST_RANK, _FINAL_FACTOR, _FIRST_WINDOW_SHARE, DEFAULT_ALGORITHMS, DEFAULT_PRESET, ENSEMBLE,
                      OPTIMIZATION_METRICS, PRESETS, _notify, _on_scheduler, _Plan, _PlanningMixin, _progress)
from .results import _ResultsMixin
from .streaming import _StreamingMixin


class AutoPredictor(_PlanningMixin, _EnsembleMixin, _ResultsMixin, _PersistenceMixin, _StreamingMixin):
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
    non_negative : "auto", True or False
        The forecast guard's zero clip (:mod:`fc_core.algorithms.guard`) for every candidate:
        ``"auto"`` (default) clips the forecasts of items whose history is never negative, and
        every item's in a count-like domain (RETAIL, INVENTORY_PLANNING, EC2_CAPACITY,
        WORK_FORCE); True every item's, False none. ``algorithm_params={"ETS": {"non_negative":
        False}}`` sets it for one candidate (``nonnegative``, the old name, still works and warns).
    presets : {"fast", "medium", "best", "auto"}, optional
        Candidate set, window count and settings from :data:`PRESETS` (AutoGluon's convention);
        ``algorithms``, ``backtest_windows`` and ``algorithm_params`` given explicitly win. Default
        (None or ``"auto"``): ``"medium"``, size-aware when ``algorithms`` is not given either: on data of more
        than :data:`~.presets.LARGE_PANEL_VALUES` observed values, :data:`~.presets.LARGE_PANEL_SETTINGS`
        (one backtest window, fewer GBM calibration windows), said in :meth:`plan_summary` and warned.
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
                 end_of_life=None, holidays=None, non_negative="auto", presets: str | None = None,
                 time_limit: float | None = None):
        if not isinstance(forecast_horizon, (int, np.integer)) or forecast_horizon < 1:
            raise ConfigError(f"forecast_horizon must be a positive whole number, got {forecast_horizon!r}.")
        presets = None if presets == "auto" else presets  # "auto": the default, as notebooks and YAML spell it
        self._size_aware = presets is None and algorithms is None  # the size-aware default (_size_plan)
        presets = presets or DEFAULT_PRESET
        if presets not in PRESETS:
            raise ConfigError(f"presets {presets!r}: choose one of {', '.join(PRESETS)} (or auto, the default).")
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
        from ..algorithms.guard import merge_legacy_nonnegative

        self.algorithm_params = {canonical_name(k): merge_legacy_nonnegative(dict(v), canonical_name(k))
                                 for k, v in (algorithm_params or {}).items()}  # old nonnegative: warned
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
        self.size_plan_: dict = {}  # what the size-aware default chose (_PlanningMixin._size_plan)
        self._size_now: dict = {}

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
        params = {**self._size_now.get("algorithm_params", {}).get(name, {}), **self.algorithm_params.get(name, {})}
        # a count-like domain's target is never negative: "auto" clips every item there
        params.setdefault("non_negative", True if domain_count_like and self.non_negative == "auto"
                          else self.non_negative)
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
        self._size_now = size = self._size_plan(panel)
        if size:
            plan.add("size-aware default", "plan", None, size["note"])
            warnings.warn(size["note"] + " (see plan_summary()).", UserWarning, stacklevel=3)
        windows = self._fit_windows(panel, plan, size)
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
                    t0, pred = time.perf_counter(), None
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
                             time.perf_counter() - t0, failed.get(a) or getattr(pred, "info", {}).get("training_sample", ""))
                    bar.update(1)
                results.append(_WindowResult(w, rows, actuals, observed, _ScoredItems.of(train_panel, season), fc, cov,
                                             short_fc))
                sub = train_panel = shifted = pred = None  # let this window's data go before the next one's
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
            margin, margin_losses = self._choose_margin(table, cands, len(results))
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
                         failed.get(a) or getattr(predictors.get(a), "info", {}).get("training_sample", ""))
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
        self.size_plan_ = size
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
    @_on_scheduler
    @costs.tracked("forecast")
    def forecast(self, items=None, data=None) -> Forecast:
        """Forecasts of all items (or a selection) after the end of the data (CreateForecast)."""
        panel, rows = self._rows_to_forecast(items, data)  # the item selection forecast_to uses too
        if items is not None:
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

    def _combine(self, arrays: dict, panel: Panel, choice: np.ndarray | None = None) -> ForecastArrays:
        """The AutoPredictor's forecasts from its candidates': per-item choice (``choice``, else looked up by
        :meth:`_choice_for`), blend, cold start, end of life."""
        choice = self._choice_for(panel) if choice is None else choice
        cold = self._cold_start_blend()
        if cold and (panel.lengths == 0).any():
            choice = _choice_array([("__cold__",) if n == 0 else c for n, c in zip(panel.lengths, choice)])
            arrays = {**arrays, "__cold__": _blend_arrays(arrays, cold)}
        out = self._apply_choice(arrays, _blend_arrays(arrays, self.weights_), choice)
        return lifecycle.apply_end_of_life(out, panel, lifecycle.end_of_life_dates(panel, self.end_of_life, strict=False))

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
        cfg = self.config()
        if self._size_aware:  # the size-aware default again, on the new data's size
            cfg.update(presets=None, algorithms=None, backtest_windows=cfg["backtest_windows"] if self._windows_given else None)
        return AutoPredictor(**cfg, scheduler=self.scheduler).train(dataset_group, progress=progress)
