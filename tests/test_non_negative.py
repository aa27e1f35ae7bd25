"""One zero-clip setting: the guard's ``non_negative`` ("auto", True, False) on every estimator and
the AutoPredictor; the algorithms' old ``nonnegative`` keyword still works, warns, and gives the
same forecasts as the ``non_negative`` it stands for."""
import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core.algorithms.base import make_estimator
from fc_core.automl import AutoPredictor
from fc_core.datasets import DatasetGroup
from fc_core.errors import ConfigError
from fc_core.panel import Panel

COLS = ["p10", "p50", "p90", "mean"]


def _frame(field="target_value"):
    """Four monthly items of small counts with big swings (raw p10 < 0); item_3 has negative history."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(4):
        t = np.arange(36)
        y = 5.0 * (1 + i / 10) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * (1 + 1.5 * rng.standard_normal(36))
        y = rng.normal(0, 5, 36) if i == 3 else np.maximum(y, 0.0)
        rows.append(pd.DataFrame({"item_id": f"item_{i}", "timestamp": pd.date_range("2020-01-01", periods=36,
                                                                                   freq="MS"), field: y}))
    return pd.concat(rows, ignore_index=True)


def _panel():
    return Panel.from_frame(_frame(), ["item_id"], "target_value", "M")


def test_default_auto_clips_items_whose_history_is_never_negative():
    p = _panel()
    raw = make_estimator("ETS", 6, non_negative=False).train(p).predict()
    auto = make_estimator("ETS", 6).train(p).predict()
    never_neg = raw.item_id != "item_3"
    assert (raw.loc[never_neg, "p10"] < 0).sum() > 0  # something to clip
    np.testing.assert_array_equal(auto.loc[never_neg, COLS].to_numpy(),
                                  np.maximum(raw.loc[never_neg, COLS].to_numpy(), 0.0))
    # the item with negative history keeps its negative values
    np.testing.assert_array_equal(auto.loc[~never_neg, COLS].to_numpy(), raw.loc[~never_neg, COLS].to_numpy())
    assert (auto.loc[~never_neg, "p10"] < 0).any()


@pytest.mark.parametrize("name", ["ETS", "SeasonalNaive", "NPTS"])
@pytest.mark.parametrize("value", [False, True])
def test_the_old_nonnegative_keyword_warns_and_gives_the_same_forecasts(name, value):
    p = _panel()
    with pytest.warns(DeprecationWarning, match=f"nonnegative={value} is deprecated; use non_negative={value}") as w:
        old = make_estimator(name, 6, nonnegative=value)
    assert w[0].filename == __file__  # points at the caller, not at fc_core
    assert old.non_negative is value and "nonnegative" not in old.params
    new = make_estimator(name, 6, non_negative=value).train(p).predict()
    pd.testing.assert_frame_equal(old.train(p).predict(), new)
    if value is True:
        assert (new[COLS] >= 0).all().all()
    elif name != "NPTS":  # honoured: never-negative items keep their negative quantiles (NPTS samples
        assert (new.loc[new.item_id != "item_3", "p10"] < 0).any()  # the history itself: none there)


def test_old_and_new_keyword_that_disagree_are_refused():
    with pytest.raises(ConfigError, match=r"ETS: nonnegative=True and non_negative=False disagree"):
        make_estimator("ETS", 6, nonnegative=True, non_negative=False)
    with pytest.raises(ConfigError, match=r"ETS: nonnegative must be True or False, got 'yes'"):
        make_estimator("ETS", 6, nonnegative="yes")


def test_auto_predictor_algorithm_params_old_keyword_is_honoured_and_warns():
    p = _panel()
    algos = ["SeasonalNaive", "Naive"]
    with pytest.warns(DeprecationWarning, match="nonnegative=False is deprecated"):
        old = AutoPredictor(6, algorithms=algos, item_selection=False,
                            algorithm_params={a: {"nonnegative": False} for a in algos})
    assert old.algorithm_params == {a: {"non_negative": False} for a in algos}
    new = AutoPredictor(6, algorithms=algos, item_selection=False, non_negative=False)
    f_old = old.train(p, progress=False).forecast().frame
    f_new = new.train(p, progress=False).forecast().frame
    pd.testing.assert_frame_equal(f_old, f_new)
    assert (f_new.loc[f_new.item_id != "item_3", "p10"] < 0).any()


def test_count_like_domain_clips_on_auto_and_honours_false():
    g = DatasetGroup(frequency="M", domain="RETAIL", target=_frame("demand"))
    algos = ["SeasonalNaive", "Naive"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        auto = AutoPredictor(6, algorithms=algos, item_selection=False).train(g, progress=False).forecast().frame
        off = AutoPredictor(6, algorithms=algos, item_selection=False, non_negative=False).train(
            g, progress=False).forecast().frame
    assert (auto[COLS] >= 0).all().all()  # even item_3, whose history is negative: demand counts things
    assert (off["p10"] < 0).any()  # False is False, in every domain


# ------------------------------------------------------------------ what the zero clip reports
def _two_items():
    df = pd.DataFrame({"item_id": np.repeat(["a", "b", "c"], 12),
                       "timestamp": np.tile(pd.date_range("2020-01-01", periods=12, freq="MS"), 3),
                       "target_value": np.r_[np.arange(1.0, 13.0), np.arange(1.0, 13.0), np.arange(-6.0, 6.0)]})
    return Panel.from_frame(df, ["item_id"], "target_value", "M")


def _arrays(p, quant, mean):
    from fc_core.quantiles import ForecastArrays

    return ForecastArrays(np.array([0.1, 0.5, 0.9]), np.asarray(quant, float), np.asarray(mean, float),
                          p.forecast_starts(), {})


def test_zero_clip_counts_the_values_it_changed_not_the_items_it_may_clip():
    from fc_core.algorithms.guard import guard

    p = _two_items()  # a and b never negative (eligible under "auto"), c has negative history
    positive = [[1, 2, 3], [2, 3, 4]]
    c_neg = [[-4, -1, 2], [-3, 0, 1]]  # c keeps these: its history is negative
    # eligible items, no negative value: nothing changed, and the counts say so
    out = guard(p, _arrays(p, [positive, positive, c_neg], [[2, 3], [2, 3], [-1, 0]]))
    s = out.info["fallback_summary"]
    assert (s["zero_clip_eligible_items"], s["clipped_at_zero_items"], s["clipped_at_zero_values"]) == (2, 0, 0)
    np.testing.assert_array_equal(out.quantiles[2], c_neg)
    # b: two quantiles and one mean value below 0 -> 3 values in 1 item raised to 0
    b = [[-1, 2, 3], [-0.5, 1, 2]]
    out = guard(p, _arrays(p, [positive, b, c_neg], [[2, 3], [1, -0.2], [-1, 0]]))
    s = out.info["fallback_summary"]
    assert (s["zero_clip_eligible_items"], s["clipped_at_zero_items"], s["clipped_at_zero_values"]) == (2, 1, 3)
    np.testing.assert_array_equal(out.quantiles[1], [[0, 2, 3], [0, 1, 2]])
    np.testing.assert_array_equal(out.mean[1], [1, 0])
    # True clips c too: its 3 negative quantiles and 1 negative mean
    s = guard(p, _arrays(p, [positive, b, c_neg], [[2, 3], [1, -0.2], [-1, 0]]),
              non_negative=True).info["fallback_summary"]
    assert (s["zero_clip_eligible_items"], s["clipped_at_zero_items"], s["clipped_at_zero_values"]) == (3, 2, 7)
