"""Finishing pyarrow tables (from CSV or Parquet) into typed numpy columns with dictionary-coded keys."""
from __future__ import annotations

import numpy as np

from ..errors import DataError, SchemaError
from ..schema import TIMESTAMP
from .parse import _GEO_RE
from .provenance import Provenance, SourceInfo
from .spec import _Spec, Columns


def _finish_table(table, wanted: dict, spec: _Spec, info: SourceInfo):
    """Checks that need the typed table: nulls in keys/timestamps, integers, geolocations, time zones."""
    import pyarrow as pa
    import pyarrow.compute as pc

    where = Provenance([info], [table.num_rows])
    item = spec.domain.item_field

    def item_at(i):
        if item in table.column_names:
            return table.column(item)[int(i)].as_py()
        return spec.constants.get(item)

    cols = {}
    for name in table.column_names:
        col = table.column(name)
        typ = wanted.get(name, "auto")
        if name in spec.key_columns or typ == "timestamp":
            if col.null_count:
                bad = _first_null(col)
                what = "a timestamp" if typ == "timestamp" else f"a {name}"
                raise DataError(f"{where.locate(bad)}: column '{name}' is empty"
                                + (f" (item '{item_at(bad)}')" if name != item else "")
                                + f"; every row needs {what}; fill it in or remove the row.")
        if typ == "timestamp":
            if pa.types.is_string(col.type):  # explicit timestamp_format
                parsed = pc.strptime(col, format=spec.timestamp_format, unit="ns", error_is_null=True)
                if parsed.null_count:
                    bad = _first_null(parsed)
                    raise DataError(f"{where.locate(bad)}: column '{name}' value {col[bad].as_py()!r} (item "
                                    f"'{item_at(bad)}') does not match timestamp_format "
                                    f"{spec.timestamp_format!r}; fix the value or the format.")
                col = parsed
            if getattr(col.type, "tz", None) is not None:
                col = _tz_to_naive(col, spec.timezone)
                info.zoned = True
            else:
                if info.zoned is None:
                    info.zoned = False
                if col.type != pa.timestamp("ns"):  # date32, or other units from Parquet
                    col = col.cast(pa.timestamp("ns"))
        elif typ == "integer":
            v = col.to_numpy()
            frac = np.flatnonzero(np.isfinite(v) & (np.mod(v, 1) != 0))
            if len(frac):
                raise DataError(f"{where.locate(frac[0])}: column '{name}' (type integer) has value {v[frac[0]]} "
                                f"(item '{item_at(frac[0])}'); make it a whole number or declare the field float.")
        elif typ == "geolocation":
            ok = pc.match_substring_regex(col, _GEO_RE)
            bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False).astype(bool) & ~col.is_null().to_numpy(
                zero_copy_only=False))
            if len(bad):
                raise DataError(f"{where.locate(bad[0])}: column '{name}' (type geolocation) has value "
                                f"{col[int(bad[0])].as_py()!r}; write it as latitude_longitude (47.61_-122.33) or "
                                "country_postcode (US_98121).")
        elif typ == "auto" and (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
            col = col.cast(pa.float64())
        elif typ == "auto" and pa.types.is_timestamp(col.type):
            col = col.cast(pa.string())
        cols[name] = col
    n = table.num_rows
    for c, v in spec.constants.items():
        if c not in cols:
            arr = pa.array([str(v) if c in spec.key_columns else v] * 1)
            cols[c] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), arr) \
                if c in spec.key_columns else pa.array(np.repeat(np.asarray([v], dtype=object), n))
    order = [c for c in [*spec.key_columns, TIMESTAMP] if c in cols] + \
            [c for c in cols if c not in spec.key_columns and c != TIMESTAMP]
    return pa.table({c: cols[c] for c in order})


def _first_null(col) -> int:
    import pyarrow.compute as pc

    return int(pc.index(col.is_null(), True).as_py())


def _tz_to_naive(col, timezone: str | None):
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.cast(pa.timestamp("ns", "UTC"))
    if timezone:
        col = pc.local_timestamp(col.cast(pa.timestamp("ns", timezone)))
    return col.cast(pa.timestamp("ns"))


