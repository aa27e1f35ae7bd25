import pandas as pd
import pytest

from fc_core.errors import ConfigError
from fc_core.forecast import Forecast


def _fc():
    ts = pd.date_range("2024-01-01", periods=2, freq="D")
    return Forecast(pd.DataFrame({
        "item_id": ["a", "a", "b", "b"], "store_id": ["s1", "s1", "s1", "s1"],
        "timestamp": list(ts) * 2, "p10": [1.0, 1.0, 8.0, 8.0], "p50": [2.0, 2.0, 10.0, 10.0],
        "p90": [3.0, 3.0, 12.0, 12.0], "mean": [2.0, 2.0, 10.0, 10.0]}), key_columns=["item_id", "store_id"],
        frequency="D")


def test_query_by_item_dimension_and_dates():
    f = _fc()
    assert f.query(item_id="b", store_id="s1")["p50"].tolist() == [10.0, 10.0]
    assert len(f.query(end="2024-01-01")) == 2
    with pytest.raises(ConfigError, match="not a key"):
        f.query(color="red")
    with pytest.raises(ConfigError, match="no forecast for item_id='z'"):
        f.query(item_id="z")


def test_export_layout_csv_and_parquet(tmp_path):
    f = _fc()
    f.export(tmp_path / "f.csv")
    got = pd.read_csv(tmp_path / "f.csv")
    assert list(got.columns) == ["item_id", "store_id", "date", "p10", "p50", "p90", "mean"]
    assert got["date"].iloc[0] == "2024-01-01T00:00:00Z"
    f.export(tmp_path / "f.parquet")
    assert pd.read_parquet(tmp_path / "f.parquet").shape == (4, 7)
    assert not list(tmp_path.glob("*.part"))  # nothing half-written left behind


def test_export_to_an_fsspec_url():
    import fsspec

    f = _fc()
    f.export("memory://exports/f.csv")
    with fsspec.open("memory://exports/f.csv", "r") as fh:
        assert fh.readline().strip() == "item_id,store_id,date,p10,p50,p90,mean"


def test_evaluate_against_later_actuals_by_hand():
    f = _fc()
    actuals = pd.DataFrame({"item_id": ["a", "a", "b"], "store_id": ["s1"] * 3,
                            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
                            "target_value": [2.0, 4.0, 10.0]})
    per, overall = f.evaluate(actuals)
    # WAPE pools |y - mean| over the three known points: (0 + 2 + 0) / (2 + 4 + 10)
    assert overall["WAPE"] == pytest.approx(2 / 16)
    # wQL[0.9] at a: 2*(0.1*(3-2) + 0.9*(4-3)) / 6 = 2 * 1.0 / 6
    assert per.set_index("item_id").loc["a", "wQL[0.9]"] == pytest.approx(2 * (0.1 + 0.9) / 6)
    assert per.set_index("item_id").loc["b", "n_observed"] == 1
