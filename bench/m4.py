"""M4 Hourly benchmark harness: load the data, score forecasts the M4 way, time a run, log results.

The M4 competition's Hourly set has 414 series, a horizon of 48 hours and a
seasonal period of 24. The files (``Hourly-train.csv``, ``Hourly-test.csv``)
are wide: the first column is the series id (``H1``...), the values follow,
padded with empty cells.

Scoring follows the M4 definitions (see ``../shared/data/README.md``):

* sMAPE = mean over the horizon of ``200 |y - f| / (|y| + |f|)``, then mean over series;
* MASE = mean ``|y - f|`` divided by the in-sample mean of ``|y_t - y_(t-m)|``
  (m = 24), then mean over series;
* OWA = ``(sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2``, each averaged over
  all series first;
* MSIS (95 %, a = 0.05) = mean over the horizon of
  ``(U - L) + (2/a)(L - y) 1{y < L} + (2/a)(y - U) 1{y > U}``, scaled like MASE;
* mean wQL over 0.1/0.5/0.9, each ``2 sum[tau (y - q)+ + (1 - tau)(q - y)+] / sum |y|``
  pooled over all series and steps; coverage of the 95 % interval.

Naive2 is M4's reference: the naive forecast of the seasonally adjusted series
(classical multiplicative decomposition, applied when a 90 % autocorrelation
test at lag m says the series is seasonal), re-seasonalised.

Command line (appends a section to ``bench/RESULTS.md``)::

    python -m bench.m4 SeasonalNaive Naive --title "Baselines"
"""
from __future__ import annotations

import argparse
import datetime as _dt
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from fc_core.parallel import cpu_seconds

HORIZON = 48
SEASON = 24
# Every series ends at the same (synthetic) hour; the test period follows.
TRAIN_END = pd.Timestamp("2020-12-31 23:00")
MACHINE = "2-core x86_64, 24 GiB, shared with other jobs"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
FORECAST_TYPES = ["0.025", "0.1", "0.5", "0.9", "0.975", "mean"]
_DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "m4"


# ---------------------------------------------------------------------- data
def _data_dir(data_dir=None) -> Path:
    import os

    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("FC_SHARED_DATA")
    return Path(env) / "m4" if env else _DEFAULT_DATA


