"""Reading files: formats, headers, locations, time zones, and every bad-input message."""
from __future__ import annotations

import hashlib
import os

import fsspec
import numpy as np
import pandas as pd
import pytest

from fc_core import read_dataset
from fc_core.errors import DataError, SchemaError
from fc_core.readers import expand_paths

SCHEMA = "timestamp:timestamp,target_value:float,item_id:string"


def write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


# ------------------------------------------------------------------ layouts
def test_headerless_file_follows_schema_order_and_sorts(tmp_path):
    p = write(tmp_path, "a.csv", "2020-01-01 02:00:00,2.5,b\n2020-01-01 01:00:00,1,b\n2020-01-01 01:00:00,7,a\n")
    df = read_dataset(p, schema=SCHEMA)
    assert list(df.columns) == ["item_id", "timestamp", "target_value"]
    assert df["item_id"].tolist() == ["a", "b", "b"]
    assert df["timestamp"].dt.hour.tolist() == [1, 1, 2]
    assert df["target_value"].tolist() == [7.0, 1.0, 2.5]
    assert str(df["timestamp"].dtype) == "datetime64[ns]" and df["target_value"].dtype == np.float64


def test_header_equal_to_schema_names_is_skipped_and_columns_matched_by_name(tmp_path):
    p = write(tmp_path, "a.csv", "item_id,target_value,timestamp\nx,3,2021-05-01\n")
    df = read_dataset(p, schema=SCHEMA)
    assert df.to_dict("list") == {"item_id": ["x"], "timestamp": [pd.Timestamp("2021-05-01")], "target_value": [3.0]}


def test_unparseable_first_row_is_a_header_read_by_position(tmp_path):
    p = write(tmp_path, "a.csv", "when,how_much,who\n2021-05-01,3,x\n")
    df = read_dataset(p, schema=SCHEMA)
    assert df["item_id"].tolist() == ["x"] and df["target_value"].tolist() == [3.0]


def test_explicit_header_flags(tmp_path):
    p = write(tmp_path, "a.csv", "2021-05-01,3,x\n2021-05-02,4,x\n")
    assert len(read_dataset(p, schema=SCHEMA, header=False)) == 2
    assert len(read_dataset(p, schema=SCHEMA, header=True)) == 1  # first row taken as a header


def test_header_without_schema_uses_domain_names_and_column_map(tmp_path):
    p = write(tmp_path, "a.csv", "store,day,sold,colour\ns1,2021-05-01,3,red\n")
    df = read_dataset(p, "TARGET_TIME_SERIES", "RETAIL", column_map={"store": "item_id", "day": "timestamp",
                                                                     "sold": "demand"})
    assert list(df.columns) == ["item_id", "timestamp", "demand"]
    assert df["demand"].tolist() == [3.0]


def test_constant_item_id_and_columns_selection(tmp_path):
    p = write(tmp_path, "bike.csv", "datetime,temp,humidity,count\n2011-01-01 00:00:00,9.8,81,16\n"
                                    "2011-01-01 01:00:00,9.0,80,40\n")
    rts = read_dataset(p, "RELATED_TIME_SERIES", column_map={"datetime": "timestamp"}, item_id="bike",
                       columns=["temp"])
    assert list(rts.columns) == ["item_id", "timestamp", "temp"]
    assert rts["item_id"].tolist() == ["bike", "bike"] and rts["temp"].tolist() == [9.8, 9.0]


def test_parquet_folder_glob_and_list(tmp_path):
    a = pd.DataFrame({"item_id": ["a", "a"], "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02"]),
                      "target_value": [1, 2]})
    (tmp_path / "f").mkdir()
    a.to_parquet(tmp_path / "f" / "part-0.parquet")
    write(tmp_path, "f/part-1.csv", "item_id,timestamp,target_value\nb,2020-01-01,5\n")
    write(tmp_path, "f/_SUCCESS", "")
    df = read_dataset(tmp_path / "f")
    assert df["item_id"].tolist() == ["a", "a", "b"] and df["target_value"].tolist() == [1.0, 2.0, 5.0]
    assert len(read_dataset(str(tmp_path / "f" / "*.csv"))) == 1
    assert len(read_dataset([tmp_path / "f" / "part-0.parquet", tmp_path / "f" / "part-1.csv"])) == 3


