"""Reading one CSV file: pyarrow's fast path, and the text path that locates the first bad value."""
from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import TIMESTAMP
from .files import _first_row, _is_url, _open_binary, _open_text, _raise_bad_utf8_anywhere, _strip_file
from .parse import parse_numbers, parse_timestamps
from .provenance import Provenance, SourceInfo
from .sniff import _detect_header, _first_data_value
from .spec import _Spec
from .table import _finish_table, _first_null, _release_arrow_memory


def _arrow_type(typ: str, is_key: bool):
    import pyarrow as pa

    if is_key:
        return pa.dictionary(pa.int32(), pa.string())
    return {"string": pa.string(), "geolocation": pa.string(), "float": pa.float64(), "integer": pa.float64(),
            "timestamp": pa.timestamp("ns")}.get(typ)


def _read_csv(path: str, spec: _Spec, header: bool | None, allow_empty: bool):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    spec.check_schema(f"file '{path}'")
    first = _first_row(path)
    if first is None:
        if allow_empty:
            return None
        raise DataError(f"file '{path}' is empty; export the data again (a CSV needs at least one data row).")
    has_header, names = _detect_header(first, spec, header, path)
    wanted = spec.wanted(names, f"file '{path}'")
    file_of = {}
    for fname, canon in zip(first if has_header else names, names):
        if canon in wanted:
            file_of[canon] = fname
    file_names = list(first) if has_header else list(names)
    types = {}
    for canon, typ in wanted.items():
        t = None if typ == "auto" else _arrow_type(typ, canon in spec.key_columns)
        if typ == "timestamp" and spec.timestamp_format:
            t = pa.string()
        if t is not None:
            types[file_of[canon]] = t
    info = SourceInfo(path, "csv", header=has_header)
    dropped = [n for n in names if n not in wanted and n not in spec.constants]

    def read(col_types):
        ro = pcsv.ReadOptions(column_names=file_names, skip_rows=int(has_header), block_size=1 << 24)
        co = pcsv.ConvertOptions(column_types=col_types, include_columns=[file_of[c] for c in wanted],
                                 null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True)
        if not _is_url(path):  # pyarrow reads local files itself (and decompresses .gz, .bz2, ...)
            return pcsv.read_csv(_strip_file(path), read_options=ro, convert_options=co)
        with _open_binary(path) as fh:
            return pcsv.read_csv(fh, read_options=ro, convert_options=co)

    table = None
    ts_file = file_of.get(TIMESTAMP)
    attempts = [types]
    if ts_file in types and types[ts_file] == pa.timestamp("ns"):
        first_ts = (first if has_header else None)
        sample = _first_data_value(path, has_header, file_names.index(ts_file)) if first_ts is not None else \
            first[file_names.index(ts_file)]
        if sample is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", sample):
            attempts.insert(0, {**types, ts_file: pa.date32()})  # plain dates parse faster as date32
    msg = ""
    for attempt in attempts:
        try:
            table = read(attempt)
            break
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "CSV parse error" in msg:
                break
            if "invalid UTF8" in msg or "invalid utf8" in msg.lower():
                _raise_bad_utf8_anywhere(path)
        except (OSError, EOFError) as exc:
            raise DataError(f"file '{path}' could not be read to the end ({exc}); a compressed file is truncated "
                            "or damaged: copy or download it again.") from None
    if table is None and "expected no zone offset" in msg and ts_file in types:
        try:
            table = read({**types, ts_file: pa.timestamp("ns", "UTC")})
        except pa.ArrowInvalid:
            table = None
    if table is None:
        if "CSV parse error" in msg:
            _raise_csv_shape(path, has_header, len(file_names), msg)
        table = _slow_csv(path, read, wanted, file_of, spec, info)
    table = table.rename_columns([{v: k for k, v in file_of.items()}[c] for c in table.column_names])
    table = _finish_table(table, wanted, spec, info)
    _release_arrow_memory()
    return table, info, dropped


