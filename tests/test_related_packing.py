"""Related series are packed straight from the sorted import block (issue 17: the long related frame is
not sorted and copied again); the packed arrays equal what packing the frame gives, in every shape."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import DatasetGroup


def _frame_packed(dg):
    """The panel packed the old way, from the long related frame."""
    block, dg._rblock, dg._panel = dg._rblock, None, None
    try:
        return dg.to_panel()
    finally:
        dg._rblock, dg._panel = block, None


def _group(freq="D", dims=False, cold=False, item_end=False, related_before=0, related_after=5, gaps=False,
           strings=False):
    rng = np.random.default_rng(3)
    ts = pd.date_range("2023-01-01", periods=30, freq={"D": "D", "M": "MS", "H": "h"}[freq])
    rows, rel = [], []
    stores = ["s1", "s2"] if dims else [None]
    for k, item in enumerate(["b", "a", "c", "d10", "d9"]):
        for store in stores:
            start = k % 3  # items start at different steps
            stop = len(ts) - (4 if item_end and k == 1 else 0)
            t = ts[start:stop]
            f = pd.DataFrame({"item_id": item, "timestamp": t, "target_value": rng.poisson(9, len(t)) + 1.0})
            step = ts[1] - ts[0] if freq != "M" else pd.DateOffset(months=1)
            rts = pd.date_range(t[0] - related_before * step, ts[-1] + related_after * step,
                                freq={"D": "D", "M": "MS", "H": "h"}[freq])
            if gaps and k == 2:
                rts = rts.delete([3, 4])
            r = pd.DataFrame({"item_id": item, "timestamp": rts, "price": rng.normal(10, 1, len(rts)).round(2),
                              "promo": rng.integers(0, 2, len(rts)).astype(float)})
            if store is not None:
                f["store_id"], r["store_id"] = store, store
            rows.append(f)
            rel.append(r)
    if cold:  # an item with related data and no target
        rts = pd.date_range(ts[-1], periods=8, freq={"D": "D", "M": "MS", "H": "h"}[freq])
        r = pd.DataFrame({"item_id": "new", "timestamp": rts, "price": 5.0, "promo": 0.0})
        if dims:
            r["store_id"] = "s1"
        rel.append(r)
    target, related = pd.concat(rows, ignore_index=True), pd.concat(rel, ignore_index=True)
    related = related.sample(frac=1.0, random_state=0)  # any row order
    kw = dict(frequency=freq, target=target, related=related, forecast_dimensions=["store_id"] if dims else [])
    if cold:
        kw["item_metadata"] = pd.DataFrame({"item_id": ["a", "b", "c", "d10", "d9", "new"], "color": list("xyzxyz")})
        kw["cold_start"] = True
    if item_end:
        kw["forecast_from"] = "item_end"
    if gaps:
        kw["fill"] = {"related": {"price": {"middlefill": "nan"}, "promo": {"middlefill": "nan"}}}
    return DatasetGroup(**kw)


CASES = {
    "daily": {}, "hourly": {"freq": "H"}, "monthly": {"freq": "M"}, "dimensions": {"dims": True},
    "cold start": {"cold": True}, "cold start, dimensions": {"cold": True, "dims": True},
    "item end": {"item_end": True}, "related starts before the target": {"related_before": 3},
    "gaps in the related series": {"gaps": True},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("chunk_rows", [1 << 22, 7])
def test_block_packing_equals_frame_packing(case, chunk_rows, monkeypatch):
    dg = _group(**CASES[case])
    old = _frame_packed(dg)
    from fc_core.panel import Panel

    orig = Panel._attach_related_block
    monkeypatch.setattr(Panel, "_attach_related_block", lambda self, b, c: orig(self, b, c, chunk_rows=chunk_rows))
    calls = []
    monkeypatch.setattr(Panel, "_attach_related", lambda *a, **k: calls.append(1))
    new = dg.to_panel()
    assert not calls  # the frame path was not used
    assert new.related_names == old.related_names == ["price", "promo"]
    np.testing.assert_array_equal(new.related_indptr, old.related_indptr)
    np.testing.assert_array_equal(new.related, old.related)  # NaN where the frame path has NaN
    assert np.isfinite(new.related).sum() > 100
    pd.testing.assert_frame_equal(new.keys, old.keys)


def test_block_packing_places_each_value_at_its_date():
    dg = _group(dims=True, related_before=2)
    p = dg.to_panel()
    rel = dg.related
    for i in (0, 3, len(p.keys) - 1):
        key = p.keys.iloc[i]
        r = rel[(rel["item_id"] == key["item_id"]) & (rel["store_id"] == key["store_id"])].set_index("timestamp")
        got = p.related_series(i)
        dates = pd.date_range(p.starts[i], periods=len(got), freq="D")
        np.testing.assert_array_equal(got[:, 0], r["price"].reindex(dates).to_numpy())
