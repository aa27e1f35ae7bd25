"""Streaming bench (issue 17): forecast() + export against forecast_to in item chunks, and release_frames.

On ``retail_daily(n)`` (:mod:`bench.scale_bench`), in one fresh process: build the DatasetGroup, pack it and
(with ``--release``) let its long frames go, train an AutoPredictor (default SeasonalNaive + NPTS, one
backtest window), then

* ``forecast().export(one.parquet)``, and
* ``forecast_to(folder, chunk_items=...)``,

each measured for wall seconds and the peak resident memory above the memory at its start (``VmHWM`` is
reset before each step through ``/proc/self/clear_refs``), and the two outputs compared row for row.
Memory figures are of this process (the local models' pool workers are counted apart by the OS).

With ``--scoring``, the AutoPredictor's backtest scoring steps (``_score``, ``_checked_weights``,
``_item_score_table``, ``_choose_margin``, ``_add_ensemble_scores``) are timed and their peaks measured one by
one during training, and a hash of the leaderboard, per-item metrics, weights and per-item choices is printed
(to compare code versions bit for bit).

Usage::

    python bench/stream_bench.py --items 3000 --chunk-items 1000
    python bench/stream_bench.py --items 3000 --windows 2 --scoring
    python bench/stream_bench.py --items 10000 --chunk-items 2000 --release
    python bench/stream_bench.py --items 3000 --algorithms SeasonalNaive DeepAR+ --deepar-seconds 30
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _status(key: str) -> float:
    """A /proc/self/status figure in MB (VmRSS, VmHWM)."""
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key + ":")) / 1024


def _settle() -> float:
    """Collect garbage, hand freed heap back to the OS, reset the peak; the resident MB now."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS")


def _step(name: str, out: dict, fn):
    start = _settle()
    t0 = time.perf_counter()
    result = fn()
    out[name] = {"s": round(time.perf_counter() - t0, 2), "peak_above_start_mb": round(_status("VmHWM") - start),
                 "rss_after_mb": round(_status("VmRSS"))}
    return result


PHASES = ("_score", "_checked_weights", "_item_score_table", "_choose_margin", "_add_ensemble_scores")


def _watch_scoring(cls, phases: dict, peak: list) -> None:
    """Wrap the scoring steps of ``cls`` to record their seconds and peak above their start."""
    for name in PHASES:
        def wrapped(self, *a, _f=getattr(cls, name), _n=name, **k):
            peak[0] = max(peak[0], _status("VmHWM"))
            start = _settle()
            t0 = time.perf_counter()
            result = _f(self, *a, **k)
            d = phases.setdefault(_n, {"calls": 0, "s": 0.0, "peak_above_start_mb": 0})
            d["calls"] += 1
            d["s"] = round(d["s"] + time.perf_counter() - t0, 2)
            d["peak_above_start_mb"] = max(d["peak_above_start_mb"], round(_status("VmHWM") - start))
            return result
        setattr(cls, name, wrapped)


def _scores_hash(ap) -> str:
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(ap.leaderboard_.drop(columns=["window_start", "window_end"]),
                                        index=False).values.tobytes())
    h.update(pd.util.hash_pandas_object(ap.item_metrics_, index=False).values.tobytes())
    h.update(json.dumps({"w": ap.weights_, "c": ap.item_choice_["algorithm"].tolist(), "m": ap.item_switch_margin_},
                        sort_keys=True).encode())
    return h.hexdigest()[:16]


def main(argv=None) -> dict:
    import pandas as pd

    from fc_core import AutoPredictor
    from scale_bench import HORIZON, retail_daily

    ap_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap_.add_argument("--items", type=int, default=3000)
    ap_.add_argument("--days", type=int, default=730)
    ap_.add_argument("--chunk-items", type=int, default=1000)
    ap_.add_argument("--algorithms", nargs="+", default=["SeasonalNaive", "NPTS"])
    ap_.add_argument("--deepar-seconds", type=float, default=30.0)
    ap_.add_argument("--release", action="store_true", help="release the group's long frames after packing")
    ap_.add_argument("--windows", type=int, default=1, help="backtest windows")
    ap_.add_argument("--scoring", action="store_true", help="time the scoring steps and hash the scores")
    args = ap_.parse_args(argv)
    warnings.simplefilter("ignore")
    out: dict = {"items": args.items, "days": args.days, "chunk_items": args.chunk_items,
                 "algorithms": args.algorithms}
    dg = _step("build_group", out, lambda: retail_daily(args.items, args.days))
    _step("to_panel", out, dg.to_panel)
    if args.release:
        before = _settle()
        dg.release_frames()
        out["release_frames"] = {"freed_mb": round(before - _settle()), "rss_after_mb": round(_status("VmRSS"))}
    params = {"DeepAR+": {"epochs": 3, "max_train_time": args.deepar_seconds, "num_threads": None}}
    ap = AutoPredictor(HORIZON, algorithms=args.algorithms, algorithm_params=params, backtest_windows=args.windows)
    phases, peak = {}, [0.0]
    if args.scoring:
        _watch_scoring(AutoPredictor, phases, peak)
    _step("train", out, lambda: ap.train(dg, progress=False))
    if args.scoring:
        out["train"]["peak_mb"] = round(max(peak[0], _status("VmHWM")))
        out["scoring"] = {**phases, "total_s": round(sum(v["s"] for v in phases.values()), 2),
                          "scores_hash": _scores_hash(ap)}
    if not hasattr(ap, "forecast_to"):  # an older fc_core, measured for its scoring only
        print(json.dumps(out, indent=1))
        return out
    with tempfile.TemporaryDirectory() as d:
        _step("forecast_export", out, lambda: ap.forecast().export(Path(d) / "one.parquet"))
        _step("forecast_to", out, lambda: ap.forecast_to(Path(d) / "parts", chunk_items=args.chunk_items,
                                                          progress=False))
        a, b = pd.read_parquet(Path(d) / "one.parquet"), pd.read_parquet(Path(d) / "parts")
        out["rows"] = len(a)
        out["equal"] = bool(a.equals(b))
        if not out["equal"] and a.shape == b.shape:
            num = [c for c in a.columns if c.startswith("p") or c == "mean"]
            out["max_abs_diff"] = float((a[num] - b[num]).abs().max().max())
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
