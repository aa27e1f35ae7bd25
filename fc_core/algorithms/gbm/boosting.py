"""GBM's LightGBM fitting: settings, training rows, boosters (early stopping by effort) and recursive / direct prediction."""
from __future__ import annotations

import os

import numpy as np

from .features import _AUTO_EFFORT_ROWS, _EARLY_STOPPING_ROUNDS, _Grid


# ------------------------------------------------------------------ settings
def _lightgbm():
    """Import LightGBM, with OpenMP threads that spin only briefly before they sleep.

    libgomp's default spin made LightGBM training 1.5-5x slower beside busy processes on the 2-core
    benchmark machine; sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) made it 1.5-5x slower on a
    quiet one, where every wake-up of an idle core is expensive (4x for the getting-started demo's
    training). ``GOMP_SPINCOUNT=1000`` stays within 2x of the better of the two in every case measured
    (``bench/RESULTS.md``, "LightGBM and OpenMP wait settings"). The variable only takes effect if
    no OpenMP runtime was started before, and a user's own (non-empty) ``OMP_WAIT_POLICY`` or
    ``GOMP_SPINCOUNT`` wins.
    """
    if not os.environ.get("OMP_WAIT_POLICY"):  # the same rule as scripts/main.sh and scripts/test.sh
        os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    from ...errors import require

    return require("lightgbm", "The GBM algorithm")


def _lgb_params(p: dict, seed: int) -> dict:
    return {
        "objective": p["objective"], "learning_rate": p["learning_rate"], "num_leaves": p["num_leaves"],
        "min_data_in_leaf": p["min_data_in_leaf"], "feature_fraction": p["feature_fraction"],
        "bagging_fraction": p["bagging_fraction"], "bagging_freq": 1 if p["bagging_fraction"] < 1 else 0,
        "lambda_l2": p["lambda_l2"], "max_bin": 255, "seed": seed, "deterministic": True,
        "force_row_wise": True, "num_threads": _threads(p), "verbosity": -1,
    }



