"""How long each fc_widgets control change takes with 1,000 hourly items.

Builds a seeded 1,000-item hourly DatasetGroup (``fc_core.demo.electricity``), trains a
fast AutoPredictor on it (SeasonalNaive + Naive, 2 backtest windows), builds every panel
and times each control change: the observer runs, slices with fc_core.views, draws with
fc_core.plotting and renders the PNG into the Output, all synchronously in the kernel. The
target is < 0.5 s per change. Button actions (Import, Run) are timed too, as context.

By default the measurement runs inside a real IPython kernel (started with
jupyter_client, as JupyterLab would), with widget comms open; ``--in-process`` runs it
in this Python process instead.

Usage::

    python -m bench.widgets_bench                 # 1,000 items x 60 days, in a kernel
    python -m bench.widgets_bench --items 200 --days 28 --in-process --no-record
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 0.5


def _timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``fn()`` (CPU time is what the kernel itself spent,
    less sensitive than wall time to other jobs on a shared machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def run_bench(n_items: int = 1000, days: int = 60, repeats: int = 5, seed: int = 0) -> dict:
    """Build the data and the panels, time every control change; returns a JSON-able dict."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from fc_widgets import BacktestPanel, DatasetPanel, LeaderboardPanel, QuantilePanel, TrainingPanel, link

    actions: dict[str, float] = {}
    changes: dict[str, list[tuple[float, float]]] = {}

    def change(name, widget, values, trait="value"):
        for k in range(repeats):
            v = values[k % len(values)]
            changes.setdefault(name, []).append(_timed(lambda: setattr(widget, trait, v)))

    t0 = time.perf_counter()
    dataset = DatasetPanel(demo_items=n_items, demo_length=days, seed=seed)  # imports the demo data
    actions["DatasetPanel: build + Import (demo data)"] = time.perf_counter() - t0
    dg = dataset.dataset_group
    assert dataset.error_text == "", dataset.error_text
    assert len(dg.items) == n_items
    ids = [f"client_{i}" for i in range(n_items)]
    change("DatasetPanel: item search text", dataset.item_search, ["client_9", "client_12", ""])
    dataset.item_search.value = ""
    listed = list(dataset.items.options)
    picks = [tuple(listed[k:k + 3]) for k in (10, 100, 190 % max(len(listed) - 3, 1))]
    change("DatasetPanel: preview items (3 series)", dataset.items, picks)

    t0 = time.perf_counter()
    backtest = BacktestPanel(dg, forecast_horizon=24, backtest_windows=2)
    actions["BacktestPanel: build"] = time.perf_counter() - t0
    change("BacktestPanel: horizon", backtest.horizon, [48, 24, 36])
    change("BacktestPanel: backtest windows", backtest.windows, [5, 1, 3, 2])
    change("BacktestPanel: offset", backtest.offset, [48, 0, 72])
    change("BacktestPanel: item (pick from the list)", backtest.item.dropdown, list(backtest.item.dropdown.options[1:1 + repeats]))
    change("BacktestPanel: search text", backtest.item.search, ["client_7", "client_77", "client_123", ""])
    assert backtest.error_text == "", backtest.error_text

    training = TrainingPanel(dg, config=backtest.config, algorithms=["SeasonalNaive", "Naive"])
    actions["TrainingPanel: Run (SeasonalNaive + Naive, 2 windows)"] = _timed(
        lambda: (training.run_button.click(), training.wait()))[0]  # Run trains in a background thread
    predictor = training.predictor
    link(dataset, backtest, training)  # linked: a backtest slider also moves the training panel's box
    change("BacktestPanel: backtest windows (linked TrainingPanel follows)", backtest.windows, [3, 2])
    assert training.windows.value == backtest.windows.value and backtest.error_text == "", backtest.error_text
    assert predictor is not None, training.error_text

    board = LeaderboardPanel(predictor)
    change("LeaderboardPanel: metric", board.metric, ["WAPE", "RMSE", "MASE", "AverageWeightedQuantileLoss"])
    change("LeaderboardPanel: window", board.window, [0, 1, -1])

    t0 = time.perf_counter()
    fc = predictor.forecast()
    actions["AutoPredictor.forecast() (context)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    qp = QuantilePanel(fc, history=dg)
    actions["QuantilePanel: build (forecast)"] = time.perf_counter() - t0
    change("QuantilePanel: search text", qp.item.search, ["client_12", "client_9", "client_999", ""])
    qp.item.search.value = ""
    change("QuantilePanel: item (pick from the list)", qp.item.dropdown, list(qp.item.dropdown.options[1:1 + repeats]))
    for k in range(repeats):  # type a full id, then pick it: two control changes
        changes.setdefault("QuantilePanel: type an id + pick it", []).append(
            _timed(lambda: qp.item.select(ids[-1 - k])))
    change("QuantilePanel: band", qp.band, [("p10", "p50"), ("p50", "p90"), ("p10", "p90")])

    t0 = time.perf_counter()
    bq = QuantilePanel(predictor.backtest_forecasts(None), history=dg)
    actions["QuantilePanel: build (backtest forecasts, 3 algorithms x 2 windows)"] = time.perf_counter() - t0
    change("QuantilePanel (backtests): window", bq.window, [1, 0])
    change("QuantilePanel (backtests): algorithm", bq.algorithm, ["Naive", "SeasonalNaive", "AutoPredictor"])
    change("QuantilePanel (backtests): item", bq.item.dropdown, list(bq.item.dropdown.options[1:1 + repeats]))
    for p in (qp, bq, board):
        assert p.error_text == "", p.error_text

    load = _loadavg()
    rows = [{"control": k, "n": len(v), "median_s": statistics.median(x[0] for x in v), "max_s": max(x[0] for x in v),
             "cpu_median_s": statistics.median(x[1] for x in v), "cpu_max_s": max(x[1] for x in v)}
            for k, v in changes.items()]
    return {"items": n_items, "days": days, "rows_target": int(len(dg.target)), "forecast_rows": int(len(fc.frame)),
            "backtest_rows": int(len(predictor.backtest_forecasts(None))), "changes": rows, "actions": actions,
            "loadavg": load}


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_in_kernel(n_items: int, days: int, repeats: int) -> dict:
    """Run :func:`run_bench` inside a fresh IPython kernel (widgets' comms live there)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT),
                              env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)})
    out: list[str] = []
    try:
        code = ("import json, bench.widgets_bench as b\n"
                f"print('@@' + json.dumps(b.run_bench({n_items}, {days}, {repeats})))")

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = kc.execute_interactive(code, timeout=1800, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise RuntimeError("the benchmark failed in the kernel:\n" + "".join(out)[-4000:])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    line = next(x for x in "".join(out).splitlines() if x.startswith("@@"))
    return json.loads(line[2:])


def to_markdown(res: dict, command: str, where: str) -> str:
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    lines = [f"## fc_widgets: control-change latency, {res['items']:,} hourly items", "",
             f"- date: {date}",
             f"- machine: 2-core x86_64, 24 GiB, shared with other jobs ({platform.machine()}, "
             f"Python {platform.python_version()})",
             f"- command: `{command}`",
             f"- load average at the end (1/5/15 min, 2 cores, other jobs running): {res.get('loadavg', 'n/a')}",
             f"- data: `demo.electricity({res['items']}, days={res['days']})` = {res['rows_target']:,} target rows; "
             f"forecast {res['forecast_rows']:,} rows; backtest forecasts {res['backtest_rows']:,} rows",
             f"- measured {where}: each change is `widget.value = x` returning, i.e. the observer, the fc_core.views "
             "slice, the fc_core.plotting figure and its PNG in the Output (the browser's own drawing not included)",
             "- wall s: elapsed time (inflated by the other jobs on the machine); cpu s: the kernel process's own "
             "CPU time for the same change",
             "", "| control change | n | wall median s | wall max s | cpu median s | cpu max s | wall max < 0.5 s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in res["changes"]:
        ok = "yes" if r["max_s"] < LIMIT_S else "NO"
        lines.append(f"| {r['control']} | {r['n']} | {r['median_s']:.3f} | {r['max_s']:.3f} | "
                     f"{r['cpu_median_s']:.3f} | {r['cpu_max_s']:.3f} | {ok} |")
    lines += ["", "| button action (not a control change) | s |", "| --- | --- |"]
    lines += [f"| {k} | {v:.2f} |" for k, v in res["actions"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--in-process", action="store_true", help="measure in this process, not in a kernel")
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    a = ap.parse_args(argv)
    if a.in_process:
        res, where = run_bench(a.items, a.days, a.repeats), "in process"
    else:
        res, where = run_in_kernel(a.items, a.days, a.repeats), "inside an IPython kernel (jupyter_client)"
    command = "python -m bench.widgets_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    md = to_markdown(res, command.strip(), where)
    print(md)
    if not a.no_record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + md)
    slow = [r["control"] for r in res["changes"] if r["max_s"] >= LIMIT_S]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
