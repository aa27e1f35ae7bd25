"""The estimator/predictor contract shared by every algorithm.

* An :class:`Estimator` is configuration only. ``train(data)`` returns a new
  :class:`Predictor` and never changes the estimator.
* A :class:`Predictor` holds fitted state (for a local model: the training
  data and settings; local models fit each series inside ``predict``), predicts
  and saves itself to a folder without pickle.
* Internally predictions are :class:`ForecastArrays` (series x horizon x
  quantile); :meth:`Predictor.predict` turns them into the canonical forecast
  frame with one column per forecast type (``p10``, ``p50``, ``p90``, ``mean``).

A new algorithm subclasses both, implements ``_fit`` (global models) and/or
``_forecast`` and registers itself with :func:`register`.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..artifacts import ARTIFACT_FILE, ARTIFACT_VERSION, read_artifact, write_artifact  # noqa: F401  (re-exported)
from ..artifacts import jsonable as _jsonable
from ..errors import ArtifactError, ConfigError, NotTrainedError
from ..explain import explain as explain_predictor
from ..io import atomic_dir, load_panel, save_panel
from ..panel import Panel
from ..quantiles import (DEFAULT_FORECAST_TYPES, ForecastArrays, arrays_from_normal,  # noqa: F401  (re-exported)
                         arrays_from_samples, forecast_columns, interpolate_quantiles, parse_forecast_types,
                         quantile_column)
from ..security import open_artifact, save_encrypted
from .guard import check_non_negative, guard, merge_legacy_nonnegative


# -------------------------------------------------------------- capabilities
@dataclass(frozen=True)
class Capabilities:
    """What an algorithm can use (Darts-style capability flags)."""

    uses_related: bool = False
    uses_item_metadata: bool = False
    cold_start: bool = False
    gpu: bool = False
    local: bool = True  # fits each series on its own
    needs_seed: bool = False


# ---------------------------------------------------------------- execution
def execution_of(cls) -> str:
    """Where an estimator class's work runs when a Dask scheduler is configured:

    * ``"items"``: per-item fits in chunks through :func:`fc_core.parallel.map_chunks` (on the cluster);
    * ``"global"``: one model trained on all the series, in the calling (client) process;
    * ``"vectorized"``: array arithmetic over all the series at once, in the calling process.
    """
    if getattr(cls, "parallel_items", False):
        return "items"
    return "vectorized" if cls.capabilities.local else "global"


# ----------------------------------------------------------------- contract
class Estimator:
    """Configuration of an algorithm; :meth:`train` returns a :class:`Predictor`.

    Parameters
    ----------
    forecast_horizon : int
        Steps to forecast (Amazon Forecast's ``ForecastHorizon``).
    frequency : str, optional
        Taken from the data when not given.
    forecast_types : sequence of str
        Quantiles such as ``"0.1"`` and/or ``"mean"``.
    seed : int
        Random seed; the same inputs and seed give the same numbers.
    non_negative : "auto", True or False
        ``"auto"`` (default): forecasts of an item whose history is never negative are clipped at 0;
        True: every item's; False: none (:mod:`fc_core.algorithms.guard`).
    **params
        Algorithm hyperparameters; unknown names are refused.
    """

    name: ClassVar[str] = "base"
    capabilities: ClassVar[Capabilities] = Capabilities()
    defaults: ClassVar[dict] = {}
    predictor_class: ClassVar[type["Predictor"]]
    #: True where the per-item work goes through :func:`fc_core.parallel.map_chunks`, so that it runs
    #: on the configured cores or Dask cluster (:func:`execution_of`)
    parallel_items: ClassVar[bool] = False

    def __init__(self, forecast_horizon: int, frequency: str | None = None,
                 forecast_types: Sequence[str] = DEFAULT_FORECAST_TYPES, seed: int = 0, **params: Any):
        if not isinstance(forecast_horizon, (int, np.integer)) or forecast_horizon < 1:
            raise ConfigError(f"forecast_horizon must be a positive whole number of steps, got {forecast_horizon!r}.")
        params = merge_legacy_nonnegative(params, self.name)  # the old name, deprecated
        self.non_negative = check_non_negative(params.pop("non_negative", "auto"))
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ConfigError(
                f"{self.name} has no parameter(s) {unknown}; its parameters are {sorted(self.defaults)}."
            )
        self.forecast_horizon = int(forecast_horizon)
        self.frequency = fq.normalize(frequency) if frequency else None
        self.forecast_types = list(forecast_types)
        parse_forecast_types(self.forecast_types)
        self.seed = int(seed)
        self.params = {**self.defaults, **params}

    def _check_positive_ints(self, *keys: str, optional: bool = False) -> None:
        """Refuse parameters ``keys`` unless each is a positive whole number (or None when ``optional``)."""
        for k in keys:
            v = self.params[k]
            if optional and v is None:
                continue
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{self.name} {k} must be a positive whole number{' or None' if optional else ''}, "
                                  f"got {v!r}.")

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.params.items() if self.defaults.get(k) != v}
        return f"{type(self).__name__}(forecast_horizon={self.forecast_horizon}, {changed})"

    def config(self) -> dict:
        return {"algorithm": self.name, "forecast_horizon": self.forecast_horizon, "frequency": self.frequency,
                "forecast_types": self.forecast_types, "seed": self.seed,
                "params": {**self.params, "non_negative": self.non_negative}}

    def train(self, data, progress: bool = False) -> "Predictor":
        """Fit on ``data`` (a DatasetGroup or a Panel) and return a new predictor."""
        panel = as_panel(data)
        freq = self.frequency or panel.frequency
        if not fq.matches(freq, panel.frequency):
            raise ConfigError(
                f"{self.name} was configured for frequency {freq} but the data is {panel.frequency}; "
                f"aggregate the data first (DatasetGroup.aggregate('{freq}'))."
            )
        pred = self.predictor_class(self, panel)
        pred._fit(panel, progress=progress)
        pred.trained = True
        return pred


class Predictor:
    """Fitted state of an algorithm: forecasts, saves and loads.

    Subclasses implement ``_forecast(panel, horizon, levels, progress)`` returning
    :class:`ForecastArrays`, and optionally ``_fit``, ``_state`` and ``_load_state``.
    """

    #: Whether an item's forecast depends on which items are forecast with it in one call (DeepAR+ draws
    #: the sample paths of all of them from one random stream): forecasts in item chunks then differ.
    shared_draws = False

    def __init__(self, estimator: Estimator, panel: Panel):
        self.estimator = estimator
        self.panel = panel
        self.trained = False
        self.info: dict = {}
        self._cache: dict = {}

    @property
    def name(self) -> str:
        return self.estimator.name

    # --- to implement
    def _fit(self, panel: Panel, progress: bool = False) -> None:  # local models: nothing to do
        return None

    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        raise NotImplementedError

    def _state(self, folder: Path) -> dict:
        """Write fitted state under ``folder`` (no pickle); return JSON-able metadata."""
        return {}

    def _load_state(self, folder: Path, meta: dict) -> None:
        return None

    # --- public
    def predict_arrays(self, data=None, levels: Sequence[float] | None = None,
                       horizon: int | None = None, progress: bool = False) -> ForecastArrays:
        """Forecast arrays for ``data`` (default: the training data) at quantile ``levels``."""
        if not self.trained:
            raise NotTrainedError(f"{self.name}: call train(...) before predicting.")
        panel = self.panel if data is None else as_panel(data)
        horizon = horizon or self.estimator.forecast_horizon
        if levels is None:
            levels, _ = parse_forecast_types(self.estimator.forecast_types)
            levels = levels or [0.5]
        levels = np.asarray(sorted(levels), dtype=float)
        key = (int(horizon), tuple(np.round(levels, 9)))
        if panel is self.panel and key in self._cache:
            return self._cache[key]  # local models fit inside _forecast: do it once for the training data
        for k in ("fallback_items", "fallback_reasons", "fallback_summary"):
            self.info.pop(k, None)  # the previous call's
        raw = self._forecast(panel, horizon, levels, progress=progress)
        # one common guard for every algorithm: finite, plausible, non-negative where the history is,
        # every fallback counted with its reason (fc_core.algorithms.guard)
        out = guard(panel, raw, name=self.name, non_negative=getattr(self.estimator, "non_negative", "auto"),
                    cold_start=self.estimator.capabilities.cold_start, info=self.info)
        for k in ("fallback_items", "fallback_reasons", "fallback_summary"):
            self.info[k] = out.info[k]
        if panel is self.panel:
            self._cache[key] = out
        return out

    def predict(self, data=None, forecast_types: Sequence[str] | None = None, items=None,
                progress: bool = False) -> pd.DataFrame:
        """The forecast frame: keys, ``timestamp``, one column per quantile and ``mean``."""
        forecast_types = forecast_types or self.estimator.forecast_types
        levels, want_mean = parse_forecast_types(forecast_types)
        panel = self.panel if data is None else as_panel(data)
        if items is not None:
            panel = select_items(panel, items)
        arr = self.predict_arrays(panel, levels=levels or [0.5], progress=progress)
        return to_forecast_frame(panel, arr, forecast_types)

    # --- explainability (fc_core.explain)
    def explain_attributes(self) -> list[tuple[str, str]]:
        """The attributes this predictor uses, as ``("related", field)`` and ``("metadata", column)``.

        By default: the training data's related fields if the algorithm uses related series and
        its metadata columns if it uses item metadata (a fitted ``spec`` with ``related_names``
        and ``static_columns`` narrows them to those the model was built with). An algorithm
        that uses none (ARIMA, ETS, NPTS, ...) returns ``[]`` and gives no impact scores.
        """
        cap = self.estimator.capabilities
        spec = getattr(self, "spec", None) or {}
        rel = list(self.panel.related_names) if self.panel.related is not None else []
        meta = list(self.panel.static.columns) if self.panel.static is not None else []
        rel = [str(r) for r in spec.get("related_names", rel)]
        meta = [str(c) for c in spec.get("static_columns", meta)]
        if not cap.uses_related or not self.estimator.params.get("use_related", True):
            rel = []
        if not cap.uses_item_metadata:
            meta = []
        return [("related", r) for r in rel] + [("metadata", c) for c in meta]

    def explain(self, items=None, start=None, end=None, data=None, max_items: int | None = None,
                n_permutations: int = 20, seed: int | None = None, progress: bool = False, method: str = "auto"):
        """Impact scores of the attributes (Amazon Forecast's Explainability).

        ``predictor.explain()`` aggregates over items and the horizon (predictor
        explainability); ``predictor.explain(items=[...], start=..., end=...)`` scores chosen
        items (at most 50) and forecast time points (at most 500). The method (TreeSHAP for
        GBM, Shapley values by re-forecasting otherwise) is described in :mod:`fc_core.explain`.

        Parameters
        ----------
        items : str or list, optional
            Item ids to explain (forecast explainability).
        start, end : timestamp, optional
            Forecast time points to keep.
        data : DatasetGroup or Panel, optional
            Data to forecast from (default the training data).
        max_items : int, optional
            Items sampled for predictor explainability (default 50; 1,000 with TreeSHAP).
        n_permutations : int
            Random orders for sampled Shapley values (more than 6 attributes).
        seed : int, optional
            Default the estimator's seed; the same seed gives the same scores.
        method : {"auto", "tree", "baseline", "reforecast"}
            ``auto``: TreeSHAP for GBM's direct model, re-forecasting otherwise. ``baseline``
            (GBM): Shapley values of the attributes with the booster re-predicted for each
            coalition, attributes left out at their baseline; much faster than TreeSHAP on deep
            trees (``bench/RESULTS.md``).

        Returns
        -------
        fc_core.explain.Explanation
            ``.frame`` (raw and normalized score per item, time point and attribute),
            ``.predictor_level()``, ``.item(id)``, ``.export(path)``, ``.notes``.

        Raises
        ------
        NotTrainedError
            Before ``train``.
        ConfigError
            For unknown items, more than 50 items or 500 time points.
        """
        if not self.trained:
            raise NotTrainedError(f"{self.name}: call train(...) before explain().")
        panel = self.panel if data is None else as_panel(data)
        seed = self.estimator.seed if seed is None else int(seed)
        return explain_predictor(self, panel, items=items, start=start, end=end, max_items=max_items,
                          n_permutations=n_permutations, seed=seed, progress=progress, method=method)

    def feature_importance(self, **kwargs) -> pd.DataFrame:
        """AutoGluon-style alias: the predictor-level impact table (``explain(**kwargs).predictor_level()``)."""
        return self.explain(**kwargs).predictor_level()

    def save(self, path, key=None) -> Path:
        """Save to folder ``path`` (JSON config + arrays; no pickle). Written atomically.

        ``key`` (from :func:`fc_core.security.generate_key`) encrypts the folder (AES-256-GCM).
        """
        if not self.trained:
            raise NotTrainedError(f"{self.name}: nothing to save before train(...).")
        if key is not None:
            return save_encrypted(self.save, path, key, kind="predictor")
        with atomic_dir(path) as tmp:
            save_panel(self.panel, tmp / "panel")
            meta = self._state(tmp)
            doc = {"fc_core_artifact": "predictor", "version": ARTIFACT_VERSION,
                   "class": f"{type(self.estimator).__module__}:{type(self.estimator).__name__}",
                   "estimator": self.estimator.config(), "state": meta, "info": _jsonable(self.info)}
            write_artifact(tmp, doc)
        return Path(path)

    @staticmethod
    def load(path, key=None) -> "Predictor":
        """Load a predictor saved by :meth:`save` (``key``: the one it was encrypted with).

        Raises
        ------
        ArtifactError
            If the folder was not written by fc_core's ``save``, or for a missing or wrong key.
        """
        with open_artifact(path, key, kind="predictor") as folder:
            doc = read_artifact(folder, "predictor")
            try:
                est_cls = _import_class(doc["class"])
                cfg = doc["estimator"]
                params = dict(cfg["params"])
                if params.pop("nonnegative", False):  # saved before non_negative was the one setting
                    params["non_negative"] = True
                est = est_cls(cfg["forecast_horizon"], frequency=cfg["frequency"], forecast_types=cfg["forecast_types"],
                              seed=cfg["seed"], **params)
            except (KeyError, TypeError) as exc:
                raise ArtifactError(f"{path}: {ARTIFACT_FILE} lacks or garbles {exc}; it was not written by fc_core's "
                                    "save() or was changed.") from None
            pred = est.predictor_class(est, load_panel(folder / "panel"))
            pred._load_state(folder, doc.get("state", {}))
            pred.info = doc.get("info", {})
        pred.trained = True
        return pred


# ------------------------------------------------------------------ helpers
@contextlib.contextmanager
def silenced(loggers, level: int = logging.ERROR):
    """Raise ``loggers`` to ``level`` and ignore warnings inside the block, then restore them
    (engines' chatter silenced per call; nothing configured at import time)."""
    saved = [(lg, lg.level) for lg in map(logging.getLogger, loggers)]
    try:
        for lg, _ in saved:
            lg.setLevel(level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in saved:
            lg.setLevel(lvl)


def as_panel(data) -> Panel:
    if isinstance(data, Panel):
        return data
    to_panel = getattr(data, "to_panel", None)
    if to_panel is None:
        raise ConfigError(f"expected a DatasetGroup or Panel, got {type(data).__name__}.")
    return to_panel()


def select_items(panel: Panel, items) -> Panel:
    """Rows of ``panel`` whose item field is in ``items`` (a value, a list, or a frame of keys)."""
    item_col = panel.key_columns[0]
    if isinstance(items, pd.DataFrame):
        cols = [c for c in panel.key_columns if c in items.columns]
        want = set(map(tuple, items[cols].astype(str).itertuples(index=False, name=None)))
        have = list(panel.keys[cols].astype(str).itertuples(index=False, name=None))
        rows = [i for i, k in enumerate(have) if k in want]
    else:
        if isinstance(items, (str, int)):
            items = [items]
        want = set(map(str, items))
        rows = np.flatnonzero(panel.keys[item_col].astype(str).isin(want).to_numpy()).tolist()
        missing = want - set(panel.keys[item_col].astype(str))
        if missing:
            raise ConfigError(f"item(s) {sorted(missing)[:10]} are not in the data; check the {item_col} values.")
    return panel.select(rows)


def to_forecast_frame(panel: Panel, arr: ForecastArrays, forecast_types) -> pd.DataFrame:
    """The canonical forecast frame from ForecastArrays."""
    levels, want_mean = parse_forecast_types(forecast_types)
    n, h = arr.mean.shape
    off = fq.to_offset(panel.frequency)
    ts = np.array([], "datetime64[ns]")
    if n:  # one date range per distinct start (usually one: every item forecast from the data's end)
        first, which = np.unique(pd.DatetimeIndex(arr.start).values, return_inverse=True)
        grid = np.stack([fq.date_range(s, h, panel.frequency).values for s in pd.DatetimeIndex(first)])
        ts = grid[which.reshape(-1)].reshape(-1)
    out = {c: np.repeat(panel.keys[c].to_numpy(), h) for c in panel.key_columns}
    out["timestamp"] = ts
    for q in levels:
        out[quantile_column(q)] = arr.quantile(q).reshape(-1)
    if want_mean:
        out["mean"] = arr.mean.reshape(-1)
    del off
    return pd.DataFrame(out)


_REGISTRY: dict[str, str] = {
    # name -> "module:Class"; modules load on first use
    "Naive": "fc_core.algorithms.baselines:NaiveEstimator",
    "SeasonalNaive": "fc_core.algorithms.baselines:SeasonalNaiveEstimator",
    "ETS": "fc_core.algorithms.ets:ETSEstimator",
    "ARIMA": "fc_core.algorithms.arima:ARIMAEstimator",
    "NPTS": "fc_core.algorithms.npts:NPTSEstimator",
    "Theta": "fc_core.algorithms.theta:ThetaEstimator",
    "MSTL": "fc_core.algorithms.mstl:MSTLEstimator",
    "Prophet": "fc_core.algorithms.prophet:ProphetEstimator",
    "DeepAR+": "fc_core.algorithms.deepar:DeepARPlusEstimator",
    "GBM": "fc_core.algorithms.gbm:GBMEstimator",
    "GBM-L2": "fc_core.algorithms.gbm:GBML2Estimator",
    "MLP-QR": "fc_core.algorithms.mlp:MLPQREstimator",
}
_ALIASES = {"DEEPAR": "DeepAR+", "DEEPAR_PLUS": "DeepAR+", "DEEP_AR_PLUS": "DeepAR+", "SEASONAL_NAIVE": "SeasonalNaive",
            "LIGHTGBM": "GBM", "CNN-QR": "GBM", "MLPQR": "MLP-QR", "MLP": "MLP-QR"}


def register(name: str, target: str) -> None:
    """Register an estimator class under ``name`` (``target`` is ``"module:Class"``)."""
    _REGISTRY[name] = target


def available_algorithms() -> list[str]:
    """Names of the registered algorithms."""
    return list(_REGISTRY)


def algorithm_catalog() -> pd.DataFrame:
    """One row per registered algorithm: what it is and what it can use (its capability flags).

    >>> cat = algorithm_catalog().set_index("algorithm")
    >>> bool(cat.loc["DeepAR+", "cold start"]), cat.loc["ETS", "fits"]
    (True, 'each item')
    """
    rows = []
    for name in _REGISTRY:
        cls = get_estimator_class(name)
        cap = cls.capabilities
        doc = (cls.__doc__ or "").strip().splitlines()
        rows.append({"algorithm": name, "fits": "each item" if cap.local else "all items (global)",
                     "related series": cap.uses_related, "item metadata": cap.uses_item_metadata,
                     "cold start": cap.cold_start, "GPU": cap.gpu, "what it is": doc[0] if doc else ""})
    return pd.DataFrame(rows)


def canonical_name(name: str) -> str:
    for k in _REGISTRY:
        if k.lower() == str(name).lower():
            return k
    alias = _ALIASES.get(str(name).upper().replace(" ", "_"))
    if alias:
        return alias
    raise ConfigError(f"unknown algorithm {name!r}: choose from {', '.join(_REGISTRY)}.")


def get_estimator_class(name: str) -> type[Estimator]:
    return _import_class(_REGISTRY[canonical_name(name)], trusted=True)


def make_estimator(name: str, forecast_horizon: int, **kwargs) -> Estimator:
    """An estimator by algorithm name, e.g. ``make_estimator("ETS", 24, frequency="H")``."""
    return get_estimator_class(name)(forecast_horizon, **kwargs)


def _import_class(target: str, trusted: bool = False):
    """Import ``module:Class``. From a saved artifact (``trusted=False``) only fc_core's own
    classes and registered ones are accepted, so a crafted file cannot import arbitrary code."""
    mod, _, cls = str(target).partition(":")
    allowed = trusted or mod.startswith("fc_core.") or target in _REGISTRY.values()
    if not allowed:
        raise ArtifactError(f"refusing to load class {target!r}: only fc_core classes can be loaded.")
    obj = getattr(importlib.import_module(mod), cls, None)
    if not trusted and not (isinstance(obj, type) and issubclass(obj, Estimator) and obj is not Estimator):
        # any other fc_core attribute (a function, an imported module or class) would be called
        # with values from the file: refuse
        raise ArtifactError(f"refusing to load {target!r}: an artifact may only name an fc_core estimator class.")
    return obj
