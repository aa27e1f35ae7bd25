"""BacktestPanel: choose the forecast horizon and backtest windows over the data's timeline."""
from __future__ import annotations

import ipywidgets as w

from fc_core import plotting
from fc_core.backtest import MAX_WINDOWS, max_forecast_horizon
from fc_core.frequency import season_length
from fc_core.views import ALL_ITEMS, HistoryView, plan_windows, step_name

MAX_POINTS = 3000  # a longer history is thinned for drawing (fc_core.views.envelope), peaks kept

from ._common import ItemPicker, PanelBase, caption_html, chart_output, guarded, message_html, show_figure


class BacktestPanel(PanelBase):
    """Backtest window selection (Amazon Forecast's EvaluationParameters) as a panel.

    Shows the timeline of one item, or of all items summed, with the backtest windows
    drawn over it; says live when the history is too short (the ConfigError the
    AutoPredictor would raise) and which items each window leaves out.

    Parameters
    ----------
    dataset_group : DatasetGroup
    forecast_horizon : int, optional
        Initial horizon (default one season, e.g. 24 for hourly data, within what the data allows).
    backtest_windows : int
        Initial number of windows (1 to 5).
    backtest_offset : int, optional
        Initial offset; None or 0 means "the horizon".

    Attributes
    ----------
    config : dict
        ``forecast_horizon``, ``backtest_windows``, ``backtest_offset`` for ``AutoPredictor(**config)``.
    plan : fc_core.views.WindowPlan
        The windows, the items each leaves out, the messages and the error (None when it fits).
    figure : matplotlib.figure.Figure
        The chart shown.
    """

    def __init__(self, dataset_group, forecast_horizon: int | None = None, backtest_windows: int = 1,
                 backtest_offset: int | None = None):
        self.history = HistoryView(dataset_group)
        p = self.history.panel
        self._panel = p
        length = int(p.lengths.max(initial=0))
        unit = step_name(p.frequency)
        if forecast_horizon is None:
            forecast_horizon = max(1, min(season_length(p.frequency), max_forecast_horizon(length)))
        style = {"description_width": "170px"}
        lay = w.Layout(width="520px")
        self.item = ItemPicker(self.history.index, include_all=True)
        self.horizon = w.IntSlider(value=int(forecast_horizon), min=1, max=max(2, length // 2, int(forecast_horizon)),
                                   description=f"horizon ({unit}s)" if " " not in unit else f"horizon (x {unit})",
                                   continuous_update=False, style=style, layout=lay)
        self.windows = w.IntSlider(value=int(backtest_windows), min=1, max=MAX_WINDOWS, description="backtest windows",
                                   continuous_update=False, style=style, layout=lay)
        off = int(backtest_offset or 0)
        self.offset = w.IntSlider(value=off, min=0, max=max(2, length, off), description="offset (0 = horizon)",
                                  continuous_update=False, style=style, layout=lay)
        self.messages = w.HTML()
        self.messages.add_class("fc-window-messages")
        self.chart = chart_output()
        self.caption = caption_html()
        self.figure = None
        self.plan = None
        for c, name in ((self.horizon, "horizon"), (self.windows, "windows"), (self.offset, "offset")):
            c.add_class(f"fc-{name}-slider")
        for c in (self.horizon, self.windows, self.offset):
            c.observe(self._on_config, "value")
        self.item.observe(self._on_item, "value")
        title = w.HTML(f"<h3 style='margin:4px 0'>Backtest windows</h3><div style='font-size:12px'>"
                       f"{len(self.history.index):,} items, longest history {length:,} steps "
                       f"(1 step = 1 {unit}).</div>")
        super().__init__([title, self.item, self.horizon, self.windows, self.offset, self.messages, self.chart,
                          self.caption])
        self.add_class("fc-backtest-panel")
        self.redraw()

    @property
    def config(self) -> dict:
        """The chosen ``forecast_horizon``, ``backtest_windows`` and ``backtest_offset``
        (None = the horizon), ready for ``AutoPredictor(**panel.config)``."""
        return {"forecast_horizon": int(self.horizon.value), "backtest_windows": int(self.windows.value),
                "backtest_offset": int(self.offset.value) or None}

    def _on_config(self, change) -> None:
        self.redraw()

    def _on_item(self, change) -> None:
        self.redraw(replan=False)

    @guarded
    def redraw(self, replan: bool = True) -> None:
        """Re-plan the windows from the controls (unless only the item changed) and redraw
        the chart and the messages."""
        if replan or self.plan is None:
            cfg = self.config
            self.plan = plan_windows(self._panel, cfg["forecast_horizon"], cfg["backtest_windows"],
                                     cfg["backtest_offset"])
        label = self.item.value
        data = self.history.frame(label, max_points=MAX_POINTS)
        item_id = None if label in (None, ALL_ITEMS) else label
        if item_id is not None:  # one item: its label names it (also with forecast dimensions)
            data[self.history.key_columns[0]] = item_id
        self.figure = plotting.plot_backtest_windows(data, self.plan.windows, item_id=item_id)
        ax = self.figure.axes[0]
        ax.set_ylabel(f"{self.history.target_field} ({item_id or 'sum of all items'})")
        ax.set_xlabel(f"time (one step = {step_name(self._panel.frequency)})")
        show_figure(self.chart, self.figure, self.caption)
        if self.plan.error:  # after the chart: once the messages change, everything has
            self.messages.value = message_html([self.plan.error], "error")
        else:
            left_out = any((c["reason"] != "").any() for c in self.plan.coverage)
            self.messages.value = message_html(self.plan.messages, "warn" if left_out else "ok")
