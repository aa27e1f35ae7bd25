"""LightGBM training time under OpenMP wait settings, on a quiet machine and beside busy processes.

Each setting runs in a fresh process (the OpenMP runtime reads its environment once, at start):

* ``spin``: libgomp's default (threads spin for a while before they sleep: ``GOMP_SPINCOUNT=300000``);
* ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once);
* ``spin1000``: ``GOMP_SPINCOUNT=1000`` (a short spin, then sleep);
* ``1 thread``: ``num_threads=1`` (no waiting at all; LightGBM alone).

The data are random (40 features, a quantile objective, 48 leaves, 100 trees: GBM's shape on the
getting-started demo and on M4 Hourly); ``--busy N`` starts N pure-Python busy loops beside each run
(other jobs on a shared machine). With ``--getting-started`` it also times the getting-started
notebook's training step (the medium preset on the built-in demo) per setting.

    python -m bench.omp_wait_bench --rows 40000,400000 --busy 0,1,3 --getting-started --append-results
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.m4 import append_results, results_table

SETTINGS = {"spin": {"GOMP_SPINCOUNT": "300000"}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "spin1000": {"GOMP_SPINCOUNT": "1000"},
            "1 thread": {"FC_BENCH_THREADS": "1"}}

_LGB = """
import os, time, numpy as np, lightgbm as lgb
n = {rows}
rng = np.random.default_rng(0)
X = rng.normal(size=(n, 40)); y = X[:, 0] + rng.normal(size=n)
ds = lgb.Dataset(X, y, params={{"max_bin": 255, "verbosity": -1}}).construct()
t = time.perf_counter()
lgb.train({{"objective": "quantile", "alpha": 0.5, "num_leaves": 48, "verbosity": -1, "force_row_wise": True,
           "num_threads": int(os.environ.get("FC_BENCH_THREADS", "0"))}}, ds, 100)
print(time.perf_counter() - t)
"""

_GS = """
import time
from fc_core.workflow import getting_started_config
cfg = getting_started_config()
dg = cfg.load_data()
p = cfg.make_predictor()
t = time.perf_counter()
p.train(dg, progress=False)
print(time.perf_counter() - t)
"""


def _env(setting: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "FC_BENCH_THREADS")}
    env.update(SETTINGS[setting])  # each sets its own wait, so fc_core's default (_lightgbm) never applies
    return env


def _run(code: str, setting: str, busy: int) -> float:
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        out = subprocess.run([sys.executable, "-c", code], env=_env(setting), capture_output=True, text=True,
                             check=True)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        for p in loops:
            p.kill()
            p.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="40000,400000")
    ap.add_argument("--busy", default="0,1,3")
    ap.add_argument("--getting-started", action="store_true")
    ap.add_argument("--append-results", action="store_true")
    a = ap.parse_args(argv)
    cases = [(f"LightGBM {int(r):,} rows", _LGB.format(rows=int(r)), list(SETTINGS)) for r in a.rows.split(",")]
    if a.getting_started:  # GBM sets its own thread count: no "1 thread" run
        cases.append(("getting-started training", _GS, [s for s in SETTINGS if s != "1 thread"]))
    busy = [int(b) for b in a.busy.split(",")]
    rows = []
    for label, code, settings in cases:
        for b in busy:
            times = {s: _run(code, s, b) if s in settings else float("nan") for s in SETTINGS}
            rows.append((label, b, times))
            print(label, f"busy {b}:", {s: round(t, 2) for s, t in times.items()}, flush=True)
    table = [{"case": label, "busy loops": b, **{f"{s} s": round(t, 2) for s, t in times.items()}}
             for label, b, times in rows]
    print(results_table(table))
    if a.append_results:
        cmd = "python -m bench.omp_wait_bench " + " ".join(argv if argv is not None else sys.argv[1:])
        append_results(table, "LightGBM and OpenMP wait settings, quiet and beside busy processes", cmd)


if __name__ == "__main__":
    main()
