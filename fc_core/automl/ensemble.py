"""The AutoPredictor's ensemble: scores, blend weights checked on held-out windows, per-item choices.

Weights are chosen greedily on the backtest forecasts (forward selection with replacement,
Caruana et al. 2004); quantiles are averaged level by level (:func:`_blend_arrays`); an item whose
backtests a candidate or a pair beats the blend in every window uses that instead
(:meth:`_EnsembleMixin._choose_labels`). Candidates that fell back on most items stay out
(:func:`_fallback_summaries`, :func:`_blend_candidates`, :func:`fallback_text`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..algorithms.base import ForecastArrays
from ..backtest import BacktestWindow
from ..errors import ConfigError
from ..panel import Panel
from .presets import DEFAULT_SWITCH_MARGIN, ENSEMBLE, SWITCH_MARGINS


@dataclass
class _ScoredItems:
    """What scoring needs of a backtest window's training data: the items' keys and their MASE/MSIS
    denominators, computed once. Every evaluation of the window reads them, and the training panel
    (all items' histories) need not be kept beside the other windows' until the ensemble is built."""

    keys: pd.DataFrame
    scale: np.ndarray
    season_length: int

    @classmethod
    def of(cls, panel: Panel, season_length: int) -> "_ScoredItems":
        from ..metrics import insample_scale

        return cls(panel.keys, insample_scale(panel, panel.n_series, season_length), int(season_length))

    @classmethod
    def concat(cls, parts: list) -> "_ScoredItems":
        """The items of several windows one after the other (for pooled scoring across windows)."""
        if len(parts) == 1:
            return parts[0]
        return cls(pd.concat([p.keys for p in parts], ignore_index=True), np.concatenate([p.scale for p in parts]),
                   parts[0].season_length)

    def mase_scale(self, n: int, season_length: int) -> np.ndarray:
        if n != len(self.scale) or int(season_length) != self.season_length:
            raise ConfigError(f"the scales were computed for {len(self.scale)} items and season {self.season_length}; "
                              f"scoring asks for {n} items and season {season_length}.")
        return self.scale

    def key_strings(self, sep: str = "\x1f") -> np.ndarray:
        """As :meth:`Panel.key_strings`."""
        k = self.keys.astype(str)
        return k.iloc[:, 0].to_numpy() if k.shape[1] == 1 else k.agg(sep.join, axis=1).to_numpy()


@dataclass
class _WindowResult:
    window: BacktestWindow
    rows: np.ndarray           # positions of scored items in the full panel
    actuals: np.ndarray        # (n, H)
    observed: np.ndarray       # (n, H)
    insample: _ScoredItems     # keys and MASE scales of the scored items' training data
    forecasts: dict            # algorithm -> ForecastArrays
    coverage: pd.DataFrame
    short_forecasts: dict = field(default_factory=dict)  # local algorithm -> forecasts from the history since a shift


# ------------------------------------------------------------------- helpers
def _blend_arrays(forecasts: dict, weights: dict) -> ForecastArrays:
    """Weighted average of forecasts level by level (quantile averaging) and of means."""
    tot = float(sum(weights.values()))
    first = next(iter(forecasts[a] for a in weights))
    q = np.zeros_like(first.quantiles)
    m = np.zeros_like(first.mean)
    for a, w in weights.items():
        if w <= 0:
            continue
        f = forecasts[a]
        q += (w / tot) * f.quantiles
        m += (w / tot) * f.mean
    return ForecastArrays(first.quantile_levels, np.sort(q, axis=-1), m, first.start)


def _concat_panels(panels: list[Panel]) -> Panel:
    """Stack the series of several panels (for pooled scoring across windows)."""
    if len(panels) == 1:
        return panels[0]
    lens = np.concatenate([p.lengths for p in panels])
    return Panel(keys=pd.concat([p.keys for p in panels], ignore_index=True),
                 starts=pd.DatetimeIndex(np.concatenate([p.starts.values for p in panels])),
                 indptr=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                 values=np.concatenate([p.values for p in panels]),
                 observed=np.concatenate([p.observed for p in panels]),
                 frequency=panels[0].frequency)


def _choice_array(choices) -> np.ndarray:
    """A 1-D object array of per-item choices (tuples of names); ``np.array`` would make it 2-D."""
    out = np.empty(len(choices), dtype=object)
    out[:] = [tuple(c) for c in choices]
    return out


def choice_label(choice) -> str:
    """How a per-item choice reads for people: ``"GBM"``, ``"DeepAR+ & GBM"`` (never parsed back)."""
    return " & ".join(choice)


def _choice_frame(keys: pd.DataFrame, choices) -> pd.DataFrame:
    out = keys.copy()
    out["algorithm"] = [choice_label(c) for c in choices]
    out["algorithms"] = list(_choice_array(choices))
    return out


def _best_single(loss, algos) -> str:
    """The candidate with the lowest ``loss`` alone (NaN counts as worst; ties go to the first)."""
    return min(algos, key=lambda a: (np.nan_to_num(loss({a: 1.0}), nan=np.inf), algos.index(a)))

def _greedy_weights(loss, algos, rounds: int = 20) -> dict:
    """Forward selection with replacement (Caruana et al. 2004) on the objective ``loss``."""
    counts = {a: 0 for a in algos}
    best_loss = np.inf
    for _ in range(rounds):
        cand_loss = {}
        for a in algos:
            trial = dict(counts)
            trial[a] += 1
            cand_loss[a] = loss(trial)
        a_best = min(cand_loss, key=lambda k: (np.nan_to_num(cand_loss[k], nan=np.inf), algos.index(k)))
        if cand_loss[a_best] >= best_loss - 1e-12 and sum(counts.values()) > 0:
            break
        counts[a_best] += 1
        best_loss = cand_loss[a_best]
    tot = sum(counts.values())
    return {a: c / tot for a, c in counts.items() if c > 0}


class _EnsembleMixin:
    """The AutoPredictor's scoring and ensemble methods (they read its metric, levels and settings)."""

    _best_single = staticmethod(_best_single)  # the former static methods' names
    _greedy_weights = staticmethod(_greedy_weights)

    def _score_one(self, name: str, r: _WindowResult, arr: ForecastArrays, season, metrics):
        """One leaderboard row and the per-item metrics of forecasts ``arr`` of window ``r``."""
        per_item, overall = metrics.evaluate(r.actuals, r.observed, arr, r.insample, season, quantiles=self.levels)
        row = {"algorithm": name, "backtest_window": r.window.index,
               "window_start": r.window.start, "window_end": r.window.end, **overall}
        fb = (arr.info or {}).get("fallback_summary")
        reasons = (arr.info or {}).get("fallback_reasons") or {}
        row["fallback_items"] = fb["fallback_items"] if fb else np.nan
        row["fallback_share"] = fb["fallback_share"] if fb else np.nan
        row["fallback_reasons"] = "; ".join(f"{k} {v}" for k, v in fb["reasons"].items()) if fb else ""
        row["clipped_at_zero_values"] = fb.get("clipped_at_zero_values", 0) if fb else np.nan  # the zero clip's work
        per_item = per_item.copy()
        per_item["fallback_reason"] = [reasons.get(k, "") for k in r.insample.key_strings("|")]
        per_item.insert(0, "algorithm", name)
        per_item.insert(1, "backtest_window", r.window.index)
        per_item.insert(2, "row", r.rows)
        return row, per_item

    def _score(self, results, algos, season, metrics):
        scored = [self._score_one(a, r, r.forecasts[a], season, metrics) for r in results for a in algos]
        return pd.DataFrame([x[0] for x in scored]), pd.concat([x[1] for x in scored], ignore_index=True)

    def _stack(self, results, fc_of):
        """Concatenate windows: actuals (N, H), observed, ForecastArrays, insample list."""
        A = np.concatenate([r.actuals for r in results])
        O = np.concatenate([r.observed for r in results])
        F = [fc_of(r) for r in results]
        arr = ForecastArrays(F[0].quantile_levels, np.concatenate([f.quantiles for f in F]),
                             np.concatenate([f.mean for f in F]),
                             pd.DatetimeIndex(np.concatenate([f.start.values for f in F])))
        return A, O, arr

    def _blend_objective(self, results, algos, season, metrics):
        """``loss(weights)``: the optimization metric of the blend, computed for every item and window
        on its own and averaged (each item counts once, whatever its volume), on ``results``.

        Pooled metrics such as wQL are dominated by the few largest items; weights chosen on them
        followed those items' luck in the backtest windows (on M4 Hourly, two of 414 series carry
        a quarter to 40% of the pooled wQL, and the pooled choice gave weak candidates 40% of the
        blend and did worse on held-out data). The leaderboard keeps Amazon Forecast's pooled metrics.
        """
        insample = _ScoredItems.concat([r.insample for r in results])
        A, O, _ = self._stack(results, lambda r: r.forecasts[algos[0]])
        stacked = {a: self._stack(results, lambda r, a=a: r.forecasts[a])[2] for a in algos}
        metric = self.optimization_metric

        def loss(weights: dict) -> float:
            per_item, overall = metrics.evaluate(A, O, _blend_arrays(stacked, weights), insample, season,
                                                 quantiles=self.levels)
            v = per_item[metric].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            return float(v.mean()) if len(v) else float(overall[metric])

        return loss

    def _checked_weights(self, results, algos, season, metrics) -> tuple[dict, dict]:
        """Blend weights, kept only if a blend beats the best single candidate on windows it was not
        chosen on.

        With two or more windows, for each window the weights and the best single candidate are
        chosen on the other windows and both are scored on the held-out one
        (:meth:`_blend_objective`). If the blends lose in total, the best single candidate
        (by the same objective on all windows) is used alone. Returns the weights and a record of
        the check (kept as ``ensemble_check_``).
        """
        objective = {}  # window positions -> loss function, each built once

        def loss_on(positions):
            key = tuple(positions)
            if key not in objective:
                objective[key] = self._blend_objective([results[k] for k in key], algos, season, metrics)
            return objective[key]

        everything = range(len(results))
        weights = _greedy_weights(loss_on(everything), algos)
        check = {"windows": len(results), "blend_weights": dict(weights)}
        if len(results) < 2 or len(weights) < 2:
            check["decision"] = "blend" if len(weights) > 1 else "single"
            return weights, check
        blend_loss = single_loss = 0.0
        rows = []
        for j, held in enumerate(results):
            rest_loss = loss_on([k for k in everything if k != j])
            w = _greedy_weights(rest_loss, algos)
            best = _best_single(rest_loss, algos)
            held_loss = loss_on([j])
            b, s1 = held_loss(w), held_loss({best: 1.0})
            rows.append({"held_out_window": held.window.index, "blend": b, "best_single": best, "single": s1,
                         "weights": w})
            blend_loss += b
            single_loss += s1
        check["held_out"] = rows
        if np.nan_to_num(blend_loss, nan=np.inf) < np.nan_to_num(single_loss, nan=np.inf):
            check["decision"] = "blend"
            return weights, check
        best = _best_single(loss_on(everything), algos)
        check["decision"] = f"single: {best}"
        return {best: 1.0}, check

    def _add_ensemble_scores(self, board, item_metrics, results, ens_results, season, metrics):
        scored = [self._score_one(ENSEMBLE, r, e, season, metrics) for r, e in zip(results, ens_results)]
        return (pd.concat([board, pd.DataFrame([x[0] for x in scored])], ignore_index=True),
                pd.concat([item_metrics, *[x[1] for x in scored]], ignore_index=True))

    def _apply_choice(self, forecasts: dict, glob: ForecastArrays, choices: np.ndarray) -> ForecastArrays:
        """The global blend with each item's own choice (a tuple of names) put in where it has one."""
        q, m = glob.quantiles.copy(), glob.mean.copy()
        choices = list(choices)
        for ch in set(choices) - {(ENSEMBLE,)}:
            sel = np.array([c == ch for c in choices], dtype=bool)
            b = _blend_arrays(forecasts, self.blend_weights(ch))
            q[sel], m[sel] = b.quantiles[sel], b.mean[sel]
        return ForecastArrays(glob.quantile_levels, np.sort(q, axis=-1), m, glob.start)

    def _item_score_table(self, results, glob_results, algos, season, metrics, n_series: int) -> dict:
        """Per window and item, the optimization metric of the global blend, of each candidate and of
        the even blend of every pair of candidates: ``label -> array (windows, n_series)`` (NaN where an
        item was not scored in a window)."""
        m = self.optimization_metric
        labels = {(ENSEMBLE,): None, **{(a,): {a: 1.0} for a in algos}}
        if len(algos) > 1:
            for i, x in enumerate(algos):
                for y in algos[i + 1:]:
                    labels[tuple(sorted((x, y)))] = {x: 0.5, y: 0.5}
        table = {lab: np.full((len(results), n_series), np.nan) for lab in labels}
        for w, (r, g) in enumerate(zip(results, glob_results)):
            for lab, wts in labels.items():
                arr = g if wts is None else (r.forecasts[lab[0]] if len(wts) == 1 else _blend_arrays(r.forecasts, wts))
                per_item, _ = metrics.evaluate(r.actuals, r.observed, arr, r.insample, season, quantiles=self.levels)
                table[lab][w, r.rows] = per_item[m].to_numpy()
        return table

    def _choose_labels(self, table: dict, algos, margin: float, windows) -> np.ndarray:
        """Per item (a tuple of names): the global blend, unless one candidate or the even blend of the
        item's two best candidates scored better on the item's backtests in ``windows`` by the relative
        ``margin`` on average and no worse in any single window (a choice that wins only once is noise)."""
        windows = list(windows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # items not scored in these windows: all-NaN
            means = {lab: np.nanmean(v[windows], axis=0) for lab, v in table.items()}
        n = len(means[(ENSEMBLE,)])
        labels = _choice_array([(ENSEMBLE,)] * n)
        if len(algos) < 2 or not self.item_selection or not np.isfinite(margin):
            return labels
        singles = np.stack([means[(a,)] for a in algos], axis=1)
        filled = np.where(np.isnan(singles), np.inf, singles)
        order = np.argsort(filled, axis=1, kind="stable")
        best_single = filled[np.arange(n), order[:, 0]]
        pair_lab = _choice_array([tuple(sorted((algos[i], algos[j]))) for i, j in order[:, :2]])
        pair_val = np.array([means[lab][k] for k, lab in enumerate(pair_lab)])
        pair_val = np.where(np.isnan(pair_val), np.inf, pair_val)
        use_pair = pair_val < best_single
        best_val = np.where(use_pair, pair_val, best_single)
        best_lab = _choice_array([pair_lab[k] if use_pair[k] else (algos[order[k, 0]],) for k in range(n)])
        base = means[(ENSEMBLE,)]
        better = np.isfinite(best_val) & ~np.isnan(base) & (best_val < base * (1 - margin) - 1e-12)
        # and consistently: the item's own choice must not lose to the blend in any scored window
        for w in windows:
            alt = np.array([table[lab][w, k] for k, lab in enumerate(best_lab)])
            ref = table[(ENSEMBLE,)][w]
            scored = ~np.isnan(alt) & ~np.isnan(ref)
            better &= ~scored | (alt <= ref + 1e-12)
        labels[better] = best_lab[better]
        return labels

    def _choose_margin(self, table, algos, n_windows: int) -> tuple[float, dict]:
        """The switch margin, chosen on the backtests by rotation: for each window, the items' choices
        are made on the other windows and scored on it, with the blend weights' objective (each item's
        own optimization metric, averaged over items and summed over the held-out windows); the
        margin that scores best wins (ties go to the larger margin). With one window,
        :data:`DEFAULT_SWITCH_MARGIN`. Also returns each margin's score.

        One window alone and a pooled metric made this choice follow a few large items' luck in
        that window (the reason the blend weights use per-item losses, see :meth:`_blend_objective`).
        """
        if self.item_switch_margin is not None:
            return float(self.item_switch_margin), {}
        if n_windows < 2 or len(algos) < 2 or not self.item_selection:
            return DEFAULT_SWITCH_MARGIN, {}
        losses = {}
        for margin in SWITCH_MARGINS:
            total = 0.0
            for held in range(n_windows):
                labels = self._choose_labels(table, algos, margin, [k for k in range(n_windows) if k != held])
                per_item = np.array([table[lab][held, k] for k, lab in enumerate(labels)], dtype=float)
                per_item = per_item[np.isfinite(per_item)]
                total += float(per_item.mean()) if len(per_item) else 0.0
            losses[margin] = total
        return min(losses, key=lambda k: (np.nan_to_num(losses[k], nan=np.inf), -k)), losses

    def _cold_start_blend(self) -> dict:
        """Weights for items with no history: the blend restricted to candidates that can forecast
        cold-start items (from item metadata), or an even blend of those kept."""
        able = [a for a, p in self.predictors_.items() if p.estimator.capabilities.cold_start]
        w = {a: self.weights_.get(a, 0.0) for a in able}
        if sum(w.values()) > 0:
            return {a: v for a, v in w.items() if v > 0}
        return {a: 1.0 for a in able}

    def blend_weights(self, choice) -> dict:
        """Weights of a per-item choice: a tuple of algorithm names (the global blend is
        ``("AutoPredictor",)``), blended evenly; a single name is one algorithm."""
        names = (choice,) if isinstance(choice, str) else tuple(choice)
        if names == (ENSEMBLE,):
            return dict(self.weights_)
        return {a: 1.0 / len(names) for a in names}


class _MetricsWithCustom:
    """:mod:`fc_core.metrics` with a user's metric added to every evaluation (per item and overall)."""

    def __init__(self, base, fn, name: str):
        self.base, self.fn, self.name = base, fn, name

    def evaluate(self, actuals, observed, forecast, insample, season_length, quantiles=None):
        per_item, overall = self.base.evaluate(actuals, observed, forecast, insample, season_length,
                                               quantiles=quantiles)
        if self.fn is None:
            return per_item, overall
        vals = np.full(len(actuals), np.nan)
        for i in range(len(actuals)):
            ok = np.asarray(observed[i], bool) & np.isfinite(actuals[i])
            if ok.any():
                try:
                    vals[i] = float(self.fn(np.asarray(actuals[i])[ok], np.asarray(forecast.mean[i])[ok]))
                except Exception as exc:
                    raise ConfigError(f"the optimization metric {self.name} failed: {type(exc).__name__}: {exc}; "
                                      "it must take (actual, forecast) 1-D arrays and return a number.") from exc
        per_item = per_item.copy()
        per_item[self.name] = vals
        fin = vals[np.isfinite(vals)]
        overall = {**overall, self.name: float(fin.mean()) if len(fin) else float("nan")}
        return per_item, overall


def _fallback_summaries(results, algos) -> dict:
    """Per algorithm, its fallbacks in the backtests: mean share of items, counts per reason, and
    whether it fell back on most items (then it is no blend candidate)."""
    from ..algorithms.guard import MOSTLY_FALLBACK_SHARE

    out = {}
    for a in algos:
        sums = [r.forecasts[a].info.get("fallback_summary") for r in results]
        sums = [x for x in sums if x]
        if not sums:
            continue
        reasons: dict = {}
        for x in sums:
            for k, v in x["reasons"].items():
                reasons[k] = max(reasons.get(k, 0), int(v))
        share = float(np.mean([x["fallback_share"] for x in sums]))
        # counts per backtest window, the worst window's (never items x windows, which reads as
        # more items than the data holds); each reason's count is likewise its largest in one window
        worst = max(sums, key=lambda x: x["fallback_items"])
        clipped = max(sums, key=lambda x: x.get("clipped_at_zero_values", 0))
        out[a] = {"items": int(worst["items"]), "fallback_items": int(worst["fallback_items"]),
                  "windows": len(sums), "fallback_share": round(share, 4), "reasons": reasons,
                  "mostly_fallback": share > MOSTLY_FALLBACK_SHARE,
                  "clipped_at_zero_items": int(clipped.get("clipped_at_zero_items", 0)),
                  "clipped_at_zero_values": int(clipped.get("clipped_at_zero_values", 0))}
    return out


def _blend_candidates(algos, fallbacks: dict) -> list:
    """The algorithms that may enter the blend: not those that fell back on most items (their
    scores are the fallback's, not their own), unless every algorithm did."""
    mostly = [a for a in algos if fallbacks.get(a, {}).get("mostly_fallback")]
    for a in mostly:
        warnings.warn(f"{a} fell back to seasonal naive on {fallbacks[a]['fallback_share']:.0%} of the items in the "
                      f"backtests ({fallbacks[a]['reasons']}); it is not used in the blend.", UserWarning, stacklevel=3)
    return [a for a in algos if a not in mostly] or list(algos)


def fallback_text(predictor) -> str:
    """One line saying, per algorithm, how many items got the fallback forecast in the backtests and why,
    and how many negative values the zero clip raised to 0 (the notebooks print it).

    >>> class P: fallbacks_ = {"GBM": {"items": 10, "fallback_items": 10, "fallback_share": 1.0,
    ...                                "reasons": {"history too short": 10}, "mostly_fallback": True}}
    >>> fallback_text(P())
    'Fallbacks in the backtests: GBM 10 of 10 items (100%: history too short 10) - mostly fallback, not in the blend'
    >>> P.fallbacks_ = {"GBM": {"items": 10, "fallback_items": 0, "fallback_share": 0.0, "reasons": {},
    ...                         "windows": 2, "clipped_at_zero_items": 3, "clipped_at_zero_values": 7}}
    >>> fallback_text(P())
    'Fallbacks in the backtests: none (every algorithm forecast every item itself). Zero clip: GBM raised 7 negative values of 3 of 10 items to 0 in the worst of 2 windows'
    """
    fb = getattr(predictor, "fallbacks_", None) or {}
    parts, clips = [], []
    for a, x in fb.items():
        where = f" in the worst of {x['windows']} windows" if x.get("windows", 1) > 1 else ""
        if x.get("clipped_at_zero_values"):
            clips.append(f"{a} raised {x['clipped_at_zero_values']} negative values of {x['clipped_at_zero_items']} "
                         f"of {x['items']} items to 0{where}")
        if not x["fallback_items"]:
            continue
        why = ", ".join(f"{k} {v}" for k, v in x["reasons"].items())
        flag = " - mostly fallback, not in the blend" if x.get("mostly_fallback") else ""
        parts.append(f"{a} {x['fallback_items']} of {x['items']} items{where} ({x['fallback_share']:.0%}: {why}){flag}")
    text = "Fallbacks in the backtests: " + ("; ".join(parts) if parts else "none (every algorithm forecast every item itself)")
    return text + (". Zero clip: " + "; ".join(clips) if clips else "")
