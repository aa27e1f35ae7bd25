"""The YAML configuration of a production pipeline (:mod:`fc_core.pipeline`), checked key by key.

::

    name: ec2-cache-pool            # the pipeline's name (its key in the database tables)
    state_dir: state                # catalog.db, data snapshots, predictors, forecasts, quarantine/, lock
    input:
      location: drops               # folder or fsspec URL (s3://..., memory://...) where new files land
      pattern: "*.csv"              # glob of the files to import ("*" = every file; "**/*.csv" recurses)
      domain: EC2_CAPACITY          # Amazon Forecast domain: sets the item and target column names
      frequency: H                  # the data's frequency
      forecast_dimensions: []       # extra key columns
      forecast_from: global_end     # where each item's forecast starts: global_end (after the data's last time,
                                    # items ending early back-filled: Amazon Forecast's) | item_end (after the
                                    # item's own last value; drops with such items need
                                    # checks.incomplete_items: warn)
      schema: null                  # "timestamp:timestamp,..." for files without a header
      read_options: {}              # column_map, timezone, timestamp_format, constants, item_id, columns
      duplicates: error             # repeated (item, timestamp) rows inside one file: error | sum | mean | last ...
      fill: null                    # missing-value rules (fc_core.featurization.parse_fill)
      keep_history: null            # keep only the last so many steps (default: everything)
      quarantine: null              # where malformed files are copied (default <state_dir>/quarantine)
      checks:                       # drops checked against what the pipeline holds (quarantined when they fail)
        final_newline: true         # a CSV whose last line has no line end was cut short
        incomplete_items: quarantine  # an item ending before the drop's last time: quarantine | warn
    predictor:                      # AutoPredictor's parameters; retraining reuses them unchanged
      forecast_horizon: 24
      forecast_types: ["0.1", "0.5", "0.9", "mean"]
      presets: auto                 # fast | medium | best | auto (medium, lighter on large data): candidates and windows
      time_limit: null              # seconds per training (null = no limit); the AutoPredictor plans to fit
      algorithms: [SeasonalNaive, Naive]
      backtest_windows: 1
    monitoring:
      metric: AverageWeightedQuantileLoss   # or WAPE, RMSE, MASE, MAPE, wQL[0.9] ...
      threshold: 0.2                # retrain when the monitored error of the live forecast passes it
      min_observed: 1               # points the score needs before it may trigger a retraining
    retraining:
      on_threshold: true
      every_steps: null             # also retrain after this many steps of new data (a schedule)
    output:
      location: exports             # folder or URL for forecast_vNNNNN.csv and forecast_latest.csv; null = none
      format: csv                   # csv | parquet
    database:
      url: null                     # SQLAlchemy URL; null = sqlite:///<state_dir>/forecasts.db
      table: forecasts
      retries: 4                    # connection retries, waiting backoff_seconds * 2**k
      backoff_seconds: 0.5
      keep_versions: 3              # published versions kept in the table
      chunk_rows: 50000             # rows per committed insert batch
    encryption:
      key_env: null                 # name of an environment variable holding a key (fc_core.security.generate_key):
                                    # data snapshots, predictors, forecasts, accuracy files, quarantined copies and
                                    # exports are then encrypted at rest (AES-256-GCM); catalog.db (versions, hashes,
                                    # metrics) and the publication database are not

Relative paths are relative to the YAML file's folder.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..io import is_url, local_path

__all__ = ["PipelineConfig", "load_config", "DEFAULTS"]

DEFAULTS: dict = {
    "name": None,
    "state_dir": "state",
    "input": {"location": None, "pattern": "*", "domain": "CUSTOM", "frequency": None, "forecast_dimensions": [],
              "forecast_from": "global_end", "schema": None, "read_options": {}, "duplicates": "error", "fill": None, "keep_history": None,
              "quarantine": None, "checks": {"final_newline": True, "incomplete_items": "quarantine"}},
    "predictor": {"forecast_horizon": None, "forecast_types": ["0.1", "0.5", "0.9", "mean"], "algorithms": None,
                  "backtest_windows": 1, "backtest_offset": None, "optimization_metric": "AverageWeightedQuantileLoss",
                  "algorithm_params": {}, "ensemble": True, "seed": 0, "n_jobs": None, "item_selection": True,
                  "item_switch_margin": 0.0, "keep_all_candidates": False, "device": "auto",
                  "presets": "auto", "time_limit": None},
    "monitoring": {"metric": "AverageWeightedQuantileLoss", "threshold": None, "min_observed": 1},
    "retraining": {"on_threshold": True, "every_steps": None},
    "output": {"location": None, "format": "csv"},
    "database": {"url": None, "table": "forecasts", "retries": 4, "backoff_seconds": 0.5, "keep_versions": 3,
                 "chunk_rows": 50_000},
    "encryption": {"key_env": None},
}
_READ_KEYS = ("column_map", "timezone", "timestamp_format", "constants", "item_id", "columns", "header")


@dataclass
class PipelineConfig:
    """A checked pipeline configuration: one dict per section, paths resolved against ``base_dir``."""

    name: str
    state_dir: Path
    input: dict
    predictor: dict
    monitoring: dict
    retraining: dict
    output: dict
    database: dict
    encryption: dict = field(default_factory=lambda: {"key_env": None})
    base_dir: Path = field(default_factory=Path.cwd)

    def encryption_key(self) -> str | None:
        """The key named by ``encryption.key_env`` (None when the state is not encrypted).

        Raises
        ------
        ConfigError
            When the variable is unset, or holds something that is not a key.
        """
        import os

        from ..security import _key_bytes

        name = self.encryption.get("key_env")
        if not name:
            return None
        key = os.environ.get(name)
        if not key:
            raise ConfigError(f"encryption.key_env names the environment variable {name}, which is not set; set it "
                              "to the pipeline's key (fc_core.security.generate_key()).")
        _key_bytes(key)
        return key

    @property
    def db_url(self) -> str:
        return self.database["url"] or f"sqlite:///{self.state_dir / 'forecasts.db'}"

    @property
    def quarantine_dir(self) -> str:
        return self.input["quarantine"] or str(self.state_dir / "quarantine")

    @property
    def key_columns(self) -> list[str]:
        """The item field of the domain, then the forecast dimensions."""
        from ..schema import get_domain

        return [get_domain(self.input["domain"]).item_field, *self.input["forecast_dimensions"]]

    @property
    def frequency(self) -> str:
        return self.input["frequency"]

    @classmethod
    def from_dict(cls, doc: dict, base_dir=None) -> "PipelineConfig":
        """Check ``doc`` (a parsed YAML document) and fill defaults.

        Raises
        ------
        ConfigError
            Naming the section and key that are unknown, missing or invalid.
        """
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        if not isinstance(doc, dict):
            raise ConfigError(f"a pipeline config is a mapping of sections, got {type(doc).__name__}.")
        cfg = copy.deepcopy(DEFAULTS)
        unknown = sorted(set(doc) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; the sections are {sorted(DEFAULTS)}.")
        for k, v in doc.items():
            if isinstance(DEFAULTS[k], dict):
                if v is None:
                    continue
                if not isinstance(v, dict):
                    raise ConfigError(f"config section '{k}' must be a mapping, got {v!r}.")
                bad = sorted(set(v) - set(DEFAULTS[k]))
                if bad:
                    raise ConfigError(f"unknown key(s) {bad} in section '{k}'; allowed: {sorted(DEFAULTS[k])}.")
                cfg[k].update(v)
            else:
                cfg[k] = v
        return cls._check(cfg, base)

    @classmethod
    def _check(cls, c: dict, base: Path) -> "PipelineConfig":
        from .. import frequency as fq
        from ..algorithms.base import canonical_name, parse_forecast_types
        from ..metrics import metric_names
        from ..schema import get_domain

        if not c["name"] or not isinstance(c["name"], str) or len(c["name"]) > 200:
            raise ConfigError("config key 'name' is required: a short name for the pipeline (e.g. ec2-cache-pool).")
        inp, pr, mon, rt, out, db = (c[k] for k in ("input", "predictor", "monitoring", "retraining", "output",
                                                     "database"))
        if not inp["location"]:
            raise ConfigError("input.location is required: the folder or URL where new data files land.")
        inp["location"] = _resolve(inp["location"], base)
        if inp["quarantine"]:
            inp["quarantine"] = _resolve(inp["quarantine"], base)
        if not inp["frequency"]:
            raise ConfigError("input.frequency is required (H, D, W, M, 15min ...): the pipeline forecasts at it.")
        inp["frequency"] = fq.normalize(str(inp["frequency"]))
        get_domain(inp["domain"])
        from ..datasets import FORECAST_FROM

        if inp["forecast_from"] not in FORECAST_FROM:
            raise ConfigError(f"input.forecast_from {inp['forecast_from']!r}: choose global_end (forecast every item "
                              "from the data's last time, Amazon Forecast's behaviour) or item_end (each item from "
                              "its own last value).")
        if not isinstance(inp["read_options"], dict) or set(inp["read_options"]) - set(_READ_KEYS):
            raise ConfigError(f"input.read_options: allowed keys are {list(_READ_KEYS)}, got {inp['read_options']!r}.")
        _whole(inp, "keep_history", "input", allow_none=True)
        checks = {"final_newline": True, "incomplete_items": "quarantine"}
        if not isinstance(inp["checks"] or {}, dict) or set(inp["checks"] or {}) - set(checks):
            raise ConfigError(f"input.checks: allowed keys are {sorted(checks)}, got {inp['checks']!r}.")
        inp["checks"] = {**checks, **(inp["checks"] or {})}
        if inp["checks"]["incomplete_items"] not in ("quarantine", "warn"):
            raise ConfigError(f"input.checks.incomplete_items: quarantine or warn, got "
                              f"{inp['checks']['incomplete_items']!r}.")
        h = pr["forecast_horizon"]
        if isinstance(h, bool) or not isinstance(h, int) or h < 1:
            raise ConfigError(f"predictor.forecast_horizon is required: a whole number of steps >= 1, got {h!r}.")
        if inp["keep_history"] is not None and inp["keep_history"] < 3 * h:
            raise ConfigError(f"input.keep_history={inp['keep_history']} keeps too little history for a "
                              f"{h}-step horizon and its backtests; keep at least {3 * h} steps.")
        pr["forecast_types"] = [str(t) for t in pr["forecast_types"]]
        levels, _ = parse_forecast_types(pr["forecast_types"])
        if not levels:
            raise ConfigError("predictor.forecast_types needs at least one quantile (e.g. \"0.9\") for monitoring "
                              "and for programs that read the forecast.")
        if pr["algorithms"] is not None:
            pr["algorithms"] = [canonical_name(a) for a in pr["algorithms"]]
        from ..automl import PRESET_NAMES

        if pr["presets"] not in PRESET_NAMES:
            raise ConfigError(f"predictor.presets {pr['presets']!r}: choose one of {', '.join(PRESET_NAMES)}.")
        tl = pr["time_limit"]
        if tl is not None and (isinstance(tl, bool) or not isinstance(tl, (int, float)) or tl <= 0):
            raise ConfigError(f"predictor.time_limit must be a positive number of seconds (or null), got {tl!r}.")
        allowed = metric_names(sorted(set(levels) | {0.5}))
        if mon["metric"] not in allowed:
            raise ConfigError(f"monitoring.metric {mon['metric']!r}: choose one of {allowed}.")
        t = mon["threshold"]
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
            raise ConfigError(f"monitoring.threshold must be a positive number (or null), got {t!r}.")
        _whole(mon, "min_observed", "monitoring")
        _whole(rt, "every_steps", "retraining", allow_none=True)
        if out["location"]:
            out["location"] = _resolve(out["location"], base)
        if out["format"] not in ("csv", "parquet"):
            raise ConfigError(f"output.format {out['format']!r}: use csv or parquet.")
        for k in ("retries", "keep_versions", "chunk_rows"):
            _whole(db, k, "database", minimum=0 if k == "retries" else 1)
        if not isinstance(db["backoff_seconds"], (int, float)) or db["backoff_seconds"] < 0:
            raise ConfigError(f"database.backoff_seconds must be >= 0, got {db['backoff_seconds']!r}.")
        if db["url"] and str(db["url"]).startswith("sqlite:///") and not str(db["url"]).startswith("sqlite:////"):
            rel = str(db["url"])[len("sqlite:///"):]
            if rel and rel != ":memory:":
                db["url"] = f"sqlite:///{_resolve(rel, base)}"
        if not str(db["table"]).replace("_", "").isalnum():
            raise ConfigError(f"database.table {db['table']!r}: use letters, digits and underscores.")
        enc = c["encryption"]
        if enc["key_env"] is not None and (not isinstance(enc["key_env"], str) or not enc["key_env"].strip()):
            raise ConfigError(f"encryption.key_env: the name of an environment variable, got {enc['key_env']!r}.")
        return cls(name=c["name"], state_dir=Path(_resolve(c["state_dir"], base)), input=inp, predictor=pr,
                   monitoring=mon, retraining=rt, output=out, database=db, encryption=enc, base_dir=base)

    def predictor_kwargs(self) -> dict:
        """The AutoPredictor's keyword arguments (unset ones left to its defaults)."""
        p = dict(self.predictor)
        p["frequency"] = self.frequency
        p["forecast_dimensions"] = list(self.input["forecast_dimensions"]) or None
        return {k: v for k, v in p.items() if v is not None}


def _resolve(p, base: Path) -> str:
    s = str(p)
    if is_url(s):
        return s
    q = Path(local_path(s)).expanduser()
    return str(q if q.is_absolute() else (base / q).resolve())


def _whole(sec: dict, key: str, name: str, allow_none: bool = False, minimum: int = 1) -> None:
    v = sec[key]
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ConfigError(f"{name}.{key} must be a whole number >= {minimum}{' or null' if allow_none else ''}, "
                          f"got {v!r}.")


def load_config(path) -> PipelineConfig:
    """Read and check a pipeline's YAML file.

    Raises
    ------
    ConfigError
        For a missing or unparsable file, or any invalid key.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"pipeline config {p} not found.")
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"pipeline config {p} is not valid YAML: {exc}") from None
    return PipelineConfig.from_dict(doc or {}, base_dir=p.resolve().parent)
