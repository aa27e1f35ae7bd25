"""fc_core.parallel: inline, local processes and a real local Dask cluster."""
from __future__ import annotations

import _thread
import functools
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest

from fc_core import parallel
from fc_core.errors import ConfigError


def _pid_square(chunk):
    return [(x * x, os.getpid()) for x in chunk]


def _sleepy(chunk, seconds=0.0):
    time.sleep(seconds * len(chunk))
    return list(chunk)


def _burn(chunk):
    t = time.thread_time()
    while time.thread_time() - t < 0.05 * len(chunk):
        pass
    return list(chunk)


def _wrong_length(chunk):
    return chunk[:-1]


def _fails_on_13(chunk):
    if 13 in chunk:
        raise ValueError("item 13 is broken")
    return list(chunk)


@pytest.fixture(autouse=True)
def _fresh_settings():
    old = parallel.get_config()
    yield
    parallel.configure(**old)


def test_inline_runs_in_this_process_and_keeps_order():
    out = parallel.map_chunks(_pid_square, list(range(10)), n_jobs=1, progress=False)
    assert [v for v, _ in out] == [x * x for x in range(10)]
    assert {pid for _, pid in out} == {os.getpid()}


def test_processes_keep_input_order_and_never_exceed_cores():
    items = list(range(40))
    out = parallel.map_chunks(_pid_square, items, n_jobs=64, progress=False, chunk_size=3)
    assert [v for v, _ in out] == [x * x for x in items]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= parallel.available_cores()


def test_tiny_inputs_and_single_chunks_run_inline():
    out = parallel.map_chunks(_pid_square, [3], n_jobs=2, progress=False)
    assert out == [(9, os.getpid())]
    out = parallel.map_chunks(_pid_square, list(range(5)), n_jobs=2, progress=False, inline_below=10)
    assert {pid for _, pid in out} == {os.getpid()}


def test_global_configuration_and_options_block():
    with parallel.options(n_jobs=1):
        assert parallel.effective_n_jobs() == 1
        out = parallel.map_chunks(_pid_square, list(range(20)), progress=False)
        assert {pid for _, pid in out} == {os.getpid()}
    assert parallel.get_config()["n_jobs"] is None
    prev = parallel.configure(n_jobs=-1)
    assert prev["n_jobs"] is None and parallel.effective_n_jobs() == parallel.available_cores()


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_bad_n_jobs_is_refused(bad):
    with pytest.raises(ConfigError, match="n_jobs"):
        parallel.map_chunks(_pid_square, [1, 2], n_jobs=bad, progress=False)


def test_effective_n_jobs_counts_from_the_end_and_clips():
    cores = parallel.available_cores()
    assert parallel.effective_n_jobs(-1) == cores
    assert parallel.effective_n_jobs(-cores - 5) == 1
    assert parallel.effective_n_jobs(10 ** 6) == cores


def test_split_sizes():
    chunks = parallel.split(list(range(10)), n_chunks=3)
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert sum(chunks, []) == list(range(10))
    assert parallel.split([], n_chunks=3) == []


def test_wrong_result_count_and_errors_propagate_and_pool_recovers():
    with pytest.raises(RuntimeError, match="one result per item"):
        parallel.map_chunks(_wrong_length, list(range(8)), n_jobs=2, progress=False, chunk_size=2)
    with pytest.raises(ValueError, match="item 13"):
        parallel.map_chunks(_fails_on_13, list(range(20)), n_jobs=2, progress=False, chunk_size=2)
    assert parallel.map_chunks(_fails_on_13, [1, 2, 3, 4], n_jobs=2, progress=False, chunk_size=1) == [1, 2, 3, 4]


def test_progress_bar_shows_the_description(capsys):
    parallel.map_chunks(_pid_square, list(range(6)), n_jobs=1, progress=True, desc="squaring-things")
    assert "squaring-things" in capsys.readouterr().err
    parallel.map_chunks(_pid_square, list(range(6)), n_jobs=1, progress=False, desc="silent-run")
    assert "silent-run" not in capsys.readouterr().err


def test_ctrl_c_cancels_pending_work_stops_workers_and_reraises(ctrl_c):
    parallel.map_chunks(_pid_square, list(range(4)), n_jobs=2, progress=False, chunk_size=1)  # pool up
    workers = list(parallel._POOL["executor"]._processes.values())
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        parallel.map_chunks(functools.partial(_sleepy, seconds=2.0), list(range(40)), n_jobs=2,
                            progress=False, chunk_size=1)
    assert time.perf_counter() - t0 < 8  # 40 x 2 s of work was not waited for
    assert parallel._POOL["executor"] is None
    deadline = time.perf_counter() + 10  # on a loaded machine the exit can take a moment to be reaped
    while any(p.is_alive() for p in workers) and time.perf_counter() < deadline:
        time.sleep(0.1)
    assert all(not p.is_alive() for p in workers)
    # the next call starts fresh workers
    assert parallel.map_chunks(_pid_square, [1, 2, 3], n_jobs=2, progress=False, chunk_size=1)[2][0] == 9


def test_worker_cpu_is_accounted():
    before = parallel.worker_cpu_seconds()
    parallel.map_chunks(_burn, list(range(8)), n_jobs=2, progress=False, chunk_size=2)
    assert parallel.worker_cpu_seconds() - before >= 0.3


def test_configure_refuses_unknown_context():
    with pytest.raises(ConfigError, match="mp_context"):
        parallel.configure(mp_context="threads")


# ------------------------------------------------------------------- Dask
@pytest.mark.dask
def test_dask_address_runs_on_the_cluster_in_order(dask_cluster):
    out = parallel.map_chunks(_pid_square, list(range(30)), scheduler=dask_cluster.scheduler_address,
                              progress=False)
    assert [v for v, _ in out] == [x * x for x in range(30)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids and len(pids) <= 2


@pytest.mark.dask
def test_dask_client_and_global_scheduler(dask_cluster):
    from distributed import Client

    with Client(dask_cluster.scheduler_address, set_as_default=False) as client:
        out = parallel.map_chunks(_pid_square, list(range(7)), scheduler=client, progress=False)
        assert [v for v, _ in out] == [x * x for x in range(7)]
        assert client.status == "running"  # a client given by the user stays open
    with parallel.options(scheduler=dask_cluster.scheduler_address):
        out = parallel.map_chunks(_pid_square, list(range(5)), progress=False)
    assert os.getpid() not in {pid for _, pid in out}


@pytest.mark.dask
def test_local_model_on_dask_matches_local_processes(dask_cluster):
    from fc_core.algorithms.theta import ThetaEstimator
    from fc_core.panel import Panel

    t = np.arange(120)
    frames = [pd.DataFrame({"item_id": f"s{i}", "timestamp": pd.date_range("2024-01-01", periods=120, freq="D"),
                            "target_value": 20 + i + 3 * np.sin(2 * np.pi * t / 7) + 0.1 * t}) for i in range(6)]
    panel = Panel.from_frame(pd.concat(frames), ["item_id"], "target_value", "D")
    pred = ThetaEstimator(7).train(panel)
    local = pred.predict_arrays(levels=[0.1, 0.5, 0.9])
    with parallel.options(scheduler=dask_cluster.scheduler_address):
        remote = pred.predict_arrays(levels=[0.1, 0.5, 0.9])
    np.testing.assert_allclose(remote.quantiles, local.quantiles, rtol=1e-9)
    with pytest.raises(ValueError, match="item 13"):
        parallel.map_chunks(_fails_on_13, list(range(20)), scheduler=dask_cluster.scheduler_address, progress=False)