def test_fsspec_memory_url_and_glob():
    fs = fsspec.filesystem("memory")
    with fs.open("/fc-test/bucket/x1.csv", "w") as fh:
        fh.write("2020-01-01,1,a\n2020-01-02,2,a\n")
    with fs.open("/fc-test/bucket/x2.csv", "w") as fh:
        fh.write("2020-01-01,9,b\n")
    try:
        assert read_dataset("memory://fc-test/bucket/x1.csv", schema=SCHEMA)["target_value"].tolist() == [1.0, 2.0]
        both = read_dataset("memory://fc-test/bucket/*.csv", schema=SCHEMA)
        assert both["item_id"].tolist() == ["a", "a", "b"]
        assert len(expand_paths("memory://fc-test/bucket")) == 2
    finally:
        fs.rm("/fc-test", recursive=True)


@pytest.mark.parametrize("text, expected", [
    ("2020-01-31", "2020-01-31 00:00:00"),
    ("2020-01-31 13:05:00", "2020-01-31 13:05:00"),
    ("2020-01-31T13:05:00", "2020-01-31 13:05:00"),
    ("2020-01-31T13:05:00.250", "2020-01-31 13:05:00.250000"),
])
def test_timestamp_spellings(tmp_path, text, expected):
    p = write(tmp_path, "a.csv", f"{text},1,a\n")
    assert str(read_dataset(p, schema=SCHEMA)["timestamp"].iloc[0]) == expected


def test_time_zone_offsets_convert_to_utc_or_to_the_given_zone(tmp_path):
    p = write(tmp_path, "a.csv", "2020-01-01T00:00:00+02:00,1,a\n2020-07-01T12:00:00Z,2,a\n")
    utc = read_dataset(p, schema=SCHEMA)["timestamp"].astype(str).tolist()
    assert utc == ["2019-12-31 22:00:00", "2020-07-01 12:00:00"]
    ny = read_dataset(p, schema=SCHEMA, timezone="America/New_York")["timestamp"].astype(str).tolist()
    assert ny == ["2019-12-31 17:00:00", "2020-07-01 08:00:00"]  # EST in winter, EDT in summer
    naive = write(tmp_path, "b.csv", "2020-01-01 05:00:00,1,a\n")
    assert str(read_dataset(naive, schema=SCHEMA, timezone="Asia/Tokyo")["timestamp"].iloc[0]) == "2020-01-01 05:00:00"


def test_byte_order_mark_and_gzip(tmp_path):
    import gzip

    p = write(tmp_path, "bom.csv", "\ufeff2020-01-01,1,a\n".encode(), mode="wb")
    assert read_dataset(p, schema=SCHEMA)["timestamp"].tolist() == [pd.Timestamp("2020-01-01")]
    g = tmp_path / "x.csv.gz"
    with gzip.open(g, "wt") as fh:
        fh.write("item_id,timestamp,target_value\na,2020-01-01,1\na,2020-01-02,x\n")
    with pytest.raises(DataError, match=r"x\.csv\.gz', line 3: column 'target_value' value 'x'"):
        read_dataset(g)


def test_timestamp_format_option(tmp_path):
    p = write(tmp_path, "a.csv", "31/01/2020,1,a\n")
    df = read_dataset(p, schema=SCHEMA, timestamp_format="%d/%m/%Y")
    assert df["timestamp"].iloc[0] == pd.Timestamp("2020-01-31")


def test_dataframe_input_is_not_modified_and_keys_become_strings():
    df = pd.DataFrame({"item_id": [2, 1], "timestamp": ["2020-01-02", "2020-01-01"], "target_value": ["1.5", "2"]})
    before = df.copy()
    out = read_dataset(df)
    pd.testing.assert_frame_equal(df, before)
    assert out["item_id"].tolist() == ["1", "2"] and out["target_value"].tolist() == [2.0, 1.5]


def test_tz_aware_dataframe_column_converts():
    df = pd.DataFrame({"item_id": "a", "timestamp": pd.to_datetime(["2020-01-01 00:00"]).tz_localize("UTC"),
                       "target_value": [1.0]})
    assert str(read_dataset(df, timezone="Asia/Tokyo")["timestamp"].iloc[0]) == "2020-01-01 09:00:00"


