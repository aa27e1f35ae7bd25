"""fc_core.demo: the seeded demo data has the properties the notebooks and workflows rely on."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from fc_core import demo
from fc_core.errors import ConfigError


def _acf(y: np.ndarray, k: int) -> float:
    y = y - y.mean()
    return float(np.dot(y[k:], y[:-k]) / np.dot(y, y))


# ---------------------------------------------------------------- electricity
def test_electricity_shape_metadata_and_seasonality():
    dg = demo.electricity(n_items=12, days=42, seed=1)
    t = dg.target
    assert dg.domain.name == "CUSTOM" and dg.frequency == "H"
    assert list(t.columns) == ["item_id", "timestamp", "target_value"]
    assert t["item_id"].nunique() == 12 and len(t) == 12 * 42 * 24
    assert (t["target_value"] >= 0).all() and t["timestamp"].min() == pd.Timestamp("2014-01-01")
    meta = dg.item_metadata
    assert list(meta.columns) == ["item_id", "category"]
    assert set(meta["item_id"]) == set(t["item_id"])
    assert set(meta["category"]) <= {"residential", "commercial", "industrial"}
    Y = dg.to_panel().padded()
    acf24 = np.array([_acf(r, 24) for r in Y])
    acf168 = np.array([_acf(r, 168) for r in Y])
    acf144 = np.array([_acf(r, 144) for r in Y])
    assert acf24.min() > 0.5 and acf168.min() > 0.5
    # a weekly pattern, not just a daily one: the same weekday a week back fits better than 6 days back
    assert acf168.mean() > acf144.mean()
    # levels differ between clients
    means = t.groupby("item_id")["target_value"].mean()
    assert means.max() / means.min() > 3


def test_electricity_is_deterministic_per_seed():
    a = demo.electricity(n_items=3, days=7, seed=5).target
    b = demo.electricity(n_items=3, days=7, seed=5).target
    c = demo.electricity(n_items=3, days=7, seed=6).target
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["target_value"], c["target_value"])


# --------------------------------------------------------------------- retail
@pytest.fixture(scope="module")
def retail_frames():
    return demo.retail_frames(n_items=40, periods=36, freq="M", seed=0)


def test_retail_group_layout_and_future_prices():
    dg = demo.retail()
    assert dg.domain.name == "RETAIL" and dg.frequency == "M"
    assert list(dg.target.columns) == ["item_id", "timestamp", "demand"]
    assert list(dg.related.columns) == ["item_id", "timestamp", "price", "promotion_applied"]
    assert list(dg.item_metadata.columns) == ["item_id", "category", "brand"]
    d = dg.target["demand"]
    # the canonical frame holds the target as float; the demo's demand is whole counts
    assert (d == d.round()).all() and (d >= 0).all()
    assert (dg.target["timestamp"].dt.day == 1).all()  # month starts
    end = dg.target["timestamp"].max()
    assert dg.related["timestamp"].max() == end + pd.DateOffset(months=6)
    assert set(dg.related["promotion_applied"]) == {0, 1} and (dg.related["price"] > 0).all()
    panel = dg.to_panel()
    assert panel.n_series == 40
    assert (panel.related_future_length() == 6).all()  # every item, cold-start ones too


def test_retail_cold_start_items(retail_frames):
    fr = retail_frames
    new = set(fr["truth"].loc[fr["truth"]["cold_start"], "item_id"])
    assert len(new) == 3
    assert new <= set(fr["item_metadata"]["item_id"])
    assert not new & set(fr["target"]["item_id"])
    rel_new = fr["related"][fr["related"]["item_id"].isin(new)]
    assert rel_new["timestamp"].min() > fr["target"]["timestamp"].max()
    assert rel_new.groupby("item_id").size().eq(6).all()
    dg = demo.retail()
    assert set(dg.cold_start_items()["item_id"]) == new


def test_retail_discontinued_items_end_in_zeros(retail_frames):
    fr = retail_frames
    t = fr["target"]
    disc = fr["truth"].loc[fr["truth"]["discontinued"], "item_id"]
    assert len(disc) == 3
    for item in disc:
        s = t.loc[t["item_id"] == item, "demand"].to_numpy()
        assert (s[-4:] == 0).all(), item
        assert s[:-10].sum() > 0, item  # it did sell before
    # an ordinary high-volume item does not end in a run of zeros
    others = fr["truth"].loc[~fr["truth"][["discontinued", "intermittent", "cold_start"]].any(axis=1), "item_id"]
    tails = [t.loc[t["item_id"] == i, "demand"].to_numpy()[-4:].sum() for i in others]
    assert min(tails) > 0


def test_retail_has_intermittent_items(retail_frames):
    t = retail_frames["target"]
    zero_share = t.groupby("item_id")["demand"].apply(lambda s: (s == 0).mean())
    assert (zero_share > 0.3).sum() >= 3
    assert t.groupby("item_id")["demand"].mean().max() > 20


def test_retail_price_elasticity_and_promotion_lift(retail_frames):
    fr = retail_frames
    truth = fr["truth"]
    keep = truth.loc[~truth[["discontinued", "intermittent", "cold_start"]].any(axis=1), "item_id"]
    df = fr["target"].merge(fr["related"], on=["item_id", "timestamp"])
    df = df[df["item_id"].isin(keep)]
    # log demand on log price and promotion, with item and month fixed effects
    X = pd.get_dummies(df[["item_id"]].assign(month=df["timestamp"].dt.month.astype(str)), drop_first=False,
                       dtype=float)
    X["log_price"] = np.log(df["price"])
    X["promo"] = df["promotion_applied"].astype(float)
    coef, *_ = np.linalg.lstsq(X.to_numpy(), np.log(df["demand"].to_numpy() + 0.5), rcond=None)
    b_price, b_promo = coef[-2], coef[-1]
    assert b_price < -0.5  # lower price -> higher demand
    assert b_promo > 0.1


def test_retail_weekly_and_determinism():
    a = demo.retail(n_items=8, periods=20, freq="W", seed=3, n_new=1, n_discontinued=1)
    b = demo.retail(n_items=8, periods=20, freq="W", seed=3, n_new=1, n_discontinued=1)
    pd.testing.assert_frame_equal(a.target, b.target)
    pd.testing.assert_frame_equal(a.related, b.related)
    assert a.frequency == "W" and (a.target["timestamp"].dt.dayofweek == 0).all()
    assert a.related["timestamp"].max() == a.target["timestamp"].max() + pd.Timedelta(weeks=8)
    with pytest.raises(ConfigError, match="monthly"):
        demo.retail(freq="D")
    with pytest.raises(ConfigError, match="n_items"):
        demo.retail(n_items=4, n_new=2, n_discontinued=2)


# ------------------------------------------------------------------------ EC2
def test_ec2_capacity_and_level_shift():
    df = demo.ec2_capacity(instance_types=3, hours=24 * 14, seed=0)
    assert list(df.columns) == ["instance_type", "timestamp", "number_of_instances"]
    assert df["number_of_instances"].dtype.kind == "i" and (df["number_of_instances"] >= 0).all()
    assert df["instance_type"].nunique() == 3
    shifted = demo.ec2_capacity(instance_types=3, hours=24 * 14, seed=0, shift_at=24 * 7, shift_factor=2.0)
    before = shifted.groupby("instance_type").head(24 * 7)["number_of_instances"].sum()
    after = shifted.groupby("instance_type").tail(24 * 7)["number_of_instances"].sum()
    base_after = df.groupby("instance_type").tail(24 * 7)["number_of_instances"].sum()
    assert after / base_after == pytest.approx(2.0, rel=0.05)
    assert after / before == pytest.approx(2.0, rel=0.1)
    same = demo.ec2_capacity(instance_types=3, hours=24 * 14, seed=0, shift_at="2023-01-09 00:00", shift_factor=2.0)
    pd.testing.assert_frame_equal(same, shifted)
    with pytest.raises(ConfigError, match="outside"):
        demo.ec2_capacity(hours=10, shift_at=20)
    dg = demo.load("ec2_capacity", instance_types=2, hours=48)
    assert dg.domain.name == "EC2_CAPACITY" and dg.to_panel().n_series == 2


# ---------------------------------------------------------------- load, files
def test_load_dispatch():
    assert demo.load("electricity", n_items=2, days=3).to_panel().n_series == 2
    assert demo.load("retail", n_items=6, n_new=1, n_discontinued=1).to_panel().n_series == 6
    with pytest.raises(ConfigError, match="unknown demo"):
        demo.load("weather")


def test_write_files_csv_and_parquet(tmp_path):
    paths = demo.write_files("retail", tmp_path / "csv", n_items=6, periods=12, n_new=1, n_discontinued=1)
    assert set(paths) == {"target", "related", "item_metadata"}
    t = pd.read_csv(paths["target"])
    assert list(t.columns) == ["item_id", "timestamp", "demand"] and t["timestamp"].iloc[0] == "2019-01-01"
    assert not list((tmp_path / "csv").glob("*.part"))
    p2 = demo.write_files("electricity", tmp_path / "nohdr", header=False, n_items=2, days=2)
    raw = pd.read_csv(p2["target"], header=None)
    assert raw.iloc[0, 0] == "client_0" and raw.iloc[1, 1] == "2014-01-01 01:00:00" and raw.shape == (96, 3)
    p3 = demo.write_files("electricity", tmp_path / "pq", fmt="parquet", n_items=2, days=2)
    back = pd.read_parquet(p3["target"])
    pd.testing.assert_frame_equal(back, demo.electricity(n_items=2, days=2).target, check_dtype=False)
    with pytest.raises(ConfigError, match="format"):
        demo.write_files("electricity", tmp_path, fmt="xlsx")
