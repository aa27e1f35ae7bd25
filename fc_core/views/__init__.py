"""Slicing, search and messages behind the interactive panels (``fc_widgets``).

The panels stay thin: every control change calls one function or method here,
then draws with :mod:`fc_core.plotting`. Everything here is pure pandas/numpy and
fast enough for thousands of items: per-item slices come from precomputed row
positions, not from a scan of the whole frame.

>>> import pandas as pd
>>> idx = ItemIndex(pd.DataFrame({"item_id": ["client_2", "client_12", "client_1", "shop_1"]}))
>>> idx.labels
['client_1', 'client_2', 'client_12', 'shop_1']
>>> idx.search("client_1")
(['client_1', 'client_12'], 2)
>>> idx.search("2", limit=1)
(['client_2'], 2)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import ConfigError, SchemaError
from ..schema import TIMESTAMP

ALL_ITEMS = "(all items, summed)"
DEFAULT_LIMIT = 200
BACKTEST_META = ("observed", "algorithm", "backtest_window", "backtestwindow_start_time", "backtestwindow_end_time")
_QCOL = re.compile(r"^p(\d+(?:\.\d+)?)$")


# ----------------------------------------------------------------- item ids
def natural_key(label: str) -> tuple:
    """Sort key that orders ``client_2`` before ``client_12``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(label)))


def item_labels(keys: pd.DataFrame) -> list[str]:
    """One readable label per row of a key frame: the item id, then any forecast dimensions.

    >>> item_labels(pd.DataFrame({"item_id": ["a"], "store": ["s1"]}))
    ['a (store=s1)']
    """
    cols = list(keys.columns)
    first = keys[cols[0]].astype(str).tolist()
    if len(cols) == 1:
        return first
    rest = [keys[c].astype(str).tolist() for c in cols[1:]]
    return [f"{a} (" + ", ".join(f"{c}={v[i]}" for c, v in zip(cols[1:], rest)) + ")"
            for i, a in enumerate(first)]


class ItemIndex:
    """The items of a long frame (or a key frame): labels, search, and row positions.

    Parameters
    ----------
    frame : DataFrame
        A long frame (one row per item and time) or a key frame (one row per item).
    key_columns : list of str, optional
        The item field then the forecast dimensions (default: the first column).
    """

    def __init__(self, frame: pd.DataFrame, key_columns: Sequence[str] | None = None):
        self.key_columns = list(key_columns or [frame.columns[0]])
        missing = [c for c in self.key_columns if c not in frame.columns]
        if missing:
            raise SchemaError(f"the frame has no column(s) {missing}; its columns are {list(frame.columns)}.")
        grouped = frame.groupby(self.key_columns, sort=False, dropna=False).indices
        keys = pd.DataFrame([k if isinstance(k, tuple) else (k,) for k in grouped], columns=self.key_columns)
        labels = item_labels(keys)
        order = sorted(range(len(labels)), key=lambda i: natural_key(labels[i]))
        self.labels: list[str] = [labels[i] for i in order]
        self.keys = keys.iloc[order].reset_index(drop=True)
        positions = list(grouped.values())
        self._rows = {labels[i]: np.asarray(positions[i]) for i in order}
        self._lower = [s.lower() for s in self.labels]
        self._pos = {lab: i for i, lab in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label) -> bool:
        return label in self._rows

    def search(self, query: str = "", limit: int = DEFAULT_LIMIT) -> tuple[list[str], int]:
        """Labels containing ``query`` (case-insensitive), exact match first, then those
        starting with it, then the rest, each in natural order; at most ``limit``.

        Returns the shown labels and the number of matches in all.
        """
        q = str(query or "").strip().lower()
        if not q:
            return self.labels[:limit], len(self.labels)
        hit = np.array([q in s for s in self._lower], dtype=bool)
        idx = np.flatnonzero(hit)
        rank = np.array([0 if self._lower[i] == q else 1 if self._lower[i].startswith(q) else 2 for i in idx])
        idx = idx[np.argsort(rank, kind="stable")]
        return [self.labels[i] for i in idx[:limit]], int(len(idx))

    def rows(self, label: str) -> np.ndarray:
        """Row positions of ``label`` in the indexed frame.

        Raises
        ------
        ConfigError
            If there is no such item.
        """
        try:
            return self._rows[label]
        except KeyError:
            raise ConfigError(f"no item {label!r}; search the item list for its id.") from None

    def key(self, label: str) -> dict:
        """The key values of ``label`` as ``{column: value}``."""
        if label not in self._pos:
            raise ConfigError(f"no item {label!r}; search the item list for its id.")
        row = self.keys.iloc[self._pos[label]]
        return {c: row[c] for c in self.key_columns}


def search_message(shown: int, total: int, n_items: int) -> str:
    """``"12 of 3,000 items match"`` / ``"showing 200 of 2,345 matches"``."""
    if total == 0:
        return f"no item matches (of {n_items:,})"
    if shown < total:
        return f"showing {shown:,} of {total:,} matches ({n_items:,} items)"
    return f"{total:,} of {n_items:,} items"


