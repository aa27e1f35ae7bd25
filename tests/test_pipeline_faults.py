"""The production pipeline and its saved artifacts under faults (issue 15's campaign as tests).

Kills at named points of a cycle (SQLite and PostgreSQL), corrupt, truncated and
non-finite drops, a lost or damaged catalog, a database that does not exist, damaged
files, read-only and full disks (small tmpfs mounts, skipped where the machine cannot
mount), readers during a layout change, two state folders under one name, file modes,
and plaintext left behind by an encrypted save killed halfway.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fc_core import security
from fc_core.catalog import CatalogError
from fc_core.errors import ArtifactError, ConfigError, DataError
from fc_core.pipeline import Pipeline, main
from fc_core.pipeline_demo import ec2_config, ec2_stream, write_drop
from fc_core.pipeline_steps import retrain_trigger
from fc_core.publish import (PipelineOwnerError, live_version, publish_forecast, published_versions,
                             query_forecast)
from pg_server import pg_server  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parents[1]
TABLE = "ec2_forecasts"


@pytest.fixture(scope="module")
def stream():
    # 2 instance types, 8 days of history, 2 daily drops of 48 rows
    return ec2_stream(instance_types=2, history_days=8, drops=2, seed=0)


def setup(tmp_path, **kw):
    cfg = ec2_config(tmp_path, **kw)
    Path(cfg["input"]["location"]).mkdir(parents=True, exist_ok=True)
    return cfg, Path(cfg["input"]["location"])


def started(tmp_path, stream, **kw):
    """A pipeline that has run once on the history."""
    cfg, inbox = setup(tmp_path, **kw)
    write_drop(stream[0], inbox, "000.csv")
    pipe = Pipeline(cfg)
    assert pipe.run().published_version == 1
    return cfg, inbox, pipe


def versions(url, pipeline="ec2-cache-pool"):
    v = published_versions(url, TABLE, pipeline)
    return sorted(v.loc[v["status"] != "staged", "version"].tolist())


def cli(cfg, tmp_path, *args, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = main([*args, str(path)])
    err = capsys.readouterr().err.strip()
    return code, err


# ------------------------------------------------------------------ drops
def test_drop_with_inf_is_quarantined_and_nothing_non_finite_is_published(tmp_path, stream):
    history, drops = stream
    cfg, inbox, pipe = started(tmp_path, stream)
    bad = drops[0].astype({"number_of_instances": float})
    bad.loc[5, "number_of_instances"] = np.inf
    write_drop(bad, inbox, "001.csv")
    with pytest.warns(UserWarning, match="non-finite"):
        res = pipe.run()
    assert [p for p, _ in res.files_quarantined] == [str(inbox / "001.csv")]
    assert "inf" in res.files_quarantined[0][1] and "number_of_instances" in res.files_quarantined[0][1]
    assert res.data_version == 1 and live_version(pipe.db_url, TABLE) == 1
    reason = next((tmp_path / "state" / "quarantine").glob("*.reason.txt")).read_text()
    assert "non-finite" in reason
    # the corrected drop is ingested and the next score is a number
    write_drop(drops[0], inbox, "001_fixed.csv")
    res = pipe.run()
    assert res.data_version == 2 and np.isfinite(res.monitored["value"]) and res.published_version == 2
    q = query_forecast(pipe.db_url, "m5.large", table=TABLE)
    assert np.isfinite(q[["p10", "p50", "p90", "mean"]].to_numpy()).all()
    # the publisher itself refuses non-finite values
    fc = q.drop(columns="version").assign(p90=np.inf)
    with pytest.raises(DataError, match="non-finite"):
        publish_forecast(pipe.db_url, fc, ["instance_type"], pipeline="ec2-cache-pool", table=TABLE)
    assert live_version(pipe.db_url, TABLE) == 2


def test_drop_with_one_item_empty_is_quarantined(tmp_path, stream):
    history, drops = stream
    cfg, inbox, pipe = started(tmp_path, stream)
    f = drops[0].copy()
    f["timestamp"] = f["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    f["number_of_instances"] = f["number_of_instances"].astype(object)
    f.loc[f["instance_type"] == "m5.large", "number_of_instances"] = ""
    f.to_csv(inbox / "001.csv", index=False)
    with pytest.warns(UserWarning, match="every value"):
        res = pipe.run()
    assert len(res.files_quarantined) == 1 and "m5.large" in res.files_quarantined[0][1]
    assert res.data_version == 1 and live_version(pipe.db_url, TABLE) == 1


@pytest.mark.parametrize("cut", ["mid_line", "line_boundary", "item_boundary"])
def test_truncated_drops_are_quarantined(tmp_path, stream, cut):
    history, drops = stream
    cfg, inbox, pipe = started(tmp_path, stream)
    write_drop(drops[0], tmp_path, "full.csv")
    text = (tmp_path / "full.csv").read_bytes()
    lines = text.splitlines(keepends=True)
    if cut == "mid_line":          # the last digit is lost: 4 instead of 46
        body = text[:-2]
    elif cut == "line_boundary":   # 12 of 48 rows lost, the second item half there
        body = b"".join(lines[:1 + 36])
    else:                          # exactly the first item: the second one absent
        body = b"".join(lines[:1 + 24])
    (inbox / "001.csv").write_bytes(body)
    with pytest.warns(UserWarning, match="quarantined"):
        res = pipe.run()
    assert len(res.files_quarantined) == 1, res.messages
    reason = res.files_quarantined[0][1]
    assert ("cut short" in reason) if cut == "mid_line" else ("truncated" in reason)
    assert res.data_version == 1 and live_version(pipe.db_url, TABLE) == 1
    assert len(pipe.catalog.frame("data_versions")) == 1


def test_an_accuracy_that_cannot_be_computed_is_a_failed_check(tmp_path):
    from fc_core.catalog import Catalog

    cat = Catalog(tmp_path / "catalog.db")
    acc = cat.record_accuracy(1, 1, 1, 2, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02"),
                              {"AverageWeightedQuantileLoss": float("nan"), "n_observed": 24},
                              "AverageWeightedQuantileLoss", 0.2, None)
    assert acc["exceeded"] is True
    trig, why = retrain_trigger({"version": 1, "data_version": 1, "data_end": "2024-01-01"}, acc,
                                {"version": 2, "end": "2024-01-02"}, "H")
    assert trig == "threshold" and "could not be computed" in why


# ------------------------------------------------------------------ kills
KILL_SCRIPT = """
import json, os, signal, sys
from fc_core.pipeline import Pipeline
point = sys.argv[1]
def hook(name):
    if name == point:
        os.kill(os.getpid(), signal.SIGKILL)