def test_files_are_never_modified(tmp_path):
    good = write(tmp_path, "good.csv", "2020-01-01,1,a\n2020-01-02,2,a\n")
    bad = write(tmp_path, "bad.csv", "2020-01-01,1,a\n2020-01-02,oops,a\n")
    sums = {p: md5(p) for p in (good, bad)}
    stat = {p: os.stat(p).st_mtime_ns for p in (good, bad)}
    read_dataset(good, schema=SCHEMA)
    with pytest.raises(DataError):
        read_dataset(bad, schema=SCHEMA)
    assert {p: md5(p) for p in (good, bad)} == sums
    assert {p: os.stat(p).st_mtime_ns for p in (good, bad)} == stat
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "good.csv"]


# ------------------------------------------------------------ bad input
def test_non_numeric_target_names_file_line_column_item(tmp_path):
    p = write(tmp_path, "sales.csv", "timestamp,target_value,item_id\n2020-01-01,1,a\n2020-01-02,1O,shoe\n")
    with pytest.raises(DataError) as e:
        read_dataset(p, schema=SCHEMA)
    msg = str(e.value)
    assert "sales.csv" in msg and "line 3" in msg and "'target_value'" in msg and "'1O'" in msg
    assert "item 'shoe'" in msg and "number" in msg


def test_unparseable_timestamp_names_line_and_item(tmp_path):
    p = write(tmp_path, "t.csv", "2020-01-01,1,a\n2020-01-02,1,a\n2020/01/03,1,b\n")
    with pytest.raises(DataError) as e:
        read_dataset(p, schema=SCHEMA)
    msg = str(e.value)
    assert "t.csv" in msg and "line 3" in msg and "'2020/01/03'" in msg and "item 'b'" in msg
    assert "yyyy-MM-dd" in msg and "timestamp_format" in msg


def test_empty_timestamp_and_empty_item(tmp_path):
    p = write(tmp_path, "t.csv", "timestamp,target_value,item_id\n2020-01-01,1,a\n,1,b\n")
    with pytest.raises(DataError, match=r"t\.csv', line 3: column 'timestamp' is empty \(item 'b'\)"):
        read_dataset(p, schema=SCHEMA)
    q = write(tmp_path, "u.csv", "2020-01-01,1,a\n2020-01-02,1,\n")
    with pytest.raises(DataError, match=r"u\.csv', line 2: column 'item_id' is empty"):
        read_dataset(q, schema=SCHEMA)


def test_row_numbers_count_header_blank_lines_and_quoted_line_breaks(tmp_path):
    p = write(tmp_path, "q.csv", 'timestamp,target_value,item_id\n2020-01-01,1.5,"a\nb"\n\n2020-01-02,y,a\n')
    with pytest.raises(DataError, match=r"q\.csv', line 5: column 'target_value' value 'y'"):
        read_dataset(p, schema=SCHEMA)


def test_wrong_number_of_fields_names_the_line(tmp_path):
    p = write(tmp_path, "f.csv", "2020-01-01,1,a\n2020-01-02,1,a,extra\n")
    with pytest.raises(DataError, match=r"f\.csv', line 2 has 4 fields but the file has 3 columns"):
        read_dataset(p, schema=SCHEMA)


def test_mixed_time_zones_name_both_rows(tmp_path):
    p = write(tmp_path, "z.csv", "2020-01-01T00:00:00,1,a\n2020-01-02T00:00:00+01:00,1,b\n")
    with pytest.raises(DataError) as e:
        read_dataset(p, schema=SCHEMA)
    msg = str(e.value)
    assert "mixes time zones" in msg and "z.csv', line 2" in msg and "z.csv', line 1" in msg
    assert "item 'b'" in msg and "timezone=" in msg


def test_mixed_time_zones_across_files(tmp_path):
    write(tmp_path, "d/a.csv", "2020-01-01T00:00:00Z,1,a\n")
    write(tmp_path, "d/b.csv", "2020-01-02T00:00:00Z,1,a\n")
    assert len(read_dataset(tmp_path / "d", schema=SCHEMA)) == 2
    write(tmp_path, "d/c.csv", "2020-01-03 00:00:00,1,a\n")
    with pytest.raises(DataError) as e:
        read_dataset(tmp_path / "d", schema=SCHEMA)
    assert "mixed time zones across files" in str(e.value) and "a.csv" in str(e.value) and "c.csv" in str(e.value)


def test_empty_file_and_header_only_file(tmp_path):
    e1 = write(tmp_path, "empty.csv", "")
    with pytest.raises(DataError, match=r"empty\.csv' is empty"):
        read_dataset(e1, schema=SCHEMA)
    e2 = write(tmp_path, "head.csv", "timestamp,target_value,item_id\n")
    with pytest.raises(DataError, match=r"head\.csv': no data rows"):
        read_dataset(e2, schema=SCHEMA)
    with pytest.raises(DataError, match="is empty"):
        read_dataset(pd.DataFrame({"item_id": [], "timestamp": [], "target_value": []}))


