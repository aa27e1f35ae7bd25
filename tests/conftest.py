"""Shared fixtures: paths to ../shared/data (skipped when absent) and small synthetic panels."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FC_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("MPLBACKEND", "Agg")


# ------------------------------------------------------- tests write only to temporary folders
def _tracked_changes() -> set[str] | None:
    """Tracked files that differ from HEAD (``git status``), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {line[3:] for line in out.stdout.splitlines()} if out.returncode == 0 else None


def pytest_sessionstart(session):
    # On CI (a clean clone) or when asked: remember the tree, to fail a run that changed tracked files.
    if os.environ.get("CI") or os.environ.get("FC_CHECK_TREE"):
        session.config._fc_tree_before = _tracked_changes()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_fc_tree_before", None)
    if before is None:
        return
    changed = sorted((_tracked_changes() or set()) - before)
    if changed:
        print(f"\nThe test run changed tracked files (tests must write only to temporary folders): {changed}")
        session.exitstatus = 1


@pytest.fixture
def ctrl_c():
    """Ctrl-C (``_thread.interrupt_main``) raises KeyboardInterrupt during the test, however the suite was
    started: a shell that starts it as a background job (``nohup ... &``) ignores SIGINT, Python keeps it
    ignored, and the simulated Ctrl-C would do nothing (the test then waited for all its work)."""
    import signal

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip with a reason on a fresh clone without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (set FC_SHARED_DATA to point at them)")
    return SHARED_DATA


def make_seasonal_frame(n_items: int = 3, length: int = 24 * 14, freq: str = "h", season: int = 24,
                        seed: int = 0, noise: float = 0.1, level: float = 10.0) -> pd.DataFrame:
    """Hourly-like series: level + daily sine + noise, in the canonical CUSTOM layout."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    rows = []
    for i in range(n_items):
        y = level * (1 + i) + 3 * np.sin(2 * np.pi * t / season) + rng.normal(0, noise, length)
        rows.append(pd.DataFrame({"item_id": f"item_{i}", "timestamp": pd.date_range("2024-01-01", periods=length, freq=freq),
                                  "target_value": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def seasonal_frame() -> pd.DataFrame:
    return make_seasonal_frame()


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """A 2-worker Dask LocalCluster on loopback (shared by the Dask tests; its scratch space in tmp)."""
    pytest.importorskip("distributed")
    import dask
    from distributed import LocalCluster

    tmp = tmp_path_factory.mktemp("dask")
    with dask.config.set({"temporary-directory": str(tmp)}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:0", host="127.0.0.1")
        try:
            yield cluster
        finally:
            cluster.close()
