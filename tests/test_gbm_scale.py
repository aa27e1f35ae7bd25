"""GBM at scale (issue 17): a row budget that does not grow with the items, forecasts in item chunks."""
from __future__ import annotations

import numpy as np

from fc_core.algorithms.gbm import GBMEstimator, sampling
from fc_core.algorithms.gbm import training as gbm_training

from test_gbm import FAST, _panel, _seasonal

LEVELS = np.array([0.1, 0.5, 0.9])


def test_chunked_forecast_and_calibration_equal_one_grid(monkeypatch):
    y, _ = _seasonal(n=10, L=24 * 20)
    p = _panel(y)
    whole = GBMEstimator(24, **FAST).train(p)
    one = whole.predict_arrays(p, levels=LEVELS)
    monkeypatch.setattr(sampling, "_CHUNK_SERIES", 6)  # 2 windows x 3 items per calibration grid, 6 items per forecast
    chunked = GBMEstimator(24, **FAST).train(p)
    np.testing.assert_array_equal(chunked.sigma, whole.sigma)
    np.testing.assert_array_equal(chunked.Z, whole.Z)
    two = chunked.predict_arrays(p, levels=LEVELS)
    np.testing.assert_array_equal(two.quantiles, one.quantiles)
    np.testing.assert_array_equal(two.mean, one.mean)
    # the trained model forecasts the same in chunks as on one grid
    np.testing.assert_array_equal(whole.predict_arrays(p, levels=LEVELS).quantiles, one.quantiles)


def test_under_the_budget_every_row_trains_and_nothing_is_said():
    y, _ = _seasonal(n=6, L=24 * 20)
    pred = GBMEstimator(24, **FAST).train(_panel(y))
    assert "training_sample" not in pred.info
    assert pred.info["training_rows"]["final_model"].startswith("trained on all ")
    rows = pred.info["effort"]["direct"]["rows"]
    assert pred.info["training_rows"]["final_model"] == f"trained on all {rows:,} candidate rows"
    assert pred.info["effort"]["direct"]["candidates"] == rows


def test_row_budget_samples_whole_items_and_says_so(monkeypatch):
    y, _ = _seasonal(n=40, L=24 * 20)
    p = _panel(y)
    grids = []
    real = gbm_training._Grid

    def spy(panel, *a, **k):
        grids.append(panel.n_series)
        return real(panel, *a, **k)

    monkeypatch.setattr(gbm_training, "_Grid", spy)
    budget = 3000
    pred = GBMEstimator(24, **FAST, max_train_rows=budget).train(p)
    # 40 items x 480 values x 2 draws = 38,400 candidate rows; the final model's grid holds only the
    # items drawn for about 2 x 3,000 of them (16 rows each a little over 960 candidate rows -> 7 items)
    assert grids[0] == 7
    effort = pred.info["effort"]["direct"]
    assert effort["rows"] == budget
    note = pred.info["training_rows"]["final_model"]
    assert note.startswith(f"trained on 3,000 of {40 * 480 * 2:,} candidate rows (sampled")
    assert "rows of 7 of the 40 items drawn at random" in note
    assert "calibration model: trained on 3,000 of" in pred.info["training_sample"]
    # every item is still forecast, with its own calibrated spread
    out = pred.predict_arrays(p, levels=LEVELS)
    assert np.isfinite(out.quantiles).all() and (out.quantiles[:, :, 0] <= out.quantiles[:, :, 2]).all()
    assert len(pred.sigma_keys) == 40
    # and the same seed draws the same items
    again = GBMEstimator(24, **FAST, max_train_rows=budget).train(p)
    np.testing.assert_array_equal(again.predict_arrays(p, levels=LEVELS).quantiles, out.quantiles)


def test_item_sample_is_bounded_by_the_budget_not_the_items():
    from fc_core.algorithms.gbm.features import _Layout

    params = {**GBMEstimator.defaults, "max_train_rows": 5000}
    lay = _Layout.make("H", params)
    sizes = []
    for n in (40, 160):
        y, _ = _seasonal(n=n, L=24 * 20)
        rows, info = sampling.item_sample(_panel(y), lay, params, seed=0)
        assert info["candidate_rows"] == n * 480 * 2
        sizes.append(len(rows))
    assert sizes[0] == sizes[1] == 11  # ceil(2 x 5,000 / 960)
