"""Import benchmark: read + validate + fill a large daily target CSV, beside pandas' plain read.

Generates (seeded) ``--items`` daily series of ``--days`` days as one CSV under
``bench/_work/`` (header ``item_id,timestamp,target_value``, sorted by item then
date, as exports usually are), with a little of everything the import has to
handle: 3% of the items start late, 2% end early (backfilled to the end), 2% have
random gaps (middle-filled) and 0.1% of the values are empty. Then it runs, each
in a fresh subprocess so peak memory is measured per step,

* ``plain``: ``pandas.read_csv(path, engine="pyarrow")``;
* ``ours``: ``fc_core.DatasetGroup(target=path, frequency="D")`` = read, type,
  validate (sorted, duplicates, on the daily grid), fill (zero middle/backfill)
  and build the canonical frame with the ``_filled`` column;

twice, alternating, and reports the faster run of each, the peak RSS
(``ru_maxrss``) and the size of the resulting frame (column buffers plus the item
id strings once each; key columns hold references to shared strings).

Usage::

    python bench/import_bench.py --items 5000            # 1/20 size while developing
    python bench/import_bench.py --items 100000 --append-results
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work"


def generate(path: Path, items: int, days: int, seed: int = 0) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01", "D").astype(np.int64)
    chunk = 5000
    rows = 0
    opts = pcsv.WriteOptions(quoting_style="none", include_header=True)
    schema = pa.schema([("item_id", pa.string()), ("timestamp", pa.string()), ("target_value", pa.float64())])
    t0 = time.time()
    with pcsv.CSVWriter(str(path), schema, write_options=opts) as w:
        for lo in range(0, items, chunk):
            n = min(chunk, items - lo)
            late = rng.random(n) < 0.03
            first = np.where(late, rng.integers(1, 366, n), 0)
            early = rng.random(n) < 0.02
            last = np.where(early, days - rng.integers(1, 61, n), days)  # exclusive
            grid = np.arange(days)[None, :]
            keep = (grid >= first[:, None]) & (grid < last[:, None])
            gappy = rng.random(n) < 0.02
            holes = rng.random((n, days)) < 0.01
            holes[:, 0] = False
            keep &= ~(gappy[:, None] & holes)
            item_idx, day = np.nonzero(keep)
            level = rng.gamma(2.0, 10.0, n)
            vals = np.round(rng.gamma(2.0, 1.0, len(day)) * level[item_idx] / 2, 2)
            empty = rng.random(len(day)) < 0.001
            names = np.array([f"item_{i:06d}" for i in range(lo, lo + n)], dtype=object)
            tbl = pa.table({
                "item_id": pa.array(names[item_idx], pa.string()),
                "timestamp": pa.array((start + day).astype(np.int32), pa.date32()).cast(pa.string()),
                "target_value": pa.array(vals, mask=empty),
            })
            w.write_table(tbl)
            rows += len(day)
    return {"rows": rows, "bytes": path.stat().st_size, "seconds": round(time.time() - t0, 1)}


def frame_bytes(df) -> int:
    """Column buffers, plus each distinct string of object columns once."""
    import numpy as np

    total = 0
    for c in df.columns:
        col = df[c]
        total += col.memory_usage(index=False, deep=False)
        if col.dtype == object:
            total += sum(sys.getsizeof(s) for s in set(np.asarray(col.to_numpy())[:: max(1, len(col) // 2_000_000)]))
    return int(total)


def peak_rss() -> int:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it does not inherit the parent's)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(kind: str, path: str) -> None:
    import numpy as np  # noqa: F401
    import pandas as pd

    if kind != "plain":
        import fc_core

        fc_core.DatasetGroup  # noqa: B018 - import the modules before timing
    base = peak_rss()
    t0 = time.perf_counter()
    if kind == "plain":
        df = pd.read_csv(path, engine="pyarrow")
        secs = time.perf_counter() - t0
        peak = peak_rss()
        extra = {"timestamp_type": type(df["timestamp"].iloc[0]).__name__}
    else:
        dg = fc_core.DatasetGroup(target=path, frequency="D")
        secs = time.perf_counter() - t0
        peak = peak_rss()
        df = dg.target
        s = dg.summary().overall
        extra = {k: s[k] for k in ("items", "rows", "rows_after_fill", "missing", "nan_values", "filled")}
    out = {"kind": kind, "seconds": round(secs, 2), "peak_rss": peak, "rss_before": base,
           "frame_rows": len(df), "frame_bytes": frame_bytes(df),
           "dtypes": {c: str(t) for c, t in df.dtypes.items()}, **extra}
    print(json.dumps(out, default=str))


def run_child(kind: str, path: Path) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-4000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated CSV")
    ap.add_argument("--append-results", action="store_true", help="append a section to bench/RESULTS.md")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"import_{args.items}x{args.days}.csv"
    free = shutil.disk_usage(WORK).free
    need = args.items * args.days * 32
    if free < 2 * need:
        sys.exit(f"not enough disk: {free / 1e9:.1f} GB free, need about {2 * need / 1e9:.1f} GB")
    try:
        gen = generate(path, args.items, args.days) if not path.exists() else {"rows": None, "bytes": path.stat().st_size}
        print("generated", gen, flush=True)
        results = {"plain": [], "ours": []}
        for _ in range(args.rounds):
            for kind in ("plain", "ours"):
                r = run_child(kind, path)
                print(json.dumps(r), flush=True)
                results[kind].append(r)
    finally:
        if not args.keep and path.exists():
            path.unlink()
    plain = min(results["plain"], key=lambda r: r["seconds"])
    ours = min(results["ours"], key=lambda r: r["seconds"])
    summary = {
        "rows_in_file": ours["rows"], "rows_after_fill": ours["rows_after_fill"], "csv_gb": round(gen["bytes"] / 1e9, 2),
        "plain_s": plain["seconds"], "ours_s": ours["seconds"], "time_ratio": round(ours["seconds"] / plain["seconds"], 2),
        "plain_peak_gb": round(plain["peak_rss"] / 1e9, 2), "ours_peak_gb": round(ours["peak_rss"] / 1e9, 2),
        "ours_frame_gb": round(ours["frame_bytes"] / 1e9, 2),
        "peak_over_frame": round(ours["peak_rss"] / ours["frame_bytes"], 2),
        "all_runs_s": {k: [r["seconds"] for r in v] for k, v in results.items()},
        "filled": ours["filled"], "missing": ours["missing"], "nan_values": ours["nan_values"],
    }
    print(json.dumps(summary, indent=1))
    if args.append_results:
        date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
        cmd = "python bench/import_bench.py " + " ".join(a for a in (argv or sys.argv[1:]))
        lines = [
            "", f"## Import: read + validate + fill {args.items:,} daily series x {args.days} days (CSV)", "",
            f"- date: {date}",
            f"- machine: 2-core x86_64, 24 GiB, shared with other jobs ({platform.machine()}, Python "
            f"{platform.python_version()})",
            f"- command: `{cmd.strip()}`",
            f"- file: {summary['rows_in_file']:,} rows, {summary['csv_gb']} GB; after fill {summary['rows_after_fill']:,} "
            f"rows ({summary['filled']:,} filled: {summary['missing']:,} absent days + {summary['nan_values']:,} empty "
            "values + backfill)",
            f"- best of {args.rounds} runs each, alternating, each in a fresh process; all runs (s): "
            f"{summary['all_runs_s']}",
            "",
            "| step | wall s | peak RSS GB | result frame GB |",
            "| --- | --- | --- | --- |",
            f"| pandas `read_csv(engine=\"pyarrow\")` | {summary['plain_s']} | {summary['plain_peak_gb']} | "
            f"{round(plain['frame_bytes'] / 1e9, 2)} |",
            f"| fc_core `DatasetGroup(target=path, frequency=\"D\")` (read + validate + fill) | {summary['ours_s']} | "
            f"{summary['ours_peak_gb']} | {summary['ours_frame_gb']} |",
            "",
            f"Time ratio ours / plain read: **{summary['time_ratio']}** (target <= 2). Peak RSS / our frame: "
            f"**{summary['peak_over_frame']}** (target <= 3).",
        ]
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
