"""Datasets and dataset groups (Amazon Forecast's ``CreateDataset`` / ``CreateDatasetGroup`` / import jobs).

:func:`read_dataset` reads one dataset (target time series, related time series
or item metadata) from a DataFrame, a CSV or Parquet file, a folder, a glob or an
fsspec URL into the canonical long frame: Amazon Forecast's column names, key
columns as strings, ``timestamp`` as naive ``datetime64[ns]``, numbers as float,
sorted by keys then time. :class:`DatasetGroup` puts a target, related series and
item metadata together, checks them against each other, fills missing values
(see :mod:`fc_core.featurization`) and packs them into a
:class:`~fc_core.panel.Panel` for the algorithms.

Decisions (where Amazon Forecast leaves room):

* Duplicate ``(keys, timestamp)`` rows are an error unless ``duplicates=`` says
  how to combine them (``"sum"``, ``"mean"``, ``"first"``, ``"last"``, ``"min"``, ``"max"``;
  a dict ``{"target": ..., "related": ...}`` sets them apart).
* Items in the item metadata without target history are cold-start items when
  ``cold_start=True`` or the related series has rows for them; otherwise they are
  an error. With forecast dimensions the cold-start keys are the related series'
  keys without target history. Related rows of other keys (not in the target, not
  cold-start) are ignored and counted in :meth:`DatasetGroup.summary`.
* Every target item needs related rows when a related series is given, and the
  related series must cover each item's target range; past the target end it must
  reach end + horizon when a horizon is known (``forecast_horizon=`` or
  :meth:`DatasetGroup.check_related_horizon`).
* Aggregation to a coarser frequency works on the data as imported (before
  filling), then fills at the new frequency. Related fields aggregate with
  ``avg`` unless ``related_method={"field": "max", ...}`` says otherwise.

>>> import pandas as pd
>>> df = pd.DataFrame({"item_id": ["a", "a", "a", "b"],
...                    "timestamp": ["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-02"],
...                    "target_value": [1.0, 2.0, 4.0, 7.0]})
>>> dg = DatasetGroup(target=df, frequency="D")
>>> dg.target["target_value"].tolist(), int(dg.target["_filled"].sum())
([1.0, 2.0, 0.0, 4.0, 7.0, 0.0, 0.0], 3)
>>> dg.summary().overall["missing"]
1
"""
from __future__ import annotations

import copy as _copy
import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..artifacts import read_artifact, write_artifact
from ..errors import METADATA_ITEMS_WITHOUT_TARGET, NO_FREQUENCY, ArtifactError, ConfigError, DataError
from ..featurization import (SeriesBlock, aggregate_block, check_aggregation, check_grid, fill_block, floor_steps,
                             grid_time, infer_frequency, parse_fill, partial_last_bucket)
from ..io import atomic_dir
from ..panel import ESTIMATED, FILLED, Panel
from ..schema import TIMESTAMP, check_forecast_dimensions, get_domain
from ..security import open_artifact, save_encrypted
# the package's modules: reading (read_dataset), checks (leakage, anchors, key helpers), summary
# (DatasetSummary and DatasetGroup's report methods); their private names stay importable from here
from .checks import (_agg_method, _data_anchor, _key_index, _key_tuples, _merge_newer, _read_options, _refuse_leakage,
                     _uses_step)
from .reading import _NONE, _READ_KEYS, _Metadata, _combine_keys, _read_block, _read_metadata, read_dataset
from .release import _ReleaseMixin
from .summary import DatasetSummary, _SummaryMixin


# ------------------------------------------------------------- the group
FORECAST_FROM = ("global_end", "item_end")


