"""fc_core.publish: versioned publication with an atomic pointer switch, retries, queries; SQLite and PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from fc_core.errors import ConfigError
from fc_core.publish import (PublicationError, engine_for, live_version, publish_forecast, published_versions,
                             query_forecast, safe_url)
from pg_server import pg_server  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parents[1]


def frame(n_items=3, h=24, level=10.0, start="2024-03-01 00:00"):
    ts = pd.date_range(start, periods=h, freq="h")
    items = [f"type_{i}" for i in range(n_items)]
    rows = []
    for k, it in enumerate(items):
        base = level * (k + 1) + np.arange(h)
        rows.append(pd.DataFrame({"instance_type": it, "timestamp": ts, "p10": base - 1, "p50": base,
                                  "p90": base + 1, "mean": base}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'fc.db'}"


def _count(url, where=""):
    with engine_for(url).connect() as c:
        return c.execute(sa.text(f"select count(*) from forecasts {where}")).scalar()


def test_publish_query_and_versions(sqlite_url):
    v1 = publish_forecast(sqlite_url, frame(level=10), ["instance_type"], pipeline="pool", info={"run": 1})
    v2 = publish_forecast(sqlite_url, frame(level=100), ["instance_type"], pipeline="pool")
    assert (v1, v2) == (1, 2) and live_version(sqlite_url) == 2
    q = query_forecast(sqlite_url, "type_1", start="2024-03-01 05:00", end="2024-03-01 07:00")
    assert q["timestamp"].tolist() == list(pd.date_range("2024-03-01 05:00", periods=3, freq="h"))
    assert q["p50"].tolist() == [205.0, 206.0, 207.0] and set(q["version"]) == {2}
    assert list(q.columns) == ["instance_type", "timestamp", "p10", "p50", "p90", "mean", "version"]
    assert query_forecast(sqlite_url, "nope").empty
    # only keep_versions published versions keep their rows
    publish_forecast(sqlite_url, frame(level=200), ["instance_type"], pipeline="pool", keep_versions=2)
    vers = published_versions(sqlite_url, pipeline="pool")
    assert dict(zip(vers["version"], vers["status"])) == {3: "published", 2: "published", 1: "retired"}
    assert _count(sqlite_url) == 2 * 3 * 24


def test_query_errors_name_the_fix(sqlite_url, tmp_path):
    with pytest.raises(ConfigError, match="no forecast has been published"):
        query_forecast(sqlite_url, "a")
    publish_forecast(sqlite_url, frame(), ["instance_type"], pipeline="one")
    publish_forecast(sqlite_url, frame(), ["instance_type"], pipeline="two")
    with pytest.raises(ConfigError, match="several pipelines.*pipeline="):
        query_forecast(sqlite_url, "type_0")
    assert len(query_forecast(sqlite_url, "type_0", pipeline="two")) == 24
    with pytest.raises(ConfigError, match="unknown forecast dimension"):
        query_forecast(sqlite_url, "type_0", pipeline="two", region="x")
    with pytest.raises(ConfigError, match="keyed by"):
        publish_forecast(sqlite_url, frame().rename(columns={"instance_type": "sku"}), ["sku"], pipeline="one")
    with pytest.raises(ConfigError, match="empty"):
        publish_forecast(sqlite_url, frame().iloc[:0], ["instance_type"], pipeline="one")


def test_failure_mid_publication_keeps_the_old_version_live(sqlite_url):
    publish_forecast(sqlite_url, frame(level=10), ["instance_type"], pipeline="pool")
    seen = []

    def boom(done, total):
        # a reader during the publication sees the old forecast, whole
        seen.append(query_forecast(sqlite_url, "type_0")["p50"].iloc[0])
        if done >= 20:
            raise RuntimeError("killed mid-publication")

    with pytest.raises(RuntimeError, match="killed"):
        publish_forecast(sqlite_url, frame(level=1000), ["instance_type"], pipeline="pool", chunk_rows=10,
                         on_chunk=boom)
    assert seen == [10.0, 10.0]
    assert _count(sqlite_url, "where version = 2") == 20  # partial rows were committed ...
    assert live_version(sqlite_url) == 1  # ... but never became visible
    assert query_forecast(sqlite_url, "type_2")["p50"].tolist() == list(30.0 + np.arange(24))
    # the next publication removes the orphans and goes live
    assert publish_forecast(sqlite_url, frame(level=500), ["instance_type"], pipeline="pool") == 2
    assert _count(sqlite_url, "where version = 2") == 72
    assert query_forecast(sqlite_url, "type_0")["p50"].iloc[0] == 500.0


def test_unreachable_database_is_retried_with_backoff_then_fails_clearly():
    pytest.importorskip("psycopg")
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    url = f"postgresql+psycopg://fc:secret@127.0.0.1:{port}/forecasts"
    waits = []
    with pytest.raises(PublicationError) as err:
        publish_forecast(url, frame(), ["instance_type"], pipeline="pool", retries=3, backoff=0.1, sleep=waits.append)
    assert waits == [0.1, 0.2, 0.4]
    msg = str(err.value)
    assert "4 attempt(s)" in msg and f"127.0.0.1:{port}" in msg and "secret" not in msg and "***" in msg
    assert safe_url(url) == f"postgresql+psycopg://fc:***@127.0.0.1:{port}/forecasts"


@pytest.mark.postgres
def test_postgres_publish_query_and_outage(pg_server):  # noqa: F811
    url = pg_server.url
    table = "pg_outage"
    publish_forecast(url, frame(level=10), ["instance_type"], pipeline="pool", table=table)
    assert query_forecast(url, "type_0", table=table)["p50"].iloc[0] == 10.0
    pg_server.stop()
    calls = []

    def back_after_first_wait(seconds):
        calls.append(seconds)
        if len(calls) == 1:
            pg_server.start()  # the server comes back during the first backoff

    try:
        v = publish_forecast(url, frame(level=20), ["instance_type"], pipeline="pool", table=table, retries=3,
                             backoff=0.05, sleep=back_after_first_wait)
    finally:
        if not calls:
            pg_server.start()
    assert calls == [0.05] and v == 2
    q = query_forecast(url, "type_1", "2024-03-01 00:00", "2024-03-01 02:00", table=table)
    assert q["p50"].tolist() == [40.0, 41.0, 42.0] and set(q["version"]) == {2}


@pytest.mark.postgres
def test_postgres_sigkill_mid_publication(pg_server, tmp_path):  # noqa: F811
    url, table = pg_server.url, "pg_kill"
    publish_forecast(url, frame(level=10), ["instance_type"], pipeline="pool", table=table)
    marker = tmp_path / "half_written"
    script = textwrap.dedent(f"""
        import sys, time, pathlib
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        from test_publish import frame
        from fc_core.publish import publish_forecast
        def pause(done, total):
            if done >= 30:
                pathlib.Path({str(marker)!r}).write_text(str(done))
                time.sleep(120)
        publish_forecast({url!r}, frame(level=999), ["instance_type"], pipeline="pool", table={table!r},
                         chunk_rows=10, on_chunk=pause)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        t0 = time.time()
        while not marker.exists():
            assert proc.poll() is None, "the publishing process ended early"
            assert time.time() - t0 < 60, "the publishing process never reached the pause"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with engine_for(url).connect() as c:
        assert c.execute(sa.text(f"select count(*) from {table} where version = 2")).scalar() == 30
    assert live_version(url, table) == 1
    assert query_forecast(url, "type_2", table=table)["p50"].tolist() == list(30.0 + np.arange(24))
    assert publish_forecast(url, frame(level=7), ["instance_type"], pipeline="pool", table=table) == 2
    assert query_forecast(url, "type_0", table=table)["p50"].iloc[0] == 7.0


@pytest.mark.postgres
def test_quantile_columns_with_odd_names_roundtrip(sqlite_url, pg_server):  # noqa: F811
    f = frame(n_items=2, h=3).rename(columns={"p10": "p2.5", "p90": "p97.5"})
    for url in (sqlite_url, pg_server.url):
        publish_forecast(url, f, ["instance_type"], pipeline="odd", table="odd_names")
        q = query_forecast(url, "type_1", "2024-03-01 00:00", "2024-03-01 00:00", table="odd_names")
        assert q[["p2.5", "p50", "p97.5"]].values.tolist() == [[19.0, 20.0, 21.0]], url
