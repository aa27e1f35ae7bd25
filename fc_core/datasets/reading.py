"""Reading one dataset into the canonical long frame (:func:`read_dataset`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..featurization import SeriesBlock, resolve_duplicates, sort_block
from ..panel import ESTIMATED, FILLED
from ..readers import Columns, read_columns
from ..schema import TIMESTAMP, check_dataset_type, check_forecast_dimensions, get_domain

_NONE = np.iinfo(np.int64).min
_READ_KEYS = ("header", "timezone", "column_map", "constants", "item_id", "columns", "timestamp_format")


# ------------------------------------------------------------------ reading
def _combine_keys(cols: Columns, key_columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """One int32 code per row for the key tuple, codes ordered like the sorted key tuples."""
    codes, labels = cols.keys[key_columns[0]]
    keys = pd.DataFrame({key_columns[0]: labels})
    cur = codes
    for c in key_columns[1:]:
        c2, l2 = cols.keys[c]
        comb = cur.astype(np.int64) * len(l2) + c2
        u_codes, uniq = pd.factorize(comb, sort=False)
        order = np.argsort(uniq, kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        su = np.asarray(uniq)[order]
        keys = pd.DataFrame({**{k: keys[k].to_numpy(object)[su // len(l2)] for k in keys.columns},
                             c: np.asarray(l2, dtype=object)[su % len(l2)]})
        cur = rank[u_codes]
    return np.asarray(cur, dtype=np.int32), keys.reset_index(drop=True)


def _read_block(source, dataset_type: str, domain, dims: list[str], schema, duplicates: str,
                opts: dict) -> SeriesBlock:
    """Read, sort and de-duplicate one time series dataset."""
    what = "target" if dataset_type == "TARGET_TIME_SERIES" else "related time series"
    if isinstance(source, SeriesBlock):
        return source
    if isinstance(source, pd.DataFrame) and FILLED in source.columns:
        source = source.loc[~source[FILLED].to_numpy(dtype=bool)]
    if isinstance(source, pd.DataFrame) and ESTIMATED in source.columns:
        source = source.drop(columns=ESTIMATED)
    opts = dict(opts)
    item_id = opts.pop("item_id", None)
    constants = dict(opts.pop("constants", None) or {})
    if item_id is not None:
        constants[domain.item_field] = item_id
    cols = read_columns(source, dataset_type, domain.name, schema, forecast_dimensions=dims,
                        constants=constants, **opts)
    key_columns = [domain.item_field, *dims]
    codes, keys = _combine_keys(cols, key_columns)
    for c in key_columns:
        del cols.keys[c]
    ts = cols.values.pop(TIMESTAMP)
    blk = SeriesBlock(keys, codes, ts, cols.values, cols.where)
    blk = sort_block(blk)
    extra = [c for c in cols.dropped if c not in key_columns]
    return resolve_duplicates(blk, duplicates, extra_columns=extra if dataset_type == "TARGET_TIME_SERIES" else (),
                              what=what)


@dataclass
class _Metadata:
    """Checked item metadata (one row per item, sorted) and where each row came from."""

    frame: pd.DataFrame
    where: object = None
    rows: np.ndarray | None = None

    def _row(self, item: str) -> int:
        i = int(np.searchsorted(self.frame.iloc[:, 0].to_numpy(dtype=object).astype(str), str(item)))
        return int(self.rows[i])

    def locate(self, item: str) -> str:
        if self.where is None:
            return "item metadata"
        return self.where.locate(self._row(item))

    def line(self, item: str) -> int | None:
        """The 1-based line of ``item``'s row in its CSV file (None when not read from a CSV file)."""
        return None if self.where is None else self.where.line(self._row(item))


def _read_metadata(source, domain, schema, opts: dict) -> _Metadata:
    if isinstance(source, _Metadata):
        return source
    opts = dict(opts)
    opts.pop("item_id", None)
    for k in ("timezone", "timestamp_format"):
        opts.pop(k, None)
    cols = read_columns(source, "ITEM_METADATA", domain.name, schema, **opts)
    item = domain.item_field
    codes, labels = cols.keys[item]
    counts = np.bincount(codes, minlength=len(labels))
    if (counts > 1).any():
        k = int(np.flatnonzero(counts > 1)[0])
        rows = np.flatnonzero(codes == k)[:2]
        raise DataError(
            f"item metadata names item '{labels[k]}' twice: {cols.where.locate(rows[0])} and "
            f"{cols.where.locate(rows[1])} ({int((counts > 1).sum())} item(s) repeated); keep one row per item.")
    order = np.argsort(codes, kind="stable")
    out = pd.DataFrame({item: labels[codes[order]], **{c: v[order] for c, v in cols.values.items()}})
    return _Metadata(out, cols.where, order)


def read_dataset(path_or_frame, dataset_type: str = "TARGET_TIME_SERIES", domain: str = "CUSTOM", schema=None, *,
                 forecast_dimensions: Sequence[str] | None = None, header: bool | None = None,
                 timezone: str | None = None, column_map: dict | None = None, constants: dict | None = None,
                 item_id: str | None = None, columns: Sequence[str] | None = None,
                 timestamp_format: str | None = None, duplicates: str = "error",
                 key_dtype: str = "object") -> pd.DataFrame:
    """Read one dataset into the canonical long frame.

    Parameters
    ----------
    path_or_frame : DataFrame, path, folder, glob, fsspec URL or list of these
        CSV (with or without header) or Parquet files.
    dataset_type : str
        ``TARGET_TIME_SERIES``, ``RELATED_TIME_SERIES`` or ``ITEM_METADATA``.
    domain : str
        Amazon Forecast domain; sets the item and target field names.
    schema : str, list or Schema, optional
        Ordered ``(name, type)`` fields (``"timestamp:timestamp,target_value:float,item_id:string"``);
        required for files without a header.
    forecast_dimensions : list of str, optional
        Extra key columns (``["store_id"]``), at most 10.
    header : bool, optional
        Force the first CSV row to be (or not be) a header; detected by default.
    timezone : str, optional
        Amazon Forecast's ``TimeZone``: timestamps with an offset are converted to this zone's
        local time; without it they become UTC. Timestamps without offset are kept.
    column_map : dict, optional
        File column -> canonical name (``{"datetime": "timestamp", "count": "target_value"}``).
    constants, item_id : optional
        Columns the file lacks, filled with one value (``item_id="station_1"``).
    columns : list of str, optional
        Keep only these (besides the required) columns.
    timestamp_format : str, optional
        strftime layout for other timestamp spellings.
    duplicates : str
        ``"error"`` (default) or how to combine rows with equal keys and timestamp.
    key_dtype : {"object", "category"}
        dtype of the key columns.

    Returns
    -------
    DataFrame
        Keys, ``timestamp`` (datetime64[ns]), then the other fields; sorted.

    Raises
    ------
    SchemaError, DataError
        See :mod:`fc_core.readers`; duplicates as described above.
    """
    dom = get_domain(domain)
    dataset_type = check_dataset_type(dataset_type)
    dims = check_forecast_dimensions(forecast_dimensions)
    opts = dict(header=header, timezone=timezone, column_map=column_map, constants=constants, item_id=item_id,
                columns=columns, timestamp_format=timestamp_format)
    if dataset_type == "ITEM_METADATA":
        return _read_metadata(path_or_frame, dom, schema, opts).frame
    blk = _read_block(path_or_frame, dataset_type, dom, dims, schema, duplicates, opts)
    return blk.to_frame(key_dtype)