class DatasetGroup(_SummaryMixin, _ReleaseMixin):
    """A target time series plus optional related time series and item metadata.

    Parameters
    ----------
    domain : str
        Amazon Forecast domain (``CUSTOM``, ``RETAIL``, ...).
    frequency : str, optional
        The data's frequency (``H``, ``D``, ``W``, ``M``, ``15min``, ``2H`` ...); inferred
        (most common step over all items) when not given.
    target, related, item_metadata : DataFrame or path, optional
        Paths are read with ``target_schema``, ``related_schema``, ``item_metadata_schema``.
    forecast_dimensions : list of str, optional
    fill : dict, optional
        Missing-value rules (:func:`fc_core.featurization.parse_fill`); the target defaults to
        zero middle- and backfill; related fields have no default.
    forecast_horizon : int, optional
        When given, related series are future-filled (``futurefill``) and must reach
        end + horizon.
    duplicates : str or dict
        ``"error"`` or how to combine duplicate rows (see :func:`read_dataset`).
    cold_start : bool
        Accept item metadata items without target history as cold-start items.
    timezone, header : optional
        Reading options for all files; ``read_options={"target": {...}, "related": {...},
        "item_metadata": {...}}`` gives per-dataset ones (column_map, item_id, columns, ...).
    key_dtype : {"object", "category"}
    forecast_from : {"global_end", "item_end"}
        Where each item is forecast (and backtested) from. ``"global_end"`` (default, Amazon
        Forecast's behaviour): an item that ends before the group's last timestamp is
        back-filled to it (zeros by default, see ``fill``) and forecast from there.
        ``"item_end"``: no back-fill; each item is forecast from its own end, and backtest
        cutoffs are laid back from each item's end. ``summary()`` counts the items ending early.

    Attributes
    ----------
    domain : Domain
    frequency : str
        Amazon Forecast's frequency name.
    target, related, item_metadata : DataFrame
        Canonical long frames (sorted by keys and time). When any target point was filled the
        target has a boolean ``_filled`` column marking them (``fc_core.panel.FILLED``), and where
        some were filled with an estimate (mean, median, min, max) an ``_estimated`` column
        marking those (``fc_core.panel.ESTIMATED``): they are neither trained on nor scored.
        :meth:`filled_rows` lists the filled rows and what each means.
    forecast_dimensions : list of str
    key_columns : list of str
        The item field followed by the forecast dimensions.

    Raises
    ------
    SchemaError, DataError, ConfigError
        For the cases listed in :mod:`fc_core.readers` and :mod:`fc_core.featurization`.
    """

    def __init__(self, domain: str = "CUSTOM", frequency: str | None = None, target=None, related=None,
                 item_metadata=None, forecast_dimensions: Sequence[str] | None = None, *, target_schema=None,
                 related_schema=None, item_metadata_schema=None, fill: dict | None = None,
                 forecast_horizon: int | None = None, duplicates="error", cold_start: bool = False,
                 timezone: str | None = None, header: bool | None = None, read_options: dict | None = None,
                 key_dtype: str = "object", name: str | None = None, forecast_from: str = "global_end"):
        dom = get_domain(domain)
        dims = check_forecast_dimensions(forecast_dimensions)
        if target is None:
            raise ConfigError("a dataset group needs a target time series (target=...).")
        if key_dtype not in ("object", "category"):
            raise ConfigError(f"key_dtype={key_dtype!r}: use 'object' or 'category'.")
        dups = dict(duplicates) if isinstance(duplicates, dict) else {"target": duplicates, "related": duplicates}
        ropts = _read_options(read_options, header, timezone)
        if forecast_from not in FORECAST_FROM:
            raise ConfigError(f"forecast_from={forecast_from!r}: use 'global_end' (Amazon Forecast's behaviour: items "
                              "ending early are back-filled to the group's end) or 'item_end' (each item from its own end).")
        settings = dict(fill=fill, forecast_horizon=forecast_horizon, duplicates=dups, cold_start=bool(cold_start),
                        forecast_from=forecast_from,
                        key_dtype=key_dtype, name=name, read_options=ropts,
                        schemas={"target": target_schema, "related": related_schema,
                                 "item_metadata": item_metadata_schema})
        blocks = [_read_block(target, "TARGET_TIME_SERIES", dom, dims, target_schema, dups.get("target", "error"),
                              ropts["target"]),
                  None if related is None else _read_block(related, "RELATED_TIME_SERIES", dom, dims, related_schema,
                                                           dups.get("related", "error"), ropts["related"])]
        meta = None if item_metadata is None else _read_metadata(item_metadata, dom, item_metadata_schema,
                                                                 ropts["item_metadata"])
        self._init(dom, dims, frequency, blocks, meta, settings)

    # ------------------------------------------------------------ building
    def _init(self, dom, dims, frequency, blocks: list, meta, settings):
        """Validate, fill and store. ``blocks`` = [target, related or None]; the list is emptied and
        the target block's arrays are consumed by the fill (memory)."""
        tblock, rblock = blocks
        blocks.clear()
        self.domain = dom
        self.forecast_dimensions = list(dims)
        self._settings = settings
        self.name = settings.get("name")
        horizon = settings.get("forecast_horizon")
        if horizon is not None and (not isinstance(horizon, (int, np.integer)) or horizon < 1):
            raise ConfigError(f"forecast_horizon must be a positive whole number of steps, got {horizon!r}.")
        self._inferred = None
        if frequency is None:
            frequency = infer_frequency(tblock)
            if frequency is None and rblock is not None:
                frequency = infer_frequency(rblock)
            if frequency is None:
                raise DataError("could not infer the frequency: no item has two timestamps; pass frequency=... "
                                "(e.g. 'H', 'D', 'W', 'M').", reason=NO_FREQUENCY)
            self._inferred = frequency
        self.frequency = fq.normalize(frequency)
        fq.validate_minutes(self.frequency)
        tf = dom.target_field
        missing = check_grid(tblock, self.frequency)
        if rblock is not None:
            check_grid(rblock, self.frequency)
        self.frequency = _data_anchor(self.frequency, tblock)
        if self._inferred is None and tblock.n_rows <= 5_000_000:
            inf = infer_frequency(tblock)
            if inf is not None and not getattr(self, "_quiet", False) and missing.sum() \
                    and fq.parse(inf) != fq.parse(self.frequency) and fq.is_coarser_or_equal(inf, self.frequency) \
                    and not _uses_step(tblock, self.frequency):
                warnings.warn(f"the data's most common step is {inf} but frequency={self.frequency} was declared, so "
                              f"the steps in between count as missing and are filled; declare frequency='{inf}' if "
                              "that is the data's frequency.", UserWarning, stacklevel=3)
            self._inferred = inf
        trules, rrules = parse_fill(settings.get("fill"), [] if rblock is None else list(rblock.fields))
        self._raw_related = rblock
        end = int(tblock.ts.max())
        self._end = end
        self.forecast_from = settings.get("forecast_from", "global_end")
        own_end = self.forecast_from == "item_end"
        cold, rblock_kept, dropped = self._cold_start(tblock, rblock, meta, settings.get("cold_start", False))
        self._cold = cold
        origin = None if rblock_kept is None else self._related_origin(tblock, rblock_kept)
        if rblock_kept is not None:
            _refuse_leakage(tblock, rblock_kept, tf)
        self._stats = dict(
            missing=missing, first=tblock.first_ts(), last=tblock.last_ts(), rows=np.diff(tblock.indptr),
            nan=np.bincount(tblock.codes[np.isnan(tblock.fields[tf])], minlength=tblock.n_keys),
            dups=tblock.duplicates if tblock.duplicates is not None else np.zeros(tblock.n_keys, np.int64),
            related_dropped=dropped, related_before_start=_rows_before_start(rblock_kept, origin))
        last = self._stats["last"]
        self._stats["ends_early"] = floor_steps(np.full(len(last), end, np.int64), last, self.frequency)[0]
        self._backfill = trules.get("backfill")
        tres = fill_block(tblock, self.frequency, last.copy() if own_end else end, {tf: trules}, what="target",
                          mark_field=tf, consume=True)
        del tblock
        self._tblock = tres.block
        self._present, self._raw_nan = tres.present, tres.raw_nan  # to rebuild the data as imported
        self._stats["filled"] = tres.filled_per_key
        self._estimated, self._fill_region = tres.estimated, tres.region  # see featurization: what a fill means
        self._stats["estimated"] = np.zeros(self._tblock.n_keys, np.int64) if tres.estimated is None else \
            np.bincount(self._tblock.codes[tres.estimated], minlength=self._tblock.n_keys).astype(np.int64)
        self._rblock = None
        if rblock_kept is not None:
            rres = fill_block(rblock_kept, self.frequency, end, rrules, horizon=int(horizon or 0), origin=origin,
                              what="related time series")
            self._rblock = rres.block
        kd = settings.get("key_dtype", "object")
        self.target = self._tblock.to_frame(kd, filled_column=tres.changed)
        if tres.estimated is not None and (tres.estimated & ~np.isnan(self._tblock.fields[tf])).any():
            self.target[ESTIMATED] = tres.estimated  # mean/median/min/max fills: estimates, not observed
        self.related = None if self._rblock is None else self._rblock.to_frame(kd)
        if horizon:
            self.check_related_horizon(int(horizon))
        self._meta = meta
        self.item_metadata = None if meta is None else meta.frame.copy()
        self._panel = None

    @property
    def _raw_target(self) -> SeriesBlock:
        """The target as imported (before filling), rebuilt from the filled data."""
        b = self._tblock
        tf = self.target_field
        if self._present is None:
            return SeriesBlock(b.keys, b.codes, b.ts, dict(b.fields), None, None, None, b.duplicates)
        idx = np.flatnonzero(self._present)
        raw = SeriesBlock(b.keys, b.codes[idx], b.ts[idx], {tf: b.fields[tf][idx]}, None, None, None, b.duplicates)
        if self._raw_nan is not None and len(self._raw_nan):
            raw.fields[tf][np.searchsorted(idx, self._raw_nan)] = np.nan
        return raw

    def _cold_start(self, tblock, rblock, meta, allow: bool):
        """Cold-start keys, the related block restricted to target and cold-start keys, and how
        many related keys were ignored."""
        item, dims = self.item_field, self.forecast_dimensions
        tkeys = tblock.keys
        have_items = set(tkeys[item])
        rkeys = rblock.keys if rblock is not None else tkeys.iloc[:0]
        r_new = rkeys.loc[_key_index(tkeys, rkeys) < 0].reset_index(drop=True)
        related_new_items = set(r_new[item])
        meta_new = [] if meta is None else [i for i in meta.frame[item].tolist() if i not in have_items]
        uncovered = [i for i in meta_new if i not in related_new_items]
        if uncovered and (dims or not allow):
            where = "; ".join(f"'{i}' ({meta.locate(i)})" for i in uncovered[:5])
            how = ("add related rows for them (which name their forecast dimensions)" if dims else
                   "pass cold_start=True to forecast them as new items, add related data for them")
            raise DataError(
                f"item metadata names {len(uncovered)} item(s) without target time series: {where}"
                f"{' ...' if len(uncovered) > 5 else ''}; {how}, or remove them from the item metadata.",
                reason=METADATA_ITEMS_WITHOUT_TARGET, items=list(uncovered),
                lines=[meta.line(i) for i in uncovered[:5]])
        if dims:
            cold = r_new
        else:
            names = set(meta_new) | (related_new_items if allow else set())
            cold = pd.DataFrame({item: np.array(sorted(names), dtype=object)})
        if rblock is None:
            return cold, None, 0
        keep = (_key_index(tkeys, rkeys) >= 0) | (_key_index(cold, rkeys) >= 0)
        dropped = int((~keep).sum())
        if dropped:
            rblock = rblock.take(np.flatnonzero(np.isin(rblock.codes, np.flatnonzero(keep))))
        back = _key_index(rblock.keys, tkeys)
        if (back < 0).any():
            lost = tkeys.loc[back < 0]
            shown = ", ".join(str(r) if len(r) > 1 else f"'{r[0]}'"
                              for r in lost.head(5).itertuples(index=False, name=None))
            raise DataError(f"the related time series has no rows for {len(lost)} target item(s): {shown}"
                            f"{' ...' if len(lost) > 5 else ''}; every item needs related data covering its target "
                            "range (add the rows), or remove those items from the target.")
        return cold, rblock, dropped

    def _related_origin(self, tblock, rblock) -> np.ndarray:
        idx = _key_index(tblock.keys, rblock.keys)
        first = tblock.first_ts()
        return np.where(idx >= 0, first[np.maximum(idx, 0)], _NONE).astype(np.int64)

    @classmethod
    def _from_parts(cls, proto: "DatasetGroup", frequency, tblock, rblock, meta, **changes) -> "DatasetGroup":
        new = cls.__new__(cls)
        new._quiet = True  # derived groups do not repeat the warnings of the original
        settings = {**proto._settings, **changes}
        new._init(proto.domain, proto.forecast_dimensions, frequency, [tblock, rblock], meta, settings)
        return new

    # ------------------------------------------------------------ properties
    @property
    def item_field(self) -> str:
        return self.domain.item_field

    @property
    def target_field(self) -> str:
        return self.domain.target_field

    @property
    def key_columns(self) -> list[str]:
        return [self.item_field, *self.forecast_dimensions]

    @property
    def related_columns(self) -> list[str]:
        if self.related is None or self.frames_released:
            return [] if self.related is None else list(self._panel.related_names)
        return [c for c in self.related.columns if c not in (*self.key_columns, TIMESTAMP, FILLED)]

    @property
    def end_timestamp(self) -> pd.Timestamp:
        """The last target timestamp of the group (items ending early are back-filled to it unless
        ``forecast_from="item_end"``)."""
        return pd.Timestamp(self._end)

    @property
    def items(self) -> pd.DataFrame:
        """The keys of the target series (item field and forecast dimensions), sorted."""
        return self._tblock.keys.copy()

    def cold_start_items(self) -> pd.DataFrame:
        """Keys without target history that are forecast as new items (see the module docstring)."""
        return self._cold.copy()

    # --------------------------------------------------------------- checks
    def check_related_horizon(self, forecast_horizon: int) -> None:
        """Check the related series reaches ``forecast_horizon`` steps past the target end for every item.

        Raises
        ------
        DataError
            Naming the items and the dates the related series lacks.
        """
        if self._rblock is None or not self.related_columns:
            return
        h = int(forecast_horizon)
        rb = self._rblock
        first, last = rb.first_ts(), rb.last_ts()
        end_pos = floor_steps(np.full(rb.n_keys, self._end, np.int64), first, self.frequency)[0]
        have = floor_steps(last, first, self.frequency)[0]
        short = np.flatnonzero(have < end_pos + h)
        if not len(short):
            return
        k = int(short[0])
        need_from = grid_time(np.array([first[k]]), np.array([have[k] + 1]), self.frequency)[0]
        need_to = grid_time(np.array([first[k]]), np.array([end_pos[k] + h]), self.frequency)[0]
        others = ", ".join(rb.key_label(int(j)) for j in short[1:5])
        raise DataError(
            f"the related time series ends before the forecast horizon: item {rb.key_label(k)} has related values "
            f"up to {pd.Timestamp(int(last[k]))} but a {h}-step forecast from {self.end_timestamp} needs them from "
            f"{pd.Timestamp(int(need_from))} to {pd.Timestamp(int(need_to))} ({len(short)} item(s) short"
            f"{': also ' + others if others else ''}{' ...' if len(short) > 5 else ''}); add the future values "
            f"(e.g. planned prices), or futurefill them: DatasetGroup(..., forecast_horizon={h}, fill={{'related': "
            f"{{'{self.related_columns[0]}': {{'futurefill': 'value', 'futurefill_value': ...}}}}}}).")

    # ------------------------------------------------------------ new groups
    def append(self, target=None, related=None) -> "DatasetGroup":
        """A new group with incremental data added; a newer row replaces an older one with the same
        keys and timestamp (Amazon Forecast's incremental import, used for retraining).

        Raises
        ------
        SchemaError, DataError
            As for reading; the group itself is never changed.
        """
        s = self._settings
        tb, rb = self._raw_target, self._raw_related
        if target is not None:
            new = _read_block(target, "TARGET_TIME_SERIES", self.domain, self.forecast_dimensions,
                              s["schemas"]["target"], s["duplicates"].get("target", "error"), s["read_options"]["target"])
            tb = _merge_newer(tb, new)
        if related is not None:
            new = _read_block(related, "RELATED_TIME_SERIES", self.domain, self.forecast_dimensions,
                              s["schemas"]["related"], s["duplicates"].get("related", "error"),
                              s["read_options"]["related"])
            rb = new if rb is None else _merge_newer(rb, new)
        return self._from_parts(self, self.frequency, tb, rb, self._meta)

    def fill(self, fill: dict | None = None, forecast_horizon: int | None = None) -> "DatasetGroup":
        """A new group with other fill rules and/or a forecast horizon (for futurefill)."""
        changes = {}
        if fill is not None:
            changes["fill"] = fill
        if forecast_horizon is not None:
            changes["forecast_horizon"] = forecast_horizon
        return self._from_parts(self, self.frequency, self._raw_target, self._raw_related, self._meta, **changes)

    def aggregate(self, frequency: str, method: str = "sum", align: dict | None = None,
                  related_method: str | dict | None = None, partial: str = "drop") -> "DatasetGroup":
        """A new group with the target (and related series) aggregated to a coarser ``frequency``.

        Parameters
        ----------
        method : str
            ``sum`` (default), ``avg``, ``first``, ``min`` or ``max`` for the target.
        align : dict, optional
            Bucket boundaries like Amazon's TimeAlignmentBoundary: ``{"DayOfWeek": "SUNDAY"}``,
            ``{"DayOfMonth": 15}``, ``{"Month": "APRIL"}``, ``{"Hour": 6}``.
        related_method : str or dict, optional
            Method for related fields (default ``avg``), or per field.
        partial : {"drop", "keep"}
            What to do with a last bucket the data only partly cover (days at a 06:00
            boundary whose last day holds 17 of 24 hours): ``"drop"`` (default) leaves it out
            of the target, ``"keep"`` aggregates what there is. Either way it is reported
            (a warning and ``summary().overall["partial_last_bucket"]``).

        Raises
        ------
        ConfigError
            For a finer frequency, an unknown method or alignment.
        """
        new = fq.normalize(frequency)
        fq.validate_minutes(new)
        method = _agg_method(method)
        check_aggregation(self.frequency, new)
        tf = self.target_field
        if partial not in ("drop", "keep"):
            raise ConfigError(f"partial={partial!r}: use 'drop' (leave out a partly covered last bucket) or 'keep'.")
        raw = self._raw_target
        part = partial_last_bucket(raw, self.frequency, new, align)
        tb = aggregate_block(raw, new, {tf: method}, align)
        note = None
        if part is not None:
            when = pd.Timestamp(part["bucket"])
            in_it = tb.ts == part["bucket"]
            if partial == "drop":
                alone = np.bincount(tb.codes[~in_it], minlength=tb.n_keys) == 0  # items with no other bucket
                keep = ~in_it | alone[tb.codes]
                kept = int((in_it & alone[tb.codes]).sum())
                tb = tb.take(np.flatnonzero(keep))
                did = (f"dropped for {int(in_it.sum()) - kept} item(s)"
                       + (f", kept for {kept} item(s) with no other data" if kept else "")
                       + "; keep it with aggregate(..., partial='keep')")
            else:
                did = "kept (partial='keep'): its values cover only part of the step"
            note = (f"the last {new} step ({when}) holds {part['steps']} of {part['of']} {self.frequency} steps: {did}")
            warnings.warn(f"aggregating to {new}: {note}.", UserWarning, stacklevel=2)
        rb = None
        if self._raw_related is not None:
            fields = list(self._raw_related.fields)
            if isinstance(related_method, dict):
                bad = sorted(set(related_method) - set(fields))
                if bad:
                    raise ConfigError(f"related_method names field(s) {bad} the related series lacks ({fields}).")
                rm = {f: _agg_method(related_method.get(f, "avg")) for f in fields}
            else:
                rm = {f: _agg_method(related_method or "avg") for f in fields}
            rb = aggregate_block(self._raw_related, new, rm, align)
        return self._from_parts(self, new, tb, rb, self._meta, partial_last_bucket=note)

    def copy(self) -> "DatasetGroup":
        """An independent copy (frames and arrays copied)."""
        new = _copy.copy(self)
        new.target = self.target.copy()
        new.related = None if self.related is None else self.related.copy()
        new.item_metadata = None if self.item_metadata is None else self.item_metadata.copy()
        new._settings = _copy.deepcopy(self._settings)
        new._panel = None
        return new


    def to_panel(self) -> Panel:
        """The packed form algorithms consume (cached): target, related, item metadata, cold-start items."""
        if self._panel is None:
            # the filled target is gap-free and sorted: pack it directly (what Panel.from_frame
            # would compute, without sorting the frame again)
            b = self._tblock
            values = np.array(b.fields[self.target_field], dtype=float)
            # zero- and value-filled points are real values (trained on, scored); estimates are not
            observed = ~np.isnan(values)
            if getattr(self, "_estimated", None) is not None:
                observed &= ~self._estimated
            panel = Panel(keys=b.keys.copy(), starts=pd.DatetimeIndex(b.first_ts().view("M8[ns]")),
                          indptr=b.indptr.copy(), values=values, observed=observed, frequency=self.frequency,
                          forecast_from=self.forecast_from)
            cold = self.cold_start_items()
            if len(cold):
                panel = panel._with_cold_start(cold[self.key_columns], self.related)
            if getattr(self, "_rblock", None) is not None and self.related_columns:
                # straight from the sorted block the frame was made of: no sort, no frame copy
                panel = panel._attach_related_block(self._rblock, self.related_columns)
            elif self.related is not None and self.related_columns:
                panel = panel._attach_related(self.related, self.related_columns)
            if self.item_metadata is not None:
                panel = panel._attach_static(self.item_metadata)
            self._panel = panel
        return self._panel

    def __repr__(self) -> str:
        n, rows = ((self._panel.n_series - len(self._cold), int(self._panel.lengths.sum())) if self.frames_released
                   else (self._tblock.n_keys, len(self.target)))
        return (f"DatasetGroup(domain={self.domain.name}, frequency={self.frequency}, items={n}, "
                f"rows={rows}, end={self.end_timestamp}, related={self.related_columns}, "
                f"item_metadata={self.item_metadata is not None}, cold_start_items={len(self._cold)})")


