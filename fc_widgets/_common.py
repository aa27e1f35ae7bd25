"""Pieces shared by the panels: the base class with its error area, the item picker,
figure and table display."""
from __future__ import annotations

import base64
import functools
import html
import io
import traceback

import ipywidgets as w
import pandas as pd
import traitlets

from fc_core.errors import ForecastError
from fc_core.views import ALL_ITEMS, DEFAULT_LIMIT, ItemIndex, error_rows, search_message

FIGURE_DPI = 100


def guarded(method=None, *, area: str = "errors"):
    """Run a callback; any error it raises is shown in the panel's error area ``area`` (the
    one placed next to the control that runs it; kept in ``panel.last_error`` too), never
    swallowed silently. Ctrl-C still interrupts."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            self.clear_error(area)
            try:
                return fn(self, *args, **kwargs)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # shown to the user, with the traceback for bugs
                self.show_error(exc, area)
                return None

        return wrapper

    return decorate(method) if method is not None else decorate


class PanelBase(w.VBox):
    """A VBox with error areas that the guarded callbacks report into.

    ``self.errors`` is the main one: a panel that places it next to its main control
    (``self.errors = self.error_area()`` before ``super().__init__``) keeps it there, else
    it goes at the bottom. :meth:`error_area` makes more (e.g. one beside an Export box).
    """

    def __init__(self, children=(), **kwargs):
        placed = "errors" in self.__dict__.get("_areas", {})
        if not placed:
            self.errors = self.error_area()
        self.last_error: BaseException | None = None
        self._error_from: str | None = None
        super().__init__(children=[*children] if placed else [*children, self.errors], **kwargs)

    def error_area(self, name: str = "errors") -> w.HTML:
        """The error area ``name`` (made on first use; class ``fc-errors`` and ``fc-errors-<name>``)."""
        areas = self.__dict__.setdefault("_areas", {})
        if name not in areas:
            box = w.HTML(value="", layout=w.Layout(width="100%"))
            box.add_class("fc-errors")
            box.add_class(f"fc-errors-{name}")
            areas[name] = box
        return areas[name]

    def clear_error(self, area: str = "errors") -> None:
        self.error_area(area).value = ""
        if self.__dict__.get("_error_from") in (None, area):
            self.last_error = None
            self._error_from = None

    def show_error(self, exc: BaseException, area: str = "errors") -> None:
        self.last_error = exc
        self._error_from = area
        self.error_area(area).value = error_html(exc)

    @property
    def error_text(self) -> str:
        """The message of the last error shown ('' when none)."""
        return "" if self.last_error is None else str(self.last_error)


def error_html(exc: BaseException) -> str:
    """An fc_core error as its message (and the offending rows it carries); any other
    error with its type and traceback, since it is a bug to report."""
    kind = type(exc).__name__
    msg = html.escape(str(exc))
    parts = [f'<div style="border-left:4px solid #d62728;background:#fdecea;padding:6px 10px;margin:4px 0;'
             f'white-space:pre-wrap;font-family:monospace;font-size:12px"><b>{kind}</b>: {msg}']
    rows = error_rows(exc)
    if rows is not None:
        parts.append("<div>offending rows:</div>" + table_html(rows.head(20)))
    if not isinstance(exc, ForecastError):
        tb = html.escape("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:])
        parts.append(f"<details><summary>traceback</summary><pre>{tb}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


def message_html(lines, kind: str = "info") -> str:
    """Lines of text in a box: ``info`` (grey), ``warn`` (orange) or ``error`` (red)."""
    color = {"info": "#7f7f7f", "warn": "#ff7f0e", "error": "#d62728", "ok": "#2ca02c"}[kind]
    body = "<br>".join(html.escape(str(x)) for x in lines)
    return (f'<div style="border-left:4px solid {color};padding:4px 10px;margin:2px 0;font-size:12px;'
            f'white-space:pre-wrap">{body}</div>')


def table_html(df: pd.DataFrame, max_height: int = 260, highlight: pd.Series | None = None,
               float_format: str = "{:.4g}") -> str:
    """A compact HTML table that scrolls (both ways) inside the panel's width, so no column is
    cut off in a narrow window; rows where ``highlight`` is True are bold and green."""
    fmt = {c: (lambda v, f=float_format: "" if pd.isna(v) else f.format(v))
           for c in df.columns if pd.api.types.is_float_dtype(df[c])}
    styles = None
    if highlight is not None:
        styles = ['style="background:#e6f4e6;font-weight:bold"' if h else "" for h in highlight]
    align = {c: "right" if pd.api.types.is_numeric_dtype(df[c]) else "left" for c in df.columns}
    head = "".join(f"<th style='text-align:{align[c]};padding:2px 6px'>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i, (_, row) in enumerate(df.iterrows()):
        cells = "".join(
            f"<td style='text-align:{align[c]};padding:2px 6px;white-space:nowrap'>"
            f"{html.escape(fmt[c](row[c]) if c in fmt else str(row[c]))}</td>"
            for c in df.columns)
        body.append(f"<tr {styles[i] if styles else ''}>{cells}</tr>")
    # contain:inline-size: the table's width does not widen the widget (ipywidgets' HTML box is a flex
    # item that would otherwise grow to the table and be clipped); the div scrolls instead
    return (f'<div class="fc-table-scroll" style="max-height:{max_height}px;width:100%;max-width:100%;'
            f'overflow:auto;contain:inline-size;white-space:normal"><table class="fc-table" '
            f'style="border-collapse:collapse;font-size:12px"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def fixed_layout(fig) -> None:
    """Swap a one-axes figure's constrained layout (a layout pass on every render, about a
    third of the drawing time) for margins sized from its own labels, without drawing.

    The left margin fits the widest y tick label (formatted by the axis' own locator and
    formatter) and the y-axis label; the others fit one line of tick labels, the x label
    and the title. Figures with several axes keep their layout engine.
    """
    if len(fig.axes) != 1:
        return
    ax = fig.axes[0]
    w_px, h_px = fig.get_figwidth() * FIGURE_DPI, fig.get_figheight() * FIGURE_DPI
    fmt = ax.yaxis.get_major_formatter()
    fmt.set_locs(ax.yaxis.get_majorticklocs())
    labels = [fmt(v) for v in ax.yaxis.get_majorticklocs()] or [""]
    labels += [t.get_text() for t in ax.get_yticklabels()]
    char_px = 0.62 * 10 * FIGURE_DPI / 72  # average glyph width of 10 pt DejaVu Sans
    left = 10 + (22 if ax.get_ylabel() else 0) + char_px * max(len(s) for s in labels) + 6
    bottom = 12 + 20 + (20 if ax.get_xlabel() else 0)
    top = 8 + (22 if ax.get_title() else 0)
    fig.set_layout_engine("none")
    x0, y0 = min(left / w_px, 0.45), min(bottom / h_px, 0.4)
    ax.set_position([x0, y0, 1 - 42 / w_px - x0, 1 - top / h_px - y0])  # room for a centred date label


def figure_png(fig, fast_layout: bool = False) -> bytes:
    if fast_layout:
        fixed_layout(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    return buf.getvalue()


def show_figure(out: w.Output, fig, caption: w.HTML | None = None, note: str = "", fast_layout: bool = True) -> None:
    """Show a matplotlib Figure in ``out``, replacing what it showed (works with or without
    a connected front end: the PNG goes straight into the Output's state), then its title
    as the ``caption`` text below it (set last: once it reads the new title, the chart is shown).
    ``fast_layout`` (time-series charts) uses :func:`fixed_layout` instead of a layout pass."""
    title = fig.axes[0].get_title() if fig.axes else "figure"
    png = base64.b64encode(figure_png(fig, fast_layout)).decode("ascii")
    out.outputs = ({"output_type": "display_data",
                    "data": {"image/png": png, "text/plain": f"<Figure: {title}>"},
                    "metadata": {"image/png": {"width": int(fig.get_figwidth() * FIGURE_DPI)}}},)
    if caption is not None:
        caption.value = f"<div style='font-size:11px;color:#555'>Figure: {html.escape(title + note)}</div>"


def caption_html() -> w.HTML:
    c = w.HTML()
    c.add_class("fc-caption")
    return c


def chart_output() -> w.Output:
    out = w.Output(layout=w.Layout(width="100%", min_height="120px"))
    out.add_class("fc-chart")
    return out


class ItemPicker(w.VBox):
    """Search thousands of items by id: a text box and a dropdown of the matches (at most
    ``limit`` shown). ``value`` is the chosen label (:data:`~fc_core.views.ALL_ITEMS` for the
    sum when ``include_all``)."""

    value = traitlets.Unicode(None, allow_none=True)

    def __init__(self, index: ItemIndex, description: str = "item", include_all: bool = False,
                 limit: int = DEFAULT_LIMIT, value: str | None = None):
        self.index = index
        self.include_all = include_all
        self.limit = limit
        self.search = w.Text(value="", placeholder="search item id, e.g. client_12", description=f"search {description}",
                             continuous_update=True, style={"description_width": "110px"},
                             layout=w.Layout(width="330px"))
        self.dropdown = w.Dropdown(options=[], description=description, style={"description_width": "110px"},
                                   layout=w.Layout(width="330px"))
        self.count = w.Label()
        self.search.add_class("fc-item-search")
        self.dropdown.add_class("fc-item-dropdown")
        self.count.add_class("fc-item-count")
        self.search.observe(self._on_search, "value")
        self.dropdown.observe(self._on_choice, "value")
        super().__init__(children=[w.HBox([self.search, self.count]), self.dropdown])
        self._on_search(None)
        if value is not None:
            self.select(value)

    def set_index(self, index: ItemIndex) -> None:
        """Search another set of items (new data); the choice is kept when it is still there."""
        self.index = index
        self._on_search(None)

    def _on_search(self, change) -> None:
        shown, total = self.index.search(self.search.value, self.limit)
        opts = ([ALL_ITEMS] if self.include_all and not self.search.value.strip() else []) + shown
        keep = self.dropdown.value
        self.dropdown.options = opts
        self.dropdown.value = keep if keep in opts else (opts[0] if opts else None)
        self.count.value = search_message(len(shown), total, len(self.index))
        self.value = self.dropdown.value

    def _on_choice(self, change) -> None:
        self.value = self.dropdown.value

    def select(self, label: str) -> None:
        """Choose ``label`` (searching for it first when it is not among the shown matches)."""
        if label not in self.dropdown.options:
            self.search.value = label if label != ALL_ITEMS else ""
        self.dropdown.value = label

    def key(self) -> dict | None:
        """Key values of the chosen item (None for the sum or no choice)."""
        if self.value in (None, ALL_ITEMS):
            return None
        return self.index.key(self.value)
