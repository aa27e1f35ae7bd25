"""What each training and forecast run used, and what Amazon Forecast would have charged for it.

:func:`measure` is a context manager that records one run: wall and CPU time
(this process, its worker processes via :func:`fc_core.parallel.worker_cpu_seconds`
and finished child processes), peak memory (resident memory of this process and
its children, sampled every 50 ms; ``memory_added_mb`` is the peak above the
resident memory at the start), the number of series and of forecast values
and the data size. :class:`CostLog` keeps the records; ``AutoPredictor.train`` and
``AutoPredictor.forecast`` are measured automatically (:func:`tracked`) and
``AutoPredictor.cost_report()`` / ``write_cost_report(path)`` show them.

Beside each record stands the price of the same job on Amazon Forecast, from
:class:`Prices` (configuration, not constants: ``Prices(training_hour=0.30)``,
``Prices.from_yaml("prices.yaml")`` or the ``FC_PRICES`` environment variable
naming such a file). Defaults are Amazon Forecast's published prices:

* **forecasts**: $0.60 per 1,000 *time-series forecasts*. Amazon's billing metric
  ``TimeSeriesForecastsGenerated`` counts "unique time series forecasts generated
  for each quantile", rounded up to the nearest 1,000 (Amazon Forecast developer
  guide, "CloudWatch metrics",
  https://docs.aws.amazon.com/forecast/latest/dg/cloudwatch-metrics.html). The rule implemented: one forecast = one time series
  (item x forecast dimensions) x one forecast type; ``mean`` counts as a forecast
  type like each quantile; the horizon's length does not matter; each forecast run
  is rounded up to a whole 1,000. Backtests are not charged as forecasts (they are
  part of training).
* **data storage**: $0.088 per GB per month, for the data a training run reads
  (the dataset group's frames in memory, or the panel's arrays), one month.
* **training**: $0.24 per training hour. Amazon bills its own instance hours; the
  local stand-in is the run's wall-clock hours (``training_hours_from="cpu"`` uses
  CPU hours instead).
* **free tier** (first two months): 10,000 time-series forecasts, 10 GB of storage
  and 10 training hours per month. ``cost_usd_free_tier`` subtracts them from the
  report's totals, as if the report were one month of a new account's use.

>>> log = CostLog()
>>> with measure("forecast", log, kind="forecast") as m:
...     _ = m.update(n_series=2500, n_forecast_types=4, n_forecast_values=2500 * 4 * 24)
>>> row = log.frame().iloc[0]
>>> int(row["amazon_forecasts"]), round(float(row["forecast_cost_usd"]), 2)
(10000, 6.0)
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from .errors import ConfigError

__all__ = ["Prices", "load_prices", "CostLog", "Measurement", "measure", "tracked", "data_bytes",
           "write_cost_report"]

GB = 1024 ** 3


# ------------------------------------------------------------------ prices
@dataclass(frozen=True)
class Prices:
    """Amazon Forecast's published prices (USD) and free tier; override any of them.

    Attributes
    ----------
    per_1000_forecasts : float
        0.60 per 1,000 time-series forecasts (one series x one forecast type).
    storage_gb_month : float
        0.088 per GB of data stored per month.
    training_hour : float
        0.24 per training hour.
    free_forecasts, free_storage_gb, free_training_hours : float
        Free tier per month: 10,000 forecasts, 10 GB, 10 hours.
    free_tier_months : int
        How long the free tier lasts (2).
    forecast_unit : int
        Forecasts are billed in whole units of this many (1,000), rounded up per run.
    training_hours_from : {"wall", "cpu"}
        Which local time stands in for Amazon's training hours.
    """

    per_1000_forecasts: float = 0.60
    storage_gb_month: float = 0.088
    training_hour: float = 0.24
    free_forecasts: float = 10_000
    free_storage_gb: float = 10.0
    free_training_hours: float = 10.0
    free_tier_months: int = 2
    forecast_unit: int = 1000
    training_hours_from: str = "wall"
    currency: str = "USD"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("currency", "training_hours_from"):
                continue
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"price setting {f.name}={v!r} must be a number >= 0.")
        if self.forecast_unit < 1:
            raise ConfigError(f"forecast_unit must be >= 1, got {self.forecast_unit!r}.")
        if self.training_hours_from not in ("wall", "cpu"):
            raise ConfigError(f"training_hours_from={self.training_hours_from!r}: use 'wall' or 'cpu'.")

    @classmethod
    def from_dict(cls, d: dict) -> "Prices":
        """Prices from a dict of overrides; unknown names are refused.

        Raises
        ------
        ConfigError
            For an unknown name or a negative price.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise ConfigError(f"unknown price setting(s) {bad}; known: {sorted(names)}.")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path) -> "Prices":
        """Prices from a YAML file of overrides (``training_hour: 0.30``).

        Raises
        ------
        ConfigError
            If the file is not a YAML mapping, or as :meth:`from_dict`.
        """
        import yaml

        try:
            doc = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read prices from {path}: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{path} must hold a mapping such as 'training_hour: 0.24'.")
        return cls.from_dict(doc)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_prices(prices=None) -> Prices:
    """A :class:`Prices` from ``None`` (the ``FC_PRICES`` YAML file if set, else the defaults),
    a dict of overrides, a YAML path, or a Prices."""
    if isinstance(prices, Prices):
        return prices
    if isinstance(prices, dict):
        return Prices.from_dict(prices)
    if prices is None:
        env = os.environ.get("FC_PRICES")
        return Prices.from_yaml(env) if env else Prices()
    return Prices.from_yaml(prices)


