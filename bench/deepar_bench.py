"""DeepAR+ on M4 Hourly: speed (epochs per second) and accuracy, wrapper vs raw GluonTS.

Trains fc_core's DeepAR+ on the 414 M4 Hourly series (horizon 48) and scores it
with :func:`bench.m4.score_m4`; then trains GluonTS's own torch
``DeepAREstimator`` with the same hyperparameters on the same data (a plain
``ListDataset`` with GluonTS's default time features) to measure what the
wrapper adds. Both use the same number of torch threads.

Examples::

    python -m bench.deepar_bench --epochs 100 --context 168 --lags week --write
    python -m bench.deepar_bench --device cuda --epochs 100 --threads 0   # on a GPU machine
"""
from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from datetime import timedelta
import warnings

import numpy as np
import pandas as pd

from bench.m4 import FORECAST_TYPES, HORIZON, append_results, load_m4_hourly, results_table, score_m4, to_dataset_group

# lags (hours) fed to the RNN besides the features
LAGS = {
    "default": None,  # GluonTS's lags for hourly data (up to 721 h)
    "week": [1, 2, 3, 4, 5, 6, 7, 23, 24, 25, 47, 48, 49, 71, 72, 73, 95, 96, 97, 119, 120, 121, 143, 144, 145,
             167, 168, 169],
    "twoweeks": [1, 2, 3, 4, 5, 6, 7, 23, 24, 25, 47, 48, 49, 71, 72, 73, 95, 96, 97, 119, 120, 121, 143, 144, 145,
                 167, 168, 169, 335, 336, 337],
}


def _config(a) -> dict:
    return dict(epochs=a.epochs, num_batches_per_epoch=a.batches, batch_size=a.batch_size, num_cells=a.cells,
                num_layers=a.layers, context_length=a.context, likelihood=a.likelihood, lags_seq=LAGS[a.lags],
                learning_rate=a.lr, dropout_rate=a.dropout, num_samples=a.samples, device=a.device,
                num_threads=a.threads or None, max_train_time=a.budget, early_stopping=a.early_stopping,
                series_scaling=a.series_scaling)


