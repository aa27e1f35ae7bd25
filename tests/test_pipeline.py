"""fc_core.pipeline: the EC2 cache-pool example end to end, reruns, kills, corrupt drops, outages, lock, CLI."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fc_core.errors import ConfigError
from fc_core.pipeline import Pipeline, load_config, main
from fc_core.pipeline.config import PipelineConfig
from fc_core.pipeline.example import choose_capacity, ec2_config, ec2_stream, write_drop
from fc_core.pipeline.steps import PipelineBusyError, RunLock
from fc_core.pipeline.publish import PublicationError, live_version, query_forecast
from pg_server import pg_server  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.2


def scaler(db_url, instance_type, start, end, headroom=1.1):
    """The example's cluster-scaling logic: capacity for a period from the p90 forecast in the table."""
    fc = query_forecast(db_url, instance_type, start, end, table="ec2_forecasts")
    return int(np.ceil(fc["p90"].max() * headroom))


def counts(pipe):
    return {t: len(pipe.catalog.frame(t)) for t in ("data_versions", "predictors", "forecasts", "accuracy", "files")}


@pytest.fixture
def stream():
    # 4 instance types, 15 days of history (ends Monday 23:00), 4 daily drops Tue..Fri; x1.8 from Thursday
    return ec2_stream(instance_types=4, history_days=15, drops=4, seed=0, shift_drop=3, shift_factor=1.8)


def setup(tmp_path, **kw):
    cfg = ec2_config(tmp_path, threshold=THRESHOLD, **kw)
    Path(cfg["input"]["location"]).mkdir(parents=True, exist_ok=True)
    return cfg, cfg["input"]["location"]


# ------------------------------------------------------------------ config
def test_config_is_checked_key_by_key(tmp_path):
    good = ec2_config(tmp_path)
    assert PipelineConfig.from_dict(good).db_url == f"sqlite:///{tmp_path / 'state' / 'forecasts.db'}"
    bad = {**good, "inptu": {}}
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) \['inptu'\]"):
        PipelineConfig.from_dict(bad)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['treshold'\] in section 'monitoring'"):
        PipelineConfig.from_dict({**good, "monitoring": {"treshold": 0.1}})
    with pytest.raises(ConfigError, match="forecast_horizon is required"):
        PipelineConfig.from_dict({**good, "predictor": {"algorithms": ["Naive"]}})
    with pytest.raises(ConfigError, match="monitoring.metric 'wQL'"):
        PipelineConfig.from_dict({**good, "monitoring": {"metric": "wQL"}})
    with pytest.raises(ConfigError, match="input.location is required"):
        PipelineConfig.from_dict({**good, "input": {"frequency": "H"}})
    # YAML: relative paths are relative to the file's folder
    (tmp_path / "conf").mkdir()
    doc = {**good, "state_dir": "st", "input": {**good["input"], "location": "../in"}, "output": {"location": "out"}}
    (tmp_path / "conf" / "p.yaml").write_text(yaml.safe_dump(doc))
    cfg = load_config(tmp_path / "conf" / "p.yaml")
    assert cfg.state_dir == tmp_path / "conf" / "st" and cfg.input["location"] == str(tmp_path / "in")
    assert cfg.output["location"] == str(tmp_path / "conf" / "out")
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2