Pipeline(json.loads(sys.argv[2]), hooks={"point": hook}).run()
"""


def kill_at(cfg, point):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + str(ROOT / "tests")}
    out = subprocess.run([sys.executable, "-c", KILL_SCRIPT, point, json.dumps(cfg)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == -signal.SIGKILL, (point, out.returncode, out.stderr[-2000:])


def check_after_kill(cfg, stream, point):
    history, drops = stream
    inbox = Path(cfg["input"]["location"])
    pipe = Pipeline(cfg)
    url = pipe.db_url
    write_drop(drops[0], inbox, "001.csv")
    kill_at(cfg, point)
    res = Pipeline(cfg).run()
    assert res.status in ("ok", "unchanged") and res.published_version == 2, (point, res)
    # nothing duplicated: two forecasts, two published versions; nothing lost: the live one is the newest
    assert versions(url, cfg["name"]) == [1, 2], point
    assert len(pipe.catalog.frame("forecasts")) == 2 and len(pipe.catalog.frame("data_versions")) == 2
    live = query_forecast(url, "m5.large", table=TABLE, pipeline=cfg["name"])
    assert live["timestamp"].min() == drops[0]["timestamp"].max() + pd.Timedelta(hours=1)
    assert pipe.catalog.frame("runs")["status"].tolist()[-2:] == ["killed", "ok"]
    # and a further run changes nothing
    assert Pipeline(cfg).run().status == "unchanged" and versions(url, cfg["name"]) == [1, 2]


# every named point is killed in bench/fault_campaign.py; here the ones that duplicated a version before
@pytest.mark.parametrize("point", ["switched", "retired", "published"])
def test_sigkill_at_each_point_sqlite(tmp_path, stream, point):
    cfg, _, _ = started(tmp_path, stream)
    check_after_kill(cfg, stream, point)


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["switched"])
def test_sigkill_at_each_point_postgres(tmp_path, stream, point, pg_server):  # noqa: F811
    cfg, _, _ = started(tmp_path, stream, db_url=pg_server.url, name=f"pg-kill-{point}")
    check_after_kill(cfg, stream, point)


# ------------------------------------------------------------- catalog
def test_a_deleted_catalog_is_refused_then_rebuilt(tmp_path, stream, capsys):
    history, drops = stream
    cfg, inbox, pipe = started(tmp_path, stream)
    write_drop(drops[0], inbox, "001.csv")
    assert pipe.run().published_version == 2
    state = tmp_path / "state"
    for f in state.glob("catalog.db*"):
        f.unlink()
    with pytest.raises(CatalogError, match="rebuild-catalog"):
        Pipeline(cfg).run()
    code, err = cli(cfg, tmp_path, "run", capsys=capsys)
    assert code == 1 and "rebuild-catalog" in err and len(err.splitlines()) == 1
    code, _ = cli(cfg, tmp_path, "rebuild-catalog", capsys=capsys)
    assert code == 0
    cat = Pipeline(cfg).catalog
    assert cat.frame("data_versions")["version"].tolist() == [1, 2]
    assert len(cat.frame("files")) == 2  # both drops are within the newest snapshot
    # the rebuilt state goes on: nothing re-ingested, the live forecast not published again
    res = Pipeline(cfg).run()
    assert res.data_version == 2 and res.published_version == 2 and versions(Pipeline(cfg).db_url) == [1, 2]
    write_drop(drops[1], inbox, "002.csv")
    res = Pipeline(cfg).run()
    assert res.data_version == 3 and res.published_version == 3
    assert sorted(p.name for p in (state / "data").glob("v*.parquet")) == ["v00002.parquet", "v00003.parquet"]
    assert Pipeline(cfg).run().status == "unchanged"


def test_damaged_files_fail_in_one_line_naming_the_file(tmp_path, stream, capsys):
    from fc_core import publish as pub

    cfg, inbox, pipe = started(tmp_path, stream)
    state = tmp_path / "state"
    for eng in pub._ENGINES.values():  # damaged while no process has it open
        eng.dispose()
    pub._ENGINES.clear()
    (state / "forecasts.db").write_bytes(b"this is not a database file at all" * 200)
    for ext in ("-wal", "-shm"):
        Path(str(state / "forecasts.db") + ext).unlink(missing_ok=True)
    write_drop(stream[1][0], inbox, "001.csv")
    code, err = cli(cfg, tmp_path, "run", capsys=capsys)
    assert code == 1 and len(err.splitlines()) == 1, err
    assert "forecasts.db" in err and "damaged" in err and "Traceback" not in err
    for eng in pub._ENGINES.values():
        eng.dispose()
    pub._ENGINES.clear()
    (state / "catalog.db").write_bytes(b"garbage" * 1000)
    for ext in ("-wal", "-shm"):
        Path(str(state / "catalog.db") + ext).unlink(missing_ok=True)
    code, err = cli(cfg, tmp_path, "run", capsys=capsys)
    assert code == 1 and len(err.splitlines()) == 1 and "catalog.db" in err and "rebuild-catalog" in err, err


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_permanent(tmp_path, stream, pg_server, capsys):  # noqa: F811
    url = pg_server.url.rsplit("/", 1)[0] + "/no_such_db"
    cfg, inbox = setup(tmp_path, db_url=url)
    write_drop(stream[0], inbox, "000.csv")
    waits = []
    with pytest.raises(ConfigError, match="does not exist"):
        Pipeline(cfg, hooks={"sleep": waits.append}).run()
    assert waits == []  # not retried as an outage
    code, err = cli(cfg, tmp_path, "run", capsys=capsys)
    assert code == 2 and "no_such_db" in err and len(err.splitlines()) == 1


# ------------------------------------------------------------- disks
@contextlib.contextmanager
def tmpfs(size: str, read_only: bool = False):
    d = Path(tempfile.mkdtemp(prefix="fc_tmpfs_"))
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True)
    if out.returncode:
        d.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({out.stderr.decode().strip() or 'not permitted'}); the read-only "
                    "and full-disk cases need root or a user namespace")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
        d.rmdir()


def test_full_and_read_only_disks_fail_in_one_line(tmp_path, stream, capsys):
    history, drops = stream
    with tmpfs("64k") as small:
        cfg, inbox = setup(tmp_path)
        cfg["state_dir"] = str(small / "state")
        write_drop(history, inbox, "000.csv")
        code, err = cli(cfg, tmp_path, "run", capsys=capsys)
        assert code == 1 and len(err.splitlines()) == 1, err
        assert ("no space left" in err or "full" in err) and str(small) in err, err
    with tmpfs("4m") as ro:
        cfg, inbox = setup(tmp_path / "b")
        cfg["output"]["location"] = str(ro / "exports")
        (ro / "exports").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        write_drop(history, inbox, "000.csv")
        code, err = cli(cfg, tmp_path, "run", capsys=capsys)
        assert code == 1 and len(err.splitlines()) == 1, err
        assert "cannot write" in err and str(ro / "exports") in err and "writable" in err, err


# ------------------------------------------------- readers, owners, modes
def test_readers_survive_a_change_of_forecast_types(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    ts = pd.date_range("2024-01-01", periods=4, freq="h")
    one = pd.DataFrame({"item_id": "a", "timestamp": ts, "p10": 1.0, "p50": 2.0, "p90": 3.0})
    publish_forecast(url, one, ["item_id"], pipeline="p")
    assert list(query_forecast(url, "a").columns) == ["item_id", "timestamp", "p10", "p50", "p90", "version"]
    two = pd.DataFrame({"item_id": "a", "timestamp": ts, "p20": 1.5, "p50": 2.5, "p80": 3.5})
    assert publish_forecast(url, two, ["item_id"], pipeline="p") == 2
    q = query_forecast(url, "a")  # this process read the old layout before
    assert list(q.columns) == ["item_id", "timestamp", "p20", "p50", "p80", "version"] and q["p80"].eq(3.5).all()
    # the table dropped and recreated by an operator under a reader that read the old layout
    import sqlalchemy as sa

    from fc_core.publish import engine_for

    with engine_for(url).begin() as c:
        for t in ("forecasts", "forecasts_versions", "forecasts_live", "forecasts_owners"):
            c.execute(sa.text(f"DROP TABLE {t}"))
    three = pd.DataFrame({"item_id": "a", "timestamp": ts, "p50": 9.0})
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import pandas as pd
        from fc_core.publish import publish_forecast
        publish_forecast({url!r}, pd.read_json({three.to_json()!r}), ["item_id"], pipeline="p")
    """)], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    q = query_forecast(url, "a")
    assert list(q.columns) == ["item_id", "timestamp", "p50", "version"] and q["p50"].eq(9.0).all()


