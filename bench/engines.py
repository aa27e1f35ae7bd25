"""Engines of the local statistical models on M4 Hourly: wrapper cost, engine choice, NPTS speed.

One script, three questions:

1. **Wrapper cost.** fc_core's ETS, ARIMA, Theta and MSTL against the raw
   ``StatsForecast(...).forecast(df, h=48, level=[80, 95])`` call on the same
   series (same models, both on all cores): wall and CPU seconds, and scores.
2. **Default engine of ETS and ARIMA.** ``engine="statsforecast"`` against
   ``engine="statsmodels"`` on the same subset of series (statsmodels' fits are
   far slower, so the subset keeps the run bounded): scores, CPU seconds, and
   accuracy per CPU second ``1 / (OWA * CPU seconds per series)``.
3. **NPTS.** fc_core's vectorised NPTS against GluonTS's ``NPTSPredictor``
   (same defaults, 100 sample paths) on all 414 series: time and scores.

CPU seconds (:func:`fc_core.parallel.cpu_seconds`) are this process's plus the CPU of
worker processes: fc_core's pool (which outlives a call) and finished children (raw statsforecast).

Usage (appends sections to ``bench/RESULTS.md``)::

    python -m bench.engines                       # everything (about 30-60 min on 2 shared cores)
    python -m bench.engines --parts npts,theta    # some parts only
    python -m bench.engines --arima-step 4        # ARIMA wrapper vs raw on every 4th series only
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd

from bench.m4 import FORECAST_TYPES, HORIZON, append_results, load_m4_hourly, results_table, score_m4
from fc_core import parallel
from fc_core.algorithms.base import make_estimator

METRICS = ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")
QMAP = {"p2.5": ("lo", 95), "p10": ("lo", 80), "p90": ("hi", 80), "p97.5": ("hi", 95)}


class Clock:
    """Wall and CPU seconds of a block: this process, fc_core's workers and finished children."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), parallel.cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = parallel.cpu_seconds() - self.c
        return False


def subset(train, test, step: int):
    items = list(pd.unique(train["item_id"]))[::step]
    return train[train["item_id"].isin(items)], test[test["item_id"].isin(items)]


def row(name, n, clock, scores, **extra) -> dict:
    r = {"method": name, "series": n}
    r.update({k: scores[k] for k in METRICS})
    r.update({"wall s": clock.wall, "cpu s": clock.cpu})
    r.update(extra)
    return r


def run_fc(name: str, train, test, **params) -> tuple[dict, pd.DataFrame]:
    """Train and forecast an fc_core estimator; timed and scored."""
    from bench.m4 import to_dataset_group

    dg = to_dataset_group(train)
    est = make_estimator(name, HORIZON, frequency="H", forecast_types=FORECAST_TYPES, **params)
    with warnings.catch_warnings(), Clock() as clock:
        warnings.simplefilter("ignore")
        pred = est.train(dg)
        fc = pred.predict(progress=False)
    scores, _ = score_m4(train, test, fc)
    label = f"fc_core {name}" + "".join(f" {k}={v}" for k, v in params.items())
    n_fb = len(pred.info.get("fallback_items", []))
    return row(label, train["item_id"].nunique(), clock, scores, fallbacks=n_fb), fc


def run_raw(model, alias: str, train, test) -> dict:
    """The raw statsforecast call on the same long frame (all cores)."""
    from statsforecast import StatsForecast

    df = train.rename(columns={"item_id": "unique_id", "timestamp": "ds", "target_value": "y"})
    with warnings.catch_warnings(), Clock() as clock:
        warnings.simplefilter("ignore")
        sf = StatsForecast(models=[model], freq="h", n_jobs=parallel.available_cores())
        out = sf.forecast(df=df, h=HORIZON, level=[80, 95])
    out = out.reset_index() if "unique_id" not in out.columns else out
    fc = pd.DataFrame({"item_id": out["unique_id"].astype(str), "timestamp": out["ds"],
                       "p50": out[alias], "mean": out[alias]})
    for col, (side, lv) in QMAP.items():
        fc[col] = out[f"{alias}-{side}-{lv}"]
    scores, _ = score_m4(train, test, fc)
    return row(f"raw statsforecast {alias}", train["item_id"].nunique(), clock, scores)


def overhead(rows_: list[dict]) -> None:
    """Add the wrapper's extra wall/CPU time over the raw call to the fc_core row (in place)."""
    fc_row, raw_row = rows_[-2], rows_[-1]
    fc_row["wall vs raw"] = f"{100 * (fc_row['wall s'] / raw_row['wall s'] - 1):+.1f}%"
    fc_row["cpu vs raw"] = f"{100 * (fc_row['cpu s'] / raw_row['cpu s'] - 1):+.1f}%"


