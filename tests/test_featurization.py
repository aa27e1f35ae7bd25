"""Missing-value filling and aggregation: every method, region and boundary, on small exact examples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import DatasetGroup
from fc_core.errors import ConfigError, DataError
from fc_core.featurization import bucket_start, check_aggregation, infer_frequency, parse_fill
from fc_core.panel import FILLED


def days(start, n):
    return list(pd.date_range(start, periods=n, freq="D"))


@pytest.fixture
def gappy():
    """a: 1 _ 3 _ 5 (gaps on days 2 and 4), ends on day 5; b: 10 20, ends on day 2 (backfill 3 days)."""
    ts = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-05")] + days("2024-01-01", 2)
    return pd.DataFrame({"item_id": ["a"] * 3 + ["b"] * 2, "timestamp": ts,
                         "target_value": [1.0, 3.0, 5.0, 10.0, 20.0]})


def values(dg, item):
    t = dg.target
    return t.loc[t["item_id"] == item, "target_value"].tolist()


# ------------------------------------------------------------------ target
def test_default_target_fill_is_zero_middle_and_back(gappy):
    dg = DatasetGroup(target=gappy, frequency="D")
    assert values(dg, "a") == [1, 0, 3, 0, 5]
    assert values(dg, "b") == [10, 20, 0, 0, 0]
    assert dg.target[FILLED].tolist() == [False, True, False, True, False, False, False, True, True, True]
    assert dg.end_timestamp == pd.Timestamp("2024-01-05")


@pytest.mark.parametrize("method, mid_a, back_b", [
    ("zero", 0.0, 0.0),
    ("mean", 3.0, 15.0),
    ("median", 3.0, 15.0),
    ("min", 1.0, 10.0),
    ("max", 5.0, 20.0),
])
def test_target_fill_methods_use_each_items_own_statistics(gappy, method, mid_a, back_b):
    dg = DatasetGroup(target=gappy, frequency="D", fill={"target": {"middlefill": method, "backfill": method}})
    assert values(dg, "a") == [1, mid_a, 3, mid_a, 5]
    assert values(dg, "b") == [10, 20, back_b, back_b, back_b]


def test_target_value_and_nan_fill(gappy):
    dg = DatasetGroup(target=gappy, frequency="D",
                      fill={"target": {"middlefill": "value", "middlefill_value": -1, "backfill": "nan"}})
    assert values(dg, "a") == [1, -1, 3, -1, 5]
    b = values(dg, "b")
    assert b[:2] == [10, 20] and np.isnan(b[2:]).all()
    # a value fill states a real value: trained on and scored; NaN-filled points are missing
    panel = dg.to_panel()
    assert panel.lengths.tolist() == [5, 5]
    assert panel.observed.tolist() == [True, True, True, True, True, True, True, False, False, False]


def test_median_with_an_even_count_and_empty_values():
    df = pd.DataFrame({"item_id": "a", "timestamp": days("2024-01-01", 6),
                       "target_value": [1.0, np.nan, 2.0, 10.0, 20.0, np.nan]})
    dg = DatasetGroup(target=df, frequency="D", fill={"target": {"middlefill": "median"}})
    assert values(dg, "a") == [1, 6, 2, 10, 20, 6]  # median of 1, 2, 10, 20 = 6
    s = dg.summary()
    assert s.overall["nan_values"] == 2 and s.overall["missing"] == 0 and s.overall["filled"] == 2


def test_target_frontfill_must_be_none_and_no_futurefill():
    df = pd.DataFrame({"item_id": "a", "timestamp": days("2024-01-01", 3), "target_value": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError, match="frontfill can only be 'none'"):
        DatasetGroup(target=df, frequency="D", fill={"target": {"frontfill": "zero"}})
    with pytest.raises(ConfigError, match="no futurefill"):
        DatasetGroup(target=df, frequency="D", fill={"target": {"futurefill": "zero"}})
    with pytest.raises(ConfigError, match="is not a fill method"):
        DatasetGroup(target=df, frequency="D", fill={"target": {"middlefill": "linear"}})
    with pytest.raises(ConfigError, match="needs middlefill_value"):
        DatasetGroup(target=df, frequency="D", fill={"target": {"middlefill": "value"}})
    with pytest.raises(ConfigError, match="unknown fill setting"):
        DatasetGroup(target=df, frequency="D", fill={"target": {"midfill": "zero"}})


def test_late_starting_item_is_not_frontfilled():
    df = pd.DataFrame({"item_id": ["a"] * 4 + ["b"] * 2, "timestamp": days("2024-01-01", 4) + days("2024-01-03", 2),
                       "target_value": np.arange(6.0)})
    dg = DatasetGroup(target=df, frequency="D")
    assert dg.target.loc[dg.target.item_id == "b", "timestamp"].min() == pd.Timestamp("2024-01-03")
    assert FILLED not in dg.target.columns  # nothing needed filling


# ----------------------------------------------------------------- related
@pytest.fixture
def target3():
    return pd.DataFrame({"item_id": "a", "timestamp": days("2024-01-01", 5), "target_value": np.arange(1.0, 6.0)})


def related(ts, prices, item="a"):
    return pd.DataFrame({"item_id": item, "timestamp": ts, "price": prices})


def test_related_gap_without_rule_names_item_field_and_dates(target3):
    r = related([days("2024-01-01", 5)[i] for i in (0, 1, 3, 4)], [1.0, 2.0, 4.0, 5.0])
    with pytest.raises(DataError) as e:
        DatasetGroup(target=target3, related=r, frequency="D")
    msg = str(e.value)
    assert "field 'price' of item 'a'" in msg and "2024-01-03" in msg and "middlefill" in msg


@pytest.mark.parametrize("method, expected", [("zero", 0.0), ("mean", 3.0), ("median", 3.0), ("min", 1.0),
                                              ("max", 5.0)])
def test_related_middlefill(target3, method, expected):
    r = related([days("2024-01-01", 5)[i] for i in (0, 1, 3, 4)], [1.0, 2.0, 4.0, 5.0])
    dg = DatasetGroup(target=target3, related=r, frequency="D", fill={"related": {"price": {"middlefill": method}}})
    assert dg.related["price"].tolist() == [1, 2, expected, 4, 5]


def test_related_backfill_and_futurefill(target3):
    r = related(days("2024-01-01", 3), [7.0, 8.0, 9.0])
    with pytest.raises(DataError, match=r"after its last value, up to the target's end 2024-01-05"):
        DatasetGroup(target=target3, related=r, frequency="D")
    dg = DatasetGroup(target=target3, related=r, frequency="D", fill={"related": {"price": {"backfill": "max"}}})
    assert dg.related["price"].tolist() == [7, 8, 9, 9, 9]
    with pytest.raises(DataError, match="ends before the forecast horizon") as e:
        dg.check_related_horizon(2)
    assert "2024-01-06" in str(e.value) and "2024-01-07" in str(e.value) and "item 'a'" in str(e.value)
    fut = dg.fill({"related": {"price": {"backfill": "max", "futurefill": "value", "futurefill_value": 9.99}}},
                  forecast_horizon=2)
    assert fut.related["timestamp"].max() == pd.Timestamp("2024-01-07")
    assert fut.related["price"].tolist() == [7, 8, 9, 9, 9, 9.99, 9.99]
    fut.check_related_horizon(2)
    assert fut.to_panel().related_future_length().tolist() == [2]
    with pytest.raises(DataError, match=r"2 date\(s\) past the target's end, inside the forecast horizon"):
        DatasetGroup(target=target3, related=r, frequency="D", forecast_horizon=2,
                     fill={"related": {"price": {"backfill": "zero"}}})


def test_related_starting_after_the_target_needs_a_frontfill_rule(target3):
    r = related(days("2024-01-03", 3), [3.0, 4.0, 5.0])
    with pytest.raises(DataError, match="before its first value"):
        DatasetGroup(target=target3, related=r, frequency="D")
    dg = DatasetGroup(target=target3, related=r, frequency="D", fill={"related": {"price": {"frontfill": "min"}}})
    assert dg.related["price"].tolist() == [3, 3, 3, 4, 5]


def test_star_rule_and_unknown_related_field(target3):
    r = related([days("2024-01-01", 5)[i] for i in (0, 2, 4)], [1.0, 3.0, 5.0])
    r["promo"] = [0.0, 1.0, 0.0]
    dg = DatasetGroup(target=target3, related=r, frequency="D", fill={"related": {"*": {"middlefill": "zero"},
                                                                                   "price": {"middlefill": "mean"}}})
    assert dg.related["price"].tolist() == [1, 3, 3, 3, 5] and dg.related["promo"].tolist() == [0, 0, 1, 0, 0]
    with pytest.raises(ConfigError, match=r"names field\(s\) \['cost'\]"):
        DatasetGroup(target=target3, related=r, frequency="D", fill={"related": {"cost": {"middlefill": "zero"}}})


def test_parse_fill_defaults():
    t, r = parse_fill(None, ["price"])
    assert t["middlefill"].method == "zero" and t["backfill"].method == "zero"
    assert r == {"price": {}}


# ------------------------------------------------------------ frequencies
def test_infer_frequency_uses_the_mode_over_all_items():
    # item a has 2 daily steps, items b and c 3 hourly steps each: hourly wins overall
    rows = [("a", t) for t in pd.date_range("2024-01-01", periods=3, freq="D")]
    rows += [(i, t) for i in "bc" for t in pd.date_range("2024-01-01", periods=4, freq="h")]
    df = pd.DataFrame(rows, columns=["item_id", "timestamp"]).assign(target_value=1.0)
    with pytest.raises(DataError):  # a's daily data sits on the hourly grid with gaps: fine, but b, c are hourly
        DatasetGroup(target=df.iloc[:3].assign(timestamp=pd.to_datetime(["2024-01-01", "2024-01-02 12:00",
                                                                         "2024-01-04"], format="ISO8601")),
                     frequency="D")
    dg = DatasetGroup(target=df)
    assert dg.frequency == "H" and dg.summary().overall["inferred_frequency"] == "H"


@pytest.mark.parametrize("freq, start, expected", [
    ("15min", "2024-01-01", "15min"), ("2h", "2024-01-01", "2H"), ("W-MON", "2024-01-01", "W"),
    ("W-SUN", "2024-01-01", "W-SUN"),
    ("MS", "2024-01-01", "M"), ("3MS", "2024-01-01", "3M"), ("YS", "2020-01-01", "Y"),
])
def test_infer_frequency_names(freq, start, expected):
    df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range(start, periods=6, freq=freq), "target_value": 1.0})
    assert DatasetGroup(target=df).frequency == expected


def test_timestamps_off_the_declared_frequency_name_row_and_item(tmp_path):
    p = tmp_path / "hourly.csv"
    p.write_text("item_id,timestamp,target_value\nx,2024-01-01 00:00:00,1\nx,2024-01-01 01:00:00,1\n"
                 "x,2024-01-01 01:30:00,1\n")
    with pytest.raises(DataError) as e:
        DatasetGroup(target=p, frequency="H")
    msg = str(e.value)
    assert "hourly.csv', line 4" in msg and "item 'x'" in msg and "off the declared frequency H" in msg
    assert "aggregate" in msg


def test_weeks_on_sunday_keep_their_weekday_in_forecast_dates():
    df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-07", periods=4, freq="7D"),
                       "target_value": 1.0})
    dg = DatasetGroup(target=df, frequency="W")
    assert dg.frequency == "W-SUN"
    assert dg.to_panel().future_timestamps(2)[0].strftime("%Y-%m-%d").tolist() == ["2024-02-04", "2024-02-11"]


# ------------------------------------------------------------- aggregation
@pytest.fixture
def hourly():
    """Two items of 2024-01-01 00:00 .. 2024-01-14 23:00 hourly (Mon 1 Jan to Sun 14 Jan); value = hour of day."""
    ts = pd.date_range("2024-01-01", "2024-01-14 23:00", freq="h")
    return pd.DataFrame({"item_id": np.repeat(["a", "b"], len(ts)), "timestamp": np.tile(ts, 2),
                         "target_value": np.tile(ts.hour.to_numpy(float), 2) * np.repeat([1.0, 2.0], len(ts))})


@pytest.mark.parametrize("method, day0", [("sum", 276.0), ("avg", 11.5), ("first", 0.0), ("min", 0.0),
                                          ("max", 23.0)])
def test_aggregate_methods_hourly_to_daily(hourly, method, day0):
    dg = DatasetGroup(target=hourly, frequency="H")
    d = dg.aggregate("D", method=method)
    assert d.frequency == "D" and len(d.target) == 28
    a = d.target[d.target.item_id == "a"]["target_value"].tolist()
    assert a == [day0] * 14
    assert d.target[d.target.item_id == "b"]["target_value"].iloc[0] == 2 * day0
    assert dg.frequency == "H" and len(dg.target) == 2 * 336  # the original group is unchanged


def test_weekly_boundaries_monday_by_default_sunday_by_alignment(hourly):
    dg = DatasetGroup(target=hourly, frequency="H")
    w = dg.aggregate("W")
    a = w.target[w.target.item_id == "a"]
    assert a["timestamp"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-08"]
    assert a["target_value"].tolist() == [276.0 * 7] * 2
    s = dg.aggregate("W", align={"DayOfWeek": "SUNDAY"}, partial="keep")
    a = s.target[s.target.item_id == "a"]
    assert s.frequency == "W-SUN"
    assert a["timestamp"].dt.strftime("%Y-%m-%d").tolist() == ["2023-12-31", "2024-01-07", "2024-01-14"]
    assert a["target_value"].tolist() == [276.0 * 6, 276.0 * 7, 276.0]


def test_daily_boundary_by_hour_alignment(hourly):
    d = DatasetGroup(target=hourly, frequency="H").aggregate("D", align={"Hour": 6})
    a = d.target[d.target.item_id == "a"]
    assert a["timestamp"].iloc[0] == pd.Timestamp("2023-12-31 06:00")
    assert a["target_value"].iloc[0] == sum(range(6)) and a["target_value"].iloc[1] == 276.0


def test_monthly_and_yearly_alignment():
    df = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2023-01-01", "2024-12-31", freq="D"),
                       "target_value": 1.0})
    dg = DatasetGroup(target=df, frequency="D")
    m = dg.aggregate("M")
    assert m.target["target_value"].iloc[:3].tolist() == [31, 28, 31]
    m15 = dg.aggregate("M", align={"DayOfMonth": 15}, partial="keep")
    assert m15.frequency == "M-15"
    assert m15.target["timestamp"].iloc[1] == pd.Timestamp("2023-01-15")
    assert m15.target["target_value"].iloc[:2].tolist() == [14, 31]
    assert m15.to_panel().future_timestamps(1)[0][0] == pd.Timestamp("2025-01-15")
    q = dg.aggregate("3M", method="sum")
    assert q.target["target_value"].tolist() == [90, 91, 92, 92, 91, 91, 92, 92]
    y = dg.aggregate("Y", align={"Month": "APRIL"}, partial="keep")
    assert y.frequency == "Y-APR"
    assert y.target["timestamp"].dt.strftime("%Y-%m-%d").tolist() == ["2022-04-01", "2023-04-01", "2024-04-01"]
    assert y.target["target_value"].tolist() == [90, 366, 275]


def test_aggregation_then_fill_and_related_average():
    ts = list(pd.date_range("2024-01-01", periods=48, freq="h"))
    keep = [t for t in ts if not (t.day == 2 and t.hour < 24)] + [pd.Timestamp("2024-01-04 05:00")]
    tgt = pd.DataFrame({"item_id": "a", "timestamp": keep, "target_value": 1.0})
    rel = pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2024-01-01", periods=96, freq="h"),
                        "price": np.repeat([1.0, 2.0, 3.0, 4.0], 24), "promo": np.tile([0.0, 1.0], 48)})
    dg = DatasetGroup(target=tgt, related=rel, frequency="H",
                      fill={"related": {"*": {"middlefill": "zero"}}})
    d = dg.aggregate("D", related_method={"promo": "max"}, partial="keep")
    assert d.target["target_value"].tolist() == [24.0, 0.0, 0.0, 1.0]
    assert d.target[FILLED].tolist() == [False, True, True, False]
    assert d.related["price"].tolist() == [1, 2, 3, 4] and d.related["promo"].tolist() == [1, 1, 1, 1]


def test_refuse_finer_or_incompatible_frequencies(hourly):
    dg = DatasetGroup(target=hourly, frequency="H")
    with pytest.raises(ConfigError, match="finer frequency than the data"):
        dg.aggregate("15min")
    with pytest.raises(ConfigError, match="one of sum, avg, first, min, max"):
        dg.aggregate("D", method="median")
    with pytest.raises(ConfigError, match="does not apply to frequency D"):
        dg.aggregate("D", align={"DayOfWeek": "SUNDAY"})
    with pytest.raises(ConfigError, match="DayOfMonth=31"):
        dg.aggregate("M", align={"DayOfMonth": 31})
    with pytest.raises(ConfigError, match="weeks cannot become months"):
        check_aggregation("W", "M")
    check_aggregation("D", "W")
    check_aggregation("15min", "H")
    check_aggregation("M", "Y")


def test_bucket_start_multiples():
    ts = pd.to_datetime(["2024-01-01 05:30", "2024-01-01 23:59", "2024-05-17 00:00"]).values.view(np.int64)
    two = bucket_start(ts, "2H").view("M8[ns]").astype(str).tolist()
    assert [t[:16] for t in two] == ["2024-01-01T04:00", "2024-01-01T22:00", "2024-05-17T00:00"]
    q = bucket_start(ts, "3M").view("M8[ns]").astype("M8[D]").astype(str).tolist()
    assert q == ["2024-01-01", "2024-01-01", "2024-04-01"]


def test_infer_frequency_helper_returns_none_without_pairs():
    from fc_core.featurization import SeriesBlock

    blk = SeriesBlock(pd.DataFrame({"item_id": ["a", "b"]}), np.array([0, 1], np.int32),
                      np.array([0, 5], np.int64), {})
    assert infer_frequency(blk) is None
