"""DeepAR+: one autoregressive recurrent network over all items (GluonTS's torch DeepAR).

DeepAR (Salinas et al., 2020) models ``p(y_t | y_<t, x_t, item)`` with an LSTM
whose inputs are lagged values of the target (scaled by the mean absolute value
of the context window), calendar features, future-known related series and an
embedding of the item metadata; the LSTM's output parameterises a likelihood
(Student-t, negative binomial or Gaussian). Forecasts are sample paths drawn
step by step, from which any quantile and the mean follow.

Everything GluonTS-specific stays in this module: the conversion of a
:class:`~fc_core.panel.Panel` into GluonTS entries (``start`` as a
``pd.Period``, ``target``, ``feat_dynamic_real``, ``feat_static_cat``), the
Lightning trainer and the sampling. torch, lightning and gluonts load inside the
functions that need them.

Cold-start items
----------------
A series with no history (length 0, e.g. a new product listed only in the item
metadata) cannot be fed to DeepAR as is: its scale and lags would be undefined.
For each such item we build a *synthetic context* from the warm items that share
its metadata (all columns if any item does; else the items sharing the most
columns; else every item): over the ``context_length + max(lags)`` steps before
the item's first forecast date, each donor's window is divided by its mean
absolute level, the shapes are averaged (NaN-aware), and the mean profile is
multiplied by the donors' mean level. The network then forecasts from that
context with the new item's own metadata embedding and its own future related
values (the past related values are the donors' average). The forecast thus
starts at the level and pattern of comparable items, which is what a planner
would assume for a new product. Donors come from the data being forecast, or
from the training data when it has no warm items.

Item metadata
-------------
Each metadata column is factorised on the training data into codes ``1..K``;
code 0 is reserved for missing and unseen values. When no training item has
code 0, its embedding is set to the mean of the learned ones after training, so
an unseen category gets an average item's embedding rather than a random one.
"""
from __future__ import annotations

import contextlib
from datetime import timedelta
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import features as ft
from .. import frequency as fq
from ..errors import ConfigError, DataError, NotTrainedError, require
from ..panel import Panel
from . import neural as nn
from .base import Capabilities, Estimator, ForecastArrays, Predictor, arrays_from_samples, as_panel, silenced
from .neural import resolve_device  # noqa: F401  (part of this module's API)
from .deepar_parts import (_fit_interruptibly, _KeepBest, _matching_donors, _progress,  # noqa: F401
                          _series_affine, _series_scales)

WEIGHTS_FILE = "deepar_weights.pt"
_LIKELIHOODS = {"student-t": "StudentTOutput", "negative-binomial": "NegativeBinomialOutput",
                "gaussian": "NormalOutput"}
_QUIET_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "gluonts")


# ------------------------------------------------------------------ helpers
def _require_engine() -> None:
    """Raise MissingDependencyError (with the pip command) when torch, lightning or gluonts is missing."""
    require("torch", "DeepAR+")
    require("lightning.pytorch", "DeepAR+", "lightning")
    require("gluonts.torch", "DeepAR+", "gluonts[torch]")


def _distr_output(likelihood: str):
    from gluonts.torch import distributions

    key = str(likelihood).strip().lower()
    if key not in _LIKELIHOODS:
        raise ConfigError(f"likelihood={likelihood!r}: DeepAR+ here offers "
                          f"'student-T', 'negative-binomial' and 'gaussian'.")
    return getattr(distributions, _LIKELIHOODS[key])()


@contextlib.contextmanager
def _quiet():
    """Silence Lightning's and GluonTS's info logs and warnings for one call, then restore them."""
    with silenced(_QUIET_LOGGERS, logging.ERROR):
        yield


def _static_codes(panel: Panel, spec: dict) -> np.ndarray:
    """Integer codes (n, C) of the panel's metadata; 0 = missing or unseen in training."""
    return nn.static_codes(panel, spec["static_columns"], spec["categories"])