def _rows_before_start(rblock, origin) -> int:
    """Related rows dated before their item's first target value (``origin``, per related key, from
    :meth:`DatasetGroup._related_origin`; ``_NONE`` for a cold-start key): kept in ``related``, but no
    model reads them (related values are aligned from the item's first target step), so the summary
    says so."""
    if rblock is None or not rblock.n_rows:
        return 0
    o = origin[rblock.codes]
    return int(((o != _NONE) & (rblock.ts < o)).sum())


# ------------------------------------------------------------------ snapshots (save / load)
def _json_or_none(obj):
    try:
        return json.loads(json.dumps(obj))
    except (TypeError, ValueError):
        return None


def save_dataset(dataset_group, path, key=None) -> Path:
    """Snapshot a DatasetGroup into folder ``path`` (Parquet frames + JSON settings; optionally encrypted).

    The target is stored as imported (filled rows dropped) and refilled on load with the
    same fill rules, so :func:`load_dataset` gives an equal group.

    Raises
    ------
    ConfigError
        For a malformed key.
    """
    dg = dataset_group

    def write(folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        t = dg.target
        if FILLED in t.columns:
            t = t.loc[~t[FILLED].to_numpy(dtype=bool)].drop(columns=[FILLED])
        t.to_parquet(folder / "target.parquet", index=False)
        if dg.related is not None:
            r = dg.related.drop(columns=[c for c in (FILLED,) if c in dg.related.columns])
            r.to_parquet(folder / "related.parquet", index=False)
        if dg.item_metadata is not None:
            dg.item_metadata.to_parquet(folder / "item_metadata.parquet", index=False)
        settings = getattr(dg, "_settings", {}) or {}
        doc = {"fc_core_artifact": "dataset", "version": 1, "domain": dg.domain.name, "frequency": dg.frequency,
               "forecast_dimensions": list(dg.forecast_dimensions), "fill": _json_or_none(settings.get("fill")),
               "forecast_horizon": settings.get("forecast_horizon"), "cold_start": bool(settings.get("cold_start", False))}
        write_artifact(folder, doc)

    if key is not None:
        return save_encrypted(write, path, key, kind="dataset")
    with atomic_dir(path) as tmp:
        write(tmp)
    return Path(path)


def load_dataset(path, key=None):
    """Load a DatasetGroup saved by :func:`save_dataset` (validated again on the way in).

    Raises
    ------
    ArtifactError
        If the folder is not a dataset snapshot, or for key problems (see :func:`~fc_core.security.open_artifact`).
    """
    with open_artifact(path, key, kind="dataset") as folder:
        doc = read_artifact(folder, "dataset")
        frames = {}
        for name in ("target", "related", "item_metadata"):
            f = folder / f"{name}.parquet"
            frames[name] = pd.read_parquet(f) if f.is_file() else None
    if frames["target"] is None:
        raise ArtifactError(f"{path} lacks target.parquet; the dataset snapshot is incomplete.")
    return DatasetGroup(domain=doc.get("domain", "CUSTOM"), frequency=doc.get("frequency"), target=frames["target"],
                        related=frames["related"], item_metadata=frames["item_metadata"],
                        forecast_dimensions=doc.get("forecast_dimensions") or None, fill=doc.get("fill"),
                        forecast_horizon=doc.get("forecast_horizon"), cold_start=bool(doc.get("cold_start")))


__all__ = ["DatasetGroup", "DatasetSummary", "read_dataset", "save_dataset", "load_dataset", "FILLED"]