# ---------------------------------------------------------------- training
def _train_cells(grid: _Grid, max_rows: int, rng: np.random.Generator,
                 counts: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grid cells (row, column) with an observed target and a defined differencing base
    (``counts["candidates"]``: how many before sampling)."""
    m = grid.lay.m
    ok = ~np.isnan(grid.target[:, :grid.end + 1])
    ok[:, :grid.lay.margin] = False
    ok[:, m:] &= ~np.isnan(grid.X[:, :grid.end + 1 - m])
    ok[:, :m] = False
    rows, cols = np.nonzero(ok)
    if counts is not None:
        counts["candidates"] = int(len(rows))
    if len(rows) > max_rows:  # keep the most recent cells preferentially
        age = (grid.end - cols).astype(float)
        w = 1.0 / (1.0 + age / max(4 * grid.lay.margin, 1))
        pick = np.sort(rng.choice(len(rows), size=max_rows, replace=False, p=w / w.sum()))
        rows, cols = rows[pick], cols[pick]
    return rows, cols


def _direct_cells(grid: _Grid, horizon: int, per_cell: float, max_rows: int, rng: np.random.Generator,
                  counts: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, origin, h) triples for the direct model: observed target cells, each with
    random horizons ``h`` (``per_cell`` of them on average), the origin ``h`` steps before
    (``counts["candidates"]``: how many triples before sampling)."""
    ok = ~np.isnan(grid.target[:, :grid.end + 1])
    rows, cols = np.nonzero(ok)
    reps = int(min(max(np.ceil(per_cell), 1), horizon))
    r, t = np.repeat(rows, reps), np.repeat(cols, reps)
    h = rng.integers(1, horizon + 1, size=len(r))
    o = t - h
    keep = o >= grid.first[r] + grid.lay.m
    r, o, h = r[keep], o[keep], h[keep]
    keep = ~np.isnan(grid.direct_base(r, o, h))
    r, o, h = r[keep], o[keep], h[keep]
    want = int(min(max_rows, per_cell * len(rows)))
    if counts is not None:
        counts["candidates"] = int(len(r))
    if len(r) > want:
        age = (grid.end - o).astype(float)
        w = 1.0 / (1.0 + age / max(4 * grid.lay.margin, 1))
        pick = np.sort(rng.choice(len(r), size=want, replace=False, p=w / w.sum()))
        r, o, h = r[pick], o[pick], h[pick]
    return r, o, h


def _fit_booster(grid: _Grid, static: np.ndarray, params: dict, seed: int, progress: bool, desc: str,
                 kind: str = "recursive"):
    """Train the one-step (``recursive``) or the multi-horizon (``direct``) model; None if no data."""
    from tqdm.auto import tqdm

    lgb = _lightgbm()
    rng = np.random.default_rng(seed)
    cums = grid.cumsums()
    counts: dict = {}
    if kind == "direct":
        rows, origins, hs = _direct_cells(grid, grid.h, float(params["direct_samples"]),
                                          int(params["max_train_rows"]), rng, counts)
        if len(rows) < 10:
            return None
        feats = grid.features_direct(rows, origins, hs, static, cums)
        label = grid.target[rows, origins + hs] - grid.direct_base(rows, origins, hs)
        names = grid.direct_names(static.shape[1])
    else:
        rows, cols = _train_cells(grid, int(params["max_train_rows"]), rng, counts)
        if len(rows) < 10:
            return None
        feats = grid.features(rows, cols, static, cums=cums)
        label = grid.target[rows, cols] - grid.X[rows, cols - grid.lay.m]
        names = grid.feature_names(static.shape[1])
    del cums
    cat = [j for j, nme in enumerate(names) if nme.startswith("static")]
    n_trees = int(params["num_trees"])
    lgb_params = _lgb_params(params, seed)
    effort = {"mode": "full", "rows": int(len(label)), "candidates": counts["candidates"], "num_trees": n_trees,
              "num_leaves": lgb_params["num_leaves"]}
    if params["effort"] == "auto" and len(label) < _AUTO_EFFORT_ROWS:
        # small data: fewer leaves, and as many rounds as early stopping on the most recent
        # tenth of the training rows asks for; then refit on all rows with that many
        lgb_params["num_leaves"] = int(min(lgb_params["num_leaves"], max(15, len(label) // 800)))
        t_of = (origins + hs) if kind == "direct" else cols
        recent = t_of >= np.quantile(t_of, 0.9)
        if recent.sum() >= 50 and (~recent).sum() >= 50:
            tr = lgb.Dataset(feats[~recent], label=label[~recent], feature_name=names, categorical_feature=cat or "auto",
                             params={"max_bin": 255, "verbosity": -1}, free_raw_data=False)
            va = lgb.Dataset(feats[recent], label=label[recent], reference=tr)
            probe = lgb.train(lgb_params, tr, num_boost_round=n_trees, valid_sets=[va],
                              callbacks=[lgb.early_stopping(_EARLY_STOPPING_ROUNDS, verbose=False)])
            n_trees = int(max(probe.best_iteration or n_trees, 20))
        effort.update(mode="auto", num_trees=n_trees, num_leaves=lgb_params["num_leaves"])
    ds = lgb.Dataset(feats, label=label, feature_name=names, categorical_feature=cat or "auto",
                     params={"max_bin": 255, "verbosity": -1}, free_raw_data=True)
    bar = tqdm(total=n_trees, desc=desc, disable=not progress, leave=False)

    def _tick(env):
        bar.update(1)

    try:
        booster = lgb.train(lgb_params, ds, num_boost_round=n_trees, callbacks=[_tick])
    finally:
        bar.close()
    booster.fc_effort = effort
    return booster


def _kinds(strategy: str) -> list[str]:
    return ["recursive", "direct"] if strategy == "ensemble" else [strategy]


def _kind_of(key: str) -> str:
    """The strategy of a model key: ``direct``, ``direct_2``, ... (bags) are all ``direct``."""
    return key.split("_")[0]


def _boosters(models: dict, kind: str) -> list:
    """The boosters (all bags) of one strategy."""
    return [b for k, b in models.items() if _kind_of(k) == kind]


def _fit_models(grid: _Grid, static: np.ndarray, params: dict, seed: int, progress: bool, desc: str) -> dict:
    """The boosters of the strategy, ``bags`` times each with its own seed (row sampling, feature
    subsets and the direct model's horizon draws differ); keys ``direct``, ``direct_2``, ..."""
    out = {}
    bags = int(params.get("bags", 1))
    for b in range(bags):
        for j, kind in enumerate(_kinds(params["strategy"])):
            key = kind if b == 0 else f"{kind}_{b + 1}"
            label = f"{desc} ({kind})" if bags == 1 else f"{desc} ({kind}, bag {b + 1}/{bags})"
            bst = _fit_booster(grid, static, params, seed + 17 * j + 7919 * b, progress, label, kind)
            if bst is not None:
                out[key] = bst
    return out


def _predict_x(models: dict, grid: _Grid, static: np.ndarray, rows: np.ndarray, num_threads: int) -> np.ndarray:
    """x-space forecasts (len(rows), H): the average of the models' forecasts (each strategy's bags
    averaged first, then the strategies)."""
    H = grid.h
    by_kind: dict = {}
    direct = _boosters(models, "direct")
    if direct and len(rows):
        R = np.repeat(rows, H)
        O = np.full(len(R), grid.end)
        hs = np.tile(np.arange(1, H + 1), len(rows))
        feats = grid.features_direct(R, O, hs, static, grid.cumsums())
        d = np.mean([b.predict(feats, num_threads=num_threads) for b in direct], axis=0)
        by_kind["direct"] = (d + grid.direct_base(R, O, hs)).reshape(len(rows), H)
    recursive = _boosters(models, "recursive")
    if recursive:
        by_kind["recursive"] = np.mean([_recursive(b, grid, static, rows, num_threads=num_threads)
                                        for b in recursive], axis=0)
    if not by_kind:
        return np.full((len(rows), H), np.nan)
    return np.mean(list(by_kind.values()), axis=0)


def _recursive(booster, grid: _Grid, static: np.ndarray, rows: np.ndarray | None = None,
               num_threads: int = 1) -> np.ndarray:
    """Forecast ``grid.h`` steps for ``rows`` by feeding predictions back; returns x-space (n, H)."""
    rows = np.arange(grid.X.shape[0]) if rows is None else rows
    out = np.full((len(rows), grid.h), np.nan)
    if not len(rows):
        return out
    m = grid.lay.m
    for h in range(1, grid.h + 1):
        c = grid.end + h
        cols = np.full(len(rows), c)
        d = booster.predict(grid.features(rows, cols, static), num_threads=num_threads)
        x = d + grid.X[rows, c - m]
        grid.X[rows, c] = x
        grid.D[rows, c] = d
        out[:, h - 1] = x
    return out


def _threads(params: dict) -> int:
    return int(params["num_threads"] or os.cpu_count() or 1)

