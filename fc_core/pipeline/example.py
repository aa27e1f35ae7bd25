"""The EC2 cache-pool example of the production pipeline, as functions (the notebook stays thin).

Amazon Forecast's worked example: instance demand of a cache pool arrives as
files; each new file is imported, new forecasts are stored in a table, and
cluster-scaling logic reads the p90 forecast to size the pool. Here:

* :func:`ec2_stream` - hourly instance counts per instance type
  (:func:`fc_core.demo.ec2_capacity`), split into an initial history and daily
  drops, with an optional level shift from a given drop on;
* :func:`write_drop` - land one drop in the input location (written atomically,
  as a producer should);
* :func:`ec2_config` - a pipeline config for the example;
* :func:`choose_capacity` - the scaler: instances to run over a period, from the
  p90 forecast read with :func:`fc_core.pipeline.query_forecast`;
* :func:`run_scenario` - land the drops one by one, run the pipeline after each,
  and let the scaler read the table; one row per run.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import ConfigError

__all__ = ["ec2_stream", "write_drop", "ec2_config", "choose_capacity", "run_scenario", "run_once", "run"]


def ec2_stream(instance_types: int = 4, history_days: int = 15, drops: int = 4, drop_hours: int = 24,
               seed: int = 0, shift_drop: int | None = None, shift_factor: float = 1.8):
    """The demand stream: ``(history, [drop_1, ..., drop_n])`` as canonical EC2_CAPACITY frames.

    ``shift_drop`` (1-based) multiplies demand by ``shift_factor`` from the first hour of that drop on.

    Raises
    ------
    ConfigError
        For sizes below 1 or a ``shift_drop`` outside the drops.
    """
    from ..demo import ec2_capacity

    for k, v in {"history_days": history_days, "drops": drops, "drop_hours": drop_hours}.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"{k} must be a whole number >= 1, got {v!r}.")
    if shift_drop is not None and not 1 <= shift_drop <= drops:
        raise ConfigError(f"shift_drop={shift_drop!r} must name one of the {drops} drops (1 to {drops}) or be None.")
    hist = 24 * history_days
    total = hist + drops * drop_hours
    shift_at = None if shift_drop is None else hist + (shift_drop - 1) * drop_hours
    df = ec2_capacity(instance_types=instance_types, hours=total, seed=seed, shift_at=shift_at,
                      shift_factor=shift_factor)
    ts = pd.DatetimeIndex(df["timestamp"])
    t0 = ts.min()
    pos = ((ts - t0) // pd.Timedelta(hours=1)).to_numpy()
    history = df[pos < hist].reset_index(drop=True)
    out = [df[(pos >= hist + k * drop_hours) & (pos < hist + (k + 1) * drop_hours)].reset_index(drop=True)
           for k in range(drops)]
    return history, out


def write_drop(frame: pd.DataFrame, location, name: str) -> str:
    """Write ``frame`` as CSV file ``name`` in ``location`` (folder or fsspec URL), atomically."""
    from ..io import write_frame

    f = frame.copy()
    f["timestamp"] = pd.DatetimeIndex(f["timestamp"]).strftime("%Y-%m-%d %H:%M:%S")
    return write_frame(f, f"{str(location).rstrip('/')}/{name}", fmt="csv")


def ec2_config(root, threshold: float = 0.2, algorithms=("SeasonalNaive", "Naive"), db_url: str | None = None,
               every_steps: int | None = None, name: str = "ec2-cache-pool", horizon: int = 24) -> dict:
    """A pipeline config (as a dict) for the example, with its folders under ``root``."""
    root = Path(root)
    return {
        "name": name,
        "state_dir": str(root / "state"),
        "input": {"location": str(root / "drops"), "pattern": "*.csv", "domain": "EC2_CAPACITY", "frequency": "H"},
        "predictor": {"forecast_horizon": horizon, "forecast_types": ["0.1", "0.5", "0.9", "mean"],
                      "algorithms": list(algorithms), "backtest_windows": 1},
        "monitoring": {"metric": "AverageWeightedQuantileLoss", "threshold": threshold},
        "retraining": {"on_threshold": True, "every_steps": every_steps},
        "output": {"location": str(root / "exports"), "format": "csv"},
        "database": {"url": db_url, "table": "ec2_forecasts", "retries": 2, "backoff_seconds": 0.2},
    }


def choose_capacity(db_url, instance_type: str, start, end, headroom: float = 1.1, quantile: str = "p90",
                    table: str = "ec2_forecasts", pipeline: str | None = None) -> int:
    """Instances to keep in the pool over ``[start, end]``: the peak ``quantile`` forecast times ``headroom``.

    Raises
    ------
    ConfigError
        When the table has no forecast of that instance type over the period.
    """
    from .publish import query_forecast

    fc = query_forecast(db_url, instance_type, start, end, table=table, pipeline=pipeline)
    if fc.empty:
        raise ConfigError(f"no forecast for {instance_type} between {start} and {end} in table {table!r}.")
    return int(math.ceil(float(fc[quantile].max()) * headroom))


def run_scenario(root, instance_types: int = 4, history_days: int = 15, drops: int = 4, shift_drop: int | None = 3,
                 shift_factor: float = 1.8, threshold: float = 0.2, algorithms=("SeasonalNaive", "Naive"),
                 db_url: str | None = None, headroom: float = 1.1, seed: int = 0, hooks: dict | None = None):
    """Run the whole example under ``root``; returns ``(pipeline, table)``, one row per pipeline run.

    Columns: ``run``, ``file``, ``monitored`` (the live forecast's error on the new drop),
    ``exceeded``, ``retrain`` (trigger), ``predictor_version``, ``published_version``,
    ``capacity_<type>`` (the scaler's choice for the next period), ``peak_actual_<type>``
    (the real peak of that period, when the stream has it).
    """
    from .core import Pipeline

    history, parts = ec2_stream(instance_types, history_days, drops, 24, seed, shift_drop, shift_factor)
    cfg = ec2_config(root, threshold, algorithms, db_url)
    if (Path(cfg["state_dir"]) / "catalog.db").exists():
        raise ConfigError(f"{root} already holds a run of the example (its state folder {cfg['state_dir']}); "
                          "choose an empty output_dir to run it again from the start.")
    Path(cfg["input"]["location"]).mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(cfg, hooks=hooks)
    types = sorted(history["instance_type"].unique())
    rows = []
    for k, frame in enumerate([history, *parts]):
        name = "000_history.csv" if k == 0 else f"{k:03d}_drop.csv"
        write_drop(frame, cfg["input"]["location"], name)
        res = pipe.run()
        row = {"run": k, "file": name, "monitored": (res.monitored or {}).get("value"),
               "exceeded": (res.monitored or {}).get("exceeded"), "retrain": res.trigger,
               "predictor_version": res.predictor_version, "published_version": res.published_version}
        nxt = parts[k] if k < len(parts) else None
        start = pd.Timestamp(frame["timestamp"].max()) + pd.Timedelta(hours=1)
        end = start + pd.Timedelta(hours=23)
        for t in types:
            row[f"capacity_{t}"] = choose_capacity(pipe.db_url, t, start, end, headroom, pipeline=cfg["name"])
            if nxt is not None:
                row[f"peak_actual_{t}"] = int(nxt.loc[nxt["instance_type"] == t, "number_of_instances"].max())
        rows.append(row)
    return pipe, pd.DataFrame(rows)


def run_once(config_path, force_retrain: bool = False):
    """One run of the pipeline configured by ``config_path``; returns ``(pipeline, one-row table)``."""
    from .core import Pipeline

    pipe = Pipeline.from_yaml(config_path)
    res = pipe.run(force_retrain=force_retrain)
    row = {k: v for k, v in res.__dict__.items() if k not in ("monitored", "messages")}
    row["monitored"] = (res.monitored or {}).get("value")
    row["messages"] = "; ".join(res.messages)
    return pipe, pd.DataFrame([row])


def run(config_path: str | None, root, **scenario):
    """The notebook's one call: a run of the pipeline configured by ``config_path`` when one is
    given, else the whole example scenario under ``root`` (:func:`run_scenario` with ``scenario``).
    Returns ``(pipeline, table)``."""
    if config_path:
        return run_once(config_path)
    return run_scenario(root, **scenario)
