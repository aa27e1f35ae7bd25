"""What a file's first rows say: whether line 1 is a header, the canonical column names, a headerless
file's column order, and the header rule of a file without a schema (:func:`looks_like_header`, also
used by the dataset panel's preview in :mod:`fc_core.views`)."""
from __future__ import annotations

import csv
import re

import pandas as pd

from ..errors import MISSING_COLUMNS, DataError, SchemaError
from ..schema import TIMESTAMP
from .files import _open_text
from .spec import _Spec


# ------------------------------------------------ header and column order of a CSV file
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
                f"column_map={{'<file column>': '<schema name>'}}.",
                reason=MISSING_COLUMNS, columns=missing, dataset_type=spec.dataset_type)
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
    from ..schema import DOMAINS

    out = set(TIME_NAMES) | {"item_id"}
    for d in DOMAINS.values():
        out |= {d.item_field, d.target_field, *d.optional_dimensions, *d.related_suggested, *d.metadata_suggested}
    return out
