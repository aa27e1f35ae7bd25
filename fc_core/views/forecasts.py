"""The quantile panel's logic: quantile columns, bands, per-item forecast slices, CSV export."""
from __future__ import annotations

import re
from typing import Sequence

import pandas as pd

from ..errors import ConfigError, SchemaError
from ..schema import TIMESTAMP
from .items import ItemIndex
from .windows import BACKTEST_META


_QCOL = re.compile(r"^p(\d+(?:\.\d+)?)$")


# ---------------------------------------------------------------- forecasts
def quantile_columns(columns: Sequence[str]) -> list[str]:
    """The quantile columns (``p10``, ``p2.5`` ...) in increasing order."""
    qs = [(float(m.group(1)), c) for c in columns if (m := _QCOL.match(str(c)))]
    return [c for _, c in sorted(qs)]


def band_choices(columns: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair (lower, upper) of quantile columns: the symmetric pairs outermost first
    (``p10``-``p90``), then the others.

    >>> band_choices(["p10", "p50", "p90", "mean"])
    [('p10', 'p90'), ('p10', 'p50'), ('p50', 'p90')]
    """
    from ..plotting import quantile_pairs

    qs = quantile_columns(columns)
    sym = quantile_pairs(qs)
    rest = [(a, b) for i, a in enumerate(qs) for b in qs[i + 1:] if (a, b) not in sym]
    return sym + rest


class ForecastView:
    """Per-item slices of a forecast frame, or of an AutoPredictor's ``backtest_forecasts()``.

    Parameters
    ----------
    forecast : Forecast or DataFrame
        Keys, ``timestamp`` and forecast-type columns; a backtest frame also has the
        actuals, ``backtest_window`` and ``algorithm``.
    key_columns : list of str, optional
        Default the forecast's, else the columns before ``timestamp``.
    """

    def __init__(self, forecast, key_columns: Sequence[str] | None = None, target_field: str | None = None):
        frame = getattr(forecast, "frame", forecast)
        if TIMESTAMP not in frame.columns:
            raise SchemaError(f"a forecast frame needs a 'timestamp' column; it has {list(frame.columns)}.")
        cols = list(frame.columns)
        self.key_columns = list(key_columns or getattr(forecast, "key_columns", None) or cols[:cols.index(TIMESTAMP)])
        self.frame = frame
        self.forecast_types = quantile_columns(cols) + (["mean"] if "mean" in cols else [])
        if not self.forecast_types:
            raise SchemaError(f"the frame has no forecast columns (p10, p50, ..., mean); it has {cols}.")
        self.is_backtest = "backtest_window" in cols
        rest = [c for c in cols if c not in (*self.key_columns, TIMESTAMP, *self.forecast_types, *BACKTEST_META)]
        self.target_field = target_field or getattr(forecast, "target_field", None) or (rest[0] if rest else "target_value")
        self.actual_column = self.target_field if self.target_field in cols else None
        self.windows = sorted(frame["backtest_window"].unique().tolist()) if self.is_backtest else []
        self.algorithms = frame["algorithm"].unique().tolist() if "algorithm" in cols else []
        self.index = ItemIndex(frame, self.key_columns)
        self.bands = band_choices(cols)

    @property
    def labels(self) -> list[str]:
        return self.index.labels

    def item(self, label: str, window: int | None = None, algorithm: str | None = None) -> pd.DataFrame:
        """Rows of one item (one backtest window and algorithm for backtests), by time.

        Raises
        ------
        ConfigError
            For an unknown item, window or algorithm.
        """
        sub = self.frame.iloc[self.index.rows(label)]
        if self.is_backtest:
            w = self.windows[0] if window is None else window
            if w not in self.windows:
                raise ConfigError(f"no backtest window {w!r}; the windows are {self.windows}.")
            sub = sub[sub["backtest_window"] == w]
        if self.algorithms:
            a = algorithm or self.algorithms[0]
            if a not in self.algorithms:
                raise ConfigError(f"no algorithm {a!r} in the forecasts; they hold {self.algorithms}.")
            sub = sub[sub["algorithm"] == a]
        return sub.sort_values(TIMESTAMP).reset_index(drop=True)

    def forecast_part(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Keys, timestamp and forecast types only (what ``plot_forecast`` draws)."""
        return rows[[*self.key_columns, TIMESTAMP, *self.forecast_types]]

    def actuals(self, rows: pd.DataFrame) -> pd.Series | None:
        """The observed actuals of a backtest slice as a time-indexed Series (None for forecasts)."""
        if self.actual_column is None:
            return None
        r = rows[rows["observed"]] if "observed" in rows.columns else rows
        return pd.Series(r[self.actual_column].to_numpy(), index=pd.DatetimeIndex(r[TIMESTAMP]), name="actual")

    def table(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The values shown beside the chart: timestamp, actual (backtests), forecast types."""
        cols = [TIMESTAMP, *([self.actual_column] if self.actual_column else []), *self.forecast_types]
        return rows[cols].reset_index(drop=True)

    def export_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Amazon Forecast's export layout of a slice: keys, ``date`` (ISO 8601) and the
        forecast types (backtests: also the actual and the window's start and end)."""
        iso = "%Y-%m-%dT%H:%M:%SZ"
        out = rows[[*self.key_columns]].copy()
        out["date"] = pd.to_datetime(rows[TIMESTAMP]).dt.strftime(iso)
        if self.actual_column:
            out[self.actual_column] = rows[self.actual_column]
        for c in self.forecast_types:
            out[c] = rows[c]
        if self.is_backtest:
            for c in ("backtestwindow_start_time", "backtestwindow_end_time"):
                out[c] = pd.to_datetime(rows[c]).dt.strftime(iso)
        return out.reset_index(drop=True)


def export_csv(frame: pd.DataFrame, path: str) -> str:
    """Write ``frame`` as CSV to ``path`` (a local path or a URL) and return the path written.

    Raises
    ------
    ConfigError
        When the path cannot be written (a folder that cannot be made, no permission, a
        folder given instead of a file ...): the path, the system's reason and the fix.
    """
    from ..io import write_frame

    path = str(path).strip()
    if not path:
        raise ConfigError("type a file path (or an s3:// URL) to write the CSV to.")
    if path.endswith(("/", "\\")):
        raise ConfigError(f"cannot write the CSV to {path!r}: it names a folder; add a file name such as "
                          f"{path}forecast.csv.")
    try:
        return write_frame(frame, path, "csv")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot write the CSV to {path!r}: {reason}. Choose a file in a folder you can "
                          "write to (e.g. output/forecast.csv).") from None
