"""The dataset panel's logic (the import wizard): column mapping, file preview, reader options, dataset groups."""
from __future__ import annotations

import re
from typing import Sequence

import pandas as pd

from .. import frequency as fq
from ..errors import ConfigError, SchemaError
from ..io import is_url, local_path
from ..readers import TIME_NAMES as _TIME_NAMES
from ..readers import cell_kind as _kind, looks_like_header  # one header rule, with the reader's
from ..schema import TIMESTAMP


# --------------------------------------------------------------- data files
_ITEM_NAMES = ("item_id", "item", "id", "unique_id", "series", "series_id", "sku", "client", "name")
_TARGET_NAMES = ("target_value", "target", "y", "value", "demand", "sales", "quantity", "load")


def _candidates(field: str) -> tuple:
    from ..schema import DOMAINS

    if field == TIMESTAMP:
        return _TIME_NAMES
    if field in {d.item_field for d in DOMAINS.values()}:
        return (field, *_ITEM_NAMES)
    if field in {d.target_field for d in DOMAINS.values()}:
        return (field, *_TARGET_NAMES)
    return (field,)


def guess_column_mapping(columns: Sequence[str], fields: Sequence[str], preview: pd.DataFrame | None = None) -> dict:
    """A first guess of which file column holds each schema field: the same name (any
    case), then a common synonym (``date`` for ``timestamp``, ``y`` or ``value`` for a
    domain's target field, ``id`` or ``sku`` for its item field); then, given the
    ``preview`` rows (a headerless file's ``column_1`` ...), by content: the first date
    column for ``timestamp``, text columns for the item field and the forecast
    dimensions, the first number column for the target. None when nothing fits.

    >>> guess_column_mapping(["Date", "client", "kW"], ["item_id", "timestamp", "target_value"])
    {'item_id': 'client', 'timestamp': 'Date', 'target_value': None}
    >>> rows = pd.DataFrame({"column_1": ["2024-01-01", "2024-01-02"], "column_2": ["a", "a"], "column_3": ["1", "2.5"]})
    >>> guess_column_mapping(list(rows.columns), ["item_id", "timestamp", "target_value"], rows)
    {'item_id': 'column_2', 'timestamp': 'column_1', 'target_value': 'column_3'}
    """
    lower = {}
    for c in columns:
        lower.setdefault(str(c).lower(), c)
    out, used = {}, set()
    for f in fields:
        hit = next((lower[n] for n in _candidates(f) if n in lower and lower[n] not in used), None)
        out[f] = hit
        if hit is not None:
            used.add(hit)
    if preview is not None and len(preview):
        kinds = {c: {_kind(v) for v in preview[c]} - {"empty"} for c in columns if c in preview.columns}
        want = {f: _field_kind(f) for f in fields}
        for f in fields:
            if out[f] is not None or want[f] is None:
                continue
            hit = next((c for c in columns if c not in used and kinds.get(c) == {want[f]}), None)
            out[f] = hit
            if hit is not None:
                used.add(hit)
    return out


def _field_kind(field: str) -> str:
    """What a field's cells look like: ``date`` (timestamp), ``number`` (a domain's target)
    or ``text`` (item ids, forecast dimensions and any other key)."""
    from ..schema import DOMAINS

    if field == TIMESTAMP:
        return "date"
    if field in {d.target_field for d in DOMAINS.values()}:
        return "number"
    return "text"


def apply_column_mapping(frame: pd.DataFrame, mapping: dict, source: str = "the file") -> pd.DataFrame:
    """Rename a frame's columns to the schema's field names (``{field: column}``); other
    columns keep their names.

    Raises
    ------
    SchemaError
        If a field has no column, a column is not in the frame, or one column is mapped twice.
    """
    check_column_mapping(list(frame.columns), mapping, source)
    return frame.rename(columns={c: f for f, c in mapping.items()})


def error_rows(exc: BaseException, max_rows: int = 5) -> pd.DataFrame | None:
    """The offending rows an fc_core error names, for showing beside its message.

    An error may carry a frame (``exc.rows``); otherwise the lines its message names
    (``file 'x.csv', line 7``) are read back from the file. None when it names none.
    """
    for name in ("rows", "frame", "bad_rows", "examples"):
        v = getattr(exc, name, None)
        if isinstance(v, pd.DataFrame):
            return v
    found = []
    for path, line in re.findall(r"file '([^']+)', line (\d+)", str(exc)):
        if (path, int(line)) not in found:
            found.append((path, int(line)))
    if not found:
        return None
    rows = []
    for path, line in found[:max_rows]:
        rows.append({"file": path, "line": line, "text": _read_line(path, line)})
    return pd.DataFrame(rows)


