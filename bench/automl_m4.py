"""AutoPredictor on M4 Hourly (414 series, horizon 48): every candidate and the blend, side by side.

Choices are made by the AutoPredictor's backtests on the training data only; the
M4 test set is used for the final score and nothing else.

    python -m bench.automl_m4                    # SeasonalNaive, NPTS, GBM, GBM-L2, MLP-QR; 3 windows
"""
from __future__ import annotations

import argparse
import time

import fc_core
from fc_core.parallel import cpu_seconds
from bench.m4 import append_results, load_m4_hourly, score_m4, to_dataset_group

TYPES = ["0.025", "0.1", "0.5", "0.9", "0.975", "mean"]


def main(argv=None):
    ap_ = argparse.ArgumentParser(description=__doc__)
    ap_.add_argument("--algorithms", default="SeasonalNaive,NPTS,GBM,GBM-L2,MLP-QR")
    ap_.add_argument("--windows", type=int, default=3)
    ap_.add_argument("--params", default="{}", help="JSON of per-algorithm parameters")
    ap_.add_argument("--title", default="M4 Hourly: AutoPredictor and its candidates")
    ap_.add_argument("--no-write", action="store_true")
    ap_.add_argument("--margin", type=float, default=0.0)
    ap_.add_argument("--no-item-selection", action="store_true")
    args = ap_.parse_args(argv)
    import json

    train, test = load_m4_hourly()
    dg = to_dataset_group(train)
    algos = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    t0, c0 = time.perf_counter(), cpu_seconds()
    ap = fc_core.AutoPredictor(forecast_horizon=48, forecast_types=TYPES, backtest_windows=args.windows,
                               algorithms=algos, algorithm_params=json.loads(args.params),
                               keep_all_candidates=True, item_selection=not args.no_item_selection,
                               item_switch_margin=args.margin)
    ap.train(dg, progress=True)
    fc = ap.forecast()
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    print(ap.leaderboard().round(4).to_string())
    rows = []
    for name in [*ap.predictors_, "AutoPredictor"]:
        f = fc if name == "AutoPredictor" else ap.candidate_forecast(name)
        overall, _ = score_m4(train, test, f.frame, point="p50")
        bt = ap.leaderboard().set_index("algorithm")
        rows.append({"method": name if name != "AutoPredictor" else "AutoPredictor (blend + per-item choice)",
                     **{k: overall[k] for k in ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")},
                     "backtest wQL": bt.loc[name, "AverageWeightedQuantileLoss"] if name in bt.index else float("nan"),
                     "weight": ap.weights_.get(name, float("nan")),
                     "train s (all windows + final)": ap.timings_.get(name, wall)})
    for r in rows:
        print(r)
    print(f"wall {wall:.0f} s, cpu {cpu:.0f} s; weights {ap.weights_}; failed {ap.failed_}")
    print("ensemble check:", json.dumps(ap.ensemble_check_, default=str))
    print(ap.item_choice_["algorithm"].value_counts().to_string())
    if not args.no_write:
        cmd = "python -m bench.automl_m4 " + " ".join(argv or __import__("sys").argv[1:])
        append_results(rows, f"{args.title} (backtest windows: {args.windows}; whole run {wall:.0f} s wall, "
                             f"{cpu:.0f} s CPU)", cmd)
    return rows


if __name__ == "__main__":
    main()
