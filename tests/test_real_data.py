"""The readers, checks, fills and aggregation on the real public datasets in ../shared/data (skipped when absent)."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from fc_core import DatasetGroup, read_dataset
from fc_core.errors import DataError

ELEC_SCHEMA = "timestamp:timestamp,target_value:float,item_id:string"


def md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def test_electricity_headerless_custom(shared_data):
    path = shared_data / "electricity" / "item-demand-time.csv"
    before = md5(path)
    dg = DatasetGroup(target=path, item_metadata=shared_data / "electricity" / "item-meta.csv",
                      target_schema=ELEC_SCHEMA, item_metadata_schema="item_id:string,category:string")
    assert md5(path) == before
    s = dg.summary().overall
    assert (s["items"], s["rows"], s["missing"], s["filled"], s["frequency"]) == (3, 23_973, 0, 0, "H")
    assert s["start"] == pd.Timestamp("2014-01-01 01:00") and s["end"] == pd.Timestamp("2014-11-29 23:00")
    assert dg.items["item_id"].tolist() == ["client_10", "client_111", "client_12"]
    per = dg.summary().per_item
    assert per["rows"].tolist() == [7_991] * 3
    # the same numbers pandas finds in the file
    raw = pd.read_csv(path, header=None, names=["timestamp", "target_value", "item_id"])
    assert dg.target.groupby("item_id")["target_value"].sum().round(6).to_dict() == \
        raw.groupby("item_id")["target_value"].sum().round(6).to_dict()
    first = dg.target.iloc[0]
    assert first["item_id"] == "client_10" and first["timestamp"] == pd.Timestamp("2014-01-01 01:00")
    p = dg.to_panel()
    assert p.lengths.tolist() == [7_991] * 3 and p.static["category"].tolist() == ["a", "a", "b"]
    daily = dg.aggregate("D")
    # 2014-01-01 holds 23 hours (01:00 .. 23:00); then whole days up to 2014-11-29
    assert daily.summary().overall["rows"] == 333 * 3
    day1 = raw[raw["timestamp"].str.startswith("2014-01-01") & (raw["item_id"] == "client_12")]
    assert len(day1) == 23
    got = daily.target[(daily.target.item_id == "client_12")]["target_value"].iloc[0]
    assert got == pytest.approx(day1["target_value"].sum())


def test_consumer_electronics_retail_with_store_dimension_and_future_prices(shared_data):
    d = shared_data / "consumer_electronics"
    dg = DatasetGroup("RETAIL", target=d / "tts.csv", related=d / "rts.csv", forecast_dimensions=["store_id"])
    s = dg.summary().overall
    assert (s["items"], s["rows"], s["related_rows"], s["frequency"]) == (1_500, 36_000, 40_500, "M")
    assert s["start"] == pd.Timestamp("2017-10-01") and s["end"] == pd.Timestamp("2019-09-01")
    assert s["related_end"] == pd.Timestamp("2019-12-01") and s["missing"] == 0
    assert dg.items["item_id"].nunique() == 300 and dg.items["store_id"].nunique() == 5
    dg.check_related_horizon(3)  # prices run 3 months past the target
    with pytest.raises(DataError) as e:
        dg.check_related_horizon(4)
    assert "2020-01-01" in str(e.value) and "1500 item(s) short" in str(e.value)
    p = dg.to_panel()
    assert p.n_series == 1_500 and set(p.lengths) == {24} and set(p.related_future_length()) == {3}
    future = dg.fill({"related": {"price": {"futurefill": "max"}}}, forecast_horizon=6)
    future.check_related_horizon(6)
    assert set(future.to_panel().related_future_length()) == {6}
    one = future.related[(future.related.item_id == "item_001") & (future.related.store_id == "store_001")]
    assert len(one) == 30 and one["price"].iloc[-3:].tolist() == [one["price"].iloc[:27].max()] * 3
    q = dg.aggregate("3M")
    assert q.summary().overall["rows"] == 12_000 and q.target["demand"].sum() == pytest.approx(dg.target["demand"].sum())


def test_bike_hourly_with_calendar_gaps(shared_data):
    path = shared_data / "bike" / "train.csv"
    tts = read_dataset(path, column_map={"datetime": "timestamp", "count": "target_value"}, item_id="bike")
    rts = read_dataset(path, "RELATED_TIME_SERIES", column_map={"datetime": "timestamp"}, item_id="bike",
                       columns=["temp", "humidity", "workingday"])
    assert len(tts) == len(rts) == 10_886 and tts["target_value"].sum() == 2_085_476
    with pytest.raises(DataError) as e:  # related gaps need a rule
        DatasetGroup(target=tts, related=rts)
    assert "of item 'bike' has no value on 6370 date(s)" in str(e.value)
    dg = DatasetGroup(target=tts, related=rts, fill={"related": {"temp": {"middlefill": "median"},
                                                                "humidity": {"middlefill": "mean"},
                                                                "workingday": {"middlefill": "zero"}}})
    s = dg.summary().overall
    assert dg.frequency == "H" and s["rows"] == 10_886 and s["rows_after_fill"] == 17_256
    assert s["missing"] == 6_370 and s["filled"] == 6_370  # 719 days x 24 h - 10,886 rows
    assert s["end"] == pd.Timestamp("2012-12-19 23:00")
    t = dg.target.set_index("timestamp")
    assert t.loc["2011-01-20 00:00", "target_value"] == 0.0 and t.loc["2011-01-20 00:00", "_filled"]
    assert t.loc["2011-01-19 23:00", "target_value"] == 28.0 and not t.loc["2011-01-19 23:00", "_filled"]
    r = dg.related.set_index("timestamp")
    assert r.loc["2011-01-20 00:00", "temp"] == rts["temp"].median() == 20.5
    assert r.loc["2011-01-20 00:00", "humidity"] == pytest.approx(rts["humidity"].mean())
    assert r.loc["2011-01-20 00:00", "workingday"] == 0.0
    daily = dg.aggregate("D")
    ds = daily.summary().overall
    assert (ds["rows"], ds["rows_after_fill"], ds["missing"]) == (456, 719, 263)  # 24 months x 19 days observed
    assert daily.target["target_value"].iloc[:2].tolist() == [985.0, 801.0]
    assert daily.related["temp"].iloc[0] == pytest.approx(rts["temp"].iloc[:24].mean())
    weekly = dg.aggregate("W", partial="keep")
    assert weekly.target["timestamp"].iloc[0] == pd.Timestamp("2010-12-27")  # the Monday before Sat 1 Jan 2011
    assert weekly.summary().overall["missing"] == 17 and weekly.target["target_value"].sum() == 2_085_476
    # by default the last week (Mon 17 to Wed 19 Dec 2012: 72 of 168 hours) is reported and dropped
    with pytest.warns(UserWarning, match="72 of 168"):
        dropped = dg.aggregate("W")
    assert dropped.target["timestamp"].max() == pd.Timestamp("2012-12-10")
    assert dropped.target["target_value"].sum() == 2_085_476 - weekly.target["target_value"].iloc[-1]


def test_retraining_append(shared_data):
    d = shared_data / "retraining"
    first = DatasetGroup(target=d / "elec_data_small_first.csv", target_schema=ELEC_SCHEMA)
    n_first = len(pd.read_csv(d / "elec_data_small_first.csv", header=None))
    n_new = len(pd.read_csv(d / "elec_data_small_new.csv", header=None))
    assert len(first.target) == n_first and first.end_timestamp == pd.Timestamp("2014-11-28 23:00")
    both = first.append(target=d / "elec_data_small_new.csv")
    assert len(both.target) == n_new and n_new - n_first == 24
    assert both.end_timestamp == pd.Timestamp("2014-11-29 23:00")
    assert both.target["target_value"].iloc[-1] == pytest.approx(54.52342487883685)
    assert np.array_equal(both.target["target_value"].to_numpy()[:n_first], first.target["target_value"].to_numpy())