def _raise_csv_shape(path: str, has_header: bool, n_fields: int, msg: str):
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        start = 1
        for rec in reader:
            if rec and len(rec) != n_fields:
                raise DataError(
                    f"file '{path}', line {start} has {len(rec)} fields but the file has {n_fields} columns; "
                    "fix that line (a missing or extra comma, or a value with an unquoted comma).")
            start = reader.line_num + 1
    raise DataError(f"file '{path}' could not be parsed as CSV ({msg}); check the file's format.")


class _Shifted:
    """A Provenance seen from row ``offset`` on (for converting a column slice by slice)."""

    def __init__(self, where: Provenance, offset: int):
        self.where, self.offset = where, offset

    def locate(self, pos: int) -> str:
        return self.where.locate(int(pos) + self.offset)


_SLICE = 1 << 20


def _slow_csv(path, read, wanted, file_of, spec, info):
    """Read every wanted column as text and convert it slice by slice (bounded memory), stopping
    at the first bad value with its exact location."""
    import pyarrow as pa

    table = read({file_of[c]: pa.string() for c in wanted})
    n = table.num_rows
    where = Provenance([info], [n])
    item = spec.domain.item_field
    item_col = table.column(file_of[item]) if item in file_of else None
    out = {}
    for canon, typ in wanted.items():
        col = table.column(file_of[canon])
        if canon in spec.key_columns:
            if col.null_count:
                bad = _first_null(col)
                raise DataError(f"{where.locate(bad)}: column '{canon}' is empty ({col.null_count} row(s) in all); "
                                f"every row needs a {canon}; fill it in or remove the row.")
            out[canon] = col.dictionary_encode()
            continue
        parts, zoned_at, naive_at = [], None, None
        numeric = True
        for off in range(0, n, _SLICE):
            s = col.slice(off, _SLICE).to_pandas()
            items = None if item_col is None else item_col.slice(off, _SLICE).to_pandas()
            w = _Shifted(where, off)
            if typ == "timestamp":
                flags = {}
                parts.append(parse_timestamps(s, canon, w, items, spec.timezone, spec.timestamp_format, flags))
                if flags.get("zoned"):
                    zoned_at = off if zoned_at is None else zoned_at
                else:
                    naive_at = off if naive_at is None else naive_at
                if zoned_at is not None and naive_at is not None:
                    zs, ns_ = col[zoned_at].as_py(), col[naive_at].as_py()
                    raise DataError(
                        f"column '{canon}' mixes time zones: {where.locate(zoned_at)} has {zs!r} with a time zone but "
                        f"{where.locate(naive_at)} has {ns_!r} without one; write every timestamp the same way, "
                        "either all in local time without offset (and pass timezone=...) or all with an offset.")
            elif typ in ("float", "integer"):
                parts.append(parse_numbers(s, canon, w, items, typ))
            elif typ == "auto":
                num = pd.to_numeric(s, errors="coerce")
                numeric = numeric and bool((num.notna() | s.isna()).all())
                parts.append(num.to_numpy(float) if numeric else None)
            else:
                parts.append(None)
        if typ == "timestamp":
            info.zoned = zoned_at is not None
            out[canon] = pa.array(np.concatenate(parts).view("M8[ns]") if parts else np.zeros(0, "M8[ns]"))
        elif typ in ("float", "integer") or (typ == "auto" and numeric):
            out[canon] = pa.array(np.concatenate(parts) if parts else np.zeros(0))
        else:
            out[canon] = col
        del parts
    return pa.table({file_of[c]: v for c, v in out.items()})


def _text_keys(s: pd.Series, col: str, where: Provenance) -> np.ndarray:
    bad = np.flatnonzero(s.isna().to_numpy())
    if len(bad):
        raise DataError(f"{where.locate(bad[0])}: column '{col}' is empty ({len(bad)} row(s) in all); every row "
                        f"needs a {col}; fill it in or remove the row.")
    return s.astype(str).to_numpy(object)
