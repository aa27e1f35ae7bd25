"""Cost report: what runs used, and Amazon Forecast's price of the same job."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from fc_core import costs
from fc_core.automl import AutoPredictor
from fc_core.datasets import DatasetGroup
from fc_core.errors import ConfigError


def test_default_prices_are_amazons_and_are_configuration(tmp_path, monkeypatch):
    p = costs.Prices()
    assert (p.per_1000_forecasts, p.storage_gb_month, p.training_hour) == (0.60, 0.088, 0.24)
    assert (p.free_forecasts, p.free_storage_gb, p.free_training_hours, p.free_tier_months) == (10_000, 10, 10, 2)
    assert costs.load_prices({"training_hour": 0.3}).training_hour == 0.3
    f = tmp_path / "prices.yaml"
    f.write_text("per_1000_forecasts: 1.5\nstorage_gb_month: 0.1\n")
    assert costs.Prices.from_yaml(f).per_1000_forecasts == 1.5
    monkeypatch.setenv("FC_PRICES", str(f))
    assert costs.load_prices().storage_gb_month == 0.1
    with pytest.raises(ConfigError, match="unknown price"):
        costs.Prices.from_dict({"per_forecast": 1})
    with pytest.raises(ConfigError):
        costs.Prices(training_hour=-1)
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        costs.Prices.from_yaml(f)


def _frame(log):
    return log.frame().set_index("run")


def test_forecast_pricing_rule_series_times_types_rounded_up_per_thousand():
    log = costs.CostLog()
    with costs.measure("big", log, kind="forecast") as m:
        m.update(n_series=2500, n_forecast_types=4, n_forecast_values=2500 * 4 * 48)
    with costs.measure("one", log, kind="forecast", n_series=1, n_forecast_types=3):
        pass
    f = _frame(log)
    assert f.loc["big", "amazon_forecasts"] == 10_000
    assert f.loc["big", "forecast_cost_usd"] == pytest.approx(6.00)   # horizon length does not matter
    assert f.loc["one", "amazon_forecasts"] == 3
    assert f.loc["one", "forecast_cost_usd"] == pytest.approx(0.60)   # rounded up to 1,000
    assert (f["training_cost_usd"] == 0).all() and (f["storage_cost_usd"] == 0).all()


def test_training_and_storage_pricing_and_free_tier():
    log = costs.CostLog()
    log.add(costs.Measurement("train", kind="train", wall_s=2 * 3600, cpu_s=3 * 3600, data_bytes=5 * costs.GB, status="ok"))
    log.add(costs.Measurement("fc", kind="forecast", n_series=30_000, n_forecast_types=1, status="ok"))
    f = log.frame(total=True).set_index("run")
    assert f.loc["train", "training_cost_usd"] == pytest.approx(2 * 0.24)
    assert f.loc["train", "storage_cost_usd"] == pytest.approx(5 * 0.088)
    assert f.loc["fc", "forecast_cost_usd"] == pytest.approx(30 * 0.60)
    assert f.loc["TOTAL", "cost_usd"] == pytest.approx(0.48 + 0.44 + 18.0)
    # free tier: 10 hours and 10 GB cover the training; 20,000 of the 30,000 forecasts are charged
    assert f.loc["TOTAL", "cost_usd_free_tier"] == pytest.approx(20 * 0.60)
    cpu = log.frame({"training_hours_from": "cpu"}).set_index("run")
    assert cpu.loc["train", "training_cost_usd"] == pytest.approx(3 * 0.24)


def test_measure_records_time_cpu_memory_and_failures():
    log = costs.CostLog()
    with costs.measure("work", log, kind="train"):
        t0 = time.process_time()
        x = 0
        while time.process_time() - t0 < 0.2:
            x += 1
        block = np.ones(60 * 2 ** 20 // 8)  # 60 MB held for a moment
        time.sleep(0.15)
        del block
    with costs.measure("idle", log):
        time.sleep(0.1)
    with pytest.raises(ZeroDivisionError):
        with costs.measure("broken", log):
            1 / 0
    f = _frame(log)
    assert f.loc["work", "wall_s"] >= 0.3 and f.loc["work", "cpu_s"] >= 0.18
    assert f.loc["work", "memory_added_mb"] > 50 and f.loc["idle", "memory_added_mb"] < 20
    assert f.loc["work", "peak_memory_mb"] >= f.loc["work", "memory_added_mb"]
    assert f.loc["work", "status"] == "ok" and f.loc["broken", "status"] == "failed"


def test_auto_predictor_records_train_and_forecast_runs(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(24 * 10)
    df = pd.concat([pd.DataFrame({"item_id": f"i{k}", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                                  "target_value": 10 + np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.1, len(t))})
                    for k in range(5)])
    dg = DatasetGroup(target=df, frequency="H")
    ap = AutoPredictor(12, algorithms=["SeasonalNaive", "Naive"]).train(dg, progress=False)
    ap.forecast()
    ap.forecast(items=["i0", "i1"])
    rep = ap.cost_report()
    assert rep["run"].tolist() == ["train", "forecast", "forecast", "TOTAL"]
    assert rep["label"].iloc[0] == "SeasonalNaive+Naive"
    tr, f1, f2 = rep.iloc[0], rep.iloc[1], rep.iloc[2]
    assert tr["n_series"] == 5 and tr["data_bytes"] > 5 * 240 * 8 and tr["training_hours"] > 0
    assert (f1["n_series"], f1["n_forecast_types"], f1["n_forecast_values"]) == (5, 4, 5 * 12 * 4)
    assert f1["amazon_forecasts"] == 20 and f1["forecast_cost_usd"] == pytest.approx(0.60)
    assert f2["n_series"] == 2
    path = ap.write_cost_report(tmp_path / "out")
    back = pd.read_csv(path)
    assert path.endswith("out/cost_report.csv") and back["run"].iloc[-1] == "TOTAL"
    assert back["cost_usd_free_tier"].iloc[-1] == 0.0  # all of it inside the free tier
    assert ap.cost_report(prices={"per_1000_forecasts": 6.0}).iloc[1]["forecast_cost_usd"] == pytest.approx(6.0)
