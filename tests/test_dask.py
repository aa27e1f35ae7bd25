"""The AutoPredictor on a real local Dask cluster: its per-item work runs on the workers, with the same
numbers as on this machine, and a scheduler is never silently ignored.

The cluster tests skip when dask/distributed is not installed (``pip install "fc-toolkit[dask]"``).
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from fc_core import AutoPredictor, DatasetGroup, parallel
from fc_core.errors import MissingDependencyError

# per-item models that fan out through fc_core.parallel, plus a vectorized baseline
ALGOS = ["SeasonalNaive", "Theta", "NPTS"]
PARAMS = {"NPTS": {"num_samples": 100}}


@pytest.fixture(autouse=True)
def _fresh_settings():
    old = parallel.get_config()
    yield
    parallel.configure(**old)


@pytest.fixture(scope="module")
def client(dask_cluster):
    from distributed import Client

    c = Client(dask_cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()


def _group(n_items=10, days=150, seed=3):
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    rows = []
    for i in range(n_items):
        y = 30 + 5 * i + 8 * np.sin(2 * np.pi * t / 7 + i) + 0.05 * i * t + rng.normal(0, 2, days)
        if i % 4 == 3:  # intermittent
            y = rng.poisson(0.6, days).astype(float)
        rows.append(pd.DataFrame({"item_id": f"item_{i:02d}", "timestamp": pd.date_range("2024-01-01", periods=days),
                                  "target_value": np.round(np.maximum(y, 0), 1)}))
    return DatasetGroup(domain="CUSTOM", frequency="D", target=pd.concat(rows, ignore_index=True))


def _train(**kw):
    ap = AutoPredictor(forecast_horizon=7, algorithms=ALGOS, algorithm_params=PARAMS, backtest_windows=1, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap.train(_group(), progress=False)
    return ap


@pytest.mark.dask
def test_autopredictor_runs_on_the_workers_with_the_local_numbers(client):
    from distributed import get_task_stream

    local = _train(n_jobs=1)
    local_fc = local.forecast().frame
    workers = set(client.scheduler_info()["workers"])
    with get_task_stream(client) as ts:
        remote = _train(scheduler=client)
        remote_fc = remote.forecast().frame
    tasks = pd.DataFrame([{"key": str(t["key"]), "worker": t["worker"]} for t in ts.data])
    ours = tasks.loc[tasks["key"].str.startswith("fc_")]
    # every local model's per-item fits, in the two backtest/final rounds and the forecast, ran there
    prefixes = set(ours["key"].str.split("-").str[0])
    assert {"fc_Theta", "fc_NPTS"} <= prefixes
    assert set(ours["worker"]) == workers  # both workers, and only the cluster's
    assert len(ours) >= 2 * 2 * 2
    # the same numbers either way
    pd.testing.assert_frame_equal(remote_fc, local_fc, rtol=1e-9, atol=1e-9)
    timing = [c for c in local.leaderboard().columns if c.endswith("_seconds")]
    pd.testing.assert_frame_equal(remote.leaderboard().drop(columns=timing), local.leaderboard().drop(columns=timing),
                                  rtol=1e-9, atol=1e-9)
    assert remote.weights_ == pytest.approx(local.weights_)
    plan = remote.execution_.set_index("algorithm")
    assert plan.loc["Theta", "runs_on"] == f"dask {client.scheduler.address}"
    assert plan.loc["SeasonalNaive", "runs_on"] == "this process"


@pytest.mark.dask
def test_configured_scheduler_address_is_used_by_the_autopredictor(client):
    from distributed import get_task_stream

    with get_task_stream(client) as ts:
        with parallel.options(scheduler=client.scheduler.address):
            ap = AutoPredictor(forecast_horizon=7, algorithms=["NPTS"], algorithm_params=PARAMS)
            ap.train(_group(n_items=6), progress=False)
            ap.forecast()
    keys = [str(t["key"]) for t in ts.data]
    assert sum(k.startswith("fc_NPTS-") for k in keys) >= 2  # the backtest and the forecast
    assert ap.execution_.loc[0, "runs_on"] == f"dask {client.scheduler.address}"


@pytest.mark.dask
def test_scheduler_is_never_silently_dropped(client):
    # candidates that cannot use the cluster are named in a warning and in the plan
    ap = AutoPredictor(forecast_horizon=7, algorithms=["SeasonalNaive", "NPTS"], algorithm_params=PARAMS,
                       scheduler=client)
    with pytest.warns(UserWarning, match=r"NPTS fit per item on the cluster; SeasonalNaive are vectorized"):
        ap.train(_group(n_items=4), progress=False)
    plan = AutoPredictor(forecast_horizon=7, algorithms=["GBM", "DeepAR+", "ETS", "Prophet"],
                         scheduler=client).execution_plan().set_index("algorithm")
    assert plan.loc["GBM", "runs_on"] == plan.loc["DeepAR+", "runs_on"] == "this process"
    assert "global model" in plan.loc["GBM", "why"]
    assert plan.loc["ETS", "runs_on"] == plan.loc["Prophet", "runs_on"] == f"dask {client.scheduler.address}"
    # retrain keeps the cluster
    from distributed import get_task_stream

    with get_task_stream(client) as ts, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = ap.retrain(_group(n_items=4, seed=4), progress=False)
    assert again.scheduler is client
    assert any(str(t["key"]).startswith("fc_NPTS-") for t in ts.data)


def test_scheduler_without_dask_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    ap = AutoPredictor(forecast_horizon=7, algorithms=["NPTS"], algorithm_params=PARAMS,
                       scheduler="tcp://127.0.0.1:9")
    with pytest.raises(MissingDependencyError, match=r"dask\[distributed\]"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap.train(_group(n_items=4), progress=False)