# ------------------------------------------------------------------ measuring
def _rss_bytes() -> int:
    """Resident memory of this process and its live children (bytes); 0 when unknown."""
    try:
        import psutil

        me = psutil.Process()
        total = me.memory_info().rss
        for c in me.children(recursive=True):
            with contextlib.suppress(Exception):
                total += c.memory_info().rss
        return int(total)
    except Exception:  # noqa: BLE001 - psutil missing or a process vanished
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            return 0


class _Sampler(threading.Thread):
    def __init__(self, interval: float = 0.05):
        super().__init__(daemon=True, name="fc_core-costs-memory")
        self.interval = interval
        self.peak = _rss_bytes()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=1.0)
        return max(self.peak, _rss_bytes())


@dataclass
class Measurement:
    """One measured run (see :func:`measure`); counts are set by the caller with :meth:`update`."""

    name: str
    kind: str = "other"
    label: str = ""
    started_utc: pd.Timestamp | None = None
    status: str = "running"
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0
    memory_start_mb: float = 0.0
    n_series: int = 0
    n_forecast_types: int = 0
    n_forecast_values: int = 0
    data_bytes: int = 0
    extra: dict = field(default_factory=dict)

    def update(self, **values: Any) -> "Measurement":
        for k, v in values.items():
            if k in {f.name for f in dataclasses.fields(self)} and k not in ("extra", "name"):
                setattr(self, k, v)
            else:
                self.extra[k] = v
        return self


