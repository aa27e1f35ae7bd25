"""DatasetGroup: building, checking datasets against each other, cold start, append, summary, panel."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fc_core
from fc_core import DatasetGroup, read_dataset
from fc_core.errors import ConfigError, DataError, SchemaError
from fc_core.panel import FILLED


def days(start, n):
    return list(pd.date_range(start, periods=n, freq="D"))


def frame(items, n=4, start="2024-01-01", field="target_value"):
    rows = [(i, t, float(k + 10 * j)) for j, i in enumerate(items) for k, t in enumerate(days(start, n))]
    return pd.DataFrame(rows, columns=["item_id", "timestamp", field])


# ------------------------------------------------------------------ basics
def test_lazy_exports_and_signature():
    assert fc_core.read_dataset is read_dataset and fc_core.DatasetGroup is DatasetGroup


def test_attributes_the_rest_of_the_code_uses():
    t = frame(["b", "a"])
    dg = DatasetGroup(domain="CUSTOM", frequency="D", target=t)
    assert dg.domain.name == "CUSTOM" and dg.frequency == "D"
    assert dg.item_field == "item_id" and dg.target_field == "target_value"
    assert dg.key_columns == ["item_id"] and dg.forecast_dimensions == [] and dg.related_columns == []
    assert dg.related is None and dg.item_metadata is None
    assert dg.target["item_id"].tolist() == ["a"] * 4 + ["b"] * 4  # sorted by keys, then time
    assert dg.items["item_id"].tolist() == ["a", "b"]
    assert dg.end_timestamp == pd.Timestamp("2024-01-04")
    assert dg.cold_start_items().empty
    p = dg.to_panel()
    assert p is dg.to_panel() and p.n_series == 2 and p.series(1).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert "items=2" in repr(dg)


def test_retail_domain_with_forecast_dimension_and_item_metadata():
    t = frame(["i1", "i2"], field="demand")
    t = pd.concat([t.assign(store_id="s1"), t.assign(store_id="s2", demand=t["demand"] * 2)])
    r = pd.concat([frame(["i1", "i2"], n=6, field="price").assign(store_id=s) for s in ("s1", "s2")])
    m = pd.DataFrame({"item_id": ["i1", "i2"], "category": ["x", "y"]})
    dg = DatasetGroup("RETAIL", "D", target=t, related=r, item_metadata=m, forecast_dimensions=["store_id"])
    assert dg.key_columns == ["item_id", "store_id"] and list(dg.target.columns[:3]) == ["item_id", "store_id",
                                                                                      "timestamp"]
    assert len(dg.items) == 4 and dg.related_columns == ["price"]
    dg.check_related_horizon(2)
    with pytest.raises(DataError, match="4 item"):
        dg.check_related_horizon(3)
    p = dg.to_panel()
    assert p.keys.columns.tolist() == ["item_id", "store_id"] and p.n_series == 4
    assert p.static["category"].tolist() == ["x", "x", "y", "y"]
    assert p.related_future_length().tolist() == [2, 2, 2, 2]


def test_key_dtype_category_and_categorical_input():
    t = frame(["b", "a"]).astype({"item_id": "category"})
    dg = DatasetGroup(target=t, frequency="D", key_dtype="category")
    assert isinstance(dg.target["item_id"].dtype, pd.CategoricalDtype)
    assert dg.target["item_id"].cat.categories.tolist() == ["a", "b"]
    assert DatasetGroup(target=t, frequency="D").target["item_id"].dtype == object
    with pytest.raises(ConfigError):
        DatasetGroup(target=t, key_dtype="string")


def test_needs_a_target_and_refuses_unknown_options():
    with pytest.raises(ConfigError, match="needs a target"):
        DatasetGroup(frequency="D")
    with pytest.raises(ConfigError, match="unknown option"):
        DatasetGroup(target=frame(["a"]), read_options={"target": {"sep": ";"}})
    with pytest.raises(SchemaError, match="unknown domain"):
        DatasetGroup(domain="SHOES", target=frame(["a"]))


def test_paths_with_schemas(tmp_path):
    (tmp_path / "tts.csv").write_text("2024-01-01,1,a\n2024-01-02,2,a\n2024-01-03,3,a\n")
    (tmp_path / "meta.csv").write_text("a,red\n")
    dg = DatasetGroup(target=tmp_path / "tts.csv", item_metadata=tmp_path / "meta.csv",
                      target_schema="timestamp:timestamp,target_value:float,item_id:string",
                      item_metadata_schema="item_id:string,colour:string")
    assert dg.frequency == "D" and dg.item_metadata.to_dict("list") == {"item_id": ["a"], "colour": ["red"]}


# -------------------------------------------------------------- duplicates
def test_duplicates_are_an_error_naming_both_lines(tmp_path):
    p = tmp_path / "dups.csv"
    p.write_text("item_id,timestamp,target_value\na,2024-01-01,1\na,2024-01-02,2\nb,2024-01-01,3\na,2024-01-02,4\n")
    with pytest.raises(DataError) as e:
        DatasetGroup(target=p, frequency="D")
    msg = str(e.value)
    assert "item 'a' at 2024-01-02" in msg and "dups.csv', line 3" in msg and "dups.csv', line 5" in msg
    assert "duplicates='sum'" in msg


def test_duplicates_hint_about_undeclared_dimension(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("item_id,store_id,timestamp,target_value\na,s1,2024-01-01,1\na,s2,2024-01-01,3\n")
    with pytest.raises(DataError, match=r"forecast_dimensions=\['store_id'\]"):
        DatasetGroup(target=p, frequency="D")


@pytest.mark.parametrize("how, value", [("sum", 6.0), ("mean", 3.0), ("last", 4.0), ("first", 2.0)])
def test_duplicates_combined_on_request(how, value):
    t = pd.DataFrame({"item_id": "a", "timestamp": [days("2024-01-01", 2)[i] for i in (0, 1, 1)],
                      "target_value": [1.0, 2.0, 4.0]})
    dg = DatasetGroup(target=t, frequency="D", duplicates=how)
    assert dg.target["target_value"].tolist() == [1.0, value]
    assert dg.summary().per_item["duplicates"].tolist() == [1]
    with pytest.raises(ConfigError):
        DatasetGroup(target=t, frequency="D", duplicates="median")


# --------------------------------------------------- datasets against each other
def test_item_metadata_only_items_are_cold_start_only_when_allowed(tmp_path):
    t = frame(["a", "b"])
    meta = tmp_path / "meta.csv"
    meta.write_text("item_id,category\na,x\nb,y\nnew1,x\nnew2,z\n")
    with pytest.raises(DataError) as e:
        DatasetGroup(target=t, item_metadata=meta, frequency="D")
    msg = str(e.value)
    assert "2 item(s) without target time series" in msg and "'new1' (file" in msg and "meta.csv', line 4" in msg
    assert "cold_start=True" in msg
    dg = DatasetGroup(target=t, item_metadata=meta, frequency="D", cold_start=True)
    assert dg.cold_start_items()["item_id"].tolist() == ["new1", "new2"]
    p = dg.to_panel()
    assert p.n_series == 4 and p.lengths.tolist() == [4, 4, 0, 0]
    assert p.starts[2] == pd.Timestamp("2024-01-05") and p.static["category"].tolist() == ["x", "y", "x", "z"]


def test_metadata_items_with_related_data_are_cold_start_without_the_flag():
    t = frame(["a"])
    r = frame(["a", "new"], n=6, field="price")
    m = pd.DataFrame({"item_id": ["a", "new"], "brand": ["p", "q"]})
    dg = DatasetGroup(target=t, related=r, item_metadata=m, frequency="D")
    assert dg.cold_start_items()["item_id"].tolist() == ["new"]
    dg.check_related_horizon(2)
    p = dg.to_panel()
    assert p.related_future_length().tolist() == [2, 2]  # "new" starts after the group's end


def test_related_keys_without_target_become_cold_start_with_dimensions():
    t = frame(["a"]).assign(store_id="s1")
    r = pd.concat([frame(["a"], n=5, field="price").assign(store_id=s) for s in ("s1", "s2")])
    dg = DatasetGroup(target=t, related=r, frequency="D", forecast_dimensions=["store_id"])
    assert dg.cold_start_items().to_dict("list") == {"item_id": ["a"], "store_id": ["s2"]}


def test_related_items_beyond_the_target_are_ignored_and_counted():
    dg = DatasetGroup(target=frame(["a"]), related=frame(["a", "zz"], field="price"), frequency="D")
    assert dg.related["item_id"].unique().tolist() == ["a"]
    assert dg.summary().overall["related_keys_ignored"] == 1


def test_related_rows_before_the_target_starts_are_counted_in_the_summary():
    """Related rows dated before an item's first target value are not read by any model; say how many."""
    t = pd.concat([frame(["a"], start="2024-01-03"), frame(["b"])])
    r = frame(["a", "b"], n=8, field="price")  # a's related data starts two days before its target
    dg = DatasetGroup(target=t, related=r, frequency="D")
    assert dg.summary().overall["related_rows_before_target_start"] == 2
    p = dg.to_panel()
    a = p.keys["item_id"].tolist().index("a")
    # the packed related series of "a" starts at a's first target day (2024-01-03: price 2.0)
    assert p.related_series(a)[0, 0] == 2.0
    plain = DatasetGroup(target=frame(["a"]), related=frame(["a"], n=6, field="price"), frequency="D")
    assert plain.summary().overall["related_rows_before_target_start"] == 0


