"""Items that end early, through the getting-started notebook: M4 Hourly with a shared start.

M4 gives no dates. :func:`bench.m4.load_m4_hourly` right-aligns every series on a
common end. Here every series instead *starts* at the same hour (2020-01-06 00:00)
and ends after its own length (700 to 960 hours), with its 48 test hours after its
own end: a panel whose series share a start but not an end. Each run writes the
training part to a CSV, executes ``notebooks/getting_started.ipynb`` with papermill
(frequency H, horizon 48, the notebook's default algorithms), and scores its
``forecast.csv`` the M4 way (:func:`bench.m4.score_m4`: the first 48 forecast steps
of each item against its test hours).

Runs: ``shared_start`` at ``forecast_from="global_end"`` (Amazon Forecast's
behaviour: items ending early are back-filled with zeros to the latest end and
forecast from there), ``shared_start`` at ``forecast_from="item_end"``, and
optionally ``shared_end`` (the usual layout) for reference.

Command line (appends a section to ``bench/RESULTS.md`` unless ``--no-write``)::

    python -m bench.ending_early [--with-shared-end] [--no-write]
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import m4

START = pd.Timestamp("2020-01-06 00:00")  # a Monday
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "getting_started.ipynb"


def _left_aligned(wide: pd.DataFrame, starts: np.ndarray) -> pd.DataFrame:
    ids = wide.iloc[:, 0].astype(str).to_numpy()
    vals = wide.iloc[:, 1:].to_numpy(dtype=float)
    rows, cols = np.nonzero(~np.isnan(vals))
    ts = pd.DatetimeIndex(starts[rows]) + pd.to_timedelta(cols, unit="h")
    return pd.DataFrame({"item_id": ids[rows], "timestamp": ts, "target_value": vals[rows, cols]})


def shared_start(data_dir=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """M4 Hourly train and test with every series starting at :data:`START`."""
    d = m4._data_dir(data_dir)
    tr, te = pd.read_csv(d / "Hourly-train.csv"), pd.read_csv(d / "Hourly-test.csv")
    lens = (~np.isnan(tr.iloc[:, 1:].to_numpy(dtype=float))).sum(axis=1)
    train = _left_aligned(tr, np.full(len(tr), START.to_datetime64()))
    test_starts = (START + pd.to_timedelta(lens, unit="h")).to_numpy()
    return train, _left_aligned(te, test_starts)


def run_notebook(train: pd.DataFrame, forecast_from: str, workdir: Path, algorithms=None) -> tuple[pd.DataFrame, float]:
    """Execute the getting-started notebook on ``train``; its forecast frame and wall seconds."""
    import papermill

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "target.csv"
    train.to_csv(path, index=False)
    params = dict(target_path=str(path), frequency="H", forecast_horizon=m4.HORIZON, forecast_from=forecast_from,
                  output_dir=str(workdir / "output"))
    if algorithms:
        params["algorithms"] = list(algorithms)
    t0 = time.perf_counter()
    papermill.execute_notebook(str(NOTEBOOK), str(workdir / "run.ipynb"), parameters=params, kernel_name="python3",
                               progress_bar=False, cwd=str(workdir))
    wall = time.perf_counter() - t0
    fc = pd.read_csv(workdir / "output" / "forecast.csv")  # Amazon Forecast's export: "date", ISO text
    fc["timestamp"] = pd.to_datetime(fc.pop("date").str.replace("Z", "", regex=False))
    return fc.sort_values(["item_id", "timestamp"], kind="stable"), wall


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--with-shared-end", action="store_true", help="also run the usual right-aligned layout")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--algorithms", nargs="*", default=None,
                   help="candidate algorithms (default: the notebook's, SeasonalNaive ETS NPTS GBM)")
    args = p.parse_args(argv)
    runs = [("shared start", "global_end"), ("shared start", "item_end")]
    if args.with_shared_end:
        runs.append(("shared end", "global_end"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layout, mode in runs:
            train, test = shared_start() if layout == "shared start" else m4.load_m4_hourly()
            fc, wall = run_notebook(train, mode, Path(tmp) / f"{layout.replace(' ', '_')}_{mode}", args.algorithms)
            overall, _ = m4.score_m4(train, test, fc, point="p50")
            row = {"method": f"{layout}, forecast_from={mode}"}
            row.update({k: overall[k] for k in ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")})
            row["wall s"] = wall
            row["cpu s"] = float("nan")
            rows.append(row)
            print(row, flush=True)
    if not args.no_write:
        algos = ", ".join(args.algorithms) if args.algorithms else "SeasonalNaive, ETS, NPTS, GBM (defaults)"
        m4.append_results(rows, "Items ending early: M4 Hourly with a shared start, not a shared end, through the "
                          f"getting-started notebook (algorithms: {algos}; horizon 48)",
                          "python -m bench.ending_early " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))
    print(m4.results_table(rows))
    return rows


if __name__ == "__main__":
    main()
