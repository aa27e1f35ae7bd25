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
        style = {"description_width": "170px"}
        lay = w.Layout(width="520px")
        self.figure = None
        self.plan = None
        self.notes: list[str] = []
        self.horizon = w.IntSlider(value=1, min=1, max=1, continuous_update=False, style=style, layout=lay)
        self.windows = w.IntSlider(value=int(backtest_windows), min=1, max=MAX_WINDOWS, description="backtest windows",
                                   continuous_update=False, style=style, layout=lay)
        self.offset = w.IntSlider(value=0, min=0, max=2, description="offset (0 = horizon)",
                                  continuous_update=False, style=style, layout=lay)
        self.title = w.HTML()
        self.item = None
        self._quiet = False
        self._use(dataset_group, forecast_horizon, backtest_offset)
        self.errors = self.error_area()  # under the sliders that cause them
        self.messages = w.HTML()
        self.messages.add_class("fc-window-messages")
        self.chart = chart_output()
        self.caption = caption_html()
        for c, name in ((self.horizon, "horizon"), (self.windows, "windows"), (self.offset, "offset")):
            c.add_class(f"fc-{name}-slider")
        for c in (self.horizon, self.windows, self.offset):
            c.observe(self._on_config, "value")
        self.item.observe(self._on_item, "value")
        super().__init__([self.title, self.item, self.horizon, self.windows, self.offset, self.errors, self.messages,
                          self.chart, self.caption])
        self.add_class("fc-backtest-panel")
        self.redraw()

    def _use(self, dataset_group, forecast_horizon: int | None, backtest_offset: int | None) -> None:
        """Take ``dataset_group``: the history, the item list, the title and the slider bounds
        (the horizon slider ends at the longest horizon the data allows)."""
        self.dataset_group = dataset_group
        self.history = HistoryView(dataset_group)
        p = self.history.panel
        self._panel = p
        length = int(p.lengths.max(initial=0))
        unit = step_name(p.frequency)
        mx = max(1, max_forecast_horizon(length))
        if forecast_horizon is None:
            forecast_horizon = max(1, min(season_length(p.frequency), mx))
        self.notes = []
        if int(forecast_horizon) > mx:
            self.notes.append(f"forecast horizon {int(forecast_horizon)} shortened to {mx}, the longest these data "
                              f"allow (a third of the longest series, {length:,} steps).")
            forecast_horizon = mx
        self._quiet = True  # one redraw after all the controls are set, not one per control
        try:
            self.horizon.max = max(mx, 1)
            self.horizon.value = int(forecast_horizon)
            self.horizon.description = f"horizon ({unit}s)" if " " not in unit else f"horizon (x {unit})"
            off = int(backtest_offset if backtest_offset is not None else self.offset.value or 0)
            self.offset.max = max(2, length, off)
            self.offset.value = off
        finally:
            self._quiet = False
        if self.item is None:
            self.item = ItemPicker(self.history.index, include_all=True)
        else:
            self._quiet = True
            try:
                self.item.set_index(self.history.index)
            finally:
                self._quiet = False
        self.title.value = (f"<h3 style='margin:4px 0'>Backtest windows</h3><div style='font-size:12px'>"
                            f"{len(self.history.index):,} items, longest history {length:,} steps "
                            f"(1 step = 1 {unit}); the horizon goes up to {mx:,} steps.</div>")

    def set_dataset_group(self, dataset_group) -> None:
        """Show another dataset group (e.g. a DatasetPanel's new import), keeping the
        horizon, windows and offset where the new data allow them."""
        self._use(dataset_group, int(self.horizon.value), int(self.offset.value) or None)
        self.redraw()

    @property
    def config(self) -> dict:
        """The chosen ``forecast_horizon``, ``backtest_windows`` and ``backtest_offset``
        (None = the horizon), ready for ``AutoPredictor(**panel.config)``."""
        return {"forecast_horizon": int(self.horizon.value), "backtest_windows": int(self.windows.value),
                "backtest_offset": int(self.offset.value) or None}

    def _on_config(self, change) -> None:
        if not self._quiet:
            self.redraw()

    def _on_item(self, change) -> None:
        if not self._quiet:
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
            self.messages.value = message_html([*self.notes, self.plan.error], "error")
        else:
            left_out = any((c["reason"] != "").any() for c in self.plan.coverage)
            self.messages.value = message_html([*self.notes, *self.plan.messages],
                                               "warn" if left_out or self.notes else "ok")
