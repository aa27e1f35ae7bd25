"""The predictor panel's text: the leaderboard, training progress, the ensemble blend."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError


# -------------------------------------------------------------- leaderboard
LEADERBOARD_INFO = ("algorithm", "backtest_window", "window_start", "window_end", "n_items", "n_observed",
                    "weight", "items_chosen", "train_seconds", "fallback_items", "fallback_share", "mostly_fallback",
                    "clipped_at_zero_values")


def fallback_text(predictor) -> str:
    """One line: per algorithm, the items that got the fallback forecast in the backtests, and why
    (:func:`fc_core.automl.fallback_text`)."""
    from ..automl import fallback_text as _text

    return _text(predictor)


def metric_columns(board: pd.DataFrame) -> list[str]:
    """The metric columns of a leaderboard (everything numeric but counts, weights, timings)."""
    return [c for c in board.columns if c not in LEADERBOARD_INFO and pd.api.types.is_numeric_dtype(board[c])]


def rank_leaderboard(board: pd.DataFrame, metric: str, window: int | None = None) -> pd.DataFrame:
    """The leaderboard sorted by ``metric`` (best first, by :func:`fc_core.metrics.ranking_score`:
    ``Coverage[level]`` by its distance from the level) with a ``best`` column; for a
    per-window board, only ``window`` when given.

    Raises
    ------
    ConfigError
        For a metric the board does not have, or an unknown window.
    """
    if metric not in board.columns:
        raise ConfigError(f"the leaderboard has no metric {metric!r}; it has {metric_columns(board)}.")
    b = board
    if window is not None:
        if "backtest_window" not in b.columns or window not in set(b["backtest_window"]):
            have = sorted(set(b["backtest_window"])) if "backtest_window" in b.columns else []
            raise ConfigError(f"no backtest window {window!r}; the windows are {have}.")
        b = b[b["backtest_window"] == window]
    from ..metrics import ranking_score

    score = ranking_score(metric, b[metric])  # Coverage[level]: distance from the level
    b = b.assign(_score=score).sort_values("_score", kind="stable", na_position="last")
    best = b["_score"].min()
    b.insert(0, "best", (b["_score"] == best) & b["_score"].notna())
    return b.drop(columns="_score").reset_index(drop=True)


# ----------------------------------------------------------------- training
def training_steps(n_windows: int, n_algorithms: int) -> int:
    """Progress steps of an AutoPredictor run: every (window, algorithm) backtest, then at
    most one final training per algorithm."""
    return n_windows * n_algorithms + n_algorithms


def progress_text(event: dict, n_windows: int) -> str:
    """Readable text of one ``AutoPredictor.train`` callback event.

    >>> progress_text({"stage": "backtest", "algorithm": "ETS", "window": 0, "elapsed": 3.21}, 2)
    'backtest window 1/2: ETS (3.2 s elapsed)'
    >>> progress_text({"stage": "done", "algorithm": None, "window": None, "elapsed": 9.0}, 2)
    'done in 9.0 s'
    """
    stage, el = event.get("stage"), float(event.get("elapsed") or 0.0)
    if stage == "backtest":
        return f"backtest window {int(event['window']) + 1}/{n_windows}: {event['algorithm']} ({el:.1f} s elapsed)"
    if stage == "train":
        return f"final training on all the data: {event['algorithm']} ({el:.1f} s elapsed)"
    if stage == "done":
        return f"done in {el:.1f} s"
    return f"{stage}: {event.get('algorithm') or ''} ({el:.1f} s elapsed)"


def ensemble_check_text(check: dict, metric: str) -> str:
    """One line on how an AutoPredictor's blend fared on backtest windows it was not chosen on
    (``AutoPredictor.ensemble_check_``).

    >>> ensemble_check_text({"decision": "blend", "held_out": [
    ...     {"blend": 0.10, "single": 0.12, "best_single": "GBM"},
    ...     {"blend": 0.20, "single": 0.19, "best_single": "ETS"}]}, "WAPE")
    'on held-out backtest windows the blend scored 0.1500 against 0.1550 for the best single candidate (mean item WAPE): blend kept'
    >>> ensemble_check_text({"decision": "single: GBM", "held_out": [{"blend": 0.3, "single": 0.2, "best_single": "GBM"}]}, "WAPE")
    'on held-out backtest windows the blend scored 0.3000 against 0.2000 for the best single candidate (mean item WAPE): GBM used alone'
    >>> ensemble_check_text({"decision": "blend"}, "WAPE")
    'blend not checked on held-out windows (it needs two or more backtest windows)'
    """
    rows = check.get("held_out") or []
    if not rows:
        if str(check.get("decision", "")).startswith("single"):
            return "a single candidate was best on the backtests; no blend"
        return "blend not checked on held-out windows (it needs two or more backtest windows)"
    b = float(np.mean([r["blend"] for r in rows]))
    s1 = float(np.mean([r["single"] for r in rows]))
    decision = str(check.get("decision", ""))
    verdict = "blend kept" if decision == "blend" else f"{decision.split(':', 1)[-1].strip()} used alone"
    return (f"on held-out backtest windows the blend scored {b:.4f} against {s1:.4f} for the best single "
            f"candidate (mean item {metric}): {verdict}")


def blend_summary(weights: dict, check: dict, item_choice: pd.DataFrame | None, board: pd.DataFrame | None,
                  metric: str, ensemble: str = "AutoPredictor") -> list[str]:
    """What the AutoPredictor forecasts with, in lines that agree with its leaderboard row.

    The AutoPredictor is the global blend (``weights``) for most items plus a per-item
    choice (``item_choice``'s ``algorithm`` column: another candidate or an even pair) where
    that scored better; so it can beat every single candidate even when the global blend
    is one algorithm alone. The lines say both parts, the held-out check of the blend, and
    how the AutoPredictor's row compares with the best single candidate's in ``board``.

    >>> board = pd.DataFrame({"algorithm": ["AutoPredictor", "GBM", "ETS"], "WAPE": [0.20, 0.22, 0.30]})
    >>> choice = pd.DataFrame({"algorithm": ["AutoPredictor"] * 8 + ["ETS"] * 2})
    >>> for line in blend_summary({"GBM": 1.0}, {"decision": "single"}, choice, board, "WAPE"):
    ...     print(line)
    AutoPredictor = GBM alone (global blend weight 1.00) for 8 of 10 items; a per-item choice for 2: ETS 2
    the global blend is a single candidate: no mix of candidates beat GBM alone on the backtests
    AutoPredictor scores 0.2000 by WAPE against 0.2200 for GBM, the best single candidate: the per-item choices make the difference
    """
    from ..metrics import ranking_score

    if len(weights) == 1:
        (only, wt), = weights.items()
        glob = f"{only} alone (global blend weight {wt:.2f})"
    else:
        glob = "a blend of " + ", ".join(f"{a} {v:.2f}" for a, v in weights.items())
    labels = item_choice["algorithm"] if item_choice is not None and "algorithm" in item_choice else pd.Series([], dtype=object)
    n = len(labels)
    own = labels[labels != ensemble]
    if n and len(own):
        counts = own.value_counts()
        first = (f"{ensemble} = {glob} for {n - len(own):,} of {n:,} items; a per-item choice for {len(own):,}: "
                 + ", ".join(f"{a} {c:,}" for a, c in counts.items()))
    else:
        first = f"{ensemble} = {glob}" + (f" for all {n:,} items" if n else "")
    lines = [first]
    rows = check.get("held_out") or []
    if rows:
        lines.append(ensemble_check_text(check, metric))
    elif len(weights) == 1:
        lines.append(f"the global blend is a single candidate: no mix of candidates beat {next(iter(weights))} "
                     "alone on the backtests")
    else:
        lines.append(ensemble_check_text(check, metric))
    if board is not None and metric in board.columns and "algorithm" in board.columns:
        ens = board.loc[board["algorithm"] == ensemble, metric]
        singles = board[board["algorithm"] != ensemble].dropna(subset=[metric])
        if len(ens) and pd.notna(ens.iloc[0]) and len(singles):
            sc = ranking_score(metric, singles[metric]).to_numpy()
            best = singles.iloc[int(np.argmin(sc))]
            e, b = float(ens.iloc[0]), float(best[metric])
            e_sc, b_sc = float(ranking_score(metric, np.array([e]))[0]), float(sc.min())
            head = (f"{ensemble} scores {e:.4f} by {metric} against {b:.4f} for {best['algorithm']}, "
                    "the best single candidate")
            if e_sc < b_sc - 1e-12:
                why = ("the per-item choices make the difference" if len(own) and len(weights) == 1
                       else "the blend and the per-item choices make the difference")
                lines.append(f"{head}: {why}")
            elif e_sc > b_sc + 1e-12:
                lines.append(f"{head}: {best['algorithm']} alone scored better on these backtests")
            else:
                lines.append(f"{head}: the same")
    return lines