def _standardise(related: np.ndarray, spec: dict) -> np.ndarray:
    """Related values scaled per feature with the training mean/std; missing -> 0 (the mean)."""
    return nn.standardise(related, spec["related_mean"], spec["related_std"])


def _windows(values: np.ndarray, indptr: np.ndarray, lengths: np.ndarray, first: np.ndarray, L: int) -> np.ndarray:
    """Rows ``values[indptr[i] + first[i] : ... + L]`` of each series as (n, L[, F]), NaN outside the series."""
    out, inside = nn.gather_windows(values, indptr, lengths, np.arange(len(first)), first, L)
    return np.where(inside if out.ndim == 2 else inside[..., None], out, np.nan)


def _grid_features(spec: dict, frequency: str, starts: pd.DatetimeIndex, spans: np.ndarray):
    """Calendar (+ holiday) features on one time grid covering every series, and each series' offset in it."""
    return ft.calendar_grid(starts, spans, frequency, spec["calendar"], spec["holiday_country"])


def _entries(spec: dict, frequency: str, starts: pd.DatetimeIndex, targets: list, related: list | None,
             codes: np.ndarray, future: int) -> list[dict]:
    """GluonTS dataset entries: ``targets[i]`` from ``starts[i]``, dynamic features over ``len + future`` steps."""
    lens = np.array([len(t) for t in targets], dtype=np.int64)
    periods = starts.to_period(spec["period_freq"])
    dynamic = spec["num_dynamic"] > 0
    if dynamic and len(targets):
        grid, offs = _grid_features(spec, frequency, starts, lens + future)
    out = []
    for i, y in enumerate(targets):
        e = {"start": periods[i], "target": np.asarray(y, dtype=np.float32), "item_id": str(i)}
        if codes.shape[1]:
            e["feat_static_cat"] = codes[i]
        if dynamic:
            n = int(lens[i]) + future
            parts = [grid[offs[i]:offs[i] + n]]
            if related is not None:
                parts.append(related[i][:n])
            e["feat_dynamic_real"] = np.ascontiguousarray(np.concatenate(parts, axis=1).T, dtype=np.float32)
        out.append(e)
    return out


