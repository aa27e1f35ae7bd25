"""Forecasts: the forecast frame, queries and exports (Amazon Forecast's CreateForecast,
QueryForecast and CreateForecastExportJob).

The forecast frame has the key columns (item field, then forecast dimensions),
``timestamp``, one column per quantile (``p10``, ``p50``, ``p90``, ``p2.5`` ...)
and ``mean``. Exports use Amazon Forecast's layout: the key columns, ``date``
(ISO 8601) and the forecast-type columns.

>>> import pandas as pd
>>> f = Forecast(pd.DataFrame({"item_id": ["a", "a", "b"],
...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
...     "p50": [1.0, 2.0, 3.0], "mean": [1.0, 2.0, 3.0]}), key_columns=["item_id"])
>>> f.query(item_id="a", start="2024-01-02")["p50"].tolist()
[2.0]
>>> f.to_export_frame().columns.tolist()
['item_id', 'date', 'p50', 'mean']
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd

from .errors import ConfigError
from .io import atomic_dir, is_url, write_frame
from .quantiles import ForecastArrays


class Forecast:
    """A set of forecasts for many items.

    Parameters
    ----------
    frame : DataFrame
        Keys, ``timestamp`` and forecast-type columns.
    key_columns : list of str
        The item field first, then forecast dimensions.
    """

    def __init__(self, frame: pd.DataFrame, key_columns: Sequence[str], target_field: str = "target_value",
                 frequency: str | None = None, info: dict | None = None):
        self.frame = frame.reset_index(drop=True)
        self.key_columns = list(key_columns)
        self.target_field = target_field
        self.frequency = frequency
        self.info = info or {}

    @property
    def item_field(self) -> str:
        return self.key_columns[0]

    @property
    def forecast_types(self) -> list[str]:
        """Forecast-type columns in order (``p10``, ``p50``, ``p90``, ``mean``)."""
        return [c for c in self.frame.columns if c not in (*self.key_columns, "timestamp")]

    @property
    def items(self) -> pd.DataFrame:
        return self.frame[self.key_columns].drop_duplicates().reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        n = len(self.items)
        if len(self.frame):
            span = f"{self.frame['timestamp'].min()} .. {self.frame['timestamp'].max()}"
        else:
            span = "empty"
        return f"Forecast(items={n}, rows={len(self.frame)}, types={self.forecast_types}, dates={span})"

    def _repr_html_(self) -> str:
        return f"<p>{self.__repr__()}</p>" + self.frame.head(10).to_html(index=False)

    def query(self, item_id=None, start=None, end=None, **dimensions) -> pd.DataFrame:
        """Forecasts of one item (and dimension values) between ``start`` and ``end`` inclusive.

        Raises
        ------
        ConfigError
            For an unknown dimension name or an item that has no forecast.
        """
        f = self.frame
        mask = pd.Series(True, index=f.index)
        filters = dict(dimensions)
        if item_id is not None:
            filters[self.item_field] = item_id
        for col, val in filters.items():
            if col not in self.key_columns:
                raise ConfigError(f"{col!r} is not a key of this forecast; its keys are {self.key_columns}.")
            vals = [val] if isinstance(val, (str, int)) else list(val)
            m = f[col].astype(str).isin([str(v) for v in vals])
            if not m.any():
                raise ConfigError(f"no forecast for {col}={val!r}; check the value (e.g. Forecast.items).")
            mask &= m
        if start is not None:
            mask &= f["timestamp"] >= pd.Timestamp(start)
        if end is not None:
            mask &= f["timestamp"] <= pd.Timestamp(end)
        return f.loc[mask].reset_index(drop=True)

    def to_export_frame(self, timestamps: str = "amazon", as_text: bool = True) -> pd.DataFrame:
        """Amazon Forecast's export layout: keys, ``date``, forecast types.

        ``timestamps="amazon"`` (default) writes ``date`` as Amazon Forecast does,
        ``2014-01-01T00:00:00Z``; ``"local"`` writes the naive local time stamps of the data
        (``2014-01-01 00:00:00``), for files read back by tools that would shift a ``Z``. With
        ``as_text=False`` (Parquet) ``date`` stays a timestamp type (UTC for ``"amazon"``).

        Raises
        ------
        ConfigError
            For another ``timestamps``.
        """
        if timestamps not in ("amazon", "local"):
            raise ConfigError(f"timestamps={timestamps!r}: use 'amazon' (2014-01-01T00:00:00Z) or 'local' "
                              "(2014-01-01 00:00:00).")
        out = self.frame.rename(columns={"timestamp": "date"})
        d = pd.to_datetime(out["date"])
        if as_text:
            out["date"] = d.dt.strftime("%Y-%m-%dT%H:%M:%SZ" if timestamps == "amazon" else "%Y-%m-%d %H:%M:%S")
        else:
            out["date"] = d.dt.tz_localize("UTC") if timestamps == "amazon" else d
        return out[[*self.key_columns, "date", *self.forecast_types]]

    def export(self, path, fmt: str | None = None, key=None, timestamps: str = "amazon") -> str:
        """Write the forecasts (CSV or Parquet, local path or fsspec URL), atomically; ``key``
        (:func:`fc_core.security.generate_key`) encrypts the file (read it with
        :func:`fc_core.security.read_frame`). ``timestamps``: see :meth:`to_export_frame`; in
        Parquet ``date`` is a timestamp column."""
        parquet = (fmt or "").lower() == "parquet" or (fmt is None and str(path).lower().endswith(
            (".parquet", ".pq")))
        frame = self.to_export_frame(timestamps, as_text=not parquet)
        if key is not None:
            from .security import write_encrypted_frame

            return write_encrypted_frame(frame, path, key, fmt)
        return write_frame(frame, path, fmt)

    def evaluate(self, actuals, history=None, season_length: int | None = None) -> tuple[pd.DataFrame, dict]:
        """Score these forecasts against actuals that have arrived since (monitoring).

        Parameters
        ----------
        actuals : DataFrame or DatasetGroup
            Canonical frame (keys, ``timestamp``, target) holding the realised values;
            forecast points without an actual are not scored.
        history : DatasetGroup, optional
            The data the forecast was made from (the MASE/MSIS scale); without it those are NaN.
        season_length : int, optional
            Default: the frequency's season.

        Returns
        -------
        per_item, overall
            As :func:`fc_core.metrics.evaluate`.
        """
        import numpy as np

        from . import frequency as fq
        from .metrics import evaluate

        frame = getattr(actuals, "target", actuals)
        target = self.target_field if self.target_field in frame.columns else getattr(actuals, "target_field", None)
        if target is None or target not in frame.columns:
            raise ConfigError(f"the actuals have no {self.target_field!r} column; their columns are {list(frame.columns)}.")
        keys = self.key_columns
        f = self.frame.copy()
        f["_k"] = f[keys].astype(str).agg("\x1f".join, axis=1) if len(keys) > 1 else f[keys[0]].astype(str)
        a = frame[[*keys, "timestamp", target]].copy()
        a["_k"] = a[keys].astype(str).agg("\x1f".join, axis=1) if len(keys) > 1 else a[keys[0]].astype(str)
        items = pd.unique(f["_k"])
        step = f.groupby("_k", sort=False).cumcount().to_numpy()
        row = pd.Index(items).get_indexer(f["_k"])
        n, h = len(items), int(step.max()) + 1 if len(step) else 0
        merged = f[["_k", "timestamp"]].merge(a[["_k", "timestamp", target]], on=["_k", "timestamp"], how="left")
        y = np.full((n, h), np.nan)
        y[row, step] = merged[target].to_numpy(dtype=float)
        qcols = [c for c in self.forecast_types if c.startswith("p")]
        levels = np.array([float(c[1:]) / 100 for c in qcols])
        order = np.argsort(levels)
        q = np.full((n, h, len(qcols)), np.nan)
        for j, c in enumerate(np.array(qcols)[order]):
            q[row, step, j] = f[c].to_numpy(dtype=float)
        mean = np.full((n, h), np.nan)
        mean[row, step] = f["mean" if "mean" in f.columns else ("p50" if "p50" in f.columns else qcols[0])].to_numpy(dtype=float)
        arr = ForecastArrays(levels[order], q, mean, pd.DatetimeIndex(f.groupby("_k", sort=False)["timestamp"].min()))
        insample = [np.array([np.nan])] * n
        if history is not None:
            hist = history.target if hasattr(history, "target") else history
            hk = hist[keys].astype(str).agg("\x1f".join, axis=1) if len(keys) > 1 else hist[keys[0]].astype(str)
            tcol = getattr(history, "target_field", target)
            by = dict(tuple(hist[tcol].astype(float).groupby(hk.to_numpy(), sort=False)))
            insample = [by[k].to_numpy() if k in by else np.array([np.nan]) for k in items]
        m = season_length or (fq.season_length(self.frequency) if self.frequency else 1)
        per_item, overall = evaluate(y, ~np.isnan(y), arr, insample, m, quantiles=list(levels[order]))
        per_item = per_item.drop(columns=[c for c in ("item",) if c in per_item.columns])
        ids = f.drop_duplicates("_k")[keys].reset_index(drop=True)
        return pd.concat([ids, per_item.reset_index(drop=True)], axis=1), overall

    def plot(self, item_id, history: pd.DataFrame | None = None, **kwargs):
        """Fan chart of one item; see :func:`fc_core.plotting.plot_forecast`."""
        from .plotting import plot_forecast

        return plot_forecast(self, item_id, history=history, **kwargs)


#: The file a folder of forecast parts holds beside them (pyarrow and Spark skip names starting with "_").
PARTS_MANIFEST = "_forecast_parts.json"


def _check_parts_target(path) -> Path:
    """The local folder ``path`` that :func:`export_parts` may (re)place: new, empty, or an earlier
    folder of forecast parts; never another folder or a file."""
    if is_url(path):
        raise ConfigError(f"{path}: forecast parts are written to a local folder (renamed into place when complete); "
                          "write them locally and copy the folder to the object store.")
    target = Path(str(path)[len("file://"):] if str(path).startswith("file://") else str(path))
    if target.is_file():
        raise ConfigError(f"{target} is a file; forecast parts go to a folder (give a new folder's path).")
    if target.is_dir() and any(target.iterdir()) and not (target / PARTS_MANIFEST).is_file():
        raise ConfigError(f"{target} is a folder that holds other files; forecast parts replace a folder as a whole, "
                          f"so give a new folder's path (or one written earlier by export_parts, with {PARTS_MANIFEST}).")
    return target


def export_parts(chunks: Iterable[Forecast], path, fmt: str = "parquet", timestamps: str = "amazon",
                 info: dict | None = None, on_part: Callable[[dict], None] | None = None) -> str:
    """Write forecasts that arrive chunk by chunk (an iterable of :class:`Forecast`) as a folder of part
    files, one per chunk, holding only one chunk in memory at a time.

    The folder holds ``part-00000.parquet``, ``part-00001.parquet`` ... (or ``.csv``; each with a header,
    as Amazon Forecast's export jobs write parts) in the layout of :meth:`Forecast.export`, and
    ``_forecast_parts.json`` (parts, items, rows, columns, ``info``), which readers skip:
    ``pd.read_parquet(path)`` returns the rows of all parts in order. The parts are written into a
    temporary folder beside ``path`` that replaces it only when the last part is written, so an error
    or Ctrl-C leaves nothing half-written at ``path`` (and an earlier folder of parts stays as it was).
    ``on_part`` receives a dict (``part``, ``items``, ``rows``, ``file``) after each part.

    Raises
    ------
    ConfigError
        For another ``fmt`` or ``timestamps``, a URL, a file at ``path``, or a folder at ``path`` that
        holds other files (it would be replaced as a whole).
    """
    fmt = str(fmt).lower()
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"fmt={fmt!r}: forecast parts are 'parquet' or 'csv'.")
    if timestamps not in ("amazon", "local"):
        raise ConfigError(f"timestamps={timestamps!r}: use 'amazon' (2014-01-01T00:00:00Z) or 'local' "
                          "(2014-01-01 00:00:00).")
    target = _check_parts_target(path)
    t0 = time.perf_counter()
    parts, items, rows, schema, columns = [], 0, 0, None, None
    with atomic_dir(target) as tmp:
        for k, fc in enumerate(chunks):
            frame = fc.to_export_frame(timestamps, as_text=fmt == "csv")
            name = f"part-{k:05d}.{fmt}"
            if columns is None:
                columns = list(frame.columns)
            elif list(frame.columns) != columns:
                raise ConfigError(f"forecast chunk {k} has columns {list(frame.columns)}, the first had {columns}.")
            if fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                schema = table.schema if schema is None else schema
                pq.write_table(table, tmp / name)
            else:
                frame.to_csv(tmp / name, index=False)
            n = int(len(fc.items)) if len(frame) else 0
            items, rows = items + n, rows + len(frame)
            parts.append({"part": k, "file": name, "items": n, "rows": int(len(frame))})
            if on_part is not None:
                on_part(dict(parts[-1]))
        manifest = {"format": fmt, "timestamps": timestamps, "parts": len(parts), "items": items, "rows": rows,
                    "columns": columns or [], "files": [p["file"] for p in parts],
                    "seconds": round(time.perf_counter() - t0, 3), **(info or {})}
        (tmp / PARTS_MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    return str(target)
