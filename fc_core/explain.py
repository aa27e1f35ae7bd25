"""Explainability: impact scores of the user's attributes (Amazon Forecast's Explainability).

An *attribute* is what the user gave besides the target: a related time series field
(``price``, ``temp``) or an item metadata column (``category``). For each forecast
time point of each item, its **raw impact score** is its Shapley value: its share of
the difference between the median (``p50``) forecast and the forecast the model gives
when no attribute carries information, in the target's units. Positive raises the
forecast, negative lowers it; the raw scores of an item and time point add up to
that difference (the Shapley efficiency property).

How the Shapley values are computed
-----------------------------------
* **GBM, GBM-L2 (direct strategy): TreeSHAP**, LightGBM's own exact Shapley values
  of the tree model (``pred_contrib=True``). Each attribute's derived features (for a
  related field: its value at the target time, relative to the item's mean, its change
  over a season and since the forecast origin; for a metadata column: its category
  code) are summed, so the scores are per attribute. TreeSHAP works in the model's
  own space (the log of the scaled target); the scores are turned into target units
  by the local slope of the back-transform at the forecast (``dF/dx``), so they add
  up to the forecast change to first order. The features made from the target's own
  history and the calendar are not attributes. TreeSHAP costs grow with the trees'
  depth squared; ``method="baseline"`` instead re-predicts the booster for every
  coalition of attributes with the left-out ones at their baseline (below): exact
  Shapley values of that game from ``2^k`` ordinary predictions, much faster on deep
  trees (``bench/RESULTS.md``, "Explainability").
* **Every other model that uses attributes (MLP-QR, DeepAR+, Prophet's regressors,
  GBM's recursive strategies): Shapley values by re-forecasting.** An attribute left
  out of a coalition is replaced by a baseline - a related field by each item's own
  mean over its history (so only its variation carries information), a
  metadata column by "unknown" (the empty value) - and the items are forecast again.
  A local model that fits each series inside ``predict`` (Prophet) keeps the related
  history it was fitted on and only the horizon's values are replaced, so the fit is
  the same and an additive regressor gets exactly its own term.
  With at most ``exact_max`` attributes every coalition is forecast (exact Shapley
  values, ``2^k`` forecasts); with more, ``n_permutations`` random orders drawn with
  ``seed`` are walked (permutation sampling, Strumbelj and Kononenko 2014), which
  still adds up exactly and gives the same numbers for the same seed.
* ARIMA, ETS, NPTS, Theta, MSTL and the baselines use no attributes and give no
  scores (as in Amazon Forecast); the explanation says so.

Normalized scores and the two forms
-----------------------------------
``normalized_impact_score`` is the raw score divided by the largest absolute raw score
of the explanation, so it lies in -1..1 and compares within one explanation (as in
Amazon Forecast, raw scores compare across explanations, normalized ones do not).
*Forecast explainability* (``items=...``) scores chosen items (at most
:data:`MAX_SERIES`) and time points (at most :data:`MAX_TIME_POINTS`), Amazon
Forecast's limits. *Predictor explainability* (no ``items``) aggregates over items
(a seeded sample of ``max_items`` where there are more) and the whole horizon: an
attribute's magnitude is its mean absolute raw score; its sign says whether a higher
value raises the forecast (the sign of the correlation between a related field's
value and its score) or, for metadata, the sign of its mean score.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .errors import ConfigError
from .panel import Panel

MAX_SERIES = 50          # Amazon Forecast's limit for forecast explainability
MAX_TIME_POINTS = 500
PREDICTOR_SAMPLE = 50    # items sampled for predictor explainability by re-forecasting
TREE_SAMPLE = 1000       # ... by TreeSHAP (cheap)
EXACT_MAX = 6            # exact Shapley values up to this many attributes (2^k forecasts)
SCORE_COLUMNS = ["raw_impact_score", "normalized_impact_score"]


# ------------------------------------------------------------------ result
@dataclass
class Explanation:
    """Impact scores of one predictor (or AutoPredictor).

    Attributes
    ----------
    frame : DataFrame
        One row per item, time point and attribute: the key columns, ``timestamp``,
        ``attribute``, ``value`` (the related field's value there; NaN for metadata),
        ``raw_impact_score``, ``normalized_impact_score``.
    key_columns : list of str
    attributes : list of str
        The attributes the predictor uses (empty: it gives no scores).
    level : {"predictor", "forecast"}
        Aggregated (``predictor.explain()``) or per item and time point (``items=...``).
    method : str
        How the Shapley values were computed.
    notes : list of str
        Everything the user should know: sampling, limits, models without attributes.
    items : DataFrame
        Per explained item (AutoPredictor): the blend weight of models that use attributes.
    """

    frame: pd.DataFrame
    key_columns: list
    attributes: list
    level: str
    algorithm: str
    method: str
    notes: list = field(default_factory=list)
    items: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return not self.attributes or self.frame.empty

    def predictor_level(self) -> pd.DataFrame:
        """One row per attribute, largest impact first: ``attribute``, ``raw_impact_score``
        (signed mean absolute score), ``normalized_impact_score`` (-1..1), ``direction``."""
        return aggregate(self.frame, self.attributes)

    def item(self, item) -> pd.DataFrame:
        """One item's impact over time: ``timestamp`` then one column per attribute (raw scores;
        with forecast dimensions, summed over the item's series, as its forecasts add up).

        Raises
        ------
        ConfigError
            For an item that is not in the explanation.
        """
        col = self.key_columns[0]
        rows = self.frame[self.frame[col].astype(str) == str(item)]
        if rows.empty:
            have = sorted(self.frame[col].astype(str).unique())[:10]
            raise ConfigError(f"item {item!r} is not in this explanation; explained items include {have}.")
        wide = rows.pivot_table(index="timestamp", columns="attribute", values="raw_impact_score", aggfunc="sum")
        return wide.reindex(columns=[a for a in self.attributes if a in wide.columns]).reset_index()

    def to_frame(self) -> pd.DataFrame:
        """The export layout: predictor level (one row per attribute) or forecast level
        (item keys, ISO ``timestamp``, attribute, raw and normalized score)."""
        if self.level == "predictor":
            return self.predictor_level()[["attribute", *SCORE_COLUMNS]]
        out = self.frame[[*self.key_columns, "timestamp", "attribute", *SCORE_COLUMNS]].copy()
        out["timestamp"] = pd.to_datetime(out["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out

    def export(self, path, fmt: str | None = None) -> str:
        """Write :meth:`to_frame` to ``path`` as CSV or Parquet (by ``fmt`` or the suffix)."""
        from .io import write_frame

        return write_frame(self.to_frame(), path, fmt)

    def summary(self) -> str:
        """A few lines for a notebook: what was explained, how, and the notes."""
        n_items = self.frame[self.key_columns[0]].nunique() if not self.frame.empty else 0
        head = (f"{self.algorithm}: {self.level} explainability of {n_items} item(s) over "
                f"{len(self.attributes)} attribute(s) ({', '.join(self.attributes) or 'none'}); method: {self.method}.")
        return "\n".join([head, *self.notes])


def aggregate(frame: pd.DataFrame, attributes: list) -> pd.DataFrame:
    """Predictor-level scores from per item/time scores (see the module docstring).

    Magnitude: mean ``|raw|``; sign: the correlation of a related field's value with its
    score (does a higher value raise the forecast?), else the sign of the mean score.

    >>> f = pd.DataFrame({"attribute": ["price"] * 3 + ["color"] * 3, "value": [8, 10, 12, None, None, None],
    ...                   "raw_impact_score": [2.0, 0.0, -2.0, 0.5, -0.5, 0.5]})
    >>> aggregate(f, ["color", "price"]).round(3).values.tolist()
    [['price', -1.333, -1.0, 'lowers'], ['color', 0.5, 0.375, 'raises']]
    """
    rows = []
    for a in attributes:
        f = frame[frame["attribute"] == a]
        raw = f["raw_impact_score"].to_numpy(dtype=float)
        mag = float(np.nanmean(np.abs(raw))) if len(raw) else 0.0
        v = f["value"].to_numpy(dtype=float) if "value" in f else np.full(len(raw), np.nan)
        ok = np.isfinite(v) & np.isfinite(raw)
        sign = 0.0
        if ok.sum() > 2 and np.std(v[ok]) > 0 and np.std(raw[ok]) > 0:
            sign = float(np.sign(np.corrcoef(v[ok], raw[ok])[0, 1]))
        if sign == 0.0 and len(raw):
            sign = float(np.sign(np.nanmean(raw))) or 1.0
        rows.append({"attribute": a, "raw_impact_score": sign * mag})
    out = pd.DataFrame(rows, columns=["attribute", "raw_impact_score"])
    top = float(out["raw_impact_score"].abs().max()) if len(out) else 0.0
    out["normalized_impact_score"] = out["raw_impact_score"] / top if top > 0 else 0.0
    out["direction"] = np.where(out["raw_impact_score"] > 0, "raises", np.where(out["raw_impact_score"] < 0,
                                                                                 "lowers", "none"))
    return out.sort_values("raw_impact_score", key=np.abs, ascending=False, kind="stable").reset_index(drop=True)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``normalized_impact_score``: raw / the largest absolute raw score (-1..1)."""
    top = float(frame["raw_impact_score"].abs().max()) if len(frame) else 0.0
    frame["normalized_impact_score"] = frame["raw_impact_score"] / top if top > 0 else 0.0
    return frame


# ------------------------------------------------------------ selection
def no_attributes_note(name: str, panel: Panel, members: list | None = None) -> str:
    """Why there are no impact scores: the data has no attributes, or the model(s) use none."""
    if panel.related is None and panel.static is None:
        return (f"{name}: the data has no related time series or item metadata, so there are no impact scores "
                "(give related_path or item_metadata_path to see which attributes move the forecast).")
    who = f"its models ({', '.join(members)}) use" if members else "it uses"
    return (f"{name}: {who} no attributes (related time series, item metadata or holidays), so there are no impact "
            "scores (like Amazon Forecast's ARIMA, ETS and NPTS); GBM, GBM-L2, MLP-QR, DeepAR+ and Prophet use them.")


def choose_rows(panel: Panel, items=None, max_items: int = PREDICTOR_SAMPLE, seed: int = 0) -> tuple[np.ndarray, list]:
    """Positions of the series to explain, and notes.

    ``items`` given: those (at most :data:`MAX_SERIES`). Otherwise every item with history,
    or a seeded sample of ``max_items`` of them.

    Raises
    ------
    ConfigError
        For unknown items or more than :data:`MAX_SERIES`.
    """
    col = panel.key_columns[0]
    ids = panel.keys[col].astype(str)
    if items is not None:
        want = [str(items)] if isinstance(items, (str, int)) else [str(i) for i in items]
        missing = sorted(set(want) - set(ids))
        if missing:
            raise ConfigError(f"item(s) {missing[:10]} are not in the data; check the {col} values.")
        rows = np.flatnonzero(ids.isin(set(want)).to_numpy())
        if len(rows) > MAX_SERIES:
            raise ConfigError(f"forecast explainability covers at most {MAX_SERIES} series per call (Amazon "
                              f"Forecast's limit), {len(rows)} were asked; explain them in several calls (raw "
                              "scores compare across calls).")
        return rows, []
    rows = np.flatnonzero(panel.lengths > 0)
    notes = []
    if len(rows) > max_items:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_items, replace=False))
        notes.append(f"predictor explainability from a random sample of {max_items} of {int((panel.lengths > 0).sum())} "
                     f"items (seed {seed}); pass max_items=... for more.")
    return rows, notes