class CostLog:
    """Measurements of a session or a predictor; :meth:`frame` prices them."""

    def __init__(self, records: list[Measurement] | None = None):
        self.records: list[Measurement] = list(records or [])

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def of(cls, *predictors) -> "CostLog":
        """One log holding the runs recorded by each predictor's ``cost_log_``, in order."""
        return cls([r for p in predictors for r in p.cost_log_.records])

    def add(self, m: Measurement) -> None:
        self.records.append(m)

    def frame(self, prices=None, total: bool = False) -> pd.DataFrame:
        """One row per run: what it used and what Amazon Forecast would have charged.

        ``total=True`` adds a ``TOTAL`` row whose ``cost_usd_free_tier`` applies the
        monthly free tier to the summed quantities.
        """
        p = load_prices(prices)
        rows = []
        for m in self.records:
            forecasts = m.n_series * m.n_forecast_types if m.kind == "forecast" else 0
            units = math.ceil(forecasts / p.forecast_unit) if forecasts else 0
            hours = (m.wall_s if p.training_hours_from == "wall" else m.cpu_s) / 3600.0 if m.kind == "train" else 0.0
            gb = m.data_bytes / GB if m.kind == "train" else 0.0
            row = {"run": m.name, "kind": m.kind, "label": m.label, "started_utc": m.started_utc, "status": m.status,
                   "wall_s": round(m.wall_s, 3), "cpu_s": round(m.cpu_s, 3), "peak_memory_mb": round(m.peak_memory_mb, 1),
                   "memory_added_mb": round(max(m.peak_memory_mb - m.memory_start_mb, 0.0), 1),
                   "n_series": m.n_series, "n_forecast_types": m.n_forecast_types,
                   "n_forecast_values": m.n_forecast_values, "data_bytes": m.data_bytes,
                   "amazon_forecasts": forecasts, "forecast_cost_usd": units * p.forecast_unit / 1000.0 * p.per_1000_forecasts,
                   "storage_gb": gb, "storage_cost_usd": gb * p.storage_gb_month,
                   "training_hours": hours, "training_cost_usd": hours * p.training_hour}
            row["cost_usd"] = row["forecast_cost_usd"] + row["storage_cost_usd"] + row["training_cost_usd"]
            row.update({f"extra_{k}": v for k, v in m.extra.items() if isinstance(v, (int, float, str, bool))})
            rows.append(row)
        cols = ["run", "kind", "label", "started_utc", "status", "wall_s", "cpu_s", "peak_memory_mb", "memory_added_mb", "n_series",
                "n_forecast_types", "n_forecast_values", "data_bytes", "amazon_forecasts", "forecast_cost_usd",
                "storage_gb", "storage_cost_usd", "training_hours", "training_cost_usd", "cost_usd"]
        out = pd.DataFrame(rows, columns=cols + sorted({k for r in rows for k in r} - set(cols)))
        if total and len(out):
            fc = float(out["amazon_forecasts"].sum())
            gb = float(out["storage_gb"].sum())
            hrs = float(out["training_hours"].sum())
            free = (math.ceil(max(fc - p.free_forecasts, 0) / p.forecast_unit) * p.forecast_unit / 1000.0
                    * p.per_1000_forecasts + max(gb - p.free_storage_gb, 0) * p.storage_gb_month
                    + max(hrs - p.free_training_hours, 0) * p.training_hour)
            tot = {c: out[c].sum() for c in ("wall_s", "cpu_s", "n_forecast_values", "data_bytes", "amazon_forecasts",
                                              "forecast_cost_usd", "storage_gb", "storage_cost_usd", "training_hours",
                                              "training_cost_usd", "cost_usd")}
            tot.update(run="TOTAL", kind="", label="", status="", peak_memory_mb=out["peak_memory_mb"].max(),
                       cost_usd_free_tier=free)
            out = pd.concat([out, pd.DataFrame([tot])], ignore_index=True)
        return out

    def write(self, path, prices=None) -> str:
        """Write :meth:`frame` (with the TOTAL row) as CSV; a folder gets ``cost_report.csv``."""
        from .io import write_frame

        path = str(path)
        if not path.lower().endswith(".csv"):
            path = path.rstrip("/") + "/cost_report.csv"
        return write_frame(self.frame(prices, total=True), path)


_LOCAL = threading.local()