# ---------------------------------------------------------- the example
def test_ec2_example_shift_triggers_retrain_and_error_recovers(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path)
    pipe = Pipeline(cfg)
    types = sorted(history["instance_type"].unique())
    log = []
    for k, frame in enumerate([history, *drops]):
        write_drop(frame, inbox, f"{k:03d}.csv")
        res = pipe.run()
        start = frame["timestamp"].max() + pd.Timedelta(hours=1)
        cap = {t: scaler(pipe.db_url, t, start, start + pd.Timedelta(hours=23)) for t in types}
        log.append((res, cap))
    mon = [r.monitored["value"] if r.monitored else None for r, _ in log]
    trig = [r.trigger for r, _ in log]
    assert trig == ["first_run", None, None, "threshold", None]
    # before the shift the live forecast's wQL is below the threshold, at the shift above, after the retrain below
    assert mon[0] is None and max(mon[1:3]) < THRESHOLD < mon[3] and mon[4] < THRESHOLD
    assert mon[3] > 3 * max(mon[1:3])
    assert [r.predictor_version for r, _ in log] == [1, 1, 1, 2, 2]
    assert [r.published_version for r, _ in log] == [1, 2, 3, 4, 5]
    # the scaler: capacity covers the coming day's real peak before the shift and again after the retrain
    for k in (0, 1, 3):
        nxt = drops[k]
        for t in types:
            peak = nxt.loc[nxt["instance_type"] == t, "number_of_instances"].max()
            assert log[k][1][t] >= peak, (k, t)
    # ... while the capacity chosen before the shift was short on the shifted day, and it grew after
    short = [t for t in types if log[2][1][t] < drops[2].loc[drops[2]["instance_type"] == t,
                                                               "number_of_instances"].max()]
    assert short == types
    assert all(log[3][1][t] > 1.3 * log[2][1][t] for t in types)
    # catalog: triggers, data versions with content hashes, per-item and overall accuracy
    preds = pipe.catalog.frame("predictors")
    assert preds["trigger"].tolist() == ["first_run", "threshold"] and preds["reason"][1].startswith(
        "AverageWeightedQuantileLoss")
    dv = pipe.catalog.frame("data_versions")
    assert dv["content_hash"].nunique() == 5 and dv["rows"].tolist() == [1440 + 96 * k for k in range(5)]
    hist = pipe.accuracy_history()
    assert hist["exceeded"].tolist() == [False, False, True, False]
    assert hist["retrained"].tolist() == [None, None, "threshold", None]
    per_item = pipe.accuracy_history(per_item=True)
    assert len(per_item) == 4 * 4 and set(per_item["instance_type"]) == set(types)
    shifted = per_item[per_item["forecast_version"] == 3]
    assert (shifted["AverageWeightedQuantileLoss"] > THRESHOLD).all()
    fig = pipe.plot_accuracy()
    assert "AverageWeightedQuantileLoss" in fig.axes[0].get_ylabel()
    # export: the newest forecast in Amazon Forecast's export layout
    exp = pd.read_csv(tmp_path / "exports" / "forecast_latest.csv")
    assert list(exp.columns) == ["instance_type", "date", "p10", "p50", "p90", "mean"] and len(exp) == 4 * 24


def test_same_input_twice_changes_nothing(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path)
    pipe = Pipeline(cfg)
    write_drop(history, inbox, "000.csv")
    write_drop(drops[0], inbox, "001.csv")
    assert pipe.run().status == "ok"
    before = counts(pipe)
    exp = tmp_path / "exports" / "forecast_latest.csv"
    mtime = exp.stat().st_mtime_ns
    res = pipe.run()
    assert res.status == "unchanged" and res.files_new == [] and res.trigger is None
    # the same bytes under another name are the same data
    shutil.copy(Path(inbox) / "001.csv", Path(inbox) / "002_copy.csv")
    assert pipe.run().status == "unchanged"
    assert counts(pipe) == before and live_version(pipe.db_url, "ec2_forecasts") == 1
    assert exp.stat().st_mtime_ns == mtime
    assert pipe.catalog.frame("runs")["status"].tolist() == ["ok", "unchanged", "unchanged"]