def time_mask(panel: Panel, horizon: int, start=None, end=None) -> tuple[np.ndarray, np.ndarray]:
    """Forecast timestamps (n, H) of ``panel`` and the mask of those in ``[start, end]``.

    Raises
    ------
    ConfigError
        When no time point, or more than :data:`MAX_TIME_POINTS`, fall in the range.
    """
    ts = np.stack([t.values for t in panel.future_timestamps(horizon)]) if panel.n_series else np.zeros((0, horizon),
                                                                                                       "datetime64[ns]")
    keep = np.ones(ts.shape, dtype=bool)
    if start is not None:
        keep &= ts >= np.datetime64(pd.Timestamp(start))
    if end is not None:
        keep &= ts <= np.datetime64(pd.Timestamp(end))
    if (start is not None or end is not None) and panel.n_series and not keep.any():
        raise ConfigError(f"no forecast time point lies between {start} and {end}; the forecasts run from "
                          f"{pd.Timestamp(ts.min())} to {pd.Timestamp(ts.max())}.")
    n_points = len(np.unique(ts[keep]))
    if n_points > MAX_TIME_POINTS:
        raise ConfigError(f"forecast explainability covers at most {MAX_TIME_POINTS} time points (Amazon Forecast's "
                          f"limit), {n_points} were asked; narrow start/end.")
    return ts, keep


