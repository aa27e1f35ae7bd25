"""Reading a pandas DataFrame."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MISSING_COLUMNS, DataError, SchemaError
from .parse import _GEO_RE, parse_numbers, parse_timestamps
from .provenance import Provenance, SourceInfo
from .spec import _Spec, Columns
from .table import _sorted_codes, _strip_keys


def _read_frame(df: pd.DataFrame, spec: _Spec) -> Columns:
    where_name = "the given DataFrame"
    spec.check_schema(where_name)
    names = [spec.column_map.get(str(c), str(c)) for c in df.columns]
    src_of = {m: c for c, m in zip(df.columns, names)}
    wanted = spec.wanted(names, where_name)
    if spec.schema is not None:
        missing = [n for n in wanted if n not in names]
        if missing:
            raise SchemaError(f"{where_name}: missing required column(s) {missing} (it has {names}); add them or "
                              "pass column_map={'<your column>': '<schema name>'}.", reason=MISSING_COLUMNS,
                              columns=missing, dataset_type=spec.dataset_type)
    n = len(df)
    if n == 0:
        raise DataError(f"{where_name} is empty (no rows); pass data with at least one row.")
    info = SourceInfo(where_name, "frame", index=df.index)
    where = Provenance([info], [n])
    keys, values, types = {}, {}, {}
    item = spec.domain.item_field
    items = df[src_of[item]] if item in src_of else None
    for canon, typ in wanted.items():
        s = df[src_of[canon]]
        if canon in spec.key_columns:
            keys[canon] = _frame_keys(s, canon, where)
            types[canon] = "string"
        elif typ == "timestamp":
            values[canon] = parse_timestamps(s, canon, where, items, spec.timezone, spec.timestamp_format)
            types[canon] = "timestamp"
        elif typ in ("float", "integer"):
            values[canon] = parse_numbers(s, canon, where, items, typ)
            types[canon] = typ
        elif typ == "auto":
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                values[canon] = s.to_numpy(dtype=float, na_value=np.nan)
                types[canon] = "float"
            elif pd.api.types.is_datetime64_any_dtype(s):
                values[canon] = s.astype(str).to_numpy(object)
                types[canon] = "string"
            else:
                values[canon] = s.to_numpy(dtype=object)
                types[canon] = "string"
        else:
            v = s.to_numpy(dtype=object)
            if typ == "geolocation":
                ok = pd.Series(v).astype("string").str.match(_GEO_RE).fillna(True).to_numpy(bool)
                if not ok.all():
                    bad = int(np.flatnonzero(~ok)[0])
                    raise DataError(f"{where.locate(bad)}: column '{canon}' (type geolocation) has value {v[bad]!r}; "
                                    "write it as latitude_longitude (47.61_-122.33) or country_postcode (US_98121).")
            values[canon] = v
            types[canon] = typ
    for c, v in spec.constants.items():
        if c in spec.key_columns:
            keys[c] = (np.zeros(n, np.int32), np.array([str(v)], dtype=object))
            types[c] = "string"
        else:
            values[c] = np.repeat(np.asarray([v]), n)
            types[c] = "float" if isinstance(v, (int, float)) else "string"
    dropped = [m for m in names if m not in wanted and m not in spec.constants]
    return Columns(n, keys, values, types, where, dropped)


def _frame_keys(s: pd.Series, col: str, where: Provenance) -> tuple[np.ndarray, np.ndarray]:
    isna = s.isna().to_numpy()
    if isna.any():
        bad = int(np.flatnonzero(isna)[0])
        raise DataError(f"{where.locate(bad)}: column '{col}' is empty ({int(isna.sum())} row(s) in all); every "
                        f"row needs a {col}; fill it in or remove the row.")
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int32)
        labels = s.cat.categories.astype(str).to_numpy(object)
    else:
        codes, uniq = pd.factorize(s, sort=False)
        labels = pd.Index(uniq).astype(str).to_numpy(object)
        codes = codes.astype(np.int32)
    # labels that coincide once written as text (1 and "1") or without surrounding spaces become one
    labels = _strip_keys(codes, labels, col, where)[1]
    c2, u2 = pd.factorize(labels)
    if len(u2) != len(labels):
        codes = c2.astype(np.int32)[codes]
        labels = np.asarray(u2, dtype=object)
    return _sorted_codes(codes, labels)