def test_corrupt_drops_are_quarantined_and_the_rest_goes_on(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path)
    pipe = Pipeline(cfg)
    write_drop(history, inbox, "000.csv")
    pipe.run()
    bad_bytes = b"instance_type,timestamp,number_of_instances\nm5.large,2023-01-17 00:00:00,many\n"
    (Path(inbox) / "001a_bad.csv").write_bytes(bad_bytes)
    (Path(inbox) / "001b_garbage.csv").write_bytes(b"\x00\x01\x02garbage\xff\xfe")
    off = drops[0].copy()
    off["timestamp"] = off["timestamp"] + pd.Timedelta(minutes=30)  # off the hourly grid: the group refuses it
    write_drop(off, inbox, "001c_offgrid.csv")
    write_drop(drops[0], inbox, "001d_good.csv")
    mtimes = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in Path(inbox).iterdir()}
    with pytest.warns(UserWarning, match="quarantined"):
        res = pipe.run()
    assert res.status == "ok" and res.files_new == [str(Path(inbox) / "001d_good.csv")]
    bad = dict(res.files_quarantined)
    assert set(bad) == {str(Path(inbox) / n) for n in ("001a_bad.csv", "001b_garbage.csv", "001c_offgrid.csv")}
    assert "many" in bad[str(Path(inbox) / "001a_bad.csv")] and "001a_bad.csv" in bad[str(Path(inbox) / "001a_bad.csv")]
    # the user's files are untouched; copies and reasons are in the quarantine
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in Path(inbox).iterdir()} == mtimes
    q = Path(cfg["state_dir"]) / "quarantine"
    copies = sorted(p.name for p in q.iterdir())
    assert len(copies) == 6 and sum(n.endswith(".reason.txt") for n in copies) == 3
    bad_copy = next(p for p in q.iterdir() if p.name.endswith("001a_bad.csv"))
    assert bad_copy.read_bytes() == bad_bytes and "many" in Path(str(bad_copy) + ".reason.txt").read_text()
    files = pipe.catalog.frame("files")
    assert sorted(files["status"]) == ["ingested", "ingested", "quarantined", "quarantined", "quarantined"]
    # the good drop was imported, scored and forecast
    assert res.monitored["value"] < THRESHOLD and res.forecast_version == 2
    # a rerun does not quarantine them again; after retry-quarantined they are read (and refused) again
    assert pipe.run().status == "unchanged"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["retry-quarantined", str(tmp_path / "p.yaml")]) == 0
    with pytest.warns(UserWarning, match="quarantined"):
        assert len(pipe.run().files_quarantined) == 3


def test_schedule_retrains_every_48_steps(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path, every_steps=48)
    cfg["monitoring"]["threshold"] = 5.0  # never by error
    pipe = Pipeline(cfg)
    trig = []
    for k, frame in enumerate([history, *drops[:3]]):
        write_drop(frame, inbox, f"{k:03d}.csv")
        trig.append(pipe.run().trigger)
    assert trig == ["first_run", None, "schedule", None]
    assert pipe.catalog.frame("predictors")["reason"][1] == "48 steps of new data since the last training (every_steps=48)"


def test_two_runs_at_once_are_refused(tmp_path, stream):
    cfg, inbox = setup(tmp_path)
    write_drop(stream[0], inbox, "000.csv")
    pipe = Pipeline(cfg)
    with RunLock(Path(cfg["state_dir"]) / "pipeline.lock"):
        with pytest.raises(PipelineBusyError, match=f"pid {os.getpid()}"):
            pipe.run()
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
        assert main(["run", str(tmp_path / "p.yaml")]) == 75
    assert pipe.run().status == "ok"


def test_failure_inside_publication_leaves_the_last_forecast_live(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path)
    cfg["database"]["chunk_rows"] = 10
    write_drop(history, inbox, "000.csv")
    Pipeline(cfg).run()
    old = query_forecast(Pipeline(cfg).db_url, "m5.large", table="ec2_forecasts")

    def crash(done, total):
        if done >= 30:
            raise RuntimeError("power cut during publication")

    write_drop(drops[0], inbox, "001.csv")
    pipe = Pipeline(cfg, hooks={"publish_chunk": crash})
    with pytest.raises(RuntimeError, match="power cut"):
        pipe.run()
    assert pipe.catalog.frame("runs")["status"].tolist() == ["ok", "failed"]
    pd.testing.assert_frame_equal(query_forecast(pipe.db_url, "m5.large", table="ec2_forecasts"), old)
    # the rerun publishes the forecast already made, without recomputing anything
    n = counts(pipe)
    res = Pipeline(cfg).run()
    assert res.status == "ok" and res.published_version == 2 and res.forecast_version == 2 and counts(pipe) == n
    new = query_forecast(pipe.db_url, "m5.large", table="ec2_forecasts")
    assert new["timestamp"].min() == drops[0]["timestamp"].max() + pd.Timedelta(hours=1)