def test_target_item_without_related_rows_is_an_error():
    with pytest.raises(DataError, match=r"no rows for 1 target item\(s\): 'b'"):
        DatasetGroup(target=frame(["a", "b"]), related=frame(["a"], field="price"), frequency="D")


def test_duplicate_metadata_rows(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("item_id,c\na,1\nb,2\na,3\n")
    with pytest.raises(DataError, match=r"names item 'a' twice: file '.*m\.csv', line 2 and .*line 4"):
        DatasetGroup(target=frame(["a", "b"]), item_metadata=p, frequency="D")


def test_nothing_half_imported_on_error():
    t = frame(["a"])
    bad_related = frame(["a"], field="price").iloc[[0, 2, 3]]
    with pytest.raises(DataError):
        dg = DatasetGroup(target=t, related=bad_related, frequency="D")
    assert "dg" not in locals()
    good = DatasetGroup(target=t, frequency="D")
    before = good.target.copy()
    with pytest.raises(DataError):
        good.append(target=pd.DataFrame({"item_id": ["a"], "timestamp": ["2024-01-05 12:00"],
                                         "target_value": [1.0]}))
    pd.testing.assert_frame_equal(good.target, before)


# ---------------------------------------------------------------- new groups
def test_append_newer_rows_win_and_refill():
    t = frame(["a", "b"])
    dg = DatasetGroup(target=t, frequency="D")
    new = pd.DataFrame({"item_id": ["a", "a", "a"], "timestamp": days("2024-01-04", 3),
                        "target_value": [99.0, 5.0, 6.0]})
    dg2 = dg.append(target=new)
    a = dg2.target[dg2.target.item_id == "a"]["target_value"].tolist()
    assert a == [0.0, 1.0, 2.0, 99.0, 5.0, 6.0]
    b = dg2.target[dg2.target.item_id == "b"]
    assert b["target_value"].tolist() == [10.0, 11.0, 12.0, 13.0, 0.0, 0.0]
    assert b[FILLED].tolist() == [False] * 4 + [True] * 2
    assert dg2.end_timestamp == pd.Timestamp("2024-01-06") and dg.end_timestamp == pd.Timestamp("2024-01-04")
    assert len(dg.target) == 8  # the original group is untouched


def test_append_to_a_filled_group_keeps_original_empty_values_missing():
    t = pd.DataFrame({"item_id": "a", "timestamp": [days("2024-01-01", 4)[i] for i in (0, 2, 3)],
                      "target_value": [1.0, np.nan, 3.0]})
    dg = DatasetGroup(target=t, frequency="D", fill={"target": {"middlefill": "max"}})
    assert dg.target["target_value"].tolist() == [1.0, 3.0, 3.0, 3.0]
    dg2 = dg.append(target=pd.DataFrame({"item_id": ["a"], "timestamp": ["2024-01-05"], "target_value": [9.0]}))
    assert dg2.target["target_value"].tolist() == [1.0, 9.0, 9.0, 3.0, 9.0]  # max now 9; gaps refilled
    assert dg2.summary().overall["nan_values"] == 1


def test_copy_is_independent():
    dg = DatasetGroup(target=frame(["a"]), frequency="D")
    cp = dg.copy()
    cp.target.loc[0, "target_value"] = -5.0
    assert dg.target["target_value"].iloc[0] == 0.0 and cp.frequency == "D"


# ------------------------------------------------------------------ summary
def test_summary_counts_and_repr():
    t = frame(["a", "b"], n=6)
    t = t.drop(index=[1, 2]).reset_index(drop=True)  # a misses 2 days
    t.loc[5, "target_value"] = np.nan  # b has one empty value
    dg = DatasetGroup(target=t, frequency="D")
    s = dg.summary()
    o = s.overall
    assert (o["items"], o["rows"], o["missing"], o["nan_values"], o["filled"]) == (2, 10, 2, 1, 3)
    assert o["start"] == pd.Timestamp("2024-01-01") and o["end"] == pd.Timestamp("2024-01-06")
    assert o["inferred_frequency"] == "D" and o["rows_after_fill"] == 12
    per = s.per_item.set_index("item_id")
    assert per.loc["a", "missing"] == 2 and per.loc["b", "nan_values"] == 1 and per.loc["a", "rows"] == 4
    assert "missing: 2" in repr(s) and "<table>" in s._repr_html_()


def test_read_dataset_item_metadata_and_related():
    meta = read_dataset(pd.DataFrame({"item_id": ["b", "a"], "size": [2, 1]}), "ITEM_METADATA")
    assert meta.to_dict("list") == {"item_id": ["a", "b"], "size": [1.0, 2.0]}
    rel = read_dataset(frame(["a"], field="price"), "RELATED_TIME_SERIES")
    assert list(rel.columns) == ["item_id", "timestamp", "price"]


def _same_panel(a, b):
    pd.testing.assert_frame_equal(a.keys.astype(str), b.keys.astype(str))
    assert a.frequency == b.frequency and a.starts.equals(b.starts)
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.observed, b.observed)
    assert np.allclose(a.values, b.values, equal_nan=True)
    assert (a.related is None) == (b.related is None)
    if a.related is not None:
        assert np.array_equal(a.related_indptr, b.related_indptr) and a.related_names == b.related_names
        assert np.allclose(a.related, b.related, equal_nan=True)
    if a.static is not None:
        pd.testing.assert_frame_equal(a.static, b.static)