def _read_line(path: str, line: int, max_chars: int = 300) -> str:
    try:
        if is_url(path):
            import fsspec

            fh = fsspec.open(path, "rt", errors="replace").open()
        else:
            fh = open(local_path(path), "rt", errors="replace")
        with fh:
            for k, text in enumerate(fh, start=1):
                if k == line:
                    return text.rstrip("\r\n")[:max_chars]
    except OSError as exc:
        return f"(could not read the line: {exc})"
    return "(past the end of the file)"


# ------------------------------------------------------------- file preview
def preview_file(path: str, nrows: int = 8) -> tuple[pd.DataFrame, bool]:
    """The first rows of a dataset file as text, and whether its first row looks like a header.

    Reads only the first rows (CSV) or the first row group batch (Parquet): cheap on a
    large file. For a folder or glob the first file is shown. Columns of a headerless
    CSV are named ``column_1``, ``column_2`` ...

    Raises
    ------
    DataError
        If there is no such file or it has no rows.
    """
    from ..errors import DataError
    from ..readers import expand_paths

    first = expand_paths(path)[0]
    if first.lower().endswith((".parquet", ".pq", ".parq")):
        import pyarrow.parquet as pq

        import fsspec

        with fsspec.open(first, "rb") as fh:
            batch = next(pq.ParquetFile(fh).iter_batches(batch_size=nrows), None)
        if batch is None:
            raise DataError(f"file '{first}' has no rows.")
        return batch.to_pandas().astype(str), True
    import fsspec

    with fsspec.open(first, "rt", errors="replace") as fh:
        raw = pd.read_csv(fh, header=None, nrows=nrows + 1, dtype=str, keep_default_na=False,
                          skip_blank_lines=True)
    if raw.empty:
        raise DataError(f"file '{first}' is empty; check that you exported the data.")
    header = looks_like_header(raw)
    if header:
        names = [str(c).strip() or f"column_{k + 1}" for k, c in enumerate(raw.iloc[0])]
        body = raw.iloc[1:].reset_index(drop=True)
        body.columns = names
    else:
        body = raw.iloc[:nrows].reset_index(drop=True)
        body.columns = [f"column_{k + 1}" for k in range(raw.shape[1])]
    return body, header


def reader_options(columns: Sequence[str], mapping: dict, header: bool, preview: pd.DataFrame | None = None,
                   domain: str = "CUSTOM", dataset_type: str = "TARGET_TIME_SERIES",
                   forecast_dimensions: Sequence[str] = ()) -> dict:
    """The reading options of a file whose columns are mapped to schema fields
    (``{field: file column}``): ``column_map`` for a file with a header, or a ``schema``
    in the file's column order for a headerless one (unmapped columns keep their
    names, typed float when the preview shows only numbers, else string).

    Raises
    ------
    SchemaError
        As :func:`apply_column_mapping`.
    """
    from ..schema import get_domain

    check_column_mapping(list(columns), mapping)
    by_col = {c: f for f, c in mapping.items()}
    if header:
        return {"header": True, "column_map": {c: f for c, f in by_col.items() if c != f}}
    dom = get_domain(domain)
    keys = {dom.item_field, *forecast_dimensions}
    fields = []
    for c in columns:
        name = by_col.get(c, c)
        if name == TIMESTAMP and dataset_type != "ITEM_METADATA":
            typ = "timestamp"
        elif name in keys:
            typ = "string"
        elif name == dom.target_field and dataset_type == "TARGET_TIME_SERIES":
            typ = "float"
        elif preview is not None and c in preview.columns and \
                {_kind(v) for v in preview[c]} - {"empty"} <= {"number"} and len(preview):
            typ = "float"
        else:
            typ = "string"
        fields.append(f"{name}:{typ}")
    return {"header": False, "schema": ",".join(fields)}


