"""MLP-QR: a global multi-horizon quantile network (torch), fast on a CPU.

A second global learner beside GBM, of a different kind (a neural network
instead of trees), so the AutoPredictor has two strong, unlike candidates to
blend. In the spirit of Amazon Forecast's CNN-QR and GluonTS's MQ-CNN: one
model for all items, forecasting all ``H`` steps and a grid of quantile levels
at once, trained on random windows with the quantile (pinball) loss.

How one window is seen (``T`` the forecast origin, ``L`` the context length):

* the context ``y[T-L .. T-1]`` divided by ``s`` = the mean ``|y|`` over its last
  ``scale_window`` observed values, with missing values set to 0 and a 0/1
  mask beside them;
* calendar features of the first forecast step (:func:`fc_core.features.calendar_features`);
* related series over the last season of the context and the ``H`` forecast
  steps (future-known values), standardised per column with training statistics;
* item metadata as learned embeddings (0 = missing or unseen value).

The network (``num_layers`` ReLU layers of ``hidden_size`` units) outputs an
``H x Q`` table added to the seasonal naive forecast in the same units (the
last season repeated), so it learns corrections to a strong baseline. The loss
is the mean pinball loss over the quantile grid :data:`QUANTILE_GRID`, on
observed targets only. Any other level is interpolated between grid levels;
the mean averages 100 interpolated quantiles. ``num_models`` networks with
seeds ``seed, seed + 1, ...`` are averaged level by level.

Items with fewer than two observed values get the seasonal naive forecast
(``info["fallback_items"]``); cold-start items (no history) the average
forecast of items sharing their first metadata value (``info["cold_start_items"]``).
Saved without pickle (weights as ``npz``); seeded; Ctrl-C stops training with
``KeyboardInterrupt``.

>>> from fc_core.demo import two_sines
>>> p = two_sines()  # two hourly series with a daily cycle, 20 days
>>> out = MLPQREstimator(24, num_steps=50, device="cpu").train(p).predict()
>>> out.shape, bool((out["p10"] <= out["p90"]).all())
((48, 6), True)
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import features as ft
from .. import frequency as fq
from ..errors import ConfigError, DataError, require
from ..panel import Panel
from . import neural as nn_utils
from .base import Capabilities, Estimator, ForecastArrays, Predictor, interpolate_quantiles
from .baselines import complete_global_forecast, ffill_rows

QUANTILE_GRID = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99)
_MEAN_GRID = (np.arange(100) + 0.5) / 100


# ------------------------------------------------------------------ helpers
# ------------------------------------------------------------------ windows
class _Windows:
    """Builds network inputs for windows (series ``rows``, origins ``T``) of one panel."""

    def __init__(self, panel: Panel, spec: dict, horizon: int, related=None):
        self.panel, self.spec, self.H = panel, spec, horizon
        self.L, self.m, self.sw = spec["context_length"], spec["m"], spec["scale_window"]
        ok = panel.observed & ~np.isnan(panel.values)
        self.y = np.where(ok, panel.values, 0.0).astype(np.float32)
        self.ok = ok
        self.lengths = panel.lengths
        self.related = related  # (len + future, F) standardised per item, concatenated, or None
        if related is not None:
            self.r_values, self.r_indptr = related
        span = panel.lengths + horizon
        self.cal, self.cal_offs = ft.calendar_grid(panel.starts, span, panel.frequency, spec["calendar"])
        self.codes = nn_utils.static_codes(panel, spec["static_columns"], spec["categories"])

    def forward(self, z: np.ndarray) -> np.ndarray:
        """Scaled values into the network's units: ``log1p`` for non-negative data."""
        return np.log1p(np.maximum(z, 0.0)) if self.spec["log"] else z

    def batch(self, rows: np.ndarray, T: np.ndarray, with_target: bool):
        """Inputs (dict of float32 arrays) of windows ending at origins ``T`` of series ``rows``."""
        p, L, m, H = self.panel, self.L, self.m, self.H
        ctx, inside = nn_utils.gather_windows(self.y, p.indptr, self.lengths, rows, T - L, L)
        okc, _ = nn_utils.gather_windows(self.ok, p.indptr, self.lengths, rows, T - L, L)
        mask = (okc & inside).astype(np.float32)
        ctx = ctx * mask
        # scale: mean |y| over the last scale_window observed values (else over the whole context)
        tail = slice(L - self.sw, L)
        num, den = np.abs(ctx[:, tail]).sum(1), mask[:, tail].sum(1)
        num_all, den_all = np.abs(ctx).sum(1), mask.sum(1)
        s = np.where(den > 0, num / np.maximum(den, 1), num_all / np.maximum(den_all, 1))
        s = np.where(s > 0, s, 1.0).astype(np.float32)
        u = self.forward(ctx / s[:, None]) * mask
        # standardise: centre and spread of the last scale_window observed values (else the whole context)
        mt = mask[:, tail]
        use_tail = mt.sum(1) >= 2
        mw = np.where(use_tail[:, None], np.pad(mt, ((0, 0), (L - self.sw, 0))), mask)
        cnt = np.maximum(mw.sum(1), 1)
        mu = (u * mw).sum(1) / cnt
        sd = np.sqrt((((u - mu[:, None]) ** 2) * mw).sum(1) / cnt)
        sd = np.maximum(sd, 1e-3).astype(np.float32) if self.spec["standardize"] else np.ones_like(mu)
        mu = mu if self.spec["standardize"] else np.zeros_like(mu)
        x = (u - mu[:, None]) / sd[:, None] * mask
        # seasonal naive base in network units (forward-filled last season; 0 = the centre where nothing was seen)
        filled = ffill_rows(np.where(mask > 0, x, np.nan))
        filled = np.where(np.isnan(filled), 0.0, filled)
        base = filled[:, L - m + (np.arange(H) % m)]
        cal = self.cal[self.cal_offs[rows] + T]
        out = {"x": x.astype(np.float32), "mask": mask, "cal": cal.astype(np.float32),
               "base": base.astype(np.float32), "codes": self.codes[rows], "scale": s,
               "shift": mu.astype(np.float32), "spread": sd.astype(np.float32)}
        if self.related is not None:
            r, r_in = nn_utils.gather_windows(self.r_values, self.r_indptr, np.diff(self.r_indptr), rows, T - m, m + H)
            r = np.where(r_in[..., None], r, 0.0)
            out["related"] = r.reshape(len(rows), -1).astype(np.float32)
        if with_target:
            yt, tin = nn_utils.gather_windows(self.y, p.indptr, self.lengths, rows, T, H)
            okt, _ = nn_utils.gather_windows(self.ok, p.indptr, self.lengths, rows, T, H)
            out["y"] = ((self.forward(yt / s[:, None]) - mu[:, None]) / sd[:, None]).astype(np.float32)
            out["y_mask"] = (okt & tin & (den_all > 0)[:, None]).astype(np.float32)
        return out


