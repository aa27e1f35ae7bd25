"""The notebooks' loader reads a file again another way (one series, buckets, a metadata header,
the forecast frequency) on the error's machine-readable reason, never on its words: a path, item
or column that happens to contain those words does not set off a second read."""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import fc_core.datasets
import fc_core.workflow
from fc_core import errors
from fc_core.errors import DataError, SchemaError
from fc_core.workflow import load_dataset_group

SCHEMA = "timestamp:timestamp,target_value:float,item_id:string"


def _hourly(path, items=("client_1", "client_2"), hours=48, header=False):
    ts = pd.date_range("2014-01-01", periods=hours, freq="h")
    df = pd.DataFrame([(t.strftime("%Y-%m-%d %H:%M:%S"), float(k % 7), it) for it in items
                       for k, t in enumerate(ts)], columns=["timestamp", "target_value", "item_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, header=header)
    return df


@pytest.fixture
def reads(monkeypatch):
    """Every DatasetGroup the loader builds (its keyword arguments) and every bucketed re-read."""
    made, bucketed = [], []
    real = fc_core.datasets.DatasetGroup

    def group(**kw):
        made.append(kw)
        return real(**kw)

    def no_bucketing(*a, **k):
        bucketed.append(a)
        raise AssertionError("read again as buckets")

    monkeypatch.setattr(fc_core.datasets, "DatasetGroup", group)
    monkeypatch.setattr(fc_core.workflow, "_bucketed", no_bucketing)
    return made, bucketed


# ---------------------------------------------------------------- the reasons themselves
def test_errors_carry_their_reason_and_details_through_pickling(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"timestamp": ["2020-01-01"], "target_value": [1.0]}).to_csv(p, index=False)
    with pytest.raises(SchemaError) as e:
        fc_core.datasets.DatasetGroup(frequency="D", target=str(p))
    assert e.value.reason == errors.MISSING_COLUMNS
    assert e.value.details == {"columns": ["item_id"], "dataset_type": "TARGET_TIME_SERIES"}
    back = pickle.loads(pickle.dumps(e.value))
    assert (type(back), str(back), back.reason, back.details) == (SchemaError, str(e.value), e.value.reason,
                                                                  e.value.details)
    plain = DataError("x")
    assert plain.reason is None and plain.details == {}


# ---------------------------------------------------------------- the retries still happen
def test_a_target_without_item_column_is_read_as_one_series(tmp_path, reads):
    p = tmp_path / "station.csv"
    df = _hourly(p, items=("only",), header=True).drop(columns="item_id")
    df.to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "H"})
    assert g.target["item_id"].unique().tolist() == ["station"]
    assert g.target["target_value"].sum() == pytest.approx(df["target_value"].sum())
    assert len(reads[0]) == 2 and any("read as one series named 'station'" in n for n in g.import_notes)


def test_items_with_one_time_stamp_each_take_the_forecast_frequency(tmp_path, reads):
    p = tmp_path / "t.csv"
    pd.DataFrame({"timestamp": ["2020-01-01", "2020-01-02"], "target_value": [1.0, 2.0],
                  "item_id": ["a", "b"]}).to_csv(p, index=False)
    g = load_dataset_group({"target_path": str(p), "frequency": "D"})
    assert g.frequency == "D" and [kw["frequency"] for kw in reads[0]] == [None, "D"]


def test_a_metadata_header_on_line_1_is_read_as_a_header(tmp_path, reads):
    t, m = tmp_path / "t.csv", tmp_path / "m.csv"
    _hourly(t)
    m.write_text("Model_ID,Category\nclient_1,a\nclient_2,b\n")
    g = load_dataset_group({"target_path": str(t), "target_schema": SCHEMA, "frequency": "H",
                            "item_metadata_path": str(m), "item_metadata_schema": "item_id:string,category:string"})
    assert g.item_metadata["item_id"].tolist() == ["client_1", "client_2"]
    assert [kw["read_options"]["item_metadata"].get("header") for kw in reads[0]] == [None, True]


# ---------------------------------------------------------------- the same words elsewhere do not
@pytest.mark.parametrize("folder", ["could not infer the frequency", "off the declared frequency",
                                    "start on different boundaries", "must start on the 1st"])
def test_frequency_words_in_a_path_do_not_set_off_a_second_read(tmp_path, reads, folder):
    p = tmp_path / folder / "t.csv"
    _hourly(p)
    lines = p.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[1], "n/a", 1)  # an unparseable value: a plain DataError
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 6") as e:
        load_dataset_group({"target_path": str(p), "target_schema": SCHEMA, "frequency": "H"})
    assert folder in str(e.value) and e.value.reason is None
    assert len(reads[0]) == 1 and reads[1] == []


def test_an_unknown_metadata_item_off_line_1_is_refused_even_if_its_path_says_line_1(tmp_path, reads):
    t, m = tmp_path / "t.csv", tmp_path / "line 1)" / "m.csv"
    _hourly(t)
    m.parent.mkdir()
    m.write_text("client_1,a\nclient_2,b\nzz,c\n")
    with pytest.raises(DataError, match=r"names 1 item\(s\) without target time series: 'zz'") as e:
        load_dataset_group({"target_path": str(t), "target_schema": SCHEMA, "frequency": "H",
                            "item_metadata_path": str(m), "item_metadata_schema": "item_id:string,category:string"})
    assert "line 1)" in str(e.value) and "line 3)" in str(e.value)
    assert e.value.details == {"items": ["zz"], "lines": [3]}
    assert len(reads[0]) == 1  # not read again with line 1 (client_1) taken as a header


def test_a_metadata_file_without_item_column_is_not_taken_for_a_one_series_target(tmp_path, reads):
    # the metadata's path starts with the target's, and its error names the item column
    t = tmp_path / "data"
    m = tmp_path / "data_meta" / "m.parquet"
    _hourly(t / "t.csv", header=True)
    m.parent.mkdir()
    pd.DataFrame({"Category": ["a", "b"]}).to_parquet(m, index=False)
    with pytest.raises(SchemaError, match=r"missing required column\(s\) \['item_id'\]") as e:
        load_dataset_group({"target_path": str(t), "frequency": "H", "item_metadata_path": str(m)})
    assert str(t) in str(e.value) and e.value.details["dataset_type"] == "ITEM_METADATA"
    assert len(reads[0]) == 1
    assert np.all([("item_id" not in (kw["read_options"]["target"])) for kw in reads[0]])
