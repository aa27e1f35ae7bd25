"""Calendar cases of issue 13: season lengths of multiple frequencies, items that end early,
a partial last bucket after aggregation."""
import numpy as np
import pandas as pd
import pytest

from fc_core import frequency as fq
from fc_core.algorithms import make_estimator

# every multiple Amazon Forecast allows (1-59 min, 1-23 H, 1-6 D, 1-4 W, 1-11 M, Y), plus quarters
ALLOWED = ([f"{k}min" for k in range(1, 60)] + [f"{k}H" for k in range(1, 24)] + [f"{k}D" for k in range(1, 7)]
           + [f"{k}W" for k in range(1, 5)] + [f"{k}M" for k in range(1, 12)] + ["Q", "2Q", "Y"])

# the cycle each base unit must model, and how a timestamp's phase in it is read
_PHASE = {
    "hour": lambda t: t.minute,
    "day": lambda t: (t.hour, t.minute),
    "week": lambda t: (t.dayofweek, t.hour, t.minute),
    "year": lambda t: t.month,
}
_WANTED = {"min": ["hour", "day", "week"], "H": ["day", "week"], "D": ["week", "year"], "W": ["year"],
           "M": ["year"], "Q": ["year"], "Y": []}


@pytest.mark.parametrize("freq", ALLOWED)
def test_every_allowed_frequency_models_its_base_cycles(freq):
    """Each cycle of the base unit appears in whole steps (calendar phase repeats exactly) or, for the
    year in days or weeks, within half a step of 365.25 days; the primary season is one of them."""
    fq.validate_minutes(freq)
    mult, base = fq.parse(freq)
    cyc = fq.cycles(freq)
    seasons = fq.seasonalities(freq)
    assert seasons == sorted(seasons) and len(set(seasons)) == len(seasons)
    assert all(2 <= m <= fq.MAX_SEASON_STEPS for m in seasons)
    ts = fq.date_range("2000-01-01", max(seasons, default=1) + 60, freq)
    step = ts[1] - ts[0]
    covered = set()
    for name, m in cyc:
        unit = name.split()[-1].rstrip("s")
        covered.add(unit)
        if unit == "year" and base in ("D", "W"):
            assert abs(m * step - pd.Timedelta(days=365.25)) <= step / 2
        else:
            phase = _PHASE[unit]
            assert all(phase(ts[i]) == phase(ts[i + m]) for i in range(min(50, len(ts) - m)))
    for unit in _WANTED[base]:
        # a cycle is left out only where it is a single step or too long for the engines
        length = {"hour": 60, "day": 1440, "week": 10080}[unit] if base == "min" else \
            {"H": {"day": 24, "week": 168}, "D": {"week": 7}, "W": {}, "M": {"year": 12}, "Q": {"year": 4}}[base].get(unit)
        steps = np.lcm(length, mult) // mult if length else round(365.25 / (7 if base == "W" else 1) / mult)
        assert steps in seasons or steps < 2 or steps > fq.MAX_SEASON_STEPS, (freq, unit, cyc)
    m = fq.season_length(freq)
    assert (m in seasons) if seasons else m == 1


@pytest.mark.parametrize("freq, seasons, main", [
    ("2D", [7, 183], 7), ("8H", [3, 21], 3), ("15min", [4, 96, 672], 4), ("2W", [26], 26),
    ("M", [12], 12), ("Q", [4], 4), ("H", [24, 168], 24), ("D", [7, 365], 7), ("W", [52], 52),
    ("5H", [24, 168], 24), ("3M", [4], 4), ("Y", [], 1),
])
def test_examples_of_season_lengths(freq, seasons, main):
    assert fq.seasonalities(freq) == seasons
    assert fq.season_length(freq) == main


def test_minutes_and_hours_beyond_the_next_unit_are_refused():
    from fc_core.errors import ConfigError

    fq.validate_minutes("7min")
    with pytest.raises(ConfigError, match="1 to 59"):
        fq.validate_minutes("60min")
    with pytest.raises(ConfigError, match="1 to 23"):
        fq.validate_minutes("24H")