def _build_net(spec: dict, p: dict, horizon: int):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.ModuleList([nn.Embedding(len(c) + 1, min(16, (len(c) + 2) // 2))
                                      for c in spec["categories"]])
            d_in = 2 * spec["context_length"] + len(spec["calendar"]) + sum(e.embedding_dim for e in self.emb)
            d_in += len(spec["related_names"]) * (spec["m"] + horizon)
            hidden, layers = int(p["hidden_size"]), int(p["num_layers"])
            body = []
            for k in range(layers):
                body += [nn.Linear(d_in if k == 0 else hidden, hidden), nn.ReLU()]
                if p["dropout_rate"]:
                    body.append(nn.Dropout(float(p["dropout_rate"])))
            self.body = nn.Sequential(*body)
            self.head = nn.Linear(hidden, horizon * len(QUANTILE_GRID))
            # a linear path from the context straight to the outputs: averages of past seasons are
            # linear in the context, and a ReLU network alone learns them slowly and noisily
            self.skip = nn.Linear(spec["context_length"], horizon * len(QUANTILE_GRID), bias=False)
            for layer in (self.head, self.skip):  # start from the seasonal naive forecast
                nn.init.zeros_(layer.weight)
            nn.init.zeros_(self.head.bias)

        def forward(self, b):
            parts = [b["x"], b["mask"], b["cal"]]
            parts += [e(b["codes"][:, j]) for j, e in enumerate(self.emb)]
            if "related" in b:
                parts.append(b["related"])
            h = self.body(torch.cat(parts, dim=1))
            out = (self.head(h) + self.skip(b["x"])).view(-1, horizon, len(QUANTILE_GRID))
            return b["base"][:, :, None] + out

    return Net()


def _to_torch(batch: dict, device: str) -> dict:
    import torch

    return {k: torch.as_tensor(v, device=device) for k, v in batch.items() if k not in ("scale", "shift", "spread")}


# ------------------------------------------------------------- predictor
class MLPQRPredictor(Predictor):
    """Trained MLP-QR networks and their input specification."""

    nets: list | None = None
    spec: dict | None = None

    def _build_spec(self, panel: Panel) -> dict:
        p, H = self.estimator.params, self.estimator.forecast_horizon
        m = max(fq.season_length(panel.frequency), 1)
        longer = [s for s in fq.seasonalities(panel.frequency) if m < s <= 400]
        L = int(p["context_length"] or max(max(longer, default=m), 4 * m, 2 * H))
        if L < m:
            raise ConfigError(f"MLP-QR context_length={L} is shorter than the season ({m} steps for "
                              f"{panel.frequency} data); use at least {m}.")
        sw = int(p["scale_window"] or min(L, max(longer, default=max(4 * m, 8))))
        if sw > L:
            raise ConfigError(f"scale_window={sw} is longer than context_length={L}.")
        names = list(panel.related_names) if panel.related is not None else []
        mean, std = nn_utils.related_stats(panel)
        cols, cats = nn_utils.static_spec(panel, max_categories=10_000)
        history = panel.history_span()
        use_log = panel.nonnegative() if p["transform"] == "auto" else p["transform"] == "log"
        return {"log": use_log, "standardize": p["scaling"] == "standard", "m": m, "context_length": L, "scale_window": sw,
                "calendar": ft.calendar_feature_names(panel.frequency, history=history),
                "related_names": names, "related_mean": mean.tolist(), "related_std": std.tolist(),
                "static_columns": cols, "categories": cats}

    def _related(self, panel: Panel, horizon: int):
        """Standardised related values of every item over history + horizon, concatenated."""
        s = self.spec
        if not s["related_names"]:
            return None
        rel = ft.future_related(panel, horizon, s["related_names"], algorithm="MLP-QR")
        z = [nn_utils.standardise(r, s["related_mean"], s["related_std"]) for r in rel]
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in z])]).astype(np.int64)
        values = np.concatenate(z) if z else np.zeros((0, len(s["related_names"])))
        return values.astype(np.float32), indptr

    def _fit(self, panel: Panel, progress: bool = False) -> None:
        require("torch", "MLP-QR")
        import torch
        from tqdm.auto import tqdm

        p, H = self.estimator.params, self.estimator.forecast_horizon
        device = nn_utils.resolve_device(p["device"])
        self.spec = spec = self._build_spec(panel)
        win = _Windows(panel, spec, H, self._related(panel, 0))  # training windows stay inside the history
        # origins T with a full horizon of targets after them and at least 2 observed values before
        lens = panel.lengths
        lo = np.minimum(np.full_like(lens, 2), lens)
        if p["max_history"]:
            lo = np.maximum(lo, lens - H - int(p["max_history"]))
        hi = lens - H  # inclusive
        usable = np.flatnonzero((hi >= lo) & (panel.observed_counts() >= 2))
        if not len(usable):
            raise DataError(f"MLP-QR needs at least one series with more than forecast_horizon + 2 = {H + 2} "
                            f"values to learn from; the longest has {int(lens.max(initial=0))}. "
                            "Use a shorter horizon or more history.")
        levels = torch.tensor(QUANTILE_GRID, dtype=torch.float32, device=device)
        steps, bs = int(p["num_steps"]), int(p["batch_size"])
        self.nets, losses = [], []
        t0 = time.perf_counter()
        with nn_utils.torch_threads(p["num_threads"], device):
            for k in range(int(p["num_models"])):
                seed = self.estimator.seed + k
                torch.manual_seed(seed)
                rng = np.random.default_rng(seed)
                net = _build_net(spec, p, H).to(device)
                opt = torch.optim.Adam(net.parameters(), lr=float(p["learning_rate"]),
                                       weight_decay=float(p["weight_decay"]))
                sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(p["learning_rate"]), total_steps=steps,
                                                            pct_start=0.1, anneal_strategy="cos")
                net.train()
                bar = tqdm(range(steps), desc=f"MLP-QR {k + 1}/{p['num_models']}", disable=not progress,
                           leave=False)
                run = 0.0
                for step in bar:
                    rows = usable[rng.integers(0, len(usable), bs)]
                    T = lo[rows] + np.floor(rng.random(bs) * (hi[rows] - lo[rows] + 1)).astype(np.int64)
                    b = _to_torch(win.batch(rows, T, with_target=True), device)
                    q = net(b)
                    err = b["y"][:, :, None] - q
                    loss = (torch.maximum(levels * err, (levels - 1) * err) * b["y_mask"][:, :, None]).sum()
                    loss = loss / (b["y_mask"].sum() * len(QUANTILE_GRID)).clamp(min=1)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                    opt.step()
                    sched.step()
                    lv = loss.item()
                    run = 0.98 * run + 0.02 * lv if step else lv
                    if progress and step % 50 == 0:
                        bar.set_postfix(loss=f"{run:.4f}")
                bar.close()
                losses.append(run)
                net = net.cpu().eval()
                nn_utils.neutral_unseen_embeddings(net.emb, win.codes[usable])
                self.nets.append(net)
        self.info.update(device=device, train_seconds=round(time.perf_counter() - t0, 2), final_loss=losses,
                         trained_series=int(len(usable)))

    # ----------------------------------------------------------- forecast
    def _forecast(self, panel: Panel, horizon: int, levels: np.ndarray, progress: bool = False) -> ForecastArrays:
        import torch

        H = self.estimator.forecast_horizon
        if horizon > H:
            raise ConfigError(f"MLP-QR was trained for forecast_horizon={H}; it cannot forecast {horizon} steps. "
                              "Train with a longer horizon.")
        p, n = self.estimator.params, panel.n_series
        quant = np.zeros((n, horizon, len(levels)))
        mean = np.zeros((n, horizon))
        obs = panel.observed_counts()
        cold = panel.lengths == 0
        recent = panel.observed_counts(last=self.spec["context_length"])
        rows = np.flatnonzero((obs >= 2) & (recent >= 1))  # the network needs something to look at
        if self.spec["log"] and len(rows):
            ok = panel.observed & ~np.isnan(panel.values)
            neg = ok & (np.nan_to_num(panel.values) < 0)
            if neg.any():
                items = panel.key_strings()[np.unique(np.searchsorted(panel.indptr, np.flatnonzero(neg), "right") - 1)]
                raise DataError(f"MLP-QR was trained on data without negative values (log transform); item(s) "
                                f"{list(items[:5])} have negative values. Retrain on this data, or with "
                                "transform='none'.")
        if len(rows):
            win = _Windows(panel, self.spec, H, self._related(panel, H))
            g = np.asarray(QUANTILE_GRID)
            with torch.no_grad(), nn_utils.torch_threads(p["num_threads"], "cpu"):
                for a in range(0, len(rows), 4096):  # chunks keep memory flat for large panels
                    r = rows[a:a + 4096]
                    b = win.batch(r, panel.lengths[r], with_target=False)
                    tb = _to_torch(b, "cpu")
                    grid = np.mean([net(tb).numpy() for net in self.nets], axis=0).astype(float)
                    grid = np.sort(grid, axis=-1) * b["spread"][:, None, None] + b["shift"][:, None, None]
                    if self.spec["log"]:
                        grid = np.expm1(np.clip(grid, 0.0, 50.0))
                    grid = grid[:, :horizon] * b["scale"][:, None, None]
                    quant[r] = interpolate_quantiles(g, grid, levels)
                    mean[r] = interpolate_quantiles(g, grid, _MEAN_GRID).mean(axis=-1)
        fb = np.flatnonzero(~np.isin(np.arange(n), rows) & ~cold)
        arr = complete_global_forecast(panel, quant, mean, levels, rows, fb, self.spec["m"])
        self.info.update(arr.info)
        return arr

    # ------------------------------------------------------------ save/load
    def _state(self, folder: Path) -> dict:
        from ..io import save_arrays

        for k, net in enumerate(self.nets):
            save_arrays(folder / f"mlpqr_{k}.npz", **{n: t.detach().cpu().numpy() for n, t in net.state_dict().items()})
        return {"spec": self.spec, "num_nets": len(self.nets)}

    def _load_state(self, folder: Path, meta: dict) -> None:
        import torch

        from ..errors import ArtifactError
        from ..io import load_arrays

        self.spec = meta["spec"]
        self.nets = []
        for k in range(int(meta["num_nets"])):
            f = folder / f"mlpqr_{k}.npz"
            if not f.is_file():
                raise ArtifactError(f"{folder} lacks {f.name}; the MLP-QR predictor was not saved completely.")
            net = _build_net(self.spec, self.estimator.params, self.estimator.forecast_horizon)
            net.load_state_dict({n: torch.as_tensor(a) for n, a in load_arrays(f).items()})
            self.nets.append(net.eval())


