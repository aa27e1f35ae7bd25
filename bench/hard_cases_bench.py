"""The hard cases Amazon Forecast is sold on, measured: level shifts, moving holidays, several
seasons, discontinued items, and the cost and encryption overheads.

Sections (all on seeded synthetic or built-in demo data, known answers):

* **level shift**: hourly data (daily and weekly pattern, 10 % noise), the level multiplied by
  1.5 or 2 48 hours before the end; a 24-hour forecast. ``ratio`` = mean p50 over the horizon /
  mean of the noise-free truth (1 = on the new level); "within 10 %" counts seeds with
  ``|ratio - 1| < 0.1``. Each algorithm on the whole history (``Estimator.train``) and in an
  ``AutoPredictor(history="auto")`` of that algorithm alone. Plus the detection error.
* **Chuseok**: daily sales 2021-01 .. 2024-08 with x3 on the Chuseok days; Prophet forecasts
  September 2024 with and without ``holidays={"CountryCode": "KR"}``; WAPE on the Chuseok week
  (14-20 September) and on the other days.
* **two seasons**: hourly data with daily and weekly seasons, one-week forecast, MAE.
* **quiet items**: the retail demo's discontinued items found by ``DatasetGroup.summary()``.
* **cost and encryption**: an AutoPredictor on the electricity demo: its cost report, and
  plain vs encrypted save/load.

Usage::

    python bench/hard_cases_bench.py            # prints the markdown section
    python bench/hard_cases_bench.py --append   # and appends it to bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fc_core import changepoints, demo, hard_cases, security  # noqa: E402
from fc_core.algorithms.base import make_estimator  # noqa: E402
from fc_core.automl import AutoPredictor  # noqa: E402
from fc_core.datasets import DatasetGroup  # noqa: E402

from bench.m4 import results_table  # noqa: E402

H_SHIFT, T_SHIFT = 24, 24 * 38


# ------------------------------------------------------------------ level shift
def shift_data(factor: float, seed: int, dist: int = 48, noise: float = 0.1):
    d = hard_cases.level_shift(factor=factor, hours_before_end=dist, days=T_SHIFT // 24, horizon=H_SHIFT,
                               noise=noise, seed=seed)
    return DatasetGroup(target=d["target"], frequency="H"), d["future"]["target_value"].to_numpy()


def bench_shift(seeds) -> tuple[str, str]:
    params = {"SeasonalNaive": {"season_length": 168}, "Prophet": {"n_jobs": 1}, "ETS": {}, "MSTL": {}}
    rows, det = [], []
    for factor in (1.5, 2.0):
        res = {(a, v): [] for a in params for v in ("whole", "auto")}
        choices = {a: [] for a in params}
        for seed in seeds:
            dg, fut = shift_data(factor, seed)
            s = changepoints.detect_shifts(dg)
            det.append({"factor": factor, "seed": seed, "shifts found": len(s),
                        "position error (h)": int(abs(s["position"].iloc[-1] - (T_SHIFT - 48))) if len(s) else "-",
                        "after/before": float(s["after_level"].iloc[-1] / s["before_level"].iloc[-1]) if len(s) else "-"})
            for a, p in params.items():
                f = make_estimator(a, H_SHIFT, **p).train(dg).predict()["p50"].to_numpy()
                res[(a, "whole")].append((f.mean() / fut.mean(), np.abs(f - fut).sum() / fut.sum()))
                ap = AutoPredictor(H_SHIFT, algorithms=[a], history="auto", algorithm_params={a: p}, n_jobs=1)
                ap.train(dg, progress=False)
                f = ap.forecast().frame["p50"].to_numpy()
                res[(a, "auto")].append((f.mean() / fut.mean(), np.abs(f - fut).sum() / fut.sum()))
                choices[a].append(ap.history_choice_[a].iloc[0])
        for a in params:
            for v in ("whole", "auto"):
                r = np.array(res[(a, v)])
                rows.append({"shift": f"x{factor}", "algorithm": a + (" (season 168)" if a == "SeasonalNaive" else ""),
                             "history": "whole history" if v == "whole" else "history='auto'",
                             "median ratio": float(np.median(r[:, 0])), "min ratio": float(r[:, 0].min()),
                             "max ratio": float(r[:, 0].max()),
                             "within 10 %": f"{int((np.abs(r[:, 0] - 1) < 0.1).sum())}/{len(r)}",
                             "mean WAPE vs truth": float(r[:, 1].mean()),
                             "auto chose since_shift": (f"{choices[a].count('since_shift')}/{len(choices[a])}"
                                                        if v == "auto" else "")})
    return results_table(rows, float_format=".3f"), results_table(det, float_format=".3f")


# ------------------------------------------------------------------ Chuseok
def bench_holidays(seeds) -> str:
    H = 30
    res = {k: [] for k in ("Prophet, no holidays", "Prophet, holidays KR", "AutoPredictor(Prophet), holidays KR")}
    for seed in seeds:
        d = hard_cases.chuseok_sales(seed=seed, horizon=H)
        dg = DatasetGroup(target=d["target"], frequency="D")
        fts, fut = pd.DatetimeIndex(d["future"]["timestamp"]), d["future"]["target_value"].to_numpy()
        week = (fts >= "2024-09-14") & (fts <= "2024-09-20")
        days = d["future"]["holiday"].to_numpy()
        for name in res:
            t0 = time.perf_counter()
            if name.startswith("AutoPredictor"):
                p50 = AutoPredictor(H, algorithms=["Prophet"], holidays={"CountryCode": "KR"}, n_jobs=1).train(
                    dg, progress=False).forecast().frame["p50"].to_numpy()
            else:
                hl = {"CountryCode": "KR"} if "KR" in name else None
                p50 = make_estimator("Prophet", H, n_jobs=1, holidays=hl).train(dg).predict()["p50"].to_numpy()
            res[name].append((np.abs(p50[week] - fut[week]).sum() / fut[week].sum(),
                              np.abs(p50[~week] - fut[~week]).sum() / fut[~week].sum(),
                              p50[days].mean() / fut[days].mean(), time.perf_counter() - t0))
    rows = []
    for name, r in res.items():
        r = np.array(r)
        rows.append({"model": name, "WAPE Chuseok week (mean)": float(r[:, 0].mean()),
                     "WAPE Chuseok week (max)": float(r[:, 0].max()), "WAPE other days (mean)": float(r[:, 1].mean()),
                     "p50 / truth on Chuseok days": float(r[:, 2].mean()), "seconds (mean)": float(r[:, 3].mean()),
                     "seeds": len(r)})
    return results_table(rows, float_format=".3f")


# ------------------------------------------------------------------ two seasons
def bench_seasons(seeds) -> str:
    H = 168
    models = {"MSTL (24, 168)": ("MSTL", {}), "ETS (24)": ("ETS", {}), "SeasonalNaive (24)": ("SeasonalNaive", {}),
              "SeasonalNaive (168)": ("SeasonalNaive", {"season_length": 168})}
    res = {k: [] for k in models}
    for seed in seeds:
        d = hard_cases.two_seasons(horizon=H, seed=seed)
        dg = DatasetGroup(target=d["target"], frequency="H")
        truth = d["future"]["target_value"].to_numpy()
        for k, (a, p) in models.items():
            f = make_estimator(a, H, **p).train(dg).predict()["p50"].to_numpy()
            res[k].append(np.abs(f - truth).mean())
    rows = [{"model": k, "MAE next week (mean)": float(np.mean(v)), "seeds": len(v)} for k, v in res.items()]
    return results_table(rows, float_format=".3f")


# ------------------------------------------------------------------ quiet items
def bench_quiet(seeds) -> str:
    rows = []
    for seed in seeds:
        fr = demo.retail_frames(seed=seed)
        dg = demo.load("retail", seed=seed)
        found = set(dg.summary().quiet_items["item_id"])
        truth = set(fr["truth"].loc[fr["truth"]["discontinued"], "item_id"])
        rows.append({"seed": seed, "items": len(dg.items), "discontinued": len(truth), "reported": len(found),
                     "correct": len(found & truth)})
    return results_table(rows, float_format=".3f")


# ------------------------------------------------------------------ cost and encryption
def bench_cost() -> tuple[str, str]:
    dg = demo.load("electricity", n_items=30, days=60)
    ap = AutoPredictor(24, algorithms=["SeasonalNaive", "Theta", "NPTS"]).train(dg, progress=False)
    ap.forecast()
    rep = ap.cost_report()
    keep = ["run", "wall_s", "cpu_s", "peak_memory_mb", "n_series", "n_forecast_values", "data_bytes",
            "amazon_forecasts", "training_hours", "cost_usd", "cost_usd_free_tier"]
    counts = ("n_series", "n_forecast_values", "data_bytes", "amazon_forecasts")
    rows = [{k: ("" if pd.isna(v) else int(v) if k in counts else float(v) if isinstance(v, (float, np.floating)) else v)
             for k, v in r.items()} for r in rep[keep].to_dict("records")]
    key = security.generate_key()
    enc = []
    with tempfile.TemporaryDirectory() as d:
        for label, k in (("plain", None), ("AES-256-GCM", key)):
            t0 = time.perf_counter()
            ap.save(Path(d) / label, key=k)
            t1 = time.perf_counter()
            AutoPredictor.load(Path(d) / label, key=k)
            t2 = time.perf_counter()
            size = sum(p.stat().st_size for p in (Path(d) / label).rglob("*") if p.is_file())
            enc.append({"artifact": label, "save s": t1 - t0, "load s": t2 - t1, "size KiB": size / 1024})
    return results_table(rows, float_format=".3f"), results_table(enc, float_format=".3f")


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--append", action="store_true", help="append the section to bench/RESULTS.md")
    args = ap.parse_args(argv)
    seeds = list(range(args.seeds))
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    shift, detection = bench_shift(seeds)
    holidays = bench_holidays(seeds)
    seasons = bench_seasons(seeds[:3])
    quiet = bench_quiet(seeds)
    cost, enc = bench_cost()
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    cmd = "python bench/hard_cases_bench.py" + (f" --seeds {args.seeds}" if args.seeds != 5 else "") + " --append"
    text = f"""
