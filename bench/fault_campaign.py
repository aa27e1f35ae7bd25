"""Fault campaign on the production pipeline (issue 15): inject faults, count what survived.

Each fault is injected into a small EC2 cache-pool pipeline (2 instance types, 8 days of
history, daily drops; SeasonalNaive/Naive) on SQLite and, where the PostgreSQL server
binaries are installed, on a throwaway PostgreSQL (``tests/pg_server.py``). A fault is
*survived* when the pipeline ends it in a correct state: the bad input refused with a
reason, or a clear one-line error with the documented exit code, and the next run (after
the fault is removed) completes with nothing lost and nothing duplicated. *Lost* counts
published forecasts or data rows that are missing afterwards; *duplicated* counts
database versions holding a forecast that was already published.

Usage::

    python -m bench.fault_campaign                      # prints the table
    python -m bench.fault_campaign --append-results     # and appends it to bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fc_core import security  # noqa: E402
from fc_core.pipeline import POINTS, Pipeline, main  # noqa: E402
from fc_core.pipeline_demo import ec2_config, ec2_stream, write_drop  # noqa: E402
from fc_core.publish import _ENGINES, published_versions, query_forecast  # noqa: E402

TABLE = "ec2_forecasts"
HISTORY, DROPS = ec2_stream(instance_types=2, history_days=8, drops=3, seed=0)
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + str(ROOT / "tests")}
KILL = """
import json, os, signal, sys
from fc_core.pipeline import Pipeline
def hook(name):
    if name == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)