# ------------------------------------------------------------- estimator
class MLPQREstimator(Estimator):
    """MLP-QR: one quantile network over all items, forecasting every step at once.

    Parameters
    ----------
    context_length : int, optional
        Past steps the network sees (default: the longest season up to 400 steps,
        at least four seasons and two horizons; 168 for hourly data).
    hidden_size, num_layers : int
        Units per hidden layer (512) and hidden layers (3).
    num_steps, batch_size : int
        Training steps (1500) of ``batch_size`` random windows (256).
    learning_rate : float
        Peak learning rate of Adam's one-cycle schedule (1e-3).
    num_models : int
        Networks trained with seeds ``seed, seed + 1, ...`` and averaged (1).
    scale_window : int, optional
        Context values whose mean ``|y|`` scales a window (default: the longest
        season up to 400 steps, e.g. a week of hours).
    max_history : int, optional
        Only origins within this many steps of a series' end are sampled for
        training (default: all).
    dropout_rate, weight_decay : float
        Regularisation (0 and 0).
    transform : {"auto", "log", "none"}
        ``log``: the network sees and forecasts ``log1p(y / s)`` (relative errors;
        forecasts never negative); ``auto`` = ``log`` when no observed value is negative.
    device : {"cpu", "cuda", "auto"}
        Where training runs; forecasts are computed on the CPU.
    num_threads : int or None
        torch CPU threads while training and forecasting (None: torch's setting).
    """

    name = "MLP-QR"
    capabilities = Capabilities(uses_related=True, uses_item_metadata=True, cold_start=True, gpu=True,
                                local=False, needs_seed=True)
    defaults = {
        "context_length": None, "hidden_size": 512, "num_layers": 3, "num_steps": 1500, "batch_size": 256,
        "learning_rate": 1e-3, "num_models": 1, "scale_window": None, "max_history": None, "dropout_rate": 0.0,
        "weight_decay": 0.0, "device": "auto", "num_threads": None, "transform": "auto",
        "scaling": "standard",
    }
    predictor_class = MLPQRPredictor

    def __init__(self, forecast_horizon: int, **kwargs):
        super().__init__(forecast_horizon, **kwargs)
        p = self.params
        self._check_positive_ints("hidden_size", "num_layers", "num_steps", "batch_size", "num_models")
        self._check_positive_ints("context_length", "scale_window", "max_history", "num_threads", optional=True)
        nn_utils.check_device(p["device"])
        if not 0.0 <= float(p["dropout_rate"]) < 1.0:
            raise ConfigError(f"dropout_rate must lie in [0, 1), got {p['dropout_rate']!r}.")
        if p["transform"] not in ("auto", "log", "none"):
            raise ConfigError(f"transform={p['transform']!r}: use 'auto', 'log' or 'none'.")
        if p["scaling"] not in ("standard", "mean"):
            raise ConfigError(f"scaling={p['scaling']!r}: use 'standard' or 'mean'.")
        if not float(p["learning_rate"]) > 0:
            raise ConfigError(f"learning_rate must be positive, got {p['learning_rate']!r}.")