@contextlib.contextmanager
def measure(name: str, log: CostLog | None = None, kind: str = "other", **counts: Any) -> Iterator[Measurement]:
    """Measure the block: wall and CPU time, peak memory; add counts with ``m.update(...)``.

    The record is appended to ``log`` (when given) also when the block fails
    (``status="failed"``) or is interrupted (``"interrupted"``), and the error propagates.

    Parameters
    ----------
    name : str
        Label of the run (``"train"``, ``"forecast"``, ...).
    log : CostLog, optional
    kind : {"train", "forecast", "other"}
        Decides which prices apply.
    **counts
        ``n_series``, ``n_forecast_types``, ``n_forecast_values``, ``data_bytes`` or extras.
    """
    m = Measurement(name=name, kind=kind, started_utc=pd.Timestamp.now(tz="UTC").tz_localize(None))
    m.update(**counts)
    sampler = _Sampler()
    m.memory_start_mb = sampler.peak / 2 ** 20
    sampler.start()
    from .parallel import cpu_seconds

    t0, c0 = time.perf_counter(), cpu_seconds()
    _LOCAL.depth = getattr(_LOCAL, "depth", 0) + 1
    try:
        yield m
        m.status = "ok"
    except KeyboardInterrupt:
        m.status = "interrupted"
        raise
    except BaseException:
        m.status = "failed"
        raise
    finally:
        _LOCAL.depth -= 1
        m.wall_s = time.perf_counter() - t0
        m.cpu_s = cpu_seconds() - c0
        m.peak_memory_mb = sampler.stop() / 2 ** 20
        if log is not None:
            log.add(m)


def data_bytes(data) -> int:
    """Size of a dataset group's frames in memory (target, related, item metadata), or of a
    panel's arrays (a group's packed panel once its frames were released)."""
    if getattr(data, "frames_released", False):
        data = data.to_panel()
    total = 0
    for attr in ("target", "related", "item_metadata"):
        df = getattr(data, attr, None)
        if isinstance(df, pd.DataFrame):
            total += int(df.memory_usage(deep=True, index=False).sum())
    if total:
        return total
    for attr in ("values", "observed", "related", "indptr"):
        a = getattr(data, attr, None)
        if a is not None and hasattr(a, "nbytes"):
            total += int(a.nbytes)
    return total


def tracked(kind: str) -> Callable:
    """Decorator for a method of an object with a ``cost_log_`` attribute: measure each call
    (``kind`` ``"train"`` or ``"forecast"``) and count what it did. Nested measured calls
    are recorded once, by the outermost."""

    def deco(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if getattr(_LOCAL, "depth", 0) > 0:
                return method(self, *args, **kwargs)
            log = self.__dict__.get("cost_log_")
            if log is None:
                log = self.cost_log_ = CostLog()
            with measure(kind, log, kind=kind) as m:
                out = method(self, *args, **kwargs)
                m.update(**_counts(kind, self, args, kwargs, out))
            return out

        return wrapper

    return deco


def _counts(kind: str, obj, args, kwargs, out) -> dict:
    label = "+".join(getattr(obj, "algorithms", []) or []) or type(obj).__name__
    return {"label": label, **_sizes(kind, obj, args, kwargs, out)}


def _sizes(kind: str, obj, args, kwargs, out) -> dict:
    ntypes = len(getattr(obj, "forecast_types", []) or [])
    if kind == "train":
        data = args[0] if args else kwargs.get("dataset_group")
        panel = getattr(obj, "panel", None)
        bt = getattr(obj, "backtest_frame_", None)
        return {"n_series": int(panel.n_series) if panel is not None else 0, "n_forecast_types": ntypes,
                "n_forecast_values": int(len(bt)) * ntypes if bt is not None else 0,
                "data_bytes": data_bytes(data) if data is not None else 0}
    frame = getattr(out, "frame", None)
    if frame is None:
        return {}
    keys = list(getattr(out, "key_columns", []))
    n = int(len(frame[keys].drop_duplicates())) if keys and len(frame) else 0
    types = len(getattr(out, "forecast_types", [])) or ntypes
    return {"n_series": n, "n_forecast_types": types, "n_forecast_values": int(len(frame)) * types}


def write_cost_report(log: CostLog, path, prices=None) -> str:
    """Write a cost log as CSV (see :meth:`CostLog.write`)."""
    return log.write(path, prices)
