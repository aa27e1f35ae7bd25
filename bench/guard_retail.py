"""The forecast guard (issue 13) on retail-like monthly demand: absurd values, fallbacks, accuracy.

Data: ``consumer_electronics/tts.csv`` from ``../shared/data`` (Amazon Forecast's sample, monthly
demand of 300 items x 5 stores, 24 months). The issue's case is rebuilt from it: store_001's 300
items, each cut to its last 18-24 months (seeded), horizon 6. The last 6 months of every item are
held out; each algorithm trains on the rest and is scored on them (wQL over 0.1/0.5/0.9, the mean
over quantiles of 2 sum pinball / sum |y|), against seasonal naive.

"Before" is each algorithm's raw output (``Predictor._forecast``, what users got before the guard;
GBM also with ``short_history="fallback"``, its old behaviour); "after" is what
``predict_arrays`` returns now (guarded; GBM adapts its season to the short history).

The envelope factor K is chosen on backtests cut from the *training* data only: for every series
of consumer_electronics (all 1,500 item x store series, cutoffs 6 and 12 months before the
training end) and of M4 Hourly's training set (cutoffs 48 and 96 hours before its end), the ratio
of the largest actual in the next horizon to the largest |value| before the cutoff.

Usage::

    python -m bench.guard_retail            # prints a markdown table (for bench/RESULTS.md)
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fc_core.algorithms.base import make_estimator
from fc_core.algorithms.guard import ENVELOPE_K
from fc_core.panel import Panel

DATA = Path(os.environ.get("FC_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
LEVELS = np.array([0.1, 0.5, 0.9])
H = 6


def retail_case(seed: int = 0) -> pd.DataFrame:
    df = pd.read_csv(DATA / "consumer_electronics" / "tts.csv", parse_dates=["timestamp"])
    df = df[df.store_id == "store_001"].drop(columns="store_id").rename(columns={"demand": "target_value"})
    rng = np.random.default_rng(seed)
    keep = {it: int(rng.integers(18, 25)) for it in sorted(df.item_id.unique())}
    return pd.concat([g.tail(keep[k]) for k, g in df.sort_values("timestamp").groupby("item_id")], ignore_index=True)


def split(df: pd.DataFrame, h: int):
    back = df.groupby("item_id").cumcount(ascending=False)
    return df[back >= h].reset_index(drop=True), df[back < h].reset_index(drop=True)


def wql(actual: np.ndarray, q: np.ndarray) -> float:
    e = actual[:, :, None] - q
    pin = np.maximum(LEVELS * e, (LEVELS - 1) * e)
    return float(np.mean(2 * pin.sum(axis=(0, 1)) / np.abs(actual).sum()))


def envelope_ratios() -> pd.DataFrame:
    """Largest future actual / largest past |value| per series and cutoff, on training data only."""
    out = []
    ce = pd.read_csv(DATA / "consumer_electronics" / "tts.csv", parse_dates=["timestamp"])
    groups = [("consumer_electronics", g["demand"].to_numpy(float), (12, 18), 6)
              for _, g in ce.sort_values("timestamp").groupby(["item_id", "store_id"])]
    try:
        from bench.m4 import load_m4_hourly

        tr, _ = load_m4_hourly(DATA / "m4")
        groups += [("M4 Hourly train", g["target_value"].to_numpy(float), (48, 96), 48)
                   for _, g in tr.groupby("item_id", sort=False)]
    except Exception as exc:  # M4 absent: retail only
        print(f"M4 Hourly not used: {exc}", file=sys.stderr)
    for name, y, cuts, h in groups:
        # the held-out test months of the retail case (the last 6) are never looked at
        y = y[:-6] if name == "consumer_electronics" else y
        for c in cuts:
            if len(y) <= c + 2:
                continue
            past, fut = y[:len(y) - c], y[len(y) - c:len(y) - c + h]
            m = np.nanmax(np.abs(past))
            if m > 0:
                out.append((name, c, np.nanmax(np.abs(fut)) / m))
    return pd.DataFrame(out, columns=["data", "cutoff", "ratio"])


def counts(arr_q: np.ndarray, arr_m: np.ndarray, maxabs: np.ndarray, nonneg: np.ndarray) -> dict:
    vals = np.concatenate([arr_q, arr_m[:, :, None]], axis=-1)
    with np.errstate(all="ignore"):
        nonfinite = int((~np.isfinite(vals)).any(axis=(1, 2)).sum())
        big = np.nanmax(np.where(np.isfinite(vals), np.abs(vals), np.inf), axis=(1, 2))
        absurd = int(((big > 20 * maxabs) & np.isfinite(vals).all(axis=(1, 2))).sum())
        negative = int(((vals < 0).any(axis=(1, 2)) & nonneg).sum())
    return {"items with inf/NaN": nonfinite, "items > 20x max": absurd, "items < 0 (history >= 0)": negative}


def run() -> pd.DataFrame:
    df = retail_case()
    fit, hold = split(df, H)
    p = Panel.from_frame(fit, ["item_id"], "target_value", "M")
    actual = hold.pivot(index="item_id", columns="timestamp", values="target_value")
    actual = np.array([hold[hold.item_id == k]["target_value"].to_numpy() for k in p.keys["item_id"]])
    maxabs = np.array([np.nanmax(np.abs(p.series(i))) for i in range(p.n_series)])
    nonneg = np.array([np.nanmin(p.series(i)) >= 0 for i in range(p.n_series)])
    sn = make_estimator("SeasonalNaive", H).train(p).predict_arrays(levels=LEVELS)
    sn_wql = wql(actual, sn.quantiles)
    rows = []
    cases = [("SeasonalNaive", {}), ("ETS", {}), ("GBM", {"short_history": "fallback"}), ("GBM", {}),
             ("MLP-QR", {"num_steps": 300})]
    for name, params in cases:
        t0 = time.perf_counter()
        est = make_estimator(name, H, seed=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = est.train(p)
            raw = pred._forecast(p, H, LEVELS)
            raw_info = dict(pred.info)
            after = pred.predict_arrays(levels=LEVELS)
        label = name + (f" {params}" if params else "")
        before_q = raw.quantiles
        c0 = counts(before_q, raw.mean, maxabs, nonneg)
        c1 = counts(after.quantiles, after.mean, maxabs, nonneg)
        with np.errstate(all="ignore"):
            w0 = wql(actual, np.where(np.isfinite(before_q), before_q, 1e308))
        s = pred.info["fallback_summary"]
        rows.append({"algorithm": label,
                     "before: inf/NaN items": c0["items with inf/NaN"], "before: >20x items": c0["items > 20x max"],
                     "before: negative items": c0["items < 0 (history >= 0)"],
                     "before: fallbacks said": len(raw_info.get("fallback_items", [])),
                     "after: inf/NaN": c1["items with inf/NaN"], "after: >20x": c1["items > 20x max"],
                     "after: negative": c1["items < 0 (history >= 0)"],
                     "after: fallback items": s["fallback_items"],
                     "after: reasons": "; ".join(f"{k} {v}" for k, v in s["reasons"].items()) or "-",
                     "season used": pred.info.get("short_history", {}).get("season_length", 12) if name == "GBM" else "",
                     "wQL before": round(w0, 4) if np.isfinite(w0) and w0 < 1e6 else "inf",
                     "wQL after": round(wql(actual, after.quantiles), 4),
                     "seasonal naive wQL": round(sn_wql, 4), "seconds": round(time.perf_counter() - t0, 1)})
        print(rows[-1], file=sys.stderr)
    return pd.DataFrame(rows)


def auto_run() -> pd.DataFrame:
    """The AutoPredictor on the same case (SeasonalNaive, GBM, MLP-QR; one backtest window), scored on
    the held-out months, with GBM's old behaviour (``short_history="fallback"``) and the default."""
    from fc_core.automl import AutoPredictor, fallback_text

    df = retail_case()
    fit, hold = split(df, H)
    p = Panel.from_frame(fit, ["item_id"], "target_value", "M")
    actual = np.array([hold[hold.item_id == k]["target_value"].to_numpy() for k in p.keys["item_id"]])
    rows = []
    for label, gbm in (("GBM short_history=fallback", {"short_history": "fallback"}), ("defaults", {})):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ap = AutoPredictor(H, algorithms=["SeasonalNaive", "GBM", "MLP-QR"], forecast_types=["0.1", "0.5", "0.9"],
                               algorithm_params={"GBM": gbm, "MLP-QR": {"num_steps": 300}}).train(p, progress=False)
            fc = ap.forecast().frame
        q = np.stack([fc[c].to_numpy().reshape(p.n_series, H) for c in ("p10", "p50", "p90")], axis=-1)
        lb = ap.leaderboard().set_index("algorithm")
        rows.append({"run": label, "blend weights": {a: round(w, 2) for a, w in ap.weights_.items()},
                     "GBM fallback_share (backtest)": lb.loc["GBM", "fallback_share"] if "GBM" in lb.index else "",
                     "fallback line": fallback_text(ap), "wQL on held-out months": round(wql(actual, q), 4),
                     "negative values": int((q < 0).sum()), "seconds": round(time.perf_counter() - t0, 1)})
        print(rows[-1], file=sys.stderr)
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame, index: bool = True) -> str:
    d = df.reset_index() if index else df
    lines = ["| " + " | ".join(map(str, d.columns)) + " |", "|" + " --- |" * d.shape[1]]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in d.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    r = envelope_ratios()
    print("## envelope: largest future actual / largest past |value| (training data only)")
    print(markdown(r.groupby("data")["ratio"].describe(percentiles=[0.99, 0.999]).round(3)))
    print(f"\nK = {ENVELOPE_K}: share of (series, cutoff) above K: {(r['ratio'] > ENVELOPE_K).mean():.4f}")
    print("\n## retail case: 300 items, 18-24 months, horizon 6")
    print(markdown(run(), index=False))
    print("\n## AutoPredictor on the retail case")
    print(markdown(auto_run(), index=False))


if __name__ == "__main__":
    main()