# ------------------------------------------------------------------ history
class HistoryView:
    """Per-item and summed history of a dataset group, as small canonical frames for plotting.

    Parameters
    ----------
    data : DatasetGroup, Panel or DataFrame
        A frame needs ``key_columns`` (default its first column) and ``target_field``
        (default its last column).
    """

    def __init__(self, data, key_columns: Sequence[str] | None = None, target_field: str | None = None):
        self.panel = None
        self._frame = None
        self._total = None
        if hasattr(data, "to_panel"):
            self.panel = data.to_panel()
            self.target_field = target_field or data.target_field
        elif hasattr(data, "indptr"):
            self.panel = data
            self.target_field = target_field or "target_value"
        else:
            self._frame = data
            self.target_field = target_field or data.columns[-1]
        if self.panel is not None:
            self.key_columns = self.panel.key_columns
            labels = item_labels(self.panel.keys)
            self._row_of = {lab: i for i, lab in enumerate(labels)}
            self.index = ItemIndex(self.panel.keys, self.key_columns)
            self.frequency = self.panel.frequency
        else:
            self.key_columns = list(key_columns or [data.columns[0]])
            self.index = ItemIndex(data, self.key_columns)
            self.frequency = None

    @property
    def labels(self) -> list[str]:
        return self.index.labels

    def series(self, label: str | None = None) -> pd.Series:
        """The target of one item (by label), or the sum over all items when ``label`` is
        None or :data:`ALL_ITEMS`, as a time-indexed Series."""
        if label is None or label == ALL_ITEMS:
            return self.total()
        if self.panel is not None:
            if label not in self._row_of:
                raise ConfigError(f"no item {label!r} in the data; search the item list for its id.")
            i = self._row_of[label]
            return pd.Series(self.panel.series(i), index=self.panel.timestamps(i), name=self.target_field)
        sub = self._frame.iloc[self.index.rows(label)]
        return sub.groupby(TIMESTAMP)[self.target_field].sum().sort_index().rename(self.target_field)

    def total(self) -> pd.Series:
        """Sum over all items per timestamp (NaN where no item has a value); cached."""
        if self._total is None:
            if self.panel is not None:
                self._total = _panel_total(self.panel).rename(self.target_field)
            else:
                self._total = self._frame.groupby(TIMESTAMP)[self.target_field].sum(min_count=1).sort_index()
        return self._total

    def frame(self, label: str | None = None, before=None, max_points: int | None = None) -> pd.DataFrame:
        """A small canonical frame (keys, ``timestamp``, target) of one item or of the sum,
        optionally only the points before ``before`` and thinned to ``max_points`` by
        :func:`envelope`; what :mod:`fc_core.plotting` draws."""
        s = self.series(label)
        if before is not None:
            s = s[s.index < pd.Timestamp(before)]
        if max_points is not None:
            s = envelope(s, max_points)
        out = pd.DataFrame({TIMESTAMP: s.index, self.target_field: s.to_numpy()})
        key = self.index.key(label) if label not in (None, ALL_ITEMS) else {c: ALL_ITEMS for c in self.key_columns}
        for k, c in enumerate(self.key_columns):
            out.insert(k, c, key[c])
        return out


