"""Ordinary real files through the notebooks' loader (issue 14): papermill conventions, the user's own
column names, frequency as the forecast frequency, schema mistakes and import errors that name file,
line and the fix. Synthetic files shaped like Amazon Forecast's samples."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from fc_core.errors import ConfigError, DataError, SchemaError
from fc_core.workflow import check_parameters, load_dataset_group, parse_list, parse_mapping

SCHEMA = "timestamp:timestamp,target_value:float,item_id:string"


def _hourly(path, items=("client_1", "client_2"), hours=96, header=False, seed=0):
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2014-01-01 00:00", periods=hours, freq="h")
    rows = [(t.strftime("%Y-%m-%d %H:%M:%S"), round(10 + 5 * np.sin(t.hour / 24 * 6.28) + rng.random(), 3), it)
            for it in items for t in ts]
    df = pd.DataFrame(rows, columns=["timestamp", "target_value", "item_id"])
    df.to_csv(path, index=False, header=header)
    return df


# ------------------------------------------------------------ papermill conventions
def test_list_and_mapping_parameters_accept_json_or_yaml_text():
    assert parse_list("forecast_types", '["0.1","0.5"]') == ["0.1", "0.5"]
    assert parse_list("forecast_types", "[0.1, 0.5]") == ["0.1", "0.5"]  # YAML numbers
    assert parse_list("forecast_dimensions", "[]") == []
    assert parse_list("algorithms", "ETS, GBM") == ["ETS", "GBM"]
    assert parse_mapping("target_columns", "{Model_ID: item_id}") == {"Model_ID": "item_id"}
    with pytest.raises(ConfigError, match="target_columns"):
        parse_mapping("target_columns", "[1, 2]")


def test_an_injected_unknown_parameter_is_refused_with_the_known_ones():
    ns = {"__annotations__": {"target_path": str, "seed": int}, "target_path": "", "seed": 1,
          "In": ["", 'target_path: str = ""  # x\nseed: int = 0  # y', "# Parameters\ntarget_pth = \"a.csv\"\nseed = 1\n",
                 "check_parameters(globals())"]}
    with pytest.raises(ConfigError, match=r"target_pth.*target_path, seed"):
        check_parameters(ns)
    ns["In"][2] = "# Parameters\ntarget_path = \"a.csv\"\nseed = 1\n"
    assert check_parameters(ns) == {"target_path": "", "seed": 1}
    ns.update({"__annotations__": {"target_path": str, "seed": int, "algorithms": list}, "algorithms": '["ETS"]'})
    assert check_parameters(ns)["algorithms"] == ["ETS"] and ns["algorithms"] == ["ETS"]  # parsed in place
    # run interactively (no injected cell): the cell before is anything else, nothing is refused
    ns["In"][2] = "cfg = 3"
    assert check_parameters(ns) == {"target_path": "", "seed": 1, "algorithms": ["ETS"]}


# ------------------------------------------------------------ columns and schema
def test_users_own_header_names_with_a_column_map_ignoring_case(tmp_path):
    p = tmp_path / "orders.csv"
    df = _hourly(p, header=False)
    df.rename(columns={"timestamp": "Timestamp", "item_id": "Model_ID", "target_value": "Order_Quantity"})[
        ["Timestamp", "Model_ID", "Order_Quantity"]].to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "H",
                            "target_columns": '{"model_id": "item_id", "ORDER_QUANTITY": "target_value"}'})
    assert sorted(g.items["item_id"]) == ["client_1", "client_2"] and len(g.target) == 192
    assert g.target["target_value"].sum() == pytest.approx(df["target_value"].sum())
    # without the map the message names the notebook's parameter
    with pytest.raises(SchemaError, match="target_columns="):
        load_dataset_group({"target_path": str(p), "frequency": "H"})


def test_a_schema_by_order_works_behind_a_header_too(tmp_path):
    p = tmp_path / "h.csv"
    df = _hourly(p, header=False)
    df.set_axis(["Time", "Qty", "Model"], axis=1).to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "H"})
    assert len(g.target) == 192 and g.target["target_value"].sum() == pytest.approx(df["target_value"].sum())


def test_header_names_differing_only_in_case_are_recognised(tmp_path):
    p = tmp_path / "c.csv"
    _hourly(p, header=False)
    pd.read_csv(p, header=None).set_axis(["Timestamp", "Target_Value", "Item_ID"], axis=1).to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "H"})
    assert len(g.target) == 192


def test_headerless_without_schema_names_the_notebook_parameter(tmp_path):
    p = tmp_path / "n.csv"
    _hourly(p)
    with pytest.raises(SchemaError, match="target_schema="):
        load_dataset_group({"target_path": str(p), "frequency": "H"})


def test_swapped_schema_with_text_ids_says_the_order_looks_swapped(tmp_path):
    p = tmp_path / "s.csv"
    _hourly(p)[["timestamp", "item_id", "target_value"]].to_csv(p, index=False, header=False)
    with pytest.raises(SchemaError, match="looks swapped.*target_schema"):
        load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "H"})


def test_swapped_schema_with_numeric_ids_is_refused_not_read_as_one_row_items(tmp_path):
    p = tmp_path / "s.csv"
    df = _hourly(p, items=("1", "2"))
    df[["timestamp", "target_value", "item_id"]].to_csv(p, index=False, header=False)
    # the file is timestamp,target_value,item_id; a schema naming the value column the item
    with pytest.raises(SchemaError, match="looks swapped"):
        load_dataset_group({"target_path": str(p), "target_schema": "timestamp:timestamp,item_id:string,"
                            "target_value:float", "frequency": "H"})


def test_a_bad_first_row_of_a_headerless_file_is_reported_not_dropped(tmp_path):
    p = tmp_path / "b.csv"
    _hourly(p)
    lines = p.read_text().splitlines()
    t, v, i = lines[0].split(",")
    lines[0] = f"{t},n/a,{i}"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 1"):
        load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "H"})


def test_item_metadata_header_is_not_read_as_an_item(tmp_path):
    t = tmp_path / "t.csv"
    df = _hourly(t, header=False)
    df.set_axis(["Timestamp", "Order_Quantity", "Model_ID"], axis=1).to_csv(t, index=False)
    m = tmp_path / "m.csv"
    pd.DataFrame({"Model_ID": ["client_1", "client_2"], "Category": ["a", "b"]}).to_csv(m, index=False)
    cols = {"Model_ID": "item_id", "Order_Quantity": "target_value"}
    g = load_dataset_group({"target_path": str(t), "item_metadata_path": str(m), "frequency": "H",
                            "target_columns": cols, "item_metadata_columns": {"Model_ID": "item_id"}})
    assert sorted(g.item_metadata["item_id"]) == ["client_1", "client_2"]


# --------------------------------------------------------------- frequency
def test_hourly_data_is_aggregated_to_the_forecast_frequency(tmp_path):
    p = tmp_path / "h.csv"
    df = _hourly(p, hours=96)
    g = load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "8H"})
    assert g.frequency == "8H" and len(g.target) == 2 * 12
    first = g.target[g.target["item_id"] == "client_1"]["target_value"].iloc[0]
    assert first == pytest.approx(df["target_value"].iloc[:8].sum())
    assert any("aggregated the H data" in n for n in g.import_notes)
    a = load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "8H", "aggregation": "max"})
    assert a.target["target_value"].iloc[0] == pytest.approx(df["target_value"].iloc[:8].max())
    with pytest.raises(ConfigError, match="finer than the data"):
        load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "30min"})
    # data ending 4 hours into an 8-hour period: that partial total is left out, and said
    _hourly(p, hours=100)
    g = load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "8H"})
    assert len(g.target) == 2 * 12 and g.target["timestamp"].max() == pd.Timestamp("2014-01-04 16:00")
    assert any("holds 4 of 8 H steps: dropped" in n for n in g.import_notes)


def test_monthly_stamps_on_a_late_day_at_nine_are_bucketed_by_month(tmp_path):
    rows = []
    for it in ("m1", "m2"):
        for k, per in enumerate(pd.period_range("2019-01", periods=24, freq="M")):
            day = min(30, per.days_in_month)
            rows.append((f"{per.year}-{per.month:02d}-{day} 09:00:00", it, 100 + k))
    p = tmp_path / "m.csv"
    pd.DataFrame(rows, columns=["timestamp", "item_id", "target_value"]).to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "M"})
    assert g.frequency == "M" and len(g.target) == 48
    assert g.target["timestamp"].iloc[1] == pd.Timestamp("2019-02-01")
    assert g.target["target_value"].iloc[1] == 101
    assert any("put in its period" in n for n in g.import_notes)


# --------------------------------------------------------------- import errors
def test_utf16_file_is_refused_with_the_fix(tmp_path):
    p = tmp_path / "u.csv"
    _hourly(p)
    p.write_bytes(p.read_text().encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16.*UTF-8"):
        load_dataset_group({"target_path": str(p), "target_schema": SCHEMA})


def test_latin1_file_names_line_and_character(tmp_path):
    p = tmp_path / "l.csv"
    p.write_bytes("timestamp,target_value,item_id\n2020-01-01,1,a\n2020-01-02,2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"line 3, character 17.*not UTF-8.*Latin-1"):
        load_dataset_group({"target_path": str(p), "frequency": "D"})


def test_utf8_bom_is_read(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbftimestamp,target_value,item_id\n2020-01-01,1,a\n2020-01-02,2,a\n")
    g = load_dataset_group({"target_path": str(p), "frequency": "D"})
    assert g.target["target_value"].tolist() == [1.0, 2.0]


def test_truncated_gzip_is_reported_as_damaged(tmp_path):
    p = tmp_path / "h.csv"
    _hourly(p, hours=2000)
    raw = gzip.compress(p.read_bytes())
    z = tmp_path / "h.csv.gz"
    z.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="h.csv.gz.*truncated or damaged"):
        load_dataset_group({"target_path": str(z), "target_schema": SCHEMA})


def test_truncated_parquet_is_reported_as_damaged(tmp_path):
    df = pd.DataFrame({"item_id": ["a"] * 30, "timestamp": pd.date_range("2020-01-01", periods=30),
                       "target_value": np.arange(30.0)})
    p = tmp_path / "t.parquet"
    df.to_parquet(p)
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(DataError, match="t.parquet.*not a complete Parquet file"):
        load_dataset_group({"target_path": str(p)})


def test_semicolon_separated_file_is_named_as_such(tmp_path):
    p = tmp_path / "semi.csv"
    p.write_text("timestamp;target_value;item_id\n2020-01-01;1;a\n")
    with pytest.raises(DataError, match="line 1.*';'.*comma-separated"):
        load_dataset_group({"target_path": str(p)})


# --------------------------------------------------------------- notebooks' data
def test_what_if_files_without_forecast_dimensions(tmp_path):
    t, r = tmp_path / "t.csv", tmp_path / "r.csv"
    per = pd.date_range("2020-01-01", periods=15, freq="MS")
    pd.DataFrame({"item_id": np.repeat(["a", "b"], 12), "timestamp": np.tile(per[:12], 2),
                  "demand": np.arange(24.0)}).to_csv(t, index=False)
    pd.DataFrame({"item_id": np.repeat(["a", "b"], 15), "timestamp": np.tile(per, 2),
                  "price": np.linspace(1, 2, 30)}).to_csv(r, index=False)
    g = load_dataset_group({"target_path": str(t), "related_path": str(r), "frequency": "M",
                            "forecast_dimensions": "[]", "forecast_horizon": 3}, domain="RETAIL")
    assert g.key_columns == ["item_id"] and g.related["timestamp"].max() == per[-1]


def test_spaces_around_ids_are_stripped_and_said(tmp_path, capsys):
    p = tmp_path / "ws.csv"
    p.write_text("timestamp,target_value,item_id\n2020-01-01,1,a\n2020-01-02,2, a\n2020-01-01,5,b \n"
                 "2020-01-02,6,b\n")
    g = load_dataset_group({"target_path": str(p), "frequency": "D"})
    assert sorted(g.items["item_id"]) == ["a", "b"] and len(g.target) == 4
    assert "spaces around them" in capsys.readouterr().out


def test_blank_target_values_are_filled_and_said(tmp_path, capsys):
    p = tmp_path / "blank.csv"
    p.write_text("timestamp,target_value,item_id\n2020-01-01,1,a\n2020-01-02,,a\n2020-01-03,3,a\n"
                 "2020-01-01,5,b\n2020-01-03,6,b\n")
    g = load_dataset_group({"target_path": str(p), "frequency": "D"})
    out = capsys.readouterr().out
    assert "1 blank value(s) and 1 missing time step(s)" in out and "with zero (middle fill)" in out
    g = load_dataset_group({"target_path": str(p), "frequency": "D", "target_fill": '{"middlefill": "mean"}'})
    assert "with mean (middle fill)" in capsys.readouterr().out
    assert g.target["target_value"].tolist()[1] == pytest.approx(2.0)  # mean of item a's 1 and 3


def test_a_timestamp_format_that_misreads_most_stamps_is_refused(tmp_path):
    per = pd.date_range("2018-01-01", periods=36, freq="MS")
    p = tmp_path / "dm.csv"
    pd.DataFrame({"timestamp": per.strftime("%d/%m/%Y"), "target_value": np.arange(36.0), "item_id": "a"}).to_csv(
        p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "M", "timestamp_format": "%d/%m/%Y"})
    assert len(g.target) == 36
    with pytest.raises(DataError, match="timestamp_format='%m/%d/%Y'.*day and month swapped"):
        load_dataset_group({"target_path": str(p), "frequency": "D", "timestamp_format": "%m/%d/%Y"})


# --------------------------------------------------------------- export
def _forecast():
    from fc_core.forecast import Forecast

    return Forecast(pd.DataFrame({"item_id": ["a", "a"], "timestamp": pd.to_datetime(["2024-01-01 00:00",
                                                                                       "2024-01-01 08:00"]),
                                  "p50": [1.0, 2.0]}), key_columns=["item_id"])


def test_export_keeps_amazon_layout_by_default_and_offers_naive_local_stamps(tmp_path):
    f = _forecast()
    assert pd.read_csv(f.export(tmp_path / "a.csv"))["date"].tolist() == ["2024-01-01T00:00:00Z",
                                                                          "2024-01-01T08:00:00Z"]
    assert pd.read_csv(f.export(tmp_path / "l.csv", timestamps="local"))["date"].tolist() == [
        "2024-01-01 00:00:00", "2024-01-01 08:00:00"]
    with pytest.raises(ConfigError, match="timestamps="):
        f.export(tmp_path / "x.csv", timestamps="utc")


def test_parquet_export_keeps_date_a_timestamp(tmp_path):
    f = _forecast()
    got = pd.read_parquet(f.export(tmp_path / "f.parquet"))
    assert str(got["date"].dtype).startswith("datetime64") and str(got["date"].dt.tz) == "UTC"
    assert got["date"].iloc[1] == pd.Timestamp("2024-01-01 08:00", tz="UTC")
    local = pd.read_parquet(f.export(tmp_path / "g.parquet", timestamps="local"))
    assert local["date"].dt.tz is None and local["date"].iloc[1] == pd.Timestamp("2024-01-01 08:00")


def test_numbers_where_the_time_stamp_should_be_say_the_order_looks_swapped(tmp_path):
    p = tmp_path / "n.csv"
    _hourly(p)[["target_value", "timestamp", "item_id"]].to_csv(p, index=False, header=False)
    with pytest.raises(SchemaError, match=r"looks swapped.*column 1 \(timestamp\).*column 2"):
        load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "H"})


def test_item_metadata_header_behind_an_all_text_schema_is_not_a_cold_start_item(tmp_path):
    t = tmp_path / "t.csv"
    _hourly(t)
    m = tmp_path / "m.csv"
    m.write_text("Model_ID,Category\nclient_1,a\nclient_2,b\n")
    g = load_dataset_group({"target_path": str(t), "target_schema": SCHEMA, "frequency": "H",
                            "item_metadata_path": str(m), "item_metadata_schema": "item_id:string,category:string"})
    assert g.item_metadata["item_id"].tolist() == ["client_1", "client_2"]
    assert any("read as a header" in n for n in g.import_notes)


def test_sparse_headerless_counts_are_read_at_the_forecast_frequency(tmp_path):
    # counts written only on the days with sales, on even days: the most common step is 2 days
    days = pd.date_range("2023-01-01", periods=120, freq="D")
    rng = np.random.default_rng(3)
    rows = [(d.strftime("%Y-%m-%d"), int(rng.integers(1, 5)), it) for it in ("s1", "s2")
            for k, d in enumerate(days) if k % 2 == 0 and rng.random() < 0.6]
    p = tmp_path / "sparse.csv"
    pd.DataFrame(rows).to_csv(p, index=False, header=False)
    g = load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "D"})
    assert g.frequency == "D"
    assert g.target["target_value"].sum() == sum(r[1] for r in rows)
    assert any("sparse" in n for n in g.import_notes)


def test_related_fills_are_parameters_and_said(tmp_path, capsys):
    t, r = tmp_path / "t.csv", tmp_path / "r.csv"
    per = pd.date_range("2020-01-01", periods=15, freq="MS")
    pd.DataFrame({"item_id": "a", "timestamp": per[:12], "target_value": np.arange(12.0)}).to_csv(t, index=False)
    rel = pd.DataFrame({"item_id": "a", "timestamp": per[:13], "price": np.arange(13.0) + 1})
    rel.loc[5, "price"] = np.nan
    rel.to_csv(r, index=False)
    g = load_dataset_group({"target_path": str(t), "related_path": str(r), "frequency": "M", "forecast_horizon": 3,
                            "related_fill": '{"price": {"middlefill": "median", "futurefill": "max"}}'})
    assert g.related["price"].tolist()[5] == pytest.approx(7.5) and g.related["price"].tolist()[-2:] == [13.0, 13.0]
    out = capsys.readouterr().out
    assert "related: 2 time step(s) added" in out and "price: middlefill median, futurefill max (1 blank" in out


def test_items_on_different_days_of_the_month_are_bucketed_together(tmp_path):
    per = pd.date_range("2020-01-01", periods=12, freq="MS")
    df = pd.concat([pd.DataFrame({"item_id": "a", "timestamp": per + pd.Timedelta(days=14), "target_value": 1.0}),
                    pd.DataFrame({"item_id": "b", "timestamp": per + pd.Timedelta(days=27, hours=9),
                                  "target_value": 2.0})])
    p = tmp_path / "m.csv"
    df.to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "M"})
    assert g.frequency == "M" and len(g.target) == 24 and set(g.target["timestamp"]) == set(per)
