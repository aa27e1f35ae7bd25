"""DatasetPanel: dataset preparation (choose data, map columns, frequency, import, summary)."""
from __future__ import annotations

import ipywidgets as w
import pandas as pd

from fc_core import plotting
from fc_core.featurization import AGG_METHODS, FILL_METHODS
from fc_core.schema import DATASET_TYPES, DOMAINS, required_fields
from fc_core.views import (DEMO_DOMAINS, SOURCE_KEYS, HistoryView, build_dataset_group, demo_sources,
                           guess_column_mapping, preview_file, reader_options, search_message, summary_tables)

from ._common import PanelBase, caption_html, chart_output, guarded, message_html, show_figure, table_html

FREQUENCIES = ("1min", "5min", "10min", "15min", "30min", "H", "D", "W", "M", "Q", "Y")
NONE = "(none)"
PREVIEW_ITEMS = 8


class DatasetPanel(PanelBase):
    """Dataset preparation (CreateDatasetGroup + CreateDatasetImportJob) as a panel.

    Choose a file (path, folder, glob or URL) or the built-in demo data; pick the
    domain and dataset type; map the file's columns to the schema (a preview of the
    first rows helps); choose the frequency, an aggregation and the filling; press
    Import. The import summary and any validation error (fc_core's own, with the
    offending rows) show inline; pick items to preview their series.

    Parameters
    ----------
    path : str
        Initial file path or URL (used when ``source="file"``).
    source : {"demo", "file"}, optional
        Where the data comes from first; by default "file" when ``path`` is given, else "demo".
    demo_name : str
        ``electricity``, ``retail`` or ``ec2_capacity``.
    demo_items, demo_length : int
        Demo size: items, and days (electricity, ec2_capacity) or periods (retail).
    domain, dataset_type, frequency : str, optional
    forecast_dimensions : list of str, optional
    import_now : bool, optional
        Import at once (default: for the demo data, which is small and cheap).
    seed : int

    Attributes
    ----------
    dataset_group : DatasetGroup or None
        The imported group, for the next cell.
    summary : DatasetSummary or None
    sources : dict
        What each dataset type was imported from (``target``, ``related``, ``item_metadata``).
    """

    def __init__(self, path: str = "", source: str | None = None, demo_name: str = "electricity", demo_items: int = 12,
                 demo_length: int = 28, domain: str = "CUSTOM", dataset_type: str = "TARGET_TIME_SERIES",
                 frequency: str | None = None, forecast_dimensions=None, import_now: bool | None = None,
                 seed: int = 0):
        st = {"description_width": "150px"}
        lay = w.Layout(width="420px")
        self.dataset_group = None
        self.summary = None
        self.sources: dict = {}
        self.preview = None
        self.has_header = True
        self.seed = int(seed)
        # --- source
        source = source or ("file" if path else "demo")
        self.source = w.ToggleButtons(options=[("built-in demo data", "demo"), ("file or URL", "file")], value=source,
                                      description="data", style=st)
        self.demo_name = w.Dropdown(options=list(DEMO_DOMAINS), value=demo_name, description="demo", style=st, layout=lay)
        self.demo_items = w.BoundedIntText(value=demo_items, min=1, max=100_000, description="items", style=st, layout=lay)
        self.demo_length = w.BoundedIntText(value=demo_length, min=1, max=100_000, description="days", style=st,
                                            layout=lay)
        self.path = w.Text(value=path, placeholder="data/target.csv, a folder, a glob or s3://bucket/key.csv",
                           description="file path or URL", continuous_update=False, style=st,
                           layout=w.Layout(width="620px"))
        self.header = w.Checkbox(value=True, description="first row is a header", indent=False)
        self.demo_box = w.VBox([self.demo_name, self.demo_items, self.demo_length])
        self.file_box = w.VBox([self.path, self.error_area("path"), self.header])  # a bad path: said beside it
        # --- schema
        self.domain = w.Dropdown(options=list(DOMAINS), value=domain, description="domain", style=st, layout=lay)
        self.dataset_type = w.Dropdown(options=list(DATASET_TYPES), value=dataset_type, description="dataset type",
                                       style=st, layout=lay)
        self.dimensions = w.Text(value=", ".join(forecast_dimensions or []), placeholder="e.g. store_id, region",
                                 description="forecast dimensions", continuous_update=False, style=st, layout=lay)
        self.mapping_box = w.VBox()
        self.mapping: dict[str, w.Dropdown] = {}
        self.preview_html = w.HTML()
        self.preview_html.add_class("fc-file-preview")
        # --- frequency, aggregation, filling
        self.frequency = w.Dropdown(options=[("as in the data", ""), *[(f, f) for f in FREQUENCIES]],
                                    value=frequency or "", description="data frequency", style=st, layout=lay)
        self.aggregate_to = w.Dropdown(options=[("no aggregation", ""), *[(f, f) for f in FREQUENCIES]],
                                       description="forecast frequency", style=st, layout=lay)
        self.aggregate_method = w.Dropdown(options=list(AGG_METHODS), value="sum", description="aggregation",
                                           style=st, layout=lay)
        self.middlefill = w.Dropdown(options=list(FILL_METHODS), value="zero", description="middle fill", style=st,
                                     layout=lay)
        self.backfill = w.Dropdown(options=list(FILL_METHODS), value="zero", description="back fill", style=st,
                                   layout=lay)
        self.fill_value = w.FloatText(value=0.0, description="fill value", style=st, layout=lay)
        # --- import, summary, preview of items
        self.import_button = w.Button(description="Import", icon="upload", button_style="primary",
                                      tooltip="read the data and build the dataset group")
        self.status = w.HTML(message_html(["nothing imported yet: choose the data and press Import."]))
        self.errors = self.error_area()  # import errors, right under the Import button
        self.status.add_class("fc-import-status")
        self.summary_html = w.HTML()
        self.summary_html.add_class("fc-summary")
        self.item_search = w.Text(placeholder="search item id", description="search items", continuous_update=True,
                                  style=st, layout=lay)
        self.items = w.SelectMultiple(options=[], rows=6, description="preview items", style=st, layout=lay)
        self.item_count = w.Label()
        self.chart = chart_output()
        self.caption = caption_html()
        for c, name in ((self.demo_items, "demo-items"), (self.demo_length, "demo-length"), (self.path, "path"),
                        (self.import_button, "import-button"), (self.items, "items-select"),
                        (self.aggregate_to, "aggregate-to"), (self.source, "source"),
                        (self.item_search, "item-search"), (self.item_count, "item-count")):
            c.add_class(f"fc-{name}")
        self.figure = None
        self._index = None
        self._history = None
        self._listeners = []
        # --- wiring
        self.source.observe(self._on_source, "value")
        self.demo_name.observe(self._on_demo_name, "value")
        self.path.observe(self._on_path, "value")
        for c in (self.header, self.domain, self.dataset_type, self.dimensions):
            c.observe(self._on_schema, "value")
        self.import_button.on_click(self._on_import)
        self.item_search.observe(self._on_item_search, "value")
        self.items.observe(self._on_items, "value")
        sec = lambda t: w.HTML(f"<b style='font-size:13px'>{t}</b>")  # noqa: E731
        super().__init__([
            w.HTML("<h3 style='margin:4px 0'>Dataset group</h3>"),
            sec("1. Data"), self.source, self.demo_box, self.file_box,
            sec("2. Domain, dataset type and columns"), self.domain, self.dataset_type, self.dimensions,
            self.preview_html, self.mapping_box,
            sec("3. Frequency, aggregation and filling"),
            w.HBox([w.VBox([self.frequency, self.aggregate_to, self.aggregate_method]),
                    w.VBox([self.middlefill, self.backfill, self.fill_value])]),
            w.HBox([self.import_button]), self.errors, self.status, self.summary_html,
            sec("4. Preview items"), w.HBox([self.item_search, self.item_count]), self.items,
            self.error_area("preview"), self.chart, self.caption,
        ])
        self.add_class("fc-dataset-panel")
        self._on_source(None)
        self._on_demo_name(None)
        if self.path.value and source == "file":
            self.load_preview()
        if import_now if import_now is not None else source == "demo":
            self.run_import()

    def on_imported(self, callback) -> None:
        """Call ``callback(dataset_group)`` after each successful import (``fc_widgets.link`` uses it)."""
        self._listeners.append(callback)

    # ------------------------------------------------------------ controls
    def _on_source(self, change) -> None:
        if change is not None:
            self.mark_stale("the data source changed")
        demo = self.source.value == "demo"
        self.demo_box.layout.display = None if demo else "none"
        self.file_box.layout.display = "none" if demo else None
        for c in (self.domain, self.dataset_type, self.dimensions):
            c.disabled = demo
        self.mapping_box.layout.display = "none" if demo else None
        self.preview_html.layout.display = "none" if demo else None

    def _on_demo_name(self, change) -> None:
        self.demo_length.description = "periods (months)" if self.demo_name.value == "retail" else "days"

    def _on_path(self, change) -> None:
        self.mark_stale("the file path changed")
        self.load_preview()

    def mark_stale(self, why: str) -> None:
        """Clear what described the last import (summary, green status, its errors) once the
        choice of data changes; the dataset group stays until the next Import."""
        self.summary_html.value = ""
        self.clear_error()
        kept = (f" (the dataset group still holds the previous import: "
                f"{self.summary.overall['items']:,} items)" if self.summary is not None else "")
        self.status.value = message_html([f"{why}: press Import to read it{kept}."])

    def _on_schema(self, change) -> None:
        if self.preview is not None:
            self._build_mapping()

    @property
    def forecast_dimensions(self) -> list[str]:
        return [d.strip() for d in self.dimensions.value.split(",") if d.strip()]

    @guarded(area="path")
    def load_preview(self) -> None:
        """Read the first rows of the file (cheap), guess the header and the column mapping."""
        path = self.path.value.strip()
        if not path:
            self.preview = None
            self.preview_html.value = ""
            self.mapping_box.children = []
            return
        self.preview, header = preview_file(path)
        self.has_header = header
        self.header.unobserve(self._on_schema, "value")
        self.header.value = header
        self.header.observe(self._on_schema, "value")
        self.preview_html.value = ("<div style='font-size:12px'>first rows of the file:</div>"
                                   + table_html(self.preview.head(6), max_height=200))
        self._build_mapping()

    def _build_mapping(self) -> None:
        if self.has_header != self.header.value:
            self.has_header = self.header.value
            self.preview, _ = _reheader(self.preview, self.header.value)
            self.preview_html.value = ("<div style='font-size:12px'>first rows of the file:</div>"
                                       + table_html(self.preview.head(6), max_height=200))
        fields = [*required_fields(self.domain.value, self.dataset_type.value)]
        if self.dataset_type.value != "ITEM_METADATA":
            fields[1:1] = self.forecast_dimensions
        cols = list(self.preview.columns)
        guess = guess_column_mapping(cols, fields, None if self.header.value else self.preview)
        self.mapping = {f: w.Dropdown(options=[NONE, *cols], value=guess[f] or NONE, description=f"{f} \u2190",
                                      style={"description_width": "150px"}, layout=w.Layout(width="420px"))
                        for f in fields}
        self.mapping_box.children = [w.HTML("<div style='font-size:12px'>schema field \u2190 file column "
                                            "(other columns are read as extra fields):</div>"),
                                     *self.mapping.values()]

    @property
    def column_mapping(self) -> dict:
        """``{schema field: file column}`` as chosen (None where not chosen)."""
        return {f: (None if d.value == NONE else d.value) for f, d in self.mapping.items()}

    def fill_rules(self) -> dict:
        rules = {"middlefill": self.middlefill.value, "backfill": self.backfill.value}
        for r in ("middlefill", "backfill"):
            if rules[r] == "value":
                rules[f"{r}_value"] = float(self.fill_value.value)
        return {"target": rules}

    # -------------------------------------------------------------- import
    def _on_import(self, button) -> None:
        self.run_import()

    @guarded
    def run_import(self):
        """Read the chosen data and build the dataset group (what the Import button does)."""
        self.import_button.disabled = True
        self.status.value = message_html(["importing ..."])
        try:
            self._import()
        except BaseException:
            self.status.value = message_html(["import failed (the error is shown above). The previous dataset "
                                              "group (if any) is kept."], "error")
            raise
        finally:
            self.import_button.disabled = False
        return self.dataset_group

    def _import(self) -> None:
        if self.source.value == "demo":
            sources, domain, freq = demo_sources(self.demo_name.value, int(self.demo_items.value),
                                                 int(self.demo_length.value), self.seed)
            dims = []
            with_domain = domain
        else:
            if self.preview is None:
                self.load_preview()
                if self.preview is None:
                    from fc_core.errors import ConfigError

                    raise ConfigError("type the path or URL of a file first.")
            opts = reader_options(list(self.preview.columns), self.column_mapping, self.header.value, self.preview,
                                  self.domain.value, self.dataset_type.value, self.forecast_dimensions)
            sources = {k: v for k, v in self.sources.items() if isinstance(v.get("path"), str)}
            sources[SOURCE_KEYS[self.dataset_type.value]] = {"path": self.path.value.strip(), **opts}
            with_domain, freq, dims = self.domain.value, None, self.forecast_dimensions
        freq = self.frequency.value or freq
        dg = build_dataset_group(sources, with_domain, freq, dims, fill=self.fill_rules(),
                                 aggregate_to=self.aggregate_to.value or None, aggregate_method=self.aggregate_method.value)
        self.dataset_group = dg
        self.sources = sources
        self.summary = dg.summary()
        overall, worst = summary_tables(self.summary)
        self.summary_html.value = (
            "<div style='display:flex;gap:24px;flex-wrap:wrap'><div><b>import summary</b>"
            + table_html(overall, max_height=320) + "</div><div><b>items with the most missing steps</b>"
            + table_html(worst, max_height=320) + "</div></div>")
        self._history = HistoryView(dg)
        self._index = self._history.index
        self.item_search.value = ""
        self._on_item_search(None)
        first = tuple(self.items.options[:3])
        if self.items.value == first:
            self.redraw()  # same labels, new data
        else:
            self.items.value = first
        got = ", ".join(f"{k} ({_describe(v['path'])})" for k, v in sources.items())
        for cb in self._listeners:  # linked panels take the new data (fc_widgets.link)
            cb(dg)
        self.status.value = message_html([f"imported {got}: {self.summary.overall['items']:,} items, "  # last
                                          f"{self.summary.overall['rows']:,} rows, frequency {dg.frequency}"], "ok")

    # --------------------------------------------------------- item preview
    def _on_item_search(self, change) -> None:
        if self._index is None:
            return
        shown, total = self._index.search(self.item_search.value, 200)
        keep = tuple(v for v in self.items.value if v in shown)
        self.items.options = shown
        self.items.value = keep
        self.item_count.value = search_message(len(shown), total, len(self._index))

    def _on_items(self, change) -> None:
        self.redraw()

    @guarded(area="preview")
    def redraw(self) -> None:
        """Draw the selected items' series."""
        labels = list(self.items.value)[:PREVIEW_ITEMS]
        if self.dataset_group is None or not labels:
            self.chart.outputs = ()
            self.caption.value = ""
            self.figure = None
            return
        dg = self.dataset_group
        frames = []
        for lab in labels:  # the item column holds the label (it names forecast dimensions too)
            f = self._history.frame(lab, max_points=3000)
            f[dg.item_field] = lab
            frames.append(f)
        frame = pd.concat(frames, ignore_index=True)
        self.figure = plotting.plot_series(frame, labels, title=f"Dataset group: {', '.join(labels)}")
        self.figure.axes[0].set_ylabel(dg.target_field)
        self.figure.axes[0].set_xlabel(f"time (frequency {dg.frequency})")
        show_figure(self.chart, self.figure, self.caption)


def _reheader(preview, header: bool):
    """Switch a preview between 'first row is a header' and not."""
    if header:
        names = [str(v) for v in preview.iloc[0]]
        body = preview.iloc[1:].reset_index(drop=True)
        body.columns = names
        return body, True
    first = pd.DataFrame([list(preview.columns)], columns=preview.columns)
    body = pd.concat([first, preview], ignore_index=True)
    body.columns = [f"column_{k + 1}" for k in range(body.shape[1])]
    return body, False


def _describe(path) -> str:
    return "demo data" if not isinstance(path, str) else path