def test_two_state_folders_under_one_name_are_refused(tmp_path, stream, capsys):
    history, drops = stream
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    cfg_a, _, pipe_a = started(tmp_path / "a", stream, db_url=url)
    cfg_b, inbox_b = setup(tmp_path / "b", db_url=url)
    write_drop(history, inbox_b, "000.csv")
    write_drop(drops[0], inbox_b, "001.csv")
    with pytest.raises(PipelineOwnerError, match="another state folder"):
        Pipeline(cfg_b).run()
    assert versions(url) == [1] and live_version(url, TABLE) == 1
    code, err = cli(cfg_b, tmp_path, "run", capsys=capsys)
    assert code == 2 and str(tmp_path / "a" / "state") in err and len(err.splitlines()) == 1
    # the rightful owner goes on
    write_drop(drops[0], Path(cfg_a["input"]["location"]), "001.csv")
    assert pipe_a.run().published_version == 2


def test_files_follow_the_umask(tmp_path, stream):
    old = os.umask(0o027)
    try:
        cfg, inbox, pipe = started(tmp_path, stream)
    finally:
        os.umask(old)
    state = tmp_path / "state"
    modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
             for p in [*(tmp_path / "exports").iterdir(), *(state / "data").iterdir(), *(state / "forecasts").iterdir(),
                       state / "forecasts.db", state / "catalog.db"]}
    assert set(modes.values()) == {0o640}, modes
    assert (state / "predictors" / "v00001").stat().st_mode & 0o777 == 0o750


