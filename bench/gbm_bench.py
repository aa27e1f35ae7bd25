"""Global models (GBM, MLP-QR) on M4 Hourly: validation backtests on the training data, and the final test score.

Design choices of :mod:`fc_core.algorithms.gbm` are made on *validation windows*
cut from the M4 training series only: window ``j`` (1, 2, ...) trains on each
series minus its last ``48 j`` hours and scores the 48 hours after that with M4's
definitions (:func:`bench.m4.score_m4`; Naive2 and the MASE scale come from the
shortened training series). The M4 test set is scored only with ``--test``,
once the configuration is frozen.

Usage::

    python -m bench.gbm_bench                                # validation, default config
    python -m bench.gbm_bench --params '{"num_leaves": 127}' --windows 2
    python -m bench.gbm_bench --grid bench_grid.json         # several configs, one table
    python -m bench.gbm_bench --test --write --title "..."   # final: train on all, score M4 test
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np
import pandas as pd

from bench.m4 import FORECAST_TYPES, HORIZON, append_results, load_m4_hourly, results_table, score_m4, \
    to_dataset_group


def validation_split(train: pd.DataFrame, window: int, horizon: int = HORIZON) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/test frames of validation window ``window`` (1 = the last ``horizon`` steps of each series)."""
    train = train.sort_values(["item_id", "timestamp"], kind="stable")
    back = train.groupby("item_id", sort=False).cumcount(ascending=False).to_numpy()  # 0 = last value
    cut = window * horizon
    fit = train.loc[back >= cut].reset_index(drop=True)
    hold = train.loc[(back < cut) & (back >= cut - horizon)].reset_index(drop=True)
    return fit, hold


def run(params: dict, name: str, fit: pd.DataFrame, hold: pd.DataFrame, seed: int = 0,
        progress: bool = False, algorithm: str = "GBM") -> dict:
    """Train ``algorithm`` with ``params`` on ``fit``, score the next 48 hours ``hold``; a results row.

    ``wall s`` and ``cpu s`` cover training and forecasting (not loading the data);
    ``load avg`` is the machine's 1-minute load average at the end (other jobs share it).
    """
    from fc_core.algorithms.base import make_estimator

    est = make_estimator(algorithm, HORIZON, frequency="H", forecast_types=FORECAST_TYPES, seed=seed, **params)
    dg = to_dataset_group(fit)
    t0, c0 = time.perf_counter(), time.process_time()
    pred = est.train(dg, progress=progress)
    fc = pred.predict(forecast_types=FORECAST_TYPES)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    overall, _ = score_m4(fit, hold, fc)
    row = {"method": name}
    row.update({k: overall[k] for k in ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")})
    row["wall s"] = wall
    row["cpu s"] = cpu
    row["load avg"] = os.getloadavg()[0]
    return row


def mean_rows(rows: list[dict], name: str) -> dict:
    out = {"method": name}
    for k in rows[0]:
        if k != "method":
            out[k] = float(np.mean([r[k] for r in rows]))
    return out


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algorithm", default="GBM", help="a registered algorithm, e.g. GBM or MLP-QR")
    ap.add_argument("--params", default="{}", help="JSON dict of the estimator's parameters")
    ap.add_argument("--grid", help="JSON file: {name: params} configurations to compare")
    ap.add_argument("--windows", type=int, default=1, help="validation windows (1 = the last 48 h of train)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test", action="store_true", help="train on all of train, score the M4 test set")
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    ap.add_argument("--title", default="GBM on M4 Hourly")
    ap.add_argument("--name", help="row label (default: the algorithm)")
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    a.name = a.name or a.algorithm
    train, test = load_m4_hourly()
    configs = json.load(open(a.grid)) if a.grid else {a.name: json.loads(a.params)}
    rows = []
    for name, params in configs.items():
        if a.test:
            rows.append(run(params, name, train, test, a.seed, a.progress, a.algorithm))
        else:
            per = []
            for w in range(1, a.windows + 1):
                fit, hold = validation_split(train, w)
                per.append(run(params, f"{name} [val {w}]", fit, hold, a.seed, a.progress, a.algorithm))
                print(results_table(per[-1:]), flush=True)
            rows += per
            if a.windows > 1:
                rows.append(mean_rows(per, f"{name} [val mean]"))
        print(results_table(rows[-1:]), flush=True)
    print(results_table(rows))
    if a.write:
        cmd = shlex.join(["python", "-m", "bench.gbm_bench", *(argv if argv is not None else sys.argv[1:])])
        append_results(rows, a.title, cmd)
    return rows


if __name__ == "__main__":
    main()
