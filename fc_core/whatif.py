"""What-if analysis (Amazon Forecast's CreateWhatIfAnalysis / CreateWhatIfForecast).

A what-if scenario changes future values of a related time series (for example
every price 10 % lower from a date on, for some items) and forecasts again with
the same predictor. The changed group is built with
:meth:`~fc_core.datasets.DatasetGroup.append`, so the original is untouched.

>>> from fc_core import demo
>>> dg = demo.retail(n_items=6, periods=24, n_new=0, n_discontinued=0)
>>> cheaper = what_if(dg, "price", factor=0.9)
>>> end = dg.target["timestamp"].max()
>>> before = dg.related.loc[dg.related["timestamp"] > end, "price"].sum()
>>> after = cheaper.related.loc[cheaper.related["timestamp"] > end, "price"].sum()
>>> round(float(after / before), 3)
0.9
"""
from __future__ import annotations

import pandas as pd

from .errors import ConfigError


def what_if(dataset_group, column: str, factor: float | None = None, value: float | None = None,
            items=None, start=None, end=None, **dimensions):
    """A new DatasetGroup with ``column`` of the related series changed in the future.

    Parameters
    ----------
    column : str
        A related-series field, e.g. ``"price"``.
    factor, value : float
        Multiply the values by ``factor``, or set them to ``value`` (give exactly one).
    items : str or list, optional
        Item ids to change (default all).
    start, end : timestamp, optional
        The period to change; by default every timestamp after the end of the target.
    **dimensions
        Restrict to forecast-dimension values, e.g. ``store_id="store_1"``.

    Raises
    ------
    ConfigError
        For an unknown column, both or neither of factor/value, or a selection that matches nothing.
    """
    if (factor is None) == (value is None):
        raise ConfigError("what_if needs exactly one of factor=... or value=....")
    rel = dataset_group.related
    if rel is None or column not in dataset_group.related_columns:
        raise ConfigError(f"{column!r} is not a related-series field; the fields are {dataset_group.related_columns}.")
    start = pd.Timestamp(start) if start is not None else dataset_group.target["timestamp"].max() + pd.Timedelta(1, "ns")
    mask = rel["timestamp"] >= start
    if end is not None:
        mask &= rel["timestamp"] <= pd.Timestamp(end)
    if items is not None:
        items = [items] if isinstance(items, str) else list(items)
        mask &= rel[dataset_group.item_field].astype(str).isin([str(i) for i in items])
    for col, val in dimensions.items():
        if col not in dataset_group.forecast_dimensions:
            raise ConfigError(f"{col!r} is not a forecast dimension; they are {dataset_group.forecast_dimensions}.")
        mask &= rel[col].astype(str) == str(val)
    if not mask.any():
        raise ConfigError("the what-if selection matches no related rows; check the items, dates and dimensions.")
    changed = rel.loc[mask].copy()
    changed[column] = changed[column] * factor if factor is not None else value
    return dataset_group.append(related=changed)


def compare_forecasts(baseline, scenario, column: str = "mean") -> pd.DataFrame:
    """Per item (and dimension values): the total of ``column`` over the horizon in the baseline
    and in the scenario, and the change in percent, largest change first.

    Raises
    ------
    ConfigError
        When the two forecasts do not cover the same items and dates.
    """
    keys = baseline.key_columns
    cols = [*keys, "timestamp"]
    merged = baseline.frame[[*cols, column]].merge(scenario.frame[[*cols, column]], on=cols, how="outer",
                                                   suffixes=("_baseline", "_scenario"), indicator=True)
    if (merged["_merge"] != "both").any():
        raise ConfigError("the baseline and scenario forecasts cover different items or dates; forecast both "
                          "with the same predictor and horizon.")
    totals = merged.groupby(keys, sort=False)[[f"{column}_baseline", f"{column}_scenario"]].sum().reset_index()
    base = totals[f"{column}_baseline"]
    totals["change_pct"] = 100 * (totals[f"{column}_scenario"] - base) / base.where(base.abs() > 1e-12)
    return totals.sort_values("change_pct", ascending=False, key=lambda s: s.abs()).reset_index(drop=True)
