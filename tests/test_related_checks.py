"""Related series that leak the target are refused; related series a model trains with must reach
the end of the forecast horizon (issue 13 item 4)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import AutoPredictor, DatasetGroup
from fc_core.errors import DataError


def _target(n_days=40, items=("a", "b")):
    rng = np.random.default_rng(0)
    ts = pd.date_range("2024-01-01", periods=n_days, freq="D")
    return pd.concat([pd.DataFrame({"item_id": i, "timestamp": ts, "target_value": rng.poisson(20, n_days) + 1.0})
                      for i in items], ignore_index=True)


def _related(target, extra_days=0, **cols):
    ts = pd.date_range(target["timestamp"].min(), target["timestamp"].max() + pd.Timedelta(days=extra_days), freq="D")
    rng = np.random.default_rng(1)
    return pd.concat([pd.DataFrame({"item_id": i, "timestamp": ts, "price": 10 + rng.normal(0, 1, len(ts)), **cols})
                      for i in target["item_id"].unique()], ignore_index=True)


def test_the_target_file_given_again_as_related_is_refused(tmp_path):
    t = _target()
    path = tmp_path / "tts.csv"
    t.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"related time series has a field 'target_value', the target itself.*"
                                        r"leakage.*remove that column"):
        DatasetGroup(target=path, related=path, frequency="D")


def test_a_related_field_equal_to_the_target_is_refused():
    t = _target()
    r = _related(t)
    r = r.merge(t.rename(columns={"target_value": "sales_copy"}), on=["item_id", "timestamp"], how="left")
    with pytest.raises(DataError, match=r"field 'sales_copy' equals the target 'target_value' on all 80 "
                                        r"item-timestamps.*items 'a', 'b'.*leakage"):
        DatasetGroup(target=t, related=r, frequency="D")
    # the same values shifted by a day (last day's sales, known in advance) are not a copy
    r["sales_copy"] = r.groupby("item_id")["sales_copy"].shift(1).fillna(0.0)
    dg = DatasetGroup(target=t, related=r, frequency="D")
    assert dg.related_columns == ["price", "sales_copy"]


def test_related_series_must_reach_the_horizon_when_a_model_uses_them():
    t = _target()
    dg = DatasetGroup(target=t, related=_related(t, extra_days=3), frequency="D")  # 3 of 5 future days
    ap = AutoPredictor(forecast_horizon=5, algorithms=["SeasonalNaive", "GBM"],
                       algorithm_params={"GBM": {"num_trees": 10, "calibration_windows": 1}})
    with pytest.raises(DataError, match=r"item 'a' has related values up to 2024-02-12.*needs them from "
                                        r"2024-02-13 00:00:00 to 2024-02-14 00:00:00.*2 item\(s\) short.*GBM train"):
        ap.train(dg, progress=False)
    # the same check on a bare Panel
    with pytest.raises(DataError, match=r"2 item\(s\) \(a, b\).*3 of the 5 future steps.*2024-02-13.*2024-02-14"):
        ap.train(dg.to_panel(), progress=False)
    # a candidate set that does not read related series trains; so does one whose related data reach the end
    AutoPredictor(forecast_horizon=5, algorithms=["SeasonalNaive"]).train(dg, progress=False)
    full = DatasetGroup(target=t, related=_related(t, extra_days=5), frequency="D")
    fc = ap.train(full, progress=False).forecast().frame
    assert len(fc) == 2 * 5 and np.isfinite(fc["p50"]).all()