Pipeline(json.loads(sys.argv[2]), hooks={"point": hook}).run(force_retrain=sys.argv[1] == "trained")
"""


# ----------------------------------------------------------------- helpers
def fresh(root: Path, db_url=None, name="ec2-cache-pool"):
    cfg = ec2_config(root, db_url=db_url, name=name)
    cfg["database"]["backoff_seconds"] = 0.05
    Path(cfg["input"]["location"]).mkdir(parents=True, exist_ok=True)
    write_drop(HISTORY, cfg["input"]["location"], "000.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Pipeline(cfg).run()
    return cfg


def cli(cfg, *args) -> tuple[int, str]:
    p = Path(tempfile.mkdtemp(prefix="fc_cfg_")) / "pipeline.yaml"
    p.write_text(yaml.safe_dump(cfg))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import logging

        logging.disable(logging.CRITICAL)
        try:
            code = main([*args, str(p)])
        finally:
            logging.disable(logging.NOTSET)
            shutil.rmtree(p.parent, ignore_errors=True)
    return code, err.getvalue().strip()


def run(cfg, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Pipeline(cfg, **kw).run()


def audit(cfg, drops_in: int) -> tuple[int, int]:
    """(lost, duplicated) after the faults: every drop's rows in the newest data, the newest forecast live,
    and one database version per distinct forecast."""
    pipe = Pipeline(cfg)
    url = pipe.db_url
    data = pipe.catalog.current_data()
    expected_rows = len(HISTORY) + sum(len(d) for d in DROPS[:drops_in])
    lost = max(expected_rows - int(data["rows"]), 0)
    v = published_versions(url, TABLE, cfg["name"])
    v = v[v["status"] != "staged"]
    hashes = [json.loads(i or "{}").get("content_sha256") for i in v["info"]]
    duplicated = len(hashes) - len(set(hashes))
    live = query_forecast(url, "m5.large", table=TABLE, pipeline=cfg["name"])
    want = pd.Timestamp((DROPS[drops_in - 1] if drops_in else HISTORY)["timestamp"].max()) + pd.Timedelta(hours=1)
    if live.empty or live["timestamp"].min() != want:
        lost += 1  # the newest forecast is not the live one
    return lost, duplicated


def one_line(code, err, want_code) -> bool:
    return code == want_code and len(err.splitlines()) == 1 and "Traceback" not in err


@contextlib.contextmanager
def tmpfs(size: str):
    d = Path(tempfile.mkdtemp(prefix="fc_tmpfs_"))
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True)
    if out.returncode:
        d.rmdir()
        raise RuntimeError("cannot mount a tmpfs here (needs root)")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
        d.rmdir()


def dispose_all():
    for eng in _ENGINES.values():
        eng.dispose()
    _ENGINES.clear()


# ----------------------------------------------------------------- faults
def kill_at(root, point, db_url=None, name="ec2-cache-pool"):
    cfg = fresh(root, db_url, name)
    write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
    out = subprocess.run([sys.executable, "-c", KILL, point, json.dumps(cfg)], cwd=ROOT, env=ENV,
                         capture_output=True, timeout=300)
    killed = out.returncode == -signal.SIGKILL
    res = run(cfg)
    again = run(cfg)
    lost, dup = audit(cfg, 1)
    ok = killed and res.status in ("ok", "unchanged") and again.status == "unchanged"
    return ok, lost, dup, "" if killed else f"not killed (rc {out.returncode})"


def bad_drop(root, kind):
    cfg = fresh(root)
    inbox = Path(cfg["input"]["location"])
    write_drop(DROPS[0], root, "full.csv")
    text = (root / "full.csv").read_bytes()
    lines = text.splitlines(keepends=True)
    if kind == "inf":
        f = DROPS[0].astype({"number_of_instances": float})
        f.loc[3, "number_of_instances"] = np.inf
        write_drop(f, inbox, "001.csv")
    elif kind == "one item empty":
        body = [ln if not ln.startswith(b"m5.large") else ln.rsplit(b",", 1)[0] + b",\n" for ln in lines]
        (inbox / "001.csv").write_bytes(b"".join(body))
    elif kind == "truncated mid-line":
        (inbox / "001.csv").write_bytes(text[:-2])
    elif kind == "truncated at a line boundary":
        (inbox / "001.csv").write_bytes(b"".join(lines[:1 + 36]))
    elif kind == "truncated between items":
        (inbox / "001.csv").write_bytes(b"".join(lines[:1 + 24]))
    elif kind == "garbage bytes":
        (inbox / "001.csv").write_bytes(b"\x00\x01garbage\xff\n")
    elif kind == "text in a number column":
        (inbox / "001.csv").write_bytes(lines[0] + lines[1].replace(b",", b",x", 1)[:-3] + b"many\n")
    res = run(cfg)
    refused = len(res.files_quarantined) == 1 and res.data_version == 1 and res.published_version == 1
    write_drop(DROPS[0], inbox, "001_fixed.csv")
    after = run(cfg)
    finite = after.monitored is not None and np.isfinite(after.monitored["value"])
    lost, dup = audit(cfg, 1)
    return refused and finite, lost, dup, "" if refused else f"not refused: {res.messages[-1:]}"


def catalog_deleted(root):
    cfg = fresh(root)
    write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
    run(cfg)
    dispose_all()
    for f in Path(cfg["state_dir"]).glob("catalog.db*"):
        f.unlink()
    code, err = cli(cfg, "run")
    refused = one_line(code, err, 1) and "rebuild-catalog" in err
    code2, _ = cli(cfg, "rebuild-catalog")
    write_drop(DROPS[1], cfg["input"]["location"], "002.csv")
    res = run(cfg)
    lost, dup = audit(cfg, 2)
    ok = refused and code2 == 0 and res.status == "ok" and run(cfg).status == "unchanged"
    return ok, lost, dup, ""


def damaged(root, which):
    cfg = fresh(root)
    dispose_all()
    f = Path(cfg["state_dir"]) / which
    f.write_bytes(b"not a database " * 300)
    for ext in ("-wal", "-shm"):
        Path(str(f) + ext).unlink(missing_ok=True)
    write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
    code, err = cli(cfg, "run")
    clear = one_line(code, err, 1) and which in err
    dispose_all()
    if which == "catalog.db":
        f.rename(f.with_name("catalog.db.bad"))
        cli(cfg, "rebuild-catalog")
    else:
        f.rename(f.with_name("forecasts.db.bad"))
    res = run(cfg)
    lost, dup = audit(cfg, 1)
    return clear and res.status == "ok", lost, dup, "" if clear else err[:200]


def missing_database(root, pg):
    url = pg.url.rsplit("/", 1)[0] + "/no_such_db"
    cfg = fresh(root, f"sqlite:///{root / 'first.db'}")
    cfg["database"]["url"] = url
    write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
    waits = []
    code, err = cli(cfg, "run")
    try:
        Pipeline(cfg, hooks={"sleep": waits.append}).run()
    except Exception:
        pass
    ok = one_line(code, err, 2) and "no_such_db" in err and not waits
    return ok, 0, 0, "" if ok else err[:200]


def outage(root, pg):
    cfg = fresh(root, pg.url, name="pg-outage")
    write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
    pg.stop()
    try:
        code, err = cli(cfg, "run")
    finally:
        pg.start()
    res = run(cfg)
    lost, dup = audit(cfg, 1)
    return one_line(code, err, 75) and res.published_version == 2, lost, dup, ""


def disk(root, where):
    try:
        if where == "full state disk":
            with tmpfs("64k") as small:
                cfg = ec2_config(root)
                Path(cfg["input"]["location"]).mkdir(parents=True, exist_ok=True)
                write_drop(HISTORY, cfg["input"]["location"], "000.csv")
                cfg["state_dir"] = str(small / "state")
                code, err = cli(cfg, "run")
                dispose_all()
                clear = one_line(code, err, 1) and str(small) in err
            cfg["state_dir"] = str(root / "state2")
            res = run(cfg)
            return clear and res.published_version == 1, *audit(cfg, 0), "" if clear else err[:200]
        with tmpfs("4m") as ro:
            cfg = fresh(root)
            key = {"read-only export folder": ("output", "location"),
                   "read-only quarantine folder": ("input", "quarantine")}.get(where)
            if key:
                cfg[key[0]][key[1]] = str(ro / "x")
            else:  # read-only state folder: the state moved onto the read-only mount
                shutil.copytree(cfg["state_dir"], ro / "state")
                cfg["state_dir"] = str(ro / "state")
                dispose_all()
            (ro / "x").mkdir()
            subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
            if where == "read-only quarantine folder":
                (Path(cfg["input"]["location"]) / "001.csv").write_bytes(b"\x00garbage\n")
            else:
                write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
            code, err = cli(cfg, "run")
            dispose_all()
            subprocess.run(["mount", "-o", "remount,rw", str(ro)], check=True)
            clear = one_line(code, err, 1) and str(ro) in err
        if where == "read-only state folder":
            cfg["state_dir"] = str(root / "state")
        if key:
            cfg[key[0]][key[1]] = str(root / "elsewhere")
        res = run(cfg)
        drops_in = 0 if where == "read-only quarantine folder" else 1
        return clear and res.status in ("ok", "unchanged"), *audit(cfg, drops_in), "" if clear else err[:200]
    except RuntimeError as exc:
        return None, 0, 0, str(exc)


def concurrent(root):
    cfg = fresh(root)
    write_drop(DROPS[0], cfg["input"]["location"], "001.csv")
    script = "import json,sys\nfrom fc_core.pipeline import main\nimport yaml, pathlib\n" \
             "p = pathlib.Path(sys.argv[2]); p.write_text(yaml.safe_dump(json.loads(sys.argv[1])))\n" \
             "sys.exit(main(['run', str(p)]))"
    procs = [subprocess.Popen([sys.executable, "-c", script, json.dumps(cfg), str(root / f"c{k}.yaml")], cwd=ROOT,
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for k in range(3)]
    codes = sorted(p.wait(300) for p in procs)
    run(cfg)
    lost, dup = audit(cfg, 1)
    return set(codes) <= {0, 75} and 0 in codes, lost, dup, f"exit codes {codes}"


def reader_layout(root):
    url = f"sqlite:///{root / 'f.db'}"
    from fc_core.publish import publish_forecast

    ts = pd.date_range("2024-01-01", periods=4, freq="h")
    publish_forecast(url, pd.DataFrame({"item_id": "a", "timestamp": ts, "p10": 1.0, "p90": 3.0}), ["item_id"],
                     pipeline="p")
    query_forecast(url, "a")
    publish_forecast(url, pd.DataFrame({"item_id": "a", "timestamp": ts, "p20": 1.0, "p80": 2.0}), ["item_id"],
                     pipeline="p")
    q = query_forecast(url, "a")
    return list(q.columns) == ["item_id", "timestamp", "p20", "p80", "version"], 0, 0, ""


def two_owners(root):
    url = f"sqlite:///{root / 'shared.db'}"
    a = fresh(root / "a", url)
    b = ec2_config(root / "b", db_url=url)
    Path(b["input"]["location"]).mkdir(parents=True)
    write_drop(HISTORY, b["input"]["location"], "000.csv")
    code, err = cli(b, "run")
    write_drop(DROPS[0], a["input"]["location"], "001.csv")
    res = run(a)
    lost, dup = audit(a, 1)
    return one_line(code, err, 2) and res.published_version == 2, lost, dup, ""


def umask(root):
    old = os.umask(0o027)
    try:
        cfg = fresh(root)
    finally:
        os.umask(old)
    st = Path(cfg["state_dir"])
    files = [*(root / "exports").iterdir(), *(st / "data").iterdir(), *(st / "forecasts").iterdir(),
             st / "forecasts.db", st / "catalog.db"]
    modes = {f.stat().st_mode & 0o777 for f in files}
    return modes == {0o640}, 0, 0, f"modes {sorted(map(oct, modes))}"


def encrypted_save_kill(root):
    key = security.generate_key()
    marker = root / "marker"
    script = ("import sys, time, pathlib\nfrom fc_core import security\n"
              "def w(f):\n f.mkdir(); (f / 'd.csv').write_text('secret'); pathlib.Path(sys.argv[3]).write_text('x');"
              " time.sleep(60)\nsecurity.save_encrypted(w, sys.argv[2], sys.argv[1], 'dataset')")
    before = set(Path(tempfile.gettempdir()).glob("fc_core_plain_*"))
    p = subprocess.Popen([sys.executable, "-c", script, key, str(root / "ds"), str(marker)], cwd=ROOT, env=ENV)
    t0 = time.time()
    while not marker.exists() and time.time() - t0 < 60:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    on_disk = set(Path(tempfile.gettempdir()).glob("fc_core_plain_*")) - before
    security.save_encrypted(lambda f: (f.mkdir(), (f / "y").write_text("y")), root / "other", key, "dataset")
    in_ram = list(Path("/dev/shm").glob(f"fc_core_plain_{p.pid}_*"))
    return not on_disk and not in_ram, 0, 0, f"{len(on_disk)} on disk, {len(in_ram)} in RAM after the next save"


def payload_swap(root):
    key = security.generate_key()
    a = security.save_encrypted(lambda f: (f.mkdir(), (f / "d").write_text("A")), root / "a", key, "predictor")
    b = security.save_encrypted(lambda f: (f.mkdir(), (f / "d").write_text("B")), root / "b", key, "predictor")
    (a / "payload.fcenc").write_bytes((b / "payload.fcenc").read_bytes())
    try:
        with security.open_artifact(a, key, "predictor"):
            return False, 0, 0, "swapped payload loaded"
    except security.ArtifactError:
        return True, 0, 0, ""


def raw_key(root):
    try:
        security.encrypt_bytes(b"x", b"p" * 32)
        return False, 0, 0, "32-byte password accepted"
    except Exception as exc:
        return "raw bytes" in str(exc), 0, 0, ""


def deepar_path(root):
    from fc_core.algorithms.deepar import DeepARPlusPredictor
    from fc_core.errors import ArtifactError

    pred = object.__new__(DeepARPlusPredictor)
    try:
        pred._load_state(root, {"spec": {}, "weights": "../../etc/passwd"})
        return False, 0, 0, "loaded"
    except ArtifactError:
        return True, 0, 0, ""


# ------------------------------------------------------------------- main
def campaign(pg=None, only: str | None = None) -> list[dict]:
    jobs = []
    for point in POINTS:
        jobs.append((f"SIGKILL at {point}", "sqlite", lambda r, p=point: kill_at(r, p)))
        if pg is not None:
            jobs.append((f"SIGKILL at {point}", "postgresql",
                         lambda r, p=point: kill_at(r, p, pg.url, f"pg-{p}-{time.monotonic_ns()}")))
    for kind in ("inf", "one item empty", "truncated mid-line", "truncated at a line boundary",
                 "truncated between items", "garbage bytes", "text in a number column"):
        jobs.append((f"drop: {kind}", "sqlite", lambda r, k=kind: bad_drop(r, k)))
    jobs += [("catalog.db deleted", "sqlite", catalog_deleted),
             ("catalog.db damaged", "sqlite", lambda r: damaged(r, "catalog.db")),
             ("forecasts.db damaged", "sqlite", lambda r: damaged(r, "forecasts.db"))]
    for where in ("full state disk", "read-only export folder", "read-only quarantine folder",
                  "read-only state folder"):
        jobs.append((where, "sqlite", lambda r, w=where: disk(r, w)))
    jobs += [("three runs at once", "sqlite", concurrent), ("reader during a layout change", "sqlite", reader_layout),
             ("two state folders under one name", "sqlite", two_owners), ("umask 027", "sqlite", umask),
             ("SIGKILL during an encrypted save", "-", encrypted_save_kill), ("payload swapped", "-", payload_swap),
             ("32-byte password as key", "-", raw_key), ("DeepAR+ weights path outside", "-", deepar_path)]
    if pg is not None:
        jobs += [("database does not exist", "postgresql", lambda r: missing_database(r, pg)),
                 ("database outage", "postgresql", lambda r: outage(r, pg))]
    rows = []
    for name, backend, fn in jobs:
        if only and only not in name:
            continue
        root = Path(tempfile.mkdtemp(prefix="fc_fault_"))
        t0 = time.perf_counter()
        try:
            ok, lost, dup, note = fn(root)
        except Exception as exc:  # a fault the pipeline did not survive
            ok, lost, dup, note = False, 0, 0, f"{type(exc).__name__}: {str(exc)[:160]}"
        finally:
            dispose_all()
            shutil.rmtree(root, ignore_errors=True)
        rows.append({"fault": name, "backend": backend, "survived": ok, "lost": lost, "duplicated": dup,
                     "note": note, "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{name:45s} {backend:10s} {'survived' if ok else ('skipped' if ok is None else 'NOT SURVIVED')} "
              f"lost={lost} dup={dup} {note}", flush=True)
    return rows


def to_markdown(rows, command: str) -> str:
    done = [r for r in rows if r["survived"] is not None]
    pg = "SQLite and PostgreSQL" if any(r["backend"] == "postgresql" for r in rows) else "SQLite only"
    survived = sum(bool(r["survived"]) and not r["lost"] and not r["duplicated"] for r in done)
    lines = [
        "## Fault campaign on the production pipeline (issue 15)", "",
        f"- date: {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}",
        f"- machine: {os.cpu_count()}-core {platform.machine()}, shared with other jobs (Python "
        f"{platform.python_version()}, {pg})",
        f"- command: `{command}`", "",
        f"**{len(done)} faults injected, {survived} survived, {sum(r['lost'] for r in done)} lost, "
        f"{sum(r['duplicated'] for r in done)} duplicated** ({len(rows) - len(done)} skipped).", "",
        "| fault | backend | survived | lost | duplicated | note |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        s = "skipped" if r["survived"] is None else ("yes" if r["survived"] else "**no**")
        lines.append(f"| {r['fault']} | {r['backend']} | {s} | {r['lost']} | {r['duplicated']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def main_cli(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--only", help="only faults whose name contains this")
    ap.add_argument("--append-results", action="store_true")
    args = ap.parse_args(argv)
    pg = None
    if not args.no_postgres:
        from pg_server import PgServer, _bin_dir

        if _bin_dir() is not None:
            pg = PgServer(_bin_dir())
            pg.start()
    try:
        rows = campaign(pg, args.only)
    finally:
        if pg is not None:
            pg.cleanup()
    md = to_markdown(rows, "python -m bench.fault_campaign" + (" " + " ".join(argv or sys.argv[1:])).rstrip())
    print(md)
    if args.append_results:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + md)
    bad = [r for r in rows if r["survived"] is False or r["lost"] or r["duplicated"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main_cli())
