"""Explainability (fc_core.explain): impact scores on synthetic data with a known answer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fc_core import explain as ex
from fc_core.algorithms.gbm import GBMEstimator
from fc_core.errors import ConfigError
from fc_core.panel import Panel

FAST = dict(num_trees=80, learning_rate=0.15, num_leaves=15, min_data_in_leaf=10, calibration_windows=2,
            num_threads=1, effort="full")  # exactly these trees (effort="auto" would early-stop them)
H = 7


def known_answer(n: int = 16, L: int = 150, seed: int = 0) -> Panel:
    """Daily demand of ``n`` items: price lowers it, ``noise`` is a related field with no effect,
    and the metadata ``segment`` splits the items into two levels of price sensitivity:
    ``elastic`` items lose 25 % per unit of price, ``loyal`` items 5 %."""
    rng = np.random.default_rng(seed)
    T = L + H
    t = np.arange(T)
    price = 10 + rng.choice([0.0, -2.0, 2.0], size=(n, T), p=[0.5, 0.25, 0.25])
    noise = rng.normal(0, 1, (n, T))
    segment = np.where(np.arange(n) % 2 == 0, "elastic", "loyal")
    beta = np.where(segment == "elastic", 0.25, 0.05)[:, None]
    level = rng.uniform(20, 60, n)[:, None]
    y = level * (1 + 0.2 * np.sin(2 * np.pi * t / 7))[None, :] * np.exp(-beta * (price - 10))
    y *= np.exp(rng.normal(0, 0.03, y.shape))
    ts = pd.date_range("2023-01-01", periods=T, freq="D")
    names = [f"i{j:02d}" for j in range(n)]
    target = pd.DataFrame({"item_id": np.repeat(names, L), "timestamp": np.tile(ts[:L], n),
                           "target_value": y[:, :L].ravel()})
    rel = pd.DataFrame({"item_id": np.repeat(names, T), "timestamp": np.tile(ts, n),
                        "noise": noise.ravel(), "price": price.ravel()})
    meta = pd.DataFrame({"item_id": names, "segment": segment})
    return Panel.from_frame(target, ["item_id"], "target_value", "D", related=rel,
                            related_columns=["noise", "price"], static=meta)


@pytest.fixture(scope="module")
def panel():
    return known_answer()


@pytest.fixture(scope="module")
def gbm(panel):
    return GBMEstimator(H, seed=0, **FAST).train(panel)


def test_gbm_price_lowers_demand_and_noise_is_far_below(gbm):
    table = gbm.explain().predictor_level().set_index("attribute")
    assert set(table.index) == {"noise", "price", "segment"}
    assert table.loc["price", "raw_impact_score"] < 0  # a higher price lowers the forecast
    assert table.loc["price", "direction"] == "lowers"
    assert abs(table.loc["price", "normalized_impact_score"]) > 5 * abs(table.loc["noise", "normalized_impact_score"])
    assert table["normalized_impact_score"].abs().max() == pytest.approx(1.0)


def test_gbm_metadata_with_two_levels_gets_a_clear_impact(gbm, panel):
    """The segment matters through price: for an elastic item a high price lowers the forecast
    more than for the average item (the segment's impact falls as the price rises); for a loyal
    item the other way round."""
    e = gbm.explain(items=list(panel.keys["item_id"][:8]))
    wide = e.frame.pivot_table(index=["item_id", "timestamp"], columns="attribute",
                               values=["raw_impact_score", "value"]).reset_index()
    wide["segment"] = wide["item_id"].map(dict(zip(panel.keys["item_id"], panel.static["segment"])))
    for seg, sign in (("elastic", -1), ("loyal", 1)):
        w = wide[wide["segment"] == seg]
        r = np.corrcoef(w["value", "price"], w["raw_impact_score", "segment"])[0, 1]
        assert sign * r > 0.5, (seg, r)
    mean_abs = e.frame.groupby("attribute")["raw_impact_score"].apply(lambda s: s.abs().mean())
    assert mean_abs["segment"] > 3 * mean_abs["noise"]


def test_gbm_tree_shap_adds_up_to_the_model_output(gbm, panel):
    sv = gbm.shap_values(panel)
    booster = gbm.models["direct"]
    assert sv["contrib"].shape[-1] == len(booster.feature_name()) + 1
    # base value + all contributions = the model's output (x-space), and that is the p50 before calibration
    from fc_core.algorithms.gbm import _Grid, _static_codes

    grid = _Grid(panel, gbm.layout, H, gbm.use_log)
    rows = sv["rows"]
    R, O = np.repeat(rows, H), np.full(len(rows) * H, grid.end)
    hs = np.tile(np.arange(1, H + 1), len(rows))
    raw = booster.predict(grid.features_direct(R, O, hs, _static_codes(panel, gbm.categories), grid.cumsums()))
    np.testing.assert_allclose(sv["contrib"].sum(-1).reshape(-1), raw, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sv["x"].reshape(-1), raw + grid.direct_base(R, O, hs), rtol=1e-6, atol=1e-8)


def test_gbm_feature_names_follow_the_columns_and_related_order_is_aligned(gbm, panel):
    """The booster's names are the columns it reads (a related field's features carry its own name);
    a panel giving the related fields in another order forecasts the same."""
    from dataclasses import replace

    names = gbm.models["direct"].feature_name()
    rel = [n for n in names if n.split("_", 1)[0] in ("rel", "relz", "reld", "relo")]
    assert rel == ["rel_noise", "rel_price", "relz_noise", "relz_price", "reld_noise", "reld_price",
                   "relo_noise", "relo_price"]
    # importance by split gain: price's features, not noise's, carry the model
    gain = dict(zip(names, gbm.models["direct"].feature_importance("gain")))
    assert sum(v for k, v in gain.items() if k.endswith("_price")) > 5 * sum(v for k, v in gain.items()
                                                                              if k.endswith("_noise"))
    swapped = replace(panel, related=panel.related[:, ::-1], related_names=["price", "noise"])
    a = gbm.predict_arrays(panel, levels=[0.5]).quantiles
    b = gbm.predict_arrays(swapped, levels=[0.5]).quantiles
    np.testing.assert_allclose(a, b)
    with pytest.raises(ConfigError, match="price"):
        gbm.predict_arrays(replace(panel, related=panel.related[:, :1], related_names=["noise"]), levels=[0.5])


def test_forecast_explainability_limits_and_export(gbm, panel, tmp_path, monkeypatch):
    items = list(panel.keys["item_id"][:2])
    first = panel.forecast_starts()[0]
    e = gbm.explain(items=items, start=first, end=first + pd.Timedelta(days=2))
    assert e.level == "forecast"
    assert e.frame["timestamp"].nunique() == 3 and set(e.frame["item_id"]) == set(items)
    assert e.frame["normalized_impact_score"].between(-1, 1).all()
    out = pd.read_csv(e.export(tmp_path / "explain.csv"))
    assert list(out.columns) == ["item_id", "timestamp", "attribute", "raw_impact_score", "normalized_impact_score"]
    assert len(out) == 2 * 3 * 3 and out["timestamp"].str.endswith("Z").all()
    pq = pd.read_parquet(e.export(tmp_path / "explain.parquet"))
    np.testing.assert_allclose(pq["raw_impact_score"], out["raw_impact_score"])
    top = pd.read_csv(gbm.explain().export(tmp_path / "predictor.csv"))
    assert list(top.columns) == ["attribute", "raw_impact_score", "normalized_impact_score"]
    wide = e.item(items[0])
    assert list(wide.columns) == ["timestamp", "noise", "price", "segment"] and len(wide) == 3
    monkeypatch.setattr(ex, "MAX_SERIES", 3)  # Amazon Forecast's 50, made small for the test
    with pytest.raises(ConfigError, match="at most 3 series"):
        gbm.explain(items=list(panel.keys["item_id"][:4]))
    monkeypatch.setattr(ex, "MAX_TIME_POINTS", 2)
    with pytest.raises(ConfigError, match="at most 2 time points"):
        gbm.explain(items=items)
    with pytest.raises(ConfigError, match="not in the data"):
        gbm.explain(items=["nope"])
    with pytest.raises(ConfigError, match="no forecast time point"):
        gbm.explain(items=items, start="2030-01-01")


def test_models_without_attributes_say_so(panel):
    from fc_core.algorithms.baselines import SeasonalNaiveEstimator

    e = SeasonalNaiveEstimator(H).train(panel).explain()
    assert e.empty and e.attributes == [] and "no impact scores" in e.summary()


def test_shapley_by_reforecast_is_exact_additive_and_seeded(panel):
    """On a known linear model the re-forecasting estimator recovers each attribute's share; exact
    and sampled estimates add up to forecast minus the no-attribute forecast; same seed, same values."""
    sub = panel.select([0, 1, 2])
    attrs = [("related", "noise"), ("related", "price"), ("metadata", "segment")]

    def forecast(p: Panel) -> np.ndarray:
        out = np.zeros((p.n_series, H))
        for i in range(p.n_series):
            r = p.related_series(i)[int(p.lengths[i]):int(p.lengths[i]) + H]
            elastic = p.static["segment"][i] == "elastic"
            out[i] = 100 - 3 * r[:, 1] + 10 * elastic - 2 * r[:, 1] * elastic
        return out

    full = forecast(sub)
    phi, empty, method = ex.shapley_by_reforecast(forecast, sub, attrs)
    assert "exact" in method
    np.testing.assert_allclose(phi.sum(-1), full - empty, atol=1e-9)
    np.testing.assert_allclose(phi[..., 0], 0, atol=1e-12)  # noise has no effect
    phi2, empty2, m2 = ex.shapley_by_reforecast(forecast, sub, attrs, n_permutations=5, seed=7, exact_max=1)
    assert "sampled" in m2
    np.testing.assert_allclose(phi2.sum(-1), full - empty, atol=1e-9)
    phi3, _, _ = ex.shapley_by_reforecast(forecast, sub, attrs, n_permutations=5, seed=7, exact_max=1)
    np.testing.assert_array_equal(phi2, phi3)
    # the price effect without interaction (item 1 is loyal): -3 * (price - its mean)
    mean1 = np.nanmean(sub.related_series(1)[:int(sub.lengths[1]), 1])  # the baseline: its history's mean
    p1 = sub.related_series(1)[int(sub.lengths[1]):int(sub.lengths[1]) + H, 1]
    np.testing.assert_allclose(phi[1, :, 1], -3 * (p1 - mean1), atol=1e-9)


@pytest.mark.slow
def test_prophet_regressor_gets_exactly_its_own_term():
    """Prophet is additive: with the fit kept, the price's Shapley value is its regressor term
    beta * (price - the item's mean price), beta = 5 here."""
    pytest.importorskip("prophet")
    from fc_core.algorithms.prophet import ProphetEstimator

    rng = np.random.default_rng(1)
    T, h = 200, 10
    ts = pd.date_range("2024-01-01", periods=T + h, freq="D")
    price = rng.uniform(1, 3, T + h)
    df = pd.DataFrame({"item_id": "a", "timestamp": ts[:T], "target_value": 20 + 5 * price[:T] + rng.normal(0, 0.3, T)})
    rel = pd.DataFrame({"item_id": "a", "timestamp": ts, "price": price})
    p = Panel.from_frame(df, ["item_id"], "target_value", "D", related=rel, related_columns=["price"])
    e = ProphetEstimator(h, n_jobs=1).train(p).explain()
    assert "history kept" in e.method
    np.testing.assert_allclose(e.frame["raw_impact_score"], 5 * (price[T:] - price[:T].mean()), atol=0.15)
    assert e.predictor_level().loc[0, "direction"] == "raises"


@pytest.mark.slow
def test_mlp_qr_by_reforecasting_finds_the_price_and_is_reproducible(panel):
    pytest.importorskip("torch")
    from fc_core.algorithms.mlp import MLPQREstimator

    pred = MLPQREstimator(H, seed=0, num_steps=300, hidden_size=32, num_layers=2, batch_size=64,
                          learning_rate=3e-3, device="cpu", num_threads=1).train(panel)
    e = pred.explain(max_items=8, seed=1)
    assert "exact Shapley" in e.method and len(e.notes) == 1  # the sample of 8 of 16 items is said
    table = e.predictor_level().set_index("attribute")
    assert table.loc["price", "raw_impact_score"] < 0
    assert abs(table.loc["price", "raw_impact_score"]) > 3 * abs(table.loc["noise", "raw_impact_score"])
    again = pred.explain(max_items=8, seed=1)
    pd.testing.assert_frame_equal(e.frame, again.frame)
    two = pred.explain(items=["i00", "i01"], seed=5)
    full = pred.predict_arrays(panel.select([0, 1]), levels=[0.5]).quantile(0.5)
    none = pred.predict_arrays(ex.masked(panel.select([0, 1]), pred.explain_attributes(), set()),
                               levels=[0.5]).quantile(0.5)
    sums = two.frame.groupby(["item_id", "timestamp"], sort=False)["raw_impact_score"].sum().to_numpy()
    np.testing.assert_allclose(sums, (full - none).reshape(-1), rtol=1e-5, atol=1e-6)  # Shapley values add up


def test_autopredictor_weights_members_scores_per_item(panel):
    from fc_core.automl import AutoPredictor

    auto = AutoPredictor(H, algorithms=["SeasonalNaive", "GBM"], algorithm_params={"GBM": FAST},
                         backtest_windows=1, seed=0).train(panel, progress=False)
    assert set(auto.predictors_) == {"SeasonalNaive", "GBM"}
    # make the blend explicit: 70 % GBM globally, one item on SeasonalNaive alone, one on the even pair
    auto.weights_ = {"GBM": 0.7, "SeasonalNaive": 0.3}
    choice = auto.item_choice_.copy()
    picks = {"i01": ("SeasonalNaive",), "i02": ("GBM", "SeasonalNaive")}
    choice["algorithms"] = [picks.get(i, ("AutoPredictor",)) for i in choice["item_id"]]
    auto.item_choice_ = choice
    items = ["i00", "i01", "i02"]
    e = auto.explain(items=items)
    gbm = auto.predictors_["GBM"].explain(items=items).frame.set_index(["item_id", "timestamp", "attribute"])
    got = e.frame.set_index(["item_id", "timestamp", "attribute"])["raw_impact_score"]
    want = gbm["raw_impact_score"] * gbm.index.get_level_values(0).map({"i00": 0.7, "i01": 0.0, "i02": 0.5}).to_numpy()
    np.testing.assert_allclose(got.loc[want.index], want, atol=1e-9)
    share = e.items.set_index("item_id")["attribute_model_weight"]
    assert share.to_dict() == pytest.approx({"i00": 0.7, "i01": 0.0, "i02": 0.5})
    assert any("only by models that use no attributes" in n and "i01" in n for n in e.notes)
    assert auto.feature_importance().set_index("attribute").loc["price", "raw_impact_score"] < 0
    only_naive = AutoPredictor(H, algorithms=["SeasonalNaive"], backtest_windows=1).train(panel, progress=False)
    none = only_naive.explain()
    assert none.empty and "no impact scores" in none.summary()


@pytest.mark.slow
def test_deepar_explained_by_reforecasting_adds_up_and_repeats(panel):
    """DeepAR+ forecasts from seeded samples, so every coalition sees the same noise: the Shapley
    values add up to the forecast change and two runs give the same scores."""
    pytest.importorskip("gluonts")
    from fc_core.algorithms.deepar import DeepARPlusEstimator

    sub = panel.select([0, 1, 2, 3])
    pred = DeepARPlusEstimator(H, epochs=2, num_batches_per_epoch=10, learning_rate=1e-2, lags_seq=[1, 7],
                               context_length=14, seed=3, num_cells=16, num_layers=1, dropout_rate=0.0,
                               batch_size=32, num_samples=100).train(sub)
    assert [a for _, a in pred.explain_attributes()] == ["noise", "price", "segment"]
    e = pred.explain(items=["i00", "i01"])
    again = pred.explain(items=["i00", "i01"])
    pd.testing.assert_frame_equal(e.frame, again.frame)
    two = sub.select([0, 1])
    full = pred.predict_arrays(two, levels=[0.5]).quantile(0.5)
    none = pred.predict_arrays(ex.masked(two, pred.explain_attributes(), set()), levels=[0.5]).quantile(0.5)
    sums = e.frame.groupby(["item_id", "timestamp"], sort=False)["raw_impact_score"].sum().to_numpy()
    np.testing.assert_allclose(sums, (full - none).reshape(-1), rtol=1e-5, atol=1e-5)


def test_gbm_baseline_method_agrees_with_tree_shap_on_the_known_answer(gbm, panel):
    """method="baseline" (the booster re-predicted per coalition) adds up exactly and tells the
    same story as TreeSHAP: price lowers demand, far above the noise."""
    fast = gbm.explain(method="baseline")
    assert "booster" in fast.method and "exact Shapley" in fast.method
    table = fast.predictor_level().set_index("attribute")
    assert table.loc["price", "raw_impact_score"] < 0
    assert abs(table.loc["price", "raw_impact_score"]) > 5 * abs(table.loc["noise", "raw_impact_score"])
    tree = gbm.explain().frame
    both = tree.merge(fast.frame, on=["item_id", "timestamp", "attribute"], suffixes=("_tree", "_base"))
    price = both[both["attribute"] == "price"]
    assert np.corrcoef(price["raw_impact_score_tree"], price["raw_impact_score_base"])[0, 1] > 0.9
    with pytest.raises(ConfigError, match="explain method"):
        gbm.explain(method="magic")
