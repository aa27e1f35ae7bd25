"""Panel.slice: the one way series are cut out of a Panel (truncate, changepoints, GBM windows use it)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fc_core.algorithms.gbm import _cut
from fc_core.changepoints import truncate_history
from fc_core.panel import Panel


def _panel():
    # a: 5 target values, related runs 2 steps further; b: 3 values, related 3 further; c: empty target
    target = [np.arange(5.0), 10 + np.arange(3.0), np.zeros(0)]
    related = [100 + np.arange(7.0), 200 + np.arange(6.0), 300 + np.arange(2.0)]
    lens = [len(t) for t in target]
    rlens = [len(r) for r in related]
    return Panel(keys=pd.DataFrame({"item_id": ["a", "b", "c"]}),
                 starts=pd.DatetimeIndex(["2024-01-01", "2024-01-03", "2024-01-02"]),
                 indptr=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                 values=np.concatenate(target), observed=np.concatenate(target) != 3.0, frequency="D",
                 related=np.concatenate(related)[:, None],
                 related_indptr=np.concatenate([[0], np.cumsum(rlens)]).astype(np.int64), related_names=["price"])


def _series(p):
    return [p.series(i).tolist() for i in range(p.n_series)], \
           [p.related_series(i)[:, 0].tolist() for i in range(p.n_series)], [str(s.date()) for s in p.starts]


def test_slice_moves_starts_and_keeps_related_future_values():
    p = _panel().slice(first=[1, 2, 0], stop=[4, 3, 0])
    vals, rel, starts = _series(p)
    assert vals == [[1.0, 2.0, 3.0], [12.0], []]
    assert rel == [[101.0, 102.0, 103.0, 104.0, 105.0, 106.0], [202.0, 203.0, 204.0, 205.0], [300.0, 301.0]]
    assert starts == ["2024-01-02", "2024-01-05", "2024-01-02"]
    assert p.observed.tolist() == [True, True, False, True]
    q = _panel().slice(stop=2, related_stop=[3, 3, 1])
    assert _series(q)[:2] == ([[0.0, 1.0], [10.0, 11.0], []], [[100.0, 101.0, 102.0], [200.0, 201.0, 202.0], [300.0]])


def test_truncate_changepoint_cut_and_gbm_window_agree_with_slice():
    p = _panel()
    t = p.truncate(pd.Timestamp("2024-01-03"), keep_related_future=1)
    assert _series(t) == ([[0.0, 1.0, 2.0], [10.0], []], [[100.0, 101.0, 102.0, 103.0], [200.0, 201.0], [300.0]],
                          ["2024-01-01", "2024-01-03", "2024-01-02"])
    h = truncate_history(p, np.array([2, 1, 0]))
    assert _series(h) == _series(p.slice(first=[2, 1, 0]))
    assert _series(h)[0] == [[2.0, 3.0, 4.0], [11.0, 12.0], []]
    g = _cut(p, np.array([1, 2, 0]))
    assert _series(g)[0] == [[0.0, 1.0, 2.0, 3.0], [10.0], []]
    assert _series(g)[1] == _series(p)[1]  # related whole: the cut part becomes future-known values
