"""The AutoPredictor's results: leaderboard, metrics, backtest export, evaluation, plots, explanations, costs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..algorithms.base import to_forecast_frame
from ..backtest import panel_windows, window_coverage
from ..errors import ConfigError
from ..explain import explain_blend
from .ensemble import _MetricsWithCustom
from .presets import ENSEMBLE, _on_scheduler


class _ResultsMixin:
    """What a trained AutoPredictor reports (:meth:`leaderboard`, :meth:`evaluate`, :meth:`plot` ...)."""

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

    # ---------------------------------------------------------------- explain
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

    # ---------------------------------------------------------------- costs
    def cost_report(self, prices=None, total: bool = True) -> pd.DataFrame:
        """What each train and forecast run used (time, CPU, memory, series, values, data size) and what
        Amazon Forecast would have charged for it (:mod:`fc_core.costs`; ``prices`` overrides its prices)."""
        return self.cost_log_.frame(prices, total=total)

    def write_cost_report(self, path, prices=None) -> str:
        """Write :meth:`cost_report` as CSV (a folder gets ``cost_report.csv``); returns the path."""
        return self.cost_log_.write(path, prices)