def check_column_mapping(columns: Sequence[str], mapping: dict, source: str = "the file") -> None:
    """Check a ``{field: column}`` mapping against the file's columns.

    Raises
    ------
    SchemaError
        If a field has no column, a column is not in the file, or one column is mapped twice.
    """
    unmapped = [f for f, c in mapping.items() if not c]
    if unmapped:
        raise SchemaError(f"{source}: choose a column for field(s) {unmapped}; the file's columns are {list(columns)}.")
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        raise SchemaError(f"{source} has no column(s) {missing}; its columns are {list(columns)}.")
    cols = list(mapping.values())
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise SchemaError(f"{source}: column(s) {dupes} are mapped to more than one field; map each column once.")
    clash = [c for c in columns if c in mapping and mapping[c] != c and c not in cols]
    if clash:
        raise SchemaError(f"{source}: column(s) {clash} already carry a field's name but another column is mapped "
                          "to that field; map the column of that name, or rename it in the file.")


# ------------------------------------------------------------ dataset group
DEMO_DOMAINS = {"electricity": ("CUSTOM", "H"), "retail": ("RETAIL", "M"), "ec2_capacity": ("EC2_CAPACITY", "H")}
SOURCE_KEYS = {"TARGET_TIME_SERIES": "target", "RELATED_TIME_SERIES": "related", "ITEM_METADATA": "item_metadata"}


def demo_sources(name: str, n_items: int, length: int, seed: int = 0) -> tuple[dict, str, str]:
    """The frames of built-in demo ``name`` as sources for :func:`build_dataset_group`, with
    its domain and frequency. ``length`` is days (electricity), periods (retail) or
    days of hours (ec2_capacity).

    Raises
    ------
    ConfigError
        For an unknown demo or sizes that do not fit.
    """
    from .. import demo

    key = str(name).lower()
    if key not in DEMO_DOMAINS:
        raise ConfigError(f"unknown demo {name!r}: choose one of {', '.join(DEMO_DOMAINS)}.")
    if key == "electricity":
        frames = demo.frames(key, n_items=n_items, days=length, seed=seed)
    elif key == "retail":
        frames = demo.frames(key, n_items=n_items, periods=length, seed=seed)
    else:
        frames = demo.frames(key, instance_types=n_items, hours=24 * length, seed=seed)
    domain, freq = DEMO_DOMAINS[key]
    return {k: {"path": v} for k, v in frames.items()}, domain, freq


def build_dataset_group(sources: dict, domain: str = "CUSTOM", frequency: str | None = None,
                        forecast_dimensions: Sequence[str] | None = None, fill: dict | None = None,
                        aggregate_to: str | None = None, aggregate_method: str = "sum", cold_start: bool = True):
    """A DatasetGroup from per-dataset sources, as the dataset panel's Import button builds it.

    Parameters
    ----------
    sources : dict
        ``{"target": {"path": ..., "column_map"/"schema"/"header": ...}, "related": {...},
        "item_metadata": {...}}``; ``path`` is a file, folder, glob, URL or DataFrame.
    aggregate_to : str, optional
        A coarser forecast frequency to aggregate to with ``aggregate_method``.

    Raises
    ------
    SchemaError, DataError, ConfigError
        Those of :class:`~fc_core.datasets.DatasetGroup` and its ``aggregate``.
    """
    from ..datasets import DatasetGroup

    if not sources.get("target"):
        raise ConfigError("import the target time series first (dataset type TARGET_TIME_SERIES).")
    args, schemas, ropts = {}, {}, {}
    for key in ("target", "related", "item_metadata"):
        src = dict(sources.get(key) or {})
        if not src:
            continue
        args[key] = src.pop("path")
        schema = src.pop("schema", None)
        if schema:
            schemas[f"{key}_schema"] = schema
        ropts[key] = {k: v for k, v in src.items() if v is not None}
    dg = DatasetGroup(domain=domain, frequency=frequency or None, forecast_dimensions=forecast_dimensions or None,
                      fill=fill, cold_start=cold_start, read_options=ropts, **args, **schemas)
    if aggregate_to and fq.normalize(aggregate_to) != dg.frequency:
        dg = dg.aggregate(aggregate_to, aggregate_method)
    return dg


def summary_tables(summary, worst: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An import summary as two small tables: the overall statistics (name, value) and the
    items with the most missing steps (then the most NaN values, then ending earliest)."""
    overall = pd.DataFrame({"statistic": list(summary.overall), "value": [str(v) for v in summary.overall.values()]})
    per = summary.per_item
    by = [c for c in ("missing", "nan_values", "ends_early_by") if c in per.columns]
    top = per.sort_values(by, ascending=False, kind="stable").head(worst)
    return overall, top.reset_index(drop=True)
