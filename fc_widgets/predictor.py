"""TrainingPanel (train an AutoPredictor with live progress) and LeaderboardPanel (its results)."""
from __future__ import annotations

import threading
import time

import ipywidgets as w

from fc_core import plotting
from fc_core.algorithms.base import available_algorithms
from fc_core.backtest import max_forecast_horizon
from fc_core.automl import OPTIMIZATION_METRICS, AutoPredictor
from fc_core.errors import ConfigError, NotTrainedError, TrainingStopped
from fc_core.metrics import metric_goal
from fc_core.views import blend_summary, fallback_text, metric_columns, progress_text, rank_leaderboard, training_steps

from ._common import PanelBase, caption_html, chart_output, guarded, message_html, show_figure, table_html

FAST_ALGORITHMS = ("SeasonalNaive", "Naive")
MEAN = -1  # the window selector's "mean over windows"


class LeaderboardPanel(PanelBase):
    """The algorithms of a trained AutoPredictor ranked by a metric, best marked.

    Parameters
    ----------
    predictor : AutoPredictor, optional
        Trained; or give it later with :meth:`set_predictor` (a TrainingPanel can do that).
    metric : str, optional
        Initial metric (default the predictor's optimization metric).

    Attributes
    ----------
    board : DataFrame
        The ranked table shown (a ``best`` column first).
    best : str
        The best algorithm by the chosen metric (and window).
    figure : matplotlib.figure.Figure
    """

    def __init__(self, predictor=None, metric: str | None = None):
        style = {"description_width": "110px"}
        self.metric = w.Dropdown(options=list(OPTIMIZATION_METRICS), description="metric", style=style,
                                 layout=w.Layout(width="360px"))
        self.window = w.Dropdown(options=[("mean over windows", MEAN)], description="windows", style=style,
                                 layout=w.Layout(width="360px"))
        self.summary = w.HTML()
        self.metric.add_class("fc-metric")
        self.window.add_class("fc-window-select")
        self.summary.add_class("fc-leaderboard-summary")
        self.table = w.HTML()
        self.table.add_class("fc-leaderboard-table")
        self.chart = chart_output()
        self.caption = caption_html()
        self.predictor = None
        self.board = None
        self.best = None
        self.figure = None
        self._initial_metric = metric
        self.metric.observe(self._on_change, "value")
        self.window.observe(self._on_change, "value")
        head = w.HTML("<h3 style='margin:4px 0'>Leaderboard</h3>")
        self.errors = self.error_area()  # under the metric and window selectors
        self.table.layout = w.Layout(width="100%", max_width="100%", overflow="auto")
        super().__init__([head, w.HBox([self.metric, self.window]), self.errors, self.summary, self.chart, self.caption,
                          self.table])
        self.add_class("fc-leaderboard-panel")
        if predictor is not None:
            self.set_predictor(predictor)
        else:
            self.summary.value = message_html(["no predictor yet: train one (TrainingPanel's Run button)."])

    @guarded
    def set_predictor(self, predictor) -> None:
        """Show ``predictor``'s leaderboard (it must be trained)."""
        if not getattr(predictor, "trained", False):
            raise NotTrainedError("the predictor is not trained yet; train it first (TrainingPanel's Run button).")
        self.predictor = predictor
        self._mean = predictor.leaderboard()
        self._per_window = predictor.leaderboard(per_window=True)
        metrics = metric_columns(self._mean)
        metric = self._initial_metric or predictor.optimization_metric
        windows = sorted(self._per_window["backtest_window"].unique().tolist())
        self.metric.unobserve(self._on_change, "value")
        self.window.unobserve(self._on_change, "value")
        self.metric.options = metrics
        self.metric.value = metric if metric in metrics else metrics[0]
        self.window.options = [("mean over windows", MEAN)] + [(f"window {k + 1}", k) for k in windows]
        self.window.value = MEAN
        self.metric.observe(self._on_change, "value")
        self.window.observe(self._on_change, "value")
        self.redraw()

    def _on_change(self, change) -> None:
        self.redraw()

    @guarded
    def redraw(self) -> None:
        """Rank by the chosen metric (and window) and redraw the table and the chart."""
        if self.predictor is None:
            raise NotTrainedError("no predictor to show; train one first.")
        metric = self.metric.value
        window = None if self.window.value == MEAN else self.window.value
        source = self._mean if window is None else self._per_window
        board = rank_leaderboard(source, metric, window)
        self.board = board
        self.best = str(board.loc[board["best"], "algorithm"].iloc[0]) if board["best"].any() else None
        self.figure = plotting.plot_leaderboard(board, metric)
        if window is not None:
            self.figure.axes[0].set_title(f"Leaderboard by {metric}, backtest window {window + 1} (best in green)")
        self.figure.axes[0].set_ylabel("algorithm")
        show_figure(self.chart, self.figure, self.caption, fast_layout=False)  # long names: measured layout
        shown = board.drop(columns=[c for c in ("window_start", "window_end") if c in board.columns])
        shown = shown.assign(best=shown["best"].map({True: "\u2605", False: ""}))
        self.table.value = table_html(shown, highlight=board["best"])
        where = "mean over all backtest windows" if window is None else f"backtest window {window + 1}"
        p = self.predictor
        blend = blend_summary(p.weights_, p.ensemble_check_, getattr(p, "item_choice_", None), board, metric)
        self.summary.value = message_html([f"best by {metric} ({where}): {self.best} ({metric_goal(metric)})",
                                           *blend, fallback_text(p)], "ok")


