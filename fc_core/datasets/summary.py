"""The dataset group summary: :class:`DatasetSummary` and the DatasetGroup report methods."""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..featurization import floor_steps, infer_frequency, parse_fill
from ..lifecycle import quiet_items


@dataclass
@dataclass
class DatasetSummary:
    """Statistics of a dataset group, like a dataset import job's.

    Attributes
    ----------
    overall : dict
        items, rows, start, end, frequency, inferred_frequency, missing (absent steps
        inside the items' ranges), nan_values, duplicates, filled, cold-start and related counts.
    per_item : DataFrame
        One row per item: keys, start, end, rows, missing, nan_values, duplicates, filled.
    quiet_items : DataFrame
        Items whose data stops before the group's end or that end in a long run of zeros, with
        the date each went quiet (:func:`fc_core.lifecycle.quiet_items`); reported, never acted on.
    """

    overall: dict
    per_item: pd.DataFrame
    quiet_items: pd.DataFrame | None = None

    def __repr__(self) -> str:
        lines = ["DatasetSummary"] + [f"  {k}: {v}" for k, v in self.overall.items()]
        lines.append(f"  per_item: {len(self.per_item)} rows x {self.per_item.shape[1]} columns "
                     "(.per_item for the table)")
        if self.quiet_items is not None and len(self.quiet_items):
            lines.append(f"  quiet_items: {len(self.quiet_items)} item(s) stopped or went quiet (.quiet_items)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.overall.items())
        worst = self.per_item.sort_values("missing", ascending=False).head(10)
        quiet = ""
        if self.quiet_items is not None and len(self.quiet_items):
            quiet = (f"<p>Items that stopped or went quiet (discontinued?):</p>"
                     f"{self.quiet_items.head(10).to_html(index=False)}")
        return (f"<div><b>Dataset group summary</b><table>{rows}</table>"
                f"<p>Items with the most missing steps:</p>{worst.to_html(index=False)}{quiet}</div>")



class _SummaryMixin:
    """DatasetGroup's summary and fill report (summary, filled_rows)."""

    def summary(self, quiet_min_run: int = 3, quiet_factor: float = 2.0) -> DatasetSummary:
        """Statistics like a dataset import job's: items, rows, dates, missing and duplicates per item,
        and the items that went quiet (``quiet_min_run``, ``quiet_factor``: see
        :func:`fc_core.lifecycle.quiet_items`)."""
        st = self._stats
        first, last = st["first"], st["last"]
        per = self._tblock.keys.copy()
        per["start"] = first.view("M8[ns]")
        per["end"] = last.view("M8[ns]")
        per["rows"] = st["rows"]
        per["missing"] = self._stats["missing"]
        per["nan_values"] = self._stats["nan"]
        per["duplicates"] = self._stats["dups"]
        per["filled"] = self._stats["filled"]
        per["estimated"] = self._stats["estimated"]
        per["ends_early_by"] = self._stats["ends_early"]
        if self._inferred is None:
            self._inferred = infer_frequency(self._raw_target) or self.frequency
        overall = {
            "items": int(len(per)),
            "rows": int(per["rows"].sum()),
            "rows_after_fill": int(len(self.target)),
            "start": pd.Timestamp(int(first.min())),
            "end": self.end_timestamp,
            "frequency": self.frequency,
            "inferred_frequency": fq.normalize(self._inferred),
            "missing": int(per["missing"].sum()),
            "nan_values": int(per["nan_values"].sum()),
            "duplicates": int(per["duplicates"].sum()),
            "filled": int(per["filled"].sum()),
            # filled with zero or a value: trained on and scored as real values (Amazon Forecast's meaning)
            "filled_as_values": int(per["filled"].sum() - per["estimated"].sum()),
            # filled with nan, mean, median, min or max: estimates, neither trained on nor scored
            "estimated": int(per["estimated"].sum()),
            "items_with_missing": int((per["missing"] > 0).sum()),
            "cold_start_items": int(len(self._cold)),
            **self._ends_early_summary(per["ends_early_by"].to_numpy()),
        }
        if self._rblock is not None:
            overall.update(related_fields=self.related_columns, related_rows=int(self._raw_related.n_rows),
                           related_end=pd.Timestamp(int(self._rblock.ts.max())),
                           related_keys_ignored=int(self._stats["related_dropped"]),
                           # before the item's first target value: no model reads them
                           related_rows_before_target_start=int(self._stats["related_before_start"]))
        if self.item_metadata is not None:
            overall["item_metadata_items"] = int(len(self.item_metadata))
        # items whose every target value is missing: forecast as cold starts (fc_core.algorithms.guard)
        all_missing = (per["rows"] > 0) & (per["nan_values"] >= per["rows"])
        overall["all_missing_items"] = int(all_missing.sum())
        if all_missing.any():
            labels = per.loc[all_missing, self.key_columns].astype(str).agg("|".join, axis=1).tolist()
            warnings.warn(f"{len(labels)} item(s) have no observed target value (every value missing): "
                          f"{', '.join(labels[:5])}{' ...' if len(labels) > 5 else ''}; they are forecast as "
                          "cold starts (the average of similar items), never as 0.", UserWarning, stacklevel=2)
        if self._settings.get("partial_last_bucket"):
            overall["partial_last_bucket"] = self._settings["partial_last_bucket"]
        quiet = quiet_items(self, min_run=quiet_min_run, factor=quiet_factor)
        overall["quiet_items"] = int(len(quiet))
        return DatasetSummary(overall, per, quiet)

    def _last_row_steps(self) -> np.ndarray:
        """Per target item, the step (from its start) of its last imported row."""
        return floor_steps(self._stats["last"], self._stats["first"], self.frequency)[0].astype(np.int64)

    def filled_rows(self, scored: bool | None = None) -> pd.DataFrame:
        """The target rows the fill added or completed, and what each means for training and scoring.

        Returns a frame with the key columns, ``timestamp``, the filled value, ``region``
        (``middlefill`` for a gap or an empty value, ``backfill`` after the item's last row),
        ``method`` (the fill rule) and ``scored``: True where the fill states a real value
        (``zero``, ``value``), so the point is trained on and scored like an observed one; False
        for an estimate (``nan``, ``mean``, ``median``, ``min``, ``max``). ``scored`` selects one kind.

        >>> import pandas as pd
        >>> from fc_core.datasets import DatasetGroup
        >>> df = pd.DataFrame({"item_id": "a", "timestamp": ["2020-01-01", "2020-01-02", "2020-01-04"],
        ...                    "target_value": [4.0, 2.0, 3.0]})
        >>> DatasetGroup(target=df, frequency="D").filled_rows()[["timestamp", "target_value", "method", "scored"]]
           timestamp  target_value method  scored
        0 2020-01-03           0.0   zero    True
        >>> DatasetGroup(target=df, frequency="D", fill={"target": {"middlefill": "mean"}}).filled_rows()["scored"].tolist()
        [False]
        """
        b = self._tblock
        idx = np.zeros(0, np.int64) if b.filled is None or self._fill_region is None else np.flatnonzero(b.filled)
        if scored is not None:
            idx = idx[self._estimated[idx] != bool(scored)]
        out = b.take(idx).to_frame(self._settings.get("key_dtype", "object"))
        trules, _ = parse_fill(self._settings.get("fill"), [])
        region = np.array(["", "middlefill", "backfill"], dtype=object)[self._fill_region[idx]] if len(idx) else \
            np.zeros(0, object)
        out["region"] = region
        out["method"] = np.array([trules[r].describe() if trules.get(r) is not None else "" for r in region],
                                 dtype=object)
        out["scored"] = ~self._estimated[idx] if len(idx) else np.zeros(0, bool)
        return out.reset_index(drop=True)

    def _ends_early_summary(self, short: np.ndarray) -> dict:
        """``items_ending_early`` and, when there are some, by how many steps and what was done."""
        early = short[short > 0]
        out = {"items_ending_early": int(len(early))}
        if not len(early):
            return out
        end = self.end_timestamp
        out["ending_early_steps"] = (f"median {int(np.median(early))}, max {int(early.max())} "
                                     f"{fq.normalize(self.frequency)} steps before {end}")
        if self.forecast_from == "item_end":
            out["ending_early_handling"] = ("not back-filled: each item is forecast from its own end "
                                            "(forecast_from='item_end')")
        else:
            rule = self._backfill
            how = "left missing (no backfill rule)" if rule is None else f"back-filled with {rule.describe()}"
            out["ending_early_handling"] = (
                f"{how} up to {end} ({int(early.sum())} steps) and forecast from {end}, as Amazon Forecast does; "
                "DatasetGroup(..., forecast_from='item_end') forecasts each item from its own end")
        return out
