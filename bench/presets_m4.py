"""M4 Hourly per preset, through the getting-started notebook's own code path.

Each preset (``fast``, ``medium``, ``best``) runs :func:`fc_core.workflow.getting_started_config`
with ``target_path`` = the M4 Hourly training data (written once as a long CSV), then the
notebook's calls: ``cfg.load_data()``, ``cfg.make_predictor().train(...)``, ``.forecast()``.
Wall time covers those three steps (import, train, forecast). The machine's load average is
recorded beside each result, since it is shared.

``--validate`` chooses presets without the test set: the last 48 hours of every training series
are held out and scored instead (the test set is not read).

    python -m bench.presets_m4 --presets fast,medium            # test-set score, appends to RESULTS.md
    python -m bench.presets_m4 --presets fast --validate --no-write
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from fc_core.parallel import cpu_seconds
from bench.m4 import FORECAST_TYPES, HORIZON, append_results, load_m4_hourly, score_m4


def _hold_out(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last HORIZON hours of every training series as a validation 'test' set."""
    pos = train.groupby("item_id").cumcount(ascending=False)
    return train[pos >= HORIZON].reset_index(drop=True), train[pos < HORIZON].reset_index(drop=True)


def run_preset(preset: str, train: pd.DataFrame, test: pd.DataFrame, csv: Path, time_limit: float = 0) -> dict:
    from fc_core.workflow import getting_started_config

    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu_seconds()
    cfg = getting_started_config(target_path=str(csv), frequency="H", forecast_horizon=HORIZON,
                                 forecast_types=FORECAST_TYPES, presets=preset, time_limit=time_limit,
                                 output_dir=tempfile.mkdtemp(prefix="presets_m4_"))
    dg = cfg.load_data()
    predictor = cfg.make_predictor()
    predictor.train(dg, progress=True)
    fc = predictor.forecast()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    overall, _ = score_m4(train, test, fc.frame, point="p50")
    plan = predictor.plan_summary()
    print(plan.to_string())
    return {"preset": preset + (f", time_limit={time_limit:g}" if time_limit else ""),
            **{k: overall[k] for k in ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")},
            "candidates": "+".join(predictor.algorithms),
            "windows": int(predictor.leaderboard_["backtest_window"].nunique()),
            "blend": " ".join(f"{a} {w:.2f}" for a, w in predictor.weights_.items()),
            "wall s": wall, "cpu s": cpu,
            "load avg (start, end)": f"{load0:.1f}, {os.getloadavg()[0]:.1f}"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="fast,medium")
    ap.add_argument("--time-limit", type=float, default=0)
    ap.add_argument("--validate", action="store_true", help="score the last 48 h of the training data instead")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    train, test = load_m4_hourly()
    if args.validate:
        train, test = _hold_out(train)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "m4_hourly_train.csv"
        train.to_csv(csv, index=False)
        for p in [s.strip() for s in args.presets.split(",") if s.strip()]:
            rows.append(run_preset(p, train, test, csv, args.time_limit))
            print(rows[-1], flush=True)
    if not args.no_write:
        import sys

        cmd = (("nice " if os.nice(0) > 0 else "") + "python -m bench.presets_m4 "
               + " ".join(argv if argv is not None else sys.argv[1:]))
        what = "validation: last 48 h of the training data" if args.validate else "test set"
        append_results(rows, f"M4 Hourly per preset, getting-started code path ({what})", cmd)
    return rows


if __name__ == "__main__":
    main()
