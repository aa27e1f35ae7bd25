"""Scale benchmark (issue 17): the AutoPredictor and DeepAR+ on 1k / 10k / 100k daily retail-like series.

Synthetic data (:func:`retail_daily`): ``n`` items x ``days`` daily values with weekly and yearly
seasonality, a trend per item, about a quarter intermittent items (Poisson with a low mean), and a
``price`` related series (a random walk with promotions) that moves demand through a price
elasticity; the price runs ``horizon`` days past the target's end (future-known).

Each case runs in a fresh process (so its peak memory is its own) and trains with one backtest
window and horizon 14, then forecasts every item. Reported per case: wall and CPU seconds (this
process, its finished children and fc_core's worker processes), peak memory (``VmHWM`` of the
process, overall and per phase: building the data, training, forecasting; and ``ru_maxrss`` of the
largest child process), the backtest wQL of the case's model
and of SeasonalNaive, and the seconds each candidate took (where the time goes).

Cases:

* ``auto``: the default AutoPredictor (every default candidate, or ``--algorithms``);
* ``deepar``: DeepAR+ alone with a fixed training budget (``--deepar-seconds``, ``--deepar-epochs``),
  with SeasonalNaive beside it for the baseline score;
* ``dask``: the ``auto`` case twice on the same data, on this machine and on a 2-worker Dask
  LocalCluster; checks that the forecasts are equal and counts the tasks each worker ran
  (the scheduler's task stream).

Usage::

    python bench/scale_bench.py --sizes 1000 --cases auto deepar            # while developing
    python bench/scale_bench.py --sizes 1000 10000 --cases auto deepar --append-results
    python bench/scale_bench.py --sizes 1000 --cases dask --algorithms SeasonalNaive Theta NPTS
    python bench/scale_bench.py --sizes 100000 ...   # the 100k point (hours on 2 cores)

Results are printed as a Markdown table and, with ``--append-results``, appended to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HORIZON = 14


# --------------------------------------------------------------------- data
def retail_daily(n_items: int, days: int = 730, horizon: int = HORIZON, seed: int = 0, chunk: int = 5000):
    """A DatasetGroup (RETAIL) of ``n_items`` daily demand series and their ``price`` related series.

    The (items x days) arrays are computed ``chunk`` items at a time, drawing from the random stream
    in the same order as one whole-array draw would (so the data does not depend on ``chunk``); only
    the price and demand arrays are held whole, which keeps the generator's own memory small next to
    what the import holds (at 100k items: about 0.9 GB instead of 5 GB).
    """
    from fc_core import DatasetGroup

    rng = np.random.default_rng([seed, 17])
    n, T = n_items, days + horizon
    t = np.arange(T)
    ts = pd.date_range("2024-01-01", periods=T, freq="D")
    dow = ts.dayofweek.to_numpy()
    weekly_shape = np.array([0.85, 0.8, 0.85, 0.95, 1.15, 1.3, 1.1])
    weekly_amp = rng.uniform(0.2, 1.0, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    yearly_amp = rng.uniform(0.05, 0.4, (n, 1))
    growth = rng.normal(0.0, 0.3, (n, 1))
    ref = np.exp(rng.normal(np.log(20.0), 0.6, (n, 1)))
    blocks = [slice(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    price = np.empty((n, T))
    for b in blocks:  # exp of the clipped random walk, then the promotions (drawn after every walk step)
        price[b] = np.exp(np.clip(np.cumsum(rng.normal(0, 0.01, (b.stop - b.start, T)), axis=1), -0.25, 0.25))
    for b in blocks:
        price[b] = np.round(ref[b] * price[b] * np.where(rng.random((b.stop - b.start, T)) < 0.05, 0.8, 1.0), 2)
    elasticity = rng.uniform(-2.0, -0.8, (n, 1))
    intermittent = rng.random((n, 1)) < 0.25
    base = np.where(intermittent, rng.uniform(0.05, 0.8, (n, 1)), np.exp(rng.normal(np.log(25.0), 0.8, (n, 1))))
    demand = np.empty((n, days), dtype=np.float32)
    for b in blocks:
        weekly = 1.0 + weekly_amp[b] * (weekly_shape[dow][None, :] - 1.0)
        yearly = 1.0 + yearly_amp[b] * np.sin(2 * np.pi * t[None, :] / 365.25 + phase[b])
        trend = np.exp(growth[b] * t[None, :] / 365.25)
        lam = base[b] * weekly * yearly * trend * (price[b] / ref[b]) ** elasticity[b]
        demand[b] = rng.poisson(lam[:, :days])
    ids = np.array([f"item_{i:06d}" for i in range(n)], dtype=object)
    target = pd.DataFrame({"item_id": np.repeat(ids, days), "timestamp": np.tile(ts[:days].values, n),
                           "demand": demand.reshape(-1)})
    del demand
    related = pd.DataFrame({"item_id": np.repeat(ids, T), "timestamp": np.tile(ts.values, n),
                            "price": price.reshape(-1).astype(np.float32)})
    del price
    return DatasetGroup(domain="RETAIL", frequency="D", target=target, related=related)


# --------------------------------------------------------------- one case
_PHASE_PEAKS: list[float] = []


def _hwm_gb() -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 2**20


def _phase_peak() -> float:
    """This process's peak memory (GB) since the last call (Linux: VmHWM, then reset through
    ``/proc/self/clear_refs``, which resets ru_maxrss too; :func:`_peaks` takes the largest phase)."""
    gb = _hwm_gb()
    _PHASE_PEAKS.append(gb)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return gb


def _peaks() -> dict:
    import resource

    from fc_core import parallel

    parallel.shutdown()  # pool workers end now, so that the children's peak is counted
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"peak_gb": max([_hwm_gb(), *_PHASE_PEAKS]), "child_peak_gb": child / 2**20}


def _scores(ap, name: str) -> dict:
    lb = ap.leaderboard().groupby("algorithm")["AverageWeightedQuantileLoss"].mean()
    return {"wql": float(lb.get(name, np.nan)), "wql_seasonal_naive": float(lb.get("SeasonalNaive", np.nan))}


def run_case(case: str, n_items: int, days: int, algorithms, deepar_seconds: float, deepar_epochs: int) -> dict:
    import warnings

    from fc_core import AutoPredictor, parallel

    warnings.simplefilter("ignore")
    t0, c0 = time.perf_counter(), parallel.cpu_seconds()
    dg = retail_daily(n_items, days)
    dg.release_frames()  # docs/scaling.md: keep the packed series only
    t_data = time.perf_counter() - t0
    out: dict = {"case": case, "items": n_items, "days": days, "data_s": t_data, "data_peak_gb": _phase_peak()}
    # DeepAR+ gets the fixed training budget in both cases
    params = {"DeepAR+": {"epochs": deepar_epochs, "max_train_time": deepar_seconds, "num_threads": None}}
    if case == "deepar":
        ap = AutoPredictor(HORIZON, algorithms=["SeasonalNaive", "DeepAR+"], algorithm_params=params,
                           keep_all_candidates=True, item_selection=False, backtest_windows=1)
        model = "DeepAR+"
    else:
        ap = AutoPredictor(HORIZON, algorithms=algorithms or None, algorithm_params=params, backtest_windows=1)
        model = "AutoPredictor"
    ap.train(dg, progress=False)
    t_train = time.perf_counter() - t0 - t_data
    out["train_peak_gb"] = _phase_peak()
    fc = ap.candidate_forecast("DeepAR+") if case == "deepar" else ap.forecast()
    out["forecast_peak_gb"] = _phase_peak()
    out.update(wall_s=time.perf_counter() - t0, train_s=t_train, cpu_s=parallel.cpu_seconds() - c0,
               forecast_s=time.perf_counter() - t0 - t_data - t_train, forecast_rows=len(fc.frame),
               timings={k: round(v, 1) for k, v in ap.timings_.items()}, **_scores(ap, model))
    if case == "deepar":
        out["epochs_run"] = ap.predictors_["DeepAR+"].info.get("epochs_run")
    out["size_plan"] = getattr(ap, "size_plan_", {}).get("note", "")  # the size-aware default, if it planned
    if "GBM" in ap.predictors_:
        out["gbm_training_rows"] = ap.predictors_["GBM"].info.get("training_rows")
    out.update(_peaks())
    return out


def run_dask_case(n_items: int, days: int, algorithms) -> dict:
    """The auto case on this machine and on a 2-worker LocalCluster: equal forecasts, tasks per worker."""
    import tempfile
    import warnings

    import dask
    from distributed import Client, LocalCluster, get_task_stream

    from fc_core import AutoPredictor

    warnings.simplefilter("ignore")
    dg = retail_daily(n_items, days)
    t0 = time.perf_counter()
    local = AutoPredictor(HORIZON, algorithms=algorithms or None).train(dg, progress=False)
    local_fc = local.forecast().frame
    t_local = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp, dask.config.set({"temporary-directory": tmp}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                          host="127.0.0.1") as cluster, Client(cluster) as client:
            t0 = time.perf_counter()
            with get_task_stream(client) as ts:
                remote = AutoPredictor(HORIZON, algorithms=algorithms or None, scheduler=client).train(dg, progress=False)
                remote_fc = remote.forecast().frame
            t_dask = time.perf_counter() - t0
            tasks = pd.DataFrame([{"key": str(t["key"]), "worker": t["worker"]} for t in ts.data])
    ours = tasks.loc[tasks["key"].str.startswith("fc_")]
    per_worker = ours.groupby("worker").size().to_dict()
    per_model = ours.assign(model=ours["key"].str.split("-").str[0]).groupby("model").size().to_dict()
    num = local_fc.select_dtypes("number").columns
    diff = float(np.nanmax(np.abs(local_fc[num].to_numpy() - remote_fc[num].to_numpy())))
    return {"case": "dask", "items": n_items, "days": days, "local_wall_s": t_local, "dask_wall_s": t_dask,
            "max_abs_forecast_diff": diff, "frames_equal": bool(local_fc.equals(remote_fc)),
            "tasks_per_worker": per_worker, "tasks_per_model": per_model,
            "plan": remote.execution_[["algorithm", "runs_on"]].values.tolist()}


# ------------------------------------------------------------------- main
def _child(spec: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"case {spec} failed:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def _phases(r: dict) -> str:
    if "train_peak_gb" not in r:
        return ""
    return f" (data {r['data_peak_gb']:.2f}, train {r['train_peak_gb']:.2f}, forecast {r['forecast_peak_gb']:.2f})"


def _table(rows: list[dict]) -> str:
    head = "| case | items | wall s | train s | forecast s | CPU s | peak GB (main / largest child) | wQL | wQL SeasonalNaive | seconds per candidate |"
    lines = [head, "| " + " | ".join(["---"] * 10) + " |"] if any(r["case"] != "dask" for r in rows) else []
    for r in rows:
        if r["case"] == "dask":
            continue
        per = ", ".join(f"{k} {v:g}" for k, v in r["timings"].items() if k != "total")
        lines.append(f"| {r['case']} | {r['items']:,} | {r['wall_s']:.0f} | {r['train_s']:.0f} | {r['forecast_s']:.0f} | "
                     f"{r['cpu_s']:.0f} | {r['peak_gb']:.2f} / {r['child_peak_gb']:.2f}{_phases(r)} | {r['wql']:.4f} | "
                     f"{r['wql_seasonal_naive']:.4f} | {per} |")
    for r in rows:
        if r["case"] == "dask":
            lines.append(f"\nDask ({r['items']:,} items): local {r['local_wall_s']:.0f} s, 2-worker LocalCluster "
                         f"{r['dask_wall_s']:.0f} s; forecasts equal: {r['frames_equal']} (max abs diff "
                         f"{r['max_abs_forecast_diff']:.3g}); fc_ tasks per worker {r['tasks_per_worker']}, "
                         f"per model {r['tasks_per_model']}; plan {r['plan']}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--cases", nargs="+", default=["auto", "deepar"], choices=["auto", "deepar", "dask"])
    p.add_argument("--algorithms", nargs="+", default=None, help="candidates of the auto and dask cases (default: all)")
    p.add_argument("--deepar-seconds", type=float, default=120.0, help="DeepAR+ training budget (max_train_time)")
    p.add_argument("--deepar-epochs", type=int, default=20)
    p.add_argument("--append-results", action="store_true")
    p.add_argument("--title", default="Scale: daily retail-like series, horizon 14, one backtest window")
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        spec = json.loads(a.one)
        res = run_dask_case(spec["items"], spec["days"], spec["algorithms"]) if spec["case"] == "dask" else \
            run_case(spec["case"], spec["items"], spec["days"], spec["algorithms"], spec["deepar_seconds"],
                     spec["deepar_epochs"])
        print(json.dumps(res, default=float))
        return
    rows = []
    for n in a.sizes:
        for case in a.cases:
            spec = {"case": case, "items": n, "days": a.days, "algorithms": a.algorithms,
                    "deepar_seconds": a.deepar_seconds, "deepar_epochs": a.deepar_epochs}
            print(f"running {spec} ...", file=sys.stderr, flush=True)
            rows.append(_child(spec))
            print(json.dumps(rows[-1], default=float), file=sys.stderr, flush=True)
    table = _table(rows)
    print(table)
    if a.append_results:
        cmd = "python bench/scale_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        text = (f"\n## {a.title}\n\n- date: {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}\n"
                f"- machine: {os.cpu_count()}-core {platform.machine()}, {mem:.0f} GiB, shared with other jobs "
                f"(Python {platform.python_version()}); load average at the end {os.getloadavg()[0]:.1f}\n"
                f"- command: `{cmd}`\n\n{table}\n")
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