@pytest.mark.parametrize("case", ["gaps", "nan_fill", "related_cold", "dims"])
def test_to_panel_equals_panel_from_frame(case):
    from fc_core.panel import Panel

    t = frame(["a", "b", "c"], n=6).drop(index=[2, 3, 9]).reset_index(drop=True)
    t.loc[0, "target_value"] = np.nan
    kw, dims = {}, None
    if case == "nan_fill":
        kw["fill"] = {"target": {"middlefill": "nan", "backfill": "nan"}}
    if case == "related_cold":  # prices a half off the target's values (an exact copy is refused as leakage)
        kw.update(related=frame(["a", "b", "c", "new"], n=8, field="price").assign(price=lambda d: d["price"] + 0.5),
                  item_metadata=pd.DataFrame({"item_id": ["a", "b", "c", "new"], "k": list("wxyz")}))
    if case == "dims":
        t = t.assign(store_id="s1")
        kw["related"] = pd.concat([frame(["a", "b", "c"], n=8, field="price").assign(store_id=s, price=lambda d: d["price"] + 0.5)
                                   for s in ("s1", "s2")])
        dims = ["store_id"]
    dg = DatasetGroup(target=t, frequency="D", forecast_dimensions=dims, **kw)
    ref = Panel.from_frame(dg.target, dg.key_columns, dg.target_field, dg.frequency, related=dg.related,
                           related_columns=dg.related_columns, static=dg.item_metadata,
                           extra_keys=dg.cold_start_items())
    _same_panel(dg.to_panel(), ref)
    # 15 rows, one empty: zero-filled gaps and the empty value are real zeros, NaN-filled ones are not
    assert dg.to_panel().observed.sum() == (15 - 1 if case == "nan_fill" else 18)