# ---------------------------------------------------------------- the parts
def part_wrapper(train, test, names, arima_step: int, write, repeat: int = 1) -> list[dict]:
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta

    rows_: list[dict] = []
    raw_models = {
        "Theta": (AutoTheta(season_length=24), "AutoTheta"),
        "MSTL": (MSTL(season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN")), "MSTL"),
        "ETS": (AutoETS(season_length=24), "AutoETS"),
        "ARIMA": (AutoARIMA(season_length=24, approximation=True), "AutoARIMA"),
    }
    for name in names:
        tr, te = subset(train, test, arima_step) if name == "ARIMA" else (train, test)
        model, alias = raw_models[name]
        pairs = []
        for rep in range(repeat):  # with repeats, alternate which of the two runs first
            first_raw = rep % 2 == 1
            if first_raw:
                raw = run_raw(model, alias, tr, te)
            ours, _ = run_fc(name, tr, te)
            if not first_raw:
                raw = run_raw(model, alias, tr, te)
            if repeat > 1:
                ours["method"] += f" (run {rep + 1})"
                raw["method"] += f" (run {rep + 1}{', first' if first_raw else ''})"
            pairs += [ours, raw]
            overhead(pairs)
            print(results_table(pairs[-2:]), flush=True)
        rows_ += pairs
        n = tr["item_id"].nunique()
        write(pairs, f"{name} on M4 Hourly ({n} series): fc_core wrapper vs the raw statsforecast call"
                     + (f", {repeat} alternating runs" if repeat > 1 else ""))
    return rows_


def part_engines(train, test, names, steps: dict) -> tuple[list[dict], dict]:
    rows_: list[dict] = []
    choice = {}
    for name in names:
        tr, te = subset(train, test, steps[name])
        per = {}
        for engine in ("statsforecast", "statsmodels"):
            r, _ = run_fc(name, tr, te, engine=engine)
            n = r["series"]
            r["accuracy per cpu s"] = 1.0 / (r["OWA"] * r["cpu s"] / n)
            per[engine] = r
            rows_.append(r)
            print(results_table(rows_[-1:]), flush=True)
        best = max(per, key=lambda e: per[e]["accuracy per cpu s"])
        choice[name] = best
    return rows_, choice


def part_npts(train, test, seeds=(0, 1, 2)) -> list[dict]:
    rows_ = []
    for seed in seeds:
        r, _ = run_fc("NPTS", train, test, seed=seed)
        r["method"] = f"fc_core NPTS (vectorised), seed {seed}"
        rows_.append(r)
        print(results_table(rows_[-1:]), flush=True)
    from gluonts.dataset.common import ListDataset
    from gluonts.model.npts import NPTSPredictor

    groups = list(train.groupby("item_id", sort=False))
    np.random.seed(0)
    with warnings.catch_warnings(), Clock() as clock:
        warnings.simplefilter("ignore")
        ds = ListDataset([{"start": pd.Period(g["timestamp"].iloc[0], "h"), "target": g["target_value"].to_numpy(),
                           "item_id": k} for k, g in groups], freq="h")
        fcs = list(NPTSPredictor(prediction_length=HORIZON).predict(ds, num_samples=100))
        parts = []
        for f in fcs:
            d = {"item_id": f.item_id, "timestamp": f.start_date.to_timestamp() + pd.to_timedelta(np.arange(HORIZON), "h"),
                 "mean": f.mean}
            for q in (0.025, 0.1, 0.5, 0.9, 0.975):
                d[f"p{q * 100:g}"] = f.quantile(q)
            parts.append(pd.DataFrame(d))
        fc = pd.concat(parts, ignore_index=True)
    scores, _ = score_m4(train, test, fc)
    rows_.append(row("GluonTS NPTSPredictor (defaults)", len(groups), clock, scores))
    ours = np.mean([r["wall s"] for r in rows_[:-1]])
    rows_[-1]["speed-up of fc_core"] = f"{rows_[-1]['wall s'] / ours:.0f}x"
    print(results_table(rows_[-1:]), flush=True)
    return rows_


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="npts,theta,mstl,ets,arima,engines",
                   help="comma-separated: npts, theta, mstl, ets, arima (wrapper vs raw), engines")
    p.add_argument("--arima-step", type=int, default=1, help="ARIMA wrapper/raw on every k-th series")
    p.add_argument("--sm-ets-step", type=int, default=4, help="ETS engine comparison on every k-th series")
    p.add_argument("--sm-arima-step", type=int, default=18, help="ARIMA engine comparison on every k-th series")
    p.add_argument("--repeat", type=int, default=1, help="wrapper vs raw: this many pairs, alternating order")
    p.add_argument("--step", type=int, default=1, help="smoke test: everything on every k-th series only")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    parts = [s.strip() for s in a.parts.split(",") if s.strip()]
    command = shlex.join(["python", "-m", "bench.engines", *(argv if argv is not None else sys.argv[1:])])
    import statsforecast  # noqa: F401 - loaded once here, so forked workers do not each import it

    train, test = load_m4_hourly()
    if a.step > 1:
        train, test = subset(train, test, a.step)
    write = (lambda rows_, title: append_results(rows_, title, command)) if not a.no_write else (lambda *_: None)
    if "npts" in parts:
        write(part_npts(train, test), "NPTS on M4 Hourly: fc_core's vectorised sampler vs GluonTS NPTSPredictor")
    names = [n for n in ("ETS", "Theta", "MSTL", "ARIMA") if n.lower() in parts]
    if names:
        part_wrapper(train, test, names, a.arima_step, write, a.repeat)
    if "engines" in parts:
        rows_, choice = part_engines(train, test, ["ETS", "ARIMA"], {"ETS": a.sm_ets_step, "ARIMA": a.sm_arima_step})
        write(rows_, f"ETS and ARIMA engines on an M4 Hourly subset (every {a.sm_ets_step}th series for ETS, "
                     f"every {a.sm_arima_step}th for ARIMA): statsforecast vs statsmodels")
        print("default engine by accuracy per CPU second:", choice)
    parallel.shutdown()


if __name__ == "__main__":
    main()
