"""Forecast types and forecasts as arrays: what every model produces, before it becomes a frame.

* Amazon Forecast's ``ForecastTypes`` (``"0.1"``, ``"0.5"``, ``"mean"``) parsed into quantile levels
  (:func:`parse_forecast_types`) and named as columns (:func:`quantile_column`: ``p10``, ``p2.5``);
* :class:`ForecastArrays`: the forecasts of every series of a panel (series x horizon x quantile), and
  helpers that build them from sample paths or Gaussian parameters.

This module sits below the models, the metrics and the data checks (it imports only numpy, pandas and
:mod:`fc_core.errors`), so all of them can use it without importing the model contract.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError

__all__ = ["DEFAULT_FORECAST_TYPES", "quantile_column", "parse_forecast_types", "forecast_columns", "ForecastArrays",
           "interpolate_quantiles", "arrays_from_samples", "arrays_from_normal"]

DEFAULT_FORECAST_TYPES = ("0.1", "0.5", "0.9", "mean")


# ----------------------------------------------------------------- quantiles
def quantile_column(q: float) -> str:
    """Column name of quantile ``q``: ``p10`` for 0.1, ``p2.5`` for 0.025, ``p99.9`` for 0.999.

    >>> [quantile_column(q) for q in (0.1, 0.5, 0.025, 0.975, 0.999)]
    ['p10', 'p50', 'p2.5', 'p97.5', 'p99.9']
    """
    v = round(float(q) * 100, 6)
    return f"p{int(v)}" if float(v).is_integer() else f"p{v:g}"


def parse_forecast_types(forecast_types: Sequence[str | float] | None) -> tuple[list[float], bool]:
    """Split Amazon Forecast's ``ForecastTypes`` into sorted quantile levels and a mean flag.

    >>> parse_forecast_types(["0.9", "mean", "0.1"])
    ([0.1, 0.9], True)

    Raises
    ------
    ConfigError
        For a quantile outside (0, 1) or a type that is neither a number nor ``mean``.
    """
    if forecast_types is None:
        forecast_types = DEFAULT_FORECAST_TYPES
    if isinstance(forecast_types, (str, float, int)):
        forecast_types = [forecast_types]
    qs, mean = set(), False
    for t in forecast_types:
        if isinstance(t, str) and t.strip().lower() == "mean":
            mean = True
            continue
        try:
            q = float(t)
        except (TypeError, ValueError):
            raise ConfigError(f"forecast type {t!r} is neither a quantile such as '0.5' nor 'mean'.") from None
        if not 0.0 < q < 1.0:
            raise ConfigError(f"forecast type {t!r}: quantiles must lie strictly between 0 and 1 (e.g. '0.025').")
        qs.add(round(q, 6))
    if not qs and not mean:
        raise ConfigError("forecast_types is empty; ask for at least one quantile or 'mean'.")
    return sorted(qs), mean


def forecast_columns(forecast_types) -> list[str]:
    """Output column names for ``forecast_types``, quantiles first (ascending), then ``mean``."""
    qs, mean = parse_forecast_types(forecast_types)
    return [quantile_column(q) for q in qs] + (["mean"] if mean else [])


# ------------------------------------------------------------ forecast arrays
@dataclass
class ForecastArrays:
    """Forecasts of every series of a panel, before they become a frame.

    Attributes
    ----------
    quantile_levels : ndarray, shape (Q,)
        Ascending levels in (0, 1).
    quantiles : ndarray, shape (n, H, Q)
        Quantile forecasts; never crossing along the last axis.
    mean : ndarray, shape (n, H)
    start : DatetimeIndex
        First forecast timestamp of each series.
    """

    quantile_levels: np.ndarray
    quantiles: np.ndarray
    mean: np.ndarray
    start: pd.DatetimeIndex
    info: dict = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return self.quantiles.shape[1]

    def quantile(self, q: float) -> np.ndarray:
        """Forecast at level ``q`` (n, H), interpolated between stored levels where needed."""
        lv = self.quantile_levels
        j = np.flatnonzero(np.isclose(lv, q))
        if len(j):
            return self.quantiles[:, :, j[0]]
        return interpolate_quantiles(lv, self.quantiles, np.array([q]))[:, :, 0]

    def at(self, levels: Sequence[float]) -> "ForecastArrays":
        """The same forecasts at other quantile ``levels``."""
        levels = np.asarray(sorted(levels), dtype=float)
        return ForecastArrays(levels, interpolate_quantiles(self.quantile_levels, self.quantiles, levels),
                              self.mean, self.start, dict(self.info))

    def clip(self, lower: float | None = 0.0) -> "ForecastArrays":
        """Sort quantiles so they never cross and clip them (and the mean) at ``lower``."""
        q = np.sort(self.quantiles, axis=-1)
        m = self.mean
        if lower is not None:
            q = np.maximum(q, lower)
            m = np.maximum(m, lower)
        return ForecastArrays(self.quantile_levels, q, m, self.start, self.info)


def interpolate_quantiles(levels: np.ndarray, values: np.ndarray, new_levels: np.ndarray) -> np.ndarray:
    """Linear interpolation of quantile forecasts (..., Q) from ``levels`` to ``new_levels``,
    extrapolating linearly beyond the outermost levels."""
    levels = np.asarray(levels, dtype=float)
    new_levels = np.asarray(new_levels, dtype=float)
    if len(levels) == 1:
        return np.repeat(values, len(new_levels), axis=-1)
    idx = np.clip(np.searchsorted(levels, new_levels) - 1, 0, len(levels) - 2)
    lo, hi = levels[idx], levels[idx + 1]
    w = (new_levels - lo) / (hi - lo)
    return values[..., idx] * (1 - w) + values[..., idx + 1] * w


def arrays_from_samples(samples: np.ndarray, levels: Sequence[float], start: pd.DatetimeIndex) -> ForecastArrays:
    """ForecastArrays from sample paths of shape (n, S, H)."""
    levels = np.asarray(levels, dtype=float)
    q = np.quantile(samples, levels, axis=1)  # (Q, n, H)
    return ForecastArrays(levels, np.moveaxis(q, 0, -1), samples.mean(axis=1), start)


def arrays_from_normal(mu: np.ndarray, sigma: np.ndarray, levels: Sequence[float], start) -> ForecastArrays:
    """ForecastArrays from Gaussian means and standard deviations (n, H)."""
    from scipy.stats import norm

    levels = np.asarray(levels, dtype=float)
    z = norm.ppf(levels)
    q = mu[..., None] + sigma[..., None] * z
    return ForecastArrays(levels, q, mu, start)