def test_sigkill_mid_publication_then_rerun(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path)
    cfg["database"]["chunk_rows"] = 10
    write_drop(history, inbox, "000.csv")
    pipe = Pipeline(cfg)
    pipe.run()
    old = query_forecast(pipe.db_url, "t3.medium", table="ec2_forecasts")
    write_drop(drops[0], inbox, "001.csv")
    marker = tmp_path / "paused"
    script = textwrap.dedent(f"""
        import json, pathlib, time
        from fc_core.pipeline import Pipeline
        def pause(done, total):
            if done >= 40:
                pathlib.Path({str(marker)!r}).write_text(str(done))
                time.sleep(120)
        Pipeline(json.loads({json.dumps(json.dumps(cfg))}), hooks={{"publish_chunk": pause}}).run()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        t0 = time.time()
        while not marker.exists():
            assert proc.poll() is None, "the pipeline process ended early"
            assert time.time() - t0 < 60
            time.sleep(0.05)
        with pytest.raises(PipelineBusyError):  # it holds the lock while it runs
            Pipeline(cfg).run()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # readers still get the last complete forecast
    pd.testing.assert_frame_equal(query_forecast(pipe.db_url, "t3.medium", table="ec2_forecasts"), old)
    assert pipe.catalog.frame("runs")["status"].tolist() == ["ok", "running"]
    # the dead process's lock is gone; the rerun finishes the job
    res = Pipeline(cfg).run()
    assert res.status == "ok" and res.published_version == 2
    assert pipe.catalog.frame("runs")["status"].tolist() == ["ok", "killed", "ok"]
    assert query_forecast(pipe.db_url, "t3.medium", table="ec2_forecasts")["version"].unique().tolist() == [2]


def test_unreachable_database_fails_clearly_and_the_next_run_publishes(tmp_path, stream):
    history, drops = stream
    cfg, inbox = setup(tmp_path)
    write_drop(history, inbox, "000.csv")
    Pipeline(cfg).run()
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = json.loads(json.dumps(cfg))
    down["database"].update(url=f"postgresql+psycopg://pool:pw@127.0.0.1:{port}/x", retries=2, backoff_seconds=0.01)
    pytest.importorskip("psycopg")
    write_drop(drops[0], inbox, "001.csv")
    waits = []
    with pytest.raises(PublicationError, match=r"3 attempt\(s\)"):
        Pipeline(down, hooks={"sleep": waits.append}).run()
    assert waits == [0.01, 0.02]
    pipe = Pipeline(cfg)
    assert pipe.catalog.latest_forecast()["db_version"] is None  # made, kept, not published
    (tmp_path / "down.yaml").write_text(yaml.safe_dump(down))
    assert main(["run", str(tmp_path / "down.yaml")]) == 75
    assert pipe.run().published_version == 2


@pytest.mark.postgres
def test_postgres_end_to_end_with_an_outage(tmp_path, stream, pg_server):  # noqa: F811
    history, drops = stream
    cfg, inbox = setup(tmp_path, db_url=pg_server.url, name="pg-pool")
    cfg["database"]["table"] = "ec2_forecasts"
    pipe = Pipeline(cfg)
    write_drop(history, inbox, "000.csv")
    pipe.run()
    start = history["timestamp"].max() + pd.Timedelta(hours=1)
    cap = choose_capacity(pg_server.url, "m5.large", start, start + pd.Timedelta(hours=23), pipeline="pg-pool")
    assert cap > drops[0].loc[drops[0]["instance_type"] == "m5.large", "number_of_instances"].max()
    write_drop(drops[0], inbox, "001.csv")
    pg_server.stop()
    try:
        with pytest.raises(PublicationError, match="could not be reached"):
            Pipeline(cfg, hooks={"sleep": lambda s: None}).run()
    finally:
        pg_server.start()
    assert query_forecast(pg_server.url, "m5.large", pipeline="pg-pool", table="ec2_forecasts")["version"].iloc[0] == 1
    res = pipe.run()
    assert res.published_version == 2 and res.status == "ok"
    q = query_forecast(pg_server.url, "m5.large", pipeline="pg-pool", table="ec2_forecasts")
    assert q["timestamp"].min() == drops[0]["timestamp"].max() + pd.Timedelta(hours=1)


def test_fsspec_memory_locations_and_the_cli(tmp_path, stream, capsys):
    import fsspec

    history, drops = stream
    fs = fsspec.filesystem("memory")
    root = f"memory://fc-test-{os.getpid()}-{time.time_ns()}"
    cfg = ec2_config(tmp_path)
    cfg["input"]["location"] = f"{root}/drops"
    cfg["output"]["location"] = f"{root}/exports"
    fs.mkdir(f"{root}/drops")
    write_drop(history, f"{root}/drops", "000.csv")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", str(tmp_path / "p.yaml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["trigger"] == "first_run"
    assert fs.exists(f"{root}/exports/forecast_latest.csv")
    write_drop(drops[0], f"{root}/drops", "001.csv")
    assert main(["run", str(tmp_path / "p.yaml")]) == 0
    capsys.readouterr()
    assert main(["query", str(tmp_path / "p.yaml"), "m5.large", "--start", "2023-01-18 05:00", "--end",
                 "2023-01-18 06:00"]) == 0
    q = capsys.readouterr().out.splitlines()
    assert q[0] == "instance_type,timestamp,p10,p50,p90,mean,version" and len(q) == 3
    assert main(["history", str(tmp_path / "p.yaml"), "--chart", str(tmp_path / "acc.png")]) == 0
    assert (tmp_path / "acc.png").stat().st_size > 1000
    fs.rm(root, recursive=True)


def test_command_line_entry_point(tmp_path, stream):
    cfg, inbox = setup(tmp_path)
    write_drop(stream[0], inbox, "000.csv")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, "-m", "fc_core.pipeline", "run", str(tmp_path / "p.yaml")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["published_version"] == 1
    st = subprocess.run([sys.executable, "-m", "fc_core.pipeline", "status", str(tmp_path / "p.yaml")], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    assert json.loads(st.stdout)["forecast_version"] == 1
    # the notebook's path for a YAML file
    from fc_core.pipeline.example import run_once

    write_drop(stream[1][0], inbox, "001.csv")
    pipe, table = run_once(tmp_path / "p.yaml")
    assert table[["status", "forecast_version", "published_version"]].values.tolist() == [["ok", 2, 2]]
    assert table["monitored"].iloc[0] < THRESHOLD


def test_plot_accuracy_history():
    from fc_core.plotting import plot_accuracy_history

    h = pd.DataFrame({"window_start": pd.date_range("2024-01-01", periods=3, freq="D"),
                      "window_end": pd.date_range("2024-01-01 23:00", periods=3, freq="D"),
                      "WAPE": [0.1, 0.5, 0.12], "retrained": [None, "threshold", None]})
    fig = plot_accuracy_history(h, metric="WAPE", threshold=0.3)
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == [0.1, 0.5, 0.12]
    assert ax.lines[1].get_ydata()[0] == 0.3  # the threshold
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"WAPE", "threshold 0.3", "retrained",
                                                                   "above threshold"}
    assert list(ax.collections[0].get_offsets()[:, 1]) == [0.5]  # the point above the threshold
    with pytest.raises(ConfigError, match="no accuracy history"):
        plot_accuracy_history(h.iloc[:0])
    with pytest.raises(ConfigError, match="has no 'MASE'"):
        plot_accuracy_history(h, metric="MASE")


@pytest.mark.slow
def test_notebook_runs_the_example_under_papermill(tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "out"
    papermill.execute_notebook(str(ROOT / "notebooks" / "production_pipeline.ipynb"), str(tmp_path / "nb.ipynb"),
                               parameters={"output_dir": str(out)}, kernel_name="python3", progress_bar=False,
                               cwd=str(ROOT))
    runs = pd.read_csv(out / "scenario_runs.csv")
    assert runs["retrain"].fillna("").tolist() == ["first_run", "", "", "threshold", ""]
    mon = runs["monitored"].to_numpy()
    assert max(mon[1:3]) < THRESHOLD < mon[3] and mon[4] < THRESHOLD
    assert (out / "accuracy_history.png").stat().st_size > 1000
