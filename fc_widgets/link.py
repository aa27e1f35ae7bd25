"""Linked state between panels: data, horizon, windows and the trained predictor flow
from one panel to the next, as in Amazon Forecast's console where each step starts from
the previous one."""
from __future__ import annotations

import traitlets

from .backtest import BacktestPanel
from .dataset import DatasetPanel
from .predictor import LeaderboardPanel, TrainingPanel
from .quantile import QuantilePanel

#: the controls kept equal between a BacktestPanel and a TrainingPanel
SHARED_CONTROLS = ("horizon", "windows", "offset")


class Links:
    """What :func:`link` wired: ``pairs`` (readable ``"source -> target: what"`` lines) and the
    traitlets links of the shared controls (:meth:`unlink` removes them)."""

    def __init__(self):
        self.pairs: list[str] = []
        self._traits: list[traitlets.link] = []

    def unlink(self) -> None:
        for t in self._traits:
            t.unlink()
        self._traits = []

    def __repr__(self) -> str:
        return "Links(\n  " + "\n  ".join(self.pairs) + "\n)"


def link(*panels) -> Links:
    """Make ``panels`` share their state, whatever their order:

    * a :class:`DatasetPanel`'s import goes to every BacktestPanel and TrainingPanel
      (their slider and box bounds follow the new data) and to the QuantilePanels' history;
    * a :class:`BacktestPanel`'s horizon, windows and offset and a :class:`TrainingPanel`'s are
      kept equal both ways (the TrainingPanel starts from the BacktestPanel's);
    * a :class:`TrainingPanel`'s trained predictor goes to every :class:`LeaderboardPanel`, and
      its forecast (or backtest forecasts) to every :class:`QuantilePanel`.

    Returns
    -------
    Links
        What was wired.

    Examples
    --------
    >>> from fc_core import demo
    >>> dg = demo.electricity(n_items=3, days=14)
    >>> backtest, training = BacktestPanel(dg, backtest_windows=3), TrainingPanel(dg)
    >>> links = link(backtest, training)
    >>> training.windows.value
    3
    >>> backtest.horizon.value = 12
    >>> training.config["forecast_horizon"]
    12
    """
    def of(kind):
        return [p for p in panels if isinstance(p, kind)]

    links = Links()
    datasets, backtests, trainings = of(DatasetPanel), of(BacktestPanel), of(TrainingPanel)
    boards, views = of(LeaderboardPanel), of(QuantilePanel)
    for d in datasets:
        for target in (*backtests, *trainings):
            d.on_imported(target.set_dataset_group)
            links.pairs.append(f"{type(d).__name__} -> {type(target).__name__}: dataset group")
        for q in views:
            d.on_imported(lambda dg, q=q: setattr(q, "history", _history(dg)))
            links.pairs.append(f"{type(d).__name__} -> QuantilePanel: history")
    for b in backtests:
        for t in trainings:
            for name in SHARED_CONTROLS:
                links._traits.append(traitlets.link((getattr(b, name), "value"), (getattr(t, name), "value")))
            links.pairs.append("BacktestPanel <-> TrainingPanel: " + ", ".join(SHARED_CONTROLS))
    for t in trainings:
        for board in boards:
            t.on_trained(board.set_predictor)
            links.pairs.append("TrainingPanel -> LeaderboardPanel: predictor")
        for q in views:
            t.on_trained(lambda pred, q=q: q.set_forecast(
                pred.backtest_forecasts(None) if q.view.is_backtest else pred.forecast()))
            links.pairs.append("TrainingPanel -> QuantilePanel: " + ("backtest forecasts" if q.view.is_backtest
                                                                      else "forecast"))
    return links


def _history(dataset_group):
    from fc_core.views import HistoryView

    return HistoryView(dataset_group)