# ------------------------------------------------------------ encryption
SAVE_SCRIPT = """
import sys, time, pathlib
from fc_core import security
key, dest, marker = sys.argv[1:4]
def write(folder):
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("item_id,timestamp,target_value\\nsecret-item,2024-01-01,42\\n")
    pathlib.Path(marker).write_text("written")
    time.sleep(60)
security.save_encrypted(write, dest, key, "dataset")
"""


def _plain_leftovers(folder) -> list:
    return [p for p in Path(folder).glob("fc_core_plain_*")]


@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm on this machine")
def test_no_plaintext_on_disk_after_a_kill_during_an_encrypted_save(tmp_path):
    key = security.generate_key()
    before = set(_plain_leftovers(tempfile.gettempdir()))
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", SAVE_SCRIPT, key, str(tmp_path / "ds"), str(marker)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        t0 = time.time()
        while not marker.exists():
            assert proc.poll() is None and time.time() - t0 < 60
            time.sleep(0.05)
        staged = [p for p in Path("/dev/shm").glob(f"fc_core_plain_{proc.pid}_*")]
        assert staged, "the plain artifact is staged in memory (/dev/shm)"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert set(_plain_leftovers(tempfile.gettempdir())) == before  # nothing in the system temp folder (disk)
    assert not (tmp_path / "ds").exists()
    # the next encrypted save (or load) removes what the killed process left in memory
    security.save_encrypted(lambda f: (f.mkdir(), (f / "x.txt").write_text("x")), tmp_path / "other", key, "dataset")
    assert not [p for p in staged if p.exists()]


