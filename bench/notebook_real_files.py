"""Ordinary real files through the getting-started notebook, by papermill's command line with ``-p``
parameters only, as a new user runs them (issue 14).

Cases: each Amazon Forecast sample in ``../shared/data`` (its README; M4's wide files are the M4
benchmark's, not an import case) plus synthetic files shaped like users' ones: a user's own
header names, monthly stamps on a late day at 09:00, hourly data forecast at 8H and at 2D, and
sparse headerless counts (only the non-zero days written). For each: the exit status, papermill
noise on stderr ("Unable to parse", "Passed unknown parameter", "KeyboardInterrupt"), the import
notes the notebook printed, and the backtest wQL (mean over 0.1/0.5/0.9) of the AutoPredictor
against SeasonalNaive's, from ``leaderboard.csv``.

Usage::

    python bench/notebook_real_files.py              # prints the markdown section
    python bench/notebook_real_files.py --append     # and appends it to bench/RESULTS.md
    python bench/notebook_real_files.py --only 8H    # cases whose name contains the text
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FC_SHARED_DATA", ROOT.parent / "shared" / "data"))
NB = ROOT / "notebooks" / "getting_started.ipynb"
ELEC = "timestamp:timestamp,target_value:float,item_id:string"
NOISE = ("Unable to parse", "Passed unknown parameter", "KeyboardInterrupt")


def synthetic_files(folder: Path) -> dict[str, Path]:
    """The user-shaped files, written from the samples (or seeded noise) into ``folder``."""
    out = {}
    elec = pd.read_csv(DATA / "electricity" / "item-demand-time.csv", header=None,
                       names=["Timestamp", "Order_Quantity", "Model_ID"])
    out["own_names"] = folder / "orders.csv"
    elec[["Timestamp", "Model_ID", "Order_Quantity"]].to_csv(out["own_names"], index=False)
    tts = pd.read_csv(DATA / "consumer_electronics" / "tts.csv")
    one = tts[tts["store_id"] == "store_001"].copy()
    per = pd.to_datetime(one["timestamp"]).dt.to_period("M")
    day = np.minimum(30, per.dt.days_in_month)
    one["timestamp"] = [f"{p.year}-{p.month:02d}-{d:02d} 09:00:00" for p, d in zip(per, day)]
    out["monthly_late"] = folder / "monthly_late.csv"
    one[["timestamp", "item_id", "demand"]].to_csv(out["monthly_late"], index=False)
    rng = np.random.default_rng(0)
    days = pd.date_range("2022-01-01", periods=730, freq="D")
    rows = []
    for k in range(40):
        rate = rng.uniform(0.05, 0.4)
        weekly = 1 + 0.8 * (days.dayofweek >= 5)
        hit = rng.random(len(days)) < np.minimum(rate * weekly, 1)
        size = rng.poisson(2.0, len(days)) + 1
        rows += [(d.strftime("%Y-%m-%d"), int(s), f"sku_{k:03d}") for d, h, s in zip(days, hit, size) if h]
    out["sparse"] = folder / "sparse_counts.csv"
    pd.DataFrame(rows).to_csv(out["sparse"], index=False, header=False)
    return out


def cases(files: dict[str, Path]) -> list[tuple[str, dict]]:
    e = str(DATA / "electricity" / "item-demand-time.csv")
    return [
        ("electricity H + item metadata (headerless)",
         dict(target_path=e, target_schema=ELEC, item_metadata_path=str(DATA / "electricity" / "item-meta.csv"),
              item_metadata_schema="item_id:string,category:string", frequency="H", forecast_horizon=24)),
        ("electricity hourly forecast at 8H", dict(target_path=e, target_schema=ELEC, frequency="8H",
                                                   forecast_horizon=21)),
        ("electricity hourly forecast at 2D", dict(target_path=e, target_schema=ELEC, frequency="2D",
                                                   forecast_horizon=7)),
        ("own header names (Timestamp,Model_ID,Order_Quantity)",
         dict(target_path=str(files["own_names"]), frequency="H", forecast_horizon=24,
              target_columns='{"Model_ID": "item_id", "Order_Quantity": "target_value"}')),
        ("bike hourly (header, no item column, gaps)",
         dict(target_path=str(DATA / "bike" / "train.csv"), frequency="H", forecast_horizon=24,
              target_columns='{"datetime": "timestamp", "count": "target_value"}')),
        ("consumer electronics M, store_id, price related",
         dict(target_path=str(DATA / "consumer_electronics" / "tts.csv"),
              related_path=str(DATA / "consumer_electronics" / "rts.csv"), domain="RETAIL", frequency="M",
              forecast_dimensions='["store_id"]', forecast_horizon=3)),
        ("monthly stamps on the 30th at 09:00",
         dict(target_path=str(files["monthly_late"]), frequency="M", forecast_horizon=3,
              target_columns='{"demand": "target_value"}')),
        ("retraining sample (headerless, 959 rows)",
         dict(target_path=str(DATA / "retraining" / "elec_data_small_first.csv"), target_schema=ELEC,
              frequency="H", forecast_horizon=24)),
        ("sparse headerless daily counts", dict(target_path=str(files["sparse"]), target_schema=ELEC,
                                                frequency="D", forecast_horizon=14)),
    ]


def run_case(name: str, params: dict, work: Path) -> dict:
    out = work / "".join(ch if ch.isalnum() else "_" for ch in name)[:40]
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "papermill", str(NB), str(out / "run.ipynb"), "--cwd", str(ROOT), "--no-progress-bar",
           "-p", "output_dir", str(out)]
    for k, v in params.items():
        cmd += ["-p", k, str(v)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    row = {"case": name, "rc": proc.returncode, "seconds": round(time.perf_counter() - t0, 1),
           "noise": ", ".join(n for n in NOISE if n in proc.stderr) or "none"}
    (work / "stderr").mkdir(exist_ok=True)
    (out / "stderr.txt").write_text(proc.stderr)
    notes = []
    if (out / "run.ipynb").exists():
        doc = json.loads((out / "run.ipynb").read_text())
        for c in doc["cells"]:
            for o in c.get("outputs", []):
                text = "".join(o.get("text", ""))
                notes += [ln[len("import: "):] for ln in text.splitlines() if ln.startswith("import: ")]
                if o.get("output_type") == "error":
                    row["error"] = f"{o['ename']}: {o['evalue'][:200]}"
    row["notes"] = notes
    if proc.returncode and "error" not in row:
        row["error"] = proc.stderr.strip()[-600:] if proc.stderr.strip() else "no output"
    lb = out / "leaderboard.csv"
    if lb.exists():
        t = pd.read_csv(lb).set_index("algorithm")
        m = "AverageWeightedQuantileLoss"
        row["wql_auto"] = float(t.loc["AutoPredictor", m])
        row["wql_snaive"] = float(t.loc["SeasonalNaive", m]) if "SeasonalNaive" in t.index else float("nan")
        row["best"] = t.drop(index="AutoPredictor")[m].idxmin()
        fc = pd.read_csv(out / "forecast.csv")
        row["items"], row["forecast_rows"] = fc.iloc[:, 0].nunique(), len(fc)
    print(f"[bench] {name}: rc={row['rc']} {row['seconds']} s wQL {row.get('wql_auto')} vs SeasonalNaive "
          f"{row.get('wql_snaive')} {row.get('error', '')}", flush=True)
    return row


def markdown(rows: list[dict], wall: float, command: str) -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = ["## Real and user-shaped files through getting_started.ipynb by papermill (-p parameters only)", "",
             f"- date: {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}",
             f"- machine: {os.cpu_count()}-core {platform.machine()}, {mem:.0f} GiB, shared with other jobs "
             f"(Python {platform.python_version()})",
             f"- command: `{command}` ({wall:.0f} s)",
             "- notebook defaults otherwise: algorithms SeasonalNaive, ETS, NPTS, GBM; 1 backtest window; "
             "wQL = mean weighted quantile loss over 0.1/0.5/0.9 on the backtest window (lower is better)", "",
             "| case | exit | s | items | AutoPredictor wQL | SeasonalNaive wQL | ratio | best single | papermill noise |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = r["wql_auto"] / r["wql_snaive"] if r.get("wql_snaive") else float("nan")
        lines.append(f"| {r['case']} | {r['rc']} | {r['seconds']} | {r.get('items', '')} | "
                     f"{r.get('wql_auto', float('nan')):.4f} | {r.get('wql_snaive', float('nan')):.4f} | "
                     f"{ratio:.3f} | {r.get('best', r.get('error', ''))} | {r['noise']} |")
    lines += ["", "What the import said (the notebook's `import:` lines):", ""]
    for r in rows:
        for n in r["notes"]:
            lines.append(f"- {r['case']}: {n}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--append", action="store_true", help="append the section to bench/RESULTS.md")
    ap.add_argument("--only", default="", help="run only cases whose name contains this text")
    args = ap.parse_args(argv)
    if not (DATA / "electricity").is_dir():
        print(f"real datasets not found at {DATA} (set FC_SHARED_DATA)", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        todo = [(n, p) for n, p in cases(synthetic_files(work)) if args.only in n]
        rows = [run_case(n, p, work) for n, p in todo]
    text = markdown(rows, time.perf_counter() - t0, "python bench/notebook_real_files.py"
                    + (" --append" if args.append else "") + (f" --only {args.only!r}" if args.only else ""))
    print(text)
    if args.append:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + text)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
