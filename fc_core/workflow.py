"""The getting-started workflow as functions, so the notebooks stay thin.

A notebook's ``parameters`` cell holds literals; the next cell passes them to
:func:`getting_started_config`, which checks every value and fails loudly on a
typo. Later cells call the methods of the returned :class:`WorkflowConfig`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ConfigError
from .schema import get_domain

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class WorkflowConfig:
    """Checked parameters of the getting-started workflow (see the notebook's parameters cell)."""

    target_path: str = ""
    target_schema: str = ""
    related_path: str = ""
    related_schema: str = ""
    item_metadata_path: str = ""
    item_metadata_schema: str = ""
    domain: str = "CUSTOM"
    frequency: str = "H"
    forecast_horizon: int = 24
    forecast_types: list = field(default_factory=lambda: ["0.1", "0.5", "0.9", "mean"])
    forecast_dimensions: list = field(default_factory=list)
    presets: str = "medium"
    time_limit: float = 0
    backtest_windows: int = 0
    backtest_offset: int = 0
    algorithms: list = field(default_factory=list)
    algorithm_params: dict = field(default_factory=dict)
    device: str = "auto"
    output_dir: str = "output"
    interactive: bool = False
    demo_items: int = 20
    demo_days: int = 42
    seed: int = 0

    # ------------------------------------------------------------- data
    def load_data(self):
        """The DatasetGroup: the files named by the parameters, or the built-in demo data."""
        from .datasets import DatasetGroup

        if not self.target_path:
            from . import demo

            return demo.electricity(n_items=self.demo_items, days=self.demo_days, seed=self.seed)
        return DatasetGroup(
            domain=self.domain, frequency=self.frequency or None, target=self.target_path,
            related=self.related_path or None, item_metadata=self.item_metadata_path or None,
            forecast_dimensions=self.forecast_dimensions or None,
            target_schema=self.target_schema or None, related_schema=self.related_schema or None,
            item_metadata_schema=self.item_metadata_schema or None,
        )

    def windows(self, dataset_group):
        """The backtest windows these parameters lay over ``dataset_group``."""
        return self.make_predictor().windows(dataset_group)

    def make_predictor(self):
        """An untrained AutoPredictor configured by these parameters."""
        from .automl import AutoPredictor

        return AutoPredictor(
            forecast_horizon=self.forecast_horizon, forecast_types=self.forecast_types,
            backtest_windows=self.backtest_windows or None, backtest_offset=self.backtest_offset or None,
            presets=self.presets, time_limit=self.time_limit or None,
            algorithms=self.algorithms or None, forecast_dimensions=self.forecast_dimensions or None,
            device=self.device, algorithm_params=self.algorithm_params or None, seed=self.seed,
        )

    # ----------------------------------------------------------- outputs
    @property
    def out(self) -> Path:
        p = Path(self.output_dir)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def write_outputs(self, predictor, forecast, dataset_group, charts_for: int = 3) -> dict:
        """forecast.csv, accuracy_metrics.csv, backtest_forecasts.csv, leaderboard.csv and chart PNGs."""
        from .io import write_frame
        from .plotting import plot_forecast, plot_leaderboard, save_figure

        out = self.out
        paths = {"forecast": forecast.export(out / "forecast.csv")}
        paths.update(predictor.export_backtest(out))
        paths["leaderboard"] = write_frame(predictor.leaderboard(), out / "leaderboard.csv")
        fig = plot_leaderboard(predictor.leaderboard(), predictor.optimization_metric)
        paths["leaderboard_png"] = save_figure(fig, out / "leaderboard.png")
        for item in forecast.items[forecast.item_field].astype(str).head(charts_for):
            fig = plot_forecast(forecast, item, history=dataset_group)
            paths[f"chart_{item}"] = save_figure(fig, out / f"forecast_{_safe(item)}.png")
        paths["parameters"] = str(out / "parameters.json")
        (out / "parameters.json").write_text(json.dumps(asdict(self), indent=2))
        return paths


def _safe(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)


def getting_started_config(**params) -> WorkflowConfig:
    """Check the notebook's parameters and return a :class:`WorkflowConfig`.

    Raises
    ------
    ConfigError
        Naming the parameter, the value given and what is allowed.

    >>> getting_started_config(forecast_horizon=24, device="cpu").device
    'cpu'
    >>> getting_started_config(forecast_horizon=0)
    Traceback (most recent call last):
    ...
    fc_core.errors.ConfigError: parameter forecast_horizon=0: must be a whole number >= 1.
    """
    known = set(WorkflowConfig.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; the parameters are {sorted(known)}.")
    cfg = WorkflowConfig(**params)
    for name in ("forecast_horizon", "demo_items", "demo_days"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"parameter {name}={v!r}: must be a whole number >= 1.")
    v = cfg.backtest_windows
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 5:
        raise ConfigError(f"parameter backtest_windows={v!r}: 1 to 5, or 0 for the preset's.")
    from .automl import PRESETS

    if cfg.presets not in PRESETS:
        raise ConfigError(f"parameter presets={cfg.presets!r}: choose one of {tuple(PRESETS)}.")
    v = cfg.time_limit
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"parameter time_limit={v!r}: seconds for training (0 = no limit).")
    if isinstance(cfg.backtest_offset, bool) or not isinstance(cfg.backtest_offset, int) or cfg.backtest_offset < 0:
        raise ConfigError(f"parameter backtest_offset={cfg.backtest_offset!r}: a whole number (0 = the horizon).")
    if cfg.device not in DEVICES:
        raise ConfigError(f"parameter device={cfg.device!r}: choose one of {DEVICES}.")
    for name in ("forecast_types", "forecast_dimensions", "algorithms"):
        v = getattr(cfg, name)
        if isinstance(v, str):
            v = [s.strip() for s in v.split(",") if s.strip()]
            setattr(cfg, name, v)
        if not isinstance(v, (list, tuple)):
            raise ConfigError(f"parameter {name}={v!r}: give a list, e.g. {['0.1', '0.5', '0.9', 'mean']}.")
    from .algorithms.base import canonical_name, parse_forecast_types

    parse_forecast_types(cfg.forecast_types)
    cfg.algorithms = [canonical_name(a) for a in cfg.algorithms]
    get_domain(cfg.domain)
    if cfg.frequency:
        from .frequency import normalize

        cfg.frequency = normalize(cfg.frequency)
    if not cfg.target_path and (cfg.related_path or cfg.item_metadata_path):
        raise ConfigError("related_path / item_metadata_path given without target_path; name the target file too.")
    return cfg


class Timer:
    """Wall-clock timings of the notebook's steps, shown at the end."""

    def __init__(self):
        self.steps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        self.steps[name] = round(now - self._t, 2)
        self._t = now
        return self.steps[name]
