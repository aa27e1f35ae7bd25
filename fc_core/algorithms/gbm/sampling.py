"""GBM at scale: a training budget that does not grow with the number of series, and item chunks.

The models train on at most ``max_train_rows`` rows (recent ones preferred, :mod:`.boosting`). When
the candidate rows (``direct_samples`` per observed value) exceed ``_ITEM_SAMPLE_FACTOR`` times that
budget, only a seeded random sample of whole items, holding about that many candidate rows, is put
on the feature grid, so that neither the grid nor the sampling grows with the number of series.
Forecasts and calibration windows are computed over chunks of items (:func:`_chunks`), so that the
grid of every item is never held at once. Below the budget nothing changes: M4 Hourly (414 series,
0.71 million candidate rows) trains on every row.
"""
from __future__ import annotations

import numpy as np

from ...panel import Panel
from .features import _Layout

_ITEM_SAMPLE_FACTOR = 2.0  # items on the grid hold about this many times the row budget
_CHUNK_SERIES = 10_000  # series on one forecast / calibration grid (about 100 MB per grid array for daily data)


def _per_cell(params: dict) -> float:
    """Training rows per observed value: ``direct_samples`` for the direct model, 1 for the recursive one."""
    return float(params["direct_samples"]) if params["strategy"] != "recursive" else 1.0


def candidate_rows(panel: Panel, lay: _Layout, params: dict) -> np.ndarray:
    """Candidate training rows of each item: its observed values among the last ``max_history``
    times the rows drawn per value (what the models would sample from without a budget)."""
    return panel.observed_counts(last=lay.max_history) * _per_cell(params)


def item_sample(panel: Panel, lay: _Layout, params: dict, seed: int) -> tuple[np.ndarray | None, dict]:
    """The items whose rows go on the training grid (None: all of them) and what was sampled.

    Returns ``(rows, info)``; ``info`` has ``candidate_rows`` (all items), ``budget`` and, when
    items were sampled, ``items`` and ``of_items``.
    """
    cand = candidate_rows(panel, lay, params)
    total, budget = float(cand.sum()), int(params["max_train_rows"])
    info = {"candidate_rows": int(total), "budget": budget}
    if total <= _ITEM_SAMPLE_FACTOR * budget:
        return None, info
    order = np.random.default_rng([seed, 17]).permutation(panel.n_series)
    take = int(np.searchsorted(np.cumsum(cand[order]), _ITEM_SAMPLE_FACTOR * budget)) + 1
    rows = np.sort(order[:min(take, panel.n_series)])
    info.update(items=int(len(rows)), of_items=int(panel.n_series))
    return rows, info


def sample_note(info: dict, effort: dict) -> str:
    """``"trained on R of N candidate rows (...)"``, said where the model's info is shown; ``effort``
    is the booster's (``rows`` trained on, ``candidates`` on its grid)."""
    rows, cand, budget = effort["rows"], effort["candidates"], info["budget"]
    if "items" not in info and cand <= budget:
        return f"trained on all {rows:,} candidate rows"
    how = ["recent rows preferred"]
    if "items" in info:  # the grid held a sample of the items: the total is counted from the data
        cand = max(cand, info["candidate_rows"])
        how.insert(0, f"rows of {info['items']:,} of the {info['of_items']:,} items drawn at random")
    return (f"trained on {rows:,} of {cand:,} candidate rows (sampled to the budget max_train_rows="
            f"{budget:,}: {', '.join(how)})")


def _chunks(n: int, per_item: int = 1, size: int | None = None) -> list[np.ndarray]:
    """Item positions ``0 .. n-1`` in consecutive chunks of at most ``size // per_item`` items
    (one chunk when they all fit)."""
    k = max(1, int(size or _CHUNK_SERIES) // max(1, int(per_item)))
    return [np.arange(a, min(a + k, n)) for a in range(0, n, k)] or [np.arange(0)]