# --------------------------------------------------- masking attributes
def masked(panel: Panel, attributes: list[tuple[str, str]], keep, future_only: bool = False) -> Panel:
    """``panel`` with every attribute not in ``keep`` replaced by its baseline: a related
    field by each item's own mean over its history (``future_only``: over the forecast
    horizon only), a metadata column by ``""``."""
    from dataclasses import replace

    drop = [a for a in attributes if a not in keep]
    if not drop:
        return panel
    related, static = panel.related, panel.static
    rel_cols = [list(panel.related_names).index(n) for k, n in drop if k == "related"]
    if rel_cols:
        related = related.copy()
        ptr = panel.related_indptr
        for i in range(panel.n_series):
            blk = related[ptr[i]:ptr[i + 1], rel_cols]
            hist = blk[:int(panel.lengths[i])]
            hist = hist if np.isfinite(hist).any() else blk  # a cold-start item: its future values
            with np.errstate(all="ignore"):
                mu = np.nanmean(hist, axis=0) if len(hist) else np.zeros(len(rel_cols))
            new = np.where(np.isnan(blk), blk, np.nan_to_num(mu)[None, :])
            if future_only:
                new[:int(panel.lengths[i])] = blk[:int(panel.lengths[i])]
            related[ptr[i]:ptr[i + 1], rel_cols] = new
    meta = [n for k, n in drop if k == "metadata"]
    if meta:
        static = static.copy()
        static[meta] = ""
    return replace(panel, related=related, static=static)


