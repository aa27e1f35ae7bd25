"""Reading one Parquet file."""
from __future__ import annotations

import pandas as pd

from ..errors import MISSING_COLUMNS, DataError, SchemaError
from .csv import _text_keys
from .files import _is_url, _open_binary, _strip_file
from .parse import parse_numbers, parse_timestamps
from .provenance import Provenance, SourceInfo
from .spec import _Spec
from .table import _finish_table


def _read_parquet(path: str, spec: _Spec):
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec.check_schema(f"file '{path}'")
    with _open_binary(path) as fh:
        try:
            pf = pq.ParquetFile(fh if _is_url(path) else _strip_file(path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"file '{path}' is not a complete Parquet file ({exc}); it is truncated or damaged: "
                            "write or download it again.") from None
        file_names = pf.schema_arrow.names
        mapped = [spec.column_map.get(x, x) for x in file_names]
        wanted = spec.wanted(mapped, f"file '{path}'")
        if spec.schema is not None:
            missing = [n for n in wanted if n not in mapped]
            if missing:
                raise SchemaError(f"file '{path}': missing required column(s) {missing} (it has {file_names}); "
                                  "rename them or pass column_map={'<file column>': '<schema name>'}.",
                                  reason=MISSING_COLUMNS, columns=missing, dataset_type=spec.dataset_type)
        file_of = {m: f for f, m in zip(file_names, mapped) if m in wanted}
        table = pf.read(columns=[file_of[c] for c in wanted])
    table = table.rename_columns([{v: k for k, v in file_of.items()}[c] for c in table.column_names])
    info = SourceInfo(path, "parquet")
    where = Provenance([info], [table.num_rows])
    cols = {}
    items = None
    item = spec.domain.item_field
    for canon, typ in wanted.items():
        col = table.column(canon)
        if canon in spec.key_columns:
            if pa.types.is_dictionary(col.type):
                col = col.cast(pa.string())
            s = col.to_pandas()
            if canon == item:
                items = s
            if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
                s = s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
            cols[canon] = pa.array(_text_keys(s, canon, where)).dictionary_encode()
            continue
        if typ == "timestamp":
            if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
                ts = pd.Series(col.to_pandas())
            else:
                ts = col.to_pandas()
            flags = {}
            ns = parse_timestamps(ts, canon, where, items, spec.timezone, spec.timestamp_format, flags)
            info.zoned = flags.get("zoned", False)
            cols[canon] = pa.array(ns.view("M8[ns]"))
        elif typ in ("float", "integer"):
            if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                cols[canon] = col.cast(pa.float64())
            else:
                cols[canon] = pa.array(parse_numbers(col.to_pandas(), canon, where, items, typ))
        else:
            cols[canon] = col
    table = pa.table(cols)
    table = _finish_table(table, wanted, spec, info)
    dropped = [m for m in mapped if m not in wanted]
    return table, info, dropped
