import pandas as pd
import pytest

from fc_core import frequency as fq
from fc_core.errors import ConfigError, SchemaError
from fc_core.schema import DOMAINS, Schema, default_schema, get_domain


@pytest.mark.parametrize("given, amazon, pandas_alias", [
    ("H", "H", "h"), ("h", "H", "h"), ("1H", "H", "h"), ("2H", "2H", "2h"),
    ("D", "D", "D"), ("W", "W", "W-MON"), ("M", "M", "MS"), ("ME", "M", "MS"), ("MS", "M", "MS"),
    ("3M", "3M", "3MS"), ("Y", "Y", "YS"), ("15min", "15min", "15min"), ("T", "1min", "min"),
])
def test_aliases_map_to_one_spelling(given, amazon, pandas_alias):
    assert fq.normalize(given) == amazon
    assert fq.to_pandas_freq(given) == pandas_alias


def test_weeks_start_monday_months_on_the_first():
    assert fq.date_range("2024-01-03", 2, "W")[0].day_name() == "Monday"
    assert fq.date_range("2024-01-15", 2, "M")[0].day == 1


@pytest.mark.parametrize("bad", ["7X", "", "fortnight", "0H"])
def test_unknown_frequency_is_refused(bad):
    with pytest.raises(ConfigError):
        fq.normalize(bad)


def test_step_index_counts_calendar_months_and_hours():
    idx = fq.step_index(pd.to_datetime(["2024-01-01 05:00"]), pd.Timestamp("2024-01-01 00:00"), "H")
    assert idx.tolist() == [5.0]
    idx = fq.step_index(pd.to_datetime(["2025-03-01"]), pd.Timestamp("2024-01-01"), "M")
    assert idx.tolist() == [14.0]


def test_domains_have_their_fields():
    assert {d: DOMAINS[d].target_field for d in DOMAINS} == {
        "RETAIL": "demand", "CUSTOM": "target_value", "INVENTORY_PLANNING": "demand",
        "EC2_CAPACITY": "number_of_instances", "WORK_FORCE": "workforce_demand",
        "WEB_TRAFFIC": "value", "METRICS": "metric_value"}
    assert get_domain("ec2_capacity").item_field == "instance_type"
    with pytest.raises(SchemaError, match="choose one of"):
        get_domain("SALES")


def test_schema_parse_and_errors():
    s = Schema.parse([{"AttributeName": "item_id", "AttributeType": "string"}, ("v", "float")])
    assert str(s) == "item_id:string,v:float"
    with pytest.raises(SchemaError, match="unknown type 'decimal'"):
        Schema.parse("a:decimal")
    with pytest.raises(SchemaError, match="more than once"):
        Schema.parse("a:string,a:float")
    assert default_schema("RETAIL", "TARGET_TIME_SERIES", forecast_dimensions=["store_id"]).names == [
        "item_id", "store_id", "timestamp", "demand"]


def test_a_model_configured_weekly_takes_sunday_based_weekly_data():
    """``frequency="W"`` names no anchor: data on Sundays (kept as W-SUN) is accepted, and the
    forecasts continue on Sundays; a different step is still refused."""
    import numpy as np

    import fc_core
    from fc_core import DatasetGroup
    from fc_core.algorithms.base import make_estimator

    ts = pd.date_range("2024-01-07", periods=60, freq="W-SUN")
    dg = DatasetGroup(target=pd.DataFrame({"item_id": "a", "timestamp": ts, "target_value": np.arange(60.0)}),
                      frequency="W")
    assert dg.to_panel().frequency == "W-SUN"
    out = make_estimator("SeasonalNaive", 4, frequency="W").train(dg).predict()
    assert list(out["timestamp"]) == list(pd.date_range(ts[-1] + pd.Timedelta(days=7), periods=4, freq="W-SUN"))
    ap = fc_core.AutoPredictor(forecast_horizon=4, frequency="W", algorithms=["SeasonalNaive"]).train(dg, progress=False)
    assert ap.forecast().frame["timestamp"].dt.dayofweek.eq(6).all()
    with pytest.raises(ConfigError, match="configured for frequency D"):
        make_estimator("SeasonalNaive", 4, frequency="D").train(dg)