def shapley_values(value: Callable[[frozenset], np.ndarray], players: list, n_permutations: int = 20,
                   seed: int = 0, exact_max: int = EXACT_MAX, progress: bool = False,
                   desc: str = "explain") -> tuple[np.ndarray, np.ndarray, str]:
    """Shapley values (..., k) of ``players`` for the game ``value(coalition) -> array``, the
    value of the empty coalition, and how they were computed.

    Exact over all ``2^k`` coalitions when ``k <= exact_max``; otherwise ``n_permutations``
    seeded random orders (each order's increments add up, so the values still do).
    """
    from tqdm.auto import tqdm

    k = len(players)
    cache: dict = {}
    exact = k <= exact_max
    bar = tqdm(total=2 ** k if exact else n_permutations * k + 1, desc=desc, disable=not progress, leave=False)

    def v(S: frozenset) -> np.ndarray:
        if S not in cache:
            cache[S] = np.asarray(value(S), dtype=float)
            bar.update(1)
        return cache[S]

    try:
        empty = v(frozenset())
        phi = np.zeros(empty.shape + (k,))
        if exact:
            for j, a in enumerate(players):
                others = [b for b in players if b != a]
                for size in range(k):
                    w = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                    for S in itertools.combinations(others, size):
                        S = frozenset(S)
                        phi[..., j] += w * (v(S | {a}) - v(S))
            method = f"exact Shapley values ({2 ** k} coalitions)"
        else:
            rng = np.random.default_rng(seed)
            for _ in range(n_permutations):
                S, prev = frozenset(), empty
                for j in rng.permutation(k):
                    S = S | {players[j]}
                    cur = v(S)
                    phi[..., j] += cur - prev
                    prev = cur
            phi /= n_permutations
            method = f"Shapley values from {n_permutations} sampled orders (seed {seed})"
    finally:
        bar.close()
    return phi, empty, method