## Hard cases: level shifts, Chuseok, two seasons, discontinued items, cost report, encryption

- date: {date}
- machine: 2-core x86_64, 24 GiB, shared with other jobs ({platform.machine()}, Python {platform.python_version()})
- command: `{cmd}` ({time.perf_counter() - t0:.0f} s)

**Level shift** (hourly, daily + weekly pattern, 10 % noise, level x1.5 or x2 from 48 h before the end, 24 h
forecast; ratio = mean p50 / mean noise-free truth over the horizon, 1 = on the new level):

{shift}

Detection (`fc_core.changepoints.detect_shifts`, true shift at position {T_SHIFT - 48}):

{detection}

**Chuseok** (daily sales x3 on the Chuseok days, which move every year; Prophet trained to 2024-08-31,
forecast of September 2024; Chuseok 2024 = 16-18 September):

{holidays}

**Two seasons** (hourly, daily and weekly season, 6 weeks of history, one-week forecast, MAE against the
noise-free truth):

{seasons}

**Discontinued items in the retail demo** (`DatasetGroup.summary().quiet_items` vs the demo's truth):

{quiet}

**Cost report** (AutoPredictor SeasonalNaive + Theta + NPTS on the electricity demo, 30 items x 60 days,
horizon 24; Amazon Forecast prices: $0.60 / 1,000 forecasts, $0.088 / GB-month, $0.24 / training hour):

{cost}

**Encryption at rest** (the same AutoPredictor saved and loaded):

{enc}
"""
    print(text)
    if args.append:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write(text)
    return text


if __name__ == "__main__":
    main()