def test_keys_and_payloads_are_bound(tmp_path):
    with pytest.raises(ConfigError, match="raw bytes"):
        security.encrypt_bytes(b"x", b"0123456789abcdef0123456789abcdef")
    k = security.key_from_password("a long pass phrase", "salt-of-16-bytes")
    assert k == security.key_from_password("a long pass phrase", "salt-of-16-bytes") and len(k) == 44
    with pytest.raises(ConfigError, match="salt"):
        security.key_from_password("pw", "short")
    key = security.generate_key()

    def writer(text):
        return lambda f: (f.mkdir(), (f / "data.txt").write_text(text))

    a = security.save_encrypted(writer("predictor A"), tmp_path / "a", key, "dataset")
    b = security.save_encrypted(writer("predictor B"), tmp_path / "b", key, "dataset")
    # b's payload moved into a: refused (the manifest, with a's id, is authenticated with the payload)
    (a / "payload.fcenc").write_bytes((b / "payload.fcenc").read_bytes())
    with pytest.raises(ArtifactError, match="another artifact"):
        with security.open_artifact(a, key, kind="dataset"):
            pass
    with security.open_artifact(b, key, kind="dataset") as plain:
        assert (plain / "data.txt").read_text() == "predictor B"
    # an artifact of the old format is told to be saved again
    doc = json.loads((b / "fc_artifact.json").read_text())
    doc.pop("format")
    (b / "fc_artifact.json").write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="save it again"):
        with security.open_artifact(b, key, kind="dataset"):
            pass


def test_deepar_weights_path_is_confined_to_the_artifact(tmp_path):
    from fc_core.algorithms.deepar import DeepARPlusPredictor

    pred = object.__new__(DeepARPlusPredictor)
    (tmp_path / "outside.pt").write_bytes(b"x")
    for bad in ("../outside.pt", "/etc/passwd", ""):
        with pytest.raises(ArtifactError, match="not a plain file name"):
            pred._load_state(tmp_path / "art", {"spec": {}, "weights": bad})
    (tmp_path / "art").mkdir()
    with pytest.raises(ArtifactError, match="lacks the weights file"):
        pred._load_state(tmp_path / "art", {"spec": {}, "weights": "missing.pt"})


def test_encrypted_pipeline_state(tmp_path, stream, monkeypatch):
    history, drops = stream
    key = security.generate_key()
    monkeypatch.setenv("FC_TEST_PIPELINE_KEY", key)
    cfg, inbox = setup(tmp_path)
    cfg["encryption"] = {"key_env": "FC_TEST_PIPELINE_KEY"}
    write_drop(history, inbox, "000.csv")
    pipe = Pipeline(cfg)
    pipe.run()
    write_drop(drops[0], inbox, "001.csv")
    res = pipe.run()
    assert res.published_version == 2 and np.isfinite(res.monitored["value"])
    state = tmp_path / "state"
    for f in [*(state / "data").glob("v*"), *(state / "forecasts").glob("v*"), *(state / "monitoring").glob("*"),
              *(tmp_path / "exports").glob("*")]:
        assert f.read_bytes().startswith(security.MAGIC), f
    assert security.is_encrypted(state / "predictors" / "v00001")
    assert security.read_frame(tmp_path / "exports" / "forecast_latest.csv", key=key).shape == (48, 6)
    monkeypatch.delenv("FC_TEST_PIPELINE_KEY")
    with pytest.raises(ConfigError, match="FC_TEST_PIPELINE_KEY"):
        Pipeline(cfg)
