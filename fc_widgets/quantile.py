"""QuantilePanel: the fan chart of one item's forecast (or backtest) with its quantile band."""
from __future__ import annotations

import ipywidgets as w
import pandas as pd

from fc_core import plotting
from fc_core.errors import ConfigError
from fc_core.views import DEFAULT_LIMIT, ForecastView, HistoryView, export_csv, step_name

from ._common import (ItemPicker, PanelBase, caption_html, chart_output, guarded, message_html, show_figure,
                      table_html)


class QuantilePanel(PanelBase):
    """Quantile visualization (Amazon Forecast console's forecast lookup) as a panel.

    Pick an item among thousands by searching its id, choose the quantile pair of the
    band, see the fan chart (band, median, mean) after the history, the values as a
    table, and export what is shown to CSV. Given an AutoPredictor's
    ``backtest_forecasts()`` frame it draws the actuals over the forecast and offers a
    backtest-window (and algorithm) selector.

    Parameters
    ----------
    forecast : Forecast or DataFrame
        ``predictor.forecast()``, a forecast frame, or ``predictor.backtest_forecasts()``.
    history : DatasetGroup or DataFrame, optional
        The data, drawn before the forecast.
    item : str, optional
        The item shown first (default the first in natural order).
    history_points : int, optional
        How much history to draw (default 4 horizons).
    export_path : str
        Initial path of the Export button's CSV.
    limit : int
        Most matches listed by the item search.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    rows : DataFrame
        The forecast rows shown (one item, one window).
    """

    def __init__(self, forecast, history=None, item: str | None = None, history_points: int | None = None,
                 export_path: str = "forecast_view.csv", limit: int = DEFAULT_LIMIT):
        style = {"description_width": "110px"}
        self.view = ForecastView(forecast)
        self.history = None if history is None else HistoryView(history)
        self.history_points = history_points
        self.frequency = getattr(forecast, "frequency", None) or (self.history.frequency if self.history else None)
        self.item = ItemPicker(self.view.index, limit=limit)
        self.band = w.Dropdown(description="band", style=style, layout=w.Layout(width="330px"))
        self.window = w.Dropdown(description="backtest window", style=style, layout=w.Layout(width="330px"))
        self.algorithm = w.Dropdown(description="algorithm", style=style, layout=w.Layout(width="330px"))
        self._quiet = False
        self._set_choices()
        self.chart = chart_output()
        self.caption = caption_html()
        self.table = w.HTML()
        self.table.add_class("fc-values")
        self.export_path = w.Text(value=export_path, description="CSV path", style=style, layout=w.Layout(width="430px"))
        self.export_button = w.Button(description="Export", icon="download", button_style="primary",
                                      tooltip="write the forecasts shown to CSV")
        self.export_status = w.HTML()
        for c, name in ((self.band, "band"), (self.window, "window-select"), (self.algorithm, "algorithm-select"),
                        (self.export_path, "export-path"), (self.export_button, "export-button"),
                        (self.export_status, "export-status")):
            c.add_class(f"fc-{name}")
        self.figure = None
        self.rows = None
        for c in (self.band, self.window, self.algorithm):
            c.observe(self._on_change, "value")
        self.item.observe(self._on_change, "value")
        self.export_button.on_click(self._on_export)
        head = self.head = w.HTML()
        self._set_head()
        controls = w.HBox([w.VBox([self.item]), w.VBox([self.band, self.window, self.algorithm])])
        export = w.HBox([self.export_path, self.export_button])
        self.errors = self.error_area()  # under the item, band and window controls
        super().__init__([head, controls, self.errors, self.chart, self.caption, self.table, export,
                          self.error_area("export"), self.export_status])
        self.add_class("fc-quantile-panel")
        if item is not None:
            self.item.select(item)
        self.redraw()

    def _set_choices(self) -> None:
        """The band, window and algorithm choices of the forecast shown."""
        v = self.view
        self._quiet = True
        try:
            for box, opts in ((self.band, [(f"{lo} to {hi}", (lo, hi)) for lo, hi in v.bands] or [("none", None)]),
                              (self.window, [(f"window {k + 1}", k) for k in v.windows] or [("-", None)]),
                              (self.algorithm, list(v.algorithms) or [None])):
                keep = box.value
                box.options = opts
                values = [o[1] if isinstance(o, tuple) else o for o in opts]
                box.value = keep if keep in values else values[0]  # the choice stays where it can
        finally:
            self._quiet = False
        self.window.layout.display = None if v.is_backtest else "none"
        self.algorithm.layout.display = None if len(v.algorithms) > 1 else "none"

    def _set_head(self) -> None:
        kind = "Backtest forecasts" if self.view.is_backtest else "Forecasts"
        self.head.value = (f"<h3 style='margin:4px 0'>{kind}</h3><div style='font-size:12px'>{len(self.view.index):,} "
                           f"items; forecast types {', '.join(self.view.forecast_types)}</div>")

    def set_forecast(self, forecast, history=None) -> None:
        """Show another forecast (or backtest frame), e.g. after a new training run; the item
        shown stays when the new forecast has it."""
        self.view = ForecastView(forecast)
        if history is not None:
            self.history = HistoryView(history)
        self.frequency = getattr(forecast, "frequency", None) or (self.history.frequency if self.history else None)
        self._set_choices()
        self._quiet = True
        try:
            self.item.set_index(self.view.index)
        finally:
            self._quiet = False
        self._set_head()
        self.redraw()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.redraw()

    @guarded
    def redraw(self) -> None:
        """Redraw the chart and the table for the chosen item, band and window."""
        label = self.item.value
        if label is None:
            raise ConfigError(f"no item matches {self.item.search.value!r}; clear the search box or try another id.")
        rows = self.view.item(label, self.window.value, self.algorithm.value)
        self.rows = rows
        key = self.view.index.key(label)
        item_id = key[self.view.key_columns[0]]
        dims = {c: key[c] for c in self.view.key_columns[1:]}
        hist = None
        if self.history is not None and label in self.history.index:
            hist = self.history.frame(label, before=rows["timestamp"].min())
        if self.view.is_backtest:
            title = f"Backtest window {int(self.window.value) + 1} of {label}"
            if self.view.algorithms:
                title += f" ({self.algorithm.value})"
        else:
            title = f"Forecast of {label}"
        target = self.history.target_field if self.history is not None else self.view.target_field
        self.figure = plotting.plot_forecast(
            self.view.forecast_part(rows), item_id, history=hist, interval=self.band.value,
            actuals=self.view.actuals(rows), history_points=self.history_points, title=title,
            target_label=f"{target} of {label}", **dims)
        if self.frequency:
            self.figure.axes[0].set_xlabel(f"time (one step = {step_name(self.frequency)})")
        band = f"; band {self.band.value[0]} to {self.band.value[1]}" if self.band.value else ""
        show_figure(self.chart, self.figure, self.caption, band)
        self.table.value = table_html(self.view.table(rows).assign(
            timestamp=lambda d: pd.to_datetime(d["timestamp"]).dt.strftime("%Y-%m-%d %H:%M")))

    def _on_export(self, button) -> None:
        self.export()

    @guarded(area="export")
    def export(self, path: str | None = None) -> str | None:
        """Write the forecasts shown (this item, this window) to ``path`` (default the text box)
        in Amazon Forecast's export layout; returns the path written."""
        if self.rows is None:
            raise ConfigError("nothing is shown to export; pick an item first.")
        self.export_status.value = ""  # a stale "wrote ..." goes, whatever happens next
        path = path or self.export_path.value.strip()
        if not path:
            raise ConfigError("type a file path (or an s3:// URL) in the CSV path box first.")
        out = self.view.export_frame(self.rows)
        written = export_csv(out, path)
        self.export_status.value = message_html([f"wrote {len(out)} rows of {self.item.value} to {written}"], "ok")
        return written