def _row(name, overall, train_s, train_cpu, pred_s, epochs) -> dict:
    import os

    row = {"method": name, "load avg (1 min)": round(os.getloadavg()[0], 1)}
    row.update({k: overall[k] for k in ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")})
    row.update({"train s": train_s, "train cpu s": train_cpu, "predict s": pred_s, "epochs": epochs,
                "epochs/s": epochs / train_s})
    return row


def _save(fc: pd.DataFrame, a, which: str) -> None:
    if a.save:
        from pathlib import Path

        Path(a.save).mkdir(parents=True, exist_ok=True)
        fc.to_parquet(Path(a.save) / f"forecast_{which}.parquet", index=False)


def run_wrapper(train, test, a) -> dict:
    from fc_core.algorithms.deepar import DeepARPlusEstimator

    dg = to_dataset_group(train)
    est = DeepARPlusEstimator(HORIZON, frequency="H", seed=a.seed, **_config(a))
    t0, c0 = time.perf_counter(), time.process_time()
    pred = est.train(dg, progress=a.progress)
    t1, c1 = time.perf_counter(), time.process_time()
    fc = pred.predict(forecast_types=FORECAST_TYPES)
    t2 = time.perf_counter()
    _save(fc, a, "wrapper")
    overall, _ = score_m4(train, test, fc, point=a.point)
    row = _row("fc_core DeepAR+", overall, t1 - t0, c1 - c0, t2 - t1, pred.info["epochs_run"])
    row["best epoch"] = f"{pred.info['best_epoch']} ({pred.info['best_loss_on']} loss)"
    return row


def run_raw(train, test, a) -> dict:
    """GluonTS's DeepAREstimator.train / predict, configured like the wrapper run."""
    import lightning.pytorch as pl
    import torch
    from gluonts.dataset.common import ListDataset
    from gluonts.torch.distributions import NegativeBinomialOutput, NormalOutput, StudentTOutput
    from gluonts.torch.model.deepar import DeepAREstimator

    from fc_core.algorithms.deepar import resolve_device

    device = resolve_device(a.device)
    if a.threads and device == "cpu":
        torch.set_num_threads(a.threads)
    distr = {"student-t": StudentTOutput, "negative-binomial": NegativeBinomialOutput,
             "gaussian": NormalOutput}[a.likelihood.lower()]()
    t0, c0 = time.perf_counter(), time.process_time()
    groups = train.groupby("item_id", sort=False)
    items = list(groups.groups)
    ds = ListDataset([{"start": pd.Period(g["timestamp"].iloc[0], "h"), "target": g["target_value"].to_numpy(),
                       "item_id": k} for k, g in groups], freq="h")
    tmp = tempfile.mkdtemp(prefix="raw_deepar_")
    limit = None if a.budget is None else timedelta(seconds=a.budget)
    pl.seed_everything(a.seed, workers=True, verbose=False)
    est = DeepAREstimator(
        freq="h", prediction_length=HORIZON, context_length=a.context or 2 * HORIZON, num_layers=a.layers,
        hidden_size=a.cells, lr=a.lr, dropout_rate=a.dropout, distr_output=distr, lags_seq=LAGS[a.lags],
        num_parallel_samples=a.samples, batch_size=a.batch_size, num_batches_per_epoch=a.batches,
        trainer_kwargs={"max_epochs": a.epochs, "max_time": limit,
                        "accelerator": "gpu" if device == "cuda" else "cpu", "devices": 1,
                        "enable_progress_bar": a.progress, "logger": False, "enable_model_summary": False,
                        "default_root_dir": tmp})
    try:
        out = est.train_model(ds, cache_data=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t1, c1 = time.perf_counter(), time.process_time()
    predictor, epochs = out.predictor, int(out.trainer.current_epoch)
    torch.manual_seed(a.seed)
    samples = np.stack([f.samples for f in predictor.predict(ds)])  # (n, S, H)
    levels = [float(t) for t in FORECAST_TYPES if t != "mean"]
    q = np.quantile(samples, levels, axis=1)  # (Q, n, H)
    t2 = time.perf_counter()
    start = train.groupby("item_id", sort=False)["timestamp"].max() + pd.Timedelta(hours=1)
    stamps = [pd.date_range(start[k], periods=HORIZON, freq="h") for k in items]
    fc = pd.DataFrame({"item_id": np.repeat(items, HORIZON), "timestamp": np.concatenate(stamps)})
    for j, lv in enumerate(levels):
        fc[f"p{round(lv * 100, 6):g}"] = q[j].reshape(-1)
    fc["mean"] = samples.mean(axis=1).reshape(-1)
    _save(fc, a, "raw")
    overall, _ = score_m4(train, test, fc, point=a.point)
    return _row("GluonTS DeepAREstimator (raw)", overall, t1 - t0, c1 - c0, t2 - t1, epochs)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batches", type=int, default=50, help="batches per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--cells", type=int, default=40)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--context", type=int, default=None, help="context length (default 2 * 48)")
    p.add_argument("--lags", choices=sorted(LAGS), default="default")
    p.add_argument("--likelihood", default="student-T")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--point", default="p50", choices=["p50", "mean"])
    p.add_argument("--series-scaling", default="auto", choices=["auto", "mean", "standard", "none"])
    p.add_argument("--early-stopping", action="store_true",
                   help="wrapper only: select the epoch on held-out last windows, stop when it stalls")
    p.add_argument("--no-raw", action="store_true", help="skip the raw GluonTS run")
    p.add_argument("--no-wrapper", action="store_true", help="only the raw GluonTS run")
    p.add_argument("--save", default=None, help="folder to write the forecast frames to (parquet)")
    p.add_argument("--budget", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--repeat", type=int, default=1, help="repeat the wrapper/raw pair, alternating the order")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    p.add_argument("--title", default=None)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore")  # GluonTS/Lightning deprecation chatter in the raw run
    import gluonts.torch.model.deepar  # noqa: F401 - import torch/lightning/gluonts before any timing
    import lightning.pytorch  # noqa: F401

    train, test = load_m4_hourly()
    rows, wrap_s, raw_s = [], [], []
    for r in range(a.repeat):
        order = ["wrapper", "raw"] if r % 2 == 0 else ["raw", "wrapper"]
        for which in order:
            if (which == "raw" and a.no_raw) or (which == "wrapper" and a.no_wrapper):
                continue
            row = run_wrapper(train, test, a) if which == "wrapper" else run_raw(train, test, a)
            (wrap_s if which == "wrapper" else raw_s).append(row["train cpu s"] / row["epochs"])
            rows.append(row)
            print(results_table(rows[-1:]), flush=True)
    if raw_s and wrap_s:
        overhead = np.median(wrap_s) / np.median(raw_s) - 1
        rows[0]["wrapper overhead"] = f"{100 * overhead:+.1f}% train CPU s per epoch (median of {a.repeat})"
    print(results_table(rows), flush=True)
    if a.write:
        cmd = shlex.join(["python", "-m", "bench.deepar_bench", *(argv if argv is not None else sys.argv[1:])])
        title = a.title or (f"M4 Hourly: DeepAR+ ({a.device}, {a.epochs} epochs x {a.batches} batches, "
                            f"context {a.context or 2 * HORIZON}, lags {a.lags}, {a.cells}x{a.layers} cells)")
        append_results(rows, title, cmd)
    return rows


if __name__ == "__main__":
    main()
