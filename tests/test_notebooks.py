"""Every notebook runs under papermill at a tiny setting, and the getting-started outputs are right."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# small settings per notebook so the whole set runs in CI in a few minutes
TINY = {
    "getting_started.ipynb": {"demo_items": 4, "demo_days": 21, "forecast_horizon": 12,
                              "algorithms": ["SeasonalNaive", "Naive"]},
    "related_time_series.ipynb": {"stations": 2, "days": 21, "forecast_horizon": 24,
                                  "algorithm_params": {"GBM": {"num_trees": 30, "calibration_windows": 1}}},
    "cold_start.ipynb": {"n_items": 12, "n_new": 2, "forecast_horizon": 4,
                         "algorithm_params": {"GBM": {"num_trees": 30, "calibration_windows": 1}}},
    "what_if_prices.ipynb": {"n_items": 6, "n_stores": 2, "forecast_horizon": 3,
                             "algorithm_params": {"GBM": {"num_trees": 30, "calibration_windows": 1}}},
    "retraining.ipynb": {"n_items": 3, "days": 14, "forecast_horizon": 12, "algorithms": ["SeasonalNaive", "NPTS"]},
    "hard_cases.ipynb": {"retail_items": 20},
    "explainability.ipynb": {"n_items": 2, "days": 21, "forecast_horizon": 12,
                             "algorithm_params": {"GBM": {"num_trees": 30, "calibration_windows": 1}}},
    "deepar_gpu.ipynb": {"n_items": 3, "days": 14, "epochs": 1, "num_batches_per_epoch": 3, "context_length": 48,
                         "device": "cpu"},
}


def _run(nb: Path, out_dir: Path, params: dict) -> Path:
    papermill = pytest.importorskip("papermill")
    out = out_dir / nb.name
    # a cell that never reports back fails the test after 10 minutes instead of holding the suite
    # (seen once: deepar_gpu.ipynb's training cell done, the kernel idle, its reply never arrived)
    papermill.execute_notebook(str(nb), str(out), parameters=params, kernel_name="python3", progress_bar=False,
                               cwd=str(ROOT), execution_timeout=600)
    return out


def test_every_notebook_has_one_parameters_cell_with_commented_literals():
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        doc = json.loads(nb.read_text())
        tagged = [c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{nb.name}: {len(tagged)} parameters cells"
        first_code = next(c for c in doc["cells"] if c["cell_type"] == "code")
        assert first_code is tagged[0], f"{nb.name}: the parameters cell must be the first code cell"
        for line in "".join(tagged[0]["source"]).splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                assert ":" in line.split("=")[0] and "#" in line, f"{nb.name}: '{line}' needs a type and a comment"
        assert all(not c.get("outputs") for c in doc["cells"] if c["cell_type"] == "code"), f"{nb.name} has outputs"


def test_notebook_cells_hold_no_branches_or_loops():
    """The notebooks stay thin: logic lives in fc_core, so no code cell holds an if, for, while or
    try statement (comprehensions inside one call are fine)."""
    import ast

    found = []
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for k, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            tree = ast.parse("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
            kinds = {type(n).__name__ for n in ast.walk(tree)
                     if isinstance(n, (ast.If, ast.For, ast.While, ast.Try, ast.With, ast.IfExp))}
            if kinds:
                found.append(f"{path.name} cell {k}: {sorted(kinds)}")
    assert not found, found


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_under_papermill(nb, tmp_path):
    papermill = pytest.importorskip("papermill")
    params = dict(TINY.get(nb.name, {}))
    if "output_dir" in papermill.inspect_notebook(str(nb)):  # an undeclared name would be refused
        params["output_dir"] = str(tmp_path / "out")
    _run(nb, tmp_path, params)
    if nb.name == "getting_started.ipynb":
        out = tmp_path / "out"
        fc = pd.read_csv(out / "forecast.csv")
        assert list(fc.columns) == ["item_id", "date", "p10", "p50", "p90", "mean"]
        assert len(fc) == 4 * 12
        assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
        acc = pd.read_csv(out / "accuracy_metrics.csv")
        assert {"item_id", "algorithm", "WAPE", "AverageWeightedQuantileLoss"} <= set(acc.columns)
        bt = pd.read_csv(out / "backtest_forecasts.csv")
        assert {"target_value", "p50", "backtestwindow_start_time"} <= set(bt.columns)
        assert list(out.glob("forecast_*.png")), "no chart written"


def test_a_bad_parameter_stops_with_the_projects_message(tmp_path):
    papermill = pytest.importorskip("papermill")
    nb = ROOT / "notebooks" / "getting_started.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _run(nb, tmp_path, {"forecast_horizon": 0, "output_dir": str(tmp_path / "o")})
    assert "ConfigError" in str(err.value) and "forecast_horizon=0" in str(err.value)


def test_papermill_lists_every_parameter_of_every_notebook():
    papermill = pytest.importorskip("papermill")
    for nb in NOTEBOOKS:
        doc = json.loads(nb.read_text())
        cell = next(c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        declared = [ln.split(":")[0].strip() for ln in "".join(cell["source"]).splitlines()
                    if ln.strip() and not ln.lstrip().startswith("#")]
        listed = papermill.inspect_notebook(str(nb))
        assert list(listed) == declared, f"{nb.name}: papermill lists {sorted(set(declared) - set(listed))} not"
        assert all(p["help"] for p in listed.values()), f"{nb.name}: a parameter without help"


def test_a_misspelt_parameter_is_refused_with_the_known_names(tmp_path):
    papermill = pytest.importorskip("papermill")
    nb = ROOT / "notebooks" / "getting_started.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _run(nb, tmp_path, {"target_pth": "x.csv", "output_dir": str(tmp_path / "o")})
    assert "ConfigError" in str(err.value) and "target_pth" in str(err.value) and "target_path" in str(err.value)


@pytest.mark.slow
def test_getting_started_on_a_users_file_with_own_names_at_8h(tmp_path):
    """-p values as papermill's command line passes them: text for lists and mappings."""
    import numpy as np

    t = pd.date_range("2024-01-01", periods=24 * 14, freq="h")
    rng = np.random.default_rng(0)
    df = pd.concat([pd.DataFrame({"Model_ID": f"m{k}", "Timestamp": t,
                                  "Order_Quantity": 10 + 5 * np.sin(np.arange(len(t)) * 6.283 / 24) + rng.random(len(t))})
                    for k in range(2)])
    df.to_csv(tmp_path / "orders.csv", index=False)
    out = tmp_path / "out"
    _run(ROOT / "notebooks" / "getting_started.ipynb", tmp_path, {
        "target_path": str(tmp_path / "orders.csv"), "target_columns": '{"Model_ID": "item_id", '
        '"Order_Quantity": "target_value"}', "frequency": "8H", "forecast_horizon": 6,
        "forecast_types": '["0.1","0.5"]', "algorithms": '["SeasonalNaive","Naive"]', "output_dir": str(out)})
    fc = pd.read_csv(out / "forecast.csv")
    assert list(fc.columns) == ["item_id", "date", "p10", "p50"] and len(fc) == 2 * 6
    assert fc["date"].iloc[:2].tolist() == ["2024-01-15T00:00:00Z", "2024-01-15T08:00:00Z"]
    assert fc["p50"].between(3 * 8, 17 * 8).all()  # sums of 8 hours


@pytest.mark.slow
def test_what_if_prices_on_files_without_forecast_dimensions(tmp_path):
    import numpy as np

    per = pd.date_range("2020-01-01", periods=27, freq="MS")
    rng = np.random.default_rng(1)
    items = [f"i{k}" for k in range(4)]
    price = pd.DataFrame({"item_id": np.repeat(items, 27), "timestamp": np.tile(per, 4),
                          "price": rng.uniform(5, 10, 4 * 27).round(2)})
    tts = price.iloc[[i for i in range(len(price)) if i % 27 < 24]].copy()
    tts["demand"] = (100 - 5 * tts["price"] + rng.normal(0, 2, len(tts))).round(1)
    tts[["item_id", "timestamp", "demand"]].to_csv(tmp_path / "tts.csv", index=False)
    price.to_csv(tmp_path / "rts.csv", index=False)
    _run(ROOT / "notebooks" / "what_if_prices.ipynb", tmp_path, {
        **TINY["what_if_prices.ipynb"], "target_path": str(tmp_path / "tts.csv"),
        "related_path": str(tmp_path / "rts.csv"), "forecast_dimensions": "[]", "output_dir": str(tmp_path / "o")})
