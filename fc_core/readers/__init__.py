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

>>> import pandas as pd
>>> df = pd.DataFrame({"item_id": ["b", "a"], "timestamp": ["2020-01-02", "2020-01-01 00:00:00"],
...                    "target_value": ["1.5", "2"]})
>>> got = read_columns(df, "TARGET_TIME_SERIES", "CUSTOM")
>>> codes, labels = got.keys["item_id"]
>>> labels.take(codes).tolist(), got.values["target_value"].tolist()
(['b', 'a'], [1.5, 2.0])
"""
from __future__ import annotations

import csv
import glob as _glob
import io
import os
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import DataError, SchemaError
from .schema import (TIMESTAMP, Schema, check_dataset_type, check_forecast_dimensions, get_domain,
                     required_fields)

TIMESTAMP_HELP = ("use yyyy-MM-dd, yyyy-MM-dd HH:mm:ss or ISO 8601 such as 2020-01-31T13:00:00 "
                  "(or pass timestamp_format='%d/%m/%Y %H:%M' for another layout)")
_ZONE_RE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_GEO_RE = r"^(?:-?\d{1,2}(?:\.\d+)?_-?\d{1,3}(?:\.\d+)?|[A-Z]{2}_[0-9A-Za-z][0-9A-Za-z \-]*)$"
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


# ---------------------------------------------------------------- provenance
@dataclass
class SourceInfo:
    """Where a block of rows came from, to name it in messages."""

    name: str
    kind: str  # "csv", "parquet" or "frame"
    header: bool = False
    index: pd.Index | None = None  # a DataFrame's index labels
    zoned: bool | None = None  # its timestamps carried a time zone (None: no timestamps)
    _simple: bool | None = None  # CSV without quotes or blank lines: line = row + 1 + header


class Provenance:
    """Maps a row position (in reading order) to its file and line.

    >>> p = Provenance([SourceInfo("a.csv", "csv", header=True), SourceInfo("b.csv", "csv")], [2, 3])
    >>> p.source_of(3)[0].name, p.source_of(3)[1]
    ('b.csv', 1)
    """

    def __init__(self, sources: Sequence[SourceInfo], counts: Sequence[int]):
        self.sources = list(sources)
        self.offsets = np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])

    def source_of(self, pos: int) -> tuple[SourceInfo, int]:
        k = int(np.searchsorted(self.offsets, pos, side="right") - 1)
        k = min(max(k, 0), len(self.sources) - 1)
        return self.sources[k], int(pos - self.offsets[k])

    def locate(self, pos: int) -> str:
        """``"file 'x.csv', line 7"`` or ``"DataFrame row 3 (index 2)"`` for row ``pos``."""
        src, local = self.source_of(int(pos))
        return describe_row(src, local)

    def names(self) -> str:
        return ", ".join(f"'{s.name}'" for s in self.sources[:3]) + (" ..." if len(self.sources) > 3 else "")

    @staticmethod
    def concat(parts: Sequence["Provenance"]) -> "Provenance":
        sources, counts = [], []
        for p in parts:
            sources += p.sources
            counts += np.diff(p.offsets).tolist()
        return Provenance(sources, counts)


def describe_row(src: SourceInfo, local: int) -> str:
    if src.kind == "frame":
        label = src.index[local] if src.index is not None and local < len(src.index) else local
        return f"{src.name} row {local + 1} (index {label!r})"
    if src.kind == "parquet":
        return f"file '{src.name}', row {local + 1}"
    return f"file '{src.name}', line {_csv_line(src, local)}"


def _csv_line(src: SourceInfo, local: int) -> int:
    """1-based line of data row ``local`` (0-based), counting the header line, blank lines and
    line breaks inside quoted fields (the exact scan only runs when the file has such things)."""
    if src._simple is None:
        src._simple = _is_simple_csv(src.name)
    if src._simple:
        return local + 1 + int(src.header)
    with _open_text(src.name) as fh:
        reader = csv.reader(fh)
        row = -1 - int(src.header)
        start = 1
        for rec in reader:
            if not rec:  # blank line: pyarrow skips it too
                start = reader.line_num + 1
                continue
            row += 1
            if row == local:
                return start
            start = reader.line_num + 1
    return local + 1 + int(src.header)


def _is_simple_csv(path: str) -> bool:
    try:
        with _open_binary(path) as fh:
            prev = b"\n"
            while True:
                chunk = fh.read(1 << 23)
                if not chunk:
                    return True
                if b'"' in chunk:
                    return False
                buf = prev + chunk
                if b"\n\n" in buf or b"\n\r\n" in buf or b"\r\r" in buf:
                    return False
                prev = chunk[-2:]
    except OSError:
        return True


# --------------------------------------------------------------------- files
def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _strip_file(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def _open_binary(path: str, decompress: bool = True):
    """A binary file object; compressed files (by suffix) come decompressed."""
    if _is_url(path) or (decompress and path.lower().endswith(_COMPRESSED)):
        import fsspec

        return fsspec.open(path, "rb", compression="infer" if decompress else None).open()
    return open(_strip_file(path), "rb")


def _open_text(path: str):
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def expand_paths(source) -> list[str]:
    """The files named by ``source``: a file, a folder (its files, sorted), a glob or a URL.

    Hidden files and names starting with ``_`` (``_SUCCESS``) in folders are skipped.

    Raises
    ------
    DataError
        If nothing matches.
    """
    if isinstance(source, (list, tuple)):
        out = []
        for s in source:
            out += expand_paths(s)
        return out
    path = os.fspath(source) if not isinstance(source, str) else source
    if _is_url(path):
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(path)
        proto = path.split("://", 1)[0]
        files = []
        for p in paths:
            if fs.isdir(p):
                files += sorted(f for f in fs.find(p) if not os.path.basename(f).startswith((".", "_")))
            elif fs.exists(p):
                files.append(p)
        files = [f if "://" in f else f"{proto}://{f.lstrip('/')}" if proto != "memory" else f"memory://{f}"
                 for f in files]
        if not files:
            raise DataError(f"no files found at '{path}'; check the URL (and the glob pattern, if any).")
        return files
    path = _strip_file(path)
    if os.path.isdir(path):
        files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(path) for f in fs
                       if not f.startswith((".", "_")))
        if not files:
            raise DataError(f"folder '{path}' holds no data files; put the CSV or Parquet files there.")
        return files
    if any(ch in path for ch in "*?["):
        files = sorted(_glob.glob(path, recursive=True))
        if not files:
            raise DataError(f"no files match '{path}'; check the pattern.")
        return files
    if not os.path.exists(path):
        raise DataError(f"file '{path}' does not exist; check the path.")
    return [path]


def _is_parquet(path: str) -> bool:
    if path.lower().endswith(_PARQUET_SUFFIXES):
        return True
    try:
        with _open_binary(path, decompress=False) as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _first_row(path: str) -> list[str] | None:
    """The first non-blank CSV record of ``path`` (BOM removed), or None for an empty file.

    Raises
    ------
    DataError
        For a file in UTF-16 or another encoding than UTF-8, or a broken compressed file.
    """
    check_encoding(path)
    with _open_text(path) as fh:
        for rec in csv.reader(fh):
            if rec and any(x.strip() for x in rec):
                return [x.strip() for x in rec]
    return None


def _read_head(path: str, n: int = 1 << 20) -> bytes:
    try:
        with _open_binary(path) as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        if path.lower().endswith(_COMPRESSED):
            raise DataError(f"file '{path}' cannot be decompressed ({exc}); the compressed file is truncated or "
                            "damaged: copy or download it again.") from None
        raise


def check_encoding(path: str) -> None:
    """Refuse, naming line and column, a CSV that is not UTF-8 (a UTF-8 BOM is fine).

    Raises
    ------
    DataError
    """
    head = _read_head(path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 4 and head[1:4:2] == b"\x00\x00"):
        raise DataError(f"file '{path}' is UTF-16 encoded; save it as UTF-8 (in Excel: 'CSV UTF-8'; or "
                        "iconv -f UTF-16 -t UTF-8), as Amazon Forecast expects.")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4 and exc.reason == "unexpected end of data":
            return  # a character cut by the 1 MiB read
        _raise_not_utf8(path, head, exc.start)


def _raise_bad_utf8_anywhere(path: str) -> None:
    with _open_binary(path) as fh:
        data = fh.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _raise_not_utf8(path, data, exc.start)


def _raise_not_utf8(path: str, data: bytes, pos: int) -> None:
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    byte = data[pos]
    guess = data[max(0, pos - 20):pos + 20].decode("latin-1").splitlines()
    raise DataError(f"file '{path}', line {line}, character {col}: byte 0x{byte:02x} is not UTF-8 (the file looks "
                    f"Latin-1 or Windows-1252 encoded: ...{guess[-1] if guess else ''}...); save it as UTF-8 "
                    "(iconv -f latin1 -t utf-8), as Amazon Forecast expects.")


# -------------------------------------------------------------- the result
@dataclass
class Columns:
    """A dataset read into typed columns, in reading order.

    Attributes
    ----------
    n : int
        Number of rows.
    keys : dict
        Key column -> ``(codes, labels)``: int32 codes per row into an object array of strings.
    values : dict
        Other columns: ``timestamp`` as int64 nanoseconds (naive), numbers as float64,
        strings as object arrays.
    types : dict
        Schema type of every column.
    where : Provenance
    dropped : list of str
        Columns of the input that were not read (named in hints about duplicates).
    """

    n: int
    keys: dict
    values: dict
    types: dict
    where: Provenance
    dropped: list = field(default_factory=list)


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


def _names(paths) -> str:
    return "file '" + paths[0] + "'" if len(paths) == 1 else f"files {', '.join(repr(p) for p in paths[:3])}"


@dataclass
class _Spec:
    domain: object
    dataset_type: str
    dims: list
    schema: Schema | None
    column_map: dict
    constants: dict
    columns: list | None
    timezone: str | None
    timestamp_format: str | None

    @property
    def key_columns(self) -> list[str]:
        return [self.domain.item_field, *self.dims]

    def required(self) -> list[str]:
        return [*required_fields(self.domain.name, self.dataset_type), *self.dims]

    def default_type(self, name: str) -> str | None:
        if name in self.key_columns:
            return "string"
        if name == TIMESTAMP and self.dataset_type != "ITEM_METADATA":
            return "timestamp"
        if name == self.domain.target_field and self.dataset_type == "TARGET_TIME_SERIES":
            return "float"
        return None

    def check_schema(self, where: str) -> None:
        if self.schema is None:
            return
        have = set(self.schema.names) | set(self.constants)
        missing = [c for c in self.required() if c not in have]
        if missing:
            raise SchemaError(
                f"{where}: the schema ({self.schema}) lacks required field(s) {missing} of a "
                f"{self.domain.name} {self.dataset_type}; add them (e.g. '{missing[0]}:"
                f"{self.default_type(missing[0]) or 'string'}') in the file's column order."
            )
        for c in self.key_columns:
            if c in self.schema.names and self.schema.type_of(c) != "string":
                raise SchemaError(f"{where}: key field '{c}' must have type string in the schema, "
                                  f"not {self.schema.type_of(c)}.")
        if TIMESTAMP in self.schema.names and self.schema.type_of(TIMESTAMP) != "timestamp" \
                and self.dataset_type != "ITEM_METADATA":
            raise SchemaError(f"{where}: field 'timestamp' must have type timestamp in the schema.")

    def wanted(self, names: list[str], where: str) -> dict[str, str]:
        """Canonical column -> type for the columns to read, given the (mapped) column names."""
        if self.schema is not None:
            out = {n: self.schema.type_of(n) for n in self.schema.names}
        else:
            out = {}
            for n in names:
                t = self.default_type(n)
                if t is not None:
                    out[n] = t
                elif self.dataset_type != "TARGET_TIME_SERIES" and n not in self.constants:
                    out[n] = "auto"
        if self.columns is not None:
            keep = set(self.columns) | set(self.required())
            unknown = [c for c in self.columns if c not in names and c not in self.constants]
            if unknown:
                raise SchemaError(f"{where}: column(s) {unknown} asked for in columns= are not in the data "
                                  f"(it has {names}).")
            out = {n: (out.get(n) or "auto") for n in names if n in keep}
        for c in self.constants:
            out.pop(c, None)
        missing = [c for c in self.required() if c not in out and c not in self.constants]
        if missing:
            hint = (f" Map a column to it with column_map={{'<your column>': '{missing[0]}'}}"
                    + (f" or give a constant with {missing[0]}='...'" if missing[0] in self.key_columns else "")
                    + ".")
            raise SchemaError(f"{where}: missing required column(s) {missing} (it has {names}).{hint}")
        return out


# ---------------------------------------------------------------- CSV
def _parses_as(value: str, typ: str, fmt: str | None = None) -> bool:
    if typ in ("float", "integer"):
        if value == "":
            return True
        try:
            float(value)
            return True
        except ValueError:
            return False
    if typ == "timestamp" and fmt:
        import datetime as _dt

        try:
            _dt.datetime.strptime(value, fmt)
            return True
        except ValueError:
            return False
    if typ == "timestamp":
        return bool(re.match(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?" + r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$",
                             value))
    return True


def _canonical_names(first: list[str], spec: _Spec) -> list[str]:
    """File column names mapped by ``column_map`` (matched ignoring case) and, when they only differ
    in case, to the canonical names (``Item_ID`` -> ``item_id``)."""
    cmap = {str(k).strip().lower(): v for k, v in spec.column_map.items()}
    known = {n.lower(): n for n in [*spec.required(), *(spec.schema.names if spec.schema is not None else [])]}
    out = []
    for x in first:
        if x in spec.column_map:
            out.append(spec.column_map[x])
        elif x.lower() in cmap:
            out.append(cmap[x.lower()])
        else:
            out.append(known.get(x.lower(), x))
    return out


def _detect_header(first: list[str], spec: _Spec, header: bool | None, path: str) -> tuple[bool, list[str]]:
    """Whether the first row is a header, and the canonical name of every file column."""
    if len(first) == 1 and first[0].count(";") >= 1:
        raise DataError(
            f"file '{path}', line 1 ({first[0][:80]!r}) separates its fields with ';', but dataset files are "
            "comma-separated (as in Amazon Forecast); save it as CSV with ',' between fields.")
    mapped = _canonical_names(first, spec)
    if spec.schema is None:
        if header is False:
            raise SchemaError(
                f"file '{path}' has no header, so its columns need a schema in file order; pass e.g. "
                f"schema='timestamp:timestamp,{spec.domain.target_field}:float,{spec.domain.item_field}:string'.")
        looks = [c for c in spec.required() if c in mapped]
        if header is None and not looks:
            raise SchemaError(
                f"file '{path}' has no header row (its first line is {','.join(first)!r}); pass "
                f"schema= listing the columns in file order, e.g. 'timestamp:timestamp,"
                f"{spec.domain.target_field}:float,{spec.domain.item_field}:string', or add a header line.")
        _check_names(mapped, path)
        return True, mapped
    names = spec.schema.names
    in_file = [n for n in names if n not in spec.constants]
    if header is not False and set(in_file) <= set(mapped):
        _check_names(mapped, path)
        return True, mapped
    if header is None:
        header = not (len(first) == len(names) and all(_parses_as(v, spec.schema.type_of(n), spec.timestamp_format)
                                                      for v, n in zip(first, names)))
        typed = [(v, spec.schema.type_of(n)) for v, n in zip(first, names)
                 if spec.schema.type_of(n) in ("timestamp", "float", "integer") and v != ""]
        if header and len(first) == len(names) and (
                any(_parses_as(v, t, spec.timestamp_format) for v, t in typed)
                or any(v and _parses_as(v, "timestamp", spec.timestamp_format) for v in first)):
            header = False  # a data row (bad value or columns out of order), not a header: its error names line 1
    if len(first) == len(names) and not header:
        _check_order(path, spec, names)
    if len(first) != len(names):
        if header:
            missing = [n for n in in_file if n not in mapped]
            raise SchemaError(
                f"file '{path}': missing required column(s) {missing} in its header line 1 "
                f"({','.join(first)}); rename the columns to the schema's names ({', '.join(names)}) or pass "
                f"column_map={{'<file column>': '<schema name>'}}.")
        raise DataError(
            f"file '{path}', line 1 has {len(first)} fields but the schema ({spec.schema}) has {len(names)}; "
            "a file without header must have exactly the schema's fields, in order.")
    return bool(header), list(names)


def _first_rows(path: str, k: int) -> list[list[str]]:
    out = []
    with _open_text(path) as fh:
        for rec in csv.reader(fh):
            if rec and any(x.strip() for x in rec):
                out.append([x.strip() for x in rec])
                if len(out) >= k:
                    break
    return out


def _check_order(path: str, spec: _Spec, names: list[str]) -> None:
    """Refuse a schema whose order does not match a headerless file's: ids where numbers should be,
    or every row a new item at a new time (the numbers read as ids)."""
    rows = [r for r in _first_rows(path, 200) if len(r) == len(names)]
    if not rows:
        return
    types = [spec.schema.type_of(n) for n in names]
    num = [i for i, t in enumerate(types) if t in ("float", "integer")]
    keys = [i for i, n in enumerate(names) if n in spec.key_columns]
    order = ",".join(f"{n}:{t}" for n, t in zip(names, types))

    def swapped(why: str):
        raise SchemaError(f"file '{path}': the schema order looks swapped ({why}); the schema ({order}) must list "
                          "the file's columns in the file's order: reorder it (for the notebooks, target_schema).")
    ts = names.index(TIMESTAMP) if TIMESTAMP in names else None
    if ts is not None and types[ts] == "timestamp":
        bad = [r[ts] for r in rows if not _parses_as(r[ts], "timestamp", spec.timestamp_format)]
        if len(bad) > len(rows) // 2:
            cand = [j for j in range(len(names)) if j != ts
                    and all(_parses_as(r[j], "timestamp", spec.timestamp_format) for r in rows)]
            if cand:
                swapped(f"column {ts + 1} ({TIMESTAMP}) holds {bad[0]!r} on line 1 while column {cand[0] + 1} "
                        f"({names[cand[0]]}) holds time stamps such as {rows[0][cand[0]]!r}")
    for i in num:
        bad = [r[i] for r in rows if r[i] != "" and not _parses_as(r[i], "float")]
        if len(bad) > len(rows) // 2:
            cand = [j for j in keys if all(_parses_as(r[j], "float") for r in rows)]
            hint = f" while column {cand[0] + 1} ({names[cand[0]]}) holds numbers such as {rows[0][cand[0]]!r}" \
                if cand else ""
            swapped(f"column {i + 1} ({names[i]}) holds text such as {bad[0]!r} on line 1{hint}")
    if keys and ts is not None and len(rows) >= 20:
        k = keys[0]
        if all(_parses_as(r[k], "float") for r in rows) and len({r[k] for r in rows}) >= 0.9 * len(rows) \
                and len({r[ts] for r in rows}) >= 0.5 * len(rows):
            swapped(f"column {k + 1} ({names[k]}) holds a different number on nearly every line, so every item "
                    f"would have a single row; that column looks like the {spec.domain.target_field}")


def _first_data_value(path: str, has_header: bool, col: int) -> str | None:
    """Field ``col`` of the first data row (after the header)."""
    with _open_text(path) as fh:
        skip = int(has_header)
        for rec in csv.reader(fh):
            if not rec or not any(x.strip() for x in rec):
                continue
            if skip:
                skip -= 1
                continue
            return rec[col].strip() if col < len(rec) else None
    return None


def _check_names(names: list[str], path: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SchemaError(f"file '{path}': column(s) {dup} appear more than once in the header line 1; "
                          "give every column a distinct name.")


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


# ---------------------------------------------------------------- Parquet
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
                                  "rename them or pass column_map={'<file column>': '<schema name>'}.")
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


# ------------------------------------------------------- common finishing
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


# ---------------------------------------------------------------- frames
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
                              "pass column_map={'<your column>': '<schema name>'}.")
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


# ------------------------------------------------------ value parsing
def parse_numbers(s: pd.Series, col: str, where: Provenance, items, typ: str = "float") -> np.ndarray:
    """float64 values of ``s``; empty cells become NaN.

    Raises
    ------
    DataError
        Naming the first value that is not a number (file, line, column, item).
    """
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        text = s.astype("string").str.strip()
        num = pd.to_numeric(text.replace("", pd.NA), errors="coerce")
        badmask = (num.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
        if badmask.any():
            bad = int(np.flatnonzero(badmask)[0])
            raise DataError(
                f"{where.locate(bad)}: column '{col}' value {s.iloc[bad]!r}{_item_note(items, bad, col)} is not a "
                f"number ({int(badmask.sum())} such row(s)); the {typ} field needs numbers like 12 or 3.5 "
                "(leave the cell empty for a missing value).")
        v = num.to_numpy(dtype=float, na_value=np.nan)
    if typ == "integer":
        frac = np.flatnonzero(np.isfinite(v) & (np.mod(v, 1) != 0))
        if len(frac):
            raise DataError(f"{where.locate(frac[0])}: column '{col}' (type integer) has value {v[frac[0]]}"
                            f"{_item_note(items, int(frac[0]), col)}; make it a whole number or declare it float.")
    return v


def _item_note(items, i: int, col: str) -> str:
    if items is None or col == getattr(items, "name", None):
        return ""
    try:
        return f" (item '{items.iloc[i]}')"
    except Exception:  # noqa: BLE001 - only decorates a message
        return ""


def parse_timestamps(s: pd.Series, col: str, where: Provenance, items=None, timezone: str | None = None,
                     fmt: str | None = None, flags: dict | None = None) -> np.ndarray:
    """Naive int64 nanoseconds of the timestamps in ``s`` (see the module docstring for time zones).

    Raises
    ------
    DataError
        Empty or unparseable timestamps, or a column that mixes values with and without a time zone.
    """
    flags = {} if flags is None else flags
    flags["zoned"] = False
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        flags["zoned"] = True
        out = s.dt.tz_convert(timezone) if timezone else s.dt.tz_convert("UTC")
        return out.dt.tz_localize(None).astype("datetime64[ns]").to_numpy().view(np.int64)
    isna = s.isna().to_numpy()
    if isna.any():
        bad = int(np.flatnonzero(isna)[0])
        raise DataError(f"{where.locate(bad)}: column '{col}' is empty{_item_note(items, bad, col)}; every row "
                        "needs a timestamp; fill it in or remove the row.")
    if pd.api.types.is_datetime64_dtype(s):
        return s.astype("datetime64[ns]").to_numpy().view(np.int64)
    if s.dtype == object and len(s) and not isinstance(s.iloc[0], str):
        kinds = s.map(lambda v: "aware" if getattr(v, "tzinfo", None) is not None else
                      ("naive" if hasattr(v, "year") else "text"))
        if (kinds != "text").all():
            aware = (kinds == "aware").to_numpy()
            if aware.any() and not aware.all():
                _raise_mixed(aware, s, col, where, items)
            if aware.all():
                return parse_timestamps(pd.Series(pd.to_datetime(s, utc=True)), col, where, items, timezone,
                                        flags=flags)
            return pd.to_datetime(s).astype("datetime64[ns]").to_numpy().view(np.int64)
        s = s.astype(str)
    text = s.astype("string").str.strip()
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        zoned = np.zeros(len(text), bool)
    else:
        zoned = text.str.contains(_ZONE_RE, regex=True).fillna(False).to_numpy(bool) & \
            text.str.match(r"^\d{4}-\d{2}-\d{2}[T ]").fillna(False).to_numpy(bool)
        if zoned.any() and not zoned.all():
            _raise_mixed(zoned, s, col, where, items)
        ok_shape = text.str.match(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?"
                                  + r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$").fillna(False).to_numpy(bool)
        parsed = pd.to_datetime(text.where(ok_shape, None), format="ISO8601", errors="coerce",
                                utc=bool(zoned.all()))
    badmask = parsed.isna().to_numpy()
    if badmask.any():
        bad = int(np.flatnonzero(badmask)[0])
        raise DataError(
            f"{where.locate(bad)}: column '{col}' value {s.iloc[bad]!r}{_item_note(items, bad, col)} is not a "
            f"timestamp ({int(badmask.sum())} such row(s)); {TIMESTAMP_HELP}.")
    if zoned.any():
        flags["zoned"] = True
        parsed = parsed.dt.tz_convert(timezone) if timezone else parsed.dt.tz_convert("UTC")
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]").to_numpy().view(np.int64)


def _raise_mixed(zoned: np.ndarray, s: pd.Series, col: str, where: Provenance, items):
    a = int(np.flatnonzero(zoned)[0])
    b = int(np.flatnonzero(~zoned)[0])
    raise DataError(
        f"column '{col}' mixes time zones: {where.locate(a)} has {str(s.iloc[a])!r}{_item_note(items, a, col)} "
        f"with a time zone but {where.locate(b)} has {str(s.iloc[b])!r}{_item_note(items, b, col)} without one "
        f"({int(zoned.sum())} with, {int((~zoned).sum())} without); write every timestamp the same way, either all "
        "in local time without offset (and pass timezone=...) or all with an offset.")


__all__ = ["read_columns", "expand_paths", "parse_timestamps", "parse_numbers", "Columns", "Provenance",
           "SourceInfo"]


# ------------------------------------------------ header of a file without a schema
#: column names read as the time column (also the dataset panel's first guess for ``timestamp``)
TIME_NAMES = ("timestamp", "date", "datetime", "time", "ds", "period")


def cell_kind(v: str) -> str:
    """``empty``, ``number``, ``date`` or ``text``: what one CSV cell looks like."""
    v = str(v).strip()
    if v == "":
        return "empty"
    try:
        float(v)
        return "number"
    except ValueError:
        pass
    if re.match(r"^\d{4}-\d{2}-\d{2}", v) or re.match(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}", v):
        return "date"
    return "text"


def looks_like_header(raw: pd.DataFrame) -> bool:
    """Whether the first row of a text preview is a header: it names a schema field
    (``item_id``, ``timestamp``, ``category`` ...) not repeated below, or some column's first
    cell is text where the cells below are numbers or dates.

    >>> looks_like_header(pd.DataFrame([["item_id", "timestamp", "v"], ["a", "2024-01-01", "1"]]))
    True
    >>> looks_like_header(pd.DataFrame([["a", "2024-01-01", "1"], ["a", "2024-01-02", "2"]]))
    False
    """
    names = _known_field_names()
    if any(str(v).strip().lower() in names and (raw[c].iloc[1:].astype(str).str.strip().str.lower()
                                                != str(v).strip().lower()).all()
           for c, v in zip(raw.columns, raw.iloc[0])):
        return True  # a schema field name (item_id, timestamp, category ...) not repeated below
    first = [cell_kind(v) for v in raw.iloc[0]]
    for k, col in enumerate(raw.columns):
        below = {cell_kind(v) for v in raw[col].iloc[1:]} - {"empty"}
        if first[k] == "text" and below and below <= {"number", "date"}:
            return True
    return False


def _known_field_names() -> set:
    from .schema import DOMAINS

    out = set(TIME_NAMES) | {"item_id"}
    for d in DOMAINS.values():
        out |= {d.item_field, d.target_field, *d.optional_dimensions, *d.related_suggested, *d.metadata_suggested}
    return out