def envelope(s: pd.Series, max_points: int) -> pd.Series:
    """Thin a long series for drawing: keep the first, the lowest and the highest point of
    each of ``max_points // 3`` equal runs, so the drawn line keeps its peaks and troughs.

    >>> x = pd.Series([0.0, 5, 1, 1, -3, 1, 2, 2, 9], index=pd.RangeIndex(9))
    >>> envelope(x, 6).tolist()
    [0.0, 5.0, -3.0, 9.0]
    """
    n = len(s)
    runs = max(int(max_points) // 3, 1)
    if n <= max_points or n <= 3:
        return s
    v = s.to_numpy(dtype=float)
    edges = np.linspace(0, n, runs + 1).astype(np.int64)
    keep = []
    filled = np.where(np.isnan(v), np.nanmean(v) if np.isfinite(v).any() else 0.0, v)
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        seg = filled[a:b]
        keep += [a, a + int(np.argmin(seg)), a + int(np.argmax(seg))]
    return s.iloc[np.unique(keep)]


def _panel_total(panel) -> pd.Series:
    lens = panel.lengths
    has = lens > 0
    if not has.any():
        return pd.Series(dtype=float)
    t0 = panel.starts[has].min()
    off = np.rint(fq.step_index(panel.starts, pd.DatetimeIndex([t0] * panel.n_series), panel.frequency)).astype(np.int64)
    span = int((off + lens)[has].max())
    pos = np.repeat(off, lens) + (np.arange(len(panel.values)) - np.repeat(panel.indptr[:-1], lens))
    vals = panel.values
    ok = ~np.isnan(vals)
    total = np.bincount(pos[ok], weights=vals[ok], minlength=span)
    count = np.bincount(pos[ok], minlength=span)
    total = np.where(count > 0, total, np.nan)
    return pd.Series(total, index=fq.date_range(t0, span, panel.frequency))


# ---------------------------------------------------------------- backtests
@dataclass
class WindowPlan:
    """What a choice of horizon, windows and offset gives: the windows, which items each
    leaves out, readable messages, and the ConfigError text when the choice does not fit."""

    config: dict
    windows: list = field(default_factory=list)
    coverage: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def plan_windows(panel, forecast_horizon: int, backtest_windows: int = 1, backtest_offset: int | None = None,
                 max_listed: int = 10) -> WindowPlan:
    """Lay the backtest windows over ``panel`` and explain them, never raising for a bad choice.

    The error text is exactly the :class:`~fc_core.errors.ConfigError` that
    :func:`fc_core.backtest.panel_windows` (and so the AutoPredictor) raises.
    """
    from ..backtest import check_horizon, panel_windows, window_coverage

    cfg = {"forecast_horizon": int(forecast_horizon), "backtest_windows": int(backtest_windows),
           "backtest_offset": None if backtest_offset is None else int(backtest_offset)}
    plan = WindowPlan(cfg)
    try:
        check_horizon(cfg["forecast_horizon"], int(panel.lengths.max(initial=0)))
        plan.windows = panel_windows(panel, cfg["forecast_horizon"], cfg["backtest_windows"], cfg["backtest_offset"])
    except ConfigError as exc:
        plan.error = str(exc)
        return plan
    labels = np.array(item_labels(panel.keys), dtype=object)
    for w in plan.windows:
        cov = window_coverage(panel, w, cfg["forecast_horizon"])
        plan.coverage.append(cov)
        plan.messages.append(coverage_message(w, cov, labels, max_listed))
    return plan


def coverage_message(window, coverage: pd.DataFrame, labels=None, max_listed: int = 10) -> str:
    """``"backtest window 1: train to ..., test ... to ...: scores 998 of 1,000 items; leaves out 2:
    item_3 (too short), ..."``."""
    n = len(coverage)
    reason = coverage["reason"].to_numpy()
    out = np.flatnonzero(reason != "")
    fmt = "%Y-%m-%d %H:%M"
    head = (f"backtest window {window.index + 1}: train to {window.cutoff.strftime(fmt)}, "
            f"test {window.start.strftime(fmt)} to {window.end.strftime(fmt)}: "
            f"scores {n - len(out):,} of {n:,} items")
    if len(out) == 0:
        return head + "."
    if labels is None:
        labels = np.array(item_labels(coverage.drop(columns=["train_length", "test_points", "reason"])), dtype=object)
    listed = ", ".join(f"{labels[i]} ({reason[i]})" for i in out[:max_listed])
    more = f" and {len(out) - max_listed:,} more" if len(out) > max_listed else ""
    return f"{head}; leaves out {len(out):,}: {listed}{more}."


# ---------------------------------------------------------------- forecasts
def quantile_columns(columns: Sequence[str]) -> list[str]:
    """The quantile columns (``p10``, ``p2.5`` ...) in increasing order."""
    qs = [(float(m.group(1)), c) for c in columns if (m := _QCOL.match(str(c)))]
    return [c for _, c in sorted(qs)]


def band_choices(columns: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair (lower, upper) of quantile columns: the symmetric pairs outermost first
    (``p10``-``p90``), then the others.

    >>> band_choices(["p10", "p50", "p90", "mean"])
    [('p10', 'p90'), ('p10', 'p50'), ('p50', 'p90')]
    """
    from ..plotting import quantile_pairs

    qs = quantile_columns(columns)
    sym = quantile_pairs(qs)
    rest = [(a, b) for i, a in enumerate(qs) for b in qs[i + 1:] if (a, b) not in sym]
    return sym + rest


class ForecastView:
    """Per-item slices of a forecast frame, or of an AutoPredictor's ``backtest_forecasts()``.

    Parameters
    ----------
    forecast : Forecast or DataFrame
        Keys, ``timestamp`` and forecast-type columns; a backtest frame also has the
        actuals, ``backtest_window`` and ``algorithm``.
    key_columns : list of str, optional
        Default the forecast's, else the columns before ``timestamp``.
    """

    def __init__(self, forecast, key_columns: Sequence[str] | None = None, target_field: str | None = None):
        frame = getattr(forecast, "frame", forecast)
        if TIMESTAMP not in frame.columns:
            raise SchemaError(f"a forecast frame needs a 'timestamp' column; it has {list(frame.columns)}.")
        cols = list(frame.columns)
        self.key_columns = list(key_columns or getattr(forecast, "key_columns", None) or cols[:cols.index(TIMESTAMP)])
        self.frame = frame
        self.forecast_types = quantile_columns(cols) + (["mean"] if "mean" in cols else [])
        if not self.forecast_types:
            raise SchemaError(f"the frame has no forecast columns (p10, p50, ..., mean); it has {cols}.")
        self.is_backtest = "backtest_window" in cols
        rest = [c for c in cols if c not in (*self.key_columns, TIMESTAMP, *self.forecast_types, *BACKTEST_META)]
        self.target_field = target_field or getattr(forecast, "target_field", None) or (rest[0] if rest else "target_value")
        self.actual_column = self.target_field if self.target_field in cols else None
        self.windows = sorted(frame["backtest_window"].unique().tolist()) if self.is_backtest else []
        self.algorithms = frame["algorithm"].unique().tolist() if "algorithm" in cols else []
        self.index = ItemIndex(frame, self.key_columns)
        self.bands = band_choices(cols)

    @property
    def labels(self) -> list[str]:
        return self.index.labels

    def item(self, label: str, window: int | None = None, algorithm: str | None = None) -> pd.DataFrame:
        """Rows of one item (one backtest window and algorithm for backtests), by time.

        Raises
        ------
        ConfigError
            For an unknown item, window or algorithm.
        """
        sub = self.frame.iloc[self.index.rows(label)]
        if self.is_backtest:
            w = self.windows[0] if window is None else window
            if w not in self.windows:
                raise ConfigError(f"no backtest window {w!r}; the windows are {self.windows}.")
            sub = sub[sub["backtest_window"] == w]
        if self.algorithms:
            a = algorithm or self.algorithms[0]
            if a not in self.algorithms:
                raise ConfigError(f"no algorithm {a!r} in the forecasts; they hold {self.algorithms}.")
            sub = sub[sub["algorithm"] == a]
        return sub.sort_values(TIMESTAMP).reset_index(drop=True)

    def forecast_part(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Keys, timestamp and forecast types only (what ``plot_forecast`` draws)."""
        return rows[[*self.key_columns, TIMESTAMP, *self.forecast_types]]

    def actuals(self, rows: pd.DataFrame) -> pd.Series | None:
        """The observed actuals of a backtest slice as a time-indexed Series (None for forecasts)."""
        if self.actual_column is None:
            return None
        r = rows[rows["observed"]] if "observed" in rows.columns else rows
        return pd.Series(r[self.actual_column].to_numpy(), index=pd.DatetimeIndex(r[TIMESTAMP]), name="actual")

    def table(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The values shown beside the chart: timestamp, actual (backtests), forecast types."""
        cols = [TIMESTAMP, *([self.actual_column] if self.actual_column else []), *self.forecast_types]
        return rows[cols].reset_index(drop=True)

    def export_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Amazon Forecast's export layout of a slice: keys, ``date`` (ISO 8601) and the
        forecast types (backtests: also the actual and the window's start and end)."""
        iso = "%Y-%m-%dT%H:%M:%SZ"
        out = rows[[*self.key_columns]].copy()
        out["date"] = pd.to_datetime(rows[TIMESTAMP]).dt.strftime(iso)
        if self.actual_column:
            out[self.actual_column] = rows[self.actual_column]
        for c in self.forecast_types:
            out[c] = rows[c]
        if self.is_backtest:
            for c in ("backtestwindow_start_time", "backtestwindow_end_time"):
                out[c] = pd.to_datetime(rows[c]).dt.strftime(iso)
        return out.reset_index(drop=True)


def export_csv(frame: pd.DataFrame, path: str) -> str:
    """Write ``frame`` as CSV to ``path`` (a local path or a URL) and return the path written.

    Raises
    ------
    ConfigError
        When the path cannot be written (a folder that cannot be made, no permission, a
        folder given instead of a file ...): the path, the system's reason and the fix.
    """
    from ..io import write_frame

    path = str(path).strip()
    if not path:
        raise ConfigError("type a file path (or an s3:// URL) to write the CSV to.")
    if path.endswith(("/", "\\")):
        raise ConfigError(f"cannot write the CSV to {path!r}: it names a folder; add a file name such as "
                          f"{path}forecast.csv.")
    try:
        return write_frame(frame, path, "csv")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot write the CSV to {path!r}: {reason}. Choose a file in a folder you can "
                          "write to (e.g. output/forecast.csv).") from None


# -------------------------------------------------------------- leaderboard
LEADERBOARD_INFO = ("algorithm", "backtest_window", "window_start", "window_end", "n_items", "n_observed",
                    "weight", "items_chosen", "train_seconds", "fallback_items", "fallback_share", "mostly_fallback")


def fallback_text(predictor) -> str:
    """One line: per algorithm, the items that got the fallback forecast in the backtests, and why
    (:func:`fc_core.automl.fallback_text`)."""
    from ..automl import fallback_text as _text

    return _text(predictor)


def metric_columns(board: pd.DataFrame) -> list[str]:
    """The metric columns of a leaderboard (everything numeric but counts, weights, timings)."""
    return [c for c in board.columns if c not in LEADERBOARD_INFO and pd.api.types.is_numeric_dtype(board[c])]


def rank_leaderboard(board: pd.DataFrame, metric: str, window: int | None = None) -> pd.DataFrame:
    """The leaderboard sorted by ``metric`` (best first, by :func:`fc_core.metrics.ranking_score`:
    ``Coverage[level]`` by its distance from the level) with a ``best`` column; for a
    per-window board, only ``window`` when given.

    Raises
    ------
    ConfigError
        For a metric the board does not have, or an unknown window.
    """
    if metric not in board.columns:
        raise ConfigError(f"the leaderboard has no metric {metric!r}; it has {metric_columns(board)}.")
    b = board
    if window is not None:
        if "backtest_window" not in b.columns or window not in set(b["backtest_window"]):
            have = sorted(set(b["backtest_window"])) if "backtest_window" in b.columns else []
            raise ConfigError(f"no backtest window {window!r}; the windows are {have}.")
        b = b[b["backtest_window"] == window]
    from ..metrics import ranking_score

    score = ranking_score(metric, b[metric])  # Coverage[level]: distance from the level
    b = b.assign(_score=score).sort_values("_score", kind="stable", na_position="last")
    best = b["_score"].min()
    b.insert(0, "best", (b["_score"] == best) & b["_score"].notna())
    return b.drop(columns="_score").reset_index(drop=True)


# ----------------------------------------------------------------- training
def training_steps(n_windows: int, n_algorithms: int) -> int:
    """Progress steps of an AutoPredictor run: every (window, algorithm) backtest, then at
    most one final training per algorithm."""
    return n_windows * n_algorithms + n_algorithms


def progress_text(event: dict, n_windows: int) -> str:
    """Readable text of one ``AutoPredictor.train`` callback event.

    >>> progress_text({"stage": "backtest", "algorithm": "ETS", "window": 0, "elapsed": 3.21}, 2)
    'backtest window 1/2: ETS (3.2 s elapsed)'
    >>> progress_text({"stage": "done", "algorithm": None, "window": None, "elapsed": 9.0}, 2)
    'done in 9.0 s'
    """
    stage, el = event.get("stage"), float(event.get("elapsed") or 0.0)
    if stage == "backtest":
        return f"backtest window {int(event['window']) + 1}/{n_windows}: {event['algorithm']} ({el:.1f} s elapsed)"
    if stage == "train":
        return f"final training on all the data: {event['algorithm']} ({el:.1f} s elapsed)"
    if stage == "done":
        return f"done in {el:.1f} s"
    return f"{stage}: {event.get('algorithm') or ''} ({el:.1f} s elapsed)"


def ensemble_check_text(check: dict, metric: str) -> str:
    """One line on how an AutoPredictor's blend fared on backtest windows it was not chosen on
    (``AutoPredictor.ensemble_check_``).

    >>> ensemble_check_text({"decision": "blend", "held_out": [
    ...     {"blend": 0.10, "single": 0.12, "best_single": "GBM"},
    ...     {"blend": 0.20, "single": 0.19, "best_single": "ETS"}]}, "WAPE")
    'on held-out backtest windows the blend scored 0.1500 against 0.1550 for the best single candidate (mean item WAPE): blend kept'
    >>> ensemble_check_text({"decision": "single: GBM", "held_out": [{"blend": 0.3, "single": 0.2, "best_single": "GBM"}]}, "WAPE")
    'on held-out backtest windows the blend scored 0.3000 against 0.2000 for the best single candidate (mean item WAPE): GBM used alone'
    >>> ensemble_check_text({"decision": "blend"}, "WAPE")
    'blend not checked on held-out windows (it needs two or more backtest windows)'
    """
    rows = check.get("held_out") or []
    if not rows:
        if str(check.get("decision", "")).startswith("single"):
            return "a single candidate was best on the backtests; no blend"
        return "blend not checked on held-out windows (it needs two or more backtest windows)"
    b = float(np.mean([r["blend"] for r in rows]))
    s1 = float(np.mean([r["single"] for r in rows]))
    decision = str(check.get("decision", ""))
    verdict = "blend kept" if decision == "blend" else f"{decision.split(':', 1)[-1].strip()} used alone"
    return (f"on held-out backtest windows the blend scored {b:.4f} against {s1:.4f} for the best single "
            f"candidate (mean item {metric}): {verdict}")


def blend_summary(weights: dict, check: dict, item_choice: pd.DataFrame | None, board: pd.DataFrame | None,
                  metric: str, ensemble: str = "AutoPredictor") -> list[str]:
    """What the AutoPredictor forecasts with, in lines that agree with its leaderboard row.

    The AutoPredictor is the global blend (``weights``) for most items plus a per-item
    choice (``item_choice``'s ``algorithm`` column: another candidate or an even pair) where
    that scored better; so it can beat every single candidate even when the global blend
    is one algorithm alone. The lines say both parts, the held-out check of the blend, and
    how the AutoPredictor's row compares with the best single candidate's in ``board``.

    >>> board = pd.DataFrame({"algorithm": ["AutoPredictor", "GBM", "ETS"], "WAPE": [0.20, 0.22, 0.30]})
    >>> choice = pd.DataFrame({"algorithm": ["AutoPredictor"] * 8 + ["ETS"] * 2})
    >>> for line in blend_summary({"GBM": 1.0}, {"decision": "single"}, choice, board, "WAPE"):
    ...     print(line)
    AutoPredictor = GBM alone (global blend weight 1.00) for 8 of 10 items; a per-item choice for 2: ETS 2
    the global blend is a single candidate: no mix of candidates beat GBM alone on the backtests
    AutoPredictor scores 0.2000 by WAPE against 0.2200 for GBM, the best single candidate: the per-item choices make the difference
    """
    from ..metrics import ranking_score

    if len(weights) == 1:
        (only, wt), = weights.items()
        glob = f"{only} alone (global blend weight {wt:.2f})"
    else:
        glob = "a blend of " + ", ".join(f"{a} {v:.2f}" for a, v in weights.items())
    labels = item_choice["algorithm"] if item_choice is not None and "algorithm" in item_choice else pd.Series([], dtype=object)
    n = len(labels)
    own = labels[labels != ensemble]
    if n and len(own):
        counts = own.value_counts()
        first = (f"{ensemble} = {glob} for {n - len(own):,} of {n:,} items; a per-item choice for {len(own):,}: "
                 + ", ".join(f"{a} {c:,}" for a, c in counts.items()))
    else:
        first = f"{ensemble} = {glob}" + (f" for all {n:,} items" if n else "")
    lines = [first]
    rows = check.get("held_out") or []
    if rows:
        lines.append(ensemble_check_text(check, metric))
    elif len(weights) == 1:
        lines.append(f"the global blend is a single candidate: no mix of candidates beat {next(iter(weights))} "
                     "alone on the backtests")
    else:
        lines.append(ensemble_check_text(check, metric))
    if board is not None and metric in board.columns and "algorithm" in board.columns:
        ens = board.loc[board["algorithm"] == ensemble, metric]
        singles = board[board["algorithm"] != ensemble].dropna(subset=[metric])
        if len(ens) and pd.notna(ens.iloc[0]) and len(singles):
            sc = ranking_score(metric, singles[metric]).to_numpy()
            best = singles.iloc[int(np.argmin(sc))]
            e, b = float(ens.iloc[0]), float(best[metric])
            e_sc, b_sc = float(ranking_score(metric, np.array([e]))[0]), float(sc.min())
            head = (f"{ensemble} scores {e:.4f} by {metric} against {b:.4f} for {best['algorithm']}, "
                    "the best single candidate")
            if e_sc < b_sc - 1e-12:
                why = ("the per-item choices make the difference" if len(own) and len(weights) == 1
                       else "the blend and the per-item choices make the difference")
                lines.append(f"{head}: {why}")
            elif e_sc > b_sc + 1e-12:
                lines.append(f"{head}: {best['algorithm']} alone scored better on these backtests")
            else:
                lines.append(f"{head}: the same")
    return lines


# --------------------------------------------------------------- data files
from ..readers import TIME_NAMES as _TIME_NAMES  # noqa: E402
_ITEM_NAMES = ("item_id", "item", "id", "unique_id", "series", "series_id", "sku", "client", "name")
_TARGET_NAMES = ("target_value", "target", "y", "value", "demand", "sales", "quantity", "load")


def _candidates(field: str) -> tuple:
    from ..schema import DOMAINS

    if field == TIMESTAMP:
        return _TIME_NAMES
    if field in {d.item_field for d in DOMAINS.values()}:
        return (field, *_ITEM_NAMES)
    if field in {d.target_field for d in DOMAINS.values()}:
        return (field, *_TARGET_NAMES)
    return (field,)


def guess_column_mapping(columns: Sequence[str], fields: Sequence[str], preview: pd.DataFrame | None = None) -> dict:
    """A first guess of which file column holds each schema field: the same name (any
    case), then a common synonym (``date`` for ``timestamp``, ``y`` or ``value`` for a
    domain's target field, ``id`` or ``sku`` for its item field); then, given the
    ``preview`` rows (a headerless file's ``column_1`` ...), by content: the first date
    column for ``timestamp``, text columns for the item field and the forecast
    dimensions, the first number column for the target. None when nothing fits.

    >>> guess_column_mapping(["Date", "client", "kW"], ["item_id", "timestamp", "target_value"])
    {'item_id': 'client', 'timestamp': 'Date', 'target_value': None}
    >>> rows = pd.DataFrame({"column_1": ["2024-01-01", "2024-01-02"], "column_2": ["a", "a"], "column_3": ["1", "2.5"]})
    >>> guess_column_mapping(list(rows.columns), ["item_id", "timestamp", "target_value"], rows)
    {'item_id': 'column_2', 'timestamp': 'column_1', 'target_value': 'column_3'}
    """
    lower = {}
    for c in columns:
        lower.setdefault(str(c).lower(), c)
    out, used = {}, set()
    for f in fields:
        hit = next((lower[n] for n in _candidates(f) if n in lower and lower[n] not in used), None)
        out[f] = hit
        if hit is not None:
            used.add(hit)
    if preview is not None and len(preview):
        kinds = {c: {_kind(v) for v in preview[c]} - {"empty"} for c in columns if c in preview.columns}
        want = {f: _field_kind(f) for f in fields}
        for f in fields:
            if out[f] is not None or want[f] is None:
                continue
            hit = next((c for c in columns if c not in used and kinds.get(c) == {want[f]}), None)
            out[f] = hit
            if hit is not None:
                used.add(hit)
    return out


def _field_kind(field: str) -> str:
    """What a field's cells look like: ``date`` (timestamp), ``number`` (a domain's target)
    or ``text`` (item ids, forecast dimensions and any other key)."""
    from ..schema import DOMAINS

    if field == TIMESTAMP:
        return "date"
    if field in {d.target_field for d in DOMAINS.values()}:
        return "number"
    return "text"


def apply_column_mapping(frame: pd.DataFrame, mapping: dict, source: str = "the file") -> pd.DataFrame:
    """Rename a frame's columns to the schema's field names (``{field: column}``); other
    columns keep their names.

    Raises
    ------
    SchemaError
        If a field has no column, a column is not in the frame, or one column is mapped twice.
    """
    check_column_mapping(list(frame.columns), mapping, source)
    return frame.rename(columns={c: f for f, c in mapping.items()})


def error_rows(exc: BaseException, max_rows: int = 5) -> pd.DataFrame | None:
    """The offending rows an fc_core error names, for showing beside its message.

    An error may carry a frame (``exc.rows``); otherwise the lines its message names
    (``file 'x.csv', line 7``) are read back from the file. None when it names none.
    """
    for name in ("rows", "frame", "bad_rows", "examples"):
        v = getattr(exc, name, None)
        if isinstance(v, pd.DataFrame):
            return v
    found = []
    for path, line in re.findall(r"file '([^']+)', line (\d+)", str(exc)):
        if (path, int(line)) not in found:
            found.append((path, int(line)))
    if not found:
        return None
    rows = []
    for path, line in found[:max_rows]:
        rows.append({"file": path, "line": line, "text": _read_line(path, line)})
    return pd.DataFrame(rows)


def _read_line(path: str, line: int, max_chars: int = 300) -> str:
    try:
        if "://" in path and not path.startswith("file://"):
            import fsspec

            fh = fsspec.open(path, "rt", errors="replace").open()
        else:
            fh = open(path.removeprefix("file://"), "rt", errors="replace")
        with fh:
            for k, text in enumerate(fh, start=1):
                if k == line:
                    return text.rstrip("\r\n")[:max_chars]
    except OSError as exc:
        return f"(could not read the line: {exc})"
    return "(past the end of the file)"


# ------------------------------------------------------------- file preview
def preview_file(path: str, nrows: int = 8) -> tuple[pd.DataFrame, bool]:
    """The first rows of a dataset file as text, and whether its first row looks like a header.

    Reads only the first rows (CSV) or the first row group batch (Parquet): cheap on a
    large file. For a folder or glob the first file is shown. Columns of a headerless
    CSV are named ``column_1``, ``column_2`` ...

    Raises
    ------
    DataError
        If there is no such file or it has no rows.
    """
    from ..errors import DataError
    from ..readers import expand_paths

    first = expand_paths(path)[0]
    if first.lower().endswith((".parquet", ".pq", ".parq")):
        import pyarrow.parquet as pq

        import fsspec

        with fsspec.open(first, "rb") as fh:
            batch = next(pq.ParquetFile(fh).iter_batches(batch_size=nrows), None)
        if batch is None:
            raise DataError(f"file '{first}' has no rows.")
        return batch.to_pandas().astype(str), True
    import fsspec

    with fsspec.open(first, "rt", errors="replace") as fh:
        raw = pd.read_csv(fh, header=None, nrows=nrows + 1, dtype=str, keep_default_na=False,
                          skip_blank_lines=True)
    if raw.empty:
        raise DataError(f"file '{first}' is empty; check that you exported the data.")
    header = looks_like_header(raw)
    if header:
        names = [str(c).strip() or f"column_{k + 1}" for k, c in enumerate(raw.iloc[0])]
        body = raw.iloc[1:].reset_index(drop=True)
        body.columns = names
    else:
        body = raw.iloc[:nrows].reset_index(drop=True)
        body.columns = [f"column_{k + 1}" for k in range(raw.shape[1])]
    return body, header


from ..readers import cell_kind as _kind, looks_like_header  # noqa: E402  (one header rule, with the reader's)


def reader_options(columns: Sequence[str], mapping: dict, header: bool, preview: pd.DataFrame | None = None,
                   domain: str = "CUSTOM", dataset_type: str = "TARGET_TIME_SERIES",
                   forecast_dimensions: Sequence[str] = ()) -> dict:
    """The reading options of a file whose columns are mapped to schema fields
    (``{field: file column}``): ``column_map`` for a file with a header, or a ``schema``
    in the file's column order for a headerless one (unmapped columns keep their
    names, typed float when the preview shows only numbers, else string).

    Raises
    ------
    SchemaError
        As :func:`apply_column_mapping`.
    """
    from ..schema import get_domain

    check_column_mapping(list(columns), mapping)
    by_col = {c: f for f, c in mapping.items()}
    if header:
        return {"header": True, "column_map": {c: f for c, f in by_col.items() if c != f}}
    dom = get_domain(domain)
    keys = {dom.item_field, *forecast_dimensions}
    fields = []
    for c in columns:
        name = by_col.get(c, c)
        if name == TIMESTAMP and dataset_type != "ITEM_METADATA":
            typ = "timestamp"
        elif name in keys:
            typ = "string"
        elif name == dom.target_field and dataset_type == "TARGET_TIME_SERIES":
            typ = "float"
        elif preview is not None and c in preview.columns and \
                {_kind(v) for v in preview[c]} - {"empty"} <= {"number"} and len(preview):
            typ = "float"
        else:
            typ = "string"
        fields.append(f"{name}:{typ}")
    return {"header": False, "schema": ",".join(fields)}


def check_column_mapping(columns: Sequence[str], mapping: dict, source: str = "the file") -> None:
    """Check a ``{field: column}`` mapping against the file's columns.

    Raises
    ------
    SchemaError
        If a field has no column, a column is not in the file, or one column is mapped twice.
    """
    unmapped = [f for f, c in mapping.items() if not c]
    if unmapped:
        raise SchemaError(f"{source}: choose a column for field(s) {unmapped}; the file's columns are {list(columns)}.")
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        raise SchemaError(f"{source} has no column(s) {missing}; its columns are {list(columns)}.")
    cols = list(mapping.values())
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise SchemaError(f"{source}: column(s) {dupes} are mapped to more than one field; map each column once.")
    clash = [c for c in columns if c in mapping and mapping[c] != c and c not in cols]
    if clash:
        raise SchemaError(f"{source}: column(s) {clash} already carry a field's name but another column is mapped "
                          "to that field; map the column of that name, or rename it in the file.")


# ------------------------------------------------------------ dataset group
DEMO_DOMAINS = {"electricity": ("CUSTOM", "H"), "retail": ("RETAIL", "M"), "ec2_capacity": ("EC2_CAPACITY", "H")}
SOURCE_KEYS = {"TARGET_TIME_SERIES": "target", "RELATED_TIME_SERIES": "related", "ITEM_METADATA": "item_metadata"}


def demo_sources(name: str, n_items: int, length: int, seed: int = 0) -> tuple[dict, str, str]:
    """The frames of built-in demo ``name`` as sources for :func:`build_dataset_group`, with
    its domain and frequency. ``length`` is days (electricity), periods (retail) or
    days of hours (ec2_capacity).

    Raises
    ------
    ConfigError
        For an unknown demo or sizes that do not fit.
    """
    from .. import demo

    key = str(name).lower()
    if key not in DEMO_DOMAINS:
        raise ConfigError(f"unknown demo {name!r}: choose one of {', '.join(DEMO_DOMAINS)}.")
    if key == "electricity":
        frames = demo.frames(key, n_items=n_items, days=length, seed=seed)
    elif key == "retail":
        frames = demo.frames(key, n_items=n_items, periods=length, seed=seed)
    else:
        frames = demo.frames(key, instance_types=n_items, hours=24 * length, seed=seed)
    domain, freq = DEMO_DOMAINS[key]
    return {k: {"path": v} for k, v in frames.items()}, domain, freq


def build_dataset_group(sources: dict, domain: str = "CUSTOM", frequency: str | None = None,
                        forecast_dimensions: Sequence[str] | None = None, fill: dict | None = None,
                        aggregate_to: str | None = None, aggregate_method: str = "sum", cold_start: bool = True):
    """A DatasetGroup from per-dataset sources, as the dataset panel's Import button builds it.

    Parameters
    ----------
    sources : dict
        ``{"target": {"path": ..., "column_map"/"schema"/"header": ...}, "related": {...},
        "item_metadata": {...}}``; ``path`` is a file, folder, glob, URL or DataFrame.
    aggregate_to : str, optional
        A coarser forecast frequency to aggregate to with ``aggregate_method``.

    Raises
    ------
    SchemaError, DataError, ConfigError
        Those of :class:`~fc_core.datasets.DatasetGroup` and its ``aggregate``.
    """
    from ..datasets import DatasetGroup

    if not sources.get("target"):
        raise ConfigError("import the target time series first (dataset type TARGET_TIME_SERIES).")
    args, schemas, ropts = {}, {}, {}
    for key in ("target", "related", "item_metadata"):
        src = dict(sources.get(key) or {})
        if not src:
            continue
        args[key] = src.pop("path")
        schema = src.pop("schema", None)
        if schema:
            schemas[f"{key}_schema"] = schema
        ropts[key] = {k: v for k, v in src.items() if v is not None}
    dg = DatasetGroup(domain=domain, frequency=frequency or None, forecast_dimensions=forecast_dimensions or None,
                      fill=fill, cold_start=cold_start, read_options=ropts, **args, **schemas)
    if aggregate_to and fq.normalize(aggregate_to) != dg.frequency:
        dg = dg.aggregate(aggregate_to, aggregate_method)
    return dg


def summary_tables(summary, worst: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An import summary as two small tables: the overall statistics (name, value) and the
    items with the most missing steps (then the most NaN values, then ending earliest)."""
    overall = pd.DataFrame({"statistic": list(summary.overall), "value": [str(v) for v in summary.overall.values()]})
    per = summary.per_item
    by = [c for c in ("missing", "nan_values", "ends_early_by") if c in per.columns]
    top = per.sort_values(by, ascending=False, kind="stable").head(worst)
    return overall, top.reset_index(drop=True)


__all__ = ["ALL_ITEMS", "ItemIndex", "HistoryView", "ForecastView", "WindowPlan", "plan_windows",
           "coverage_message", "quantile_columns", "band_choices", "metric_columns", "rank_leaderboard",
           "export_csv", "training_steps", "progress_text", "ensemble_check_text", "blend_summary", "fallback_text", "guess_column_mapping", "apply_column_mapping", "error_rows",
           "item_labels", "natural_key", "search_message", "step_name", "preview_file", "looks_like_header",
           "reader_options", "check_column_mapping", "envelope", "demo_sources", "build_dataset_group", "summary_tables"]


def step_name(frequency: str) -> str:
    """What one step of ``frequency`` is, in words, for axis and control labels.

    >>> step_name("H"), step_name("15min"), step_name("2H")
    ('hour', '15 minutes', '2 hours')
    """
    mult, unit = fq.parse(frequency)
    word = {"min": "minute", "H": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}[unit]
    return word if mult == 1 else f"{mult} {word}s"
