"""notebooks/explainability.ipynb under papermill (as in test_notebooks.py), with its exports checked."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "explainability.ipynb"


@pytest.mark.slow
def test_explainability_notebook_scores_the_retail_price(tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "out"
    params = {"demo_data": "retail", "n_items": 30, "forecast_horizon": 3, "output_dir": str(out),
              "algorithm_params": {"GBM": {"num_trees": 60, "calibration_windows": 1}}}
    papermill.execute_notebook(str(NB), str(tmp_path / NB.name), parameters=params, kernel_name="python3",
                               progress_bar=False, cwd=str(ROOT))
    top = pd.read_csv(out / "predictor_explainability.csv").set_index("attribute")
    assert list(top.columns) == ["raw_impact_score", "normalized_impact_score"]
    assert {"price", "promotion_applied"} <= set(top.index)
    assert top["normalized_impact_score"].abs().max() == pytest.approx(1.0)
    assert top.loc["price", "raw_impact_score"] < 0  # the demo's elasticity is negative: a higher price sells less
    per = pd.read_csv(out / "forecast_explainability.csv")
    assert list(per.columns) == ["item_id", "timestamp", "attribute", "raw_impact_score", "normalized_impact_score"]
    assert per["item_id"].nunique() == 1 and per["timestamp"].nunique() == 3
    assert (out / "impact_scores.png").stat().st_size > 5_000
