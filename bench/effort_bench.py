"""Small-data effort: GBM ``effort`` and ARIMA ``max_history``, accuracy and time through ``fc_core.backtest.run``.

    python -m bench.effort_bench gbm auto full       # demo data, 12 clients x 42 days, 2 windows of 24 h
    python -m bench.effort_bench arima auto all      # electricity sample, 3 clients x 7,991 h, 1 window of 48 h

Prints one line per setting (wall and CPU seconds of this process, mean wQL, MASE, WAPE, MSIS);
the numbers are recorded by hand in ``bench/RESULTS.md`` with the machine's load.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from fc_core.backtest import run

_DATA = Path(os.environ.get("FC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    part, settings = argv[0], argv[1:]
    if part == "gbm":
        from fc_core import demo
        from fc_core.algorithms.gbm import GBMEstimator

        data = demo.electricity(n_items=12, days=42, seed=0)
        make, windows = (lambda s: GBMEstimator(24, effort=s)), 2
    elif part == "arima":
        from fc_core import DatasetGroup
        from fc_core.algorithms.arima import ARIMAEstimator

        data = DatasetGroup(target=str(_DATA / "electricity" / "item-demand-time.csv"), frequency="H",
                            target_schema="timestamp:timestamp,target_value:float,item_id:string")
        make, windows = (lambda s: ARIMAEstimator(48, max_history=None if s == "all" else s)), 1
    else:
        raise SystemExit("usage: python -m bench.effort_bench gbm|arima SETTING ...")
    for s in settings:
        t, c = time.perf_counter(), time.process_time()
        res = run(make(s), data, windows=windows)
        m = res.mean()
        print(f"{part} {s}: wall {time.perf_counter() - t:.1f} s, cpu {time.process_time() - c:.1f} s, load "
              f"{os.getloadavg()[0]:.1f}; mean wQL {m['AverageWeightedQuantileLoss']:.4f}, MASE {m['MASE']:.3f}, "
              f"WAPE {m['WAPE']:.4f}, MSIS {m['MSIS']:.2f}", flush=True)


if __name__ == "__main__":
    main()
