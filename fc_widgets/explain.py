"""ExplainabilityPanel: impact scores of the attributes, for the predictor and for one item."""
from __future__ import annotations

import ipywidgets as w

from fc_core import plotting
from fc_core.errors import ConfigError, NotTrainedError
from fc_core.views import DEFAULT_LIMIT, ItemIndex

from ._common import ItemPicker, PanelBase, caption_html, chart_output, guarded, message_html, show_figure, table_html


class ExplainabilityPanel(PanelBase):
    """Explainability (Amazon Forecast console's Explainability page) as a panel.

    The predictor's impact scores as bars (blue: the attribute raises the forecast; red:
    lowers it; length: normalized magnitude 0..1), the table of raw and normalized scores and
    the notes (sampling, models without attributes). Pick an item and press *Explain item*
    for its own scores and their course over the forecast horizon. All numbers come from
    :meth:`predictor.explain() <fc_core.algorithms.base.Predictor.explain>`.

    Parameters
    ----------
    predictor : Predictor or AutoPredictor
        Trained.
    explanation : Explanation, optional
        A predictor-level explanation already computed (default: ``predictor.explain()``).
    item : str, optional
        An item to explain at once.
    limit : int
        Most matches listed by the item search.

    Attributes
    ----------
    explanation, item_explanation : Explanation
        The predictor-level one, and the chosen item's (None until *Explain item*).
    figure, item_figure, time_figure : matplotlib.figure.Figure
    """

    def __init__(self, predictor, explanation=None, item: str | None = None, limit: int = DEFAULT_LIMIT):
        if not getattr(predictor, "trained", False):
            raise NotTrainedError("the predictor is not trained yet; train it first, then explain it.")
        self.predictor = predictor
        self.explanation = explanation if explanation is not None else predictor.explain()
        keys = predictor.panel.keys
        self.item = ItemPicker(ItemIndex(keys, list(keys.columns)), limit=limit)
        self.run_button = w.Button(description="Explain item", icon="search", button_style="primary",
                                   tooltip="impact scores of the chosen item at each forecast time point")
        self.summary = w.HTML()
        self.chart = chart_output()
        self.caption = caption_html()
        self.table = w.HTML()
        self.item_chart = chart_output()
        self.item_caption = caption_html()
        self.time_chart = chart_output()
        self.time_caption = caption_html()
        self.item_status = w.HTML()
        for c, name in ((self.run_button, "explain-button"), (self.summary, "explain-summary"),
                        (self.table, "explain-table"), (self.item_status, "explain-item-status")):
            c.add_class(f"fc-{name}")
        self.item_chart.add_class("fc-explain-item-chart")
        self.time_chart.add_class("fc-explain-time-chart")
        self.figure = self.item_figure = self.time_figure = None
        self.item_explanation = None
        self.run_button.on_click(lambda b: self.explain_item())
        head = w.HTML("<h3 style='margin:4px 0'>Explainability</h3>")
        drill = w.HTML("<h4 style='margin:8px 0 2px'>One item</h4>")
        super().__init__([head, self.summary, self.chart, self.caption, self.table, drill,
                          w.HBox([self.item, self.run_button]), self.item_status, self.item_chart, self.item_caption,
                          self.time_chart, self.time_caption])
        self.add_class("fc-explain-panel")
        self.draw_predictor()
        if item is not None:
            self.item.select(item)
            self.explain_item()

    @guarded
    def draw_predictor(self) -> None:
        """Draw the predictor-level bars, table and notes."""
        e = self.explanation
        table = e.predictor_level()
        kind = "predictor" if e.level == "predictor" else "forecast"
        self.summary.value = message_html(e.summary().splitlines(), "warn" if e.empty else "info")
        self.figure = plotting.plot_impact_scores(table, title=f"Impact scores of {e.algorithm} ({kind} level)")
        show_figure(self.chart, self.figure, self.caption, fast_layout=False)
        self.table.value = table_html(table)

    @guarded
    def explain_item(self) -> None:
        """Explain the chosen item: its impact scores and their course over the horizon."""
        key = self.item.key()
        if key is None:
            raise ConfigError(f"no item matches {self.item.search.value!r}; clear the search box or try another id.")
        item_id = key[self.predictor.panel.key_columns[0]]
        self.item_status.value = message_html([f"explaining {item_id} ..."])
        e = self.predictor.explain(items=[item_id])
        self.item_explanation = e
        if e.empty:
            self.item_status.value = message_html(e.notes or [f"{item_id}: no attributes to score."], "warn")
            return
        self.item_figure = plotting.plot_impact_scores(e.predictor_level(), title=f"Impact scores of {item_id}")
        show_figure(self.item_chart, self.item_figure, self.item_caption, fast_layout=False)
        self.time_figure = plotting.plot_impact_over_time(e.item(item_id), title=f"Impact over time of {item_id}")
        show_figure(self.time_chart, self.time_figure, self.time_caption)
        self.item_status.value = message_html([f"{item_id}: {e.method}", *e.notes], "ok")
