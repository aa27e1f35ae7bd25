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

from typing import Sequence

import pandas as pd

from .errors import ConfigError
from .io import write_frame


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

    def to_export_frame(self) -> pd.DataFrame:
        """Amazon Forecast's export layout: keys, ``date`` (ISO 8601), forecast types."""
        out = self.frame.rename(columns={"timestamp": "date"})
        out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out[[*self.key_columns, "date", *self.forecast_types]]

    def export(self, path, fmt: str | None = None) -> str:
        """Write the forecasts (CSV or Parquet, local path or fsspec URL), atomically."""
        return write_frame(self.to_export_frame(), path, fmt)

    def plot(self, item_id, history: pd.DataFrame | None = None, **kwargs):
        """Fan chart of one item; see :func:`fc_core.plotting.plot_forecast`."""
        from .plotting import plot_forecast

        return plot_forecast(self, item_id, history=history, **kwargs)
