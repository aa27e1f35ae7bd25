"""GBM's estimator and predictor: training (effort, short-history season), forecasting, save / load."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ... import frequency as fq
from ...errors import ConfigError
from ...panel import Panel
from ..base import Capabilities, Estimator, ForecastArrays, Predictor
from ..baselines import complete_global_forecast
from .boosting import _boosters, _fit_models, _kind_of, _lightgbm, _predict_x, _threads
from .conformal import _calibrate, _spread, _z_quantiles
from .features import _MAX_Z_ROWS, _MEAN_GRID, _Grid, _Layout, _related_names, _static_categories, _static_codes
from .sampling import _chunks, item_sample, sample_note


def _adapted_season(panel: Panel, mode: str, min_rows: int = 200, max_short: float = 0.1) -> int:
    """The season the model's lags and windows use. With ``mode="adapt"``, when more than ``max_short``
    of the items with history have fewer than ``m + 2`` observed values (too short for the full
    season), or all items together give fewer than ``min_rows`` training targets past their first
    season, the largest shorter season ``m // k`` that satisfies both (else 1): fewer lags and
    shorter windows first, the seasonal naive fallback last."""
    m = fq.season_length(panel.frequency)
    if mode != "adapt" or m <= 1:
        return m
    obs = panel.observed_counts()
    obs = obs[obs > 0]
    if not len(obs):
        return m
    for k in range(1, m + 1):
        mm = max(m // k, 1)
        if (np.mean(obs < mm + 2) <= max_short and np.maximum(obs - mm - 1, 0).sum() >= min_rows) or mm == 1:
            return mm
    return 1


# ------------------------------------------------------------ the predictor
class GBMPredictor(Predictor):
    """A trained GBM: the LightGBM booster(s), the conformal error table and per-series spreads."""

    models: dict | None = None  # kind ("direct", "recursive") -> LightGBM booster

    def _setup(self, panel: Panel) -> None:
        p = self.estimator.params
        m = _adapted_season(panel, p["short_history"], 10 * int(p["min_data_in_leaf"]))
        self.layout = _Layout.make(panel.frequency, p, m)
        if m != fq.season_length(panel.frequency):
            self.info["short_history"] = {"season_length": m, "instead_of": fq.season_length(panel.frequency),
                                          "why": "too little history for the full season's lags and windows"}
        self.use_log = panel.nonnegative() if p["log"] == "auto" else bool(p["log"])

    def _fit(self, panel: Panel, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        p, H = self.estimator.params, self.estimator.forecast_horizon
        self._setup(panel)
        lay = self.layout
        self.categories = _static_categories(panel)
        self.related_names_ = _related_names(panel)
        stages = tqdm(total=2, desc="GBM", disable=not progress)
        t0 = time.perf_counter()
        seed = self.estimator.seed
        sampled: dict = {}
        try:
            err = _calibrate(panel, lay, p, seed, H, self.use_log, self.categories, progress, sampled)
            stages.update(1)
            t1 = time.perf_counter()
            pick, s_info = item_sample(panel, lay, p, seed)
            train = panel if pick is None else panel.select(pick)
            grid = _Grid(train, lay, H, self.use_log)
            self.models = _fit_models(grid, _static_codes(train, self.categories), p, seed, progress, "GBM model")
            if self.models:
                sampled["final_model"] = sample_note(s_info, next(iter(self.models.values())).fc_effort)
            stages.update(1)
        finally:
            stages.close()
        self.info["fit_seconds"] = {"calibration": round(t1 - t0, 2), "final_model": round(time.perf_counter() - t1, 2)}
        self.info["effort"] = {k: getattr(b, "fc_effort", None) for k, b in (self.models or {}).items()}
        self.info["training_rows"] = sampled
        if any("sampled" in v for v in sampled.values()):
            self.info["training_sample"] = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sampled.items())
        keys = panel.key_strings()
        err, vol = err if err is not None else (None, None)
        self.vol_median = float(np.nanmedian(grid.volatility())) if np.isfinite(grid.volatility()).any() else 1.0
        if err is not None and np.isfinite(err).sum() >= 20:
            self._err, self._vol = err, vol  # kept for diagnostics, not saved
            sigma, Z = _spread(err, vol, p["interval_scaling"], float(p["sigma_prior"]))
            known = np.isfinite(err).any(axis=(0, 2))
            self.sigma_keys, self.sigma = keys[known], sigma[known]
            self.calibration = "backtest"
        else:  # too little data to hold windows out: season-over-season changes, widened per season
            D = grid.D[:, :grid.end + 1]
            if p["interval_scaling"] in ("volatility", "both"):
                v = grid.volatility()
                D = D / np.where(np.isfinite(v), v, self.vol_median)[:, None]
            d = D[np.isfinite(D)]
            k = np.sqrt(np.ceil(np.arange(1, H + 1) / lay.m))
            Z = (d[:, None] * k[None, :]) if len(d) else np.zeros((1, H))
            self.sigma_keys, self.sigma = keys[:0], np.zeros(0)
            self.calibration = "seasonal-differences"
        Z = Z[np.isfinite(Z).any(axis=1)]
        if len(Z) > _MAX_Z_ROWS:  # plenty for quantiles; keeps the artifact small
            Z = Z[np.sort(np.random.default_rng(self.estimator.seed).choice(len(Z), _MAX_Z_ROWS, replace=False))]
        ok_col = np.isfinite(Z).any(axis=0)
        med = np.zeros((1, Z.shape[1]))  # centre each step: the median forecast is the model's own
        if len(Z) and ok_col.any():
            med[0, ok_col] = np.nanmedian(Z[:, ok_col], axis=0)
        self.Z = (Z - med).astype(np.float32)
        ok = self._modellable_items(panel)
        self.info["fallback_items"] = [str(x) for x in keys[~ok & (panel.lengths > 0)]]
        self.info["cold_start_items"] = [str(x) for x in keys[panel.lengths == 0]]
        self.info["calibration"] = self.calibration
        self.info["uses_log"] = self.use_log

    def aligned(self, panel: Panel) -> Panel:
        """``panel`` with its related fields in the order the model was trained on.

        The booster reads features by position, so fields given in another order (or extra
        fields) must be put back in the training order, or they would be read as each other.

        Raises
        ------
        ConfigError
            When a related field the model was trained with is missing.
        """
        names = getattr(self, "related_names_", None)
        if names is None:
            return panel
        have = _related_names(panel)
        if have == names:
            return panel
        missing = [r for r in names if r not in have]
        if missing:
            raise ConfigError(f"GBM was trained with the related field(s) {missing}, which the data given lacks; "
                              f"give the related time series with the fields {names}.")
        from dataclasses import replace

        if not names:
            return replace(panel, related=None, related_indptr=None, related_names=[])
        idx = [have.index(r) for r in names]
        return replace(panel, related=panel.related[:, idx], related_names=list(names))

    # ------------------------------------------------------------ explainability
    def explain_attributes(self) -> list[tuple[str, str]]:
        """The related fields and the metadata columns the model was trained with."""
        return ([("related", r) for r in getattr(self, "related_names_", [])]
                + [("metadata", c) for c in (self.categories or {})])

    def tree_shap_available(self) -> bool:
        """TreeSHAP explains the direct model; the recursive strategies feed forecasts back
        (an attribute then also acts through the lags), so they are explained by re-forecasting."""
        return bool(self.models) and all(_kind_of(k) == "direct" for k in self.models)

    def shap_values(self, panel: Panel) -> dict:
        """LightGBM's TreeSHAP values of the direct model for every forecast step of ``panel``.

        Returns a dict with ``rows`` (modellable series), ``names`` (feature names),
        ``contrib`` (len(rows), H, features + 1; the last column the expected value), ``base``
        (the seasonal naive value the model's output is added to) and ``x``
        (``base + contrib.sum(-1)``, the model-space forecast), ``dfdx`` (slope of the back-transform).
        """
        panel = self.aligned(panel)
        H = self.estimator.forecast_horizon
        grid = _Grid(panel, self.layout, H, self.use_log)
        rows = np.flatnonzero(self._modellable(grid))
        R = np.repeat(rows, H)
        O = np.full(len(R), grid.end)
        hs = np.tile(np.arange(1, H + 1), len(rows))
        boosters = _boosters(self.models, "direct")  # the bags' TreeSHAP values average like their forecasts
        names = boosters[0].feature_name()
        if len(rows):
            feats = grid.features_direct(R, O, hs, _static_codes(panel, self.categories), grid.cumsums())
            contrib = np.mean([b.predict(feats, pred_contrib=True, num_threads=_threads(self.estimator.params))
                               for b in boosters], axis=0)
        else:
            contrib = np.zeros((0, len(names) + 1))
        base = grid.direct_base(R, O, hs)
        x = base + contrib.sum(axis=1)
        s = grid.scale[R]
        dfdx = s * np.exp(x) * (x > 0) if self.use_log else s
        shape = (len(rows), H)
        return {"rows": rows, "names": names, "contrib": contrib.reshape(*shape, -1), "base": base.reshape(shape),
                "x": x.reshape(shape), "dfdx": dfdx.reshape(shape)}

    def baseline_contributions(self, panel: Panel, n_permutations: int = 20, seed: int = 0) -> tuple[np.ndarray, str]:
        """Shapley values of the attributes in target units (n, H, attributes), the booster
        re-predicted for every coalition with the left-out attributes at their baseline (a related
        field at the item's history mean, so its relative and change features are 0; a metadata
        code unknown), as :func:`fc_core.explain.masked` does to the data; and how they were computed.

        Far cheaper than TreeSHAP on deep trees (``2^k`` ordinary predictions instead of one
        ``pred_contrib``); the values of a cell add up to the model's output minus its output
        with every attribute at its baseline (times the back-transform's slope).
        """
        from ...explain import shapley_values

        panel = self.aligned(panel)
        H = self.estimator.forecast_horizon
        grid = _Grid(panel, self.layout, H, self.use_log)
        rows = np.flatnonzero(self._modellable(grid))
        attrs = self.explain_attributes()
        out = np.zeros((panel.n_series, H, len(attrs)))
        if not len(rows):
            return out, "nothing to explain"
        R = np.repeat(rows, H)
        O = np.full(len(R), grid.end)
        hs = np.tile(np.arange(1, H + 1), len(rows))
        X = grid.features_direct(R, O, hs, _static_codes(panel, self.categories), grid.cumsums())
        boosters = _boosters(self.models, "direct")
        names = boosters[0].feature_name()
        col = {n: j for j, n in enumerate(names)}
        nthreads = _threads(self.estimator.params)
        fill = []  # per attribute: [(column, values)]
        for j, (kind, name) in enumerate(attrs):
            if kind == "related":
                f = self.related_names_.index(name)
                mean = np.array([np.nanmean(panel.related_series(i)[:int(panel.lengths[i]), f])
                                 if panel.lengths[i] and np.isfinite(panel.related_series(i)[:int(panel.lengths[i]), f]).any()
                                 else 0.0 for i in range(panel.n_series)])
                fill.append([(col[f"rel_{name}"], mean[R])] + [(col[f"{k}_{name}"], 0.0) for k in ("relz", "reld", "relo")])
            else:
                fill.append([(col[f"static{list(self.categories).index(name)}"], np.nan)])

        def value(S: frozenset) -> np.ndarray:
            Xs = X.copy()
            for j in range(len(attrs)):
                if j not in S:
                    for c, v in fill[j]:
                        Xs[:, c] = v
            return np.mean([b.predict(Xs, num_threads=nthreads) for b in boosters], axis=0)

        phi, _, how = shapley_values(value, list(range(len(attrs))), n_permutations, seed)
        x = grid.direct_base(R, O, hs) + value(frozenset(range(len(attrs))))
        s = grid.scale[R]
        dfdx = s * np.exp(x) * (x > 0) if self.use_log else s
        out[rows] = (phi * dfdx[:, None]).reshape(len(rows), H, len(attrs))
        return out, how

    def tree_contributions(self, panel: Panel) -> np.ndarray:
        """Per-attribute TreeSHAP values in target units (n, H, attributes): each attribute's
        features summed, times the back-transform's slope; 0 for items the model does not forecast."""
        attrs = self.explain_attributes()
        sv = self.shap_values(panel)
        group = {f"{k}_{r}": j for j, (_, r) in enumerate(attrs[:len(self.related_names_)])
                 for k in ("rel", "relz", "reld", "relo")}
        group.update({f"static{j}": len(self.related_names_) + j for j in range(len(self.categories or {}))})
        M = np.zeros((len(sv["names"]) + 1, len(attrs)))
        for f, name in enumerate(sv["names"]):
            if name in group:
                M[f, group[name]] = 1.0
        out = np.zeros((panel.n_series, self.estimator.forecast_horizon, len(attrs)))
        out[sv["rows"]] = (sv["contrib"] @ M) * sv["dfdx"][..., None]
        return out

    def _modellable(self, grid: _Grid) -> np.ndarray:
        return (grid.n_obs >= self.layout.m + 2) & (grid.lens > self.layout.m)

    def _modellable_items(self, panel: Panel) -> np.ndarray:
        """:meth:`_modellable` from the panel itself, without a grid of every item."""
        lay = self.layout
        n_obs = panel.observed_counts(last=lay.max_history)
        return (n_obs >= lay.m + 2) & (np.minimum(panel.lengths, lay.max_history) > lay.m)

    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        p = self.estimator.params
        panel = self.aligned(panel)
        n, Q = panel.n_series, len(levels)
        ok = self._modellable_items(panel) if self.models else np.zeros(n, bool)
        quant = np.zeros((n, horizon, Q))
        mean = np.zeros((n, horizon))
        keys = panel.key_strings()
        lookup = dict(zip(self.sigma_keys.tolist(), self.sigma.tolist()))
        if ok.any():
            zq = _z_quantiles(self.Z, levels, horizon)
            zm = _z_quantiles(self.Z, _MEAN_GRID, horizon)
        for chunk in _chunks(n):  # the grid of a chunk of items at a time
            sub = panel if len(chunk) == n else panel.select(chunk)
            local = np.flatnonzero(ok[chunk])
            if not len(local):
                continue
            grid = _Grid(sub, self.layout, horizon, self.use_log)
            rows = chunk[local]
            xhat = _predict_x(self.models, grid, _static_codes(sub, self.categories), local, _threads(p))
            sig = np.array([lookup.get(k, 1.0) for k in keys[rows]])
            if p["interval_scaling"] in ("volatility", "both"):
                v = grid.volatility()[local]
                sig = sig * np.where(np.isfinite(v), v, self.vol_median)
            sig = sig[:, None, None]
            quant[rows] = grid.inverse(xhat[:, :, None] + sig * zq[None], local)
            mean[rows] = grid.inverse(xhat[:, :, None] + sig * zm[None], local).mean(axis=-1)
            del grid
        rows = np.flatnonzero(ok)
        fb = np.flatnonzero(~ok & (panel.lengths > 0))
        arr = complete_global_forecast(panel, quant, mean, levels, rows, fb, self.layout.m)
        self.info.update(arr.info)
        return arr

    # ------------------------------------------------------------- save/load
    def _state(self, folder: Path) -> dict:
        from ...io import save_arrays

        for kind, b in (self.models or {}).items():
            (folder / f"gbm_{kind}.txt").write_text(b.model_to_string())
        save_arrays(folder / "gbm_tables.npz", Z=self.Z, sigma=self.sigma,
                    sigma_keys=np.asarray(self.sigma_keys, dtype=str))
        return {"use_log": self.use_log, "categories": self.categories, "calibration": self.calibration,
                "vol_median": self.vol_median, "related_names": self.related_names_,
                "models": sorted(self.models or {})}

    def _load_state(self, folder: Path, meta: dict) -> None:
        from ...errors import ArtifactError
        from ...io import load_arrays

        self._setup(self.panel)
        self.use_log = bool(meta["use_log"])
        self.categories = meta.get("categories", {})
        self.calibration = meta.get("calibration", "backtest")
        self.vol_median = float(meta.get("vol_median", 1.0))
        self.related_names_ = list(meta.get("related_names", _related_names(self.panel)))
        lgb = _lightgbm()
        self.models = {}
        for kind in meta.get("models", []):
            f = folder / f"gbm_{kind}.txt"
            if not f.is_file():
                raise ArtifactError(f"{folder} lacks {f.name}; the GBM predictor was not saved completely.")
            self.models[kind] = lgb.Booster(model_str=f.read_text())
        t = load_arrays(folder / "gbm_tables.npz")
        self.Z, self.sigma, self.sigma_keys = t["Z"], t["sigma"], t["sigma_keys"].astype(str)


# ------------------------------------------------------------ the estimator
class GBMEstimator(Estimator):
    """Global LightGBM forecaster with conformal quantiles (Amazon Forecast's CNN-QR role).

    See the module docstring for the method and the validation behind the defaults.

    Parameters
    ----------
    forecast_horizon, frequency, forecast_types, seed
        See :class:`~fc_core.algorithms.base.Estimator`.
    num_trees, learning_rate, num_leaves, min_data_in_leaf, feature_fraction, bagging_fraction, lambda_l2
        LightGBM settings (each model).
    objective : {"l1", "l2", "huber"}
        LightGBM objective on the normalised target; ``l1`` gives median forecasts.
    strategy : {"direct", "recursive", "ensemble"}
        One model for all horizon steps; a one-step model fed back; or the average of both.
    direct_samples : float
        Random horizon steps per observed value in the direct model's training rows.
    lags : list of int, optional
        Lags of the seasonal differences for the recursive model; default ``1 .. 2m``
        plus the longer seasons up to 400.
    calendar : bool
        Calendar features of the target time from the timestamps.
    path_features : bool
        The direct model's "paths" (the same stretch one season and one long season earlier).
    scale_window : int, optional
        Values averaged for the per-series scale; default the longest season up to 400 or ``4m``.
    max_history : int, optional
        Most recent values used per series; default ``max(1000, 6 * largest lag)``.
    log : "auto" or bool
        ``log1p`` of the scaled target; ``"auto"`` uses it when no value is negative.
    max_train_rows : int
        Training rows are sampled down to this many (recent ones preferred), so that training does not
        grow with the number of series; above twice as many candidate rows only a random sample of whole
        items is put on the feature grid (:mod:`.sampling`). What was sampled is said in
        ``predictor.info["training_rows"]`` (and ``"training_sample"``). The default, 1 million, is above
        M4 Hourly's 0.71 million candidate rows (nothing sampled there); one fit on 1.3 million rows took
        137 CPU s (``bench/scale_bench.py``, 1,000 daily items; issue 17).
    calibration_windows, calibration_stride : int
        Backtest windows whose errors give the quantiles, and their spacing (default
        ``min(H, m)``); fewer windows when they would take more than a third of the data.
        0 windows: quantiles from the in-sample seasonal differences instead.
    interval_scaling : {"both", "volatility", "series", "pooled"}
        Per-series spread of the errors: in-sample volatility times own calibration error
        level (``both``), either alone, or none.
    sigma_prior : float
        Windows' worth of the pooled error level mixed into each series' own level.
    short_history : {"adapt", "fallback"}
        ``"adapt"`` (default): when more than 10% of the items have too little history for the full
        season's lags and windows (``m + 2`` observed values), use a shorter season for them all (fewer
        lags, shorter windows); ``"fallback"``: those items get the seasonal naive forecast.
    num_threads : int, optional
        LightGBM threads; default all cores (``os.cpu_count()``).
    bags : int
        Models trained per strategy, each with its own seed (LightGBM's row and feature sampling and
        the direct model's horizon draws); their forecasts are averaged, for the final model and for
        the calibration model alike, so the conformal quantiles are those of the averaged forecast.
        Costs ``bags`` times the training time. Default 1.
    effort : {"auto", "full"}
        ``"auto"`` scales the work to the data: below 200,000 training rows, at most one leaf per
        800 rows (at least 15) and as many boosting rounds (up to ``num_trees``) as early stopping
        (20 rounds) on the most recent tenth of the rows asks for, then a refit on all rows. Larger
        data, or ``"full"``, trains ``num_trees`` rounds of ``num_leaves``. What was used is in
        ``predictor.info["effort"]``.

    Raises
    ------
    ConfigError
        For out-of-range settings.
    """

    name = "GBM"
    capabilities = Capabilities(uses_related=True, uses_item_metadata=True, cold_start=True, local=False,
                                needs_seed=True)
    defaults = {
        # LightGBM
        "num_trees": 600, "learning_rate": 0.1, "num_leaves": 127, "min_data_in_leaf": 20,
        "feature_fraction": 0.5, "bagging_fraction": 0.8, "lambda_l2": 0.0, "objective": "l1",
        # model and features
        "strategy": "direct", "direct_samples": 2.0, "lags": None, "calendar": True, "path_features": True,
        "scale_window": None, "max_history": None, "log": "auto", "max_train_rows": 1_000_000,
        # quantiles
        "calibration_windows": 8, "calibration_stride": None, "interval_scaling": "both", "sigma_prior": 1.0,
        # output and resources
        "num_threads": None, "short_history": "adapt", "effort": "auto", "bags": 1,
    }
    predictor_class = GBMPredictor

    def __init__(self, forecast_horizon: int, frequency=None, forecast_types=("0.1", "0.5", "0.9", "mean"),
                 seed: int = 0, **params):
        super().__init__(forecast_horizon, frequency, forecast_types, seed, **params)
        p = self.params
        self._check_positive_ints("num_trees", "num_leaves", "min_data_in_leaf", "max_train_rows", "bags")
        if not isinstance(p["calibration_windows"], (int, np.integer)) or p["calibration_windows"] < 0:
            raise ConfigError(f"GBM calibration_windows must be 0 or more, got {p['calibration_windows']!r}.")
        if not 0 < float(p["learning_rate"]) <= 1:
            raise ConfigError(f"GBM learning_rate must lie in (0, 1], got {p['learning_rate']!r}.")
        for k in ("feature_fraction", "bagging_fraction"):
            if not 0 < float(p[k]) <= 1:
                raise ConfigError(f"GBM {k} must lie in (0, 1], got {p[k]!r}.")
        if p["objective"] not in ("l2", "l1", "huber", "regression", "regression_l1", "fair"):
            raise ConfigError(f"GBM objective must be 'l2', 'l1' or 'huber', got {p['objective']!r}.")
        if p["interval_scaling"] not in ("series", "pooled", "volatility", "both"):
            raise ConfigError("GBM interval_scaling must be 'series', 'pooled', 'volatility' or 'both', "
                              f"got {p['interval_scaling']!r}.")
        if p["strategy"] not in ("recursive", "direct", "ensemble"):
            raise ConfigError(f"GBM strategy must be 'recursive', 'direct' or 'ensemble', got {p['strategy']!r}.")
        if p["effort"] not in ("auto", "full"):
            raise ConfigError(f"GBM effort must be 'auto' or 'full', got {p['effort']!r}.")
        if p["short_history"] not in ("adapt", "fallback"):
            raise ConfigError(f"GBM short_history must be 'adapt' or 'fallback', got {p['short_history']!r}.")
        if p["log"] not in ("auto", True, False):
            raise ConfigError(f"GBM log must be 'auto', True or False, got {p['log']!r}.")


class GBML2Estimator(GBMEstimator):
    """GBM trained with the squared-error objective (``objective="l2"``), a separate candidate.

    The L1 default forecasts the median of the normalised target and was better on
    M4 Hourly's per-series averages (OWA); L2 forecasts its mean and was better on
    the volume-weighted quantile loss, where the few largest series count most
    (validation windows: wQL 0.0252 vs 0.0283, OWA 0.427 vs 0.400). Their errors
    differ enough that the AutoPredictor's blend of the two beat either alone on
    the backtests (``bench/RESULTS.md``, "GBM and GBM-L2").
    """

    name = "GBM-L2"
    defaults = {**GBMEstimator.defaults, "objective": "l2"}
