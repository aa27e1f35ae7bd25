"""Explainability cost: explaining 1,000 items x 24 time points against the training time.

The data are the built-in bike-share demo (hourly rentals with the weather as related
series, :func:`fc_core.demo.bike_sharing`) with ``--items`` stations. GBM is trained,
then explained by TreeSHAP over every item and the 24-hour horizon (predictor
explainability with ``max_items`` = all items), the same with ``method="baseline"``
(the booster re-predicted for each coalition of attributes), and for one item
(forecast explainability). With ``--mlp``, MLP-QR is trained on the same data and explained by
re-forecasting (exact Shapley values over the four weather fields, 16 forecasts) on
the default sample of 50 items.

Usage::

    python -m bench.explain_bench                        # 1,000 stations, GBM
    python -m bench.explain_bench --items 200 --mlp      # smaller, with MLP-QR
    python -m bench.explain_bench --write --export bench/explain_sample.csv
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time

HORIZON = 24


def timed(fn):
    """``fn()``, its wall seconds and its CPU seconds (all threads of this process: on a machine
    shared with other jobs the CPU time is the fairer comparison)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run(items: int, days: int, trees: int, mlp: bool, seed: int = 0, export: str | None = None) -> tuple[list, str]:
    from fc_core import demo
    from fc_core.algorithms.base import make_estimator

    dg = demo.bike_sharing(stations=items, days=days, forecast_horizon=HORIZON, seed=seed)
    panel = dg.to_panel()
    rows, sample = [], ""
    configs = [("GBM", {"num_trees": trees, "calibration_windows": 2})]
    if mlp:
        configs.append(("MLP-QR", {"num_steps": 1500, "device": "cpu"}))
    for name, params in configs:
        est = make_estimator(name, HORIZON, frequency="H", seed=seed, **params)
        pred, t_train, c_train = timed(lambda: est.train(panel))
        n_all = items if name == "GBM" else None
        whole, t_all, c_all = timed(lambda: pred.explain(max_items=n_all))
        first = str(panel.keys.iloc[0, 0])
        one, t_one, _ = timed(lambda: pred.explain(items=[first]))
        n_expl = whole.frame[whole.key_columns[0]].nunique()
        rows.append({"algorithm": name, "items": items, "history (hours)": days * 24, "train wall s": round(t_train, 1),
                     "train cpu s": round(c_train, 1), "explained items x hours": f"{n_expl} x {HORIZON}",
                     "explain wall s": round(t_all, 1), "explain cpu s": round(c_all, 1),
                     "explain / train (cpu)": round(c_all / c_train, 3), "one item wall s": round(t_one, 2),
                     "method": whole.method.split(" (")[0].split(",")[0]})
        print(rows[-1], flush=True)
        if name == "GBM":  # the fast alternative: the booster re-predicted per coalition of attributes
            fast, t_fast, c_fast = timed(lambda: pred.explain(max_items=n_all, method="baseline"))
            rows.append({**rows[-1], "explain wall s": round(t_fast, 1), "explain cpu s": round(c_fast, 1),
                         "explain / train (cpu)": round(c_fast / c_train, 3), "one item wall s": "",
                         "method": "method='baseline' (booster re-predicted, exact Shapley)"})
            print(rows[-1], flush=True)
        if name == "GBM":
            from bench.m4 import results_table

            top = whole.predictor_level()
            sample = results_table(top.round(4).to_dict("records"))
            head = one.to_frame().head(8).round(4)
            sample += (f"\n\nA sample of the forecast explainability export (`explain(items=['{first}'])`, "
                       f"first rows of {len(one.frame)}):\n\n" + results_table(head.to_dict("records")))
            if export:
                one.export(export)
    return rows, sample


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--mlp", action="store_true", help="also MLP-QR, explained by re-forecasting")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export", help="write the one-item forecast explainability to this CSV (a sample export)")
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    a = ap.parse_args(argv)
    rows, sample = run(a.items, a.days, a.trees, a.mlp, a.seed, a.export)
    from bench.m4 import RESULTS, append_results, results_table

    print(results_table(rows))
    print(sample)
    if a.write:
        cmd = "python -m bench.explain_bench " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
        append_results(rows, "Explainability: explain time against training time", cmd)
        with open(RESULTS, "a") as f:
            f.write(f"\nGBM's predictor-level impact scores on this data:\n\n{sample}\n")


if __name__ == "__main__":
    main()
