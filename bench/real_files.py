"""Does the backtest predict the error on the next, unseen period? Sparse counts and real files.

For each data set the last ``H`` steps are held out as "the next period". An AutoPredictor is
trained on the rest (its backtests score the windows before), forecasts the held-out steps, and
the forecast is scored against the truth of those steps, every step included (an hour without
a row of counts is a real zero). ``backtest`` is the AutoPredictor's own leaderboard figure
(mean wQL over 0.1/0.5/0.9, mean over windows); ``next`` the same metric on the next period;
``ratio`` = next / backtest (1 = the backtest told the truth). ``scored`` = points the
backtest scored / points in its windows. ``SN next`` is seasonal naive on the next period.

Data:

* **synthetic sparse counts**: 30 items, hourly, 35 days; Poisson counts with a daily profile
  (none at night) and an item level from 0.2 to 6 per hour; only hours with a count > 0 have a
  row, as in a transaction log; the target is zero-filled (Amazon Forecast's default).
* **bike** (``../shared/data/bike/train.csv``, target ``count``): one station, hourly; it is
  not sparse (58 of 10,944 hours in days 1-19 lack a row, all at night: zero rentals) and
  days 20-31 of each month are absent because the source kept them for its test set, not
  because nobody rode, so zero-filling them would be wrong. Measured on each 2012 month's
  days 1-19 (the last day is the next period).

Run with the code before and after a change (``PYTHONPATH`` picks which fc_core)::

    python bench/real_files.py            # prints the markdown section
    python bench/real_files.py --append   # and appends it to bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))

from fc_core import metrics  # noqa: E402
from fc_core.automl import AutoPredictor  # noqa: E402
from fc_core.datasets import DatasetGroup  # noqa: E402

from bench.m4 import results_table  # noqa: E402

SHARED = Path(os.environ.get("FC_SHARED_DATA", ROOT.parent / "shared" / "data"))
H = 24
ALGOS = ["SeasonalNaive", "NPTS", "GBM"]
PARAMS = {"GBM": {"num_trees": 150, "calibration_windows": 1}, "NPTS": {"num_samples": 200}}
TAUS = (0.1, 0.5, 0.9)


def sparse_counts(n_items: int = 30, days: int = 35, seed: int = 0) -> pd.DataFrame:
    """Hourly Poisson counts; the full grid (zeros included) in ``target_value``."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * days)
    hour = t % 24
    profile = np.clip(np.sin(np.pi * (hour - 6) / 14), 0, None)  # 0 from 20:00 to 06:00
    weekend = ((t // 24) % 7 >= 5)
    rows = []
    for i in range(n_items):
        level = 0.2 + 5.8 * i / max(n_items - 1, 1)
        lam = level * profile * np.where(weekend, 0.6, 1.0)
        rows.append(pd.DataFrame({"item_id": f"item_{i:02d}",
                                  "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                                  "target_value": rng.poisson(lam).astype(float)}))
    return pd.concat(rows, ignore_index=True)


def _score_next(ap: AutoPredictor, truth: pd.DataFrame) -> tuple[float, float]:
    """Mean wQL of the AutoPredictor and of seasonal naive on the held-out steps (all of them)."""
    fc = ap.forecast().frame.merge(truth, on=["item_id", "timestamp"], how="left")
    y = fc["target_value"].fillna(0.0).to_numpy()  # an absent hour of counts is zero
    ours = float(np.mean([metrics.wql(y, fc[f"p{int(t * 100)}"].to_numpy(), t) for t in TAUS]))
    sn = AutoPredictor(H, algorithms=["SeasonalNaive"], item_selection=False)
    sn.train(ap.panel, progress=False)
    f2 = sn.forecast().frame.merge(truth, on=["item_id", "timestamp"], how="left")
    y2 = f2["target_value"].fillna(0.0).to_numpy()
    snq = float(np.mean([metrics.wql(y2, f2[f"p{int(t * 100)}"].to_numpy(), t) for t in TAUS]))
    return ours, snq


def run_case(name: str, full: pd.DataFrame, windows: int = 2, drop_zero_rows: bool = True) -> dict:
    """Hold out the last H steps, train, compare the backtest with the next period."""
    end = full["timestamp"].max()
    cut = end - pd.Timedelta(hours=H)
    train = full[full["timestamp"] <= cut]
    if drop_zero_rows:
        train = train[train["target_value"] > 0]  # a transaction log has no row for an empty hour
    truth = full[full["timestamp"] > cut]
    dg = DatasetGroup(target=train, frequency="H")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap = AutoPredictor(H, algorithms=ALGOS, backtest_windows=windows, algorithm_params=PARAMS)
        ap.train(dg, progress=False)
    lb = ap.leaderboard_
    ens = lb[lb["algorithm"] == "AutoPredictor"]
    backtest = float(ens["AverageWeightedQuantileLoss"].mean())
    scored = int(ens["n_observed"].sum())
    possible = int(ens["n_items"].sum()) * H
    nxt, sn = _score_next(ap, truth)
    return {"data": name, "items": int(dg.to_panel().n_series), "windows": windows, "backtest": backtest,
            "next": nxt, "ratio": nxt / backtest, "scored": f"{scored}/{possible}", "SN next": sn,
            "wall s": round(time.perf_counter() - t0, 1)}


def bike_months() -> list[tuple[str, pd.DataFrame]]:
    path = SHARED / "bike" / "train.csv"
    if not path.exists():
        return []
    d = pd.read_csv(path, parse_dates=["datetime"])
    out = []
    for month in range(1, 13):
        m = d[(d["datetime"].dt.year == 2012) & (d["datetime"].dt.month == month)]
        grid = pd.date_range(f"2012-{month:02d}-01", f"2012-{month:02d}-19 23:00", freq="h")
        y = m.set_index("datetime")["count"].reindex(grid).fillna(0.0)  # no row: nobody rode
        out.append((f"bike 2012-{month:02d}", pd.DataFrame({"item_id": "station", "timestamp": grid,
                                                             "target_value": y.to_numpy()})))
    return out


def main() -> str:
    import fc_core

    rows = [run_case("synthetic sparse counts (seed 0)", sparse_counts(seed=0)),
            run_case("synthetic sparse counts (seed 1)", sparse_counts(seed=1))]
    bike = [run_case(name, frame, windows=2) for name, frame in bike_months()]
    if bike:
        rows += bike
        rows.append({"data": "bike 2012, 12 months: mean", "items": 1, "windows": 2,
                     "backtest": float(np.mean([r["backtest"] for r in bike])),
                     "next": float(np.mean([r["next"] for r in bike])),
                     "ratio": float(np.mean([r["next"] for r in bike]) / np.mean([r["backtest"] for r in bike])),
                     "scored": "", "SN next": float(np.mean([r["SN next"] for r in bike])),
                     "wall s": round(sum(r["wall s"] for r in bike), 1)})
    rev = subprocess.run(["git", "-C", str(Path(fc_core.__file__).parents[1]), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    head = (f"Date {time.strftime('%Y-%m-%d')}, machine {platform.machine()} {os.cpu_count()} cores, fc_core from "
            f"{Path(fc_core.__file__).parents[1]} at {rev}; command `python bench/real_files.py`. "
            f"AutoPredictor({ALGOS}), horizon {H} h.")
    return head + "\n\n" + results_table(rows, float_format=".3f") + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()
    text = main()
    print(text)
    if args.append:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n" + text)
