"""Datasets and dataset groups (Amazon Forecast's ``CreateDataset`` / ``CreateDatasetGroup``).

MINIMAL VERSION: the foundation work extends readers, validation, summary,
aggregation and filling here. The public interface below is what the rest of
fc_core relies on.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from . import frequency as fq
from .errors import ConfigError, DataError
from .panel import FILLED, Panel
from .schema import TIMESTAMP, check_forecast_dimensions, get_domain


def read_dataset(path_or_frame, dataset_type: str = "TARGET_TIME_SERIES", domain: str = "CUSTOM",
                 schema=None, **kwargs) -> pd.DataFrame:
    """Read a dataset into the canonical long frame."""
    if isinstance(path_or_frame, pd.DataFrame):
        df = path_or_frame.copy()
    else:
        df = pd.read_csv(path_or_frame)
    if TIMESTAMP in df.columns:
        df[TIMESTAMP] = pd.to_datetime(df[TIMESTAMP])
    return df


class DatasetGroup:
    """A target time series plus optional related time series and item metadata.

    Attributes
    ----------
    domain : Domain
    frequency : str
        Amazon Forecast's frequency name.
    target, related, item_metadata : DataFrame
        Canonical long frames (sorted by keys and time).
    forecast_dimensions : list of str
    key_columns : list of str
        The item field followed by the forecast dimensions.
    """

    def __init__(self, domain: str = "CUSTOM", frequency: str | None = None, target=None, related=None,
                 item_metadata=None, forecast_dimensions: Sequence[str] | None = None, **kwargs):
        self.domain = get_domain(domain)
        self.forecast_dimensions = check_forecast_dimensions(forecast_dimensions)
        if target is None:
            raise ConfigError("a dataset group needs a target time series (target=...).")
        self.target = read_dataset(target, "TARGET_TIME_SERIES", self.domain.name)
        self.related = None if related is None else read_dataset(related, "RELATED_TIME_SERIES", self.domain.name)
        self.item_metadata = None if item_metadata is None else read_dataset(item_metadata, "ITEM_METADATA", self.domain.name)
        self.target = self.target.sort_values([*self.key_columns, TIMESTAMP], kind="stable").reset_index(drop=True)
        if frequency is None:
            frequency = self._infer_frequency()
        self.frequency = fq.normalize(frequency)
        self._panel = None

    @property
    def item_field(self) -> str:
        return self.domain.item_field

    @property
    def target_field(self) -> str:
        return self.domain.target_field

    @property
    def key_columns(self) -> list[str]:
        return [self.item_field, *self.forecast_dimensions]

    @property
    def related_columns(self) -> list[str]:
        if self.related is None:
            return []
        return [c for c in self.related.columns if c not in (*self.key_columns, TIMESTAMP)]

    def _infer_frequency(self) -> str:
        first = self.target[self.key_columns[0]].iloc[0]
        ts = self.target.loc[self.target[self.key_columns[0]] == first, TIMESTAMP]
        f = pd.infer_freq(pd.DatetimeIndex(ts[:50]))
        if f is None:
            raise DataError("could not infer the frequency; pass frequency=... (e.g. 'H', 'D', 'W', 'M').")
        return f

    def cold_start_items(self) -> pd.DataFrame:
        """Items in the item metadata (or related series) with no target history."""
        if self.item_metadata is None:
            return pd.DataFrame(columns=self.key_columns)
        have = set(self.target[self.item_field].astype(str))
        meta = self.item_metadata[[self.item_field]].drop_duplicates()
        new = meta[~meta[self.item_field].astype(str).isin(have)]
        if self.forecast_dimensions:
            return pd.DataFrame(columns=self.key_columns)
        return new.reset_index(drop=True)

    def to_panel(self) -> Panel:
        """The packed form algorithms consume (cached)."""
        if self._panel is None:
            self._panel = Panel.from_frame(
                self.target, self.key_columns, self.target_field, self.frequency,
                related=self.related, related_columns=self.related_columns,
                static=self.item_metadata, extra_keys=self.cold_start_items(),
            )
        return self._panel

    def __repr__(self) -> str:
        n = self.target[self.key_columns].drop_duplicates().shape[0]
        return (f"DatasetGroup(domain={self.domain.name}, frequency={self.frequency}, items={n}, "
                f"rows={len(self.target)}, related={self.related_columns}, "
                f"item_metadata={self.item_metadata is not None})")


__all__ = ["DatasetGroup", "read_dataset", "FILLED"]