# --------------------------------------------------------------- predictor
class DeepARPlusPredictor(Predictor):
    """A trained DeepAR+ network with its feature maps; forecasts any panel of the same shape of data.

    The sample paths of one call come from one random stream seeded by the estimator's seed, so an
    item's forecast depends on the items forecast before it in the call (``shared_draws``).
    """

    shared_draws = True

    _module = None
    spec: dict | None = None

    # ---------------------------------------------------------------- fit
    def _build_spec(self, panel: Panel) -> dict:
        p = self.estimator.params
        H = self.estimator.forecast_horizon
        pfreq = fq.to_period_freq(panel.frequency)
        lags = p["lags_seq"]
        if lags is None:
            from gluonts.time_feature import get_lags_for_frequency

            with _quiet():
                lags = get_lags_for_frequency(pfreq)
            # plus the frequency's own cycles (5H: the 24 steps of five days), no longer than GluonTS's
            lags = list(lags) + [s for s in fq.seasonalities(panel.frequency) if s <= max(lags)]
        lags = sorted({int(v) for v in lags})
        if not lags or lags[0] < 1:
            raise ConfigError(f"lags_seq={p['lags_seq']!r}: give positive whole numbers, e.g. [1, 2, 24, 168].")
        names = list(panel.related_names) if panel.related is not None else []
        mean, std = nn.related_stats(panel)
        cols, cats = nn.static_spec(panel)
        spec = {
            "frequency": panel.frequency, "period_freq": pfreq, "prediction_length": H,
            "context_length": int(p["context_length"] or 2 * H), "lags_seq": lags,
            "calendar": ft.calendar_feature_names(panel.frequency, history=panel.history_span()),
            "holiday_country": ft.holidays_country(p["holidays"]),
            "related_names": names, "related_mean": mean.tolist(), "related_std": std.tolist(),
            "static_columns": cols, "categories": cats,
        }
        mode = p["series_scaling"]
        if mode == "auto":
            counts = _LIKELIHOODS[str(p["likelihood"]).strip().lower()] == "NegativeBinomialOutput"
            mode = "none" if counts else "mean"
        spec["series_scaling"] = mode
        spec["num_dynamic"] = len(spec["calendar"]) + bool(spec["holiday_country"]) + len(names)
        return spec

    def _gluonts_estimator(self):
        from gluonts.torch.model.deepar import DeepAREstimator

        p, s = self.estimator.params, self.spec
        with _quiet():
            return DeepAREstimator(
                freq=s["period_freq"], prediction_length=s["prediction_length"],
                context_length=s["context_length"], num_layers=int(p["num_layers"]), hidden_size=int(p["num_cells"]),
                lr=float(p["learning_rate"]), weight_decay=float(p["weight_decay"]),
                dropout_rate=float(p["dropout_rate"]), patience=int(p["patience"]),
                num_feat_dynamic_real=s["num_dynamic"], num_feat_static_cat=len(s["categories"]),
                cardinality=[len(c) + 1 for c in s["categories"]] or None,
                distr_output=_distr_output(p["likelihood"]), scaling=bool(p["scaling"]), lags_seq=s["lags_seq"],
                time_features=[], num_parallel_samples=int(p["num_samples"]), batch_size=int(p["batch_size"]),
                num_batches_per_epoch=int(p["num_batches_per_epoch"]),
            )

    def _fit(self, panel: Panel, progress: bool = False) -> None:
        _require_engine()
        import lightning.pytorch as pl
        from gluonts.env import env
        from gluonts.itertools import Cached

        p = self.estimator.params
        device = resolve_device(p["device"])
        self.spec = spec = self._build_spec(panel)
        H = spec["prediction_length"]
        lens = panel.lengths
        has_obs = panel.observed_counts() > 0
        rows = np.flatnonzero(has_obs & (lens > H))
        if not len(rows):
            raise DataError(f"DeepAR+ needs at least one series with more than forecast_horizon={H} observed steps "
                            f"to learn from; the longest has {int(lens.max(initial=0))}. Use a shorter horizon "
                            "or more history.")
        targets = [panel.values[panel.indptr[i]:panel.indptr[i + 1]] for i in rows]
        shift, scale = _series_affine(targets, spec["series_scaling"])
        targets = [(y - a) / b for y, a, b in zip(targets, shift, scale)]
        related = None
        if spec["related_names"]:
            z = _standardise(panel.related, spec)
            related = [z[panel.related_indptr[i]:panel.related_indptr[i] + lens[i]] for i in rows]
        codes = _static_codes(panel, spec)[rows]
        starts = panel.starts[rows]
        val_entries = None
        if p["early_stopping"]:
            # hold out the last horizon of every series long enough to train on what is left
            held = lens[rows] > 2 * H
            if held.any():
                idx = np.flatnonzero(held)
                val_entries = _entries(spec, panel.frequency, starts[idx], [targets[k] for k in idx],
                                       None if related is None else [related[k] for k in idx], codes[idx], future=0)
                targets = [y[:-H] if held[k] else y for k, y in enumerate(targets)]
        entries = _entries(spec, panel.frequency, starts, targets, related, codes, future=0)
        self.info.update(trained_series=int(len(rows)), skipped_short_series=int(has_obs.sum() - len(rows)),
                         validation_series=0 if val_entries is None else len(val_entries), device=device)

        keep = _KeepBest("val" if val_entries is not None else "train")
        tmp = tempfile.mkdtemp(prefix="fc_deepar_")
        try:
            with _quiet(), nn.torch_threads(p["num_threads"], device):
                pl.seed_everything(self.estimator.seed, workers=True, verbose=False)
                est = self._gluonts_estimator()
                transformation = est.create_transformation()
                module = est.create_lightning_module()
                data = Cached(transformation.apply(entries, is_train=True))
                callbacks = [keep.callback()]
                val_loader = None
                if val_entries is not None:
                    val_data = Cached(transformation.apply(val_entries, is_train=True))
                    val_loader = est.create_validation_data_loader(val_data, module)
                    callbacks.append(pl.callbacks.EarlyStopping(monitor="val_loss", mode="min",
                                                                patience=2 * int(p["patience"])))
                with env._let(max_idle_transforms=max(len(entries), 100)):
                    loader = est.create_training_data_loader(data, module, shuffle_buffer_length=None)
                    limit = None if p["max_train_time"] is None else timedelta(seconds=float(p["max_train_time"]))
                    trainer = pl.Trainer(
                        max_epochs=int(p["epochs"]), max_time=limit,
                        accelerator="gpu" if device == "cuda" else "cpu", devices=1, gradient_clip_val=10.0,
                        enable_checkpointing=False, logger=False, enable_model_summary=False,
                        enable_progress_bar=bool(progress), callbacks=callbacks, default_root_dir=tmp,
                        num_sanity_val_steps=0,
                    )
                    _fit_interruptibly(trainer, module, loader, val_loader)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        keep.restore(module)
        nn.neutral_unseen_embeddings(module.model.embedder._embedders, codes)
        self.info.update(epochs_run=int(trainer.current_epoch), best_epoch=keep.best_epoch,
                         best_loss=keep.best, best_loss_on=keep.monitor)
        self._module = module.cpu().eval()

    # ----------------------------------------------------------- forecast
    def sample_paths(self, data=None, horizon: int | None = None, progress: bool = False) -> np.ndarray:
        """Forecast sample paths, shape (n_series, num_samples, horizon), for ``data`` (default: training data).

        Raises
        ------
        NotTrainedError
            Before ``train``.
        DataError
            When related data does not cover the horizon.
        """
        if not self.trained:
            raise NotTrainedError(f"{self.name}: call train(...) before predicting.")
        panel = self.panel if data is None else as_panel(data)
        return self._samples(panel, int(horizon or self.estimator.forecast_horizon), progress)

    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        samples = self._samples(panel, horizon, progress)
        arr = arrays_from_samples(samples, levels, panel.forecast_starts())
        return arr.clip(None)  # sorted; the guard clips at 0 (non_negative)

    def _samples(self, panel: Panel, horizon: int, progress: bool = False) -> np.ndarray:
        import torch
        from gluonts.torch.model.deepar.estimator import PREDICTION_INPUT_NAMES
        from gluonts.torch.model.predictor import PyTorchPredictor

        spec, p = self.spec, self.estimator.params
        Hm = spec["prediction_length"]
        if horizon > Hm:
            raise ConfigError(f"DeepAR+ was trained for forecast_horizon={Hm}; it cannot forecast {horizon} steps. "
                              "Train a new predictor with the longer horizon.")
        if panel.frequency != spec["frequency"]:
            raise DataError(f"DeepAR+ was trained on {spec['frequency']} data; this data is {panel.frequency}.")
        names = spec["related_names"]
        related = None
        if names:
            related = ft.future_related(panel, horizon, names, algorithm="DeepAR+")
            related = [_standardise(np.pad(r, ((0, Hm - horizon), (0, 0)), mode="edge") if Hm > horizon else r, spec)
                       for r in related]
        lens = panel.lengths
        warm = panel.observed_counts() > 0
        codes = _static_codes(panel, spec)
        starts = list(panel.starts)
        targets = [panel.values[panel.indptr[i]:panel.indptr[i + 1]] for i in range(panel.n_series)]
        cold = np.flatnonzero(~warm)
        self.info["cold_start_items"] = {}
        if len(cold):
            ctx, ctx_rel, n_donors = self._cold_contexts(panel, cold, warm)
            off = fq.to_offset(panel.frequency)
            L = ctx.shape[1]
            for k, i in enumerate(cold):
                start_i = panel.starts[i] + int(lens[i]) * off  # first forecast step
                starts[i] = start_i - L * off
                targets[i] = ctx[k]
                if related is not None:
                    related[i] = np.concatenate([ctx_rel[k], related[i][int(lens[i]):]], axis=0)
            self.info["cold_start_items"] = {str(tuple(panel.keys.iloc[i])): int(n) for i, n in zip(cold, n_donors)}
        shift, scale = _series_affine(targets, spec["series_scaling"])
        targets = [(y - a) / b for y, a, b in zip(targets, shift, scale)]
        entries = _entries(spec, panel.frequency, pd.DatetimeIndex(starts), targets, related, codes, future=Hm)

        device = resolve_device(p["device"])
        module = self._module.to(device)
        module.model.num_parallel_samples = int(p["num_samples"])
        with _quiet(), nn.torch_threads(p["num_threads"], device):
            est = self._gluonts_estimator()
            splitter = est._create_instance_splitter(module, "test")
            predictor = PyTorchPredictor(input_names=PREDICTION_INPUT_NAMES, prediction_net=module,
                                         batch_size=max(int(p["batch_size"]), 64), prediction_length=Hm,
                                         input_transform=est.create_transformation() + splitter, device=device)
            fork = [torch.cuda.current_device()] if device == "cuda" else []
            with torch.random.fork_rng(devices=fork):
                torch.manual_seed(self.estimator.seed)
                samples = [f.samples for f in _progress(predictor.predict(entries), len(entries), progress)]
        self._module = module.cpu()
        samples = np.stack(samples)[:, :, :horizon].astype(float) if samples else np.zeros((0, 1, horizon))
        if len(samples):
            samples = samples * scale[:, None, None] + shift[:, None, None]
        return np.maximum(samples, 0.0) if self.estimator.non_negative is True else samples

    def _cold_contexts(self, panel: Panel, cold: np.ndarray, warm: np.ndarray):
        """Synthetic contexts (k, L) and past related (k, L, F) for cold-start rows; see the module docstring."""
        spec = self.spec
        L = spec["context_length"] + max(spec["lags_seq"])
        src, donors = panel, np.flatnonzero(warm)
        if not len(donors):  # nothing warm to copy from here: use the training data
            src = self.panel
            donors = np.flatnonzero(src.observed_counts() > 0)
        F = len(spec["related_names"])
        ctx = np.full((len(cold), L), np.nan)
        ctx_rel = np.zeros((len(cold), L, F))
        n_donors = np.zeros(len(cold), dtype=np.int64)
        if not len(donors):
            ctx[:] = 0.0
            return ctx, ctx_rel, n_donors
        off = fq.to_offset(panel.frequency)
        cache: dict = {}
        for k, i in enumerate(cold):
            first = panel.starts[i] + int(panel.lengths[i]) * off
            match = _matching_donors(src, donors, panel.static.iloc[i] if panel.static is not None else None)
            key = (first, match.tobytes())
            if key not in cache:
                pos = np.round(fq.step_index(pd.DatetimeIndex([first] * len(match)), src.starts[match],
                                             src.frequency)).astype(np.int64) - L
                sub = src.select(match)
                W = _windows(sub.values, sub.indptr, sub.lengths, pos, L)
                if np.isnan(W).all():  # donors end long before: use their last L values
                    W = sub.padded(L)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    level = np.nanmean(np.abs(W), axis=1)
                    good = np.isfinite(level) & (level > 0)
                    prof = np.nanmean(W[good] / level[good, None], axis=0) * np.mean(level[good]) \
                        if good.any() else np.zeros(L)
                    rel = np.zeros((L, F))
                    if F and sub.related is not None and set(spec["related_names"]) <= set(sub.related_names):
                        cols = [list(sub.related_names).index(c) for c in spec["related_names"]]
                        R = _windows(sub.related[:, cols], sub.related_indptr, np.diff(sub.related_indptr), pos, L)
                        rel = _standardise(np.nanmean(R, axis=0), spec)  # donors' average; missing -> 0
                cache[key] = (prof, rel, len(match))
            ctx[k], ctx_rel[k], n_donors[k] = cache[key]
        return ctx, ctx_rel, n_donors

    # ---------------------------------------------------------- save/load
    def _state(self, folder: Path) -> dict:
        import torch

        torch.save(self._module.state_dict(), Path(folder) / WEIGHTS_FILE)
        return {"spec": self.spec, "weights": WEIGHTS_FILE}

    def _load_state(self, folder: Path, meta: dict) -> None:
        from ..errors import ArtifactError
        from ..security import safe_name

        # the weights file named by the manifest must be a plain name inside the artifact folder
        name = safe_name(meta.get("weights", WEIGHTS_FILE), f"the DeepAR+ manifest in {folder}")
        path = Path(folder) / name
        if not path.is_file():
            raise ArtifactError(f"{folder} lacks the weights file {name!r} its manifest names; the artifact is "
                                "incomplete: save the predictor again.")
        _require_engine()
        import torch

        self.spec = meta["spec"]
        with _quiet():
            module = self._gluonts_estimator().create_lightning_module()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            module.load_state_dict(state)
        except Exception as exc:  # a damaged or foreign file: one clear error, not torch's internals
            raise ArtifactError(f"cannot load the DeepAR+ weights {path}: {type(exc).__name__}: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}; the artifact is "
                                "damaged or not fc_core's: save the predictor again.") from None
        self._module = module.eval()


