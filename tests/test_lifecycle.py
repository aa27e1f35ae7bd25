"""End of life: quiet items are reported (never acted on); marked items forecast exactly 0 after
their date and are not scored past it in backtests."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core import demo, lifecycle
from fc_core.automl import AutoPredictor
from fc_core.datasets import DatasetGroup
from fc_core.errors import ConfigError

START = pd.Timestamp("2024-01-01")


def _frame(series: dict[str, np.ndarray]) -> pd.DataFrame:
    parts = [pd.DataFrame({"item_id": k, "timestamp": pd.date_range(START, periods=len(v), freq="D"),
                           "target_value": v}) for k, v in series.items()]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def quiet_group():
    rng = np.random.default_rng(0)
    n = 60
    steady = rng.poisson(20, n).astype(float) + 1
    stops = steady[:-7]                                   # data stops 7 days before the end
    zeros = np.r_[steady[:-5], np.zeros(5)]               # 5 trailing zeros after steady sales
    # intermittent items pause for 4 steps regularly: a trailing run of 4 is not long (< 2 x 4), 9 is
    inter = np.r_[np.tile([3.0, 0, 0, 0, 0], 11), [2.0], np.zeros(4)]
    inter_long = np.r_[np.tile([3.0, 0, 0, 0, 0], 10), [1.0], np.zeros(9)]
    dg = DatasetGroup(target=_frame({"steady": steady, "stops": stops, "zeros": zeros, "inter": inter,
                                     "inter_long": inter_long}), frequency="D")
    return dg


def test_quiet_items_names_the_stopped_and_the_long_zero_runs(quiet_group):
    q = lifecycle.quiet_items(quiet_group).set_index("item_id")
    assert set(q.index) == {"stops", "zeros", "inter_long"}
    end = quiet_group.end_timestamp
    assert q.loc["stops", "reason"] == "data stops"
    assert q.loc["stops", "last_observed"] == end - pd.Timedelta(days=7)
    assert q.loc["stops", "quiet_since"] == end - pd.Timedelta(days=6)
    assert q.loc["stops", "run_length"] == 7
    assert q.loc["zeros", "reason"] == "trailing zeros"
    assert q.loc["zeros", "quiet_since"] == end - pd.Timedelta(days=4)
    assert q.loc["zeros", "last_nonzero"] == end - pd.Timedelta(days=5)
    assert (q.loc["zeros", "run_length"], q.loc["zeros", "threshold"]) == (5, 3)
    assert q.loc["inter_long", "longest_earlier_run"] == 4
    assert q.loc["inter_long", "threshold"] == 8
    assert q.loc["inter_long", "run_length"] == 9


def test_quiet_items_settings(quiet_group):
    strict = lifecycle.quiet_items(quiet_group, min_run=6)
    assert "zeros" not in set(strict["item_id"])  # 5 zeros < 6
    loose = lifecycle.quiet_items(quiet_group, factor=1.0)
    assert "inter" in set(loose["item_id"])  # 4 >= 1 x 4
    with pytest.raises(ConfigError):
        lifecycle.quiet_items(quiet_group, min_run=0)


def test_summary_lists_quiet_items(quiet_group):
    s = quiet_group.summary()
    assert s.overall["quiet_items"] == 3
    assert set(s.quiet_items["item_id"]) == {"stops", "zeros", "inter_long"}
    assert "quiet_items: 3 item(s)" in repr(s)
    assert "discontinued?" in s._repr_html_()


def test_summary_finds_the_demo_retail_discontinued_items_and_no_others():
    fr = demo.retail_frames(seed=0)
    dg = demo.load("retail", seed=0)
    found = set(dg.summary().quiet_items["item_id"])
    truth = set(fr["truth"].loc[fr["truth"]["discontinued"], "item_id"])
    assert found == truth and len(truth) == 3


# ------------------------------------------------------------------ end of life
@pytest.fixture(scope="module")
def eol_group():
    rng = np.random.default_rng(1)
    n = 70
    t = np.arange(n)
    ys = {f"item_{i}": 50 + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n) + 5 * i for i in range(4)}
    return DatasetGroup(target=_frame(ys), frequency="D")


def _train(dg, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # one backtest window, as these expectations assume (the medium preset's default is two)
        return AutoPredictor(7, algorithms=["SeasonalNaive", "Naive"], **{"backtest_windows": 1, **kw}).train(
            dg, progress=False)


def test_forecast_after_end_of_life_is_exactly_zero(eol_group):
    end = eol_group.end_timestamp
    eol = end + pd.Timedelta(days=3)
    ap = _train(eol_group, end_of_life={"item_1": str(eol.date())})
    f = ap.forecast().frame
    cols = ["p10", "p50", "p90", "mean"]
    one = f[f["item_id"] == "item_1"]
    after = one[one["timestamp"] > eol]
    before = one[one["timestamp"] <= eol]
    assert len(after) == 4 and (after[cols].to_numpy() == 0.0).all()
    assert (before[cols].to_numpy() > 10).all()
    others = f[f["item_id"] != "item_1"]
    assert (others[cols].to_numpy() > 10).all()
    # the same for a single candidate, and for a selection of items
    c = ap.candidate_forecast("SeasonalNaive").frame
    assert (c.loc[(c["item_id"] == "item_1") & (c["timestamp"] > eol), cols].to_numpy() == 0).all()
    sel = ap.forecast(items=["item_1"]).frame
    assert (sel.loc[sel["timestamp"] > eol, cols].to_numpy() == 0).all()


def test_end_of_life_from_item_metadata(eol_group):
    meta = pd.DataFrame({"item_id": ["item_0", "item_1", "item_2", "item_3"],
                         "end_of_life_date": ["", "", "2024-01-01", ""]})
    dg = DatasetGroup(target=eol_group.target, frequency="D", item_metadata=meta)
    f = _train(dg).forecast().frame
    assert (f.loc[f["item_id"] == "item_2", ["p10", "p50", "p90", "mean"]].to_numpy() == 0).all()
    assert (f.loc[f["item_id"] != "item_2", "p50"] > 10).all()
    # the argument wins over the metadata
    f2 = _train(dg, end_of_life={"item_2": "2030-01-01"}).forecast().frame
    assert (f2.loc[f2["item_id"] == "item_2", "p50"] > 10).all()


def test_backtests_do_not_score_points_after_end_of_life(eol_group):
    end = eol_group.end_timestamp
    # item_0 sells on after its end of life at a level no forecast expects: unscored, it cannot hurt
    tgt = eol_group.target.copy()
    late = (tgt["item_id"] == "item_0") & (tgt["timestamp"] > end - pd.Timedelta(days=4))
    tgt.loc[late, "target_value"] = 10_000.0
    dg = DatasetGroup(target=tgt, frequency="D")
    eol = end - pd.Timedelta(days=4)
    ap = _train(dg, end_of_life={"item_0": eol})
    bt = ap.backtest_forecasts()
    mine = bt[bt["item_id"] == "item_0"]
    assert not mine.loc[mine["timestamp"] > eol, "observed"].any()
    assert mine.loc[mine["timestamp"] <= eol, "observed"].all()
    wape_marked = ap.leaderboard().set_index("algorithm").loc["SeasonalNaive", "WAPE"]
    unmarked = _train(dg)
    wape_plain = unmarked.leaderboard().set_index("algorithm").loc["SeasonalNaive", "WAPE"]
    assert wape_marked < 0.1 < wape_plain  # the 10,000s are scored only without the mark

    # an item whose window lies wholly after its end of life is left out of that window
    ap2 = _train(dg, end_of_life={"item_0": end - pd.Timedelta(days=30)})
    sk = ap2.skipped_items_
    assert list(sk.loc[sk["item_id"] == "item_0", "reason"]) == ["past end of life"]
    assert "item_0" not in set(ap2.item_metrics()["item_id"])


def test_end_of_life_survives_save_and_load(eol_group, tmp_path):
    eol = eol_group.end_timestamp + pd.Timedelta(days=2)
    ap = _train(eol_group, end_of_life={"item_3": eol})
    ap.save(tmp_path / "ap")
    back = AutoPredictor.load(tmp_path / "ap")
    pd.testing.assert_frame_equal(back.forecast().frame, ap.forecast().frame)
    assert back.config()["end_of_life"] == {"item_3": eol.isoformat()}


def test_end_of_life_errors(eol_group):
    with pytest.raises(ConfigError, match="not a date"):
        AutoPredictor(7, algorithms=["Naive"], end_of_life={"item_1": "soon"})
    with pytest.raises(ConfigError, match="lacks"):
        _train(eol_group, end_of_life={"item_99": "2024-01-01"})
    with pytest.raises(ConfigError):
        lifecycle.normalize_end_of_life(["item_1"])


def test_apply_end_of_life_to_a_forecast_frame():
    f = pd.DataFrame({"item_id": ["a", "a", "b"], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"] * 1 + ["2024-01-02"]),
                      "p50": [1.0, 2.0, 3.0], "mean": [1.0, 2.0, 3.0]})
    out = lifecycle.apply_end_of_life_frame(f, ["item_id"], {"a": "2024-01-01"})
    assert out["p50"].tolist() == [1.0, 0.0, 3.0] and out["mean"].tolist() == [1.0, 0.0, 3.0]
    frame = pd.DataFrame({"item_id": ["b"], "end_of_life_date": ["2023-12-31"]})
    assert lifecycle.apply_end_of_life_frame(f, ["item_id"], frame)["p50"].tolist() == [1.0, 2.0, 0.0]