def shapley_by_reforecast(forecast: Callable[[Panel], np.ndarray], panel: Panel, attributes: list[tuple[str, str]],
                          n_permutations: int = 20, seed: int = 0, exact_max: int = EXACT_MAX,
                          progress: bool = False, future_only: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """Shapley values (n, H, k) of ``attributes`` for ``forecast(panel) -> (n, H)``, the
    forecast with no attribute (n, H), and the method's name: :func:`shapley_values` of the
    game whose coalitions keep their attributes and replace the others (:func:`masked`).
    Either way the values of a cell add up to ``forecast(panel) - forecast(no attribute)``.
    """
    phi, empty, how = shapley_values(lambda S: forecast(masked(panel, attributes, S, future_only)), attributes,
                                     n_permutations, seed, exact_max, progress, "explain (re-forecasting)")
    exact = how.startswith("exact")
    method = (f"exact Shapley values by re-forecasting ({2 ** len(attributes)} forecasts)" if exact else
              f"Shapley values by re-forecasting, {n_permutations} sampled orders (seed {seed})")
    return phi, empty, method


# ------------------------------------------------------------ the driver
def attribute_labels(attributes: list[tuple[str, str]]) -> list[str]:
    """Names shown to the user: the field or column name (prefixed where a related field and a
    metadata column share a name)."""
    names = [n for _, n in attributes]
    return [f"{k}:{n}" if names.count(n) > 1 else str(n) for k, n in attributes]


def explain_panel(predictor, panel: Panel, n_permutations: int = 20, seed: int = 0, progress: bool = False,
                  method: str = "auto") -> tuple[pd.DataFrame, list, str]:
    """Raw scores of every series of ``panel`` over the whole horizon, the attribute names,
    and the method (``predictor`` is a trained fc_core Predictor; ``method``: ``"auto"``,
    ``"tree"``, ``"baseline"`` (GBM's booster re-predicted with attributes at their baseline)
    or ``"reforecast"``)."""
    if method not in ("auto", "tree", "baseline", "reforecast"):
        raise ConfigError(f"explain method {method!r}: choose 'auto', 'tree', 'baseline' or 'reforecast'.")
    attributes = predictor.explain_attributes()
    labels = attribute_labels(attributes)
    H = predictor.estimator.forecast_horizon
    if not attributes:
        return _long(panel, H, np.zeros((panel.n_series, H, 0)), [], attributes), [], "none"
    tree = getattr(predictor, "tree_shap_available", lambda: False)()
    if method in ("tree", "baseline") and not tree:
        raise ConfigError(f"explain method {method!r} needs GBM's direct model; {predictor.name} is explained by "
                          "re-forecasting (method='auto').")
    if tree and method in ("auto", "tree"):
        phi, method = predictor.tree_contributions(panel), "TreeSHAP (LightGBM pred_contrib), features summed per attribute"
    elif tree and method == "baseline":
        phi, how = predictor.baseline_contributions(panel, n_permutations, seed)
        method = f"{how} of the GBM booster, attributes at their baseline, re-predicted"
    else:
        def forecast(p: Panel) -> np.ndarray:
            return predictor.predict_arrays(p, levels=[0.5]).quantile(0.5)

        local = predictor.estimator.capabilities.local  # fits each series inside predict: keep its history
        phi, _, method = shapley_by_reforecast(forecast, panel, attributes, n_permutations, seed, progress=progress,
                                               future_only=local)
        if local:
            method += "; history kept, the horizon's values replaced (the fit stays the same)"
    return _long(panel, H, phi, labels, attributes), labels, method


def _long(panel: Panel, H: int, phi: np.ndarray, labels: list, attributes: list) -> pd.DataFrame:
    """Long frame of raw scores (n, H, k) with each related field's value at the time point."""
    n, k = panel.n_series, len(labels)
    ts = np.stack([t.values for t in panel.future_timestamps(H)]) if n else np.zeros((0, H), "datetime64[ns]")
    values = np.full((n, H, k), np.nan)
    for j, (kind, name) in enumerate(attributes):
        if kind == "related" and panel.related is not None and name in panel.related_names:
            c = list(panel.related_names).index(name)
            for i in range(n):
                r = panel.related_series(i)[:, c]
                seg = r[int(panel.lengths[i]):int(panel.lengths[i]) + H]
                values[i, :len(seg), j] = seg
    out = {c: np.repeat(panel.keys[c].to_numpy(), H * k) for c in panel.key_columns}
    out["timestamp"] = np.repeat(ts.reshape(-1), k)
    out["attribute"] = np.tile(np.asarray(labels, dtype=object), n * H)
    out["value"] = values.reshape(-1)
    out["raw_impact_score"] = phi.reshape(-1)
    return pd.DataFrame(out)


def explain(predictor, panel: Panel, items=None, start=None, end=None, max_items: int | None = None,
            n_permutations: int = 20, seed: int = 0, progress: bool = False, method: str = "auto") -> Explanation:
    """Impact scores of ``predictor`` (see :meth:`fc_core.algorithms.base.Predictor.explain`)."""
    H = predictor.estimator.forecast_horizon
    attributes = predictor.explain_attributes()
    tree = bool(getattr(predictor, "tree_shap_available", lambda: False)())
    if max_items is None:
        max_items = TREE_SAMPLE if tree else PREDICTOR_SAMPLE
    rows, notes = choose_rows(panel, items, max_items, seed)
    sub = panel.select(rows)
    ts, keep = time_mask(sub, H, start, end)
    level = "predictor" if items is None and start is None and end is None else "forecast"
    if not attributes:
        notes.append(no_attributes_note(predictor.name, panel))
    frame, labels, method = explain_panel(predictor, sub, n_permutations, seed, progress, method)
    frame = frame[np.repeat(keep.reshape(-1), len(labels))].reset_index(drop=True)
    return Explanation(normalize(frame), sub.key_columns, labels, level, predictor.name, method, notes)


def combine(frames: dict, weights: pd.DataFrame, key_columns: list) -> pd.DataFrame:
    """Blend members' raw scores with each item's weights.

    ``frames``: algorithm -> long frame of raw scores; ``weights``: one row per item (key
    columns) with one weight column per algorithm. An attribute's score is the weighted
    sum of the members' scores (a member without the attribute counts 0).
    """
    parts = []
    for a, f in frames.items():
        if f.empty or a not in weights:
            continue
        g = f.merge(weights[[*key_columns, a]], on=key_columns, how="left")
        g["raw_impact_score"] = g["raw_impact_score"] * g[a].fillna(0.0)
        parts.append(g.drop(columns=[a]))
    cols = [*key_columns, "timestamp", "attribute", "value", "raw_impact_score"]
    if not parts:
        return pd.DataFrame(columns=cols)
    allf = pd.concat(parts, ignore_index=True)
    out = allf.groupby([*key_columns, "timestamp", "attribute"], sort=False, as_index=False).agg(
        value=("value", "first"), raw_impact_score=("raw_impact_score", "sum"))
    return out[cols]


def explain_blend(members: dict, panel: Panel, weights: pd.DataFrame, items=None, start=None, end=None,
                  max_items: int | None = None, n_permutations: int = 20, seed: int = 0, progress: bool = False,
                  name: str = "AutoPredictor") -> Explanation:
    """Impact scores of a blend (the AutoPredictor): each member's scores, weighted per item.

    ``members``: algorithm -> trained predictor; ``weights``: one row per series of ``panel``
    (same order) with one column per algorithm (each row summing to 1). Members that use no
    attributes contribute 0; items forecast only by such members are listed in the notes.
    """
    using = {a: p for a, p in members.items() if p.explain_attributes()}
    H = next(iter(members.values())).estimator.forecast_horizon
    tree = bool(using) and all(getattr(p, "tree_shap_available", lambda: False)() for p in using.values())
    rows, notes = choose_rows(panel, items, max_items or (TREE_SAMPLE if tree else PREDICTOR_SAMPLE), seed)
    sub = panel.select(rows)
    time_mask(sub, H, start, end)  # checks the limits
    w = weights.iloc[rows].reset_index(drop=True)
    keys = sub.keys.reset_index(drop=True)
    frames, methods, labels = {}, [], []
    for a, p in using.items():
        if a in w and (w[a] > 0).any():
            f, lab, meth = explain_panel(p, sub, n_permutations, seed, progress)
            frames[a] = f
            methods.append(f"{a}: {meth}")
            labels += [x for x in lab if x not in labels]
    share = w[[a for a in using if a in w]].sum(axis=1) if using else pd.Series(0.0, index=w.index)
    table = keys.assign(attribute_model_weight=share.to_numpy(),
                        models=[" + ".join(f"{a} {v:.2f}" for a, v in r.items() if v > 0) for _, r in w.iterrows()])
    if not using:
        notes.append(no_attributes_note(name, panel, list(members)))
    none = table[table["attribute_model_weight"] <= 0]
    if len(using) and len(none):
        ids = ", ".join(map(str, none[sub.key_columns[0]].head(10)))
        notes.append(f"{len(none)} of {len(table)} item(s) are forecast only by models that use no attributes, so "
                     f"their scores are 0: {ids}{' ...' if len(none) > 10 else ''}.")
    part = table[(table["attribute_model_weight"] > 0) & (table["attribute_model_weight"] < 1)]
    if len(part):
        notes.append(f"{len(part)} item(s) blend models with and without attributes; their scores are weighted by "
                     "the blend weights (column attribute_model_weight of .items).")
    frame = combine(frames, pd.concat([keys, w], axis=1), sub.key_columns)
    if start is not None:
        frame = frame[pd.to_datetime(frame["timestamp"]) >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[pd.to_datetime(frame["timestamp"]) <= pd.Timestamp(end)]
    frame = normalize(frame.reset_index(drop=True).astype({"raw_impact_score": float}))
    level = "predictor" if items is None and start is None and end is None else "forecast"
    return Explanation(frame, sub.key_columns, labels, level, name, "; ".join(methods) or "none", notes, table)
