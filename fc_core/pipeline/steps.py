"""The steps of a production pipeline run: lock, ingestion with quarantine, monitoring, retrain decision.

:mod:`fc_core.pipeline` strings them together; each is a plain function that can
be tested alone.

* :class:`RunLock` - one run at a time per state folder (``fcntl.flock`` on
  ``pipeline.lock``, holder pid in the file; the kernel drops the lock when the
  holder dies, even by SIGKILL, so a stale lock cannot block later runs).
* :func:`list_drops`, :func:`read_drop`, :func:`quarantine` - new files in the
  input location (folder or fsspec URL) are read from one in-memory copy of their
  bytes (hash and parsed content always agree); a file that cannot be read is
  *copied* into the quarantine folder with a ``.reason.txt``; the user's file is
  never changed, moved or deleted.
* :func:`score_forecast` - an earlier forecast against the actuals that arrived
  since (Amazon Forecast's accuracy metrics per item and overall).
* :func:`retrain_trigger` - first run, error threshold, schedule, or nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import frequency as fq
from ..errors import ConfigError, ForecastError, MissingDependencyError
from ..quantiles import ForecastArrays

__all__ = ["RunLock", "PipelineBusyError", "list_drops", "fetch", "sha256", "read_drop", "check_drop", "quarantine",
           "MALFORMED", "score_forecast", "retrain_trigger", "steps_between"]

#: exceptions that mark a data file as malformed (configuration errors are not among them)
MALFORMED = (ForecastError, ValueError, TypeError, KeyError, IndexError, OSError, UnicodeError)


class PipelineBusyError(ForecastError, RuntimeError):
    """Another run of the same pipeline holds the lock."""


# -------------------------------------------------------------------- lock
class RunLock:
    """An exclusive, non-blocking lock on ``path`` for the duration of a run.

    Raises
    ------
    PipelineBusyError
        When another process (or another RunLock in this one) holds it; the message names its pid.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "pipeline.lock")
    >>> with RunLock(p):
    ...     try:
    ...         RunLock(p).acquire()
    ...     except PipelineBusyError as e:
    ...         print("busy")
    busy
    """

    def __init__(self, path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            except (ValueError, OSError):
                holder = {}
            os.close(fd)
            raise PipelineBusyError(
                f"another run of this pipeline is in progress (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('since', '?')}; lock {self.path}); "
                "wait for it to finish; two runs at once are refused.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# --------------------------------------------------------------- ingestion
def _fs(location: str):
    import fsspec

    return fsspec.core.url_to_fs(str(location))


def list_drops(location, pattern: str = "*", detail: bool = False) -> list:
    """Files in ``location`` matching ``pattern``, sorted by name (the order they are applied in).

    Names starting with ``.`` or ``_`` and names ending in ``.part``/``.tmp`` are skipped
    (files still being written by a producer that writes, then renames). With ``detail``
    each entry is ``(path, signature)``, the signature being size, modification time and
    inode or ETag where the file system has them: a file seen before with the same
    signature need not be read again.

    Raises
    ------
    ConfigError
        When the location does not exist.
    """
    fs, root = _fs(location)
    if not fs.exists(root):
        raise ConfigError(f"input location {location} does not exist; create it or fix input.location.")
    found = fs.glob(f"{root.rstrip('/')}/{pattern}", detail=True)
    proto = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    out = []
    for p, info in found.items():
        name = p.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith((".", "_")) or name.endswith((".part", ".tmp")) or info.get("type") != "file":
            continue
        stamp = info.get("mtime") or info.get("LastModified") or info.get("created") or ""
        sig = f"{info.get('size')}:{stamp}:{info.get('ino') or info.get('ETag') or ''}"
        out.append((p if proto in ("file", "local") else fs.unstrip_protocol(p), sig))
    out.sort()
    return out if detail else [p for p, _ in out]


def fetch(path: str) -> bytes:
    """The bytes of one file (local or URL)."""
    fs, p = _fs(path)
    return fs.cat_file(p)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_drop(path: str, data: bytes, domain: str, schema=None, forecast_dimensions: Sequence[str] = (),
              duplicates: str = "error", read_options: dict | None = None) -> pd.DataFrame:
    """Parse the bytes of one data file into the canonical long frame (via :func:`fc_core.datasets.read_dataset`).

    Raises
    ------
    SchemaError, DataError
        As :func:`~fc_core.datasets.read_dataset`, with ``path`` named in the message.
    """
    from ..datasets import read_dataset

    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="fc_drop_") as d:
        tmp = os.path.join(d, name)
        with open(tmp, "wb") as fh:
            fh.write(data)
        try:
            return read_dataset(tmp, "TARGET_TIME_SERIES", domain, schema, forecast_dimensions=list(forecast_dimensions)
                                or None, duplicates=duplicates, **(read_options or {}))
        except (ConfigError, MissingDependencyError):
            raise
        except MALFORMED as exc:
            msg = str(exc).replace(tmp, str(path)).replace(d, "")
            try:
                new = type(exc)(msg, reason=exc.reason, **exc.details) if isinstance(exc, ForecastError) \
                    else type(exc)(msg)
            except Exception:  # exception types with other constructors keep their message
                raise exc
            raise new from None


def check_drop(path: str, data: bytes, frame: pd.DataFrame, key_columns: Sequence[str], target: str,
               frequency: str, live_items: pd.DataFrame | None = None, data_end=None,
               previous_rows: int | None = None, final_newline: bool = True,
               incomplete: str = "quarantine", own_end: bool = False) -> tuple[str | None, list[str]]:
    """Check a parsed drop against its bytes and against what the pipeline already holds.

    Returns ``(reason, warnings)``: ``reason`` (a drop to quarantine) when the file is cut short
    (a CSV whose last line has no line end), holds a non-finite value (``inf``), has an item
    whose values are all empty, or (with ``incomplete="quarantine"``) ends an item before the
    drop's last time or lacks an item that the data had up to its end (a file truncated at a
    line boundary; those rows would otherwise be filled in silently). ``warnings`` are said in
    the run report: some empty values (filled by the fill rules), fewer rows than the previous
    drop, or incomplete items under ``incomplete="warn"`` (``own_end``: the data forecasts each
    item from its own end, ``forecast_from: item_end``, so such items are not back-filled).

    >>> f = pd.DataFrame({"item_id": ["a", "a"], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]),
    ...                   "target_value": [1.0, float("inf")]})
    >>> check_drop("d.csv", b"", f, ["item_id"], "target_value", "D")[0]
    'd.csv: 1 non-finite value(s) (inf) in column target_value, item_id a at 2024-01-02 00:00:00; fix the producer or remove those rows, then drop the file again'
    """
    keys = list(key_columns)
    name = str(path)
    warn: list[str] = []
    is_text = not data[:4] == b"PAR1" and not name.lower().endswith((".parquet", ".pq", ".gz", ".bz2", ".zip",
                                                                     ".xz", ".zst"))
    if final_newline and is_text and data and not data.endswith((b"\n", b"\r")):
        tail = data[-40:].decode("utf-8", "replace").splitlines()[-1:] or [""]
        return (f"{name}: the last line ({tail[0]!r}) has no line end: the file looks cut short (truncated "
                "while written or copied); its last value may be wrong. Drop the complete file again (if the "
                "producer writes no final newline, set input.checks.final_newline: false)"), warn
    if frame.empty or target not in frame.columns:
        return None, warn
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    inf = np.isinf(y)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        where = ", ".join(f"{k} {frame[k].iloc[i]}" for k in keys)
        return (f"{name}: {int(inf.sum())} non-finite value(s) (inf) in column {target}, {where} at "
                f"{frame['timestamp'].iloc[i]}; fix the producer or remove those rows, then drop the file again"), warn
    empty = np.isnan(y)
    item = frame[keys[0]].astype(str)
    for k in keys[1:]:
        item = item + "/" + frame[k].astype(str)
    if empty.any():
        all_empty = pd.Series(empty).groupby(item.to_numpy()).all()
        dead = all_empty[all_empty].index.tolist()
        if dead:
            return (f"{name}: every value of {len(dead)} item(s) is empty in column {target} ({dead[:5]}); a "
                    "whole item without values is an export fault, not missing data. Fix the file and drop it "
                    "again"), warn
        warn.append(f"{name}: {int(empty.sum())} empty value(s) in column {target} are filled by the fill rules")
    ts = pd.DatetimeIndex(frame["timestamp"])
    end = ts.max()
    last = pd.Series(ts).groupby(item.to_numpy()).max()
    short = last[last < end]
    missing: list[str] = []
    if live_items is not None and data_end is not None and end > pd.Timestamp(data_end):
        missing = sorted(set(live_items) - set(last.index))
    if len(short) or missing:
        step = fq.to_offset(frequency)
        lost = sum(steps_between(t, end, frequency) for t in short) + len(missing) * max(
            steps_between(pd.Timestamp(data_end) if data_end is not None else ts.min() - step, end, frequency), 1)
        msg = (f"{name}: {len(short) + len(missing)} item(s) end before the drop's last time {end} "
               f"({[*short.index[:3], *missing[:3]]}...; {lost} expected row(s) absent): the file looks truncated, "
               + ("or those items stopped (forecast_from: item_end forecasts each from its own last time; the "
                  "absent rows are filled in only if a later drop continues the item)" if own_end else
                  "and those rows would be filled in"))
        if incomplete == "quarantine":
            return msg + (". Drop the complete file again (items that really stopped: set "
                          "input.checks.incomplete_items: warn)"), warn
        warn.append(msg)
    if previous_rows and len(frame) < 0.5 * previous_rows:
        warn.append(f"{name}: {len(frame)} rows where the previous drop had {previous_rows}")
    return None, warn


def quarantine(folder, path: str, data: bytes, digest: str, reason: str) -> str:
    """Copy a malformed file into ``folder`` with ``<name>.reason.txt``; the original is left alone."""
    from ..io import atomic_path

    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    base = f"{str(folder).rstrip('/')}/{digest[:12]}_{name}"
    with atomic_path(base) as tmp:
        tmp.write_bytes(data)
    with atomic_path(base + ".reason.txt") as tmp:
        tmp.write_text(f"source: {path}\nsha256: {digest}\nquarantined_at: {time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
                       f"reason: {reason}\n")
    return base


def steps_between(a, b, frequency: str) -> int:
    """Whole ``frequency`` steps from timestamp ``a`` to ``b``."""
    pos = fq.step_index(pd.DatetimeIndex([pd.Timestamp(b)]), pd.Timestamp(a), frequency)
    return int(np.floor(float(pos[0]) + 1e-9))


# -------------------------------------------------------------- monitoring
def _levels(columns) -> list[tuple[float, str]]:
    out = []
    for c in columns:
        if c.startswith("p"):
            try:
                out.append((round(float(c[1:]) / 100, 6), c))
            except ValueError:
                pass
    return sorted(out)


def score_forecast(forecast: pd.DataFrame, panel, key_columns: Sequence[str]):
    """Score an earlier forecast against the actuals in ``panel`` (the data as it is now).

    Parameters
    ----------
    forecast : DataFrame
        Key columns, ``timestamp``, quantile columns (``p10`` ...) and optionally ``mean``
        (the median stands in for a missing mean).
    panel : Panel
        The current data; only observed points are scored (filled ones are not).
    key_columns : list of str

    Returns
    -------
    (per_item, overall, window_start, window_end) or None
        Metrics of :func:`fc_core.metrics.evaluate` per item (with its keys) and pooled,
        over the forecast steps that have actuals now; None when none has arrived.

    Raises
    ------
    ConfigError
        For a forecast without quantile columns or with unequal horizons per item.
    """
    from ..metrics import evaluate

    keys = list(key_columns)
    lv = _levels(c for c in forecast.columns if c not in (*keys, "timestamp"))
    if not lv:
        raise ConfigError(f"the forecast to score has no quantile columns (p10, p50 ...): {list(forecast.columns)}.")
    f = forecast.sort_values([*keys, "timestamp"], kind="stable").reset_index(drop=True)
    items = f[keys].astype(str).drop_duplicates().reset_index(drop=True)
    n = len(items)
    if n == 0 or len(f) % n:
        raise ConfigError("the forecast to score has a different number of steps per item.")
    H = len(f) // n
    levels = np.array([q for q, _ in lv])
    Q = f[[c for _, c in lv]].to_numpy(float).reshape(n, H, len(lv))
    mean_col = "mean" if "mean" in f.columns else ("p50" if "p50" in f.columns else lv[len(lv) // 2][1])
    M = f[mean_col].to_numpy(float).reshape(n, H)
    starts = pd.DatetimeIndex(f["timestamp"].to_numpy().reshape(n, H)[:, 0])
    idx = pd.MultiIndex.from_frame(panel.keys[keys].astype(str)).get_indexer(pd.MultiIndex.from_frame(items))
    parts, windows = [], []
    all_y, all_o, all_q, all_m, all_in = [], [], [], [], []
    step = fq.to_offset(panel.frequency)
    for s in starts.unique():
        sel = np.flatnonzero((starts == s) & (idx >= 0))
        if not len(sel):
            continue
        sub = panel.select(idx[sel])
        cutoff = pd.Timestamp(s) - step
        y, o = sub.actuals_after(cutoff, H)
        if not o.any():
            continue
        last = int(np.flatnonzero(o.any(axis=0))[-1])
        windows.append((pd.Timestamp(s), fq.date_range(pd.Timestamp(s), last + 1, panel.frequency)[-1]))
        all_y.append(y)
        all_o.append(o)
        all_q.append(Q[sel])
        all_m.append(M[sel])
        all_in.append(sub.truncate(cutoff))
        parts.append(sel)
    if not parts:
        return None
    insample = all_in[0] if len(all_in) == 1 else _stack_panels(all_in)
    rows = np.concatenate(parts)
    fa = ForecastArrays(levels, np.concatenate(all_q), np.concatenate(all_m), starts[rows])
    per_item, overall = evaluate(np.concatenate(all_y), np.concatenate(all_o), fa, insample,
                                 fq.season_length(panel.frequency), quantiles=list(levels))
    per_item = per_item[per_item["n_observed"] > 0].reset_index(drop=True)
    return per_item, overall, min(w[0] for w in windows), max(w[1] for w in windows)


def _stack_panels(panels):
    from ..automl import _concat_panels

    return _concat_panels(panels)


# ------------------------------------------------------------ the decision
def retrain_trigger(predictor: dict | None, accuracy: dict | None, data: dict, frequency: str,
                    on_threshold: bool = True, every_steps: int | None = None, min_observed: int = 1,
                    force: bool = False) -> tuple[str | None, str]:
    """Whether to (re)train now, and why: ``(trigger, reason)`` with trigger one of
    ``first_run``, ``manual``, ``threshold``, ``schedule`` or None.

    ``predictor``, ``accuracy`` and ``data`` are catalog rows (dicts). A predictor already
    trained on the current data version is never retrained again (a rerun after a crash
    does not retrain twice); an error passing the threshold counts only when the scored
    forecast came from the current predictor.

    >>> retrain_trigger(None, None, {"version": 1, "end": "2024-01-02"}, "H")
    ('first_run', 'no predictor yet')
    >>> p = {"version": 1, "data_version": 1, "data_end": "2024-01-01 00:00"}
    >>> a = {"predictor_version": 1, "exceeded": True, "value": 0.4, "threshold": 0.2, "metric": "WAPE", "n_observed": 24}
    >>> retrain_trigger(p, a, {"version": 2, "end": "2024-01-02 00:00"}, "H")
    ('threshold', 'WAPE 0.4 > threshold 0.2')
    >>> retrain_trigger(p, None, {"version": 2, "end": "2024-01-02 00:00"}, "H", every_steps=24)
    ('schedule', '24 steps of new data since the last training (every_steps=24)')
    """
    if predictor is None:
        return "first_run", "no predictor yet"
    if force:
        return "manual", "retraining requested (--force-retrain)"
    if predictor["data_version"] == data["version"]:
        return None, "the predictor was trained on the current data"
    if (on_threshold and accuracy is not None and accuracy.get("exceeded")
            and accuracy.get("predictor_version") == predictor["version"]
            and int(accuracy.get("n_observed") or 0) >= int(min_observed)):
        v = accuracy.get("value")
        if v is None or v != v:
            return "threshold", f"{accuracy['metric']} could not be computed (a failed check, not a pass)"
        return "threshold", f"{accuracy['metric']} {v:.4g} > threshold {accuracy['threshold']:.4g}"
    if every_steps:
        k = steps_between(predictor["data_end"], data["end"], frequency)
        if k >= int(every_steps):
            return "schedule", f"{k} steps of new data since the last training (every_steps={int(every_steps)})"
    return None, "accuracy within the threshold"