def _two_week_panel(n_items=3, periods=70, seed=0):
    """2D data whose level repeats every 14 days (7 steps): weekday and weekend halves."""
    rng = np.random.default_rng(seed)
    ts = fq.date_range("2024-01-01", periods, "2D")
    rows = []
    for i in range(n_items):
        level = 100 + 20 * i
        y = level * (1.0 + 0.5 * (ts.dayofweek >= 5)) + rng.normal(0, 1, periods)
        rows.append(pd.DataFrame({"item_id": f"i{i}", "timestamp": ts, "target_value": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("algo", ["SeasonalNaive", "ETS", "Theta"])
def test_two_day_data_gets_its_two_week_cycle(algo):
    """``season_length("2D")`` was 1, so no model saw the two-week cycle of 2D data."""
    from fc_core.datasets import DatasetGroup

    df = _two_week_panel()
    train = df.groupby("item_id").head(63)
    test = df.groupby("item_id").tail(7)
    panel = DatasetGroup(target=train, frequency="2D").to_panel()
    fc = make_estimator(algo, 7, frequency="2D").train(panel).predict(forecast_types=["0.5"])
    err = np.abs(fc.sort_values(["item_id", "timestamp"])["p50"].to_numpy()
                 - test.sort_values(["item_id", "timestamp"])["target_value"].to_numpy())
    assert err.mean() < 5.0, err.mean()  # the half-level swing is 50-70; noise is 1


# ------------------------------------------------------------------ partial last bucket
def _hourly_to(end: str, items=("a", "b")):
    ts = pd.date_range("2024-01-01 06:00", end, freq="h")
    return pd.concat([pd.DataFrame({"item_id": i, "timestamp": ts, "target_value": 1.0}) for i in items],
                     ignore_index=True)


def test_a_partial_last_day_is_reported_and_dropped():
    """Days at a 06:00 boundary; the data stop at 22:00, so the last day holds 17 of 24 hours.
    It used to become a day of 17 (against 24 for every other day)."""
    from fc_core.datasets import DatasetGroup

    dg = DatasetGroup(target=_hourly_to("2024-01-04 22:00"), frequency="H")
    with pytest.warns(UserWarning, match="17 of 24"):
        day = dg.aggregate("D", align={"Hour": 6})
    assert day.target["target_value"].tolist() == [24.0] * 6  # three whole days per item
    assert str(day.end_timestamp) == "2024-01-03 06:00:00"
    assert "17 of 24" in day.summary().overall["partial_last_bucket"]
    with pytest.warns(UserWarning, match="kept"):
        kept = dg.aggregate("D", align={"Hour": 6}, partial="keep")
    assert kept.target["target_value"].tolist() == [24.0, 24.0, 24.0, 17.0] * 2
    assert "kept" in kept.summary().overall["partial_last_bucket"]


def test_whole_buckets_are_left_alone():
    import warnings

    from fc_core.datasets import DatasetGroup

    dg = DatasetGroup(target=_hourly_to("2024-01-04 05:00"), frequency="H")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        day = dg.aggregate("D", align={"Hour": 6})
    assert day.target["target_value"].tolist() == [24.0] * 6
    assert "partial_last_bucket" not in day.summary().overall
    with pytest.raises(Exception, match="partial"):
        dg.aggregate("D", partial="maybe")


# ------------------------------------------------------------------ items ending early
def _ending_early(short: int = 10, days: int = 70):
    """Three daily items sharing a start; 'c' stops ``short`` days before the others. Weekly
    pattern around levels 100, 200 and 300."""
    ts = pd.date_range("2024-01-01", periods=days, freq="D")
    rows = []
    for i, item in enumerate("abc"):
        n = days - short if item == "c" else days
        y = 100.0 * (i + 1) * (1 + 0.3 * (ts[:n].dayofweek >= 5))
        rows.append(pd.DataFrame({"item_id": item, "timestamp": ts[:n], "target_value": y}))
    return pd.concat(rows, ignore_index=True)


def test_items_ending_early_are_counted_in_the_summary():
    from fc_core.datasets import DatasetGroup
    from fc_core.views import summary_tables

    s = DatasetGroup(target=_ending_early(), frequency="D").summary()
    assert s.overall["items_ending_early"] == 1
    assert s.overall["ending_early_steps"].startswith("median 10, max 10 D steps")
    assert "back-filled with zero" in s.overall["ending_early_handling"]
    assert "(10 steps)" in s.overall["ending_early_handling"]
    assert s.per_item.set_index("item_id")["ends_early_by"].to_dict() == {"a": 0, "b": 0, "c": 10}
    assert "items_ending_early" in repr(s)
    overall, worst = summary_tables(s)
    assert "ending_early_handling" in overall["statistic"].tolist()
    assert worst["item_id"].iloc[0] == "c"
    s2 = DatasetGroup(target=_ending_early(), frequency="D", forecast_from="item_end").summary()
    assert "own end" in s2.overall["ending_early_handling"]


def test_forecast_from_each_items_own_end():
    """By default 'c' is back-filled with ten zeros and forecast from the group's end (Amazon
    Forecast's behaviour); with forecast_from='item_end' it is forecast from its own end, at its
    own level, and backtested from its own end."""
    from fc_core.automl import AutoPredictor
    from fc_core.datasets import DatasetGroup

    df = _ending_early()
    runs = {}
    for mode in ("global_end", "item_end"):
        dg = DatasetGroup(target=df, frequency="D", forecast_from=mode)
        pred = AutoPredictor(forecast_horizon=7, algorithms=["SeasonalNaive"], frequency="D",
                             backtest_windows=1).train(dg, progress=False)  # one window, as asserted below
        fc = pred.forecast().frame if hasattr(pred.forecast(), "frame") else pred.forecast()
        runs[mode] = (fc[fc["item_id"] == "c"], pred.item_metrics("SeasonalNaive"))
    c_global, m_global = runs["global_end"]
    c_own, m_own = runs["item_end"]
    assert c_global["timestamp"].min() == pd.Timestamp("2024-03-11")  # the group's end + 1
    assert c_global["p50"].max() == 0.0  # the back-filled zeros repeated
    assert c_own["timestamp"].min() == pd.Timestamp("2024-03-01")  # its own end + 1
    np.testing.assert_allclose(np.sort(c_own["p50"].to_numpy()), [300.0] * 5 + [390.0] * 2)
    # the backtest window of 'c' ends at its own end: scored, and exactly (a pure weekly pattern)
    # by default its window holds back-filled zeros, scored as values (Amazon Forecast's meaning of a
    # zero fill); its own-end window is scored on its real history
    assert int(m_global.set_index("item_id").loc["c", "n_observed"]) == 7
    row = m_own.set_index("item_id").loc["c"]
    assert int(row["n_observed"]) == 7 and float(row["WAPE"]) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("freq, wanted", [("2D", {7, 14, 183}), ("8H", {3, 6, 21}), ("15min", {4, 8, 96})])
def test_gbm_lags_and_windows_follow_the_cycles(freq, wanted):
    """GBM's default lags (two main seasons plus the longer cycles up to 400) and windows."""
    from fc_core.algorithms.gbm import GBMEstimator, _Layout

    lay = _Layout.make(freq, dict(GBMEstimator.defaults))
    assert wanted <= set(lay.lags.tolist())
    assert fq.season_length(freq) in lay.windows