# --------------------------------------------------------------- estimator
class DeepARPlusEstimator(Estimator):
    """DeepAR+: a global autoregressive RNN with related series, item metadata and cold start.

    Hyperparameters carry Amazon Forecast's names where it has them.

    Parameters
    ----------
    context_length : int, optional
        Steps the RNN unrolls over before forecasting (default ``2 * forecast_horizon``).
    epochs : int
        Training epochs (default 100; Amazon Forecast's default is 500, which takes
        too long on a CPU for little gain with ``num_batches_per_epoch=50``).
    learning_rate : float
        Adam's learning rate (1e-3), halved when the epoch loss stalls for ``patience`` epochs.
    num_cells, num_layers : int
        LSTM cells per layer (40) and layers (2).
    likelihood : {"student-T", "negative-binomial", "gaussian"}
        Output distribution; negative-binomial for counts (samples are >= 0).
    num_batches_per_epoch, batch_size : int
        Batches of ``batch_size`` random training windows per epoch (50 and 32).
    num_samples : int
        Sample paths per series behind the quantiles and the mean (100).
    dropout_rate : float
        Dropout between LSTM layers (0.1).
    lags_seq : list of int, optional
        Lagged target values fed to the RNN (default: GluonTS's lags for the frequency).
    scaling : bool
        Divide each window by its mean absolute value (True).
    holidays : str or dict, optional
        ``"KR"`` or Amazon's ``{"CountryCode": "KR"}`` adds a holiday indicator feature.
    non_negative : "auto", True or False
        As every estimator's (the forecast guard's); True also clips the sample paths at 0, so the
        mean is that of the clipped samples.
    device : {"cpu", "cuda", "auto"}
        Where training and sampling run; ``auto`` = cuda when torch sees a GPU.
    weight_decay, patience : float, int
        Adam's weight decay (1e-8) and the learning-rate plateau patience (10).
    series_scaling : {"auto", "mean", "standard", "none"}
        Divide every series by its mean absolute value before it reaches the
        network (and multiply the samples back). DeepAR scales each window by its
        own mean and feeds ``log(scale)`` to the RNN; without this step that input
        spans the whole range of levels (1 to 10^6 on M4), and the few largest
        items sit where the network has to extrapolate, which long trainings
        make worse (measured on M4 Hourly: forecasts of the 10^5-level items
        sagging by half over 48 hours). ``standard`` also subtracts each series'
        mean and divides by its standard deviation instead, so smooth series on
        a high level show the network their swings. ``auto`` = ``mean`` except
        for the negative-binomial likelihood, whose counts must stay whole numbers.
    early_stopping : bool
        Hold out the last ``forecast_horizon`` steps of every series long enough
        (more than twice the horizon), keep the weights of the epoch with the lowest
        loss on them, and stop after ``2 * patience`` epochs without improvement
        (False: train on everything and keep the epoch with the lowest training loss).
        Guards against overfitting long trainings on few series.
    max_train_time : float, optional
        Stop training after this many seconds even if ``epochs`` are not done
        (Lightning's ``max_time``); ``info["epochs_run"]`` says how far it got.
    num_threads : int or None
        torch CPU threads while training and sampling (restored afterwards). Default 1:
        DeepAR's matrices are small, and on a busy or shared CPU extra threads spin
        against each other (measured 1.2 s with 1 thread vs 27 s with 2 on a loaded
        2-core machine). ``None`` leaves torch's setting alone.

    Notes
    -----
    Related time series are standardised per feature (training mean and standard
    deviation; missing values become the mean) and must cover the forecast
    horizon (:class:`~fc_core.errors.DataError` otherwise). Items with no history
    (cold start) are forecast from a synthetic context built from the items that
    share their metadata (see the module docstring). Calendar features come
    from :func:`fc_core.features.calendar_features`. Training keeps the weights of
    the epoch with the lowest training loss. The same data and ``seed`` give the
    same numbers on a CPU; Ctrl-C stops training and raises ``KeyboardInterrupt``.
    """

    name = "DeepAR+"
    capabilities = Capabilities(uses_related=True, uses_item_metadata=True, cold_start=True, gpu=True,
                                local=False, needs_seed=True)
    defaults = {
        "context_length": None, "epochs": 100, "learning_rate": 1e-3, "num_cells": 40, "num_layers": 2,
        "likelihood": "student-T", "num_batches_per_epoch": 50, "batch_size": 32, "num_samples": 100,
        "dropout_rate": 0.1, "lags_seq": None, "scaling": True, "holidays": None,
        "device": "auto", "weight_decay": 1e-8, "patience": 10, "num_threads": 1, "max_train_time": None,
        "early_stopping": False, "series_scaling": "auto",
    }
    predictor_class = DeepARPlusPredictor

    def __init__(self, forecast_horizon: int, **kwargs):
        super().__init__(forecast_horizon, **kwargs)
        p = self.params
        key = str(p["likelihood"]).strip().lower()
        if key not in _LIKELIHOODS:
            raise ConfigError(f"likelihood={p['likelihood']!r}: DeepAR+ here offers 'student-T', "
                              "'negative-binomial' and 'gaussian'.")
        nn.check_device(p["device"])
        self._check_positive_ints("epochs", "num_cells", "num_layers", "num_batches_per_epoch", "batch_size",
                                  "num_samples")
        self._check_positive_ints("context_length", "num_threads", optional=True)
        if p["series_scaling"] not in ("auto", "mean", "standard", "none"):
            raise ConfigError(f"series_scaling={p['series_scaling']!r}: use 'auto', 'mean', 'standard' or 'none'.")
        if p["max_train_time"] is not None and not float(p["max_train_time"]) > 0:
            raise ConfigError(f"max_train_time must be a positive number of seconds, got {p['max_train_time']!r}.")
        if not 0.0 <= float(p["dropout_rate"]) < 1.0:
            raise ConfigError(f"dropout_rate must lie in [0, 1), got {p['dropout_rate']!r}.")
        ft.holidays_country(p["holidays"])  # validate early