class TrainingPanel(PanelBase):
    """Train an AutoPredictor on a dataset group from a Run button, with live progress and a Stop button.

    Parameters
    ----------
    dataset_group : DatasetGroup
    config : dict, optional
        ``forecast_horizon``, ``backtest_windows``, ``backtest_offset`` (e.g. a BacktestPanel's
        ``config``); the controls start from it.
    algorithms : list of str, optional
        Candidates ticked at first (default a fast pair, SeasonalNaive and Naive).
    background : bool
        Run trains in a background thread (default), so the notebook stays usable and Stop
        can end the run after its current step; ``False`` trains in the button's callback.
    **predictor_kwargs
        Passed on to :class:`~fc_core.automl.AutoPredictor` (forecast_types, seed, algorithm_params ...).

    Attributes
    ----------
    predictor : AutoPredictor or None
        The trained predictor after a successful run.
    events : list of dict
        The progress events of the last run (stage, algorithm, window, elapsed).
    """

    def __init__(self, dataset_group, config: dict | None = None, algorithms=None, background: bool = True,
                 **predictor_kwargs):
        cfg = {"forecast_horizon": 24, "backtest_windows": 1, "backtest_offset": None, **(config or {})}
        self.dataset_group = dataset_group
        longest = _longest(dataset_group)
        self.predictor_kwargs = predictor_kwargs
        style = {"description_width": "150px"}
        lay = w.Layout(width="360px")
        names = available_algorithms()
        chosen = [a for a in (algorithms or FAST_ALGORITHMS)]
        self.algorithms = w.SelectMultiple(options=sorted(set(names) | set(chosen)), value=tuple(chosen), rows=6,
                                           description="algorithms", style=style, layout=lay)
        self.horizon = w.BoundedIntText(value=int(cfg["forecast_horizon"]), min=1,
                                        max=max(1, max_forecast_horizon(longest)),
                                        description="forecast horizon", style=style, layout=lay)
        self.windows = w.BoundedIntText(value=int(cfg["backtest_windows"]), min=1, max=5,
                                        description="backtest windows", style=style, layout=lay)
        self.offset = w.BoundedIntText(value=int(cfg["backtest_offset"] or 0), min=0,
                                       max=max(2, longest, int(cfg["backtest_offset"] or 0)),
                                       description="offset (0 = horizon)", style=style, layout=lay)
        self.metric = w.Dropdown(options=list(OPTIMIZATION_METRICS), description="optimization metric",
                                 style=style, layout=lay)
        self.run_button = w.Button(description="Run", icon="play", button_style="success",
                                   tooltip="backtest the algorithms and train the AutoPredictor")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress", style=style,
                                      layout=w.Layout(width="360px"))
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning", disabled=True,
                                    tooltip="stop after the current algorithm and window; the last trained "
                                            "predictor is kept")
        self.stop_button.add_class("fc-stop-button")
        for c, name in ((self.horizon, "training-horizon"), (self.windows, "training-windows"),
                        (self.offset, "training-offset"), (self.algorithms, "algorithms")):
            c.add_class(f"fc-{name}")
        self.background = bool(background)
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._running = False
        self._t0 = 0.0
        self.tick_seconds = 1.0  # how often the elapsed time is refreshed between steps
        self.status = w.HTML(message_html(["not trained yet: press Run."]))
        self.status.add_class("fc-training-status")
        self.run_button.add_class("fc-run-button")
        self.progress.add_class("fc-progress")
        self.predictor = None
        self.events: list[dict] = []
        self.runs = 0
        self._listeners = []
        self.run_button.on_click(self._on_run)
        self.stop_button.on_click(self._on_stop)
        head = w.HTML("<h3 style='margin:4px 0'>Train an AutoPredictor</h3>")
        left = w.VBox([self.horizon, self.windows, self.offset, self.metric])
        self.errors = self.error_area()  # right under the Run button
        super().__init__([head, w.HBox([left, self.algorithms]), w.HBox([self.run_button, self.stop_button, self.progress]),
                          self.errors, self.status])
        self.add_class("fc-training-panel")

    @property
    def config(self) -> dict:
        """The AutoPredictor arguments the controls give."""
        return {"forecast_horizon": int(self.horizon.value), "backtest_windows": int(self.windows.value),
                "backtest_offset": int(self.offset.value) or None, "algorithms": list(self.algorithms.value),
                "optimization_metric": self.metric.value, **self.predictor_kwargs}

    def on_trained(self, callback) -> None:
        """Call ``callback(predictor)`` after each successful run (e.g. ``LeaderboardPanel.set_predictor``)."""
        self._listeners.append(callback)

    def _on_run(self, button) -> None:
        if self.background:
            self.start()
        else:
            self.run()

    def _on_stop(self, button) -> None:
        self.stop()

    def start(self) -> threading.Thread:
        """Train in a background thread, so the notebook and the Stop button stay responsive
        (the Run button does this); :meth:`wait` blocks until it is done."""
        if self.thread is not None and self.thread.is_alive():
            return self.thread
        self.run_button.disabled = True  # at once, not only when the thread gets going
        self.thread = threading.Thread(target=self.run, name="fc-training", daemon=True)
        self.thread.start()
        return self.thread

    def wait(self, timeout: float | None = None):
        """Wait for a training started by :meth:`start`; returns the predictor (None if none yet).
        Ctrl-C while waiting stops the training after its current step, then re-raises."""
        if self.thread is not None:
            try:
                self.thread.join(timeout)
            except KeyboardInterrupt:
                self.stop()
                self.thread.join()
                raise
        return self.predictor

    def stop(self) -> None:
        """Ask a running training to stop after its current step; the last trained predictor is kept."""
        if self._running:
            self._stop.set()
            self.status.value = message_html(["stopping after the current step ..."], "warn")

    def set_dataset_group(self, dataset_group) -> None:
        """Train on another dataset group next time (e.g. a DatasetPanel's new import); the
        horizon box is bounded by what its data allow."""
        self.dataset_group = dataset_group
        longest = _longest(dataset_group)
        self.horizon.max = max(1, max_forecast_horizon(longest))
        self.offset.max = max(2, longest, int(self.offset.value))
        self.status.value = message_html([f"new data: {len(dataset_group.items):,} items; press Run to train on "
                                          "them."])

    @guarded
    def run(self):
        """Train an AutoPredictor with the chosen settings; returns it (None on error, shown
        beside the Run button). Ctrl-C (the notebook's interrupt) stops it and says so."""
        self._running = True
        self.run_button.disabled = True
        self.stop_button.disabled = False
        self._t0 = time.perf_counter()
        self.events = []
        done = threading.Event()
        ticker = threading.Thread(target=self._ticker, args=(done,), name="fc-training-ticker", daemon=True)
        trained = False
        try:
            cfg = self.config
            if not cfg["algorithms"]:
                raise ConfigError("choose at least one algorithm (ctrl/shift-click in the list).")
            self.progress.value = 0
            self.progress.max = training_steps(cfg["backtest_windows"], len(cfg["algorithms"]))
            self.progress.bar_style = "info"
            self.status.value = message_html(["starting ..."])
            predictor = AutoPredictor(**cfg)
            ticker.start()
            try:
                predictor.train(self.dataset_group, progress=False, callback=self._on_event)
                trained = True
            finally:  # no tick after this: the final text below stays
                done.set()
                ticker.join()
        except TrainingStopped:
            self.progress.bar_style = "warning"
            kept = "the predictor of the last completed run is kept." if self.predictor else "no predictor yet."
            self.status.value = message_html([f"stopped after {len(self.events)} of "
                                              f"{self.progress.max} steps; {kept}"], "warn")
            return None
        except KeyboardInterrupt:
            self.progress.bar_style = "warning"
            kept = "the predictor of the last completed run is kept." if self.predictor else "no predictor yet."
            self.status.value = message_html([f"interrupted (Ctrl-C or the notebook's stop button) after "
                                              f"{len(self.events)} of {self.progress.max} steps; {kept}"], "warn")
            raise
        except BaseException:
            self.progress.bar_style = "danger"
            self.status.value = message_html(["training failed (the error is shown above)."], "error")
            raise
        finally:
            self._running = False
            self._stop.clear()
            self.stop_button.disabled = True
            if not trained:  # on success, Run comes back after the linked panels
                self.run_button.disabled = False
        self.predictor = predictor
        self.runs += 1
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        failed = [f"{a} failed: {m}" for a, m in predictor.failed_.items()]
        metric = predictor.optimization_metric
        blend = blend_summary(predictor.weights_, predictor.ensemble_check_, predictor.item_choice_,
                              predictor.leaderboard(), metric)
        try:  # the linked panels (leaderboard, forecasts) take the predictor before Run is free again
            for cb in self._listeners:
                cb(predictor)
        finally:
            self.run_button.disabled = False
        self.status.value = message_html(  # last: once it says done, everything is
            [f"run {self.runs} done in {predictor.timings_['total']:.1f} s", *blend, *failed],
            "warn" if failed else "ok")
        return predictor

    def _ticker(self, done: threading.Event) -> None:
        while not done.wait(self.tick_seconds):
            self.tick()

    def tick(self, now: float | None = None) -> None:
        """Refresh the progress text with the time elapsed now (a timer thread does this every
        ``tick_seconds`` during a run, so the text moves between steps that take long)."""
        if not self._running or self._stop.is_set():  # keep "stopping after the current step" on show
            return
        elapsed = (time.perf_counter() if now is None else now) - self._t0
        if self.events:
            event = {**self.events[-1], "elapsed": elapsed}
            self.status.value = message_html([progress_text(event, int(self.windows.value))])
        else:
            self.status.value = message_html([f"starting ... ({elapsed:.1f} s elapsed)"])

    def _on_event(self, event: dict) -> None:
        if self._stop.is_set() and event["stage"] != "done":
            raise TrainingStopped("training stopped from the panel's Stop button")
        self.events.append(dict(event))
        if event["stage"] != "done":
            self.progress.value = min(len(self.events), self.progress.max)
        self.status.value = message_html([progress_text(event, int(self.windows.value))])


def _longest(dataset_group) -> int:
    """The longest series of a dataset group, in steps."""
    return int(dataset_group.to_panel().lengths.max(initial=0))