def _wide_to_long(wide: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Wide M4 rows -> long frame, every series right-aligned to end at ``end``."""
    ids = wide.iloc[:, 0].astype(str).to_numpy()
    vals = wide.iloc[:, 1:].to_numpy(dtype=float)
    ok = ~np.isnan(vals)
    lens = ok.sum(axis=1)
    # M4 pads at the end only: the values of row i are vals[i, :lens[i]]
    if not np.array_equal(ok, np.arange(vals.shape[1])[None, :] < lens[:, None]):
        raise ValueError("M4 file has gaps inside a series; expected values left-aligned and padded at the end.")
    rows, cols = np.nonzero(ok)
    steps_before_end = lens[rows] - 1 - cols  # 0 for the last value of each series
    ts = end - pd.to_timedelta(steps_before_end, unit="h")
    return pd.DataFrame({"item_id": ids[rows], "timestamp": ts, "target_value": vals[rows, cols]})


def load_m4_hourly(data_dir=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The M4 Hourly train and test sets in fc_core's canonical long layout.

    M4 Hourly has no dates. Every series gets a synthetic hourly index that is
    right-aligned on a common end: the training part of every series ends at
    2020-12-31 23:00 (start = end - (length - 1) hours) and the 48 test hours
    follow (2021-01-01 00:00 to 2021-01-02 23:00). Backtest windows laid from the
    end therefore line up across series. Calendar features built from these
    timestamps are meaningless beyond the phase of hour-of-day and day-of-week
    (the real series start at different hours and dates, which M4 does not say).

    Parameters
    ----------
    data_dir : path, optional
        Folder with ``Hourly-train.csv`` and ``Hourly-test.csv``; default
        ``$FC_SHARED_DATA/m4`` or ``../shared/data/m4`` beside the repository.

    Returns
    -------
    train, test : DataFrame
        Columns ``item_id``, ``timestamp``, ``target_value``, items in file order
        (H1, H2, ...), time ascending within an item.

    Raises
    ------
    FileNotFoundError
        If the files are not in ``data_dir``.
    """
    d = _data_dir(data_dir)
    f_train, f_test = d / "Hourly-train.csv", d / "Hourly-test.csv"
    for f in (f_train, f_test):
        if not f.is_file():
            raise FileNotFoundError(f"{f} not found; point data_dir (or FC_SHARED_DATA) at the M4 data folder.")
    train = _wide_to_long(pd.read_csv(f_train), TRAIN_END)
    test = _wide_to_long(pd.read_csv(f_test), TRAIN_END + pd.Timedelta(hours=HORIZON))
    return train, test


def to_dataset_group(train: pd.DataFrame):
    """A CUSTOM-domain hourly :class:`~fc_core.datasets.DatasetGroup` of ``train``."""
    from fc_core.datasets import DatasetGroup

    return DatasetGroup(domain="CUSTOM", frequency="H", target=train)


def _to_matrix(df: pd.DataFrame, items: Sequence[str], column: str, length: int | None = None,
               align: str = "left") -> np.ndarray:
    """(n, L) array of ``column`` per item in ``items`` order, time ascending, NaN-padded.

    ``align="left"`` keeps the first ``length`` steps (forecasts, test); ``"right"``
    packs the values to the right end (training series of unequal length).
    """
    df = df.sort_values(["item_id", "timestamp"], kind="stable")
    pos = pd.Index(items).get_indexer(df["item_id"].astype(str))
    keep = pos >= 0
    df, pos = df.loc[keep], pos[keep]
    rank = df.groupby("item_id", sort=False).cumcount().to_numpy()
    counts = np.bincount(pos, minlength=len(items))
    L = int(counts.max(initial=0)) if length is None else int(length)
    out = np.full((len(items), L), np.nan)
    col = df[column].to_numpy(dtype=float)
    if align == "right":
        rank = rank + (L - counts[pos])
    ok = (rank >= 0) & (rank < L)
    out[pos[ok], rank[ok]] = col[ok]
    return out


# ---------------------------------------------------------------------- Naive2
def seasonality_test(y: np.ndarray, m: int) -> bool:
    """M4's 90 % autocorrelation test for seasonality at lag ``m``.

    Seasonal when ``|acf_m| > 1.645 sqrt((1 + 2 sum_{k=1}^{m-1} acf_k^2) / n)``;
    series shorter than ``3 m`` count as not seasonal (as in M4's R code).
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if m <= 1 or n < 3 * m:
        return False
    yc = y - y.mean()
    denom = float(np.dot(yc, yc))
    if denom == 0.0:
        return False
    acf = np.array([np.dot(yc[k:], yc[:-k]) / denom for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1.0 + 2.0 * np.sum(acf[: m - 1] ** 2)) / n)
    return bool(abs(acf[m - 1]) > limit)


def seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical multiplicative decomposition's seasonal figure (length ``m``, mean 1).

    Position ``j`` of the figure belongs to time steps ``t`` with ``t % m == j``
    (``t = 0`` is the first observation), as in R's ``decompose``.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if m % 2 == 0:
        w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        w = np.ones(m) / m
    half = len(w) // 2
    trend = np.full(n, np.nan)
    trend[half:n - half] = np.convolve(y, w, mode="valid")
    ratio = y / trend
    figure = np.array([np.nanmean(ratio[j::m]) for j in range(m)])
    return figure / figure.mean()


def naive2(y: np.ndarray, horizon: int = HORIZON, m: int = SEASON) -> np.ndarray:
    """M4's Naive2 forecast of one series: naive on the seasonally adjusted series, re-seasonalised."""
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    n = len(y)
    if seasonality_test(y, m):
        fig = seasonal_indices(y, m)
        last = y[-1] / fig[(n - 1) % m]
        return last * fig[(n - 1 + np.arange(1, horizon + 1)) % m]
    return np.full(horizon, y[-1])


def naive2_forecast(train: pd.DataFrame, horizon: int = HORIZON, m: int = SEASON) -> pd.DataFrame:
    """Naive2 forecasts of every series of ``train`` as a forecast frame (``p50`` and ``mean``)."""
    parts = []
    for item, g in train.sort_values(["item_id", "timestamp"], kind="stable").groupby("item_id", sort=False):
        f = naive2(g["target_value"].to_numpy(), horizon, m)
        ts = g["timestamp"].iloc[-1] + pd.to_timedelta(np.arange(1, horizon + 1), unit="h")
        parts.append(pd.DataFrame({"item_id": item, "timestamp": ts, "p50": f, "mean": f}))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------- scoring
def _smape(y, f):
    with np.errstate(invalid="ignore", divide="ignore"):
        s = 200.0 * np.abs(y - f) / (np.abs(y) + np.abs(f))
    s = np.where((np.abs(y) + np.abs(f)) == 0, 0.0, s)
    return np.nanmean(s, axis=1)


def _pinball_sum(y, q, tau):
    d = y - q
    return np.nansum(tau * np.maximum(d, 0) + (1 - tau) * np.maximum(-d, 0))


_NAIVE2_CACHE: dict = {}


def _naive2_scores(train_mat: np.ndarray, y: np.ndarray, scale: np.ndarray, m: int, key) -> tuple[float, float]:
    if key in _NAIVE2_CACHE:
        return _NAIVE2_CACHE[key]
    H = y.shape[1]
    f = np.vstack([naive2(row, H, m) for row in train_mat])
    out = (float(np.mean(_smape(y, f))), float(np.mean(np.nanmean(np.abs(y - f), axis=1) / scale)))
    _NAIVE2_CACHE.clear()
    _NAIVE2_CACHE[key] = out
    return out


def score_m4(train: pd.DataFrame, test: pd.DataFrame, forecast: pd.DataFrame, m: int = SEASON,
             point: str = "p50") -> tuple[dict, pd.DataFrame]:
    """Score ``forecast`` against ``test`` with M4's definitions.

    Parameters
    ----------
    train, test : DataFrame
        Long frames from :func:`load_m4_hourly` (``item_id``, ``timestamp``, ``target_value``).
    forecast : DataFrame
        ``item_id``, ``timestamp`` and forecast columns: ``point`` (default
        ``p50``) for sMAPE/MASE/OWA; ``p2.5``/``p97.5`` for MSIS and coverage;
        ``p10``/``p50``/``p90`` for wQL. Missing interval or quantile columns
        give NaN for those metrics. Rows are matched to the test period by item
        and order in time (the first H forecast steps of each item).
    m : int
        Seasonal period of MASE, MSIS and Naive2.
    point : {"p50", "mean"}
        Column used as the point forecast.

    Returns
    -------
    overall : dict
        ``sMAPE``, ``MASE``, ``OWA``, ``MSIS``, ``wQL`` (mean over 0.1/0.5/0.9),
        ``wQL[0.1]``, ``wQL[0.5]``, ``wQL[0.9]``, ``Coverage[0.95]``, ``sMAPE_Naive2``,
        ``MASE_Naive2``, ``n_series``.
    per_series : DataFrame
        One row per item: ``item_id``, ``sMAPE``, ``MASE``, ``MSIS``, ``Coverage[0.95]``.

    Raises
    ------
    ValueError
        If the forecast lacks the point column or an item of the test set.
    """
    if point not in forecast.columns:
        raise ValueError(f"forecast has no column {point!r}; its columns are {list(forecast.columns)}.")
    items = list(pd.unique(test["item_id"].astype(str)))
    missing = sorted(set(items) - set(forecast["item_id"].astype(str)))
    if missing:
        raise ValueError(f"forecast lacks {len(missing)} test item(s), e.g. {missing[:5]}.")
    y = _to_matrix(test, items, "target_value")
    H = y.shape[1]
    tr = _to_matrix(train, items, "target_value", align="right")
    lens = (~np.isnan(tr)).sum(axis=1)
    scale = np.nanmean(np.abs(tr[:, m:] - tr[:, :-m]), axis=1)

    def col(c):
        return _to_matrix(forecast, items, c, length=H) if c in forecast.columns else None

    f = col(point)
    smape = _smape(y, f)
    mase = np.nanmean(np.abs(y - f), axis=1) / scale
    key = (tuple(items), H, m, float(np.nansum(tr)), float(np.nansum(y)), int(lens.sum()))
    s2, m2 = _naive2_scores(tr, y, scale, m, key)
    lo, hi = col("p2.5"), col("p97.5")
    if lo is not None and hi is not None:
        a = 0.05
        pen = (hi - lo) + (2 / a) * (lo - y) * (y < lo) + (2 / a) * (y - hi) * (y > hi)
        msis = np.nanmean(pen, axis=1) / scale
        cover = np.nanmean((y >= lo) & (y <= hi), axis=1)
        cover_all = float(np.mean((y >= lo) & (y <= hi)))
    else:
        msis = cover = np.full(len(items), np.nan)
        cover_all = float("nan")
    denom = np.nansum(np.abs(y))
    wql = {}
    for tau, c in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
        q = col(c)
        wql[tau] = float("nan") if q is None else float(2 * _pinball_sum(y, q, tau) / denom)
    overall = {
        "sMAPE": float(np.mean(smape)),
        "MASE": float(np.mean(mase)),
        "OWA": float((np.mean(smape) / s2 + np.mean(mase) / m2) / 2),
        "MSIS": float(np.mean(msis)),
        "wQL": float(np.mean(list(wql.values()))),
        "wQL[0.1]": wql[0.1], "wQL[0.5]": wql[0.5], "wQL[0.9]": wql[0.9],
        "Coverage[0.95]": cover_all,
        "sMAPE_Naive2": s2, "MASE_Naive2": m2,
        "n_series": len(items),
    }
    per = pd.DataFrame({"item_id": items, "sMAPE": smape, "MASE": mase, "MSIS": msis, "Coverage[0.95]": cover})
    return overall, per


# ---------------------------------------------------------------------- running
def run_and_score(estimator_factory: Callable, name: str, data_dir=None, point: str = "p50",
                  forecast_types: Sequence[str] = FORECAST_TYPES, progress: bool = False) -> dict:
    """Train and forecast one estimator on M4 Hourly, time it and score it.

    Parameters
    ----------
    estimator_factory : callable or Estimator
        Called with no arguments, returns an fc_core ``Estimator`` configured for
        horizon 48 and frequency ``"H"``, e.g.
        ``lambda: make_estimator("ETS", 48, frequency="H")``. An Estimator is used as is.
    name : str
        The method's name in the results table.
    point : {"p50", "mean"}
        Point forecast for sMAPE/MASE/OWA.
    forecast_types : sequence of str
        Forecast types requested from the predictor (default with 0.025/0.975 for MSIS).

    Returns
    -------
    dict
        ``method``, the metrics of :func:`score_m4`, ``wall s`` (fit + predict,
        ``time.perf_counter``), ``cpu s`` (this process, its finished children and fc_core's
        pool workers: :func:`fc_core.parallel.cpu_seconds`).
    """
    train, test = load_m4_hourly(data_dir)
    dg = to_dataset_group(train)
    est = estimator_factory() if callable(estimator_factory) and not hasattr(estimator_factory, "train") else estimator_factory
    w0, c0 = time.perf_counter(), cpu_seconds()
    pred = est.train(dg, progress=progress)
    fc = pred.predict(forecast_types=list(forecast_types), progress=progress)
    wall = time.perf_counter() - w0
    cpu = cpu_seconds() - c0
    overall, _ = score_m4(train, test, fc, point=point)
    row = {"method": name}
    row.update({k: overall[k] for k in ("sMAPE", "MASE", "OWA", "MSIS", "wQL", "Coverage[0.95]")})
    row["wall s"] = wall
    row["cpu s"] = cpu
    return row


def _fmt(v, float_format: str | None = None) -> str:
    if isinstance(v, float):
        if np.isnan(v):
            return ""
        if float_format is not None:
            return format(v, float_format)
        return f"{v:.4f}" if abs(v) < 0.1 else (f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}")
    return str(v)


def results_table(rows: Sequence[dict], float_format: str | None = None) -> str:
    """A markdown table of ``rows`` (columns in order of first appearance).

    Floats get 4 decimals below 0.1, 3 below 100, else 1; ``float_format`` (a format
    spec such as ``".3f"``) gives every float the same format instead. NaN is left blank.
    """
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c, ""), float_format) for c in cols) + " |")
    return "\n".join(lines)