def _columns_from_tables(parts, spec: _Spec, where: Provenance, dropped) -> Columns:
    """Concatenate per-file tables and turn them into numpy columns (freeing arrow memory as it goes)."""
    import pyarrow as pa

    names = parts[0].column_names
    for t, s in zip(parts[1:], where.sources[1:]):
        if set(t.column_names) != set(names):
            raise SchemaError(f"file '{s.name}' has columns {t.column_names} but '{where.sources[0].name}' has "
                              f"{names}; all files of a dataset need the same columns.")
    cols = {name: [ch for t in parts for ch in t.column(name).chunks] for name in names}
    parts.clear()  # the caller's list too: free each arrow column once converted
    keys, values, types = {}, {}, {}
    for name in names:
        chunks = cols.pop(name)
        if name in spec.key_columns:
            keys[name] = _strip_keys(*_dict_codes(chunks), name, where)
            types[name] = "string"
            del chunks
            _release_arrow_memory()
            continue
        typ = spec.schema.type_of(name) if spec.schema is not None and name in spec.schema.names else None
        t0 = chunks[0].type if chunks else pa.null()
        if pa.types.is_timestamp(t0):
            arr = _concat_numpy(chunks, np.int64)
            types[name] = "timestamp"
        elif pa.types.is_floating(t0) or pa.types.is_integer(t0):
            arr = _concat_numpy([c.cast(pa.float64()) if c.type != pa.float64() else c for c in chunks], np.float64)
            types[name] = typ or "float"
        else:
            arr = np.concatenate([c.to_numpy(zero_copy_only=False).astype(object) for c in chunks]) \
                if chunks else np.zeros(0, object)
            types[name] = typ or "string"
        del chunks
        values[name] = arr
        _release_arrow_memory()
    return Columns(where.n_rows, keys, values, types, where, dropped)


def _release_arrow_memory() -> None:
    """Hand memory arrow freed back to the system (numpy allocates elsewhere, so it could not reuse it)."""
    import pyarrow as pa

    try:
        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - an optimisation only
        pass


def _concat_numpy(chunks, dtype) -> np.ndarray:
    import pyarrow as pa

    n = sum(len(c) for c in chunks)
    out = np.empty(n, dtype=dtype)
    pos = 0
    for i in range(len(chunks)):
        c = chunks[i]
        if pa.types.is_timestamp(c.type):
            c = c.view(pa.int64())
        a = c.to_numpy(zero_copy_only=False)
        out[pos:pos + len(a)] = a
        pos += len(a)
        chunks[i] = None  # free as we go
    return out


def _dict_codes(chunks) -> tuple[np.ndarray, np.ndarray]:
    """int32 codes into lexicographically sorted labels, from dictionary-encoded chunks."""
    import pyarrow as pa

    chunks = [c if pa.types.is_dictionary(c.type) else c.dictionary_encode() for c in chunks]
    if not chunks:
        return np.zeros(0, np.int32), np.zeros(0, object)
    ca = pa.chunked_array(chunks).unify_dictionaries() if len(chunks) > 1 else pa.chunked_array(chunks)
    labels = ca.chunk(0).dictionary.to_numpy(zero_copy_only=False).astype(object)
    n = len(ca)
    codes = np.empty(n, np.int32)
    pos = 0
    for c in ca.chunks:
        idx = c.indices.to_numpy(zero_copy_only=False)
        codes[pos:pos + len(idx)] = idx
        pos += len(idx)
    del ca, chunks
    return _sorted_codes(codes, labels)


def _strip_keys(codes: np.ndarray, labels: np.ndarray, col: str, where) -> tuple[np.ndarray, np.ndarray]:
    """Key labels without surrounding spaces (``' a'`` and ``'a'`` are one item), said in a warning."""
    import warnings

    stripped = np.array([str(x).strip() for x in labels], dtype=object)
    changed = stripped != labels
    if not changed.any():
        return codes, labels
    n_rows = int(np.isin(codes, np.flatnonzero(changed)).sum())
    names = getattr(where, "names", None)
    src = names() if callable(names) else ""
    warnings.warn(f"{src + ': ' if src else ''}column '{col}': {int(changed.sum())} value(s) such as "
                  f"{labels[changed][0]!r} had spaces around them ({n_rows} row(s)); the spaces were removed, so "
                  f"{labels[changed][0]!r} and {stripped[changed][0]!r} are the same {col}.", UserWarning,
                  stacklevel=4)
    uniq, inv = np.unique(stripped, return_inverse=True)
    return inv.astype(np.int32)[codes], uniq.astype(object)


def _sorted_codes(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recode so that labels are sorted and all used; keeps codes as int32."""
    step = 1 << 23
    used = np.zeros(len(labels), bool)
    for s in range(0, len(codes), step):  # chunks: np.bincount would copy all codes to int64
        used |= np.bincount(codes[s:s + step], minlength=len(labels)) > 0
    labels = np.asarray(labels, dtype=object)
    perm = np.argsort(labels.astype(str), kind="stable")
    perm = perm[used[perm]]
    if len(perm) == len(labels) and np.all(perm == np.arange(len(perm))):
        return codes, labels
    rank = np.full(len(labels), -1, np.int32)
    rank[perm] = np.arange(len(perm), dtype=np.int32)
    out = np.empty(len(codes), np.int32)
    for s in range(0, len(codes), step):
        np.take(rank, codes[s:s + step], out=out[s:s + step])
    return out, labels[perm]
