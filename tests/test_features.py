"""Calendar, holiday and future-related features (fc_core.features)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import features as ft
from fc_core.errors import ConfigError, DataError
from fc_core.panel import Panel


def test_calendar_features_scaled_and_chosen_by_frequency():
    ts = pd.date_range("2024-01-01", periods=24 * 400, freq="h")
    X = ft.calendar_features(ts, "H")
    assert X.shape == (len(ts), 5)
    assert X.min() == -0.5 and X.max() == 0.5
    names = ft.calendar_feature_names("H")
    hour = X[:, names.index("hour_of_day")]
    assert hour[0] == -0.5 and hour[23] == 0.5 and hour[24] == -0.5
    dow = X[:24 * 7:24, names.index("day_of_week")]  # 2024-01-01 is a Monday
    np.testing.assert_allclose(dow, np.arange(7) / 6 - 0.5)
    assert ft.calendar_feature_names("D") == ["day_of_week", "day_of_month", "week_of_year", "month_of_year"]
    assert ft.calendar_feature_names("M") == ["month_of_year"]
    assert ft.calendar_feature_names("Y") == []
    assert ft.calendar_features(pd.date_range("2024", periods=3, freq="YS"), "Y").shape == (3, 0)
    assert "minute_of_hour" in ft.calendar_feature_names("15min")


def test_calendar_features_limited_to_cycles_the_history_covers():
    assert ft.calendar_feature_names("H", history=pd.Timedelta(days=2)) == ["hour_of_day"]
    assert ft.calendar_feature_names("H", history=pd.Timedelta(days=40)) == ["hour_of_day", "day_of_week",
                                                                            "day_of_month"]
    assert ft.calendar_feature_names("D", history=pd.Timedelta(days=800)) == ft.calendar_feature_names("D")
    ts = pd.date_range("2024-03-01", periods=3, freq="D")
    X = ft.calendar_features(ts, "D", ["month_of_year", "day_of_month"])
    np.testing.assert_allclose(X[:, 0], 2 / 11 - 0.5)
    np.testing.assert_allclose(X[:, 1], np.array([0, 1, 2]) / 30 - 0.5)
    with pytest.raises(ConfigError, match="unknown calendar feature"):
        ft.calendar_features(ts, "D", ["season"])


def test_calendar_features_unscaled_and_quarter_only_by_name():
    ts = pd.DatetimeIndex(["2024-12-30 17:45", "2025-03-31 00:00"])  # ISO week 1 of 2025; a Monday in Q1
    X = ft.calendar_features(ts, "15min", ["minute_of_hour", "hour_of_day", "day_of_week", "day_of_month",
                                           "week_of_year", "month_of_year", "quarter_of_year"], scaled=False)
    np.testing.assert_array_equal(X, [[45, 17, 0, 30, 1, 12, 4], [0, 0, 0, 31, 14, 3, 1]])
    np.testing.assert_array_equal(ft.calendar_features(ts, "D", ["quarter_of_year"]), [[0.5], [-0.5]])
    # the default sets (DeepAR+, MLP-QR) are unchanged: no frequency gets the quarter unasked
    assert not [f for f in ("15min", "H", "D", "W", "M", "Q", "Y") if "quarter_of_year" in ft.calendar_feature_names(f)]


def test_holidays_korea_lunar_and_english_names():
    h = ft.holiday_names("KR", [2023, 2024])
    assert list(h.columns) == ["timestamp", "holiday"]
    chuseok = h.loc[h.holiday == "Chuseok", "timestamp"].dt.strftime("%Y-%m-%d").tolist()
    assert chuseok == ["2023-09-29", "2024-09-17"]  # lunar: a different date each year
    seollal = h.loc[h.holiday == "Korean New Year", "timestamp"].dt.strftime("%Y-%m-%d").tolist()
    assert seollal == ["2023-01-22", "2024-02-10"]
    assert all(name.isascii() for name in h.holiday)  # language="en_US"


def test_holiday_indicator_hourly_daily_weekly():
    hourly = pd.date_range("2024-09-16 22:00", periods=4, freq="h")  # Chuseok eve ... Chuseok
    assert ft.holiday_indicator(hourly, "KR").tolist() == [1.0, 1.0, 1.0, 1.0]
    days = pd.date_range("2024-07-03", periods=3, freq="D")
    assert ft.holiday_indicator(days, "US").tolist() == [0.0, 1.0, 0.0]
    weeks = pd.date_range("2024-07-01", periods=2, freq="W-MON")  # week of 4 July, then not
    assert ft.holiday_indicator(weeks, "US", frequency="W").tolist() == [1.0, 0.0]
    assert ft.holiday_indicator(pd.DatetimeIndex([]), "US").shape == (0,)


def test_country_settings():
    assert ft.holidays_country({"CountryCode": "kr"}) == "KR"
    assert ft.holidays_country({"Name": "holiday", "Value": "US"}) == "US"
    assert ft.holidays_country(None) is None
    assert {"US", "KR", "CN", "JP", "DE"} <= set(ft.list_holiday_countries())
    with pytest.raises(ConfigError, match="no holiday calendar for country 'XX'"):
        ft.holidays_country("XX")
    with pytest.raises(ConfigError, match="CountryCode"):
        ft.holidays_country({"Country": "US"})


def _panel(future_steps: int, nan_at: int | None = None) -> Panel:
    ts = pd.date_range("2024-01-01", periods=10, freq="D")
    df = pd.DataFrame({"item_id": "a", "timestamp": ts, "target_value": np.arange(10.0)})
    rts = pd.date_range("2024-01-01", periods=10 + future_steps, freq="D")
    price = np.arange(len(rts), dtype=float)
    if nan_at is not None:
        price[10 + nan_at] = np.nan
    rel = pd.DataFrame({"item_id": "a", "timestamp": rts, "price": price, "promo": 1.0})
    return Panel.from_frame(df, ["item_id"], "target_value", "D", related=rel, related_columns=["price", "promo"])


def test_future_related_covers_horizon_or_names_the_gap():
    out = ft.future_related(_panel(3), 3, ["promo", "price"])
    assert out[0].shape == (13, 2) and out[0][-1].tolist() == [1.0, 12.0]
    with pytest.raises(DataError, match=r"\('a',\) \(missing from 2024-01-13 00:00:00, needed through 2024-01-14"):
        ft.future_related(_panel(2), 4)
    with pytest.raises(DataError, match="missing from 2024-01-12"):
        ft.future_related(_panel(3, nan_at=1), 3)
    with pytest.raises(DataError, match=r"needs related column\(s\) \['cost'\], which the related time series lacks"):
        ft.future_related(_panel(3), 3, ["cost"])
