"""Pipeline benchmark: one production cycle for many hourly series, publishing into SQLite.

Sets up a pipeline (``fc_core.pipeline``) over ``--series`` hourly EC2-capacity
series (``fc_core.demo.ec2_capacity``) with ``--history-days`` of history, stored
predictor = **SeasonalNaive** (so the cycle measures the pipeline, not a model),
by a first run that trains it. Then it lands one day of new data (a CSV drop of
``series x 24`` rows) and measures, each in a fresh process so the peak memory
(``VmHWM``) is that step's own:

* ``cycle``: ``python -m fc_core.pipeline run`` = import the increment (hash, read,
  ``DatasetGroup.append``, snapshot), monitoring (the previous forecast scored against
  the new day, per item and overall), forecast with the stored predictor, CSV export,
  publication into SQLite (staged rows, pointer switch);
* ``rerun``: the same command again on the same input (nothing to do);
* ``cycle + retrain``: the next day with ``--force-retrain`` (backtest + retrain too).

Usage::

    python bench/pipeline_bench.py --series 500                 # while developing
    python bench/pipeline_bench.py --series 10000 --append-results
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

# VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child would report its parent's size
CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from fc_core.pipeline import main
rc = main(sys.argv[1:])
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rc": rc, "wall": time.perf_counter() - t0, "cpu": ru.ru_utime + ru.ru_stime,
                  "maxrss_gb": hwm / 2**20}), file=sys.stderr)
"""


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, capture_output=True, text=True)
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise SystemExit(f"pipeline failed: {out.stderr[-3000:]}")
    stats["result"] = json.loads(out.stdout)
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--history-days", type=int, default=14)
    ap.add_argument("--append-results", action="store_true")
    a = ap.parse_args()

    import pandas as pd
    import yaml

    from fc_core.demo import ec2_capacity
    from fc_core.pipeline import Pipeline
    from fc_core.pipeline.example import write_drop

    work = WORK / f"pipeline_{a.series}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "drops").mkdir(parents=True)
    hist_h = 24 * a.history_days
    t0 = time.perf_counter()
    df = ec2_capacity(instance_types=a.series, hours=hist_h + 48, seed=0)
    pos = (pd.DatetimeIndex(df["timestamp"]) - df["timestamp"].min()) // pd.Timedelta(hours=1)
    df[pos < hist_h].to_parquet(work / "drops" / "000_history.parquet", index=False)
    days = [df[(pos >= hist_h + 24 * k) & (pos < hist_h + 24 * (k + 1))] for k in range(2)]
    print(f"generated {len(df):,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    del df, pos
    cfg = {
        "name": "bench", "state_dir": str(work / "state"),
        "input": {"location": str(work / "drops"), "pattern": "*", "domain": "EC2_CAPACITY", "frequency": "H"},
        "predictor": {"forecast_horizon": 24, "algorithms": ["SeasonalNaive"], "backtest_windows": 1},
        "monitoring": {"threshold": 10.0},
        "output": {"location": str(work / "exports"), "format": "csv"},
    }
    (work / "pipeline.yaml").write_text(yaml.safe_dump(cfg))
    conf = str(work / "pipeline.yaml")

    t0 = time.perf_counter()
    first = Pipeline.from_yaml(conf).run()
    setup_s = time.perf_counter() - t0
    print(f"setup (first run, trains SeasonalNaive): {setup_s:.1f} s {first.timings}", flush=True)

    rows = []
    write_drop(days[0], work / "drops", "001_day.csv")
    drop_mb = (work / "drops" / "001_day.csv").stat().st_size / 1e6
    cyc = child(["run", conf])
    rows.append(("cycle: import 1 day, monitor, forecast with the stored predictor, export, publish", cyc))
    rows.append(("rerun on the same input (nothing new)", child(["run", conf])))
    write_drop(days[1], work / "drops", "002_day.csv")
    rows.append(("cycle + retrain (--force-retrain: backtest and retrain SeasonalNaive too)",
                 child(["run", conf, "--force-retrain"])))
    for name, r in rows:
        print(f"{name}: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s, peak RSS {r['maxrss_gb']:.2f} GB, steps {r['result']['timings']}")
    assert cyc["result"]["published_version"] == 2 and cyc["result"]["monitored"] is not None

    if a.append_results:
        date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
        load = os.getloadavg()[0]
        lines = [
            "", f"## Production pipeline: one cycle for {a.series:,} hourly series, publishing into SQLite", "",
            f"- date: {date}",
            f"- machine: 2-core x86_64, 24 GiB, shared with other jobs ({platform.machine()}, Python "
            f"{platform.python_version()}); load average {load:.1f} at the end",
            f"- command: `python bench/pipeline_bench.py --series {a.series} --history-days {a.history_days} "
            "--append-results`",
            f"- data: {a.series:,} EC2_CAPACITY series, {hist_h} hours of history "
            f"({a.series * hist_h:,} rows, Parquet), one new day per cycle ({a.series * 24:,} rows, CSV "
            f"{drop_mb:.1f} MB); horizon 24, quantiles p10/p50/p90 + mean ({a.series * 24:,} forecast rows)",
            "- stored predictor: **SeasonalNaive** (an AutoPredictor with that one candidate), so the cycle measures "
            "the pipeline; each step in a fresh process (wall and CPU include starting Python and importing pandas, "
            "about 1.5 s), peak RSS = that process's VmHWM",
            f"- setup (first run: import the history, train, forecast, publish): {setup_s:.1f} s", "",
            "| step | wall s | cpu s | peak RSS GB | ingest s | monitor s | train s | forecast+export s | publish s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in rows:
            t = r["result"]["timings"]
            lines.append(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['maxrss_gb']:.2f} | {t.get('ingest', 0):.1f} | "
                         f"{t.get('monitor', 0):.1f} | {t.get('train', 0):.1f} | {t.get('forecast', 0):.1f} | "
                         f"{t.get('publish', 0):.1f} |")
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n".join(lines) + "\n")
        print("appended to bench/RESULTS.md")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