def append_results(rows: Sequence[dict], title: str, command: str, path=RESULTS) -> str:
    """Append a markdown section (title, date, machine, command, table) to ``bench/RESULTS.md``.

    Returns the section's text.
    """
    try:
        date = subprocess.run(["date", "-u"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        date = _dt.datetime.now(_dt.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")
    section = (f"\n## {title}\n\n- date: {date}\n- machine: {MACHINE} ({platform.machine()}, "
               f"Python {platform.python_version()})\n- command: `{command}`\n\n{results_table(rows)}\n")
    path = Path(path)
    if not path.exists():
        section = "# Benchmark results\n" + section
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(section)
    return section


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Command line: score registered algorithms on M4 Hourly and append them to RESULTS.md."""
    from fc_core.algorithms.base import make_estimator

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("algorithms", nargs="+", help="registered algorithm names, e.g. SeasonalNaive ETS")
    p.add_argument("--title", default="M4 Hourly")
    p.add_argument("--point", default="p50", choices=["p50", "mean"])
    p.add_argument("--no-write", action="store_true", help="print the table, do not append to RESULTS.md")
    a = p.parse_args(argv)
    rows = []
    for name in a.algorithms:
        rows.append(run_and_score(lambda n=name: make_estimator(n, HORIZON, frequency="H"), name, point=a.point))
        print(results_table(rows[-1:]), flush=True)
    command = shlex.join(["python", "-m", "bench.m4", *(argv if argv is not None else sys.argv[1:])])
    if not a.no_write:
        append_results(rows, a.title, command)
    print(results_table(rows))
    return rows


if __name__ == "__main__":
    main()
