"""Reading dataset files (CSV, Parquet, DataFrames) into typed columns, with exact error locations.

Amazon Forecast imports CSV files laid out by a schema: an ordered list of
``(name, type)`` fields. Its own sample files have no header, so a headerless
file follows the schema's field order. This module reads

* a DataFrame, a file, a folder of files, a glob (``data/*.csv``) or an fsspec
  URL (``s3://bucket/key.csv``, ``memory://...``);
* CSV with or without a header (detected: a first row equal to the schema's
  names, or one that does not parse by the schema, is a header; ``header=``
  overrides), and Parquet;
* timestamps ``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm:ss`` and ISO 8601.

Time zones: timestamps without an offset are taken as local wall-clock time and
kept as they are. Timestamps with an offset (``Z``, ``+02:00``) are converted
to the naive local time of ``timezone`` when it is given (Amazon Forecast's
``TimeZone``, e.g. ``"Europe/Berlin"``), else to naive UTC. A column that mixes
both kinds is an error. The canonical timestamp is always ``datetime64[ns]``
without a time zone.

The fast path lets pyarrow parse and type every column (multi-threaded, item ids
dictionary-encoded). Only when it fails is the file read again as text to find
the first bad value and report its file, line (1-based, counting the header
line), column and item. User files are only ever opened for reading.

The package's modules, lowest first (none imports one listed after it):

* :mod:`.files` paths, folders, globs, fsspec URLs, compression, the UTF-8 check;
* :mod:`.provenance` where each row came from (file, line, frame index), for error messages;
* :mod:`.parse` timestamps and numbers, with the first bad value located;
* :mod:`.spec` the reading options and the typed result (:class:`Columns`);
* :mod:`.sniff` a file's header and column order (the one header rule, also the dataset
  panel's preview: :func:`looks_like_header`);
* :mod:`.table` finishing pyarrow tables into columns (shared by CSV and Parquet);
* :mod:`.csv`, :mod:`.parquet`, :mod:`.frame` one reader per kind of source;
* this module: :func:`read_columns`, the entry point, and every name the package exports.

>>> import pandas as pd
>>> df = pd.DataFrame({"item_id": ["b", "a"], "timestamp": ["2020-01-02", "2020-01-01 00:00:00"],
...                    "target_value": ["1.5", "2"]})
>>> got = read_columns(df, "TARGET_TIME_SERIES", "CUSTOM")
>>> codes, labels = got.keys["item_id"]
>>> labels.take(codes).tolist(), got.values["target_value"].tolist()
(['b', 'a'], [1.5, 2.0])
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from ..errors import DataError
from ..schema import Schema, check_dataset_type, check_forecast_dimensions, get_domain
from .csv import _read_csv
from .files import _is_parquet, check_encoding, expand_paths
from .frame import _read_frame
from .parquet import _read_parquet
from .parse import TIMESTAMP_HELP, parse_numbers, parse_timestamps
from .provenance import Provenance, SourceInfo, describe_row
from .sniff import TIME_NAMES, cell_kind, looks_like_header
from .spec import Columns, _names, _Spec
from .table import _columns_from_tables

__all__ = ["read_columns", "expand_paths", "parse_timestamps", "parse_numbers", "Columns", "Provenance",
           "SourceInfo"]
# also importable from here, as before the split: TIMESTAMP_HELP, describe_row, check_encoding, TIME_NAMES,
# cell_kind, looks_like_header


# ------------------------------------------------------------ entry point
def read_columns(source, dataset_type: str = "TARGET_TIME_SERIES", domain: str = "CUSTOM", schema=None, *,
                 forecast_dimensions: Sequence[str] | None = None, header: bool | None = None,
                 timezone: str | None = None, column_map: dict | None = None, constants: dict | None = None,
                 columns: Sequence[str] | None = None, timestamp_format: str | None = None) -> Columns:
    """Read ``source`` into typed :class:`Columns` (see :func:`fc_core.read_dataset` for the arguments).

    Raises
    ------
    SchemaError
        Unknown type in the schema, a required column missing, a headerless file without schema.
    DataError
        Empty file, unparseable number or timestamp, mixed time zones, bad geolocation.
    """
    dom = get_domain(domain)
    dataset_type = check_dataset_type(dataset_type)
    dims = check_forecast_dimensions(forecast_dimensions)
    if dataset_type == "ITEM_METADATA":
        dims = []
    spec = _Spec(dom, dataset_type, dims, Schema.parse(schema) if schema is not None else None,
                 dict(column_map or {}), dict(constants or {}), list(columns) if columns is not None else None,
                 timezone, timestamp_format)
    if isinstance(source, pd.DataFrame):
        return _read_frame(source, spec)
    paths = expand_paths(source)
    parts, infos, counts, dropped = [], [], [], []
    for i, p in enumerate(paths):
        if _is_parquet(p):
            table, info, drop = _read_parquet(p, spec)
        else:
            got = _read_csv(p, spec, header, allow_empty=len(paths) > 1)
            if got is None:
                continue
            table, info, drop = got
        parts.append(table)
        infos.append(info)
        counts.append(table.num_rows)
        dropped += [d for d in drop if d not in dropped]
        table = got = None  # only `parts` refers to the table: freed column by column below
    where = Provenance(infos, counts)
    kinds = [i for i in infos if i.zoned is not None]
    if any(i.zoned for i in kinds) and not all(i.zoned for i in kinds):
        a = next(i for i in kinds if i.zoned)
        b = next(i for i in kinds if not i.zoned)
        raise DataError(f"mixed time zones across files: '{a.name}' has timestamps with a time zone, '{b.name}' "
                        "without; write every timestamp the same way, either all in local time without offset (and "
                        "pass timezone=...) or all with an offset.")
    if not parts or where.n_rows == 0:
        raise DataError(f"{_names(paths)}: no data rows (the file is empty or has only a header); "
                        "check that you exported the data.")
    return _columns_from_tables(parts, spec, where, dropped)