def test_missing_required_column(tmp_path):
    p = write(tmp_path, "m.csv", "item_id,timestamp\na,2020-01-01\n")
    with pytest.raises(SchemaError) as e:
        read_dataset(p)
    msg = str(e.value)
    assert "m.csv" in msg and "missing required column(s) ['target_value']" in msg and "column_map" in msg
    with pytest.raises(SchemaError, match=r"schema .* lacks required field\(s\) \['target_value'\]"):
        read_dataset(p, schema="item_id:string,timestamp:timestamp")
    with pytest.raises(SchemaError, match=r"missing required column\(s\) \['timestamp'\]"):
        read_dataset(pd.DataFrame({"item_id": ["a"], "target_value": [1]}))


def test_unknown_type_in_schema():
    with pytest.raises(SchemaError, match=r"'target_value' has unknown type 'double'.*float"):
        read_dataset(pd.DataFrame({"timestamp": ["2020-01-01"], "target_value": [1], "item_id": ["a"]}),
                     schema="timestamp:timestamp,target_value:double,item_id:string")


def test_headerless_file_without_schema_is_refused(tmp_path):
    p = write(tmp_path, "n.csv", "2020-01-01,1,a\n")
    with pytest.raises(SchemaError, match=r"n\.csv' has no header row .* schema="):
        read_dataset(p)


def test_integer_and_geolocation_fields(tmp_path):
    p = write(tmp_path, "i.csv", "item_id,timestamp,number_of_instances\nm5,2020-01-01,3\nm5,2020-01-02,2.5\n")
    with pytest.raises(DataError, match=r"i\.csv', line 3: column 'number_of_instances' \(type integer\)"):
        read_dataset(p, domain="EC2_CAPACITY", schema="instance_type:string,timestamp:timestamp,"
                     "number_of_instances:integer", column_map={"item_id": "instance_type"})
    g = write(tmp_path, "g.csv", "item_id,timestamp,loc\na,2020-01-01,47.61_-122.33\na,2020-01-02,Seattle\n")
    with pytest.raises(DataError, match=r"g\.csv', line 3: column 'loc' \(type geolocation\)"):
        read_dataset(g, "RELATED_TIME_SERIES", schema="item_id:string,timestamp:timestamp,loc:geolocation")


def test_missing_file():
    with pytest.raises(DataError, match="does not exist"):
        read_dataset("/nonexistent/fc_core/x.csv", schema=SCHEMA)


def test_error_path_converts_slice_by_slice(tmp_path, monkeypatch):
    from fc_core.readers import csv as csv_reader

    monkeypatch.setattr(csv_reader, "_SLICE", 3)
    rows = [f" 2020-01-{i:02d},{i},a" for i in range(1, 11)]  # a leading space: pyarrow refuses, the text path reads
    p = write(tmp_path, "s.csv", "\n".join(rows) + "\n")
    df = read_dataset(p, schema=SCHEMA)
    assert df["target_value"].tolist() == list(map(float, range(1, 11))) and df["timestamp"].iloc[-1].day == 10
    rows[8] = " 2020-01-09,x,a"
    write(tmp_path, "s.csv", "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"s\.csv', line 9: column 'target_value' value 'x'"):
        read_dataset(p, schema=SCHEMA)
    zoned = [f"2020-01-0{i}T00:00:00Z,1,a" for i in range(1, 4)] + [f"2020-01-0{i}T00:00:00,1,a" for i in range(4, 7)]
    write(tmp_path, "s.csv", "\n".join(zoned) + "\n")
    with pytest.raises(DataError, match=r"mixes time zones: file .*s\.csv', line 1 .* file .*s\.csv', line 4"):
        read_dataset(p, schema=SCHEMA)


def test_plain_dates_then_times_fall_back_to_full_timestamps(tmp_path):
    p = write(tmp_path, "m.csv", "item_id,timestamp,target_value\na,2020-01-01,1\na,2020-01-01 05:00:00,2\n")
    df = read_dataset(p)
    assert df["timestamp"].astype(str).tolist() == ["2020-01-01 00:00:00", "2020-01-01 05:00:00"]
    assert str(df["timestamp"].dtype) == "datetime64[ns]"
