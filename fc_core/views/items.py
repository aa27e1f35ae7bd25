"""Item ids (natural order, search), the history view every panel draws, step names."""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import ConfigError, SchemaError
from ..schema import TIMESTAMP


ALL_ITEMS = "(all items, summed)"
DEFAULT_LIMIT = 200


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


def step_name(frequency: str) -> str:
    """What one step of ``frequency`` is, in words, for axis and control labels.

    >>> step_name("H"), step_name("15min"), step_name("2H")
    ('hour', '15 minutes', '2 hours')
    """
    mult, unit = fq.parse(frequency)
    word = {"min": "minute", "H": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}[unit]
    return word if mult == 1 else f"{mult} {word}s"
