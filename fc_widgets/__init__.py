"""fc_widgets: Amazon Forecast's console as ipywidgets panels over fc_core.

Each panel is an ``ipywidgets.VBox``; display it in JupyterLab or Voila and read
its result attribute in the next cell:

========================  ==============================================  ======================
panel                     what it does                                    result
========================  ==============================================  ======================
:class:`DatasetPanel`     import a file or the demo data, map columns,    ``.dataset_group``
                          frequency, aggregation, filling; summary
:class:`BacktestPanel`    horizon and backtest windows over the timeline  ``.config``
:class:`TrainingPanel`    train an AutoPredictor with progress            ``.predictor``
:class:`LeaderboardPanel` algorithms ranked by metric, best marked        ``.best``
:class:`QuantilePanel`    fan chart of one item's forecast or backtest    ``.rows`` (+ CSV export)
:class:`ExplainabilityPanel` impact scores: predictor bars (blue/red),   ``.explanation``
                          one item's scores and their course over time
========================  ==============================================  ======================

:func:`link` makes them share their state: a new import reaches the other panels, the
horizon, windows and offset stay equal between BacktestPanel and TrainingPanel, and each
trained predictor reaches the leaderboard and the forecast views.

The logic (search, slicing, messages) lives in :mod:`fc_core.views`; the charts in
:mod:`fc_core.plotting`.
"""
from __future__ import annotations

from .backtest import BacktestPanel
from .dataset import DatasetPanel
from .explain import ExplainabilityPanel
from .link import Links, link
from .predictor import LeaderboardPanel, TrainingPanel
from .quantile import QuantilePanel

__all__ = ["DatasetPanel", "BacktestPanel", "QuantilePanel", "LeaderboardPanel", "TrainingPanel", "ExplainabilityPanel",
           "link", "Links"]
