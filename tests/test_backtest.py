import numpy as np
import pandas as pd
import pytest

from fc_core.backtest import backtest_windows, check_horizon, max_forecast_horizon, panel_windows, window_coverage
from fc_core.errors import ConfigError
from fc_core.panel import Panel


def _panel(lengths, freq="D", end="2024-03-01"):
    rows = []
    for i, n in enumerate(lengths):
        ts = pd.date_range(end=end, periods=n, freq=freq)
        rows.append(pd.DataFrame({"item_id": f"i{i}", "timestamp": ts, "target_value": np.arange(n, dtype=float)}))
    return Panel.from_frame(pd.concat(rows), ["item_id"], "target_value", "D")


def test_windows_are_laid_back_from_the_end_one_horizon_apart():
    ws = backtest_windows(pd.Timestamp("2024-03-01"), 100, "D", forecast_horizon=7, windows=3)
    assert [str(w.cutoff.date()) for w in ws] == ["2024-02-23", "2024-02-16", "2024-02-09"]
    assert ws[0].start == pd.Timestamp("2024-02-24") and ws[0].end == pd.Timestamp("2024-03-01")


def test_offset_moves_the_windows_back():
    ws = backtest_windows(pd.Timestamp("2024-03-01"), 100, "D", forecast_horizon=7, windows=1, offset=10)
    assert ws[0].cutoff == pd.Timestamp("2024-02-20")
    assert ws[0].end == pd.Timestamp("2024-02-27")


@pytest.mark.parametrize("kwargs, words", [
    ({"windows": 0}, "1 to 5"),
    ({"windows": 6}, "1 to 5"),
    ({"offset": 3}, "at least the horizon"),
    ({"offset": 50}, "less than half"),
])
def test_bad_window_settings_are_refused_with_the_rule(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        backtest_windows(pd.Timestamp("2024-03-01"), 100, "D", forecast_horizon=7, **kwargs)


def test_horizon_limit_names_the_maximum():
    assert max_forecast_horizon(90) == 30
    assert max_forecast_horizon(9000) == 500
    with pytest.raises(ConfigError, match="the maximum is 30"):
        check_horizon(31, 90)


def test_short_items_are_listed_not_dropped():
    p = _panel([60, 60, 3])
    w = panel_windows(p, 7)[0]
    cov = window_coverage(p, w, 7)
    assert cov["reason"].tolist() == ["", "", "starts after cutoff"]
    assert cov["test_points"].tolist() == [7, 7, 3]


def test_truncate_and_actuals_split_at_the_cutoff():
    p = _panel([20])
    w = panel_windows(p, 5)[0]
    t = p.truncate(w.cutoff)
    assert t.lengths.tolist() == [15]
    vals, obs = p.actuals_after(w.cutoff, 5)
    assert vals.tolist() == [[15, 16, 17, 18, 19]]
    assert obs.all()
