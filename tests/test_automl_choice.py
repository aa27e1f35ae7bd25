"""Per-item choices of the AutoPredictor are tuples of algorithm names, never strings joined on '+'.

Issue 13 item 9: DeepAR+ chosen for an item raised KeyError 'DeepAR' because choices were
joined and split on "+".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toy_estimators  # noqa: F401  (registers the toy algorithms)
from fc_core import AutoPredictor, DatasetGroup
from fc_core.algorithms import base as algo_base


@pytest.fixture
def plus_names():
    """The toy biases registered again under names that contain '+' (like DeepAR+)."""
    added = {"Up+": "toy_estimators:BiasUpEstimator", "Down+": "toy_estimators:BiasDownEstimator"}
    for k, v in added.items():
        algo_base.register(k, v)
    yield list(added)
    for k in added:
        algo_base._REGISTRY.pop(k, None)


def _rising_group():
    # item a is flat (the even blend of the biases is exact there); b and c rise by 1 a day, so the
    # upward bias alone is best for them (as in test_automl.test_per_item_choice_falls_back...)
    t = np.arange(60, dtype=float)
    ts = pd.date_range("2024-01-01", periods=60)
    df = pd.concat([pd.DataFrame({"item_id": "a", "timestamp": ts, "target_value": 1000.0}),
                    pd.DataFrame({"item_id": "b", "timestamp": ts, "target_value": 10 + t}),
                    pd.DataFrame({"item_id": "c", "timestamp": ts, "target_value": 20 + t})])
    return DatasetGroup(target=df, frequency="D"), t


def test_names_with_plus_are_chosen_blended_and_forecast(plus_names):
    dg, t = _rising_group()
    ap = AutoPredictor(forecast_horizon=3, algorithms=plus_names, item_switch_margin=0.0)
    ap.train(dg, progress=False)
    assert ap.weights_ == {"Up+": 1.0}
    ch = ap.item_choice_.set_index("item_id")
    assert ch.loc["a", "algorithms"] == ("Down+", "Up+")  # the pair, as a tuple of names
    assert ch.loc["a", "algorithm"] == "Down+ & Up+"      # and a label for people
    assert ap.blend_weights(("Down+", "Up+")) == {"Down+": 0.5, "Up+": 0.5}
    assert ap.blend_weights(("Up+",)) == {"Up+": 1.0}
    fc = ap.forecast().frame
    assert fc.loc[fc["item_id"] == "a", "mean"].to_numpy() == pytest.approx(1000.0)
    assert fc.loc[fc["item_id"] == "b", "mean"].to_numpy() == pytest.approx(np.mean(10 + t[-5:]) + 1)
    lb = ap.leaderboard().set_index("algorithm")
    assert lb["items_chosen"].sum() == 3 - 1  # b and c use the global blend; a's pair is not one algorithm
    assert lb.loc["AutoPredictor", "items_chosen"] == 2


def test_saved_choices_load_back_and_old_plus_labels_still_load(plus_names, tmp_path):
    dg, _ = _rising_group()
    ap = AutoPredictor(forecast_horizon=3, algorithms=plus_names, item_switch_margin=0.0).train(dg, progress=False)
    before = ap.forecast().frame
    ap.save(tmp_path / "ap")
    back = AutoPredictor.load(tmp_path / "ap")
    assert list(back.item_choice_["algorithms"]) == list(ap.item_choice_["algorithms"])
    pd.testing.assert_frame_equal(back.forecast().frame, before)
    # a predictor saved before the change stored only the joined label "Down++Up+"
    p = tmp_path / "ap" / "item_choice.parquet"
    old = pd.read_parquet(p).drop(columns="algorithms")
    old["algorithm"] = ["Down++Up+", "AutoPredictor", "AutoPredictor"]
    old.to_parquet(p, index=False)
    legacy = AutoPredictor.load(tmp_path / "ap")
    assert legacy.item_choice_.set_index("item_id").loc["a", "algorithms"] == ("Down+", "Up+")
    pd.testing.assert_frame_equal(legacy.forecast().frame, before)


FAST = {
    "DeepAR+": {"epochs": 1, "num_batches_per_epoch": 3, "num_samples": 20, "num_cells": 8, "num_layers": 1},
    "MLP-QR": {"num_steps": 20, "hidden_size": 16, "num_layers": 1},
    "GBM": {"num_trees": 10, "calibration_windows": 1},
    "GBM-L2": {"num_trees": 10, "calibration_windows": 1},
    "Prophet": {"num_samples": 50},
    "NPTS": {"num_samples": 50},
}


def test_every_registered_algorithm_can_be_an_items_choice():
    names = [a for a in algo_base.available_algorithms() if algo_base._REGISTRY[a].startswith("fc_core.")]
    assert "DeepAR+" in names and len(names) >= 12
    rng = np.random.default_rng(0)
    t = np.arange(24 * 8)
    rows = [pd.DataFrame({"item_id": f"i{i}", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                          "target_value": 20 + 5 * i + 4 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t))})
            for i in range(3)]
    dg = DatasetGroup(target=pd.concat(rows, ignore_index=True), frequency="H")
    ap = AutoPredictor(forecast_horizon=6, algorithms=names, algorithm_params=FAST, keep_all_candidates=True)
    ap.train(dg, progress=False)
    assert not ap.failed_, ap.failed_
    assert set(ap.predictors_) == set(names)
    # every algorithm (and DeepAR+ paired with each other one) as item i1's choice
    alone = {}
    for a in names:  # each candidate alone, on all items (sampling models are seeded per call)
        f = ap.candidate_forecast(a).frame
        alone[a] = f.loc[f["item_id"] == "i1", "mean"].to_numpy()
    choices = [(a,) for a in names] + [tuple(sorted(("DeepAR+", a))) for a in names if a != "DeepAR+"]
    for c in choices:
        ap.item_choice_["algorithms"] = [(("AutoPredictor",)), c, ("AutoPredictor",)]
        w = ap.blend_weights(c)
        assert set(w) == set(c) and sum(w.values()) == pytest.approx(1.0)
        fc = ap.forecast().frame
        got = fc.loc[fc["item_id"] == "i1", "mean"].to_numpy()
        want = np.mean([alone[a] for a in c], axis=0)
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=str(c))
        assert np.isfinite(fc[["p10", "p50", "p90", "mean"]].to_numpy()).all()
